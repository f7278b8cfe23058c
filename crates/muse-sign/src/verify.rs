//! The one verifier: a commit's signature against a list of allowed signers, to a status.

use muse_core::Commit;

use crate::allowed::{AllowedSigner, Identity};
use crate::signature::{check, Check};

/// The outcome of verifying one commit (`docs/formats.md` §4.1 gives the rules in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A valid signature by an allowed, unrevoked key, for the identity the commit claims, made
    /// in the key's validity window.
    Good,
    /// The signature is malformed, made by another key than `signer-key-id` names, or does not
    /// match the commit's bytes (a field was changed after signing).
    Bad,
    /// A valid signature by a key the list does not hold.
    UnknownKey,
    /// A valid signature by a revoked key (whenever it was made).
    Revoked,
    /// A valid signature by an allowed key, on a commit dated outside the key's validity window.
    Expired,
    /// No signature.
    Unsigned,
    /// A valid signature by an allowed key that may not sign for the commit's agent, author or
    /// model.
    SignerMismatch,
}

impl Status {
    /// The spelling used in JSON and text: `good`, `bad`, `unknown_key`, `revoked`, `expired`,
    /// `unsigned`, `signer_mismatch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Good => "good",
            Status::Bad => "bad",
            Status::UnknownKey => "unknown_key",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
            Status::Unsigned => "unsigned",
            Status::SignerMismatch => "signer_mismatch",
        }
    }
}

/// A verification's result: the status, the key, who signed (when the key is known) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The status.
    pub status: Status,
    /// The commit's `signer-key-id` (empty when it names none).
    pub key_id: String,
    /// The identity the key signed as (a principal of its entry), when the status is `good`,
    /// `expired` or `revoked`; `None` otherwise.
    pub signer: Option<String>,
    /// Why, in one sentence (empty for `good`).
    pub reason: String,
    /// The index in the given entries of the entry that decided a `good`, `expired` or
    /// `revoked` status (for a caller that attaches more to its entries, like the hub's key owners).
    pub entry: Option<usize>,
}

/// Verifies `commit` against `entries` (every entry may be given: only those of the commit's key
/// are used).
pub fn verify(commit: &Commit, entries: &[AllowedSigner]) -> Verification {
    decide(commit, &check(commit), entries)
}

/// [`verify`] with the cryptographic check already made (it depends on the commit alone, so a
/// caller may keep it; the decision depends on the entries, which change).
pub fn decide(commit: &Commit, checked: &Check, entries: &[AllowedSigner]) -> Verification {
    let key_id = commit.signer_key_id.clone();
    let result = |status, signer: Option<&str>, reason: String, entry| Verification {
        status,
        key_id: key_id.clone(),
        signer: signer.map(str::to_string),
        reason,
        entry,
    };
    let key = match checked {
        Check::Unsigned => return result(Status::Unsigned, None, "the commit is not signed".into(), None),
        Check::Bad(reason) => return result(Status::Bad, None, reason.clone(), None),
        Check::Valid(key) => key,
    };
    let of_key: Vec<(usize, &AllowedSigner)> = entries.iter().enumerate().filter(|(_, e)| e.key == *key).collect();
    if of_key.is_empty() {
        return result(Status::UnknownKey, None, format!("no allowed signer has the key {key_id}"), None);
    }
    if let Some((i, e)) = of_key.iter().find(|(_, e)| e.revoked) {
        return result(Status::Revoked, e.principals.first().map(String::as_str), format!("the key {key_id} is revoked"), Some(*i));
    }
    let identity = Identity::of(commit);
    let permitted: Vec<&(usize, &AllowedSigner)> = of_key.iter().filter(|(_, e)| e.permits(&identity, &commit.model_id)).collect();
    let Some(first) = permitted.first() else {
        let allowed: Vec<String> = of_key.iter().map(|(_, e)| describe(e)).collect();
        let model =
            if commit.model_id.is_empty() || matches!(identity, Identity::Person(_)) { String::new() } else { format!(" with model {}", commit.model_id) };
        return result(
            Status::SignerMismatch,
            None,
            format!("the key {key_id} may sign for {}; the commit claims {identity}{model}", allowed.join("; ")),
            None,
        );
    };
    let signer = |e: &AllowedSigner| e.principals.iter().find(|p| identity.is_named_by(p)).cloned();
    let time = muse_core::rfc3339_to_unix(&commit.committed_at).map_or(i64::MIN, |(secs, _)| secs);
    match permitted.iter().find(|(_, e)| e.valid_at(time)) {
        Some((i, e)) => result(Status::Good, signer(e).as_deref(), String::new(), Some(*i)),
        None => result(
            Status::Expired,
            signer(first.1).as_deref(),
            format!("the key {key_id} is not valid at the commit's time {}", commit.committed_at),
            Some(first.0),
        ),
    }
}

/// `agent:a, agent:b (models m1, m2)`.
fn describe(entry: &AllowedSigner) -> String {
    let mut text = entry.principals.join(", ");
    if !entry.models.is_empty() {
        text.push_str(&format!(" (models {})", entry.models.join(", ")));
    }
    text
}
