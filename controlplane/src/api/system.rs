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
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "groups": groups,
        "rules": rules,
        "alerts": alerts,
        "dataplanes": st.dataplanes.list(),
    })))
}

async fn metrics(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let (groups, rules, alerts) = blocking(&st, |s| {
        let g = s.list_groups().map_err(ApiError::from)?.len();
        let r = s.list_rules().map_err(ApiError::from)?.len();
        let a = s.alert_count();
        Ok((g, r, a))
    })
    .await?;
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
