//! `/v1/rules`: rules between groups (user rules and learned ones).
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

async fn list(State(st): State<AppState>) -> Result<Json<Vec<Rule>>, ApiError> {
    Ok(Json(blocking(&st, |s| s.list_rules().map_err(ApiError::from)).await?))
}

async fn show(State(st): State<AppState>, Path(id): Path<String>) -> Result<Json<Rule>, ApiError> {
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

async fn create(State(st): State<AppState>, Body(mut r): Body<Rule>) -> Result<(StatusCode, Json<Rule>), ApiError> {
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

async fn replace(
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

async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
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
