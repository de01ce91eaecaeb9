//! Deciding a call straight from its text (`Policy::evaluate_json`) gives exactly what
//! reading it in full (`ToolCall::from_json`, then `Policy::evaluate`) gives: the same
//! decision JSON and id, or the same error. The fast reader may hand a call to the full
//! reader, never judge another call than the one written.

use holdpoint::tools::generate::{Dialect, generate};
use holdpoint::{CallReader, Catalog, Policy, PolicyBuilder, ToolCall};

/// What the full reader makes of a text: the decision's JSON and the id, or the error.
fn full(policy: &Policy, text: &str) -> Result<(serde_json::Value, Option<String>), String> {
    let call = ToolCall::from_json(text).map_err(|e| e.to_string())?;
    let d = policy.evaluate(&call);
    Ok((
        serde_json::to_value(d.json(&call)).unwrap(),
        call.id.clone(),
    ))
}

/// What `evaluate_json` makes of it, and whether the fast reader decided it.
fn fast(
    policy: &Policy,
    text: &str,
    reader: &mut CallReader,
) -> (Result<(serde_json::Value, Option<String>), String>, bool) {
    match policy.evaluate_json(text, reader) {
        Ok(d) => (
            Ok((
                serde_json::to_value(d.json()).unwrap(),
                d.id().map(str::to_string),
            )),
            d.read_fast(),
        ),
        Err(e) => (Err(e.to_string()), false),
    }
}

fn generated(n: usize, calls: usize, seed: u64) -> (Policy, Vec<String>) {
    let g = generate(n, calls, seed, Dialect::Full);
    let catalog = Catalog::from_yaml("gen.yaml", &g.catalog).unwrap();
    let policy = PolicyBuilder::new()
        .source("gen.gate", &g.policy)
        .catalog(catalog)
        .build()
        .unwrap();
    (policy, g.calls)
}

#[test]
fn generated_calls_decide_as_the_full_reader_decides_them_and_most_read_fast() {
    for (n, seed) in [(10, 1), (100, 2), (1_000, 3)] {
        let (policy, calls) = generated(n, 2_000, seed);
        let mut reader = CallReader::default();
        let mut read_fast = 0;
        for text in &calls {
            let (got, was_fast) = fast(&policy, text, &mut reader);
            assert_eq!(got, full(&policy, text), "N = {n}, call {text}");
            read_fast += usize::from(was_fast);
        }
        // The generator's calls are in holdpoint's own shape: most never need the full
        // reader (those that do: lists compared by element, quantifiers).
        assert!(
            read_fast * 2 > calls.len(),
            "N = {n}: only {read_fast} of {} calls read fast",
            calls.len()
        );
    }
}

const POLICY: &str = r#"
default allow
deny big { when tool == "pay" and args.amount > 1000 reason "too much: {args.amount} for {args.to.name}" }
approve mid { when tool == "pay" and args.amount >= 100 and context.tenant == "t1" reason "{tool} {context.tenant} {args.memo}" }
audit tagged { when tool == "pay" and args.tags contains "x" }
deny sneaky { when tool == "pay" and args.to.name == "eve" }
approve many { when tool == "mail" and len(args.to) > 2 }
"#;

fn policy() -> Policy {
    Policy::from_source(POLICY).unwrap()
}

/// Each text decides (or fails) as the full reader has it; `expect_fast` says whether the
/// fast reader should have decided it itself.
fn agree(texts: &[(&str, bool)]) {
    let policy = policy();
    let mut reader = CallReader::default();
    for &(text, expect_fast) in texts {
        let (got, was_fast) = fast(&policy, text, &mut reader);
        assert_eq!(got, full(&policy, text), "{text}");
        assert_eq!(was_fast, expect_fast, "read fast? {text}");
    }
}

#[test]
fn plain_calls_read_fast_and_decide_the_same() {
    agree(&[
        (r#"{"tool":"pay","args":{"amount":50}}"#, true),
        (
            r#"{"tool":"pay","args":{"amount":5000,"to":{"name":"bob"}},"id":"c1"}"#,
            true,
        ),
        (
            r#"{"tool":"pay","args":{"amount":500},"context":{"tenant":"t1"},"id":7}"#,
            true,
        ),
        (
            r#"{"tool":"pay","args":{"amount":500,"memo":"é \"q\""},"context":{"tenant":"t1"}}"#,
            true,
        ),
        (
            r#" { "name" : "pay" , "arguments" : { "amount" : 1e3 } } "#,
            true,
        ),
        (r#"{"tool":"pay","args":{"amount":1000.0000001}}"#, true),
        (r#"{"tool":"pay","args":{"amount":-0}}"#, true),
        (
            r#"{"tool":"pay","args":{"amount":18446744073709551616}}"#,
            true,
        ),
        (r#"{"tool":"pay","args":{"amount":9007199254740993}}"#, true),
        (
            r#"{"tool":"pay","args":null,"context":null,"id":null}"#,
            true,
        ),
        (r#"{"tool":"mail","args":{"to":["a","b","c"]}}"#, true),
        (
            r#"{"tool":"other","args":{"deep":[[[{"x":{"y":[1,2,{"z":null}]}}]]]}}"#,
            true,
        ),
    ]);
}

#[test]
fn keys_given_twice_anywhere_are_refused_as_the_full_reader_refuses_them() {
    agree(&[
        (
            r#"{"tool":"pay","args":{"amount":50,"amount":5000}}"#,
            false,
        ),
        (
            r#"{"tool":"pay","args":{"to":{"name":"bob","name":"eve"}}}"#,
            false,
        ),
        // Escaped spellings of the same key.
        (
            r#"{"tool":"pay","args":{"amount":50,"\u0061mount":5000}}"#,
            false,
        ),
        (r#"{"tool":"pay","tool":"refund"}"#, false),
        // Deep inside a part no rule reads.
        (r#"{"tool":"pay","args":{"x":[{"k":1,"k":2}]}}"#, false),
        (
            r#"{"tool":"pay","context":{"a":{"b":{"c":1,"c":1}}}}"#,
            false,
        ),
    ]);
}

#[test]
fn broken_or_odd_documents_go_to_the_full_reader() {
    agree(&[
        (r#"{"tool":"pay","args":{"amount":50}"#, false),
        (r#"{"tool":"pay","args":{"amount":50}} x"#, false),
        (r#"{"tool":"pay","args":{"amount":50,}}"#, false),
        (r#"{"tool":"pay","args":{"amount":01}}"#, false),
        (r#"{"tool":"pay","args":{"amount":1e400}}"#, false),
        (r#"{"tool":"pay","args":{"amount":"\ud800"}}"#, false),
        (r#"{"tool":"pay","args":{"memo":"a	b"}}"#, false),
        (r#"{"tool":"pay","args":"{\"amount\":5000}"}"#, false),
        (r#"{"tool":"pay","args":[]}"#, false),
        (r#"{"tool":"pay","extra":1}"#, false),
        (r#"{"tool":" pay"}"#, false),
        (r#"{"tool":"pa\u200by"}"#, false),
        (r#"{"tool":""}"#, false),
        (r#"{"args":{}}"#, false),
        (r#"[]"#, false),
        (r#""#, false),
        (
            r#"{"type":"function","function":{"name":"pay","arguments":"{\"amount\":5000}"}}"#,
            false,
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"pay","arguments":{"amount":5000}}}"#,
            false,
        ),
    ]);
    let deep = format!(
        r#"{{"tool":"pay","args":{{"x":{}1{}}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    agree(&[(&deep, false)]);
}

#[test]
fn unknowns_read_fast_with_their_causes_and_lists_compared_by_element_in_full() {
    agree(&[
        // Missing or mistyped amount: the unknown and its cause are reported.
        (r#"{"tool":"pay","args":{}}"#, true),
        (r#"{"tool":"pay","args":{"amount":"900"}}"#, true),
        (
            r#"{"tool":"pay","args":{"amount":null,"to":{"name":7}}}"#,
            true,
        ),
        // `contains` on a list compares its elements: read in full.
        (
            r#"{"tool":"pay","args":{"amount":5,"to":{"name":"bob"},"tags":["x"]}}"#,
            false,
        ),
    ]);
}

#[test]
fn a_reason_showing_a_list_or_object_renders_as_the_full_reader_renders_it() {
    agree(&[(
        r#"{"tool":"pay","args":{"amount":5000,"to":{"name":"bob"},"memo":[1,{"b":2,"a":1}]},"context":{"tenant":"t1"}}"#,
        true,
    )]);
    let policy = Policy::from_source(
        "default allow\napprove r { when tool == \"pay\" reason \"{args.memo} {args.to}\" }\n",
    )
    .unwrap();
    let mut reader = CallReader::default();
    let text = r#"{"tool":"pay","args":{"memo":[1,{"b":2,"a":1}],"to":{"name":"bob"}}}"#;
    let (got, was_fast) = fast(&policy, text, &mut reader);
    assert!(was_fast);
    assert_eq!(got, full(&policy, text));
}

#[test]
fn the_full_call_is_there_for_the_approval_runtime() {
    let policy = policy();
    let mut reader = CallReader::default();
    let text = r#"{"tool":"pay","args":{"amount":500,"note":"keep me"},"context":{"tenant":"t1"},"id":"c9"}"#;
    let d = policy.evaluate_json(text, &mut reader).unwrap();
    assert!(d.read_fast());
    assert_eq!(d.decision().effect(), holdpoint::Effect::Approve);
    assert_eq!(d.to_call().unwrap(), ToolCall::from_json(text).unwrap());
    assert_eq!(d.id(), Some("c9"));
    assert_eq!(d.tool(), "pay");
}

#[test]
fn escaped_top_level_keys_and_wide_objects_decide_the_same() {
    let wide = |n: usize| {
        let keys: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
        format!(
            r#"{{"tool":"pay","args":{{"amount":50,"to":{{"name":"bob"}},{}}}}}"#,
            keys.join(",")
        )
    };
    // 2 + 62 keys read fast; beyond 64 keys in one object the full reader decides.
    let (fits, wider) = (wide(62), wide(63));
    agree(&[
        (
            r#"{"\u0074ool":"pay","\u0061rgs":{"amount":50,"to":{"name":"bob"}}}"#,
            true,
        ),
        (
            r#"{"tool":"pay","args":{"amount":50,"to":{"n\u0061me":"eve"}}}"#,
            true,
        ),
        (&fits, true),
        (&wider, false),
    ]);
}
