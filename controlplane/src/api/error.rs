//! The API's one error type: a status, a stable code, a message for the client and the
//! field at fault. Internal details (store errors) go to the log, not to the client.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message: message.into(),
            field: Some(field.into()),
        }
    }
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, code: "not_found", message: what.into(), field: None }
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::CONFLICT, code: "conflict", message: message.into(), field: None }
    }
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "a bearer token is required: send 'Authorization: Bearer <token>'".into(),
            field: None,
        }
    }
    pub fn forbidden() -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: "this token's role is 'reader': writing needs an 'admin' token".into(),
            field: None,
        }
    }
    /// A failure inside the service: logged in full, the client gets a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        eprintln!("vigil-cp: internal error: {detail}");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
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
        let body = Body { error: Inner { code: self.code, message: &self.message, field: self.field.as_deref() } };
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
                a.code = "too_large";
                a
            }
            other => ApiError::internal(other),
        }
    }
}
