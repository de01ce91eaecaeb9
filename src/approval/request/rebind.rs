//! A request under a changed policy. Requests are bound to what the policy means
//! ([`crate::approval::policy_hash`]), so a comment or `policy fmt` changes nothing. When
//! the meaning did change, the call is decided again: a gate that fires as before (same
//! rule, same groups, decisions and quorum) keeps its approvals; a gate that is new or
//! changed waits, with a fresh SLA; a gate that no longer fires is dropped; a call the
//! policy now denies runs under neither.

use serde_json::json;

use super::{GateStatus, Request, SYSTEM, State};
use crate::Effect;
use crate::approval::Error;
use crate::approval::event::{Event, EventKind};

/// What the policy now in force says of a request's current payload.
#[derive(Debug, Clone)]
pub struct Redecision {
    /// The policy's hash.
    pub hash: String,
    /// The effect it gives the payload.
    pub effect: Effect,
    /// The gates it fires, fresh (their SLA starting now).
    pub gates: Vec<GateStatus>,
    /// The rules that decided.
    pub rules: Vec<String>,
}

impl Request {
    /// The hash of the policy the request is bound to now: the one it was made under, or
    /// the one it was last decided again under.
    pub fn bound_policy(&self) -> &str {
        self.status
            .policy_hash
            .as_deref()
            .unwrap_or(&self.checkpoint.policy.hash)
    }

    /// Binds the request to the policy of `now_says`, as described in the module's
    /// documentation. Nothing happens when it is bound to that policy already, or no longer
    /// waits or waits to run (it was refused, or it ran).
    pub fn rebind(&mut self, now_says: &Redecision, now: i64) -> Result<Vec<Event>, Error> {
        let state = self.state();
        let open = matches!(
            state,
            State::Pending | State::Approved | State::ApprovedWithEdits
        );
        if self.bound_policy() == now_says.hash || !open {
            return Ok(Vec::new());
        }
        if now_says.effect == Effect::Deny {
            return Err(Error::PolicyNowDenies {
                id: self.id().to_string(),
                rules: now_says.rules.clone(),
            });
        }
        let mut kept = Vec::new();
        let mut added = Vec::new();
        let gates: Vec<GateStatus> = if now_says.effect == Effect::Approve {
            now_says
                .gates
                .iter()
                .map(|g| {
                    let same = self
                        .status
                        .gates
                        .iter()
                        .find(|h| h.rule == g.rule && h.spec == g.spec);
                    match same {
                        Some(h) => {
                            kept.push(g.rule.clone());
                            h.clone()
                        }
                        None => {
                            added.push(g.rule.clone());
                            g.clone()
                        }
                    }
                })
                .collect()
        } else {
            // Allowed or audited now: the approvals already asked for still stand.
            kept = self.status.gates.iter().map(|g| g.rule.clone()).collect();
            self.status.gates.clone()
        };
        let dropped: Vec<String> = self
            .status
            .gates
            .iter()
            .filter(|g| !gates.iter().any(|h| h.rule == g.rule))
            .map(|g| g.rule.clone())
            .collect();
        let from = self.bound_policy().to_string();
        let groups: serde_json::Map<String, serde_json::Value> = gates
            .iter()
            .map(|g| (g.rule.clone(), json!(g.groups)))
            .collect();
        let quorum: serde_json::Map<String, serde_json::Value> = gates
            .iter()
            .map(|g| (g.rule.clone(), json!(g.quorum)))
            .collect();
        self.status.gates = gates;
        self.status.policy_hash = Some(now_says.hash.clone());
        let to = self.settled_state();
        self.status.state = to;
        let e = Event::new(EventKind::Redecided, SYSTEM, now)
            .transition(state, to)
            .reason(Some("the policy changed; the call was decided again"))
            .data(json!({
                "from": from,
                "to": now_says.hash,
                "gates": groups,
                "quorum": quorum,
                "kept": kept,
                "added": added,
                "dropped": dropped,
            }));
        Ok(vec![self.stamp(e)])
    }
}
