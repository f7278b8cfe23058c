//! The Muse client of wire protocol version 1 (`docs/protocol.md`): a blocking HTTP client that
//! reads a hub's ref advertisement, negotiates what the two sides share, fetches packs straight
//! into the store (resuming a cut-off transfer from the bytes already received) and pushes
//! (a resumable upload, then one all-or-nothing ref update).
//!
//! This crate never prints: progress goes to a [`Progress`], failures are [`TransportError`]s
//! whose [`TransportError::kind`] the CLI maps to exit codes. Tokens come from `MUSE_TOKEN` or
//! the credentials file ([`auth`]) and are never part of an error or a `Debug` output.
#![warn(missing_docs)]

pub mod auth;
mod client;
mod error;
mod fetch;
mod negotiate;
mod progress;
mod push;

pub use client::{Remote, RetryPolicy};
pub use error::{Result, TransportError};
pub use fetch::FetchReport;
pub use negotiate::{negotiate, CommitGraph, Negotiated, FIRST_BATCH};
pub use progress::{NoProgress, Phase, Progress};
pub use push::{PackSent, PushReport, PushStatus, PushUpdate, PushedRef};

use muse_core::CommitId;
use muse_protocol::{RefAdvertisement, RepoUrl};
use muse_store::Store;

impl Remote {
    /// A client of the repository at `url` (`http[s]://HOST[:PORT][/PREFIX]/OWNER/NAME`), with
    /// the token [`auth::token_for`] finds for it.
    pub fn connect(url: &str) -> Result<Remote> {
        let repo = RepoUrl::parse(url)?;
        let token = auth::token_for(&repo.to_string())?;
        Ok(Remote::new(repo, token))
    }

    /// Negotiates with the server (`docs/protocol.md` §Negotiation) from every ref and HEAD of
    /// `store`, given the server's `advert`: the haves for a fetch.
    pub fn negotiate(&self, store: &Store, advert: &RefAdvertisement, progress: &dyn Progress) -> Result<Negotiated> {
        progress.phase(Phase::Negotiating);
        let advertised: Vec<CommitId> = advert.refs.iter().map(|r| r.commit_id).collect();
        negotiate(store.objects(), &local_tips(store)?, &advertised, |haves| self.negotiate_round(haves))
    }
}

/// The commits of every ref of `store` (branches, tags, remote-tracking refs) and of every
/// working copy's HEAD, without duplicates.
pub fn local_tips(store: &Store) -> Result<Vec<CommitId>> {
    let mut tips: Vec<CommitId> = store.refs().list("refs/")?.into_iter().map(|(_, id)| id).collect();
    tips.extend(store.head_commits()?);
    tips.sort();
    tips.dedup();
    Ok(tips)
}

/// Asks the hub at `hub` for a new token (`POST HUB/api/v1/tokens`, Basic authentication
/// with `user` and `password`), labelled `label`, with scope `scope` (`read`, `write` or
/// `admin`). Returns the token; it is shown nowhere by this crate.
pub fn request_token(hub: &str, user: &str, password: &str, label: &str, scope: &str) -> Result<String> {
    let hub = auth::normalize_hub(hub)?;
    let url = format!("{hub}/api/v1/tokens");
    client::request_token(&url, user, password, label, scope)
}
