//! `policy serve`: the approval service. It is the only holder of the approvals store and
//! the signing key; agents and approvers reach them through an HTTP API, authenticated by
//! bearer tokens, and an approved call leaves it only as a signed permit.
//!
//! - [`data`]: the data directory (store, key, token hashes);
//! - [`auth`]: who is calling;
//! - [`agents`] and [`approvers`]: the two halves of the API;
//! - [`serve`]: binding, the SLA sweep, graceful shutdown.
//!
//! The API is described in `docs/server.md`.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod agents;
pub mod approvers;
pub mod auth;
pub mod data;
pub mod demo;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use holdpoint::Policy;
use holdpoint::approval::store::SqliteStore;
use holdpoint::approval::{ApproversFile, Desk, Guard};

pub use data::{DataDir, DataError, Holder};

/// The largest request body accepted (a proposal with its inputs).
pub const MAX_BODY: usize = 1024 * 1024;

/// What the service holds.
pub struct App {
    /// The policy it decides with.
    pub policy: Arc<Policy>,
    /// The agents' side of the runtime.
    pub guard: Guard,
    /// The approvers' side.
    pub desk: Desk,
    /// The approvers' groups.
    pub approvers: Arc<ApproversFile>,
    /// The data directory (tokens are read from it as they are created).
    pub data: DataDir,
    /// JWT verification, when configured (`--jwks`).
    pub jwt: Option<auth::jwt::Verifier>,
    /// The permit signing key.
    pub(crate) secret: [u8; 32],
    /// The id of the signing key, in every permit.
    pub key_id: String,
    /// How long a claim (and the permit it gives) holds, in milliseconds.
    pub lease_ms: i64,
    /// Announces the id of every request the service changed (see [`watch`]).
    pub changes: tokio::sync::broadcast::Sender<String>,
}

impl App {
    /// Tells whoever follows request `id` that it changed.
    pub fn changed(&self, id: &str) {
        // No receiver is not an error: nobody is waiting.
        let _ = self.changes.send(id.to_string());
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// How to start the service.
#[derive(Debug, Clone)]
pub struct Config {
    /// The policy: a `.gate` file or a policy directory (approvers.yaml beside it).
    pub policy: PathBuf,
    /// The data directory.
    pub data: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The approvers file (default: approvers.yaml beside the policy).
    pub approvers: Option<PathBuf>,
    /// How long a claim holds.
    pub lease: Duration,
    /// Approvers may also authenticate with JWTs verified this way.
    pub jwt: Option<auth::jwt::JwtConfig>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The policy does not load.
    #[error("the policy does not load:\n{0}")]
    Policy(String),
    /// The approvers file does not load.
    #[error("{0}")]
    Approvers(String),
    /// The data directory.
    #[error("{0}")]
    Data(#[from] DataError),
    /// The JWKS file.
    #[error("{0}")]
    Jwks(#[from] auth::jwt::JwksError),
    /// The store.
    #[error("{0}")]
    Store(#[from] holdpoint::approval::Error),
    /// A demo sample call does not read.
    #[error("a demo call does not read: {0}")]
    Demo(String),
    /// The address.
    #[error("cannot listen on {addr}: {message}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        message: String,
    },
}

impl App {
    /// Loads the policy, the approvers and the data directory.
    pub fn load(config: &Config) -> Result<App, StartError> {
        let policy = Policy::load(&config.policy).map_err(|e| StartError::Policy(e.to_string()))?;
        let policy = Arc::new(policy);
        let approvers_path = config
            .approvers
            .clone()
            .or_else(|| holdpoint::project::approvers_beside(&config.policy));
        let approvers = match approvers_path {
            Some(p) => ApproversFile::load(&p).map_err(|e| StartError::Approvers(e.to_string()))?,
            None => {
                return Err(StartError::Approvers(format!(
                    "no approvers file beside `{}`: put an approvers.yaml there (groups: NAME: [people]) or pass --approvers FILE",
                    config.policy.display()
                )));
            }
        };
        let approvers = Arc::new(approvers);
        let jwt = config
            .jwt
            .as_ref()
            .map(auth::jwt::Verifier::load)
            .transpose()?;
        let data = DataDir::open(&config.data)?;
        let secret = data.signing_key()?;
        let public = holdpoint::approval::permit::public_key(&secret);
        let key_id = format!("k-{}", public.get(..12).unwrap_or(&public));
        let log_key = Arc::new(holdpoint::approval::permit::LogSigner::new(
            &secret, &key_id,
        ));
        let store = Arc::new(SqliteStore::open(data.database())?.with_log_key(log_key)?);
        let path = std::fs::canonicalize(&config.policy).unwrap_or(config.policy.clone());
        let guard = Guard::new(policy.clone(), store.clone(), approvers.clone())
            .with_policy_path(path.display().to_string())
            .with_lease(config.lease);
        let desk = Desk::new(store, approvers.clone()).with_policy(policy.clone());
        Ok(App {
            policy,
            guard,
            desk,
            approvers,
            data,
            jwt,
            secret,
            key_id,
            lease_ms: i64::try_from(config.lease.as_millis()).unwrap_or(i64::MAX),
            changes: tokio::sync::broadcast::channel(4096).0,
        })
    }
}

/// The API's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/keys", get(agents::keys))
        .route("/v1/decisions", post(agents::decide))
        .route("/v1/requests", post(agents::submit))
        .route("/v1/requests/{id}", get(agents::show))
        .route("/v1/requests/{id}/wait", get(watch::wait))
        .route("/v1/requests/{id}/events", get(watch::events))
        .route("/v1/requests/{id}/claim", post(agents::claim))
        .route("/v1/requests/{id}/report", post(agents::report))
        .route("/v1/requests/{id}/cancel", post(agents::cancel))
        .route("/v1/inbox", get(approvers::inbox))
        .route("/v1/requests/{id}/decisions", post(approvers::decide))
        .route("/openapi.json", get(openapi::document))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Applies every SLA that ran out, every `every`, until the process ends.
async fn sweep(app: Arc<App>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let a = app.clone();
        let swept = tokio::task::spawn_blocking(move || a.desk.expire()).await;
        match swept {
            Ok(Ok(s)) => {
                for id in s.events.iter().filter_map(|e| e.request_id.as_deref()) {
                    app.changed(id);
                }
                for (id, e) in s.failures {
                    tracing::warn!(request = %id, error = %e, "could not apply an SLA");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "the SLA sweep failed"),
            Err(e) => tracing::warn!(error = %e, "the SLA sweep stopped"),
        }
    }
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep(app.clone(), Duration::from_secs(1)));
    let result = axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await;
    sweeper.abort();
    result
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM: what `policy serve` stops on.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    () = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => interrupt.await,
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}

/// Binds the configured address.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen {
            addr,
            message: e.to_string(),
        })
}

/// Whether the address is reachable only from this machine.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}
