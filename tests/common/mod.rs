//! What several test files share: running the binary, scratch directories, and the
//! approval runtime's test policy, approvers and proposals.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs the `policy` binary with `stdin` and extra environment; fails the test if it
/// panicked.
pub fn run_policy(args: &[&str], stdin: Option<&str>, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_policy"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        // The command may exit before reading (an invalid policy): ignore a closed pipe.
        let _ = input.write_all(s.as_bytes());
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "the binary panicked: {err}");
    out
}

/// A fresh scratch directory unique to the test process and `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("holdpoint-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The approval runtime's test policy and approvers.
pub const POLICY: &str = "tests/data/approvals/refunds.gate";
/// Groups: finance (fiona, frank), finance-leads (lena), account-managers (amir), cfo (carla).
pub const APPROVERS: &str = "tests/data/approvals/approvers.yaml";

#[cfg(feature = "approvals")]
pub mod approvals {
    use std::sync::Arc;

    use holdpoint::approval::{ApproversFile, Identity, Proposal};
    use holdpoint::{Policy, ToolCall};
    use serde_json::json;

    /// The test policy, loaded.
    pub fn policy() -> Arc<Policy> {
        Arc::new(Policy::load(super::POLICY).unwrap())
    }

    /// The test approvers.
    pub fn approvers() -> Arc<ApproversFile> {
        Arc::new(ApproversFile::load(super::APPROVERS.as_ref()).unwrap())
    }

    /// The agent `support-bot`, acting for `uma` of tenant `acme`.
    pub fn identity() -> Identity {
        Identity {
            user: Some("uma".into()),
            tenant: "acme".into(),
            agent: "support-bot".into(),
            credentials_ref: Some("vault:stripe/acme".into()),
        }
    }

    /// A refund proposal in run `run-1`.
    pub fn refund(amount: i64, tier: &str, call_id: &str) -> Proposal {
        let call = ToolCall::new("refund", json!({"amount": amount, "order": "o-17"}))
            .with_context(json!({"tier": tier}));
        Proposal::new(call, identity(), "run-1", call_id)
            .with_inputs(json!({"request": "customer asked for a refund"}))
            .with_reasoning("the order arrived broken")
    }
}
