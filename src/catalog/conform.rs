//! Whether arguments conform to what a catalog says of a tool: every argument it requires
//! is there, and every argument it describes has its type (lists element by element,
//! objects key by key). An approver's edit is checked with it before it is decided.

use serde_json::Value;

use super::{ArgSpec, ArgType, ToolSpec};

/// The JSON kind of a value, as messages name it.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number with a fraction",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl ArgSpec {
    /// Checks `v` against this argument, at `path` (for the message).
    pub fn conform(&self, path: &str, v: &Value) -> Result<(), String> {
        // `null` reads as missing when a condition is judged; in arguments to run it is a
        // value of its own, and only `any` takes it.
        if !self.ty.admits(v) || (v.is_null() && self.ty != ArgType::Any) {
            return Err(format!(
                "`{path}` is {}, the catalog says {}",
                kind_of(v),
                self.ty.as_str()
            ));
        }
        if let (Some(items), Value::Array(list)) = (&self.items, v) {
            for (i, item) in list.iter().enumerate() {
                items.conform(&format!("{path}[{i}]"), item)?;
            }
        }
        if let (Some(props), Value::Object(map)) = (&self.properties, v) {
            conform_fields(props, map, path)?;
        }
        Ok(())
    }
}

impl ToolSpec {
    /// Checks a call's arguments against the tool's (when the catalog describes them):
    /// an error names the first argument that is missing or of the wrong type.
    pub fn conform(&self, args: &Value) -> Result<(), String> {
        let Some(specs) = &self.args else {
            return Ok(());
        };
        let Value::Object(map) = args else {
            return Err(format!(
                "the arguments are {}, not an object",
                kind_of(args)
            ));
        };
        conform_fields(specs, map, "args")
    }
}

fn conform_fields(
    specs: &std::collections::BTreeMap<String, ArgSpec>,
    map: &serde_json::Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    for (name, spec) in specs {
        let at = format!("{path}.{name}");
        match map.get(name) {
            Some(v) => spec.conform(&at, v)?,
            None if spec.optional => {}
            None => return Err(format!("`{at}` is missing; the catalog requires it")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;
    use serde_json::json;

    fn refund() -> ToolSpec {
        let c = Catalog::from_yaml(
            "tools.yaml",
            "tools:\n  refund:\n    args:\n      amount: integer\n      note: string?\n      to: {type: list, items: string}\n",
        )
        .unwrap();
        c.tool("refund").unwrap().clone()
    }

    #[test]
    fn required_arguments_and_types_are_checked() {
        let t = refund();
        assert_eq!(t.conform(&json!({"amount": 5, "to": ["a"]})), Ok(()));
        let cases = [
            (json!({"to": []}), "`args.amount` is missing"),
            (
                json!({"amount": "5", "to": []}),
                "`args.amount` is a string, the catalog says integer",
            ),
            (json!({"amount": 5.5, "to": []}), "a number with a fraction"),
            (
                json!({"amount": 5, "to": "bob@x.com"}),
                "`args.to` is a string, the catalog says list",
            ),
            (json!({"amount": 5, "to": [1]}), "`args.to[0]` is a number"),
            (
                json!({"amount": 5, "to": [], "note": null}),
                "`args.note` is null",
            ),
        ];
        for (args, says) in cases {
            let err = t.conform(&args).unwrap_err();
            assert!(err.contains(says), "{args}: {err}");
        }
    }
}
