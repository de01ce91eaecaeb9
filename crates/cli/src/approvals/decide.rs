//! `policy approvals decide`: an approver's ruling on a waiting call, bound to the payload
//! they reviewed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use holdpoint::approval::store::{SqliteStore, Store};
use holdpoint::approval::{ApproversFile, Desk, Error, Request, Ruling, State, Verdict, patch};
use serde_json::Value;

use super::{approval_error, read_json};
use crate::{Exit, load_policy};

/// Arguments of `policy approvals decide`.
#[derive(clap::Args)]
pub(super) struct DecideArgs {
    /// The request id.
    pub(super) id: String,
    /// approve, reject, edit or escalate.
    pub(super) decision: String,
    /// Who decides (must be in one of the gate's groups; never the requesting user or the
    /// agent).
    #[arg(long = "as", value_name = "IDENTITY")]
    pub(super) approver: String,
    /// The reason (required to reject; a note otherwise).
    #[arg(long)]
    pub(super) reason: Option<String>,
    /// For edit: a JSON file with the edited arguments.
    #[arg(long, value_name = "FILE", conflicts_with = "patch")]
    pub(super) args: Option<PathBuf>,
    /// For edit: a JSON file with an RFC 6902 patch of the arguments.
    #[arg(long, value_name = "FILE")]
    pub(super) patch: Option<PathBuf>,
    /// For escalate: the group to hand the gate to.
    #[arg(long, value_name = "GROUP")]
    pub(super) to: Option<String>,
    /// Decide for this gate only (default: every waiting gate you may decide).
    #[arg(long, value_name = "RULE")]
    pub(super) gate: Option<String>,
    /// The approvers file (default: approvers.yaml beside the policy the request was made
    /// under).
    #[arg(long, value_name = "FILE", env = "HOLDPOINT_APPROVERS")]
    pub(super) approvers: Option<PathBuf>,
    /// The policy, to decide an edited call again (default: the path the checkpoint records).
    #[arg(long)]
    pub(super) policy: Option<PathBuf>,
    /// The tool catalog the request was made with (default: the one its checkpoint records).
    #[arg(long, value_name = "CATALOG")]
    pub(super) tools: Option<PathBuf>,
    /// The payload digest you reviewed (`show` prints it): the decision is refused if the
    /// call was edited since. Without it, the digest read when the command starts is used.
    #[arg(long, value_name = "DIGEST")]
    pub(super) digest: Option<String>,
}

/// The policy a request was made under: `--policy` and `--tools` if given, else the paths
/// its checkpoint records. Prints the problem and gives the exit code.
pub(super) fn request_policy(
    request: &Request,
    policy: Option<&Path>,
    tools: Option<&PathBuf>,
    what: &str,
) -> Result<holdpoint::Policy, Exit> {
    let recorded = request.checkpoint.policy.path.as_ref().map(PathBuf::from);
    let Some(path) = policy.map(Path::to_path_buf).or(recorded) else {
        eprintln!("error: {what} needs the policy: pass --policy PATH");
        return Err(Exit::Usage);
    };
    if !path.exists() {
        eprintln!(
            "error: the policy at `{}` no longer exists; pass --policy PATH",
            path.display()
        );
        return Err(Exit::Usage);
    }
    let tools = tools.cloned().or_else(|| {
        request
            .checkpoint
            .policy
            .catalog
            .as_ref()
            .map(PathBuf::from)
    });
    load_policy(&path, tools.as_ref())
}

/// Reads the request, the approvers and the verdict, then lets the desk decide.
pub(super) fn decide(store: Arc<SqliteStore>, a: DecideArgs) -> Exit {
    let request = match store.get(&a.id) {
        Ok(Some(r)) => r,
        Ok(None) => return approval_error(&Error::NotFound(a.id.clone())),
        Err(e) => return approval_error(&e),
    };
    let approvers = match approvers_for(&request, a.approvers.as_deref()) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let verdict = match verdict(&a, &request) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mut desk = Desk::new(store, Arc::new(approvers));
    if matches!(verdict, Verdict::Edit { .. }) {
        match request_policy(&request, a.policy.as_deref(), a.tools.as_ref(), "an edit") {
            Ok(p) => desk = desk.with_policy(Arc::new(p)),
            Err(code) => return code,
        }
    }
    let mut ruling = Ruling::new(a.approver, verdict);
    ruling.note = if a.decision == "reject" {
        None
    } else {
        a.reason
    };
    ruling.gate = a.gate;
    // Bind the decision to the payload it was made on: an edit by another approver in the
    // meantime refuses it instead of approving what nobody here saw.
    ruling.seen = Some(a.digest.unwrap_or(request.status.payload_digest));
    match desk.decide(&a.id, &ruling) {
        Ok(r) => {
            say!(
                "{}: {}{}",
                r.id(),
                r.state(),
                if r.state() == State::Pending {
                    format!(" (waiting for {})", r.waiting_groups().join(", "))
                } else {
                    String::new()
                }
            );
            Exit::Ok
        }
        Err(e) => approval_error(&e),
    }
}

/// The approvers: `--approvers`, else the file beside the policy the request was made
/// under. Prints the problem and gives the exit code.
pub(crate) fn approvers_for(
    request: &Request,
    given: Option<&Path>,
) -> Result<ApproversFile, Exit> {
    let recorded = request.checkpoint.policy.path.as_ref().map(PathBuf::from);
    approvers_file(given, recorded.as_deref())
}

/// The approvers file: the one given, else the one beside `policy` (a `.gate` file or a
/// policy directory). Prints the problem and gives the exit code.
pub(crate) fn approvers_file(
    given: Option<&Path>,
    policy: Option<&Path>,
) -> Result<ApproversFile, Exit> {
    let path = given
        .map(Path::to_path_buf)
        .or_else(|| policy.and_then(holdpoint::project::approvers_beside));
    let Some(path) = path else {
        eprintln!(
            "error: no approvers file: pass --approvers FILE (or put approvers.yaml beside the policy)"
        );
        return Err(Exit::Usage);
    };
    ApproversFile::load(&path).map_err(|e| {
        eprintln!("error: {e}");
        // A file that cannot be read is a usage problem; one that does not parse, a
        // failed input.
        if path.is_file() {
            Exit::Failed
        } else {
            Exit::Usage
        }
    })
}

/// The verdict the arguments ask for, with what each kind needs.
fn verdict(a: &DecideArgs, request: &Request) -> Result<Verdict, Exit> {
    let needs = |what: &str| {
        eprintln!("error: {what}");
        Exit::Usage
    };
    match a.decision.as_str() {
        "approve" => Ok(Verdict::Approve),
        "reject" => match &a.reason {
            Some(r) => Ok(Verdict::Reject { reason: r.clone() }),
            None => Err(needs("a rejection needs --reason")),
        },
        "edit" => edited_args(a, request).map(|args| Verdict::Edit { args }),
        "escalate" => match &a.to {
            Some(to) => Ok(Verdict::Escalate { to: to.clone() }),
            None => Err(needs("an escalation needs --to GROUP")),
        },
        other => Err(needs(&format!(
            "unknown decision `{other}` (approve, reject, edit or escalate)"
        ))),
    }
}

/// The edited arguments: `--args FILE`, or `--patch FILE` applied to the current ones.
fn edited_args(a: &DecideArgs, request: &Request) -> Result<Value, Exit> {
    let (file, args) = match (&a.args, &a.patch) {
        (Some(file), _) => (file, read_json(file)?),
        (None, Some(file)) => {
            let p = read_json(file)?;
            match patch::apply(&request.status.payload.args, &p) {
                Ok(v) => (file, v),
                Err(e) => {
                    eprintln!("error: `{}`: {e}", file.display());
                    return Err(Exit::Failed);
                }
            }
        }
        (None, None) => {
            eprintln!("error: an edit needs --args FILE or --patch FILE");
            return Err(Exit::Usage);
        }
    };
    if !args.is_object() {
        eprintln!(
            "error: `{}`: the edited arguments must be a JSON object",
            file.display()
        );
        return Err(Exit::Failed);
    }
    Ok(args)
}
