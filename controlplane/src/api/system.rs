//! Health, readiness, status and Prometheus metrics.
use super::error::ErrorBody;
use super::{blocking, ApiError, AppState};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

/// Routes that need no token.
pub fn public() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(ready))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/status", get(status)).route("/metrics", get(metrics))
}

/// Liveness: the process answers.
#[utoipa::path(
    get, path = "/healthz", operation_id = "healthz", tag = "system",
    responses((status = 200, description = "`ok`", content_type = "text/plain; charset=utf-8", body = String, example = "ok\n")),
)]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the store answers.
#[utoipa::path(
    get, path = "/readyz", operation_id = "readyz", tag = "system",
    responses(
        (status = 200, description = "`ready`", content_type = "text/plain; charset=utf-8", body = String, example = "ready\n"),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn ready(State(st): State<AppState>) -> Result<&'static str, ApiError> {
    blocking(&st, |s| s.list_groups().map(|_| ()).map_err(ApiError::from)).await?;
    Ok("ready\n")
}

/// Body of `GET /v1/status`.
#[derive(Serialize, ToSchema)]
pub struct Status {
    /// vigil-cp's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    /// Groups defined (built-in ones included).
    pub groups: usize,
    /// Rules defined (user and learned).
    pub rules: usize,
    /// Alerts in the store.
    pub alerts: u64,
}

/// What the control plane holds.
#[utoipa::path(
    get, path = "/v1/status", operation_id = "status", tag = "system", security(("bearer" = [])),
    responses(
        (status = 200, description = "Version and counts", body = Status),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn status(State(st): State<AppState>) -> Result<Json<Status>, ApiError> {
    let (groups, rules, alerts) = blocking(&st, |s| {
        let g = s.list_groups().map_err(ApiError::from)?.len();
        let r = s.list_rules().map_err(ApiError::from)?.len();
        let a = s.alert_count();
        Ok((g, r, a))
    })
    .await?;
    Ok(Json(Status { version: env!("CARGO_PKG_VERSION"), groups, rules, alerts }))
}

/// Counters in Prometheus' text format.
#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "system", security(("bearer" = [])),
    responses(
        (status = 200, description = "`vigil_cp_groups`, `vigil_cp_rules`, `vigil_cp_alerts_stored` gauges",
         content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn metrics(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let (groups, rules, alerts) = blocking(&st, |s| {
        let g = s.list_groups().map_err(ApiError::from)?.len();
        let r = s.list_rules().map_err(ApiError::from)?.len();
        let a = s.alert_count();
        Ok((g, r, a))
    })
    .await?;
    let body = format!(
        "# HELP vigil_cp_groups Groups defined.\n# TYPE vigil_cp_groups gauge\nvigil_cp_groups {groups}\n\
         # HELP vigil_cp_rules Rules defined (user and learned).\n# TYPE vigil_cp_rules gauge\nvigil_cp_rules {rules}\n\
         # HELP vigil_cp_alerts_stored Alerts in the store.\n# TYPE vigil_cp_alerts_stored gauge\nvigil_cp_alerts_stored {alerts}\n"
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}
