//! An MCP gateway: holdpoint's policy in front of one or more MCP servers.
//!
//! The gateway is an MCP server to the client (on stdio, or streamable HTTP) and an MCP
//! client to each upstream server (a command it starts, spoken to on stdio, or a
//! streamable-HTTP URL). `tools/list` is the merged
//! tools of the upstreams, each described with its stance under the policy; every
//! `tools/call` is decided first: `allow` is forwarded, `audit` is forwarded and recorded,
//! `deny` is an error result naming the rule and never reaches the upstream, and `approve`
//! is not forwarded without a person's decision.
//!
//! The policy sees a tool as `UPSTREAM.TOOL` (`files.delete` for the `delete` tool of the
//! upstream named `files`); the client sees the upstream's own name, or
//! `UPSTREAM__TOOL` when two upstreams offer the same name. The upstreams' tools are the
//! policy's catalog: their input schemas type the arguments, and their annotations put
//! them in the classes `mcp_read_only`, `mcp_destructive`, `mcp_idempotent` and
//! `mcp_open_world` (the servers' claims).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod audit;
mod catalog;
mod gateway;
pub mod http;
pub mod service;
mod upstream;

pub use audit::{AuditLog, Record};
pub use gateway::{Gateway, GatewayOptions};
pub use service::{Service, ServiceConfig};
pub use upstream::{Listener, Target, Upstream, UpstreamSpec};

/// Why the gateway could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// An `--upstream` that does not parse.
    #[error("upstream `{spec}`: {why}")]
    BadUpstream {
        /// As given.
        spec: String,
        /// What is wrong.
        why: String,
    },
    /// An upstream server that could not be started or did not answer.
    #[error("upstream `{name}` ({command}): {why}")]
    Upstream {
        /// Its name.
        name: String,
        /// Its command line.
        command: String,
        /// What went wrong.
        why: String,
    },
    /// The audit log could not be opened or written.
    #[error("audit log {path}: {source}")]
    Audit {
        /// Its path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The policy does not compile against the upstreams' tools.
    #[error("{0}")]
    Policy(String),
    /// The client side of the gateway failed.
    #[error("the MCP client connection: {0}")]
    Client(String),
    /// The HTTP listener could not start.
    #[error("--listen {addr}: {why}")]
    Listen {
        /// The address.
        addr: String,
        /// What went wrong.
        why: String,
    },
}

/// Where the gateway serves its client.
#[derive(Debug, Clone)]
pub enum Listen {
    /// On standard input and output: the client started the gateway.
    Stdio,
    /// Streamable HTTP at `http://ADDR/mcp`, each client its own session.
    Http(http::HttpOptions),
}

/// Runs the gateway until the client disconnects (stdio) or the process is
/// interrupted (HTTP): connects every upstream, compiles the policy with their tools as
/// its catalog, then serves.
pub async fn run(
    policy: holdpoint::PolicyBuilder,
    specs: Vec<UpstreamSpec>,
    options: GatewayOptions,
    listen: Listen,
) -> Result<(), GatewayError> {
    #[cfg(feature = "tls")]
    {
        // Another part of the process may have installed one already: either serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    if let Listen::Http(http) = &listen {
        http.check()?;
    }
    let mut upstreams = Vec::with_capacity(specs.len());
    for spec in specs {
        upstreams.push(Upstream::connect(spec).await?);
    }
    let gateway = Gateway::new(policy, upstreams, options).await?;
    match listen {
        Listen::Stdio => serve_stdio(gateway).await,
        Listen::Http(http) => http::serve(gateway, http).await,
    }
}

async fn serve_stdio(gateway: Gateway) -> Result<(), GatewayError> {
    use rmcp::ServiceExt;
    let running = gateway
        // Both streams are pipes when a client starts the gateway: read them on the IO
        // reactor, not through the blocking thread pool (one hand-off less per message).
        .serve(rmcp::transport::stdio_pipes())
        .await
        .map_err(|e| GatewayError::Client(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| GatewayError::Client(e.to_string()))?;
    Ok(())
}
