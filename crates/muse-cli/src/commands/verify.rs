//! `muse verify REV…`: each commit's signature against the repository's allowed signers
//! (`docs/formats.md` §4.1). Reads public keys only.

use muse_core::{Commit, CommitId};
use muse_sign::{AllowedSigner, Status, Verification};

use super::common::short;
use super::signing::{allowed_signers_path, load_allowed};
use crate::error::{CliError, CliResult, EXIT_FAILED};
use crate::output::{outln, Ctx};

/// Arguments of `muse verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The commits to verify (default: HEAD).
    revisions: Vec<String>,
}

/// One commit's verification, as `verify --json` and `log --show-signature --json` print it.
#[derive(serde::Serialize)]
pub struct VerificationJson {
    /// The commit.
    pub commit_id: CommitId,
    /// `good`, `bad`, `unknown_key`, `revoked`, `expired`, `unsigned` or `signer_mismatch`.
    pub status: Status,
    /// The commit's `signer_key_id` (`""` when none).
    pub key_id: String,
    /// The identity the key signed as, or null.
    pub signer: Option<String>,
    /// Why, when the status is not `good` (`""` otherwise).
    pub reason: String,
}

impl VerificationJson {
    /// The JSON of `verification` of commit `id`.
    pub fn new(id: CommitId, verification: Verification) -> Self {
        VerificationJson { commit_id: id, status: verification.status, key_id: verification.key_id, signer: verification.signer, reason: verification.reason }
    }

    /// One line of text: `status[ by signer][ (key)][: reason]`.
    pub fn text(&self) -> String {
        let mut line = self.status.as_str().to_string();
        if let Some(signer) = &self.signer {
            line.push_str(&format!(" by {signer}"));
        }
        if !self.key_id.is_empty() {
            line.push_str(&format!(" ({})", self.key_id));
        }
        if !self.reason.is_empty() && self.status != Status::Good {
            line.push_str(&format!(": {}", self.reason));
        }
        line
    }
}

/// The repository's allowed signers, as entries.
pub fn allowed_entries(repo: &muse_store::Repository) -> CliResult<Vec<AllowedSigner>> {
    Ok(load_allowed(&allowed_signers_path(repo)?)?.entries().cloned().collect())
}

/// Verifies one commit.
pub fn verify_commit(id: CommitId, commit: &Commit, entries: &[AllowedSigner]) -> VerificationJson {
    VerificationJson::new(id, muse_sign::verify(commit, entries))
}

/// Verifies the commits; exits 1 (`unverified`) unless every one is `good`.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let entries = allowed_entries(&repo)?;
    let revisions = if args.revisions.is_empty() { vec!["HEAD".to_string()] } else { args.revisions };
    let mut results = Vec::with_capacity(revisions.len());
    for rev in &revisions {
        let id = repo.resolve(rev)?;
        let commit = repo.objects().read_commit(&id)?;
        results.push(verify_commit(id, &commit, &entries));
    }
    if ctx.json {
        ctx.print_json(&results)?;
    } else {
        for r in &results {
            outln!("{} {}", short(r.commit_id), r.text())?;
        }
    }
    let failed = results.iter().filter(|r| r.status != Status::Good).count();
    if failed > 0 {
        return Err(CliError::new(EXIT_FAILED, "unverified", format!("{failed} of {} commit(s) did not verify as good", results.len())));
    }
    Ok(())
}
