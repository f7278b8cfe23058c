//! Signed commits on the hub (`docs/hub.md` §Signed commits): the signing-key and
//! signed-branches API, the signature checks of a push, and the badges pages show. Every
//! verification goes through `muse_hub` and `muse_sign` (the CLI's verifier), against the keys
//! registered at the time: never from the mere presence of a signature.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use muse_core::{Commit, CommitId};
use muse_hub::{branch_requires_signatures, Action, Hub, HubVerification, NewSigningKey, Repo, SigningKeyInfo};
use muse_protocol::{ErrorCode, RefUpdate};
use muse_sign::{Check, Status};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth;
use crate::content::PackCommitCheck;
use crate::error::{ApiError, ApiResult};
use crate::extract::{self, PathParams, RepoPath};
use crate::web::view::CommitRow;
use crate::AppState;

/// Most failing commits listed in a rejection's details.
const LISTED_FAILURES: usize = 20;

/// The routes of keys and signed branches.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/user/keys", get(list_keys).post(add_key))
        .route("/api/v1/user/keys/{id}", delete(remove_key))
        .route("/api/v1/user/keys/{id}/revoke", post(revoke_key))
        .route("/api/v1/repos/{owner}/{name}/signed-branches", get(signed_branches).put(set_signed_branches))
}

#[derive(Deserialize)]
struct NewKeyBody {
    public_key: String,
    #[serde(default)]
    identities: Vec<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    label: String,
}

async fn add_key(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let user = auth::token_manager(&state, &parts).await?;
    let limits = &state.config().limits;
    let body: NewKeyBody = extract::json(body, limits.json_body, limits.body_idle).await?;
    let new = NewSigningKey { public_key: body.public_key, identities: body.identities, models: body.models, label: body.label };
    let key = state.hub().add_signing_key(&user.name, new).await?;
    tracing::info!(user = %user.name, key = %key.key_id, "signing key added");
    Ok((StatusCode::CREATED, Json(key)).into_response())
}

async fn list_keys(State(state): State<AppState>, request: Request) -> ApiResult<Json<Vec<SigningKeyInfo>>> {
    let (parts, _) = request.into_parts();
    let user = auth::token_manager(&state, &parts).await?;
    Ok(Json(state.hub().signing_keys(&user.name).await?))
}

fn key_param(params: &PathParams) -> ApiResult<i64> {
    params.get("id")?.parse().map_err(|_| ApiError::not_found("no such signing key"))
}

async fn revoke_key(State(state): State<AppState>, params: PathParams, request: Request) -> ApiResult<StatusCode> {
    let (parts, _) = request.into_parts();
    let user = auth::token_manager(&state, &parts).await?;
    state.hub().revoke_signing_key(&user.name, key_param(&params)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_key(State(state): State<AppState>, params: PathParams, request: Request) -> ApiResult<StatusCode> {
    let (parts, _) = request.into_parts();
    let user = auth::token_manager(&state, &parts).await?;
    state.hub().remove_signing_key(&user.name, key_param(&params)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, Deserialize)]
struct SignedBranches {
    patterns: Vec<String>,
}

async fn signed_branches(State(state): State<AppState>, path: RepoPath, request: Request) -> ApiResult<Json<SignedBranches>> {
    let (parts, _) = request.into_parts();
    let actor = auth::actor(&state, &parts).await?;
    let repo = state.hub().authorize(&actor, &path.owner, &path.name, Action::Read).await?;
    Ok(Json(SignedBranches { patterns: state.hub().signed_branches(repo.id).await? }))
}

async fn set_signed_branches(State(state): State<AppState>, path: RepoPath, request: Request) -> ApiResult<Json<SignedBranches>> {
    let (parts, body) = request.into_parts();
    let actor = auth::actor(&state, &parts).await?;
    let repo = state.hub().authorize(&actor, &path.owner, &path.name, Action::Admin).await?;
    let limits = &state.config().limits;
    let body: SignedBranches = extract::json(body, limits.json_body, limits.body_idle).await?;
    state.hub().set_signed_branches(repo.id, &body.patterns).await?;
    Ok(Json(SignedBranches { patterns: state.hub().signed_branches(repo.id).await? }))
}

/// One commit a push was refused for.
#[derive(Debug, Clone, Serialize)]
struct Failure {
    commit_id: CommitId,
    status: Status,
    key_id: String,
    reason: String,
}

/// The signature checks of one push: a check of every commit of its pack (a bad signature is
/// always refused; when the push moves a branch that requires signatures, anything but `good`
/// is), and afterwards of the commits such a branch gains that the pack did not carry.
pub(crate) struct PushSignatures {
    patterns: Vec<String>,
    required: bool,
    failures: Arc<Mutex<Vec<Failure>>>,
    check: PackCommitCheck,
}

/// Verifies one commit against the hub's keys, from a blocking thread, remembering keys looked up.
fn verify_blocking(
    hub: &Hub,
    handle: &tokio::runtime::Handle,
    cache: &Mutex<HashMap<String, Vec<SigningKeyInfo>>>,
    commit: &Commit,
) -> Result<HubVerification, String> {
    let known = cache.lock().map_err(|_| "a poisoned lock".to_string())?.get(&commit.signer_key_id).cloned();
    let keys = match known {
        Some(keys) => keys,
        None => {
            let keys = handle.block_on(hub.signing_keys_by_id(std::slice::from_ref(&commit.signer_key_id))).map_err(|e| e.to_string())?;
            cache.lock().map_err(|_| "a poisoned lock".to_string())?.insert(commit.signer_key_id.clone(), keys.clone());
            keys
        }
    };
    Ok(muse_hub::verify_with_keys(commit, &muse_sign::check(commit), &keys))
}

impl PushSignatures {
    /// The checks of a push of `updates` to `repo`. Call from the async runtime.
    pub(crate) async fn new(state: &AppState, repo: &Repo, updates: &[RefUpdate]) -> ApiResult<PushSignatures> {
        let patterns = state.hub().signed_branches(repo.id).await?;
        let required = updates.iter().any(|u| u.new.is_some() && branch_requires_signatures(&patterns, &u.name));
        let failures: Arc<Mutex<Vec<Failure>>> = Arc::default();
        let (hub, handle, seen) = (state.hub().clone(), tokio::runtime::Handle::current(), Mutex::new(HashMap::new()));
        let noted = Arc::clone(&failures);
        let check: PackCommitCheck = Arc::new(move |id: &CommitId, commit: &Commit| {
            let refused = match muse_sign::check(commit) {
                Check::Bad(reason) => Some((Status::Bad, reason)),
                _ if !required => None,
                _ => {
                    let v = verify_blocking(&hub, &handle, &seen, commit)?.verification;
                    (v.status != Status::Good).then_some((v.status, v.reason))
                }
            };
            let Some((status, reason)) = refused else { return Ok(()) };
            let failure = Failure { commit_id: *id, status, key_id: commit.signer_key_id.clone(), reason: reason.clone() };
            noted.lock().map_err(|_| "a poisoned lock".to_string())?.push(failure);
            Err(format!("its signature is {}: {reason}", status.as_str()))
        });
        Ok(PushSignatures { patterns, required, failures, check })
    }

    /// The check to run on every commit of the pack.
    pub(crate) fn pack_check(&self) -> PackCommitCheck {
        Arc::clone(&self.check)
    }

    /// The error of a pack refused for signatures (`bad_signature`, or `signature_required`),
    /// if the refusal came from them.
    pub(crate) fn rejection(&self) -> Option<ApiError> {
        let failures = self.failures.lock().ok()?.clone();
        rejection(failures)
    }

    /// Checks the commits that the branches requiring signatures gain beyond the pack (commits
    /// the hub held already): each must verify `good`. Runs after the pack is applied, before
    /// any ref moves.
    pub(crate) async fn check_branches(&self, state: &AppState, repo: &Repo, updates: &[RefUpdate]) -> ApiResult<()> {
        if !self.required {
            return Ok(());
        }
        let current = state.hub().refs(repo.id).await?;
        let mut stops: Vec<CommitId> = current.iter().filter(|(name, _)| branch_requires_signatures(&self.patterns, name)).map(|(_, id)| *id).collect();
        stops.extend(updates.iter().filter_map(|u| u.old));
        let tips: Vec<CommitId> = updates.iter().filter(|u| branch_requires_signatures(&self.patterns, &u.name)).filter_map(|u| u.new).collect();
        let Some(reader) = state.content().reader(repo.id).await.map_err(ApiError::internal)? else { return Ok(()) };
        let (hub, handle) = (state.hub().clone(), tokio::runtime::Handle::current());
        let failures = tokio::task::spawn_blocking(move || -> Result<Vec<Failure>, String> {
            let (seen, mut failures) = (Mutex::new(HashMap::new()), Vec::new());
            let objects = reader.store().objects();
            for tip in tips {
                for id in muse_store::history::only_reachable_in(objects, tip, &stops).map_err(|e| e.to_string())? {
                    let commit = objects.read_commit(&id).map_err(|e| e.to_string())?;
                    let v = verify_blocking(&hub, &handle, &seen, &commit)?.verification;
                    if v.status != Status::Good {
                        failures.push(Failure { commit_id: id, status: v.status, key_id: v.key_id, reason: v.reason });
                    }
                }
            }
            Ok(failures)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
        rejection(failures).map_or(Ok(()), Err)
    }
}

fn rejection(failures: Vec<Failure>) -> Option<ApiError> {
    let first = failures.first()?.clone();
    let code = if failures.iter().any(|f| f.status == Status::Bad) { ErrorCode::BadSignature } else { ErrorCode::SignatureRequired };
    let count = failures.len();
    let message = match code {
        ErrorCode::BadSignature => format!(
            "{count} commit(s) carry a signature that does not verify, so nothing of the push was kept; the first: {} ({})",
            first.commit_id, first.reason
        ),
        _ => format!(
            "the push moves a branch that takes only commits signed by a key registered on this hub, and {count} commit(s) are not: the first, {}, is {} ({})",
            first.commit_id,
            first.status.as_str(),
            first.reason
        ),
    };
    let listed: Vec<Failure> = failures.into_iter().take(LISTED_FAILURES).collect();
    Some(ApiError::new(code, message).with_details(json!({"commits": listed, "count": count})))
}

/// The rows of `commits` seen at `now`, each with its badge (see [`badges`]).
pub(crate) async fn badged_rows(hub: &Hub, commits: &[(CommitId, Commit)], now: i64) -> Result<Vec<CommitRow>, muse_hub::HubError> {
    let refs: Vec<&Commit> = commits.iter().map(|(_, c)| c).collect();
    let badges = badges(hub, &refs).await?;
    Ok(commits.iter().zip(badges).map(|((id, c), badge)| CommitRow { badge, ..CommitRow::new(*id, c, now) }).collect())
}

/// What a page shows about a commit's signature: `verified` (with the key's owner) or
/// `unverified` (with the reason). Unsigned commits get no badge.
#[derive(Debug, Clone, Serialize)]
pub struct Badge {
    /// `verified` or `unverified`.
    pub state: &'static str,
    /// `Verified` or `Unverified`.
    pub text: &'static str,
    /// The verification status (`good`, `bad`, `unknown_key`, …).
    pub status: Status,
    /// The key id.
    pub key_id: String,
    /// The identity the key signed as, when known.
    pub signer: Option<String>,
    /// The hub user whose key it is, when known.
    pub owner: Option<String>,
    /// Why it is unverified (`""` when verified).
    pub reason: String,
    /// One sentence for a tooltip.
    pub title: String,
}

impl Badge {
    fn of(v: HubVerification) -> Option<Badge> {
        let HubVerification { verification: v, owner } = v;
        let (state, text, title) = match v.status {
            Status::Unsigned => return None,
            Status::Good => {
                let title = format!("signed by {}'s key {} for {}", owner.as_deref().unwrap_or("?"), v.key_id, v.signer.as_deref().unwrap_or("?"));
                ("verified", "Verified", title)
            }
            _ => ("unverified", "Unverified", format!("{}: {}", v.status.as_str().replace('_', " "), v.reason)),
        };
        Some(Badge { state, text, status: v.status, key_id: v.key_id, signer: v.signer, owner, reason: v.reason, title })
    }
}

/// The badges of `commits`, in order, verified now against the hub's keys (so that adding,
/// revoking or removing a key changes them at once). A page calls this when it renders; kept
/// rendered pages are keyed by [`Hub::generation`], which every key change bumps.
pub async fn badges(hub: &Hub, commits: &[&Commit]) -> Result<Vec<Option<Badge>>, muse_hub::HubError> {
    if commits.iter().all(|c| c.signature.is_empty()) {
        return Ok(vec![None; commits.len()]);
    }
    Ok(hub.verify_commits(commits).await?.into_iter().map(Badge::of).collect())
}
