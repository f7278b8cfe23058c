//! Keys: OpenSSH `ssh-ed25519` public keys and unencrypted private keys, and key ids.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};
use ssh_key::private::{Ed25519Keypair, Ed25519PrivateKey, KeypairData};
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::LineEnding;
use zeroize::Zeroizing;

use crate::error::SignError;

/// The OpenSSH name of the one key type Muse signs with.
pub const KEY_TYPE: &str = "ssh-ed25519";

/// An Ed25519 public key: 32 bytes. Its id ([`PublicKey::key_id`]) is what a commit's
/// `signer-key-id` names.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key of 32 raw bytes (not checked to be a valid curve point: verification does that).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PublicKey(bytes)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses one OpenSSH public key line, `ssh-ed25519 BASE64 [COMMENT]` (as in `id_ed25519.pub`).
    pub fn from_openssh(line: &str) -> Result<Self, SignError> {
        let parsed = ssh_key::PublicKey::from_openssh(line.trim()).map_err(|e| SignError::BadKey { what: "public key", reason: e.to_string() })?;
        match parsed.key_data() {
            KeyData::Ed25519(key) => Ok(PublicKey(key.0)),
            other => Err(SignError::NotEd25519(other.algorithm().to_string())),
        }
    }

    /// The key as an OpenSSH public key line without a comment: `ssh-ed25519 BASE64`.
    pub fn to_openssh(&self) -> String {
        format!("{KEY_TYPE} {}", STANDARD.encode(self.wire_blob()))
    }

    /// The key's SSH wire encoding: `string "ssh-ed25519"`, `string key` (RFC 8709), each string
    /// a big-endian u32 length and the bytes. This is what the base64 of an OpenSSH line holds.
    pub fn wire_blob(&self) -> Vec<u8> {
        let mut blob = Vec::with_capacity(51);
        blob.extend_from_slice(&(KEY_TYPE.len() as u32).to_be_bytes());
        blob.extend_from_slice(KEY_TYPE.as_bytes());
        blob.extend_from_slice(&32u32.to_be_bytes());
        blob.extend_from_slice(&self.0);
        blob
    }

    /// The key id: OpenSSH's SHA-256 fingerprint, `SHA256:` and the unpadded base64 of the
    /// SHA-256 of [`PublicKey::wire_blob`] (what `ssh-keygen -l` prints).
    pub fn key_id(&self) -> String {
        format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(self.wire_blob())))
    }

    /// Checks `signature` over `message` (strict Ed25519: non-canonical and small-order values
    /// are refused).
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), String> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| "the public key is not a valid Ed25519 point".to_string())?;
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        key.verify_strict(message, &signature).map_err(|_| "the signature does not match the commit's bytes and key".to_string())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

/// A private Ed25519 key that signs commits. Its secret is wiped from memory when dropped and is
/// never formatted by `Debug`.
pub struct SigningKey {
    secret: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl SigningKey {
    /// The key of a 32-byte Ed25519 seed (RFC 8032's private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let secret = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = PublicKey(secret.verifying_key().to_bytes());
        SigningKey { secret, public }
    }

    /// A new key from the operating system's random number generator.
    pub fn generate() -> Result<Self, SignError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut()).map_err(|e| SignError::Random(e.to_string()))?;
        Ok(SigningKey::from_seed(&seed))
    }

    /// Parses an OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`). Refuses a key
    /// protected by a passphrase ([`SignError::Encrypted`]: nothing ever prompts) and any key
    /// type but Ed25519.
    pub fn from_openssh(text: &str) -> Result<Self, SignError> {
        let parsed = ssh_key::PrivateKey::from_openssh(text.trim()).map_err(|e| SignError::BadKey { what: "private key", reason: e.to_string() })?;
        if parsed.is_encrypted() {
            return Err(SignError::Encrypted);
        }
        let pair = match parsed.key_data() {
            KeypairData::Ed25519(pair) => pair,
            other => return Err(SignError::NotEd25519(other.algorithm().map_or_else(|_| "an unknown key type".into(), |a| a.to_string()))),
        };
        let key = SigningKey::from_seed(&pair.private.to_bytes());
        if key.public.0 != pair.public.0 {
            return Err(SignError::BadKey { what: "private key", reason: "its public half does not belong to its private half".into() });
        }
        Ok(key)
    }

    /// The key as an unencrypted OpenSSH private key file, with `comment` (LF line endings).
    pub fn to_openssh(&self, comment: &str) -> Result<Zeroizing<String>, SignError> {
        let pair = Ed25519Keypair { public: Ed25519PublicKey(self.public.0), private: Ed25519PrivateKey::from_bytes(&self.secret.to_bytes()) };
        let bad = |e: ssh_key::Error| SignError::BadKey { what: "private key", reason: e.to_string() };
        let key = ssh_key::PrivateKey::new(KeypairData::Ed25519(pair), comment).map_err(bad)?;
        key.to_openssh(LineEnding::LF).map_err(bad)
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The public key's id (see [`PublicKey::key_id`]).
    pub fn key_id(&self) -> String {
        self.public.key_id()
    }

    /// The Ed25519 signature of `message` (deterministic, RFC 8032).
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.secret.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.key_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_round_trips_and_ids_match_the_wire_blob() {
        let key = SigningKey::from_seed(&[7; 32]);
        let text = key.to_openssh("agent-7");
        let back = SigningKey::from_openssh(&text.expect("encodes")).expect("decodes");
        assert_eq!(back.public_key(), key.public_key());
        let line = key.public_key().to_openssh();
        assert_eq!(PublicKey::from_openssh(&format!("{line} a comment")).expect("public"), key.public_key());
        let parsed = ssh_key::PublicKey::from_openssh(&line).expect("ssh-key reads our line");
        assert_eq!(parsed.fingerprint(ssh_key::HashAlg::Sha256).to_string(), key.key_id());
    }

    #[test]
    fn other_key_types_and_garbage_are_refused() {
        let ecdsa = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMAPi8cTtPDzxz8ebsNLC1KZIec8CwvvfFwwBdVt9uf6loJtIILLw5EvcNfgEKcfSh6/Abjv8MvCjuYrGGof00Y= ec";
        assert!(PublicKey::from_openssh(ecdsa).is_err());
        assert!(matches!(PublicKey::from_openssh("ssh-ed25519 !!!"), Err(SignError::BadKey { .. })));
        assert!(matches!(SigningKey::from_openssh("not a key"), Err(SignError::BadKey { .. })));
    }

    /// Made by `ssh-keygen -t ed25519 -N secretpass`: refused without asking for the passphrase.
    #[test]
    fn a_key_with_a_passphrase_is_refused() {
        let encrypted = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABBGZXvrGO
tIECUewQ10a2WkAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIDYEaiKsnbrxa+XW
PyAoH1oX1w34wGVH3+Z+96rLW2AhAAAAkPH5ObQm2DBO/rVE+cAZpjxd0UVzDrn84IGAod
3drtwio0kfGyFgniPnUTvVCKfunot+9Gzr57Z8kB/cD3Eyd51WT5Fa/BahseEqOt7+28bG
SYudnC96XHQ6osKVwGLYn7bV+//lqHPfnoeOtUMkA7dDzFngXnPhVu0z07ZunURclnNO7k
yVRxg0Vqm6Ci2GmQ==
-----END OPENSSH PRIVATE KEY-----
";
        assert_eq!(SigningKey::from_openssh(encrypted).unwrap_err(), SignError::Encrypted);
    }
}
