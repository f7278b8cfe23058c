//! Request and response bodies (JSON), as `docs/protocol.md` specifies them.

use muse_core::CommitId;
use serde::{Deserialize, Serialize};

/// One ref in an advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvertisedRef {
    /// The full ref name (`refs/heads/main`).
    pub name: String,
    /// The commit it names.
    pub commit_id: CommitId,
}

/// `GET REPO/muse/refs`: the repository's refs and what the server can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefAdvertisement {
    /// The protocol version the server answers with.
    pub protocol: u32,
    /// What the server supports beyond the base protocol (see [`crate::capability`]).
    pub capabilities: Vec<String>,
    /// The default branch (`refs/heads/…`), or `None` when the repository has no branch.
    pub head: Option<String>,
    /// Every branch and tag, sorted by name.
    pub refs: Vec<AdvertisedRef>,
}

impl RefAdvertisement {
    /// Whether the server listed `capability`.
    pub fn supports(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// The commit of the ref `name`, if advertised.
    pub fn commit_of(&self, name: &str) -> Option<CommitId> {
        self.refs.iter().find(|r| r.name == name).map(|r| r.commit_id)
    }
}

/// `POST REPO/muse/negotiate`: commits the client holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NegotiateRequest {
    /// Commits the client holds, at most [`crate::MAX_NEGOTIATE_HAVES`].
    pub haves: Vec<CommitId>,
}

/// The answer to a [`NegotiateRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NegotiateResponse {
    /// The haves the server holds, in request order.
    pub common: Vec<CommitId>,
}

/// `POST REPO/muse/fetch`: what the client wants and what it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// Commits of advertised refs the client wants, with their closure.
    pub wants: Vec<CommitId>,
    /// Commits the client holds (with their closure); the pack leaves out what they reach.
    pub haves: Vec<CommitId>,
}

/// One ref change of a push: compare-and-swap from `old` to `new`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefUpdate {
    /// The full ref name.
    pub name: String,
    /// The value the client expects the ref to have; `None`: the ref must not exist.
    pub old: Option<CommitId>,
    /// The value to set; `None` deletes the ref.
    pub new: Option<CommitId>,
}

/// `POST REPO/muse/push`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// The checksum (64 lowercase hex digits, the mpack trailer) of a completed upload to apply
    /// first, or `None` when the push needs no new object.
    pub pack: Option<String>,
    /// The ref changes, all applied or none.
    pub updates: Vec<RefUpdate>,
}

/// What a push wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// Commits newly stored.
    pub commits: u64,
    /// Trees newly stored.
    pub trees: u64,
    /// Blobs newly stored.
    pub blobs: u64,
}

/// The answer to a successful [`PushRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The refs as moved (every update of the request).
    pub updated: Vec<RefUpdate>,
    /// What the pack added to the repository.
    pub written: Written,
}

/// The answer to `PUT REPO/muse/uploads/CHECKSUM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatus {
    /// Bytes of the pack the server now holds.
    pub offset: u64,
    /// The pack's whole length.
    pub length: u64,
    /// Whether every byte arrived and the checksum matched.
    pub complete: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_the_document() {
        let id = CommitId::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
        let push = PushRequest { pack: None, updates: vec![RefUpdate { name: "refs/heads/main".into(), old: None, new: Some(id) }] };
        let json = serde_json::to_value(&push).unwrap();
        assert_eq!(json, serde_json::json!({"pack": null, "updates": [{"name": "refs/heads/main", "old": null, "new": id.to_string()}]}));
        let advert: RefAdvertisement = serde_json::from_str(&format!(
            r#"{{"protocol":1,"capabilities":["fetch-resume"],"head":"refs/heads/main","refs":[{{"name":"refs/heads/main","commit_id":"{id}"}}],"future":true}}"#
        ))
        .unwrap();
        assert!(advert.supports(crate::capability::FETCH_RESUME));
        assert!(!advert.supports(crate::capability::PUSH_RESUME));
        assert_eq!(advert.commit_of("refs/heads/main"), Some(id));
    }

    #[test]
    fn a_missing_member_is_an_error() {
        assert!(serde_json::from_str::<FetchRequest>(r#"{"wants": []}"#).is_err());
        assert!(serde_json::from_str::<NegotiateRequest>(r#"{"haves": ["sha256:00"]}"#).is_err());
    }
}
