//! The agents' half of the API: decide a call, submit a proposal, wait, claim (a signed
//! permit), report, cancel. An agent sees only its own tenants' requests and can never
//! decide one.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use holdpoint::ToolCall;
use holdpoint::approval::envelope::{Fallbacks, Stated};
use holdpoint::approval::permit::{self, PermitClaims};
use holdpoint::approval::{
    Clock as _, Permit, Proposal, Request, Resumed, State as ReqState, Submitted, SystemClock,
    format_time, policy_hash, request_id,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::auth::{Agent, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Id};

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

/// `GET /v1/keys`: the public keys permits are signed with.
#[utoipa::path(
    get,
    operation_id = "keys",
    path = "/v1/keys",
    tag = "service",
    responses(
        (status = 200, description = "The public keys permits (and the audit log) are signed with.", body = crate::openapi::schemas::Keys),
    )
)]
pub async fn keys(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({"keys": [{
        "id": app.key_id,
        "alg": "Ed25519",
        "public_key": permit::public_key(&app.secret),
    }]}))
}

/// `POST /v1/decisions`: a tool call in, the decision out; nothing is stored.
#[utoipa::path(
    post,
    operation_id = "decide_call",
    path = "/v1/decisions",
    tag = "agents",
    description = "Caller: an agent. The policy's decision for a tool call (any shape the policy reads); nothing is stored.",
    security(("service_token" = [])),
    request_body(content = crate::openapi::schemas::ToolCall, description = "A tool call.", content_type = "application/json"),
    responses(
        (status = 200, description = "The decision.", body = crate::openapi::schemas::DecisionReport),
        (status = 400, description = "The body is not JSON, or not a tool call.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The token is not an agent's: only an agent may make this call.", body = crate::openapi::schemas::ErrorBody),
        (status = 413, description = "The body is larger than the service accepts (1 MiB).", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn decide(
    State(app): State<Arc<App>>,
    _agent: Agent,
    Body(body): Body,
) -> ApiResult<Json<holdpoint::DecisionReport>> {
    let call = ToolCall::from_json(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let began = std::time::Instant::now();
    let decision = app.policy.evaluate(&call);
    app.metrics.decided(decision.effect(), began.elapsed());
    Ok(Json(decision.report(&call)))
}

/// `POST /v1/requests`: a proposal in; a permit for allow and audit, the request for
/// approve, the decision for deny. The agent's identity is the token's.
#[utoipa::path(
    post,
    operation_id = "submit",
    path = "/v1/requests",
    tag = "agents",
    description = "Caller: an agent, for one of its tenants. A proposal in: for `allow`/`audit` a permit at once, for `approve` the request that waits, for `deny` the decision.",
    security(("service_token" = [])),
    request_body(content = crate::openapi::schemas::Proposal, description = "A proposal, or a bare tool call.", content_type = "application/json"),
    responses(
        (status = 200, description = "The decision, and the permit or the request.", body = crate::openapi::schemas::Submitted,
            links(
                ("show" = (operation_id = "show", parameters(("id" = "$response.body#/request")))),
                ("claim" = (operation_id = "claim", parameters(("id" = "$response.body#/request")))),
                ("cancel" = (operation_id = "cancel", parameters(("id" = "$response.body#/request")))),
            )
        ),
        (status = 400, description = "The body is not JSON, or not a proposal.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The token is not an agent's, or the agent may not act for the tenant.", body = crate::openapi::schemas::ErrorBody),
        (status = 409, description = "The run's tool-call id names another call already.", body = crate::openapi::schemas::ErrorBody),
        (status = 413, description = "The body is larger than the service accepts (1 MiB).", body = crate::openapi::schemas::ErrorBody),
        (status = 422, description = "The proposal does not hold (the policy's catalog refuses it).", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn submit(
    State(app): State<Arc<App>>,
    agent: Agent,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let stated = Stated {
        agent: Some(agent.name.clone()),
        ..Stated::default()
    };
    let fallbacks = Fallbacks {
        tenant: agent.tenants.first().cloned().unwrap_or_default(),
        agent: agent.name.clone(),
        ..Fallbacks::default()
    };
    let hash = policy_hash(&app.policy);
    let proposal = Proposal::from_json(&body, &stated, &fallbacks, &hash)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !agent.serves(&proposal.identity.tenant) {
        return Err(ApiError::forbidden(format!(
            "agent `{}` may not act for tenant `{}`",
            agent.name, proposal.identity.tenant
        )));
    }
    let tenant = proposal.identity.tenant.clone();
    let key = request_id(&tenant, &proposal.run_id, &proposal.tool_call_id);
    let a = app.clone();
    blocking(move || {
        let submitted = a.guard.submit(proposal)?;
        a.metrics.counted(match &submitted {
            Submitted::Permit(p) => p.effect(),
            Submitted::Waiting(_) => holdpoint::Effect::Approve,
            Submitted::Denied(_) => holdpoint::Effect::Deny,
        });
        Ok(match submitted {
            Submitted::Permit(p) => {
                let signed = sign(&a, &key, &tenant, &p, lease_end(&a));
                json!({"effect": p.effect(), "run": true, "call": p.payload(),
                       "digest": p.digest(), "permit": signed})
            }
            Submitted::Denied(d) => json!({"effect": "deny", "run": false, "decision": d}),
            Submitted::Waiting(w) => {
                if w.created {
                    a.changed(&w.id, "created");
                }
                let r = a.desk.request(&w.id)?;
                let mut v = request_json(&r);
                put(&mut v, "effect", json!("approve"));
                put(&mut v, "run", json!(false));
                put(&mut v, "created", json!(w.created));
                v
            }
        })
    })
    .await
    .map(Json)
}

/// When a permit handed out now stops being valid: the claim's lease.
fn lease_end(app: &App) -> i64 {
    SystemClock.now_ms().saturating_add(app.lease_ms)
}

/// A signed permit for a permit the runtime handed out.
fn sign(app: &App, request: &str, tenant: &str, p: &Permit, expires_at: i64) -> String {
    let nonce = crate::data::random::<16>()
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>())
        .unwrap_or_default();
    let claims = PermitClaims {
        request: request.to_string(),
        tool: p.tool().to_string(),
        digest: p.digest().to_string(),
        tenant: tenant.to_string(),
        expires_at,
        nonce,
        key_id: app.key_id.clone(),
    };
    permit::sign(&app.secret, &claims)
}

/// A request as the agent needs it: state, mode, every gate with who may decide it and by
/// when, the reasons and the unknowns.
pub(crate) fn request_json(r: &Request) -> Value {
    let decision = &r.checkpoint.decision;
    let digest = &r.status.payload_digest;
    let gates: Vec<Value> = r
        .status
        .gates
        .iter()
        .map(|g| {
            json!({
                "rule": g.rule, "groups": g.groups, "quorum": g.quorum,
                "approved_by": g.approvers_of(digest), "approved": g.approves(digest),
                "decisions": g.decisions, "within_s": g.within_s, "on_timeout": g.on_timeout,
                "due_at": g.deadline.map(format_time),
            })
        })
        .collect();
    json!({
        "request": r.id(),
        "state": r.state(),
        "tenant": r.checkpoint.identity.tenant,
        "mode": decision.approval.as_ref().map(|a| a.mode),
        "groups": r.waiting_groups(),
        "due_at": r.due_at().map(format_time),
        "gates": gates,
        "rules": decision.rules,
        "reasons": decision.reasons,
        "unknown": decision.unknown,
        "digest": digest,
        "call": r.status.payload,
    })
}

/// A request the caller may see: an agent only its tenants' (another tenant's is "not
/// found", so its existence does not leak).
pub(crate) async fn visible(app: &Arc<App>, caller: &Caller, id: &str) -> ApiResult<Request> {
    let a = app.clone();
    let owned = id.to_string();
    let r = blocking(move || Ok(a.desk.request(&owned)?)).await?;
    match caller {
        Caller::Agent(agent) if !agent.serves(&r.checkpoint.identity.tenant) => {
            Err(ApiError::not_found(&format!("request `{id}`")))
        }
        _ => Ok(r),
    }
}

/// `GET /v1/requests/{id}`: the request, and for approvers its checkpoint and events.
#[utoipa::path(
    get,
    operation_id = "show",
    path = "/v1/requests/{id}",
    tag = "agents",
    description = "Caller: an agent (its tenants' requests) or an approver (with the checkpoint, the call as proposed, the edit and the events).",
    params(("id" = String, Path, description = "The request's id.", min_length = 1)),
    security(("service_token" = []), ("jwt" = [])),
    responses(
        (status = 200, description = "The request.", body = crate::openapi::schemas::RequestDetail),
        (status = 400, description = "The id does not read.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "No request by this id that the caller may see (another tenant's is not found either).", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn show(
    State(app): State<Arc<App>>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let r = visible(&app, &caller, &id).await?;
    let mut v = request_json(&r);
    if let Caller::Approver(_) = caller {
        let a = app.clone();
        let events = blocking(move || Ok(a.desk.store().events(Some(&id))?)).await?;
        put(
            &mut v,
            "checkpoint",
            serde_json::to_value(&r.checkpoint).unwrap_or(Value::Null),
        );
        put(
            &mut v,
            "proposed",
            serde_json::to_value(&r.checkpoint.payload).unwrap_or(Value::Null),
        );
        put(
            &mut v,
            "patch",
            r.status.patch.clone().unwrap_or(Value::Null),
        );
        // The diff an approver reads: the state before (as the agent described it) →
        // the proposed arguments → the edited ones (`patch` above).
        let before = r.checkpoint.before.clone().unwrap_or(Value::Null);
        let changes = if before.is_null() {
            Value::Null
        } else {
            holdpoint::approval::patch::diff(&before, &r.checkpoint.payload.args)
        };
        put(&mut v, "before", before);
        put(&mut v, "changes", changes);
        put(
            &mut v,
            "events",
            serde_json::to_value(events).unwrap_or(Value::Null),
        );
        put(&mut v, "reasons", crate::inbox::reasons_now(&app, &r));
        let a = app.clone();
        let run = blocking(move || crate::inbox::run_of(&a, &r)).await?;
        put(&mut v, "run", run);
    }
    Ok(Json(v))
}

/// `POST /v1/requests/{id}/claim`: an approved call, once: the call to run, the claim
/// token to report with, and the signed permit a tool server verifies.
#[utoipa::path(
    post,
    operation_id = "claim",
    path = "/v1/requests/{id}/claim",
    tag = "agents",
    description = "Caller: an agent. An approved call, exactly once: the call to run, the claim token to report with, and a signed permit.",
    params(("id" = String, Path, description = "The request's id.", min_length = 1)),
    security(("service_token" = [])),
    responses(
        (status = 200, description = "Claimed: run it.", body = crate::openapi::schemas::Claimed),
        (status = 400, description = "The id does not read.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The token is not an agent's: only an agent may make this call.", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "No request by this id that the caller may see (another tenant's is not found either).", body = crate::openapi::schemas::ErrorBody),
        (status = 409, description = "Nothing may run: the request is pending, rejected, expired, cancelled, or claimed already.", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn claim(
    State(app): State<Arc<App>>,
    agent: Agent,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let r = visible(&app, &Caller::Agent(agent), &id).await?;
    let tenant = r.checkpoint.identity.tenant.clone();
    let a = app.clone();
    blocking(move || {
        let resumed = a.guard.resume(&id)?;
        let refused = |state: &str, reason: Option<String>| {
            let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
            ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "not_runnable",
                format!("request `{id}` is {state}{why}: nothing may run"),
            )
        };
        match resumed {
            Resumed::Permit(p) => {
                a.changed(&id, "claimed");
                let until = lease_end(&a);
                let signed = sign(&a, &id, &tenant, &p, until);
                Ok(json!({
                    "request": id, "state": ReqState::Executing, "run": true,
                    "call": p.payload(), "digest": p.digest(), "edited": p.was_edited(),
                    "claim": p.claim_token(), "permit": signed,
                    "expires_at": format_time(until),
                }))
            }
            Resumed::Pending(_) => Err(refused("pending", None)),
            Resumed::Rejected(x) => Err(refused("rejected", Some(x.reason))),
            Resumed::Expired(x) => Err(refused("expired", Some(x.reason))),
            Resumed::Cancelled => Err(refused("cancelled", None)),
            Resumed::Denied(_) => Err(refused("denied", None)),
        }
    })
    .await
    .map(Json)
}

/// The body of `report`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// The claim token `claim` gave.
    claim: String,
    /// `executed` or `failed`.
    #[schema(value_type = crate::openapi::schemas::Outcome)]
    outcome: String,
    /// What the call returned, or the failure's message.
    #[serde(default)]
    #[schema(value_type = Value)]
    result: Value,
}

/// `POST /v1/requests/{id}/report`: what became of a claimed call.
#[utoipa::path(
    post,
    operation_id = "report",
    path = "/v1/requests/{id}/report",
    tag = "agents",
    description = "Caller: the agent that claimed the call. What became of it.",
    params(("id" = String, Path, description = "The request's id.", min_length = 1)),
    security(("service_token" = [])),
    request_body(content = ReportBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded.", body = crate::openapi::schemas::StateChange),
        (status = 400, description = "The body is not JSON or not a report.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The token is not an agent's, or the claim token is not this request's.", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "No request by this id that the caller may see (another tenant's is not found either).", body = crate::openapi::schemas::ErrorBody),
        (status = 409, description = "The request is not executing, or its lease ran out.", body = crate::openapi::schemas::ErrorBody),
        (status = 413, description = "The body is larger than the service accepts (1 MiB).", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn report(
    State(app): State<Arc<App>>,
    agent: Agent,
    Id(id): Id,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    visible(&app, &Caller::Agent(agent), &id).await?;
    let body: ReportBody = read_body(&body)?;
    let result = match body.outcome.as_str() {
        "executed" => Ok(body.result),
        "failed" => Err(match body.result {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        other => {
            return Err(ApiError::bad_request(format!(
                "`outcome` is `{other}`: use `executed` or `failed`"
            )));
        }
    };
    let a = app.clone();
    blocking(move || {
        a.guard.report(&id, &body.claim, result)?;
        a.changed(&id, "reported");
        let r = a.desk.request(&id)?;
        Ok(json!({"request": id, "state": r.state()}))
    })
    .await
    .map(Json)
}

/// The body of `cancel`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Why.
    reason: String,
}

/// `POST /v1/requests/{id}/cancel`: withdraws a pending request.
#[utoipa::path(
    post,
    operation_id = "cancel",
    path = "/v1/requests/{id}/cancel",
    tag = "agents",
    description = "Caller: an agent. Withdraws a request nobody decided yet.",
    params(("id" = String, Path, description = "The request's id.", min_length = 1)),
    security(("service_token" = [])),
    request_body(content = CancelBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Cancelled.", body = crate::openapi::schemas::StateChange),
        (status = 400, description = "The body is not JSON or has no `reason`.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The token is not an agent's: only an agent may make this call.", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "No request by this id that the caller may see (another tenant's is not found either).", body = crate::openapi::schemas::ErrorBody),
        (status = 409, description = "The request is no longer pending.", body = crate::openapi::schemas::ErrorBody),
        (status = 413, description = "The body is larger than the service accepts (1 MiB).", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn cancel(
    State(app): State<Arc<App>>,
    agent: Agent,
    Id(id): Id,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    visible(&app, &Caller::Agent(agent), &id).await?;
    let body: CancelBody = read_body(&body)?;
    let a = app.clone();
    blocking(move || {
        let r = a.guard.cancel(&id, &body.reason)?;
        a.changed(&id, "cancelled");
        Ok(json!({"request": id, "state": r.state()}))
    })
    .await
    .map(Json)
}

/// Sets a field of a JSON object (the answers built here are objects).
pub(crate) fn put(v: &mut Value, key: &str, value: Value) {
    if let Some(m) = v.as_object_mut() {
        m.insert(key.to_string(), value);
    }
}

/// A JSON body read strictly (a key given twice is refused) into `T`.
pub(crate) fn read_body<T: serde::de::DeserializeOwned>(body: &str) -> ApiResult<T> {
    let v = holdpoint::parse_json(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("the body: {e}")))
}
