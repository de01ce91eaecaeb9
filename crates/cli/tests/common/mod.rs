//! What the command's test files share: running the binary from the workspace root (where
//! the example policies and test data are), and scratch directories.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root: relative paths in these tests (`policies/…`, `tests/data/…`) are
/// relative to it.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `policy` binary, to run from the workspace root.
pub fn policy_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_policy"));
    cmd.current_dir(root());
    cmd
}

/// Runs the `policy` binary with `stdin` and extra environment; fails the test if it
/// panicked.
pub fn run_policy(args: &[&str], stdin: Option<&str>, env: &[(&str, &Path)]) -> Output {
    let mut cmd = policy_command();
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

/// The approval runtime's test policy and approvers (relative to the workspace root).
pub const POLICY: &str = "tests/data/approvals/refunds.gate";
/// Groups: finance (fiona, frank), finance-leads (lena), account-managers (amir), cfo (carla).
pub const APPROVERS: &str = "tests/data/approvals/approvers.yaml";
