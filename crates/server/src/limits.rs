//! Rate limits: a token bucket per caller (per bearer credential, or per address for calls
//! without one). A caller over its rate gets 429 with `Retry-After`; nobody else notices.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::{App, Peer};

/// Buckets are spread over this many locks, so callers rarely wait for each other.
const SHARDS: usize = 32;

/// How many calls a caller may make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Calls per second, sustained.
    pub per_second: f64,
    /// Calls at once after a quiet spell.
    pub burst: f64,
}

impl RateLimit {
    /// Reads `N/s` or `N` (per second); the burst is twice the rate. `off` is none.
    pub fn parse(text: &str) -> Result<Option<RateLimit>, String> {
        let t = text.trim();
        if t == "off" || t == "0" {
            return Ok(None);
        }
        let n = t.strip_suffix("/s").unwrap_or(t);
        match n.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(Some(RateLimit {
                per_second: v,
                burst: (v * 2.0).max(1.0),
            })),
            _ => Err(format!(
                "`{text}` is not a rate: give calls per second (`1000/s`), or `off`"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Every caller's bucket.
#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    hasher: std::hash::RandomState,
    shards: Vec<Mutex<HashMap<u64, Bucket>>>,
}

impl Limiter {
    /// A limiter that lets each caller make `limit` calls.
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter {
            limit,
            hasher: std::hash::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Takes one call from `caller`'s bucket: `None` if it may go on, or the seconds until
    /// it may.
    pub fn take(&self, caller: &[u8], now: Instant) -> Option<f64> {
        let mut h = self.hasher.build_hasher();
        h.write(caller);
        let key = h.finish();
        let shard = self.shards.get(key as usize % SHARDS)?;
        let mut buckets = shard.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget callers that have been quiet long enough to be full again.
            let full = self.limit.burst / self.limit.per_second;
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < full);
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: self.limit.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            Some((1.0 - b.tokens) / self.limit.per_second)
        }
    }
}

/// The answer to a call over its caller's rate (429 with `Retry-After`), or `None` to let
/// it through. The caller is the bearer credential, or the peer's address without one.
pub fn refusal(app: &App, request: &Request) -> Option<Response> {
    let limiter = app.limiter.as_ref()?;
    // The credential as authentication reads it (`Bearer` and blanks are not part of it),
    // so spelling the header differently does not give a caller a fresh bucket.
    let credential = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .map(|h| h.strip_prefix(b"Bearer ").unwrap_or(h).trim_ascii())
        .filter(|t| !t.is_empty());
    let peer_ip;
    let caller = match credential {
        Some(c) => c,
        None => {
            peer_ip = request
                .extensions()
                .get::<ConnectInfo<Peer>>()
                .map_or_else(|| "unknown".to_string(), |c| c.0.0.ip().to_string());
            peer_ip.as_bytes()
        }
    };
    let wait = limiter.take(caller, Instant::now())?;
    let seconds = wait.ceil().max(1.0);
    let mut answer = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "more than {} calls a second from this caller; try again in {seconds} s",
            limiter.limit.per_second
        ),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{seconds}")) {
        answer.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_caller_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let l = Limiter::new(RateLimit {
            per_second: 10.0,
            burst: 3.0,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take(b"a", t0), None);
        }
        let wait = l.take(b"a", t0).unwrap();
        assert!((wait - 0.1).abs() < 1e-9, "{wait}");
        assert_eq!(l.take(b"b", t0), None);
        assert_eq!(l.take(b"a", t0 + Duration::from_millis(100)), None);
        assert!(l.take(b"a", t0 + Duration::from_millis(100)).is_some());
    }

    #[test]
    fn rates_read_and_bad_ones_are_refused() {
        assert_eq!(
            RateLimit::parse("500/s").unwrap(),
            Some(RateLimit {
                per_second: 500.0,
                burst: 1000.0
            })
        );
        assert_eq!(RateLimit::parse("off").unwrap(), None);
        assert!(RateLimit::parse("fast").is_err());
        assert!(RateLimit::parse("-3").is_err());
        assert!(RateLimit::parse("NaN").is_err());
    }
}
