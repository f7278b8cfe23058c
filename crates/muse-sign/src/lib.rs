//! Signed Muse commits: the one signer and verifier that the `muse` CLI and MuseHub share.
//!
//! A signature is Ed25519 (RFC 8032) over the commit's unsigned canonical encoding, the exact
//! bytes its id covers ([`muse_core::Commit::encode_unsigned`]), which include `signer-key-id`,
//! the OpenSSH SHA-256 fingerprint of the signing key. The `signature` field carries the public
//! key and the signature (`ed25519 KEY SIG`), so a signature can be checked without knowing the
//! key; a list of allowed signers ([`AllowedSigners`], or a hub's registered keys) then says
//! whether the key may sign for the agent or person the commit claims. `docs/formats.md` §4.1
//! and §4.2 specify all of it, with test vectors (`tests/vectors.rs` checks them).
//!
//! Keys are OpenSSH `ssh-ed25519` keys, so people can reuse their SSH keys; private keys with a
//! passphrase are refused (signing never prompts). Nothing here reads a file or prints.
#![warn(missing_docs)]

mod allowed;
mod error;
mod key;
mod signature;
mod verify;

pub use allowed::{AllowedSigner, AllowedSigners, Bound, Identity, AGENT_PREFIX};
pub use error::SignError;
pub use key::{PublicKey, SigningKey, KEY_TYPE};
pub use signature::{check, sign_commit, signature_of, Check, CommitSignature, SCHEME};
pub use verify::{decide, verify, Status, Verification};
