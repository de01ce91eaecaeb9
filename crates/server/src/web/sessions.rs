//! Approvers' browser sessions: a random id in an HttpOnly, SameSite=Strict cookie, held
//! in memory by its SHA-256 (a restart signs everyone out), each with its own CSRF token
//! that every state-changing call from the page must carry.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::auth::Approver;
use crate::data::{DataError, random};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hp_session";

/// The cookie that binds the login form to the browser that loaded it.
pub const LOGIN_COOKIE: &str = "hp_login";

/// The header a page's state-changing call carries its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// At most this many sessions are held; the oldest is closed to make room.
const MAX_SESSIONS: usize = 10_000;

/// At most this many sessions of one approver are held; their oldest is closed to make
/// room, so one approver signing in again and again closes only their own sessions.
pub const MAX_SESSIONS_EACH: usize = 20;

/// One signed-in approver.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in.
    pub approver: Approver,
    /// The SHA-256 of the service token they signed in with (the session ends when it is
    /// removed); none for a single sign-on session.
    pub token: Option<[u8; 32]>,
    /// The token every form and state-changing call must carry.
    pub csrf: String,
    /// When it ends (milliseconds since the epoch).
    pub expires_ms: i64,
}

/// The open sessions.
#[derive(Debug)]
pub struct Sessions {
    open: Mutex<HashMap<[u8; 32], Session>>,
    lifetime_ms: i64,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// A new random token (32 bytes, base64url).
pub fn new_token() -> Result<String, DataError> {
    Ok(URL_SAFE_NO_PAD.encode(random::<32>()?))
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// Sessions that last `lifetime` from sign-in.
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            open: Mutex::new(HashMap::new()),
            lifetime_ms: i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// How long a session lasts, in seconds (the cookie's `Max-Age`).
    pub fn lifetime_secs(&self) -> i64 {
        self.lifetime_ms / 1000
    }

    /// Opens a session for `approver`: the cookie's value and the session.
    pub fn open(
        &self,
        approver: Approver,
        token: Option<[u8; 32]>,
        now_ms: i64,
    ) -> Result<(String, Session), DataError> {
        let id = new_token()?;
        let session = Session {
            approver,
            token,
            csrf: new_token()?,
            expires_ms: now_ms.saturating_add(self.lifetime_ms),
        };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let theirs = |s: &Session| s.approver.id == session.approver.id;
        if open.values().filter(|s| theirs(s)).count() >= MAX_SESSIONS_EACH
            && let Some(oldest) = open
                .iter()
                .filter(|(_, s)| theirs(s))
                .min_by_key(|(_, s)| s.expires_ms)
                .map(|(k, _)| *k)
        {
            open.remove(&oldest);
        }
        make_room(&mut open, MAX_SESSIONS, now_ms, |s| s.expires_ms);
        open.insert(key(&id), session.clone());
        Ok((id, session))
    }

    /// The session a cookie names, unless it ended.
    pub fn get(&self, id: &str, now_ms: i64) -> Option<Session> {
        let k = key(id);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        match open.get(&k) {
            Some(s) if s.expires_ms > now_ms => Some(s.clone()),
            Some(_) => {
                open.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn close(&self, id: &str) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.remove(&key(id));
    }
}

/// Makes room for one more entry in a map held to `max` entries: drops those that ended
/// by `now_ms`, then, if it is still full, the one that ends first.
pub(crate) fn make_room<V>(
    map: &mut HashMap<[u8; 32], V>,
    max: usize,
    now_ms: i64,
    ends: impl Fn(&V) -> i64,
) {
    if map.len() >= max {
        map.retain(|_, v| ends(v) > now_ms);
    }
    if map.len() >= max
        && let Some(first) = map.iter().min_by_key(|(_, v)| ends(v)).map(|(k, _)| *k)
    {
        map.remove(&first);
    }
}

/// The value of the cookie `name` in a `Cookie` header, if it is there.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fiona() -> Approver {
        Approver {
            id: "fiona".into(),
            groups: vec![],
        }
    }

    #[test]
    fn a_session_ends_when_it_expires_or_is_closed() {
        let s = Sessions::new(Duration::from_secs(60));
        let (id, opened) = s.open(fiona(), None, 1_000).unwrap();
        assert_eq!(s.get(&id, 2_000).unwrap().csrf, opened.csrf);
        assert!(s.get(&id, 61_000).is_none(), "expired");
        let (id, _) = s.open(fiona(), None, 1_000).unwrap();
        s.close(&id);
        assert!(s.get(&id, 2_000).is_none(), "closed");
        assert!(s.get("made-up", 2_000).is_none());
    }

    #[test]
    fn signing_in_again_and_again_closes_only_ones_own_sessions() {
        let s = Sessions::new(Duration::from_secs(600));
        let (amir, _) = s
            .open(
                Approver {
                    id: "amir".into(),
                    groups: vec![],
                },
                None,
                1_000,
            )
            .unwrap();
        let (first, _) = s.open(fiona(), None, 1_000).unwrap();
        let mut last = String::new();
        for i in 0..MAX_SESSIONS + 5 {
            last = s.open(fiona(), None, 2_000 + i as i64).unwrap().0;
        }
        assert!(
            s.get(&amir, 3_000).is_some(),
            "another approver's session stays"
        );
        assert!(s.get(&first, 3_000).is_none(), "fiona's oldest was closed");
        assert!(s.get(&last, 3_000).is_some());
        let held = s.open.lock().unwrap().len();
        assert_eq!(held, MAX_SESSIONS_EACH + 1);
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = "a=1; hp_session=abc; hp_session_x=zzz";
        assert_eq!(cookie(h, "hp_session"), Some("abc"));
        assert_eq!(cookie(h, "hp"), None);
        assert_eq!(cookie("hp_session=", "hp_session"), None);
    }

    #[test]
    fn tokens_compare_equal_only_when_equal() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
    }
}
