//! The tool call an agent is about to make, as evaluation takes it.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A tool call: the tool's name, its JSON arguments, and what the runtime knows about it.
///
/// Reads one of these shapes, and refuses anything else (never a call with empty
/// arguments for a shape it does not know):
///
/// | shape | tool | arguments | id |
/// |---|---|---|---|
/// | holdpoint's own | `tool` (or `name`) | `args` (or `arguments`) | `id` |
/// | OpenAI chat `tool_calls[i]` | `function.name` | `function.arguments` (a JSON string or object) | `id` |
/// | OpenAI Responses `function_call` | `name` | `arguments` | `call_id` |
/// | Anthropic `tool_use` block | `name` | `input` | `id` |
/// | MCP `tools/call` request | `params.name` | `params.arguments` | `id` |
///
/// `context` may sit beside any of them. A message that describes the call twice (a
/// top-level call and a `function` or `params` wrapper, or both wrappers) is refused as
/// ambiguous, and so is a key given twice anywhere ([`ToolCall::from_json`]): the call
/// judged is the one that runs. A tool name with a control, format (zero-width) or
/// bidirectional character, or with blanks around it, is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The tool's name.
    pub tool: String,
    /// The arguments: always a JSON object.
    pub args: Value,
    /// What the agent runtime says about the call (confidence, user, tenant ...):
    /// always a JSON object.
    pub context: Value,
    /// The call's id as the agent's framework gave it (OpenAI's and Anthropic's tool-call
    /// id, MCP's request id), if any.
    pub id: Option<String>,
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

fn shape(message: impl Into<String>) -> CallError {
    CallError::Shape(message.into())
}

impl ToolCall {
    /// A call with arguments and an empty context.
    pub fn new(tool: impl Into<String>, args: Value) -> ToolCall {
        ToolCall {
            tool: tool.into(),
            args,
            context: Value::Object(Map::new()),
            id: None,
        }
    }

    /// Sets the context.
    pub fn with_context(mut self, context: Value) -> ToolCall {
        self.context = context;
        self
    }

    /// Parses a call from JSON text. A key given twice anywhere (in `args`, in `context`,
    /// inside an `arguments` string) is refused.
    pub fn from_json(text: &str) -> Result<ToolCall, CallError> {
        let value = crate::json::parse(text).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => CallError::Shape(e.to_string()),
            _ => CallError::Json(e.to_string()),
        })?;
        ToolCall::from_value(value)
    }

    /// Builds a call from a JSON value (already parsed: a duplicate key in its text, if
    /// any, was merged by whoever parsed it; [`ToolCall::from_json`] refuses it).
    pub fn from_value(value: Value) -> Result<ToolCall, CallError> {
        let Value::Object(mut m) = value else {
            return Err(shape("a tool call is a JSON object"));
        };
        let context = object("context", m.remove("context").unwrap_or(Value::Null))?;
        let wrappers: Vec<&str> = ["function", "params"]
            .into_iter()
            .filter(|k| m.contains_key(*k))
            .collect();
        let top = ["tool", "name"].into_iter().find(|k| m.contains_key(*k));
        let described: Vec<&str> = top.into_iter().chain(wrappers.iter().copied()).collect();
        if let [a, b, ..] = described.as_slice() {
            return Err(shape(format!(
                "ambiguous: the message describes the call twice (`{a}` and `{b}`); send one"
            )));
        }
        let mut call = match (top, wrappers.as_slice()) {
            (None, ["function"]) => openai_chat(m)?,
            (None, ["params"]) => mcp(m)?,
            _ if m.get("type").and_then(Value::as_str) == Some("tool_use") => anthropic(m)?,
            _ => plain(m)?,
        };
        call.context = context;
        check_tool_name(&call.tool)?;
        crate::json::check_nesting("args", &call.args).map_err(shape)?;
        crate::json::check_nesting("context", &call.context).map_err(shape)?;
        Ok(call)
    }
}

/// Refuses keys other than `known` (so no argument hides in a field nobody reads).
fn only(m: &Map<String, Value>, known: &[&str], what: &str) -> Result<(), CallError> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(shape(format!(
            "unknown field `{k}` in {what} (it has: {})",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        None => Ok(()),
    }
}

/// The `id` of a message: a string, or a number as a string.
fn id_of(m: &Map<String, Value>, key: &str) -> Result<Option<String>, CallError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(shape(format!(
            "`{key}` must be a string, found {}",
            describe(other)
        ))),
    }
}

/// Holdpoint's own shape, or OpenAI's Responses `function_call` item.
fn plain(mut m: Map<String, Value>) -> Result<ToolCall, CallError> {
    let responses = match m.get("type") {
        None => false,
        Some(Value::String(t)) if t == "function_call" => true,
        Some(Value::String(t)) if t == "function" => false,
        Some(other) => {
            return Err(shape(format!(
                "`type` {other} is not a tool call this reads (`function`, `function_call`, `tool_use`)"
            )));
        }
    };
    if responses {
        only(
            &m,
            &["type", "id", "call_id", "name", "arguments", "status"],
            "a `function_call`",
        )?;
    } else {
        only(
            &m,
            &["tool", "name", "args", "arguments", "id", "type"],
            "a tool call",
        )?;
    }
    let tool = match (m.remove("tool"), m.remove("name")) {
        (Some(t), None) | (None, Some(t)) => t,
        (Some(t), Some(n)) if t == n => t,
        (Some(_), Some(_)) => {
            return Err(shape(
                "both `tool` and `name` are given, with different values",
            ));
        }
        (None, None) => return Err(shape("missing `tool` (or `name`): which tool is called?")),
    };
    let (field, args) = match (m.remove("args"), m.remove("arguments")) {
        (Some(a), None) => ("args", a),
        (None, Some(a)) => ("arguments", a),
        (None, None) => ("args", Value::Object(Map::new())),
        (Some(_), Some(_)) => return Err(shape("both `args` and `arguments` are given: use one")),
    };
    let id = if responses {
        id_of(&m, "call_id")?.map_or_else(|| id_of(&m, "id"), |id| Ok(Some(id)))?
    } else {
        id_of(&m, "id")?
    };
    Ok(ToolCall {
        tool: tool_name(tool)?,
        args: arguments(field, args)?,
        context: Value::Object(Map::new()),
        id,
    })
}

/// OpenAI chat: `{"id", "type": "function", "function": {"name", "arguments"}}`.
fn openai_chat(m: Map<String, Value>) -> Result<ToolCall, CallError> {
    only(
        &m,
        &["id", "type", "function", "index"],
        "an OpenAI tool call",
    )?;
    if let Some(t) = m.get("type")
        && t != "function"
    {
        return Err(shape(format!(
            "an OpenAI tool call's `type` is `function`, found {t}"
        )));
    }
    wrapped(m, "function", &["name", "arguments"])
}

/// MCP: `{"jsonrpc": "2.0", "id", "method": "tools/call", "params": {"name", "arguments"}}`.
fn mcp(m: Map<String, Value>) -> Result<ToolCall, CallError> {
    only(&m, &["jsonrpc", "id", "method", "params"], "an MCP request")?;
    if let Some(method) = m.get("method")
        && method != "tools/call"
    {
        return Err(shape(format!(
            "an MCP request calls a tool with `tools/call`, not {method}"
        )));
    }
    wrapped(m, "params", &["name", "arguments", "_meta"])
}

/// The call inside a wrapper object `m[key]` (`{"name", "arguments"}` and the `known`
/// fields), with the message's `id`.
fn wrapped(mut m: Map<String, Value>, key: &str, known: &[&str]) -> Result<ToolCall, CallError> {
    let id = id_of(&m, "id")?;
    let Some(Value::Object(mut inner)) = m.remove(key) else {
        return Err(shape(format!(
            "`{key}` must be a JSON object with `name` and `arguments`"
        )));
    };
    only(&inner, known, &format!("`{key}`"))?;
    let tool = inner
        .remove("name")
        .ok_or_else(|| shape(format!("`{key}` has no `name`: which tool is called?")))?;
    let args = inner.remove("arguments").unwrap_or(Value::Null);
    Ok(ToolCall {
        tool: tool_name(tool)?,
        args: arguments("arguments", args)?,
        context: Value::Object(Map::new()),
        id,
    })
}

/// Anthropic: `{"type": "tool_use", "id", "name", "input": {...}}`.
fn anthropic(mut m: Map<String, Value>) -> Result<ToolCall, CallError> {
    only(
        &m,
        &["type", "id", "name", "input", "cache_control"],
        "a `tool_use` block",
    )?;
    let tool = m
        .remove("name")
        .ok_or_else(|| shape("a `tool_use` block has no `name`: which tool is called?"))?;
    let input = m
        .remove("input")
        .ok_or_else(|| shape("a `tool_use` block has no `input`"))?;
    if !input.is_object() {
        return Err(shape(format!(
            "`input` must be a JSON object, found {}",
            describe(&input)
        )));
    }
    let tool = tool_name(tool)?;
    Ok(ToolCall {
        tool,
        args: input,
        context: Value::Object(Map::new()),
        id: id_of(&m, "id")?,
    })
}

fn tool_name(v: Value) -> Result<String, CallError> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::String(_) => Err(shape("the tool name is empty")),
        other => Err(shape(format!(
            "the tool name must be a string, found {}",
            describe(&other)
        ))),
    }
}

/// The arguments: an object, or a string holding one (read strictly).
fn arguments(field: &str, v: Value) -> Result<Value, CallError> {
    let v = match v {
        Value::String(s) => crate::json::parse(&s)
            .map_err(|e| shape(format!("`{field}` is a string that is not valid JSON: {e}")))?,
        other => other,
    };
    object(field, v)
}

/// Refuses a tool name that does not read as it is written: blanks around it, or a
/// control, format (zero-width) or bidirectional character anywhere.
pub(crate) fn check_tool_name(name: &str) -> Result<(), CallError> {
    if name.trim() != name {
        return Err(shape(format!(
            "the tool name {} has blanks around it",
            crate::text::quoted(name)
        )));
    }
    if let Some(c) = name.chars().find(|&c| crate::text::is_hidden(c)) {
        return Err(shape(format!(
            "the tool name {} holds the hidden character U+{:04X}: it would not read as it is written",
            crate::text::quoted(name),
            c as u32
        )));
    }
    Ok(())
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

impl<'de> Deserialize<'de> for ToolCall {
    /// Reads a call from any self-describing format (JSON, YAML), strictly: a key given
    /// twice anywhere is refused.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = crate::json::deserialize_strict(d)?;
        ToolCall::from_value(value).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for ToolCall {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(3 + usize::from(self.id.is_some())))?;
        if let Some(id) = &self.id {
            m.serialize_entry("id", id)?;
        }
        m.serialize_entry("tool", &self.tool)?;
        m.serialize_entry("args", &self.args)?;
        m.serialize_entry("context", &self.context)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> ToolCall {
        ToolCall::from_json(text).unwrap()
    }

    fn refused(text: &str) -> String {
        ToolCall::from_json(text).unwrap_err().to_string()
    }

    #[test]
    fn shapes() {
        let a = read(r#"{"tool":"pay","args":{"amount":5}}"#);
        let b = read(r#"{"name":"pay","arguments":"{\"amount\":5}"}"#);
        let c = read(
            r#"{"id":"c1","type":"function","function":{"name":"pay","arguments":"{\"amount\":5}"}}"#,
        );
        let d = read(
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"pay","arguments":{"amount":5}}}"#,
        );
        let e = read(r#"{"type":"tool_use","id":"toolu_1","name":"pay","input":{"amount":5}}"#);
        let f = read(
            r#"{"type":"function_call","call_id":"call_9","name":"pay","arguments":"{\"amount\":5}"}"#,
        );
        for (x, id) in [
            (&b, None),
            (&c, Some("c1")),
            (&d, Some("7")),
            (&e, Some("toolu_1")),
            (&f, Some("call_9")),
        ] {
            assert_eq!(
                (&x.tool, &x.args, &x.context),
                (&a.tool, &a.args, &a.context)
            );
            assert_eq!(x.id.as_deref(), id);
        }
    }

    /// Before: the message was decided as the Jira call while an executor reading
    /// `params` would run the database call.
    #[test]
    fn a_message_that_describes_the_call_twice_is_ambiguous() {
        for text in [
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"db.execute","arguments":{"sql":"DROP TABLE t"}},"function":{"name":"jira.create_issue","arguments":"{}"}}"#,
            r#"{"tool":"jira.create_issue","params":{"name":"db.execute","arguments":{}}}"#,
            r#"{"name":"jira.create_issue","function":{"name":"db.execute","arguments":"{}"}}"#,
        ] {
            assert!(refused(text).contains("ambiguous"), "{text}");
        }
    }

    /// Before: decided on the last value.
    #[test]
    fn a_key_given_twice_anywhere_is_refused() {
        for (text, key) in [
            (
                r#"{"tool":"pay","args":{"amount":1,"amount":100000}}"#,
                "`amount` is given twice in `args`",
            ),
            (r#"{"tool":"pay","tool":"read"}"#, "`tool` is given twice"),
            (
                r#"{"tool":"pay","context":{"tier":"a","tier":"b"}}"#,
                "`tier` is given twice in `context`",
            ),
            (
                r#"{"name":"pay","arguments":"{\"amount\":1,\"amount\":2}"}"#,
                "`amount` is given twice",
            ),
        ] {
            let e = refused(text);
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    /// Before: read as a call with empty arguments.
    #[test]
    fn an_unknown_shape_is_an_error_not_a_call_with_empty_arguments() {
        for (text, words) in [
            (
                r#"{"name":"pay","input":{"amount":5}}"#,
                "unknown field `input`",
            ),
            (
                r#"{"name":"pay","parameters":{"amount":5}}"#,
                "unknown field `parameters`",
            ),
            (r#"{"type":"tool_use","name":"pay"}"#, "no `input`"),
            (
                r#"{"type":"tool_use","name":"pay","input":"{}"}"#,
                "`input` must be a JSON object",
            ),
            (
                r#"{"type":"function","function":{"name":"pay","args":{}}}"#,
                "unknown field `args` in `function`",
            ),
            (
                r#"{"method":"tools/list","params":{"name":"pay"}}"#,
                "`tools/call`",
            ),
            (r#"{"type":"image","name":"pay"}"#, "`type`"),
        ] {
            let e = refused(text);
            assert!(e.contains(words), "{text}: {e}");
        }
    }

    #[test]
    fn a_tool_name_that_does_not_read_as_written_is_refused() {
        for name in [
            "db.execute\u{200B}",
            " db.execute",
            "db.execute\n",
            "db\u{202E}.execute",
            "db\u{1b}.execute",
            "db.\u{FEFF}execute",
        ] {
            let text = serde_json::json!({"tool": name}).to_string();
            let e = refused(&text);
            assert!(
                e.contains("hidden character") || e.contains("blanks around"),
                "{name:?}: {e}"
            );
            assert!(!e.contains('\u{1b}') && !e.contains('\u{202E}'), "{e}");
        }
        assert_eq!(read(r#"{"tool":"crm.get"}"#).tool, "crm.get");
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
