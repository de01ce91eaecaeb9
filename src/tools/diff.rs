//! Comparing two versions of a policy on recorded calls (`policy diff`): how many
//! decisions move between effects and, for calls that wait for a human under both, how
//! who decides changes (gates, groups, mode, SLA, timeout, decisions); with examples and
//! the rules responsible.

mod gates;
mod sample;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;

use serde::Serialize;

use crate::ast::Effect;
use crate::call::ToolCall;
use crate::eval::decision::{Decision, GateReport};
use crate::policy::Policy;
use sample::Sampler;

pub use gates::{ChangeKind, FieldChange, GateChange};

/// How many examples each move keeps (spread over the tools: the first call of each of
/// the first tools seen, then the second of each ...).
pub const EXAMPLES_PER_MOVE: usize = 3;

/// How many distinct changes of who decides are told apart; calls with any further one
/// are counted in [`Report::other_approval_changes`] (so memory stays constant).
pub const MAX_APPROVAL_CHANGES: usize = 64;

/// One call whose decision moved.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    /// 1-based line in the calls file.
    pub line: usize,
    /// The tool called.
    pub tool: String,
    /// What the old policy named.
    pub old_rules: Vec<String>,
    /// What the new policy names.
    pub new_rules: Vec<String>,
}

/// Decisions that went from one effect to another.
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    /// The old effect.
    pub from: Effect,
    /// The new effect.
    pub to: Effect,
    /// How many calls.
    pub count: u64,
    /// Their share of all valid calls, in percent.
    pub share: f64,
    /// A few of them.
    pub examples: Vec<Example>,
}

/// Calls that wait for a human under both versions, with the same change of who decides.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalChange {
    /// The change in words, one line per gate:
    /// `gate refund_review: by "deal-desk" → "finance"; within 2d → 4h`.
    pub summary: String,
    /// Its kinds, each once, in [`ChangeKind::ALL`] order.
    pub kinds: Vec<ChangeKind>,
    /// Each gate that differs.
    pub gates: Vec<GateChange>,
    /// How many calls.
    pub count: u64,
    /// Their share of all valid calls, in percent.
    pub share: f64,
    /// A few of them.
    pub examples: Vec<Example>,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Valid calls compared.
    pub calls: u64,
    /// Calls whose decision did not change: the same effect and, for `approve`, the same
    /// gates with the same options.
    pub unchanged: u64,
    /// Lines that were not valid calls (skipped).
    pub invalid_lines: u64,
    /// The first few invalid lines, with why.
    pub invalid_examples: Vec<(usize, String)>,
    /// Every move that happened, most frequent first.
    pub moves: Vec<Move>,
    /// Calls that wait for a human under both versions, with a change of who decides.
    pub approval_changed: u64,
    /// Of those, how many calls have each kind of change.
    pub kinds: BTreeMap<ChangeKind, u64>,
    /// Each distinct change of who decides, most frequent first.
    pub approval_changes: Vec<ApprovalChange>,
    /// Calls whose change was none of the first [`MAX_APPROVAL_CHANGES`] distinct ones.
    pub other_approval_changes: u64,
}

/// The gates of a decision, as its JSON gives them (none unless it waits).
fn gates_of(d: &Decision<'_>, call: &ToolCall) -> Vec<GateReport> {
    d.report(call).approval.map(|a| a.gates).unwrap_or_default()
}

/// Counts the changes of who decides, each distinct one with its calls.
#[derive(Default)]
struct Changes {
    index: HashMap<String, usize>,
    list: Vec<(ApprovalChange, Sampler)>,
}

impl Changes {
    /// Counts one call of `tool` with these gate changes; `example` builds its example
    /// if kept.
    fn add(
        &mut self,
        report: &mut Report,
        gates: Vec<GateChange>,
        tool: &str,
        example: impl FnOnce() -> Example,
    ) {
        report.approval_changed += 1;
        let kinds: BTreeSet<ChangeKind> = gates.iter().flat_map(GateChange::kinds).collect();
        for k in &kinds {
            *report.kinds.entry(*k).or_default() += 1;
        }
        let told: Vec<String> = gates.iter().map(ToString::to_string).collect();
        let summary = told.join("\n");
        let at = match self.index.get(&summary) {
            Some(&at) => at,
            None if self.list.len() < MAX_APPROVAL_CHANGES => {
                self.index.insert(summary.clone(), self.list.len());
                let change = ApprovalChange {
                    summary,
                    kinds: kinds.into_iter().collect(),
                    gates,
                    count: 0,
                    share: 0.0,
                    examples: Vec::new(),
                };
                self.list.push((change, Sampler::default()));
                self.list.len() - 1
            }
            None => {
                report.other_approval_changes += 1;
                return;
            }
        };
        if let Some((c, sampler)) = self.list.get_mut(at) {
            c.count += 1;
            sampler.offer(tool, example);
        }
    }
}

/// Streams the calls (one JSON call per line) through both policies, in constant memory.
pub fn compare(old: &Policy, new: &Policy, calls: impl BufRead) -> std::io::Result<Report> {
    let mut counts = [[0u64; 4]; 4];
    let mut examples: Vec<Sampler> = vec![Sampler::default(); 16];
    let mut report = Report {
        calls: 0,
        unchanged: 0,
        invalid_lines: 0,
        invalid_examples: Vec::new(),
        moves: Vec::new(),
        approval_changed: 0,
        kinds: BTreeMap::new(),
        approval_changes: Vec::new(),
        other_approval_changes: 0,
    };
    let mut changes = Changes::default();
    // Lines as bytes: one line that is not UTF-8 is counted as invalid, not the end.
    for (i, bytes) in calls.split(b'\n').enumerate() {
        let bytes = bytes?;
        let parsed = match std::str::from_utf8(&bytes) {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => ToolCall::from_json(line).map_err(|e| e.to_string()),
            Err(e) => Err(format!("not valid UTF-8 (at byte {})", e.valid_up_to())),
        };
        let call = match parsed {
            Ok(c) => c,
            Err(e) => {
                report.invalid_lines += 1;
                if report.invalid_examples.len() < EXAMPLES_PER_MOVE {
                    report.invalid_examples.push((i + 1, e));
                }
                continue;
            }
        };
        report.calls += 1;
        let a = old.evaluate(&call);
        let b = new.evaluate(&call);
        let (f, t) = (a.effect() as usize, b.effect() as usize);
        if let Some(c) = counts.get_mut(f).and_then(|row| row.get_mut(t)) {
            *c += 1;
        }
        let example = || Example {
            line: i + 1,
            tool: call.tool.clone(),
            old_rules: a.rule_names(),
            new_rules: b.rule_names(),
        };
        if f == t {
            let gates = match a.effect() {
                Effect::Approve => gates::compare(&gates_of(&a, &call), &gates_of(&b, &call)),
                _ => Vec::new(),
            };
            if gates.is_empty() {
                report.unchanged += 1;
            } else {
                changes.add(&mut report, gates, &call.tool, example);
            }
        } else if let Some(sampler) = examples.get_mut(f * 4 + t) {
            sampler.offer(&call.tool, example);
        }
    }
    const EFFECTS: [Effect; 4] = [Effect::Allow, Effect::Audit, Effect::Approve, Effect::Deny];
    let mut examples = examples.into_iter();
    for (from, row) in EFFECTS.iter().zip(counts) {
        for (to, count) in EFFECTS.iter().zip(row) {
            let examples = examples.next().map(Sampler::take).unwrap_or_default();
            if from == to || count == 0 {
                continue;
            }
            report.moves.push(Move {
                from: *from,
                to: *to,
                count,
                share: 100.0 * count as f64 / report.calls.max(1) as f64,
                examples,
            });
        }
    }
    report.moves.sort_by_key(|m| std::cmp::Reverse(m.count));
    let calls = report.calls.max(1) as f64;
    report.approval_changes = changes
        .list
        .into_iter()
        .map(|(c, sampler)| ApprovalChange {
            share: 100.0 * c.count as f64 / calls,
            examples: sampler.take(),
            ..c
        })
        .collect();
    // Stable: changes seen as often stay in the order they were first seen.
    report
        .approval_changes
        .sort_by_key(|c| std::cmp::Reverse(c.count));
    Ok(report)
}

impl Report {
    /// The moves `fail_on` names that happened.
    pub fn forbidden_moves(&self, fail_on: &FailOn) -> Vec<&Move> {
        self.moves
            .iter()
            .filter(|m| fail_on.moves.contains(&(m.from, m.to)))
            .collect()
    }

    /// The kinds of change `fail_on` names that happened, with how many calls had each.
    pub fn forbidden_changes(&self, fail_on: &FailOn) -> Vec<(ChangeKind, u64)> {
        self.kinds
            .iter()
            .filter(|(k, _)| fail_on.changes.contains(k))
            .map(|(k, n)| (*k, *n))
            .collect()
    }
}

/// What must not happen (`--fail-on`): moves between effects, and kinds of change of who
/// decides a call that waits under both versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailOn {
    /// Moves such as `approve->allow`.
    pub moves: Vec<(Effect, Effect)>,
    /// Kinds such as `approvers`.
    pub changes: Vec<ChangeKind>,
}

impl FailOn {
    /// Reads `approve->allow,deny->allow,approvers,sla`: each part a move or the name of a
    /// [`ChangeKind`].
    pub fn parse(spec: &str) -> Result<FailOn, String> {
        let mut out = FailOn::default();
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(kind) = ChangeKind::parse(part) {
                out.changes.push(kind);
                continue;
            }
            let Some((a, b)) = part.split_once("->") else {
                let kinds: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(format!(
                    "`{part}` is neither a move such as `approve->allow` nor a change of who \
                     decides ({})",
                    kinds.join(", ")
                ));
            };
            let effect = |s: &str| {
                Effect::parse(s.trim()).ok_or_else(|| {
                    format!(
                        "`{}` is not an effect (allow, audit, approve, deny)",
                        s.trim()
                    )
                })
            };
            out.moves.push((effect(a)?, effect(b)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_moves_and_keeps_examples() {
        let old = Policy::from_source(
            "default allow\napprove big { when tool == \"pay\" and args.amount > 100 }",
        )
        .unwrap();
        let new = Policy::from_source(
            "default allow\napprove big { when tool == \"pay\" and args.amount > 500 }",
        )
        .unwrap();
        let calls = "{\"tool\":\"pay\",\"args\":{\"amount\":300}}\n\
                     {\"tool\":\"pay\",\"args\":{\"amount\":900}}\n\
                     not json\n\
                     {\"tool\":\"pay\",\"args\":{\"amount\":200}}\n";
        let r = compare(&old, &new, calls.as_bytes()).unwrap();
        assert_eq!(r.calls, 3);
        assert_eq!(r.unchanged, 1);
        assert_eq!(r.invalid_lines, 1);
        assert_eq!(r.moves.len(), 1);
        let m = &r.moves[0];
        assert_eq!((m.from, m.to, m.count), (Effect::Approve, Effect::Allow, 2));
        assert_eq!(m.examples[0].line, 1);
        assert_eq!(m.examples[0].old_rules, vec!["big"]);
    }

    #[test]
    fn fail_on_specs() {
        assert_eq!(
            FailOn::parse("approve->allow, deny->allow,sla, approvers").unwrap(),
            FailOn {
                moves: vec![
                    (Effect::Approve, Effect::Allow),
                    (Effect::Deny, Effect::Allow)
                ],
                changes: vec![ChangeKind::Sla, ChangeKind::Approvers],
            }
        );
        let e = FailOn::parse("approve-allow").unwrap_err();
        assert!(e.contains("on-timeout"), "{e}");
        assert!(FailOn::parse("approve->maybe").is_err());
    }

    #[test]
    fn a_gate_that_changes_groups_is_not_unchanged() {
        let gate = |by: &str| {
            format!(
                "default allow\napprove big {{ when tool == \"pay\" and args.amount > 100 by \"{by}\" }}"
            )
        };
        let old = Policy::from_source(&gate("deal-desk")).unwrap();
        let new = Policy::from_source(&gate("finance")).unwrap();
        let calls = "{\"tool\":\"pay\",\"args\":{\"amount\":300}}\n\
                     {\"tool\":\"pay\",\"args\":{\"amount\":50}}\n";
        let r = compare(&old, &new, calls.as_bytes()).unwrap();
        assert!(r.moves.is_empty());
        assert_eq!((r.unchanged, r.approval_changed), (1, 1));
        let c = &r.approval_changes[0];
        assert_eq!(c.summary, "gate big: by \"deal-desk\" → \"finance\"");
        assert_eq!((c.count, c.examples[0].line), (1, 1));
        let fail_on = FailOn::parse("approvers,mode").unwrap();
        assert_eq!(r.forbidden_changes(&fail_on), [(ChangeKind::Approvers, 1)]);
    }
}
