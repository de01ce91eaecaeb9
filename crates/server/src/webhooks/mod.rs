//! Webhooks: every change to a request that someone may want to hear of (created,
//! escalated, due soon, decided, expired, claimed, reported, cancelled), POSTed to the
//! endpoints of the webhooks file, signed per Standard Webhooks, or as a Slack message.
//!
//! The outbox is the approvals log itself plus a cursor per endpoint: a filler task moves
//! new events into `webhooks.db` (messages and cursor in one transaction), and one
//! delivery task per endpoint sends what is due, retrying with exponential backoff until
//! a 2xx or the last attempt. A message is queued once and stays queued across restarts
//! until delivered or given up: delivery is at least once, and the stable `webhook-id`
//! lets a receiver drop repeats. Described for users in `docs/webhooks.md`.
//!
//! - [`config`]: the webhooks file;
//! - [`sign`]: Standard Webhooks signatures;
//! - [`message`] and [`slack`]: what a message says, in either format;
//! - [`outbox`]: the durable queue;
//! - [`fill`] and [`deliver`]: the two halves of the work.

pub mod config;
pub mod deliver;
pub mod fill;
pub mod message;
pub mod outbox;
pub mod sign;
pub mod slack;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use holdpoint::approval::store::Store;
use holdpoint::approval::{Clock as _, SystemClock};
use tokio::task::JoinSet;

pub use config::{ConfigError, Endpoint, EventType, Format, WebhooksConfig};
pub use outbox::{Outbox, OutboxError, RetryPolicy};

use crate::App;

/// The outbox's file in the data directory.
pub const FILE: &str = "webhooks.db";

/// Messages one endpoint is sent at once.
const BATCH: usize = 16;

/// How long delivered and given-up messages are kept in the outbox.
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// The counts of the webhooks (kept in the outbox, so they survive restarts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Messages delivered (a 2xx answer).
    pub delivered: u64,
    /// Attempts that failed (an error, a timeout or a non-2xx answer).
    pub failed_attempts: u64,
    /// Messages given up after the last attempt.
    pub given_up: u64,
    /// Messages queued, neither delivered nor given up.
    pub pending: u64,
}

/// Why the webhooks could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The webhooks file.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The outbox.
    #[error("{0}")]
    Outbox(#[from] OutboxError),
    /// The approvals store.
    #[error("{0}")]
    Store(#[from] holdpoint::approval::Error),
    /// The HTTP client.
    #[error("the webhooks' HTTP client: {0}")]
    Client(String),
}

/// The webhooks of a service: the configuration, the outbox and the client.
#[derive(Debug)]
pub struct Webhooks {
    config: WebhooksConfig,
    outbox: Outbox,
    client: reqwest::Client,
    stats: Mutex<WebhookStats>,
}

fn now_ms() -> i64 {
    SystemClock.now_ms()
}

impl Webhooks {
    /// Reads the webhooks file and opens the outbox in the data directory.
    pub fn load(file: &Path, data: &Path, store: &dyn Store) -> Result<Webhooks, WebhookError> {
        Webhooks::open(WebhooksConfig::load(file)?, data, store)
    }

    /// Opens the outbox in the data directory for `config`. An endpoint seen for the first
    /// time starts at the end of the log: it is sent what happens from now on.
    pub fn open(
        config: WebhooksConfig,
        data: &Path,
        store: &dyn Store,
    ) -> Result<Webhooks, WebhookError> {
        let outbox = Outbox::open(&data.join(FILE))?;
        let mut end = None;
        for e in &config.endpoints {
            if outbox.cursor(&e.url)?.is_none() {
                let seq = match end {
                    Some(s) => s,
                    None => *end.insert(fill::last_seq(store)?),
                };
                outbox.start_cursor(&e.url, seq)?;
            }
        }
        let client = deliver::client(config.timeout).map_err(WebhookError::Client)?;
        let stats = Mutex::new(outbox.stats()?);
        Ok(Webhooks {
            config,
            outbox,
            client,
            stats,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &WebhooksConfig {
        &self.config
    }

    /// The outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The counts as of the last round of work (cheap: no database read).
    pub fn stats(&self) -> WebhookStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            base: self.config.retry_base,
            max: self.config.retry_max,
            max_attempts: self.config.max_attempts,
        }
    }

    fn refresh_stats(&self) {
        match self.outbox.stats() {
            Ok(s) => {
                if let Ok(mut held) = self.stats.lock() {
                    *held = s;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the webhooks' counts"),
        }
    }

    /// One round of filling: new events, due-soon gates (when `due_soon` is set), and the
    /// pruning of old messages (when `prune` is set).
    pub fn fill(&self, store: &dyn Store, due_soon: bool, prune: bool) -> Result<(), WebhookError> {
        let now = now_ms();
        fill::events(store, &self.outbox, &self.config, now)?;
        if due_soon {
            fill::due_soon(store, &self.outbox, &self.config, now)?;
        }
        if prune {
            let keep = i64::try_from(KEEP.as_millis()).unwrap_or(i64::MAX);
            self.outbox.prune(now.saturating_sub(keep))?;
        }
        self.refresh_stats();
        Ok(())
    }

    /// Sends the endpoint's due messages (a batch at once) and records each outcome.
    async fn deliver(self: &Arc<Self>, index: usize) -> Result<usize, WebhookError> {
        let Some(endpoint) = self.config.endpoints.get(index) else {
            return Ok(0);
        };
        let hooks = self.clone();
        let url = endpoint.url.clone();
        let due = blocking(move || hooks.outbox.due(&url, now_ms(), BATCH)).await??;
        let mut sends = JoinSet::new();
        for m in due {
            let (client, ep) = (self.client.clone(), endpoint.clone());
            sends.spawn(async move {
                let result = deliver::send(&client, &ep, &m, now_ms() / 1000).await;
                (m, result)
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = sends.join_next().await {
            if let Ok(outcome) = done {
                outcomes.push(outcome);
            }
        }
        let n = outcomes.len();
        let hooks = self.clone();
        blocking(move || hooks.record(outcomes)).await??;
        Ok(n)
    }

    fn record(&self, outcomes: Vec<(outbox::Due, Result<(), String>)>) -> Result<(), OutboxError> {
        let retry = self.retry();
        for (m, result) in outcomes {
            let now = now_ms();
            match result {
                Ok(()) => self.outbox.delivered(&m.endpoint, &m.id, now)?,
                Err(why) => {
                    let gave_up = self.outbox.failed(&m.endpoint, &m.id, now, &why, &retry)?;
                    if gave_up {
                        tracing::warn!(webhook = %m.id, kind = %m.kind, error = %why,
                            attempts = m.attempts + 1, "webhook given up");
                    } else {
                        tracing::debug!(webhook = %m.id, error = %why, "webhook attempt failed");
                    }
                }
            }
        }
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, WebhookError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WebhookError::Client(format!("a webhooks task stopped: {e}")))
}

/// Fills the outbox every `poll` (due-soon gates every four polls and at least once a
/// second, pruning once an hour).
async fn filler(app: Arc<App>, hooks: Arc<Webhooks>) {
    let mut tick = tokio::time::interval(hooks.config.poll);
    let due_soon_every = hooks
        .config
        .poll
        .saturating_mul(4)
        .min(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut due_soon_at = Instant::now();
    let mut prune_at = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        let due_soon = now >= due_soon_at;
        let prune = now >= prune_at;
        if due_soon {
            due_soon_at = now + due_soon_every;
        }
        if prune {
            prune_at = now + Duration::from_secs(3600);
        }
        let (a, h) = (app.clone(), hooks.clone());
        match blocking(move || h.fill(a.desk.store(), due_soon, prune)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => {
                tracing::warn!(error = %e, "the webhooks' outbox was not filled")
            }
        }
    }
}

/// Sends an endpoint's due messages every `poll`, and at once again after a full batch.
async fn sender(hooks: Arc<Webhooks>, index: usize) {
    let mut tick = tokio::time::interval(hooks.config.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match hooks.deliver(index).await {
                Ok(n) if n == BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks were not sent");
                    break;
                }
            }
        }
    }
}

/// Runs the webhooks of `app` until the task is aborted (what is queued then is sent after
/// the next start).
pub async fn run(app: Arc<App>, hooks: Arc<Webhooks>) {
    let mut tasks = JoinSet::new();
    tasks.spawn(filler(app, hooks.clone()));
    for i in 0..hooks.config.endpoints.len() {
        tasks.spawn(sender(hooks.clone(), i));
    }
    while tasks.join_next().await.is_some() {}
}
