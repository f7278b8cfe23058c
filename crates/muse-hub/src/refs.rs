//! The refs of hosted repositories: rows in the database, moved only by compare-and-swap
//! inside one transaction per call.
//!
//! Each change is one conditional statement whose row count says whether the ref held the
//! expected value: `INSERT … ON CONFLICT DO NOTHING` to create, `UPDATE … WHERE commit_id =
//! old` to move, `DELETE … WHERE commit_id = old` to delete. Two calls from the same old value
//! cannot both match: on PostgreSQL the second `UPDATE` waits for the first transaction's row
//! lock and then re-checks its `WHERE` against the committed value; on SQLite the transaction
//! holds the database's write lock from its start (`BEGIN IMMEDIATE`). Changes are applied in
//! name order, so that two multi-ref calls never wait on each other's locks in a cycle.

use std::collections::BTreeMap;

use muse_core::CommitId;
use muse_store::{RefName, StoreError};

use crate::db::with_pool;
use crate::model::{RefChange, RepoId};
use crate::{Hub, HubError};

/// How often one change is tried when the ref keeps moving away and back under it.
const MAX_ATTEMPTS: u32 = 3;

impl Hub {
    /// The refs of a repository, sorted by name (byte order).
    pub async fn refs(&self, repo: RepoId) -> Result<Vec<(String, CommitId)>, HubError> {
        let (exists, rows) = with_pool!(&self.db, |pool| {
            let exists = sqlx::query_scalar::<_, i64>("SELECT id FROM repos WHERE id = $1").bind(repo.0).fetch_optional(pool).await?.is_some();
            let rows = sqlx::query_as::<_, (String, String)>("SELECT name, commit_id FROM refs WHERE repo_id = $1").bind(repo.0).fetch_all(pool).await?;
            (exists, rows)
        });
        if !exists {
            return Err(HubError::NotFound(format!("repository #{repo}")));
        }
        let mut refs = rows.into_iter().map(|(name, id)| Ok((name, parse_stored(&id)?))).collect::<Result<Vec<_>, HubError>>()?;
        refs.sort();
        Ok(refs)
    }

    /// Applies `updates` to the refs of a repository, all or none, each a compare-and-swap:
    /// `old: None` creates, `new: None` deletes, and otherwise the ref moves from `old` to
    /// `new`. If any ref holds anything but its `old` (absent and present included), nothing
    /// changes and the error is `stale_ref`, naming the first such ref (in name order), the
    /// expected and the actual value. Names must be full ref names that muse-store accepts
    /// (`invalid_ref`), each at most once per call (`bad_request`). Whether the new commits
    /// exist in the repository's content is the caller's to check first.
    pub async fn update_refs(&self, repo: RepoId, updates: &[RefChange]) -> Result<(), HubError> {
        let changes = validate(updates)?;
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_with(self.db.begin_write()).await?;
            if sqlx::query_scalar::<_, i64>(self.db.repo_for_ref_update()).bind(repo.0).fetch_optional(&mut *tx).await?.is_none() {
                return Err(HubError::NotFound(format!("repository #{repo}")));
            }
            for (name, op) in changes {
                // On PostgreSQL another transaction may commit between a failed statement and
                // the read of the actual value, and put back exactly the expected one: try
                // again then, so that `stale_ref` never names an actual value equal to the
                // expected one.
                for attempt in 1.. {
                    let applied = match op {
                        Op::Create(new) => {
                            sqlx::query("INSERT INTO refs (repo_id, name, commit_id) VALUES ($1, $2, $3) ON CONFLICT (repo_id, name) DO NOTHING")
                                .bind(repo.0)
                                .bind(name)
                                .bind(new.to_string())
                        }
                        Op::Move(old, new) => sqlx::query("UPDATE refs SET commit_id = $1 WHERE repo_id = $2 AND name = $3 AND commit_id = $4")
                            .bind(new.to_string())
                            .bind(repo.0)
                            .bind(name)
                            .bind(old.to_string()),
                        Op::Delete(old) => {
                            sqlx::query("DELETE FROM refs WHERE repo_id = $1 AND name = $2 AND commit_id = $3").bind(repo.0).bind(name).bind(old.to_string())
                        }
                    }
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if applied == 1 {
                        break;
                    }
                    let actual = sqlx::query_scalar::<_, String>("SELECT commit_id FROM refs WHERE repo_id = $1 AND name = $2")
                        .bind(repo.0)
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|id| parse_stored(&id))
                        .transpose()?;
                    if actual != op.expected() || attempt == MAX_ATTEMPTS {
                        return Err(HubError::StaleRef { name: name.to_string(), expected: op.expected(), actual });
                    }
                }
            }
            tx.commit().await?;
        });
        self.invalidate(Some(repo));
        Ok(())
    }
}

/// One checked change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// The ref must not exist; it gets this value.
    Create(CommitId),
    /// The ref must hold the first value; it gets the second.
    Move(CommitId, CommitId),
    /// The ref must hold this value; it is deleted.
    Delete(CommitId),
}

impl Op {
    /// The value the ref must hold (`None`: absent).
    fn expected(self) -> Option<CommitId> {
        match self {
            Op::Create(_) => None,
            Op::Move(old, _) | Op::Delete(old) => Some(old),
        }
    }
}

/// The changes by name (so applied in name order), after checking every name and that none
/// comes twice or asks for nothing.
fn validate(updates: &[RefChange]) -> Result<BTreeMap<&str, Op>, HubError> {
    let mut changes = BTreeMap::new();
    for change in updates {
        RefName::parse(&change.name).map_err(|e| {
            let reason = match e {
                StoreError::InvalidRefName { reason, .. } => reason.to_string(),
                other => other.to_string(),
            };
            HubError::InvalidRef { name: change.name.clone(), reason }
        })?;
        let op = match (change.old, change.new) {
            (None, Some(new)) => Op::Create(new),
            (Some(old), Some(new)) => Op::Move(old, new),
            (Some(old), None) => Op::Delete(old),
            (None, None) => return Err(HubError::BadRequest(format!("the update of {} neither expects nor sets a value", change.name))),
        };
        if changes.insert(change.name.as_str(), op).is_some() {
            return Err(HubError::BadRequest(format!("{} is updated twice in one request", change.name)));
        }
    }
    Ok(changes)
}

/// A commit id read back from the database.
fn parse_stored(text: &str) -> Result<CommitId, HubError> {
    CommitId::parse(text).map_err(|e| HubError::Internal(format!("a stored ref does not hold a commit id: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(name: &str, old: Option<u8>, new: Option<u8>) -> RefChange {
        let id = |b: u8| CommitId(muse_core::ObjectId::from_bytes([b; 32]));
        RefChange { name: name.to_string(), old: old.map(id), new: new.map(id) }
    }

    #[test]
    fn validation() {
        let ok = [change("refs/tags/v1", None, Some(1)), change("refs/heads/main", Some(1), Some(2))];
        let names: Vec<&str> = validate(&ok).unwrap().into_keys().collect();
        assert_eq!(names, ["refs/heads/main", "refs/tags/v1"]);
        for (bad, code) in [
            (vec![change("main", None, Some(1))], "invalid_ref"),
            (vec![change("refs/heads/a..b", None, Some(1))], "invalid_ref"),
            (vec![change("refs/remotes/x", None, Some(1))], "invalid_ref"),
            (vec![change("refs/heads/a", None, None)], "bad_request"),
            (vec![change("refs/heads/a", None, Some(1)), change("refs/heads/a", Some(1), None)], "bad_request"),
        ] {
            assert_eq!(validate(&bad).unwrap_err().code(), code, "{bad:?}");
        }
    }
}
