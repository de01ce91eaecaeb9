//! Approvers signing in with JWTs (an identity provider's ID tokens), over real HTTP on
//! loopback: keys made here, a JWKS file, the service started with it. A valid JWT's
//! groups claim lets its holder see and decide what waits for those groups; everything
//! else is refused with a clear 401, a party to the call gets 403 whatever its groups,
//! and a JWT is never an agent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use holdpoint_server::auth::jwt::{IdentityClaim, JwtConfig};
use holdpoint_server::{App, Config, DataDir, Holder, StartError};
use serde_json::{Value, json};

const ISSUER: &str = "https://sso.example.com";
const AUDIENCE: &str = "holdpoint";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A 2048-bit RSA key made once for these tests (`openssl genpkey`; making one here would
/// be slow in a debug build): its PKCS#8 DER in base64, and its modulus in base64url.
const RSA_KEY: &str = include_str!("data/rsa-test-key.pk8.b64");
const RSA_N: &str = include_str!("data/rsa-test-key.n.b64url");

fn rs256(kid: &str, claims: &Value) -> String {
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    let der = base64::engine::general_purpose::STANDARD
        .decode(RSA_KEY.trim())
        .unwrap();
    let key = rsa::PrivateKey::from_pkcs8_der(&der).unwrap();
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    compact(&header, claims, |m| signer.sign(m).to_vec())
}

/// The identity provider's keys: an Ed25519 one and a P-256 one (and [`RSA_KEY`]).
struct Keys {
    ed: ed25519_dalek::SigningKey,
    ec: p256::ecdsa::SigningKey,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            ed: ed25519_dalek::SigningKey::from_bytes(&random32()),
            ec: p256::ecdsa::SigningKey::from_slice(&random32()).unwrap(),
        }
    }

    fn jwks(&self) -> Value {
        let point = self.ec.verifying_key().to_sec1_point(false);
        let xy = point.as_bytes();
        json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "use": "sig", "alg": "EdDSA",
             "x": B64.encode(self.ed.verifying_key().to_bytes())},
            {"kty": "EC", "crv": "P-256", "kid": "ec-1",
             "x": B64.encode(&xy[1..33]), "y": B64.encode(&xy[33..65])},
            {"kty": "RSA", "kid": "rsa-1", "use": "sig", "n": RSA_N.trim(), "e": "AQAB"},
        ]})
    }
}

/// A compact JWT with this header and these claims, signed by `sign`.
fn compact(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let message = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = sign(message.as_bytes());
    format!("{message}.{}", B64.encode(signature))
}

fn eddsa(key: &ed25519_dalek::SigningKey, kid: &str, claims: &Value) -> String {
    use ed25519_dalek::Signer as _;
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    compact(&header, claims, |m| key.sign(m).to_bytes().to_vec())
}

fn es256(key: &p256::ecdsa::SigningKey, kid: &str, claims: &Value) -> String {
    use p256::ecdsa::signature::Signer as _;
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    compact(&header, claims, |m| {
        let s: p256::ecdsa::Signature = key.sign(m);
        s.to_bytes().to_vec()
    })
}

/// An ID token's claims for `email`, valid for an hour, in `groups`.
fn claims(email: &str, groups: &[&str]) -> Value {
    json!({
        "iss": ISSUER, "aud": [AUDIENCE, "other-app"], "sub": format!("sub-{email}"),
        "email": email, "email_verified": true, "groups": groups,
        "iat": now(), "exp": now() + 3600,
    })
}

struct Service {
    base: String,
    agent: String,
    keys: Keys,
    client: reqwest::Client,
}

fn config(name: &str, jwks: Value, identity: IdentityClaim) -> Config {
    let data = std::env::temp_dir().join(format!("holdpoint-jwt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    let jwks_path = data.join("jwks.json");
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        approvers: Some(root().join("tests/data/approvals/approvers.yaml")),
        jwt: Some(JwtConfig {
            jwks: jwks_path,
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            groups_claim: "groups".into(),
            identity_claim: identity,
        }),
        ..Config::new(
            root().join("tests/data/approvals/refunds.gate"),
            data.join("data"),
        )
    }
}

async fn start_with(name: &str, identity: IdentityClaim) -> Service {
    let keys = Keys::new();
    let config = config(name, keys.jwks(), identity);
    let dir = DataDir::open(&config.data).unwrap();
    let agent = dir
        .create_token(
            Holder::Agent {
                name: "support-bot".into(),
                tenants: vec!["acme".into()],
            },
            0,
        )
        .unwrap();
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
        keys,
        client: reqwest::Client::new(),
    }
}

async fn start(name: &str) -> Service {
    start_with(name, IdentityClaim::Email).await
}

impl Service {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url),
        };
        req = req.bearer_auth(token);
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

    /// A refund of 900 for `user`: it waits for "finance" (fiona and frank in the file).
    async fn submit(&self, user: &str, call_id: &str) -> (String, String) {
        let body = json!({
            "call": {"tool": "refund", "args": {"amount": 900, "order": "o-1"}, "context": {"tier": "standard"}},
            "identity": {"user": user, "tenant": "acme"},
            "run_id": "run-1", "tool_call_id": call_id,
        });
        let (code, r) = self
            .call("POST", "/v1/requests", &self.agent, Some(body))
            .await;
        assert_eq!(code, 200, "{r}");
        assert_eq!(r["gates"][0]["groups"], json!(["finance"]));
        (
            r["request"].as_str().unwrap().to_string(),
            r["digest"].as_str().unwrap().to_string(),
        )
    }

    fn jwt(&self, claims: &Value) -> String {
        eddsa(&self.keys.ed, "ed-1", claims)
    }
}

fn inbox_ids(inbox: &Value) -> Vec<String> {
    inbox["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_jwt_approver_in_the_claimed_group_sees_the_request_and_approves_it() {
    let s = start("approve").await;
    let (id, digest) = s.submit("uma@example.com", "c1").await;
    let sam = s.jwt(&claims("sam@example.com", &["finance", "everyone"]));
    let (code, inbox) = s.call("GET", "/v1/inbox", &sam, None).await;
    assert_eq!(code, 200, "{inbox}");
    assert_eq!(inbox["approver"], "sam@example.com");
    assert_eq!(inbox_ids(&inbox), vec![id.clone()]);

    // The same person without the group in the token sees nothing and cannot decide.
    let bare = s.jwt(&claims("sam@example.com", &[]));
    let (_, theirs) = s.call("GET", "/v1/inbox", &bare, None).await;
    assert_eq!(inbox_ids(&theirs), Vec::<String>::new());
    let path = format!("/v1/requests/{id}/decisions");
    let approve = json!({"decision": "approve", "digest": digest});
    let (code, r) = s.call("POST", &path, &bare, Some(approve.clone())).await;
    assert_eq!(code, 403, "{r}");

    // The P-256 and RSA keys of the same set work as well as the Ed25519 one.
    let sam_claims = claims("sam@example.com", &["finance"]);
    for token in [
        es256(&s.keys.ec, "ec-1", &sam_claims),
        rs256("rsa-1", &sam_claims),
    ] {
        let (code, r) = s.call("GET", "/v1/inbox", &token, None).await;
        assert_eq!(code, 200, "{r}");
        assert_eq!(inbox_ids(&r), vec![id.clone()]);
    }
    let (code, r) = s
        .call("GET", "/v1/inbox", &rs256("ed-1", &sam_claims), None)
        .await;
    assert_eq!(
        code, 401,
        "an RSA signature under the Ed25519 key's kid: {r}"
    );

    let (code, r) = s.call("POST", &path, &sam, Some(approve)).await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["state"], "approved");

    // The agent's claim is proved from the events, where the vouched group is recorded.
    let (code, c) = s
        .call("POST", &format!("/v1/requests/{id}/claim"), &s.agent, None)
        .await;
    assert_eq!(code, 200, "{c}");
    assert!(c["permit"].is_string());
}

#[tokio::test]
async fn bad_jwts_are_refused_with_401_saying_why() {
    let s = start("refused").await;
    let good = claims("sam@example.com", &["finance"]);
    let with = |change: Value| {
        let mut c = good.clone();
        for (k, v) in change.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let stranger = ed25519_dalek::SigningKey::from_bytes(&random32());
    let unsigned = format!(
        "{}.{}.",
        B64.encode(json!({"alg": "none", "kid": "ed-1"}).to_string()),
        B64.encode(good.to_string())
    );
    let hs256 = compact(&json!({"alg": "HS256", "kid": "ed-1"}), &good, |_| {
        vec![1; 32]
    });
    let cases: Vec<(&str, String, &str)> = vec![
        ("another key", eddsa(&stranger, "ed-1", &good), "signature"),
        (
            "expired",
            s.jwt(&with(json!({"exp": now() - 3600}))),
            "expired",
        ),
        (
            "not yet valid",
            s.jwt(&with(json!({"nbf": now() + 3600}))),
            "not valid yet",
        ),
        (
            "wrong audience",
            s.jwt(&with(json!({"aud": "other-app"}))),
            "audience",
        ),
        (
            "no audience",
            {
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("aud");
                s.jwt(&c)
            },
            "`aud`",
        ),
        (
            "wrong issuer",
            s.jwt(&with(json!({"iss": "https://evil.example"}))),
            "issuer",
        ),
        (
            "unknown kid",
            eddsa(&s.keys.ed, "ed-9", &good),
            "`ed-9` is not in",
        ),
        (
            "alg of another key",
            es256(&s.keys.ec, "ed-1", &good),
            "`alg`",
        ),
        ("alg none", unsigned, "alg: none"),
        ("HS256", hs256, "shared-secret"),
        (
            "garbage",
            "garbage".into(),
            "neither a service token nor a JWT",
        ),
        ("garbage with dots", "not.a.jwt".into(), "header"),
        (
            "email not verified",
            s.jwt(&with(json!({"email_verified": false}))),
            "not verified",
        ),
        (
            "email_verified as the string false",
            s.jwt(&with(json!({"email_verified": "false"}))),
            "not verified",
        ),
        (
            // Named by `sub` instead, the same person would be a second, unrelated approver
            // with the same groups: a requester could decide their own call.
            "no email, only a sub",
            s.jwt(&{
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("email");
                c
            }),
            "has no `email` claim",
        ),
        (
            "groups not names",
            s.jwt(&with(json!({"groups": [1, 2]}))),
            "`groups`",
        ),
    ];
    for (what, token, says) in cases {
        let (code, r) = s.call("GET", "/v1/inbox", &token, None).await;
        assert_eq!(code, 401, "{what}: {r}");
        assert_eq!(r["error"]["code"], "unauthenticated", "{what}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
    }
}

#[tokio::test]
async fn the_user_the_call_acts_for_cannot_decide_it_whatever_their_groups() {
    let s = start("party").await;
    let (id, digest) = s.submit("uma@example.com", "c1").await;
    let uma = s.jwt(&claims("UMA@example.com", &["finance", "finance-leads"]));
    let (_, inbox) = s.call("GET", "/v1/inbox", &uma, None).await;
    assert_eq!(inbox_ids(&inbox), Vec::<String>::new());
    let path = format!("/v1/requests/{id}/decisions");
    let approve = json!({"decision": "approve", "digest": digest});
    let (code, r) = s.call("POST", &path, &uma, Some(approve)).await;
    assert_eq!(code, 403, "{r}");
    // Nor can a JWT naming the agent.
    let bot = s.jwt(&claims("support-bot", &["finance"]));
    let approve = json!({"decision": "approve", "digest": digest});
    let (code, r) = s.call("POST", &path, &bot, Some(approve)).await;
    assert_eq!(code, 403, "{r}");
    let (_, r) = s
        .call("GET", &format!("/v1/requests/{id}"), &uma, None)
        .await;
    assert_eq!(r["state"], "pending", "{r}");
}

#[tokio::test]
async fn a_jwt_can_never_call_an_agent_endpoint() {
    let s = start("agent").await;
    let (id, _) = s.submit("uma@example.com", "c1").await;
    let sam = s.jwt(&claims("sam@example.com", &["finance"]));
    let call = json!({"tool": "search", "args": {"q": "x"}});
    for (method, path, body) in [
        ("POST", "/v1/decisions".to_string(), Some(call)),
        ("POST", "/v1/requests".to_string(), None),
        ("GET", format!("/v1/requests/{id}/wait?timeout=1"), None),
        ("POST", format!("/v1/requests/{id}/claim"), None),
        ("POST", format!("/v1/requests/{id}/cancel"), None),
    ] {
        let (code, r) = s.call(method, &path, &sam, body).await;
        assert_eq!(code, 403, "{path}: {r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("only ever an approver"),
            "{path}: {message}"
        );
    }
}

#[tokio::test]
async fn the_identity_can_be_the_sub_claim() {
    let s = start_with("sub", IdentityClaim::Sub).await;
    let sam = s.jwt(&claims("sam@example.com", &["finance"]));
    let (code, inbox) = s.call("GET", "/v1/inbox", &sam, None).await;
    assert_eq!(code, 200, "{inbox}");
    assert_eq!(inbox["approver"], "sub-sam@example.com");
}

#[test]
fn a_jwks_file_that_gives_no_usable_key_is_a_start_error_naming_it() {
    let keys = Keys::new();
    let mut no_kid = keys.jwks();
    no_kid["keys"][0].as_object_mut().unwrap().remove("kid");
    let mut twice = keys.jwks();
    twice["keys"][1]["kid"] = json!("ed-1");
    let cases = [
        ("not json", json!("{ not a jwks"), "not a JWKS"),
        ("empty", json!({"keys": []}), "no signing key"),
        ("no kid", no_kid, "has no `kid`"),
        ("duplicate kid", twice, "two keys"),
        (
            "symmetric",
            json!({"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}),
            "symmetric",
        ),
    ];
    for (what, jwks, says) in cases {
        let mut config = config(
            &format!("bad-{}", what.replace(' ', "-")),
            json!(null),
            IdentityClaim::Email,
        );
        let path = config.jwt.as_ref().unwrap().jwks.clone();
        let text = match &jwks {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        std::fs::write(&path, text).unwrap();
        let e = App::load(&config).unwrap_err();
        assert!(matches!(e, StartError::Jwks(_)), "{what}: {e}");
        let message = e.to_string();
        assert!(
            message.contains("jwks.json") && message.contains(says),
            "{what}: {message}"
        );
        config.jwt.as_mut().unwrap().jwks = path.with_file_name("missing.json");
        let e = App::load(&config).unwrap_err().to_string();
        assert!(e.contains("missing.json"), "{e}");
    }
}
