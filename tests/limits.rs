//! No input crashes a stage: nesting and class chains are bounded with an error at their
//! place, and what is within the bounds loads, compiles and evaluates on both evaluators
//! (in a test thread's small stack).

use holdpoint::{Code, Effect, Policy, PolicyBuilder, ToolCall};

const LIMIT: usize = 16;

fn nested_any(n: usize) -> String {
    format!(
        "default allow\napprove x {{ when tool == \"t\" and {}a == 1{} }}\n",
        "any(a in args.l: ".repeat(n),
        ")".repeat(n)
    )
}

fn nested_count(n: usize) -> String {
    format!(
        "default allow\napprove x {{ when tool == \"t\" and {}a == 1{} }}\n",
        "count(a in args.l: ".repeat(n),
        ") > 0".repeat(n)
    )
}

fn stacked_nots(n: usize) -> String {
    // An even count keeps the meaning `tool == "t"`.
    format!(
        "default allow\napprove x {{ when {}tool == \"t\" }}\n",
        "not ".repeat(n)
    )
}

fn class_chain(n: usize) -> String {
    let mut s = String::from("default allow\nclass c0 = tool == \"t\"\n");
    for i in 1..n {
        s.push_str(&format!("class c{i} = c{}\n", i - 1));
    }
    s.push_str(&format!("approve x {{ when c{} }}\n", n - 1));
    s
}

fn too_deep(source: &str) -> (usize, usize) {
    let report = PolicyBuilder::new().source("p.gate", source).check();
    let d = report
        .diagnostics
        .iter()
        .find(|d| d.code == Code::TooDeep)
        .unwrap_or_else(|| panic!("no E037 in {:?}", report.diagnostics));
    let r = d.to_record(&report.sources);
    (r.line.unwrap_or(0), r.column.unwrap_or(0))
}

/// Before: 800 nested `any(...)`, 5 000 stacked `not`s or a 20 000-long chain of classes
/// aborted the binary with a stack overflow.
#[test]
fn nesting_beyond_the_limit_is_an_error_at_its_place() {
    assert_eq!(too_deep(&nested_any(800)).0, 2);
    assert_eq!(too_deep(&stacked_nots(5_000)).0, 2);
    let (line, col) = too_deep(&class_chain(20_000));
    assert_eq!(
        (line, col),
        (2 + LIMIT, 7),
        "the first class past the limit"
    );
    assert_eq!(too_deep(&nested_count(800)).0, 2);
    for source in [
        nested_any(LIMIT + 1),
        nested_count(LIMIT + 1),
        stacked_nots(LIMIT + 2),
        class_chain(LIMIT + 1),
    ] {
        let e = Policy::from_source(&source).unwrap_err();
        assert!(e.to_string().contains("E037"), "{e}");
    }
}

fn loads_and_evaluates(source: &str) {
    let call = ToolCall::from_json(r#"{"tool":"t","args":{"l":[1]}}"#).unwrap();
    let policy = Policy::from_source(source).unwrap_or_else(|e| panic!("{e}"));
    for d in [policy.evaluate(&call), policy.evaluate_reference(&call)] {
        assert_eq!(d.effect(), Effect::Approve, "{source:.60}");
    }
    let other = ToolCall::from_json(r#"{"tool":"u","args":{"l":[]}}"#).unwrap();
    assert_eq!(policy.evaluate(&other).effect(), Effect::Allow);
}

// `nested_any` uses one bracket level for the rule's own braces.
#[test]
fn nested_quantifiers_within_the_limit_load_and_evaluate_on_both_evaluators() {
    loads_and_evaluates(&nested_any(LIMIT - 1));
}

#[test]
fn nested_counts_within_the_limit_load_and_evaluate_on_both_evaluators() {
    loads_and_evaluates(&nested_count(LIMIT - 1));
}

#[test]
fn stacked_nots_within_the_limit_load_and_evaluate_on_both_evaluators() {
    loads_and_evaluates(&stacked_nots(LIMIT));
}

#[test]
fn a_class_chain_within_the_limit_loads_and_evaluates_on_both_evaluators() {
    loads_and_evaluates(&class_chain(LIMIT));
}

/// Before: a quantifier judged its condition once per element even where the condition
/// does not read the element, so nesting multiplied: 15 nested `any` over a list of 3 took
/// 1.3 s (`policy test`, both evaluators, 2.5 s), over 4 elements a minute, and over the 8
/// here about 8^15 steps, days. Now each level is judged once.
#[test]
fn nested_quantifiers_over_a_long_list_are_judged_once_per_level() {
    let call = ToolCall::from_json(r#"{"tool":"t","args":{"l":[2,2,2,2,2,2,2,2]}}"#).unwrap();
    let nested_all = format!(
        "default allow\napprove x {{ when tool == \"t\" and {}a == 2{} }}\n",
        "all(a in args.l: ".repeat(LIMIT - 1),
        ")".repeat(LIMIT - 1)
    );
    // Each level also tests its own element, so only the closed quantifier inside is
    // judged once per walk.
    let last = LIMIT - 2;
    let mut interleaved = format!("any(a{last} in args.l: a{last} == 1)");
    for i in (0..last).rev() {
        interleaved = format!("any(a{i} in args.l: a{i} == 2 and {interleaved})");
    }
    let interleaved =
        format!("default allow\napprove x {{ when tool == \"t\" and {interleaved} }}\n");
    for (source, effect) in [
        (nested_any(LIMIT - 1), Effect::Allow),
        (nested_count(LIMIT - 1), Effect::Allow),
        (nested_all, Effect::Approve),
        (interleaved, Effect::Allow),
    ] {
        let policy = Policy::from_source(&source).unwrap();
        for d in [policy.evaluate(&call), policy.evaluate_reference(&call)] {
            assert_eq!(d.effect(), effect, "{source:.60}");
        }
    }
}
