//! `policy diff` as a user runs it: moves between effects, changes of who decides for
//! calls that wait under both versions, `--fail-on`, and the example calls shown.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

fn policy(args: &[&str]) -> Output {
    common::run_policy(args, None, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `old/p.gate`, `new/p.gate` and `calls.jsonl` in a scratch directory.
fn versions(name: &str, old: &str, new: &str, calls: &[String]) -> (PathBuf, PathBuf, PathBuf) {
    let d = common::scratch(&format!("cli-diff-{name}"));
    let write = |dir: &Path, file: &str, text: &str| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    };
    write(&d.join("old"), "p.gate", old);
    write(&d.join("new"), "p.gate", new);
    let mut text = calls.join("\n");
    text.push('\n');
    write(&d, "calls.jsonl", &text);
    (d.join("old"), d.join("new"), d.join("calls.jsonl"))
}

fn diff(old: &Path, new: &Path, calls: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--calls",
        calls.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    policy(&args)
}

const DEAL_DESK: &str = "default allow\napprove refund_review {\n  when tool == \"stripe.refund\" and args.amount > 100\n  mode async\n  by \"deal-desk\"\n  within 2d\n}\n";
const FINANCE: &str = "default allow\napprove refund_review {\n  when tool == \"stripe.refund\" and args.amount > 100\n  mode async\n  by \"finance\"\n  within 4h\n}\n";

fn refunds() -> Vec<String> {
    [50, 500, 900, 2000]
        .iter()
        .map(|a| format!("{{\"tool\":\"stripe.refund\",\"args\":{{\"amount\":{a}}}}}"))
        .collect()
}

/// Before: "no decision moves", and exit 0 whatever `--fail-on` said.
#[test]
fn a_gate_moved_to_another_group_and_sla_is_reported() {
    let (old, new, calls) = versions("by-within", DEAL_DESK, FINANCE, &refunds());
    let o = diff(&old, &new, &calls, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.contains("no decision moves"), "{text}");
    assert!(text.contains("4 calls, 1 unchanged"), "{text}");
    assert!(
        text.contains("gate refund_review: by \"deal-desk\" → \"finance\"; within 2d → 4h"),
        "{text}"
    );
    assert!(text.contains("3 calls (75.00%)"), "{text}");
    assert!(text.contains("line 2: stripe.refund"), "{text}");

    let o = diff(&old, &new, &calls, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["unchanged"], 1);
    assert_eq!(v["approval_changed"], 3);
    let change = &v["approval_changes"][0];
    assert_eq!(change["count"], 3);
    assert_eq!(change["kinds"], serde_json::json!(["approvers", "sla"]));
    let gate = &change["gates"][0];
    assert_eq!(gate["old_rule"], "refund_review");
    assert_eq!(gate["new_rule"], "refund_review");
    assert_eq!(
        gate["fields"],
        serde_json::json!([
            {"field": "by", "kind": "approvers", "old": ["deal-desk"], "new": ["finance"]},
            {"field": "within", "kind": "sla", "old": 172800, "new": 14400}
        ])
    );
    assert_eq!(v["kinds"], serde_json::json!({"approvers": 3, "sla": 3}));
}

/// A gate that now needs two people is a change of who decides.
#[test]
fn a_gate_that_now_needs_two_approvers_is_reported() {
    let old = "default allow\napprove big { when tool == \"pay\" by \"finance\" }\n";
    let new = "default allow\napprove big { when tool == \"pay\" by 2 of \"finance\" }\n";
    let calls = vec![r#"{"tool":"pay","args":{"amount":500}}"#.to_string()];
    let (old, new, calls) = versions("quorum", old, new, &calls);
    let o = diff(&old, &new, &calls, &[]);
    let text = stdout(&o);
    assert!(text.contains("gate big: quorum 1 → 2"), "{text}");
    let o = diff(&old, &new, &calls, &["--fail-on", "approvers"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

/// Before: the same call waiting for any approver instead of finance was not reported.
#[test]
fn a_gate_replaced_by_one_any_approver_decides_is_reported() {
    let old = "default allow\napprove big { when tool == \"pay\" and args.amount > 100 by \"finance\" }\n";
    let new = "default approve\nallow small { when tool == \"pay\" and args.amount <= 100 }\n";
    let calls = vec![r#"{"tool":"pay","args":{"amount":500}}"#.to_string()];
    let (old, new, calls) = versions("any-approver", old, new, &calls);
    let o = diff(&old, &new, &calls, &[]);
    let text = stdout(&o);
    assert!(
        text.contains("gate big → default: by \"finance\" → any approver"),
        "{text}"
    );
    let o = diff(&old, &new, &calls, &["--fail-on", "gates"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("gates (1 calls)"), "{}", stderr(&o));
}

/// Before: `approvers` and `sla` were refused as moves (exit 2).
#[test]
fn fail_on_names_changes_of_who_decides() {
    let (old, new, calls) = versions("fail-on", DEAL_DESK, FINANCE, &refunds());
    for (spec, code) in [
        ("approvers", 1),
        ("sla", 1),
        ("approve->allow,sla", 1),
        ("mode", 0),
        ("decisions,on-timeout,show-diff", 0),
        ("gates", 0),
        ("approve->allow", 0),
    ] {
        let o = diff(&old, &new, &calls, &["--fail-on", spec]);
        assert_eq!(o.status.code(), Some(code), "{spec}: {}", stderr(&o));
        if code == 1 {
            assert!(
                stderr(&o).contains("changes of who decides that must not happen"),
                "{spec}: {}",
                stderr(&o)
            );
        }
    }
    let o = diff(&old, &new, &calls, &["--fail-on", "approvers,sla"]);
    assert!(
        stderr(&o).contains("approvers (3 calls), sla (3 calls)"),
        "{}",
        stderr(&o)
    );
    let o = diff(&old, &new, &calls, &["--fail-on", "who"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("approvers"), "{}", stderr(&o));
}

/// Before: the three examples were the first three calls, all of one tool.
#[test]
fn examples_of_a_move_are_spread_over_the_tools() {
    let old = "default approve\n";
    let new = "default allow\n";
    let mut calls = Vec::new();
    for tool in ["a.one", "b.two", "c.three"] {
        for n in 0..5 {
            calls.push(format!("{{\"tool\":\"{tool}\",\"args\":{{\"n\":{n}}}}}"));
        }
    }
    let (old, new, calls) = versions("spread", old, new, &calls);
    let o = diff(&old, &new, &calls, &[]);
    let text = stdout(&o);
    for line in ["line 1: a.one:", "line 6: b.two", "line 11: c.three"] {
        assert!(text.contains(line), "{line}: {text}");
    }
    let o = diff(&old, &new, &calls, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let lines: Vec<u64> = v["moves"][0]["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [1, 6, 11]);
}
