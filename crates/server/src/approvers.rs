//! The approvers' half of the API: the inbox and decisions. The approver is the token's
//! holder, never a name in the body; the requester and the agent can never decide.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use holdpoint::approval::{
    Request, Ruling, State as ReqState, Verdict, Vouched, format_time, patch,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::agents::{blocking, read_body, request_json};
use crate::auth::Approver;
use crate::error::{ApiError, ApiResult};

/// The top-level numbers of a call's arguments: what an approver triages by.
fn key_amounts(args: &Value) -> Value {
    let m: serde_json::Map<String, Value> = args
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.is_number())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(m)
}

/// `GET /v1/inbox`: what waits for the caller, newest first.
pub async fn inbox(State(app): State<Arc<App>>, me: Approver) -> ApiResult<Json<Value>> {
    let a = app.clone();
    blocking(move || {
        let listing = a.desk.list(Some(ReqState::Pending), None)?;
        let groups = Vouched::new(&*a.approvers, &me.id, &me.groups);
        let mut rows: Vec<&Request> = listing
            .requests
            .iter()
            .filter(|r| r.awaits(&groups, &me.id))
            .collect();
        rows.reverse();
        let items: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                let c = &r.checkpoint;
                json!({
                    "request": r.id(),
                    "tool": r.status.payload.tool,
                    "reasons": c.decision.reasons,
                    "amounts": key_amounts(&r.status.payload.args),
                    "user": c.identity.user,
                    "tenant": c.identity.tenant,
                    "agent": c.identity.agent,
                    "groups": r.waiting_groups(),
                    "created_at": format_time(c.created_at),
                    "due_at": r.due_at().map(format_time),
                    "digest": r.status.payload_digest,
                })
            })
            .collect();
        Ok(json!({"approver": me.id, "requests": items}))
    })
    .await
    .map(Json)
}

/// The body of a decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `approve`, `reject`, `edit` or `escalate`.
    decision: String,
    /// The payload digest the approver saw (required: a changed call refuses it).
    digest: String,
    /// The reason (required to reject; a note otherwise).
    #[serde(default)]
    reason: Option<String>,
    /// For edit: the whole edited arguments.
    #[serde(default)]
    args: Option<Value>,
    /// For edit: an RFC 6902 patch of the current arguments.
    #[serde(default)]
    patch: Option<Value>,
    /// For edit: fields to set (`{"amount": 450}`), applied last.
    #[serde(default)]
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
pub async fn decide(
    State(app): State<Arc<App>>,
    me: Approver,
    Path(id): Path<String>,
    body: String,
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
