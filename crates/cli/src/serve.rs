//! `policy serve` and `policy tokens`: the approval service and its credentials (feature
//! `serve`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use holdpoint_server::{App, Config, DataDir, Holder};

use crate::Exit;
use crate::approvals::parse_lease;

/// Arguments of `policy serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The policy: a .gate file or a policy directory (approvers.yaml beside it).
    policy: PathBuf,
    /// Where to listen. Beyond loopback, put TLS in front of it.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// The data directory: the approvals database, the signing key and the token hashes
    /// (created if missing; only the service should be able to read it).
    #[arg(long, value_name = "DIR", default_value = ".holdpoint")]
    data: PathBuf,
    /// Approver groups (default: approvers.yaml beside the policy).
    #[arg(long, value_name = "FILE")]
    approvers: Option<PathBuf>,
    /// How long a claim (and its permit) holds.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    lease: String,
    /// Send webhooks as this file says (endpoints, secrets, formats: docs/webhooks.md).
    #[arg(long, value_name = "FILE")]
    webhooks: Option<PathBuf>,
    /// Also create a demo agent token (tenant `demo`) and a demo approver token, and print
    /// them once.
    #[arg(long)]
    demo: bool,
}

/// Arguments of `policy tokens`.
#[derive(clap::Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    command: TokensCommand,
}

#[derive(clap::Subcommand)]
enum TokensCommand {
    /// Create a token and print it once (only its hash is kept).
    Create {
        /// The data directory of the service.
        #[arg(long, value_name = "DIR", default_value = ".holdpoint")]
        data: PathBuf,
        /// A token for this agent (with --tenant).
        #[arg(long, conflicts_with = "approver")]
        agent: Option<String>,
        /// The tenants the agent may act for (repeatable).
        #[arg(long)]
        tenant: Vec<String>,
        /// A token for this approver (groups come from approvers.yaml).
        #[arg(long)]
        approver: Option<String>,
    },
}

fn now_ms() -> i64 {
    holdpoint::approval::Clock::now_ms(&holdpoint::approval::SystemClock)
}

/// `policy tokens create`.
pub(crate) fn tokens(args: TokensArgs) -> Exit {
    let TokensCommand::Create {
        data,
        agent,
        tenant,
        approver,
    } = args.command;
    let holder = match (agent, approver) {
        (Some(name), None) if !tenant.is_empty() => Holder::Agent {
            name,
            tenants: tenant,
        },
        (Some(_), None) => {
            eprintln!("error: an agent's token needs --tenant T (the tenants it may act for)");
            return Exit::Usage;
        }
        (None, Some(id)) => Holder::Approver { id },
        _ => {
            eprintln!("error: say whose token it is: --agent NAME --tenant T, or --approver ID");
            return Exit::Usage;
        }
    };
    let made = DataDir::open(&data).and_then(|d| d.create_token(holder, now_ms()));
    match made {
        Ok(token) => {
            say!("{token}");
            eprintln!("(shown once: only its hash is kept in {})", data.display());
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Usage
        }
    }
}

/// `policy serve`.
pub(crate) fn serve(args: ServeArgs) -> Exit {
    let lease = match parse_lease(&args.lease) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let config = Config {
        policy: args.policy.clone(),
        data: args.data.clone(),
        listen: args.listen,
        approvers: args.approvers.clone(),
        lease,
        webhooks: args.webhooks.clone(),
    };
    let app = match App::load(&config) {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    if args.demo {
        let demo = [
            Holder::Agent {
                name: "demo-agent".into(),
                tenants: vec!["demo".into()],
            },
            Holder::Approver {
                id: "demo-approver".into(),
            },
        ];
        for holder in demo {
            let what = match &holder {
                Holder::Agent { .. } => "agent token (tenant demo)",
                Holder::Approver { .. } => "approver token",
            };
            match app.data.create_token(holder, now_ms()) {
                Ok(t) => say!("demo {what}: {t}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::Failed;
                }
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
    runtime.block_on(async move {
        let listener = match holdpoint_server::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Usage;
            }
        };
        let addr = listener.local_addr().unwrap_or(config.listen);
        if !holdpoint_server::is_loopback(&addr) {
            eprintln!(
                "warning: listening on {addr} beyond this machine without TLS: tokens and permits travel in clear text; put a TLS proxy in front"
            );
        }
        say!("holdpoint serving {} on http://{addr}", config.policy.display());
        say!("data in {}", config.data.display());
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match holdpoint_server::serve(app, listener, shutdown).await {
            Ok(()) => Exit::Ok,
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Failed
            }
        }
    })
}
