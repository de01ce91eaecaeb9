//! Every conformance case (tests/cases/conformance/*.yaml) on both evaluators, the compiled
//! decision tree and the reference interpreter. Each file is its own test,
//! `conformance::FILE.yaml`; the format is in tests/cases/README.md.

mod common;

use std::collections::BTreeSet;

use common::cases::Named;
use datatest_stable::Utf8Path;
use holdpoint::{Catalog, Decision, Effect, Mode, Policy, PolicyBuilder, ToolCall};
use serde::Deserialize;
use serde_json::Value;

datatest_stable::harness! {
    { test = conformance, root = "tests/cases/conformance", pattern = r"\.ya?ml$" },
}

/// One case: a policy, and either calls with the decisions they must get, or
/// `check_fails: true` with words the load error must contain.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    policy: String,
    /// A tool catalog (YAML text) the policy is loaded with.
    catalog: Option<String>,
    calls: Option<Vec<CallCase>>,
    check_fails: Option<bool>,
    message_contains: Option<String>,
}

/// A tool call (in the spec's JSON shape, read by `ToolCall::from_value`) and its decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallCase {
    call: Value,
    expect: Expect,
}

/// The expected decision: `effect` always, the rest only where given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    effect: Effect,
    /// The exact set of rule names (synthetic `never_auto:CLASS` and `default` included).
    rules: Option<Vec<String>>,
    mode: Option<Mode>,
    default_applied: Option<bool>,
    /// Whether the decision lists unknowns.
    unknown: Option<bool>,
    /// The rendered reason of one of the named rules.
    reason: Option<String>,
}

/// What a case asks.
enum Form<'a> {
    Calls(&'a [CallCase]),
    LoadFails { words: &'a str },
}

impl Case {
    fn form(&self) -> Result<Form<'_>, String> {
        match (&self.calls, self.check_fails, &self.message_contains) {
            (Some(calls), None, None) if !calls.is_empty() => Ok(Form::Calls(calls)),
            (Some(_), None, None) => Err("`calls` is empty".into()),
            (None, Some(true), Some(words)) if !words.is_empty() => Ok(Form::LoadFails { words }),
            _ => Err(
                "a case has either `calls` or `check_fails: true` with a non-empty \
                 `message_contains`"
                    .into(),
            ),
        }
    }
}

fn conformance(path: &Utf8Path, text: String) -> datatest_stable::Result<()> {
    Ok(common::cases::run_file::<Case>(
        path.as_str(),
        &text,
        "conformance cases",
        run_case,
    )?)
}

impl Named for Case {
    fn name(&self) -> &str {
        &self.name
    }
}

/// What is wrong with one case, each line saying which evaluator and which call.
fn run_case(case: &Case) -> Vec<String> {
    let form = match case.form() {
        Ok(form) => form,
        Err(e) => return vec![e],
    };
    let loaded = match &case.catalog {
        None => Policy::from_source(&case.policy),
        Some(yaml) => match Catalog::from_yaml("tools.yaml", yaml) {
            Ok(catalog) => PolicyBuilder::new()
                .source("<policy>", &case.policy)
                .catalog(catalog)
                .build(),
            Err(e) => return vec![format!("the catalog does not read: {e}")],
        },
    };
    match form {
        Form::LoadFails { words } => match loaded {
            Ok(_) => vec!["loaded, but must fail".into()],
            Err(e) if !e.to_string().contains(words) => {
                vec![format!("error does not mention {words:?}:\n{e}")]
            }
            Err(_) => vec![],
        },
        Form::Calls(calls) => {
            let policy = match loaded {
                Ok(policy) => policy,
                Err(e) => return vec![format!("does not load:\n{e}")],
            };
            let mut errs = Vec::new();
            for (i, c) in calls.iter().enumerate() {
                let shown = format!("call {} {}", i + 1, c.call);
                let call = match ToolCall::from_value(c.call.clone()) {
                    Ok(call) => call,
                    Err(e) => {
                        errs.push(format!("{shown}: not a tool call: {e}"));
                        continue;
                    }
                };
                for (which, decision) in [
                    ("tree", policy.evaluate(&call)),
                    ("reference", policy.evaluate_reference(&call)),
                ] {
                    errs.extend(
                        check_expect(&decision, &call, &c.expect)
                            .into_iter()
                            .map(|e| format!("[{which}] {shown}: {e}")),
                    );
                }
            }
            errs
        }
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Sync => "sync",
        Mode::Async => "async",
    }
}

/// Effect, exact rule set, mode, default_applied, unknown and reason, each where expected.
fn check_expect(d: &Decision<'_>, call: &ToolCall, expect: &Expect) -> Vec<String> {
    let mut errs = Vec::new();
    let report = d.report(call);
    if report.effect != expect.effect {
        errs.push(format!(
            "effect {}, expected {}",
            report.effect, expect.effect
        ));
    }
    if let Some(rules) = &expect.rules {
        let want: BTreeSet<&str> = rules.iter().map(String::as_str).collect();
        let got: BTreeSet<&str> = report.rules.iter().map(String::as_str).collect();
        if want != got {
            errs.push(format!("rules {got:?}, expected {want:?}"));
        }
    }
    if let Some(mode) = expect.mode {
        let got = report.approval.as_ref().map(|a| a.mode);
        if got != Some(mode) {
            errs.push(format!(
                "mode {}, expected {}",
                got.map_or("none (no approval)", mode_name),
                mode_name(mode)
            ));
        }
    }
    if let Some(da) = expect.default_applied {
        if report.default_applied != da {
            errs.push(format!(
                "default_applied {}, expected {da}",
                report.default_applied
            ));
        }
    }
    if let Some(u) = expect.unknown {
        if report.unknown.is_empty() == u {
            errs.push(format!("unknown {:?}, expected {u}", report.unknown));
        }
    }
    if let Some(reason) = &expect.reason {
        if !report.reasons.iter().any(|r| r.reason == *reason) {
            errs.push(format!("reasons {:?}, expected {reason:?}", report.reasons));
        }
    }
    errs
}
