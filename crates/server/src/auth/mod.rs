//! Who is calling: an `Authorization: Bearer TOKEN` header, looked up by its hash in the
//! data directory, or a JWT verified against the configured JWKS ([`jwt`]; only ever an
//! approver). The service, never the request body, says which agent or approver the
//! caller is.

pub mod jwt;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::App;
use crate::data::{Holder, TOKEN_PREFIX};
use crate::error::ApiError;

/// An authenticated agent.
#[derive(Debug, Clone)]
pub struct Agent {
    /// Its name.
    pub name: String,
    /// The tenants it may act for.
    pub tenants: Vec<String>,
}

impl Agent {
    /// Whether it may act for (and see requests of) `tenant`.
    pub fn serves(&self, tenant: &str) -> bool {
        self.tenants.iter().any(|t| t == tenant)
    }
}

/// An authenticated approver.
#[derive(Debug, Clone)]
pub struct Approver {
    /// The approver's identity (what decisions record).
    pub id: String,
    /// Groups an identity provider vouches for (a JWT's groups claim; none for a service
    /// token): they count for the groups approvers.yaml defines.
    pub groups: Vec<String>,
}

impl Approver {
    /// An approver with a service token (groups from approvers.yaml alone).
    fn with_token(id: String) -> Approver {
        Approver {
            id,
            groups: Vec::new(),
        }
    }
}

/// Who the bearer token (or the browser's session) says is calling.
enum Bearer {
    /// A service token's holder.
    Token(Holder),
    /// A verified JWT's approver, or an approver signed in to the web inbox.
    Signed(Approver),
}

/// The caller, by a service token or (when configured, and the token is not a service
/// token) a JWT; without an `Authorization` header, by the web inbox's session cookie
/// (whose state-changing calls must carry the session's CSRF token).
async fn bearer(parts: &Parts, app: &Arc<App>) -> Result<Bearer, ApiError> {
    if parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .is_none()
        && let Some(session) = crate::web::session_of(parts, app)?
    {
        return Ok(Bearer::Signed(session.approver));
    }
    let token = token(parts)?;
    match &app.jwt {
        Some(v) if !token.starts_with(TOKEN_PREFIX) => v
            .verify(token)
            .map(Bearer::Signed)
            .map_err(ApiError::unauthenticated),
        _ => {
            let found = app
                .data
                .holder(token)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            found
                .map(Bearer::Token)
                .ok_or_else(|| ApiError::unauthenticated("unknown token"))
        }
    }
}

/// The request's bearer token.
fn token(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("send `Authorization: Bearer TOKEN`"))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthenticated("the Authorization header is not `Bearer TOKEN`")
        })?;
    Ok(token)
}

impl FromRequestParts<Arc<App>> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Agent, ApiError> {
        match bearer(parts, app).await? {
            Bearer::Token(Holder::Agent { name, tenants }) => Ok(Agent { name, tenants }),
            Bearer::Token(Holder::Approver { .. }) => Err(ApiError::forbidden(
                "this is an agent's call; an approver's token cannot make it",
            )),
            Bearer::Signed(_) => Err(ApiError::forbidden(
                "this is an agent's call; a JWT or a web session is only ever an approver's (agents use service tokens)",
            )),
        }
    }
}

impl FromRequestParts<Arc<App>> for Approver {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Approver, ApiError> {
        match bearer(parts, app).await? {
            Bearer::Token(Holder::Approver { id }) => Ok(Approver::with_token(id)),
            Bearer::Signed(approver) => Ok(approver),
            Bearer::Token(Holder::Agent { .. }) => Err(ApiError::forbidden(
                "an agent's token can never decide or read the inbox",
            )),
        }
    }
}

/// Either kind of caller (reading a request).
#[derive(Debug, Clone)]
pub enum Caller {
    /// An agent.
    Agent(Agent),
    /// An approver.
    Approver(Approver),
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        Ok(match bearer(parts, app).await? {
            Bearer::Token(Holder::Agent { name, tenants }) => {
                Caller::Agent(Agent { name, tenants })
            }
            Bearer::Token(Holder::Approver { id }) => Caller::Approver(Approver::with_token(id)),
            Bearer::Signed(approver) => Caller::Approver(approver),
        })
    }
}
