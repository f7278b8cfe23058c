//! Password hashing: argon2id with the crate's default cost, in PHC string form, computed on
//! tokio's blocking pool (a hash takes tens of milliseconds of CPU).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::HubError;

/// The PHC string of `password` under a fresh random salt.
pub(crate) async fn hash(password: String) -> Result<String, HubError> {
    blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt).map_err(|e| HubError::Internal(format!("no randomness for a salt: {e}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| HubError::Internal(format!("salt: {e}")))?;
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| HubError::Internal(format!("hashing a password: {e}")))
    })
    .await?
}

/// Whether `password` matches the PHC string `stored`. With no stored hash (no such user, or a
/// user without a password) it checks against a dummy hash and answers `false`, so that the
/// time taken does not tell which case it was.
pub(crate) async fn verify(stored: Option<String>, password: String) -> Result<bool, HubError> {
    let dummy = match DUMMY.get() {
        Some(dummy) => dummy.clone(),
        None => {
            let dummy = hash("not a password".to_string()).await?;
            DUMMY.get_or_init(|| dummy).clone()
        }
    };
    blocking(move || {
        let real = stored.is_some();
        let phc = stored.unwrap_or(dummy);
        let parsed = PasswordHash::new(&phc).map_err(|e| HubError::Internal(format!("a stored password hash does not parse: {e}")))?;
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(real && matches)
    })
    .await?
}

static DUMMY: OnceLock<String> = OnceLock::new();

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, HubError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| HubError::Internal(format!("password hashing task failed: {e}")))
}
