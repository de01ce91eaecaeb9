//! The arguments of `decide ... edit`: a whole new set (`--args`), an RFC 6902 patch
//! (`--patch`), or single fields (`--set PATH=VALUE`, typed by the catalog), each inline or
//! from a file.

use std::path::Path;

use holdpoint::approval::patch;
use holdpoint::{ArgSpec, ArgType, ToolSpec};
use serde_json::Value;

use crate::Exit;

/// What an edit was given.
pub(super) struct EditInput<'a> {
    pub(super) args: Option<&'a str>,
    pub(super) patch: Option<&'a str>,
    pub(super) set: &'a [String],
}

/// The edited arguments, from the current ones. Prints the problem and gives the exit code.
pub(super) fn edited_args(
    input: &EditInput<'_>,
    current: &Value,
    tool: Option<&ToolSpec>,
) -> Result<Value, Exit> {
    let mut args = match (input.args, input.patch) {
        (Some(text), _) => json_or_file("--args", text, '{')?,
        (None, Some(text)) => {
            let p = json_or_file("--patch", text, '[')?;
            patch::apply(current, &p).map_err(|e| {
                eprintln!("error: --patch: {e}");
                Exit::Failed
            })?
        }
        (None, None) if input.set.is_empty() => {
            eprintln!(
                "error: an edit needs --set PATH=VALUE, --args JSON|FILE or --patch JSON|FILE"
            );
            return Err(Exit::Usage);
        }
        (None, None) => current.clone(),
    };
    if !args.is_object() {
        eprintln!("error: --args: the edited arguments must be a JSON object");
        return Err(Exit::Failed);
    }
    for assignment in input.set {
        set(&mut args, assignment, tool).map_err(|e| {
            eprintln!("error: --set {assignment}: {e}");
            Exit::Failed
        })?;
    }
    Ok(args)
}

/// Inline JSON when the text starts with `opens` (`{` or `[`), else a file of JSON. A key
/// given twice is refused.
fn json_or_file(flag: &str, text: &str, opens: char) -> Result<Value, Exit> {
    let (what, body) = if text.trim_start().starts_with(opens) {
        ("inline JSON".to_string(), text.to_string())
    } else {
        let path = Path::new(text);
        let body = std::fs::read_to_string(path).map_err(|e| {
            eprintln!("error: {flag}: cannot read `{}`: {e}", path.display());
            Exit::Usage
        })?;
        (format!("`{}`", path.display()), body)
    };
    holdpoint::parse_json(&body).map_err(|e| {
        eprintln!("error: {flag}: {what} is not valid JSON: {e}");
        Exit::Failed
    })
}

/// Applies `PATH=VALUE`: PATH is a field (`amount`) or a dotted path into objects
/// (`address.city`); VALUE is read as the catalog types the field (a string as written;
/// a number, boolean, list or object as JSON), else as the current value's type.
fn set(args: &mut Value, assignment: &str, tool: Option<&ToolSpec>) -> Result<(), String> {
    let Some((path, text)) = assignment.split_once('=') else {
        return Err("write it as PATH=VALUE (e.g. `amount=450`)".into());
    };
    let fields: Vec<&str> = path.trim().split('.').collect();
    if fields.iter().any(|f| f.is_empty()) {
        return Err(format!(
            "`{path}` is not a field path (e.g. `amount`, `address.city`)"
        ));
    }
    let spec = arg_spec(tool, &fields);
    let mut slot = &mut *args;
    let (last, parents) = fields.split_last().ok_or("no field named")?;
    for f in parents {
        slot = slot
            .as_object_mut()
            .and_then(|m| m.get_mut(*f))
            .filter(|v| v.is_object())
            .ok_or_else(|| format!("`{f}` is not an object in the call"))?;
    }
    let map = slot
        .as_object_mut()
        .ok_or_else(|| format!("`{path}` is not inside an object"))?;
    let ty = spec.map(|s| s.ty).or_else(|| map.get(*last).map(type_of));
    let value = typed(text, ty)?;
    map.insert((*last).to_string(), value);
    Ok(())
}

/// What the catalog says of a field path, if it describes it.
fn arg_spec<'t>(tool: Option<&'t ToolSpec>, fields: &[&str]) -> Option<&'t ArgSpec> {
    let (first, rest) = fields.split_first()?;
    let mut spec = tool?.args.as_ref()?.get(*first)?;
    for f in rest {
        spec = spec.properties.as_ref()?.get(*f)?;
    }
    Some(spec)
}

fn type_of(v: &Value) -> ArgType {
    match v {
        Value::String(_) => ArgType::String,
        Value::Number(n) if n.is_f64() => ArgType::Number,
        Value::Number(_) => ArgType::Integer,
        Value::Bool(_) => ArgType::Boolean,
        Value::Array(_) => ArgType::List,
        Value::Object(_) => ArgType::Object,
        Value::Null => ArgType::Any,
    }
}

/// VALUE read as type `ty`: a string stays as written; anything else is JSON that must
/// have that type.
fn typed(text: &str, ty: Option<ArgType>) -> Result<Value, String> {
    match ty {
        Some(ArgType::String) => Ok(Value::String(text.to_string())),
        Some(t) => {
            let v = holdpoint::parse_json(text.trim())
                .map_err(|_| format!("`{text}` is not {} (write it as JSON)", t.as_str()))?;
            if t.admits(&v) {
                Ok(v)
            } else {
                Err(format!("`{text}` is not {}", t.as_str()))
            }
        }
        // Nothing says the type: JSON if it reads as JSON, else the text.
        None => Ok(holdpoint::parse_json(text.trim()).unwrap_or(Value::String(text.to_string()))),
    }
}
