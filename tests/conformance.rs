//! Every conformance case (tests/cases/conformance/*.yaml) on both evaluators.

use std::collections::BTreeSet;

use holdpoint::{Decision, Policy, ToolCall};
use serde_json::Value;

fn check_expect(
    case: &str,
    which: &str,
    d: &Decision<'_>,
    call: &ToolCall,
    expect: &Value,
) -> Vec<String> {
    let mut errs = Vec::new();
    let report = d.report(call);
    let effect = serde_json::to_value(report.effect).unwrap();
    if expect.get("effect") != Some(&effect) {
        errs.push(format!(
            "{case} [{which}] {call:?}: effect {effect}, expected {:?}",
            expect.get("effect")
        ));
    }
    if let Some(rules) = expect.get("rules") {
        let want: BTreeSet<String> = rules
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        let got: BTreeSet<String> = report.rules.iter().cloned().collect();
        if want != got {
            errs.push(format!(
                "{case} [{which}] {call:?}: rules {got:?}, expected {want:?}"
            ));
        }
    }
    if let Some(mode) = expect.get("mode") {
        let got = report
            .approval
            .as_ref()
            .map(|a| serde_json::to_value(a.mode).unwrap());
        if got.as_ref() != Some(mode) {
            errs.push(format!(
                "{case} [{which}] {call:?}: mode {got:?}, expected {mode}"
            ));
        }
    }
    if let Some(da) = expect.get("default_applied") {
        if Some(report.default_applied) != da.as_bool() {
            errs.push(format!(
                "{case} [{which}] {call:?}: default_applied {}, expected {da}",
                report.default_applied
            ));
        }
    }
    if let Some(u) = expect.get("unknown") {
        if Some(!report.unknown.is_empty()) != u.as_bool() {
            errs.push(format!(
                "{case} [{which}] {call:?}: unknown {:?}, expected {u}",
                report.unknown
            ));
        }
    }
    if let Some(reason) = expect.get("reason") {
        let reason = reason.as_str().unwrap();
        if !report.reasons.iter().any(|r| r.reason == reason) {
            errs.push(format!(
                "{case} [{which}] {call:?}: reasons {:?}, expected {reason:?}",
                report.reasons
            ));
        }
    }
    errs
}

#[test]
fn conformance_cases_pass_on_tree_and_reference() {
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir("tests/cases/conformance").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let cases = holdpoint::unstable::yaml::to_json(&text).unwrap();
        for case in cases.as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let source = case["policy"].as_str().unwrap();
            let loaded = Policy::from_source(source);
            if case.get("check_fails").and_then(Value::as_bool) == Some(true) {
                count += 1;
                match loaded {
                    Ok(_) => failures.push(format!("{name}: loaded, but must fail")),
                    Err(e) => {
                        let words = case["message_contains"].as_str().unwrap();
                        if !e.to_string().contains(words) {
                            failures
                                .push(format!("{name}: error does not mention {words:?}:\n{e}"));
                        }
                    }
                }
                continue;
            }
            let policy = match loaded {
                Ok(p) => p,
                Err(e) => {
                    failures.push(format!("{name}: does not load:\n{e}"));
                    continue;
                }
            };
            for c in case["calls"].as_array().unwrap() {
                count += 1;
                let call = ToolCall::from_value(c["call"].clone()).unwrap();
                let expect = &c["expect"];
                failures.extend(check_expect(
                    name,
                    "tree",
                    &policy.evaluate(&call),
                    &call,
                    expect,
                ));
                failures.extend(check_expect(
                    name,
                    "reference",
                    &policy.evaluate_reference(&call),
                    &call,
                    expect,
                ));
            }
        }
    }
    assert!(count > 50, "only {count} cases found");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
