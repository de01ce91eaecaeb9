//! The MCP server the client talks to: the merged tools of the upstreams, each call
//! decided by the policy before anything is forwarded.

use std::collections::HashMap;
use std::sync::Arc;

use holdpoint::{Decision, Effect, Policy, PolicyBuilder, ToolCall, ToolStance};
use rmcp::ErrorData;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

use crate::service::Service;
use crate::{AuditLog, GatewayError, Record, Upstream};

mod approval;
mod confirm;

use approval::{STATUS_TOOL, Waiter};

/// How the gateway shows, records and waits.
pub struct GatewayOptions {
    /// Leave out of `tools/list` the tools every call of which the policy denies.
    pub hide_denied: bool,
    /// Where audited calls are recorded (without it, on standard error).
    pub audit: Option<AuditLog>,
    /// The approval service the calls that need a person go to (without it, they are
    /// refused).
    pub service: Option<Service>,
    /// How long a call waits for its decision when the client listens for progress;
    /// after that, or at once for a client that does not, the call returns the request
    /// id to resume it with `holdpoint_status`.
    pub max_wait: std::time::Duration,
    /// The person the agent acts for: who confirms a call the policy lets its requester
    /// confirm (`confirm by requester`), as the record names them.
    pub user: Option<String>,
    /// Let the requester confirm, in their own client, the calls every gate of which says
    /// `confirm by requester` (`--requester-confirms`). Off by default: the MCP client
    /// answers the question, and a client the agent controls could answer it itself.
    pub requester_confirms: bool,
}

impl Default for GatewayOptions {
    fn default() -> GatewayOptions {
        GatewayOptions {
            hide_denied: false,
            audit: None,
            service: None,
            max_wait: std::time::Duration::from_secs(600),
            user: None,
            requester_confirms: false,
        }
    }
}

/// One tool as the client sees it, and where it goes.
struct Exposed {
    /// As listed to the client (the upstream's tool, its stance in the description).
    listed: Tool,
    /// Which upstream, and the tool's name there.
    upstream: usize,
    upstream_tool: String,
    /// `UPSTREAM.TOOL`: the name the policy decides.
    policy_name: String,
    stance: ToolStance,
}

/// The gateway: an MCP server (`ServerHandler`) over the upstreams. Clones share
/// everything (one per HTTP session).
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    policy: Policy,
    upstreams: Vec<Upstream>,
    tools: Vec<Exposed>,
    by_name: HashMap<String, usize>,
    by_policy_name: HashMap<String, usize>,
    options: GatewayOptions,
    /// This gateway's run, as the service records it, and its calls so far.
    run_id: String,
    calls: std::sync::atomic::AtomicU64,
}

impl Gateway {
    /// Lists every upstream's tools and merges them (a name two upstreams share is
    /// offered as `UPSTREAM__TOOL` for each), then compiles the policy with those tools
    /// as its catalog (under the policy's own, if it has one).
    pub async fn new(
        policy: PolicyBuilder,
        upstreams: Vec<Upstream>,
        options: GatewayOptions,
    ) -> Result<Gateway, GatewayError> {
        let mut listed = Vec::new();
        for (i, up) in upstreams.iter().enumerate() {
            for tool in up.tools().await? {
                listed.push((i, tool));
            }
        }
        let mut count: HashMap<String, usize> = HashMap::new();
        for (_, t) in &listed {
            *count.entry(t.name.to_string()).or_default() += 1;
        }
        let mut named = Vec::with_capacity(listed.len());
        for (i, tool) in listed {
            let Some(up) = upstreams.get(i) else { continue };
            named.push((i, format!("{}.{}", up.spec.name, tool.name), tool));
        }
        let scopes: Vec<String> = upstreams.iter().map(|u| u.spec.name.clone()).collect();
        let policy = compile(policy, &scopes, &named)?;
        let mut tools = Vec::with_capacity(named.len());
        let mut by_name = HashMap::new();
        let mut by_policy_name = HashMap::new();
        for (i, policy_name, mut tool) in named {
            let Some(up) = upstreams.get(i) else { continue };
            let upstream_tool = tool.name.to_string();
            // A tool named like the gateway's own `holdpoint_status` is renamed too.
            let shared = count.get(&upstream_tool).copied().unwrap_or(0) > 1
                || (upstream_tool == STATUS_TOOL && options.service.is_some());
            let exposed_name = if shared {
                format!("{}__{upstream_tool}", up.spec.name)
            } else {
                upstream_tool.clone()
            };
            let stance = policy.stance(&policy_name);
            let description = match tool.description.as_deref() {
                Some(d) if !d.is_empty() => format!("{d}\n\n[holdpoint: {stance}]"),
                _ => format!("[holdpoint: {stance}]"),
            };
            tool.name = exposed_name.clone().into();
            tool.description = Some(description.into());
            by_name.insert(exposed_name, tools.len());
            by_policy_name.insert(policy_name.clone(), tools.len());
            tools.push(Exposed {
                listed: tool,
                upstream: i,
                upstream_tool,
                policy_name,
                stance,
            });
        }
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Ok(Gateway {
            inner: Arc::new(Inner {
                policy,
                upstreams,
                tools,
                by_name,
                by_policy_name,
                options,
                run_id: format!("mcp-{}-{started}", std::process::id()),
                calls: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    /// The tools as `tools/list` gives them (with `holdpoint_status` when there is an
    /// approval service).
    pub fn listed(&self) -> Vec<Tool> {
        let mut out: Vec<Tool> = self
            .inner
            .tools
            .iter()
            .filter(|t| !(self.inner.options.hide_denied && t.stance.always_denied()))
            .map(|t| t.listed.clone())
            .collect();
        if self.inner.options.service.is_some() {
            out.push(status_tool());
        }
        out
    }
}

/// Compiles the policy with the upstreams' tools (`(upstream, policy name, tool)`) as
/// its catalog, under the policy's own.
fn compile(
    policy: PolicyBuilder,
    scopes: &[String],
    tools: &[(usize, String, Tool)],
) -> Result<Policy, GatewayError> {
    let failed = |e: holdpoint::LoadError| GatewayError::Policy(e.to_string());
    if policy.catalog_error().is_some() {
        // The policy's own catalog does not read: that error, not a merged catalog.
        return policy.build().map_err(failed);
    }
    let named: Vec<(String, &Tool)> = tools.iter().map(|(_, n, t)| (n.clone(), t)).collect();
    let catalog = crate::catalog::merged(scopes, &named, policy.catalog_ref())?;
    policy.catalog(catalog).build().map_err(failed)
}

/// The arguments of a decided call, to forward as they are (a call's arguments are
/// always an object: [`ToolCall::new`] is given one).
fn decided_args(call: ToolCall) -> Result<serde_json::Map<String, Value>, ErrorData> {
    match call.args {
        Value::Object(args) => Ok(args),
        _ => Err(ErrorData::internal_error(
            "arguments are not an object",
            None,
        )),
    }
}

/// The tool that resumes a call waiting for a person.
fn status_tool() -> Tool {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "request": {"type": "string", "description": "The request id the waiting call returned."}
        },
        "required": ["request"],
    });
    let schema = match schema {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    Tool::new(
        STATUS_TOOL,
        "Resume a tool call that waits for a person's approval: runs it if it was approved \
         (exactly as approved, once), says why not if it was refused, or that it still waits.",
        Arc::new(schema),
    )
}

fn text_result(text: String, error: bool) -> CallToolResult {
    let content = vec![ContentBlock::text(text)];
    if error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    }
}

/// The rules that decided, and their reasons, as one line.
fn why(decision: &Decision<'_>, call: &ToolCall) -> String {
    let parts: Vec<String> = decision
        .named()
        .iter()
        .map(|&n| {
            let name = decision.name_of(n);
            match decision.reason(n, call) {
                Some(reason) => format!("{name}: {reason}"),
                None => name,
            }
        })
        .collect();
    if parts.is_empty() {
        "the policy's default".to_string()
    } else {
        parts.join("; ")
    }
}

impl Inner {
    fn by_policy_name(&self, name: &str) -> Option<&Exposed> {
        self.by_policy_name
            .get(name)
            .and_then(|&i| self.tools.get(i))
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        waiter: Waiter,
    ) -> Result<CallToolResult, ErrorData> {
        if request.name == STATUS_TOOL
            && let Some(service) = &self.options.service
        {
            let id = request
                .arguments
                .as_ref()
                .and_then(|a| a.get("request"))
                .and_then(Value::as_str);
            let Some(id) = id else {
                return Err(ErrorData::invalid_params(
                    format!("{STATUS_TOOL} needs {{\"request\": \"ID\"}}"),
                    None,
                ));
            };
            return Ok(self.settle(service, id, "", &waiter).await);
        }
        let Some(tool) = self
            .by_name
            .get(request.name.as_ref())
            .and_then(|&i| self.tools.get(i))
        else {
            return Err(ErrorData::invalid_params(
                format!("no tool `{}` behind this gateway", request.name),
                None,
            ));
        };
        let args = request.arguments.unwrap_or_default();
        let call = ToolCall::new(tool.policy_name.clone(), Value::Object(args));
        let decision = self.policy.evaluate(&call);
        let effect = decision.effect();
        let rules = decision.rule_names();
        let reasons = why(&decision, &call);
        match effect {
            Effect::Deny => Ok(text_result(format!("Refused by policy: {reasons}"), true)),
            Effect::Approve => {
                // Every gate must let the requester confirm, and their client must be able
                // to ask them; otherwise an approver decides, as for any gated call.
                let mut gates = decision.gates().peekable();
                let confirmable =
                    gates.peek().is_some() && gates.all(|g| g.options.confirm_by_requester);
                if confirmable && self.options.requester_confirms && waiter.can_ask() {
                    return self.confirm(tool, call, &rules, &reasons, &waiter).await;
                }
                match &self.options.service {
                    Some(service) => Ok(self
                        .approval(service, &tool.policy_name, &call.args, &reasons, &waiter)
                        .await),
                    None => {
                        let hint = match (confirmable, self.options.requester_confirms) {
                            (true, true) => {
                                " You could confirm it yourself, but your MCP client cannot \
                                 be asked (it does not support elicitation)."
                            }
                            (true, false) => {
                                " The policy lets you confirm it yourself, but this gateway \
                                 was not started with --requester-confirms."
                            }
                            _ => "",
                        };
                        Ok(text_result(
                            format!(
                                "Not run: this call needs a person's approval ({reasons}), and \
                                 this gateway is not connected to an approval service.{hint}"
                            ),
                            true,
                        ))
                    }
                }
            }
            Effect::Allow | Effect::Audit => {
                // Exactly the arguments decided: the ones in the call the policy read.
                let args = decided_args(call)?;
                let result = self.forward(tool, args.clone(), &waiter, true).await;
                if effect == Effect::Audit {
                    self.record(&Record {
                        tool: &tool.policy_name,
                        args: &Value::Object(args),
                        rules: &rules,
                        effect: "audit",
                        confirmed_by: None,
                        client: None,
                        upstream_error: result.is_error.unwrap_or(false),
                    })
                    .await?;
                }
                Ok(result)
            }
        }
    }

    /// Forwards exactly `args` to the tool's upstream, relaying its progress to the
    /// client. A call the client cancels is cancelled upstream when `cancellable`; an
    /// approved call (claimed already) runs to its end, so its outcome is known.
    async fn forward(
        &self,
        tool: &Exposed,
        args: serde_json::Map<String, Value>,
        waiter: &Waiter,
        cancellable: bool,
    ) -> CallToolResult {
        let Some(up) = self.upstreams.get(tool.upstream) else {
            return text_result("Not run: the upstream is gone.".to_string(), true);
        };
        let never = tokio_util::sync::CancellationToken::new();
        let cancelled = if cancellable {
            &waiter.context.ct
        } else {
            &never
        };
        match up
            .call(&tool.upstream_tool, args, waiter.listener(), cancelled)
            .await
        {
            Ok(result) => result,
            Err(e) => text_result(format!("The upstream `{}` failed: {e}", up.spec.name), true),
        }
    }

    /// Records a call that ran: to the audit log, or to standard error without one.
    async fn record(&self, record: &Record<'_>) -> Result<(), ErrorData> {
        match &self.options.audit {
            Some(log) => log
                .record(record)
                .await
                // The call ran; the client hears that its record could not be written.
                .map_err(|e| ErrorData::internal_error(format!("the call ran, but {e}"), None)),
            None => {
                // Standard output is the protocol: the record goes to standard error.
                eprintln!("{}", crate::audit::record_line(record));
                Ok(())
            }
        }
    }
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "holdpoint-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Tools behind holdpoint's policy: a call may be refused, or wait for a person's \
                 approval; each tool's description says which.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.listed()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.inner
            .call(request, Waiter::new(context))
            .await
            .map(Into::into)
    }
}
