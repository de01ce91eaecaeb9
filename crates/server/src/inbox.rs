//! What an approver reads besides one request's call: the inbox (what waits for me, and
//! what I decided), the run a request belongs to, and the gates' statistics.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use holdpoint::approval::{
    Event, EventKind, RUBBER_STAMP_MIN_DECISIONS, RUBBER_STAMP_SHARE, Request, State as ReqState,
    Stats, Vouched, format_time,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::App;
use crate::agents::blocking;
use crate::auth::Approver;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;

/// The most rows the "decided by me" view and a run give.
pub const MAX_ROWS: usize = 200;

/// The query of `inbox`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// `waiting` (the default): what waits for the caller, soonest due first; `decided`:
    /// what the caller decided, latest decision first.
    view: Option<String>,
    /// Only requests waiting for this group.
    group: Option<String>,
    /// Only calls of this tool.
    tool: Option<String>,
}

/// The top-level numbers of a call's arguments: what an approver triages by.
pub fn key_amounts(args: &Value) -> Map<String, Value> {
    args.as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.is_number())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Why the request waits, for the call as it now is: the proposal's reasons, or once
/// someone edited it, the policy's reasons for the edited call (a reason that says "900"
/// would mislead when the call now refunds 450).
pub fn reasons_now(app: &App, r: &Request) -> Value {
    let c = &r.checkpoint;
    if r.status.patch.is_none() {
        return json!(c.decision.reasons);
    }
    let call =
        holdpoint::ToolCall::new(r.status.payload.tool.clone(), r.status.payload.args.clone())
            .with_context(c.context.clone());
    json!(app.policy.evaluate(&call).report(&call).reasons)
}

/// One inbox row: what an approver triages by.
fn row(app: &App, r: &Request) -> Value {
    let c = &r.checkpoint;
    let gates: Vec<&str> = r.waiting_gates().map(|g| g.rule.as_str()).collect();
    json!({
        "request": r.id(),
        "state": r.state(),
        "tool": r.status.payload.tool,
        "reasons": reasons_now(app, r),
        "amounts": key_amounts(&r.status.payload.args),
        "user": c.identity.user,
        "tenant": c.identity.tenant,
        "agent": c.identity.agent,
        "groups": r.waiting_groups(),
        "gates": gates,
        "run_id": c.run_id,
        "created_at": format_time(c.created_at),
        "due_at": r.due_at().map(format_time),
        "digest": r.status.payload_digest,
    })
}

/// `GET /v1/inbox`: what waits for the caller (soonest due first), or what they decided.
#[utoipa::path(
    get,
    operation_id = "inbox",
    path = "/v1/inbox",
    tag = "approvers",
    description = "Caller: an approver. What waits for the caller's groups, soonest due first (`view=waiting`, the default), or the requests the caller decided, latest decision first (`view=decided`, at most 200); optionally only one group's or one tool's.",
    params(InboxQuery),
    security(("service_token" = []), ("jwt" = [])),
    responses(
        (status = 200, description = "The inbox.", body = crate::openapi::schemas::Inbox,
            links(
                ("show" = (operation_id = "show", parameters(("id" = "$response.body#/requests/0/request")))),
                ("approve" = (
                    operation_id = "decide_request",
                    parameters(("id" = "$response.body#/requests/0/request")),
                    request_body = json!({"decision": "approve", "digest": "$response.body#/requests/0/digest"}),
                )),
            ),
        ),
        (status = 400, description = "The query does not read (an unknown `view` or parameter).", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The token is an agent's: an agent never reads the inbox.", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn inbox(
    State(app): State<Arc<App>>,
    me: Approver,
    Params(q): Params<InboxQuery>,
) -> ApiResult<Json<Value>> {
    let decided = match q.view.as_deref() {
        None | Some("waiting") => false,
        Some("decided") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown view `{other}` (waiting or decided)"
            )));
        }
    };
    let a = app.clone();
    blocking(move || {
        let keep = |r: &Request| {
            q.group
                .as_ref()
                .is_none_or(|g| r.waiting_groups().contains(g))
                && q.tool
                    .as_ref()
                    .is_none_or(|t| &r.status.payload.tool == t)
        };
        let items: Vec<Value> = if decided {
            decided_by(&a, &me.id)?
                .into_iter()
                .filter(|(r, _)| keep(r))
                .map(|(r, mine)| {
                    let mut v = row(&a, &r);
                    crate::agents::put(&mut v, "mine", mine);
                    v
                })
                .collect()
        } else {
            waiting_for(&a, &me)?
                .iter()
                .filter(|r| keep(r))
                .map(|r| row(&a, r))
                .collect()
        };
        Ok(json!({"approver": me.id, "view": if decided { "decided" } else { "waiting" }, "requests": items}))
    })
    .await
    .map(Json)
}

/// What waits for `me`, soonest due first (no SLA last), then oldest first.
fn waiting_for(app: &App, me: &Approver) -> ApiResult<Vec<Request>> {
    let listing = app.desk.list(Some(ReqState::Pending), None)?;
    let groups = Vouched::new(&*app.approvers, &me.id, &me.groups);
    let mut rows: Vec<Request> = listing
        .requests
        .into_iter()
        .filter(|r| r.awaits(&groups, &me.id))
        .collect();
    rows.sort_by_key(|r| (r.due_at().unwrap_or(i64::MAX), r.checkpoint.created_at));
    Ok(rows)
}

/// Whether an event is an approver's decision.
fn is_decision(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::Approved | EventKind::Edited | EventKind::Rejected | EventKind::Escalated
    )
}

/// A decision event as the inbox shows it.
fn decision_json(e: &Event) -> Value {
    json!({
        "by": e.actor,
        "decision": e.kind.as_str(),
        "at": format_time(e.at),
        "reason": e.reason,
        "gate": e.gate,
    })
}

/// The requests `who` decided, each with their latest decision, latest first. The log is
/// read whole: the store keeps no index by actor.
fn decided_by(app: &App, who: &str) -> ApiResult<Vec<(Request, Value)>> {
    let events = app.desk.store().events(None)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in events.iter().rev() {
        if out.len() >= MAX_ROWS {
            break;
        }
        let Some(id) = e.request_id.as_deref() else {
            continue;
        };
        if e.actor != who || !is_decision(e) || !seen.insert(id) {
            continue;
        }
        if let Some(r) = app.desk.store().get(id)? {
            out.push((r, decision_json(e)));
        }
    }
    Ok(out)
}

/// The sum of two JSON numbers: an integer while both are and it fits, else a float.
fn add(a: &Value, b: &Value) -> Value {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) if x.checked_add(y).is_some() => json!(x.saturating_add(y)),
        _ => json!(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
    }
}

/// Whether a step's amounts count towards the run's totals: it was not refused.
fn counts(state: ReqState) -> bool {
    !matches!(
        state,
        ReqState::Rejected | ReqState::Expired | ReqState::Cancelled | ReqState::Failed
    )
}

/// The run `r` belongs to (the same tenant and `run_id`): each step oldest first, how it
/// was decided, and the running totals of its amounts over the steps not refused; the
/// last 200 steps up to and including `r`.
pub fn run_of(app: &App, r: &Request) -> ApiResult<Value> {
    let c = &r.checkpoint;
    let listing = app.desk.run(&c.identity.tenant, &c.run_id)?;
    let upto = listing
        .requests
        .iter()
        .position(|s| s.id() == r.id())
        .map_or(listing.requests.len(), |i| i + 1);
    let steps = listing.requests.get(..upto).unwrap_or_default();
    let steps = steps
        .get(steps.len().saturating_sub(MAX_ROWS)..)
        .unwrap_or_default();
    let mut running = Map::new();
    let mut out = Vec::with_capacity(steps.len());
    for s in steps {
        let amounts = key_amounts(&s.status.payload.args);
        let counted = counts(s.state());
        if counted {
            for (k, v) in &amounts {
                let total = running.get(k).map_or_else(|| v.clone(), |t| add(t, v));
                running.insert(k.clone(), total);
            }
        }
        let decisions: Vec<Value> = app
            .desk
            .store()
            .events(Some(s.id()))?
            .iter()
            .filter(|e| is_decision(e))
            .map(decision_json)
            .collect();
        out.push(json!({
            "request": s.id(),
            "tool": s.status.payload.tool,
            "state": s.state(),
            "created_at": format_time(s.checkpoint.created_at),
            "amounts": amounts,
            "decisions": decisions,
            "current": s.id() == r.id(),
            "counted": counted,
            "running": running.clone(),
        }));
    }
    Ok(json!({"id": c.run_id, "steps": out, "totals": running}))
}

/// `GET /v1/stats`: each gate's numbers (those `policy stats` prints), its decisions per
/// day, and for a likely rubber stamp what to do about it.
#[utoipa::path(
    get,
    operation_id = "stats",
    path = "/v1/stats",
    tag = "approvers",
    description = "Caller: an approver. Each gate's numbers from the audit log (as `policy stats` prints them), its final decisions per UTC day, and the rubber-stamp flag with advice: a gate approved unchanged in more than 95% of at least 20 decisions is likely misplaced.",
    security(("service_token" = []), ("jwt" = [])),
    responses(
        (status = 200, description = "The gates' statistics.", body = crate::openapi::schemas::GateStatistics),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The token is an agent's.", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn stats(State(app): State<Arc<App>>, _me: Approver) -> ApiResult<Json<Value>> {
    let a = app.clone();
    blocking(move || {
        let stats = Stats::from_events(&a.desk.store().events(None)?);
        let gates: Vec<Value> = stats
            .gates
            .iter()
            .map(|g| {
                let mut v = serde_json::to_value(g).unwrap_or(Value::Null);
                crate::agents::put(&mut v, "unchanged_share", json!(g.unchanged_share()));
                crate::agents::put(&mut v, "advice", json!(g.advice()));
                v
            })
            .collect();
        Ok(json!({
            "gates": gates,
            "rubber_stamp_share": RUBBER_STAMP_SHARE,
            "min_decisions": RUBBER_STAMP_MIN_DECISIONS,
        }))
    })
    .await
    .map(Json)
}
