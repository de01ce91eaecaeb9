//! The durable outbox, `webhooks.db` in the data directory: how far each endpoint has read
//! the approvals log (its cursor), and every message with its attempts, its next attempt
//! and whether it was delivered or given up. Messages and the cursor move in one
//! transaction, so an event is queued exactly once and a queued message survives restarts
//! until it is delivered or given up.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::WebhookStats;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cursors (
    endpoint TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    endpoint TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    delivered_at INTEGER,
    given_up_at INTEGER,
    last_error TEXT,
    PRIMARY KEY (endpoint, id)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (endpoint, next_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
PRAGMA user_version = 1;
";

/// The outbox cannot be read or written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {message}")]
pub struct OutboxError {
    /// The database file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The endpoint's URL.
    pub endpoint: String,
    /// The message id (`webhook-id`).
    pub id: String,
    /// Its type (`request.created`).
    pub kind: String,
    /// The body, exactly as it will be sent (and signed).
    pub body: String,
}

/// A queued message that is due.
#[derive(Debug, Clone)]
pub struct Due {
    /// The endpoint's URL.
    pub endpoint: String,
    /// The message id.
    pub id: String,
    /// Its type.
    pub kind: String,
    /// The body.
    pub body: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// What a failed attempt leads to.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The wait after the first failure (doubled after each next one).
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (from 1): base · 2^(failures − 1), capped.
    pub fn wait(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// The outbox database.
#[derive(Debug)]
pub struct Outbox {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Outbox {
    /// Opens (creating) the outbox at `path`.
    pub fn open(path: &Path) -> Result<Outbox, OutboxError> {
        let err = |e: rusqlite::Error| OutboxError {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            .map_err(err)?;
        conn.execute_batch("PRAGMA synchronous = FULL;")
            .map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version > 1 {
            return Err(OutboxError {
                path: path.to_path_buf(),
                message: format!(
                    "written by a newer holdpoint (schema {version}); this one knows 1"
                ),
            });
        }
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Outbox {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    fn err(&self, e: &rusqlite::Error) -> OutboxError {
        OutboxError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Runs `f` on the connection, or in a write transaction when `write` is set
    /// (committed only if `f` succeeds).
    fn with<T>(
        &self,
        write: bool,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, OutboxError> {
        let mut conn = self.conn.lock().map_err(|_| OutboxError {
            path: self.path.clone(),
            message: "a thread panicked while holding the outbox".into(),
        })?;
        if !write {
            return f(&conn).map_err(|e| self.err(&e));
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(&e))?;
        let v = f(&tx).map_err(|e| self.err(&e))?;
        tx.commit().map_err(|e| self.err(&e))?;
        Ok(v)
    }

    /// How far the endpoint has read the log (`None`: never).
    pub fn cursor(&self, endpoint: &str) -> Result<Option<u64>, OutboxError> {
        self.with(false, |c| {
            c.query_row(
                "SELECT seq FROM cursors WHERE endpoint = ?1",
                params![endpoint],
                |r| r.get::<_, i64>(0),
            )
            .optional()
        })
        .map(|s| s.map(|s| u64::try_from(s).unwrap_or(0)))
    }

    /// Starts a new endpoint's cursor at `seq` (an endpoint that has one keeps it).
    pub fn start_cursor(&self, endpoint: &str, seq: u64) -> Result<(), OutboxError> {
        self.with(true, |c| {
            c.execute(
                "INSERT OR IGNORE INTO cursors (endpoint, seq) VALUES (?1, ?2)",
                params![endpoint, i64::try_from(seq).unwrap_or(i64::MAX)],
            )
            .map(|_| ())
        })
    }

    /// Queues `messages` (one already queued under the same endpoint and id is left as it
    /// is) and moves the cursors, in one transaction.
    pub fn fill(
        &self,
        messages: &[NewMessage],
        cursors: &[(String, u64)],
        now: i64,
    ) -> Result<usize, OutboxError> {
        self.with(true, |c| {
            let mut added = 0;
            let mut insert = c.prepare_cached(
                "INSERT OR IGNORE INTO outbox (endpoint, id, type, body, created_at, next_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?;
            for m in messages {
                added += insert.execute(params![m.endpoint, m.id, m.kind, m.body, now])?;
            }
            for (endpoint, seq) in cursors {
                c.execute(
                    "INSERT INTO cursors (endpoint, seq) VALUES (?1, ?2)
                     ON CONFLICT (endpoint) DO UPDATE SET seq = max(seq, excluded.seq)",
                    params![endpoint, i64::try_from(*seq).unwrap_or(i64::MAX)],
                )?;
            }
            Ok(added)
        })
    }

    /// Whether a message with this id is queued (or was) for the endpoint.
    pub fn has(&self, endpoint: &str, id: &str) -> Result<bool, OutboxError> {
        self.with(false, |c| {
            c.query_row(
                "SELECT 1 FROM outbox WHERE endpoint = ?1 AND id = ?2",
                params![endpoint, id],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
        })
    }

    /// Up to `limit` of the endpoint's messages due by `now`, the longest waiting first.
    pub fn due(&self, endpoint: &str, now: i64, limit: usize) -> Result<Vec<Due>, OutboxError> {
        self.with(false, |c| {
            let mut stmt = c.prepare_cached(
                "SELECT endpoint, id, type, body, attempts FROM outbox
                 WHERE endpoint = ?1 AND delivered_at IS NULL AND given_up_at IS NULL
                    AND next_at <= ?2
                 ORDER BY next_at, created_at, rowid LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                params![endpoint, now, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok(Due {
                        endpoint: r.get(0)?,
                        id: r.get(1)?,
                        kind: r.get(2)?,
                        body: r.get(3)?,
                        attempts: r.get(4)?,
                    })
                },
            )?;
            rows.collect()
        })
    }

    /// Records a delivery.
    pub fn delivered(&self, endpoint: &str, id: &str, now: i64) -> Result<(), OutboxError> {
        self.with(true, |c| {
            let n = c.execute(
                "UPDATE outbox SET delivered_at = ?3, attempts = attempts + 1, last_error = NULL
                 WHERE endpoint = ?1 AND id = ?2 AND delivered_at IS NULL",
                params![endpoint, id, now],
            )?;
            bump(c, "delivered", n)
        })
    }

    /// Records a failed attempt: schedules the next one, or gives the message up after the
    /// last. Returns whether it was given up.
    pub fn failed(
        &self,
        endpoint: &str,
        id: &str,
        now: i64,
        error: &str,
        retry: &RetryPolicy,
    ) -> Result<bool, OutboxError> {
        self.with(true, |c| {
            let attempts: Option<u32> = c
                .query_row(
                    "SELECT attempts FROM outbox WHERE endpoint = ?1 AND id = ?2
                     AND delivered_at IS NULL AND given_up_at IS NULL",
                    params![endpoint, id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(attempts) = attempts.map(|a| a.saturating_add(1)) else {
                return Ok(false);
            };
            bump(c, "failed_attempts", 1)?;
            let give_up = attempts >= retry.max_attempts;
            let next = now.saturating_add(ms(retry.wait(attempts)));
            c.execute(
                "UPDATE outbox SET attempts = ?3, last_error = ?4, next_at = ?5,
                    given_up_at = CASE WHEN ?6 THEN ?7 ELSE NULL END
                 WHERE endpoint = ?1 AND id = ?2",
                params![endpoint, id, attempts, error, next, give_up, now],
            )?;
            if give_up {
                bump(c, "given_up", 1)?;
            }
            Ok(give_up)
        })
    }

    /// Forgets delivered and given-up messages older than `before`.
    pub fn prune(&self, before: i64) -> Result<usize, OutboxError> {
        self.with(true, |c| {
            c.execute(
                "DELETE FROM outbox WHERE coalesce(delivered_at, given_up_at) < ?1",
                params![before],
            )
        })
    }

    /// The counts (kept across restarts).
    pub fn stats(&self) -> Result<WebhookStats, OutboxError> {
        self.with(false, |c| {
            let counter = |name: &str| -> rusqlite::Result<u64> {
                c.query_row(
                    "SELECT coalesce(max(value), 0) FROM counters WHERE name = ?1",
                    params![name],
                    |r| r.get::<_, i64>(0),
                )
                .map(|v| u64::try_from(v).unwrap_or(0))
            };
            let pending: i64 = c.query_row(
                "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND given_up_at IS NULL",
                [],
                |r| r.get(0),
            )?;
            Ok(WebhookStats {
                delivered: counter("delivered")?,
                failed_attempts: counter("failed_attempts")?,
                given_up: counter("given_up")?,
                pending: u64::try_from(pending).unwrap_or(0),
            })
        })
    }

    /// The last error of a message, and its attempts (for tests and diagnosis).
    pub fn attempts(
        &self,
        endpoint: &str,
        id: &str,
    ) -> Result<Option<(u32, Option<String>)>, OutboxError> {
        self.with(false, |c| {
            c.query_row(
                "SELECT attempts, last_error FROM outbox WHERE endpoint = ?1 AND id = ?2",
                params![endpoint, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }
}

fn bump(c: &Connection, name: &str, by: usize) -> rusqlite::Result<()> {
    if by == 0 {
        return Ok(());
    }
    c.execute(
        "INSERT INTO counters (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        params![name, i64::try_from(by).unwrap_or(i64::MAX)],
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(name: &str) -> Outbox {
        let dir = std::env::temp_dir().join(format!("hp-outbox-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Outbox::open(&dir.join("webhooks.db")).unwrap()
    }

    fn msg(id: &str) -> NewMessage {
        NewMessage {
            endpoint: "http://e".into(),
            id: id.into(),
            kind: "request.created".into(),
            body: "{}".into(),
        }
    }

    const RETRY: RetryPolicy = RetryPolicy {
        base: Duration::from_millis(100),
        max: Duration::from_millis(350),
        max_attempts: 3,
    };

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let waits: Vec<u128> = (1..=5).map(|n| RETRY.wait(n).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 350, 350, 350]);
        assert_eq!(RETRY.wait(200), RETRY.max);
    }

    #[test]
    fn a_message_is_queued_once_and_the_cursor_moves_with_it() {
        let o = outbox("once");
        let cursor = vec![("http://e".to_string(), 7)];
        assert_eq!(o.fill(&[msg("m1")], &cursor, 0).unwrap(), 1);
        assert_eq!(
            o.fill(&[msg("m1")], &[("http://e".into(), 3)], 0).unwrap(),
            0
        );
        // A cursor never moves back.
        assert_eq!(o.cursor("http://e").unwrap(), Some(7));
        assert_eq!(o.due("http://e", 0, 10).unwrap().len(), 1);
    }

    #[test]
    fn failures_retry_later_then_give_up_counted() {
        let o = outbox("retry");
        o.fill(&[msg("m1")], &[], 0).unwrap();
        assert!(!o.failed("http://e", "m1", 0, "HTTP 500", &RETRY).unwrap());
        assert!(o.due("http://e", 99, 10).unwrap().is_empty());
        assert_eq!(o.due("http://e", 100, 10).unwrap()[0].attempts, 1);
        assert!(!o.failed("http://e", "m1", 100, "HTTP 500", &RETRY).unwrap());
        assert!(o.failed("http://e", "m1", 300, "HTTP 503", &RETRY).unwrap());
        assert!(o.due("http://e", i64::MAX, 10).unwrap().is_empty());
        let s = o.stats().unwrap();
        assert_eq!((s.failed_attempts, s.given_up, s.pending), (3, 1, 0));
        assert_eq!(
            o.attempts("http://e", "m1").unwrap(),
            Some((3, Some("HTTP 503".into())))
        );
        o.fill(&[msg("m2")], &[], 0).unwrap();
        o.delivered("http://e", "m2", 5).unwrap();
        o.delivered("http://e", "m2", 6).unwrap();
        assert_eq!(o.stats().unwrap().delivered, 1);
        assert_eq!(o.prune(301).unwrap(), 2);
    }
}
