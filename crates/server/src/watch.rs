//! Following a request: the long poll (`/wait`) and the Server-Sent Events stream
//! (`/events`). The service is the only writer of its store, so every change it makes is
//! announced on an in-process channel ([`crate::App::changed`]); both read the store again
//! only when their request changed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use holdpoint::approval::{Event, Request, State as ReqState};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use crate::App;
use crate::agents::{blocking, request_json, visible};
use crate::auth::{Agent, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Params};

/// The longest a `wait` holds (proxies and MCP clients cut longer calls).
pub const MAX_WAIT_S: u64 = 55;

/// The query of `wait`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// At most this many seconds (default 30, at most 55).
    #[param(minimum = 0)]
    timeout: Option<u64>,
}

/// Whether nothing more will happen to a request.
pub fn is_final(state: ReqState) -> bool {
    matches!(
        state,
        ReqState::Rejected
            | ReqState::Expired
            | ReqState::Cancelled
            | ReqState::Executed
            | ReqState::Failed
            | ReqState::OutcomeUnknown
    )
}

async fn read(app: &Arc<App>, id: &str) -> ApiResult<Request> {
    let a = app.clone();
    let owned = id.to_string();
    blocking(move || Ok(a.desk.request(&owned)?)).await
}

/// Waits until `id` is announced as changed (or the channel lagged: then it may have been).
async fn next_change(rx: &mut Receiver<String>, id: &str) {
    loop {
        match rx.recv().await {
            Ok(changed) if changed != id => continue,
            Ok(_) | Err(RecvError::Lagged(_)) => return,
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// `GET /v1/requests/{id}/wait?timeout=S`: the request at once if nobody needs to decide
/// it any more (it is not pending), otherwise as soon as its state changes, or after S
/// seconds (default 30, at most 55) as it then is.
#[utoipa::path(
    get,
    operation_id = "wait",
    path = "/v1/requests/{id}/wait",
    tag = "agents",
    description = "Caller: an agent. A long poll: the request at once unless it is pending, else as soon as its state changes, or after `timeout` seconds as it then is.",
    params(("id" = String, Path, description = "The request's id.", min_length = 1), WaitQuery),
    security(("service_token" = [])),
    responses(
        (status = 200, description = "The request.", body = crate::openapi::schemas::RequestView),
        (status = 400, description = "The id or the query does not read.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The token is not an agent's: only an agent may make this call.", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "No request by this id that the caller may see (another tenant's is not found either).", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn wait(
    State(app): State<Arc<App>>,
    agent: Agent,
    Id(id): Id,
    Params(q): Params<WaitQuery>,
) -> ApiResult<Json<Value>> {
    let mut rx = app.changes.subscribe();
    let start = visible(&app, &Caller::Agent(agent), &id).await?;
    if start.state() != ReqState::Pending {
        return Ok(Json(request_json(&start)));
    }
    let limit = Duration::from_secs(q.timeout.unwrap_or(30).min(MAX_WAIT_S));
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if tokio::time::timeout_at(deadline, next_change(&mut rx, &id))
            .await
            .is_err()
        {
            return Ok(Json(request_json(&read(&app, &id).await?)));
        }
        let now = read(&app, &id).await?;
        if now.state() != start.state() {
            return Ok(Json(request_json(&now)));
        }
    }
}

/// The events after `after`, read from the store.
async fn events_after(app: &Arc<App>, id: &str, after: u64) -> ApiResult<Vec<Event>> {
    let a = app.clone();
    let owned = id.to_string();
    let all = blocking(move || Ok(a.desk.store().events(Some(&owned))?)).await?;
    Ok(all.into_iter().filter(|e| e.seq > after).collect())
}

fn sse_event(e: &Event) -> SseEvent {
    let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    SseEvent::default()
        .id(e.seq.to_string())
        .event(e.kind.as_str())
        .data(data)
}

/// The stream's state between two sends.
struct Follow {
    app: Arc<App>,
    id: String,
    rx: Receiver<String>,
    stopping: tokio::sync::watch::Receiver<bool>,
    after: u64,
    queued: std::collections::VecDeque<Event>,
    done: bool,
}

/// `GET /v1/requests/{id}/events`: the request's audit events as Server-Sent Events (the
/// event name is the kind, the id its place in the log, the data the event's JSON): those
/// so far (after `Last-Event-ID`, when a client reconnects), then each as it happens. The
/// stream ends after the event that leaves the request final.
#[utoipa::path(
    get,
    operation_id = "events",
    path = "/v1/requests/{id}/events",
    tag = "agents",
    description = "Caller: an agent (its tenants' requests) or an approver. The request's audit events as Server-Sent Events: the event name is the kind, the id its place in the log, the data the event's JSON (an `Event`). Ends after the event that leaves the request final.",
    params(
        ("id" = String, Path, description = "The request's id.", min_length = 1),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event (its `seq`).", pattern = "^[0-9]+$"),
    ),
    security(("service_token" = []), ("jwt" = [])),
    responses(
        (status = 200, description = "The stream of events.", body = String, content_type = "text/event-stream"),
        (status = 400, description = "The id does not read, or `Last-Event-ID` is not an event's number.", body = crate::openapi::schemas::ErrorBody),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 404, description = "No request by this id that the caller may see (another tenant's is not found either).", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
        (status = 500, description = "The store could not be read or written.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn events(
    State(app): State<Arc<App>>,
    caller: Caller,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let rx = app.changes.subscribe();
    visible(&app, &caller, &id).await?;
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID is not an event's number"))?,
    };
    let stopping = app.stopping.subscribe();
    let follow = Follow {
        app,
        id,
        rx,
        stopping,
        after,
        queued: Default::default(),
        done: false,
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(e) = f.queued.pop_front() {
                f.after = e.seq;
                return Some((Ok(sse_event(&e)), f));
            }
            if f.done {
                return None;
            }
            match events_after(&f.app, &f.id, f.after).await {
                Ok(new) if !new.is_empty() => {
                    f.queued.extend(new);
                    continue;
                }
                Ok(_) => {}
                Err(_) => return None,
            }
            match read(&f.app, &f.id).await {
                Ok(r) if is_final(r.state()) => {
                    // Once more: the final event may have come after the read above.
                    f.done = true;
                    match events_after(&f.app, &f.id, f.after).await {
                        Ok(new) => f.queued.extend(new),
                        Err(_) => return None,
                    }
                    continue;
                }
                Ok(_) => {}
                Err(_) => return None,
            }
            tokio::select! {
                () = next_change(&mut f.rx, &f.id) => {}
                // The service stops: end the stream so the shutdown does not wait for it.
                _ = f.stopping.wait_for(|s| *s) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// How often a quiet inbox stream checks that its caller is still signed in.
const RECHECK: Duration = Duration::from_secs(30);

/// Whether the credentials a stream was opened with still name an approver.
async fn still_an_approver(app: &Arc<App>, headers: &axum::http::HeaderMap) -> Option<()> {
    use axum::extract::FromRequestParts as _;
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    parts.headers = headers.clone();
    crate::auth::Approver::from_request_parts(&mut parts, app)
        .await
        .ok()
        .map(drop)
}

/// `GET /v1/inbox/events`: Server-Sent Events for an approver's inbox. An event `changed`
/// (no data worth reading) each time any request is created or changes, so a page reads
/// `/v1/inbox` again; a comment every 15 s keeps proxies from closing the stream. The
/// stream ends when its session or token does.
#[utoipa::path(
    get,
    operation_id = "inbox_events",
    path = "/v1/inbox/events",
    tag = "approvers",
    description = "Caller: an approver. A `changed` event whenever a request is created or changes: read the inbox again.",
    security(("service_token" = []), ("jwt" = [])),
    responses(
        (status = 200, description = "An event stream (text/event-stream) of `changed` events.", body = String, content_type = "text/event-stream"),
        (status = 401, description = "No `Authorization: Bearer TOKEN`, or an unknown, expired or badly signed token.", body = crate::openapi::schemas::ErrorBody),
        (status = 403, description = "The token is an agent's: an agent never reads the inbox.", body = crate::openapi::schemas::ErrorBody),
        (status = 429, description = "Too many requests from this caller: slow down.", body = crate::openapi::schemas::ErrorBody),
    )
)]
pub async fn inbox_events(
    State(app): State<Arc<App>>,
    _me: crate::auth::Approver,
    headers: axum::http::HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = app.changes.subscribe();
    let stopping = app.stopping.subscribe();
    let state = (rx, stopping, app, headers);
    let stream =
        futures_util::stream::unfold(state, |(mut rx, mut stopping, app, headers)| async move {
            loop {
                let got = tokio::select! {
                    got = rx.recv() => Some(got),
                    // A quiet service: look again now and then whether the caller still is.
                    () = tokio::time::sleep(RECHECK) => None,
                    // The service stops: end the stream so the shutdown does not wait for it.
                    _ = stopping.wait_for(|s| *s) => return None,
                };
                let Some(got) = got else {
                    still_an_approver(&app, &headers).await?;
                    continue;
                };
                match got {
                    // Missed some: one `changed` covers them all.
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        // At most one event a second: a busy service does not make every open
                        // page read the inbox hundreds of times a second.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        while rx.try_recv().is_ok() {}
                        // The caller is still who they were: a session signed out or a token
                        // removed ends the stream (the page then finds it must sign in).
                        still_an_approver(&app, &headers).await?;
                        return Some((
                            Ok(SseEvent::default().event("changed").data("changed")),
                            (rx, stopping, app, headers),
                        ));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
