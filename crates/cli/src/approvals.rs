//! `policy approvals`: list, show, decide, wait for, expire, claim, finish and verify
//! requests in an approvals database.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;

mod decide;
mod edit;
#[cfg(feature = "serve")]
pub(crate) mod remote;
mod show;

pub(crate) use decide::approvers_file;
use serde_json::{Value, json};

use super::{Exit, Format};
use holdpoint::approval::store::{SqliteStore, Store};
use holdpoint::approval::{ApproversFile, Desk, Error, Guard, Resumed, State, format_time};

/// What every `approvals` help says of the local mode.
const LOCAL_MODE_HELP: &str = "Without --server this is the local mode: single-user, the agent's \
    process holds the database; for a trust boundary use `--server` (a running `policy serve`, \
    with the token in HOLDPOINT_TOKEN). See docs/approvals.md.";

/// Arguments of `policy approvals`.
#[derive(clap::Args)]
#[command(after_help = LOCAL_MODE_HELP)]
pub struct Args {
    /// The approvals database (local mode: single-user, the agent's process holds the
    /// database; for a trust boundary use `--server`).
    #[arg(long, value_name = "FILE", env = "HOLDPOINT_DB", global = true)]
    db: Option<PathBuf>,
    /// A running `policy serve` (http://HOST:PORT) to work with instead of a local
    /// database; the token comes from HOLDPOINT_TOKEN.
    #[arg(long, value_name = "URL", env = "HOLDPOINT_SERVER", global = true)]
    server: Option<String>,
    /// The service token (an agent's or an approver's). Prefer the HOLDPOINT_TOKEN
    /// variable: a flag shows in the shell history and the process list.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HOLDPOINT_TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
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
    Decide(decide::DecideArgs),
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
        /// Approver groups, to check who approved (default: approvers.yaml beside the
        /// policy).
        #[arg(long, value_name = "FILE", env = "HOLDPOINT_APPROVERS")]
        approvers: Option<PathBuf>,
    },
    /// Withdraw a pending request (as the agent that proposed it): it will never run.
    Cancel {
        /// The request id.
        id: String,
        /// Why (kept in the `cancelled` event).
        #[arg(long)]
        reason: Option<String>,
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

pub(super) fn run(args: Args) -> Exit {
    if let Some(url) = args.server.as_deref() {
        return remote_run(url, args.token.as_deref(), args.command);
    }
    let Some(db) = args.db else {
        eprintln!(
            "error: no database: pass --db FILE or set HOLDPOINT_DB (local mode), or --server URL"
        );
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
        } => show::list(store, state.as_deref(), group.as_deref(), format),
        Command::Show { id, format } => show::show(store, &id, format),
        Command::Decide(a) => decide::decide(store, a),
        Command::Wait { id, timeout } => wait(store, &id, timeout.as_deref()),
        Command::Expire => expire(store),
        Command::Claim {
            id,
            policy,
            tools,
            lease,
            approvers,
        } => claim(
            store,
            &id,
            ClaimFrom {
                policy: policy.as_deref(),
                tools: tools.as_ref(),
                approvers: approvers.as_deref(),
            },
            &lease,
        ),
        Command::Finish {
            id,
            claim,
            outcome,
            result,
        } => finish(store, &id, &claim, &outcome, result),
        Command::Cancel { id, reason } => cancel(store, &id, reason.as_deref()),
        Command::Verify { format } => verify(store, format),
    }
}

/// `--server URL`: the command against a running service.
#[cfg(feature = "serve")]
fn remote_run(url: &str, token: Option<&str>, command: Command) -> Exit {
    match remote::client::Server::connect(url, token) {
        Ok(server) => remote::run(&server, command),
        Err(code) => code,
    }
}

/// `--server URL` in a build without the `serve` feature.
#[cfg(not(feature = "serve"))]
fn remote_run(_url: &str, _token: Option<&str>, _command: Command) -> Exit {
    eprintln!("error: this `policy` was built without the `serve` feature: no --server");
    Exit::Usage
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
        // The call must not run: say so as a refusal, like a denied or rejected call.
        Error::PolicyNowDenies { .. } => Exit::Refused,
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
pub(crate) fn parse_lease(text: &str) -> Result<Duration, Exit> {
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
    holdpoint::parse_json(&text).map_err(|e| {
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

fn cancel(store: Arc<SqliteStore>, id: &str, reason: Option<&str>) -> Exit {
    let Some(reason) = reason.filter(|r| !r.trim().is_empty()) else {
        eprintln!("error: a cancellation needs --reason");
        return Exit::Usage;
    };
    let now = holdpoint::approval::Clock::now_ms(&holdpoint::approval::SystemClock);
    match holdpoint::approval::cancel(&*store, id, reason, now) {
        Ok(r) => {
            print_json(&json!({"request": r.id(), "state": r.state(), "run": false}));
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

/// Where `claim` finds the policy, the catalog and the approvers (default: as the
/// request's checkpoint recorded them).
struct ClaimFrom<'a> {
    policy: Option<&'a Path>,
    tools: Option<&'a PathBuf>,
    approvers: Option<&'a Path>,
}

fn claim(store: Arc<SqliteStore>, id: &str, from: ClaimFrom<'_>, lease: &str) -> Exit {
    let lease = match parse_lease(lease) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let request = match store.get(id) {
        Ok(Some(r)) => r,
        Ok(None) => return approval_error(&Error::NotFound(id.to_string())),
        Err(e) => return approval_error(&e),
    };
    let policy = match decide::request_policy(&request, from.policy, from.tools, "claiming") {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    let approvers = match decide::approvers_for(&request, from.approvers) {
        Ok(a) => Arc::new(a),
        Err(code) => return code,
    };
    let guard = Guard::new(policy, store, approvers).with_lease(lease);
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
