//! The service end to end over real HTTP on loopback: an agent proposes, the approver's
//! inbox shows it, forged and self-decisions are refused, a member approves, the agent's
//! wait returns, the claim gives a permit that verifies with the published key, once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use holdpoint::approval::permit;
use holdpoint_server::{App, Config, DataDir, Holder};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Service {
    base: String,
    agent: String,
    other_tenant_agent: String,
    fiona: String,
    uma: String,
    client: reqwest::Client,
}

async fn start(name: &str) -> Service {
    let data = std::env::temp_dir().join(format!("holdpoint-serve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        approvers: Some(root().join("tests/data/approvals/approvers.yaml")),
        ..Config::new(root().join("tests/data/approvals/refunds.gate"), &data)
    };
    let dir = DataDir::open(&data).unwrap();
    let token = |h: Holder| dir.create_token(h, 0).unwrap();
    let agent = token(Holder::Agent {
        name: "support-bot".into(),
        tenants: vec!["acme".into()],
    });
    let other_tenant_agent = token(Holder::Agent {
        name: "other-bot".into(),
        tenants: vec!["globex".into()],
    });
    let fiona = token(Holder::Approver { id: "fiona".into() });
    let uma = token(Holder::Approver { id: "uma".into() });
    let app = Arc::new(App::load(&config).unwrap());
    let listener = holdpoint_server::bind(config.listen).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(holdpoint_server::serve(
        app,
        listener,
        std::future::pending(),
    ));
    Service {
        base,
        agent,
        other_tenant_agent,
        fiona,
        uma,
        client: reqwest::Client::new(),
    }
}

impl Service {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn refund(call_id: &str) -> Value {
    json!({
        "call": {"tool": "refund", "args": {"amount": 900, "order": "o-1"}, "context": {"tier": "standard"}},
        "identity": {"user": "uma", "tenant": "acme"},
        "run_id": "run-1", "tool_call_id": call_id,
        "reasoning": "the parcel arrived crushed",
    })
}

#[tokio::test]
async fn the_whole_loop_over_http() {
    let s = start("loop").await;
    let (code, r) = s
        .call("POST", "/v1/requests", Some(&s.agent), Some(refund("c1")))
        .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        (r["effect"].as_str(), r["state"].as_str()),
        (Some("approve"), Some("pending"))
    );
    assert_eq!(r["gates"][0]["groups"], json!(["finance"]));
    let id = r["request"].as_str().unwrap().to_string();
    let digest = r["digest"].as_str().unwrap().to_string();

    let (code, inbox) = s.call("GET", "/v1/inbox", Some(&s.fiona), None).await;
    assert_eq!(code, 200, "{inbox}");
    assert_eq!(inbox["requests"][0]["request"], json!(id));
    assert_eq!(inbox["requests"][0]["amounts"]["amount"], 900);

    // The user the call acts for does not find it in an inbox of theirs.
    let (_, theirs) = s.call("GET", "/v1/inbox", Some(&s.uma), None).await;
    assert_eq!(theirs["requests"], json!([]), "{theirs}");

    let approve = json!({"decision": "approve", "digest": digest});
    let path = format!("/v1/requests/{id}/decisions");
    // The agent cannot decide, whatever it claims to be.
    let (code, _) = s
        .call("POST", &path, Some(&s.agent), Some(approve.clone()))
        .await;
    assert_eq!(code, 403);
    // The user the call acts for cannot decide it.
    let (code, e) = s
        .call("POST", &path, Some(&s.uma), Some(approve.clone()))
        .await;
    assert_eq!(code, 403, "{e}");
    // No token, or an unknown one.
    assert_eq!(
        s.call("POST", &path, None, Some(approve.clone())).await.0,
        401
    );
    assert_eq!(
        s.call("POST", &path, Some("hpt_nope"), Some(approve.clone()))
            .await
            .0,
        401
    );
    // Another tenant's agent does not see it.
    let (code, _) = s
        .call(
            "GET",
            &format!("/v1/requests/{id}"),
            Some(&s.other_tenant_agent),
            None,
        )
        .await;
    assert_eq!(code, 404);

    // The agent waits; the approval ends its wait.
    let waiter = {
        let (base, token, id) = (s.base.clone(), s.agent.clone(), id.clone());
        tokio::spawn(async move {
            let r = reqwest::Client::new()
                .get(format!("{base}/v1/requests/{id}/wait?timeout=20"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, r) = s
        .call("POST", &path, Some(&s.fiona), Some(approve.clone()))
        .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["state"], "approved");
    let waited = waiter.await.unwrap();
    assert_eq!(waited["state"], "approved");

    let claim_path = format!("/v1/requests/{id}/claim");
    let (code, c) = s.call("POST", &claim_path, Some(&s.agent), None).await;
    assert_eq!(code, 200, "{c}");
    let (_, keys) = s.call("GET", "/v1/keys", None, None).await;
    let key = keys["keys"][0]["public_key"].as_str().unwrap();
    let token = c["permit"].as_str().unwrap();
    let args = &c["call"]["args"];
    let claims = permit::verify(key, token, "refund", args, 0).unwrap();
    assert_eq!(
        (claims.request.as_str(), claims.tenant.as_str()),
        (id.as_str(), "acme")
    );
    // A tool server refuses the permit for any other call.
    let bigger = json!({"amount": 90000, "order": "o-1"});
    assert!(permit::verify(key, token, "refund", &bigger, 0).is_err());
    // A second claim is refused.
    let (code, _) = s.call("POST", &claim_path, Some(&s.agent), None).await;
    assert_eq!(code, 409);

    let report = json!({"claim": c["claim"], "outcome": "executed", "result": {"refund": "re_1"}});
    let (code, r) = s
        .call(
            "POST",
            &format!("/v1/requests/{id}/report"),
            Some(&s.agent),
            Some(report),
        )
        .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["state"], "executed");
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx() {
    let s = start("bad").await;
    for (path, body) in [
        ("/v1/requests", "{not json"),
        (
            "/v1/requests",
            r#"{"call": {"tool": "refund", "args": {"amount": 1, "amount": 2}}}"#,
        ),
        ("/v1/decisions", r#"{"tool": ""}"#),
    ] {
        let resp = s
            .client
            .post(format!("{}{path}", s.base))
            .bearer_auth(&s.agent)
            .body(body)
            .send()
            .await
            .unwrap();
        let code = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(code, 400, "{path} {body}: {v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    // Arguments too deep to store, hidden in an `arguments` string: refused, not stored
    // and then unreadable.
    let deep = format!("{}1{}", r#"{"a":"#.repeat(100), "}".repeat(100));
    let call = json!({"call": {"function": {"name": "refund", "arguments": deep}}});
    let (code, v) = s
        .call("POST", "/v1/requests", Some(&s.agent), Some(call))
        .await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("nests"),
        "{v}"
    );
    // A proposal for a tenant the agent does not serve.
    let mut p = refund("c9");
    p["identity"]["tenant"] = json!("globex");
    let (code, _) = s
        .call("POST", "/v1/requests", Some(&s.agent), Some(p))
        .await;
    assert_eq!(code, 403);
    let (code, _) = s
        .call("GET", "/v1/requests/hp_nothing", Some(&s.agent), None)
        .await;
    assert_eq!(code, 404);
}

/// Reads a Server-Sent Events stream to its end: the `event:` names, and the last `id:`.
async fn read_sse(base: &str, token: &str, id: &str, last: Option<&str>) -> (Vec<String>, String) {
    let mut req = reqwest::Client::new()
        .get(format!("{base}/v1/requests/{id}/events"))
        .bearer_auth(token);
    if let Some(l) = last {
        req = req.header("Last-Event-ID", l);
    }
    let mut resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut text = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(20), resp.chunk())
        .await
        .expect("the stream ends once the request is final")
        .unwrap()
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let names = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .map(str::to_string)
        .collect();
    let last_id = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap_or_default()
        .to_string();
    (names, last_id)
}

#[tokio::test]
async fn events_stream_as_they_happen_and_a_settled_wait_returns_at_once() {
    let mut proposal = refund("c-sse");
    proposal["before"] = json!({"amount": 0, "order": "o-1", "note": "nothing refunded yet"});
    let s = start("follow").await;
    let (_, r) = s
        .call("POST", "/v1/requests", Some(&s.agent), Some(proposal))
        .await;
    let id = r["request"].as_str().unwrap().to_string();
    assert_eq!(r["state"], "pending", "{r}");
    let follower = {
        let (base, token, id) = (s.base.clone(), s.agent.clone(), id.clone());
        tokio::spawn(async move { read_sse(&base, &token, &id, None).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, shown) = s
        .call("GET", &format!("/v1/requests/{id}"), Some(&s.fiona), None)
        .await;
    // The approver sees what the call changes: before → proposed.
    assert_eq!(shown["before"]["amount"], 0);
    let changes = shown["changes"].as_array().unwrap();
    assert!(
        changes.contains(&json!({"op": "replace", "path": "/amount", "value": 900})),
        "{changes:?}"
    );
    assert!(
        changes.contains(&json!({"op": "remove", "path": "/note"})),
        "{changes:?}"
    );
    let approve = json!({"decision": "approve", "digest": shown["digest"]});
    let path = format!("/v1/requests/{id}/decisions");
    let (code, _) = s.call("POST", &path, Some(&s.fiona), Some(approve)).await;
    assert_eq!(code, 200);

    // Decided already: the wait answers at once, not after its timeout.
    let began = std::time::Instant::now();
    let (code, w) = s
        .call(
            "GET",
            &format!("/v1/requests/{id}/wait?timeout=30"),
            Some(&s.agent),
            None,
        )
        .await;
    assert_eq!((code, w["state"].as_str()), (200, Some("approved")));
    assert!(began.elapsed() < Duration::from_secs(10));

    let (_, c) = s
        .call(
            "POST",
            &format!("/v1/requests/{id}/claim"),
            Some(&s.agent),
            None,
        )
        .await;
    let report = json!({"claim": c["claim"], "outcome": "executed"});
    let (code, _) = s
        .call(
            "POST",
            &format!("/v1/requests/{id}/report"),
            Some(&s.agent),
            Some(report),
        )
        .await;
    assert_eq!(code, 200);
    let (names, last) = follower.await.unwrap();
    assert_eq!(names, ["created", "approved", "claimed", "executed"]);

    // Reconnecting after the second event gives the rest, then ends.
    let (rest, again) = read_sse(&s.base, &s.agent, &id, Some("2")).await;
    assert_eq!(rest, ["claimed", "executed"]);
    assert_eq!(again, last);
    // Another tenant's agent cannot follow it.
    let (code, _) = s
        .call(
            "GET",
            &format!("/v1/requests/{id}/events"),
            Some(&s.other_tenant_agent),
            None,
        )
        .await;
    assert_eq!(code, 404);
}
