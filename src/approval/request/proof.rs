//! What a request's own events prove: before an approved call is handed out, the stored
//! row is not trusted alone. The payload must hash to its digest, the checkpoint must be
//! the one its `created` event recorded, the state must be the one its last event left,
//! and replaying the events must show every gate approved exactly that payload, by
//! approvers who may decide it (eligible then and now, never the requester or the agent).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Request, may_decide, quorum_of};
use crate::approval::event::{Event, EventKind};
use crate::{Approvers, Vouched};

/// A gate as the events describe it.
#[derive(Debug)]
struct Replayed {
    groups: Vec<String>,
    /// How many distinct approvers it needs.
    quorum: u32,
    /// Approvals: the approver, the digest approved, and the groups that could decide
    /// the gate at that moment.
    approvals: Vec<Approval>,
}

/// One recorded approval of a gate.
#[derive(Debug)]
struct Approval {
    by: String,
    digest: String,
    /// The groups that could decide the gate then.
    groups: Vec<String>,
    /// The groups an identity provider vouched for, as the event recorded them.
    vouched: Vec<String>,
}

impl Approval {
    /// Whether it counts for `digest`: the approver may decide, by the approvers now (and
    /// the groups vouched for then, where the approvers still define them).
    fn counts(&self, digest: &str, approvers: &dyn Approvers) -> bool {
        let approvers = Vouched::new(approvers, &self.by, &self.vouched);
        self.digest == digest && may_decide(&approvers, &self.by, &self.groups)
    }
}

impl Request {
    /// Checks the request against its events (see the module's documentation); the error
    /// says what does not agree.
    pub(super) fn prove(&self, events: &[Event], approvers: &dyn Approvers) -> Result<(), String> {
        let digest = &self.status.payload_digest;
        if self.status.payload.digest() != *digest {
            return Err("its payload does not hash to its digest".into());
        }
        for e in events {
            if e.request_id.as_deref() != Some(self.id()) || e.compute_hash() != e.hash {
                return Err(format!("event {} was changed", e.seq));
            }
        }
        match events.first() {
            Some(e)
                if e.kind == EventKind::Created
                    && e.data.get("checkpoint_digest").and_then(Value::as_str)
                        == Some(self.checkpoint.digest().as_str()) => {}
            _ => return Err("its checkpoint is not the one its `created` event recorded".into()),
        }
        let last_state = events.iter().rev().find_map(|e| e.to);
        if last_state != Some(self.state()) {
            return Err(format!(
                "it is {} but no event left it so",
                self.state().as_str()
            ));
        }
        let last_digest = events.iter().rev().find_map(|e| e.digest_after.as_ref());
        if last_digest != Some(digest) {
            return Err("its payload is not the one its events recorded".into());
        }
        let gates = self.replay(events)?;
        let stored: Vec<&str> = self.status.gates.iter().map(|g| g.rule.as_str()).collect();
        let replayed: Vec<&str> = gates.keys().map(String::as_str).collect();
        let mut sorted = stored.clone();
        sorted.sort_unstable();
        if sorted != replayed {
            return Err(format!(
                "its gates ({}) are not the ones its events fired ({})",
                stored.join(", "),
                replayed.join(", ")
            ));
        }
        for (rule, g) in &gates {
            let mut people: Vec<String> = g
                .approvals
                .iter()
                .filter(|a| a.counts(digest, approvers))
                .map(|a| crate::text::fold(&a.by))
                .collect();
            people.sort_unstable();
            people.dedup();
            if people.len() < g.quorum.max(1) as usize {
                return Err(format!(
                    "no event shows gate `{rule}` approved this payload by {} who may decide it",
                    if g.quorum > 1 {
                        format!("{} distinct approvers", g.quorum)
                    } else {
                        "an approver".to_string()
                    }
                ));
            }
        }
        Ok(())
    }

    /// The gates as the events leave them: fired at creation or by an edit, handed to
    /// other groups by escalations, and the approvals each recorded (with the groups that
    /// could decide at that moment; an approver outside them does not count).
    fn replay(&self, events: &[Event]) -> Result<BTreeMap<String, Replayed>, String> {
        let mut gates: BTreeMap<String, Replayed> = BTreeMap::new();
        let mut bound: Option<String> = None;
        for g in self
            .checkpoint
            .decision
            .approval
            .iter()
            .flat_map(|a| a.gates.iter())
        {
            gates.insert(g.rule.clone(), Replayed::new(g.by.clone(), quorum_of(g)));
        }
        for e in events {
            let gate = e.gate.as_deref();
            match e.kind {
                EventKind::Edited => {
                    let added = e.data.get("added_groups").and_then(Value::as_object);
                    for (rule, groups) in added.into_iter().flatten() {
                        let quorum = count(&e.data, "added_quorum", rule);
                        gates.insert(rule.clone(), Replayed::new(strings(groups), quorum));
                    }
                    let names = e.data.get("added_gates").and_then(Value::as_array);
                    for rule in names.into_iter().flatten().filter_map(Value::as_str) {
                        if !gates.contains_key(rule) {
                            return Err(format!(
                                "an edit added gate `{rule}` without saying who decides it"
                            ));
                        }
                    }
                }
                EventKind::Redecided => {
                    let kept: Vec<&str> = e
                        .data
                        .get("kept")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    let now = e.data.get("gates").and_then(Value::as_object);
                    let mut next = BTreeMap::new();
                    for (rule, groups) in now.into_iter().flatten() {
                        let g = match gates.remove(rule) {
                            Some(g) if kept.contains(&rule.as_str()) => g,
                            _ => Replayed::new(strings(groups), count(&e.data, "quorum", rule)),
                        };
                        next.insert(rule.clone(), g);
                    }
                    gates = next;
                    bound = e.data.get("to").and_then(Value::as_str).map(str::to_string);
                }
                EventKind::Reopened => {
                    let groups = e.data.get("groups").map(strings).unwrap_or_default();
                    if let Some(g) = gate.and_then(|n| gates.get_mut(n)) {
                        g.groups = groups;
                    }
                }
                _ => {}
            }
            if matches!(e.kind, EventKind::Approved | EventKind::Edited) {
                let Some(g) = gate.and_then(|n| gates.get_mut(n)) else {
                    return Err(format!(
                        "event {} approves a gate the request has not",
                        e.seq
                    ));
                };
                let Some(d) = &e.digest_after else {
                    return Err(format!("event {} approves no payload", e.seq));
                };
                if self.is_party(&e.actor) {
                    return Err(format!(
                        "event {}: `{}` approved their own request",
                        e.seq, e.actor
                    ));
                }
                g.approvals.push(Approval {
                    by: e.actor.clone(),
                    digest: d.clone(),
                    groups: g.groups.clone(),
                    vouched: e.data.get("vouched").map(strings).unwrap_or_default(),
                });
            }
        }
        let bound = bound.unwrap_or_else(|| self.checkpoint.policy.hash.clone());
        if bound != self.bound_policy() {
            return Err("it is bound to a policy its events did not bind it to".into());
        }
        Ok(gates)
    }
}

impl Replayed {
    fn new(groups: Vec<String>, quorum: u32) -> Replayed {
        Replayed {
            groups,
            quorum,
            approvals: Vec::new(),
        }
    }
}

/// A gate's quorum as an event records it (`data[key][rule]`); an event from before
/// quorums records none, and then it is 1.
fn count(data: &Value, key: &str, rule: &str) -> u32 {
    data.get(key)
        .and_then(|m| m.get(rule))
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(1)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}
