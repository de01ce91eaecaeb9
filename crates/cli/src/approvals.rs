//! `policy approvals`: list, show, decide, wait for, expire, claim, finish and verify
//! requests in an approvals database.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Exit, Format, load_policy};
use holdpoint::approval::store::{SqliteStore, Store};
use holdpoint::approval::{
    ApproversFile, Desk, Error, Event, Guard, Request, Resumed, Ruling, State, Verdict,
    format_time, patch,
};

/// Arguments of `policy approvals`.
#[derive(clap::Args)]
pub struct Args {
    /// The approvals database.
    #[arg(long, value_name = "FILE", env = "HOLDPOINT_DB", global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List requests, oldest first.
    List {
        /// Only requests in this state (pending, approved, approved_with_edits, rejected,
        /// expired, cancelled, executing, executed, failed, outcome_unknown).
        #[arg(long)]
        state: Option<String>,
        /// Only requests waiting for this group.
        #[arg(long)]
        group: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Show one request: the checkpoint, the proposed call, its gates, edits as a diff, and
    /// its events.
    Show {
        /// The request id.
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Decide a request as an approver.
    Decide(DecideArgs),
    /// Block until a request is decided (or `--timeout` passes); applies its SLA.
    Wait {
        /// The request id.
        id: String,
        /// At most this long (`30s`, `5m`, `2h`); default: until decided or expired.
        #[arg(long, value_name = "DURATION")]
        timeout: Option<String>,
    },
    /// Apply every SLA and claim lease that has run out, now.
    Expire,
    /// Claim an approved request to run it: prints the call (edits applied) and the claim
    /// token to report with.
    Claim {
        /// The request id.
        id: String,
        /// The policy the request was made under (default: the path its checkpoint records).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The tool catalog it was made with (default: the one its checkpoint records).
        #[arg(long, value_name = "CATALOG")]
        tools: Option<PathBuf>,
        /// How long the claim holds before an unreported call is outcome_unknown.
        #[arg(long, value_name = "DURATION", default_value = "5m")]
        lease: String,
    },
    /// Report what became of a claimed call.
    Finish {
        /// The request id.
        id: String,
        /// The claim token `claim` printed.
        #[arg(long)]
        claim: String,
        /// `executed` or `failed`.
        outcome: String,
        /// A JSON result, or the failure's message.
        #[arg(long)]
        result: Option<String>,
    },
    /// Check the audit log's hash chain and every request against its events.
    Verify {
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
}

/// Arguments of `policy approvals decide`.
#[derive(clap::Args)]
struct DecideArgs {
    /// The request id.
    id: String,
    /// approve, reject, edit or escalate.
    decision: String,
    /// Who decides (must be in one of the gate's groups; never the requesting user or the
    /// agent).
    #[arg(long = "as", value_name = "IDENTITY")]
    approver: String,
    /// The reason (required to reject; a note otherwise).
    #[arg(long)]
    reason: Option<String>,
    /// For edit: a JSON file with the edited arguments.
    #[arg(long, value_name = "FILE", conflicts_with = "patch")]
    args: Option<PathBuf>,
    /// For edit: a JSON file with an RFC 6902 patch of the arguments.
    #[arg(long, value_name = "FILE")]
    patch: Option<PathBuf>,
    /// For escalate: the group to hand the gate to.
    #[arg(long, value_name = "GROUP")]
    to: Option<String>,
    /// Decide for this gate only (default: every waiting gate you may decide).
    #[arg(long, value_name = "RULE")]
    gate: Option<String>,
    /// The approvers file (default: approvers.yaml beside the policy the request was made
    /// under).
    #[arg(long, value_name = "FILE", env = "HOLDPOINT_APPROVERS")]
    approvers: Option<PathBuf>,
    /// The policy, to decide an edited call again (default: the path the checkpoint records).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The tool catalog the request was made with (default: the one its checkpoint records).
    #[arg(long, value_name = "CATALOG")]
    tools: Option<PathBuf>,
    /// The payload digest you reviewed (`show` prints it): the decision is refused if the
    /// call was edited since. Without it, the digest read when the command starts is used.
    #[arg(long, value_name = "DIGEST")]
    digest: Option<String>,
}

pub(super) fn run(args: Args) -> Exit {
    let Some(db) = args.db else {
        eprintln!("error: no database: pass --db FILE or set HOLDPOINT_DB");
        return Exit::Usage;
    };
    if !db.exists() {
        eprintln!("error: no approvals database at `{}`", db.display());
        return Exit::Usage;
    }
    let store = match open_store(&db) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match args.command {
        Command::List {
            state,
            group,
            format,
        } => list(store, state.as_deref(), group.as_deref(), format),
        Command::Show { id, format } => show(store, &id, format),
        Command::Decide(a) => decide(store, a),
        Command::Wait { id, timeout } => wait(store, &id, timeout.as_deref()),
        Command::Expire => expire(store),
        Command::Claim {
            id,
            policy,
            tools,
            lease,
        } => claim(store, &id, policy.as_deref(), tools.as_ref(), &lease),
        Command::Finish {
            id,
            claim,
            outcome,
            result,
        } => finish(store, &id, &claim, &outcome, result),
        Command::Verify { format } => verify(store, format),
    }
}

/// Opens (creating) the SQLite store, or prints why not.
pub(super) fn open_store(path: &Path) -> Result<Arc<SqliteStore>, Exit> {
    SqliteStore::open(path)
        .map(Arc::new)
        .map_err(|e| approval_error(&e))
}

/// Prints an approval error and returns its exit code: 2 for storage problems, 1 for a
/// refused operation.
pub(super) fn approval_error(e: &Error) -> Exit {
    eprintln!("error: {e}");
    match e {
        Error::Store(_)
        | Error::Corrupt(_)
        | Error::Foreign(_)
        | Error::NewerSchema { .. }
        | Error::UnknownVersion { .. }
        | Error::ReasonRequired => Exit::Usage,
        _ => Exit::Failed,
    }
}

/// Pretty JSON to standard output.
pub(super) fn print_json(v: &Value) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => say!("{s}"),
        Err(e) => eprintln!("error: {e}"),
    }
}

/// `90s`, `5m`, `2h`, `1d`, `1h30m`, or bare seconds.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    holdpoint::parse_duration(text).map_err(|e| e.to_string())
}

/// A claim's lease: a duration above zero. Prints the problem and gives the exit code.
pub(super) fn parse_lease(text: &str) -> Result<Duration, Exit> {
    match parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => {
            eprintln!("error: --lease `{text}`: a lease must be longer than zero");
            Err(Exit::Usage)
        }
        Err(e) => {
            eprintln!("error: --lease: {e}");
            Err(Exit::Usage)
        }
    }
}

/// Reads a JSON file; a file that cannot be read is a usage problem (2), one that is not
/// JSON a failed input (1). Prints the problem.
pub(super) fn read_json(path: &Path) -> Result<Value, Exit> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read `{}`: {e}", path.display());
        Exit::Usage
    })?;
    serde_json::from_str(&text).map_err(|e| {
        eprintln!("error: `{}` is not valid JSON: {e}", path.display());
        Exit::Failed
    })
}

/// The JSON of what resuming gave.
pub(super) fn resumed_json(r: &Resumed) -> Value {
    match r {
        Resumed::Permit(p) => json!({
            "state": "executing",
            "run": true,
            "request": p.request_id(),
            "call": p.payload(),
            "edited": p.was_edited(),
            "digest": p.digest(),
            "claim": p.claim_token(),
        }),
        Resumed::Pending(w) => json!({
            "state": "pending", "run": false, "request": w.id, "groups": w.groups,
            "due_at": w.due_at.map(format_time),
        }),
        Resumed::Rejected(x) => {
            json!({"state": "rejected", "run": false, "by": x.by, "reason": x.reason})
        }
        Resumed::Expired(x) => json!({"state": "expired", "run": false, "reason": x.reason}),
        Resumed::Cancelled => json!({"state": "cancelled", "run": false}),
        Resumed::Denied(d) => json!({"state": "denied", "run": false, "decision": d}),
    }
}

fn list(store: Arc<SqliteStore>, state: Option<&str>, group: Option<&str>, format: Format) -> Exit {
    let state = match state.map(|s| State::parse(s).ok_or(s)) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(s)) => {
            let all: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
            eprintln!("error: unknown state `{s}` (one of: {})", all.join(", "));
            return Exit::Usage;
        }
    };
    let desk = Desk::new(store, Arc::new(ApproversFile::default()));
    let listing = match desk.list(state, group) {
        Ok(r) => r,
        Err(e) => return approval_error(&e),
    };
    for (id, e) in &listing.unreadable {
        eprintln!("error: request `{id}` is skipped: {e}");
    }
    let code = if listing.unreadable.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    };
    let requests = listing.requests;
    if format == Format::Json {
        let rows: Vec<Value> = requests.iter().map(summary).collect();
        print_json(&Value::Array(rows));
        return code;
    }
    if requests.is_empty() {
        say!("no requests");
        return code;
    }
    say!(
        "{:<24}  {:<19}  {:<24}  {:<24}  {:<24}  due",
        "id",
        "state",
        "created",
        "tool",
        "waiting for"
    );
    for r in &requests {
        say!(
            "{:<24}  {:<19}  {:<24}  {:<24}  {:<24}  {}",
            r.id(),
            r.state().as_str(),
            format_time(r.checkpoint.created_at),
            r.status.payload.tool,
            r.waiting_groups().join(","),
            r.due_at().map(format_time).unwrap_or_default()
        );
    }
    code
}

fn summary(r: &Request) -> Value {
    json!({
        "id": r.id(),
        "state": r.state(),
        "tool": r.status.payload.tool,
        "tenant": r.checkpoint.identity.tenant,
        "user": r.checkpoint.identity.user,
        "rules": r.checkpoint.decision.rules,
        "waiting_for": r.waiting_groups(),
        "created_at": format_time(r.checkpoint.created_at),
        "due_at": r.due_at().map(format_time),
    })
}

fn show(store: Arc<SqliteStore>, id: &str, format: Format) -> Exit {
    let request = match store.get(id) {
        Ok(Some(r)) => r,
        Ok(None) => return approval_error(&Error::NotFound(id.to_string())),
        Err(e) => return approval_error(&e),
    };
    let events = match store.events(Some(id)) {
        Ok(e) => e,
        Err(e) => return approval_error(&e),
    };
    if format == Format::Json {
        print_json(&json!({"request": request, "events": events}));
        return Exit::Ok;
    }
    say_raw!("{}", render(&request, &events));
    Exit::Ok
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// The human view of a request.
fn render(r: &Request, events: &[Event]) -> String {
    use std::fmt::Write as _;
    let c = &r.checkpoint;
    let mut out = String::new();
    let id = &c.identity;
    let _ = writeln!(out, "request   {}", r.id());
    let _ = writeln!(out, "state     {}", r.state());
    let _ = writeln!(out, "digest    {}", r.status.payload_digest);
    let _ = writeln!(out, "tool      {}", r.status.payload.tool);
    let _ = writeln!(
        out,
        "for       user {} · tenant {} · agent {} · credentials {}",
        id.user.as_deref().unwrap_or("-"),
        id.tenant,
        id.agent,
        id.credentials_ref.as_deref().unwrap_or("-")
    );
    let _ = writeln!(out, "run       {} · tool call {}", c.run_id, c.tool_call_id);
    let _ = writeln!(
        out,
        "policy    {} {}",
        c.policy.name.as_deref().unwrap_or("(unnamed)"),
        c.policy.hash
    );
    let _ = writeln!(out, "created   {}", format_time(c.created_at));
    for reason in &c.decision.reasons {
        let _ = writeln!(out, "reason    {}: {}", reason.rule, reason.reason);
    }
    let _ = writeln!(out, "\ngates");
    for g in &r.status.gates {
        let approval = match &g.approval {
            Some(a) if a.digest == r.status.payload_digest => {
                format!("approved by {} at {}", a.by, format_time(a.at))
            }
            Some(a) => format!("approved an earlier version, by {}", a.by),
            None => "waiting".into(),
        };
        let groups = if g.groups.is_empty() {
            "any approver".to_string()
        } else {
            g.groups.join(", ")
        };
        let kinds: Vec<&str> = g.decisions.iter().map(|k| k.as_str()).collect();
        let due = g.deadline.map_or_else(|| "never".into(), format_time);
        let _ = writeln!(
            out,
            "  {:<22} by {groups} · may {} · due {due} · {approval}",
            g.rule,
            kinds.join("/")
        );
    }
    let _ = writeln!(out, "\nproposed call ({})", c.payload_digest);
    out.push_str(&indent(&pretty(&c.payload.args)));
    if let Some(p) = &r.status.patch {
        let _ = writeln!(out, "\nedited call ({})", r.status.payload_digest);
        let before = pretty(&c.payload.args) + "\n";
        let after = pretty(&r.status.payload.args) + "\n";
        let diff = similar::TextDiff::from_lines(&before, &after);
        let unified = diff.unified_diff().header("proposed", "edited").to_string();
        out.push_str(&indent(&unified));
        let _ = writeln!(out, "  as a JSON Patch");
        out.push_str(&indent(&pretty(p)));
    }
    // What the policy says the approver should look at (`show diff PATH`).
    let focus = c.decision.approval.iter().flat_map(|a| a.gates.iter());
    for (gate, path) in focus.filter_map(|g| g.show_diff.as_deref().map(|p| (&g.rule, p))) {
        let proposed = lookup(&c.payload.args, &c.context, path);
        let current = lookup(&r.status.payload.args, &c.context, path);
        let _ = writeln!(out, "\nto review for {gate}: {path}");
        match (proposed, current) {
            (Some(a), Some(b)) if a != b => {
                let (a, b) = (pretty(a) + "\n", pretty(b) + "\n");
                let diff = similar::TextDiff::from_lines(&a, &b);
                let unified = diff.unified_diff().header("proposed", "edited").to_string();
                out.push_str(&indent(&unified));
            }
            (_, Some(v)) => out.push_str(&indent(&pretty(v))),
            (_, None) => out.push_str("    <missing>\n"),
        }
    }
    if c.context.as_object().is_some_and(|m| !m.is_empty()) {
        let _ = writeln!(out, "\ncontext");
        out.push_str(&indent(&pretty(&c.context)));
    }
    if let Some(reasoning) = &c.reasoning {
        let _ = writeln!(out, "\nreasoning\n    {reasoning}");
    }
    for alt in &c.alternatives {
        let _ = writeln!(out, "  alternative: {alt}");
    }
    if !c.inputs.is_null() {
        let _ = writeln!(out, "\ninputs");
        out.push_str(&indent(&pretty(&c.inputs)));
    }
    let _ = writeln!(out, "\nevents");
    for e in events {
        let transition = match (e.from, e.to) {
            (Some(a), Some(b)) if a != b => format!(" {a} -> {b}"),
            _ => String::new(),
        };
        let gate = e
            .gate
            .as_deref()
            .map(|g| format!(" [{g}]"))
            .unwrap_or_default();
        let reason = e
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let added: Vec<&str> = e
            .data
            .get("added_gates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let added = if added.is_empty() {
            String::new()
        } else {
            format!(" (the edit adds gates: {})", added.join(", "))
        };
        let _ = writeln!(
            out,
            "  {:>4}  {}  {:<16} by {}{gate}{transition}{reason}{added}",
            e.seq,
            format_time(e.at),
            e.kind.as_str(),
            e.actor
        );
    }
    out
}

/// The value at a policy path (`args.changes`, `context.tier`, `args.items[0]`,
/// `args["odd key"]`) in a call's arguments or context.
fn lookup<'a>(args: &'a Value, context: &'a Value, path: &str) -> Option<&'a Value> {
    let (mut cur, rest) = if let Some(rest) = path.strip_prefix("args") {
        (args, rest)
    } else {
        (context, path.strip_prefix("context")?)
    };
    let mut rest = rest;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]")?;
            cur = cur.get(&r[..end])?;
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            cur = cur.get(r[..end].parse::<usize>().ok()?)?;
            rest = &r[end + 1..];
        } else {
            let r = rest.strip_prefix('.')?;
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?;
            rest = &r[end..];
        }
    }
    Some(cur)
}

/// The policy a request was made under: `--policy` and `--tools` if given, else the paths
/// its checkpoint records. Prints the problem and gives the exit code.
fn request_policy(
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

fn decide(store: Arc<SqliteStore>, a: DecideArgs) -> Exit {
    let request = match store.get(&a.id) {
        Ok(Some(r)) => r,
        Ok(None) => return approval_error(&Error::NotFound(a.id.clone())),
        Err(e) => return approval_error(&e),
    };
    let recorded = request.checkpoint.policy.path.as_ref().map(PathBuf::from);
    let beside = |p: &PathBuf| holdpoint::project::approvers_beside(p);
    let approvers_path = a
        .approvers
        .clone()
        .or_else(|| recorded.as_ref().and_then(beside));
    let Some(approvers_path) = approvers_path else {
        eprintln!(
            "error: no approvers file: pass --approvers FILE (or put approvers.yaml beside the policy)"
        );
        return Exit::Usage;
    };
    let approvers = match ApproversFile::load(&approvers_path) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            // A file that cannot be read is a usage problem; one that does not parse, a
            // failed input.
            return if approvers_path.is_file() {
                Exit::Failed
            } else {
                Exit::Usage
            };
        }
    };
    let verdict = match a.decision.as_str() {
        "approve" => Verdict::Approve,
        "reject" => match &a.reason {
            Some(r) => Verdict::Reject { reason: r.clone() },
            None => {
                eprintln!("error: a rejection needs --reason");
                return Exit::Usage;
            }
        },
        "edit" => {
            let (file, args) = match (&a.args, &a.patch) {
                (Some(file), _) => match read_json(file) {
                    Ok(v) => (file, v),
                    Err(code) => return code,
                },
                (None, Some(file)) => {
                    let p = match read_json(file) {
                        Ok(p) => p,
                        Err(code) => return code,
                    };
                    match patch::apply(&request.status.payload.args, &p) {
                        Ok(v) => (file, v),
                        Err(e) => {
                            eprintln!("error: `{}`: {e}", file.display());
                            return Exit::Failed;
                        }
                    }
                }
                (None, None) => {
                    eprintln!("error: an edit needs --args FILE or --patch FILE");
                    return Exit::Usage;
                }
            };
            if !args.is_object() {
                eprintln!(
                    "error: `{}`: the edited arguments must be a JSON object",
                    file.display()
                );
                return Exit::Failed;
            }
            Verdict::Edit { args }
        }
        "escalate" => match &a.to {
            Some(to) => Verdict::Escalate { to: to.clone() },
            None => {
                eprintln!("error: an escalation needs --to GROUP");
                return Exit::Usage;
            }
        },
        other => {
            eprintln!("error: unknown decision `{other}` (approve, reject, edit or escalate)");
            return Exit::Usage;
        }
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

fn wait(store: Arc<SqliteStore>, id: &str, timeout: Option<&str>) -> Exit {
    let limit = match timeout.map(parse_duration).transpose() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --timeout: {e}");
            return Exit::Usage;
        }
    };
    let desk = Desk::new(store.clone(), Arc::new(ApproversFile::default()));
    let start = std::time::Instant::now();
    loop {
        if let Err(e) = desk.expire_request(id) {
            return approval_error(&e);
        }
        let r = match desk.request(id) {
            Ok(r) => r,
            Err(e) => return approval_error(&e),
        };
        let state = r.state();
        if state != State::Pending {
            say!("{id}: {state}");
            // Only an approved, unclaimed call is one to run now.
            return if state.is_approved() {
                Exit::Ok
            } else {
                Exit::Refused
            };
        }
        if limit.is_some_and(|l| start.elapsed() >= l) {
            say!(
                "{id}: pending (waiting for {})",
                r.waiting_groups().join(", ")
            );
            return Exit::Waiting;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn expire(store: Arc<SqliteStore>) -> Exit {
    let desk = Desk::new(store, Arc::new(ApproversFile::default()));
    match desk.expire() {
        Ok(sweep) => {
            for (id, e) in &sweep.failures {
                eprintln!("error: request `{id}` was not swept: {e}");
            }
            let events = sweep.events;
            for e in &events {
                say!(
                    "{} {}{}{}",
                    e.request_id.as_deref().unwrap_or("-"),
                    e.kind.as_str(),
                    e.gate
                        .as_deref()
                        .map(|g| format!(" [{g}]"))
                        .unwrap_or_default(),
                    e.to.map(|s| format!(" -> {s}")).unwrap_or_default()
                );
            }
            say!("{} event(s)", events.len());
            if sweep.failures.is_empty() {
                Exit::Ok
            } else {
                Exit::Failed
            }
        }
        Err(e) => approval_error(&e),
    }
}

fn claim(
    store: Arc<SqliteStore>,
    id: &str,
    policy: Option<&Path>,
    tools: Option<&PathBuf>,
    lease: &str,
) -> Exit {
    let lease = match parse_lease(lease) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let request = match store.get(id) {
        Ok(Some(r)) => r,
        Ok(None) => return approval_error(&Error::NotFound(id.to_string())),
        Err(e) => return approval_error(&e),
    };
    let policy = match request_policy(&request, policy, tools, "claiming") {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    let guard = Guard::new(policy, store).with_lease(lease);
    match guard.resume(id) {
        Ok(r) => {
            print_json(&resumed_json(&r));
            match r {
                Resumed::Permit(_) => Exit::Ok,
                Resumed::Pending(_) => Exit::Waiting,
                _ => Exit::Refused,
            }
        }
        Err(e) => approval_error(&e),
    }
}

fn finish(
    store: Arc<SqliteStore>,
    id: &str,
    claim: &str,
    outcome: &str,
    result: Option<String>,
) -> Exit {
    let result = match outcome {
        "executed" => Ok(match result {
            Some(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            None => Value::Null,
        }),
        "failed" => Err(result.unwrap_or_else(|| "failed".into())),
        other => {
            eprintln!("error: unknown outcome `{other}` (executed or failed)");
            return Exit::Usage;
        }
    };
    // Reporting needs no policy: the claim token is the proof.
    let now = holdpoint::approval::Clock::now_ms(&holdpoint::approval::SystemClock);
    match holdpoint::approval::report(&*store, id, claim, result, now) {
        Ok(()) => {
            let state = store.get(id).ok().flatten().map(|r| r.state());
            say!("{id}: {}", state.map_or("recorded", State::as_str));
            Exit::Ok
        }
        Err(e) => approval_error(&e),
    }
}

fn verify(store: Arc<SqliteStore>, format: Format) -> Exit {
    let desk = Desk::new(store, Arc::new(ApproversFile::default()));
    let report = match desk.verify() {
        Ok(r) => r,
        Err(e) => return approval_error(&e),
    };
    if format == Format::Json {
        print_json(&json!(report));
    } else {
        for b in &report.breaks {
            say!("event {}: {}", b.seq, b.problem);
        }
        for p in &report.problems {
            say!("{p}");
        }
        say!(
            "{} event(s), {} request(s): {}; head {}",
            report.events,
            report.requests,
            if report.is_ok() { "intact" } else { "BROKEN" },
            report.head.as_deref().unwrap_or("-")
        );
    }
    if report.is_ok() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}
