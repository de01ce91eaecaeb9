//! `Store::events_after`: a reader that has seen the log up to some `seq` gets what came
//! after, in order, a page at a time; the SQLite store and the default (memory) agree.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::approvals::{approvers, policy, refund};
use holdpoint::approval::store::{MemoryStore, SqliteStore, Store};
use holdpoint::approval::{Desk, Guard, Ruling, Submitted, Verdict};

/// Submits two gated calls and approves the first (at least three events).
fn fill(store: Arc<dyn Store>) {
    let guard = Guard::new(policy(), store.clone(), approvers());
    let desk = Desk::new(store, approvers()).with_policy(policy());
    let mut ids = Vec::new();
    for call in ["c1", "c2"] {
        match guard.submit(refund(900, "standard", call)).unwrap() {
            Submitted::Waiting(w) => ids.push(w.id),
            other => panic!("{other:?}"),
        }
    }
    desk.decide(&ids[0], &Ruling::new("fiona", Verdict::Approve))
        .unwrap();
}

fn seqs(store: &dyn Store, after: u64, limit: usize) -> Vec<u64> {
    store
        .events_after(after, limit)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

fn check(store: Arc<dyn Store>) {
    fill(store.clone());
    let all: Vec<u64> = store.events(None).unwrap().iter().map(|e| e.seq).collect();
    assert!(all.len() >= 3, "{all:?}");
    let last = *all.last().unwrap();
    assert_eq!(seqs(&*store, 0, 100), all);
    assert_eq!(seqs(&*store, 0, 2), vec![1, 2]);
    assert_eq!(seqs(&*store, 1, 1), vec![2]);
    assert_eq!(seqs(&*store, last - 1, 100), vec![last]);
    assert!(seqs(&*store, last, 100).is_empty());
    assert!(seqs(&*store, 0, 0).is_empty());
    // The events read are the log's own, hash and all.
    let page = store.events_after(1, 1).unwrap();
    assert_eq!(page[0], store.events(None).unwrap()[1]);
}

#[test]
fn sqlite_gives_the_events_after_a_seq_in_pages() {
    let db = common::scratch("events-after").join("approvals.db");
    check(Arc::new(SqliteStore::open(&db).unwrap()));
}

#[test]
fn the_default_gives_the_same() {
    check(Arc::new(MemoryStore::new()));
}
