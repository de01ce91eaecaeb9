//! `policy guard`, `policy approvals` and `policy stats` as a user runs them: a call that
//! waits, decisions from the command line, the edited call that runs, and clear refusals.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{APPROVERS, POLICY};
use serde_json::Value;

fn run(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let env = [
        ("HOLDPOINT_DB", db),
        ("HOLDPOINT_APPROVERS", Path::new(APPROVERS)),
    ];
    common::run_policy(args, stdin, &env)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn scratch(name: &str) -> PathBuf {
    common::scratch(&format!("cliappr-{name}"))
}

const REFUND: &str = r#"{"call": {"tool": "refund", "args": {"amount": 900, "order": "o-1"},
  "context": {"tier": "standard"}},
  "identity": {"user": "uma", "tenant": "acme", "agent": "bot", "credentials_ref": "vault:k1"},
  "run_id": "run-7", "tool_call_id": "call-1",
  "inputs": {"ticket": "T-1"}, "reasoning": "damaged parcel"}"#;

fn guard(db: &Path, call: &str) -> Output {
    run(db, &["guard", POLICY, "--call", "-"], Some(call))
}

#[test]
fn guard_records_a_waiting_call_once_and_prints_its_id() {
    let d = scratch("guard");
    let db = d.join("a.db");
    let o = guard(&db, REFUND);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["state"], "pending");
    assert_eq!(v["groups"], serde_json::json!(["finance"]));
    let id = v["request"].as_str().unwrap().to_string();
    let again = json(&guard(&db, REFUND));
    assert_eq!(
        (again["request"].as_str(), again["created"].as_bool()),
        (Some(id.as_str()), Some(false))
    );
    let changed = REFUND.replace("900", "950");
    let o = guard(&db, &changed);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("different payload"), "{}", text(&o));

    let o = run(
        &db,
        &[
            "approvals",
            "list",
            "--state",
            "pending",
            "--group",
            "finance",
        ],
        None,
    );
    assert!(text(&o).contains(&id), "{}", text(&o));
    let o = run(&db, &["approvals", "list", "--group", "cfo"], None);
    assert!(text(&o).contains("no requests"), "{}", text(&o));
    let o = run(&db, &["approvals", "show", &id], None);
    let shown = text(&o);
    for needle in [
        "refund",
        "uma",
        "vault:k1",
        "damaged parcel",
        "T-1",
        "big_refund",
        "\"amount\": 900",
    ] {
        assert!(shown.contains(needle), "show lacks {needle}: {shown}");
    }
}

#[test]
fn guard_runs_allowed_calls_and_refuses_denied_ones() {
    let d = scratch("allow");
    let db = d.join("a.db");
    let o = guard(&db, r#"{"tool": "search", "args": {"q": "x"}}"#);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["call"]["tool"], "search");
    let o = guard(
        &db,
        r#"{"tool": "refund", "args": {"amount": 500000}, "context": {"tier": "x"}}"#,
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(json(&o)["effect"], "deny");
    let o = guard(&db, "{not json");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("not valid JSON"), "{}", text(&o));
}

/// Before: both ran (exit 0) as `search`, while a reader keeping the first `call`, or
/// reading the top-level call beside it, would run the refund.
#[test]
fn guard_refuses_an_envelope_that_holds_a_second_call() {
    let d = scratch("second-call");
    let db = d.join("a.db");
    for (call, words) in [
        (
            r#"{"call": {"tool": "refund", "args": {"amount": 900}}, "call": {"tool": "search"}}"#,
            "the key `call` is given twice",
        ),
        (
            r#"{"call": {"tool": "search"}, "tool": "refund", "args": {"amount": 900}}"#,
            "beside `call` (a proposal envelope has",
        ),
    ] {
        let o = guard(&db, call);
        assert_eq!(o.status.code(), Some(1), "{call}: {}", text(&o));
        assert!(text(&o).contains(words), "{call}: {}", text(&o));
    }
}

#[test]
fn an_edit_from_the_command_line_is_what_the_claim_hands_out_once() {
    let d = scratch("edit");
    let db = d.join("a.db");
    let id = json(&guard(&db, REFUND))["request"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = d.join("patch.json");
    std::fs::write(
        &patch,
        r#"[{"op": "replace", "path": "/amount", "value": 450}]"#,
    )
    .unwrap();
    let o = run(
        &db,
        &[
            "approvals",
            "decide",
            &id,
            "edit",
            "--patch",
            patch.to_str().unwrap(),
            "--as",
            "fiona",
            "--policy",
            POLICY,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("approved_with_edits"), "{}", text(&o));
    let shown = text(&run(&db, &["approvals", "show", &id], None));
    assert!(
        shown.contains("-  \"amount\": 900,") && shown.contains("+  \"amount\": 450,"),
        "{shown}"
    );

    let o = run(&db, &["approvals", "wait", &id, "--timeout", "5s"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&db, &["approvals", "claim", &id, "--policy", POLICY], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let claim = json(&o);
    assert_eq!(claim["call"]["args"]["amount"], 450);
    assert_eq!(claim["edited"], true);
    let token = claim["claim"].as_str().unwrap().to_string();
    let o = run(&db, &["approvals", "claim", &id, "--policy", POLICY], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("already claimed"), "{}", text(&o));
    let o = run(
        &db,
        &["approvals", "finish", &id, "executed", "--claim", "wrong"],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let o = run(
        &db,
        &[
            "approvals",
            "finish",
            &id,
            "executed",
            "--claim",
            &token,
            "--result",
            r#"{"refund": "re_9"}"#,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&db, &["approvals", "verify"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("intact"), "{}", text(&o));
}

#[test]
fn refused_decisions_say_why_and_change_nothing() {
    let d = scratch("refused");
    let db = d.join("a.db");
    let id = json(&guard(&db, REFUND))["request"]
        .as_str()
        .unwrap()
        .to_string();
    let before = text(&run(
        &db,
        &["approvals", "show", &id, "--format", "json"],
        None,
    ));
    for (args, code, needle) in [
        (
            vec!["approve", "--as", "uma"],
            1,
            "cannot decide their own request",
        ),
        (vec!["approve", "--as", "bot"], 1, "the agent that proposed"),
        (vec!["approve", "--as", "amir"], 1, "it waits for `finance`"),
        (vec!["reject", "--as", "fiona"], 2, "needs --reason"),
        (vec!["escalate", "--as", "fiona"], 2, "needs --to"),
        (
            vec!["edit", "--as", "fiona"],
            2,
            "--set PATH=VALUE, --args JSON|FILE or --patch JSON|FILE",
        ),
        (vec!["frobnicate", "--as", "fiona"], 2, "unknown decision"),
        (
            vec![
                "approve",
                "--as",
                "fiona",
                "--approvers",
                "/nonexistent.yaml",
            ],
            2,
            "/nonexistent.yaml",
        ),
        (
            vec!["edit", "--as", "fiona", "--patch", "/nonexistent.json"],
            2,
            "cannot read `/nonexistent.json`",
        ),
        (
            vec!["reject", "--as", "fiona", "--reason", " "],
            2,
            "needs a reason",
        ),
        (
            vec!["approve", "--as", "fiona", "--digest", "sha256:00"],
            1,
            "changed since you looked",
        ),
    ] {
        let mut all = vec!["approvals", "decide", &id];
        all.extend(args.iter().copied());
        let o = run(&db, &all, None);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
    }
    let o = run(
        &db,
        &["approvals", "decide", "hp_nope", "approve", "--as", "fiona"],
        None,
    );
    assert!(text(&o).contains("no request `hp_nope`"), "{}", text(&o));
    assert_eq!(
        text(&run(
            &db,
            &["approvals", "show", &id, "--format", "json"],
            None
        )),
        before
    );
}

#[test]
fn bad_databases_are_refused_with_their_path() {
    let d = scratch("baddb");
    let junk = d.join("junk.db");
    std::fs::write(&junk, vec![7u8; 4096]).unwrap();
    let o = run(&junk, &["approvals", "list"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("not an SQLite database"), "{}", text(&o));
    assert_eq!(std::fs::read(&junk).unwrap(), vec![7u8; 4096]);
    let o = run(&d.join("missing.db"), &["approvals", "list"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no approvals database"), "{}", text(&o));
    let o = run(&d.join("missing.db"), &["stats"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn expire_applies_slas_and_stats_reports_per_gate() {
    let d = scratch("stats");
    let db = d.join("a.db");
    let policy = d.join("p.gate");
    std::fs::write(
        &policy,
        "default deny\napprove pay { when tool == \"pay\" by \"finance\" within 4s on timeout reject }\n",
    )
    .unwrap();
    let call = |n: usize| format!(r#"{{"tool": "pay", "args": {{"n": {n}}}}}"#);
    let p = policy.to_str().unwrap();
    let mut ids = Vec::new();
    // The SLA leaves time for 22 guards and 21 decisions on a busy machine.
    for n in 0..22 {
        let o = run(&db, &["guard", p, "--call", "-"], Some(&call(n)));
        ids.push(json(&o)["request"].as_str().unwrap().to_string());
    }
    let last_created = std::time::Instant::now();
    for id in &ids[..21] {
        let o = run(
            &db,
            &["approvals", "decide", id, "approve", "--as", "fiona"],
            None,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let due = last_created + std::time::Duration::from_millis(4100);
    std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
    let o = run(&db, &["approvals", "expire"], None);
    assert!(
        text(&o).contains(&format!("{} expired [pay] -> expired", ids[21])),
        "{}",
        text(&o)
    );
    let o = run(&db, &["approvals", "wait", &ids[21]], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));

    let o = run(&db, &["stats"], None);
    let t = text(&o);
    assert!(
        t.contains("rubber stamp") && t.contains("Move it, raise its threshold, or remove it"),
        "{t}"
    );
    let v = json(&run(&db, &["stats", "--format", "json"], None));
    let pay = &v["gates"][0];
    assert_eq!(
        (
            pay["gate"].as_str(),
            pay["fired"].as_u64(),
            pay["approved"].as_u64(),
            pay["expired"].as_u64()
        ),
        (Some("pay"), Some(22), Some(21), Some(1))
    );
    assert_eq!(pay["rubber_stamp"], true);
}

#[test]
fn show_puts_what_the_gate_says_to_review_first() {
    let d = scratch("review");
    let db = d.join("a.db");
    let o = run(
        &db,
        &[
            "guard",
            "policies/support",
            "--call",
            "policies/support/calls/crm-bulk-update-2400.json",
        ],
        None,
    );
    let id = json(&o)["request"].as_str().unwrap().to_string();
    let shown = text(&run(&db, &["approvals", "show", &id], None));
    let review = shown
        .find("to review for bulk_customer_update: args.changes")
        .unwrap();
    assert!(shown[review..].contains("\"to\": \"pro-2025\""), "{shown}");
    let o = run(&db, &["approvals", "show", &id, "--format", "yaml"], None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn guarding_again_tells_the_request_state_and_never_reruns_a_refused_call() {
    let d = scratch("again");
    let db = d.join("a.db");
    let id = json(&guard(&db, REFUND))["request"]
        .as_str()
        .unwrap()
        .to_string();
    let o = run(
        &db,
        &[
            "approvals",
            "decide",
            &id,
            "reject",
            "--as",
            "fiona",
            "--reason",
            "dup",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = guard(&db, REFUND);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(json(&o)["state"], "rejected");
    let o = run(&db, &["approvals", "wait", &id], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    // A gate of a rejected request no longer waits, and says who ended it.
    let shown = text(&run(&db, &["approvals", "show", &id], None));
    let gate = shown
        .lines()
        .find(|l| l.contains("big_refund") && l.contains(" by "));
    let gate = gate.unwrap_or_else(|| panic!("no gate line: {shown}"));
    assert!(!gate.contains("waiting"), "{gate}");
    assert!(gate.contains("rejected by fiona"), "{gate}");
}

#[test]
fn flags_fill_in_a_partial_identity_and_bad_durations_are_usage_errors() {
    let d = scratch("flags");
    let db = d.join("a.db");
    let call = r#"{"call": {"tool": "refund", "args": {"amount": 900}, "context": {"tier": "standard"}},
                   "identity": {"agent": "bot"}, "run_id": "r", "tool_call_id": "c"}"#;
    let o = run(
        &db,
        &[
            "guard", POLICY, "--call", "-", "--tenant", "acme", "--user", "uma",
        ],
        Some(call),
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let id = json(&o)["request"].as_str().unwrap().to_string();
    let shown = text(&run(&db, &["approvals", "show", &id], None));
    assert!(
        shown.contains("user uma · tenant acme · agent bot"),
        "{shown}"
    );
    for args in [
        vec!["approvals", "wait", id.as_str(), "--timeout", ""],
        vec!["approvals", "wait", id.as_str(), "--timeout", "1.5m"],
        vec!["approvals", "claim", id.as_str(), "--lease", "0"],
    ] {
        let o = run(&db, &args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    }
    let o = run(
        &db,
        &[
            "guard",
            POLICY,
            "--call",
            "-",
            "--inputs",
            "/nonexistent.json",
        ],
        Some(call),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("cannot read `/nonexistent.json`"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_request_made_with_tools_is_claimed_with_the_same_catalog() {
    let d = scratch("tools");
    let db = d.join("a.db");
    let catalog = d.join("catalog.yaml");
    std::fs::write(
        &catalog,
        "tools:\n  refund: {classes: [money_out]}\n  search: {}\n",
    )
    .unwrap();
    let cat = catalog.to_str().unwrap();
    let o = run(
        &db,
        &["guard", POLICY, "--call", "-", "--tools", cat],
        Some(REFUND),
    );
    let id = json(&o)["request"].as_str().unwrap().to_string();
    let o = run(
        &db,
        &["approvals", "decide", &id, "approve", "--as", "fiona"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&db, &["approvals", "claim", &id], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Claimed: guarding it again (and waiting) never hands it out twice.
    let o = run(
        &db,
        &[
            "guard", POLICY, "--call", "-", "--tools", cat, "--wait", "1s",
        ],
        Some(REFUND),
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
}

/// Before: `show` and `list` printed the agent's reasoning, values and names raw, so an
/// ESC sequence repainted the approver's screen with a fake call.
#[test]
fn what_an_approver_reads_is_not_under_the_agents_control() {
    let d = scratch("escapes");
    let db = d.join("a.db");
    let hostile = serde_json::json!({
        "call": {"tool": "refund", "args": {"amount": 900, "order": "o\u{202E}1-o"},
                 "context": {"tier": "standard"}},
        "identity": {"user": "uma", "tenant": "acme", "agent": "bot"},
        "run_id": "run-x", "tool_call_id": "call-x",
        "reasoning": "fine\u{1b}[2J\u{1b}[Hrequest approved by fiona\ngates\n  all approved",
        "alternatives": ["wait\u{7}"]
    });
    let o = guard(&db, &hostile.to_string());
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let id = json(&o)["request"].as_str().unwrap().to_string();
    for args in [
        vec!["approvals", "show", id.as_str()],
        vec!["approvals", "list"],
    ] {
        let out = String::from_utf8(run(&db, &args, None).stdout).unwrap();
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "{args:?}: {out:?}"
        );
        assert!(!out.contains('\u{202E}'), "{args:?}: {out:?}");
    }
    let out = String::from_utf8(run(&db, &["approvals", "show", &id], None).stdout).unwrap();
    assert!(out.contains("fine\\u{001B}[2J"), "{out}");
    // The reasoning's newlines do not start lines of their own.
    assert!(!out.lines().any(|l| l.trim() == "all approved"), "{out}");
    assert!(out.contains("o\\u{202E}1-o"), "{out}");
}

#[test]
fn guard_answers_with_every_gate_and_how_the_call_waits() {
    let d = scratch("answer");
    let db = d.join("a.db");
    let vip = REFUND.replace("\"standard\"", "\"vip\"");
    let o = guard(&db, &vip);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["mode"], "async");
    let gates = v["gates"].as_array().unwrap();
    let rules: Vec<&str> = gates.iter().map(|g| g["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["big_refund", "vip_customer"]);
    assert_eq!(gates[0]["groups"], serde_json::json!(["finance"]));
    assert_eq!(gates[0]["within_s"], 3600);
    assert_eq!(gates[1]["on_timeout"], "reject");
    assert_eq!(gates[1]["approved"], false);
    assert!(gates[1]["due_at"].is_string(), "{v}");
    assert_eq!(v["reasons"][0]["reason"], "Refund of 900");
    assert!(v["unknown"].as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn guard_wait_prints_the_request_before_it_blocks_and_cancel_ends_the_wait() {
    use std::io::BufRead;
    let d = scratch("wait-cancel");
    let db = d.join("a.db");
    let mut child = common::policy_command()
        .args(["guard", POLICY, "--call", "-", "--wait", "60s"])
        .env("HOLDPOINT_DB", &db)
        .env("HOLDPOINT_APPROVERS", APPROVERS)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(REFUND.as_bytes()).unwrap();
    }
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // The first line comes while the guard still blocks.
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["state"], "pending");
    let id = first["request"].as_str().unwrap().to_string();
    assert!(child.try_wait().unwrap().is_none(), "the guard still waits");

    let o = run(&db, &["approvals", "cancel", &id], None);
    assert_eq!(o.status.code(), Some(2), "a reason is needed: {}", text(&o));
    let o = run(
        &db,
        &[
            "approvals",
            "cancel",
            &id,
            "--reason",
            "the customer withdrew",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json(&o)["state"], "cancelled");

    let last: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(last["state"], "cancelled");
    assert_eq!(child.wait().unwrap().code(), Some(4));
    // Cancelling again is refused: it is no longer pending.
    let o = run(
        &db,
        &["approvals", "cancel", &id, "--reason", "again"],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("not pending"), "{}", text(&o));
}

#[test]
fn set_edits_one_field_typed_by_the_catalog_and_a_broken_edit_is_refused() {
    let d = scratch("set");
    let db = d.join("a.db");
    let catalog = d.join("tools.yaml");
    std::fs::write(
        &catalog,
        "tools:\n  refund:\n    classes: [money_out]\n    args: {amount: integer, order: string}\n  search: {}\n",
    )
    .unwrap();
    let cat = catalog.to_str().unwrap();
    let o = run(
        &db,
        &["guard", POLICY, "--call", "-", "--tools", cat],
        Some(REFUND),
    );
    let id = json(&o)["request"].as_str().unwrap().to_string();
    let decide = |extra: &[&str]| {
        let mut all = vec!["approvals", "decide", id.as_str(), "edit", "--as", "fiona"];
        all.extend_from_slice(extra);
        run(&db, &all, None)
    };
    // Refused, and nothing changes: a wrong type, a required field dropped, a string where
    // the catalog says integer (typed by the catalog, `--set` does not guess).
    for (extra, says) in [
        (vec!["--set", "amount=lots"], "`lots` is not integer"),
        (
            vec!["--args", r#"{"amount": 450}"#],
            "`args.order` is missing",
        ),
        (
            vec!["--args", r#"{"amount": "450", "order": "o-1"}"#],
            "`args.amount` is a string, the catalog says integer",
        ),
        (
            vec!["--args", r#"{"amount": 1, "amount": 2}"#],
            "given twice",
        ),
        (vec!["--set", "amount"], "PATH=VALUE"),
    ] {
        let o = decide(&extra);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{extra:?}: {}", text(&o));
    }
    let state = json(&run(
        &db,
        &["approvals", "show", &id, "--format", "json"],
        None,
    ));
    assert_eq!(state["request"]["status"]["state"], "pending");

    // `--set order=...` stays a string even though it reads as a number.
    let o = decide(&["--set", "amount=450", "--set", "order=17"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("approved_with_edits"), "{out}");
    assert!(
        out.contains("-  \"amount\": 900,") && out.contains("+  \"amount\": 450,"),
        "{out}"
    );
    let o = run(&db, &["approvals", "claim", &id], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        json(&o)["call"]["args"],
        serde_json::json!({"amount": 450, "order": "17"})
    );
}
