//! The Slack-compatible body: a Block Kit message with the call's key fields and a link to
//! the request. Every string an agent could have written (the tool, the user, the tenant,
//! the reasons that quote arguments, argument names, a rejection's reason) is shown as
//! inline code, stripped of control characters and with `&`, `<` and `>` escaped, so none
//! of it can become markup, a mention or a link. The only link is the service's own.

use holdpoint::approval::format_time;
use serde_json::{Value, json};

use super::config::EventType;
use super::message::Facts;

/// At most this many characters of one value are shown.
const MAX_VALUE: usize = 200;
/// At most this many reasons or amounts are listed.
const MAX_ITEMS: usize = 8;

/// A value as Slack shows it safely: inline code, control and bidirectional-override
/// characters removed (line breaks become spaces), backticks replaced (they would end the
/// code), `&` `<` `>` escaped, and cut so the escaped text is at most [`MAX_VALUE`]
/// characters (cutting before escaping would let `&`s grow a value fivefold, past what
/// Slack accepts in a field).
pub fn code(value: &str) -> String {
    let mut clean = String::new();
    let mut n = 0;
    for c in value.chars() {
        let c = match c {
            '\n' | '\r' | '\t' => ' ',
            '`' => '\u{2018}',
            c if c.is_control() || is_bidi_control(c) || c == '\u{200b}' => continue,
            c => c,
        };
        let escaped = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            _ => "",
        };
        let cost = if escaped.is_empty() { 1 } else { escaped.len() };
        if n + cost > MAX_VALUE {
            clean.push('…');
            break;
        }
        n += cost;
        if escaped.is_empty() {
            clean.push(c);
        } else {
            clean.push_str(escaped);
        }
    }
    if clean.trim().is_empty() {
        return "—".into();
    }
    format!("`{clean}`")
}

/// Escapes the three characters Slack's mrkdwn gives a meaning to.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// The words of a message's header (the service's own words only).
fn title(kind: EventType) -> &'static str {
    match kind {
        EventType::Created => "Approval needed",
        EventType::Escalated => "Approval escalated",
        EventType::DueSoon => "Decision due soon",
        EventType::Approved => "Approved",
        EventType::Edited => "Approved with edits",
        EventType::Rejected => "Rejected",
        EventType::Expired => "Expired: the SLA ran out",
        EventType::Claimed => "Claimed for execution",
        EventType::Executed => "Executed",
        EventType::Failed => "Execution failed",
        EventType::OutcomeUnknown => "Outcome unknown",
        EventType::Cancelled => "Cancelled",
    }
}

fn opt(v: Option<&str>) -> String {
    v.map_or_else(|| "—".into(), code)
}

fn field(name: &str, value: String) -> Value {
    json!({"type": "mrkdwn", "text": format!("*{name}*\n{value}")})
}

/// Who the call acts for: the user (through the agent), or the agent alone.
fn acts_for(f: &Facts) -> String {
    match (&f.user, &f.agent) {
        (Some(u), Some(a)) => format!("{} via {}", code(u), code(a)),
        (Some(u), None) => code(u),
        (None, Some(a)) => format!("agent {}", code(a)),
        (None, None) => "—".into(),
    }
}

fn list(items: &[String]) -> String {
    let mut out: Vec<String> = items
        .iter()
        .take(MAX_ITEMS)
        .map(|r| format!("• {}", code(r)))
        .collect();
    if items.len() > MAX_ITEMS {
        out.push(format!("… and {} more", items.len() - MAX_ITEMS));
    }
    if out.is_empty() {
        "—".into()
    } else {
        out.join("\n")
    }
}

fn amounts(f: &Facts) -> String {
    let items: Vec<String> = f
        .amounts
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    if items.is_empty() {
        return "—".into();
    }
    items
        .iter()
        .take(MAX_ITEMS)
        .map(|s| code(s))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The line under the fields: what happened, who did it, and why.
fn context(f: &Facts) -> String {
    let mut parts = vec![format!("request {}", code(&f.request))];
    if let Some(e) = &f.event {
        parts.push(format!("{} by {}", escape(e.kind), code(&e.by)));
        if let Some(g) = &e.gate {
            parts.push(format!("gate {}", code(g)));
        }
        if let Some(r) = &e.reason {
            parts.push(format!("reason {}", code(r)));
        }
    }
    if let Some(g) = &f.gate {
        parts.push(format!("gate {}", code(g)));
    }
    parts.join(" · ")
}

/// The Block Kit body.
pub fn body(f: &Facts) -> String {
    let tool = opt(f.tool.as_deref());
    let mut fields = vec![
        field("Tool", tool.clone()),
        field("Acts for", acts_for(f)),
        field("Tenant", opt(f.tenant.as_deref())),
        field("State", opt(f.state.as_deref())),
        field("Amounts", amounts(f)),
        field(
            "Due",
            f.due_at
                .map_or_else(|| "—".into(), |d| code(&format_time(d))),
        ),
    ];
    fields.truncate(10);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": title(f.kind)}}),
        json!({"type": "section", "fields": fields}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Reasons*\n{}", list(&f.reasons))}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context(f)}]}),
    ];
    if let Some(url) = &f.url {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("<{url}|Open the request>")}}));
    }
    let text = format!("holdpoint: {}: {tool} for {}", title(f.kind), acts_for(f));
    json!({"text": text, "blocks": blocks}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_an_agent_writes_becomes_markup_or_a_link() {
        assert_eq!(code("<script>"), "`&lt;script&gt;`");
        assert_eq!(code("<http://evil|click>"), "`&lt;http://evil|click&gt;`");
        assert_eq!(
            code("<!channel> & <@U1>"),
            "`&lt;!channel&gt; &amp; &lt;@U1&gt;`"
        );
        // A backtick cannot end the code; control characters are gone.
        assert_eq!(code("a`*b*`c"), "`a\u{2018}*b*\u{2018}c`");
        assert_eq!(code("x\u{1b}[31m\u{7}y\nz\u{202e}"), "`x[31my z`");
        assert_eq!(code("\u{0}\u{1}"), "—");
        let long = "a".repeat(500);
        assert_eq!(code(&long).chars().count(), MAX_VALUE + 3);
        // Escaping counts: 500 `&` stay within the limit once escaped, and none is cut
        // in the middle of its entity.
        let amps = code(&"&".repeat(500));
        assert!(amps.chars().count() <= MAX_VALUE + 3, "{}", amps.len());
        assert_eq!(amps.matches("&amp;").count(), MAX_VALUE / 5);
    }
}
