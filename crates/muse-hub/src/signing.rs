//! Commit signing keys registered on the hub, the verification of commits against them (with
//! `muse-sign`'s one verifier), and the branches of a repository that only take signed commits.
//!
//! A key belongs to a user and may sign for identities: the user's own e-mail address (a person's
//! commits; only the user's own address can be claimed) and `agent:ID`s (the user's agents),
//! optionally only for some model ids. Revoking a key keeps it, so that every commit it signed
//! verifies as `revoked`; removing it forgets it, so that they verify as `unknown_key` (git's
//! model). Every change bumps the signing epoch ([`Hub::signing_epoch`], in the database) and
//! every repository's generation ([`Hub::invalidate`]), so that kept pages showing badges miss.

use muse_core::Commit;
use muse_sign::{AllowedSigner, Check, PublicKey, Status, Verification, AGENT_PREFIX};
use serde::Serialize;

use crate::db::{is_unique_violation, with_pool};
use crate::{Hub, HubError, RepoId};

/// Longest label of a key, in characters.
const MAX_LABEL_CHARS: usize = 100;
/// Most branch patterns per repository.
const MAX_PATTERNS: usize = 100;

/// A key to register.
#[derive(Debug, Clone, Default)]
pub struct NewSigningKey {
    /// The OpenSSH public key line, `ssh-ed25519 BASE64 [COMMENT]`.
    pub public_key: String,
    /// The identities it may sign for: the user's e-mail and `agent:ID`s. Empty: the user's e-mail.
    pub identities: Vec<String>,
    /// Only agent commits of these models; empty: any.
    pub models: Vec<String>,
    /// A label for people (default: the key's comment).
    pub label: String,
}

/// A registered key, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningKeyInfo {
    /// The database id.
    pub id: i64,
    /// Whose key it is.
    pub user: String,
    /// The key id, `SHA256:…` (`docs/formats.md` §4.1).
    pub key_id: String,
    /// `ssh-ed25519 BASE64`.
    pub public_key: String,
    /// The identities it may sign for.
    pub identities: Vec<String>,
    /// The models it may sign agent commits for (empty: any).
    pub models: Vec<String>,
    /// The label.
    pub label: String,
    /// When it was registered (unix seconds).
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl SigningKeyInfo {
    /// The key as an allowed-signers entry (revoked when revoked).
    fn entry(&self) -> Option<AllowedSigner> {
        let key = PublicKey::from_openssh(&self.public_key).ok()?;
        let mut entry = AllowedSigner::new(self.identities.clone(), key).ok()?.with_models(self.models.clone()).ok()?;
        entry.revoked = self.revoked_at.is_some();
        Some(entry)
    }
}

/// A commit's verification on the hub: `muse-sign`'s, and the user who owns the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubVerification {
    /// The status, key id, signer identity and reason.
    pub verification: Verification,
    /// The hub user whose key decided a `good`, `expired` or `revoked` status.
    pub owner: Option<String>,
}

type KeyRow = (i64, String, String, String, String, String, String, i64, Option<i64>);

const KEY_COLUMNS: &str = "k.id, u.name, k.key_id, k.public_key, k.identities, k.models, k.label, k.created_at, k.revoked_at";

fn split(list: &str) -> Vec<String> {
    list.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn key_from_row((id, user, key_id, public_key, identities, models, label, created_at, revoked_at): KeyRow) -> SigningKeyInfo {
    SigningKeyInfo { id, user, key_id, public_key, identities: split(&identities), models: split(&models), label, created_at, revoked_at }
}

/// Whether `branch` (a full ref name) matches one of `patterns`: a branch name, or a prefix
/// ending in `*` (`release/*`). Tags never match.
pub fn branch_requires_signatures(patterns: &[String], branch: &str) -> bool {
    let Some(name) = branch.strip_prefix("refs/heads/") else { return false };
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == p,
    })
}

impl Hub {
    /// Registers a key for `user`. The identities must be the user's own e-mail address or
    /// `agent:ID`s; a key registered already (by anyone) is a `conflict`.
    pub async fn add_signing_key(&self, user: &str, new: NewSigningKey) -> Result<SigningKeyInfo, HubError> {
        let owner = self.existing_user(user).await?;
        let bad = |e: muse_sign::SignError| HubError::BadRequest(e.to_string());
        let key = PublicKey::from_openssh(&new.public_key).map_err(bad)?;
        let identities = if new.identities.is_empty() {
            vec![owner
                .email
                .clone()
                .ok_or_else(|| HubError::BadRequest(format!("{} has no e-mail address: name the identities the key signs for", owner.name)))?]
        } else {
            new.identities
        };
        for identity in &identities {
            let own_email = owner.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(identity));
            if !identity.starts_with(AGENT_PREFIX) && !own_email {
                return Err(HubError::BadRequest(format!("{identity} is neither {}'s e-mail address nor an agent:ID", owner.name)));
            }
        }
        AllowedSigner::new(identities.clone(), key).map_err(bad)?.with_models(new.models.clone()).map_err(bad)?;
        let label = if new.label.is_empty() { new.public_key.split_whitespace().nth(2).unwrap_or("").to_string() } else { new.label };
        if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
            return Err(HubError::BadRequest(format!("a key label has at most {MAX_LABEL_CHARS} characters and no control characters")));
        }
        let now = self.now();
        let inserted = with_pool!(&self.db, |pool| {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO signing_keys (user_id, key_id, public_key, identities, models, label, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(owner.id.0)
            .bind(key.key_id())
            .bind(key.to_openssh())
            .bind(identities.join(","))
            .bind(new.models.join(","))
            .bind(&label)
            .bind(now)
            .fetch_one(pool)
            .await
        });
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => return Err(HubError::Conflict(format!("signing key {}", key.key_id()))),
            Err(e) => return Err(e.into()),
        };
        self.bump_signing_epoch().await?;
        Ok(SigningKeyInfo {
            id,
            user: owner.name,
            key_id: key.key_id(),
            public_key: key.to_openssh(),
            identities,
            models: new.models,
            label,
            created_at: now,
            revoked_at: None,
        })
    }

    /// The keys of `user`, revoked ones included, oldest first.
    pub async fn signing_keys(&self, user: &str) -> Result<Vec<SigningKeyInfo>, HubError> {
        let owner = self.existing_user(user).await?;
        let sql = format!("SELECT {KEY_COLUMNS} FROM signing_keys k JOIN users u ON u.id = k.user_id WHERE k.user_id = $1 ORDER BY k.id");
        let rows = with_pool!(&self.db, |pool| sqlx::query_as::<_, KeyRow>(&sql).bind(owner.id.0).fetch_all(pool).await?);
        Ok(rows.into_iter().map(key_from_row).collect())
    }

    /// The registered keys with these key ids (at most one each).
    pub async fn signing_keys_by_id(&self, key_ids: &[String]) -> Result<Vec<SigningKeyInfo>, HubError> {
        let mut keys = Vec::new();
        let sql = format!("SELECT {KEY_COLUMNS} FROM signing_keys k JOIN users u ON u.id = k.user_id WHERE k.key_id = $1");
        for key_id in key_ids {
            if key_id.is_empty() || keys.iter().any(|k: &SigningKeyInfo| &k.key_id == key_id) {
                continue;
            }
            let row = with_pool!(&self.db, |pool| sqlx::query_as::<_, KeyRow>(&sql).bind(key_id).fetch_optional(pool).await?);
            keys.extend(row.map(key_from_row));
        }
        Ok(keys)
    }

    /// Revokes key `key` (its database id) of `user`: every commit it signed verifies as
    /// `revoked` from now on. Revoking twice changes nothing; another user's key is `not_found`.
    pub async fn revoke_signing_key(&self, user: &str, key: i64) -> Result<(), HubError> {
        let owner = self.existing_user(user).await?;
        let now = self.now();
        let found = with_pool!(&self.db, |pool| {
            sqlx::query("UPDATE signing_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_id = $3")
                .bind(now)
                .bind(key)
                .bind(owner.id.0)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if found == 0 {
            return Err(HubError::NotFound(format!("signing key {key} of {}", owner.name)));
        }
        self.bump_signing_epoch().await
    }

    /// Removes key `key` of `user`: the commits it signed verify as `unknown_key` from now on.
    pub async fn remove_signing_key(&self, user: &str, key: i64) -> Result<(), HubError> {
        let owner = self.existing_user(user).await?;
        let found = with_pool!(&self.db, |pool| {
            sqlx::query("DELETE FROM signing_keys WHERE id = $1 AND user_id = $2").bind(key).bind(owner.id.0).execute(pool).await?.rows_affected()
        });
        if found == 0 {
            return Err(HubError::NotFound(format!("signing key {key} of {}", owner.name)));
        }
        self.bump_signing_epoch().await
    }

    /// A number that changes whenever a key is added, revoked or removed (by this process or
    /// another on the same database): a cache of verifications or of pages showing them keys on it.
    pub async fn signing_epoch(&self) -> Result<i64, HubError> {
        Ok(with_pool!(&self.db, |pool| sqlx::query_scalar::<_, i64>("SELECT epoch FROM signing_epoch WHERE id = 1").fetch_one(pool).await?))
    }

    /// Counts a key change: the database's epoch (for other processes) and this process's page
    /// generations of every repository (the badges of every commit the key signed change).
    async fn bump_signing_epoch(&self) -> Result<(), HubError> {
        with_pool!(&self.db, |pool| sqlx::query("UPDATE signing_epoch SET epoch = epoch + 1 WHERE id = 1").execute(pool).await.map(drop)?);
        self.invalidate(None);
        Ok(())
    }

    /// Verifies `commits` against the registered keys (one lookup per distinct key), in order.
    pub async fn verify_commits(&self, commits: &[&Commit]) -> Result<Vec<HubVerification>, HubError> {
        let key_ids: Vec<String> = commits.iter().map(|c| c.signer_key_id.clone()).collect();
        let keys = self.signing_keys_by_id(&key_ids).await?;
        Ok(commits.iter().map(|c| verify_with_keys(c, &muse_sign::check(c), &keys)).collect())
    }

    /// Verifies one commit against the registered keys.
    pub async fn verify_commit(&self, commit: &Commit) -> Result<HubVerification, HubError> {
        let mut one = self.verify_commits(&[commit]).await?;
        one.pop().ok_or_else(|| HubError::Internal("no verification".into()))
    }

    /// The branch patterns of `repo` that only take commits verifying `good` (see
    /// [`branch_requires_signatures`]).
    pub async fn signed_branches(&self, repo: RepoId) -> Result<Vec<String>, HubError> {
        Ok(with_pool!(&self.db, |pool| {
            sqlx::query_scalar::<_, String>("SELECT pattern FROM signed_branches WHERE repo_id = $1 ORDER BY pattern").bind(repo.0).fetch_all(pool).await?
        }))
    }

    /// Replaces the branch patterns of `repo` (empty: no branch requires signatures). A pattern
    /// is a branch name, or a prefix followed by `*`.
    pub async fn set_signed_branches(&self, repo: RepoId, patterns: &[String]) -> Result<(), HubError> {
        if patterns.len() > MAX_PATTERNS {
            return Err(HubError::BadRequest(format!("at most {MAX_PATTERNS} branch patterns")));
        }
        for p in patterns {
            let name = p.strip_suffix('*').unwrap_or(p);
            let valid = name.is_empty() || muse_store::RefName::parse(&format!("refs/heads/{}", name.trim_end_matches('/'))).is_ok();
            if p.is_empty() || name.contains('*') || !valid {
                return Err(HubError::BadRequest(format!("{p:?} is not a branch name or a prefix followed by *")));
            }
        }
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM signed_branches WHERE repo_id = $1").bind(repo.0).execute(&mut *tx).await?;
            for p in patterns {
                sqlx::query("INSERT INTO signed_branches (repo_id, pattern) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(repo.0)
                    .bind(p)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

/// Verifies a commit whose cryptographic check is `checked` against `keys` (only those of its key
/// matter), naming the owner of the deciding key.
pub fn verify_with_keys(commit: &Commit, checked: &Check, keys: &[SigningKeyInfo]) -> HubVerification {
    let usable: Vec<(&SigningKeyInfo, AllowedSigner)> = keys.iter().filter_map(|k| k.entry().map(|e| (k, e))).collect();
    let entries: Vec<AllowedSigner> = usable.iter().map(|(_, e)| e.clone()).collect();
    let verification = muse_sign::decide(commit, checked, &entries);
    let owner = match verification.status {
        Status::Good | Status::Expired | Status::Revoked => verification.entry.and_then(|i| usable.get(i)).map(|(k, _)| k.user.clone()),
        _ => None,
    };
    HubVerification { verification, owner }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_patterns() {
        let patterns = vec!["main".to_string(), "release/*".to_string()];
        assert!(branch_requires_signatures(&patterns, "refs/heads/main"));
        assert!(branch_requires_signatures(&patterns, "refs/heads/release/1.0"));
        assert!(!branch_requires_signatures(&patterns, "refs/heads/mainline"));
        assert!(!branch_requires_signatures(&patterns, "refs/tags/main"));
        assert!(!branch_requires_signatures(&[], "refs/heads/main"));
    }
}
