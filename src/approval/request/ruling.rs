//! An approver's ruling on a request: approve, reject, edit then approve, or escalate,
//! each a step of its own, and the request's state after it.

use serde_json::{Value, json};

use super::{
    GateApproval, GateStatus, Rejection, Request, Ruling, State, Verdict, deadline, may_decide,
};
use crate::approval::checkpoint::Payload;
use crate::approval::event::{Event, EventKind};
use crate::approval::{Error, patch};
use crate::{Approvers, Vouched};

/// Who acts in a ruling, when, the note they gave, and the groups an identity provider
/// vouched for that counted (recorded on their approvals, for the claim's proof).
struct Stamp<'a> {
    actor: &'a str,
    now: i64,
    note: Option<&'a str>,
    vouched: Vec<String>,
}

impl Stamp<'_> {
    /// An approval event's details: `data` and, when groups were vouched for, `vouched`.
    fn details(&self, data: Value) -> Value {
        if self.vouched.is_empty() {
            return data;
        }
        let mut map = match data {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        map.insert("vouched".into(), json!(self.vouched));
        Value::Object(map)
    }
}

impl Request {
    /// Applies an approver's ruling. `reevaluate` decides an edited payload under the
    /// policy: the gates it fires, or an error (a denied edit).
    ///
    /// The steps: who decides (never the requester or the agent), what time did first,
    /// whether the request still waits and the approver saw its current payload, which
    /// gates the ruling applies to, then the verdict itself, then the request's new state.
    /// Every refusal leaves the request as it was.
    pub fn decide(
        &mut self,
        ruling: &Ruling,
        approvers: &dyn Approvers,
        now: i64,
        reevaluate: &dyn Fn(&Payload) -> Result<Vec<GateStatus>, Error>,
    ) -> Result<Vec<Event>, Error> {
        let actor = self.decider(ruling)?;
        let approvers = &Vouched::new(approvers, actor, &ruling.groups);
        let vouched: Vec<String> = approvers.groups().map(str::to_string).collect();
        // A decision after an SLA ran out meets what the SLA did (callers that persist
        // expiry first, as `Desk::decide` does, find nothing left to apply here).
        let mut events = self.expire(now);
        if self.status.state != State::Pending {
            return Err(Error::NotPending {
                id: self.id().to_string(),
                state: self.status.state,
            });
        }
        let digest = self.seen_digest(ruling)?;
        let targets = self.targets(ruling, actor, approvers, &digest)?;
        let note = ruling.note.as_deref();
        let at = Stamp {
            actor,
            now,
            note,
            vouched,
        };
        let first = events.len();
        match &ruling.verdict {
            Verdict::Approve => self.approve(&targets, &at, &digest, &mut events),
            Verdict::Reject { reason } => {
                let e = self.reject(&targets, &at, reason, &digest)?;
                events.push(e);
                return Ok(events);
            }
            Verdict::Edit { args } => {
                self.edit(&targets, &at, args, &digest, reevaluate, &mut events)?;
            }
            Verdict::Escalate { to } => {
                self.escalate(&targets, &at, to, approvers, &digest, &mut events)?;
            }
        }
        if matches!(ruling.verdict, Verdict::Approve | Verdict::Edit { .. }) {
            self.settle(events.get_mut(first..).unwrap_or_default());
        }
        let stamped: Vec<Event> = events.split_off(first);
        for e in stamped {
            let e = self.stamp(e);
            events.push(e);
        }
        Ok(events)
    }

    /// The approver of a ruling, refused when blank, the requesting user or the agent.
    ///
    /// Names are compared as people read them ([`crate::fold`]: `FIONA`, fullwidth
    /// `ｆｉｏｎａ` and `fiona` are one person), and a name that does not read as it is
    /// written (blanks around it, a hidden character) is refused.
    fn decider<'r>(&self, ruling: &'r Ruling) -> Result<&'r str, Error> {
        let actor = ruling.approver.as_str();
        if actor.trim().is_empty() {
            return Err(Error::NotAnApprover {
                approver: ruling.approver.clone(),
                groups: self.waiting_groups(),
            });
        }
        if actor.trim() != actor || actor.chars().any(crate::text::is_hidden) {
            return Err(Error::UnreadableApprover(crate::text::quoted(actor)));
        }
        if self.is_party(actor) {
            let id = &self.checkpoint.identity;
            let me = crate::text::fold(actor);
            if crate::text::fold(&id.agent) == me {
                return Err(Error::AgentCannotDecide(actor.to_string()));
            }
            return Err(Error::RequesterCannotDecide(actor.to_string()));
        }
        Ok(actor)
    }

    /// The current payload's digest, refused when the ruling was made on another one.
    fn seen_digest(&self, ruling: &Ruling) -> Result<String, Error> {
        let digest = self.status.payload_digest.clone();
        match &ruling.seen {
            Some(seen) if *seen != digest => Err(Error::PayloadChanged {
                id: self.id().to_string(),
                seen: seen.clone(),
                now: digest,
            }),
            _ => Ok(digest),
        }
    }

    /// The gates (by position) a ruling applies to: the one it names, or every gate still
    /// waiting that the approver may decide; each must allow the ruling's kind.
    fn targets(
        &self,
        ruling: &Ruling,
        actor: &str,
        approvers: &dyn Approvers,
        digest: &str,
    ) -> Result<Vec<usize>, Error> {
        let gates = &self.status.gates;
        let eligible = |g: &GateStatus| may_decide(approvers, actor, &g.groups);
        if let Some(name) = &ruling.gate {
            let Some(g) = gates.iter().find(|g| &g.rule == name) else {
                return Err(Error::UnknownGate {
                    gate: name.clone(),
                    gates: gates.iter().map(|g| g.rule.clone()).collect(),
                });
            };
            if g.approves(digest) || g.approved_by(actor, digest) {
                return Err(Error::AlreadyDecided {
                    id: self.id().to_string(),
                    gate: name.clone(),
                });
            }
        }
        // A gate that has its quorum, or that this approver approved already, is not theirs
        // to decide again: a quorum counts distinct people.
        let chosen = |g: &GateStatus| {
            ruling.gate.as_ref().is_none_or(|n| &g.rule == n)
                && !g.approves(digest)
                && !g.approved_by(actor, digest)
                && eligible(g)
        };
        let targets: Vec<usize> = gates
            .iter()
            .enumerate()
            .filter(|(_, g)| chosen(g))
            .map(|(i, _)| i)
            .collect();
        if targets.is_empty() {
            let done = |g: &&GateStatus| {
                (g.approves(digest) || g.approved_by(actor, digest)) && eligible(g)
            };
            if let Some(g) = gates.iter().find(done) {
                return Err(Error::AlreadyDecided {
                    id: self.id().to_string(),
                    gate: g.rule.clone(),
                });
            }
            return Err(Error::NotAnApprover {
                approver: actor.to_string(),
                groups: self.waiting_groups(),
            });
        }
        let kind = ruling.verdict.kind();
        if let Some(g) = gates
            .iter()
            .filter(|g| chosen(g))
            .find(|g| !g.decisions.contains(&kind))
        {
            return Err(Error::DecisionNotAllowed {
                decision: kind,
                gate: g.rule.clone(),
                allowed: g.decisions.clone(),
            });
        }
        Ok(targets)
    }

    /// The gates at `targets`, mutably.
    fn gates_at<'s>(
        &'s mut self,
        targets: &'s [usize],
    ) -> impl Iterator<Item = &'s mut GateStatus> {
        self.status
            .gates
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| targets.contains(i))
            .map(|(_, g)| g)
    }

    /// Approve: each target gate records its approval of the current payload.
    fn approve(
        &mut self,
        targets: &[usize],
        at: &Stamp<'_>,
        digest: &str,
        events: &mut Vec<Event>,
    ) {
        for g in self.gates_at(targets) {
            g.approvals.push(GateApproval {
                by: at.actor.to_string(),
                at: at.now,
                digest: digest.to_string(),
                edited: false,
            });
            events.push(
                Event::new(EventKind::Approved, at.actor, at.now)
                    .gate(&g.rule)
                    .digests(digest, digest)
                    .reason(at.note)
                    .data(at.details(Value::Null)),
            );
        }
    }

    /// Reject: the whole request ends, with the approver's reason (required).
    fn reject(
        &mut self,
        targets: &[usize],
        at: &Stamp<'_>,
        reason: &str,
        digest: &str,
    ) -> Result<Event, Error> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::ReasonRequired);
        }
        let gate = targets
            .first()
            .and_then(|&i| self.status.gates.get(i))
            .map(|g| g.rule.clone())
            .unwrap_or_default();
        self.status.rejection = Some(Rejection {
            by: at.actor.to_string(),
            reason: reason.to_string(),
            at: at.now,
        });
        self.status.state = State::Rejected;
        let e = Event::new(EventKind::Rejected, at.actor, at.now)
            .transition(State::Pending, State::Rejected)
            .gate(&gate)
            .digests(digest, digest)
            .reason(Some(reason));
        Ok(self.stamp(e))
    }

    /// Edit then approve: the edited payload is decided again (a denied edit is refused;
    /// gates it newly fires join), the target gates approve it, and every other gate's
    /// approval of the old payload stops counting, with a fresh SLA.
    fn edit(
        &mut self,
        targets: &[usize],
        at: &Stamp<'_>,
        args: &Value,
        digest: &str,
        reevaluate: &dyn Fn(&Payload) -> Result<Vec<GateStatus>, Error>,
        events: &mut Vec<Event>,
    ) -> Result<(), Error> {
        if !args.is_object() {
            return Err(Error::BadEdit(
                "the edited arguments must be a JSON object".into(),
            ));
        }
        let edited = Payload {
            tool: self.status.payload.tool.clone(),
            args: args.clone(),
        };
        let new_digest = edited.digest();
        if new_digest == digest {
            return Err(Error::BadEdit(
                "the edit changes nothing; approve the call instead".into(),
            ));
        }
        let fired = reevaluate(&edited)?;
        let step = patch::diff(&self.status.payload.args, &edited.args);
        self.status.patch = Some(patch::diff(&self.checkpoint.payload.args, &edited.args));
        self.status.payload = edited;
        self.status.payload_digest = new_digest.clone();
        let mut added = Vec::new();
        let mut added_groups = serde_json::Map::new();
        let mut added_quorum = serde_json::Map::new();
        for g in fired {
            if !self.status.gates.iter().any(|h| h.rule == g.rule) {
                added.push(g.rule.clone());
                added_groups.insert(g.rule.clone(), json!(g.groups));
                added_quorum.insert(g.rule.clone(), json!(g.quorum));
                self.status.gates.push(g);
            }
        }
        // A gate whose approval the edit voids waits again, with a fresh SLA: its
        // approvers see the edit for the first time now.
        for (i, g) in self.status.gates.iter_mut().enumerate() {
            if !g.approvals.is_empty() && !targets.contains(&i) {
                g.deadline = deadline(g.within_s, at.now);
            }
        }
        for g in self.gates_at(targets) {
            g.approvals.push(GateApproval {
                by: at.actor.to_string(),
                at: at.now,
                digest: new_digest.clone(),
                edited: true,
            });
            events.push(
                Event::new(EventKind::Edited, at.actor, at.now)
                    .gate(&g.rule)
                    .digests(digest, &new_digest)
                    .reason(at.note)
                    .data(at.details(json!({
                        "patch": step,
                        "added_gates": std::mem::take(&mut added),
                        "added_groups": std::mem::take(&mut added_groups),
                        "added_quorum": std::mem::take(&mut added_quorum),
                    }))),
            );
        }
        Ok(())
    }

    /// Escalate: each target gate now waits for group `to` (which must have members),
    /// with a fresh SLA.
    fn escalate(
        &mut self,
        targets: &[usize],
        at: &Stamp<'_>,
        to: &str,
        approvers: &dyn Approvers,
        digest: &str,
        events: &mut Vec<Event>,
    ) -> Result<(), Error> {
        let to = to.trim();
        if to.is_empty() {
            return Err(Error::BadEscalation("name the group to escalate to".into()));
        }
        if !approvers.has_group(to) {
            return Err(Error::BadEscalation(format!(
                "there is no group `{to}` with members to escalate to"
            )));
        }
        if let Some(g) = self.gates_at(targets).find(|g| g.groups == [to]) {
            return Err(Error::BadEscalation(format!(
                "gate `{}` already waits for `{to}`",
                g.rule
            )));
        }
        for g in self.gates_at(targets) {
            g.groups = vec![to.to_string()];
            g.deadline = deadline(g.within_s, at.now);
            events.push(
                Event::new(EventKind::Escalated, at.actor, at.now)
                    .transition(State::Pending, State::Escalated)
                    .gate(&g.rule)
                    .digests(digest, digest)
                    .reason(at.note)
                    .data(json!({"to": to})),
            );
            events.push(
                Event::new(EventKind::Reopened, at.actor, at.now)
                    .transition(State::Escalated, State::Pending)
                    .gate(&g.rule)
                    .data(json!({"groups": [to]})),
            );
        }
        Ok(())
    }

    /// After an approval or an edit: the request is approved once every gate approved the
    /// current payload. The ruling's events record the transition on the last one.
    fn settle(&mut self, events: &mut [Event]) {
        let to = self.settled_state();
        self.status.state = to;
        for e in events.iter_mut() {
            e.from = Some(State::Pending);
            e.to = Some(State::Pending);
        }
        if let Some(last) = events.last_mut() {
            last.to = Some(to);
        }
    }
}
