//! holdpoint, Cedar (as it is, and pre-indexed by action) and regorus (a helper rule per
//! condition, and the rules as data looked up by tool), side by side:
//! ns per decision on already-built calls, per rule count N.
//!
//! Run: `cargo bench --manifest-path benches/peers/Cargo.toml`. Before any timing, every
//! engine must agree with holdpoint on every call of the mix (the build panics if not).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use holdpoint_peers::Engines;

fn sizes() -> Vec<usize> {
    std::env::var("PEERS_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1_000, 10_000])
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("peers");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    for n in sizes() {
        // regorus takes a third of a second per decision at 10 000 rules: fewer calls there.
        let calls = if n >= 10_000 { 200 } else { 2_000 };
        let mut e = Engines::build(n, calls, 42).expect("build");
        let bad = e.disagreements();
        assert!(
            bad.is_empty(),
            "{n} rules: {} disagreements, first: {:?}",
            bad.len(),
            bad.first()
        );
        let program = holdpoint::unstable::program(&e.holdpoint).clone();
        let len = e.calls.len();
        g.bench_with_input(BenchmarkId::new("holdpoint", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                let d = e.holdpoint.evaluate(black_box(&e.calls[i % len]));
                i += 1;
                black_box(d.effect())
            })
        });
        g.bench_with_input(BenchmarkId::new("cedar", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                let o = e.cedar.decide(&program, black_box(&e.cedar_calls[i % len]));
                i += 1;
                black_box(o)
            })
        });
        g.bench_with_input(BenchmarkId::new("cedar_indexed", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                let o = e
                    .cedar
                    .decide_indexed(&program, black_box(&e.cedar_calls[i % len]));
                i += 1;
                black_box(o)
            })
        });
        let inputs = e.rego_calls.clone();
        g.bench_with_input(BenchmarkId::new("regorus_data", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                let o = e.rego_data.decide(black_box(&inputs[i % len]));
                i += 1;
                black_box(o.is_ok())
            })
        });
        g.bench_with_input(BenchmarkId::new("regorus", n), &n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                let o = e.rego.decide(black_box(&inputs[i % len]));
                i += 1;
                black_box(o.is_ok())
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = peers;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(peers);
