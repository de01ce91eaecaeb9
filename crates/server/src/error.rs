//! Errors as HTTP answers: a status and `{"error": {"code", "message"}}`. Bad input is a
//! 4xx that says what and where; only a store that cannot be read or written is a 5xx.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use holdpoint::approval::Error;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An answer with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the request body or query does not read.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no credentials, or unknown ones.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403: the caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: nothing by this id the caller may see.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {what}"))
    }

    /// 500: the service itself failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let message = e.to_string();
        let (status, code) = match &e {
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::RequesterCannotDecide(_)
            | Error::AgentCannotDecide(_)
            | Error::NotAnApprover { .. }
            | Error::UnreadableApprover(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::NotPending { .. }
            | Error::AlreadyClaimed { .. }
            | Error::NotApproved { .. }
            | Error::AlreadyDecided { .. }
            | Error::PayloadChanged { .. }
            | Error::KeyReused { .. }
            | Error::KeyTaken { .. }
            | Error::AlreadyFinished { .. }
            | Error::LeaseExpired(_)
            | Error::PolicyNowDenies { .. }
            | Error::PolicyChanged { .. }
            | Error::Unproven { .. } => (StatusCode::CONFLICT, "conflict"),
            Error::NotYourClaim(_) => (StatusCode::FORBIDDEN, "not_your_claim"),
            Error::BadProposal(_)
            | Error::BadEdit(_)
            | Error::EditDenied { .. }
            | Error::DecisionNotAllowed { .. }
            | Error::UnknownGate { .. }
            | Error::ReasonRequired
            | Error::BadEscalation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, code, message)
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
