//! `policy guard` and `policy approvals` with `--server URL`, against a real `policy serve`
//! started as a child process on an ephemeral loopback port: the agent submits, the
//! approver's list shows it, an approval by the token's holder, the claim's permit, the
//! report; and the refusals a user must see clearly (no reason, an agent deciding, a wrong
//! URL, a missing token).
#![cfg(feature = "serve")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{APPROVERS, POLICY};
use serde_json::Value;

/// A running `policy serve`, stopped when dropped.
struct Service {
    child: Child,
    url: String,
    data: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn policy() -> Command {
    let mut cmd = common::policy_command();
    // The tests' environment must not leak a database, a server or a token in.
    for k in ["HOLDPOINT_DB", "HOLDPOINT_SERVER", "HOLDPOINT_TOKEN"] {
        cmd.env_remove(k);
    }
    cmd
}

/// Starts the service on 127.0.0.1:0 and reads the address it printed.
fn start(name: &str) -> Service {
    let data = common::scratch(&format!("cliremote-{name}"));
    let mut child = policy()
        .args([
            "serve",
            POLICY,
            "--listen",
            "127.0.0.1:0",
            "--approvers",
            APPROVERS,
        ])
        .arg("--data")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the service stopped before it printed its address")
            .unwrap();
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_string();
        }
    };
    // Keep reading so the service never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Service { child, url, data }
}

impl Service {
    /// A new token, as `policy tokens create` prints it.
    fn token(&self, who: &[&str]) -> String {
        let o = policy()
            .args(["tokens", "create", "--data"])
            .arg(&self.data)
            .args(who)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    }

    fn agent(&self) -> String {
        self.token(&["--agent", "support-bot", "--tenant", "acme"])
    }

    fn approver(&self, id: &str) -> String {
        self.token(&["--approver", id])
    }

    /// Runs `policy ARGS` against the service with `token` in HOLDPOINT_TOKEN.
    fn run(&self, token: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let env = [
            ("HOLDPOINT_SERVER", Path::new(&self.url)),
            ("HOLDPOINT_TOKEN", Path::new(token)),
        ];
        common::run_policy(args, stdin, &env)
    }
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

const REFUND: &str = r#"{"call": {"tool": "refund", "args": {"amount": 900, "order": "o-1"},
  "context": {"tier": "standard"}},
  "identity": {"user": "uma", "tenant": "acme"},
  "run_id": "run-7", "tool_call_id": "call-1", "reasoning": "damaged parcel"}"#;

/// Submits REFUND (with a different tool-call id per `call`) as the agent: its request id.
fn submit(s: &Service, agent: &str, call: &str) -> String {
    let body = REFUND.replace("call-1", call);
    let o = s.run(agent, &["guard", "--call", "-"], Some(&body));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let v = json(&o);
    assert_eq!(
        (v["state"].as_str(), v["effect"].as_str()),
        (Some("pending"), Some("approve"))
    );
    v["request"].as_str().unwrap().to_string()
}

#[test]
fn submit_list_approve_claim_report_through_the_service() {
    let s = start("loop");
    let (agent, fiona) = (s.agent(), s.approver("fiona"));
    let id = submit(&s, &agent, "call-1");

    let o = s.run(&fiona, &["approvals", "list"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let line = text(&o)
        .lines()
        .find(|l| l.starts_with(&id))
        .map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("{id} not in the inbox: {}", text(&o)));
    assert!(
        line.contains("refund") && line.contains("finance"),
        "{line}"
    );

    let o = s.run(&fiona, &["approvals", "show", &id], None);
    assert!(
        text(&o).contains("reasoning\n    damaged parcel"),
        "{}",
        text(&o)
    );

    let o = s.run(&fiona, &["approvals", "decide", &id, "approve"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("{id}: approved")),
        "{}",
        text(&o)
    );

    let o = s.run(&agent, &["approvals", "claim", &id], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let claim = json(&o);
    assert!(
        claim["permit"].as_str().unwrap().starts_with("hp1."),
        "{claim}"
    );
    assert_eq!(claim["call"]["args"]["amount"], 900);
    let again = s.run(&agent, &["approvals", "claim", &id], None);
    assert_ne!(
        again.status.code(),
        Some(0),
        "a second claim: {}",
        text(&again)
    );
    assert!(text(&again).contains("already claimed"), "{}", text(&again));

    let token = claim["claim"].as_str().unwrap();
    let args = ["approvals", "finish", &id, "executed", "--claim", token];
    let o = s.run(&agent, &args, None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("{id}: executed")),
        "{}",
        text(&o)
    );
    let o = s.run(&fiona, &["approvals", "list"], None);
    assert!(!text(&o).contains(&id), "{}", text(&o));
}

#[test]
fn guard_wait_returns_the_permit_once_an_approver_edits_the_call() {
    let s = start("wait");
    let (agent, fiona) = (s.agent(), s.approver("fiona"));
    let env = [
        ("HOLDPOINT_SERVER", s.url.as_str()),
        ("HOLDPOINT_TOKEN", agent.as_str()),
    ];
    let mut waiting = policy()
        .args(["guard", "--call", "-", "--wait", "60s"])
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = waiting.stdin.take().unwrap();
        stdin.write_all(REFUND.as_bytes()).unwrap();
    }
    let mut out = BufReader::new(waiting.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let pending: Value = serde_json::from_str(&first).unwrap();
    let id = pending["request"].as_str().unwrap();

    let o = s.run(
        &fiona,
        &["approvals", "decide", id, "edit", "--set", "amount=450"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("+  \"amount\": 450"),
        "the edit as a diff: {}",
        text(&o)
    );

    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(waiting.wait().unwrap().code(), Some(0), "{rest}");
    let permit: Value = serde_json::from_str(&rest).unwrap();
    assert_eq!(permit["call"]["args"]["amount"], 450, "{permit}");
    assert_eq!(permit["edited"], true);
    assert!(permit["permit"].as_str().unwrap().starts_with("hp1."));
}

#[test]
fn refusals_are_the_services_messages_with_a_non_zero_exit() {
    let s = start("refuse");
    let (agent, fiona) = (s.agent(), s.approver("fiona"));
    let id = submit(&s, &agent, "call-2");

    let o = s.run(&agent, &["approvals", "decide", &id, "approve"], None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("an agent's token can never decide"), "{err}");
    let o = s.run(&agent, &["approvals", "list"], None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let o = s.run(&fiona, &["approvals", "decide", &id, "reject"], None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("a rejection needs --reason"),
        "{}",
        text(&o)
    );
    let o = s.run(
        &fiona,
        &["approvals", "decide", &id, "approve", "--as", "lena"],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the token's holder"), "{}", text(&o));

    // The approver saw an older payload: the service refuses the decision.
    let stale = [
        "approvals",
        "decide",
        &id,
        "approve",
        "--digest",
        "sha256:old",
    ];
    let o = s.run(&fiona, &stale, None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let o = s.run(
        &fiona,
        &["approvals", "decide", &id, "reject", "--reason", "dup"],
        None,
    );
    assert!(
        text(&o).contains(&format!("{id}: rejected")),
        "{}",
        text(&o)
    );
    let o = s.run(&agent, &["approvals", "claim", &id], None);
    assert_eq!(
        o.status.code(),
        Some(4),
        "a rejected call must not run: {}",
        text(&o)
    );

    let o = s.run("hpt_not-a-token", &["approvals", "show", &id], None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("unknown token"), "{}", text(&o));
}

#[test]
fn a_wrong_url_or_a_missing_token_is_named_and_nothing_panics() {
    let s = start("url");
    let agent = s.agent();
    let refused = [
        "approvals",
        "--server",
        "http://127.0.0.1:1",
        "show",
        "hp_1",
    ];
    let o = s.run(&agent, &refused, None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("cannot reach the service at http://127.0.0.1:1"),
        "{}",
        text(&o)
    );
    // https is built in (the `tls` feature): a service that is not there is named.
    let o = s.run(
        &agent,
        &["approvals", "--server", "https://127.0.0.1:1", "list"],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("cannot reach the service at https://127.0.0.1:1"),
        "{}",
        text(&o)
    );

    let o = policy()
        .args(["approvals", "--server", &s.url, "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("set HOLDPOINT_TOKEN"), "{}", text(&o));
}

#[test]
fn what_an_agent_wrote_never_reaches_the_terminal_as_control_characters() {
    let s = start("escape");
    let (agent, fiona) = (s.agent(), s.approver("fiona"));
    let evil = REFUND
        .replace("damaged parcel", "ok\\u001b[2J\\nstate     approved")
        .replace("\"o-1\"", "\"o-1\\u0007\"");
    let o = s.run(&agent, &["guard", "--call", "-"], Some(&evil));
    let id = json(&o)["request"].as_str().unwrap().to_string();
    for token in [&fiona, &agent] {
        let o = s.run(token, &["approvals", "show", &id], None);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out}");
        assert!(!out.contains("\nstate     approved"), "{out}");
    }
}

#[test]
fn the_help_labels_the_local_mode_and_offers_the_server() {
    for args in [
        &["approvals", "--help"][..],
        &["approvals", "list", "--help"],
        &["guard", "--help"],
    ] {
        let o = policy().args(args).output().unwrap();
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(
            help.contains("local mode: single-user, the agent's process holds the"),
            "{args:?}: {help}"
        );
        assert!(help.contains("--server"), "{args:?}: {help}");
    }
}
