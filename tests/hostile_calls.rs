//! Calls a real agent, a careless author or an attacker produces: each is refused, or
//! decided on exactly one reading that cannot turn a gated call into one that runs.

use holdpoint::{Catalog, Effect, PolicyBuilder, ToolCall, ToolStanding};

const CATALOG: &str =
    "tools:\n  db.execute: {args: {sql: string}}\n  jira.create_issue: {}\n  crm.get: {}\n";
const POLICY: &str = r#"
default approve
allow reads { when tool == "crm.get" }
deny drops { when tool == "db.execute" and args.sql matches "DROP*" }
"#;

fn policy() -> holdpoint::Policy {
    PolicyBuilder::new()
        .source("p.gate", POLICY)
        .catalog(Catalog::from_yaml("tools.yaml", CATALOG).unwrap())
        .build()
        .unwrap()
}

#[test]
fn a_tool_the_catalog_does_not_list_is_reported_by_both_evaluators() {
    let p = policy();
    let call = ToolCall::from_json(r#"{"tool":"crm.delete_all","args":{}}"#).unwrap();
    for d in [p.evaluate(&call), p.evaluate_reference(&call)] {
        assert!(d.unknown_tool());
        assert_eq!(d.tool_standing(), ToolStanding::Unlisted);
        assert!(d.report(&call).unknown_tool);
        let json = serde_json::to_value(d.json(&call)).unwrap();
        assert_eq!(json["unknown_tool"], true, "{json}");
    }
    let listed = ToolCall::from_json(r#"{"tool":"crm.get","args":{}}"#).unwrap();
    let d = p.evaluate(&listed);
    assert!(!d.unknown_tool());
    assert_eq!(d.effect(), Effect::Allow);
    assert!(
        serde_json::to_value(d.json(&listed))
            .unwrap()
            .get("unknown_tool")
            .is_none()
    );
}

/// Before: `DB.EXECUTE` was an unlisted tool decided by the default, while an executor
/// that folds case ran `db.execute`.
#[test]
fn a_confusable_of_a_listed_tool_is_refused() {
    let p = policy();
    for name in ["DB.EXECUTE", "Db.Execute", "ｄｂ.ｅｘｅｃｕｔｅ", "CRM.GET"] {
        let call = ToolCall::new(name, serde_json::json!({"sql": "DROP TABLE t"}));
        for d in [p.evaluate(&call), p.evaluate_reference(&call)] {
            assert_eq!(d.effect(), Effect::Deny, "{name}");
            assert!(d.confusable_with().is_some(), "{name}");
            let report = d.report(&call);
            assert!(report.confusable_with.is_some());
            assert!(
                report.reasons[0].reason.contains("reads as its"),
                "{report:?}"
            );
            // The streamed JSON says the same as the report.
            assert_eq!(
                serde_json::to_value(d.json(&call)).unwrap(),
                serde_json::to_value(&report).unwrap()
            );
        }
    }
}

#[test]
fn without_a_catalog_nothing_is_said_about_the_tool() {
    let p = PolicyBuilder::new()
        .source("p.gate", POLICY)
        .build()
        .unwrap();
    let call = ToolCall::new("DB.EXECUTE", serde_json::json!({}));
    let d = p.evaluate(&call);
    assert_eq!(d.tool_standing(), ToolStanding::NoCatalog);
    assert_eq!(d.effect(), Effect::Approve);
}

/// Before: a variation selector, a combining grapheme joiner or a Hangul filler in a tool
/// name was neither refused nor folded, so `db.execute` plus one of them fell to the default.
#[test]
fn a_tool_name_with_any_default_ignorable_character_is_refused() {
    for hidden in ['\u{FE0F}', '\u{34F}', '\u{3164}', '\u{115F}', '\u{E0041}'] {
        let text = format!(r#"{{"tool": "db.execute{hidden}", "args": {{}}}}"#);
        let err = holdpoint::ToolCall::from_json(&text).unwrap_err();
        assert!(
            err.to_string().contains("does not read as it is written")
                || err.to_string().contains("hidden"),
            "U+{:04X}: {err}",
            hidden as u32
        );
    }
}

const TYPED_CATALOG: &str = "tools:
  email.send:
    args:
      to: {type: list, items: string}
      n: integer
      meta: {type: object, properties: {tier: string}}
  grant:
    args:
      ids: {type: list, items: string}
";
const TYPED_POLICY: &str = r#"
default allow
approve bulk { when tool == "email.send" and len(args.to) > 20 }
approve many { when tool == "email.send" and args.n > 100 }
approve very_many { when tool == "email.send" and args.n > 1000 }
approve gold { when tool == "email.send" and args.meta.tier contains "gold" }
allow known { when tool == "grant" and all(i in args.ids: i in [1, 2, 3]) }
approve grants { when tool == "grant" and not all(i in args.ids: i in [1, 2, 3]) }
"#;

/// The `unknown` entries of a decision, on both evaluators (which must agree), and its
/// effect.
fn typed_decision(call: &str) -> (Effect, Vec<(String, String, String)>) {
    let p = PolicyBuilder::new()
        .source("p.gate", TYPED_POLICY)
        .catalog(Catalog::from_yaml("tools.yaml", TYPED_CATALOG).unwrap())
        .build()
        .unwrap();
    let call = ToolCall::from_json(call).unwrap();
    let (fast, slow) = (p.evaluate(&call), p.evaluate_reference(&call));
    let report = fast.report(&call);
    assert_eq!(
        report,
        slow.report(&call),
        "the tree and the reference differ"
    );
    assert_eq!(
        serde_json::to_value(fast.json(&call)).unwrap(),
        serde_json::to_value(&report).unwrap()
    );
    let unknown = report
        .unknown
        .into_iter()
        .map(|u| (u.rule, u.path, u.why))
        .collect();
    (report.effect, unknown)
}

fn unknown(rule: &str, path: &str, why: &str) -> (String, String, String) {
    (rule.into(), path.into(), why.into())
}

/// Before: with `to: list` in the catalog, `to: "all-staff@acme.com"` was read as the
/// string it is, `len(args.to)` counted its 18 characters, and the bulk-mail gate let the
/// call through; a fraction where the catalog says integer, a number in a list of strings
/// and a list where it says object passed as well.
#[test]
fn an_argument_the_catalog_types_otherwise_is_unknown_and_fails_closed() {
    let (effect, u) = typed_decision(
        r#"{"tool":"email.send","args":{"to":"all-staff@acme.com","n":1,"meta":{"tier":"silver"}}}"#,
    );
    assert_eq!(effect, Effect::Approve);
    assert_eq!(
        u,
        [unknown(
            "bulk",
            "args.to",
            "is a string, the catalog says list"
        )]
    );
    let (effect, u) = typed_decision(
        r#"{"tool":"email.send","args":{"to":[],"n":5.5,"meta":{"tier":"silver"}}}"#,
    );
    assert_eq!(effect, Effect::Approve);
    let why = "is a number with a fraction, the catalog says integer";
    assert_eq!(
        u,
        [
            unknown("many", "args.n", why),
            unknown("very_many", "args.n", why)
        ]
    );
    let (effect, u) =
        typed_decision(r#"{"tool":"email.send","args":{"to":[],"n":1,"meta":["gold"]}}"#);
    assert_eq!(effect, Effect::Approve);
    assert_eq!(
        u,
        [unknown(
            "gold",
            "args.meta.tier",
            "is under args.meta, which is a list, the catalog says object"
        )]
    );
    // An element of a list is read against the list's `items`.
    let (effect, u) = typed_decision(r#"{"tool":"grant","args":{"ids":[1, 2]}}"#);
    assert_eq!(effect, Effect::Approve);
    assert_eq!(
        u,
        [unknown(
            "grants",
            "i",
            "is a number, the catalog says string"
        )]
    );
    // Calls that fit the catalog are decided as before.
    let (effect, u) = typed_decision(
        r#"{"tool":"email.send","args":{"to":["a@acme.com"],"n":7.0,"meta":{"tier":"silver"}}}"#,
    );
    assert_eq!((effect, u.len()), (Effect::Allow, 0));
    let (effect, _) = typed_decision(r#"{"tool":"grant","args":{"ids":[]}}"#);
    assert_eq!(effect, Effect::Allow);
}

/// `{"a": {"a": ... 1 ...}}`, `levels` objects deep.
fn nested(levels: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels))
}

#[test]
fn arguments_nested_too_deep_to_store_are_refused_even_inside_an_arguments_string() {
    // A string is read with its own nesting allowance, so 100 levels inside it would pass
    // the reader, be stored a few levels further down, and never read back.
    let deep = serde_json::json!({"function": {"name": "pay", "arguments": nested(100)}});
    let err = ToolCall::from_json(&deep.to_string()).unwrap_err();
    assert!(err.to_string().contains("`args` nests"), "{err}");
    let inline = format!(r#"{{"tool":"pay","args":{}}}"#, nested(70));
    assert!(ToolCall::from_json(&inline).is_err());
    let context = format!(r#"{{"tool":"pay","context":{}}}"#, nested(70));
    assert!(ToolCall::from_json(&context).is_err());
    // Deep but storable is fine.
    let fine = serde_json::json!({"function": {"name": "pay", "arguments": nested(60)}});
    assert!(ToolCall::from_json(&fine.to_string()).is_ok());
}
