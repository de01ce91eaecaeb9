//! `policy mcp`: the MCP gateway (feature `mcp`), holdpoint's policy in front of MCP
//! servers for any MCP client.

use std::path::PathBuf;

use holdpoint_mcp::http::HttpOptions;
use holdpoint_mcp::{
    AuditLog, GatewayOptions, Listen, Service, ServiceConfig, Target, UpstreamSpec,
};

use crate::{Exit, builder, load_catalog, report_load_error};

/// Arguments of `policy mcp`.
#[derive(clap::Args)]
pub struct McpArgs {
    /// The policy: a .gate file or a policy directory. It sees each tool as
    /// UPSTREAM.TOOL (`files.delete`).
    policy: PathBuf,
    /// An upstream MCP server: NAME=COMMAND ARGS... (split as a shell would), started by
    /// the gateway and spoken to on stdio, or NAME=URL, a streamable-HTTP endpoint
    /// (http://127.0.0.1:8000/mcp). Repeat for several.
    #[arg(long = "upstream", value_name = "NAME=COMMAND|URL", required = true)]
    upstreams: Vec<String>,
    /// The bearer token for a URL upstream, read from an environment variable:
    /// NAME=VARIABLE (the token itself never appears on a command line).
    #[arg(long = "upstream-token-env", value_name = "NAME=VARIABLE")]
    upstream_tokens: Vec<String>,
    /// How long each upstream has to complete the MCP handshake before the gateway
    /// gives up with a message naming it.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    upstream_timeout: String,
    /// Serve clients over streamable HTTP at http://ADDR/mcp instead of stdio
    /// (127.0.0.1:8931). Off loopback, --client-token is required.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The bearer token every HTTP client must send (Authorization: Bearer TOKEN).
    /// Ignored on stdio.
    #[arg(long, env = "HOLDPOINT_MCP_CLIENT_TOKEN", hide_env_values = true)]
    client_token: Option<String>,
    /// Let the person the agent acts for confirm, in their own MCP client (elicitation),
    /// the calls every gate of which says `confirm by requester`. The client answers the
    /// question: use it only where the client is the person's own (a coding agent's UI).
    #[arg(long)]
    requester_confirms: bool,
    /// Leave out of tools/list the tools every call of which the policy denies.
    #[arg(long)]
    hide_denied: bool,
    /// Append audited calls to this JSON Lines file (default: standard error).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// A tool catalog (tools.yaml) other than the one beside the policy.
    #[arg(long, value_name = "FILE")]
    tools: Option<PathBuf>,
    /// The approval service (`policy serve`) calls that need a person go to. Without
    /// it, they are refused.
    #[arg(long, value_name = "URL", requires = "token")]
    service: Option<String>,
    /// The gateway's agent token for --service (`policy tokens create --agent ...`).
    #[arg(long, env = "HOLDPOINT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The tenant the calls are made for.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// The person the agent acts for: shown to approvers, and named in the record of a
    /// call they confirm themselves (`confirm by requester`).
    #[arg(long)]
    user: Option<String>,
    /// How long a call waits for its decision when the client listens for progress;
    /// then (or at once, for a client that does not) it returns the request id, to be
    /// resumed with the holdpoint_status tool.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    max_wait: String,
}

/// Serves the gateway on stdio until the client disconnects, or over HTTP until
/// interrupted.
pub(crate) fn run(args: McpArgs) -> Exit {
    let catalog = match load_catalog(args.tools.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let policy = match builder(&args.policy, catalog.as_ref()) {
        Ok(b) => b,
        Err(e) => return report_load_error(&e),
    };
    let specs = match upstreams(&args) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Usage;
        }
    };
    let listen = match &args.listen {
        None => Listen::Stdio,
        Some(addr) => match addr.parse() {
            Ok(addr) => Listen::Http(HttpOptions {
                addr,
                token: args.client_token.clone(),
            }),
            Err(_) => {
                eprintln!("error: --listen {addr}: expected an address and port (127.0.0.1:8931)");
                return Exit::Usage;
            }
        },
    };
    let max_wait = match holdpoint::parse_duration(&args.max_wait) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: --max-wait {}: {e}", args.max_wait);
            return Exit::Usage;
        }
    };
    let service = match (&args.service, &args.token) {
        (Some(url), Some(token)) => {
            if !url.starts_with("http://") && !url.starts_with("https://") {
                eprintln!("error: --service {url}: expected an http:// or https:// URL");
                return Exit::Usage;
            }
            let config = ServiceConfig {
                url: url.clone(),
                token: token.clone(),
                tenant: args.tenant.clone(),
                user: args.user.clone(),
            };
            match Service::new(config) {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("error: --service {url}: {e}");
                    return Exit::Usage;
                }
            }
        }
        _ => None,
    };
    // On stdio, one thread: a call's messages hop between tasks on it, never between
    // threads (waking another thread cost more than deciding and forwarding together:
    // the gateway's CPU per call halved). Over HTTP, a thread per core for many clients.
    let runtime = match &listen {
        Listen::Stdio => tokio::runtime::Builder::new_current_thread(),
        Listen::Http(_) => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Failed;
        }
    };
    let served = runtime.block_on(async {
        let audit = match &args.audit_log {
            Some(path) => Some(AuditLog::open(path).await?),
            None => None,
        };
        let options = GatewayOptions {
            hide_denied: args.hide_denied,
            audit,
            service,
            max_wait,
            user: args.user.clone(),
            requester_confirms: args.requester_confirms,
        };
        holdpoint_mcp::run(policy, specs, options, listen).await
    });
    // Standard input cannot be cancelled: do not wait for the runtime's blocking reader.
    runtime.shutdown_background();
    match served {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

/// The `--upstream`s, with their `--upstream-token-env` tokens.
fn upstreams(args: &McpArgs) -> Result<Vec<UpstreamSpec>, String> {
    let mut specs = Vec::with_capacity(args.upstreams.len());
    for s in &args.upstreams {
        let spec = UpstreamSpec::parse(s).map_err(|e| format!("--upstream {e}"))?;
        if specs.iter().any(|o: &UpstreamSpec| o.name == spec.name) {
            return Err(format!(
                "--upstream {s}: the name `{}` is given twice",
                spec.name
            ));
        }
        specs.push(spec);
    }
    let handshake = holdpoint::parse_duration(&args.upstream_timeout)
        .map_err(|e| format!("--upstream-timeout {}: {e}", args.upstream_timeout))?;
    for spec in &mut specs {
        spec.handshake = handshake;
    }
    for t in &args.upstream_tokens {
        let bad = |why: &str| format!("--upstream-token-env {t}: {why}");
        let (name, var) = t
            .split_once('=')
            .ok_or_else(|| bad("expected NAME=VARIABLE"))?;
        let spec = specs
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| bad("no --upstream has that name"))?;
        if !matches!(spec.target, Target::Url(_)) {
            return Err(bad("that upstream is a command, not a URL"));
        }
        let token = std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad(&format!("the environment variable {var} is not set")))?;
        spec.token = Some(token);
    }
    Ok(specs)
}
