//! Correctness before timing: every engine gives every call of the mix the same decision.
//! `PEERS_CALLS` sets the number of calls at 10 and 100 rules (default 2 000; the full run
//! in docs/performance.md uses 100 000); at 1 000 rules, where regorus takes 40 ms a
//! decision, a twentieth of that.

#[test]
fn all_engines_agree_on_every_call() {
    let calls: usize = std::env::var("PEERS_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    for rules in [10, 100, 1_000] {
        let calls = if rules >= 1_000 {
            (calls / 20).max(100)
        } else {
            calls
        };
        let mut engines = holdpoint_peers::Engines::build(rules, calls, 42).expect("build");
        let bad = engines.disagreements();
        let first: Vec<String> = bad
            .iter()
            .take(5)
            .map(|(i, who, want, got)| {
                format!(
                    "call {i} {:?}: {who} says {got}, holdpoint says {want:?}",
                    engines.calls[*i]
                )
            })
            .collect();
        assert!(
            bad.is_empty(),
            "{rules} rules: {} disagreements:\n{}",
            bad.len(),
            first.join("\n")
        );
        let mut effects = std::collections::BTreeMap::new();
        for c in &engines.calls {
            *effects
                .entry(engines.holdpoint.evaluate(c).effect().to_string())
                .or_insert(0) += 1;
        }
        // Ten rules under a default leave little variety; larger policies must show it.
        assert!(
            rules < 100 || effects.len() >= 3,
            "the mix must reach most effects: {effects:?}"
        );
        eprintln!(
            "{rules} rules: {calls} calls ({effects:?}), all engines agree; {} rules as data in the data-driven Rego",
            engines.rego_data.as_data
        );
    }
}
