//! Sending one message: a POST with the Standard Webhooks headers, signed for this
//! attempt, within the timeout. A 2xx answer delivers it; anything else is a failure the
//! outbox retries.

use std::time::Duration;

use super::config::Endpoint;
use super::outbox::Due;

/// Why an attempt failed, in words for the outbox (never the URL: a Slack webhook's URL
/// is itself a secret).
pub type Failure = String;

/// The HTTP client for deliveries (plain http; https needs reqwest's TLS support).
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("holdpoint-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.without_url().to_string())
}

/// POSTs `m` to its endpoint, now.
pub async fn send(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    m: &Due,
    now_s: i64,
) -> Result<(), Failure> {
    let mut req = client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &m.id)
        .header("webhook-timestamp", now_s.to_string());
    if let Some(secret) = &endpoint.secret {
        req = req.header("webhook-signature", secret.signature(&m.id, now_s, &m.body));
    }
    let resp = req
        .body(m.body.clone())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}

fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {detail}")
    }
}
