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
