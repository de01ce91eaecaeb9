//! Who is calling: an `Authorization: Bearer TOKEN` header, looked up by its hash in the
//! data directory. The service, never the request body, says which agent or approver
//! the caller is.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::App;
use crate::data::Holder;
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
}

/// The holder of the request's bearer token.
async fn holder(parts: &Parts, app: &Arc<App>) -> Result<Holder, ApiError> {
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
        .ok_or_else(|| ApiError::unauthenticated("the Authorization header is not `Bearer TOKEN`"))?
        .to_string();
    let data = app.data.clone();
    let found = tokio::task::spawn_blocking(move || data.holder(&token))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    found.ok_or_else(|| ApiError::unauthenticated("unknown token"))
}

impl FromRequestParts<Arc<App>> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Agent, ApiError> {
        match holder(parts, app).await? {
            Holder::Agent { name, tenants } => Ok(Agent { name, tenants }),
            Holder::Approver { .. } => Err(ApiError::forbidden(
                "this is an agent's call; an approver's token cannot make it",
            )),
        }
    }
}

impl FromRequestParts<Arc<App>> for Approver {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Approver, ApiError> {
        match holder(parts, app).await? {
            Holder::Approver { id } => Ok(Approver { id }),
            Holder::Agent { .. } => Err(ApiError::forbidden(
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
        Ok(match holder(parts, app).await? {
            Holder::Agent { name, tenants } => Caller::Agent(Agent { name, tenants }),
            Holder::Approver { id } => Caller::Approver(Approver { id }),
        })
    }
}
