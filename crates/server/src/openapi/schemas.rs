//! The shapes of the JSON the handlers answer with and read, for the OpenAPI document
//! only: the handlers build their answers with `json!` (and serde from the library's
//! types), and these types say exactly what that JSON is. schemathesis (`.ci/schemathesis`)
//! checks every real answer against them.

use serde_json::Value;
use utoipa::ToSchema;

mod inbox;
pub use inbox::*;

/// Every refusal and failure: a status and this body.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"error": {"code": "not_found", "message": "no request `hp_1`"}}))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The code and message of an error.
#[derive(Debug, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code: `bad_request`, `too_large`, `unauthenticated`,
    /// `forbidden`, `not_your_claim`, `not_found`, `conflict`, `not_runnable`, `invalid`,
    /// `rate_limited`, `internal`.
    pub code: String,
    /// What happened and what to do, for a person.
    pub message: String,
}

/// Where a request is in its life.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for approvers.
    Pending,
    /// Every gate approved the call as proposed.
    Approved,
    /// Every gate approved an edited call (the edited call is what runs).
    ApprovedWithEdits,
    /// An approver rejected it. Final.
    Rejected,
    /// Handed to another group.
    Escalated,
    /// A gate's SLA ran out and rejected it. Final.
    Expired,
    /// Withdrawn before a decision. Final.
    Cancelled,
    /// Claimed by the agent, running.
    Executing,
    /// Ran. Final.
    Executed,
    /// Ran and failed. Final.
    Failed,
    /// Claimed, but the lease ran out with no report. Final.
    OutcomeUnknown,
}

/// What the policy decided.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Execute now.
    Allow,
    /// Execute now and record it.
    Audit,
    /// Wait for a recorded human decision.
    Approve,
    /// Never execute.
    Deny,
}

/// How a gate waits: `sync` (the agent blocks) or `async` (it is released).
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Seconds to minutes.
    Sync,
    /// Hours to days.
    Async,
}

/// A decision an approver may make.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    /// Run the call as proposed.
    Approve,
    /// Do not run it.
    Reject,
    /// Run an edited call.
    Edit,
    /// Hand it to another group.
    Escalate,
}

/// What happens when a gate's SLA ends: `"reject"`, or `{"escalate": GROUP}`.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    /// The call is rejected.
    Reject,
    /// The request goes to this group.
    Escalate(String),
}

/// The call that would run: the tool and its arguments, exactly.
#[derive(Debug, ToSchema)]
pub struct Payload {
    /// The tool's name.
    pub tool: String,
    /// Its arguments.
    #[schema(value_type = Object)]
    pub args: Value,
}

/// A rendered reason of a rule.
#[derive(Debug, ToSchema)]
pub struct Reason {
    /// The rule.
    pub rule: String,
    /// The text.
    pub reason: String,
}

/// A rule whose condition could not be judged (and so asked for approval).
#[derive(Debug, ToSchema)]
pub struct Unknown {
    /// The rule (or `never_auto:CLASS`).
    pub rule: String,
    /// The path that could not be read.
    pub path: String,
    /// Why: `missing`, or `is a string, expected a number`.
    pub why: String,
}

/// One gate of an `approve` decision, as the policy wrote it.
#[derive(Debug, ToSchema)]
pub struct GateReport {
    /// The rule (or `never_auto:CLASS`, `default`).
    pub rule: String,
    /// This gate's mode.
    pub mode: Mode,
    /// Approver groups; empty means any approver.
    pub by: Vec<String>,
    /// How many distinct approvers must approve.
    #[schema(minimum = 1)]
    pub quorum: u32,
    /// The SLA in seconds.
    #[schema(required = true)]
    pub within_s: Option<u64>,
    /// What happens when the SLA ends.
    #[schema(required = true)]
    pub on_timeout: Option<OnTimeout>,
    /// The decisions an approver may make.
    pub decisions: Vec<DecisionKind>,
    /// What to show as a diff.
    #[schema(required = true)]
    pub show_diff: Option<String>,
    /// Whether the person the agent acts for may confirm the call themselves, where their
    /// own client can ask them (`confirm by requester`; the MCP gateway's elicitation).
    /// The service itself still asks an approver.
    pub confirm_by_requester: bool,
    /// The rendered reason.
    #[schema(required = true)]
    pub reason: Option<String>,
}

/// How an `approve` decision waits.
#[derive(Debug, ToSchema)]
pub struct ApprovalReport {
    /// `async` if any gate is.
    pub mode: Mode,
    /// Every gate that fired.
    pub gates: Vec<GateReport>,
}

/// The policy's decision for one call (what `policy eval` prints).
#[derive(Debug, ToSchema)]
pub struct DecisionReport {
    /// The effect.
    pub effect: Effect,
    /// The rules (and synthetic gates) that decided.
    pub rules: Vec<String>,
    /// Present exactly when the effect is `approve`.
    pub approval: Option<ApprovalReport>,
    /// What could not be judged.
    pub unknown: Vec<Unknown>,
    /// Whether no rule matched and the default decided.
    pub default_applied: bool,
    /// Present (true) when the policy's catalog does not list the tool.
    pub unknown_tool: Option<bool>,
    /// The listed tool the call's tool was refused as a confusable of.
    pub confusable_with: Option<String>,
    /// The rendered reasons of the rules that have one.
    pub reasons: Vec<Reason>,
}

/// A gate of a request: who may decide it, by when, and who approved so far.
#[derive(Debug, ToSchema)]
pub struct Gate {
    /// The rule that fired it.
    pub rule: String,
    /// The groups that may decide it (empty: any approver).
    pub groups: Vec<String>,
    /// How many distinct approvers must approve.
    pub quorum: u32,
    /// Who approved the call as it now is.
    pub approved_by: Vec<String>,
    /// Whether the gate has its quorum for the call as it now is.
    pub approved: bool,
    /// The decisions an approver may make.
    pub decisions: Vec<DecisionKind>,
    /// The SLA in seconds.
    #[schema(required = true)]
    pub within_s: Option<u64>,
    /// What happens when the SLA ends.
    #[schema(required = true)]
    pub on_timeout: Option<OnTimeout>,
    /// When the SLA ends (RFC 3339, UTC).
    #[schema(required = true)]
    pub due_at: Option<String>,
}

/// A request as an agent needs it (`GET /v1/requests/{id}`, `wait`, a decision's answer).
#[derive(Debug, ToSchema)]
pub struct RequestView {
    /// The request's id.
    pub request: String,
    /// Its state.
    pub state: State,
    /// The tenant it belongs to.
    pub tenant: String,
    /// How it waits (`null` when it never needed approval).
    #[schema(required = true)]
    pub mode: Option<Mode>,
    /// The groups that may decide it now (empty unless pending).
    pub groups: Vec<String>,
    /// The earliest SLA end while pending, the lease's end while executing (RFC 3339).
    #[schema(required = true)]
    pub due_at: Option<String>,
    /// Every gate.
    pub gates: Vec<Gate>,
    /// The rules that decided.
    pub rules: Vec<String>,
    /// Their reasons.
    pub reasons: Vec<Reason>,
    /// What could not be judged.
    pub unknown: Vec<Unknown>,
    /// The digest of the call as it now is (`sha256:…`): a decision names it.
    pub digest: String,
    /// The call as it now is (edited, if an approver edited it).
    pub call: Payload,
}

/// Who the agent acts for.
#[derive(Debug, ToSchema)]
pub struct Identity {
    /// The person the agent acts for (they may never decide their own request).
    #[schema(required = true)]
    pub user: Option<String>,
    /// The tenant.
    pub tenant: String,
    /// The agent.
    pub agent: String,
    /// A reference to the credentials the call would use, never the secret.
    #[schema(required = true)]
    pub credentials_ref: Option<String>,
}

/// Which policy decided.
#[derive(Debug, ToSchema)]
pub struct PolicyRef {
    /// The policy's name, if it has one.
    #[schema(required = true)]
    pub name: Option<String>,
    /// The hash of its sources.
    pub hash: String,
    /// Where it was loaded from.
    #[schema(required = true)]
    pub path: Option<String>,
    /// The tool catalog given in place of the policy's own, when one was.
    pub catalog: Option<String>,
}

/// The durable record of a stopped call.
#[derive(Debug, ToSchema)]
pub struct Checkpoint {
    /// The format version.
    pub version: u32,
    /// The request's id.
    pub request_id: String,
    /// The call as proposed.
    pub payload: Payload,
    /// Its digest.
    pub payload_digest: String,
    /// The call's context.
    #[schema(value_type = Value)]
    pub context: Value,
    /// The decision.
    pub decision: DecisionReport,
    /// What led to the call (the agent's free JSON).
    #[schema(value_type = Value)]
    pub inputs: Value,
    /// The agent's reasoning.
    #[schema(required = true)]
    pub reasoning: Option<String>,
    /// Alternatives the agent considered.
    pub alternatives: Vec<String>,
    /// Who the agent acts for.
    pub identity: Identity,
    /// The policy that decided.
    pub policy: PolicyRef,
    /// The agent's run.
    pub run_id: String,
    /// The call's id within the run.
    pub tool_call_id: String,
    /// When it was stopped (milliseconds since the Unix epoch).
    pub created_at: i64,
}

/// What an audit event records.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The checkpoint was written.
    Created,
    /// Approved as proposed (one gate).
    Approved,
    /// Edited and approved (one gate).
    Edited,
    /// Rejected.
    Rejected,
    /// Handed to another group.
    Escalated,
    /// A gate's SLA ran out.
    Expired,
    /// Waits again, for a new group.
    Reopened,
    /// Withdrawn.
    Cancelled,
    /// Claimed to run.
    Claimed,
    /// Reported run.
    Executed,
    /// Reported failed.
    Failed,
    /// The lease ran out with no report.
    OutcomeUnknown,
    /// A report after the lease ran out.
    LateReport,
    /// An audited call ran.
    Audited,
    /// Decided again under a changed policy.
    Redecided,
}

/// One event of the audit log, hash-chained and signed by the service.
#[derive(Debug, ToSchema)]
pub struct Event {
    /// Its place in the log, from 1.
    pub seq: u64,
    /// The request it belongs to.
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// What happened.
    pub kind: EventKind,
    /// Who did it: an approver, the agent, or `system`.
    pub actor: String,
    /// When (milliseconds since the Unix epoch).
    pub at: i64,
    /// The gate it concerns.
    #[schema(required = true)]
    pub gate: Option<String>,
    /// The state before.
    #[schema(required = true)]
    pub from: Option<State>,
    /// The state after.
    #[schema(required = true)]
    pub to: Option<State>,
    /// The reason given.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The payload digest before.
    #[schema(required = true)]
    pub digest_before: Option<String>,
    /// The payload digest after.
    #[schema(required = true)]
    pub digest_after: Option<String>,
    /// Details (an edit's patch, an escalation's group, the checkpoint's digest).
    #[schema(value_type = Value)]
    pub data: Value,
    /// The hash of the event before.
    pub prev_hash: String,
    /// The hash of this event.
    pub hash: String,
}

/// A request as an approver sees it: what an agent sees, and the checkpoint, the call as
/// proposed, the edit so far and the events. The last four are present for approvers only.
#[derive(Debug, ToSchema)]
pub struct RequestDetail {
    /// What an agent sees.
    #[serde(flatten)]
    pub view: RequestView,
    /// The checkpoint (approvers only).
    pub checkpoint: Option<Checkpoint>,
    /// The call as the agent proposed it (approvers only).
    pub proposed: Option<Payload>,
    /// The RFC 6902 patch from the proposed to the current arguments, `null` when unedited
    /// (approvers only).
    #[schema(value_type = Option<Vec<Object>>)]
    pub patch: Option<Value>,
    /// The request's audit events (approvers only).
    pub events: Option<Vec<Event>>,
    /// The state before, as the agent described it (approvers only; `null` if not sent).
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    /// The RFC 6902 diff from `before` to the proposed arguments (approvers only).
    #[schema(value_type = Option<Vec<Object>>)]
    pub changes: Option<Value>,
    /// The run so far: this request and the earlier ones of its run (approvers only).
    pub run: Option<Run>,
}

/// `allow` or `audit`: the call may run.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunEffect {
    /// Run it.
    Allow,
    /// Run it; it is recorded.
    Audit,
}

/// `deny`.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DenyEffect {
    /// Never run it.
    Deny,
}

/// `approve`.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApproveEffect {
    /// Wait for a decision.
    Approve,
}

/// `allow` or `audit`: run the call now, with this permit.
#[derive(Debug, ToSchema)]
pub struct Permitted {
    /// `allow` or `audit`.
    pub effect: RunEffect,
    /// Always true.
    pub run: bool,
    /// The call to run.
    pub call: Payload,
    /// Its digest.
    pub digest: String,
    /// The signed permit a tool server verifies against `GET /v1/keys`.
    pub permit: String,
}

/// `deny`: never run the call.
#[derive(Debug, ToSchema)]
pub struct Denied {
    /// `deny`.
    pub effect: DenyEffect,
    /// Always false.
    pub run: bool,
    /// The decision.
    pub decision: DecisionReport,
}

/// `approve`: the request waits; follow it with `wait` or `events`, then `claim` it.
#[derive(Debug, ToSchema)]
pub struct Waiting {
    /// `approve`.
    pub effect: ApproveEffect,
    /// Always false.
    pub run: bool,
    /// Whether this call created the request (false: the same proposal came before).
    pub created: bool,
    /// The request.
    #[serde(flatten)]
    pub view: RequestView,
}

/// The answer to a proposal.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum Submitted {
    /// Run it now.
    Permitted(Permitted),
    /// Never run it.
    Denied(Denied),
    /// It waits for approvers.
    Waiting(Waiting),
}

/// An approved call, claimed: run it, then report with `claim`.
#[derive(Debug, ToSchema)]
pub struct Claimed {
    /// The request.
    pub request: String,
    /// `executing`.
    pub state: State,
    /// Always true.
    pub run: bool,
    /// The call to run (edited, if an approver edited it).
    pub call: Payload,
    /// Its digest.
    pub digest: String,
    /// Whether an approver edited the call.
    pub edited: bool,
    /// The claim token to report with.
    #[schema(required = true)]
    pub claim: Option<String>,
    /// The signed permit.
    pub permit: String,
    /// When the claim (and the permit) runs out (RFC 3339).
    pub expires_at: String,
}

/// A request's id and its new state.
#[derive(Debug, ToSchema)]
pub struct StateChange {
    /// The request.
    pub request: String,
    /// Its state now.
    pub state: State,
}

/// A public key permits and the log are signed with.
#[derive(Debug, ToSchema)]
pub struct Key {
    /// The key's id (in every permit).
    pub id: String,
    /// `Ed25519`.
    pub alg: String,
    /// The public key (base64url, unpadded).
    pub public_key: String,
}

/// The service's public keys.
#[derive(Debug, ToSchema)]
pub struct Keys {
    /// The keys.
    pub keys: Vec<Key>,
}

/// A tool call in holdpoint's own shape. The body may also be an OpenAI chat tool call
/// (`{"type": "function", "function": {"name", "arguments"}}`), an OpenAI Responses
/// `function_call` item, an MCP `tools/call` request (`{"method", "params": {"name",
/// "arguments"}}`) or an Anthropic `tool_use` block (`{"type", "name", "input"}`).
#[derive(Debug, ToSchema)]
#[schema(examples(
    json!({"tool": "stripe.refund", "args": {"amount": 900, "charge": "ch_1"}, "context": {"user": "uma", "tenant": "acme"}}),
    json!({"tool": "kb.search", "args": {"query": "change VAT number"}, "context": {"confidence": 0.99}})
))]
pub struct ToolCall {
    /// The tool's name (`name` is accepted too).
    pub tool: String,
    /// Its arguments (`arguments` is accepted too, also as a JSON string).
    #[schema(value_type = Option<Object>)]
    pub args: Option<Value>,
    /// The call's context (`user`, `tenant`, confidence, tier …).
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// The call's id.
    pub id: Option<String>,
}

/// Who a proposal acts for; the agent and the tenants it may act for come from its token.
#[derive(Debug, ToSchema)]
pub struct ProposedIdentity {
    /// The person the agent acts for.
    pub user: Option<String>,
    /// The tenant (one of the token's; default: its first).
    pub tenant: Option<String>,
    /// Ignored: the agent is the token's.
    pub agent: Option<String>,
    /// A reference to the credentials the call would use.
    pub credentials_ref: Option<String>,
}

/// A proposal: a call and what an approver needs to judge it. A bare tool call is a
/// proposal too. Idempotent on (tenant, `run_id`, `tool_call_id`).
#[derive(Debug, ToSchema)]
#[schema(examples(
    json!({
        "call": {"tool": "stripe.refund", "args": {"amount": 900, "charge": "ch_1"}},
        "identity": {"user": "uma", "tenant": "acme"},
        "run_id": "run-1", "tool_call_id": "call-7",
        "reasoning": "the parcel arrived crushed"
    }),
    json!({
        "call": {"tool": "kb.search", "args": {"query": "change VAT number"}, "context": {"confidence": 0.99}},
        "identity": {"user": "uma", "tenant": "acme"}, "run_id": "run-1", "tool_call_id": "call-8"
    }),
    json!({
        "call": {"tool": "stripe.refund", "args": {"amount": 6000, "customer": "cus_R2b7"}, "context": {"confidence": 0.97}},
        "identity": {"user": "uma", "tenant": "acme"}, "run_id": "run-1", "tool_call_id": "call-9"
    })
))]
pub struct Proposal {
    /// The call.
    pub call: ToolCall,
    /// Who it acts for.
    pub identity: Option<ProposedIdentity>,
    /// The agent's run.
    pub run_id: Option<String>,
    /// The call's id within the run (default: derived from the call and the policy).
    pub tool_call_id: Option<String>,
    /// What led to the call (free JSON).
    #[schema(value_type = Value)]
    pub inputs: Option<Value>,
    /// The agent's reasoning.
    pub reasoning: Option<String>,
    /// Alternatives the agent considered.
    pub alternatives: Option<Vec<String>>,
}

/// What became of a claimed call.
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It ran; `result` is what it returned.
    Executed,
    /// It failed; `result` is the failure's message.
    Failed,
}
