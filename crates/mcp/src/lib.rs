//! An MCP gateway: holdpoint's policy in front of one or more MCP servers.
//!
//! The gateway is an MCP server to the client (on stdio) and an MCP client to each
//! upstream server (a command it starts, spoken to on stdio). `tools/list` is the merged
//! tools of the upstreams, each described with its stance under the policy; every
//! `tools/call` is decided first: `allow` is forwarded, `audit` is forwarded and recorded,
//! `deny` is an error result naming the rule and never reaches the upstream, and `approve`
//! is not forwarded without a person's decision.
//!
//! The policy sees a tool as `UPSTREAM.TOOL` (`files.delete` for the `delete` tool of the
//! upstream named `files`); the client sees the upstream's own name, or
//! `UPSTREAM__TOOL` when two upstreams offer the same name.
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
mod gateway;
pub mod service;
mod upstream;

pub use audit::AuditLog;
pub use gateway::{Gateway, GatewayOptions};
pub use service::{Service, ServiceConfig};
pub use upstream::{Upstream, UpstreamSpec};

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
    /// The client side of the gateway failed.
    #[error("the MCP client connection: {0}")]
    Client(String),
}

/// Runs the gateway on stdio until the client disconnects: connects every upstream,
/// then serves the client.
pub async fn run_stdio(
    policy: holdpoint::Policy,
    specs: Vec<UpstreamSpec>,
    options: GatewayOptions,
) -> Result<(), GatewayError> {
    use rmcp::ServiceExt;
    let mut upstreams = Vec::with_capacity(specs.len());
    for spec in specs {
        upstreams.push(Upstream::connect(spec).await?);
    }
    let gateway = Gateway::new(policy, upstreams, options).await?;
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
