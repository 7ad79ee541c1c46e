//! `/v1/groups`: groups of endpoints and their modes.
use super::{blocking, ApiError, AppState, Body};
use crate::model::{validate_name, Group, Mode};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/groups", get(list).post(create))
        .route("/v1/groups/{name}", get(show).put(replace).delete(remove))
        .route("/v1/groups/{name}/mode", put(set_mode))
}

async fn list(State(st): State<AppState>) -> Result<Json<Vec<Group>>, ApiError> {
    Ok(Json(blocking(&st, |s| s.list_groups().map_err(ApiError::from)).await?))
}

async fn show(State(st): State<AppState>, Path(name): Path<String>) -> Result<Json<Group>, ApiError> {
    let n = name.clone();
    blocking(&st, move |s| s.get_group(&n).map_err(ApiError::from))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no group named {name:?}")))
}

async fn create(State(st): State<AppState>, Body(mut g): Body<Group>) -> Result<(StatusCode, Json<Group>), ApiError> {
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

async fn replace(
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

async fn remove(State(st): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: Mode,
}

async fn set_mode(
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
