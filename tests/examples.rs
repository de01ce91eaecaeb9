//! The example policies under policies/: each loads without findings, and every sample
//! call decides as its calls/expected.yaml says, on the tree and on the reference.

use std::collections::BTreeSet;
use std::path::Path;

use holdpoint::{Policy, PolicyBuilder, ToolCall};

#[test]
fn every_sample_call_decides_as_expected() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir("policies").unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let report = PolicyBuilder::new().path(&dir).unwrap().check();
        assert!(
            report.diagnostics.is_empty(),
            "{}: {:?}",
            dir.display(),
            report.diagnostics
        );
        assert!(
            report.program.as_ref().unwrap().catalog.is_some(),
            "{} has no tools.yaml",
            dir.display()
        );
        let policy = Policy::load(&dir).unwrap();
        let expected = std::fs::read_to_string(dir.join("calls/expected.yaml")).unwrap();
        let expected = holdpoint::unstable::yaml::to_json(&expected).unwrap();
        for case in expected.as_array().unwrap() {
            let file = case["call"].as_str().unwrap();
            let text = std::fs::read_to_string(dir.join("calls").join(file)).unwrap();
            let call = ToolCall::from_json(&text).unwrap();
            let want_effect = case["effect"].as_str().unwrap();
            let want_rules: BTreeSet<String> = case["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect();
            for (which, d) in [
                ("tree", policy.evaluate(&call)),
                ("reference", policy.evaluate_reference(&call)),
            ] {
                let got_rules: BTreeSet<String> = d.rule_names().into_iter().collect();
                if d.effect().as_str() != want_effect || got_rules != want_rules {
                    failures.push(format!(
                        "{}/{file} [{which}]: {} {:?}, expected {want_effect} {:?}",
                        dir.display(),
                        d.effect(),
                        got_rules,
                        want_rules
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} sample calls");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn support_refund_above_the_lane_waits_for_finance() {
    let policy = Policy::load(Path::new("policies/support")).unwrap();
    let call = ToolCall::from_json(r#"{"tool":"stripe.refund","args":{"amount":900}}"#).unwrap();
    let d = policy.evaluate(&call);
    assert_eq!(d.effect(), holdpoint::Effect::Approve);
    let gates: Vec<String> = d.gates().map(|g| d.name_of(g.source)).collect();
    assert_eq!(gates, vec!["refund_over_lane"]);
    assert!(
        d.gates()
            .all(|g| g.options.by == vec!["finance".to_string()])
    );
}

#[test]
fn streamed_json_equals_the_report() {
    use holdpoint::tools::generate::{Dialect, generate};
    let g = generate(300, 500, 9, Dialect::Full);
    let policy = g.build().unwrap();
    let mut approvals = 0;
    for c in &g.calls {
        let call = ToolCall::from_json(c).unwrap();
        let d = policy.evaluate(&call);
        approvals += usize::from(d.effect() == holdpoint::Effect::Approve);
        let streamed = serde_json::to_value(d.json(&call)).unwrap();
        let built = serde_json::to_value(d.report(&call)).unwrap();
        assert_eq!(streamed, built, "{c}");
    }
    assert!(approvals > 0);
}
