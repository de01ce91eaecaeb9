//! Who decides a call that waits under both versions: the [`GateReport`]s of the two
//! decisions, paired by rule and compared field by field.

use serde::Serialize;
use serde_json::Value;

use crate::ast::{Mode, OnTimeout};
use crate::eval::decision::GateReport;

/// A kind of change of who decides, or how (what `--fail-on` can name besides moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A gate was added or removed, or another rule's gate stands in its place.
    Gates,
    /// The approver groups (`by`).
    Approvers,
    /// `sync` or `async`.
    Mode,
    /// The SLA (`within`).
    Sla,
    /// What happens when the SLA runs out (`on timeout`).
    OnTimeout,
    /// The decisions an approver may make.
    Decisions,
    /// What the approver is shown as a diff (`show diff`).
    ShowDiff,
}

impl ChangeKind {
    /// Every kind, in the order they are reported.
    pub const ALL: [ChangeKind; 7] = [
        ChangeKind::Gates,
        ChangeKind::Approvers,
        ChangeKind::Mode,
        ChangeKind::Sla,
        ChangeKind::OnTimeout,
        ChangeKind::Decisions,
        ChangeKind::ShowDiff,
    ];

    /// The name `--fail-on` and the JSON report use: `gates`, `approvers`, `mode`, `sla`,
    /// `on-timeout`, `decisions`, `show-diff`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Gates => "gates",
            ChangeKind::Approvers => "approvers",
            ChangeKind::Mode => "mode",
            ChangeKind::Sla => "sla",
            ChangeKind::OnTimeout => "on-timeout",
            ChangeKind::Decisions => "decisions",
            ChangeKind::ShowDiff => "show-diff",
        }
    }

    /// Reads a name given by [`ChangeKind::as_str`].
    pub fn parse(name: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field of a gate that is compared: its kind, its name as a policy writes it, and
/// how to read it from a gate (as JSON, which is what is compared, and in words).
struct Field {
    kind: ChangeKind,
    name: &'static str,
    read: fn(&GateReport) -> (Value, String),
}

/// Every field of a [`GateReport`] that says who decides, how and by when, in the order
/// changes are told. A new field of the gate is one more line here (`rule` pairs the
/// gates; `reason` is text rendered for the call, not who decides, and
/// is not compared).
#[rustfmt::skip]
const FIELDS: &[Field] = &[
    field(ChangeKind::Approvers, "by", by),
    field(ChangeKind::Approvers, "quorum", quorum),
    field(ChangeKind::Approvers, "confirm by requester", confirm_by_requester),
    field(ChangeKind::Mode, "mode", mode),
    field(ChangeKind::Sla, "within", within),
    field(ChangeKind::OnTimeout, "on timeout", on_timeout),
    field(ChangeKind::Decisions, "decisions", decisions),
    field(ChangeKind::ShowDiff, "show diff", show_diff),
];

const fn field(
    kind: ChangeKind,
    name: &'static str,
    read: fn(&GateReport) -> (Value, String),
) -> Field {
    Field { kind, name, read }
}

fn json(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The groups as a set (order and repeats do not change who may decide).
fn by(g: &GateReport) -> (Value, String) {
    let mut set: Vec<&String> = g.by.iter().collect();
    set.sort();
    set.dedup();
    let text = if set.is_empty() {
        "any approver".to_string()
    } else {
        let quoted: Vec<String> = set.iter().map(|g| format!("{:?}", g.as_str())).collect();
        quoted.join(", ")
    };
    (json(set), text)
}

/// How many distinct approvers must approve (`by 2 of ...`).
fn quorum(g: &GateReport) -> (Value, String) {
    let n = g.quorum.max(1);
    (json(n), n.to_string())
}

/// `null` when not written, as an absent option is (a gate added without it says
/// nothing of it).
fn confirm_by_requester(g: &GateReport) -> (Value, String) {
    if g.confirm_by_requester {
        (Value::Bool(true), "yes".to_string())
    } else {
        (Value::Null, "no".to_string())
    }
}

fn mode(g: &GateReport) -> (Value, String) {
    let text = match g.mode {
        Mode::Sync => "sync",
        Mode::Async => "async",
    };
    (json(g.mode), text.to_string())
}

fn within(g: &GateReport) -> (Value, String) {
    let text = g
        .within_s
        .map_or_else(|| "none".to_string(), crate::duration::text);
    (json(g.within_s), text)
}

fn on_timeout(g: &GateReport) -> (Value, String) {
    let text = match &g.on_timeout {
        None => "none".to_string(),
        Some(OnTimeout::Reject) => "reject".to_string(),
        Some(OnTimeout::Escalate(g)) => format!("escalate {:?}", g.as_str()),
    };
    (json(&g.on_timeout), text)
}

fn decisions(g: &GateReport) -> (Value, String) {
    let kinds = &g.decisions;
    let text = if kinds.is_empty() {
        "none".to_string()
    } else {
        let words: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        words.join(", ")
    };
    (json(kinds), text)
}

fn show_diff(g: &GateReport) -> (Value, String) {
    let text = g.show_diff.clone().unwrap_or_else(|| "none".to_string());
    (json(&g.show_diff), text)
}

/// One field that differs between a gate and the gate in its place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The option as a policy writes it: `by`, `mode`, `within`, `on timeout`,
    /// `decisions`, `show diff`.
    pub field: &'static str,
    /// What kind of change it is.
    pub kind: ChangeKind,
    /// The old value, as in the decision's JSON (`within` in seconds, `by` as a set).
    pub old: Value,
    /// The new value.
    pub new: Value,
    /// The old value in words.
    #[serde(skip)]
    pub old_text: String,
    /// The new value in words.
    #[serde(skip)]
    pub new_text: String,
}

impl std::fmt::Display for FieldChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} → {}", self.field, self.old_text, self.new_text)
    }
}

/// How one gate of the old decision and the gate in its place differ: a changed field, a
/// gate now another rule's, a gate added (`old_rule` is `None`) or removed (`new_rule` is
/// `None`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateChange {
    /// The old gate's rule (or `never_auto:CLASS`, `default`).
    pub old_rule: Option<String>,
    /// The new gate's rule.
    pub new_rule: Option<String>,
    /// The fields that differ; for a gate added or removed, every field of it, with
    /// `null` on the side where it is missing.
    pub fields: Vec<FieldChange>,
}

impl GateChange {
    /// The kinds of this change: [`ChangeKind::Gates`] when the rule differs (a gate
    /// added or removed is only that), and the kind of each field that differs.
    pub fn kinds(&self) -> impl Iterator<Item = ChangeKind> + '_ {
        let paired = self.old_rule.is_some() && self.new_rule.is_some();
        let gates = (self.old_rule != self.new_rule).then_some(ChangeKind::Gates);
        gates
            .into_iter()
            .chain(self.fields.iter().map(|f| f.kind).filter(move |_| paired))
    }
}

impl std::fmt::Display for GateChange {
    /// `gate refund_review: by "deal-desk" → "finance"; within 2d → 4h`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let options = |values: &mut dyn Iterator<Item = (&str, &str)>| {
            let shown: Vec<String> = values.map(|(field, v)| format!("{field} {v}")).collect();
            shown.join(", ")
        };
        match (&self.old_rule, &self.new_rule) {
            (Some(old), Some(new)) => {
                write!(f, "gate {old}")?;
                if old != new {
                    write!(f, " → {new}")?;
                }
                let fields: Vec<String> = self.fields.iter().map(ToString::to_string).collect();
                if !fields.is_empty() {
                    write!(f, ": {}", fields.join("; "))?;
                }
                Ok(())
            }
            (None, Some(new)) => write!(
                f,
                "gate {new} added ({})",
                options(&mut self.fields.iter().map(|c| (c.field, c.new_text.as_str())))
            ),
            (Some(old), None) => write!(
                f,
                "gate {old} removed ({})",
                options(&mut self.fields.iter().map(|c| (c.field, c.old_text.as_str())))
            ),
            (None, None) => Ok(()),
        }
    }
}

/// The fields of `old` and `new` that differ (every field, when one side is missing).
fn fields(old: Option<&GateReport>, new: Option<&GateReport>) -> Vec<FieldChange> {
    let read = |g: Option<&GateReport>, field: &Field| {
        g.map_or((Value::Null, "none".to_string()), |g| (field.read)(g))
    };
    FIELDS
        .iter()
        .filter_map(|field| {
            let (old, old_text) = read(old, field);
            let (new, new_text) = read(new, field);
            (old != new).then_some(FieldChange {
                field: field.name,
                kind: field.kind,
                old,
                new,
                old_text,
                new_text,
            })
        })
        .collect()
}

/// How the gates of a call differ between two decisions that both wait. Gates pair by
/// rule name; those left over pair in the order the decisions list them (a gate now
/// another rule's); the rest were added or removed. Empty when nothing differs.
pub fn compare(old: &[GateReport], new: &[GateReport]) -> Vec<GateChange> {
    let mut pairs: Vec<(Option<&GateReport>, Option<&GateReport>)> = Vec::new();
    let same = |g: &GateReport, other: &[GateReport]| other.iter().any(|o| o.rule == g.rule);
    for o in old {
        if let Some(n) = new.iter().find(|n| n.rule == o.rule) {
            pairs.push((Some(o), Some(n)));
        }
    }
    let mut old_rest = old.iter().filter(|o| !same(o, new));
    let mut new_rest = new.iter().filter(|n| !same(n, old));
    loop {
        match (old_rest.next(), new_rest.next()) {
            (None, None) => break,
            pair => pairs.push(pair),
        }
    }
    pairs
        .into_iter()
        .filter_map(|(o, n)| {
            let change = GateChange {
                old_rule: o.map(|g| g.rule.clone()),
                new_rule: n.map(|g| g.rule.clone()),
                fields: fields(o, n),
            };
            (change.old_rule != change.new_rule || !change.fields.is_empty()).then_some(change)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::DecisionKind;

    fn gate(rule: &str, by: &[&str], within_s: Option<u64>) -> GateReport {
        GateReport {
            rule: rule.into(),
            mode: Mode::Sync,
            by: by.iter().map(|g| g.to_string()).collect(),
            quorum: 1,
            within_s,
            on_timeout: None,
            decisions: DecisionKind::ALL.to_vec(),
            show_diff: None,
            confirm_by_requester: false,
            reason: None,
        }
    }

    #[test]
    fn a_gate_moved_to_another_group_and_sla_says_both() {
        let old = [gate("refund_review", &["deal-desk"], Some(172_800))];
        let new = [gate("refund_review", &["finance"], Some(14_400))];
        let changes = compare(&old, &new);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].to_string(),
            "gate refund_review: by \"deal-desk\" → \"finance\"; within 2d → 4h"
        );
        let kinds: Vec<ChangeKind> = changes[0].kinds().collect();
        assert_eq!(kinds, [ChangeKind::Approvers, ChangeKind::Sla]);
    }

    #[test]
    fn letting_the_requester_confirm_is_a_change_of_who_decides() {
        let old = gate("writes", &[], None);
        let mut new = old.clone();
        new.confirm_by_requester = true;
        let changes = compare(&[old], &[new.clone()]);
        assert_eq!(
            changes[0].to_string(),
            "gate writes: confirm by requester no → yes"
        );
        assert_eq!(
            changes[0].kinds().collect::<Vec<_>>(),
            [ChangeKind::Approvers]
        );
        let added = compare(&[], &[new]);
        assert!(
            added[0].to_string().contains("confirm by requester yes"),
            "{}",
            added[0]
        );
    }

    #[test]
    fn the_same_groups_in_another_order_and_a_new_reason_are_no_change() {
        let mut old = gate("g", &["a", "b"], None);
        old.reason = Some("one".into());
        let mut new = gate("g", &["b", "a", "b"], None);
        new.reason = Some("two".into());
        assert!(compare(&[old], &[new]).is_empty());
    }

    #[test]
    fn gates_pair_by_rule_then_in_order_and_the_rest_are_added_or_removed() {
        let old = [gate("a", &[], None), gate("big", &["finance"], None)];
        let new = [
            gate("default", &[], None),
            gate("a", &[], None),
            gate("floor", &[], Some(60)),
        ];
        let told: Vec<String> = compare(&old, &new).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            told,
            [
                "gate big → default: by \"finance\" → any approver",
                "gate floor added (by any approver, quorum 1, mode sync, within 1m, \
                 decisions approve, reject, edit, escalate)",
            ]
        );
        let removed = compare(&new[2..], &[]);
        assert!(
            removed[0]
                .to_string()
                .starts_with("gate floor removed (by any approver")
        );
        assert_eq!(removed[0].kinds().collect::<Vec<_>>(), [ChangeKind::Gates]);
    }

    #[test]
    fn every_kind_has_a_name_that_reads_back() {
        for k in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(ChangeKind::parse("who"), None);
    }
}
