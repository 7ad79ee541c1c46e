//! Health, readiness, status and Prometheus metrics.
use super::{blocking, ApiError, AppState};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// Routes that need no token.
pub fn public() -> Router<AppState> {
    Router::new().route("/healthz", get(|| async { "ok\n" })).route("/readyz", get(ready))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/status", get(status)).route("/metrics", get(metrics))
}

async fn ready(State(st): State<AppState>) -> Result<&'static str, ApiError> {
    blocking(&st, |s| s.list_groups().map(|_| ()).map_err(ApiError::from)).await?;
    Ok("ready\n")
}

async fn status(State(st): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let (groups, rules, alerts) = blocking(&st, |s| {
        let g = s.list_groups().map_err(ApiError::from)?.len();
        let r = s.list_rules().map_err(ApiError::from)?.len();
        let a = s.alert_count();
        Ok((g, r, a))
    })
    .await?;
    Ok(Json(json!({ "version": env!("CARGO_PKG_VERSION"), "groups": groups, "rules": rules, "alerts": alerts })))
}

async fn metrics(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
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
