//! `policy mcp`: the MCP gateway (feature `mcp`), holdpoint's policy in front of MCP
//! servers for any MCP client.

use std::path::PathBuf;

use holdpoint_mcp::{AuditLog, GatewayOptions, UpstreamSpec};

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
