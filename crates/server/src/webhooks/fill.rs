//! Filling the outbox: new events of the approvals log become messages (and the cursors
//! move) in one transaction; waiting gates whose SLA ends soon get one `due_soon` each.

use std::collections::HashMap;

use holdpoint::approval::store::Store;
use holdpoint::approval::{Event, Request, State};

use super::config::{Endpoint, EventType, Format, WebhooksConfig};
use super::message::{self, Facts};
use super::outbox::{NewMessage, Outbox};
use super::{WebhookError, slack};

/// Events read from the log at once.
const PAGE: usize = 500;

/// The body of a message for an endpoint, in its format.
fn body(endpoint: &Endpoint, facts: &Facts) -> String {
    match endpoint.format {
        Format::Standard => message::standard(facts),
        Format::Slack => slack::body(facts),
    }
}

/// The last `seq` of the log (0 when empty): where a new endpoint starts reading, so it
/// is not sent the history from before it was configured.
pub fn last_seq(store: &dyn Store) -> Result<u64, WebhookError> {
    let mut last = 0;
    loop {
        let page = store.events_after(last, 10_000)?;
        match page.last() {
            Some(e) => last = e.seq,
            None => return Ok(last),
        }
    }
}

/// Moves the events after the slowest cursor into the outbox, a page at a time, until
/// the log is read to its end. Returns how many messages were queued.
pub fn events(
    store: &dyn Store,
    outbox: &Outbox,
    config: &WebhooksConfig,
    now: i64,
) -> Result<usize, WebhookError> {
    let mut queued = 0;
    loop {
        let mut cursors = Vec::new();
        for e in &config.endpoints {
            cursors.push(outbox.cursor(&e.url)?.unwrap_or(0));
        }
        let Some(from) = cursors.iter().copied().min() else {
            return Ok(queued);
        };
        let page = store.events_after(from, PAGE)?;
        let Some(last) = page.last().map(|e| e.seq) else {
            return Ok(queued);
        };
        let messages = messages(store, config, &cursors, &page);
        let moved: Vec<(String, u64)> = config
            .endpoints
            .iter()
            .map(|e| (e.url.clone(), last))
            .collect();
        queued += outbox.fill(&messages, &moved, now)?;
        if page.len() < PAGE {
            return Ok(queued);
        }
    }
}

/// The messages a page of events makes for each endpoint past its cursor.
fn messages(
    store: &dyn Store,
    config: &WebhooksConfig,
    cursors: &[u64],
    page: &[Event],
) -> Vec<NewMessage> {
    let mut requests: HashMap<String, Option<Request>> = HashMap::new();
    let mut out = Vec::new();
    for e in page {
        let (Some(kind), Some(id)) = (message::type_of(e), e.request_id.as_deref()) else {
            continue;
        };
        let wanted: Vec<&Endpoint> = config
            .endpoints
            .iter()
            .zip(cursors)
            .filter(|(ep, cursor)| e.seq > **cursor && ep.wants(kind))
            .map(|(ep, _)| ep)
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let r = requests.entry(id.to_string()).or_insert_with(|| {
            store.get(id).unwrap_or_else(|err| {
                tracing::warn!(request = id, error = %err, "webhook sent without the request's details");
                None
            })
        });
        let facts = Facts::of_event(kind, e, r.as_ref(), config.public_url.as_deref());
        for ep in wanted {
            out.push(NewMessage {
                endpoint: ep.url.clone(),
                id: message::event_message_id(e),
                kind: kind.full_name(),
                body: body(ep, &facts),
            });
        }
    }
    out
}

/// How long before a gate's deadline `due_soon` goes: the configured lead, or a fifth of
/// the SLA, whichever is shorter.
pub fn lead_ms(config: &WebhooksConfig, within_s: Option<u64>) -> i64 {
    let configured = i64::try_from(config.due_soon.as_millis()).unwrap_or(i64::MAX);
    let fifth = within_s.map_or(i64::MAX, |s| {
        i64::try_from(s.saturating_mul(1000) / 5).unwrap_or(i64::MAX)
    });
    configured.min(fifth)
}

/// Queues a `due_soon` for every waiting gate whose deadline is within its lead of `now`
/// (and not past), once per request, gate and deadline.
pub fn due_soon(
    store: &dyn Store,
    outbox: &Outbox,
    config: &WebhooksConfig,
    now: i64,
) -> Result<usize, WebhookError> {
    let wanted: Vec<&Endpoint> = config
        .endpoints
        .iter()
        .filter(|e| e.wants(EventType::DueSoon))
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let horizon = now.saturating_add(lead_ms(config, None));
    let mut messages = Vec::new();
    for id in store.due(horizon)? {
        // A request that does not read is reported by `verify`; it must not stop the
        // others' messages.
        let Ok(Some(r)) = store.get(&id) else {
            continue;
        };
        if r.state() != State::Pending {
            continue;
        }
        for g in r.waiting_gates() {
            let Some(deadline) = g.deadline else { continue };
            if now >= deadline || now < deadline.saturating_sub(lead_ms(config, g.within_s)) {
                continue;
            }
            let msg_id = message::due_soon_message_id(&id, &g.rule, deadline);
            let facts = Facts::due_soon(&r, g, now, config.public_url.as_deref());
            for ep in &wanted {
                if !outbox.has(&ep.url, &msg_id)? {
                    messages.push(NewMessage {
                        endpoint: ep.url.clone(),
                        id: msg_id.clone(),
                        kind: EventType::DueSoon.full_name(),
                        body: body(ep, &facts),
                    });
                }
            }
        }
    }
    Ok(outbox.fill(&messages, &[], now)?)
}
