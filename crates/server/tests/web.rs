//! The web inbox's sign-in and session, over real HTTP: the login form is bound to the
//! browser by a cookie, only an approver's token signs in, the session cookie is HttpOnly
//! and SameSite=Strict, a state-changing call from a session needs the session's CSRF
//! token, an agent never acts through a session, sign-out ends it, and every page carries
//! a strict Content-Security-Policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::header::{
    CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE, STRICT_TRANSPORT_SECURITY,
};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value a `Set-Cookie` header gives `name`, and the whole header.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers().get_all(SET_COOKIE).iter().find_map(|h| {
        let h = h.to_str().ok()?;
        let value = h.strip_prefix(&format!("{name}="))?.split(';').next()?;
        Some((value.to_string(), h.to_string()))
    })
}

/// The hidden `csrf` field of the login form.
fn form_token(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// Signs in with `token`: the answer to the form's POST.
async fn sign_in(s: &support::Service, token: &str) -> reqwest::Response {
    let c = browser();
    let page = c.get(format!("{}/ui/login", s.base)).send().await.unwrap();
    let (bound, _) = set_cookie(&page, "hp_login").unwrap();
    let csrf = form_token(&page.text().await.unwrap());
    c.post(format!("{}/ui/login", s.base))
        .header(COOKIE, format!("hp_login={bound}"))
        .form(&[("token", token), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

/// A signed-in approver's session cookie and CSRF token.
async fn session(s: &support::Service) -> (String, String) {
    let r = sign_in(s, &s.approver).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/ui/");
    let (cookie, header) = set_cookie(&r, "hp_session").unwrap();
    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Strict"), "{header}");
    let me: Value = browser()
        .get(format!("{}/ui/session", s.base))
        .header(COOKIE, format!("hp_session={cookie}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["approver"], json!("fiona"));
    assert_eq!(me["groups"], json!(["finance"]));
    (cookie, me["csrf"].as_str().unwrap().to_string())
}

/// A 900 refund that waits for finance, with markup in its reasoning: its id and digest.
async fn waiting(s: &support::Service, call_id: &str) -> (String, String) {
    let reasoning = json!({"reasoning": "<script>alert(1)</script><img src=x onerror=alert(2)>"});
    support::refund(s, "run-1", call_id, 900, reasoning).await
}

#[tokio::test]
async fn behind_https_every_answer_asks_the_browser_to_keep_to_https() {
    let plain = support::start("web-plain").await;
    let r = browser()
        .get(format!("{}/ui/login", plain.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(STRICT_TRANSPORT_SECURITY).is_none());
    let s = support::start_edited("web-hsts", |c, _| c.https = true).await;
    for path in ["/ui/login", "/healthz", "/v1/inbox"] {
        let r = browser()
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        let hsts = r.headers().get(STRICT_TRANSPORT_SECURITY);
        assert_eq!(
            hsts.map(|h| h.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    // Its cookies are Secure.
    let page = browser()
        .get(format!("{}/ui/login", s.base))
        .send()
        .await
        .unwrap();
    let (_, header) = set_cookie(&page, "hp_login").unwrap();
    assert!(header.contains("; Secure"), "{header}");
}

#[tokio::test]
async fn a_webhooks_link_opens_the_requests_page_in_the_inbox() {
    let s = support::start("web-link").await;
    let (id, _) = waiting(&s, "c-link").await;
    let r = browser()
        .get(format!("{}/inbox/{id}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], format!("/ui/#/r/{id}").as_str());
    let r = browser()
        .get(format!("{}/inbox/a%22b", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn pages_ask_for_a_sign_in_and_carry_a_strict_content_security_policy() {
    let s = support::start("web-pages").await;
    let c = browser();
    let r = c.get(format!("{}/ui/", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/ui/login");
    for path in ["/ui/login", "/ui/app.js", "/ui/app.css"] {
        let r = c.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(r.headers()["x-frame-options"], "DENY");
    }
    let (cookie, _) = session(&s).await;
    let page = c
        .get(format!("{}/ui/", s.base))
        .header(COOKIE, format!("hp_session={cookie}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // No inline script: the one script is the service's own file.
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    assert!(
        page.contains(r#"<script src="/ui/app.js" defer></script>"#),
        "{page}"
    );
    let js = c
        .get(format!("{}/ui/app.js", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !js.contains("innerHTML"),
        "what an agent sent is only ever text"
    );
}

#[tokio::test]
async fn only_an_approvers_token_with_the_forms_own_token_signs_in() {
    let s = support::start("web-login").await;
    let r = sign_in(&s, &s.agent).await;
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "hp_session").is_none());
    assert!(r.text().await.unwrap().contains("agent"));
    let r = sign_in(&s, "hpt_not-a-token").await;
    assert_eq!(r.status(), 401);
    assert!(set_cookie(&r, "hp_session").is_none());
    // A form posted from elsewhere (no cookie binding it to this browser) is refused.
    let r = browser()
        .post(format!("{}/ui/login", s.base))
        .form(&[("token", s.approver.as_str()), ("csrf", "guessed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "hp_session").is_none());
    // A body that is not the form is a page saying so, not a 5xx.
    let r = browser()
        .post(format!("{}/ui/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=%ZZ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_session_decides_only_with_its_csrf_token_and_ends_at_sign_out() {
    let s = support::start("web-session").await;
    let (cookie, csrf) = session(&s).await;
    let (id, digest) = waiting(&s, "c1").await;
    let c = browser();
    let inbox: Value = c
        .get(format!("{}/v1/inbox", s.base))
        .header(COOKIE, format!("hp_session={cookie}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["requests"][0]["request"], json!(id), "{inbox}");

    let decide = |token: Option<&str>| {
        let mut r = c
            .post(format!("{}/v1/requests/{id}/decisions", s.base))
            .header(COOKIE, format!("hp_session={cookie}"))
            .json(&json!({"decision": "approve", "digest": digest}));
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        r.send()
    };
    // A cross-site form or script cannot know the token.
    assert_eq!(decide(None).await.unwrap().status(), 403);
    assert_eq!(decide(Some("wrong")).await.unwrap().status(), 403);
    let r = decide(Some(&csrf)).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"], json!("approved"), "{v}");

    // A session is an approver's: it never makes an agent's call.
    let r = c
        .post(format!("{}/v1/decisions", s.base))
        .header(COOKIE, format!("hp_session={cookie}"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"tool": "stripe.refund", "args": {"amount": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Sign-out needs the session's token too, then the cookie no longer works.
    let out = |token: &str| {
        c.post(format!("{}/ui/logout", s.base))
            .header(COOKIE, format!("hp_session={cookie}"))
            .form(&[("csrf", token)])
            .send()
    };
    assert_eq!(out("wrong").await.unwrap().status(), 403);
    assert_eq!(out(&csrf).await.unwrap().status(), 303);
    let r = c
        .get(format!("{}/v1/inbox", s.base))
        .header(COOKIE, format!("hp_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(format!("{}/v1/inbox", s.base))
        .header(COOKIE, "hp_session=made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_inbox_stream_announces_a_new_request() {
    let s = support::start("web-stream").await;
    let (cookie, _) = session(&s).await;
    let mut stream = browser()
        .get(format!("{}/v1/inbox/events", s.base))
        .header(COOKIE, format!("hp_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    waiting(&s, "c-stream").await;
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
        .await
        .expect("no event within 5 s")
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("event: changed"), "{text}");
    // A browser's EventSource drops an event whose data is empty: it must carry some.
    assert!(
        text.lines().any(|l| l
            .strip_prefix("data:")
            .is_some_and(|d| !d.trim().is_empty())),
        "{text}"
    );
    // An agent does not follow the inbox.
    let (status, _) = s
        .send("GET", "/v1/inbox/events", Some(&s.agent), None)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_preview_shows_an_edits_diff_and_the_policys_new_decision_and_stores_nothing() {
    let s = support::start("web-preview").await;
    let (cookie, csrf) = session(&s).await;
    let (id, digest) = waiting(&s, "c-preview").await;
    let c = browser();
    let preview = |amount: i64| {
        c.post(format!("{}/v1/requests/{id}/preview", s.base))
            .header(COOKIE, format!("hp_session={cookie}"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"decision": "edit", "digest": digest, "set": {"amount": amount}}))
            .send()
    };
    let p: Value = preview(450).await.unwrap().json().await.unwrap();
    assert_eq!(
        p["changes"],
        json!([{"op": "replace", "path": "/amount", "value": 450}]),
        "{p}"
    );
    assert_eq!(p["args"]["amount"], json!(450));
    assert!(p["decision"]["effect"].is_string(), "{p}");
    assert_eq!(p["conforms"], json!(true), "{p}");
    let p: Value = preview(6000).await.unwrap().json().await.unwrap();
    assert_eq!(p["decision"]["effect"], json!("deny"), "{p}");
    // An edit the catalog refuses (a text amount) is said so, as a decision would.
    let p: Value = c
        .post(format!("{}/v1/requests/{id}/preview", s.base))
        .header(COOKIE, format!("hp_session={cookie}"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"decision": "edit", "digest": digest, "set": {"amount": "lots"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p["conforms"], json!(false), "{p}");
    assert!(p["problem"].as_str().unwrap().contains("amount"), "{p}");
    // Nothing changed: the request still waits, with the agent's arguments.
    let (_, text) = s
        .send(
            "GET",
            &format!("/v1/requests/{id}"),
            Some(&s.approver),
            None,
        )
        .await;
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["state"], json!("pending"));
    assert_eq!(r["call"]["args"]["amount"], json!(900));
    assert_eq!(r["digest"], json!(digest));
    // A preview is of an edit, and never an agent's.
    let (status, _) = s
        .send(
            "POST",
            &format!("/v1/requests/{id}/preview"),
            Some(&s.approver),
            Some(json!({"decision": "approve", "digest": digest}).to_string()),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = s
        .send(
            "POST",
            &format!("/v1/requests/{id}/preview"),
            Some(&s.agent),
            Some(json!({"decision": "edit", "digest": digest, "set": {"amount": 1}}).to_string()),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_shutdown_ends_open_streams_instead_of_waiting_for_them() {
    let (s, stop, served) = support::start_stoppable("web-shutdown").await;
    let (cookie, _) = session(&s).await;
    let (id, _) = waiting(&s, "c-shutdown").await;
    let inbox = browser()
        .get(format!("{}/v1/inbox/events", s.base))
        .header(COOKIE, format!("hp_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(inbox.status(), 200);
    let request_events = browser()
        .get(format!("{}/v1/requests/{id}/events", s.base))
        .bearer_auth(&s.agent)
        .send()
        .await
        .unwrap();
    assert_eq!(request_events.status(), 200);
    stop.send(()).unwrap();
    let done = tokio::time::timeout(std::time::Duration::from_secs(10), served).await;
    assert!(
        done.is_ok(),
        "the service kept waiting for the open streams after a shutdown"
    );
    drop((inbox, request_events));
}

#[tokio::test]
async fn removing_an_approvers_token_ends_their_sessions() {
    let s = support::start("web-revoked").await;
    let (cookie, _) = session(&s).await;
    let inbox = || {
        browser()
            .get(format!("{}/v1/inbox", s.base))
            .header(COOKIE, format!("hp_session={cookie}"))
            .send()
    };
    assert_eq!(inbox().await.unwrap().status(), 200);
    let path = s.data.join("tokens.json");
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    file["tokens"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["holder"].get("approver").is_none());
    std::fs::write(&path, file.to_string()).unwrap();
    // Found tokens are trusted for up to a second before the file is looked at again.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(inbox().await.unwrap().status(), 401);
}
