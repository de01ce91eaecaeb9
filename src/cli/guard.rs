//! `policy guard`: decide a call and, if it must wait, record its checkpoint.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::approvals::{approval_error, open_store, parse_duration, print_json, resumed_json};
use super::{FAILED, OK, REFUSED, USAGE, WAITING, input, load_policy};
use crate::approval::{Guard, Identity, Proposal, Resumed, Submitted};
use crate::eval::call::ToolCall;

/// Arguments of `policy guard`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy: a .gate file or a policy directory.
    policy: PathBuf,
    /// The call as JSON (`-` reads standard input): a tool call, or a proposal
    /// `{"call": {...}, "identity": {...}, "run_id", "tool_call_id", "inputs", "reasoning",
    /// "alternatives"}`.
    #[arg(long, value_name = "FILE", default_value = "-")]
    call: String,
    /// The approvals database (created if missing).
    #[arg(long, value_name = "FILE", env = "HOLDPOINT_DB")]
    db: PathBuf,
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
    /// The tool-call id (default: the proposal's, else one derived from the payload, so
    /// guarding the same call twice finds the same request).
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
}

pub(super) fn run(args: Args) -> i32 {
    let policy = match load_policy(&args.policy, args.tools.as_ref()) {
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
        return USAGE;
    }
    let proposal = match proposal(&text, &args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {label}: {e}");
            return FAILED;
        }
    };
    let wait = match args.wait.as_deref().map(parse_duration) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            eprintln!("error: --wait: {e}");
            return USAGE;
        }
    };
    let lease = match parse_duration(&args.lease) {
        Ok(Some(d)) => d,
        Ok(None) | Err(_) => {
            eprintln!("error: --lease: expected a duration such as `90s`, `5m` or `1h`");
            return USAGE;
        }
    };
    let store = match open_store(&args.db) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let path = std::fs::canonicalize(&args.policy).unwrap_or(args.policy.clone());
    let guard = Guard::new(policy, store)
        .with_policy_path(path.display().to_string())
        .with_lease(lease);
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
            OK
        }
        Submitted::Denied(d) => {
            print_json(&json!({"effect": "deny", "run": false, "decision": d}));
            REFUSED
        }
        Submitted::Waiting(w) => {
            let Some(limit) = wait else {
                print_json(&json!({
                    "effect": "approve",
                    "run": false,
                    "request": w.id,
                    "created": w.created,
                    "state": "pending",
                    "groups": w.groups,
                    "due_at": w.due_at.map(crate::approval::format_time),
                }));
                return WAITING;
            };
            match guard.wait_for(&w.id, limit) {
                Ok(r) => {
                    let code = match &r {
                        Resumed::Permit(_) => OK,
                        Resumed::Pending(_) => WAITING,
                        _ => REFUSED,
                    };
                    // The claim stays open: whoever runs the call reports with
                    // `policy approvals finish ID --claim TOKEN`, or the lease runs out and
                    // the request becomes outcome_unknown.
                    print_json(&resumed_json(&r));
                    code
                }
                Err(e) => approval_error(&e),
            }
        }
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Builds the proposal from a tool call or a proposal envelope, then the flags.
fn proposal(text: &str, args: &Args) -> Result<Proposal, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let envelope = value.get("call").is_some_and(Value::is_object);
    let (call, env) = if envelope {
        let call_text = value.get("call").map(Value::to_string).unwrap_or_default();
        (ToolCall::from_json(&call_text), value.clone())
    } else {
        (ToolCall::from_json(text), Value::Null)
    };
    let call = call.map_err(|e| e.to_string())?;
    let mut identity: Identity = match env.get("identity") {
        Some(i) => serde_json::from_value(i.clone())
            .map_err(|e| format!("`identity`: {e} (it needs `tenant` and `agent`)"))?,
        None => Identity {
            user: str_field(&call.context, "user"),
            tenant: str_field(&call.context, "tenant").unwrap_or_else(|| "default".into()),
            agent: "policy-cli".into(),
            credentials_ref: None,
        },
    };
    if let Some(t) = &args.tenant {
        identity.tenant = t.clone();
    }
    if let Some(a) = &args.agent {
        identity.agent = a.clone();
    }
    if let Some(u) = &args.user {
        identity.user = Some(u.clone());
    }
    if let Some(c) = &args.credentials {
        identity.credentials_ref = Some(c.clone());
    }
    let run_id = args
        .run_id
        .clone()
        .or_else(|| str_field(&env, "run_id"))
        .unwrap_or_else(|| "cli".into());
    let payload = crate::approval::Payload {
        tool: call.tool.clone(),
        args: call.args.clone(),
    };
    let call_id = args
        .call_id
        .clone()
        .or_else(|| str_field(&env, "tool_call_id"))
        .unwrap_or_else(|| format!("payload-{}", &payload.digest()["sha256:".len()..][..16]));
    let mut inputs = env.get("inputs").cloned().unwrap_or(Value::Null);
    if let Some(path) = &args.inputs {
        inputs = read_json(path)?;
    }
    let alternatives = match env.get("alternatives") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| format!("`alternatives` must be a list of strings: {e}"))?,
    };
    let mut p = Proposal::new(call, identity, run_id, call_id)
        .with_inputs(inputs)
        .with_alternatives(alternatives);
    p.reasoning = args
        .reasoning
        .clone()
        .or_else(|| str_field(&env, "reasoning"));
    Ok(p)
}

/// Reads a JSON file, naming it in errors.
pub(super) fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("`{}` is not valid JSON: {e}", path.display()))
}
