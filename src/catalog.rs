//! Tool catalogs: which tools an agent has, their argument types, and the classes they are in.
//!
//! Two forms are read: the project's YAML (`tools: NAME: {classes, args}`) and an MCP
//! `tools/list` result (JSON, one JSON Schema per tool).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::yaml::{Place, Unique};

mod conform;

/// The type of an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ArgType {
    /// A JSON string.
    String,
    /// Any JSON number.
    Number,
    /// A JSON number without a fraction.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A JSON array.
    List,
    /// A JSON object.
    Object,
    /// Anything.
    Any,
}

impl ArgType {
    /// The type's name in catalogs.
    pub fn as_str(self) -> &'static str {
        match self {
            ArgType::String => "string",
            ArgType::Number => "number",
            ArgType::Integer => "integer",
            ArgType::Boolean => "boolean",
            ArgType::List => "list",
            ArgType::Object => "object",
            ArgType::Any => "any",
        }
    }

    /// Whether a call's value fits this type. `null` fits every type: it reads as missing.
    /// An integer is a number without a fraction (`7` and `7.0`).
    pub fn admits(self, v: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (self, v) {
            (ArgType::Any, _) | (_, Value::Null) => true,
            (ArgType::String, Value::String(_))
            | (ArgType::Number, Value::Number(_))
            | (ArgType::Boolean, Value::Bool(_))
            | (ArgType::List, Value::Array(_))
            | (ArgType::Object, Value::Object(_)) => true,
            (ArgType::Integer, Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        }
    }

    fn parse(s: &str) -> Option<ArgType> {
        Some(match s {
            "string" => ArgType::String,
            "number" => ArgType::Number,
            "integer" => ArgType::Integer,
            "boolean" => ArgType::Boolean,
            "list" | "array" => ArgType::List,
            "object" => ArgType::Object,
            "any" => ArgType::Any,
            _ => return None,
        })
    }
}

/// One argument of a tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgSpec {
    /// Its type.
    pub ty: ArgType,
    /// Whether a call may leave it out.
    pub optional: bool,
    /// For objects: the known keys (`None`: any key).
    pub properties: Option<BTreeMap<String, ArgSpec>>,
    /// For lists: the element type.
    pub items: Option<Box<ArgSpec>>,
}

/// One tool.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolSpec {
    /// Classes the catalog puts this tool in.
    pub classes: Vec<String>,
    /// Its arguments (`None`: not described, any argument accepted).
    pub args: Option<BTreeMap<String, ArgSpec>>,
}

/// A tool catalog.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalog {
    /// Where it was read from, for messages.
    pub name: String,
    /// Tools by name.
    pub tools: BTreeMap<String, ToolSpec>,
    /// The name prefixes it lists every tool of (`files.`, `shop.`): a rule naming a tool
    /// outside them is not checked against it (no E030). Empty: it lists every tool
    /// there is.
    pub scopes: Vec<String>,
    /// Classes it defines even when no tool is in them (an MCP catalog's annotation
    /// classes: `mcp_idempotent` exists though no tool says it is idempotent).
    pub classes: Vec<String>,
}

/// A catalog that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read tool catalog `{file}`: {message}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        message: String,
    },
    /// The file was read but is not a valid catalog.
    #[error("{file}{}: invalid tool catalog: {message}", crate::yaml::suffix(*place))]
    Invalid {
        /// The file.
        file: String,
        /// Where in the file, when known.
        place: Option<Place>,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a catalog: a `tools:` mapping of tool names"
)]
struct RawCatalog {
    tools: Unique<Option<RawTool>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a tool: a mapping with `classes`, `args` and `description`"
)]
struct RawTool {
    #[serde(default)]
    classes: Vec<String>,
    #[serde(default)]
    args: Option<Unique<RawArg>>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawArg {
    Short(String),
    Long(RawArgLong),
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an argument: a mapping with `type` and `optional`"
)]
struct RawArgLong {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    properties: Option<Unique<RawArg>>,
    #[serde(default)]
    items: Option<Box<RawArg>>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

impl Catalog {
    /// Reads a catalog file: `.json` as an MCP `tools/list` result, anything else as YAML.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Io {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let is_json =
            path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
        if is_json {
            Catalog::from_mcp_json(&file, &text)
        } else {
            Catalog::from_yaml(&file, &text)
        }
    }

    /// Parses the YAML form.
    pub fn from_yaml(name: &str, text: &str) -> Result<Catalog, CatalogError> {
        let raw: RawCatalog = crate::yaml::from_str(text).map_err(|e| CatalogError::Invalid {
            file: name.to_string(),
            place: e.place,
            message: e.message,
        })?;
        let invalid = |message: String| CatalogError::Invalid {
            file: name.to_string(),
            place: None,
            message,
        };
        let mut tools = BTreeMap::new();
        for (tool, spec) in raw.tools.0 {
            let spec = spec.unwrap_or(RawTool {
                classes: Vec::new(),
                args: None,
                description: None,
            });
            let args = match spec.args {
                None => None,
                Some(args) => {
                    let mut out = BTreeMap::new();
                    for (arg, raw) in args.0 {
                        let where_ = format!("tool `{tool}`, argument `{arg}`");
                        out.insert(arg, convert_arg(raw, &where_).map_err(invalid)?);
                    }
                    Some(out)
                }
            };
            tools.insert(
                tool,
                ToolSpec {
                    classes: spec.classes,
                    args,
                },
            );
        }
        Ok(Catalog {
            name: name.to_string(),
            tools,
            scopes: Vec::new(),
            classes: Vec::new(),
        })
    }

    /// Parses an MCP `tools/list` result (`{"tools": [...]}`, or a JSON-RPC response
    /// whose `result` holds it).
    pub fn from_mcp_json(name: &str, text: &str) -> Result<Catalog, CatalogError> {
        let invalid = |message: String, place: Option<Place>| CatalogError::Invalid {
            file: name.to_string(),
            place,
            message,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            let place = Place::in_text(text, e.line(), e.column());
            let message = e.to_string();
            let message = message.rfind(" at line ").map_or(message.clone(), |at| {
                message.get(..at).unwrap_or(&message).to_string()
            });
            invalid(message, Some(place))
        })?;
        Catalog::from_mcp_value(name, &value)
    }

    /// Reads an MCP `tools/list` result already parsed (see [`Catalog::from_mcp_json`]).
    pub fn from_mcp_value(name: &str, value: &serde_json::Value) -> Result<Catalog, CatalogError> {
        let invalid = |message: String, place: Option<Place>| CatalogError::Invalid {
            file: name.to_string(),
            place,
            message,
        };
        let list = value
            .get("tools")
            .or_else(|| value.get("result").and_then(|r| r.get("tools")))
            .and_then(|t| t.as_array())
            .ok_or_else(|| {
                invalid(
                    "expected an MCP `tools/list` result: an object with a `tools` array".into(),
                    None,
                )
            })?;
        let mut tools = BTreeMap::new();
        for (i, tool) in list.iter().enumerate() {
            let tool_name = tool.get("name").and_then(|n| n.as_str()).ok_or_else(|| {
                invalid(format!("tool number {} has no `name` string", i + 1), None)
            })?;
            let args = tool
                .get("inputSchema")
                .and_then(|s| schema_to_arg(s, false).properties);
            tools.insert(
                tool_name.to_string(),
                ToolSpec {
                    classes: annotation_classes(tool.get("annotations")),
                    args,
                },
            );
        }
        Ok(Catalog {
            name: name.to_string(),
            tools,
            scopes: Vec::new(),
            classes: ANNOTATION_CLASSES.iter().map(|c| c.to_string()).collect(),
        })
    }

    /// The tool with this name.
    pub fn tool(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.get(name)
    }

    /// Whether the catalog speaks for this tool name: every name without scopes; with
    /// them, a name under one of them, and a name with no `.` at all (under scopes of
    /// the form `NAME.`, such a name can never be a tool: it is a mistake, not another
    /// scope's tool).
    pub fn covers(&self, name: &str) -> bool {
        self.scopes.is_empty()
            || !name.contains('.')
            || self.scopes.iter().any(|s| name.starts_with(s.as_str()))
    }
}

/// The classes an MCP tool's annotations put it in: `mcp_read_only`, `mcp_destructive`,
/// `mcp_idempotent` and `mcp_open_world`, each hint read with the protocol's default
/// when it is absent (read-only: false; destructive, when not read-only: true;
/// idempotent: false; open world: true). They are the server's claims.
pub const ANNOTATION_CLASSES: [&str; 4] = [
    "mcp_read_only",
    "mcp_destructive",
    "mcp_idempotent",
    "mcp_open_world",
];

fn annotation_classes(annotations: Option<&serde_json::Value>) -> Vec<String> {
    let hint = |name: &str| {
        annotations
            .and_then(|a| a.get(name))
            .and_then(serde_json::Value::as_bool)
    };
    let read_only = hint("readOnlyHint").unwrap_or(false);
    let [ro, destructive, idempotent, open_world] = ANNOTATION_CLASSES;
    let mut classes = Vec::new();
    if read_only {
        classes.push(ro);
    } else if hint("destructiveHint").unwrap_or(true) {
        classes.push(destructive);
    }
    // Idempotence means something only for a tool that changes things.
    if !read_only && hint("idempotentHint").unwrap_or(false) {
        classes.push(idempotent);
    }
    if hint("openWorldHint").unwrap_or(true) {
        classes.push(open_world);
    }
    classes.into_iter().map(String::from).collect()
}

fn convert_arg(raw: RawArg, where_: &str) -> Result<ArgSpec, String> {
    match raw {
        RawArg::Short(s) => {
            let (ty, optional) = match s.trim().strip_suffix('?') {
                Some(t) => (t.trim(), true),
                None => (s.trim(), false),
            };
            let ty = ArgType::parse(ty).ok_or_else(|| unknown_type(where_, ty))?;
            Ok(ArgSpec {
                ty,
                optional,
                properties: None,
                items: None,
            })
        }
        RawArg::Long(l) => {
            let ty = ArgType::parse(&l.ty).ok_or_else(|| unknown_type(where_, &l.ty))?;
            let properties = match l.properties {
                None => None,
                Some(p) => {
                    let mut out = BTreeMap::new();
                    for (k, v) in p.0 {
                        let w = format!("{where_}.{k}");
                        out.insert(k, convert_arg(v, &w)?);
                    }
                    Some(out)
                }
            };
            let items = match l.items {
                None => None,
                Some(i) => Some(Box::new(convert_arg(*i, &format!("{where_}[]"))?)),
            };
            Ok(ArgSpec {
                ty,
                optional: l.optional,
                properties,
                items,
            })
        }
    }
}

fn unknown_type(where_: &str, ty: &str) -> String {
    format!(
        "{where_}: unknown type `{ty}` (the types are string, number, integer, boolean, list, \
         object and any; add `?` for an optional argument)"
    )
}

fn schema_to_arg(schema: &serde_json::Value, optional: bool) -> ArgSpec {
    let ty_name = match schema.get("type") {
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(serde_json::Value::Array(types)) => {
            let non_null: Vec<&str> = types
                .iter()
                .filter_map(|t| t.as_str())
                .filter(|t| *t != "null")
                .collect();
            if non_null.len() == 1 {
                non_null.first().copied()
            } else {
                None
            }
        }
        _ => None,
    };
    let ty = ty_name.and_then(ArgType::parse).unwrap_or(ArgType::Any);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let properties = schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|props| {
            props
                .iter()
                .map(|(k, v)| (k.clone(), schema_to_arg(v, !required.contains(&k.as_str()))))
                .collect()
        });
    let items = schema
        .get("items")
        .map(|i| Box::new(schema_to_arg(i, false)));
    ArgSpec {
        ty,
        optional,
        properties,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_catalog_with_optional_and_nested_args() {
        let c = Catalog::from_yaml(
            "t.yaml",
            "tools:\n  stripe.refund:\n    classes: [money_out]\n    args:\n      amount: number\n      note: string?\n      customer: {type: object, properties: {tier: string}}\n  crm.get:\n",
        )
        .unwrap();
        let refund = c.tool("stripe.refund").unwrap();
        assert_eq!(refund.classes, vec!["money_out"]);
        let args = refund.args.as_ref().unwrap();
        assert_eq!(args["amount"].ty, ArgType::Number);
        assert!(args["note"].optional);
        assert!(
            args["customer"]
                .properties
                .as_ref()
                .unwrap()
                .contains_key("tier")
        );
        assert!(c.tool("crm.get").unwrap().args.is_none());
    }

    #[test]
    fn yaml_errors_name_the_place() {
        let e =
            Catalog::from_yaml("t.yaml", "tools:\n  a:\n    args:\n      n: numbr\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("tool `a`, argument `n`: unknown type `numbr`"),
            "{e}"
        );
        let e = Catalog::from_yaml("t.yaml", "tools: [1, 2\n").unwrap_err();
        assert!(e.to_string().starts_with("t.yaml:"), "{e}");
        let e = Catalog::from_yaml("t.yaml", "tool:\n  a: {}\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `tool`"), "{e}");
    }

    #[test]
    fn mcp_tools_list() {
        let c = Catalog::from_mcp_json(
            "t.json",
            r#"{"result":{"tools":[{"name":"send_email","inputSchema":{"type":"object",
            "properties":{"to":{"type":"array","items":{"type":"string"}},"body":{"type":"string"}},
            "required":["to"]}}]}}"#,
        )
        .unwrap();
        let args = c.tool("send_email").unwrap().args.as_ref().unwrap();
        assert_eq!(args["to"].ty, ArgType::List);
        assert!(!args["to"].optional);
        assert!(args["body"].optional);
        // No annotations: the protocol's defaults, destructive and open-world.
        assert_eq!(
            c.tool("send_email").unwrap().classes,
            ["mcp_destructive", "mcp_open_world"]
        );
    }

    #[test]
    fn mcp_annotations_put_tools_in_classes() {
        let c = Catalog::from_mcp_json(
            "t.json",
            r#"{"tools":[
              {"name":"read","annotations":{"readOnlyHint":true,"destructiveHint":true,"openWorldHint":false}},
              {"name":"put","annotations":{"destructiveHint":false,"idempotentHint":true}},
              {"name":"odd","annotations":{"readOnlyHint":"yes","openWorldHint":false}}
            ]}"#,
        )
        .unwrap();
        let classes = |t: &str| c.tool(t).unwrap().classes.clone();
        // Read-only wins over a destructive hint, which only means something otherwise.
        assert_eq!(classes("read"), ["mcp_read_only"]);
        assert_eq!(classes("put"), ["mcp_idempotent", "mcp_open_world"]);
        // A hint that is not a boolean reads as absent: the default, not a claim.
        assert_eq!(classes("odd"), ["mcp_destructive"]);
    }
}
