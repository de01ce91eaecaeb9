//! `policy serve --tls-cert/--tls-key` and `--server https://…`: the CLI reaches a service
//! with a self-signed certificate only when told to trust it (`HOLDPOINT_CA_CERT`), and
//! files that cannot serve stop the service with a line naming them.
#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{APPROVERS, POLICY};

struct Service {
    child: Child,
    url: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn policy() -> Command {
    let mut cmd = common::policy_command();
    for k in [
        "HOLDPOINT_DB",
        "HOLDPOINT_SERVER",
        "HOLDPOINT_TOKEN",
        "HOLDPOINT_CA_CERT",
    ] {
        cmd.env_remove(k);
    }
    cmd
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A self-signed certificate for 127.0.0.1 in `dir`: (cert.pem, key.pem).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

fn serve_args(data: &Path, cert: &Path, key: &Path) -> Command {
    let mut cmd = policy();
    cmd.args([
        "serve",
        POLICY,
        "--listen",
        "127.0.0.1:0",
        "--approvers",
        APPROVERS,
    ])
    .arg("--data")
    .arg(data)
    .arg("--tls-cert")
    .arg(cert)
    .arg("--tls-key")
    .arg(key);
    cmd
}

fn start(data: &Path, cert: &Path, key: &Path) -> Service {
    let mut child = serve_args(data, cert, key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the service stopped before it printed its address")
            .unwrap();
        assert!(!line.contains("http://"), "TLS was asked for: {line}");
        if let Some(at) = line.find("https://") {
            break line[at..].trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Service { child, url }
}

#[test]
fn the_cli_reaches_a_tls_service_only_when_it_trusts_the_certificate() {
    let dir = common::scratch("clitls");
    let (cert, key) = self_signed(&dir.join("tls"));
    let data = dir.join("data");
    let s = start(&data, &cert, &key);
    let o = policy()
        .args(["tokens", "create", "--data"])
        .arg(&data)
        .args(["--approver", "fiona"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let list = |ca: Option<&Path>| {
        let mut cmd = policy();
        cmd.args(["approvals", "--server", &s.url, "list"])
            .env("HOLDPOINT_TOKEN", &token);
        if let Some(ca) = ca {
            cmd.env("HOLDPOINT_CA_CERT", ca);
        }
        cmd.output().unwrap()
    };

    let o = list(None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("HOLDPOINT_CA_CERT"), "{}", text(&o));

    let o = list(Some(&cert));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = list(Some(&dir.join("nowhere.pem")));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("HOLDPOINT_CA_CERT") && text(&o).contains("nowhere.pem"),
        "{}",
        text(&o)
    );

    // The same port in clear text is no way around it.
    let plain = s.url.replace("https://", "http://");
    let o = policy()
        .args(["approvals", "--server", &plain, "list"])
        .env("HOLDPOINT_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn certificate_files_that_cannot_serve_stop_the_service_with_their_names() {
    let dir = common::scratch("clitls-bad");
    let (cert, key) = self_signed(&dir.join("a"));
    let (other, _) = self_signed(&dir.join("b"));
    let data = dir.join("data");

    let o = serve_args(&data, &dir.join("missing.pem"), &key)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--tls-cert") && text(&o).contains("missing.pem"),
        "{}",
        text(&o)
    );

    let o = serve_args(&data, &cert, &cert).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--tls-key"), "{}", text(&o));

    let o = serve_args(&data, &other, &key).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--tls-key"), "{}", text(&o));

    // One without the other is a usage error.
    let o = policy()
        .args(["serve", POLICY, "--approvers", APPROVERS, "--tls-cert"])
        .arg(&cert)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--tls-key"), "{}", text(&o));
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
}
