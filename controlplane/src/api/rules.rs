//! `/v1/rules`: rules between groups (user rules and learned ones).
use super::error::ErrorBody;
use super::{blocking, ApiError, AppState, Body};
use crate::model::{Origin, Rule};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/rules", get(list).post(create))
        .route("/v1/rules/{id}", get(show).put(replace).delete(remove))
}

fn parse_id(s: &str) -> Result<u64, ApiError> {
    s.parse().map_err(|_| ApiError::bad_request("id", format!("{s:?} is not a rule id (a number)")))
}

/// Every rule in evaluation order: user rules by id, then learned rules by id.
#[utoipa::path(
    get, path = "/v1/rules", operation_id = "list_rules", tag = "rules", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every rule, in evaluation order", body = Vec<Rule>),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn list(State(st): State<AppState>) -> Result<Json<Vec<Rule>>, ApiError> {
    Ok(Json(blocking(&st, |s| s.list_rules().map_err(ApiError::from)).await?))
}

/// One rule.
#[utoipa::path(
    get, path = "/v1/rules/{id}", operation_id = "get_rule", tag = "rules", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The rule", body = Rule),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No rule of that id", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn show(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Rule>, ApiError> {
    let id = parse_id(&id)?;
    blocking(&st, move |s| s.get_rule(id).map_err(ApiError::from))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no rule {id}")))
}

/// Checks a rule's groups and apps against the store.
fn check(s: &crate::store::Store, r: &Rule) -> Result<(), ApiError> {
    let groups = s.list_groups().map_err(ApiError::from)?;
    r.validate(|g| groups.iter().any(|x| x.name == g))?;
    Ok(())
}

/// Adds a user rule; the server assigns `id`, the times and `origin: user`.
#[utoipa::path(
    post, path = "/v1/rules", operation_id = "create_rule", tag = "rules", security(("bearer" = [])),
    request_body = Rule,
    responses(
        (status = 201, description = "Created: the rule as stored", body = Rule),
        (status = 400, description = "Malformed JSON, an unknown group (`from`, `to`) or application (`apps[i]`)", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A reader token cannot write", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape: a wrong type, a missing field, a bad port", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn create(State(st): State<AppState>, Body(mut r): Body<Rule>) -> Result<(StatusCode, Json<Rule>), ApiError> {
    r.origin = Origin::User;
    let r = blocking(&st, move |s| {
        check(s, &r)?;
        let id = s.add_rule(r.clone()).map_err(ApiError::from)?;
        s.get_rule(id).map_err(ApiError::from)?.ok_or_else(|| ApiError::internal("rule vanished"))
    })
    .await?;
    (st.on_change)();
    Ok((StatusCode::CREATED, Json(r)))
}

/// Replaces a rule's groups, apps, ports, action and origin; its id, created time and hits
/// stay.
#[utoipa::path(
    put, path = "/v1/rules/{id}", operation_id = "replace_rule", tag = "rules", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The rule's id")),
    request_body = Rule,
    responses(
        (status = 200, description = "The rule as stored", body = Rule),
        (status = 400, description = "Malformed JSON, a bad id, an unknown group or application", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A reader token cannot write", body = ErrorBody),
        (status = 404, description = "No rule of that id", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape: a wrong type, a missing field, a bad port", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn replace(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Body(mut r): Body<Rule>,
) -> Result<Json<Rule>, ApiError> {
    let id = parse_id(&id)?;
    let r = blocking(&st, move |s| {
        let old =
            s.get_rule(id).map_err(ApiError::from)?.ok_or_else(|| ApiError::not_found(format!("no rule {id}")))?;
        r.id = id;
        r.created_ms = old.created_ms;
        r.hits = old.hits;
        check(s, &r)?;
        s.update_rule(&r).map_err(ApiError::from)?;
        s.get_rule(id).map_err(ApiError::from)?.ok_or_else(|| ApiError::internal("rule vanished"))
    })
    .await?;
    (st.on_change)();
    Ok(Json(r))
}

/// Deletes a rule.
#[utoipa::path(
    delete, path = "/v1/rules/{id}", operation_id = "delete_rule", tag = "rules", security(("bearer" = [])),
    params(("id" = u64, Path, description = "The rule's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A reader token cannot write", body = ErrorBody),
        (status = 404, description = "No rule of that id", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    blocking(&st, move |s| {
        if s.get_rule(id).map_err(ApiError::from)?.is_none() {
            return Err(ApiError::not_found(format!("no rule {id}")));
        }
        s.delete_rule(id).map_err(ApiError::from)
    })
    .await?;
    (st.on_change)();
    Ok(StatusCode::NO_CONTENT)
}
