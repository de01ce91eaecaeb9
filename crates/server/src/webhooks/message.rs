//! What a message says: the facts of one change to a request (from an event of the log,
//! or a gate whose SLA ends soon), and the standard body
//! `{"type", "timestamp", "data": {...}}`.

use holdpoint::approval::{Event, EventKind, GateStatus, Request, State, format_time};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::config::EventType;

/// The webhook type of an event of the log, if it has one. The SLA's escalation is an
/// `expired` event that leaves the request waiting: `request.escalated`. The `reopened`
/// event that follows it, re-decisions, late reports and audited calls send nothing.
pub fn type_of(e: &Event) -> Option<EventType> {
    Some(match e.kind {
        EventKind::Created => EventType::Created,
        EventKind::Escalated => EventType::Escalated,
        EventKind::Expired if e.to == Some(State::Escalated) => EventType::Escalated,
        EventKind::Expired => EventType::Expired,
        EventKind::Approved => EventType::Approved,
        EventKind::Edited => EventType::Edited,
        EventKind::Rejected => EventType::Rejected,
        EventKind::Cancelled => EventType::Cancelled,
        EventKind::Claimed => EventType::Claimed,
        EventKind::Executed => EventType::Executed,
        EventKind::Failed => EventType::Failed,
        EventKind::OutcomeUnknown => EventType::OutcomeUnknown,
        _ => return None,
    })
}

/// The message id of an event: stable across retries and restarts (its place in the log
/// and the start of its hash), so a receiver can drop a repeat.
pub fn event_message_id(e: &Event) -> String {
    let hash = e.hash.rsplit(':').next().unwrap_or_default();
    format!("msg_{}_{}", e.seq, hash.get(..16).unwrap_or(hash))
}

/// The message id of a `due_soon`: one per request, gate and deadline (an SLA escalation
/// starts a new deadline, which may be due soon again).
pub fn due_soon_message_id(request: &str, gate: &str, deadline: i64) -> String {
    let d = Sha256::digest(json!([request, gate, deadline]).to_string().as_bytes());
    let hex: String = d.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("msg_due_{hex}")
}

/// The event a message reports.
#[derive(Debug, Clone)]
pub struct EventFacts {
    /// Its place in the log.
    pub seq: u64,
    /// Its kind in the log (`expired`, `approved`, ...).
    pub kind: &'static str,
    /// When (milliseconds since the Unix epoch).
    pub at: i64,
    /// Who: an approver, the agent, or `system`.
    pub by: String,
    /// The gate it concerns.
    pub gate: Option<String>,
    /// The reason given.
    pub reason: Option<String>,
}

/// Everything a message tells about a request (both formats are written from it).
#[derive(Debug, Clone)]
pub struct Facts {
    /// The message's type.
    pub kind: EventType,
    /// When what it tells happened.
    pub at: i64,
    /// The request id.
    pub request: String,
    /// The tenant.
    pub tenant: Option<String>,
    /// The tool.
    pub tool: Option<String>,
    /// The user the call acts for.
    pub user: Option<String>,
    /// The agent.
    pub agent: Option<String>,
    /// The state the change left the request in.
    pub state: Option<String>,
    /// The policy's reasons.
    pub reasons: Vec<String>,
    /// The top-level numbers of the call's arguments.
    pub amounts: Map<String, Value>,
    /// When something is due next (an SLA's end).
    pub due_at: Option<i64>,
    /// The event, for messages from the log.
    pub event: Option<EventFacts>,
    /// The gate, for `due_soon`.
    pub gate: Option<String>,
    /// The link to the request (`{public_url}/inbox/{id}`).
    pub url: Option<String>,
}

/// The link to a request (it opens the request's page in the inbox), when the id is one
/// the service makes (nothing else goes into a URL).
fn link(public_url: Option<&str>, id: &str) -> Option<String> {
    public_url
        .filter(|_| crate::web::linkable(id))
        .map(|base| format!("{base}/inbox/{id}"))
}

impl Facts {
    fn of(
        kind: EventType,
        at: i64,
        id: &str,
        r: Option<&Request>,
        public_url: Option<&str>,
    ) -> Facts {
        let c = r.map(|r| &r.checkpoint);
        Facts {
            kind,
            at,
            request: id.to_string(),
            tenant: c.map(|c| c.identity.tenant.clone()),
            tool: r.map(|r| r.status.payload.tool.clone()),
            user: c.and_then(|c| c.identity.user.clone()),
            agent: c.map(|c| c.identity.agent.clone()),
            state: r.map(|r| r.state().as_str().to_string()),
            reasons: c
                .map(|c| {
                    c.decision
                        .reasons
                        .iter()
                        .map(|x| x.reason.clone())
                        .collect()
                })
                .unwrap_or_default(),
            amounts: r
                .map(|r| crate::inbox::key_amounts(&r.status.payload.args))
                .unwrap_or_default(),
            due_at: r.and_then(Request::due_at),
            event: None,
            gate: None,
            url: link(public_url, id),
        }
    }

    /// The facts of an event of the log; `r` is its request as stored now (`None` if it
    /// does not read: the message still goes, with what the event says).
    pub fn of_event(
        kind: EventType,
        e: &Event,
        r: Option<&Request>,
        public_url: Option<&str>,
    ) -> Facts {
        let id = e.request_id.as_deref().unwrap_or_default();
        let mut f = Facts::of(kind, e.at, id, r, public_url);
        if let Some(to) = e.to {
            f.state = Some(to.as_str().to_string());
        }
        if f.tenant.is_none() {
            f.tenant = e
                .data
                .get("tenant")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        f.event = Some(EventFacts {
            seq: e.seq,
            kind: e.kind.as_str(),
            at: e.at,
            by: e.actor.clone(),
            gate: e.gate.clone(),
            reason: e.reason.clone(),
        });
        f
    }

    /// The facts of a gate whose SLA ends soon.
    pub fn due_soon(r: &Request, g: &GateStatus, now: i64, public_url: Option<&str>) -> Facts {
        let mut f = Facts::of(EventType::DueSoon, now, r.id(), Some(r), public_url);
        f.gate = Some(g.rule.clone());
        f.due_at = g.deadline;
        f
    }
}

/// The standard body: `{"type": "request.created", "timestamp", "data": {...}}`.
pub fn standard(f: &Facts) -> String {
    let mut data = json!({
        "request": f.request,
        "tenant": f.tenant,
        "tool": f.tool,
        "state": f.state,
        "user": f.user,
        "agent": f.agent,
        "reasons": f.reasons,
        "amounts": f.amounts,
        "due_at": f.due_at.map(format_time),
    });
    if let Some(m) = data.as_object_mut() {
        if let Some(e) = &f.event {
            let mut event =
                json!({"seq": e.seq, "kind": e.kind, "at": format_time(e.at), "by": e.by});
            if let Some(obj) = event.as_object_mut() {
                if let Some(g) = &e.gate {
                    obj.insert("gate".into(), json!(g));
                }
                if let Some(r) = &e.reason {
                    obj.insert("reason".into(), json!(r));
                }
            }
            m.insert("event".into(), event);
        }
        if let Some(g) = &f.gate {
            m.insert("gate".into(), json!(g));
        }
        if let Some(u) = &f.url {
            m.insert("url".into(), json!(u));
        }
    }
    json!({"type": f.kind.full_name(), "timestamp": format_time(f.at), "data": data}).to_string()
}
