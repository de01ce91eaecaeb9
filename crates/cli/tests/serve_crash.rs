//! Crash safety of `policy serve`: the service is killed with SIGKILL at random moments
//! while agents and an approver drive whole cycles (submit, approve, claim, report), and
//! restarted on the same data directory. Afterwards every answer the clients got is true:
//! each acknowledged request, decision, claim and report is there, no request was claimed
//! twice, and every webhook for an acknowledged step arrived at least once (a receiver here
//! counts them by `webhook-id`).
#![cfg(all(unix, feature = "serve"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_policy");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Webhooks received: (type, request) → webhook-ids.
type Received = Arc<Mutex<BTreeMap<(String, String), BTreeSet<String>>>>;

/// A webhook receiver on loopback that answers 200 to everything.
fn receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut id, mut len) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("webhook-id:") {
                        id = v.trim().to_string();
                    }
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let key = (
                    v["type"].as_str().unwrap_or("").to_string(),
                    v["data"]["request"].as_str().unwrap_or("").to_string(),
                );
                g.lock().unwrap().entry(key).or_default().insert(id);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });
    (base, got)
}

fn token(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["tokens", "create", "--data"])
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The service's process, killed when dropped (a failing test leaves nothing behind).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the service; its base URL once it listens.
fn start(data: &Path, hooks: &Path) -> (Running, String) {
    let tests = root().join("tests/data/approvals");
    let mut child = Running(
        Command::new(BIN)
            .arg("serve")
            .arg(tests.join("refunds.gate"))
            .arg("--approvers")
            .arg(tests.join("approvers.yaml"))
            .arg("--data")
            .arg(data)
            .arg("--webhooks")
            .arg(hooks)
            .args(["--listen", "127.0.0.1:0", "--rate-limit", "off"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "the service stopped");
        if let Some(at) = line.find("http://") {
            let base = line[at..].trim().to_string();
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            return (child, base);
        }
    }
}

/// What the clients were told, by request id.
#[derive(Default, Debug)]
struct Acks {
    submitted: BTreeSet<String>,
    approved: BTreeSet<String>,
    claimed: BTreeSet<String>,
    reported: BTreeSet<String>,
}

fn call(
    http: &reqwest::blocking::Client,
    method: &str,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let req = match method {
        "GET" => http.get(url),
        _ => http.post(url).body(body.unwrap_or(json!({})).to_string()),
    };
    let resp = req.bearer_auth(token).send().ok()?;
    let status = resp.status().as_u16();
    let v = serde_json::from_str::<Value>(&resp.text().ok()?).ok()?;
    Some((status, v))
}

/// One whole cycle; records each step the service acknowledged.
fn cycle(base: &str, agent: &str, fiona: &str, n: u64, acks: &Mutex<Acks>) -> Option<()> {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let proposal = json!({
        "call": {"tool": "refund", "args": {"amount": 900, "order": format!("o-{n}")}, "context": {"tier": "standard"}},
        "identity": {"user": "uma", "tenant": "acme"},
        "run_id": "crash", "tool_call_id": format!("c-{n}"),
    });
    let (s, r) = call(
        &http,
        "POST",
        &format!("{base}/v1/requests"),
        agent,
        Some(proposal),
    )?;
    assert!(s < 500, "{s} {r}");
    let id = r["request"].as_str()?.to_string();
    acks.lock().unwrap().submitted.insert(id.clone());
    let url = format!("{base}/v1/requests/{id}");
    let (_, shown) = call(&http, "GET", &url, fiona, None)?;
    let decision = json!({"decision": "approve", "digest": shown["digest"]});
    let (s, r) = call(
        &http,
        "POST",
        &format!("{url}/decisions"),
        fiona,
        Some(decision),
    )?;
    assert!(s < 500, "{s} {r}");
    if s != 200 {
        return None;
    }
    acks.lock().unwrap().approved.insert(id.clone());
    let (s, c) = call(&http, "POST", &format!("{url}/claim"), agent, None)?;
    assert!(s < 500, "{s} {c}");
    if s != 200 {
        return None;
    }
    acks.lock().unwrap().claimed.insert(id.clone());
    let report = json!({"claim": c["claim"], "outcome": "executed"});
    let (s, r) = call(&http, "POST", &format!("{url}/report"), agent, Some(report))?;
    assert!(s < 500, "{s} {r}");
    if s == 200 {
        acks.lock().unwrap().reported.insert(id);
    }
    Some(())
}

fn pseudo_random(n: u64) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (t ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % 1000
}

#[test]
fn sigkill_under_load_loses_nothing_acknowledged_and_claims_stay_single() {
    let dir = std::env::temp_dir().join(format!("holdpoint-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let (hook_base, received) = receiver();
    let hooks = dir.join("webhooks.yaml");
    std::fs::write(
        &hooks,
        format!(
            "endpoints:\n  - url: {hook_base}/hooks\n    secret: {SECRET}\n    events: [created, approved, claimed, executed]\nretry_base: 100ms\nretry_max: 500ms\nmax_attempts: 1000\npoll: 50ms\n"
        ),
    )
    .unwrap();
    let agent = token(&data, &["--agent", "bot", "--tenant", "acme"]);
    let fiona = token(&data, &["--approver", "fiona"]);
    let acks = Arc::new(Mutex::new(Acks::default()));
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));

    for round in 0..4u64 {
        let (mut child, base) = start(&data, &hooks);
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..6)
            .map(|_| {
                let (base, agent, fiona) = (base.clone(), agent.clone(), fiona.clone());
                let (acks, stop, counter) = (acks.clone(), stop.clone(), counter.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        if cycle(&base, &agent, &fiona, n, &acks).is_none() {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                })
            })
            .collect();
        // Under load: a few whole cycles in this round, then a random moment more.
        let before = acks.lock().unwrap().reported.len();
        let busy_until = Instant::now() + Duration::from_secs(20);
        while acks.lock().unwrap().reported.len() < before + 3 && Instant::now() < busy_until {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(pseudo_random(round) / 2));
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
    }

    let (_service, base) = start(&data, &hooks);
    let http = reqwest::blocking::Client::new();
    let acks = acks.lock().unwrap();
    assert!(
        acks.reported.len() >= 10,
        "too little load to test anything: {acks:?}"
    );
    for id in &acks.submitted {
        let url = format!("{base}/v1/requests/{id}");
        let (s, r) = call(&http, "GET", &url, &fiona, None).unwrap();
        assert_eq!(s, 200, "acknowledged request {id} is lost: {r}");
        let state = r["state"].as_str().unwrap().to_string();
        let claims = r["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "claimed")
            .count();
        assert!(claims <= 1, "{id} was claimed {claims} times");
        if acks.approved.contains(id) {
            assert_ne!(state, "pending", "{id}: its acknowledged approval is lost");
        }
        if acks.claimed.contains(id) {
            assert_eq!(claims, 1, "{id}: its acknowledged claim is lost");
            // A claim answered once is never answered again.
            let (s, _) = call(&http, "POST", &format!("{url}/claim"), &agent, None).unwrap();
            assert_eq!(s, 409, "{id} could be claimed again after a restart");
        }
        if acks.reported.contains(id) {
            assert_eq!(state, "executed", "{id}: its acknowledged report is lost");
        }
    }

    // Every acknowledged step's webhook arrives, at least once.
    let mut wanted = BTreeSet::new();
    for (kind, ids) in [
        ("request.created", &acks.submitted),
        ("request.approved", &acks.approved),
        ("request.claimed", &acks.claimed),
        ("request.executed", &acks.reported),
    ] {
        for id in ids {
            wanted.insert((kind.to_string(), id.clone()));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let missing = loop {
        let got = received.lock().unwrap();
        let missing: Vec<_> = wanted.iter().filter(|k| !got.contains_key(*k)).collect();
        if missing.is_empty() || Instant::now() > deadline {
            break format!("{missing:?}");
        }
        drop(got);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(missing, "[]", "webhooks never delivered");
}
