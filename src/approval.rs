//! The approval runtime: what happens between "this call must wait" and "this call ran, or
//! did not".
//!
//! - [`Guard`] is the agent's side. It evaluates a call and hands out a [`Permit`] (the only
//!   way to obtain the call to execute) for `allow` and `audit`, or for an approval it has
//!   claimed. `submit` and `resume` serve asynchronous gates, `wait` synchronous ones.
//! - [`Desk`] is the approvers' side: decide, expire, list, verify.
//! - Both sit on a [`crate::approval::store::Store`]: [`crate::approval::store::MemoryStore`] in process, or
//!   the SQLite store (feature `sqlite`) shared by processes on one host.
//!
//! The model and its guarantees are described in `docs/approvals.md`.

mod checkpoint;
pub mod digest;
pub mod envelope;
mod event;
pub mod patch;
#[cfg(feature = "permits")]
pub mod permit;
mod request;
mod runtime;
mod stats;
pub mod store;
mod time;

pub use crate::{Approvers, ApproversError, ApproversFile, Vouched};
pub use checkpoint::{CHECKPOINT_VERSION, Checkpoint, Identity, Payload, PolicyRef, Proposal};
pub use event::{ChainBreak, Event, EventKind, GENESIS, verify_chain};
pub use request::{
    Claim, ClaimRequest, GateApproval, GateStatus, Redecision, Rejection, Request, Ruling, SYSTEM,
    State, Status, Verdict,
};
pub use runtime::{
    Desk, Guard, Listing, Permit, Resumed, Submitted, Sweep, VerifyReport, Waiting, cancel, report,
};
pub use stats::{Day, GateStats, RUBBER_STAMP_MIN_DECISIONS, RUBBER_STAMP_SHARE, Stats};
pub use time::{Clock, ManualClock, SystemClock, format_time};

use crate::{DecisionKind, Policy};

/// Why an approval operation was refused. Nothing is changed when one is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be read or written.
    #[error("store: {0}")]
    Store(String),
    /// The store holds something that does not read back.
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    /// The database file belongs to something else.
    #[error("not a holdpoint approvals database: {0}")]
    Foreign(String),
    /// A checkpoint written by a format this build does not know.
    #[error(
        "request `{request}`: checkpoint format version {found} is not known to this build (it reads version {CHECKPOINT_VERSION}); upgrade holdpoint"
    )]
    UnknownVersion {
        /// The request (empty when read without a store).
        request: String,
        /// The version found.
        found: u64,
    },
    /// The database schema is newer than this build.
    #[error(
        "the database schema is version {found}, newer than this build knows ({known}); upgrade holdpoint"
    )]
    NewerSchema {
        /// The version found.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// No request has this id.
    #[error("no request `{0}`")]
    NotFound(String),
    /// The proposal is incomplete.
    #[error("bad proposal: {0}")]
    BadProposal(String),
    /// The idempotency key was used before for a different payload.
    #[error(
        "request `{id}` already exists for this tenant, run and tool-call id with a different payload (digest {existing}); a changed call needs a new tool-call id"
    )]
    KeyReused {
        /// The existing request.
        id: String,
        /// Its payload digest.
        existing: String,
    },
    /// The idempotency key is taken by a request made for another user, agent or
    /// credentials.
    #[error(
        "request `{id}` already exists for this tenant, run and tool-call id, made for another user, agent or credentials"
    )]
    KeyTaken {
        /// The existing request.
        id: String,
    },
    /// A decision or cancellation on a request that no longer waits.
    #[error("request `{id}` is {state}, not pending")]
    NotPending {
        /// The request.
        id: String,
        /// Its state.
        state: State,
    },
    /// The payload changed since the approver looked at it.
    #[error(
        "request `{id}` changed since you looked: its payload is now {now}, not {seen}; look again (`policy approvals show`)"
    )]
    PayloadChanged {
        /// The request.
        id: String,
        /// The digest the approver saw.
        seen: String,
        /// The digest now.
        now: String,
    },
    /// This gate already approved this payload.
    #[error("gate `{gate}` of request `{id}` has already approved this payload")]
    AlreadyDecided {
        /// The request.
        id: String,
        /// The gate.
        gate: String,
    },
    /// The approver is the user the agent acts for.
    #[error("`{0}` is the user the agent acts for and cannot decide their own request")]
    RequesterCannotDecide(String),
    /// The approver's name does not read as it is written (blanks around it, or a control,
    /// format or bidirectional character).
    #[error(
        "the approver {0} does not read as it is written: no blanks around it, no hidden characters"
    )]
    UnreadableApprover(String),
    /// The approver is the agent.
    #[error("`{0}` is the agent that proposed the call and cannot decide it")]
    AgentCannotDecide(String),
    /// The approver is in none of the groups that may decide.
    #[error(
        "`{approver}` may not decide this request: it waits for {}",
        describe_groups(groups)
    )]
    NotAnApprover {
        /// The approver.
        approver: String,
        /// The groups that may decide.
        groups: Vec<String>,
    },
    /// The gate does not allow this kind of decision.
    #[error("gate `{gate}` does not allow `{}` (allowed: {})", decision.as_str(), list_kinds(allowed))]
    DecisionNotAllowed {
        /// The decision tried.
        decision: DecisionKind,
        /// The gate.
        gate: String,
        /// What it allows.
        allowed: Vec<DecisionKind>,
    },
    /// No gate of the request has this name.
    #[error("the request has no gate `{gate}` (its gates: {})", gates.join(", "))]
    UnknownGate {
        /// The name given.
        gate: String,
        /// The request's gates.
        gates: Vec<String>,
    },
    /// A rejection or a cancellation without a reason.
    #[error("a rejection or a cancellation needs a reason")]
    ReasonRequired,
    /// The edit is not usable.
    #[error("bad edit: {0}")]
    BadEdit(String),
    /// The policy denies the edited call.
    #[error("the policy denies the edited call (rules: {})", rules.join(", "))]
    EditDenied {
        /// The rules that deny it.
        rules: Vec<String>,
    },
    /// An escalation without a usable target.
    #[error("bad escalation: {0}")]
    BadEscalation(String),
    /// An edit needs the policy to decide the edited call, and none was given.
    #[error("deciding an edit needs the policy the request was made under")]
    PolicyNeeded,
    /// The policy changed since the request was made.
    #[error(
        "the policy changed since the request was made (approved under {approved_under}, now {now}); submit the call again with a new tool-call id"
    )]
    PolicyChanged {
        /// The hash the request was made under.
        approved_under: String,
        /// The hash now.
        now: String,
    },
    /// The policy now in force denies the call: it runs under neither policy.
    #[error(
        "request `{id}`: the policy changed and now denies the call (rules: {}); it will not run",
        rules.join(", ")
    )]
    PolicyNowDenies {
        /// The request.
        id: String,
        /// The rules that deny it.
        rules: Vec<String>,
    },
    /// Claiming a request that is not approved.
    #[error("request `{id}` is {state}: nothing may run")]
    NotApproved {
        /// The request.
        id: String,
        /// Its state.
        state: State,
    },
    /// An approved request whose own events do not prove what it would hand out: nothing
    /// is handed out.
    #[error(
        "request `{id}` is not handed out: {problem}; the store may have been changed (run `policy approvals verify`)"
    )]
    Unproven {
        /// The request.
        id: String,
        /// What does not agree.
        problem: String,
    },
    /// A second claim.
    #[error("request `{id}` was already claimed (it is {state}); it runs at most once")]
    AlreadyClaimed {
        /// The request.
        id: String,
        /// Its state.
        state: State,
    },
    /// Reporting on a claim one does not hold.
    #[error("the claim token does not match the claim on request `{0}`")]
    NotYourClaim(String),
    /// Reporting after the lease ran out.
    #[error(
        "the claim on request `{0}` ran out before the report; it is recorded as outcome_unknown"
    )]
    LeaseExpired(String),
    /// Reporting twice.
    #[error("request `{id}` is already {state}")]
    AlreadyFinished {
        /// The request.
        id: String,
        /// Its state.
        state: State,
    },
}

fn describe_groups(groups: &[String]) -> String {
    if groups.is_empty() {
        "any approver listed in the approvers file".into()
    } else {
        groups
            .iter()
            .map(|g| format!("`{g}`"))
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

fn list_kinds(kinds: &[DecisionKind]) -> String {
    kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The hash a request binds its approval to: the SHA-256 of what the policy means
/// ([`Policy::canonical_text`]: its code without comments or layout, and its catalog). A
/// comment or `policy fmt` keeps it; a change to a rule changes it, and then a request
/// made under the old one is decided again before anything runs (see `docs/approvals.md`).
pub fn policy_hash(policy: &Policy) -> String {
    digest::sha256(policy.canonical_text().as_bytes())
}

/// The id of the request for an idempotency key: the same tenant, run and tool-call id
/// always name the same request.
pub fn request_id(tenant: &str, run_id: &str, tool_call_id: &str) -> String {
    let key = serde_json::json!([tenant, run_id, tool_call_id]);
    let d = digest::of_json(&key);
    format!("hp_{}", &d["sha256:".len().."sha256:".len() + 20])
}
