//! What an approver reads over the API besides one call: the inbox soonest due first and
//! filtered, what they decided, the run a request belongs to with its running totals, and
//! the gates' statistics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};

/// Submits a refund of `amount` in `run`: its id and digest.
async fn refund(s: &support::Service, run: &str, call_id: &str, amount: i64) -> (String, String) {
    support::refund(s, run, call_id, amount, json!({})).await
}

/// `GET path` as the approver fiona: the status and the JSON.
async fn get(s: &support::Service, path: &str) -> (u16, Value) {
    let (status, text) = s.send("GET", path, Some(&s.approver), None).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// fiona decides `id`.
async fn decide(s: &support::Service, id: &str, body: Value) {
    let (status, text) = s
        .send(
            "POST",
            &format!("/v1/requests/{id}/decisions"),
            Some(&s.approver),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{text}");
}

fn ids(v: &Value) -> Vec<&str> {
    v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_inbox_is_soonest_due_first_and_filters_by_group_and_tool() {
    let s = support::start("inbox-order").await;
    let (first, _) = refund(&s, "run-1", "c1", 900).await;
    let (second, _) = refund(&s, "run-1", "c2", 800).await;
    let (status, v) = get(&s, "/v1/inbox").await;
    assert_eq!(status, 200, "{v}");
    // The same 48 h SLA: the one submitted first is due first.
    assert_eq!(ids(&v), [first.as_str(), second.as_str()]);
    let row = &v["requests"][0];
    assert_eq!(row["gates"], json!(["refund_over_lane"]), "{row}");
    assert_eq!(row["state"], json!("pending"));
    assert_eq!(row["amounts"], json!({"amount": 900}));
    for (query, expected) in [
        ("?group=finance", 2),
        ("?group=support-leads", 0),
        ("?tool=stripe.refund", 2),
        ("?tool=email.send", 0),
        ("?view=waiting&group=finance&tool=stripe.refund", 2),
    ] {
        let (status, v) = get(&s, &format!("/v1/inbox{query}")).await;
        assert_eq!(status, 200, "{query}: {v}");
        assert_eq!(ids(&v).len(), expected, "{query}: {v}");
    }
    for query in ["?view=everything", "?colour=red"] {
        let (status, text) = s
            .send("GET", &format!("/v1/inbox{query}"), Some(&s.approver), None)
            .await;
        assert_eq!(status, 400, "{query}: {text}");
        assert_eq!(support::error_code(&text).as_deref(), Some("bad_request"));
    }
}

#[tokio::test]
async fn decided_by_me_lists_what_i_decided_latest_first() {
    let s = support::start("inbox-decided").await;
    let (a, da) = refund(&s, "run-1", "a", 900).await;
    let (b, db) = refund(&s, "run-1", "b", 800).await;
    let (c, _) = refund(&s, "run-1", "c", 700).await;
    decide(&s, &a, json!({"decision": "approve", "digest": da})).await;
    decide(
        &s,
        &b,
        json!({"decision": "reject", "digest": db, "reason": "duplicate"}),
    )
    .await;
    let (_, waiting) = get(&s, "/v1/inbox").await;
    assert_eq!(ids(&waiting), [c.as_str()]);
    let (status, v) = get(&s, "/v1/inbox?view=decided").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["view"], json!("decided"));
    assert_eq!(ids(&v), [b.as_str(), a.as_str()]);
    let rejected = &v["requests"][0];
    assert_eq!(rejected["state"], json!("rejected"));
    assert_eq!(rejected["mine"]["decision"], json!("rejected"));
    assert_eq!(rejected["mine"]["reason"], json!("duplicate"));
    assert_eq!(rejected["mine"]["by"], json!("fiona"));
    assert_eq!(v["requests"][1]["mine"]["decision"], json!("approved"));
    assert_eq!(v["requests"][1]["state"], json!("approved"));
    // A decided request waits for no gate, and is still found by its gates' group.
    assert_eq!(rejected["gates"], json!([]), "{rejected}");
    let (_, finance) = get(&s, "/v1/inbox?view=decided&group=finance").await;
    assert_eq!(ids(&finance), [b.as_str(), a.as_str()]);
    let (_, leads) = get(&s, "/v1/inbox?view=decided&group=support-leads").await;
    assert_eq!(ids(&leads).len(), 0);
    // An agent reads no inbox of either kind.
    let (status, _) = s
        .send("GET", "/v1/inbox?view=decided", Some(&s.agent), None)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_request_shows_its_run_so_far_with_running_totals() {
    let s = support::start("inbox-run").await;
    let (one, d1) = refund(&s, "run-7", "s1", 900).await;
    // Another tool in the same run: listed, its numbers not added to the refunds'.
    let bulk = json!({
        "call": {"tool": "crm.bulk_update", "args": {"record_count": 2400, "filter": "all"}},
        "identity": {"user": "uma@example.com", "tenant": "acme"},
        "run_id": "run-7", "tool_call_id": "s1b",
    });
    let (status, text) = s
        .send(
            "POST",
            "/v1/requests",
            Some(&s.agent),
            Some(bulk.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let (two, d2) = refund(&s, "run-7", "s2", 700).await;
    let (three, _) = refund(&s, "run-7", "s3", 800).await;
    let (other, _) = refund(&s, "run-8", "s1", 600).await;
    decide(&s, &one, json!({"decision": "approve", "digest": d1})).await;
    decide(
        &s,
        &two,
        json!({"decision": "reject", "digest": d2, "reason": "too much"}),
    )
    .await;
    let (status, v) = get(&s, &format!("/v1/requests/{three}")).await;
    assert_eq!(status, 200, "{v}");
    let run = &v["run"];
    assert_eq!(run["id"], json!("run-7"));
    let steps = run["steps"].as_array().unwrap();
    let order: Vec<&str> = steps
        .iter()
        .map(|s| s["request"].as_str().unwrap())
        .collect();
    assert_eq!(order[0], one.as_str());
    assert_eq!(&order[2..], [two.as_str(), three.as_str()]);
    assert_eq!(steps[0]["decisions"][0]["decision"], json!("approved"));
    assert_eq!(steps[0]["decisions"][0]["by"], json!("fiona"));
    assert_eq!(steps[1]["tool"], json!("crm.bulk_update"));
    assert_eq!(steps[1]["counted"], json!(false));
    assert_eq!(steps[2]["decisions"][0]["decision"], json!("rejected"));
    // The rejected step's 700 is not in the totals: 900 + 800.
    assert_eq!(steps[2]["counted"], json!(false));
    assert_eq!(steps[2]["running"], json!({"amount": 900}));
    assert_eq!(steps[3]["running"], json!({"amount": 1700}));
    assert_eq!(run["totals"], json!({"amount": 1700}));
    assert_eq!(
        (&run["earlier"], &run["unreadable"]),
        (&json!(0), &json!(0))
    );
    let current: Vec<bool> = steps
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [false, false, false, true]);
    // The run as it stood at the first step: only that step.
    let (_, first) = get(&s, &format!("/v1/requests/{one}")).await;
    assert_eq!(first["run"]["steps"].as_array().unwrap().len(), 1);
    assert_eq!(first["run"]["totals"], json!({"amount": 900}));
    // Another run is its own.
    let (_, o) = get(&s, &format!("/v1/requests/{other}")).await;
    assert_eq!(o["run"]["steps"].as_array().unwrap().len(), 1);
    // An agent sees no run (nor the checkpoint).
    let (_, text) = s
        .send(
            "GET",
            &format!("/v1/requests/{three}"),
            Some(&s.agent),
            None,
        )
        .await;
    let agent: Value = serde_json::from_str(&text).unwrap();
    assert!(agent.get("run").is_none(), "{agent}");
}

#[tokio::test]
async fn stats_give_each_gates_numbers_and_decisions_per_day() {
    let s = support::start("inbox-stats").await;
    let (empty_status, empty) = get(&s, "/v1/stats").await;
    assert_eq!(empty_status, 200);
    assert_eq!(empty["gates"], json!([]));
    let (a, da) = refund(&s, "run-1", "a", 900).await;
    let (b, db) = refund(&s, "run-1", "b", 800).await;
    let (c, dc) = refund(&s, "run-1", "c", 700).await;
    decide(&s, &a, json!({"decision": "approve", "digest": da})).await;
    decide(
        &s,
        &b,
        json!({"decision": "edit", "digest": db, "set": {"amount": 600}}),
    )
    .await;
    decide(
        &s,
        &c,
        json!({"decision": "reject", "digest": dc, "reason": "no"}),
    )
    .await;
    let (status, v) = get(&s, "/v1/stats").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rubber_stamp_share"], json!(0.95));
    assert_eq!(v["min_decisions"], json!(20));
    let gate = v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "refund_over_lane")
        .unwrap();
    assert_eq!(gate["fired"], json!(3), "{gate}");
    assert_eq!(
        (
            &gate["approved"],
            &gate["approved_with_edits"],
            &gate["rejected"]
        ),
        (&json!(1), &json!(1), &json!(1)),
        "{gate}"
    );
    assert_eq!(gate["rubber_stamp"], json!(false));
    assert_eq!(gate["advice"], Value::Null);
    let days = gate["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{gate}");
    assert_eq!(
        (
            &days[0]["approved"],
            &days[0]["edited"],
            &days[0]["rejected"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    let (status, _) = s.send("GET", "/v1/stats", Some(&s.agent), None).await;
    assert_eq!(status, 403);
    let (status, _) = s.send("GET", "/v1/stats", None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn after_an_edit_the_reasons_are_the_policys_for_the_edited_call() {
    let s = support::start("inbox-reasons").await;
    let (id, digest) = refund(&s, "run-1", "e", 900).await;
    let (_, before) = get(&s, &format!("/v1/requests/{id}")).await;
    assert!(before["reasons"].to_string().contains("900"), "{before}");
    decide(
        &s,
        &id,
        json!({"decision": "edit", "digest": digest, "set": {"amount": 450}}),
    )
    .await;
    let (_, after) = get(&s, &format!("/v1/requests/{id}")).await;
    let reasons = after["reasons"].to_string();
    assert!(reasons.contains("450"), "{reasons}");
    assert!(!reasons.contains("900"), "{reasons}");
    let (_, decided) = get(&s, "/v1/inbox?view=decided").await;
    assert_eq!(decided["requests"][0]["reasons"], after["reasons"]);
}

#[tokio::test]
async fn a_preview_of_a_call_that_changed_since_is_refused() {
    let s = support::start("inbox-stale-preview").await;
    let (id, digest) = refund(&s, "run-1", "p", 900).await;
    let preview = |digest: &str| {
        json!({"decision": "edit", "digest": digest, "set": {"amount": 450}}).to_string()
    };
    let path = format!("/v1/requests/{id}/preview");
    let (status, text) = s
        .send("POST", &path, Some(&s.approver), Some(preview(&digest)))
        .await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = s
        .send(
            "POST",
            &path,
            Some(&s.approver),
            Some(preview("sha256:0000")),
        )
        .await;
    assert_eq!(status, 409, "{text}");
    assert_eq!(support::error_code(&text).as_deref(), Some("conflict"));
}
