//! The one place YAML is read (through `yaml_serde`, the YAML organization's maintained
//! fork of serde_yaml), so the YAML crate can be swapped without touching the rest.

use serde::de::DeserializeOwned;

/// A YAML document that could not be read into the expected shape, with the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// What is wrong, in words (without the place).
    pub message: String,
    /// Where, when known.
    pub place: Option<Place>,
}

/// A place in a text: 1-based line and column, and the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Byte offset from the start of the text.
    pub offset: usize,
}

impl YamlError {
    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        self.place.map(|p| p.line)
    }

    /// The 1-based column, when known.
    pub fn column(&self) -> Option<usize> {
        self.place.map(|p| p.column)
    }
}

impl Place {
    /// The place of a JSON parse error (serde_json knows line and column, not the offset).
    pub fn in_text(text: &str, line: usize, column: usize) -> Place {
        let start: usize = text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum();
        Place {
            line,
            column,
            offset: (start + column.saturating_sub(1)).min(text.len()),
        }
    }
}

/// Where a mapping key is written (the first line that starts with `key:`, quoted or not),
/// to point at a key whose value was read but is wrong.
pub fn key_place(text: &str, key: &str) -> Option<Place> {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_start_matches([' ', '-']);
        let indent = line.len() - body.len();
        let found = [key.to_string(), format!("\"{key}\""), format!("'{key}'")]
            .iter()
            .any(|k| {
                body.strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            });
        if found {
            return Some(Place {
                line: i + 1,
                column: line.get(..indent).map_or(1, |s| s.chars().count() + 1),
                offset: offset + indent,
            });
        }
        offset += line.len();
    }
    None
}

/// The key a [`Unique`] mapping refused as repeated, from its message.
fn repeated_key(message: &str) -> Option<&str> {
    let end = message.find("` is given twice")?;
    let start = message.get(..end)?.rfind('`')? + 1;
    message.get(start..end)
}

/// Where `key` is written the second time at or after `from` (at the indentation of its
/// first time there).
fn second_key_place(text: &str, key: &str, from: usize) -> Option<Place> {
    let rest = text.get(from..)?;
    let first = key_place(rest, key)?;
    let after = from + first.offset + key.len();
    let second = key_place(text.get(after..)?, key)?;
    let line = text.get(..after)?.matches('\n').count() + second.line;
    Some(Place {
        line,
        column: second.column,
        offset: after + second.offset,
    })
}

/// `:line:column` after a file name, or nothing when the place is not known.
pub fn suffix(place: Option<Place>) -> String {
    match place {
        Some(p) => format!(":{}:{}", p.line, p.column),
        None => String::new(),
    }
}

/// A mapping whose keys must be unique: YAML readers keep the last of a repeated key, so a
/// second `stripe.refund:` in a catalog would silently replace the first (and drop its
/// `never auto` class). A repeated key is an error at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unique<V>(pub std::collections::BTreeMap<String, V>);

impl<V> Default for Unique<V> {
    fn default() -> Self {
        Unique(std::collections::BTreeMap::new())
    }
}

impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for Unique<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys<V>(std::marker::PhantomData<V>);
        impl<'de, V: serde::Deserialize<'de>> serde::de::Visitor<'de> for Keys<V> {
            type Value = Unique<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Unique<V>, A::Error> {
                let mut out = std::collections::BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!(
                            "`{key}` is given twice: the second would silently replace the first"
                        )));
                    }
                    let value = map.next_value()?;
                    out.insert(key, value);
                }
                Ok(Unique(out))
            }
        }
        d.deserialize_map(Keys(std::marker::PhantomData))
    }
}

/// Reads a YAML document into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    yaml_serde::from_str(text).map_err(|e| {
        let place = e.location().map(|l| Place {
            line: l.line(),
            column: l.column(),
            offset: l.index(),
        });
        // The place is kept apart; the message says only what is wrong.
        let message = match place {
            Some(_) => without_places(&e.to_string()),
            None => e.to_string(),
        };
        // The reader places a repeated key at its mapping; point at the repeat instead.
        let place = repeated_key(&message)
            .and_then(|key| second_key_place(text, key, place.map_or(0, |p| p.offset)))
            .or(place);
        YamlError { message, place }
    })
}

/// A message without the ` at line N column M` the YAML reader writes into it.
fn without_places(message: &str) -> String {
    static AT: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r" at line \d+ column \d+").ok());
    match AT.as_ref() {
        Some(at) => at.replace_all(message, "").into_owned(),
        None => message.to_string(),
    }
}

/// Reads a YAML document into a JSON value (YAML-only values such as tags are refused).
pub fn to_json(text: &str) -> Result<serde_json::Value, YamlError> {
    from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_carries_its_place_apart_from_the_message() {
        let e = to_json("a: [1, 2\nb: 3\n").unwrap_err();
        let place = e.place.unwrap();
        assert_eq!(place.line, 2);
        assert!(!e.message.contains(" at line "), "{}", e.message);
        let e = from_str::<std::collections::BTreeMap<String, u32>>("a: 1\nb: x\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert_eq!(e.column(), Some(4));
        assert_eq!(e.place.map(|p| p.offset), Some(8));
    }
}
