//! Who makes a request: credentials from the `Authorization` header, turned into a
//! `muse_hub::Actor` by the hub (the one place that knows tokens).

use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine as _;
use muse_hub::{Actor, User};
use muse_protocol::ErrorCode;

use crate::error::{ApiError, ApiResult};
use crate::middleware::LogUser;
use crate::AppState;

/// What the `Authorization` header presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No header: anonymous.
    None,
    /// A token (`Bearer TOKEN`, or `Basic` with the token as password).
    Token(String),
    /// A user name and password (`Basic`, when the password is not a token); only the token
    /// endpoints of the JSON API accept it.
    Password {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

/// Reads the `Authorization` header. A header that is neither `Bearer` nor well-formed `Basic`
/// is `401 bad_token`.
pub fn credentials(headers: &HeaderMap) -> ApiResult<Credentials> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(Credentials::None) };
    let bad = || ApiError::new(ErrorCode::BadToken, "the Authorization header is neither 'Bearer TOKEN' nor 'Basic' with a token as password");
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or_else(bad)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Credentials::Token(rest.to_string()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (user, password) = decoded.split_once(':').ok_or_else(bad)?;
    if password.starts_with(muse_hub::TOKEN_PREFIX) {
        return Ok(Credentials::Token(password.to_string()));
    }
    Ok(Credentials::Password { user: user.to_string(), password: password.to_string() })
}

/// The actor presenting `parts`' credentials (tokens only), recorded for the request log.
pub async fn actor(state: &AppState, parts: &Parts) -> ApiResult<Actor> {
    let actor = match credentials(&parts.headers)? {
        Credentials::None => state.hub().authenticate(None).await?,
        Credentials::Token(token) => state.hub().authenticate(Some(&token)).await?,
        Credentials::Password { .. } => {
            return Err(ApiError::new(ErrorCode::BadToken, "a password is accepted only to create tokens (POST /api/v1/tokens); use a token"));
        }
    };
    note_user(parts, actor.user());
    Ok(actor)
}

/// Who may manage tokens: a user by password, or through a token of admin scope that is not
/// limited to one repository.
pub async fn token_manager(state: &AppState, parts: &Parts) -> ApiResult<User> {
    let user = match credentials(&parts.headers)? {
        Credentials::None => return Err(ApiError::new(ErrorCode::Unauthorized, "managing tokens needs a user name and password, or an admin token")),
        Credentials::Password { user, password } => state.hub().verify_password(&user, &password).await?,
        Credentials::Token(token) => match state.hub().authenticate(Some(&token)).await? {
            Actor::User { user, token } if token.scope == muse_hub::Role::Admin && token.repo.is_none() => user,
            Actor::User { .. } => {
                return Err(ApiError::new(ErrorCode::Forbidden, "managing tokens needs a token of admin scope not limited to one repository"))
            }
            Actor::Anonymous => return Err(ApiError::new(ErrorCode::Unauthorized, "managing tokens needs credentials")),
        },
    };
    note_user(parts, Some(&user));
    Ok(user)
}

fn note_user(parts: &Parts, user: Option<&User>) {
    if let (Some(slot), Some(user)) = (parts.extensions.get::<LogUser>(), user) {
        slot.set(&user.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_basic_and_garbage() {
        assert_eq!(credentials(&HeaderMap::new()).unwrap(), Credentials::None);
        assert_eq!(credentials(&with("Bearer muse_abc")).unwrap(), Credentials::Token("muse_abc".into()));
        let basic = base64::engine::general_purpose::STANDARD.encode("x:muse_abc");
        assert_eq!(credentials(&with(&format!("Basic {basic}"))).unwrap(), Credentials::Token("muse_abc".into()));
        let basic = base64::engine::general_purpose::STANDARD.encode("ada:secret:with:colons");
        assert_eq!(credentials(&with(&format!("basic {basic}"))).unwrap(), Credentials::Password { user: "ada".into(), password: "secret:with:colons".into() });
        for bad in ["Bearer", "Digest x", "Basic !!!", "Basic bm9jb2xvbg=="] {
            assert_eq!(credentials(&with(bad)).unwrap_err().code(), "bad_token", "{bad}");
        }
    }
}
