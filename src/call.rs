//! The tool call an agent is about to make, as evaluation takes it.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A tool call: the tool's name, its JSON arguments, and what the runtime knows about it.
///
/// Deserializes from the spec's shape `{"tool", "args", "context"}`, from OpenAI's
/// `{"name", "arguments"}` (arguments may be a JSON string) or `{"function": {...}}`, and
/// from an MCP `tools/call` request (`{"params": {"name", "arguments"}}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The tool's name.
    pub tool: String,
    /// The arguments: always a JSON object.
    pub args: Value,
    /// What the agent runtime says about the call (confidence, user, tenant ...):
    /// always a JSON object.
    pub context: Value,
}

/// Why a JSON document is not a tool call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// Not JSON at all.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// JSON, but not the shape of a tool call.
    #[error("not a tool call: {0}")]
    Shape(String),
}

#[derive(Deserialize)]
struct RawCall {
    #[serde(default)]
    tool: Option<Value>,
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    args: Option<Value>,
    #[serde(default)]
    arguments: Option<Value>,
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    function: Option<Box<RawCall>>,
    #[serde(default)]
    params: Option<Box<RawCall>>,
}

impl ToolCall {
    /// A call with arguments and an empty context.
    pub fn new(tool: impl Into<String>, args: Value) -> ToolCall {
        ToolCall {
            tool: tool.into(),
            args,
            context: Value::Object(Map::new()),
        }
    }

    /// Sets the context.
    pub fn with_context(mut self, context: Value) -> ToolCall {
        self.context = context;
        self
    }

    /// Parses a call from JSON text.
    pub fn from_json(text: &str) -> Result<ToolCall, CallError> {
        // A JSON array would otherwise be read field by field, by position.
        match text.trim_start().as_bytes().first() {
            Some(b'{') | None => {}
            Some(_) => {
                return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                    Ok(_) => CallError::Shape("a tool call is a JSON object".into()),
                    Err(e) => CallError::Json(e.to_string()),
                });
            }
        }
        let raw: RawCall = serde_json::from_str(text).map_err(|e| classify(&e, text))?;
        ToolCall::from_raw(raw)
    }

    /// Builds a call from a JSON value.
    pub fn from_value(value: Value) -> Result<ToolCall, CallError> {
        if !value.is_object() {
            return Err(CallError::Shape("a tool call is a JSON object".into()));
        }
        let raw: RawCall =
            serde_json::from_value(value).map_err(|e| CallError::Shape(e.to_string()))?;
        ToolCall::from_raw(raw)
    }

    fn from_raw(raw: RawCall) -> Result<ToolCall, CallError> {
        if raw.tool.is_none() && raw.name.is_none() {
            if let Some(inner) = raw.function.or(raw.params) {
                let mut call = ToolCall::from_raw(*inner)?;
                if let Some(ctx) = raw.context {
                    call.context = object("context", ctx)?;
                }
                return Ok(call);
            }
        }
        let tool = match (raw.tool, raw.name) {
            (Some(t), None) | (None, Some(t)) => t,
            (Some(t), Some(n)) if t == n => t,
            (Some(_), Some(_)) => {
                return Err(CallError::Shape(
                    "both `tool` and `name` are given, with different values".into(),
                ));
            }
            (None, None) => {
                return Err(CallError::Shape(
                    "missing `tool` (or `name`): which tool is called?".into(),
                ));
            }
        };
        let tool = match tool {
            Value::String(s) if !s.is_empty() => s,
            Value::String(_) => return Err(CallError::Shape("the tool name is empty".into())),
            other => {
                return Err(CallError::Shape(format!(
                    "the tool name must be a string, found {}",
                    describe(&other)
                )));
            }
        };
        let (field, args) = match (raw.args, raw.arguments) {
            (Some(a), None) => ("args", a),
            (None, Some(a)) => ("arguments", a),
            (None, None) => ("args", Value::Object(Map::new())),
            (Some(_), Some(_)) => {
                return Err(CallError::Shape(
                    "both `args` and `arguments` are given: use one".into(),
                ));
            }
        };
        let args = match args {
            Value::String(s) => serde_json::from_str::<Value>(&s).map_err(|e| {
                CallError::Shape(format!("`{field}` is a string that is not valid JSON: {e}"))
            })?,
            other => other,
        };
        Ok(ToolCall {
            tool,
            args: object(field, args)?,
            context: object("context", raw.context.unwrap_or(Value::Null))?,
        })
    }
}

fn object(field: &str, v: Value) -> Result<Value, CallError> {
    match v {
        Value::Object(_) => Ok(v),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(CallError::Shape(format!(
            "`{field}` must be a JSON object, found {}",
            describe(&other)
        ))),
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn classify(e: &serde_json::Error, _text: &str) -> CallError {
    match e.classify() {
        serde_json::error::Category::Data => CallError::Shape(e.to_string()),
        _ => CallError::Json(e.to_string()),
    }
}

impl<'de> Deserialize<'de> for ToolCall {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawCall::deserialize(d)?;
        ToolCall::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for ToolCall {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("tool", &self.tool)?;
        m.serialize_entry("args", &self.args)?;
        m.serialize_entry("context", &self.context)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let a = ToolCall::from_json(r#"{"tool":"pay","args":{"amount":5}}"#).unwrap();
        let b = ToolCall::from_json(r#"{"name":"pay","arguments":"{\"amount\":5}"}"#).unwrap();
        let c = ToolCall::from_json(
            r#"{"id":"c1","type":"function","function":{"name":"pay","arguments":"{\"amount\":5}"}}"#,
        )
        .unwrap();
        let d = ToolCall::from_json(
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"pay","arguments":{"amount":5}}}"#,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, d);
    }

    #[test]
    fn bad_calls_say_what_is_wrong() {
        let e = ToolCall::from_json(r#"{"args":{}}"#).unwrap_err();
        assert!(e.to_string().contains("missing `tool`"), "{e}");
        let e = ToolCall::from_json(r#"{"tool":"x","args":[1]}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("`args` must be a JSON object, found a list"),
            "{e}"
        );
        let e = ToolCall::from_json(r#"{"tool":"x","arguments":"{oops"}"#).unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let e = ToolCall::from_json(r#"{"tool":"x""#).unwrap_err();
        assert!(matches!(e, CallError::Json(_)), "{e}");
        let e = ToolCall::from_json(r#"["pay", null, {"amount": 500}]"#).unwrap_err();
        assert!(
            e.to_string().contains("a tool call is a JSON object"),
            "{e}"
        );
        let e = ToolCall::from_json(r#"{"tool":5}"#).unwrap_err();
        assert!(
            e.to_string().contains("must be a string, found a number"),
            "{e}"
        );
    }
}
