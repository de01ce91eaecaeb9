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
}

/// Starts the service on `policies/support` with its own data directory named by `name`.
pub async fn start(name: &str) -> Service {
    let data = std::env::temp_dir().join(format!("holdpoint-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::new(root().join("policies/support"), &data)
    };
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
        approver,
        client: reqwest::Client::new(),
    }
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

/// The error code of a body that has the API's error shape `{"error": {"code",
/// "message"}}`, or `None` when it does not.
pub fn error_code(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let e = v.get("error")?;
    e.get("message")?.as_str()?;
    Some(e.get("code")?.as_str()?.to_string())
}
