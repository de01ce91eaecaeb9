//! Calls the requester may confirm themselves (`confirm by requester` on every gate):
//! the gateway asks them through their own client (MCP elicitation), then runs exactly
//! the call they were shown, once, and records who confirmed it.

use holdpoint::ToolCall;
use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ElicitRequestParams, ElicitationAction, ElicitationSchema};
use rmcp::service::ElicitationMode;
use serde_json::Value;

use super::approval::Waiter;
use super::{Exposed, Inner, text_result};
use crate::Record;

/// The field of the form the requester answers.
const FIELD: &str = "confirm";

impl Waiter {
    /// Whether the client said it can ask its user (a form elicitation).
    pub(super) fn can_ask(&self) -> bool {
        self.context
            .peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
    }
}

/// What the requester is shown: the tool, the exact arguments, and why the policy asks.
/// Everything from the agent is JSON text with hidden characters escaped, so nothing it
/// sends acts on the client's display.
fn question(tool: &Exposed, args: &Value, reasons: &str) -> String {
    let pretty = serde_json::to_string_pretty(args).unwrap_or_else(|_| args.to_string());
    // Line by line: the layout's line breaks stay line breaks; inside the JSON strings,
    // serde_json has escaped the control characters already.
    let shown: Vec<std::borrow::Cow<'_, str>> = pretty.lines().map(holdpoint::escaped).collect();
    let shown = shown.join("\n");
    format!(
        "Your agent wants to run `{}` ({}) with these arguments:\n\n{}\n\nThe policy asks you \
         first: {}. Nothing has run. Run it exactly as shown?",
        holdpoint::escaped(tool.listed.name.as_ref()),
        holdpoint::escaped(&tool.policy_name),
        shown,
        holdpoint::escaped(reasons),
    )
}

impl Inner {
    /// Asks the requester; runs the call as shown if they confirm, within `--max-wait`.
    pub(super) async fn confirm(
        &self,
        tool: &Exposed,
        call: ToolCall,
        rules: &[String],
        reasons: &str,
        waiter: &Waiter,
    ) -> Result<CallToolResult, ErrorData> {
        let args = super::decided_args(call)?;
        let schema = ElicitationSchema::builder()
            .required_bool(FIELD)
            .description("Run the call exactly as shown")
            .build()
            .map_err(|e| ErrorData::internal_error(e, None))?;
        let asking = waiter.context.peer.create_elicitation_with_timeout(
            ElicitRequestParams::FormElicitationParams {
                meta: None,
                message: question(tool, &Value::Object(args.clone()), reasons),
                requested_schema: schema,
            },
            Some(self.options.max_wait),
        );
        let asked = tokio::select! {
            asked = asking => asked,
            // The client gave up on the call: an answer that comes later runs nothing.
            () = waiter.context.ct.cancelled() => {
                return Ok(text_result("Not run: the call was cancelled.".to_string(), true));
            }
        };
        let answer = match asked {
            Ok(answer) => answer,
            Err(e) => {
                return Ok(text_result(
                    format!(
                        "Not run: you were asked to confirm the call, and no answer came ({e})."
                    ),
                    true,
                ));
            }
        };
        let confirmed = matches!(answer.action, ElicitationAction::Accept)
            && answer
                .content
                .as_ref()
                .and_then(|c| c.get(FIELD))
                .and_then(Value::as_bool)
                == Some(true);
        if !confirmed {
            return Ok(text_result(
                "Not run: you did not confirm the call.".to_string(),
                true,
            ));
        }
        // Exactly the arguments the requester was shown: the ones the policy decided.
        let result = self.forward(tool, args.clone(), waiter, true).await;
        let user = self.options.user.as_deref().unwrap_or("the requester");
        // The client that asked, as it named itself: the record says through what the
        // confirmation came, not that it was verified.
        let client = waiter
            .context
            .peer
            .peer_info()
            .map(|i| format!("{} {}", i.client_info.name, i.client_info.version));
        self.record(&Record {
            tool: &tool.policy_name,
            args: &Value::Object(args),
            rules,
            effect: "approve",
            confirmed_by: Some(user),
            client: client.as_deref(),
            upstream_error: result.is_error.unwrap_or(false),
        })
        .await?;
        Ok(result)
    }
}
