//! `/v1/alerts` (query, live stream), `/v1/conversations`, `/v1/quarantine`.
use super::{blocking, ApiError, AppState, Body};
use crate::model::{Alert, AlertKind, Conversation, Quarantine};
use crate::store::AlertQuery;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::net::IpAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/alerts", get(query))
        .route("/v1/alerts/stream", get(stream))
        .route("/v1/conversations", get(conversations))
        .route("/v1/quarantine", get(quarantined).post(quarantine))
        .route("/v1/quarantine/{ip}", delete(release))
}

/// Query string of `GET /v1/alerts`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// Oldest time (ms since the epoch), inclusive.
    pub from_ms: Option<u64>,
    /// Newest time, exclusive.
    pub to_ms: Option<u64>,
    /// `threat`, `violation` or `quarantine`; comma-separated.
    pub kind: Option<String>,
    /// Only alerts at least this severe (1 = high ... 4).
    pub severity: Option<u8>,
    /// Alerts whose source or destination group is this.
    pub group: Option<String>,
    /// The `next` cursor of the previous page.
    pub cursor: Option<u64>,
    /// Page size (1..=1000, default 100).
    pub limit: Option<usize>,
}

#[derive(Serialize)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

fn parse_kinds(s: &str) -> Result<Vec<AlertKind>, ApiError> {
    s.split(',')
        .filter(|k| !k.is_empty())
        .map(|k| {
            serde_json::from_value(serde_json::Value::String(k.to_string())).map_err(|_| {
                ApiError::bad_request("kind", format!("{k:?} is not an alert kind (threat, violation, quarantine)"))
            })
        })
        .collect()
}

async fn query(
    State(st): State<AppState>,
    q: Result<Query<AlertParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AlertPage>, ApiError> {
    let Query(p) = q.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit", "must be from 1 to 1000"));
    }
    if let Some(s) = p.severity {
        if !(1..=4).contains(&s) {
            return Err(ApiError::bad_request("severity", "must be from 1 (high) to 4"));
        }
    }
    let q = AlertQuery {
        from_ms: p.from_ms,
        to_ms: p.to_ms,
        kinds: p.kind.as_deref().map(parse_kinds).transpose()?.unwrap_or_default(),
        min_severity: p.severity,
        group: p.group,
        after: p.cursor,
        limit,
        newest_first: false,
    };
    let (alerts, next) = blocking(&st, move |s| s.query_alerts(&q).map_err(ApiError::from)).await?;
    Ok(Json(AlertPage { alerts, next }))
}

/// Server-Sent Events: one `alert` event (JSON) per new alert.
async fn stream(State(st): State<AppState>) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    use tokio_stream::StreamExt;
    // A slow reader skips what it missed (`Lagged`): the store has everything.
    let s = tokio_stream::wrappers::BroadcastStream::new(st.alerts.subscribe()).filter_map(|a| a.ok()).map(|a| {
        Ok(Event::default()
            .event("alert")
            .json_data(&a)
            .unwrap_or_else(|_| Event::default().comment("unserialisable alert")))
    });
    Sse::new(s).keep_alive(KeepAlive::default())
}

async fn conversations(State(st): State<AppState>) -> Result<Json<Vec<Conversation>>, ApiError> {
    Ok(Json(blocking(&st, |s| s.list_conversations().map_err(ApiError::from)).await?))
}

async fn quarantined(State(st): State<AppState>) -> Result<Json<Vec<Quarantine>>, ApiError> {
    Ok(Json(blocking(&st, |s| s.list_quarantine().map_err(ApiError::from)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuarantineBody {
    ip: IpAddr,
    reason: String,
}

async fn quarantine(
    State(st): State<AppState>,
    Body(b): Body<QuarantineBody>,
) -> Result<(StatusCode, Json<Quarantine>), ApiError> {
    if b.reason.trim().is_empty() {
        return Err(ApiError::bad_request("reason", "say why the endpoint is quarantined"));
    }
    let q = Quarantine { ip: b.ip, reason: b.reason, by: "api".into(), since_ms: crate::now_ms() };
    let q2 = q.clone();
    blocking(&st, move |s| s.put_quarantine(&q2).map_err(ApiError::from)).await?;
    (st.on_change)();
    Ok((StatusCode::CREATED, Json(q)))
}

async fn release(State(st): State<AppState>, Path(ip): Path<String>) -> Result<StatusCode, ApiError> {
    let ip: IpAddr = ip.parse().map_err(|_| ApiError::bad_request("ip", format!("{ip:?} is not an IP address")))?;
    blocking(&st, move |s| {
        if s.get_quarantine(ip).map_err(ApiError::from)?.is_none() {
            return Err(ApiError::not_found(format!("{ip} is not quarantined")));
        }
        s.delete_quarantine(ip).map_err(ApiError::from)
    })
    .await?;
    (st.on_change)();
    Ok(StatusCode::NO_CONTENT)
}
