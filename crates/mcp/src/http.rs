//! The gateway served over streamable HTTP: `POST`/`GET`/`DELETE /mcp`, one MCP session
//! per client, every session the same gateway (policy, upstreams, audit log).
//!
//! On a loopback address the `Host` header must name loopback (a web page cannot reach
//! the gateway through DNS rebinding). Elsewhere a client token is required: every
//! request must carry `Authorization: Bearer TOKEN`, which a web page cannot send
//! across origins.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::{Gateway, GatewayError};

/// The shortest client token accepted.
const MIN_TOKEN: usize = 16;

/// The largest request body a client may send.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// How the gateway listens for HTTP clients.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The address (`127.0.0.1:8931`).
    pub addr: SocketAddr,
    /// The bearer token every request must carry (required off loopback).
    pub token: Option<String>,
}

impl HttpOptions {
    /// Refuses a listener off loopback without a client token.
    pub fn check(&self) -> Result<(), GatewayError> {
        if let Some(token) = &self.token
            && token.trim().chars().count() < MIN_TOKEN
        {
            // `TOKEN=$(cat missing-file)` gives an empty one: refuse it, loopback or not.
            return Err(GatewayError::Listen {
                addr: self.addr.to_string(),
                why: format!(
                    "the client token is {} characters long; it needs at least {MIN_TOKEN} \
                     (openssl rand -hex 24 makes one)",
                    token.trim().chars().count()
                ),
            });
        }
        if !self.addr.ip().is_loopback() && self.token.is_none() {
            return Err(GatewayError::Listen {
                addr: self.addr.to_string(),
                why: "an address other than loopback needs a client token (--client-token or \
                      HOLDPOINT_MCP_CLIENT_TOKEN): anyone who reaches it could call the tools"
                    .to_string(),
            });
        }
        Ok(())
    }
}

/// Serves `gateway` at `http://ADDR/mcp` until the process is interrupted (Ctrl-C or
/// SIGTERM).
pub async fn serve(gateway: Gateway, options: HttpOptions) -> Result<(), GatewayError> {
    options.check()?;
    let listen_error = |why: String| GatewayError::Listen {
        addr: options.addr.to_string(),
        why,
    };
    let stop = CancellationToken::new();
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(stop.child_token())
        .with_max_request_body_bytes(MAX_BODY);
    if options.addr.ip().is_loopback() {
        // The loopback names, and the address bound (127.0.0.2 is loopback too).
        let ip = options.addr.ip().to_string();
        config = config.with_allowed_hosts([
            "localhost".to_string(),
            "127.0.0.1".into(),
            "::1".into(),
            ip,
        ]);
    } else {
        // Off loopback every request carries the token, which no web page can send for
        // another origin: the Host check would only refuse the names the host is reached by.
        config = config.disable_allowed_hosts();
    }
    // MCP clients send no Origin; a browser always does: refuse every one.
    config = config.enforce_origin_validation();
    let service = StreamableHttpService::new(
        move || Ok(gateway.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let mut router = axum::Router::new().nest_service("/mcp", service);
    if let Some(token) = options.token.clone() {
        router = router.layer(axum::middleware::from_fn_with_state(
            Arc::<str>::from(token),
            require_token,
        ));
    }
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| listen_error(e.to_string()))?;
    let bound = listener
        .local_addr()
        .map_err(|e| listen_error(e.to_string()))?;
    eprintln!("holdpoint MCP gateway: streamable HTTP on http://{bound}/mcp");
    let stopping = stop.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            interrupted().await;
            stopping.cancel();
        })
        .await
        .map_err(|e| listen_error(e.to_string()))
}

async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Lets a request through only with `Authorization: Bearer TOKEN`.
async fn require_token(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match given {
        Some(given) if same(given.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "this MCP gateway needs Authorization: Bearer TOKEN (its client token)\n",
        )
            .into_response(),
    }
}

/// Compares in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_loopback_a_client_token_is_required() {
        let open = HttpOptions {
            addr: "0.0.0.0:8931".parse().unwrap(),
            token: None,
        };
        let e = open.check().unwrap_err().to_string();
        assert!(e.contains("needs a client token"), "{e}");
        let guarded = HttpOptions {
            token: Some("a-long-enough-client-token".into()),
            ..open
        };
        assert!(guarded.check().is_ok());
        for short in ["", "   ", "x"] {
            let weak = HttpOptions {
                token: Some(short.into()),
                ..guarded.clone()
            };
            let e = weak.check().unwrap_err().to_string();
            assert!(e.contains("needs at least 16"), "{e}");
        }
        let local = HttpOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            token: None,
        };
        assert!(local.check().is_ok());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
