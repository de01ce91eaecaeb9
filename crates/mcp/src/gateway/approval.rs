//! Calls that need a person: submitted to the approval service, waited for while the
//! client allows (with progress notifications), and run once approved: exactly the
//! arguments the service approved, claimed once, with the outcome reported.

use std::time::{Duration, Instant};

use rmcp::model::{CallToolResult, ProgressNotificationParam, ProgressToken};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::{Map, Value};

use super::{Inner, text_result};
use crate::Listener;
use crate::service::{Service, ServiceError};

/// How often a waiting call tells the client it is still waiting.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The name of the tool that resumes a waiting call.
pub(crate) const STATUS_TOOL: &str = "holdpoint_status";

/// What the client allows while a call waits: a progress token means it listens for
/// progress, and so can wait.
pub(super) struct Waiter {
    token: Option<ProgressToken>,
    pub(super) context: RequestContext<RoleServer>,
}

impl Waiter {
    pub(super) fn new(context: RequestContext<RoleServer>) -> Waiter {
        Waiter {
            token: context.meta.get_progress_token(),
            context,
        }
    }

    /// Where the progress of a forwarded call goes (when the client listens).
    pub(super) fn listener(&self) -> Option<Listener> {
        self.token.clone().map(|token| Listener {
            peer: self.context.peer.clone(),
            token,
            last: std::sync::Mutex::new(None),
        })
    }

    async fn progress(&self, step: f64, message: String) {
        if let Some(token) = &self.token {
            let note = ProgressNotificationParam::new(token.clone(), step).with_message(message);
            // A client that stopped listening is not a reason to stop waiting.
            let _ = self.context.peer.notify_progress(note).await;
        }
    }
}

fn state_of(view: &Value) -> &str {
    view.get("state").and_then(Value::as_str).unwrap_or("")
}

fn refused(e: &ServiceError) -> CallToolResult {
    text_result(format!("Not run: {e}"), true)
}

fn waiting(id: &str, why: &str) -> CallToolResult {
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({why})")
    };
    // An error result: the call has not produced the tool's result, and a result that
    // is not an error must match the upstream tool's output schema, which only it can.
    text_result(
        format!(
            "Waiting for a person's approval{why}: request {id}. Nothing has run. Call \
             {STATUS_TOOL} with {{\"request\": \"{id}\"}} to run it once it is decided."
        ),
        true,
    )
}

impl Inner {
    /// A call the policy sends to a person: submitted, then settled.
    pub(super) async fn approval(
        &self,
        service: &Service,
        tool: &str,
        args: &Value,
        reasons: &str,
        waiter: &Waiter,
    ) -> CallToolResult {
        let n = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let call_id = format!("call-{n}");
        let sent = match service.submit(tool, args, &self.run_id, &call_id).await {
            Ok(v) => v,
            Err(e) => return refused(&e),
        };
        if sent.get("effect").and_then(Value::as_str) == Some("deny") {
            return text_result(format!("Refused by policy: {reasons}"), true);
        }
        if sent.get("run") == Some(&Value::Bool(true)) {
            // The service's policy lets it run now: what it permits is what runs.
            return self.run_permitted(service, &sent, waiter).await;
        }
        let Some(id) = sent.get("request").and_then(Value::as_str) else {
            return text_result(
                "Not run: the approval service's answer names no request.".to_string(),
                true,
            );
        };
        self.settle(service, id, reasons, waiter).await
    }

    /// Waits for the request's decision as long as the client allows, then runs the
    /// approved call, or says why not, or that it still waits.
    pub(super) async fn settle(
        &self,
        service: &Service,
        id: &str,
        reasons: &str,
        waiter: &Waiter,
    ) -> CallToolResult {
        let allowed = if waiter.token.is_some() {
            self.options.max_wait
        } else {
            Duration::ZERO
        };
        let deadline = Instant::now() + allowed;
        let mut view = match service.wait(id, 0).await {
            Ok(v) => v,
            Err(e) => return refused(&e),
        };
        let mut step = 0.0;
        while matches!(state_of(&view), "pending" | "escalated") {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return waiting(id, reasons);
            }
            waiter
                .progress(
                    step,
                    format!("waiting for a person's approval: request {id}"),
                )
                .await;
            step += 1.0;
            let seconds = left.min(HEARTBEAT).as_secs().max(1);
            tokio::select! {
                next = service.wait(id, seconds) => match next {
                    Ok(v) => view = v,
                    Err(e) => return refused(&e),
                },
                () = waiter.context.ct.cancelled() => return waiting(id, reasons),
            }
        }
        match service.claim(id).await {
            Ok(claimed) => self.run_permitted(service, &claimed, waiter).await,
            Err(e) => refused(&e),
        }
    }

    /// Runs what the service permitted (its `call`), and reports the outcome when the
    /// answer carries a claim.
    async fn run_permitted(
        &self,
        service: &Service,
        permitted: &Value,
        waiter: &Waiter,
    ) -> CallToolResult {
        let id = permitted.get("request").and_then(Value::as_str);
        let claim = permitted.get("claim").and_then(Value::as_str);
        let tool = permitted.pointer("/call/tool").and_then(Value::as_str);
        let args: Option<Map<String, Value>> = permitted
            .pointer("/call/args")
            .and_then(Value::as_object)
            .cloned();
        let (result, executed) = match (tool.and_then(|t| self.by_policy_name(t)), args) {
            (Some(exposed), Some(args)) => {
                let result = self.forward(exposed, args, waiter, false).await;
                let ok = !result.is_error.unwrap_or(false);
                (result, ok)
            }
            _ => (
                text_result(
                    format!(
                        "Not run: the approved call is for `{}`, which is not behind this gateway.",
                        tool.unwrap_or("?")
                    ),
                    true,
                ),
                false,
            ),
        };
        if let (Some(id), Some(claim)) = (id, claim) {
            let summary: Vec<String> = result
                .content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect();
            if let Err(e) = service
                .report(id, claim, executed, Value::String(summary.join("\n")))
                .await
            {
                tracing::warn!(request = id, error = %e, "the outcome was not reported");
            }
        }
        result
    }
}
