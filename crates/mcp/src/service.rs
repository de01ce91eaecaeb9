//! The approval service (`policy serve`) as the gateway's agent: it submits the calls
//! that need a person, waits for decisions, claims approved calls (once) and reports
//! what became of them.

use std::time::Duration;

use serde_json::{Value, json};

/// The longest single wait the service allows (`GET /v1/requests/{id}/wait`).
pub const MAX_WAIT_S: u64 = 55;

/// Where the service is and who the gateway is to it.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Its base URL (`http://127.0.0.1:8787`).
    pub url: String,
    /// An agent token (`policy tokens create --agent NAME --tenant T`).
    pub token: String,
    /// The tenant the calls are made for.
    pub tenant: String,
    /// The person the agent acts for, if known.
    pub user: Option<String>,
}

/// A refusal or failure from the service, with its message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    /// The HTTP status (0 when the service could not be reached).
    pub status: u16,
    /// The service's message.
    pub message: String,
}

/// A client of the approval service, as an agent.
pub struct Service {
    http: reqwest::Client,
    config: ServiceConfig,
}

impl Service {
    /// A client for `config` (nothing is sent yet).
    pub fn new(config: ServiceConfig) -> Result<Service, ServiceError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ServiceError {
                status: 0,
                message: e.to_string(),
            })?;
        Ok(Service { http, config })
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, ServiceError> {
        let url = format!("{}{path}", self.config.url.trim_end_matches('/'));
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.config.token)
            .timeout(timeout);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let unreachable = |e: reqwest::Error| ServiceError {
            status: 0,
            message: format!(
                "the approval service at {} did not answer: {e}",
                self.config.url
            ),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(unreachable)?;
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        if status >= 400 {
            let message = parsed
                .as_ref()
                .and_then(|v| v.pointer("/error/message"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(ServiceError { status, message });
        }
        parsed.ok_or_else(|| ServiceError {
            status,
            message: "the approval service's answer is not JSON".to_string(),
        })
    }

    /// Submits a call: `run: true` with a permit for allow/audit, the decision for deny,
    /// the waiting request (`request`, `state`) for approve.
    pub async fn submit(
        &self,
        tool: &str,
        args: &Value,
        run_id: &str,
        tool_call_id: &str,
    ) -> Result<Value, ServiceError> {
        let mut identity = json!({"tenant": self.config.tenant, "agent": "holdpoint-mcp"});
        if let (Some(user), Some(obj)) = (&self.config.user, identity.as_object_mut()) {
            obj.insert("user".to_string(), Value::String(user.clone()));
        }
        let body = json!({
            "call": {"tool": tool, "args": args},
            "identity": identity,
            "run_id": run_id,
            "tool_call_id": tool_call_id,
        });
        self.send(
            reqwest::Method::POST,
            "/v1/requests",
            Some(body),
            Duration::from_secs(30),
        )
        .await
    }

    /// The request as soon as its state changes, or after `seconds` (at most 55).
    pub async fn wait(&self, id: &str, seconds: u64) -> Result<Value, ServiceError> {
        let seconds = seconds.min(MAX_WAIT_S);
        self.send(
            reqwest::Method::GET,
            &format!("/v1/requests/{}/wait?timeout={seconds}", segment(id)),
            None,
            Duration::from_secs(seconds + 30),
        )
        .await
    }

    /// Claims an approved call, once: its `call` (what to run), `claim` and `permit`.
    pub async fn claim(&self, id: &str) -> Result<Value, ServiceError> {
        self.send(
            reqwest::Method::POST,
            &format!("/v1/requests/{}/claim", segment(id)),
            None,
            Duration::from_secs(30),
        )
        .await
    }

    /// Reports what became of a claimed call.
    pub async fn report(
        &self,
        id: &str,
        claim: &str,
        executed: bool,
        result: Value,
    ) -> Result<Value, ServiceError> {
        let outcome = if executed { "executed" } else { "failed" };
        self.send(
            reqwest::Method::POST,
            &format!("/v1/requests/{}/report", segment(id)),
            Some(json!({"claim": claim, "outcome": outcome, "result": result})),
            Duration::from_secs(30),
        )
        .await
    }
}

/// A request id as one URL path segment: what is not unreserved is percent-encoded.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
