//! The service's answers shown as the local mode shows a request: the same table for the
//! inbox, the same blocks for one request. Every string from the service (most of it
//! written by an agent) goes through [`safe`], so none acts on the terminal.

use std::fmt::Write as _;

use holdpoint::approval::{Checkpoint, Event, Payload};
use serde_json::Value;

use crate::approvals::show::{View, header, safe};

/// A string field, or `""`.
pub(super) fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A list of strings, joined with `sep`, each shown safely.
fn joined(v: &Value, key: &str, sep: &str) -> String {
    let items: Vec<String> = v
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| safe(s).into_owned())
        .collect();
    items.join(sep)
}

/// The inbox as the local `list` prints it: one line per waiting request.
pub(super) fn inbox(rows: &[&Value]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24}  {:<19}  {:<24}  {:<24}  {:<24}  due",
        "id", "state", "created", "tool", "waiting for"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<24}  {:<19}  {:<24}  {:<24}  {:<24}  {}",
            safe(text(r, "request")),
            "pending",
            safe(text(r, "created_at")),
            safe(text(r, "tool")),
            joined(r, "groups", ","),
            safe(text(r, "due_at"))
        );
    }
    out
}

/// One request as `show` prints it. An approver's answer carries the checkpoint and the
/// events, and is shown whole; an agent's is the request's state, gates and call.
pub(super) fn request(v: &Value) -> String {
    let checkpoint: Option<Checkpoint> = v
        .get("checkpoint")
        .and_then(|c| serde_json::from_value(c.clone()).ok());
    let payload: Option<Payload> = v
        .get("call")
        .and_then(|c| serde_json::from_value(c.clone()).ok());
    let events: Vec<Event> = v
        .get("events")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default();
    let mut out = String::new();
    match (&checkpoint, &payload) {
        (Some(c), Some(p)) => {
            let view = View {
                checkpoint: c,
                state: text(v, "state"),
                digest: text(v, "digest"),
                payload: p,
                patch: v.get("patch"),
            };
            header(&mut out, &view);
            gates(&mut out, v);
            view.rest(&mut out, &events);
        }
        _ => summary(&mut out, v, payload.as_ref()),
    }
    out
}

/// What an agent may see of a request: no checkpoint, no events.
fn summary(out: &mut String, v: &Value, payload: Option<&Payload>) {
    let _ = writeln!(out, "request   {}", safe(text(v, "request")));
    let _ = writeln!(out, "state     {}", safe(text(v, "state")));
    let _ = writeln!(out, "digest    {}", safe(text(v, "digest")));
    let _ = writeln!(out, "tenant    {}", safe(text(v, "tenant")));
    if let Some(p) = payload {
        let _ = writeln!(out, "tool      {}", safe(&p.tool));
    }
    for r in v
        .get("reasons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            out,
            "reason    {}: {}",
            safe(text(r, "rule")),
            safe(text(r, "reason"))
        );
    }
    gates(out, v);
    if let Some(p) = payload {
        let _ = writeln!(out, "\ncall");
        out.push_str(&crate::approvals::show::indent(
            &crate::approvals::show::pretty(&p.args),
        ));
    }
}

/// Each gate as the service describes it: who may decide, how, by when, and whether it
/// approved the current call.
fn gates(out: &mut String, v: &Value) {
    let _ = writeln!(out, "\ngates");
    let state = text(v, "state");
    for g in v
        .get("gates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let quorum = g.get("quorum").and_then(Value::as_u64).unwrap_or(1);
        let by = joined(g, "approved_by", ", ");
        let count = g
            .get("approved_by")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let open = if state == "pending" {
            "waiting".to_string()
        } else {
            format!("not approved: the request is {}", safe(state))
        };
        let approval = if g.get("approved").and_then(Value::as_bool) == Some(true) {
            format!("approved by {}", by.replace(", ", " and "))
        } else if count == 0 {
            open
        } else {
            format!("{count} of {quorum} approvals (by {by}); {open}")
        };
        let need = if quorum > 1 {
            format!("{quorum} of ")
        } else {
            String::new()
        };
        let groups = match joined(g, "groups", ", ") {
            s if s.is_empty() => "any approver".to_string(),
            s => s,
        };
        let due = match text(g, "due_at") {
            "" => "never".to_string(),
            d => safe(d).into_owned(),
        };
        let _ = writeln!(
            out,
            "  {:<22} by {need}{groups} · may {} · due {due} · {approval}",
            safe(text(g, "rule")),
            joined(g, "decisions", "/")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_agents_view_of_a_request_escapes_what_the_agent_wrote() {
        let v = json!({
            "request": "hp_1", "state": "pending", "digest": "sha256:x", "tenant": "acme",
            "call": {"tool": "refund\u{1b}[2J", "args": {"note": "a\u{7}b"}},
            "reasons": [{"rule": "big", "reason": "Refund\nrequest   forged"}],
            "gates": [{"rule": "big", "groups": ["finance"], "quorum": 2,
                       "approved_by": ["fiona"], "approved": false,
                       "decisions": ["approve", "reject"], "due_at": null}],
        });
        let out = request(&v);
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out}");
        assert!(!out.contains("\nrequest   forged"), "{out}");
        assert!(
            out.contains("1 of 2 approvals (by fiona); waiting"),
            "{out}"
        );
        assert!(
            out.contains("by 2 of finance · may approve/reject · due never"),
            "{out}"
        );
    }

    #[test]
    fn the_inbox_is_one_line_per_request_under_the_local_header() {
        let row = json!({"request": "hp_1", "tool": "refund", "groups": ["finance"],
                         "created_at": "2026-01-01T00:00:00.000Z", "due_at": null});
        let out = inbox(&[&row]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("id ") && lines[1].starts_with("hp_1 "),
            "{out}"
        );
        assert!(
            lines[1].contains("pending") && lines[1].contains("finance"),
            "{out}"
        );
    }
}
