//! `policy approvals --server URL`: the same commands against a running `policy serve`.
//! The service holds the store; the token (`HOLDPOINT_TOKEN`) says who is calling, so an
//! approver is never a name given on the command line. Output follows the local mode's
//! (the same renderers); `--format json` prints the service's JSON.

pub(crate) mod client;
mod render;

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::decide::DecideArgs;
use super::edit::{EditInput, edited_args};
use super::{Command, parse_duration, print_json};
use crate::{Exit, Format};
use client::{Failure, Server, request_path};

/// The longest single long poll asked of the service (it cuts at 55 s anyway).
const POLL: Duration = Duration::from_secs(25);

/// Runs one `approvals` subcommand against the service.
pub(super) fn run(server: &Server, command: Command) -> Exit {
    match command {
        Command::List {
            state,
            group,
            format,
        } => list(server, state.as_deref(), group.as_deref(), format),
        Command::Show { id, format } => checked(&id, || show(server, &id, format)),
        Command::Decide(a) => checked(&a.id.clone(), || decide(server, a)),
        Command::Wait { id, timeout } => checked(&id, || wait(server, &id, timeout.as_deref())),
        Command::Claim {
            id, policy, tools, ..
        } => {
            if policy.is_some() || tools.is_some() {
                return not_here(
                    "--policy and --tools",
                    "the service claims under its policy",
                );
            }
            checked(&id, || claim(server, &id))
        }
        Command::Cancel { id, reason } => checked(&id, || cancel(server, &id, reason.as_deref())),
        Command::Finish {
            id,
            claim,
            outcome,
            result,
        } => checked(&id, || finish(server, &id, &claim, &outcome, result)),
        Command::Expire => not_here(
            "`expire`",
            "the service applies every SLA and lease itself, every second",
        ),
        Command::Verify { .. } => not_here(
            "`verify`",
            "run it where the database is: `policy approvals verify --db DATA/approvals.db` on the service's host",
        ),
    }
}

/// Something the local mode has and the service does not take.
fn not_here(what: &str, why: &str) -> Exit {
    eprintln!("error: {what} is not for --server: {why}");
    Exit::Usage
}

/// Runs `f` for a request id that can name a request (not empty, not `.` or `..`).
fn checked(id: &str, f: impl FnOnce() -> Exit) -> Exit {
    if id.trim_matches('.').is_empty() {
        eprintln!("error: `{}` is not a request id", holdpoint::escaped(id));
        return Exit::Usage;
    }
    f()
}

/// The service's answer; a failure is printed and gives its exit code.
fn answered(result: Result<Value, Failure>) -> Result<Value, Exit> {
    result.map_err(|f| f.report())
}

fn list(server: &Server, state: Option<&str>, group: Option<&str>, format: Format) -> Exit {
    if state.is_some_and(|s| s != "pending") {
        eprintln!("error: the service's inbox holds pending requests only (drop --state)");
        return Exit::Usage;
    }
    let inbox = match answered(server.get("/v1/inbox")) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if format == Format::Json {
        print_json(&inbox);
        return Exit::Ok;
    }
    let in_group = |r: &&Value| {
        group.is_none_or(|g| {
            r.get("groups")
                .and_then(Value::as_array)
                .is_some_and(|gs| gs.iter().any(|x| x.as_str() == Some(g)))
        })
    };
    let rows: Vec<&Value> = inbox
        .get("requests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(in_group)
        .collect();
    if rows.is_empty() {
        say!("no requests");
    } else {
        say_raw!("{}", render::inbox(&rows));
    }
    Exit::Ok
}

fn show(server: &Server, id: &str, format: Format) -> Exit {
    let v = match answered(server.get(&request_path(id, None))) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if format == Format::Json {
        print_json(&v);
    } else {
        say_raw!("{}", render::request(&v));
    }
    Exit::Ok
}

/// Fetches the request, shows what is decided, and sends the decision bound to the digest
/// the approver saw.
fn decide(server: &Server, a: DecideArgs) -> Exit {
    if a.approver.is_some() {
        eprintln!("error: with --server the approver is the token's holder: drop --as");
        return Exit::Usage;
    }
    if a.policy.is_some() || a.tools.is_some() {
        return not_here(
            "--policy and --tools",
            "the service decides edits again under its own policy and catalog",
        );
    }
    let current = match answered(server.get(&request_path(&a.id, None))) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let before = current
        .pointer("/call/args")
        .cloned()
        .unwrap_or(Value::Null);
    let body = match decision_body(&a, &current, &before) {
        Ok(b) => b,
        Err(code) => return code,
    };
    say!(
        "{} {}: {} ({})",
        a.decision,
        holdpoint::escaped(render::text(&current, "request")),
        holdpoint::escaped(
            current
                .pointer("/call/tool")
                .and_then(Value::as_str)
                .unwrap_or("?")
        ),
        holdpoint::escaped(text_of(&body, "digest"))
    );
    say_raw!("{}", super::show::indent(&super::show::pretty(&before)));
    let after = match answered(server.post(&request_path(&a.id, Some("decisions")), &body)) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let state = render::text(&after, "state");
    let waiting = if state == "pending" {
        let groups: Vec<&str> = after
            .get("groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        format!(" (waiting for {})", holdpoint::escaped(&groups.join(", ")))
    } else {
        String::new()
    };
    say!(
        "{}: {}{waiting}",
        holdpoint::escaped(&a.id),
        holdpoint::escaped(state)
    );
    let edited = after.pointer("/call/args").cloned().unwrap_or(Value::Null);
    if edited != before {
        say_raw!("{}", super::show::edit_diff(&before, &edited));
    }
    Exit::Ok
}

fn text_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The decision's body: the kind, the digest (the one given, else the one just read), and
/// what the kind needs. An edit is computed here from the current arguments and sent
/// whole, so `--set a.b=1` works as locally; the service types and decides it again.
fn decision_body(a: &DecideArgs, current: &Value, args: &Value) -> Result<Value, Exit> {
    let needs = |what: &str| {
        eprintln!("error: {what}");
        Exit::Usage
    };
    let digest = a
        .digest
        .clone()
        .unwrap_or_else(|| text_of(current, "digest").to_string());
    let mut body = Map::new();
    body.insert("decision".into(), json!(a.decision));
    body.insert("digest".into(), json!(digest));
    if let Some(g) = &a.gate {
        body.insert("gate".into(), json!(g));
    }
    if let Some(r) = &a.reason {
        body.insert("reason".into(), json!(r));
    }
    match a.decision.as_str() {
        "approve" => {}
        "reject" if a.reason.as_deref().is_some_and(|r| !r.trim().is_empty()) => {}
        "reject" => return Err(needs("a rejection needs --reason")),
        "escalate" => match &a.to {
            Some(to) => {
                body.insert("to".into(), json!(to));
            }
            None => return Err(needs("an escalation needs --to GROUP")),
        },
        "edit" => {
            let input = EditInput {
                args: a.args.as_deref(),
                patch: a.patch.as_deref(),
                set: &a.set,
            };
            body.insert("args".into(), edited_args(&input, args, None)?);
        }
        other => {
            return Err(needs(&format!(
                "unknown decision `{}` (approve, reject, edit or escalate)",
                holdpoint::escaped(other)
            )));
        }
    }
    Ok(Value::Object(body))
}

/// The request's state as the service has it now (`None` if it cannot be read).
fn state_of(server: &Server, id: &str) -> Option<String> {
    server
        .get(&request_path(id, None))
        .ok()
        .map(|v| render::text(&v, "state").to_string())
}

/// Long-polls until the request leaves `pending` or `limit` passes; gives its last answer.
pub(crate) fn wait_until_decided(
    server: &Server,
    id: &str,
    limit: Option<Duration>,
) -> Result<Value, Failure> {
    let start = Instant::now();
    let mut v = server.get(&request_path(id, None))?;
    loop {
        let left = limit.map(|l| l.saturating_sub(start.elapsed()));
        if render::text(&v, "state") != "pending" || left.is_some_and(|l| l.is_zero()) {
            return Ok(v);
        }
        let poll = left.map_or(POLL, |l| l.min(POLL));
        // Whole seconds, at least one: the service's unit.
        let secs = poll.as_secs().max(1);
        let path = request_path(id, Some(&format!("wait?timeout={secs}")));
        v = server.get_long(&path, Duration::from_secs(secs))?;
    }
}

fn wait(server: &Server, id: &str, timeout: Option<&str>) -> Exit {
    let limit = match timeout.map(parse_duration).transpose() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --timeout: {e}");
            return Exit::Usage;
        }
    };
    let v = match answered(wait_until_decided(server, id, limit)) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let id = holdpoint::escaped(id);
    match render::text(&v, "state") {
        "pending" => {
            let groups: Vec<&str> = v
                .get("groups")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            say!(
                "{id}: pending (waiting for {})",
                holdpoint::escaped(&groups.join(", "))
            );
            Exit::Waiting
        }
        s @ ("approved" | "approved_with_edits") => {
            say!("{id}: {s}");
            Exit::Ok
        }
        s => {
            say!("{id}: {}", holdpoint::escaped(s));
            Exit::Refused
        }
    }
}

/// Claims an approved request: prints the service's answer (the call, the claim token
/// and the signed permit). Exit 3 if it still waits, 4 if it must not run.
pub(crate) fn claim(server: &Server, id: &str) -> Exit {
    match server.post(&request_path(id, Some("claim")), &json!({})) {
        Ok(v) => {
            print_json(&v);
            Exit::Ok
        }
        Err(f) if f.has_code("not_runnable") => {
            f.report();
            match state_of(server, id).as_deref() {
                Some("pending") => Exit::Waiting,
                _ => Exit::Refused,
            }
        }
        Err(f) => f.report(),
    }
}

fn cancel(server: &Server, id: &str, reason: Option<&str>) -> Exit {
    let Some(reason) = reason.filter(|r| !r.trim().is_empty()) else {
        eprintln!("error: a cancellation needs --reason");
        return Exit::Usage;
    };
    let body = json!({"reason": reason});
    match answered(server.post(&request_path(id, Some("cancel")), &body)) {
        Ok(v) => {
            print_json(
                &json!({"request": v.get("request"), "state": v.get("state"), "run": false}),
            );
            Exit::Ok
        }
        Err(code) => code,
    }
}

fn finish(server: &Server, id: &str, claim: &str, outcome: &str, result: Option<String>) -> Exit {
    let result = match (outcome, result) {
        ("executed", Some(text)) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ("executed", None) => Value::Null,
        ("failed", r) => Value::String(r.unwrap_or_else(|| "failed".into())),
        (other, _) => {
            eprintln!(
                "error: unknown outcome `{}` (executed or failed)",
                holdpoint::escaped(other)
            );
            return Exit::Usage;
        }
    };
    let body = json!({"claim": claim, "outcome": outcome, "result": result});
    match answered(server.post(&request_path(id, Some("report")), &body)) {
        Ok(v) => {
            say!(
                "{}: {}",
                holdpoint::escaped(id),
                holdpoint::escaped(render::text(&v, "state"))
            );
            Exit::Ok
        }
        Err(code) => code,
    }
}
