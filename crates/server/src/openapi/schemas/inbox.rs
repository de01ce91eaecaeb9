//! The shapes of what an approver reads besides one request: the inbox, a run, the
//! gates' statistics.

use serde_json::Value;
use utoipa::ToSchema;

use super::{Reason, State};

/// A decision recorded on a request, as the inbox shows it.
#[derive(Debug, ToSchema)]
pub struct StepDecision {
    /// The approver.
    pub by: String,
    /// `approved`, `edited`, `rejected` or `escalated`.
    pub decision: String,
    /// When (RFC 3339).
    pub at: String,
    /// The reason or note given.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The gate it was for.
    #[schema(required = true)]
    pub gate: Option<String>,
}

/// One step of a run.
#[derive(Debug, ToSchema)]
pub struct RunStep {
    /// The request.
    pub request: String,
    /// The tool.
    pub tool: String,
    /// Its state.
    pub state: State,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Its top-level numeric arguments.
    #[schema(value_type = Object)]
    pub amounts: Value,
    /// How it was decided, oldest first.
    pub decisions: Vec<StepDecision>,
    /// Whether this is the request shown.
    pub current: bool,
    /// Whether its amounts count towards the totals (a call of the shown request's tool,
    /// not rejected, expired, cancelled or failed).
    pub counted: bool,
    /// The totals of the counted steps up to and including this one.
    #[schema(value_type = Object)]
    pub running: Value,
}

/// A run: the requests of one tenant's `run_id`, oldest first, up to the one shown.
#[derive(Debug, ToSchema)]
pub struct Run {
    /// The run's id.
    pub id: String,
    /// Its steps (the last 200).
    pub steps: Vec<RunStep>,
    /// The totals of the counted steps' amounts (calls of the shown request's tool, not
    /// refused).
    #[schema(value_type = Object)]
    pub totals: Value,
    /// How many steps came before the ones listed (not listed, not counted).
    pub earlier: u64,
    /// How many steps could not be read (left out).
    pub unreadable: u64,
}

/// One UTC day of a gate's final decisions.
#[derive(Debug, ToSchema)]
pub struct GateDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Approved as proposed.
    pub approved: u64,
    /// Approved after an edit.
    pub edited: u64,
    /// Rejected.
    pub rejected: u64,
}

/// One gate's numbers.
#[derive(Debug, ToSchema)]
pub struct GateStat {
    /// The gate (rule name).
    pub gate: String,
    /// Requests it stopped.
    pub fired: u64,
    /// Approved as proposed.
    pub approved: u64,
    /// Approved after an edit.
    pub approved_with_edits: u64,
    /// Rejected.
    pub rejected: u64,
    /// Escalated.
    pub escalated: u64,
    /// Ended by its SLA.
    pub expired: u64,
    /// Median seconds to a decision.
    #[schema(required = true)]
    pub median_s: Option<f64>,
    /// 90th percentile seconds to a decision.
    #[schema(required = true)]
    pub p90_s: Option<f64>,
    /// Approved unchanged in more than 95% of at least 20 decisions.
    pub rubber_stamp: bool,
    /// The share of decisions that approved unchanged.
    #[schema(required = true)]
    pub unchanged_share: Option<f64>,
    /// For a rubber stamp, what to do about it.
    #[schema(required = true)]
    pub advice: Option<String>,
    /// Final decisions per UTC day, oldest first.
    pub days: Vec<GateDay>,
}

/// Every gate's numbers.
#[derive(Debug, ToSchema)]
pub struct GateStatistics {
    /// One entry per gate, by name.
    pub gates: Vec<GateStat>,
    /// The unchanged share above which a gate is flagged.
    pub rubber_stamp_share: f64,
    /// The decisions below which no gate is flagged.
    pub min_decisions: u64,
}

/// One row of an approver's inbox: what they triage by.
#[derive(Debug, ToSchema)]
pub struct InboxItem {
    /// The request.
    pub request: String,
    /// Its state (`pending` in the waiting view).
    pub state: State,
    /// The run it belongs to.
    pub run_id: String,
    /// The gates still waiting.
    pub gates: Vec<String>,
    /// The caller's latest decision on it (the `decided` view only).
    pub mine: Option<StepDecision>,
    /// The tool.
    pub tool: String,
    /// Why it waits.
    pub reasons: Vec<Reason>,
    /// The call's top-level numeric arguments (`{"amount": 900}`).
    #[schema(value_type = Object)]
    pub amounts: Value,
    /// Who the agent acts for.
    #[schema(required = true)]
    pub user: Option<String>,
    /// The tenant.
    pub tenant: String,
    /// The agent.
    pub agent: String,
    /// The groups it waits for.
    pub groups: Vec<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When the earliest SLA ends (RFC 3339).
    #[schema(required = true)]
    pub due_at: Option<String>,
    /// The digest a decision names.
    pub digest: String,
}

/// What waits for the caller, soonest due first, or what they decided.
#[derive(Debug, ToSchema)]
pub struct Inbox {
    /// The caller.
    pub approver: String,
    /// `waiting` or `decided`.
    pub view: String,
    /// The requests.
    pub requests: Vec<InboxItem>,
}
