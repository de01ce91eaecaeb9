//! The `policy` binary: exit codes and output, as a user sees them.

use std::path::PathBuf;
use std::process::Output;

mod common;

fn policy(args: &[&str], stdin: Option<&str>) -> Output {
    common::run_policy(args, stdin, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch(&format!("cli-{name}"))
}

fn write(dir: &std::path::Path, file: &str, text: &str) -> String {
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn check_passes_on_the_examples() {
    let o = policy(&["check", "policies/"], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("checked 3 policies: 0 error(s), 0 warning(s)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn syntax_error_names_line_and_column_with_a_caret() {
    let d = scratch("syntax");
    let f = write(
        &d,
        "p.gate",
        "default allow\nallow x { when tool == \"a\" and args.n >  }\n",
    );
    let o = policy(&["check", &f], None);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("error[E001]: expected a value"), "{text}");
    assert!(text.contains(&format!("--> {f}:2:42")), "{text}");
    assert!(
        text.contains("2 | allow x { when tool == \"a\" and args.n >  }"),
        "{text}"
    );
    assert!(
        text.contains("  |                                          ^"),
        "{text}"
    );
}

#[test]
fn timeout_approve_is_refused_with_the_reason() {
    let d = scratch("timeout");
    let f = write(
        &d,
        "p.gate",
        "default audit\napprove x {\n  when tool == \"a\"\n  on timeout approve\n}\n",
    );
    let o = policy(&["check", &f], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("error[E002]: `on timeout approve` is not allowed"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains(":4:14"), "{}", stdout(&o));
}

#[test]
fn missing_path_is_an_io_error() {
    let o = policy(&["check", "no/such/dir"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read `no/such/dir`"),
        "{}",
        stderr(&o)
    );
    let o = policy(&["eval", "no/such.gate", "--call", "-"], Some("{}"));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    let o = policy(&["check"], None);
    assert_eq!(o.status.code(), Some(2));
    let o = policy(&["frobnicate"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn catalog_type_error_is_reported_with_its_span() {
    let d = scratch("types");
    let f = write(
        &d,
        "p.gate",
        "default allow\napprove big { when tool == \"pay\" and args.amount > 500 }\napprove who { when tool == \"pay\" and args.amonut > 5 }\n",
    );
    let c = write(
        &d,
        "cat.yaml",
        "tools:\n  pay:\n    args:\n      amount: string\n",
    );
    let o = policy(&["check", &f, "--tools", &c], None);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("error[E032]: `args.amount` is a string for tool `pay`"),
        "{text}"
    );
    assert!(text.contains(&format!("--> {f}:2:38")), "{text}");
    assert!(
        text.contains("error[E031]: unknown argument `args.amonut` for tool `pay`"),
        "{text}"
    );
    assert!(text.contains("help: did you mean `args.amount`?"), "{text}");
}

#[test]
fn unknown_tool_against_catalog() {
    let d = scratch("tools");
    let f = write(
        &d,
        "p.gate",
        "default allow\napprove big { when tool == \"stripe.refnd\" }\n",
    );
    let c = write(&d, "cat.yaml", "tools:\n  stripe.refund: {}\n");
    let o = policy(&["check", &f, "--tools", &c, "--format", "json"], None);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["errors"], 1);
    let d0 = &v["policies"][0]["diagnostics"][0];
    assert_eq!(d0["code"], "E030");
    assert_eq!(d0["severity"], "error");
    assert_eq!(d0["line"], 2);
    assert_eq!(d0["help"], "did you mean `stripe.refund`?");
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let d = scratch("warn");
    let f = write(
        &d,
        "p.gate",
        "default allow\napprove x {\n  when tool == \"a\"\n  on timeout reject\n}\n",
    );
    let o = policy(&["check", &f], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("warning[W103]"), "{}", stdout(&o));
    let o = policy(&["check", &f, "--deny-warnings"], None);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn bad_catalog_yaml_names_the_place() {
    let d = scratch("badcat");
    let f = write(&d, "p.gate", "default allow\n");
    let c = write(&d, "cat.yaml", "tools:\n  a: [unclosed\n");
    let o = policy(&["check", &f, "--tools", &c], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("{c}:")), "{}", stderr(&o));
    // A broken tools.yaml beside the policy is a finding of its own.
    write(&d, "tools.yaml", "tools: 5\n");
    let o = policy(&["check", &f], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("E033"), "{}", stdout(&o));
}

#[test]
fn eval_refund_above_the_lane_waits_for_finance() {
    let o = policy(
        &["eval", "policies/support", "--call", "-"],
        Some(r#"{"tool":"stripe.refund","args":{"amount":900}}"#),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["effect"], "approve");
    assert_eq!(v["approval"]["gates"][0]["rule"], "refund_over_lane");
    assert_eq!(v["approval"]["gates"][0]["by"][0], "finance");
}

#[test]
fn eval_reads_a_call_file() {
    let o = policy(
        &[
            "eval",
            "policies/support",
            "--call",
            "policies/support/calls/refund-900.json",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"effect\": \"approve\""));
}

#[test]
fn eval_rejects_a_malformed_call() {
    let o = policy(
        &["eval", "policies/support", "--call", "-"],
        Some(r#"{"args": {}}"#),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("<stdin>: not a tool call: missing `tool`"),
        "{}",
        stderr(&o)
    );
    let o = policy(
        &["eval", "policies/support", "--call", "-"],
        Some("\u{0}\u{1}garbage"),
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn eval_warns_about_tools_outside_the_catalog() {
    let o = policy(
        &["eval", "policies/support", "--call", "-"],
        Some(r#"{"tool":"nope.nope"}"#),
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("tool `nope.nope` is not in catalog"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn jsonl_streams_and_reports_bad_lines() {
    let input = concat!(
        r#"{"tool":"stripe.refund","args":{"amount":900}}"#,
        "\n",
        "not json\n",
        "\n",
        r#"{"name":"kb.search","arguments":"{\"query\":\"x\"}"}"#,
        "\n"
    );
    let o = policy(&["eval", "policies/support", "--jsonl"], Some(input));
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["effect"], "approve");
    assert_eq!(lines[1]["line"], 2);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert!(lines[2]["effect"].is_string());
    assert!(stderr(&o).contains("1 of 4 line(s)"), "{}", stderr(&o));
}

#[test]
fn explain_shows_matches_values_and_sliced_rules() {
    let o = policy(
        &["eval", "policies/support", "--explain"],
        Some(r#"{"tool":"stripe.refund","args":{"amount":900}}"#),
    );
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.contains("decision  approve (async) by refund_over_lane"),
        "{text}"
    );
    assert!(text.contains("args.amount = 900"), "{text}");
    assert!(
        text.contains("never tried (sliced away by tool name)"),
        "{text}"
    );
}

#[test]
fn tree_lists_slices() {
    let o = policy(&["tree", "policies/support"], None);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.contains("tool stripe.refund"), "{text}");
    assert!(text.contains("any other tool"), "{text}");
}

#[test]
fn invalid_policy_makes_eval_fail() {
    let d = scratch("evalbad");
    let f = write(&d, "p.gate", "allow x { when tool == \"a\" }\n");
    let o = policy(&["eval", &f], Some(r#"{"tool":"a"}"#));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("error[E010]"), "{}", stderr(&o));
}

#[test]
fn duplicate_names_across_files_of_a_directory() {
    let d = scratch("dups");
    write(
        &d,
        "a.gate",
        "default allow\nallow x { when tool == \"a\" }\n",
    );
    write(&d, "b.gate", "deny x { when tool == \"b\" }\n");
    let o = policy(&["check", d.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("error[E012]: the name `x` is already used"),
        "{text}"
    );
    assert!(text.contains("b.gate:1:6"), "{text}");
}

#[test]
fn policy_test_passes_on_the_examples_with_full_coverage() {
    let o = policy(
        &["test", "policies/", "--coverage", "--min-coverage", "100"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains(" passed, 0 failed"), "{text}");
    assert!(text.contains("coverage policies/support: 100.0%"), "{text}");
}

#[test]
fn policy_test_names_the_failing_case_and_both_effects() {
    let d = scratch("ptest");
    write(
        &d,
        "p.gate",
        "default allow\napprove big { when tool == \"pay\" and args.amount > 100 }\n",
    );
    write(
        &d,
        "p.test.yaml",
        "cases:\n  - name: a big payment waits\n    call: {tool: pay, args: {amount: 500}}\n    expect: {effect: approve, rules: [big]}\n  - name: a wrong expectation\n    call: {tool: pay, args: {amount: 500}}\n    expect: {effect: allow}\n",
    );
    let o = policy(&["test", d.to_str().unwrap(), "--coverage"], None);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.contains("FAIL"), "{text}");
    assert!(text.contains("a wrong expectation"), "{text}");
    assert!(
        text.contains("expected allow, got approve (by big)"),
        "{text}"
    );
    assert!(text.contains("1 passed, 1 failed"), "{text}");
    let o = policy(&["test", d.to_str().unwrap(), "--format", "junit"], None);
    let xml = stdout(&o);
    assert!(
        xml.contains("<testsuite") && xml.contains("failures=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"expected allow, got approve (by big)\"/>"),
        "{xml}"
    );
    // Coverage below the minimum fails even when every case passes.
    write(
        &d,
        "p.gate",
        "default allow\napprove big { when tool == \"pay\" and args.amount > 100 }\nallow other { when tool == \"x\" }\n",
    );
    write(
        &d,
        "p.test.yaml",
        "cases:\n  - name: big\n    call: {tool: pay, args: {amount: 500}}\n    expect: {effect: approve}\n",
    );
    let o = policy(
        &["test", d.to_str().unwrap(), "--min-coverage", "100"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("50.0% < 100%"), "{}", stderr(&o));
}

#[test]
fn policy_test_reports_a_broken_test_file() {
    let d = scratch("ptestbad");
    write(&d, "p.gate", "default allow\n");
    write(
        &d,
        "p.test.yaml",
        "cases:\n  - name: x\n    cal: {tool: a}\n    expect: {effect: allow}\n",
    );
    let o = policy(&["test", d.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("p.test.yaml:3:"), "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown field `cal`"), "{}", stderr(&o));
}

#[test]
fn policy_diff_reports_moves_and_fails_on_forbidden_ones() {
    let d = scratch("pdiff");
    let old = d.join("old");
    let new = d.join("new");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::create_dir_all(&new).unwrap();
    write(
        &old,
        "p.gate",
        "default allow\napprove big { when tool == \"pay\" and args.amount > 100 }\n",
    );
    write(
        &new,
        "p.gate",
        "default allow\napprove big { when tool == \"pay\" and args.amount > 1000 }\n",
    );
    let mut calls = String::new();
    for amount in [50, 150, 500, 2000, 900] {
        calls.push_str(&format!(
            "{{\"tool\":\"pay\",\"args\":{{\"amount\":{amount}}}}}\n"
        ));
    }
    calls.push_str("garbage\n");
    let c = write(&d, "calls.jsonl", &calls);
    let (o_, n_) = (old.to_str().unwrap(), new.to_str().unwrap());
    let o = policy(&["diff", o_, n_, "--calls", &c], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("5 calls, 2 unchanged"), "{text}");
    assert!(text.contains("approve -> allow"), "{text}");
    assert!(text.contains("line 2: pay: big -> the default"), "{text}");
    assert!(text.contains("1 line(s) were not valid calls"), "{text}");
    let o = policy(
        &[
            "diff",
            o_,
            n_,
            "--calls",
            &c,
            "--fail-on",
            "approve->allow,deny->allow",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("approve -> allow (3 calls)"),
        "{}",
        stderr(&o)
    );
    let o = policy(&["diff", o_, n_, "--calls", &c, "--format", "json"], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["moves"][0]["count"], 3);
    assert_eq!(v["moves"][0]["from"], "approve");
    let o = policy(
        &["diff", o_, n_, "--calls", &c, "--fail-on", "approve->nope"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn check_output_formats() {
    let d = scratch("formats");
    let f = write(
        &d,
        "p.gate",
        "default allow\napprove x {\n  when money and tool == \"a\"\n  on timeout reject\n}\n",
    );
    let o = policy(&["check", &f, "--format", "concise"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(&format!("{f}:3:8: E013 unknown class `money`")),
        "{}",
        stdout(&o)
    );
    let o = policy(&["check", &f, "--format", "github"], None);
    let text = stdout(&o);
    assert!(
        text.contains(&format!("::error file={f},line=3,col=8,")),
        "{text}"
    );
    assert!(text.contains("title=E013::unknown class `money`"), "{text}");
    let o = policy(&["check", &f, "--format", "sarif"], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let r = &v["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "E013");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(
        rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "E013"
    );
    let o = policy(&["check", &f, "--format", "junit"], None);
    assert!(stdout(&o).contains("failures=\"1\""), "{}", stdout(&o));
    // A warning only: passes by default, fails at --fail-level warning.
    let g = write(
        &d,
        "q.gate",
        "default allow\napprove x {\n  when tool == \"a\"\n  on timeout reject\n}\n",
    );
    assert_eq!(
        policy(&["check", &g, "--format", "concise"], None)
            .status
            .code(),
        Some(0)
    );
    let o = policy(
        &["check", &g, "--fail-level", "warning", "--format", "github"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("::warning file="), "{}", stdout(&o));
    // Before: concise, github and JUnit dropped the help line, and JUnit showed a policy
    // with warnings as passing with no text.
    let o = policy(&["check", &g, "--format", "concise"], None);
    assert!(stdout(&o).contains("(help: add `within"), "{}", stdout(&o));
    let o = policy(&["check", &g, "--format", "github"], None);
    assert!(stdout(&o).contains("(help: add `within"), "{}", stdout(&o));
    let o = policy(&["check", &g, "--format", "junit"], None);
    let junit = stdout(&o);
    assert!(junit.contains("<system-out>1 warning(s)"), "{junit}");
    assert!(
        junit.contains("W103") && junit.contains("help: add `within"),
        "{junit}"
    );
    assert!(junit.contains("failures=\"0\""), "{junit}");
}

#[test]
fn lint_levels_from_policy_yaml_and_inline_allows() {
    let d = scratch("lintcfg");
    let f = write(
        &d,
        "p.gate",
        "default allow\nclass unused = tool == \"a\"\napprove c { when tool == \"b\" mode async }\n",
    );
    let o = policy(&["check", &f, "--format", "concise"], None);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.contains(":2:7: W108 class `unused` is never used"),
        "{text}"
    );
    assert!(
        text.contains(":3:9: W107 async gate `c` has no `by` and no `within`"),
        "{text}"
    );
    write(
        &d,
        ".policy.yaml",
        "lints:\n  unused-class: off\n  W107: error\n",
    );
    let o = policy(&["check", &f, "--format", "concise"], None);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(!text.contains("W108"), "{text}");
    assert!(text.contains("W107"), "{text}");
    // The raised lint stops the policy from loading, like any error.
    let o = policy(&["eval", &f], Some(r#"{"tool":"b"}"#));
    assert_eq!(o.status.code(), Some(1));
    write(
        &d,
        "p.gate",
        "default allow\n# policy: allow(async-gate-without-owner)\napprove c { when tool == \"b\" mode async }\n",
    );
    let o = policy(&["check", &f, "--format", "concise"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    write(&d, ".policy.yaml", "lints:\n  W999: off\n");
    let o = policy(&["check", &f], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("`W999` is not a lint"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn fmt_checks_writes_and_keeps_comments() {
    let d = scratch("fmt");
    let f = write(
        &d,
        "p.gate",
        "# header\ndefault   approve\napprove big {   # the gate\n  when    tool == \"pay\"   and args.amount > 10_000\n  # who decides\n  by  \"finance\"\n  mode async\n}\n",
    );
    let o = policy(&["fmt", "--check", &f], None);
    assert_eq!(o.status.code(), Some(1));
    let diff = stdout(&o);
    assert!(
        diff.contains("-default   approve") && diff.contains("+default approve"),
        "{diff}"
    );
    assert!(
        stderr(&o).contains("1 of 1 file(s) would be reformatted"),
        "{}",
        stderr(&o)
    );
    let o = policy(&["fmt", "--write", &f], None);
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(&f).unwrap();
    assert_eq!(
        text,
        "# header\ndefault approve\n\napprove big {  # the gate\n  when tool == \"pay\" and args.amount > 10_000\n  mode async\n  # who decides\n  by \"finance\"\n}\n"
    );
    assert_eq!(policy(&["fmt", "--check", &f], None).status.code(), Some(0));
    let bad = write(&d, "bad.gate", "default maybe\n");
    let o = policy(&["fmt", "--check", &bad], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("error[E001]"), "{}", stderr(&o));
}

#[test]
fn diff_of_two_versions_of_the_support_example_over_generated_calls() {
    let d = scratch("supportdiff");
    let new = d.join("support");
    std::fs::create_dir_all(&new).unwrap();
    for e in std::fs::read_dir(common::root().join("policies/support")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let text = std::fs::read_to_string(&p).unwrap();
            // The new version raises the refund lane from 500 to 1 000.
            let text = text
                .replace("args.amount <= 500", "args.amount <= 1000")
                .replace("args.amount > 500", "args.amount > 1000");
            std::fs::write(new.join(p.file_name().unwrap()), text).unwrap();
        }
    }
    let mut rng = holdpoint::tools::generate::Rng::new(7);
    let mut calls = String::new();
    for _ in 0..2_000 {
        let amount = rng.below(3_000) + 1;
        let confidence = rng.below(100) as f64 / 100.0;
        calls.push_str(&format!(
            "{{\"tool\":\"stripe.refund\",\"args\":{{\"amount\":{amount},\"charge\":\"ch_1\"}},\"context\":{{\"confidence\":{confidence}}}}}\n"
        ));
    }
    let c = write(&d, "calls.jsonl", &calls);
    let o = policy(
        &[
            "diff",
            "policies/support",
            new.to_str().unwrap(),
            "--calls",
            &c,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("2000 calls"), "{text}");
    assert!(text.contains("approve -> audit"), "{text}");
    assert!(text.contains("refund_over_lane -> money_in_lane"), "{text}");
    let o = policy(
        &[
            "diff",
            "policies/support",
            new.to_str().unwrap(),
            "--calls",
            &c,
            "--fail-on",
            "approve->audit",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn yaml_errors_beside_a_policy_point_at_their_file_line_and_column() {
    let d = scratch("yaml-spans");
    write(
        &d,
        "p.gate",
        "default allow\nallow a { when tool == \"x\" }\n",
    );
    write(&d, "tools.yaml", "tools:\n  x: {}\n  y: [1, 2\n");
    write(&d, ".policy.yaml", "lints:\n  W999: off\n");
    let o = policy(&["check", d.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("error[E033]: invalid tool catalog"), "{out}");
    assert!(out.contains("tools.yaml:3:6\n"), "{out}");
    assert!(out.contains("3 |   y: [1, 2\n  |      ^"), "{out}");
    assert!(out.contains(".policy.yaml:2:3\n"), "{out}");
    assert!(out.contains("2 |   W999: off\n  |   ^"), "{out}");
    // No Rust type name leaks into the message.
    write(&d, "tools.yaml", "tools:\n  x: [1]\n");
    let out = stdout(&policy(&["check", d.to_str().unwrap()], None));
    assert!(out.contains("expected a tool: a mapping"), "{out}");
    assert!(!out.contains("Raw"), "{out}");
    std::fs::remove_file(d.join(".policy.yaml")).unwrap();
    write(&d, "tools.yaml", "tools:\n  x: {}\n");
    write(&d, "approvers.yaml", "groups:\n  finance: fiona\n");
    let o = policy(&["check", d.to_str().unwrap(), "--format", "json"], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d0 = &v["policies"][0]["diagnostics"][0];
    assert_eq!(d0["code"], "E036", "{v}");
    assert_eq!(
        (d0["line"].as_u64(), d0["column"].as_u64()),
        (Some(2), Some(12)),
        "{v}"
    );
}

/// Before: only single-call `eval` warned (on stderr) about a tool the catalog does not
/// list; `eval --jsonl` and `guard` said nothing, and a case-folded name ran as unlisted.
#[test]
fn every_command_that_decides_reports_an_unlisted_tool_and_refuses_a_confusable() {
    let lines = "{\"tool\":\"stripe.refund\",\"args\":{\"amount\":9}}\n{\"tool\":\"nope.x\",\"args\":{}}\n{\"tool\":\"STRIPE.REFUND\",\"args\":{\"amount\":9}}\n";
    let o = policy(&["eval", "policies/support", "--jsonl"], Some(lines));
    let out: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out.len(), 3, "{}", stdout(&o));
    assert!(out[0].get("unknown_tool").is_none());
    assert_eq!(out[1]["unknown_tool"], true);
    assert_eq!(out[2]["effect"], "deny");
    assert_eq!(out[2]["confusable_with"], "stripe.refund");
    let d = scratch("confusable-guard");
    let db = d.join("a.db");
    let o = common::run_policy(
        &[
            "guard",
            "policies/support",
            "--db",
            db.to_str().unwrap(),
            "--user",
            "uma",
        ],
        Some(r#"{"tool":"Stripe.Refund","args":{"amount":9}}"#),
        &[],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stdout(&o));
    assert!(stdout(&o).contains("confusable_with"), "{}", stdout(&o));
}

/// Before: one line of invalid UTF-8 ended the whole run, and outputs carried no line
/// number to match them to inputs.
#[test]
fn a_stream_survives_bad_lines_and_numbers_every_output_line() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"tool\":\"crm.get\",\"id\":\"c1\"}\n");
    input.extend_from_slice(b"\xff\xfe not utf-8\n");
    input.extend_from_slice(b"\n");
    input.extend_from_slice(b"{\"tool\":\"x\",\"args\":{\"a\":1,\"a\":2},\"id\":\"c3\"}\n");
    input.extend_from_slice(
        b"{\"type\":\"tool_use\",\"id\":\"toolu_4\",\"name\":\"crm.get\",\"input\":{}}\n",
    );
    let d = scratch("stream");
    let file = d.join("calls.jsonl");
    std::fs::write(&file, &input).unwrap();
    let o = policy(
        &[
            "eval",
            "policies/support",
            "--jsonl",
            "--call",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<u64> = out.iter().map(|v| v["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 2, 4, 5], "{}", stdout(&o));
    assert_eq!(out[0]["id"], "c1");
    assert!(out[0].get("effect").is_some());
    assert!(
        out[1]["error"].as_str().unwrap().contains("UTF-8"),
        "{}",
        out[1]
    );
    assert_eq!(out[2]["id"], "c3");
    assert!(
        out[2]["error"].as_str().unwrap().contains("given twice"),
        "{}",
        out[2]
    );
    assert_eq!(out[3]["id"], "toolu_4");
    // policy diff counts the bad line and goes on.
    let o = policy(
        &[
            "diff",
            "policies/support",
            "policies/support",
            "--calls",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        o.status.code().is_some_and(|c| c < 2),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
}

/// Before: nothing came back until the end of input.
#[test]
fn a_stream_answers_each_line_while_the_pipe_stays_open() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut child = common::policy_command()
        .args(["eval", "policies/support", "--jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(l)) = lines.next() {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    for n in 1..=2 {
        writeln!(stdin, "{{\"tool\":\"crm.get\",\"id\":\"q{n}\"}}").unwrap();
        stdin.flush().unwrap();
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("a decision comes back while the pipe is open");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], format!("q{n}"));
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// Before: a second `stripe.refund:` silently replaced the first (and dropped its
/// `never auto` class); a second `finance:` replaced its members.
#[test]
fn a_key_given_twice_in_a_file_beside_the_policy_is_an_error_at_its_place() {
    let d = scratch("dup-keys");
    write(
        &d,
        "p.gate",
        "default allow\nnever auto money_out\nallow a { when tool == \"stripe.refund\" }\n",
    );
    write(
        &d,
        "tools.yaml",
        "tools:\n  stripe.refund: {classes: [money_out]}\n  crm.get: {}\n  stripe.refund: {}\n",
    );
    let o = policy(&["check", d.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("E033") && out.contains("`stripe.refund` is given twice"),
        "{out}"
    );
    assert!(out.contains("tools.yaml:4:"), "{out}");
    write(
        &d,
        "tools.yaml",
        "tools:\n  stripe.refund: {classes: [money_out]}\n",
    );
    write(
        &d,
        "approvers.yaml",
        "groups:\n  finance: [fiona]\n  finance: [mallory]\n",
    );
    let out = stdout(&policy(&["check", d.to_str().unwrap()], None));
    assert!(
        out.contains("E036") && out.contains("`finance` is given twice"),
        "{out}"
    );
    assert!(out.contains("approvers.yaml:3:"), "{out}");
}

/// Before: a gate waiting for a group nobody is in was a warning, and the policy loaded.
#[test]
fn a_gate_nobody_can_decide_is_an_error_unless_lowered() {
    let d = scratch("w113");
    write(
        &d,
        "p.gate",
        "default allow\napprove big { when tool == \"pay\" by \"finanse\" within 2d }\n",
    );
    write(&d, "approvers.yaml", "groups:\n  finance: [fiona]\n");
    let o = policy(&["check", d.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("error[W113]"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("did you mean `finance`?"),
        "{}",
        stdout(&o)
    );
    write(
        &d,
        ".policy.yaml",
        "lints:\n  unknown-approver-group: warning\n",
    );
    let o = policy(&["check", d.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("warning[W113]"), "{}", stdout(&o));
}

/// Before: a case whose tool is a typo passed by the default, silently.
#[test]
fn a_test_case_whose_tool_is_not_in_the_catalog_warns_and_fails_when_strict() {
    let d = scratch("test-unlisted");
    write(
        &d,
        "p.gate",
        "default allow\ndeny d { when tool == \"pay\" }\n",
    );
    write(&d, "tools.yaml", "tools:\n  pay: {}\n");
    write(
        &d,
        "p.test.yaml",
        "cases:\n  - name: reads run\n    call: {tool: \"payy\"}\n    expect: {effect: allow}\n  - name: pay is denied\n    call: {tool: pay}\n    expect: {effect: deny}\n",
    );
    let o = policy(&["test", d.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("`payy` is not in catalog"),
        "{}",
        stderr(&o)
    );
    let o = policy(&["test", d.to_str().unwrap(), "--strict"], None);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("1 passed, 1 failed"), "{}", stdout(&o));
}

/// Before: `{args.quoteid}` for `args.quote_id` passed, and the approver read `<missing>`.
#[test]
fn reason_holes_and_show_diff_paths_are_checked_against_the_catalog() {
    let d = scratch("holes");
    write(
        &d,
        "p.gate",
        "default allow\napprove q {\n  when tool == \"deal.sign\" and args.quote_id != \"\"\n  by \"legal\"\n  within 2d\n  show diff args.termz\n  reason \"quote {args.quoteid}\"\n}\n",
    );
    write(
        &d,
        "tools.yaml",
        "tools:\n  deal.sign: {args: {quote_id: string, terms: string}}\n",
    );
    let o = policy(&["check", d.to_str().unwrap(), "--format", "json"], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let found: Vec<(String, u64)> = v["policies"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert!(found.contains(&("E031".to_string(), 6)), "{found:?}");
    assert!(found.contains(&("E031".to_string(), 7)), "{found:?}");
}

/// Before: `--explain` printed the list where `len()` was asked.
#[test]
fn explain_shows_the_length_that_len_compares() {
    let d = scratch("explain-len");
    let p = write(
        &d,
        "p.gate",
        "default allow\napprove a { when tool == \"x\" and len(args.to) > 1 }\n",
    );
    let o = policy(
        &["eval", &p, "--explain"],
        Some(r#"{"tool":"x","args":{"to":["a","b"]}}"#),
    );
    assert!(stdout(&o).contains("[len(args.to) = 2]"), "{}", stdout(&o));
}

/// Before: a link cycle under a policy directory made check, fmt and test hang, and a link
/// to an ancestor loaded the same policy many times.
#[test]
fn a_link_cycle_is_walked_once() {
    let d = scratch("link-cycle");
    let inner = d.join("team");
    std::fs::create_dir_all(&inner).unwrap();
    write(&inner, "p.gate", "default allow\n");
    write(
        &inner,
        "p.test.yaml",
        "cases:\n  - name: runs\n    call: {tool: x}\n    expect: {effect: allow}\n",
    );
    std::os::unix::fs::symlink(&d, inner.join("back-to-top")).unwrap();
    std::os::unix::fs::symlink(&inner, d.join("same-team")).unwrap();
    let top = d.to_str().unwrap();
    let o = policy(&["check", top], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("checked 1 policy"), "{}", stdout(&o));
    let o = policy(&["fmt", "--check", top], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = policy(&["test", top], None);
    assert!(stdout(&o).contains("1 passed, 0 failed"), "{}", stdout(&o));
}

/// A key given twice in a test case's call is refused like in any call.
#[test]
fn a_test_case_call_with_a_key_given_twice_fails() {
    let d = scratch("test-dup");
    write(
        &d,
        "p.gate",
        "default allow\ndeny big { when args.amount > 10 }\n",
    );
    write(
        &d,
        "p.test.yaml",
        "cases:\n  - name: small\n    call: {tool: pay, args: {amount: 1, amount: 100}}\n    expect: {effect: allow}\n",
    );
    let o = policy(&["test", d.to_str().unwrap()], None);
    assert_ne!(o.status.code(), Some(0), "{}", stdout(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(all.contains("`amount` is given twice"), "{all}");
}
