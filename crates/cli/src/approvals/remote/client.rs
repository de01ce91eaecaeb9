//! A small blocking HTTP client for `policy serve`: bearer token, JSON in and out, and
//! every failure turned into one clear line and an exit code (never a panic).

use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::Exit;

/// How long one ordinary call may take (a long poll adds its own timeout).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running service and the token to call it with.
pub(crate) struct Server {
    base: String,
    token: String,
    http: Client,
}

/// Why a call to the service did not give an answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The service answered with an error: its status, `error.code` and `error.message`.
    Http {
        /// The HTTP status.
        status: u16,
        /// `error.code` (empty if the answer had none).
        code: String,
        /// `error.message`, or what the answer said.
        message: String,
    },
    /// No answer, or one that is not the service's JSON.
    Transport(String),
}

impl Failure {
    /// Prints the failure and gives the exit code: 1 for a refusal by the service, 2 for
    /// a service that cannot be reached or failed itself.
    pub(crate) fn report(&self) -> Exit {
        match self {
            Failure::Http {
                status, message, ..
            } => {
                let hint = if *status == 401 {
                    " (set HOLDPOINT_TOKEN to a token from `policy tokens create`)"
                } else {
                    ""
                };
                eprintln!("error: {}{hint}", holdpoint::escaped(message));
                if *status >= 500 {
                    Exit::Usage
                } else {
                    Exit::Failed
                }
            }
            Failure::Transport(m) => {
                eprintln!("error: {m}");
                Exit::Usage
            }
        }
    }

    /// Whether the service refused with this `error.code`.
    pub(crate) fn has_code(&self, want: &str) -> bool {
        matches!(self, Failure::Http { code, .. } if code == want)
    }
}

impl Server {
    /// The service at `url` (`http://HOST:PORT`) with `token`; prints the problem and gives
    /// the exit code if either is missing or unusable.
    pub(crate) fn connect(url: &str, token: Option<&str>) -> Result<Server, Exit> {
        let base = base_url(url).map_err(|m| {
            eprintln!("error: --server `{}`: {m}", holdpoint::escaped(url));
            Exit::Usage
        })?;
        let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
            eprintln!(
                "error: no token for {base}: set HOLDPOINT_TOKEN (an agent's or an approver's token from `policy tokens create`; the variable keeps it out of the shell history and the process list)"
            );
            return Err(Exit::Usage);
        };
        // No proxy from the environment: the bearer token goes to the URL given, nowhere
        // else.
        let builder = Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(None::<Duration>);
        let http = trust_extra_ca(builder)?.build().map_err(|e| {
            eprintln!("error: cannot start an HTTP client: {e}");
            Exit::Usage
        })?;
        Ok(Server {
            base,
            token: token.to_string(),
            http,
        })
    }

    /// `GET path`.
    pub(crate) fn get(&self, path: &str) -> Result<Value, Failure> {
        self.send(Method::GET, path, None, CALL_TIMEOUT)
    }

    /// `GET path` that may take up to `wait` (a long poll), plus the usual margin.
    pub(crate) fn get_long(&self, path: &str, wait: Duration) -> Result<Value, Failure> {
        self.send(Method::GET, path, None, wait + CALL_TIMEOUT)
    }

    /// `POST path` with a JSON body.
    pub(crate) fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        self.send(Method::POST, path, Some(body), CALL_TIMEOUT)
    }

    fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .timeout(timeout);
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let resp = req.send().map_err(|e| self.transport(&e))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| self.transport(&e))?;
        answer(&self.base, status, &text)
    }

    /// What a failed exchange says, naming the service.
    fn transport(&self, e: &reqwest::Error) -> Failure {
        let base = &self.base;
        let cause = root_cause(e);
        Failure::Transport(if e.is_connect() && cause.contains("certificate") {
            format!(
                "cannot reach the service at {base}: {cause} (if its certificate is not signed by an authority this machine trusts, set {CA_CERT_VAR} to a PEM file of it)"
            )
        } else if e.is_connect() {
            format!(
                "cannot reach the service at {base}: {cause} (is `policy serve` running there?)"
            )
        } else if e.is_timeout() {
            format!("the service at {base} did not answer in time")
        } else {
            format!("talking to the service at {base}: {cause}")
        })
    }
}

/// The answer's JSON for a success; the service's `error.message` otherwise.
fn answer(base: &str, status: StatusCode, text: &str) -> Result<Value, Failure> {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    if status.is_success() {
        return parsed.ok_or_else(|| {
            Failure::Transport(format!(
                "the service at {base} answered {status} with something that is not JSON: is it `policy serve`?"
            ))
        });
    }
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |k: &str| {
        error
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let message = field("message").unwrap_or_else(|| {
        let head: String = text.chars().take(200).collect();
        format!("the service at {base} answered {status}: {}", head.trim())
    });
    Err(Failure::Http {
        status: status.as_u16(),
        code: field("code").unwrap_or_default(),
        message,
    })
}

/// The innermost cause of an error (`Connection refused (os error 111)`).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The variable naming a PEM file of certificates to trust besides the system's (a
/// service with a private or self-signed certificate).
pub(crate) const CA_CERT_VAR: &str = "HOLDPOINT_CA_CERT";

/// Trusts the certificates of `HOLDPOINT_CA_CERT`, if set, besides the system's roots.
#[cfg(feature = "tls")]
fn trust_extra_ca(
    builder: reqwest::blocking::ClientBuilder,
) -> Result<reqwest::blocking::ClientBuilder, Exit> {
    let Some(path) = std::env::var_os(CA_CERT_VAR).filter(|p| !p.is_empty()) else {
        return Ok(builder);
    };
    let shown = std::path::Path::new(&path).display().to_string();
    let fail = |m: String| {
        eprintln!("error: {CA_CERT_VAR} `{}`: {m}", holdpoint::escaped(&shown));
        Exit::Usage
    };
    let pem = std::fs::read(&path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| fail(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(fail(
            "holds no certificate (a `-----BEGIN CERTIFICATE-----` block)".into(),
        ));
    }
    Ok(certs
        .into_iter()
        .fold(builder, |b, c| b.add_root_certificate(c)))
}

/// Without TLS there is nothing to trust.
#[cfg(not(feature = "tls"))]
fn trust_extra_ca(
    builder: reqwest::blocking::ClientBuilder,
) -> Result<reqwest::blocking::ClientBuilder, Exit> {
    Ok(builder)
}

/// `http(s)://host:port` without a trailing slash; other schemes are refused, and https
/// without the `tls` feature.
fn base_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        if !cfg!(feature = "tls") {
            return Err(
                "https is not built into this `policy` (it needs the `tls` feature): use http:// on loopback, or a TLS proxy".into(),
            );
        }
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        rest
    } else {
        return Err(
            "write it as http://HOST:PORT or https://HOST:PORT (e.g. http://127.0.0.1:8787)".into(),
        );
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err("write it as http(s)://HOST:PORT, with no path".into());
    }
    Ok(url.to_string())
}

/// A path segment: a request id, percent-encoded unless it is plain.
pub(crate) fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The path of a request, or of one of its actions (`claim`, `wait?timeout=5`).
pub(crate) fn request_path(id: &str, action: Option<&str>) -> String {
    match action {
        Some(a) => format!("/v1/requests/{}/{a}", segment(id)),
        None => format!("/v1/requests/{}", segment(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_without_a_path_are_taken() {
        assert_eq!(
            base_url("http://127.0.0.1:8787/").as_deref(),
            Ok("http://127.0.0.1:8787")
        );
        if cfg!(feature = "tls") {
            assert_eq!(base_url("https://h:1/").as_deref(), Ok("https://h:1"));
        } else {
            assert!(base_url("https://h:1").unwrap_err().contains("tls"));
        }
        assert!(base_url("ftp://h:1").is_err());
        assert!(base_url("127.0.0.1:8787").is_err());
        assert!(base_url("http://h/v1").is_err());
    }

    #[test]
    fn an_id_cannot_leave_its_path_segment() {
        assert_eq!(
            request_path("hp_1a", Some("claim")),
            "/v1/requests/hp_1a/claim"
        );
        assert_eq!(segment("../inbox?x"), "..%2Finbox%3Fx");
    }

    #[test]
    fn an_error_answer_gives_the_service_message() {
        let body = r#"{"error":{"code":"forbidden","message":"no, agent"}}"#;
        match answer("http://h:1", StatusCode::FORBIDDEN, body) {
            Err(Failure::Http {
                status,
                code,
                message,
            }) => {
                assert_eq!(
                    (status, code.as_str(), message.as_str()),
                    (403, "forbidden", "no, agent")
                );
            }
            other => panic!("{other:?}"),
        }
        let bad = answer("http://h:1", StatusCode::BAD_GATEWAY, "<html>");
        assert!(matches!(bad, Err(Failure::Http { status: 502, .. })));
    }
}
