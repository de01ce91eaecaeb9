//! A tool's stance against the decisions of its calls, on generated policies: every rule
//! a decision names is among the stance's rules, no call of a tool is decided less
//! strictly than a rule the stance says applies to every call, and a tool the stance
//! calls always denied is denied on every call.

use holdpoint::ToolCall;
use holdpoint::tools::generate::{Dialect, generate};

#[test]
fn the_stance_of_a_tool_covers_every_decision_of_its_calls() {
    for (seed, dialect) in [
        (1, Dialect::Full),
        (7, Dialect::Portable),
        (42, Dialect::Full),
    ] {
        let mut g = generate(300, 3_000, seed, dialect);
        // The generator never writes `default deny`: every other seed's policy gets it, so
        // tools that only deny rules name are always denied.
        if seed % 2 == 1 {
            g.policy = g
                .policy
                .lines()
                .map(|l| {
                    if l.starts_with("default ") {
                        "default deny"
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        let policy = g.build().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let mut always_denied = 0;
        for text in &g.calls {
            let call = ToolCall::from_json(text).unwrap_or_else(|e| panic!("{e}: {text}"));
            let stance = policy.stance(&call.tool);
            let decision = policy.evaluate(&call);
            let known: Vec<&str> = stance.rules.iter().map(|r| r.name.as_str()).collect();
            for name in decision.rule_names() {
                let is_rule = !name.starts_with("never_auto:") && name != "default";
                assert!(
                    !is_rule || known.contains(&name.as_str()),
                    "seed {seed}: {name} decided {text}, but the stance of {} lists {known:?}",
                    call.tool
                );
            }
            for r in stance.rules.iter().filter(|r| r.always) {
                assert!(
                    decision.effect() >= r.effect,
                    "seed {seed}: {} applies to every call of {}, but {text} is {:?}",
                    r.name,
                    call.tool,
                    decision.effect()
                );
            }
            if stance.always_denied() {
                always_denied += 1;
                assert_eq!(
                    decision.effect(),
                    holdpoint::Effect::Deny,
                    "seed {seed}: {} is always denied, says its stance, but {text} is not",
                    call.tool
                );
            }
        }
        if seed % 2 == 1 {
            assert!(
                always_denied > 0,
                "seed {seed}: no call of an always-denied tool"
            );
        }
    }
}
