//! The JSON API under `/api/v1/` (`docs/hub.md` §JSON API): who am I, repositories,
//! collaborators, tokens. The same authentication, policy and error shape as the wire.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use muse_hub::{Action, Actor, NewToken, Repo, Role, TokenInfo};
use muse_protocol::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{self, PathParams, RepoPath};
use crate::AppState;

/// The API's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/user", get(whoami))
        .route("/api/v1/repos", post(create_repo))
        .route("/api/v1/repos/{owner}/{name}", get(show_repo).delete(delete_repo))
        .route("/api/v1/users/{owner}/repos", get(list_repos))
        .route("/api/v1/repos/{owner}/{name}/collaborators/{user}", put(set_collaborator).delete(remove_collaborator))
        .route("/api/v1/tokens", post(create_token).get(list_tokens))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
}

/// A repository as the API shows it.
#[derive(Debug, Serialize)]
struct RepoView {
    owner: String,
    name: String,
    full_name: String,
    private: bool,
    created_at: i64,
}

impl From<Repo> for RepoView {
    fn from(repo: Repo) -> Self {
        RepoView { full_name: repo.full_name(), owner: repo.owner, name: repo.name, private: repo.private, created_at: repo.created_at }
    }
}

/// A token as the API shows it (never its secret, except once at creation).
#[derive(Debug, Serialize)]
pub(crate) struct TokenView {
    pub(crate) id: i64,
    pub(crate) label: String,
    pub(crate) scope: Role,
    pub(crate) repo: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
}

impl From<TokenInfo> for TokenView {
    fn from(t: TokenInfo) -> Self {
        TokenView {
            id: t.id,
            label: t.label,
            scope: t.scope,
            repo: t.repo_name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
            token: None,
        }
    }
}

async fn whoami(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let (parts, _) = request.into_parts();
    match auth::actor(&state, &parts).await? {
        Actor::Anonymous => Err(ApiError::new(ErrorCode::Unauthorized, "no credentials were presented")),
        Actor::User { user, token } => Ok(Json(serde_json::json!({
            "name": user.name,
            "email": user.email,
            "created_at": user.created_at,
            "token": TokenView::from(token),
        }))
        .into_response()),
    }
}

#[derive(Deserialize)]
struct NewRepo {
    name: String,
    #[serde(default)]
    private: bool,
}

async fn create_repo(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let actor = auth::actor(&state, &parts).await?;
    let Actor::User { user, token } = actor else { return Err(ApiError::new(ErrorCode::Unauthorized, "creating a repository needs a token")) };
    if token.scope < Role::Write || token.repo.is_some() {
        return Err(ApiError::new(ErrorCode::Forbidden, "creating a repository needs a token of write or admin scope not limited to one repository"));
    }
    let limits = &state.config().limits;
    let new: NewRepo = extract::json(body, limits.json_body, limits.body_idle).await?;
    let repo = state.create_repo(&user.name, &new.name, new.private).await?;
    Ok((StatusCode::CREATED, Json(RepoView::from(repo))).into_response())
}

async fn show_repo(State(state): State<AppState>, path: RepoPath, request: Request) -> ApiResult<Json<RepoView>> {
    let (parts, _) = request.into_parts();
    let actor = auth::actor(&state, &parts).await?;
    let repo = state.hub().authorize(&actor, &path.owner, &path.name, Action::Read).await?;
    Ok(Json(repo.into()))
}

async fn delete_repo(State(state): State<AppState>, path: RepoPath, request: Request) -> ApiResult<StatusCode> {
    let (parts, _) = request.into_parts();
    let actor = auth::actor(&state, &parts).await?;
    let repo = state.hub().authorize(&actor, &path.owner, &path.name, Action::Admin).await?;
    state.hub().delete_repo(repo.id).await?;
    state.content().delete(repo.id).await.map_err(ApiError::internal)?;
    tracing::info!(repo = %repo.full_name(), "repository deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn list_repos(State(state): State<AppState>, params: PathParams, request: Request) -> ApiResult<Json<Vec<RepoView>>> {
    let (parts, _) = request.into_parts();
    let actor = auth::actor(&state, &parts).await?;
    let repos = state.hub().repos_visible_to(&actor, Some(params.get("owner")?)).await?;
    Ok(Json(repos.into_iter().map(RepoView::from).collect()))
}

#[derive(Deserialize)]
struct RoleBody {
    role: String,
}

async fn set_collaborator(State(state): State<AppState>, path: RepoPath, params: PathParams, request: Request) -> ApiResult<StatusCode> {
    let (parts, body) = request.into_parts();
    let actor = auth::actor(&state, &parts).await?;
    let repo = state.hub().authorize(&actor, &path.owner, &path.name, Action::Admin).await?;
    let limits = &state.config().limits;
    let body: RoleBody = extract::json(body, limits.json_body, limits.body_idle).await?;
    let role: Role = body.role.parse()?;
    state.hub().set_collaborator(repo.id, params.get("user")?, Some(role)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_collaborator(State(state): State<AppState>, path: RepoPath, params: PathParams, request: Request) -> ApiResult<StatusCode> {
    let (parts, _) = request.into_parts();
    let actor = auth::actor(&state, &parts).await?;
    let repo = state.hub().authorize(&actor, &path.owner, &path.name, Action::Admin).await?;
    state.hub().set_collaborator(repo.id, params.get("user")?, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct NewTokenBody {
    label: String,
    scope: String,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// `OWNER/NAME` split in two.
pub(crate) fn split_full_name(text: &str) -> ApiResult<(String, String)> {
    match text.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => Ok((owner.to_string(), name.to_string())),
        _ => Err(ApiError::bad_request(format!("'{text}' is not OWNER/NAME"))),
    }
}

/// Unix seconds `days` from now.
pub(crate) fn days_from_now(days: u32) -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    now.saturating_add(i64::from(days) * 86_400)
}

async fn create_token(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let user = auth::token_manager(&state, &parts).await?;
    let limits = &state.config().limits;
    let body: NewTokenBody = extract::json(body, limits.json_body, limits.body_idle).await?;
    let repo = body.repo.as_deref().map(split_full_name).transpose()?;
    let new = NewToken { label: body.label, scope: body.scope.parse()?, repo, expires_at: body.expires_in_days.map(days_from_now) };
    let (info, secret) = state.hub().create_token(&user.name, new).await?;
    let mut view = TokenView::from(info);
    view.token = Some(secret);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn list_tokens(State(state): State<AppState>, request: Request) -> ApiResult<Json<Vec<TokenView>>> {
    let (parts, _) = request.into_parts();
    let user = auth::token_manager(&state, &parts).await?;
    Ok(Json(state.hub().tokens(&user.name).await?.into_iter().map(TokenView::from).collect()))
}

async fn revoke_token(State(state): State<AppState>, params: PathParams, request: Request) -> ApiResult<StatusCode> {
    let (parts, _) = request.into_parts();
    let user = auth::token_manager(&state, &parts).await?;
    let id: i64 = params.get("id")?.parse().map_err(|_| ApiError::not_found("no such token"))?;
    state.hub().revoke_token(&user.name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
