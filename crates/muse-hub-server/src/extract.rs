//! Reading requests: JSON bodies under a size cap, repository paths, streamed bodies with an
//! idle timeout.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use futures_util::StreamExt;
use muse_protocol::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};
use crate::uploads::BodyStream;

/// Reads a JSON body of at most `limit` bytes (`413 too_large` past it, `400 bad_request` if it
/// does not parse); it grows as bytes arrive, never by a declared length.
pub async fn json<T: DeserializeOwned>(body: Body, limit: usize, idle: Duration) -> ApiResult<T> {
    let mut stream = idle_stream(body, idle);
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::new(ErrorCode::TooLarge, format!("the request body is over this server's limit of {limit} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("the request body is not the JSON expected: {e}")))
}

/// A body as a stream of chunks that fails if no chunk arrives for `idle`.
pub fn idle_stream(body: Body, idle: Duration) -> BodyStream {
    let frames = body.into_data_stream();
    Box::pin(futures_util::stream::unfold(Some(frames), move |frames| async move {
        let mut frames = frames?;
        match tokio::time::timeout(idle, frames.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(frames))),
            Ok(Some(Err(e))) => Some((Err(io::Error::other(e)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(io::Error::new(io::ErrorKind::TimedOut, format!("no byte of the body for {} s", idle.as_secs()))), None)),
        }
    }))
}

/// `OWNER/NAME` of a repository URL (a `.muse` suffix on the name is dropped). A path that
/// does not decode is `404 not_found`.
#[derive(Debug, Clone)]
pub struct RepoPath {
    /// The owner.
    pub owner: String,
    /// The repository's name.
    pub name: String,
}

impl<S: Send + Sync> FromRequestParts<S> for RepoPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state).await.map_err(|_| ApiError::not_found("no such repository"))?;
        let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let (Some(owner), Some(name)) = (get("owner"), get("name")) else { return Err(ApiError::not_found("no such repository")) };
        let name = name.strip_suffix(".muse").map(str::to_string).unwrap_or(name);
        Ok(RepoPath { owner, name })
    }
}

/// Every parameter of the matched path (`checksum`, `user`, `id`, ...). A path that does not
/// decode is `404 not_found`.
#[derive(Debug, Clone)]
pub struct PathParams(Vec<(String, String)>);

impl PathParams {
    /// The parameter `key`, or `404 not_found`.
    pub fn get(&self, key: &str) -> ApiResult<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).ok_or_else(|| ApiError::not_found(format!("no {key} in the path")))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state).await.map_err(|_| ApiError::not_found("no such endpoint"))?;
        Ok(PathParams(params))
    }
}
