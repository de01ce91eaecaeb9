//! `policy serve`: the approval service. It is the only holder of the approvals store and
//! the signing key; agents and approvers reach them through an HTTP API, authenticated by
//! bearer tokens, and an approved call leaves it only as a signed permit.
//!
//! - [`data`]: the data directory (store, key, token hashes);
//! - [`auth`]: who is calling;
//! - [`agents`] and [`approvers`]: the two halves of the API;
//! - [`webhooks`]: notifications from a durable outbox;
//! - [`serve`]: binding, the SLA sweep, graceful shutdown;
//! - `tls` (feature `tls`): TLS inside the service.
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
pub mod inbox;
pub mod limits;
pub mod metrics;
pub mod openapi;
#[cfg(feature = "tls")]
pub mod tls;
pub mod watch;
pub mod web;
pub mod webhooks;

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
    /// What is counted for `/metrics`.
    pub metrics: metrics::Metrics,
    /// Each caller's rate (none: unlimited).
    pub limiter: Option<limits::Limiter>,
    /// The webhooks, when a webhooks file is configured ([`webhooks::Webhooks::stats`]).
    pub webhooks: Option<Arc<webhooks::Webhooks>>,
    /// Approvers signed in to the web inbox.
    pub sessions: web::sessions::Sessions,
    /// Whether the service is reached over https (cookies are then `Secure`).
    pub https: bool,
    /// The web inbox's single sign-on, when configured.
    pub sso: Option<web::sso::Sso>,
    /// Set when the service stops: streams (SSE) end, so the shutdown does not wait for
    /// clients that would never hang up.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// How many changes [`App::changed`] announced: what the statistics' cache is of.
    pub generation: std::sync::atomic::AtomicU64,
    /// The gates' statistics last computed (`GET /v1/stats`).
    pub stats: inbox::StatsCache,
}

impl App {
    /// Metrics other parts add to `/metrics` (webhook deliveries).
    pub fn extra_metrics(&self) -> String {
        let Some(w) = &self.webhooks else {
            return String::new();
        };
        let s = w.stats();
        format!(
            "# HELP holdpoint_webhooks_delivered_total Webhook messages delivered (a 2xx answer).\n\
             # TYPE holdpoint_webhooks_delivered_total counter\n\
             holdpoint_webhooks_delivered_total {}\n\
             # HELP holdpoint_webhook_failures_total Webhook attempts that failed.\n\
             # TYPE holdpoint_webhook_failures_total counter\n\
             holdpoint_webhook_failures_total {}\n\
             # HELP holdpoint_webhooks_given_up_total Webhook messages given up after the last attempt.\n\
             # TYPE holdpoint_webhooks_given_up_total counter\n\
             holdpoint_webhooks_given_up_total {}\n\
             # HELP holdpoint_webhooks_pending Webhook messages waiting to be delivered.\n\
             # TYPE holdpoint_webhooks_pending gauge\n\
             holdpoint_webhooks_pending {}\n",
            s.delivered, s.failed_attempts, s.given_up, s.pending
        )
    }

    /// Logs that request `id` changed (`what` happened), and tells whoever follows it.
    pub fn changed(&self, id: &str, what: &str) {
        tracing::info!(request = id, what, "request changed");
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
    /// Calls per caller (none: no limit).
    pub rate_limit: Option<limits::RateLimit>,
    /// The webhooks file (`docs/webhooks.md`), if any.
    pub webhooks: Option<PathBuf>,
    /// Whether the service is reached over https (its own TLS or a proxy's): the web
    /// inbox's cookies are then `Secure`.
    pub https: bool,
    /// How long a web inbox session lasts from sign-in.
    pub session_lifetime: Duration,
    /// The web inbox's single sign-on (OpenID Connect with PKCE; needs [`Config::jwt`],
    /// whose audience is the client id): see [`web::sso::discover`].
    pub sso: Option<web::sso::SsoConfig>,
}

impl Config {
    /// The defaults (`127.0.0.1:8787`, a 5-minute lease, no JWTs, 10 000 calls a second
    /// per caller) for this policy and data directory.
    pub fn new(policy: impl Into<PathBuf>, data: impl Into<PathBuf>) -> Config {
        Config {
            policy: policy.into(),
            data: data.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            approvers: None,
            lease: Duration::from_secs(300),
            jwt: None,
            rate_limit: Some(limits::RateLimit {
                per_second: 10_000.0,
                burst: 20_000.0,
            }),
            webhooks: None,
            https: false,
            session_lifetime: Duration::from_secs(8 * 3600),
            sso: None,
        }
    }
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
    /// The webhooks file or outbox.
    #[error("{0}")]
    Webhooks(#[from] webhooks::WebhookError),
    /// Single sign-on.
    #[error("{0}")]
    Sso(#[from] web::sso::SsoError),
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
        let sso = match (&config.sso, &config.jwt) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(web::sso::SsoError(
                    "single sign-on verifies the ID token as a JWT: give --jwks, --issuer and --audience".into(),
                )
                .into());
            }
            (Some(s), Some(j)) if s.client_id != j.audience => {
                return Err(web::sso::SsoError(format!(
                    "the client id `{}` is not the JWT audience `{}`: an ID token's `aud` is the client id",
                    s.client_id, j.audience
                ))
                .into());
            }
            (Some(s), Some(_)) => Some(web::sso::Sso::new(s.clone())?),
        };
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
        let webhooks = match &config.webhooks {
            Some(file) => Some(Arc::new(webhooks::Webhooks::load(
                file,
                data.root(),
                desk.store(),
            )?)),
            None => None,
        };
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
            metrics: metrics::Metrics::default(),
            limiter: config.rate_limit.map(limits::Limiter::new),
            webhooks,
            sessions: web::sessions::Sessions::new(config.session_lifetime),
            https: config.https,
            sso,
            stopping: tokio::sync::watch::channel(false).0,
            generation: std::sync::atomic::AtomicU64::new(0),
            stats: inbox::StatsCache::default(),
        })
    }
}

/// The API's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(openapi::healthz))
        .route("/v1/keys", get(agents::keys))
        .route("/v1/decisions", post(agents::decide))
        .route("/v1/requests", post(agents::submit))
        .route("/v1/requests/{id}", get(agents::show))
        .route("/v1/requests/{id}/wait", get(watch::wait))
        .route("/v1/requests/{id}/events", get(watch::events))
        .route("/v1/requests/{id}/claim", post(agents::claim))
        .route("/v1/requests/{id}/report", post(agents::report))
        .route("/v1/requests/{id}/cancel", post(agents::cancel))
        .route("/v1/inbox", get(inbox::inbox))
        .route("/v1/stats", get(inbox::stats))
        .route("/v1/inbox/events", get(watch::inbox_events))
        .route("/v1/requests/{id}/decisions", post(approvers::decide))
        .route("/v1/requests/{id}/preview", post(approvers::preview))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::document))
        .merge(web::routes())
        .layer(axum::middleware::from_fn_with_state(app.clone(), each_call))
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// What every route's call goes through: the rate limit, then the handler; the answer
/// (a 429 too) gets `Strict-Transport-Security` when the service is reached over https,
/// and is timed and counted (one layer: each layer costs a boxed future a call).
async fn each_call(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let watch = metrics::Watch::start(&request);
    let mut response = match limits::refusal(&app, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    };
    if app.https {
        // Reached over https: a browser keeps to it (no sign-in form over plain http).
        response.headers_mut().insert(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=31536000"),
        );
    }
    watch.finish(&app.metrics, &response);
    response
}

/// What a path the API does not have gets: 404 (or 405 for a known path and another
/// method, which axum answers itself) in the API's error shape.
async fn no_route(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::not_found(&format!("route `{}` (see /openapi.json)", uri.path()))
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
                for e in &s.events {
                    if let Some(id) = e.request_id.as_deref() {
                        app.changed(id, e.kind.as_str());
                    }
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

/// The address a call came from (what rate limits fall back to without a credential).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// Serves until `shutdown` resolves, then finishes the requests in flight. The listener is
/// a bound [`tokio::net::TcpListener`] (see [`bind`]) or, with the `tls` feature, a
/// `tls::TlsListener`.
pub async fn serve<L>(
    app: Arc<App>,
    listener: L,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    for<'a> Peer: axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let sweeper = tokio::spawn(sweep(app.clone(), Duration::from_secs(1)));
    let hooks = (app.webhooks.clone()).map(|w| tokio::spawn(webhooks::run(app.clone(), w)));
    let stopping = app.stopping.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.send_replace(true);
    };
    let service = router(app).into_make_service_with_connect_info::<Peer>();
    let result = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await;
    sweeper.abort();
    if let Some(h) = hooks {
        h.abort();
    }
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

/// Binds the configured address. Connections it accepts have Nagle's algorithm off
/// (`TCP_NODELAY`, inherited from the listening socket), so an answer is never held back
/// waiting for an acknowledgement.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    let failed = |e: std::io::Error| StartError::Listen {
        addr,
        message: e.to_string(),
    };
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(failed)?;
    #[cfg(unix)]
    socket.set_reuseaddr(true).map_err(failed)?;
    socket.set_nodelay(true).map_err(failed)?;
    socket.bind(addr).map_err(failed)?;
    socket.listen(1024).map_err(failed)
}

/// Whether the address is reachable only from this machine.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}
