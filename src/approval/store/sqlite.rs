//! The SQLite store: one database file that several processes on one host share. WAL
//! journal, every commit flushed to disk before the write returns (group commit: see
//! [`durable`]), every write in a `BEGIN IMMEDIATE` transaction, a busy
//! timeout instead of busy errors, schema migrations recorded in a version table.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::{Change, LogKey, Snapshot, Store, same_payload};

mod durable;
mod heads;
mod verified;

use crate::approval::{Checkpoint, Error, Event, GENESIS, Request, State, Status};
use heads::head_text;

impl SqliteStore {
    /// `PRAGMA application_id` of a holdpoint database ("hpnt").
    pub const APPLICATION_ID: i64 = APPLICATION_ID;
}

/// `PRAGMA application_id` of a holdpoint database ("hpnt").
const APPLICATION_ID: i64 = 0x6870_6e74;

/// Schema migrations, in order; the version of migration `i` is `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: requests and the audit log.
    "CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        tool_call_id TEXT NOT NULL,
        payload_digest TEXT NOT NULL,
        state TEXT NOT NULL,
        due_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        checkpoint TEXT NOT NULL,
        status TEXT NOT NULL,
        UNIQUE (tenant, run_id, tool_call_id)
    );
    CREATE INDEX requests_state ON requests (state, created_at);
    CREATE INDEX requests_due ON requests (due_at) WHERE due_at IS NOT NULL;
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        request_id TEXT,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL,
        body TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX events_request ON events (request_id, seq);",
    // 2: the log key's signature of each event's hash (NULL when written without a key).
    "ALTER TABLE events ADD COLUMN signature TEXT;",
    // 3: the log key's signature of each request's latest event (its head), so events
    // removed from a request are noticed when it is next changed.
    "ALTER TABLE requests ADD COLUMN head TEXT;",
    // 4: each event's actor, indexed, so one approver's decisions are found without
    // reading the whole log (the body stays the record; the column only finds rows).
    "ALTER TABLE events ADD COLUMN actor TEXT;
    UPDATE events SET actor = json_extract(body, '$.actor');
    CREATE INDEX events_actor ON events (actor, seq);",
];

/// The schema version that added request heads.
const HEADS_VERSION: i64 = 3;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Requests and events in an SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    log_key: Option<Arc<dyn LogKey>>,
    durable: durable::GroupCommit,
    /// This open brought the schema from before request heads (migration 3) to now: the
    /// first log key signs the heads of the requests already there.
    heads_added: bool,
    /// With a log key: the place of each request's latest event as this process wrote or
    /// read it, so an older head put back (a request rolled back while the service runs)
    /// is refused too.
    latest: heads::Latest,
}

fn db_error(path: &Path, e: &rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::Corrupt(format!(
            "`{}` is not an SQLite database, or its header is damaged",
            path.display()
        )),
        Some(ErrorCode::DatabaseCorrupt) => {
            Error::Corrupt(format!("`{}` is damaged: {e}", path.display()))
        }
        _ => Error::Store(format!("`{}`: {e}", path.display())),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// A file that is not SQLite, or an SQLite database of another application, is refused
    /// and left as it was.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, Error> {
        let path = path.as_ref().to_path_buf();
        if path.is_dir() {
            return Err(Error::Store(format!("`{}` is a directory", path.display())));
        }
        let err = |e: rusqlite::Error| db_error(&path, &e);
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // Read before writing anything: refuse what is not ours.
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(err)?;
        let app: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(err)?;
        if app != APPLICATION_ID && (app != 0 || tables > 0) {
            return Err(Error::Foreign(format!(
                "`{}` is an SQLite database of another application; holdpoint will not write to it",
                path.display()
            )));
        }
        // A newer schema is refused before anything (even the journal mode) changes.
        if app == APPLICATION_ID {
            let version: i64 = conn
                .query_row(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            let known = MIGRATIONS.len() as i64;
            if version > known {
                return Err(Error::NewerSchema {
                    found: version,
                    known,
                });
            }
        }
        let mode = retry_busy(|| {
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        })
        .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Store(format!(
                "`{}`: SQLite could not switch to WAL mode (it stays `{mode}`); put the database on a local file system",
                path.display()
            )));
        }
        // NORMAL: a commit is written to the WAL, and `write` flushes it (group commit)
        // before the change is answered.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(err)?;
        let mut store = SqliteStore {
            conn: Mutex::new(conn),
            durable: durable::GroupCommit::new(&path),
            path,
            log_key: None,
            heads_added: false,
            latest: heads::Latest::default(),
        };
        let before = store.migrate()?;
        store.heads_added = (1..HEADS_VERSION).contains(&before);
        Ok(store)
    }

    /// Signs every event written from now on with `key`, and refuses to read an event that
    /// `key` did not sign. A database that already holds unsigned events (written in local
    /// mode) is refused: nothing in it could be told apart from a forgery.
    pub fn with_log_key(mut self, key: Arc<dyn LogKey>) -> Result<SqliteStore, Error> {
        let unsigned: i64 = self.read(|c| {
            c.query_row(
                "SELECT count(*) FROM events WHERE signature IS NULL",
                [],
                |r| r.get(0),
            )
        })?;
        if unsigned > 0 {
            return Err(Error::Store(format!(
                "`{}` holds {unsigned} events written without the service's log key (in local mode, or by hand); the service will not trust them: start it on a new data directory",
                self.path.display()
            )));
        }
        self.log_key = Some(Arc::new(verified::Remembering::new(key)));
        if self.heads_added {
            self.sign_existing_heads()?;
        }
        Ok(self)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<i64, Error> {
        self.read(|c| {
            c.query_row(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
        })
    }

    /// Applies the migrations this file lacks; the version it was at.
    fn migrate(&self) -> Result<i64, Error> {
        self.write(|tx| {
            let app: i64 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
            let tables: i64 =
                tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            if app != APPLICATION_ID && (app != 0 || tables > 0) {
                return Ok(Err(Error::Foreign(format!(
                    "`{}` is an SQLite database of another application",
                    self.path.display()
                ))));
            }
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    applied_at INTEGER NOT NULL
                )",
            )?;
            let version: i64 = tx.query_row(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )?;
            let known = MIGRATIONS.len() as i64;
            if version > known {
                return Ok(Err(Error::NewerSchema {
                    found: version,
                    known,
                }));
            }
            let now = crate::approval::Clock::now_ms(&crate::approval::SystemClock);
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.execute_batch(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                    params![i as i64 + 1, now],
                )?;
            }
            if app != APPLICATION_ID {
                tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
            }
            Ok(Ok(version))
        })?
    }

    fn key(&self) -> Option<&dyn LogKey> {
        self.log_key.as_deref()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Connection>, Error> {
        self.conn
            .lock()
            .map_err(|_| Error::Store("a thread panicked while holding the database".into()))
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, Error> {
        let conn = self.lock()?;
        f(&conn).map_err(|e| db_error(&self.path, &e))
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction; commits only if it returns `Ok(Ok(_))`,
    /// and returns once the commit is on disk.
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<Result<T, Error>>,
    ) -> Result<Result<T, Error>, Error> {
        let (result, ticket) = self.write_in(f)?;
        if let Some(ticket) = ticket {
            self.durable.wait(ticket)?;
        }
        Ok(result)
    }

    /// The transaction of [`write`](Self::write), and the ticket of its commit.
    fn write_in<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<Result<T, Error>>,
    ) -> Result<(Result<T, Error>, Option<u64>), Error> {
        let conn = self.lock()?;
        let err = |e: rusqlite::Error| db_error(&self.path, &e);
        // The busy timeout makes BEGIN IMMEDIATE wait for other writers; the retry covers the
        // rare busy answer SQLite gives without waiting.
        let tx = retry_busy(|| {
            rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
        });
        let tx = tx.map_err(err)?;
        match f(&tx).map_err(err)? {
            Ok(v) => {
                tx.commit().map_err(err)?;
                Ok((Ok(v), Some(self.durable.committed())))
            }
            Err(e) => {
                tx.rollback().map_err(err)?;
                Ok((Err(e), None))
            }
        }
    }

    fn append_in(&self, tx: &rusqlite::Transaction<'_>, mut e: Event) -> rusqlite::Result<Event> {
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, prev) = last.unwrap_or((0, GENESIS.to_string()));
        e.seal(seq as u64 + 1, &prev);
        let body = to_json(&e)?;
        let signature = self.log_key.as_ref().map(|k| k.sign(&e.hash));
        tx.prepare_cached(
            "INSERT INTO events (seq, request_id, kind, at, body, hash, signature, actor)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            e.seq as i64,
            e.request_id,
            e.kind.as_str(),
            e.at,
            body,
            e.hash,
            signature,
            e.actor
        ])?;
        Ok(e)
    }

    fn save(tx: &rusqlite::Transaction<'_>, r: &Request, insert: bool) -> rusqlite::Result<()> {
        let status = to_json(&r.status)?;
        if insert {
            let checkpoint = to_json(&r.checkpoint)?;
            let c = &r.checkpoint;
            tx.prepare_cached(
                "INSERT INTO requests (id, tenant, run_id, tool_call_id, payload_digest, state, due_at,
                    created_at, updated_at, checkpoint, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                    r.id(),
                    c.identity.tenant,
                    c.run_id,
                    c.tool_call_id,
                    c.payload_digest,
                    r.state().as_str(),
                    r.due_at(),
                    c.created_at,
                    r.status.updated_at,
                    checkpoint,
                    status
                ])?;
        } else {
            tx.prepare_cached(
                "UPDATE requests SET state = ?2, due_at = ?3, updated_at = ?4, status = ?5 WHERE id = ?1",
            )?
            .execute(params![
                    r.id(),
                    r.state().as_str(),
                    r.due_at(),
                    r.status.updated_at,
                    status
                ])?;
        }
        Ok(())
    }

    fn load(tx: &Connection, id: &str) -> rusqlite::Result<Option<(String, String)>> {
        tx.prepare_cached("SELECT checkpoint, status FROM requests WHERE id = ?1")?
            .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }
}

/// Rebuilds a request from its two JSON columns.
fn parse(id: &str, checkpoint: &str, status: &str) -> Result<Request, Error> {
    let checkpoint = Checkpoint::from_json(checkpoint).map_err(|e| match e {
        Error::Corrupt(m) => Error::Corrupt(format!("request `{id}`: {m}")),
        Error::UnknownVersion { found, .. } => Error::UnknownVersion {
            request: id.to_string(),
            found,
        },
        other => other,
    })?;
    let status: Status = serde_json::from_str(status)
        .map_err(|e| Error::Corrupt(format!("request `{id}`: status does not read: {e}")))?;
    if checkpoint.request_id != id {
        return Err(Error::Corrupt(format!(
            "request `{id}` holds the checkpoint of `{}`",
            checkpoint.request_id
        )));
    }
    Ok(Request { checkpoint, status })
}

fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let start = std::time::Instant::now();
    loop {
        let attempt = std::time::Instant::now();
        match f() {
            // Retry only a busy answer SQLite gave without waiting out its busy timeout
            // (it does so when waiting could deadlock), and not beyond that timeout overall.
            Err(e)
                if attempt.elapsed() < Duration::from_secs(1)
                    && start.elapsed() < BUSY_TIMEOUT
                    && matches!(
                        e.sqlite_error_code(),
                        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                    ) =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// One row of the `events` table.
struct EventRow {
    seq: i64,
    body: String,
    hash: String,
    signature: Option<String>,
}

/// A row of `SELECT seq, body, hash, signature FROM events`.
fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        seq: r.get(0)?,
        body: r.get(1)?,
        hash: r.get(2)?,
        signature: r.get(3)?,
    })
}

fn event_rows(c: &Connection, request_id: Option<&str>) -> rusqlite::Result<Vec<EventRow>> {
    // Two statements, not `?1 IS NULL OR request_id = ?1`: SQLite uses the index only for
    // the plain comparison, and a request's history is read on every change.
    let mut stmt = match request_id {
        Some(_) => c.prepare_cached(
            "SELECT seq, body, hash, signature FROM events WHERE request_id = ?1 ORDER BY seq",
        )?,
        None => c.prepare_cached(
            "SELECT seq, body, hash, signature FROM events WHERE ?1 IS NULL ORDER BY seq",
        )?,
    };
    let rows = stmt.query_map(params![request_id], event_row)?;
    rows.collect()
}

/// Reads the rows as events; with a log key, each must carry the key's signature of its
/// own hash, at its own place.
fn parse_events(rows: &[EventRow], key: Option<&dyn LogKey>) -> Result<Vec<Event>, Error> {
    rows.iter()
        .map(|row| {
            let seq = row.seq;
            let e: Event = serde_json::from_str(&row.body)
                .map_err(|e| Error::Corrupt(format!("event {seq} does not read: {e}")))?;
            if let Some(key) = key {
                check_signed(row, &e, key)?;
            }
            Ok(e)
        })
        .collect()
}

/// Why a row is not an event the log key wrote, if it is not.
fn check_signed(row: &EventRow, e: &Event, key: &dyn LogKey) -> Result<(), Error> {
    let seq = row.seq;
    let problem = if i64::try_from(e.seq).ok() != Some(seq) || e.hash != row.hash {
        "is not at the place it was written for"
    } else if e.compute_hash() != e.hash {
        "was changed after it was written (its content does not match its hash)"
    } else {
        match &row.signature {
            None => "carries no signature: it was not written by the service",
            Some(sig) if !key.verify(&e.hash, sig) => {
                "carries a signature that is not the service's log key's"
            }
            Some(_) => return Ok(()),
        }
    };
    Err(Error::Corrupt(format!(
        "event {seq} {problem}; the log was written to outside the service"
    )))
}

fn to_json<T: serde::Serialize>(v: &T) -> rusqlite::Result<String> {
    serde_json::to_string(v).map_err(|x| rusqlite::Error::ToSqlConversionFailure(Box::new(x)))
}

impl Store for SqliteStore {
    fn create(&self, request: Request, created: Event) -> Result<(Request, bool), Error> {
        self.write(|tx| {
            if let Some((c, s)) = Self::load(tx, request.id())? {
                return Ok(parse(request.id(), &c, &s)
                    .and_then(|existing| same_payload(&existing, &request))
                    .map(|r| (r, false)));
            }
            Self::save(tx, &request, true)?;
            let created = self.append_in(tx, created)?;
            self.sign_head(tx, request.id(), &created)?;
            Ok(Ok((request, true)))
        })?
    }

    fn get(&self, id: &str) -> Result<Option<Request>, Error> {
        match self.read(|c| Self::load(c, id))? {
            Some((c, s)) => parse(id, &c, &s).map(Some),
            None => Ok(None),
        }
    }

    fn update(&self, id: &str, change: Change<'_>) -> Result<Request, Error> {
        let mut written = None;
        let result = self.write(|tx| {
            let Some((c, s)) = Self::load(tx, id)? else {
                return Ok(Err(Error::NotFound(id.to_string())));
            };
            let mut r = match parse(id, &c, &s) {
                Ok(r) => r,
                Err(e) => return Ok(Err(e)),
            };
            let history = match parse_events(&event_rows(tx, Some(id))?, self.key()) {
                Ok(h) => h,
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = self.check_head(tx, id, &history)? {
                return Ok(Err(e));
            }
            if let Err(e) = self.check_latest(id, &history) {
                return Ok(Err(e));
            }
            let events = match change(&mut r, &history) {
                Ok(events) => events,
                Err(e) => return Ok(Err(e)),
            };
            if !events.is_empty() {
                Self::save(tx, &r, false)?;
                let mut last = None;
                for e in events {
                    last = Some(self.append_in(tx, e)?);
                }
                if let Some(last) = last {
                    self.sign_head(tx, id, &last)?;
                    written = Some(last.seq);
                }
            }
            Ok(Ok(r))
        })?;
        // Only once committed (and durable): a rolled-back change moved nothing.
        if let (Ok(_), Some(seq)) = (&result, written) {
            self.latest.note(id, seq);
        }
        result
    }

    fn ids(&self, state: Option<State>) -> Result<Vec<String>, Error> {
        self.read(|c| {
            // Two statements, so the one with a state uses the `requests_state` index.
            let mut stmt = match state {
                Some(_) => c.prepare_cached(
                    "SELECT id FROM requests WHERE state = ?1 ORDER BY created_at, rowid",
                )?,
                None => c.prepare_cached(
                    "SELECT id FROM requests WHERE ?1 IS NULL ORDER BY created_at, rowid",
                )?,
            };
            let rows = stmt.query_map(params![state.map(State::as_str)], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn run_ids(&self, tenant: &str, run_id: &str) -> Result<Vec<String>, Error> {
        self.read(|c| {
            // The `UNIQUE (tenant, run_id, tool_call_id)` index answers it.
            let mut stmt = c.prepare_cached(
                "SELECT id FROM requests WHERE tenant = ?1 AND run_id = ?2 ORDER BY created_at, rowid",
            )?;
            let rows = stmt.query_map(params![tenant, run_id], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn due(&self, now: i64) -> Result<Vec<String>, Error> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id FROM requests WHERE due_at IS NOT NULL AND due_at <= ?1 ORDER BY due_at",
            )?;
            let rows = stmt.query_map(params![now], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn append(&self, event: Event) -> Result<Event, Error> {
        self.write(|tx| self.append_in(tx, event).map(Ok))?
    }

    fn events(&self, request_id: Option<&str>) -> Result<Vec<Event>, Error> {
        parse_events(&self.read(|c| event_rows(c, request_id))?, self.key())
    }

    fn decisions_by(&self, actor: &str, limit: usize) -> Result<Vec<Event>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, body, hash, signature FROM events
                 WHERE actor = ?1 AND kind IN ('approved', 'edited', 'rejected', 'escalated')
                 ORDER BY seq DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![actor, limit], event_row)?;
            rows.collect::<rusqlite::Result<Vec<EventRow>>>()
        })?;
        // The column only finds the rows: the signed body says who acted.
        Ok(parse_events(&rows, self.key())?
            .into_iter()
            .filter(|e| e.actor == actor && e.kind.is_decision())
            .collect())
    }

    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, Error> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, body, hash, signature FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit], event_row)?;
            rows.collect::<rusqlite::Result<Vec<EventRow>>>()
        })?;
        parse_events(&rows, self.key())
    }

    fn snapshot(&self) -> Result<Snapshot, Error> {
        // One read transaction: in WAL mode it sees one committed state throughout.
        let (events, rows) = self.read(|c| {
            c.execute_batch("BEGIN")?;
            let read = event_rows(c, None).and_then(|events| {
                let mut stmt = c.prepare(
                    "SELECT id, checkpoint, status FROM requests ORDER BY created_at, rowid",
                )?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                let rows: Vec<(String, String, String)> = rows.collect::<Result<_, _>>()?;
                Ok((events, rows))
            });
            c.execute_batch("COMMIT")?;
            read
        })?;
        Ok(Snapshot {
            events: parse_events(&events, self.key()),
            requests: rows
                .into_iter()
                .map(|(id, c, st)| {
                    let r = parse(&id, &c, &st);
                    (id, r)
                })
                .collect(),
        })
    }

    fn integrity(&self) -> Result<Vec<String>, Error> {
        let rows: Vec<String> = self.read(|c| {
            let mut stmt = c.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })?;
        let mut problems: Vec<String> = rows.into_iter().filter(|r| r != "ok").collect();
        if let Some(key) = self.key() {
            for row in self.read(|c| event_rows(c, None))? {
                let checked = serde_json::from_str::<Event>(&row.body)
                    .map_err(|e| Error::Corrupt(format!("event {} does not read: {e}", row.seq)))
                    .and_then(|e| check_signed(&row, &e, key));
                if let Err(e) = checked {
                    problems.push(e.to_string());
                }
            }
            let heads: Vec<(String, Option<String>, Option<String>)> = self.read(|c| {
                c.prepare(
                    "SELECT r.id, r.head, (SELECT hash FROM events WHERE seq =
                        (SELECT max(seq) FROM events WHERE request_id = r.id))
                     FROM requests r ORDER BY r.created_at",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
            })?;
            for (id, head, last) in heads {
                let fits = head.is_some_and(|sig| {
                    key.verify(&head_text(&id, last.as_deref().unwrap_or_default()), &sig)
                });
                if !fits {
                    problems.push(format!(
                        "request `{id}` does not end with the event the service last wrote for it (events were removed, or its row was written outside the service)"
                    ));
                }
            }
        }
        Ok(problems)
    }
}
