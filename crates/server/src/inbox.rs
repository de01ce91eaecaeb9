//! What an approver reads besides one request's call: the inbox (what waits for me, and
//! what I decided), the run a request belongs to, and the gates' statistics.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use holdpoint::approval::{
    Event, RUBBER_STAMP_MIN_DECISIONS, RUBBER_STAMP_SHARE, Request, State as ReqState, Stats,
    Vouched, format_time,
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
    let gates: Vec<&str> = if r.state() == ReqState::Pending {
        r.waiting_gates().map(|g| g.rule.as_str()).collect()
    } else {
        Vec::new()
    };
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
    for (name, value) in [("group", &q.group), ("tool", &q.tool)] {
        if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
            return Err(ApiError::bad_request(format!(
                "`{name}` is empty: name one, or leave it out"
            )));
        }
    }
    let a = app.clone();
    blocking(move || {
        // A waiting request by the groups it waits for; a decided one by its gates' groups.
        let keep = |r: &Request| {
            q.group.as_ref().is_none_or(|g| {
                if decided {
                    r.status.gates.iter().any(|gate| gate.groups.contains(g))
                } else {
                    r.waiting_groups().contains(g)
                }
            })
                && q.tool
                    .as_ref()
                    .is_none_or(|t| &r.status.payload.tool == t)
        };
        let items: Vec<Value> = if decided {
            decided_by(&a, &me.id, &keep)?
                .into_iter()
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

/// How many of `who`'s latest decisions the decided view reads to find its rows.
const DECISIONS_READ: usize = 5 * MAX_ROWS;

/// The requests `who` decided that `keep` keeps, each with their latest decision, latest
/// first, at most [`MAX_ROWS`]. The store finds the decisions by actor (SQLite by an
/// index); a request that does not read is left out.
fn decided_by(
    app: &App,
    who: &str,
    keep: &dyn Fn(&Request) -> bool,
) -> ApiResult<Vec<(Request, Value)>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in app.desk.store().decisions_by(who, DECISIONS_READ)? {
        if out.len() >= MAX_ROWS {
            break;
        }
        let Some(id) = e.request_id.as_deref() else {
            continue;
        };
        if !seen.insert(id.to_string()) {
            continue;
        }
        if let Ok(Some(r)) = app.desk.store().get(id)
            && keep(&r)
        {
            out.push((r, decision_json(&e)));
        }
    }
    Ok(out)
}

/// The sum of two JSON numbers: an integer while both are and it fits, else a float.
fn add(a: &Value, b: &Value) -> Value {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) if x.checked_add(y).is_some() => json!(x.saturating_add(y)),
        // A sum past f64's range stays at its largest rather than turning to `null`.
        _ => {
            json!((a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)).clamp(f64::MIN, f64::MAX))
        }
    }
}

/// Whether a step's amounts count towards the run's totals: a call of the same tool as
/// the one shown (a refund's amount is not added to a bulk update's record count), not
/// refused.
fn counts(step: &Request, shown: &Request) -> bool {
    step.status.payload.tool == shown.status.payload.tool
        && !matches!(
            step.state(),
            ReqState::Rejected | ReqState::Expired | ReqState::Cancelled | ReqState::Failed
        )
}

/// The run `r` belongs to (the same tenant and `run_id`): its steps up to and including
/// `r`, oldest first (the last [`MAX_ROWS`]; `earlier` says how many more came before),
/// how each was decided, and the running totals of the amounts of the counted steps
/// ([`counts`]) among them. A step that does not read is left out and counted in
/// `unreadable`.
pub fn run_of(app: &App, r: &Request) -> ApiResult<Value> {
    let c = &r.checkpoint;
    let ids = app.desk.store().run_ids(&c.identity.tenant, &c.run_id)?;
    let upto = ids
        .iter()
        .position(|id| id == r.id())
        .map_or(ids.len(), |i| i + 1);
    let from = upto.saturating_sub(MAX_ROWS);
    let window = ids.get(from..upto).unwrap_or_default();
    let mut running = Map::new();
    let mut out = Vec::with_capacity(window.len());
    let mut unreadable = 0;
    for id in window {
        let step = if id == r.id() {
            Some(r.clone())
        } else {
            app.desk.store().get(id).ok().flatten()
        };
        let (Some(s), Ok(events)) = (step, app.desk.store().events(Some(id))) else {
            unreadable += 1;
            continue;
        };
        let amounts = key_amounts(&s.status.payload.args);
        let counted = counts(&s, r);
        if counted {
            for (k, v) in &amounts {
                let total = running.get(k).map_or_else(|| v.clone(), |t| add(t, v));
                running.insert(k.clone(), total);
            }
        }
        let decisions: Vec<Value> = events
            .iter()
            .filter(|e| e.kind.is_decision())
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
    Ok(json!({
        "id": c.run_id,
        "steps": out,
        "totals": running,
        "earlier": from,
        "unreadable": unreadable,
    }))
}

/// `GET /v1/stats`: each gate's numbers (those `policy stats` prints), its decisions per
/// day, and for a likely rubber stamp what to do about it.
#[utoipa::path(
    get,
    operation_id = "stats",
    path = "/v1/stats",
    tag = "approvers",
    description = "Caller: an approver. Each gate's numbers from the audit log (as `policy stats` prints them), its final decisions per UTC day, and the rubber-stamp flag with advice: a gate approved unchanged in more than 95% of at least 20 decisions is likely misplaced. Computed again only after a change (or every 10 s).",
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
        let generation = a.generation.load(std::sync::atomic::Ordering::SeqCst);
        a.stats.get(generation, || gate_statistics(&a))
    })
    .await
    .map(Json)
}

/// The statistics are read from the whole log again only after a change the service
/// announced, or when the last reading is older than this (a change it did not announce:
/// an SLA's sweep).
pub const STATS_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// The statistics last computed and the [`App::generation`] they are of.
#[derive(Debug, Default)]
pub struct StatsCache(std::sync::Mutex<Option<(u64, std::time::Instant, Value)>>);

impl StatsCache {
    /// The cached answer while nothing changed (and it is fresh), else `compute`'s (then
    /// cached). One caller computes at a time; the others wait and take its answer.
    fn get(&self, generation: u64, compute: impl FnOnce() -> ApiResult<Value>) -> ApiResult<Value> {
        let mut held = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((of, at, v)) = held.as_ref()
            && *of == generation
            && at.elapsed() < STATS_FRESH_FOR
        {
            return Ok(v.clone());
        }
        let v = compute()?;
        *held = Some((generation, std::time::Instant::now(), v.clone()));
        Ok(v)
    }
}

/// The answer of `GET /v1/stats`, from the whole log.
fn gate_statistics(a: &App) -> ApiResult<Value> {
    {
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
    }
}
