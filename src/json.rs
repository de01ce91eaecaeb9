//! JSON read strictly: a key given twice in one object, at any depth, is an error naming
//! where, instead of the last value silently winning (a parser downstream that keeps the
//! first would run another call than the one judged).

pub(crate) mod scan;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses JSON text strictly: a key given twice in one object, at any depth, is an error
/// naming where (as [`ToolCall::from_json`](crate::ToolCall::from_json) and proposals
/// read calls), instead of the last value silently winning.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Strict { path: "" }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// How deep a call's arguments, context, inputs or `before` may nest. A stored request
/// holds them a few levels down, and JSON readers (serde_json's included) stop at 128
/// levels: a deeper value would be accepted once and then never read back.
pub const MAX_NESTING: usize = 64;

/// How many arrays and objects deep `v` nests (a scalar is 0).
pub fn nesting(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(m) => Box::new(m.values()),
            _ => continue,
        };
        deepest = deepest.max(d + 1);
        stack.extend(children.map(|c| (c, d + 1)));
    }
    deepest
}

/// Refuses a value nested deeper than [`MAX_NESTING`], naming `what`.
pub fn check_nesting(what: &str, v: &Value) -> Result<(), String> {
    let n = nesting(v);
    if n > MAX_NESTING {
        return Err(format!(
            "`{what}` nests {n} levels deep; at most {MAX_NESTING} are accepted"
        ));
    }
    Ok(())
}

/// Reads any self-describing input (JSON, YAML) into a JSON value; a duplicate key
/// anywhere is an error.
pub fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Strict { path: "" }.deserialize(d)
}

/// A value at `path` (for messages: `args.to[2]`).
struct Strict<'p> {
    path: &'p str,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("`{v}` is not a JSON number")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, out.len());
            match seq.next_element_seed(Strict { path: &path })? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let at = if self.path.is_empty() {
                    String::new()
                } else {
                    format!(" in `{}`", self.path)
                };
                return Err(A::Error::custom(format!(
                    "the key `{key}` is given twice{at}: which value counts is not clear"
                )));
            }
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            let value = map.next_value_seed(Strict { path: &path })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_key_at_any_depth_is_refused_with_its_place() {
        let e = parse(r#"{"args":{"amount":1,"amount":100000}}"#).unwrap_err();
        assert!(
            e.to_string().contains("`amount` is given twice in `args`"),
            "{e}"
        );
        let e = parse(r#"{"a":[{"b":{"c":1,"c":2}}]}"#).unwrap_err();
        assert!(
            e.to_string().contains("`c` is given twice in `a[0].b`"),
            "{e}"
        );
        let e = parse(r#"{"tool":"x","tool":"y"}"#).unwrap_err();
        assert!(e.to_string().contains("`tool` is given twice:"), "{e}");
    }

    #[test]
    fn everything_else_reads_as_serde_json_reads_it() {
        let text = r#"{"a":[1,-2,3.5,1e300,"s",true,null,{}],"b":{"c":18446744073709551615}}"#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert!(parse("{} x").is_err());
        assert!(parse("[1,").is_err());
    }
}
