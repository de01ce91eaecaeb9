//! Messages that say the fix for mistakes authors make (issue 10): each finding names what
//! to write instead.

use holdpoint::PolicyBuilder;

/// The first finding's message and help.
fn finding(policy: &str) -> (String, String) {
    let report = PolicyBuilder::new().source("p.gate", policy).check();
    let d = report
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .unwrap_or_else(|| panic!("no error for {policy}"));
    let r = d.to_record(&report.sources);
    (r.message, r.help.unwrap_or_default())
}

#[test]
fn a_single_equals_sign_asks_for_two() {
    let (_, help) = finding("default allow\ndeny d { when tool = \"x\" }\n");
    assert!(help.contains("did you mean `==`?"), "{help}");
}

#[test]
fn timeout_as_an_option_asks_for_within() {
    let (_, help) = finding("default allow\napprove a { when tool == \"x\" timeout 2d }\n");
    assert!(help.contains("did you mean `within 2d`?"), "{help}");
}

#[test]
fn never_auto_naming_a_rule_says_it_is_a_rule_and_names_the_classes() {
    let (message, help) = finding(
        "default allow\nclass money = tool == \"pay\"\nnever auto big\napprove big { when tool == \"x\" }\n",
    );
    assert!(message.contains("a rule, not a class"), "{message}");
    assert!(help.contains("`money`"), "{help}");
}

#[test]
fn a_quoted_number_asks_to_drop_the_quotes() {
    let (message, help) = finding("default allow\napprove a { when args.amount < \"200\" }\n");
    assert!(message.contains("compares numbers"), "{message}");
    assert!(help.contains("drop the quotes: `200`"), "{help}");
}

fn codes(policy: &str, catalog: Option<&str>) -> Vec<(String, usize, usize, usize)> {
    let mut b = PolicyBuilder::new().source("p.gate", policy);
    if let Some(c) = catalog {
        b = b.catalog(holdpoint::Catalog::from_yaml("tools.yaml", c).unwrap());
    }
    let report = b.check();
    report
        .diagnostics
        .iter()
        .map(|d| {
            let r = d.to_record(&report.sources);
            (
                r.code.to_string(),
                r.line.unwrap_or(0),
                r.end_line.unwrap_or(0),
                r.column.unwrap_or(0),
            )
        })
        .collect()
}

/// Before: `within 0s` gave a false W103 and hid the E030 next to it.
#[test]
fn a_refused_within_is_not_called_missing_and_hides_nothing() {
    let found = codes(
        "default allow\napprove a {\n  when tool == \"nope.tool\"\n  within 0s\n  on timeout reject\n}\n",
        Some("tools:\n  x: {}\n"),
    );
    let names: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert!(names.contains(&"E030"), "{found:?}");
    assert!(names.contains(&"E020"), "{found:?}");
    assert!(!names.contains(&"W103"), "{found:?}");
}

/// Before: the caret of E015 ran onto the next line.
#[test]
fn a_finding_on_an_option_stays_on_its_line() {
    let found = codes(
        "default allow\nallow a {\n  when tool == \"x\"\n  by \"finance\"   # who\n  within 2d\n}\n",
        None,
    );
    let e015: Vec<_> = found.iter().filter(|f| f.0 == "E015").collect();
    assert_eq!(e015.len(), 2, "{found:?}");
    for (_, line, end_line, _) in e015 {
        assert_eq!(line, end_line, "{found:?}");
    }
}

/// A catalog with scopes (the MCP gateway's: the tools of the upstreams it reaches) speaks
/// only for the names under them: a misspelt tool of a listed upstream is E030, a tool of
/// an upstream it does not reach is none of its business.
#[test]
fn a_scoped_catalog_judges_only_the_tools_under_its_scopes() {
    let policy = "default deny\nallow a { when tool == \"files.raed\" }\nallow b { when tool == \"github.push\" }\n";
    let unknown: Vec<String> = unknown_tools(policy, "tools:\n  files.read: {}\n")
        .into_iter()
        .map(|d| d.message)
        .collect();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].contains("files.raed"), "{unknown:?}");
}

/// Before: under scopes, a tool named without its upstream (`delete_file` for
/// `files.delete_file`) was no error, so `deny ... { when tool == "delete_file" }` never
/// applied and the gateway let the deletes through.
#[test]
fn under_scopes_a_name_without_its_scope_is_unknown_and_the_scoped_name_suggested() {
    let policy = "default allow\ndeny no_deletes { when tool == \"delete_file\" }\n";
    let found = unknown_tools(policy, "tools:\n  files.delete_file: {}\n");
    let d = found.first().unwrap_or_else(|| panic!("no E030"));
    assert!(d.message.contains("`delete_file`"), "{}", d.message);
    assert!(
        d.help
            .as_deref()
            .is_some_and(|h| h.contains("`files.delete_file`")),
        "{:?}",
        d.help
    );
}

/// Before: a policy naming `mcp_idempotent` was E013 (an unknown class) when no tool of
/// the MCP catalog said it was idempotent, so a gateway failed to start over servers
/// that make no such claim.
#[test]
fn an_mcp_catalogs_annotation_classes_exist_without_members() {
    let catalog = holdpoint::Catalog::from_mcp_json(
        "tools.json",
        r#"{"tools":[{"name":"files.read","annotations":{"readOnlyHint":true}}]}"#,
    )
    .unwrap();
    let policy =
        "default deny\napprove again { when mcp_idempotent }\nallow reads { when mcp_read_only }\n";
    let report = PolicyBuilder::new()
        .source("p.gate", policy)
        .catalog(catalog)
        .check();
    let errors: Vec<&str> = report
        .diagnostics
        .iter()
        .filter(|d| d.code.as_str().starts_with('E'))
        .map(|d| d.message.as_str())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// The E030 findings of `policy` against the YAML catalog `yaml`, scoped to `files.`.
fn unknown_tools(policy: &str, yaml: &str) -> Vec<holdpoint::Diagnostic> {
    let mut catalog = holdpoint::Catalog::from_yaml("tools.yaml", yaml).unwrap();
    catalog.scopes = vec!["files.".into()];
    let report = PolicyBuilder::new()
        .source("p.gate", policy)
        .catalog(catalog)
        .check();
    report
        .diagnostics
        .into_iter()
        .filter(|d| d.code.as_str() == "E030")
        .collect()
}
