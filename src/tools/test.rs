//! Policy tests: YAML files of tool calls and the decisions they must get (`policy test`).
//!
//! ```yaml
//! cases:
//!   - name: a refund above the lane waits for finance
//!     call: {tool: stripe.refund, args: {amount: 900}}
//!     expect:
//!       effect: approve
//!       rules: [refund_over_lane]      # optional: exactly these names
//!       includes: [refund_over_lane]   # optional: at least these
//!       excludes: [small_refunds]      # optional: none of these
//!   - name: a sample call from a file
//!     call_file: calls/refund-900.json
//!     expect: {effect: approve}
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ast::Effect;
use crate::call::ToolCall;
use crate::ir::semantics::{Env, Tri, eval};
use crate::policy::Policy;

/// A test file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The cases.
    pub cases: Vec<Case>,
}

/// One case: a call and what its decision must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// The call, inline (a key given twice in it is refused, as in any call).
    #[serde(default, deserialize_with = "strict_call")]
    pub call: Option<serde_json::Value>,
    /// Or a JSON file holding it, relative to the test file.
    #[serde(default)]
    pub call_file: Option<PathBuf>,
    /// The expected decision.
    pub expect: Expect,
}

/// What a decision must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The effect.
    pub effect: Effect,
    /// Exactly these names (rules, `never_auto:CLASS`, `default`).
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    /// At least these names.
    #[serde(default)]
    pub includes: Vec<String>,
    /// None of these names.
    #[serde(default)]
    pub excludes: Vec<String>,
}

fn strict_call<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    crate::json::deserialize_strict(d).map(Some)
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The test file.
    pub file: String,
    /// The case's name.
    pub name: String,
    /// `None` when it passed; what went wrong otherwise.
    pub failure: Option<String>,
    /// What looks wrong in a case that passed: a tool the policy's catalog does not list
    /// (a typo in the case's tool is decided by the default, and passes by chance).
    pub warning: Option<String>,
}

impl CaseResult {
    /// What fails the case: its failure, or, when `strict`, its warning.
    pub fn failed(&self, strict: bool) -> Option<&str> {
        self.failure
            .as_deref()
            .or(self.warning.as_deref().filter(|_| strict))
    }
}

/// The outcome of a test run over one policy.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Every case.
    pub cases: Vec<CaseResult>,
    /// Rules whose condition some case made hold (or, for approve and deny, could not judge).
    pub covered: BTreeSet<String>,
    /// Every rule of the policy.
    pub rules: Vec<String>,
}

impl RunResult {
    /// Rules no case reached.
    pub fn uncovered(&self) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| !self.covered.contains(*r))
            .map(String::as_str)
            .collect()
    }

    /// Covered share of rules, in percent (100 for a policy without rules).
    pub fn coverage(&self) -> f64 {
        if self.rules.is_empty() {
            100.0
        } else {
            100.0 * self.covered.len() as f64 / self.rules.len() as f64
        }
    }
}

/// Runs every case of the test files against the policy. A file that cannot be read or
/// parsed is an error naming it; a case whose call is malformed fails with the reason.
pub fn run(policy: &Policy, files: &[PathBuf]) -> Result<RunResult, String> {
    let program = policy.program();
    let mut result = RunResult {
        rules: program.rules.iter().map(|r| r.name.clone()).collect(),
        ..RunResult::default()
    };
    for file in files {
        let label = file.display().to_string();
        let text =
            std::fs::read_to_string(file).map_err(|e| format!("cannot read `{label}`: {e}"))?;
        let tests: TestFile = crate::yaml::from_str(&text).map_err(|e| {
            format!(
                "{label}{}: invalid test file: {}",
                crate::yaml::suffix(e.place),
                e.message
            )
        })?;
        let dir = file.parent().unwrap_or(Path::new("."));
        for case in tests.cases {
            let call = load_call(&case, dir);
            let (failure, warning) = match call {
                Err(e) => (Some(e), None),
                Ok(call) => {
                    cover(policy, &call, &mut result.covered);
                    (judge(policy, &call, &case.expect), unlisted(policy, &call))
                }
            };
            result.cases.push(CaseResult {
                file: label.clone(),
                name: case.name,
                failure,
                warning,
            });
        }
    }
    Ok(result)
}

/// A warning when the policy's catalog does not list the case's tool.
fn unlisted(policy: &Policy, call: &ToolCall) -> Option<String> {
    let catalog = policy.catalog()?;
    policy.evaluate(call).unknown_tool().then(|| {
        format!(
            "tool {} is not in catalog `{}`: is the case's tool a typo?",
            crate::text::quoted(&call.tool),
            catalog.name
        )
    })
}

fn load_call(case: &Case, dir: &Path) -> Result<ToolCall, String> {
    match (&case.call, &case.call_file) {
        (Some(v), None) => ToolCall::from_value(v.clone()).map_err(|e| e.to_string()),
        (None, Some(f)) => {
            let path = dir.join(f);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            ToolCall::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
        }
        _ => Err("give exactly one of `call` and `call_file`".into()),
    }
}

fn judge(policy: &Policy, call: &ToolCall, expect: &Expect) -> Option<String> {
    let d = policy.evaluate(call);
    let names: BTreeSet<String> = d.rule_names().into_iter().collect();
    let shown = names.iter().cloned().collect::<Vec<_>>().join(", ");
    let mut problems = Vec::new();
    if d.effect() != expect.effect {
        problems.push(format!(
            "expected {}, got {} (by {})",
            expect.effect,
            d.effect(),
            if shown.is_empty() {
                "the default"
            } else {
                &shown
            }
        ));
    }
    if let Some(rules) = &expect.rules {
        let want: BTreeSet<String> = rules.iter().cloned().collect();
        if want != names {
            problems.push(format!(
                "expected the rules [{}], got [{shown}]",
                rules.join(", ")
            ));
        }
    }
    for r in &expect.includes {
        if !names.contains(r) {
            problems.push(format!("`{r}` is not named (got [{shown}])"));
        }
    }
    for r in &expect.excludes {
        if names.contains(r) {
            problems.push(format!("`{r}` is named, and must not be"));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Marks the rules whose condition holds for the call (or, for approve and deny rules,
/// cannot be judged, so that they ask a human).
fn cover(policy: &Policy, call: &ToolCall, covered: &mut BTreeSet<String>) {
    let program = policy.program();
    let env = Env::for_call(call, program);
    for rule in &program.rules {
        let reached = match eval(&rule.cond, &env, None) {
            Tri::True => true,
            Tri::Unknown(_) => rule.effect >= Effect::Approve,
            Tri::False => false,
        };
        if reached {
            covered.insert(rule.name.clone());
        }
    }
}

/// The run as JUnit XML. A case that passed with a warning fails when `strict` (the
/// warning is its failure message); otherwise the warning is its `system-out`.
pub fn junit(suites: &[(String, RunResult)], strict: bool) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (policy, r) in suites {
        let failures = r
            .cases
            .iter()
            .filter(|c| c.failed(strict).is_some())
            .count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
            xml(policy),
            r.cases.len()
        ));
        for c in &r.cases {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&c.file),
                xml(&c.name)
            ));
            match (c.failed(strict), &c.warning) {
                (Some(f), _) => out.push_str(&format!(
                    ">\n      <failure message=\"{}\"/>\n    </testcase>\n",
                    xml(f)
                )),
                (None, Some(w)) => out.push_str(&format!(
                    ">\n      <system-out>warning: {}</system-out>\n    </testcase>\n",
                    xml(w)
                )),
                (None, None) => out.push_str("/>\n"),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text escaped for XML attributes and text.
pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
