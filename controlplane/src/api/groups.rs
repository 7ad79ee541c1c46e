//! `/v1/groups`: groups of endpoints and their modes.
use super::error::ErrorBody;
use super::{blocking, ApiError, AppState, Body};
use crate::model::{validate_name, Group, Mode};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/groups", get(list).post(create))
        .route("/v1/groups/{name}", get(show).put(replace).delete(remove))
        .route("/v1/groups/{name}/mode", put(set_mode))
}

/// Every group, by name (the built-in `nodes` and `external` included).
#[utoipa::path(
    get, path = "/v1/groups", operation_id = "list_groups", tag = "groups", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every group, by name", body = Vec<Group>),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn list(State(st): State<AppState>) -> Result<Json<Vec<Group>>, ApiError> {
    Ok(Json(blocking(&st, |s| s.list_groups().map_err(ApiError::from)).await?))
}

/// One group.
#[utoipa::path(
    get, path = "/v1/groups/{name}", operation_id = "get_group", tag = "groups", security(("bearer" = [])),
    params(("name" = String, Path, description = "The group's name")),
    responses(
        (status = 200, description = "The group", body = Group),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No group of that name", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn show(State(st): State<AppState>, Path(name): Path<String>) -> Result<Json<Group>, ApiError> {
    let n = name.clone();
    blocking(&st, move |s| s.get_group(&n).map_err(ApiError::from))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no group named {name:?}")))
}

/// Creates a group; `builtin` is ignored.
#[utoipa::path(
    post, path = "/v1/groups", operation_id = "create_group", tag = "groups", security(("bearer" = [])),
    request_body = Group,
    responses(
        (status = 201, description = "Created: the group as stored", body = Group),
        (status = 400, description = "Malformed JSON or a bad field (`field` names it)", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A reader token cannot write", body = ErrorBody),
        (status = 409, description = "A group of that name exists (PUT replaces it)", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape: a wrong type, a missing field, a bad CIDR", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn create(
    State(st): State<AppState>,
    Body(mut g): Body<Group>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    g.builtin = false;
    g.validate()?;
    let g2 = g.clone();
    let g = blocking(&st, move |s| {
        if s.get_group(&g2.name).map_err(ApiError::from)?.is_some() {
            return Err(ApiError::conflict(format!(
                "a group named {:?} exists; PUT /v1/groups/{} replaces it",
                g2.name, g2.name
            )));
        }
        s.put_group(&g2).map_err(ApiError::from)
    })
    .await?;
    (st.on_change)();
    Ok((StatusCode::CREATED, Json(g)))
}

/// Creates or replaces the group of that name (the body's `name` must be the path's).
#[utoipa::path(
    put, path = "/v1/groups/{name}", operation_id = "replace_group", tag = "groups", security(("bearer" = [])),
    params(("name" = String, Path, description = "The group's name")),
    request_body = Group,
    responses(
        (status = 200, description = "The group as stored", body = Group),
        (status = 400, description = "Malformed JSON, a bad field, or a body naming another group", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A reader token cannot write", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape: a wrong type, a missing field, a bad CIDR", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn replace(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Body(g): Body<Group>,
) -> Result<Json<Group>, ApiError> {
    if g.name != name {
        return Err(ApiError::bad_request("name", format!("the body names {:?}, the path {name:?}", g.name)));
    }
    g.validate()?;
    let g = blocking(&st, move |s| s.put_group(&g).map_err(ApiError::from)).await?;
    (st.on_change)();
    Ok(Json(g))
}

/// Deletes a group no rule names; the built-in groups cannot go.
#[utoipa::path(
    delete, path = "/v1/groups/{name}", operation_id = "delete_group", tag = "groups", security(("bearer" = [])),
    params(("name" = String, Path, description = "The group's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a valid group name", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A reader token cannot write", body = ErrorBody),
        (status = 404, description = "No group of that name", body = ErrorBody),
        (status = 409, description = "A built-in group, or one that rules name (the message lists them)", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn remove(State(st): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    validate_name("name", &name)?;
    let n = name.clone();
    blocking(&st, move |s| {
        if s.get_group(&n).map_err(ApiError::from)?.is_none() {
            return Err(ApiError::not_found(format!("no group named {n:?}")));
        }
        s.delete_group(&n).map_err(ApiError::from)
    })
    .await?;
    (st.on_change)();
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `PUT /v1/groups/{name}/mode`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeBody {
    mode: Mode,
}

/// Switches a group's mode; learned rules are kept.
#[utoipa::path(
    put, path = "/v1/groups/{name}/mode", operation_id = "set_group_mode", tag = "groups", security(("bearer" = [])),
    params(("name" = String, Path, description = "The group's name")),
    request_body = ModeBody,
    responses(
        (status = 200, description = "The group with its new mode", body = Group),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No bearer token, or an unknown one", body = ErrorBody),
        (status = 403, description = "A reader token cannot write", body = ErrorBody),
        (status = 404, description = "No group of that name", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is not sent as application/json", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape: not one of the modes, an unknown field", body = ErrorBody),
        (status = 500, description = "The store failed (see the vigil-cp log)", body = ErrorBody),
    ),
)]
pub async fn set_mode(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Body(b): Body<ModeBody>,
) -> Result<Json<Group>, ApiError> {
    let g = blocking(&st, move |s| {
        let mut g = s
            .get_group(&name)
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found(format!("no group named {name:?}")))?;
        g.mode = b.mode;
        s.put_group(&g).map_err(ApiError::from)
    })
    .await?;
    (st.on_change)();
    Ok(Json(g))
}
