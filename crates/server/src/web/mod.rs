//! The approvers' web inbox, served under `/ui/`: a sign-in form (an approver's service
//! token), a session cookie, and a page built into the binary that reads and decides
//! through the same API as every other client. Every answer carries a strict
//! Content-Security-Policy (no inline script, nothing from another origin); the page puts
//! what an agent sent into the document as text only.

pub mod sessions;
pub mod sso;

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::App;
use crate::auth::Approver;
use crate::data::Holder;
use crate::error::ApiError;
use sessions::{CSRF_HEADER, LOGIN_COOKIE, SESSION_COOKIE, Session, cookie, same_token};

/// The page's script, style and shell, built into the binary.
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");
const INDEX_HTML: &str = include_str!("../../web/index.html");
const LOGIN_HTML: &str = include_str!("../../web/login.html");

/// What every page and asset is served with.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The inbox's routes (merged into the API's router).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(index))
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript", APP_JS) }),
        )
        .route("/ui/app.css", get(|| async { asset("text/css", APP_CSS) }))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/session", get(session))
        .route("/ui/sso/start", get(sso_start))
        .route("/ui/sso/callback", get(sso_callback))
        .route("/inbox/{id}", get(request_link))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

/// Whether `id` is one the service makes (letters, digits, `_`, `-`, `.`): only such an
/// id goes into a link.
pub fn linkable(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `/inbox/{id}`, the link webhook messages carry: the request's page in the inbox.
async fn request_link(crate::extract::Id(id): crate::extract::Id) -> Response {
    if linkable(&id) {
        guarded(Redirect::to(&format!("/ui/#/r/{id}")).into_response())
    } else {
        crate::error::ApiError::not_found("request by this id").into_response()
    }
}

fn now_ms() -> i64 {
    holdpoint::approval::Clock::now_ms(&holdpoint::approval::SystemClock)
}

/// The headers every answer of the inbox carries.
fn guarded(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    guarded(([(header::CONTENT_TYPE, kind)], body).into_response())
}

fn html(status: StatusCode, body: String) -> Response {
    guarded(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, the whole site; Secure over https.
fn set_cookie(app: &App, name: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
    cookie_with(app, name, value, max_age, "Strict")
}

/// A `Set-Cookie` value with this `SameSite` (`Lax` only for the single sign-on start,
/// whose cookie must come back with the identity provider's redirect).
fn cookie_with(
    app: &App,
    name: &str,
    value: &str,
    max_age: i64,
    same_site: &str,
) -> Option<HeaderValue> {
    let secure = if app.https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    ))
    .ok()
}

fn cookies(headers: &HeaderMap) -> &str {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The open session a cookie names, whose token is still an approver's (removing the token
/// from `tokens.json` ends its sessions too).
fn live_session(app: &App, headers: &HeaderMap) -> Option<Session> {
    let id = cookie(cookies(headers), SESSION_COOKIE)?;
    let s = app.sessions.get(id, now_ms())?;
    let Some(token) = s.token else {
        return Some(s);
    };
    match app.data.holder_of_digest(&token) {
        Ok(Some(Holder::Approver { id: who })) if who == s.approver.id => Some(s),
        _ => {
            app.sessions.close(id);
            None
        }
    }
}

/// The session a request's cookie names, for authentication: `None` without the cookie;
/// an error for a session that ended, or for a state-changing call without the session's
/// CSRF token.
pub fn session_of(parts: &Parts, app: &App) -> Result<Option<Session>, ApiError> {
    if cookie(cookies(&parts.headers), SESSION_COOKIE).is_none() {
        return Ok(None);
    }
    let session = live_session(app, &parts.headers).ok_or_else(|| {
        ApiError::unauthenticated("your session ended: sign in again at /ui/login")
    })?;
    let safe = matches!(parts.method, Method::GET | Method::HEAD);
    if !safe {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !same_token(sent, &session.csrf) {
            return Err(ApiError::forbidden(format!(
                "a call from the web inbox must carry the session's `{CSRF_HEADER}` header"
            )));
        }
    }
    Ok(Some(session))
}

/// `GET /ui/`: the inbox page (it signs in first when there is no session).
async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let signed_in = live_session(&app, &headers).is_some();
    if !signed_in {
        return guarded(Redirect::to("/ui/login").into_response());
    }
    html(StatusCode::OK, INDEX_HTML.to_string())
}

/// `GET /ui/session`: who is signed in, and the CSRF token the page sends with each change.
async fn session(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let found = live_session(&app, &headers);
    let answer = match found {
        Some(s) => {
            use holdpoint::approval::Approvers as _;
            let all: Vec<&str> = app.approvers.groups().map(|(g, _)| g).collect();
            let me = holdpoint::approval::Vouched::new(
                &*app.approvers,
                &s.approver.id,
                &s.approver.groups,
            );
            let mine: Vec<&str> = all
                .iter()
                .copied()
                .filter(|g| me.is_member(&s.approver.id, g))
                .collect();
            Json(json!({
                "approver": s.approver.id,
                "groups": mine,
                "all_groups": all,
                "csrf": s.csrf,
                "expires_at": holdpoint::approval::format_time(s.expires_ms),
            }))
            .into_response()
        }
        None => ApiError::unauthenticated("not signed in: sign in at /ui/login").into_response(),
    };
    guarded(answer)
}

/// The sign-in page, with a fresh form token bound to this browser by a cookie.
fn login_form(app: &App, status: StatusCode, problem: Option<&str>) -> Response {
    let Ok(token) = sessions::new_token() else {
        return ApiError::internal("no randomness for the form token").into_response();
    };
    let problem = problem.map_or(String::new(), |p| {
        format!(r#"<p class="problem" role="alert">{}</p>"#, escape_html(p))
    });
    let sso = if app.sso.is_some() {
        r#"<p><a class="button primary" href="/ui/sso/start">Sign in with single sign-on</a></p><p class="quiet">Or with an approver token:</p>"#
    } else {
        ""
    };
    let body = LOGIN_HTML
        .replace("{{csrf}}", &token)
        .replace("{{problem}}", &problem)
        .replace("{{sso}}", sso);
    let mut r = html(status, body);
    if let Some(c) = set_cookie(app, LOGIN_COOKIE, &token, 3600) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// `GET /ui/login`.
async fn login_page(State(app): State<Arc<App>>) -> Response {
    login_form(&app, StatusCode::OK, None)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
struct Login {
    token: String,
    csrf: String,
}

/// `POST /ui/login`: an approver's service token for a session cookie.
async fn login(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: Result<Form<Login>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return login_form(
            &app,
            StatusCode::BAD_REQUEST,
            Some("The form did not arrive whole: try again."),
        );
    };
    let bound = cookie(cookies(&headers), LOGIN_COOKIE).is_some_and(|c| same_token(c, &form.csrf));
    if !bound {
        return login_form(
            &app,
            StatusCode::FORBIDDEN,
            Some("This form has expired (or came from another page): sign in again."),
        );
    }
    let token = form.token.trim();
    let holder = app.data.holder(token);
    let approver = match holder {
        Ok(Some(Holder::Approver { id })) => Approver {
            id,
            groups: Vec::new(),
        },
        Ok(Some(Holder::Agent { .. })) => {
            return login_form(
                &app,
                StatusCode::FORBIDDEN,
                Some("That is an agent's token: an agent never signs in to decide."),
            );
        }
        Ok(None) => {
            return login_form(
                &app,
                StatusCode::UNAUTHORIZED,
                Some(
                    "That token is not known: ask for an approver's token (policy tokens create --approver YOU).",
                ),
            );
        }
        Err(e) => return ApiError::internal(e.to_string()).into_response(),
    };
    let digest = crate::data::token_digest(token);
    signed_in(
        &app,
        approver,
        Some(digest),
        Redirect::to("/ui/").into_response(),
    )
}

/// Opens a session for `approver` and answers `r` with its cookie.
fn signed_in(app: &App, approver: Approver, token: Option<[u8; 32]>, r: Response) -> Response {
    let (id, _) = match app.sessions.open(approver, token, now_ms()) {
        Ok(s) => s,
        Err(e) => return ApiError::internal(e.to_string()).into_response(),
    };
    let mut r = guarded(r);
    if let Some(c) = set_cookie(app, SESSION_COOKIE, &id, app.sessions.lifetime_secs()) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    if let Some(c) = set_cookie(app, LOGIN_COOKIE, "", 0) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// `GET /ui/sso/start`: sends the browser to the identity provider, with a fresh `state`
/// (also in the `hp_sso` cookie), `nonce` and PKCE challenge.
async fn sso_start(State(app): State<Arc<App>>) -> Response {
    let Some(sso) = &app.sso else {
        return guarded(
            ApiError::not_found("single sign-on is not configured (policy serve --sso)")
                .into_response(),
        );
    };
    let (state, url) = match sso.start(now_ms()) {
        Ok(s) => s,
        Err(e) => return ApiError::internal(e.to_string()).into_response(),
    };
    let mut r = guarded(Redirect::to(&url).into_response());
    let max_age = sso::START_LIFETIME_MS / 1000;
    if let Some(c) = cookie_with(&app, sso::START_COOKIE, &state, max_age, "Lax") {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// What the identity provider sends the browser back with.
#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /ui/sso/callback`: the code for an ID token, the ID token for a session. The
/// answer is a page that moves on to the inbox itself: a navigation from this service's
/// own page carries the SameSite=Strict session cookie, the provider's redirect would not.
async fn sso_callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let refused = |status: StatusCode, why: &str| {
        let mut r = login_form(&app, status, Some(why));
        if let Some(c) = cookie_with(&app, sso::START_COOKIE, "", 0, "Lax") {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
        r
    };
    let (Some(sso), Some(jwt)) = (&app.sso, &app.jwt) else {
        return refused(StatusCode::NOT_FOUND, "Single sign-on is not configured.");
    };
    let Ok(Query(back)) = query else {
        return refused(
            StatusCode::BAD_REQUEST,
            "The sign-in came back malformed: sign in again.",
        );
    };
    if let Some(error) = &back.error {
        let why = back.error_description.as_deref().unwrap_or(error);
        return refused(
            StatusCode::FORBIDDEN,
            &format!("The identity provider did not sign you in: {why}"),
        );
    }
    let (Some(code), Some(state)) = (&back.code, &back.state) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "The sign-in came back without a code or state: sign in again.",
        );
    };
    let cookie = cookie(cookies(&headers), sso::START_COOKIE);
    let approver = match sso.finish(code, state, cookie, jwt, now_ms()).await {
        Ok(a) => a,
        Err(e) => return refused(StatusCode::FORBIDDEN, &e.to_string()),
    };
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed in · holdpoint</title><meta http-equiv="refresh" content="0; url=/ui/"><link rel="stylesheet" href="/ui/app.css"></head><body><main class="login"><h1>Signed in as {}</h1><p><a href="/ui/">Continue to the inbox</a></p></main></body></html>"#,
        escape_html(&approver.id)
    );
    let mut r = signed_in(&app, approver, None, html(StatusCode::OK, page));
    if let Some(c) = cookie_with(&app, sso::START_COOKIE, "", 0, "Lax") {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
struct Logout {
    csrf: String,
}

/// `POST /ui/logout`: ends the session (the form carries its CSRF token).
async fn logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: Result<Form<Logout>, axum::extract::rejection::FormRejection>,
) -> Response {
    let jar = cookies(&headers);
    if let Some(id) = cookie(jar, SESSION_COOKIE) {
        let owns = app
            .sessions
            .get(id, now_ms())
            .zip(form.ok())
            .is_some_and(|(s, Form(f))| same_token(&f.csrf, &s.csrf));
        if !owns {
            return guarded(
                ApiError::forbidden("sign out from the inbox's own button").into_response(),
            );
        }
        app.sessions.close(id);
    }
    let mut r = guarded(Redirect::to("/ui/login").into_response());
    if let Some(c) = set_cookie(&app, SESSION_COOKIE, "", 0) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// Text made safe to put inside HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
