//! The upstreams' tools as the policy's catalog: each tool under its policy name
//! (`UPSTREAM.TOOL`), typed by its input schema and put in classes by its annotations,
//! with the policy's own catalog (`tools.yaml`) laid over it.

use holdpoint::{Catalog, ToolSpec};
use rmcp::model::Tool;
use serde_json::{Value, json};

use crate::GatewayError;

/// The catalog of these tools, each `(policy name, tool)`, with `own` (the catalog beside
/// the policy or given with `--tools`) over it: its classes are added to a tool's, and its
/// arguments, where it gives them, replace the schema's. Without `own`, it speaks only
/// for the upstreams in `scopes` (a rule naming another upstream's tool is no error: one
/// policy may serve gateways in front of different servers); with it, for every tool, as
/// `own` does.
pub(crate) fn merged(
    scopes: &[String],
    tools: &[(String, &Tool)],
    own: Option<&Catalog>,
) -> Result<Catalog, GatewayError> {
    let list: Vec<Value> = tools
        .iter()
        .map(|(name, tool)| {
            json!({
                "name": name,
                "inputSchema": Value::Object((*tool.input_schema).clone()),
                "annotations": tool.annotations,
            })
        })
        .collect();
    let mut catalog =
        Catalog::from_mcp_value("the upstreams' tools/list", &json!({ "tools": list }))
            .map_err(|e| GatewayError::Policy(e.to_string()))?;
    if let Some(own) = own {
        for (name, spec) in &own.tools {
            let entry = catalog
                .tools
                .entry(name.clone())
                .or_insert_with(ToolSpec::default);
            for class in &spec.classes {
                if !entry.classes.contains(class) {
                    entry.classes.push(class.clone());
                }
            }
            if spec.args.is_some() {
                entry.args = spec.args.clone();
            }
        }
        catalog.name = format!("{} over the upstreams' tools/list", own.name);
    } else {
        catalog.scopes = scopes.iter().map(|s| format!("{s}.")).collect();
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ToolAnnotations;
    use std::sync::Arc;

    fn tool(name: &str, schema: Value, annotations: Option<ToolAnnotations>) -> Tool {
        let Value::Object(schema) = schema else {
            panic!("not an object")
        };
        let mut t = Tool::new(name.to_string(), "", Arc::new(schema));
        t.annotations = annotations;
        t
    }

    #[test]
    fn the_upstreams_tools_are_typed_and_classed_and_the_own_catalog_lies_over_them() {
        let read = tool(
            "read",
            json!({"type": "object", "properties": {"path": {"type": "string"}}}),
            Some(ToolAnnotations::new().read_only(true)),
        );
        let wipe = tool(
            "wipe",
            json!({"type": "object", "properties": {"n": {"type": "integer"}}}),
            None,
        );
        let own = Catalog::from_yaml(
            "tools.yaml",
            "tools:\n  files.wipe:\n    classes: [prod]\n    args: {n: number, why: string}\n  other.x:\n",
        )
        .unwrap();
        let c = merged(
            &["files".into()],
            &[("files.read".into(), &read), ("files.wipe".into(), &wipe)],
            Some(&own),
        )
        .unwrap();
        let r = c.tool("files.read").unwrap();
        assert_eq!(r.classes, ["mcp_read_only", "mcp_open_world"]);
        assert_eq!(
            r.args.as_ref().unwrap()["path"].ty,
            holdpoint::ArgType::String
        );
        let w = c.tool("files.wipe").unwrap();
        assert_eq!(w.classes, ["mcp_destructive", "mcp_open_world", "prod"]);
        let args = w.args.as_ref().unwrap();
        assert_eq!(args["n"].ty, holdpoint::ArgType::Number);
        assert!(args.contains_key("why"));
        assert!(c.tool("other.x").is_some());
        // The own catalog speaks for every tool, and so does the merged one.
        assert!(c.covers("github.push"));
        let alone = merged(&["files".into()], &[("files.read".into(), &read)], None).unwrap();
        assert!(alone.covers("files.anything") && !alone.covers("github.push"));
    }
}
