//! Request heads: with a log key, each request's row carries the key's signature of its
//! latest event, so events removed from the end of a request (a claim taken back to claim
//! again) are refused when the request is next changed, and `verify` lists them. Rolling a
//! request back to an older copy of its row and events is not caught here.

use rusqlite::{Connection, params};

use super::SqliteStore;
use crate::approval::Error;
use crate::approval::event::Event;

impl SqliteStore {
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
    /// before heads existed is first opened with its key (its events' signatures were just
    /// checked to be all there).
    pub(super) fn sign_existing_heads(&mut self) -> Result<(), Error> {
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
