//! Prometheus metrics at `GET /metrics` (text exposition format 0.0.4): decisions by
//! effect, requests by state, HTTP answers by route and status class, latency histograms
//! of the policy's decisions and of every answer.
//!
//! Counting is a few atomic additions per call; the text is built only when scraped.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use holdpoint::Effect;
use holdpoint::approval::State as ReqState;

use crate::App;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_01, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.5, 2.5,
];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    over: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Counts one observation of `seconds`.
    pub fn observe(&self, seconds: f64) {
        let i = BUCKETS.iter().position(|b| seconds <= *b);
        match i.and_then(|i| self.counts.get(i)) {
            Some(c) => c.fetch_add(1, Ordering::Relaxed),
            None => self.over.fetch_add(1, Ordering::Relaxed),
        };
        self.sum_ns
            .fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut total = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            total += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {total}");
        }
        total += self.over.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let set = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{set} {sum}");
        let _ = writeln!(out, "{name}_count{set} {total}");
    }
}

/// The routes counted separately (everything else counts as `other`).
const ROUTES: [&str; 16] = [
    "/v1/decisions",
    "/v1/requests",
    "/v1/requests/{id}",
    "/v1/requests/{id}/wait",
    "/v1/requests/{id}/events",
    "/v1/requests/{id}/claim",
    "/v1/requests/{id}/report",
    "/v1/requests/{id}/cancel",
    "/v1/requests/{id}/decisions",
    "/v1/requests/{id}/preview",
    "/v1/inbox",
    "/v1/inbox/events",
    "/v1/keys",
    "/healthz",
    "/metrics",
    "other",
];

/// HTTP answers of one route.
#[derive(Debug, Default)]
struct RouteStats {
    /// By status class: 2xx, 3xx, 4xx, 5xx.
    by_class: [AtomicU64; 4],
    latency: Histogram,
}

/// Everything counted.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Decisions by effect: allow, audit, approve, deny.
    decisions: [AtomicU64; 4],
    /// The policy's evaluation time.
    pub decision_latency: Histogram,
    routes: [RouteStats; ROUTES.len()],
}

/// The index of a route in [`ROUTES`] (the last, `other`, for any other).
fn route_index(route: &str) -> usize {
    ROUTES
        .iter()
        .position(|r| *r == route)
        .unwrap_or(ROUTES.len() - 1)
}

fn effect_index(e: Effect) -> usize {
    match e {
        Effect::Allow => 0,
        Effect::Audit => 1,
        Effect::Approve => 2,
        Effect::Deny => 3,
    }
}

const EFFECTS: [&str; 4] = ["allow", "audit", "approve", "deny"];

impl Metrics {
    /// Counts one decision and how long the policy took.
    pub fn decided(&self, effect: Effect, took: std::time::Duration) {
        self.counted(effect);
        self.decision_latency.observe(took.as_secs_f64());
    }

    /// Counts one decision (made inside a submission, not timed on its own).
    pub fn counted(&self, effect: Effect) {
        if let Some(c) = self.decisions.get(effect_index(effect)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn answered(&self, route: usize, status: u16, seconds: f64) {
        let Some(r) = self.routes.get(route) else {
            return;
        };
        let class = usize::from(status / 100).saturating_sub(2).min(3);
        if let Some(c) = r.by_class.get(class) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        r.latency.observe(seconds);
    }

    /// The exposition text, with the requests by state counted now.
    pub fn render(&self, states: &[(ReqState, usize)], extra: &str) -> String {
        let mut out = String::with_capacity(8192);
        out.push_str("# HELP holdpoint_decisions_total Calls decided, by effect.\n");
        out.push_str("# TYPE holdpoint_decisions_total counter\n");
        for (name, c) in EFFECTS.iter().zip(&self.decisions) {
            let v = c.load(Ordering::Relaxed);
            let _ = writeln!(out, "holdpoint_decisions_total{{effect=\"{name}\"}} {v}");
        }
        out.push_str(
            "# HELP holdpoint_decision_duration_seconds Time the policy took to decide a call.\n",
        );
        out.push_str("# TYPE holdpoint_decision_duration_seconds histogram\n");
        self.decision_latency
            .write(&mut out, "holdpoint_decision_duration_seconds", "");
        out.push_str("# HELP holdpoint_requests Approval requests in the store, by state.\n");
        out.push_str("# TYPE holdpoint_requests gauge\n");
        for (state, n) in states {
            let _ = writeln!(
                out,
                "holdpoint_requests{{state=\"{}\"}} {n}",
                state.as_str()
            );
        }
        out.push_str(
            "# HELP holdpoint_http_responses_total HTTP answers, by route and status class.\n",
        );
        out.push_str("# TYPE holdpoint_http_responses_total counter\n");
        for (route, r) in ROUTES.iter().zip(&self.routes) {
            for (class, c) in ["2xx", "3xx", "4xx", "5xx"].iter().zip(&r.by_class) {
                let v = c.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "holdpoint_http_responses_total{{route=\"{route}\",status=\"{class}\"}} {v}"
                );
            }
        }
        out.push_str("# HELP holdpoint_http_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE holdpoint_http_duration_seconds histogram\n");
        for (route, r) in ROUTES.iter().zip(&self.routes) {
            r.latency.write(
                &mut out,
                "holdpoint_http_duration_seconds",
                &format!("route=\"{route}\""),
            );
        }
        out.push_str(extra);
        out
    }
}

/// The timing of one call, from its arrival to its answer: see [`Watch::finish`].
pub struct Watch {
    began: Instant,
    route: usize,
    method: Option<axum::http::Method>,
}

impl Watch {
    /// Starts timing a call.
    pub fn start(request: &Request) -> Watch {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("other", |m| m.as_str());
        Watch {
            began: Instant::now(),
            route: route_index(route),
            method: tracing::enabled!(tracing::Level::DEBUG).then(|| request.method().clone()),
        }
    }

    /// Counts the answer by route and status class, records its latency and logs it (at
    /// debug level).
    pub fn finish(self, metrics: &Metrics, response: &Response) {
        let took = self.began.elapsed();
        let status = response.status().as_u16();
        metrics.answered(self.route, status, took.as_secs_f64());
        if let Some(method) = self.method {
            let route = ROUTES.get(self.route).copied().unwrap_or("other");
            tracing::debug!(%method, route, status, micros = took.as_micros() as u64, "answered");
        }
    }
}

/// `GET /metrics`: the Prometheus text.
#[utoipa::path(
    get,
    operation_id = "metrics",
    path = "/metrics",
    tag = "service",
    responses((status = 200, description = "Prometheus text exposition (0.0.4): decisions, requests by state, answers and latency by route, webhooks.", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    let a = app.clone();
    let states = tokio::task::spawn_blocking(move || {
        let mut counts = Vec::new();
        for s in ALL_STATES {
            counts.push((s, a.desk.store().ids(Some(s)).map_or(0, |v| v.len())));
        }
        counts
    })
    .await
    .unwrap_or_default();
    let body = app.metrics.render(&states, &app.extra_metrics());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Every state a request can be in.
const ALL_STATES: [ReqState; 11] = [
    ReqState::Pending,
    ReqState::Approved,
    ReqState::ApprovedWithEdits,
    ReqState::Rejected,
    ReqState::Escalated,
    ReqState::Expired,
    ReqState::Cancelled,
    ReqState::Executing,
    ReqState::Executed,
    ReqState::Failed,
    ReqState::OutcomeUnknown,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_cumulatively_and_sums() {
        let h = Histogram::default();
        h.observe(0.000_02);
        h.observe(0.003);
        h.observe(10.0);
        let mut out = String::new();
        h.write(&mut out, "x", "");
        assert!(out.contains("x_bucket{le=\"0.00001\"} 0"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.00005\"} 1"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 2"), "{out}");
        assert!(out.contains("x_bucket{le=\"2.5\"} 2"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3"), "{out}");
        assert!(out.contains("x_count 3"), "{out}");
    }
}
