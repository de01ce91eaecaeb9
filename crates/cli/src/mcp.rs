//! `policy mcp`: the MCP gateway (feature `mcp`), holdpoint's policy in front of MCP
//! servers for any MCP client.

use std::path::PathBuf;

use holdpoint_mcp::{AuditLog, GatewayOptions, Service, ServiceConfig, UpstreamSpec};

use crate::{Exit, load_policy};

/// Arguments of `policy mcp`.
#[derive(clap::Args)]
pub struct McpArgs {
    /// The policy: a .gate file or a policy directory. It sees each tool as
    /// UPSTREAM.TOOL (`files.delete`).
    policy: PathBuf,
    /// An upstream MCP server: NAME=COMMAND ARGS... (split as a shell would), started by
    /// the gateway and spoken to on stdio. Repeat for several.
    #[arg(long = "upstream", value_name = "NAME=COMMAND", required = true)]
    upstreams: Vec<String>,
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
    /// The person the agent acts for, shown to approvers.
    #[arg(long)]
    user: Option<String>,
    /// How long a call waits for its decision when the client listens for progress;
    /// then (or at once, for a client that does not) it returns the request id, to be
    /// resumed with the holdpoint_status tool.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    max_wait: String,
}

/// Serves the gateway on stdio until the client disconnects.
pub(crate) fn run(args: McpArgs) -> Exit {
    let policy = match load_policy(&args.policy, args.tools.as_ref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut specs = Vec::with_capacity(args.upstreams.len());
    for s in &args.upstreams {
        match UpstreamSpec::parse(s) {
            Ok(spec) => specs.push(spec),
            Err(e) => {
                eprintln!("error: --upstream {e}");
                return Exit::Usage;
            }
        }
    }
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
    let runtime = match tokio::runtime::Runtime::new() {
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
        };
        holdpoint_mcp::run_stdio(policy, specs, options).await
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
