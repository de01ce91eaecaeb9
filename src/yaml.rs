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

/// `:line:column` after a file name, or nothing when the place is not known.
pub fn suffix(place: Option<Place>) -> String {
    match place {
        Some(p) => format!(":{}:{}", p.line, p.column),
        None => String::new(),
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
