//! `policy approvals decide`: an approver's ruling on a waiting call, bound to the payload
//! they reviewed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use holdpoint::approval::store::{SqliteStore, Store};
use holdpoint::approval::{ApproversFile, Desk, Error, Request, Ruling, State, Verdict};

use super::approval_error;
use super::edit::{EditInput, edited_args};
use crate::{Exit, load_policy};
use holdpoint::ToolSpec;

/// Arguments of `policy approvals decide`.
#[derive(clap::Args)]
pub(super) struct DecideArgs {
    /// The request id.
    pub(super) id: String,
    /// approve, reject, edit or escalate.
    pub(super) decision: String,
    /// Who decides (must be in one of the gate's groups; never the requesting user or the
    /// agent). Local mode only: with --server the approver is the token's holder.
    #[arg(long = "as", value_name = "IDENTITY")]
    pub(super) approver: Option<String>,
    /// The reason (required to reject; a note otherwise).
    #[arg(long)]
    pub(super) reason: Option<String>,
    /// For edit: set one field, typed by the catalog (`amount=450`, `address.city=Oslo`);
    /// repeatable, applied after --args or --patch.
    #[arg(long, value_name = "PATH=VALUE")]
    pub(super) set: Vec<String>,
    /// For edit: the edited arguments, as inline JSON (`{"amount": 450}`) or a JSON file.
    #[arg(long, value_name = "JSON|FILE", conflicts_with = "patch")]
    pub(super) args: Option<String>,
    /// For edit: an RFC 6902 patch of the current arguments, inline (`[{"op": ...}]`) or a
    /// JSON file.
    #[arg(long, value_name = "JSON|FILE")]
    pub(super) patch: Option<String>,
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
    let Some(approver) = a.approver.clone() else {
        eprintln!("error: say who decides: --as IDENTITY (or use --server with your token)");
        return Exit::Usage;
    };
    let request = match store.get(&a.id) {
        Ok(Some(r)) => r,
        Ok(None) => return approval_error(&Error::NotFound(a.id.clone())),
        Err(e) => return approval_error(&e),
    };
    let approvers = match approvers_for(&request, a.approvers.as_deref()) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // An edit is decided again under the policy, and typed by its catalog.
    let policy = if a.decision == "edit" {
        match request_policy(&request, a.policy.as_deref(), a.tools.as_ref(), "an edit") {
            Ok(p) => Some(Arc::new(p)),
            Err(code) => return code,
        }
    } else {
        None
    };
    let tool = policy
        .as_deref()
        .and_then(|p| p.catalog())
        .and_then(|c| c.tool(&request.status.payload.tool));
    let verdict = match verdict(&a, &request, tool) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let mut desk = Desk::new(store, Arc::new(approvers));
    if let Some(p) = &policy {
        desk = desk.with_policy(p.clone());
    }
    let before = request.status.payload.args.clone();
    let mut ruling = Ruling::new(approver, verdict);
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
            // What the edit changed, as the approvers of the other gates will see it.
            if r.status.payload.args != before {
                say_raw!(
                    "{}",
                    super::show::edit_diff(&before, &r.status.payload.args)
                );
            }
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
fn verdict(a: &DecideArgs, request: &Request, tool: Option<&ToolSpec>) -> Result<Verdict, Exit> {
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
        "edit" => {
            let input = EditInput {
                args: a.args.as_deref(),
                patch: a.patch.as_deref(),
                set: &a.set,
            };
            edited_args(&input, &request.status.payload.args, tool)
                .map(|args| Verdict::Edit { args })
        }
        "escalate" => match &a.to {
            Some(to) => Ok(Verdict::Escalate { to: to.clone() }),
            None => Err(needs("an escalation needs --to GROUP")),
        },
        other => Err(needs(&format!(
            "unknown decision `{other}` (approve, reject, edit or escalate)"
        ))),
    }
}
