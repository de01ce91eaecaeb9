//! Single sign-on for the web inbox: the OpenID Connect authorization-code flow with PKCE
//! (RFC 7636, `S256`). `GET /ui/sso/start` sends the browser to the identity provider
//! with a fresh `state`, `nonce` and code challenge; `GET /ui/sso/callback` takes the code
//! back, exchanges it (with the code verifier) at the token endpoint, verifies the ID token
//! as every JWT is verified ([`crate::auth::jwt`]: key, `iss`, `aud` = the client id, `exp`)
//! plus its `nonce`, and opens a session for the approver it names, with the groups it
//! vouches for.
//!
//! A start is single-use, lasts [`START_LIFETIME_MS`], and is bound to the browser that
//! began it by the `hp_sso` cookie; nothing of it is on disk.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::auth::Approver;
use crate::auth::jwt::Verifier;
use crate::data::DataError;
use crate::web::sessions::{make_room, new_token, same_token};

/// The cookie that binds a sign-in's `state` to the browser that began it.
pub const START_COOKIE: &str = "hp_sso";

/// How long a begun sign-in may take at the identity provider.
pub const START_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// At most this many begun sign-ins are held; the oldest is dropped to make room.
const MAX_STARTS: usize = 10_000;

/// The most the service reads of an identity provider's answer.
const MAX_ANSWER: usize = 1 << 20;

/// How long the service waits for the identity provider.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The relying party's settings, most of them from the issuer's discovery document.
#[derive(Debug, Clone)]
pub struct SsoConfig {
    /// The client id registered at the identity provider (the ID token's `aud`).
    pub client_id: String,
    /// The client secret, for a confidential client (sent with HTTP Basic); none for a
    /// public client, which PKCE alone protects.
    pub client_secret: Option<String>,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the service exchanges the code.
    pub token_endpoint: String,
    /// This service's callback, as registered: `{public url}/ui/sso/callback`.
    pub redirect_uri: String,
    /// The scopes asked for (`openid email profile` by default).
    pub scopes: String,
}

/// Single sign-on could not be set up, or a sign-in did not complete.
#[derive(Debug, thiserror::Error)]
#[error("single sign-on: {0}")]
pub struct SsoError(pub String);

fn client() -> Result<reqwest::Client, SsoError> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| SsoError(format!("no HTTP client: {e}")))
}

/// A JSON answer of the identity provider, read to at most [`MAX_ANSWER`] bytes.
async fn json_answer(what: &str, r: reqwest::Response) -> Result<Value, SsoError> {
    let status = r.status();
    if r.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
        return Err(SsoError(format!(
            "{what} is larger than {MAX_ANSWER} bytes"
        )));
    }
    let bytes = r
        .bytes()
        .await
        .map_err(|e| SsoError(format!("{what} did not arrive: {e}")))?;
    if bytes.len() > MAX_ANSWER {
        return Err(SsoError(format!(
            "{what} is larger than {MAX_ANSWER} bytes"
        )));
    }
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|_| SsoError(format!("{what} is not JSON (HTTP {status})")))?;
    if !status.is_success() {
        let why = body
            .get("error_description")
            .or_else(|| body.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        return Err(SsoError(format!("{what}: HTTP {status}: {why}")));
    }
    Ok(body)
}

/// An endpoint named by the discovery document: an absolute http(s) URL.
fn endpoint(doc: &Value, name: &str) -> Result<String, SsoError> {
    let url = doc
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| SsoError(format!("the discovery document has no `{name}`")))?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(SsoError(format!("`{name}` is not an http(s) URL: {url}")));
    }
    Ok(url.to_string())
}

/// Reads `{issuer}/.well-known/openid-configuration` and makes the relying party's
/// settings: the document must name the same issuer, both endpoints, and (when it lists
/// them) `S256` among its code challenge methods.
pub async fn discover(
    issuer: &str,
    client_id: &str,
    client_secret: Option<String>,
    public_url: &str,
) -> Result<SsoConfig, SsoError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let answer = client()?
        .get(&url)
        .send()
        .await
        .map_err(|e| SsoError(format!("{url} cannot be read: {e}")))?;
    let doc = json_answer(&url, answer).await?;
    let named = doc
        .get("issuer")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if named != issuer {
        return Err(SsoError(format!(
            "{url} names the issuer `{named}`, not `{issuer}` (--issuer must be exactly the provider's)"
        )));
    }
    if let Some(methods) = doc
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array)
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(SsoError(format!(
            "{url}: the provider does not offer PKCE with S256"
        )));
    }
    Ok(SsoConfig {
        client_id: client_id.to_string(),
        client_secret,
        authorization_endpoint: endpoint(&doc, "authorization_endpoint")?,
        token_endpoint: endpoint(&doc, "token_endpoint")?,
        redirect_uri: format!("{}/ui/sso/callback", public_url.trim_end_matches('/')),
        scopes: "openid email profile".into(),
    })
}

/// One begun sign-in.
#[derive(Debug)]
struct Pending {
    nonce: String,
    verifier: String,
    expires_ms: i64,
}

/// Single sign-on: the settings and the sign-ins under way.
#[derive(Debug)]
pub struct Sso {
    config: SsoConfig,
    starts: Mutex<HashMap<[u8; 32], Pending>>,
    http: reqwest::Client,
}

fn key(state: &str) -> [u8; 32] {
    Sha256::digest(state.as_bytes()).into()
}

/// The PKCE `S256` challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `application/x-www-form-urlencoded` text of a value.
fn encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Sso {
    /// Single sign-on with these settings.
    pub fn new(config: SsoConfig) -> Result<Sso, SsoError> {
        Ok(Sso {
            config,
            starts: Mutex::new(HashMap::new()),
            http: client()?,
        })
    }

    /// The settings.
    pub fn config(&self) -> &SsoConfig {
        &self.config
    }

    /// Begins a sign-in: the `state` (for the browser's cookie) and the URL to send the
    /// browser to.
    pub fn start(&self, now_ms: i64) -> Result<(String, String), DataError> {
        let state = new_token()?;
        let pending = Pending {
            nonce: new_token()?,
            verifier: new_token()?,
            expires_ms: now_ms.saturating_add(START_LIFETIME_MS),
        };
        let c = &self.config;
        let sep = if c.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{sep}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
            c.authorization_endpoint,
            encoded(&c.client_id),
            encoded(&c.redirect_uri),
            encoded(&c.scopes),
            encoded(&state),
            encoded(&pending.nonce),
            challenge(&pending.verifier),
        );
        let mut starts = self.starts.lock().unwrap_or_else(PoisonError::into_inner);
        make_room(&mut starts, MAX_STARTS, now_ms, |p| p.expires_ms);
        starts.insert(key(&state), pending);
        Ok((state, url))
    }

    /// Takes a begun sign-in back (once): the `state` the provider returned must be the
    /// browser's cookie and one this service began less than [`START_LIFETIME_MS`] ago.
    fn take(&self, state: &str, cookie: Option<&str>, now_ms: i64) -> Result<Pending, SsoError> {
        if !cookie.is_some_and(|c| same_token(c, state)) {
            return Err(SsoError(
                "this sign-in was not begun in this browser (or its cookie expired): sign in again"
                    .into(),
            ));
        }
        let mut starts = self.starts.lock().unwrap_or_else(PoisonError::into_inner);
        match starts.remove(&key(state)) {
            Some(p) if p.expires_ms > now_ms => Ok(p),
            Some(_) => Err(SsoError(
                "this sign-in took longer than 10 minutes: sign in again".into(),
            )),
            None => Err(SsoError(
                "this sign-in is unknown or was used already: sign in again".into(),
            )),
        }
    }

    /// Completes a sign-in: exchanges the code for tokens and verifies the ID token.
    pub async fn finish(
        &self,
        code: &str,
        state: &str,
        cookie: Option<&str>,
        jwt: &Verifier,
        now_ms: i64,
    ) -> Result<Approver, SsoError> {
        let pending = self.take(state, cookie, now_ms)?;
        let c = &self.config;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", c.redirect_uri.as_str()),
            ("client_id", c.client_id.as_str()),
            ("code_verifier", pending.verifier.as_str()),
        ];
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encoded(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = self
            .http
            .post(&c.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body);
        if let Some(secret) = &c.client_secret {
            request = request.basic_auth(encoded(&c.client_id), Some(encoded(secret)));
        }
        let answer = request.send().await.map_err(|e| {
            SsoError(format!(
                "the token endpoint {} cannot be reached: {e}",
                c.token_endpoint
            ))
        })?;
        let tokens: Tokens =
            serde_json::from_value(json_answer("the token endpoint's answer", answer).await?)
                .map_err(|_| SsoError("the token endpoint's answer has no `id_token`".into()))?;
        let (approver, claims) = jwt
            .verify_claims(&tokens.id_token)
            .map_err(|e| SsoError(format!("the ID token is refused: {e}")))?;
        let nonce = claims.get("nonce").and_then(Value::as_str);
        if !nonce.is_some_and(|n| same_token(n, &pending.nonce)) {
            return Err(SsoError(
                "the ID token's `nonce` is not this sign-in's: it was made for another".into(),
            ));
        }
        Ok(approver)
    }
}

/// The token endpoint's answer (only the ID token is used).
#[derive(Debug, Deserialize)]
struct Tokens {
    id_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn values_are_form_encoded() {
        assert_eq!(
            encoded("http://127.0.0.1:8/ui/sso/callback"),
            "http%3A%2F%2F127.0.0.1%3A8%2Fui%2Fsso%2Fcallback"
        );
        assert_eq!(encoded("openid email"), "openid%20email");
    }

    fn sso() -> Sso {
        Sso::new(SsoConfig {
            client_id: "hp".into(),
            client_secret: None,
            authorization_endpoint: "https://idp.test/authorize".into(),
            token_endpoint: "https://idp.test/token".into(),
            redirect_uri: "http://127.0.0.1:1/ui/sso/callback".into(),
            scopes: "openid email".into(),
        })
        .unwrap()
    }

    #[test]
    fn a_start_is_taken_once_by_the_browser_that_began_it_within_ten_minutes() {
        let s = sso();
        let (state, url) = s.start(0).unwrap();
        assert!(url.starts_with("https://idp.test/authorize?response_type=code&client_id=hp&"));
        assert!(url.contains("&code_challenge_method=S256"));
        assert!(s.take(&state, Some("other"), 1).is_err(), "another browser");
        assert!(s.take(&state, None, 1).is_err(), "no cookie");
        assert!(s.take(&state, Some(&state), 1).is_ok());
        assert!(s.take(&state, Some(&state), 2).is_err(), "used already");
        let (late, _) = s.start(0).unwrap();
        assert!(s.take(&late, Some(&late), START_LIFETIME_MS + 1).is_err());
    }
}
