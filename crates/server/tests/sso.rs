//! Single sign-on to the web inbox against a small OpenID Connect provider started here on
//! loopback: discovery, the authorization-code flow with PKCE (the provider checks the
//! verifier against the challenge, as a real one does), the ID token's signature and
//! nonce, and the browser binding of each sign-in. Cookies are carried by hand, as a
//! browser would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use holdpoint_server::auth::jwt::{IdentityClaim, JwtConfig};
use holdpoint_server::web::sso::{challenge, discover};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CLIENT: &str = "holdpoint-inbox";

/// How the provider misbehaves, when a test asks it to.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Honest,
    WrongNonce,
}

/// One code the provider handed out.
struct Grant {
    challenge: String,
    nonce: String,
    redirect_uri: String,
}

struct Provider {
    issuer: String,
    key: ed25519_dalek::SigningKey,
    /// Who is signed in at the provider, and their groups.
    user: (String, Vec<String>),
    grants: HashMap<String, Grant>,
    mode: Mode,
    /// The verifiers the token endpoint was sent.
    verifiers: Vec<String>,
}

type Shared = Arc<Mutex<Provider>>;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn discovery(State(p): State<Shared>) -> Json<Value> {
    let issuer = p.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn authorize(State(p): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = format!("code-{}", q["state"].len() + p.lock().unwrap().grants.len());
    p.lock().unwrap().grants.insert(
        code.clone(),
        Grant {
            challenge: q["code_challenge"].clone(),
            nonce: q["nonce"].clone(),
            redirect_uri: q["redirect_uri"].clone(),
        },
    );
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        q["redirect_uri"], q["state"]
    ))
    .into_response()
}

async fn token(State(p): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut p = p.lock().unwrap();
    p.verifiers.push(f["code_verifier"].clone());
    let refuse = |why: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": why})),
        )
            .into_response()
    };
    let Some(grant) = p.grants.remove(&f["code"]) else {
        return refuse("unknown or used code");
    };
    if f["grant_type"] != "authorization_code" || f["client_id"] != CLIENT {
        return refuse("wrong grant or client");
    }
    if f["redirect_uri"] != grant.redirect_uri {
        return refuse("redirect_uri differs");
    }
    if challenge(&f["code_verifier"]) != grant.challenge {
        return refuse("PKCE verification failed");
    }
    let nonce = if p.mode == Mode::WrongNonce {
        "someone-elses".to_string()
    } else {
        grant.nonce
    };
    let claims = json!({
        "iss": p.issuer, "aud": CLIENT, "sub": "sub-1", "email": p.user.0,
        "email_verified": true, "groups": p.user.1, "nonce": nonce,
        "iat": now(), "exp": now() + 300,
    });
    let id_token = eddsa(&p.key, &claims);
    Json(json!({"access_token": "opaque", "token_type": "Bearer", "id_token": id_token}))
        .into_response()
}

fn eddsa(key: &ed25519_dalek::SigningKey, claims: &Value) -> String {
    use ed25519_dalek::Signer as _;
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": "idp-1"});
    let message = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = key.sign(message.as_bytes()).to_bytes();
    format!("{message}.{}", B64.encode(signature))
}

/// Starts the provider on loopback.
async fn provider(user: &str, groups: &[&str]) -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    let p = Arc::new(Mutex::new(Provider {
        issuer,
        key: ed25519_dalek::SigningKey::from_bytes(&seed),
        user: (user.into(), groups.iter().map(|g| g.to_string()).collect()),
        grants: HashMap::new(),
        mode: Mode::Honest,
        verifiers: Vec::new(),
    }));
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(p.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    p
}

/// The service, signing approvers in with `p`.
async fn service(name: &str, p: &Shared) -> support::Service {
    let (issuer, public) = {
        let p = p.lock().unwrap();
        (p.issuer.clone(), p.key.verifying_key().to_bytes())
    };
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "idp-1", "alg": "EdDSA",
        "x": B64.encode(public)}]});
    let dir = std::env::temp_dir().join(format!("holdpoint-sso-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jwks_path = dir.join("jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    // Discovery is async and the configuration is edited synchronously: find the
    // provider's endpoints first, for the base URL filled in below.
    let probe = discover(&issuer, CLIENT, None, "http://placeholder")
        .await
        .unwrap();
    support::start_edited(name, |config, base| {
        let mut s = probe.clone();
        s.redirect_uri = format!("{base}/ui/sso/callback");
        config.sso = Some(s);
        config.jwt = Some(JwtConfig {
            jwks: jwks_path,
            issuer,
            audience: CLIENT.into(),
            groups_claim: "groups".into(),
            identity_claim: IdentityClaim::Email,
        });
    })
    .await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value a `Set-Cookie` header of `r` gives cookie `name`.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(str::to_string))
}

fn value(cookie: &str) -> &str {
    cookie.split(';').next().unwrap()
}

/// Begins a sign-in as a browser would: the start's `hp_sso` cookie, and the provider's
/// redirect back (the callback URL with its code and state).
async fn begin(s: &support::Service) -> (String, String) {
    let c = client();
    let start = c
        .get(format!("{}/ui/sso/start", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&start, "hp_sso").expect("the start sets hp_sso");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let at_provider = start.headers()["location"].to_str().unwrap().to_string();
    let back = c.get(&at_provider).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with(&format!("{}/ui/sso/callback?code=", s.base)));
    (format!("hp_sso={}", value(&cookie)), callback)
}

async fn finish(callback: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = client().get(callback);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// `GET path` as the browser holding the session cookie `session` (a `Set-Cookie` value).
async fn signed_in_get(s: &support::Service, path: &str, session: &str) -> Value {
    client()
        .get(format!("{}{path}", s.base))
        .header("cookie", format!("hp_session={}", value(session)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn single_sign_on_opens_a_session_with_the_groups_the_provider_vouches_for() {
    let p = provider("pat@example.com", &["finance", "not-a-group-here"]).await;
    let s = service("flow", &p).await;
    let login = client()
        .get(format!("{}/ui/login", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains(r#"href="/ui/sso/start""#), "{login}");

    let (cookie, callback) = begin(&s).await;
    let done = finish(&callback, Some(&cookie)).await;
    let status = done.status();
    let session = set_cookie(&done, "hp_session");
    let page = done.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    let session = session.expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    assert!(page.contains("Signed in as pat@example.com"), "{page}");
    assert!(page.contains(r#"http-equiv="refresh" content="0; url=/ui/""#));

    // The verifier the provider got is the one whose challenge went to /authorize.
    let verifiers = p.lock().unwrap().verifiers.clone();
    assert_eq!(verifiers.len(), 1);
    assert!(verifiers[0].len() >= 43, "RFC 7636: 43 characters or more");

    let who = signed_in_get(&s, "/ui/session", &session).await;
    assert_eq!(who["approver"], "pat@example.com");
    assert_eq!(
        who["groups"],
        json!(["finance"]),
        "only groups approvers.yaml defines"
    );

    // The session reads the inbox of those groups.
    support::refund(&s, "run-sso", "c-1", 900, json!({})).await;
    let inbox = signed_in_get(&s, "/v1/inbox", &session).await;
    assert_eq!(inbox["approver"], "pat@example.com");
    assert_eq!(inbox["requests"].as_array().unwrap().len(), 1, "{inbox}");
}

#[tokio::test]
async fn a_sign_in_counts_once_and_only_in_the_browser_that_began_it() {
    let p = provider("pat@example.com", &["finance"]).await;
    let s = service("bound", &p).await;
    let (cookie, callback) = begin(&s).await;
    let elsewhere = finish(&callback, None).await;
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&elsewhere, "hp_session").is_none());
    assert!(
        elsewhere
            .text()
            .await
            .unwrap()
            .contains("not begun in this browser")
    );
    let forged = finish(&callback, Some("hp_sso=guessed")).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let done = finish(&callback, Some(&cookie)).await;
    assert_eq!(
        done.status(),
        StatusCode::OK,
        "the refusals did not use it up"
    );
    let again = finish(&callback, Some(&cookie)).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN, "a replayed callback");
    assert!(set_cookie(&again, "hp_session").is_none());
}

#[tokio::test]
async fn an_id_token_for_another_sign_in_or_a_provider_refusal_signs_no_one_in() {
    let p = provider("pat@example.com", &["finance"]).await;
    let s = service("nonce", &p).await;
    p.lock().unwrap().mode = Mode::WrongNonce;
    let (cookie, callback) = begin(&s).await;
    let r = finish(&callback, Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&r, "hp_session").is_none());
    assert!(r.text().await.unwrap().contains("nonce"));

    let (cookie, _) = begin(&s).await;
    let denied = format!(
        "{}/ui/sso/callback?error=access_denied&error_description=%3Cb%3Enot%20allowed%3C%2Fb%3E",
        s.base
    );
    let r = finish(&denied, Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("&lt;b&gt;not allowed&lt;/b&gt;"),
        "escaped: {page}"
    );

    let r = finish(&format!("{}/ui/sso/callback", s.base), Some(&cookie)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn discovery_refuses_a_provider_that_names_another_issuer() {
    let p = provider("pat@example.com", &[]).await;
    let issuer = p.lock().unwrap().issuer.clone();
    let e = discover(&format!("{issuer}/"), CLIENT, None, "http://127.0.0.1:1")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("names the issuer"), "{e}");
    let e = discover("http://127.0.0.1:1", CLIENT, None, "http://127.0.0.1:1")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot be read"), "{e}");
}

#[tokio::test]
async fn without_single_sign_on_the_login_page_offers_none_and_its_routes_are_not_found() {
    let s = support::start("sso-off").await;
    let login = client()
        .get(format!("{}/ui/login", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!login.contains("/ui/sso/start"));
    assert!(!login.contains("{{sso}}"));
    let r = client()
        .get(format!("{}/ui/sso/start", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
