//! `policy approvals list` and `show`: what an approver reads about waiting calls.

use std::fmt::Write as _;
use std::sync::Arc;

use holdpoint::approval::store::{SqliteStore, Store};
use holdpoint::approval::{
    ApproversFile, Checkpoint, Desk, Error, Event, GateStatus, Payload, Request, State, format_time,
};
use serde_json::{Value, json};

use super::{approval_error, print_json};
use crate::{Exit, Format};

pub(super) fn list(
    store: Arc<SqliteStore>,
    state: Option<&str>,
    group: Option<&str>,
    format: Format,
) -> Exit {
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
            safe(&r.status.payload.tool),
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

pub(super) fn show(store: Arc<SqliteStore>, id: &str, format: Format) -> Exit {
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

pub(super) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A block of lines (pretty JSON, a diff), indented, each line shown safely.
pub(super) fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {}\n", safe(l))).collect()
}

/// Text that came from the agent (or an approver's note), shown as it is written: a
/// control, format or bidirectional character appears as `\u{XXXX}`, never acts on the
/// terminal, and a newline cannot start a line that looks like ours.
pub(super) fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    holdpoint::escaped(text)
}

/// The human view of a request: who asks for what and why, its gates, the call (and its
/// edit as a diff), what the policy says to review, what the agent gave, and its events.
fn render(r: &Request, events: &[Event]) -> String {
    let view = View {
        checkpoint: &r.checkpoint,
        state: r.state().as_str(),
        digest: &r.status.payload_digest,
        payload: &r.status.payload,
        patch: r.status.patch.as_ref(),
    };
    let mut out = String::new();
    header(&mut out, &view);
    gates(&mut out, r, events);
    view.rest(&mut out, events);
    out
}

/// What the human view shows of a request, from the store or from the service.
pub(super) struct View<'a> {
    /// The checkpoint.
    pub(super) checkpoint: &'a Checkpoint,
    /// The state.
    pub(super) state: &'a str,
    /// The digest of the payload that would run now.
    pub(super) digest: &'a str,
    /// The payload that would run now.
    pub(super) payload: &'a Payload,
    /// The patch from the proposed arguments to the current ones.
    pub(super) patch: Option<&'a Value>,
}

impl View<'_> {
    /// Everything after the gates: the call and its edit, what to review, the agent's
    /// side and the events.
    pub(super) fn rest(&self, out: &mut String, events: &[Event]) {
        calls(out, self);
        review(out, self);
        agent_side(out, self.checkpoint);
        history(out, events);
    }
}

/// Who asks, for whom, under which policy, and the reasons the policy gave.
pub(super) fn header(out: &mut String, r: &View<'_>) {
    let c = r.checkpoint;
    let id = &c.identity;
    let _ = writeln!(out, "request   {}", safe(&c.request_id));
    let _ = writeln!(out, "state     {}", r.state);
    let _ = writeln!(out, "digest    {}", safe(r.digest));
    let _ = writeln!(out, "tool      {}", safe(&r.payload.tool));
    let _ = writeln!(
        out,
        "for       user {} · tenant {} · agent {} · credentials {}",
        safe(id.user.as_deref().unwrap_or("-")),
        safe(&id.tenant),
        safe(&id.agent),
        safe(id.credentials_ref.as_deref().unwrap_or("-"))
    );
    let _ = writeln!(
        out,
        "run       {} · tool call {}",
        safe(&c.run_id),
        safe(&c.tool_call_id)
    );
    let _ = writeln!(
        out,
        "policy    {} {}",
        c.policy.name.as_deref().unwrap_or("(unnamed)"),
        c.policy.hash
    );
    let _ = writeln!(out, "created   {}", format_time(c.created_at));
    for reason in &c.decision.reasons {
        let _ = writeln!(out, "reason    {}: {}", reason.rule, safe(&reason.reason));
    }
}

/// Each gate: who may decide, how, by when, and whether it approved the current call.
fn gates(out: &mut String, r: &Request, events: &[Event]) {
    let _ = writeln!(out, "\ngates");
    for g in &r.status.gates {
        let digest = &r.status.payload_digest;
        let by: Vec<String> = g
            .approvers_of(digest)
            .iter()
            .map(|a| safe(a).into_owned())
            .collect();
        let approval = if g.approves(digest) {
            let at = g
                .latest_approval()
                .map(|a| format_time(a.at))
                .unwrap_or_default();
            format!("approved by {} at {at}", by.join(" and "))
        } else if by.is_empty() {
            undecided(r, g, events)
        } else {
            // A quorum part-way: who approved, and how many more it needs.
            format!(
                "{} of {} approvals (by {}); {}",
                by.len(),
                g.quorum,
                by.join(", "),
                undecided(r, g, events)
            )
        };
        let need = if g.quorum > 1 {
            format!("{} of ", g.quorum)
        } else {
            String::new()
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
            "  {:<22} by {need}{groups} · may {} · due {due} · {approval}",
            g.rule,
            kinds.join("/")
        );
    }
}

/// What a gate that has not approved the current call says: it waits only while the
/// request does; otherwise what ended it (its rejection, its SLA) or the request's state.
fn undecided(r: &Request, g: &GateStatus, events: &[Event]) -> String {
    let earlier = match g.latest_approval() {
        Some(a) if a.digest != r.status.payload_digest => {
            format!(" (approved an earlier version, by {})", safe(&a.by))
        }
        _ => String::new(),
    };
    if r.state() == State::Pending {
        return format!("waiting{earlier}");
    }
    let ended = events.iter().rev().find(|e| {
        e.gate.as_deref() == Some(g.rule.as_str())
            && matches!(e.to, Some(State::Rejected | State::Expired))
    });
    match ended {
        Some(e) if e.to == Some(State::Rejected) => format!(
            "rejected by {} at {}{earlier}",
            safe(&e.actor),
            format_time(e.at)
        ),
        Some(e) => format!("its SLA ran out at {}{earlier}", format_time(e.at)),
        None => format!("not approved: the request is {}{earlier}", r.state()),
    }
}

/// The proposed call and, after an edit, the edit as a unified diff and a JSON Patch.
fn calls(out: &mut String, r: &View<'_>) {
    let c = r.checkpoint;
    let _ = writeln!(out, "\nproposed call ({})", c.payload_digest);
    out.push_str(&indent(&pretty(&c.payload.args)));
    if let Some(p) = r.patch.filter(|p| !p.is_null()) {
        let _ = writeln!(out, "\nedited call ({})", safe(r.digest));
        out.push_str(&indent(&unified(&c.payload.args, &r.payload.args)));
        let _ = writeln!(out, "  as a JSON Patch");
        out.push_str(&indent(&pretty(p)));
    }
}

/// What the policy says the approver should look at (`show diff PATH`), as a diff when
/// an edit changed it.
fn review(out: &mut String, r: &View<'_>) {
    let c = r.checkpoint;
    let focus = c.decision.approval.iter().flat_map(|a| a.gates.iter());
    for (gate, path) in focus.filter_map(|g| g.show_diff.as_deref().map(|p| (&g.rule, p))) {
        let proposed = lookup(&c.payload.args, &c.context, path);
        let current = lookup(&r.payload.args, &c.context, path);
        let _ = writeln!(out, "\nto review for {gate}: {path}");
        match (proposed, current) {
            (Some(a), Some(b)) if a != b => out.push_str(&indent(&unified(a, b))),
            (_, Some(v)) => out.push_str(&indent(&pretty(v))),
            (_, None) => out.push_str("    <missing>\n"),
        }
    }
}

/// What the agent handed over: the context, its reasoning and alternatives, the inputs.
fn agent_side(out: &mut String, c: &Checkpoint) {
    if c.context.as_object().is_some_and(|m| !m.is_empty()) {
        let _ = writeln!(out, "\ncontext");
        out.push_str(&indent(&pretty(&c.context)));
    }
    if let Some(reasoning) = &c.reasoning {
        let _ = writeln!(out, "\nreasoning\n    {}", safe(reasoning));
    }
    for alt in &c.alternatives {
        let _ = writeln!(out, "  alternative: {}", safe(alt));
    }
    if !c.inputs.is_null() {
        let _ = writeln!(out, "\ninputs");
        out.push_str(&indent(&pretty(&c.inputs)));
    }
}

/// The request's events, one line each.
fn history(out: &mut String, events: &[Event]) {
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
            .map(|r| format!(": {}", safe(r)))
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
            safe(&e.actor)
        );
    }
}

/// A unified diff of two JSON values, pretty-printed, `proposed` against `edited`.
/// An edit as the approver reads it: a unified diff of the arguments, indented.
pub(super) fn edit_diff(before: &Value, after: &Value) -> String {
    indent(&unified(before, after))
}

fn unified(proposed: &Value, edited: &Value) -> String {
    let (a, b) = (pretty(proposed) + "\n", pretty(edited) + "\n");
    let diff = similar::TextDiff::from_lines(&a, &b);
    diff.unified_diff().header("proposed", "edited").to_string()
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
