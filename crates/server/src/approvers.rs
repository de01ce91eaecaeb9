//! The approvers' decisions (the inbox they read is in [`crate::inbox`]). The approver is the token's
//! holder, never a name in the body; the requester and the agent can never decide.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use holdpoint::approval::{Request, Ruling, Verdict, patch};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::agents::{blocking, read_body, request_json};
use crate::auth::Approver;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Id};

/// The body of a decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `approve`, `reject`, `edit` or `escalate`.
    #[schema(value_type = crate::openapi::schemas::DecisionKind)]
    decision: String,
    /// The payload digest the approver saw (required: a changed call refuses it).
    digest: String,
    /// The reason (required to reject; a note otherwise).
    #[serde(default)]
    reason: Option<String>,
    /// For edit: the whole edited arguments.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    args: Option<Value>,
    /// For edit: an RFC 6902 patch of the current arguments.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    patch: Option<Value>,
    /// For edit: fields to set (`{"amount": 450}`), applied last.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    set: Option<serde_json::Map<String, Value>>,
    /// For escalate: the group.
    #[serde(default)]
    to: Option<String>,
    /// Decide for this gate only.
    #[serde(default)]
    gate: Option<String>,
}

/// `POST /v1/requests/{id}/decisions`: approve, reject, edit or escalate, as the token's
/// approver, bound to the digest they saw.
#[utoipa::path(
    post,
    operation_id = "decide_request",
    path = "/v1/requests/{id}/decisions",
    tag = "approvers",
    description = "Caller: an approver of a group the request waits for, who is neither the user it acts for nor the agent. Approve, reject (a reason required), edit (decided again by the policy) or escalate, naming the digest the approver saw.",
    params(("id" = String, Path, description = "The request's id.", min_length = 1)),
    security(("service_token" = []), ("jwt" = [])),
    request_body(content = DecisionBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Decided: the request as it now is.", body = crate::openapi::schemas::RequestView),
        (status = 400, description = "The body is not JSON or not a decision.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "An agent's token, the user the call acts for, or not an approver of its groups.", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "No request by this id that the caller may see (another tenant's is not found either).", body = crate::openapi::schemas::ErrorBody),
        (status = 409, description = "The request is not pending, was decided already, or the call changed since the digest named.", body = crate::openapi::schemas::ErrorBody),
        (status = 413, description = "The body is larger than the service accepts (1 MiB).", body = crate::openapi::schemas::ErrorBody),
        (status = 422, description = "The edit or the escalation does not hold (the policy refuses the edited call, an unknown group or gate).", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn decide(
    State(app): State<Arc<App>>,
    me: Approver,
    Id(id): Id,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let body: DecisionBody = read_body(&body)?;
    let a = app.clone();
    blocking(move || {
        let current = a.desk.request(&id)?;
        let verdict = verdict(&body, &current)?;
        let mut ruling = Ruling::new(me.id.clone(), verdict)
            .having_seen(body.digest.clone())
            .with_groups(me.groups.clone());
        if body.decision != "reject" {
            ruling.note = body.reason.clone();
        }
        ruling.gate = body.gate.clone();
        let r = a.desk.decide(&id, &ruling)?;
        a.changed(&id, "decided");
        Ok(request_json(&r))
    })
    .await
    .map(Json)
}

/// `POST /v1/requests/{id}/preview`: what an edit would give, before the approver confirms
/// it: the edited arguments, their diff from the current ones and the policy's decision
/// for the edited call. Nothing is stored.
#[utoipa::path(
    post,
    operation_id = "preview_edit",
    path = "/v1/requests/{id}/preview",
    tag = "approvers",
    description = "Caller: an approver. An edit (`set`, `args` or `patch`, as in a decision) in; the edited arguments, the RFC 6902 diff from the current ones and the policy's decision for the edited call out. Nothing is stored.",
    params(("id" = String, Path, description = "The request's id.", min_length = 1)),
    security(("service_token" = []), ("jwt" = [])),
    request_body(content = DecisionBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The edited arguments, the diff and the decision.", body = serde_json::Value),
        (status = 400, description = "The body is not JSON or not an edit.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "An agent's token.", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "No request by this id.", body = crate::openapi::schemas::ErrorBody),
        (status = 409, description = "The call changed since the digest named: look again.", body = crate::openapi::schemas::ErrorBody),
        (status = 413, description = "The body is larger than the service accepts (1 MiB).", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn preview(
    State(app): State<Arc<App>>,
    _me: Approver,
    Id(id): Id,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let body: DecisionBody = read_body(&body)?;
    let a = app.clone();
    blocking(move || {
        let current = a.desk.request(&id)?;
        // The edit is of the call the approver saw: a changed one is refused, as its
        // decision would be, rather than previewed against arguments they never saw.
        if body.digest != current.status.payload_digest {
            return Err(holdpoint::approval::Error::PayloadChanged {
                id: id.clone(),
                seen: body.digest.clone(),
                now: current.status.payload_digest.clone(),
            }
            .into());
        }
        let Verdict::Edit { args } = verdict(&body, &current)? else {
            return Err(ApiError::bad_request(
                "a preview is of an edit: give `set`, `args` or `patch` with `decision: \"edit\"`",
            ));
        };
        let diff = patch::diff(&current.status.payload.args, &args);
        let tool = &current.status.payload.tool;
        // The same check a decision makes: an edit keeps the call one the tool accepts.
        let problem = a
            .policy
            .catalog()
            .and_then(|c| c.tool(tool))
            .and_then(|t| t.conform(&args).err());
        let call = holdpoint::ToolCall::new(tool.clone(), args)
            .with_context(current.checkpoint.context.clone());
        let decision = a.policy.evaluate(&call);
        Ok(json!({
            "args": call.args,
            "changes": diff,
            "decision": decision.report(&call),
            "conforms": problem.is_none(),
            "problem": problem,
        }))
    })
    .await
    .map(Json)
}

fn verdict(b: &DecisionBody, r: &Request) -> ApiResult<Verdict> {
    let needs = |what: &str| ApiError::bad_request(what.to_string());
    Ok(match b.decision.as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject {
            reason: b
                .reason
                .clone()
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| needs("a rejection needs a `reason`"))?,
        },
        "escalate" => Verdict::Escalate {
            to: b
                .to
                .clone()
                .ok_or_else(|| needs("an escalation needs `to`"))?,
        },
        "edit" => {
            let mut args = match (&b.args, &b.patch) {
                (Some(_), Some(_)) => return Err(needs("give `args` or `patch`, not both")),
                (Some(a), None) => a.clone(),
                (None, Some(p)) => patch::apply(&r.status.payload.args, p)
                    .map_err(|e| ApiError::bad_request(format!("`patch`: {e}")))?,
                (None, None) if b.set.is_some() => r.status.payload.args.clone(),
                (None, None) => return Err(needs("an edit needs `set`, `args` or `patch`")),
            };
            if let (Some(set), Some(obj)) = (&b.set, args.as_object_mut()) {
                for (k, v) in set {
                    obj.insert(k.clone(), v.clone());
                }
            }
            Verdict::Edit { args }
        }
        other => {
            return Err(needs(&format!(
                "unknown decision `{other}` (approve, reject, edit or escalate)"
            )));
        }
    })
}
