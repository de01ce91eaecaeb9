//! The approval runtime, measured: handing out a permit for an allowed call, and a whole
//! gated call (submit, decide, claim, report) on the memory store and on SQLite, where
//! every step is a `synchronous=FULL` transaction.
//!
//! Run: `cargo bench --bench approvals`.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use holdpoint::approval::store::{MemoryStore, SqliteStore, Store};
use holdpoint::approval::{
    ApproversFile, Desk, Guard, Identity, Proposal, Resumed, Ruling, Submitted, Verdict,
};
use holdpoint::{Policy, ToolCall};
use serde_json::json;

const POLICY: &str = r#"
default deny
allow search { when tool == "search" }
approve refund { when tool == "refund" and args.amount > 500 by "finance" within 2d }
"#;

fn identity() -> Identity {
    Identity {
        user: Some("uma".into()),
        tenant: "acme".into(),
        agent: "bot".into(),
        credentials_ref: None,
    }
}

/// Submit, approve, claim and report one gated call with a fresh tool-call id.
fn cycle(guard: &Guard, desk: &Desk, n: u64) {
    let call = ToolCall::new("refund", json!({"amount": 900, "order": n}));
    let p = Proposal::new(call, identity(), "run", format!("c{n}"));
    let Submitted::Waiting(w) = guard.submit(p).unwrap() else {
        panic!("the refund waits")
    };
    desk.decide(&w.id, &Ruling::new("fiona", Verdict::Approve))
        .unwrap();
    let Resumed::Permit(permit) = guard.resume(&w.id).unwrap() else {
        panic!("approved")
    };
    guard.finish(permit, Ok(json!(null))).unwrap();
}

fn runtime(store: Arc<dyn Store>) -> (Guard, Desk) {
    let policy = Arc::new(Policy::from_source(POLICY).unwrap());
    let approvers = Arc::new(ApproversFile::from_groups([("finance", &["fiona"][..])]));
    let guard = Guard::new(policy, store.clone(), approvers.clone());
    (guard, Desk::new(store, approvers))
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("approvals");
    g.throughput(Throughput::Elements(1));

    let (guard, _) = runtime(Arc::new(MemoryStore::new()));
    let search = ToolCall::new("search", json!({"q": "refund policy"}));
    g.bench_function("allow_permit", |b| {
        b.iter(|| {
            let p = Proposal::new(search.clone(), identity(), "run", "c");
            let Submitted::Permit(permit) = guard.submit(p).unwrap() else {
                panic!("allowed")
            };
            guard.finish(permit, Ok(serde_json::Value::Null)).unwrap();
        })
    });

    let (guard, desk) = runtime(Arc::new(MemoryStore::new()));
    let n = AtomicU64::new(0);
    g.bench_function("gated_cycle_memory", |b| {
        b.iter(|| cycle(&guard, &desk, n.fetch_add(1, Ordering::Relaxed)))
    });

    let dir = std::env::temp_dir().join(format!("holdpoint-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteStore::open(dir.join("approvals.db")).unwrap());
    let (guard, desk) = runtime(store);
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("gated_cycle_sqlite", |b| {
        b.iter(|| cycle(&guard, &desk, n.fetch_add(1, Ordering::Relaxed)))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(approvals, benches);
criterion_main!(approvals);
