//! The handlers' extractors for what axum reads: the request body as text, the `{id}` of
//! the path and the query. Each refuses like every other refusal of the API, with a 4xx
//! and `{"error": {"code", "message"}}` (axum's own extractors answer in plain text).

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The request body as text; a body over [`crate::MAX_BODY`] is a 413 (`too_large`), one
/// that is not UTF-8 a 400.
#[derive(Debug)]
pub struct Body(pub String);

/// The request's `{id}`; one that is not UTF-8 once percent-decoded is a 400.
#[derive(Debug)]
pub struct Id(pub String);

/// The query string read into `T`; one that does not read is a 400.
#[derive(Debug)]
pub struct Params<T>(pub T);

/// An axum rejection as the API's error.
fn refused(status: StatusCode, what: &str, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "too_large",
            format!(
                "the body is larger than the {} bytes the service accepts",
                crate::MAX_BODY
            ),
        ),
        s if s.is_client_error() => ApiError::new(s, "bad_request", format!("{what}: {text}")),
        _ => ApiError::internal(format!("{what}: {text}")),
    }
}

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Body, ApiError> {
        String::from_request(req, state)
            .await
            .map(Body)
            .map_err(|r| refused(r.status(), "the body", r.body_text()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Id, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Id(id))
            .map_err(|r| refused(r.status(), "the path", r.body_text()))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params<T>, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Params(q))
            .map_err(|r| refused(r.status(), "the query", r.body_text()))
    }
}
