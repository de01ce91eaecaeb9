//! The service on an ephemeral loopback port, for the tests that call it over HTTP: the
//! support example's policy, a fresh data directory, an agent's and an approver's token.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use holdpoint_server::{App, Config, DataDir, Holder};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running service.
pub struct Service {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The agent `support-bot`, for tenant `acme`.
    pub agent: String,
    /// The approver `fiona` (finance).
    pub approver: String,
    /// A client.
    pub client: reqwest::Client,
    /// The data directory.
    pub data: PathBuf,
}

/// Starts the service on `policies/support` with its own data directory named by `name`.
pub async fn start(name: &str) -> Service {
    start_with(name, None).await
}

/// A self-signed certificate for `127.0.0.1` and `localhost`, written to `dir` as
/// `cert.pem` and `key.pem`: the two paths and the certificate's PEM.
#[cfg(feature = "tls")]
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf, String) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let pem = made.cert.pem();
    std::fs::write(&cert, &pem).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key, pem)
}

/// Starts the service serving TLS with a fresh self-signed certificate; the client trusts
/// exactly that certificate.
#[cfg(feature = "tls")]
pub async fn start_tls(name: &str) -> Service {
    let dir = std::env::temp_dir().join(format!("holdpoint-{}-{name}-tls", std::process::id()));
    let (cert, key, pem) = self_signed(&dir);
    let files = holdpoint_server::tls::TlsFiles { cert, key };
    let config = holdpoint_server::tls::load(&files).unwrap();
    let mut s = start_with(name, Some(config)).await;
    s.client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    s
}

#[cfg(feature = "tls")]
type TlsConfig = Option<Arc<holdpoint_server::tls::ServerConfig>>;
#[cfg(not(feature = "tls"))]
type TlsConfig = Option<()>;

/// Starts the service as [`start`] does, with a way to stop it: send on the sender, then
/// await the handle (it ends when the shutdown has finished).
pub async fn start_stoppable(
    name: &str,
) -> (
    Service,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (s, handle) = start_inner(
        name,
        None,
        async move {
            let _ = rx.await;
        },
        |_, _| {},
    )
    .await;
    (s, tx, handle.unwrap())
}

async fn start_with(name: &str, tls: TlsConfig) -> Service {
    start_inner(name, tls, std::future::pending(), |_, _| {})
        .await
        .0
}

/// Starts the service as [`start`] does, with its configuration changed by `edit` (which
/// gets the base URL the service will answer at).
pub async fn start_edited(name: &str, edit: impl FnOnce(&mut Config, &str)) -> Service {
    start_inner(name, None, std::future::pending(), edit)
        .await
        .0
}

async fn start_inner(
    name: &str,
    tls: TlsConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    edit: impl FnOnce(&mut Config, &str),
) -> (
    Service,
    Option<tokio::task::JoinHandle<std::io::Result<()>>>,
) {
    let data = std::env::temp_dir().join(format!("holdpoint-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::new(root().join("policies/support"), &data)
    };
    let listener = holdpoint_server::bind(config.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    edit(&mut config, &format!("{scheme}://{addr}"));
    let dir = DataDir::open(&data).unwrap();
    let agent = dir
        .create_token(
            Holder::Agent {
                name: "support-bot".into(),
                tenants: vec!["acme".into()],
            },
            0,
        )
        .unwrap();
    let approver = dir
        .create_token(Holder::Approver { id: "fiona".into() }, 0)
        .unwrap();
    let app = Arc::new(App::load(&config).unwrap());
    let (base, handle) = match tls {
        #[cfg(feature = "tls")]
        Some(c) => {
            let listener = holdpoint_server::tls::TlsListener::new(listener, c);
            tokio::spawn(holdpoint_server::serve(app, listener, shutdown));
            (format!("https://{addr}"), None)
        }
        _ => {
            let h = tokio::spawn(holdpoint_server::serve(app, listener, shutdown));
            (format!("http://{addr}"), Some(h))
        }
    };
    let s = Service {
        base,
        agent,
        approver,
        client: reqwest::Client::new(),
        data: data.clone(),
    };
    (s, handle)
}

impl Service {
    /// `method path` with an optional bearer token and raw body: the status and the body
    /// as text.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }
}

/// A refund of `amount` by the agent for uma@example.com (tenant acme), waiting for finance
/// above 500; `extra` is merged into the body (`reasoning`, `before` ...): the request's id
/// and digest.
pub async fn refund(
    s: &Service,
    run: &str,
    call_id: &str,
    amount: i64,
    extra: serde_json::Value,
) -> (String, String) {
    let mut body = serde_json::json!({
        "call": {"tool": "stripe.refund", "args": {"amount": amount}},
        "identity": {"user": "uma@example.com", "tenant": "acme"},
        "run_id": run, "tool_call_id": call_id,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, text) = s
        .send(
            "POST",
            "/v1/requests",
            Some(&s.agent),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    (
        r["request"].as_str().unwrap().to_string(),
        r["digest"].as_str().unwrap().to_string(),
    )
}

/// The error code of a body that has the API's error shape `{"error": {"code",
/// "message"}}`, or `None` when it does not.
pub fn error_code(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let e = v.get("error")?;
    e.get("message")?.as_str()?;
    Some(e.get("code")?.as_str()?.to_string())
}
