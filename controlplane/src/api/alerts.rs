//! `/v1/alerts` (query, live stream), `/v1/conversations`, `/v1/quarantine`.
use super::error::ErrorBody;
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
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/alerts", get(query))
        .route("/v1/alerts/stream", get(stream))
        .route("/v1/conversations", get(conversations))
        .route("/v1/quarantine", get(quarantined).post(quarantine))
        .route("/v1/quarantine/{ip}", delete(release))
}

/// Query string of `GET /v1/alerts`.
#[derive(Deserialize, Debug, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// Oldest time (ms since the epoch), inclusive.
    pub from_ms: Option<u64>,
    /// Newest time, exclusive.
    pub to_ms: Option<u64>,
    /// `threat`, `violation` or `quarantine`; comma-separated.
    #[param(example = "threat,violation")]
    pub kind: Option<String>,
    /// Only alerts at least this severe (1 = high ... 4).
    #[param(minimum = 1, maximum = 4)]
    pub severity: Option<u8>,
    /// Alerts whose source or destination group is this.
    pub group: Option<String>,
    /// The `next` cursor of the previous page.
    pub cursor: Option<u64>,
    /// Page size (1..=1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One page of alerts, oldest first.
#[derive(Serialize, ToSchema)]
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

/// Alerts, oldest first, filtered, a page at a time.
#[utoipa::path(
    get, path = "/v1/alerts", operation_id = "query_alerts", tag = "alerts", security(("bearer" = [])),
    params(AlertParams),
    responses(
        (status = 200, description = "A page of alerts; pass `next` as `cursor` for the next one", body = AlertPage),
        (status = 400, description = "A bad or unknown parameter (`field` names it)", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn query(
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
#[utoipa::path(
    get, path = "/v1/alerts/stream", operation_id = "stream_alerts", tag = "alerts", security(("bearer" = [])),
    responses(
        (status = 200, description = "A stream of `event: alert` events whose `data` is an `Alert` as JSON, \
                                      with keep-alive comments; a reader too slow skips alerts (the store has them)",
         content_type = "text/event-stream", body = String),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 500, description = "The token store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn stream(State(st): State<AppState>) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
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

/// The learned connection graph: group to group, application, port, with counts.
#[utoipa::path(
    get, path = "/v1/conversations", operation_id = "list_conversations", tag = "conversations", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every learned edge", body = Vec<Conversation>),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn conversations(State(st): State<AppState>) -> Result<Json<Vec<Conversation>>, ApiError> {
    Ok(Json(blocking(&st, |s| s.list_conversations().map_err(ApiError::from)).await?))
}

/// Every quarantined endpoint.
#[utoipa::path(
    get, path = "/v1/quarantine", operation_id = "list_quarantine", tag = "quarantine", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every quarantined endpoint", body = Vec<Quarantine>),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn quarantined(State(st): State<AppState>) -> Result<Json<Vec<Quarantine>>, ApiError> {
    Ok(Json(blocking(&st, |s| s.list_quarantine().map_err(ApiError::from)).await?))
}

/// Body of `POST /v1/quarantine`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineBody {
    #[schema(value_type = String, example = "10.1.0.66")]
    ip: IpAddr,
    /// Why: kept with the entry; must not be blank.
    reason: String,
}

/// Quarantines an endpoint (or replaces its entry): cut off in both directions.
#[utoipa::path(
    post, path = "/v1/quarantine", operation_id = "quarantine_endpoint", tag = "quarantine", security(("bearer" = [])),
    request_body = QuarantineBody,
    responses(
        (status = 201, description = "Quarantined: the entry as stored", body = Quarantine),
        (status = 400, description = "Malformed JSON or a blank `reason`", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A reader token cannot write", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape: not an IP address, a missing field", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn quarantine(
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

/// Lifts an endpoint's quarantine.
#[utoipa::path(
    delete, path = "/v1/quarantine/{ip}", operation_id = "release_endpoint", tag = "quarantine", security(("bearer" = [])),
    params(("ip" = String, Path, description = "The quarantined IP address", example = "10.1.0.66")),
    responses(
        (status = 204, description = "Released"),
        (status = 400, description = "Not an IP address", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A reader token cannot write", body = ErrorBody),
        (status = 404, description = "That address is not quarantined", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn release(State(st): State<AppState>, Path(ip): Path<String>) -> Result<StatusCode, ApiError> {
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
