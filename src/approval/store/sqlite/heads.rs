//! Request heads: with a log key, each request's row carries the key's signature of its
//! latest event, so events removed from the end of a request (a claim taken back to claim
//! again) are refused when the request is next changed, and `verify` lists them. Rolling a
//! request back to an older copy of its row and events is not caught here.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, params};

use super::SqliteStore;
use crate::approval::Error;
use crate::approval::event::Event;

/// How many requests' latest places are remembered before the memory starts over.
const LATEST_CAPACITY: usize = 1_000_000;

/// The place of each request's latest event, as this process last wrote or read it.
#[derive(Debug, Default)]
pub(super) struct Latest(Mutex<HashMap<String, u64>>);

impl Latest {
    /// Records that the request reached event `seq` (once it is committed).
    pub(super) fn note(&self, id: &str, seq: u64) {
        let mut m = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if m.len() >= LATEST_CAPACITY && !m.contains_key(id) {
            m.clear();
        }
        let e = m.entry(id.to_string()).or_insert(seq);
        *e = (*e).max(seq);
    }

    fn get(&self, id: &str) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .copied()
    }
}

impl SqliteStore {
    /// Every event signed by the key, numbered 1, 2, 3 ... and chained.
    fn check_whole_log(&self) -> Result<(), Error> {
        let Some(key) = self.key() else {
            return Ok(());
        };
        let rows = self.read(|c| super::event_rows(c, None))?;
        let events = super::parse_events(&rows, Some(key))?;
        let mut prev = crate::approval::GENESIS.to_string();
        for (i, e) in events.iter().enumerate() {
            if e.seq != i as u64 + 1 || e.prev_hash != prev {
                return Err(Error::Corrupt(format!(
                    "`{}`: the log has a gap or a break before event {}; its request heads are not signed (run `policy approvals verify --db` on it, and restore a good copy)",
                    self.path().display(),
                    e.seq
                )));
            }
            prev.clone_from(&e.hash);
        }
        Ok(())
    }

    /// With a log key, whether the request's history reaches as far as this process last
    /// saw it go (an older row, events and head put back together are refused).
    pub(super) fn check_latest(&self, id: &str, history: &[Event]) -> Result<(), Error> {
        if self.key().is_none() {
            return Ok(());
        }
        let last = history.last().map_or(0, |e| e.seq);
        match self.latest.get(id) {
            Some(known) if last < known => Err(Error::Corrupt(format!(
                "request `{id}` ends at event {last}, but the service wrote it up to event {known} (events were removed); the log was written to outside the service"
            ))),
            _ => {
                self.latest.note(id, last);
                Ok(())
            }
        }
    }

    /// Records, with the log key, which event is the request's latest.
    pub(super) fn sign_head(
        &self,
        tx: &rusqlite::Transaction<'_>,
        id: &str,
        last: &Event,
    ) -> rusqlite::Result<()> {
        let Some(key) = self.key() else {
            return Ok(());
        };
        tx.prepare_cached("UPDATE requests SET head = ?2 WHERE id = ?1")?
            .execute(params![id, key.sign(&head_text(id, &last.hash))])?;
        Ok(())
    }

    /// With a log key, whether the request's latest event is the one the key last signed
    /// as its head (events removed from its end, or the request's row given another
    /// request's head, are refused).
    pub(super) fn check_head(
        &self,
        tx: &Connection,
        id: &str,
        history: &[Event],
    ) -> rusqlite::Result<Result<(), Error>> {
        let Some(key) = self.key() else {
            return Ok(Ok(()));
        };
        let head: Option<String> = tx
            .prepare_cached("SELECT head FROM requests WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))?;
        let last = history.last().map(|e| e.hash.as_str()).unwrap_or_default();
        let problem = match head {
            None => "has no signed latest event: it was not written by the service",
            Some(sig) if !key.verify(&head_text(id, last), &sig) => {
                "does not end with the event the service last wrote for it (events were removed)"
            }
            Some(_) => return Ok(Ok(())),
        };
        Ok(Err(Error::Corrupt(format!(
            "request `{id}` {problem}; the log was written to outside the service"
        ))))
    }

    /// Signs the latest event of every request as its head: once, when a log written
    /// before heads existed is first opened with its key, and only if the whole log holds
    /// (every event signed by the key, at its place, chained to the one before, none
    /// missing): nothing that was tampered with gets a head.
    pub(super) fn sign_existing_heads(&mut self) -> Result<(), Error> {
        self.check_whole_log()?;
        self.write(|tx| {
            let lasts: Vec<(String, String)> = tx
                .prepare(
                    "SELECT r.id, e.hash FROM requests r JOIN events e ON e.seq =
                        (SELECT max(seq) FROM events WHERE request_id = r.id)
                     WHERE r.head IS NULL",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            if let Some(key) = self.key() {
                for (id, hash) in lasts {
                    tx.execute(
                        "UPDATE requests SET head = ?2 WHERE id = ?1",
                        params![id, key.sign(&head_text(&id, &hash))],
                    )?;
                }
            }
            Ok(Ok(()))
        })??;
        self.heads_added = false;
        Ok(())
    }
}

/// What a request's head signature covers: the request and its latest event's hash (which
/// covers the event's place in the log).
pub(super) fn head_text(id: &str, last_hash: &str) -> String {
    format!("head:{id}:{last_hash}")
}
