//! The hot path, measured: a decision on a built call (tree and reference interpreter),
//! from JSON bytes to a decision, and source text to compiled policy, per rule count N.
//!
//! Run: `cargo bench --bench evaluate` (one group: `cargo bench --bench evaluate -- compile`).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use holdpoint::tools::generate::{Dialect, generate};
use holdpoint::{Catalog, Policy, PolicyBuilder, ToolCall};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
const CALLS: usize = 4_096;
const SEED: u64 = 42;

fn build(n: usize) -> (Policy, Vec<String>, Vec<ToolCall>, String, Catalog) {
    let g = generate(n, CALLS, SEED, Dialect::Full);
    let catalog = Catalog::from_yaml("gen.yaml", &g.catalog).unwrap();
    let policy = PolicyBuilder::new()
        .source("gen.gate", &g.policy)
        .catalog(catalog.clone())
        .build()
        .unwrap();
    let calls: Vec<ToolCall> = g
        .calls
        .iter()
        .map(|c| ToolCall::from_json(c).unwrap())
        .collect();
    (policy, g.calls, calls, g.policy, catalog)
}

fn benches(c: &mut Criterion) {
    let built: Vec<_> = SIZES.iter().map(|&n| (n, build(n))).collect();

    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(1));
    for (n, (policy, _, calls, _, _)) in &built {
        g.bench_with_input(BenchmarkId::new("tree", n), n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                let call = &calls[i % calls.len()];
                i = i.wrapping_add(1);
                let d = policy.evaluate(black_box(call));
                black_box((d.effect(), d.named().len()))
            })
        });
        // The same call many times in a row, as right after an agent built it: the call
        // and its tool's slice are in cache. The mix above walks 4 096 calls in turn.
        g.bench_with_input(BenchmarkId::new("tree_warm", n), n, |b, _| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                for i in 0..iters {
                    let call = &calls[(i as usize / 64) % calls.len()];
                    let d = policy.evaluate(black_box(call));
                    black_box((d.effect(), d.named().len()));
                }
                start.elapsed()
            })
        });
        g.bench_with_input(BenchmarkId::new("reference", n), n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                let call = &calls[i % calls.len()];
                i = i.wrapping_add(1);
                let d = policy.evaluate_reference(black_box(call));
                black_box((d.effect(), d.named().len()))
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("end_to_end");
    g.throughput(Throughput::Elements(1));
    for (n, (policy, json, _, _, _)) in &built {
        // One pass over the text with a reused reader (`Policy::evaluate_json`), as
        // `policy eval --jsonl` and an agent deciding many calls run it.
        g.bench_with_input(BenchmarkId::new("json_to_decision", n), n, |b, _| {
            let mut i = 0usize;
            let mut reader = holdpoint::CallReader::default();
            b.iter(|| {
                let text = &json[i % json.len()];
                i = i.wrapping_add(1);
                let d = policy.evaluate_json(black_box(text), &mut reader).unwrap();
                black_box(d.decision().effect())
            })
        });
        // The same through `ToolCall::from_json` (a `serde_json::Value`) and `evaluate`.
        g.bench_with_input(BenchmarkId::new("json_value_to_decision", n), n, |b, _| {
            let mut i = 0usize;
            b.iter(|| {
                let text = &json[i % json.len()];
                i = i.wrapping_add(1);
                let call = ToolCall::from_json(black_box(text)).unwrap();
                black_box(policy.evaluate(&call).effect())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    for (n, (_, _, _, source, catalog)) in &built {
        g.bench_with_input(BenchmarkId::new("source_to_policy", n), n, |b, _| {
            b.iter(|| {
                PolicyBuilder::new()
                    .source("gen.gate", black_box(source))
                    .catalog(catalog.clone())
                    .build()
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = hot_path;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(hot_path);
