//! A request and its state machine. Every transition is a method here that checks the
//! transition is allowed and returns the events it appends; stores only persist them.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Error;
use super::checkpoint::{Checkpoint, Payload};
use super::event::{Event, EventKind};
use crate::{DecisionKind, GateReport, OnTimeout};

mod proof;
mod rebind;
mod ruling;

pub use rebind::Redecision;

/// What a claim asks for: who claims, with which token, when, for how long, under which
/// policy.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// Who claims (the agent).
    pub holder: &'a str,
    /// The claim's secret token.
    pub token: &'a str,
    /// Now (milliseconds since the Unix epoch).
    pub now: i64,
    /// The lease, in milliseconds.
    pub lease_ms: i64,
    /// The hash of the policy the claimer runs under.
    pub policy_hash: &'a str,
}

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for approvers.
    Pending,
    /// Every gate approved the call as proposed.
    Approved,
    /// Every gate approved an edited call (the edited call is what runs).
    ApprovedWithEdits,
    /// An approver rejected it. Final.
    Rejected,
    /// Handed to another group (passing: the request is pending again at once).
    Escalated,
    /// A gate's SLA ran out and its `on timeout` rejected it. Final.
    Expired,
    /// Withdrawn before a decision. Final.
    Cancelled,
    /// Claimed by the agent, running.
    Executing,
    /// Ran. Final.
    Executed,
    /// Ran and failed. Final.
    Failed,
    /// Claimed, but the lease ran out with no report: it may or may not have run. Final;
    /// it is never run again automatically.
    OutcomeUnknown,
}

impl State {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::ApprovedWithEdits => "approved_with_edits",
            State::Rejected => "rejected",
            State::Escalated => "escalated",
            State::Expired => "expired",
            State::Cancelled => "cancelled",
            State::Executing => "executing",
            State::Executed => "executed",
            State::Failed => "failed",
            State::OutcomeUnknown => "outcome_unknown",
        }
    }

    /// Every state, in life order.
    pub const ALL: [State; 11] = [
        State::Pending,
        State::Approved,
        State::ApprovedWithEdits,
        State::Rejected,
        State::Escalated,
        State::Expired,
        State::Cancelled,
        State::Executing,
        State::Executed,
        State::Failed,
        State::OutcomeUnknown,
    ];

    /// Parses a snake_case name.
    pub fn parse(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the call was approved (as proposed or edited) and not yet claimed.
    pub fn is_approved(self) -> bool {
        matches!(self, State::Approved | State::ApprovedWithEdits)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One approver's approval of one gate, bound to the payload it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateApproval {
    /// The approver.
    pub by: String,
    /// When.
    pub at: i64,
    /// The digest of the payload approved.
    pub digest: String,
    /// Whether the approver edited the payload.
    pub edited: bool,
}

/// A gate of a request, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateStatus {
    /// The rule (or `never_auto:CLASS`, `default`) that fired.
    pub rule: String,
    /// The groups that may decide now (changed by escalation; empty: any approver).
    pub groups: Vec<String>,
    /// The decisions allowed.
    pub decisions: Vec<DecisionKind>,
    /// The SLA in seconds.
    pub within_s: Option<u64>,
    /// What the end of the SLA does.
    pub on_timeout: Option<OnTimeout>,
    /// When the SLA ends (milliseconds since the Unix epoch).
    pub deadline: Option<i64>,
    /// The approvals recorded, oldest first; each counts only for the payload it names.
    #[serde(default, alias = "approval", deserialize_with = "one_or_many")]
    pub approvals: Vec<GateApproval>,
    /// How many distinct approvers must approve the same payload (`by 2 of "finance"`).
    #[serde(default = "one")]
    pub quorum: u32,
    /// Whether the SLA already ran out once and escalated (a second time rejects).
    pub timed_out: bool,
    /// What the gate asks as the policy fired it (its groups, decisions and quorum): a
    /// changed policy that fires it the same way keeps its approvals.
    #[serde(default)]
    pub spec: String,
}

impl GateStatus {
    /// A fresh gate from a decision's gate report, its SLA starting `now`.
    pub fn new(g: &GateReport, now: i64) -> GateStatus {
        GateStatus {
            rule: g.rule.clone(),
            groups: g.by.clone(),
            decisions: g.decisions.clone(),
            within_s: g.within_s,
            on_timeout: g.on_timeout.clone(),
            deadline: deadline(g.within_s, now),
            approvals: Vec::new(),
            quorum: quorum_of(g),
            timed_out: false,
            spec: spec_of(g),
        }
    }

    /// The distinct approvers (as people read names, [`crate::fold`]) of exactly the
    /// payload with this digest, in the order they approved.
    pub fn approvers_of(&self, digest: &str) -> Vec<&str> {
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for a in self.approvals.iter().filter(|a| a.digest == digest) {
            let folded = crate::text::fold(&a.by);
            if !seen.contains(&folded) {
                seen.push(folded);
                out.push(a.by.as_str());
            }
        }
        out
    }

    /// Whether this gate approved exactly the payload with this digest: by as many
    /// distinct approvers as its quorum asks.
    pub fn approves(&self, digest: &str) -> bool {
        self.approvers_of(digest).len() >= self.quorum.max(1) as usize
    }

    /// Whether `actor` already approved the payload with this digest for this gate.
    pub fn approved_by(&self, actor: &str, digest: &str) -> bool {
        let me = crate::text::fold(actor);
        self.approvals
            .iter()
            .any(|a| a.digest == digest && crate::text::fold(&a.by) == me)
    }

    /// The latest approval, of any payload.
    pub fn latest_approval(&self) -> Option<&GateApproval> {
        self.approvals.last()
    }
}

fn one() -> u32 {
    1
}

/// Reads approvals stored as a list, or (before quorums) as one approval or none.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<GateApproval>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<GateApproval>),
        One(Option<GateApproval>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(o) => o.into_iter().collect(),
    })
}

/// The quorum a gate report asks for (at least one approver).
pub(super) fn quorum_of(g: &GateReport) -> u32 {
    g.quorum.max(1)
}

/// Whether `actor` may decide a gate waiting for `groups` (empty: any listed approver).
fn may_decide(approvers: &dyn crate::Approvers, actor: &str, groups: &[String]) -> bool {
    if groups.is_empty() {
        approvers.is_approver(actor)
    } else {
        groups.iter().any(|group| approvers.is_member(actor, group))
    }
}

/// What a gate asks, as [`GateStatus::spec`] keeps it.
fn spec_of(g: &GateReport) -> String {
    json!({"by": g.by, "decisions": g.decisions, "quorum": quorum_of(g)}).to_string()
}

fn deadline(within_s: Option<u64>, now: i64) -> Option<i64> {
    within_s.map(|s| now.saturating_add(i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000)))
}

/// The claim an agent holds on an approved call while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// A token only the claimer knows (it is in the permit).
    pub token: String,
    /// Who claimed.
    pub holder: String,
    /// When.
    pub at: i64,
    /// When the lease runs out.
    pub lease_until: i64,
}

/// The mutable part of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The state.
    pub state: State,
    /// The payload that would run now (the proposed one, or the latest edit).
    pub payload: Payload,
    /// Its digest.
    pub payload_digest: String,
    /// The RFC 6902 patch from the proposed arguments to the current ones (after an edit).
    pub patch: Option<Value>,
    /// Each gate.
    pub gates: Vec<GateStatus>,
    /// The claim, once claimed.
    pub claim: Option<Claim>,
    /// The rejection's approver and reason, or the expiry's cause.
    pub rejection: Option<Rejection>,
    /// What the agent reported after running the call.
    pub outcome: Option<Value>,
    /// The hash of the policy the request was last decided again under (`None`: the one
    /// it was made under).
    #[serde(default)]
    pub policy_hash: Option<String>,
    /// The last change.
    pub updated_at: i64,
}

/// Why a request will not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Who (an approver, or `system` for an expiry).
    pub by: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: i64,
}

/// A stopped call: its checkpoint (never changed) and its status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// What was proposed, by whom, under which policy.
    pub checkpoint: Checkpoint,
    /// Where it stands.
    pub status: Status,
}

/// What an approver decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Run the call as proposed.
    Approve,
    /// Do not run it; the reason is required.
    Reject {
        /// Why.
        reason: String,
    },
    /// Run these arguments instead (the tool stays the same).
    Edit {
        /// The edited arguments.
        args: Value,
    },
    /// Hand the gate to another group.
    Escalate {
        /// The group.
        to: String,
    },
}

impl Verdict {
    /// The decision kind, as the gate's `decisions` lists it.
    pub fn kind(&self) -> DecisionKind {
        match self {
            Verdict::Approve => DecisionKind::Approve,
            Verdict::Reject { .. } => DecisionKind::Reject,
            Verdict::Edit { .. } => DecisionKind::Edit,
            Verdict::Escalate { .. } => DecisionKind::Escalate,
        }
    }
}

/// An approver's decision on a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Ruling {
    /// Who decides.
    pub approver: String,
    /// What.
    pub verdict: Verdict,
    /// A note (required for a rejection, where it is the verdict's reason).
    pub note: Option<String>,
    /// Decide for this gate only (by rule name); otherwise for every waiting gate the
    /// approver may decide.
    pub gate: Option<String>,
    /// The payload digest the approver saw. When given, the decision is refused if the
    /// payload changed since (another gate's approver edited it).
    pub seen: Option<String>,
    /// Groups the approver's identity provider vouches for (a JWT's groups claim), besides
    /// the approvers' own membership: each counts where the approvers define the group
    /// ([`crate::Vouched`]). The approval's events record the ones that counted.
    pub groups: Vec<String>,
}

impl Ruling {
    /// A ruling for every gate the approver may decide, without a note.
    pub fn new(approver: impl Into<String>, verdict: Verdict) -> Ruling {
        Ruling {
            approver: approver.into(),
            verdict,
            note: None,
            gate: None,
            seen: None,
            groups: Vec::new(),
        }
    }

    /// Binds the ruling to the payload digest the approver saw.
    pub fn having_seen(mut self, digest: impl Into<String>) -> Ruling {
        self.seen = Some(digest.into());
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Ruling {
        self.note = Some(note.into());
        self
    }

    /// Restricts the ruling to one gate.
    pub fn for_gate(mut self, gate: impl Into<String>) -> Ruling {
        self.gate = Some(gate.into());
        self
    }

    /// Decides also as a member of `groups`, on an identity provider's word (see
    /// [`Ruling::groups`]).
    pub fn with_groups(mut self, groups: Vec<String>) -> Ruling {
        self.groups = groups;
        self
    }
}

/// The actor name for transitions no person made (expiry, lease end).
pub const SYSTEM: &str = "system";

impl Request {
    /// A new pending request from its checkpoint, and its `created` event.
    pub fn new(checkpoint: Checkpoint) -> (Request, Event) {
        let now = checkpoint.created_at;
        let gates = checkpoint
            .decision
            .approval
            .iter()
            .flat_map(|a| a.gates.iter())
            .map(|g| GateStatus::new(g, now))
            .collect();
        let status = Status {
            state: State::Pending,
            payload: checkpoint.payload.clone(),
            payload_digest: checkpoint.payload_digest.clone(),
            patch: None,
            gates,
            claim: None,
            rejection: None,
            outcome: None,
            policy_hash: None,
            updated_at: now,
        };
        let event = Event::new(EventKind::Created, &checkpoint.identity.agent, now)
            .transition(State::Pending, State::Pending)
            .digests(&checkpoint.payload_digest, &checkpoint.payload_digest)
            .data(json!({
                "checkpoint_digest": checkpoint.digest(),
                "gates": checkpoint.decision.approval.iter().flat_map(|a| a.gates.iter())
                    .map(|g| g.rule.clone()).collect::<Vec<_>>(),
                "tenant": checkpoint.identity.tenant,
            }));
        let mut request = Request { checkpoint, status };
        let event = request.stamp(event);
        (request, event)
    }

    /// The request's id.
    pub fn id(&self) -> &str {
        &self.checkpoint.request_id
    }

    /// The state.
    pub fn state(&self) -> State {
        self.status.state
    }

    /// Gives an event its request and, where the transition left the payload alone, the
    /// payload's digest before and after.
    fn stamp(&mut self, mut e: Event) -> Event {
        e.request_id = Some(self.checkpoint.request_id.clone());
        if e.digest_after.is_none() {
            let d = &self.status.payload_digest;
            e.digest_before = Some(d.clone());
            e.digest_after = Some(d.clone());
        }
        self.status.updated_at = e.at;
        e
    }

    /// Whether every gate approved exactly the payload that would run now.
    pub fn fully_approved(&self) -> bool {
        let d = &self.status.payload_digest;
        !self.status.gates.is_empty() && self.status.gates.iter().all(|g| g.approves(d))
    }

    /// The state the gates' approvals put a waiting request in: approved (as proposed, or
    /// with edits) once every gate approved the current payload, else pending.
    fn settled_state(&self) -> State {
        if !self.fully_approved() {
            State::Pending
        } else if self.status.payload_digest == self.checkpoint.payload_digest {
            State::Approved
        } else {
            State::ApprovedWithEdits
        }
    }

    /// The gates still waiting for an approval of the current payload.
    pub fn waiting_gates(&self) -> impl Iterator<Item = &GateStatus> {
        let d = self.status.payload_digest.clone();
        self.status.gates.iter().filter(move |g| !g.approves(&d))
    }

    /// Whether `who` may decide some gate that still waits: a member of its groups (any
    /// listed approver for a gate without groups) who has not approved this payload for it
    /// yet, and not a party to the request (the user it acts for, the agent).
    pub fn awaits(&self, approvers: &dyn crate::Approvers, who: &str) -> bool {
        let digest = &self.status.payload_digest;
        self.status.state == State::Pending
            && !self.is_party(who)
            && self.status.gates.iter().any(|g| {
                !g.approves(digest)
                    && !g.approved_by(who, digest)
                    && may_decide(approvers, who, &g.groups)
            })
    }

    /// The groups that may decide now.
    pub fn waiting_groups(&self) -> Vec<String> {
        if self.status.state != State::Pending {
            return Vec::new();
        }
        let mut groups: Vec<String> = self
            .waiting_gates()
            .flat_map(|g| g.groups.iter().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }

    /// When something happens by itself next: the earliest SLA end while pending, the
    /// lease end while executing.
    pub fn due_at(&self) -> Option<i64> {
        match self.status.state {
            State::Pending => self.waiting_gates().filter_map(|g| g.deadline).min(),
            State::Executing => self.status.claim.as_ref().map(|c| c.lease_until),
            _ => None,
        }
    }

    /// Applies what time does by itself at `now`: an SLA that ran out (its gate's
    /// `on timeout`: reject, or escalate once), a claim whose lease ran out. Never approves.
    pub fn expire(&mut self, now: i64) -> Vec<Event> {
        let mut events = Vec::new();
        match self.status.state {
            State::Pending => {
                let digest = self.status.payload_digest.clone();
                for g in self.status.gates.iter_mut() {
                    if g.approves(&digest) || g.deadline.is_none_or(|d| d > now) {
                        continue;
                    }
                    match (&g.on_timeout, g.timed_out) {
                        (Some(OnTimeout::Escalate(to)), false) => {
                            let to = to.clone();
                            g.groups = vec![to.clone()];
                            g.timed_out = true;
                            g.deadline = deadline(g.within_s, now);
                            let rule = g.rule.clone();
                            events.push(
                                Event::new(EventKind::Expired, SYSTEM, now)
                                    .transition(State::Pending, State::Escalated)
                                    .gate(&rule)
                                    .reason(Some("the SLA ran out; on timeout: escalate"))
                                    .data(json!({"to": to})),
                            );
                            events.push(
                                Event::new(EventKind::Reopened, SYSTEM, now)
                                    .transition(State::Escalated, State::Pending)
                                    .gate(&rule)
                                    .data(json!({"groups": [to]})),
                            );
                        }
                        (on_timeout, timed_out) => {
                            let reason = match (on_timeout, timed_out) {
                                (Some(OnTimeout::Escalate(_)), true) => {
                                    "the SLA ran out again after the timeout escalation"
                                }
                                (Some(OnTimeout::Reject), _) => {
                                    "the SLA ran out; on timeout: reject"
                                }
                                _ => "the SLA ran out (no `on timeout`: rejected)",
                            };
                            let rule = g.rule.clone();
                            self.status.state = State::Expired;
                            self.status.rejection = Some(Rejection {
                                by: SYSTEM.into(),
                                reason: reason.into(),
                                at: now,
                            });
                            events.push(
                                Event::new(EventKind::Expired, SYSTEM, now)
                                    .transition(State::Pending, State::Expired)
                                    .gate(&rule)
                                    .reason(Some(reason)),
                            );
                            break;
                        }
                    }
                }
            }
            State::Executing => {
                if let Some(c) = &self.status.claim
                    && c.lease_until <= now
                {
                    let holder = c.holder.clone();
                    self.status.state = State::OutcomeUnknown;
                    events.push(
                        Event::new(EventKind::OutcomeUnknown, SYSTEM, now)
                            .transition(State::Executing, State::OutcomeUnknown)
                            .reason(Some(&format!(
                                "the claim by `{holder}` ran out with no report"
                            ))),
                    );
                }
            }
            _ => {}
        }
        events.into_iter().map(|e| self.stamp(e)).collect()
    }

    /// Whether `actor` is a party to the request: the user the agent acts for or the agent
    /// (compared as people read names, [`crate::fold`]).
    fn is_party(&self, actor: &str) -> bool {
        let id = &self.checkpoint.identity;
        let me = crate::text::fold(actor);
        id.user
            .as_deref()
            .is_some_and(|u| crate::text::fold(u) == me)
            || crate::text::fold(&id.agent) == me
    }

    /// Claims an approved call to run it, under a lease. Refused unless every gate approved
    /// exactly the current payload under the policy with this hash, and the request's own
    /// `events` prove it (the payload hashes to its digest, the state is the one the last
    /// event left, every gate's approval of this payload is recorded, by someone
    /// `approvers` lets decide it); a second claim fails.
    pub fn claim(
        &mut self,
        claim: &ClaimRequest<'_>,
        events: &[Event],
        approvers: &dyn crate::Approvers,
    ) -> Result<Vec<Event>, Error> {
        let ClaimRequest {
            holder,
            token,
            now,
            lease_ms,
            policy_hash,
        } = *claim;
        let state = self.status.state;
        if !state.is_approved() {
            return Err(match state {
                State::Executing | State::Executed | State::Failed | State::OutcomeUnknown => {
                    Error::AlreadyClaimed {
                        id: self.id().to_string(),
                        state,
                    }
                }
                _ => Error::NotApproved {
                    id: self.id().to_string(),
                    state,
                },
            });
        }
        if self.bound_policy() != policy_hash {
            return Err(Error::PolicyChanged {
                approved_under: self.bound_policy().to_string(),
                now: policy_hash.to_string(),
            });
        }
        if !self.fully_approved() {
            return Err(Error::Unproven {
                id: self.id().to_string(),
                problem: format!("it is {state} but not every gate approved its payload"),
            });
        }
        if let Err(problem) = self.prove(events, approvers) {
            return Err(Error::Unproven {
                id: self.id().to_string(),
                problem,
            });
        }
        self.status.state = State::Executing;
        self.status.claim = Some(Claim {
            token: token.to_string(),
            holder: holder.to_string(),
            at: now,
            lease_until: now.saturating_add(lease_ms),
        });
        let d = self.status.payload_digest.clone();
        let e = Event::new(EventKind::Claimed, holder, now)
            .transition(state, State::Executing)
            .digests(&d, &d);
        Ok(vec![self.stamp(e)])
    }

    /// Records what became of a claimed call. Only the claim's token may report.
    pub fn finish(
        &mut self,
        token: &str,
        result: Result<Value, String>,
        now: i64,
    ) -> Result<Vec<Event>, Error> {
        let claim = self.status.claim.as_ref().filter(|c| c.token == token);
        let Some(claim) = claim else {
            return Err(Error::NotYourClaim(self.id().to_string()));
        };
        let holder = claim.holder.clone();
        let lease_over = claim.lease_until <= now;
        match self.status.state {
            State::Executing if !lease_over => {}
            // Too late: the request is (or now becomes) outcome_unknown and stays so, but
            // what the agent reports is kept, once, in a `late_report` event.
            State::Executing | State::OutcomeUnknown if self.status.outcome.is_none() => {
                let mut events = self.expire(now);
                let outcome = match &result {
                    Ok(v) => json!({"executed": v}),
                    Err(msg) => json!({"failed": msg}),
                };
                self.status.outcome = Some(outcome.clone());
                let d = self.status.payload_digest.clone();
                let e = Event::new(EventKind::LateReport, &holder, now)
                    .transition(State::OutcomeUnknown, State::OutcomeUnknown)
                    .digests(&d, &d)
                    .reason(Some("reported after the claim's lease ran out"))
                    .data(json!({"outcome": outcome}));
                events.push(self.stamp(e));
                return Ok(events);
            }
            state => {
                return Err(Error::AlreadyFinished {
                    id: self.id().to_string(),
                    state,
                });
            }
        }
        let (kind, to, outcome, reason) = match result {
            Ok(v) => (EventKind::Executed, State::Executed, v, None),
            Err(msg) => (
                EventKind::Failed,
                State::Failed,
                json!({"error": msg}),
                Some(msg),
            ),
        };
        self.status.state = to;
        self.status.outcome = Some(outcome.clone());
        let d = self.status.payload_digest.clone();
        let e = Event::new(kind, &holder, now)
            .transition(State::Executing, to)
            .digests(&d, &d)
            .reason(reason.as_deref())
            .data(json!({"outcome": outcome}));
        Ok(vec![self.stamp(e)])
    }

    /// Withdraws a pending request.
    pub fn cancel(&mut self, actor: &str, reason: &str, now: i64) -> Result<Vec<Event>, Error> {
        if self.status.state != State::Pending {
            return Err(Error::NotPending {
                id: self.id().to_string(),
                state: self.status.state,
            });
        }
        self.status.state = State::Cancelled;
        let e = Event::new(EventKind::Cancelled, actor, now)
            .transition(State::Pending, State::Cancelled)
            .reason(Some(reason));
        Ok(vec![self.stamp(e)])
    }
}
