//! `policy serve` and `policy tokens`: the approval service and its credentials (feature
//! `serve`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use holdpoint_server::auth::jwt::{IdentityClaim, JwtConfig};
use holdpoint_server::{App, Config, DataDir, Holder};

use crate::Exit;
use crate::approvals::parse_lease;

/// Arguments of `policy serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The policy: a .gate file or a policy directory (approvers.yaml beside it).
    policy: PathBuf,
    /// Where to listen. Beyond loopback, serve TLS (--tls-cert/--tls-key) or put a TLS
    /// proxy in front of it.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Serve TLS with this certificate chain (PEM, the server's certificate first).
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The data directory: the approvals database, the signing key and the token hashes
    /// (created if missing; only the service should be able to read it).
    #[arg(long, value_name = "DIR", default_value = ".holdpoint")]
    data: PathBuf,
    /// Approver groups (default: approvers.yaml beside the policy).
    #[arg(long, value_name = "FILE")]
    approvers: Option<PathBuf>,
    /// Calls a second each caller (token, or address without one) may make; `off` for no
    /// limit. Over it, a call gets 429 with Retry-After.
    #[arg(long, value_name = "N/s", default_value = "10000/s")]
    rate_limit: String,
    /// How long a claim (and its permit) holds.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    lease: String,
    /// Send webhooks as this file says (endpoints, secrets, formats: docs/webhooks.md).
    #[arg(long, value_name = "FILE")]
    webhooks: Option<PathBuf>,
    /// The address browsers reach the service at, when it is not the listening one (behind
    /// a proxy): single sign-on's callback is `URL/ui/sso/callback`, and an `https://` URL
    /// makes the inbox's cookies `Secure`.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Also create a demo agent token (tenant `demo`) and a demo approver token, and print
    /// them once.
    #[arg(long)]
    demo: bool,
    /// How logs are written to standard error: `text` or `json` (one object a line). What
    /// is logged follows RUST_LOG (default `info`).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(flatten)]
    jwt: JwtArgs,
}

/// Approvers' single sign-on: JWTs verified against a JWKS file (docs/authentication.md).
#[derive(clap::Args)]
struct JwtArgs {
    /// Also accept approvers' JWTs (OpenID Connect ID tokens) signed by a key of this JWKS
    /// file, read at start (with --issuer and --audience).
    #[arg(long, value_name = "FILE", requires_all = ["issuer", "audience"])]
    jwks: Option<PathBuf>,
    /// The `iss` every JWT must carry.
    #[arg(long, value_name = "ISS", requires = "jwks")]
    issuer: Option<String>,
    /// The audience every JWT's `aud` must contain (your client id).
    #[arg(long, value_name = "AUD", requires = "jwks")]
    audience: Option<String>,
    /// The claim listing the approver's groups (those approvers.yaml defines count).
    #[arg(
        long,
        value_name = "CLAIM",
        default_value = "groups",
        requires = "jwks"
    )]
    groups_claim: String,
    /// The claim naming the approver (default: `email` when present, else `sub`).
    #[arg(long, value_name = "email|sub", value_parser = ["email", "sub"], requires = "jwks")]
    identity_claim: Option<String>,
    /// Let approvers sign in to the web inbox with the identity provider (OpenID Connect,
    /// authorization code with PKCE), found at `ISSUER/.well-known/openid-configuration`;
    /// the client id is --audience, a confidential client's secret is read from
    /// HOLDPOINT_SSO_CLIENT_SECRET.
    #[arg(long, requires = "jwks")]
    sso: bool,
}

impl JwtArgs {
    fn config(&self) -> Option<JwtConfig> {
        let (jwks, issuer, audience) = (
            self.jwks.clone()?,
            self.issuer.clone()?,
            self.audience.clone()?,
        );
        let identity_claim = match self.identity_claim.as_deref() {
            Some("sub") => IdentityClaim::Sub,
            _ => IdentityClaim::Email,
        };
        Some(JwtConfig {
            jwks,
            issuer,
            audience,
            groups_claim: self.groups_claim.clone(),
            identity_claim,
        })
    }
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

/// Structured logs on standard error, filtered by RUST_LOG (default `info`).
fn init_logs(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (only in tests) is not an error worth reporting.
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Whether the service serves TLS itself (the web inbox's cookies are then `Secure`).
#[cfg(feature = "tls")]
fn https(args: &ServeArgs) -> bool {
    args.tls_cert.is_some()
}

#[cfg(not(feature = "tls"))]
fn https(_args: &ServeArgs) -> bool {
    false
}

/// The address browsers reach the service at: --public-url (an http(s) URL without a
/// path), or the listening address.
fn public_url(args: &ServeArgs) -> Result<String, String> {
    let Some(url) = &args.public_url else {
        let scheme = if https(args) { "https" } else { "http" };
        return Ok(format!("{scheme}://{}", args.listen));
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "`{url}` must be the scheme and host only (https://approvals.example.com)"
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// `policy serve`.
pub(crate) fn serve(args: ServeArgs) -> Exit {
    init_logs(&args.log_format);
    let lease = match parse_lease(&args.lease) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let rate_limit = match holdpoint_server::limits::RateLimit::parse(&args.rate_limit) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: --rate-limit: {e}");
            return Exit::Usage;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Exit::Failed;
        }
    };
    let public_url = match public_url(&args) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: --public-url: {e}");
            return Exit::Usage;
        }
    };
    let sso = match (args.jwt.sso, args.jwt.config()) {
        (true, Some(jwt)) => {
            let secret = std::env::var("HOLDPOINT_SSO_CLIENT_SECRET")
                .ok()
                .filter(|s| !s.is_empty());
            let found = runtime.block_on(holdpoint_server::web::sso::discover(
                &jwt.issuer,
                &jwt.audience,
                secret,
                &public_url,
            ));
            match found {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("error: --sso: {e}");
                    return Exit::Failed;
                }
            }
        }
        _ => None,
    };
    let config = Config {
        listen: args.listen,
        approvers: args.approvers.clone(),
        lease,
        jwt: args.jwt.config(),
        rate_limit,
        webhooks: args.webhooks.clone(),
        https: https(&args) || public_url.starts_with("https://"),
        sso,
        ..Config::new(&args.policy, &args.data)
    };
    let app = match App::load(&config) {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    let demo = if args.demo {
        match holdpoint_server::demo::play(&app, &args.policy) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failed;
            }
        }
    } else {
        None
    };
    #[cfg(feature = "tls")]
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let files = holdpoint_server::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            };
            match holdpoint_server::tls::load(&files) {
                Ok(c) => Some(c),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::Usage;
                }
            }
        }
        _ => None,
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
        #[cfg(feature = "tls")]
        let scheme = if tls.is_some() { "https" } else { "http" };
        #[cfg(not(feature = "tls"))]
        let scheme = "http";
        if scheme == "http" && !holdpoint_server::is_loopback(&addr) {
            eprintln!(
                "warning: listening on {addr} beyond this machine without TLS: tokens and permits travel in clear text; pass --tls-cert and --tls-key, or put a TLS proxy in front"
            );
        }
        let url = format!("{scheme}://{addr}");
        say!("holdpoint serving {} on {url}", config.policy.display());
        say!("data in {}", config.data.display());
        if let Some(demo) = &demo {
            show_demo(demo, &url);
        }
        let shutdown = holdpoint_server::shutdown_signal();
        #[cfg(feature = "tls")]
        let served = match tls {
            Some(c) => {
                let listener = holdpoint_server::tls::TlsListener::new(listener, c);
                holdpoint_server::serve(app, listener, shutdown).await
            }
            None => holdpoint_server::serve(app, listener, shutdown).await,
        };
        #[cfg(not(feature = "tls"))]
        let served = holdpoint_server::serve(app, listener, shutdown).await;
        match served {
            Ok(()) => Exit::Ok,
            Err(e) => {
                eprintln!("error: {e}");
                Exit::Failed
            }
        }
    })
}

/// What `--demo` made, and how to try it.
fn show_demo(demo: &holdpoint_server::demo::Demo, url: &str) {
    use holdpoint_server::demo::{AGENT, TENANT, USER};
    say!("");
    say!("sample calls played as {AGENT} (tenant {TENANT}) for {USER}:");
    for p in &demo.played {
        let waits = match &p.waits {
            Some((id, groups)) => format!("  {id} waits for {}", groups.join(", ")),
            None => String::new(),
        };
        say!(
            "  {:<26} {:<8} {}{waits}",
            holdpoint::escaped(&p.file),
            p.effect,
            holdpoint::escaped(&p.tool)
        );
    }
    say!("");
    say!("demo tokens (shown once; only their hashes are kept):");
    say!("  export HOLDPOINT_SERVER={url}");
    say!(
        "  export AGENT_TOKEN={}   # {AGENT}, tenant {TENANT}",
        demo.agent_token
    );
    for (i, a) in demo.approvers.iter().enumerate() {
        let name = if i == 0 {
            "APPROVER_TOKEN".to_string()
        } else {
            format!("APPROVER_TOKEN_{}", i + 1)
        };
        say!(
            "  export {name}={}   # {}, who decides for {}",
            a.token,
            holdpoint::escaped(&a.id),
            holdpoint::escaped(&a.group)
        );
    }
    say!("try it:");
    say!("  open {url}/ui/ in a browser and sign in with an approver token above");
    say!("  curl -s -H \"Authorization: Bearer $APPROVER_TOKEN\" $HOLDPOINT_SERVER/v1/inbox");
    say!("the whole loop (decide, wait, claim, report): docs/server.md");
}
