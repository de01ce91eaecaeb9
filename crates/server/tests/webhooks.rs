//! Webhooks over real HTTP on loopback: a receiver in the test counts messages by
//! `webhook-id` and verifies every signature with its own HMAC (written here, apart from
//! the service's); retries keep the id; what is queued or only logged when the service
//! stops is delivered after it starts again; Slack messages are Block Kit with every
//! agent-supplied string escaped; a broken webhooks file stops the start at its line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use holdpoint_server::{App, Config, DataDir, Holder};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const POLICY: &str = r#"policy "hooks"
default deny

approve refund {
  when tool == "refund" and args.amount > 500
  by "finance"
  within 1h
  on timeout reject
  decisions approve, reject, edit, escalate
  reason "Refund of {args.amount} for {args.order}"
}

approve ping {
  when tool == "ping"
  by "finance"
  within 3s
  on timeout reject
  decisions approve, reject
}
"#;

const APPROVERS: &str = "groups:\n  finance: [fiona, frank]\n  finance-leads: [lena]\n";

/// The receiver's secret: `whsec_` and the base64 of 32 bytes.
fn secret() -> String {
    format!("whsec_{}", STANDARD.encode([7u8; 32]))
}

// ---- the receiver's own verification (independent of the service's signing code) ----

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > 64 {
        Sha256::digest(key).to_vec()
    } else {
        key.to_vec()
    };
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([ipad, message.to_vec()].concat());
    Sha256::digest([opad, inner.to_vec()].concat()).to_vec()
}

/// Standard Webhooks verification: some `v1,` signature in the header is the base64 HMAC
/// of `{id}.{timestamp}.{body}` under the secret's bytes.
fn verifies(secret: &str, id: &str, timestamp: &str, body: &str, header: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let expected = STANDARD.encode(hmac(&key, format!("{id}.{timestamp}.{body}").as_bytes()));
    header
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

#[test]
fn the_receivers_verification_matches_the_specifications_example() {
    assert!(verifies(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        r#"{"test": 2432232314}"#,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    ));
    assert!(!verifies(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265331",
        r#"{"test": 2432232314}"#,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    ));
}

// ---- the receiver ----

#[derive(Debug, Clone)]
struct Got {
    path: String,
    id: String,
    timestamp: String,
    signature: Option<String>,
    body: String,
    answered: u16,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }

    fn signed_by(&self, secret: &str) -> bool {
        self.signature
            .as_deref()
            .is_some_and(|s| verifies(secret, &self.id, &self.timestamp, &self.body, s))
    }
}

#[derive(Default)]
struct Inner {
    got: Mutex<Vec<Got>>,
    /// Answer 500 to this many requests first.
    fail_first: AtomicUsize,
    /// Answer 503 to everything.
    down: AtomicBool,
}

#[derive(Clone)]
struct Receiver {
    base: String,
    inner: Arc<Inner>,
}

async fn take(
    State(s): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let answer = if s.down.load(Ordering::SeqCst) {
        StatusCode::SERVICE_UNAVAILABLE
    } else if s
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    s.got.lock().unwrap().push(Got {
        path: uri.path().to_string(),
        id: header("webhook-id").unwrap_or_default(),
        timestamp: header("webhook-timestamp").unwrap_or_default(),
        signature: header("webhook-signature"),
        body,
        answered: answer.as_u16(),
    });
    answer
}

async fn receiver() -> Receiver {
    let inner = Arc::new(Inner::default());
    let app = Router::new()
        .route("/{*path}", post(take))
        .with_state(inner.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { base, inner }
}

impl Receiver {
    fn got(&self) -> Vec<Got> {
        self.inner.got.lock().unwrap().clone()
    }

    /// The messages delivered (answered 2xx) to `path`.
    fn delivered(&self, path: &str) -> Vec<Got> {
        self.got()
            .into_iter()
            .filter(|g| g.path == path && g.answered < 300)
            .collect()
    }

    /// Waits (at most 8 s) until `done` holds of what was received.
    async fn until(&self, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let start = Instant::now();
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(8),
                "waited in vain for {what}; received {:#?}",
                got.iter()
                    .map(|g| (&g.path, &g.id, g.kind(), g.answered))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

// ---- the service ----

struct Setup {
    dir: PathBuf,
    agent: String,
    fiona: String,
}

fn setup(name: &str) -> Setup {
    let dir = std::env::temp_dir().join(format!("holdpoint-hooks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hooks.gate"), POLICY).unwrap();
    std::fs::write(dir.join("approvers.yaml"), APPROVERS).unwrap();
    let data = DataDir::open(&dir.join("data")).unwrap();
    let agent = data
        .create_token(
            Holder::Agent {
                name: "support-bot".into(),
                tenants: vec!["acme".into()],
            },
            0,
        )
        .unwrap();
    let fiona = data
        .create_token(Holder::Approver { id: "fiona".into() }, 0)
        .unwrap();
    Setup { dir, agent, fiona }
}

/// A webhooks file for `endpoints` (YAML list items), fast retries, polling every 50 ms
/// unless `extra` says otherwise.
fn hooks_file(s: &Setup, name: &str, endpoints: &str, extra: &str) -> PathBuf {
    let path = s.dir.join(name);
    let text = format!(
        "public_url: http://127.0.0.1:8787\nretry_base: 50ms\nretry_max: 200ms\nmax_attempts: 5\ntimeout: 2s\n{extra}endpoints:\n{endpoints}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn config(s: &Setup, hooks: Option<PathBuf>) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        approvers: Some(s.dir.join("approvers.yaml")),
        webhooks: hooks,
        ..Config::new(s.dir.join("hooks.gate"), s.dir.join("data"))
    }
}

struct Service {
    base: String,
    app: Arc<App>,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(s: &Setup, hooks: &Path) -> Service {
    let app = Arc::new(App::load(&config(s, Some(hooks.to_path_buf()))).unwrap());
    let listener = holdpoint_server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(holdpoint_server::serve(app.clone(), listener, async move {
        let _ = rx.await;
    }));
    Service {
        base,
        app,
        client: reqwest::Client::new(),
        stop: Some(tx),
        task,
    }
}

impl Service {
    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let code = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(code, 200, "{path}: {v}");
        v
    }

    async fn submit(&self, s: &Setup, call_id: &str, user: &str, order: &str) -> Value {
        let body = json!({
            "call": {"tool": "refund", "args": {"amount": 900, "order": order}},
            "identity": {"user": user, "tenant": "acme"},
            "run_id": "run-1", "tool_call_id": call_id,
            "reasoning": "the parcel arrived crushed",
        });
        self.post("/v1/requests", &s.agent, body).await
    }

    /// Stops the service as Ctrl-C does (what is queued stays queued).
    async fn stop(mut self) {
        drop(self.client);
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

fn standard(path: &str, extra: &str) -> String {
    format!("  - url: {{BASE}}{path}\n    secret: {}\n{extra}", secret())
}

fn at(r: &Receiver, endpoints: &str) -> String {
    endpoints.replace("{BASE}", &r.base)
}

// ---- the tests ----

#[tokio::test]
async fn every_step_of_the_loop_is_delivered_signed() {
    let rx = receiver().await;
    let s = setup("loop");
    let endpoints = at(
        &rx,
        &(standard("/all", "") + &standard("/created", "    events: [created]\n")),
    );
    let svc = start(
        &s,
        &hooks_file(&s, "hooks.yaml", &endpoints, "poll: 50ms\n"),
    )
    .await;

    let r = svc.submit(&s, "c1", "uma", "o-1").await;
    let id = r["request"].as_str().unwrap().to_string();
    let digest = r["digest"].as_str().unwrap();
    svc.post(
        &format!("/v1/requests/{id}/decisions"),
        &s.fiona,
        json!({"decision": "approve", "digest": digest}),
    )
    .await;
    let c = svc
        .post(&format!("/v1/requests/{id}/claim"), &s.agent, json!(null))
        .await;
    svc.post(
        &format!("/v1/requests/{id}/report"),
        &s.agent,
        json!({"claim": c["claim"], "outcome": "executed", "result": {"refund": "re_1"}}),
    )
    .await;

    let want = [
        "request.created",
        "request.approved",
        "request.claimed",
        "request.executed",
    ];
    rx.until("the four messages", |_| rx.delivered("/all").len() >= 4)
        .await;
    // Messages sent at once may arrive in any order; `data.event.seq` is the log's.
    let mut all = rx.delivered("/all");
    all.sort_by_key(|g| g.json()["data"]["event"]["seq"].as_u64());
    let kinds: Vec<String> = all.iter().map(Got::kind).collect();
    assert_eq!(kinds, want);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for g in &all {
        assert!(g.signed_by(&secret()), "a bad signature on {g:?}");
        assert!(!g.signed_by(&format!("whsec_{}", STANDARD.encode([8u8; 32]))));
        let ts: i64 = g.timestamp.parse().unwrap();
        assert!((now - ts).abs() < 60, "webhook-timestamp {ts} is not now");
        let v = g.json();
        assert_eq!(v["data"]["request"], json!(id), "{v}");
        assert_eq!(
            (v["data"]["tool"].as_str(), v["data"]["tenant"].as_str()),
            (Some("refund"), Some("acme"))
        );
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'), "{v}");
        assert_eq!(
            v["data"]["url"],
            json!(format!("http://127.0.0.1:8787/inbox/{id}"))
        );
    }
    let approved = all[1].json();
    assert_eq!(approved["data"]["event"]["by"], "fiona", "{approved}");
    assert_eq!(approved["data"]["state"], "approved");
    assert_eq!(all[0].json()["data"]["amounts"], json!({"amount": 900}));
    assert_eq!(all[0].json()["data"]["user"], "uma");
    // Every message once, each with its own id.
    let mut ids: Vec<&str> = all.iter().map(|g| g.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4);

    // The endpoint that asked only for `created` gets only that, under the same id.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let created = rx.delivered("/created");
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(
        (created[0].kind(), &created[0].id),
        ("request.created".into(), &all[0].id)
    );

    let hooks = svc.app.webhooks.clone().unwrap();
    let stats = hooks.stats();
    assert_eq!(
        (stats.delivered, stats.failed_attempts, stats.pending),
        (5, 0, 0),
        "{stats:?}"
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_message_on_a_later_attempt_under_the_same_id() {
    let rx = receiver().await;
    rx.inner.fail_first.store(2, Ordering::SeqCst);
    let s = setup("retry");
    let endpoints = at(&rx, &standard("/hooks", "    events: [created]\n"));
    let svc = start(
        &s,
        &hooks_file(&s, "hooks.yaml", &endpoints, "poll: 50ms\n"),
    )
    .await;
    svc.submit(&s, "c1", "uma", "o-1").await;
    let got = rx
        .until("a delivery after two failures", |g| {
            g.iter().any(|x| x.answered < 300)
        })
        .await;
    let answers: Vec<u16> = got.iter().map(|g| g.answered).collect();
    assert_eq!(answers, [500, 500, 204]);
    assert!(
        got.iter().all(|g| g.id == got[0].id),
        "one id for every attempt"
    );
    assert!(got.iter().all(|g| g.signed_by(&secret())));
    // Each attempt is signed anew, with its own timestamp's signature; the body is the same.
    assert!(got.iter().all(|g| g.body == got[0].body));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = svc.app.webhooks.clone().unwrap().stats();
    assert_eq!(
        (stats.delivered, stats.failed_attempts, stats.given_up),
        (1, 2, 0),
        "{stats:?}"
    );
    assert_eq!(rx.got().len(), 3, "nothing sent after the delivery");
    svc.stop().await;
}

#[tokio::test]
async fn a_message_is_given_up_after_the_last_attempt_and_counted() {
    let rx = receiver().await;
    rx.inner.down.store(true, Ordering::SeqCst);
    let s = setup("give-up");
    let endpoints = at(&rx, &standard("/hooks", "    events: [created]\n"));
    // max_attempts 5 from the file; 50, 100, 200, 200 ms between them.
    let svc = start(
        &s,
        &hooks_file(&s, "hooks.yaml", &endpoints, "poll: 50ms\n"),
    )
    .await;
    svc.submit(&s, "c1", "uma", "o-1").await;
    rx.until("five attempts", |g| g.len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.got().len(), 5, "no attempt after the last");
    let stats = svc.app.webhooks.clone().unwrap().stats();
    assert_eq!(
        (
            stats.delivered,
            stats.failed_attempts,
            stats.given_up,
            stats.pending
        ),
        (0, 5, 1, 0),
        "{stats:?}"
    );
    let metrics = svc.app.extra_metrics();
    assert!(
        metrics.contains("holdpoint_webhook_failures_total 5\n")
            && metrics.contains("holdpoint_webhooks_given_up_total 1\n"),
        "{metrics}"
    );
    let id = rx.got()[0].id.clone();
    let (attempts, error) = svc
        .app
        .webhooks
        .clone()
        .unwrap()
        .outbox()
        .attempts(&format!("{}/hooks", rx.base), &id)
        .unwrap()
        .unwrap();
    assert_eq!((attempts, error.as_deref()), (5, Some("HTTP 503")));
    svc.stop().await;
}

#[tokio::test]
async fn queued_messages_are_delivered_after_a_restart() {
    let rx = receiver().await;
    rx.inner.down.store(true, Ordering::SeqCst);
    let s = setup("restart-queued");
    let endpoints = at(&rx, &standard("/hooks", "    events: [created]\n"));
    let file = hooks_file(&s, "hooks.yaml", &endpoints, "poll: 50ms\n");
    let svc = start(&s, &file).await;
    svc.submit(&s, "c1", "uma", "o-1").await;
    let failed = rx.until("a failed attempt", |g| !g.is_empty()).await;
    svc.stop().await;

    rx.inner.down.store(false, Ordering::SeqCst);
    let again = start(&s, &file).await;
    rx.until("the delivery", |_| !rx.delivered("/hooks").is_empty())
        .await;
    let delivered = rx.delivered("/hooks");
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].id, failed[0].id,
        "the same id as before the restart"
    );
    assert!(delivered[0].signed_by(&secret()));
    again.stop().await;
}

#[tokio::test]
async fn events_logged_but_not_yet_queued_are_delivered_after_a_restart() {
    let rx = receiver().await;
    let s = setup("restart-logged");
    let endpoints = at(&rx, &standard("/hooks", ""));
    // The first service looks at the log once, at its start, then not for an hour.
    let slow = hooks_file(&s, "slow.yaml", &endpoints, "poll: 1h\n");
    let svc = start(&s, &slow).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = svc.submit(&s, "c1", "uma", "o-1").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.got().is_empty(), "nothing sent yet");
    svc.stop().await;

    let fast = hooks_file(&s, "fast.yaml", &endpoints, "poll: 50ms\n");
    let again = start(&s, &fast).await;
    let got = rx
        .until("the created message", |g| {
            g.iter().any(|x| x.answered < 300)
        })
        .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].kind(), "request.created");
    assert_eq!(got[0].json()["data"]["request"], r["request"]);
    again.stop().await;
}

/// Every `text` of a Block Kit message, with its block's type.
fn texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(t)) = m.get("text") {
                out.push(t.clone());
            }
            m.values().for_each(|x| texts(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn slack_messages_are_block_kit_with_agent_strings_escaped() {
    let rx = receiver().await;
    let s = setup("slack");
    let endpoints = at(
        &rx,
        "  - url: {BASE}/slack\n    format: slack\n    events: [created]\n",
    );
    let svc = start(
        &s,
        &hooks_file(&s, "hooks.yaml", &endpoints, "poll: 50ms\n"),
    )
    .await;
    // The service refuses hidden characters in an identity; arguments may hold them.
    let user = "<http://evil|click> <!channel>";
    let r = svc
        .submit(
            &s,
            "c1",
            user,
            "<script>alert(1)</script>\u{1b}[31m\u{7} `x` *b*",
        )
        .await;
    let id = r["request"].as_str().unwrap();
    let got = rx.until("the Slack message", |g| !g.is_empty()).await;
    let v = got[0].json();
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header", "{v}");
    assert!(
        blocks
            .iter()
            .any(|b| b["type"] == "section" && b["fields"].is_array())
    );
    let mut all = vec![];
    texts(&v, &mut all);
    let joined = all.join("\n");
    for raw in [
        "<script>",
        "<http://evil|click>",
        "<!channel>",
        "\u{1b}",
        "\u{7}",
    ] {
        assert!(
            !joined.contains(raw),
            "`{raw}` reached Slack as is: {joined}"
        );
    }
    assert!(
        joined.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{joined}"
    );
    assert!(joined.contains("&lt;http://evil|click&gt;"), "{joined}");
    assert!(joined.contains("refund") && joined.contains("acme") && joined.contains("900"));
    // The one link is the service's own, to the request.
    let links: Vec<&str> = joined
        .match_indices('<')
        .map(|(i, _)| &joined[i..])
        .collect();
    assert_eq!(links.len(), 1, "{joined}");
    assert!(
        links[0].starts_with(&format!("<http://127.0.0.1:8787/inbox/{id}|")),
        "{joined}"
    );
    // No secret, no signature; the id and timestamp still go.
    assert!(got[0].signature.is_none() && got[0].id.starts_with("msg_"));
    svc.stop().await;
}

#[tokio::test]
async fn a_due_soon_goes_once_before_the_sla_ends_then_the_expiry() {
    let rx = receiver().await;
    let s = setup("due-soon");
    let endpoints = at(
        &rx,
        &standard("/hooks", "    events: [due_soon, expired]\n"),
    );
    let svc = start(
        &s,
        &hooks_file(&s, "hooks.yaml", &endpoints, "poll: 50ms\n"),
    )
    .await;
    let body = json!({
        "call": {"tool": "ping", "args": {}},
        "identity": {"user": "uma", "tenant": "acme"},
        "run_id": "run-1", "tool_call_id": "p1",
    });
    let r = svc.post("/v1/requests", &s.agent, body).await;
    let submitted = Instant::now();
    // The SLA is 3 s: due soon at a fifth of it (0.6 s) before its end.
    let got = rx
        .until("due soon, then expired", |g| {
            g.iter().any(|x| x.kind() == "request.expired")
        })
        .await;
    let kinds: Vec<String> = got.iter().map(Got::kind).collect();
    assert_eq!(kinds, ["request.due_soon", "request.expired"]);
    let due = got[0].json();
    assert_eq!(due["data"]["request"], r["request"]);
    assert_eq!(due["data"]["gate"], "ping");
    assert!(due["data"]["due_at"].is_string(), "{due}");
    assert!(submitted.elapsed() >= Duration::from_millis(2300));
    assert!(got.iter().all(|g| g.signed_by(&secret())));
    svc.stop().await;
}

#[test]
fn a_broken_webhooks_file_is_a_start_error_naming_the_file_and_line() {
    let s = setup("broken");
    let file = s.dir.join("hooks.yaml");
    let text = format!(
        "endpoints:\n  - url: http://127.0.0.1:9/hooks\n    secret: {}\n    events: [created, decidd]\n",
        secret()
    );
    std::fs::write(&file, text).unwrap();
    let e = App::load(&config(&s, Some(file.clone())))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("{}:4:", file.display())), "{e}");
    assert!(e.contains("unknown event `decidd`"), "{e}");

    std::fs::write(
        &file,
        "endpoints:\n  - url: http://127.0.0.1:9/hooks\n    secret_file: missing.txt\n",
    )
    .unwrap();
    let e = App::load(&config(&s, Some(file.clone())))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with(&format!("{}:2:", file.display())), "{e}");
    assert!(e.contains("missing.txt"), "{e}");

    // A secret file beside the webhooks file is read.
    std::fs::write(s.dir.join("secret.txt"), format!("{}\n", secret())).unwrap();
    std::fs::write(
        &file,
        "endpoints:\n  - url: http://127.0.0.1:9/hooks\n    secret_file: secret.txt\n",
    )
    .unwrap();
    assert!(App::load(&config(&s, Some(file))).is_ok());
}
