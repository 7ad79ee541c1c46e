//! The API's one error type: a status, a stable code, a message for the client and the
//! field at fault. Internal details (store errors) go to the log, not to the client.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

/// The stable code of an error (`error.code`), for programs; the message is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Bad input: malformed JSON, a wrong type, a bad value (`field` names it).
    Invalid,
    /// No such group, rule or quarantine entry.
    NotFound,
    /// The request contradicts the state: the name exists, the group is built in or in use.
    Conflict,
    /// No bearer token, or an unknown one.
    Unauthorized,
    /// A `reader` token tried to write.
    Forbidden,
    /// The body is larger than the limit.
    TooLarge,
    /// A failure inside the service (the detail is in its log).
    Internal,
}

/// Every error response's body.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "invalid", "message": "\"bad name\" may only use letters, digits, '.', '_' and '-'", "field": "name"}}))]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    pub code: ErrorCode,
    pub message: &'a str,
    /// The field or parameter at fault (`name`, `apps[0]`, `limit`, `body`, ...), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: ErrorCode::Invalid,
            message: message.into(),
            field: Some(field.into()),
        }
    }
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, code: ErrorCode::NotFound, message: what.into(), field: None }
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::CONFLICT, code: ErrorCode::Conflict, message: message.into(), field: None }
    }
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::Unauthorized,
            message: "a bearer token is required: send 'Authorization: Bearer <token>'".into(),
            field: None,
        }
    }
    pub fn forbidden() -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: ErrorCode::Forbidden,
            message: "this token's role is 'reader': writing needs an 'admin' token".into(),
            field: None,
        }
    }
    /// A failure inside the service: logged in full, the client gets a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        eprintln!("vigil-cp: internal error: {detail}");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: ErrorCode::Internal,
            message: "internal error (see the vigil-cp log)".into(),
            field: None,
        }
    }
}

impl From<crate::model::Invalid> for ApiError {
    fn from(e: crate::model::Invalid) -> ApiError {
        ApiError::bad_request(e.field, e.msg)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code, message: &self.message, field: self.field.as_deref() } };
        (self.status, Json(body)).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        use crate::store::StoreError as E;
        match e {
            E::NotFound { .. } => ApiError::not_found(e.to_string()),
            E::Invalid { source, .. } => ApiError::bad_request(source.field, source.msg),
            E::BuiltinGroup { .. } | E::GroupInUse { .. } => ApiError::conflict(e.to_string()),
            E::TooLarge { .. } => {
                let mut a = ApiError::bad_request("body", e.to_string());
                a.status = StatusCode::PAYLOAD_TOO_LARGE;
                a.code = ErrorCode::TooLarge;
                a
            }
            other => ApiError::internal(other),
        }
    }
}
