//! Evaluating a call with the compiled tree does not allocate (after the policy is built
//! and the call parsed). A counting global allocator proves it.
#![allow(unsafe_code)] // the counting allocator, and nothing else

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use holdpoint::tools::generate::{Dialect, generate};
use holdpoint::{CallReader, Catalog, Policy, PolicyBuilder, ToolCall};

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other's allocations.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn evaluating_example_calls_does_not_allocate() {
    let mut calls = Vec::new();
    let mut policies = Vec::new();
    for name in ["assistive", "support", "operations"] {
        let dir = std::path::Path::new("policies").join(name);
        let policy = Policy::load(&dir).unwrap();
        for e in std::fs::read_dir(dir.join("calls")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                let call = ToolCall::from_json(&std::fs::read_to_string(&p).unwrap()).unwrap();
                calls.push((policies.len(), call));
            }
        }
        policies.push(policy);
    }
    // Unlisted tool names go through the glob automaton.
    calls.push((
        0,
        ToolCall::from_json(r#"{"tool":"zz.get","args":{}}"#).unwrap(),
    ));
    calls.push((
        2,
        ToolCall::from_json(r#"{"tool":"iam.other_role","args":{}}"#).unwrap(),
    ));
    // Warm up: regex engines fill their per-thread caches on first use.
    for (i, c) in &calls {
        std::hint::black_box(policies[*i].evaluate(c).effect());
    }
    let mut decided = 0;
    let before = allocations();
    for _ in 0..10 {
        for (i, c) in &calls {
            let d = policies[*i].evaluate(c);
            std::hint::black_box((d.effect(), d.named().len(), d.unknowns().len()));
            decided += 1;
        }
    }
    let after = allocations();
    assert!(decided > 300);
    assert_eq!(
        after - before,
        0,
        "{} allocations in {decided} decisions",
        after - before
    );
}

#[test]
fn evaluating_a_generated_mix_does_not_allocate() {
    use holdpoint::tools::generate::{Dialect, generate};
    let g = generate(1_000, 2_000, 3, Dialect::Full);
    let policy = g.build().unwrap();
    let calls: Vec<ToolCall> = g
        .calls
        .iter()
        .map(|c| ToolCall::from_json(c).unwrap())
        .collect();
    for c in &calls {
        std::hint::black_box(policy.evaluate(c).effect());
    }
    let before = allocations();
    let mut effects = [0usize; 4];
    for c in &calls {
        let d = policy.evaluate(c);
        effects[d.effect() as usize] += 1;
        std::hint::black_box(d.named().len());
    }
    let after = allocations();
    assert!(
        effects.iter().all(|&n| n > 0),
        "the mix reaches every effect: {effects:?}"
    );
    assert_eq!(
        after - before,
        0,
        "{} allocations in {} decisions",
        after - before,
        calls.len()
    );
}

/// The allocations `f` makes, after one run to warm up.
fn allocations_of(mut f: impl FnMut()) -> usize {
    f();
    let before = allocations();
    f();
    allocations() - before
}

#[test]
fn counting_does_not_allocate() {
    let policy = Policy::from_source(
        "default allow\n\
         approve mass { when tool == \"mail\" and count(r in args.to: not r ends_with \"@acme.com\") > 2 }\n\
         deny nested { when tool == \"mail\" and any(b in args.batches: count(r in b: r == \"x\") in [1, 2]) }\n",
    )
    .unwrap();
    let calls: Vec<ToolCall> = [
        r#"{"tool":"mail","args":{"to":["a@x.io","b@x.io","c@x.io"],"batches":[["x"],[]]}}"#,
        r#"{"tool":"mail","args":{"to":["a@acme.com",5,"b@x.io"],"batches":[["x",1]]}}"#,
        r#"{"tool":"mail","args":{"to":"a@x.io"}}"#,
    ]
    .iter()
    .map(|c| ToolCall::from_json(c).unwrap())
    .collect();
    let n = allocations_of(|| {
        for c in &calls {
            let d = policy.evaluate(c);
            std::hint::black_box((d.effect(), d.unknowns().len()));
        }
    });
    assert_eq!(n, 0, "{n} allocations");
}

#[test]
fn reading_arguments_against_the_catalog_does_not_allocate() {
    let catalog = holdpoint::Catalog::from_yaml(
        "tools.yaml",
        "tools:\n  email.send:\n    args:\n      to: {type: list, items: string}\n      n: integer\n      meta: {type: object, properties: {tier: string}}\n",
    )
    .unwrap();
    let policy = holdpoint::PolicyBuilder::new()
        .source(
            "p.gate",
            "default allow\n\
             approve bulk { when tool == \"email.send\" and len(args.to) > 20 }\n\
             approve many { when tool == \"email.send\" and args.n > 100 }\n\
             approve more { when tool == \"email.send\" and args.n > 1000 }\n\
             deny gold { when tool == \"email.send\" and args.meta.tier == \"gold\" }\n\
             allow inside { when tool == \"email.send\" and all(r in args.to: r ends_with \"@a.com\") }\n",
        )
        .catalog(catalog)
        .build()
        .unwrap();
    let calls: Vec<ToolCall> = [
        r#"{"tool":"email.send","args":{"to":["x@a.com"],"n":7,"meta":{"tier":"x"}}}"#,
        // Mistyped values (a decision with more than two unknowns stores them on the heap).
        r#"{"tool":"email.send","args":{"to":"x@a.com","n":7,"meta":[1]}}"#,
        r#"{"tool":"email.send","args":{"to":["x@a.com",3],"n":7.5,"meta":{"tier":"x"}}}"#,
        r#"{"tool":"email.send","args":{"to":[],"n":"7","meta":{"tier":"x"}}}"#,
    ]
    .iter()
    .map(|c| ToolCall::from_json(c).unwrap())
    .collect();
    for c in &calls {
        let n = allocations_of(|| {
            let d = policy.evaluate(c);
            std::hint::black_box((d.effect(), d.unknowns().len()));
        });
        assert_eq!(n, 0, "{n} allocations for {c:?}");
    }
}

/// From a call's text to its decision's JSON line, with one reader and one output buffer
/// reused, as `policy eval --jsonl` runs: no allocation for the calls the fast reader
/// decides (the generator's, and the example policies' own calls).
#[test]
fn deciding_calls_from_their_text_and_writing_the_decision_does_not_allocate() {
    let g = generate(1_000, 1_000, 7, Dialect::Full);
    let catalog = Catalog::from_yaml("gen.yaml", &g.catalog).unwrap();
    let generated = PolicyBuilder::new()
        .source("gen.gate", &g.policy)
        .catalog(catalog)
        .build()
        .unwrap();
    let mut work: Vec<(Policy, Vec<String>)> = vec![(generated, g.calls)];
    for name in ["assistive", "support", "operations"] {
        let dir = std::path::Path::new("policies").join(name);
        let mut texts = Vec::new();
        for e in std::fs::read_dir(dir.join("calls")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                // One line, as JSONL carries it.
                let v: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                texts.push(v.to_string());
            }
        }
        work.push((Policy::load(&dir).unwrap(), texts));
    }
    let mut reader = CallReader::default();
    let mut out: Vec<u8> = Vec::with_capacity(1 << 16);
    // Warm up (regex caches, the reader's buffers), keeping the calls read fast.
    let mut fast: Vec<(usize, &str)> = Vec::new();
    let mut total = 0;
    for (i, (policy, texts)) in work.iter().enumerate() {
        for t in texts {
            total += 1;
            let d = policy.evaluate_json(t, &mut reader).unwrap();
            out.clear();
            serde_json::to_writer(&mut out, &d.json()).unwrap();
            if d.read_fast() {
                fast.push((i, t));
            }
        }
    }
    assert!(
        fast.len() * 2 > total,
        "{} of {total} read fast",
        fast.len()
    );
    let before = allocations();
    for _ in 0..3 {
        for (i, t) in &fast {
            let d = work[*i].0.evaluate_json(t, &mut reader).unwrap();
            out.clear();
            serde_json::to_writer(&mut out, &d.json()).unwrap();
            std::hint::black_box(out.len());
        }
    }
    let after = allocations();
    assert_eq!(
        after - before,
        0,
        "{} allocations in {} decisions",
        after - before,
        fast.len() * 3
    );
}
