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

/// Groups, rules and stored alerts.
async fn counts(st: &AppState) -> Result<(usize, usize, u64), ApiError> {
    blocking(st, |s| Ok((s.list_groups()?.len(), s.list_rules()?.len(), s.alert_count()))).await
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
    /// The dataplanes that connected, with their latest counters.
    pub dataplanes: Vec<crate::link::peers::PeerState>,
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
    let (groups, rules, alerts) = counts(&st).await?;
    Ok(Json(Status { version: env!("CARGO_PKG_VERSION"), groups, rules, alerts, dataplanes: st.dataplanes.list() }))
}

/// Counters in Prometheus' text format.
#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "system", security(("bearer" = [])),
    responses(
        (status = 200, description = "`vigil_cp_groups`, `vigil_cp_rules`, `vigil_cp_alerts_stored` gauges, and per dataplane `vigil_dp_up`, `vigil_dp_rx_packets_total`, `vigil_dp_rx_bytes_total`, `vigil_dp_flows_active`, `vigil_dp_dropped_total{counter}`",
         content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn metrics(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let (groups, rules, alerts) = counts(&st).await?;
    let mut body = format!(
        "# HELP vigil_cp_groups Groups defined.\n# TYPE vigil_cp_groups gauge\nvigil_cp_groups {groups}\n\
         # HELP vigil_cp_rules Rules defined (user and learned).\n# TYPE vigil_cp_rules gauge\nvigil_cp_rules {rules}\n\
         # HELP vigil_cp_alerts_stored Alerts in the store.\n# TYPE vigil_cp_alerts_stored gauge\nvigil_cp_alerts_stored {alerts}\n"
    );
    // The dataplanes' latest counters.
    let peers = st.dataplanes.list();
    body.push_str("# HELP vigil_dp_up Whether the dataplane is connected.\n# TYPE vigil_dp_up gauge\n");
    for p in &peers {
        body.push_str(&format!("vigil_dp_up{{dataplane=\"{}\"}} {}\n", p.id, u8::from(p.connected)));
    }
    for (name, help, get) in [
        (
            "vigil_dp_rx_packets_total",
            "Packets received.",
            (|s: &crate::link::peers::Stats| s.rx_packets) as fn(&crate::link::peers::Stats) -> u64,
        ),
        ("vigil_dp_rx_bytes_total", "Bytes received.", |s| s.rx_bytes),
        ("vigil_dp_flows_active", "Flows tracked now.", |s| s.flows_active),
    ] {
        body.push_str(&format!("# HELP {name} {help}\n"));
        for p in &peers {
            if let Some(s) = &p.last_stats {
                body.push_str(&format!("{name}{{dataplane=\"{}\"}} {}\n", p.id, get(s)));
            }
        }
    }
    body.push_str("# HELP vigil_dp_dropped_total Named drop counters of the dataplane.\n");
    for p in &peers {
        for (k, v) in p.last_stats.iter().flat_map(|s| s.drops.iter()) {
            body.push_str(&format!("vigil_dp_dropped_total{{dataplane=\"{}\",counter=\"{k}\"}} {v}\n", p.id));
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}
