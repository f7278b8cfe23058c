//! The wire protocol's endpoints (`docs/protocol.md`), under `/{owner}/{name}/muse/`.

use std::collections::HashSet;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use muse_core::CommitId;
use muse_hub::{Action, Actor, RefChange, Repo, User};
use muse_protocol::{
    capability, AdvertisedRef, ErrorCode, FetchRequest, NegotiateRequest, NegotiateResponse, PushRequest, PushResponse, RefAdvertisement, UploadStatus,
    MAX_FETCH_HAVES, MAX_FETCH_WANTS, MAX_NEGOTIATE_HAVES, MAX_PUSH_UPDATES, MPACK_CONTENT_TYPE, UPLOAD_LENGTH_HEADER, UPLOAD_OFFSET_HEADER, VERSION,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth;
use crate::content::{ContentError, PackStream};
use crate::error::{ApiError, ApiResult};
use crate::extract::{self, PathParams, RepoPath};
use crate::uploads::{UploadError, UploadKey};
use crate::AppState;

/// Most rejected records listed in a `pack_rejected` answer (the count says how many there were).
const LISTED_REJECTIONS: usize = 100;

/// The protocol's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{name}/muse/refs", get(refs))
        .route("/{owner}/{name}/muse/negotiate", post(negotiate))
        .route("/{owner}/{name}/muse/fetch", post(fetch))
        .route("/{owner}/{name}/muse/uploads/{checksum}", put(upload).head(upload_status))
        .route("/{owner}/{name}/muse/push", post(push))
}

/// Authenticates the caller and authorizes `action` on the repository: the one policy.
async fn allowed(state: &AppState, parts: &axum::http::request::Parts, path: &RepoPath, action: Action) -> ApiResult<(Actor, Repo)> {
    let actor = auth::actor(state, parts).await?;
    let repo = state.hub().authorize(&actor, &path.owner, &path.name, action).await?;
    Ok((actor, repo))
}

/// The default branch: `refs/heads/main` if it exists, otherwise the first branch by name.
fn default_branch(refs: &[AdvertisedRef]) -> Option<String> {
    let branches = || refs.iter().filter(|r| r.name.starts_with("refs/heads/"));
    branches().find(|r| r.name == "refs/heads/main").or_else(|| branches().next()).map(|r| r.name.clone())
}

async fn refs(State(state): State<AppState>, path: RepoPath, request: Request) -> ApiResult<Json<RefAdvertisement>> {
    let (parts, _) = request.into_parts();
    let (_, repo) = allowed(&state, &parts, &path, Action::Read).await?;
    let mut refs: Vec<AdvertisedRef> = state.hub().refs(repo.id).await?.into_iter().map(|(name, commit_id)| AdvertisedRef { name, commit_id }).collect();
    refs.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let capabilities = [capability::FETCH_RESUME, capability::PUSH_RESUME, capability::ATOMIC_PUSH, capability::REF_DELETE].map(String::from).to_vec();
    Ok(Json(RefAdvertisement { protocol: VERSION, capabilities, head: default_branch(&refs), refs }))
}

async fn negotiate(State(state): State<AppState>, path: RepoPath, request: Request) -> ApiResult<Json<NegotiateResponse>> {
    let (parts, body) = request.into_parts();
    let (_, repo) = allowed(&state, &parts, &path, Action::Read).await?;
    let limits = &state.config().limits;
    let request: NegotiateRequest = extract::json(body, limits.json_body, limits.body_idle).await?;
    if request.haves.len() > MAX_NEGOTIATE_HAVES {
        return Err(ApiError::new(ErrorCode::TooManyHaves, format!("{} haves; at most {MAX_NEGOTIATE_HAVES} per negotiation request", request.haves.len())));
    }
    let held = state.content().has_commits(repo.id, request.haves.clone()).await.map_err(content_error)?;
    let common = request.haves.into_iter().zip(held).filter(|(_, held)| *held).map(|(id, _)| id).collect();
    Ok(Json(NegotiateResponse { common }))
}

/// The fetch `ETag`: a digest of the repository, its refs and the request.
fn fetch_etag(repo: &Repo, refs: &[(String, CommitId)], request: &FetchRequest) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"muse fetch etag 1\0");
    hasher.update(repo.id.0.to_be_bytes());
    let mut sorted: Vec<&(String, CommitId)> = refs.iter().collect();
    sorted.sort();
    for (name, id) in sorted {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(id.0.as_bytes());
    }
    for (tag, ids) in [(b"w", &request.wants), (b"h", &request.haves)] {
        hasher.update(tag);
        hasher.update((ids.len() as u64).to_be_bytes());
        for id in ids {
            hasher.update(id.0.as_bytes());
        }
    }
    format!("\"{}\"", hex::encode(&hasher.finalize()[..20]))
}

/// The offset of a `Range: bytes=N-` honoured under a matching `If-Range`.
fn resume_offset(headers: &HeaderMap, etag: &str) -> Option<u64> {
    let if_range = headers.get(header::IF_RANGE)?.to_str().ok()?.trim();
    if if_range != etag {
        return None;
    }
    let range = headers.get(header::RANGE)?.to_str().ok()?.trim();
    range.strip_prefix("bytes=")?.strip_suffix('-')?.trim().parse().ok()
}

async fn fetch(State(state): State<AppState>, path: RepoPath, request: Request) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let (_, repo) = allowed(&state, &parts, &path, Action::Read).await?;
    let limits = &state.config().limits;
    let request: FetchRequest = extract::json(body, limits.fetch_body, limits.body_idle).await?;
    if request.wants.is_empty() {
        return Err(ApiError::bad_request("wants is empty"));
    }
    if request.wants.len() > MAX_FETCH_WANTS || request.haves.len() > MAX_FETCH_HAVES {
        return Err(ApiError::new(
            ErrorCode::TooManyHaves,
            format!("{} wants and {} haves; at most {MAX_FETCH_WANTS} wants and {MAX_FETCH_HAVES} haves per fetch", request.wants.len(), request.haves.len()),
        ));
    }
    let refs = state.hub().refs(repo.id).await?;
    let tips: HashSet<CommitId> = refs.iter().map(|(_, id)| *id).collect();
    if let Some(want) = request.wants.iter().find(|want| !tips.contains(want)) {
        return Err(ApiError::new(ErrorCode::BadWant, format!("{want} is not the commit of a ref of {}", repo.full_name())).with_details(json!({"want": want})));
    }
    let etag = fetch_etag(&repo, &refs, &request);
    let mut skip = 0;
    let mut total = None;
    if let Some(offset) = resume_offset(&parts.headers, &etag) {
        let length = match state.pack_length(&etag) {
            Some(length) => length,
            None => {
                // Not remembered (another server, a restart): build once to learn it.
                let counted = state.content().build_pack(repo.id, request.wants.clone(), request.haves.clone(), u64::MAX).await.map_err(content_error)?;
                let length = counted.length().await.map_err(content_error)?;
                state.remember_length(etag.clone(), length);
                length
            }
        };
        // A range at or past the end cannot be served: the whole pack instead (RFC 9110 allows
        // ignoring Range).
        if offset < length {
            skip = offset;
            total = Some(length);
        }
    }
    let stream = state.content().build_pack(repo.id, request.wants, request.haves, skip).await.map_err(content_error)?;
    let remember = state.clone();
    let key = etag.clone();
    let stream: PackStream = stream.on_end(move |length| remember.remember_length(key, length));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MPACK_CONTENT_TYPE));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Some(total) = total {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let range = format!("bytes {skip}-{}/{total}", total - 1);
        response.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&range).map_err(ApiError::internal)?);
    }
    Ok(response)
}

/// The uploader (a write to a repository needs a user) and the upload's key.
async fn upload_key(state: &AppState, parts: &axum::http::request::Parts, path: &RepoPath, checksum: &str) -> ApiResult<UploadKey> {
    let (actor, repo) = allowed(state, parts, path, Action::Write).await?;
    let user: &User = actor.user().ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "uploads need a token"))?;
    UploadKey::new(repo.id, user.id, checksum).ok_or_else(|| ApiError::bad_request(format!("'{checksum}' is not a pack checksum (64 lowercase hex digits)")))
}

fn header_u64(headers: &HeaderMap, name: &str) -> ApiResult<u64> {
    let value = headers.get(name).ok_or_else(|| ApiError::bad_request(format!("the {name} header is missing")))?;
    value.to_str().ok().and_then(|v| v.trim().parse().ok()).ok_or_else(|| ApiError::bad_request(format!("the {name} header is not a number of bytes")))
}

async fn upload_status(State(state): State<AppState>, path: RepoPath, params: PathParams, request: Request) -> ApiResult<Response> {
    let (parts, _) = request.into_parts();
    let key = upload_key(&state, &parts, &path, params.get("checksum")?).await?;
    let status = state.uploads().status(&key).await.map_err(upload_error)?.ok_or_else(|| ApiError::not_found(format!("no upload {}", key.checksum())))?;
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(UPLOAD_OFFSET_HEADER, HeaderValue::from(status.offset));
    response.headers_mut().insert(UPLOAD_LENGTH_HEADER, HeaderValue::from(status.length));
    Ok(response)
}

async fn upload(State(state): State<AppState>, path: RepoPath, params: PathParams, request: Request) -> ApiResult<Json<UploadStatus>> {
    let (parts, body) = request.into_parts();
    let key = upload_key(&state, &parts, &path, params.get("checksum")?).await?;
    let offset = header_u64(&parts.headers, UPLOAD_OFFSET_HEADER)?;
    let length = header_u64(&parts.headers, UPLOAD_LENGTH_HEADER)?;
    let limits = &state.config().limits;
    if length > limits.max_upload {
        return Err(ApiError::new(ErrorCode::TooLarge, format!("a pack of {length} bytes is over this server's limit of {} bytes", limits.max_upload)));
    }
    if offset > length {
        return Err(ApiError::bad_request(format!("Upload-Offset {offset} is past Upload-Length {length}")));
    }
    let status = state.uploads().append(&key, offset, length, extract::idle_stream(body, limits.body_idle)).await.map_err(upload_error)?;
    Ok(Json(UploadStatus { offset: status.offset, length: status.length, complete: status.complete }))
}

fn upload_error(error: UploadError) -> ApiError {
    match error {
        UploadError::Offset { held } => ApiError::new(ErrorCode::UploadOffset, error.to_string()).with_details(json!({"offset": held})),
        UploadError::Length { .. } | UploadError::TooLong => ApiError::bad_request(error.to_string()),
        UploadError::BadChecksum(_) => ApiError::new(ErrorCode::BadChecksum, format!("{error}; the upload was discarded")),
        UploadError::Interrupted { held, .. } => ApiError::bad_request(error.to_string()).with_details(json!({"offset": held})),
        UploadError::Storage(_) => ApiError::internal(error),
    }
}

fn content_error(error: ContentError) -> ApiError {
    match error {
        ContentError::Rejected(rejected) => {
            let count = rejected.len();
            let listed: Vec<_> = rejected.into_iter().take(LISTED_REJECTIONS).collect();
            let first = listed.first().map(|r| format!("; the first: {} {}: {}", r.kind.as_str(), r.id, r.reason)).unwrap_or_default();
            ApiError::new(ErrorCode::PackRejected, format!("{count} record(s) of the pack were rejected, so nothing of it was kept{first}"))
                .with_details(json!({"rejected": listed, "count": count}))
        }
        ContentError::BadPack(reason) => ApiError::new(ErrorCode::PackRejected, format!("the pack was refused, nothing of it was kept: {reason}")),
        ContentError::Busy(seconds) => ApiError::unavailable(seconds, error.to_string()),
        ContentError::Storage(_) => ApiError::internal(error),
    }
}

/// Checks the updates' shape: at most [`MAX_PUSH_UPDATES`], distinct, valid names.
fn check_updates(request: &PushRequest) -> ApiResult<()> {
    if request.updates.len() > MAX_PUSH_UPDATES {
        return Err(ApiError::bad_request(format!("{} updates; at most {MAX_PUSH_UPDATES} per push", request.updates.len())));
    }
    let mut names = HashSet::new();
    for update in &request.updates {
        if let Err(e) = muse_store::RefName::parse(&update.name) {
            return Err(ApiError::new(ErrorCode::InvalidRef, e.to_string()).with_details(json!({"ref": update.name})));
        }
        if !names.insert(update.name.as_str()) {
            return Err(ApiError::bad_request(format!("{} is named twice", update.name)));
        }
    }
    Ok(())
}

async fn push(State(state): State<AppState>, path: RepoPath, request: Request) -> ApiResult<Json<PushResponse>> {
    let (parts, body) = request.into_parts();
    let (actor, repo) = allowed(&state, &parts, &path, Action::Write).await?;
    let limits = &state.config().limits;
    let request: PushRequest = extract::json(body, limits.json_body, limits.body_idle).await?;
    check_updates(&request)?;
    let user = actor.user().ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "pushing needs a token"))?;
    let key = match &request.pack {
        Some(checksum) => {
            Some(UploadKey::new(repo.id, user.id, checksum).ok_or_else(|| ApiError::bad_request(format!("'{checksum}' is not a pack checksum")))?)
        }
        None => None,
    };
    // 0. A push that is stale already is refused before its pack is written (step 3 decides).
    let current = state.hub().refs(repo.id).await?;
    for update in &request.updates {
        let actual = current.iter().find(|(name, _)| *name == update.name).map(|(_, id)| *id);
        if actual != update.old {
            return Err(muse_hub::HubError::StaleRef { name: update.name.clone(), expected: update.old, actual }.into());
        }
    }
    // 1. The pack, all or nothing, its commits' signatures checked before anything is kept.
    let signatures = crate::signing::PushSignatures::new(&state, &repo, &request.updates).await?;
    let mut written = muse_protocol::Written::default();
    if let Some(key) = &key {
        let not_found = || {
            ApiError::not_found(format!("no complete upload {} of yours for {}", key.checksum(), repo.full_name()))
                .with_details(json!({"upload": key.checksum()}))
        };
        let reader = state.uploads().open(key).await.map_err(upload_error)?.ok_or_else(not_found)?;
        written = match state.content().apply_pack(repo.id, reader, Some(signatures.pack_check())).await {
            Ok(written) => written,
            Err(error @ (ContentError::Rejected(_) | ContentError::BadPack(_))) => {
                // A pack that fails verification will fail again: forget it.
                let _ = state.uploads().remove(key).await;
                return Err(signatures.rejection().unwrap_or_else(|| content_error(error)));
            }
            Err(error) => return Err(content_error(error)),
        };
    }
    // 2. Every new commit with its closure.
    let news: Vec<CommitId> = request.updates.iter().filter_map(|u| u.new).collect();
    let held = state.content().has_commits(repo.id, news.clone()).await.map_err(content_error)?;
    if let Some((missing, _)) = news.iter().zip(held).find(|(_, held)| !held) {
        return Err(ApiError::new(ErrorCode::MissingObject, format!("commit {missing} is not in {} (send it in the pack)", repo.full_name()))
            .with_details(json!({"commit": missing})));
    }
    // 2b. What branches that take only signed commits gain beyond the pack.
    signatures.check_branches(&state, &repo, &request.updates).await?;
    // 3. Every ref by compare-and-swap, all or none.
    let changes: Vec<RefChange> = request.updates.iter().map(|u| RefChange { name: u.name.clone(), old: u.old, new: u.new }).collect();
    state.hub().update_refs(repo.id, &changes).await?;
    // The pages' history index catches up now, not in the first page request, and the files the
    // branches' moves changed are highlighted.
    let moved = request.updates.iter().filter(|u| u.name.starts_with("refs/heads/")).filter_map(|u| Some((u.old?, u.new?))).collect();
    crate::web::after_push(&state, repo.id, moved);
    if let Some(key) = &key {
        if let Err(e) = state.uploads().remove(key).await {
            tracing::warn!(error = %e, "removing a used upload failed; it expires anyway");
        }
    }
    tracing::info!(repo = %repo.full_name(), updates = changes.len(), commits = written.commits, trees = written.trees, blobs = written.blobs, "push");
    Ok(Json(PushResponse { updated: request.updates, written }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> CommitId {
        CommitId(muse_core::ObjectId::sha256(&[n]))
    }

    #[test]
    fn the_default_branch_is_main_or_the_first() {
        let r = |name: &str| AdvertisedRef { name: name.into(), commit_id: id(1) };
        assert_eq!(default_branch(&[]), None);
        assert_eq!(default_branch(&[r("refs/tags/v1")]), None);
        assert_eq!(default_branch(&[r("refs/heads/a"), r("refs/heads/main")]).as_deref(), Some("refs/heads/main"));
        assert_eq!(default_branch(&[r("refs/heads/b"), r("refs/heads/c")]).as_deref(), Some("refs/heads/b"));
    }

    #[test]
    fn a_busy_builder_is_503_with_retry_after() {
        let response = content_error(ContentError::Busy(2)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("2"));
    }

    #[test]
    fn ranges_need_the_matching_etag() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_static("bytes=100-"));
        assert_eq!(resume_offset(&headers, "\"e\""), None);
        headers.insert(header::IF_RANGE, HeaderValue::from_static("\"e\""));
        assert_eq!(resume_offset(&headers, "\"e\""), Some(100));
        assert_eq!(resume_offset(&headers, "\"f\""), None);
        headers.insert(header::RANGE, HeaderValue::from_static("bytes=100-200"));
        assert_eq!(resume_offset(&headers, "\"e\""), None);
    }
}
