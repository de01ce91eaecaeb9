//! What an operator relies on: `/metrics` counts decisions and answers, a caller over its
//! rate gets 429 with Retry-After while others go on, `/healthz` answers without a token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use holdpoint_server::limits::RateLimit;
use holdpoint_server::{App, Config, DataDir, Holder};
use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn start(name: &str, rate: Option<RateLimit>) -> (String, String, String) {
    let data = std::env::temp_dir().join(format!("holdpoint-ops-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let dir = DataDir::open(&data).unwrap();
    let agent = |n: &str| {
        dir.create_token(
            Holder::Agent {
                name: n.into(),
                tenants: vec!["acme".into()],
            },
            0,
        )
        .unwrap()
    };
    let (a, b) = (agent("bot-a"), agent("bot-b"));
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        approvers: Some(root().join("tests/data/approvals/approvers.yaml")),
        rate_limit: rate,
        ..Config::new(root().join("tests/data/approvals/refunds.gate"), &data)
    };
    let app = Arc::new(App::load(&config).unwrap());
    let listener = holdpoint_server::bind(config.listen).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(holdpoint_server::serve(
        app,
        listener,
        std::future::pending(),
    ));
    (base, a, b)
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{line_start}` in\n{text}"))
}

#[tokio::test]
async fn metrics_count_decisions_by_effect_and_answers_by_route() {
    let (base, agent, _) = start("metrics", None).await;
    let c = reqwest::Client::new();
    let decide = |amount: i64| {
        c.post(format!("{base}/v1/decisions"))
            .bearer_auth(&agent)
            .body(json!({"tool": "refund", "args": {"amount": amount}}).to_string())
            .send()
    };
    for _ in 0..3 {
        assert_eq!(decide(900).await.unwrap().status(), 200);
    }
    let bad = c
        .post(format!("{base}/v1/decisions"))
        .bearer_auth(&agent)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let text = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&text, "holdpoint_decisions_total{effect=\"approve\"} "),
        3.0
    );
    assert_eq!(
        metric(&text, "holdpoint_decision_duration_seconds_count "),
        3.0
    );
    assert_eq!(
        metric(
            &text,
            "holdpoint_http_responses_total{route=\"/v1/decisions\",status=\"2xx\"} "
        ),
        3.0
    );
    assert_eq!(
        metric(
            &text,
            "holdpoint_http_responses_total{route=\"/v1/decisions\",status=\"4xx\"} "
        ),
        1.0
    );
    assert_eq!(metric(&text, "holdpoint_requests{state=\"pending\"} "), 0.0);
}

#[tokio::test]
async fn a_caller_over_its_rate_gets_429_and_others_go_on() {
    let rate = RateLimit {
        per_second: 1.0,
        burst: 3.0,
    };
    let (base, a, b) = start("rate", Some(rate)).await;
    let c = reqwest::Client::new();
    let call = |token: &str| {
        c.post(format!("{base}/v1/decisions"))
            .bearer_auth(token)
            .body(json!({"tool": "refund", "args": {"amount": 10}}).to_string())
            .send()
    };
    for _ in 0..3 {
        assert_eq!(call(&a).await.unwrap().status(), 200);
    }
    let over = call(&a).await.unwrap();
    assert_eq!(over.status(), 429);
    assert!(over.headers().get("retry-after").is_some());
    let body: serde_json::Value = over.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Spelling the header differently is the same caller.
    let respelled = c
        .post(format!("{base}/v1/decisions"))
        .header("Authorization", format!("Bearer   {a}  "))
        .body(json!({"tool": "refund", "args": {"amount": 10}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(respelled.status(), 429);
    assert_eq!(call(&b).await.unwrap().status(), 200);
    let health = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}
