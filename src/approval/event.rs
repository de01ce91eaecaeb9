//! Audit events: one per transition, chained by hash so that a changed, removed or
//! reordered event is noticed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::digest;
use super::request::State;

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "genesis";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A call was stopped and its checkpoint written.
    Created,
    /// An approver approved the call as proposed (for one gate).
    Approved,
    /// An approver edited the call and approved the edit (for one gate).
    Edited,
    /// An approver rejected the call.
    Rejected,
    /// An approver handed a gate to another group.
    Escalated,
    /// A gate's SLA ran out: the request expired, or its gate was escalated.
    Expired,
    /// The request waits again, for a new group.
    Reopened,
    /// The request was withdrawn before anyone decided.
    Cancelled,
    /// The agent claimed the approved call to execute it.
    Claimed,
    /// The agent reported that the call ran.
    Executed,
    /// The agent reported that the call failed.
    Failed,
    /// The claim's lease ran out with no report: whether the call ran is not known.
    OutcomeUnknown,
    /// A report that came after the lease ran out: kept, but the state stays
    /// outcome_unknown.
    LateReport,
    /// An `audit` decision let a call run; this is its record.
    Audited,
    /// The policy's meaning changed and the call was decided again: which gates kept
    /// their approvals, which were added (they wait), which were dropped.
    Redecided,
}

impl EventKind {
    /// Whether this is an approver's decision: approved, edited, rejected or escalated
    /// (an SLA's escalation is `expired`).
    pub fn is_decision(self) -> bool {
        matches!(
            self,
            EventKind::Approved | EventKind::Edited | EventKind::Rejected | EventKind::Escalated
        )
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Approved => "approved",
            EventKind::Edited => "edited",
            EventKind::Rejected => "rejected",
            EventKind::Escalated => "escalated",
            EventKind::Expired => "expired",
            EventKind::Reopened => "reopened",
            EventKind::Cancelled => "cancelled",
            EventKind::Claimed => "claimed",
            EventKind::Executed => "executed",
            EventKind::Failed => "failed",
            EventKind::OutcomeUnknown => "outcome_unknown",
            EventKind::LateReport => "late_report",
            EventKind::Audited => "audited",
            EventKind::Redecided => "redecided",
        }
    }
}

/// One audit event. Stores assign `seq`, `prev_hash` and `hash` when they append it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log, from 1.
    pub seq: u64,
    /// The request, if the event belongs to one (`audited` events do not).
    pub request_id: Option<String>,
    /// What happened.
    pub kind: EventKind,
    /// Who did it: an approver, the agent, or `system` (expiry).
    pub actor: String,
    /// When (milliseconds since the Unix epoch).
    pub at: i64,
    /// The gate it concerns, if one.
    pub gate: Option<String>,
    /// The state before.
    pub from: Option<State>,
    /// The state after.
    pub to: Option<State>,
    /// The reason given.
    pub reason: Option<String>,
    /// The payload digest before.
    pub digest_before: Option<String>,
    /// The payload digest after.
    pub digest_after: Option<String>,
    /// Details: the patch of an edit, the group of an escalation, the checkpoint's digest.
    pub data: Value,
    /// The hash of the event before (or [`GENESIS`]).
    pub prev_hash: String,
    /// The hash of this event's canonical JSON without this field.
    pub hash: String,
}

impl Event {
    /// A new event, not yet appended.
    pub fn new(kind: EventKind, actor: &str, at: i64) -> Event {
        Event {
            seq: 0,
            request_id: None,
            kind,
            actor: actor.to_string(),
            at,
            gate: None,
            from: None,
            to: None,
            reason: None,
            digest_before: None,
            digest_after: None,
            data: Value::Null,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// Sets the transition.
    pub fn transition(mut self, from: State, to: State) -> Event {
        self.from = Some(from);
        self.to = Some(to);
        self
    }

    /// Sets the gate.
    pub fn gate(mut self, gate: &str) -> Event {
        self.gate = Some(gate.to_string());
        self
    }

    /// Sets the digests before and after.
    pub fn digests(mut self, before: &str, after: &str) -> Event {
        self.digest_before = Some(before.to_string());
        self.digest_after = Some(after.to_string());
        self
    }

    /// Sets the reason.
    pub fn reason(mut self, reason: Option<&str>) -> Event {
        self.reason = reason.map(str::to_string);
        self
    }

    /// Sets the details.
    pub fn data(mut self, data: Value) -> Event {
        self.data = data;
        self
    }

    /// The hash this event should carry, given its `seq` and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        let mut v = match serde_json::to_value(self) {
            Ok(v) => v,
            Err(e) => return digest::sha256(e.to_string().as_bytes()),
        };
        if let Value::Object(map) = &mut v {
            map.remove("hash");
        }
        digest::of_json(&v)
    }

    /// Gives the event its place in the chain.
    pub fn seal(&mut self, seq: u64, prev_hash: &str) {
        self.seq = seq;
        self.prev_hash = prev_hash.to_string();
        self.hash = self.compute_hash();
    }
}

/// A break in the hash chain, found by [`verify_chain`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The event's `seq`.
    pub seq: u64,
    /// What is wrong.
    pub problem: String,
}

/// Checks a log (in `seq` order): every event's hash matches its content and names the
/// hash of the event before, and `seq` runs 1, 2, 3 ... without gaps.
pub fn verify_chain(events: &[Event]) -> Vec<ChainBreak> {
    let mut breaks = Vec::new();
    let mut prev = GENESIS.to_string();
    for (i, e) in events.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        if e.seq != expected_seq {
            breaks.push(ChainBreak {
                seq: e.seq,
                problem: format!("expected event {expected_seq} here: events are missing"),
            });
        }
        if e.prev_hash != prev {
            breaks.push(ChainBreak {
                seq: e.seq,
                problem: "does not follow the event before it (prev_hash differs)".into(),
            });
        }
        if e.compute_hash() != e.hash {
            breaks.push(ChainBreak {
                seq: e.seq,
                problem: "its content does not match its hash (the event was changed)".into(),
            });
        }
        prev = e.hash.clone();
    }
    breaks
}
