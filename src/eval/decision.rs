//! The decision for one call, and its JSON form.

use std::sync::LazyLock;

use serde::Serialize;
use smallvec::SmallVec;

use super::standing::ToolStanding;
use crate::ast::{DecisionKind, Effect, Mode, OnTimeout};
use crate::call::ToolCall;
use crate::ir::semantics::{Cause, Env, render_term};
use crate::ir::{ClassId, GateOptions, Program, RuleId, Template, TemplatePart};

/// What a decision names: a rule, a never-auto floor, or the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Named {
    /// A rule of the policy.
    Rule(RuleId),
    /// The synthetic gate `never_auto:CLASS`.
    NeverAuto(ClassId),
    /// The synthetic gate `default` (under `default approve`).
    Default,
}

/// A rule (or floor) whose whole condition was unknown, and so contributed `approve`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unknown<'p> {
    /// Which rule or floor.
    pub source: Named,
    /// The first value it could not judge.
    pub cause: Cause<'p>,
}

/// The decision for one call. Borrows the policy; renders reasons and JSON on demand.
#[derive(Debug, Clone)]
pub struct Decision<'p> {
    pub(crate) program: &'p Program,
    pub(crate) effect: Effect,
    pub(crate) named: SmallVec<[Named; 4]>,
    pub(crate) unknown: SmallVec<[Unknown<'p>; 2]>,
    pub(crate) default_applied: bool,
    pub(crate) tool: ToolStanding<'p>,
}

static SYNTHETIC: LazyLock<GateOptions> = LazyLock::new(GateOptions::synthetic);

/// One approval gate of an `approve` decision.
#[derive(Debug, Clone, Copy)]
pub struct Gate<'p> {
    /// What fired it.
    pub source: Named,
    /// Its options.
    pub options: &'p GateOptions,
}

impl<'p> Decision<'p> {
    pub(crate) fn new(program: &'p Program) -> Self {
        Decision {
            program,
            effect: Effect::Allow,
            named: SmallVec::new(),
            unknown: SmallVec::new(),
            default_applied: false,
            tool: ToolStanding::NoCatalog,
        }
    }

    /// Puts names and unknowns in canonical order.
    pub(crate) fn finish(mut self) -> Self {
        if self.named.len() > 1 {
            self.named.sort_unstable();
            self.named.dedup();
        }
        if self.unknown.len() > 1 {
            self.unknown.sort_by_key(|u| u.source);
            self.unknown.dedup_by_key(|u| u.source);
        }
        self
    }

    /// How the call's tool stands against the policy's catalog.
    pub fn tool_standing(&self) -> ToolStanding<'p> {
        self.tool
    }

    /// Whether the policy has a catalog that does not list the call's tool.
    pub fn unknown_tool(&self) -> bool {
        matches!(
            self.tool,
            ToolStanding::Unlisted | ToolStanding::Confusable(_)
        )
    }

    /// Refuses the call as a confusable of the catalog's `listed`.
    pub(crate) fn refuse_confusable(&mut self, listed: &'p str) {
        self.tool = ToolStanding::Confusable(listed);
        self.effect = Effect::Deny;
        self.named.clear();
        self.unknown.clear();
        self.default_applied = false;
    }

    /// The effect.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// What the decision names, in canonical order.
    pub fn named(&self) -> &[Named] {
        &self.named
    }

    /// Whether no rule matched and the default decided.
    pub fn default_applied(&self) -> bool {
        self.default_applied
    }

    /// Rules and floors whose condition was unknown (only for `approve`).
    pub fn unknowns(&self) -> &[Unknown<'p>] {
        &self.unknown
    }

    /// The display name of a [`Named`]: a rule's name, `never_auto:CLASS` or `default`.
    pub fn name_of(&self, n: Named) -> String {
        name_of(self.program, n)
    }

    /// The names the decision gives, as strings.
    pub fn rule_names(&self) -> Vec<String> {
        self.named.iter().map(|n| self.name_of(*n)).collect()
    }

    /// The approval gates (empty unless the effect is `approve`).
    pub fn gates(&self) -> impl Iterator<Item = Gate<'p>> + '_ {
        let program = self.program;
        self.named
            .iter()
            .filter(move |_| self.effect == Effect::Approve)
            .map(move |n| Gate {
                source: *n,
                options: match n {
                    Named::Rule(id) => program
                        .rule(*id)
                        .and_then(|r| r.gate.as_ref())
                        .unwrap_or(&SYNTHETIC),
                    _ => &SYNTHETIC,
                },
            })
    }

    /// `async` if any gate is async; `None` unless the effect is `approve`.
    pub fn mode(&self) -> Option<Mode> {
        if self.effect != Effect::Approve {
            return None;
        }
        Some(if self.gates().any(|g| g.options.mode == Mode::Async) {
            Mode::Async
        } else {
            Mode::Sync
        })
    }

    /// The reason of a named rule, rendered from its template for this call.
    pub fn reason(&self, n: Named, call: &ToolCall) -> Option<String> {
        let Named::Rule(id) = n else { return None };
        let template = self.program.rule(id)?.reason.as_ref()?;
        Some(render(template, self.program, call))
    }

    /// The decision as plain data, serializable to the spec's JSON.
    pub fn report(&self, call: &ToolCall) -> DecisionReport {
        let approval = (self.effect == Effect::Approve).then(|| ApprovalReport {
            mode: self.mode().unwrap_or(Mode::Sync),
            gates: self
                .gates()
                .map(|g| GateReport {
                    rule: self.name_of(g.source),
                    mode: g.options.mode,
                    by: g.options.by.clone(),
                    quorum: g.options.quorum,
                    within_s: g.options.within_s,
                    on_timeout: g.options.on_timeout.clone(),
                    decisions: g.options.decisions.clone(),
                    show_diff: g.options.show_diff.as_ref().map(|p| p.text.to_string()),
                    confirm_by_requester: g.options.confirm_by_requester,
                    reason: self.reason(g.source, call),
                })
                .collect(),
        });
        DecisionReport {
            effect: self.effect,
            rules: self.rule_names(),
            approval,
            unknown: self
                .unknown
                .iter()
                .map(|u| UnknownReport {
                    rule: self.name_of(u.source),
                    path: u.cause.path.map(|p| p.text.to_string()).unwrap_or_default(),
                    why: u.cause.why_text().to_string(),
                })
                .collect(),
            default_applied: self.default_applied,
            unknown_tool: self.unknown_tool(),
            confusable_with: self.confusable_with().map(str::to_string),
            reasons: match self.confusable_with() {
                Some(listed) => vec![confusable_reason(&call.tool, listed)],
                None => self
                    .named
                    .iter()
                    .filter_map(|n| {
                        self.reason(*n, call).map(|reason| ReasonReport {
                            rule: self.name_of(*n),
                            reason,
                        })
                    })
                    .collect(),
            },
        }
    }
}

impl Decision<'_> {
    /// The listed tool the call's tool is a confusable of, when it was refused as one.
    pub fn confusable_with(&self) -> Option<&str> {
        match self.tool {
            ToolStanding::Confusable(listed) => Some(listed),
            _ => None,
        }
    }
}

/// The reason given for a tool refused as a confusable.
fn confusable_reason(tool: &str, listed: &str) -> ReasonReport {
    ReasonReport {
        rule: "tool".into(),
        reason: format!(
            "{} is not in the catalog but reads as its `{listed}`: refused, since an executor that folds names would run `{listed}`",
            crate::text::quoted(tool)
        ),
    }
}

/// The display name of a [`Named`] in a program.
pub fn name_of(program: &Program, n: Named) -> String {
    match n {
        Named::Rule(id) => program.rule(id).map(|r| r.name.clone()).unwrap_or_default(),
        Named::NeverAuto(c) => format!(
            "never_auto:{}",
            program.class(c).map(|c| c.name.as_str()).unwrap_or("")
        ),
        Named::Default => "default".to_string(),
    }
}

/// Renders a reason template against a call.
pub fn render(template: &Template, program: &Program, call: &ToolCall) -> String {
    let env = Env::for_call(call, program);
    let mut out = String::new();
    for part in &template.parts {
        match part {
            TemplatePart::Text(t) => out.push_str(t),
            TemplatePart::Hole(term) => render_term(term, &env, &mut out),
        }
    }
    out
}

/// A decision as JSON (`policy eval` prints this).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct DecisionReport {
    /// allow, audit, approve or deny.
    pub effect: Effect,
    /// The rules (and synthetic gates) that decided.
    pub rules: Vec<String>,
    /// Present exactly when the effect is approve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalReport>,
    /// What could not be judged.
    pub unknown: Vec<UnknownReport>,
    /// Whether the default decided.
    pub default_applied: bool,
    /// Whether the policy has a catalog that does not list the call's tool.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown_tool: bool,
    /// The listed tool the call's tool was refused as a confusable of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confusable_with: Option<String>,
    /// Rendered reasons of the named rules that have one.
    pub reasons: Vec<ReasonReport>,
}

/// How the call waits.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ApprovalReport {
    /// async if any gate is async.
    pub mode: Mode,
    /// Every gate that fired.
    pub gates: Vec<GateReport>,
}

/// One gate.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct GateReport {
    /// The rule (or `never_auto:CLASS`, `default`).
    pub rule: String,
    /// This gate's mode.
    pub mode: Mode,
    /// Approver groups; empty means any approver.
    pub by: Vec<String>,
    /// How many distinct approvers must approve (`by N of ...`); 1 when not written, and
    /// when a stored decision from before quorums is read.
    #[serde(default = "one")]
    pub quorum: u32,
    /// SLA in seconds.
    pub within_s: Option<u64>,
    /// What happens when the SLA ends.
    pub on_timeout: Option<OnTimeout>,
    /// Decisions the approver may make.
    pub decisions: Vec<DecisionKind>,
    /// What to show as a diff.
    pub show_diff: Option<String>,
    /// Whether the person the agent acts for may confirm the call themselves
    /// (`confirm by requester`); false in a stored decision from before it.
    #[serde(default)]
    pub confirm_by_requester: bool,
    /// The rendered reason.
    pub reason: Option<String>,
}

/// The quorum of a gate that does not say.
fn one() -> u32 {
    1
}

/// One unknown.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct UnknownReport {
    /// The rule (or `never_auto:CLASS`).
    pub rule: String,
    /// The path that could not be read.
    pub path: String,
    /// Why: `missing`, or `is a string, expected a number`.
    pub why: String,
}

/// A rendered reason.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ReasonReport {
    /// The rule.
    pub rule: String,
    /// The text.
    pub reason: String,
}

/// The decision's JSON, written straight from the decision: the same document as
/// [`Decision::report`], without building it first (what `policy eval --jsonl` writes).
#[derive(Clone, Copy)]
pub struct DecisionJson<'a, 'p> {
    decision: &'a Decision<'p>,
    call: CallRef<'a>,
}

/// The call a decision's JSON renders reasons from: read in full, or by the fast reader.
#[derive(Clone, Copy)]
pub(crate) enum CallRef<'a> {
    Full(&'a ToolCall),
    Scanned(&'a super::fast::ScannedCall<'a>),
}

impl CallRef<'_> {
    fn tool(&self) -> &str {
        match self {
            CallRef::Full(c) => &c.tool,
            CallRef::Scanned(c) => c.tool,
        }
    }
}

impl<'p> Decision<'p> {
    /// A serializable view of the decision's JSON for this call.
    pub fn json<'a>(&'a self, call: &'a ToolCall) -> DecisionJson<'a, 'p> {
        DecisionJson {
            decision: self,
            call: CallRef::Full(call),
        }
    }

    /// The same, for a call the fast reader read.
    pub(crate) fn json_of<'a>(&'a self, call: CallRef<'a>) -> DecisionJson<'a, 'p> {
        DecisionJson {
            decision: self,
            call,
        }
    }
}

/// A name (`never_auto:` prefix included) written without allocating.
struct NameOf<'a>(&'a Program, Named);

impl std::fmt::Display for NameOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Named::Rule(id) => f.write_str(self.0.rule(id).map(|r| r.name.as_str()).unwrap_or("")),
            Named::NeverAuto(c) => {
                f.write_str("never_auto:")?;
                f.write_str(self.0.class(c).map(|c| c.name.as_str()).unwrap_or(""))
            }
            Named::Default => f.write_str("default"),
        }
    }
}

/// A reason rendered into the output as it is written.
struct Rendered<'a> {
    template: &'a Template,
    program: &'a Program,
    call: CallRef<'a>,
}

impl std::fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let call = match self.call {
            CallRef::Full(call) => call,
            CallRef::Scanned(call) => return call.render(self.template, self.program, f),
        };
        let env = Env::for_call(call, self.program);
        for part in &self.template.parts {
            match part {
                TemplatePart::Text(t) => f.write_str(t)?,
                TemplatePart::Hole(term) => crate::ir::semantics::write_term(term, &env, f)?,
            }
        }
        Ok(())
    }
}

impl DecisionJson<'_, '_> {
    fn reason(&self, n: Named) -> Option<Rendered<'_>> {
        let Named::Rule(id) = n else { return None };
        let program = self.decision.program;
        let template = program.rule(id)?.reason.as_ref()?;
        Some(Rendered {
            template,
            program,
            call: self.call,
        })
    }
}

impl serde::Serialize for DecisionJson<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let d = self.decision;
        let program = d.program;
        struct Names<'a>(&'a Program, &'a [Named]);
        impl serde::Serialize for Names<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.1.len()))?;
                for n in self.1 {
                    seq.serialize_element(&Collect(NameOf(self.0, *n)))?;
                }
                seq.end()
            }
        }
        struct Collect<T>(T);
        impl<T: std::fmt::Display> serde::Serialize for Collect<T> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }
        struct Gates<'a, 'b, 'p>(&'a DecisionJson<'b, 'p>);
        impl serde::Serialize for Gates<'_, '_, '_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let d = self.0.decision;
                let mut seq = s.serialize_seq(None)?;
                for g in d.gates() {
                    seq.serialize_element(&Gate(self.0, g))?;
                }
                seq.end()
            }
        }
        struct Gate<'a, 'b, 'p>(&'a DecisionJson<'b, 'p>, super::decision::Gate<'p>);
        impl serde::Serialize for Gate<'_, '_, '_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let o = self.1.options;
                let mut m = s.serialize_map(Some(10))?;
                m.serialize_entry(
                    "rule",
                    &Collect(NameOf(self.0.decision.program, self.1.source)),
                )?;
                m.serialize_entry("mode", &o.mode)?;
                m.serialize_entry("by", &o.by)?;
                m.serialize_entry("quorum", &o.quorum)?;
                m.serialize_entry("within_s", &o.within_s)?;
                m.serialize_entry("on_timeout", &o.on_timeout)?;
                m.serialize_entry("decisions", &o.decisions)?;
                m.serialize_entry("show_diff", &o.show_diff.as_ref().map(|p| &*p.text))?;
                m.serialize_entry("confirm_by_requester", &o.confirm_by_requester)?;
                m.serialize_entry("reason", &self.0.reason(self.1.source).map(Collect))?;
                m.end()
            }
        }
        struct Approval<'a, 'b, 'p>(&'a DecisionJson<'b, 'p>);
        impl serde::Serialize for Approval<'_, '_, '_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("mode", &self.0.decision.mode().unwrap_or(Mode::Sync))?;
                m.serialize_entry("gates", &Gates(self.0))?;
                m.end()
            }
        }
        struct Unknowns<'a, 'p>(&'a Program, &'a [Unknown<'p>]);
        impl serde::Serialize for Unknowns<'_, '_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.1.len()))?;
                for u in self.1 {
                    seq.serialize_element(&UnknownEntry(self.0, u))?;
                }
                seq.end()
            }
        }
        struct UnknownEntry<'a, 'p>(&'a Program, &'a Unknown<'p>);
        impl serde::Serialize for UnknownEntry<'_, '_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("rule", &Collect(NameOf(self.0, self.1.source)))?;
                m.serialize_entry("path", self.1.cause.path.map(|p| &*p.text).unwrap_or(""))?;
                m.serialize_entry("why", &Collect(self.1.cause.why_text()))?;
                m.end()
            }
        }
        struct Reasons<'a, 'b, 'p>(&'a DecisionJson<'b, 'p>);
        impl serde::Serialize for Reasons<'_, '_, '_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(None)?;
                for n in self.0.decision.named.iter() {
                    if let Some(r) = self.0.reason(*n) {
                        seq.serialize_element(&ReasonEntry(
                            NameOf(self.0.decision.program, *n),
                            r,
                        ))?;
                    }
                }
                seq.end()
            }
        }
        struct ReasonEntry<'a>(NameOf<'a>, Rendered<'a>);
        impl serde::Serialize for ReasonEntry<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("rule", &Collect(&self.0))?;
                m.serialize_entry("reason", &Collect(&self.1))?;
                m.end()
            }
        }
        let approve = d.effect == Effect::Approve;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("effect", &d.effect)?;
        m.serialize_entry("rules", &Names(program, &d.named))?;
        if approve {
            m.serialize_entry("approval", &Approval(self))?;
        }
        m.serialize_entry("unknown", &Unknowns(program, &d.unknown))?;
        m.serialize_entry("default_applied", &d.default_applied)?;
        if d.unknown_tool() {
            m.serialize_entry("unknown_tool", &true)?;
        }
        match d.confusable_with() {
            Some(listed) => {
                m.serialize_entry("confusable_with", listed)?;
                m.serialize_entry("reasons", &[confusable_reason(self.call.tool(), listed)])?;
            }
            None => m.serialize_entry("reasons", &Reasons(self))?,
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use crate::{DecisionReport, Policy, ToolCall};

    #[test]
    fn every_gate_reports_its_quorum_and_old_reports_read_with_one() {
        let policy = Policy::from_source(
            "default allow\n\
             approve two { when tool == \"pay\" by 2 of \"finance\", \"treasury\" }\n\
             approve one { when tool == \"pay\" by \"finance\" }\n",
        )
        .unwrap();
        let call = ToolCall::from_json(r#"{"tool":"pay","args":{}}"#).unwrap();
        let d = policy.evaluate(&call);
        let report = d.report(&call);
        let quorums: Vec<(&str, u32)> = report
            .approval
            .as_ref()
            .unwrap()
            .gates
            .iter()
            .map(|g| (g.rule.as_str(), g.quorum))
            .collect();
        assert_eq!(quorums, [("two", 2), ("one", 1)]);
        // Both JSON writers give it, and the report reads back.
        let streamed = serde_json::to_value(d.json(&call)).unwrap();
        assert_eq!(streamed, serde_json::to_value(&report).unwrap());
        assert_eq!(streamed["approval"]["gates"][1]["quorum"], 1);
        // A report stored before quorums existed reads with a quorum of 1.
        let mut old = streamed.clone();
        for g in old["approval"]["gates"].as_array_mut().unwrap() {
            g.as_object_mut().unwrap().remove("quorum");
        }
        let read: DecisionReport = serde_json::from_value(old).unwrap();
        assert!(read.approval.unwrap().gates.iter().all(|g| g.quorum == 1));
    }
}
