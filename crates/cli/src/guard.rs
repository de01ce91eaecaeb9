//! `policy guard`: decide a call and, if it must wait, record its checkpoint.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use super::approvals::approvers_file;
use super::approvals::{
    approval_error, open_store, parse_duration, parse_lease, print_json, read_json, resumed_json,
};
use super::{Exit, input, load_policy};
use holdpoint::approval::envelope::{Fallbacks, Stated};
use holdpoint::approval::{
    ApproversFile, Error, Guard, Proposal, Request, Resumed, State, Submitted, Waiting, format_time,
};

#[cfg(feature = "serve")]
mod remote;

/// Arguments of `policy guard`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy: a .gate file or a policy directory (not with --server: the service's).
    #[arg(required_unless_present = "server")]
    policy: Option<PathBuf>,
    /// The call as JSON (`-` reads standard input): a tool call, or a proposal
    /// `{"call": {...}, "identity": {...}, "run_id", "tool_call_id", "inputs", "reasoning",
    /// "alternatives"}`.
    #[arg(long, value_name = "FILE", default_value = "-")]
    call: String,
    /// The approvals database, created if missing (local mode: single-user, the agent's
    /// process holds the database; for a trust boundary use `--server`).
    #[arg(
        long,
        value_name = "FILE",
        env = "HOLDPOINT_DB",
        required_unless_present = "server"
    )]
    db: Option<PathBuf>,
    /// Submit to a running `policy serve` (http://HOST:PORT) instead; the agent's token
    /// comes from HOLDPOINT_TOKEN and says which agent this is.
    #[arg(long, value_name = "URL", env = "HOLDPOINT_SERVER")]
    server: Option<String>,
    /// The agent's service token. Prefer the HOLDPOINT_TOKEN variable: a flag shows in the
    /// shell history and the process list.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HOLDPOINT_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Tool catalog; replaces any tools.yaml beside the policy.
    #[arg(long, value_name = "CATALOG")]
    tools: Option<PathBuf>,
    /// The tenant (default: the proposal's, else context.tenant, else `default`).
    #[arg(long)]
    tenant: Option<String>,
    /// The agent's identity (default: the proposal's, else `policy-cli`).
    #[arg(long)]
    agent: Option<String>,
    /// The user the agent acts for (default: the proposal's, else context.user).
    #[arg(long)]
    user: Option<String>,
    /// A reference to the credentials the call would use (never the secret).
    #[arg(long, value_name = "REF")]
    credentials: Option<String>,
    /// The run id (default: the proposal's, else `cli`).
    #[arg(long = "run")]
    run_id: Option<String>,
    /// The tool-call id (default: the proposal's, else one derived from the payload and the
    /// policy, so guarding the same call twice under one policy finds the same request).
    #[arg(long = "call-id")]
    call_id: Option<String>,
    /// The agent's reasoning.
    #[arg(long)]
    reasoning: Option<String>,
    /// A JSON file with the inputs that led to the call.
    #[arg(long, value_name = "FILE")]
    inputs: Option<PathBuf>,
    /// Block until the request is decided (at most this long, e.g. `30s`, `5m`; no value:
    /// until decided or its SLA ends). Prints the call to run when approved.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "")]
    wait: Option<String>,
    /// How long a claim made by `--wait` holds before an unreported call counts as
    /// outcome_unknown.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    lease: String,
    /// Approver groups, to check who approved before `--wait` hands out a call (default:
    /// approvers.yaml beside the policy).
    #[arg(long, value_name = "FILE", env = "HOLDPOINT_APPROVERS")]
    approvers: Option<PathBuf>,
}

pub(super) fn run(args: Args) -> Exit {
    #[cfg(feature = "serve")]
    if let Some(url) = args.server.clone() {
        return remote::run(&url, &args);
    }
    #[cfg(not(feature = "serve"))]
    if args.server.is_some() {
        eprintln!("error: this `policy` was built without the `serve` feature: no --server");
        return Exit::Usage;
    }
    let (Some(policy_path), Some(db)) = (args.policy.clone(), args.db.clone()) else {
        eprintln!("error: guard needs POLICY and --db FILE (local mode), or --server URL");
        return Exit::Usage;
    };
    let policy = match load_policy(&policy_path, args.tools.as_ref()) {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    let mut text = String::new();
    let label = if args.call == "-" {
        "<stdin>"
    } else {
        &args.call
    };
    if let Err(e) = input(&args.call).and_then(|mut r| r.read_to_string(&mut text)) {
        eprintln!("error: cannot read `{label}`: {e}");
        return Exit::Usage;
    }
    let policy_hash = holdpoint::approval::policy_hash(&policy);
    let inputs = match &args.inputs {
        Some(path) => match read_json(path) {
            Ok(v) => Some(v),
            Err(code) => return code,
        },
        None => None,
    };
    let proposal = match proposal(&text, &args, &policy_hash, inputs) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {label}: {e}");
            return Exit::Failed;
        }
    };
    // `--wait` alone waits without a limit.
    let wait = match args.wait.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(t) => match parse_duration(t) {
            Ok(d) => Some(Some(d)),
            Err(e) => {
                eprintln!("error: --wait: {e}");
                return Exit::Usage;
            }
        },
    };
    let lease = match parse_lease(&args.lease) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let store = match open_store(&db) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let path = std::fs::canonicalize(&policy_path).unwrap_or(policy_path.clone());
    // Only `--wait` hands out approved calls, so only it needs to know who may approve.
    let approvers = if wait.is_some() {
        match approvers_file(args.approvers.as_deref(), Some(&path)) {
            Ok(a) => a,
            Err(code) => return code,
        }
    } else {
        ApproversFile::default()
    };
    let mut guard = Guard::new(policy, store, Arc::new(approvers))
        .with_policy_path(path.display().to_string())
        .with_lease(lease);
    if let Some(tools) = &args.tools {
        let tools = std::fs::canonicalize(tools).unwrap_or(tools.clone());
        guard = guard.with_catalog_path(tools.display().to_string());
    }
    let submitted = match guard.submit(proposal) {
        Ok(s) => s,
        Err(e) => return approval_error(&e),
    };
    match submitted {
        Submitted::Permit(p) => {
            print_json(&json!({
                "effect": p.effect(),
                "run": true,
                "call": p.payload(),
            }));
            Exit::Ok
        }
        Submitted::Denied(d) => {
            print_json(&json!({"effect": "deny", "run": false, "decision": d}));
            Exit::Refused
        }
        Submitted::Waiting(w) => {
            let answer = match guard.store().get(&w.id) {
                Ok(Some(r)) => waiting_json(&w, &r),
                Ok(None) => return approval_error(&Error::NotFound(w.id.clone())),
                Err(e) => return approval_error(&e),
            };
            let Some(limit) = wait else {
                print_json(&answer);
                // A resubmitted request may be decided already: claim an approved one, and
                // never run one that was refused or has run.
                return match w.state {
                    State::Pending | State::Approved | State::ApprovedWithEdits => Exit::Waiting,
                    _ => Exit::Refused,
                };
            };
            // The id first, on its own line, before blocking: the agent can record it (or
            // cancel the request) while it waits.
            print_line(&answer);
            match guard.wait_for(&w.id, limit) {
                Ok(r) => {
                    let code = match &r {
                        Resumed::Permit(_) => Exit::Ok,
                        Resumed::Pending(_) => Exit::Waiting,
                        _ => Exit::Refused,
                    };
                    // The claim stays open: whoever runs the call reports with
                    // `policy approvals finish ID --claim TOKEN`, or the lease runs out and
                    // the request becomes outcome_unknown.
                    print_line(&resumed_json(&r));
                    code
                }
                // Guarding a call that was claimed already: it must not run again.
                Err(e @ holdpoint::approval::Error::AlreadyClaimed { .. }) => {
                    eprintln!("error: {e}");
                    Exit::Refused
                }
                Err(e) => approval_error(&e),
            }
        }
    }
}

/// What the agent needs to know of a call that waits, in one answer: the request, how it
/// waits (mode), every gate with who may decide it, by when and whether it approved, the
/// reasons and what could not be judged.
fn waiting_json(w: &Waiting, r: &Request) -> Value {
    let decision = &r.checkpoint.decision;
    let mode = decision.approval.as_ref().map(|a| a.mode);
    let gates: Vec<Value> = r
        .status
        .gates
        .iter()
        .map(|g| {
            json!({
                "rule": g.rule,
                "groups": g.groups,
                "quorum": g.quorum,
                "approved_by": g.approvers_of(&r.status.payload_digest),
                "decisions": g.decisions,
                "within_s": g.within_s,
                "on_timeout": g.on_timeout,
                "due_at": g.deadline.map(format_time),
                "approved": g.approves(&r.status.payload_digest),
            })
        })
        .collect();
    json!({
        "effect": "approve",
        "run": false,
        "request": w.id,
        "created": w.created,
        "state": w.state,
        "mode": mode,
        "groups": w.groups,
        "due_at": w.due_at.map(format_time),
        "gates": gates,
        "rules": decision.rules,
        "reasons": decision.reasons,
        "unknown": decision.unknown,
    })
}

/// One JSON value on one line, flushed (`--wait` prints two: the waiting answer, then the
/// outcome).
fn print_line(v: &Value) {
    say!("{v}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
}

/// Builds the proposal from a tool call or a proposal envelope, then the flags.
fn proposal(
    text: &str,
    args: &Args,
    policy_hash: &str,
    inputs: Option<Value>,
) -> Result<Proposal, String> {
    let stated = Stated {
        user: args.user.clone(),
        tenant: args.tenant.clone(),
        agent: args.agent.clone(),
        credentials_ref: args.credentials.clone(),
        run_id: args.run_id.clone(),
        tool_call_id: args.call_id.clone(),
        reasoning: args.reasoning.clone(),
        inputs,
    };
    let fallbacks = Fallbacks {
        agent: "policy-cli".into(),
        run_id: "cli".into(),
        ..Fallbacks::default()
    };
    Proposal::from_json(text, &stated, &fallbacks, policy_hash).map_err(|e| e.to_string())
}
