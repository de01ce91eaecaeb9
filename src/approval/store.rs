//! Where requests and audit events live: the [`Store`] trait, an in-memory store, and
//! (feature `sqlite`) an SQLite store that several processes share.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::approval::{Error, Event, GENESIS, Request, State};

#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// A change to one request: gets the stored request and its events so far (read in the
/// same transaction), changes the request, returns the events that record the change. An
/// error aborts the change and leaves the store as it was.
pub type Change<'a> = &'a mut dyn FnMut(&mut Request, &[Event]) -> Result<Vec<Event>, Error>;

/// The key a store signs its log with: at every write the new event's hash, which names the
/// hash before it, is signed, so each signature vouches for the whole chain up to that event.
/// With one, write access to the database alone cannot add, move or change an event.
pub trait LogKey: Send + Sync + std::fmt::Debug {
    /// The key's id, as permits and verifiers name it.
    fn id(&self) -> &str;
    /// The signature of an event hash.
    fn sign(&self, hash: &str) -> String;
    /// Whether `signature` is this key's signature of `hash`.
    fn verify(&self, hash: &str, signature: &str) -> bool;
}

/// Durable storage of requests and the hash-chained audit log. Every method is atomic:
/// a change and its events are written together or not at all.
pub trait Store: Send + Sync {
    /// Stores a new request and its `created` event, unless a request with the same id
    /// exists: then returns that one if its payload digest is the same (`false`: not
    /// created), and [`Error::KeyReused`] otherwise.
    fn create(&self, request: Request, created: Event) -> Result<(Request, bool), Error>;

    /// The request with this id.
    fn get(&self, id: &str) -> Result<Option<Request>, Error>;

    /// Reads, changes and writes one request in one transaction, appending the events the
    /// change returns. With no events, nothing is written.
    fn update(&self, id: &str, change: Change<'_>) -> Result<Request, Error>;

    /// Ids of requests, oldest first, optionally only those in one state.
    fn ids(&self, state: Option<State>) -> Result<Vec<String>, Error>;

    /// Ids of one run's requests (the same tenant and `run_id`), oldest first. By default
    /// a scan of every request; a store with an index on the pair overrides it.
    fn run_ids(&self, tenant: &str, run_id: &str) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for id in self.ids(None)? {
            if let Some(r) = self.get(&id)?
                && r.checkpoint.identity.tenant == tenant
                && r.checkpoint.run_id == run_id
            {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The latest `limit` decisions (approved, edited, rejected, escalated) `actor` made,
    /// latest first. By default a scan of the whole log; a store with an index on the
    /// actor overrides it.
    fn decisions_by(&self, actor: &str, limit: usize) -> Result<Vec<Event>, Error> {
        Ok(self
            .events(None)?
            .into_iter()
            .rev()
            .filter(|e| e.actor == actor && e.kind.is_decision())
            .take(limit)
            .collect())
    }

    /// Requests, oldest first, optionally only those in one state. Fails on the first
    /// request that does not read; [`crate::approval::Desk::list`] skips and names them.
    fn list(&self, state: Option<State>) -> Result<Vec<Request>, Error> {
        let mut out = Vec::new();
        for id in self.ids(state)? {
            out.extend(self.get(&id)?);
        }
        Ok(out)
    }

    /// Ids of requests with something due by `now` (an SLA or a lease ending).
    fn due(&self, now: i64) -> Result<Vec<String>, Error>;

    /// Appends an event that belongs to no request (an `audited` call).
    fn append(&self, event: Event) -> Result<Event, Error>;

    /// The audit log in order, or one request's events.
    fn events(&self, request_id: Option<&str>) -> Result<Vec<Event>, Error>;

    /// At most `limit` events of the log with `seq` above `after`, in order: what a reader
    /// that has seen the log up to `after` has not seen yet (webhooks read the log so).
    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, Error> {
        let mut events = self.events(None)?;
        events.retain(|e| e.seq > after);
        events.truncate(limit);
        Ok(events)
    }

    /// The whole log and every request as of one moment (for `verify`, which must not see
    /// a request written after the events it read). A request that does not read is kept
    /// as its error.
    fn snapshot(&self) -> Result<Snapshot, Error> {
        let events = self.events(None);
        let mut requests = Vec::new();
        for id in self.ids(None)? {
            let r = self
                .get(&id)
                .and_then(|r| r.ok_or_else(|| Error::NotFound(id.clone())));
            requests.push((id, r));
        }
        Ok(Snapshot { events, requests })
    }

    /// Problems the storage itself finds in its files (none for memory).
    fn integrity(&self) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }
}

/// The log and the requests as of one moment.
#[derive(Debug)]
pub struct Snapshot {
    /// The audit log in order, or why it does not read.
    pub events: Result<Vec<Event>, Error>,
    /// Every request by id, oldest first, or why it does not read.
    pub requests: Vec<(String, Result<Request, Error>)>,
}

/// A store in process memory: for synchronous gates, tests and simulations. Lost when the
/// process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    requests: BTreeMap<String, (u64, Request)>,
    events: Vec<Event>,
    order: u64,
}

impl Memory {
    fn push(&mut self, mut e: Event) -> Event {
        let prev = self
            .events
            .last()
            .map_or(GENESIS, |e| e.hash.as_str())
            .to_string();
        e.seal(self.events.len() as u64 + 1, &prev);
        self.events.push(e.clone());
        e
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Memory>, Error> {
        self.inner
            .lock()
            .map_err(|_| Error::Store("a thread panicked while holding the store".into()))
    }
}

impl Store for MemoryStore {
    fn create(&self, request: Request, created: Event) -> Result<(Request, bool), Error> {
        let mut m = self.lock()?;
        if let Some((_, existing)) = m.requests.get(request.id()) {
            return same_payload(existing, &request).map(|r| (r, false));
        }
        m.order += 1;
        let order = m.order;
        m.requests
            .insert(request.id().to_string(), (order, request.clone()));
        m.push(created);
        Ok((request, true))
    }

    fn get(&self, id: &str) -> Result<Option<Request>, Error> {
        Ok(self.lock()?.requests.get(id).map(|(_, r)| r.clone()))
    }

    fn update(&self, id: &str, change: Change<'_>) -> Result<Request, Error> {
        let mut m = self.lock()?;
        let Some((_, stored)) = m.requests.get(id) else {
            return Err(Error::NotFound(id.to_string()));
        };
        let mut r = stored.clone();
        let history: Vec<Event> = m
            .events
            .iter()
            .filter(|e| e.request_id.as_deref() == Some(id))
            .cloned()
            .collect();
        let events = change(&mut r, &history)?;
        if events.is_empty() {
            return Ok(r);
        }
        for e in events {
            m.push(e);
        }
        if let Some(slot) = m.requests.get_mut(id) {
            slot.1 = r.clone();
        }
        Ok(r)
    }

    fn ids(&self, state: Option<State>) -> Result<Vec<String>, Error> {
        let m = self.lock()?;
        let mut all: Vec<&(u64, Request)> = m
            .requests
            .values()
            .filter(|(_, r)| state.is_none_or(|s| r.state() == s))
            .collect();
        all.sort_by_key(|(o, _)| *o);
        Ok(all.into_iter().map(|(_, r)| r.id().to_string()).collect())
    }

    fn due(&self, now: i64) -> Result<Vec<String>, Error> {
        let m = self.lock()?;
        Ok(m.requests
            .values()
            .filter(|(_, r)| r.due_at().is_some_and(|d| d <= now))
            .map(|(_, r)| r.id().to_string())
            .collect())
    }

    fn append(&self, event: Event) -> Result<Event, Error> {
        Ok(self.lock()?.push(event))
    }

    fn snapshot(&self) -> Result<Snapshot, Error> {
        let m = self.lock()?;
        let mut all: Vec<&(u64, Request)> = m.requests.values().collect();
        all.sort_by_key(|(o, _)| *o);
        Ok(Snapshot {
            events: Ok(m.events.clone()),
            requests: all
                .into_iter()
                .map(|(_, r)| (r.id().to_string(), Ok(r.clone())))
                .collect(),
        })
    }

    fn events(&self, request_id: Option<&str>) -> Result<Vec<Event>, Error> {
        let m = self.lock()?;
        Ok(m.events
            .iter()
            .filter(|e| request_id.is_none() || e.request_id.as_deref() == request_id)
            .cloned()
            .collect())
    }
}

/// The idempotency rule shared by stores: the same key with the same payload (for the same
/// identity) is the same request; with another payload or identity it is refused.
pub fn same_payload(existing: &Request, new: &Request) -> Result<Request, Error> {
    if existing.checkpoint.identity != new.checkpoint.identity {
        return Err(Error::KeyTaken {
            id: existing.id().to_string(),
        });
    }
    if existing.checkpoint.payload_digest == new.checkpoint.payload_digest {
        Ok(existing.clone())
    } else {
        Err(Error::KeyReused {
            id: existing.id().to_string(),
            existing: existing.checkpoint.payload_digest.clone(),
        })
    }
}
