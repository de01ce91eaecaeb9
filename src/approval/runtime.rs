//! The agent's side ([`Guard`]) and the approvers' side ([`Desk`]) of the runtime.

mod validate;

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::checkpoint::{CHECKPOINT_VERSION, Checkpoint, Payload, PolicyRef, Proposal};
use super::event::{ChainBreak, Event, EventKind, verify_chain};
use super::request::{ClaimRequest, GateStatus, Redecision, Rejection, Request, Ruling, State};
use super::time::{Clock, SystemClock};
use super::{Approvers, Error, policy_hash, request_id};
use crate::approval::store::Store;
use crate::{DecisionReport, Effect, Policy};
use validate::validate;

/// The right to run one call: the only value that carries a call to execute.
///
/// A permit comes from an `allow` or `audit` decision, or from claiming an approved request
/// (then it runs what the approvers approved, edits included, once). It cannot be built,
/// cloned or deserialized outside this module. Hand it back with [`Guard::finish`].
#[derive(Debug)]
#[must_use = "a permit is the call to run; run it and report with Guard::finish"]
pub struct Permit {
    payload: Payload,
    /// Computed on first use for allow permits (most calls never ask).
    digest: std::sync::OnceLock<String>,
    effect: Effect,
    claim: Option<(String, String)>,
    edited: bool,
}

impl Permit {
    /// The tool to call.
    pub fn tool(&self) -> &str {
        &self.payload.tool
    }

    /// The arguments to call it with (for an approved request: the approved or edited ones).
    pub fn args(&self) -> &Value {
        &self.payload.args
    }

    /// Tool and arguments.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The payload's digest.
    pub fn digest(&self) -> &str {
        self.digest.get_or_init(|| self.payload.digest())
    }

    /// The effect that allowed it: allow, audit, or approve (after approval).
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The request it came from, for an approved call.
    pub fn request_id(&self) -> Option<&str> {
        self.claim.as_ref().map(|(id, _)| id.as_str())
    }

    /// The claim's token, for an approved call: what [`Guard::report`] needs when the
    /// outcome is reported by another process than the one holding the permit.
    pub fn claim_token(&self) -> Option<&str> {
        self.claim.as_ref().map(|(_, t)| t.as_str())
    }

    /// Whether an approver edited the call.
    pub fn was_edited(&self) -> bool {
        self.edited
    }
}

/// What [`Guard::submit`] gives back.
#[derive(Debug)]
pub enum Submitted {
    /// Run it now.
    Permit(Permit),
    /// It waits for approvers; keep the id and [`Guard::resume`] later.
    Waiting(Waiting),
    /// The policy denies it.
    Denied(DecisionReport),
}

/// A request that waits.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    /// The request's id.
    pub id: String,
    /// Whether this call created it (false: the same proposal was submitted before).
    pub created: bool,
    /// Its state: `pending` for a new request; a resubmitted one may be further along
    /// (approved, rejected, executed ...): `resume` it to find out what to do.
    pub state: State,
    /// The groups that may decide.
    pub groups: Vec<String>,
    /// The earliest SLA end, if any (milliseconds since the Unix epoch).
    pub due_at: Option<i64>,
}

/// What [`Guard::resume`] and [`Guard::wait`] give back.
#[derive(Debug)]
pub enum Resumed {
    /// Approved and now claimed: run it.
    Permit(Permit),
    /// Still waiting.
    Pending(Waiting),
    /// An approver rejected it.
    Rejected(Rejection),
    /// Its SLA ran out and its `on timeout` rejected it.
    Expired(Rejection),
    /// It was withdrawn.
    Cancelled,
    /// The policy denies it (only from [`Guard::wait`] on a proposal).
    Denied(DecisionReport),
}

fn waiting(r: &Request, created: bool) -> Waiting {
    Waiting {
        id: r.id().to_string(),
        created,
        state: r.state(),
        groups: r.waiting_groups(),
        due_at: r.due_at(),
    }
}

/// A fresh random token (claims), from the standard library's per-process random keys.
fn token(id: &str, now: i64) -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(id.as_bytes());
    h.write_i64(now);
    let a = h.finish();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(a);
    h.write_u32(std::process::id());
    let b = h.finish();
    format!("{a:016x}{b:016x}")
}

/// Records a claimed call's outcome; a late one is kept as a `late_report` event and
/// answered with [`Error::LeaseExpired`].
pub fn report(
    store: &dyn Store,
    id: &str,
    token: &str,
    result: Result<Value, String>,
    now: i64,
) -> Result<(), Error> {
    let r = store.update(id, &mut |r, _| r.finish(token, result.clone(), now))?;
    if r.state() == State::OutcomeUnknown {
        return Err(Error::LeaseExpired(id.to_string()));
    }
    Ok(())
}

/// Decides a payload (with the request's context) under a policy, as a request's gates
/// see it.
fn redecide(
    policy: &Policy,
    hash: &str,
    payload: &Payload,
    context: &Value,
    now: i64,
) -> Redecision {
    let call = crate::ToolCall::new(payload.tool.clone(), payload.args.clone())
        .with_context(context.clone());
    let report = policy.evaluate(&call).report(&call);
    Redecision {
        hash: hash.to_string(),
        effect: report.effect,
        gates: report
            .approval
            .iter()
            .flat_map(|a| a.gates.iter())
            .map(|g| GateStatus::new(g, now))
            .collect(),
        rules: report.rules,
    }
}

/// Withdraws a pending request on behalf of the agent that proposed it (the `cancelled`
/// event names that agent), with a reason. A request that is no longer pending is left as
/// it is ([`Error::NotPending`]).
pub fn cancel(store: &dyn Store, id: &str, reason: &str, now: i64) -> Result<Request, Error> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::ReasonRequired);
    }
    // An SLA that already ran out ended the request first.
    expire_one(store, id, now)?;
    store.update(id, &mut |r, _| {
        let agent = r.checkpoint.identity.agent.clone();
        r.cancel(&agent, reason, now)
    })
}

/// Applies whatever is due on one request (SLA, lease). Shared by both sides.
fn expire_one(store: &dyn Store, id: &str, now: i64) -> Result<Request, Error> {
    store.update(id, &mut |r, _| Ok(r.expire(now)))
}

/// The agent's side: evaluates calls and hands out [`Permit`]s.
pub struct Guard {
    policy: Arc<Policy>,
    policy_ref: PolicyRef,
    store: Arc<dyn Store>,
    approvers: Arc<dyn Approvers>,
    clock: Arc<dyn Clock>,
    lease_ms: i64,
    poll: Duration,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("policy", &self.policy_ref)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard for a policy over a store, on the system clock, with a 5-minute lease.
    /// `approvers` are the groups the desk decides with: before an approved call is handed
    /// out, the guard checks from the request's events that each approval was made by
    /// someone they let decide it.
    pub fn new(policy: Arc<Policy>, store: Arc<dyn Store>, approvers: Arc<dyn Approvers>) -> Guard {
        let policy_ref = PolicyRef {
            name: policy.name().map(str::to_string),
            hash: policy_hash(&policy),
            path: None,
            catalog: None,
        };
        Guard {
            policy,
            policy_ref,
            store,
            approvers,
            clock: Arc::new(SystemClock),
            lease_ms: 5 * 60 * 1000,
            poll: Duration::from_millis(200),
        }
    }

    /// Records where the policy was loaded from (in every checkpoint).
    pub fn with_policy_path(mut self, path: impl Into<String>) -> Guard {
        self.policy_ref.path = Some(path.into());
        self
    }

    /// Records the tool catalog that replaced the policy's own (in every checkpoint).
    pub fn with_catalog_path(mut self, path: impl Into<String>) -> Guard {
        self.policy_ref.catalog = Some(path.into());
        self
    }

    /// Uses another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Guard {
        self.clock = clock;
        self
    }

    /// How long a claim holds before an unreported call counts as `outcome_unknown`.
    pub fn with_lease(mut self, lease: Duration) -> Guard {
        self.lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// How often [`Guard::wait`] looks at the store.
    pub fn with_poll_interval(mut self, poll: Duration) -> Guard {
        self.poll = poll;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The policy's name, hash and path as checkpoints record them.
    pub fn policy_ref(&self) -> &PolicyRef {
        &self.policy_ref
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Decides a call. `allow` gives a permit; `audit` writes an `audited` event and gives a
    /// permit; `deny` gives the decision; `approve` writes a checkpoint (once per tenant,
    /// run and tool-call id) and gives the request to wait for.
    pub fn submit(&self, proposal: Proposal) -> Result<Submitted, Error> {
        validate(&proposal)?;
        let decision = self.policy.evaluate(&proposal.call);
        let payload = Payload {
            tool: proposal.call.tool.clone(),
            args: proposal.call.args.clone(),
        };
        let now = self.clock.now_ms();
        match decision.effect() {
            // Handed out without hashing the call: most calls are allowed.
            Effect::Allow => Ok(Submitted::Permit(Permit {
                payload,
                digest: std::sync::OnceLock::new(),
                effect: Effect::Allow,
                claim: None,
                edited: false,
            })),
            Effect::Audit => {
                let digest = payload.digest();
                let report = decision.report(&proposal.call);
                self.store.append(
                    Event::new(EventKind::Audited, &proposal.identity.agent, now)
                        .digests(&digest, &digest)
                        .data(json!({
                            "payload": payload,
                            "context": proposal.call.context,
                            "identity": proposal.identity,
                            "run_id": proposal.run_id,
                            "tool_call_id": proposal.tool_call_id,
                            "rules": report.rules,
                            "policy": self.policy_ref.hash,
                        })),
                )?;
                Ok(Submitted::Permit(Permit {
                    payload,
                    digest: digest.into(),
                    effect: Effect::Audit,
                    claim: None,
                    edited: false,
                }))
            }
            Effect::Deny => Ok(Submitted::Denied(decision.report(&proposal.call))),
            Effect::Approve => {
                let digest = payload.digest();
                let id = request_id(
                    &proposal.identity.tenant,
                    &proposal.run_id,
                    &proposal.tool_call_id,
                );
                let checkpoint = Checkpoint {
                    version: CHECKPOINT_VERSION,
                    request_id: id,
                    payload,
                    payload_digest: digest,
                    context: proposal.call.context.clone(),
                    decision: decision.report(&proposal.call),
                    inputs: proposal.inputs,
                    reasoning: proposal.reasoning,
                    alternatives: proposal.alternatives,
                    before: proposal.before,
                    identity: proposal.identity,
                    policy: self.policy_ref.clone(),
                    run_id: proposal.run_id,
                    tool_call_id: proposal.tool_call_id,
                    created_at: now,
                };
                let (request, created) = Request::new(checkpoint);
                let (request, fresh) = self.store.create(request, created)?;
                Ok(Submitted::Waiting(waiting(&request, fresh)))
            }
        }
    }

    /// Looks at a request: claims it and gives the permit if approved, otherwise says where
    /// it stands. An SLA that ran out is applied first. Claiming twice fails with
    /// [`Error::AlreadyClaimed`]: an approved call runs once.
    pub fn resume(&self, id: &str) -> Result<Resumed, Error> {
        let now = self.clock.now_ms();
        let mut r = expire_one(&*self.store, id, now)?;
        // Made or last decided under a policy that means something else: decide it again
        // under this one before anything is handed out.
        if r.bound_policy() != self.policy_ref.hash {
            let (policy, hash) = (&*self.policy, &self.policy_ref.hash);
            r = self.store.update(id, &mut |r, _| {
                let again = redecide(policy, hash, &r.status.payload, &r.checkpoint.context, now);
                r.rebind(&again, now)
            })?;
        }
        match r.state() {
            State::Approved | State::ApprovedWithEdits => {
                let token = token(id, now);
                let holder = r.checkpoint.identity.agent.clone();
                let hash = self.policy_ref.hash.clone();
                let claim = ClaimRequest {
                    holder: &holder,
                    token: &token,
                    now,
                    lease_ms: self.lease_ms,
                    policy_hash: &hash,
                };
                let approvers = &*self.approvers;
                let r = self
                    .store
                    .update(id, &mut |r, events| r.claim(&claim, events, approvers))?;
                Ok(Resumed::Permit(Permit {
                    digest: r.status.payload_digest.clone().into(),
                    edited: r.status.payload_digest != r.checkpoint.payload_digest,
                    payload: r.status.payload,
                    effect: Effect::Approve,
                    claim: Some((id.to_string(), token)),
                }))
            }
            State::Pending | State::Escalated => Ok(Resumed::Pending(waiting(&r, false))),
            State::Rejected => Ok(Resumed::Rejected(rejection(&r))),
            State::Expired => Ok(Resumed::Expired(rejection(&r))),
            State::Cancelled => Ok(Resumed::Cancelled),
            state
            @ (State::Executing | State::Executed | State::Failed | State::OutcomeUnknown) => {
                Err(Error::AlreadyClaimed {
                    id: id.to_string(),
                    state,
                })
            }
        }
    }

    /// Blocks until the request is decided, then resumes it. Gives `Pending` back only when
    /// `max` passes first; the end of an SLA applies its `on timeout` and never gives a
    /// permit.
    pub fn wait_for(&self, id: &str, max: Option<Duration>) -> Result<Resumed, Error> {
        let start = Instant::now();
        loop {
            let resumed = self.resume(id)?;
            let Resumed::Pending(w) = &resumed else {
                return Ok(resumed);
            };
            let left = max.map(|m| m.saturating_sub(start.elapsed()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(resumed);
            }
            let mut nap = left.map_or(self.poll, |l| l.min(self.poll));
            if let Some(due) = w.due_at {
                let until_due = u64::try_from(due.saturating_sub(self.clock.now_ms())).unwrap_or(0);
                nap = nap.min(Duration::from_millis(until_due.max(1)));
            }
            std::thread::sleep(nap);
        }
    }

    /// Submits and, if the call must wait, blocks until it is decided (synchronous gates).
    pub fn wait(&self, proposal: Proposal, max: Option<Duration>) -> Result<Resumed, Error> {
        match self.submit(proposal)? {
            Submitted::Permit(p) => Ok(Resumed::Permit(p)),
            Submitted::Denied(d) => Ok(Resumed::Denied(d)),
            Submitted::Waiting(w) => self.wait_for(&w.id, max),
        }
    }

    /// Reports what became of a permitted call. For an approved request this records
    /// `executed` (with `Ok(outcome)`) or `failed` (with `Err(message)`); for allow and audit
    /// permits there is no request and nothing is written.
    pub fn finish(&self, permit: Permit, result: Result<Value, String>) -> Result<(), Error> {
        match permit.claim {
            Some((id, token)) => self.report(&id, &token, result),
            None => Ok(()),
        }
    }

    /// Reports the outcome of a claimed request by its claim token (for a process that ran
    /// the call but does not hold the permit, such as a script after `policy guard --wait`).
    pub fn report(
        &self,
        id: &str,
        token: &str,
        result: Result<Value, String>,
    ) -> Result<(), Error> {
        report(&*self.store, id, token, result, self.clock.now_ms())
    }

    /// Withdraws a pending request (see [`cancel`]).
    pub fn cancel(&self, id: &str, reason: &str) -> Result<Request, Error> {
        cancel(&*self.store, id, reason, self.clock.now_ms())
    }
}

fn rejection(r: &Request) -> Rejection {
    r.status.rejection.clone().unwrap_or(Rejection {
        by: super::SYSTEM.into(),
        reason: format!("the request is {}", r.state()),
        at: r.status.updated_at,
    })
}

/// Requests as [`Desk::list`] found them.
#[derive(Debug, Default)]
pub struct Listing {
    /// The requests that read, oldest first.
    pub requests: Vec<Request>,
    /// Ids of requests that did not read, with why.
    pub unreadable: Vec<(String, Error)>,
}

/// What [`Desk::expire`] did.
#[derive(Debug, Default)]
pub struct Sweep {
    /// The events written.
    pub events: Vec<Event>,
    /// Requests that could not be swept, with why.
    pub failures: Vec<(String, Error)>,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerifyReport {
    /// Events checked.
    pub events: usize,
    /// Requests checked.
    pub requests: usize,
    /// The hash of the last event: write it down elsewhere to notice a truncated log later.
    pub head: Option<String>,
    /// Breaks in the hash chain.
    pub breaks: Vec<ChainBreak>,
    /// Requests that disagree with their events, and storage problems.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.breaks.is_empty() && self.problems.is_empty()
    }
}

/// The approvers' side: decide, expire, list, verify.
pub struct Desk {
    store: Arc<dyn Store>,
    approvers: Arc<dyn Approvers>,
    clock: Arc<dyn Clock>,
    policy: Option<(Arc<Policy>, String)>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk").finish_non_exhaustive()
    }
}

impl Desk {
    /// A desk over a store, with group membership from `approvers`.
    pub fn new(store: Arc<dyn Store>, approvers: Arc<dyn Approvers>) -> Desk {
        Desk {
            store,
            approvers,
            clock: Arc::new(SystemClock),
            policy: None,
        }
    }

    /// The policy requests were made under: needed to decide edits (the edited call is
    /// decided again; a denied edit is refused, new gates it fires must approve too).
    pub fn with_policy(mut self, policy: Arc<Policy>) -> Desk {
        let hash = policy_hash(&policy);
        self.policy = Some((policy, hash));
        self
    }

    /// Uses another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Desk {
        self.clock = clock;
        self
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// A request.
    pub fn request(&self, id: &str) -> Result<Request, Error> {
        self.store
            .get(id)?
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// One run's requests (the same tenant and `run_id`), oldest first. A request that
    /// does not read is skipped and named in [`Listing::unreadable`].
    pub fn run(&self, tenant: &str, run_id: &str) -> Result<Listing, Error> {
        let mut listing = Listing::default();
        for id in self.store.run_ids(tenant, run_id)? {
            match self.store.get(&id) {
                Ok(Some(r)) => listing.requests.push(r),
                Ok(None) => {}
                Err(e) => listing.unreadable.push((id, e)),
            }
        }
        Ok(listing)
    }

    /// Requests, oldest first, optionally in one state and waiting for one group. A request
    /// that does not read is skipped and named in [`Listing::unreadable`].
    pub fn list(&self, state: Option<State>, group: Option<&str>) -> Result<Listing, Error> {
        let mut listing = Listing::default();
        for id in self.store.ids(state)? {
            match self.store.get(&id) {
                Ok(Some(r)) => {
                    if group.is_none_or(|g| r.waiting_groups().iter().any(|w| w == g)) {
                        listing.requests.push(r);
                    }
                }
                Ok(None) => {}
                Err(e) => listing.unreadable.push((id, e)),
            }
        }
        Ok(listing)
    }

    /// Applies an approver's ruling. What is due (an SLA that ran out) is applied first,
    /// so a late decision meets an expired request.
    pub fn decide(&self, id: &str, ruling: &Ruling) -> Result<Request, Error> {
        let now = self.clock.now_ms();
        expire_one(&*self.store, id, now)?;
        let approvers = &*self.approvers;
        let policy = self.policy.as_ref();
        self.store.update(id, &mut |r, _| {
            // Under a policy whose meaning changed, the call is decided again first.
            let mut events = match policy {
                Some((policy, hash)) => {
                    let again =
                        redecide(policy, hash, &r.status.payload, &r.checkpoint.context, now);
                    r.rebind(&again, now)?
                }
                None => Vec::new(),
            };
            let context = r.checkpoint.context.clone();
            let bound = r.bound_policy().to_string();
            let reevaluate = |p: &Payload| -> Result<Vec<GateStatus>, Error> {
                let Some((policy, hash)) = policy else {
                    return Err(Error::PolicyNeeded);
                };
                if *hash != bound {
                    return Err(Error::PolicyChanged {
                        approved_under: bound.clone(),
                        now: hash.clone(),
                    });
                }
                // An edit keeps the call one the tool accepts: nothing the catalog requires
                // dropped, no argument of another type than it says.
                if let Some(tool) = policy.catalog().and_then(|c| c.tool(&p.tool)) {
                    tool.conform(&p.args).map_err(Error::BadEdit)?;
                }
                let again = redecide(policy, hash, p, &context, now);
                match again.effect {
                    Effect::Deny => Err(Error::EditDenied { rules: again.rules }),
                    _ => Ok(again.gates),
                }
            };
            events.extend(r.decide(ruling, approvers, now, &reevaluate)?);
            Ok(events)
        })
    }

    /// Applies every SLA and lease that ran out by now. A request that cannot be read or
    /// written is skipped and named; the others are still swept.
    pub fn expire(&self) -> Result<Sweep, Error> {
        let now = self.clock.now_ms();
        let mut sweep = Sweep::default();
        for id in self.store.due(now)? {
            match self.expire_at(&id, now) {
                Ok(events) => sweep.events.extend(events),
                Err(e) => sweep.failures.push((id, e)),
            }
        }
        Ok(sweep)
    }

    /// Applies what ran out by now on one request; returns the events written.
    pub fn expire_request(&self, id: &str) -> Result<Vec<Event>, Error> {
        self.expire_at(id, self.clock.now_ms())
    }

    fn expire_at(&self, id: &str, now: i64) -> Result<Vec<Event>, Error> {
        let before = self.store.events(Some(id))?.len();
        expire_one(&*self.store, id, now)?;
        Ok(self
            .store
            .events(Some(id))?
            .into_iter()
            .skip(before)
            .collect())
    }

    /// Checks the audit log's hash chain, that each checkpoint is the one its `created`
    /// event recorded, that each request's state is the one its last event left, and the
    /// storage's own integrity.
    pub fn verify(&self) -> Result<VerifyReport, Error> {
        let mut problems = self.store.integrity()?;
        let snapshot = self.store.snapshot()?;
        let events = match snapshot.events {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("the audit log does not read: {e}"));
                Vec::new()
            }
        };
        let breaks = verify_chain(&events);
        let mut requests = Vec::new();
        for (id, r) in snapshot.requests {
            match r {
                Ok(r) => requests.push(r),
                Err(e) => problems.push(format!("request `{id}` does not read: {e}")),
            }
        }
        for r in &requests {
            let mine: Vec<&Event> = events
                .iter()
                .filter(|e| e.request_id.as_deref() == Some(r.id()))
                .collect();
            match mine.first() {
                Some(e) if e.kind == EventKind::Created => {
                    let recorded = e.data.get("checkpoint_digest").and_then(Value::as_str);
                    if recorded != Some(r.checkpoint.digest().as_str()) {
                        problems.push(format!(
                            "request `{}`: its checkpoint is not the one recorded when it was created",
                            r.id()
                        ));
                    }
                }
                _ => problems.push(format!("request `{}` has no `created` event", r.id())),
            }
            if let Some(last) = mine.last().and_then(|e| e.to)
                && last != r.state()
            {
                problems.push(format!(
                    "request `{}` is {} but its last event left it {last}",
                    r.id(),
                    r.state()
                ));
            }
            if let Some(e) = mine.iter().rev().find(|e| e.digest_after.is_some())
                && e.digest_after.as_deref() != Some(r.status.payload_digest.as_str())
            {
                problems.push(format!(
                    "request `{}`: its payload is not the one its events recorded",
                    r.id()
                ));
            }
            for (g, a) in r
                .status
                .gates
                .iter()
                .flat_map(|g| g.approvals.iter().map(move |a| (g, a)))
            {
                let recorded = mine.iter().any(|e| {
                    matches!(e.kind, EventKind::Approved | EventKind::Edited)
                        && e.gate.as_deref() == Some(g.rule.as_str())
                        && e.actor == a.by
                        && e.at == a.at
                        && e.digest_after.as_deref() == Some(a.digest.as_str())
                });
                if !recorded {
                    problems.push(format!(
                        "request `{}`: the approval of gate `{}` by `{}` has no event",
                        r.id(),
                        g.rule,
                        a.by
                    ));
                }
            }
            if r.status.payload.digest() != r.status.payload_digest {
                problems.push(format!(
                    "request `{}`: its payload does not match its digest",
                    r.id()
                ));
            }
        }
        Ok(VerifyReport {
            events: events.len(),
            requests: requests.len(),
            head: events.last().map(|e| e.hash.clone()),
            breaks,
            problems,
        })
    }
}
