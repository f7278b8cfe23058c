//! The `signature` field of a commit: its encoding, signing, and the cryptographic check.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use muse_core::Commit;

use crate::key::{PublicKey, SigningKey};

/// The first word of every signature value: the scheme.
pub const SCHEME: &str = "ed25519";

/// A parsed `signature` field: the public key that made it and the 64 signature bytes.
/// Spelled `ed25519 BASE64(public key, 32 bytes) BASE64(signature, 64 bytes)` (standard
/// base64 with padding; `docs/formats.md` §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitSignature {
    /// The key that made the signature.
    pub public_key: PublicKey,
    /// The Ed25519 signature of the commit's unsigned encoding.
    pub bytes: [u8; 64],
}

impl CommitSignature {
    /// The field's value.
    pub fn encode(&self) -> String {
        format!("{SCHEME} {} {}", STANDARD.encode(self.public_key.as_bytes()), STANDARD.encode(self.bytes))
    }

    /// Parses a field value, refusing anything [`CommitSignature::encode`] would not write.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut words = value.split(' ');
        let (scheme, key, sig) = match (words.next(), words.next(), words.next(), words.next()) {
            (Some(a), Some(b), Some(c), None) => (a, b, c),
            _ => return Err("the signature is not three words `ed25519 KEY SIGNATURE`".into()),
        };
        if scheme != SCHEME {
            return Err(format!("the signature's scheme is {scheme:?}, not {SCHEME}"));
        }
        let decode = |text: &str, what: &str| STANDARD.decode(text).map_err(|e| format!("the signature's {what} is not canonical base64: {e}"));
        let key: [u8; 32] = decode(key, "key")?.try_into().map_err(|_| "the signature's key is not 32 bytes".to_string())?;
        let bytes: [u8; 64] = decode(sig, "signature")?.try_into().map_err(|_| "the signature is not 64 bytes".to_string())?;
        let parsed = CommitSignature { public_key: PublicKey::from_bytes(key), bytes };
        if parsed.encode() != value {
            return Err("the signature is not in canonical form".into());
        }
        Ok(parsed)
    }
}

/// Signs `commit`: sets its `signer_key_id` to the key's id, then its `signature` to the
/// signature of its unsigned encoding (which covers the key id). The commit's id changes with
/// the key id; nothing else of it is touched.
pub fn sign_commit(key: &SigningKey, commit: &mut Commit) {
    commit.signer_key_id = key.key_id();
    commit.signature = signature_of(key, &commit.encode_unsigned());
}

/// The `signature` value for a commit whose unsigned encoding is `unsigned` (its
/// `signer-key-id` must already name `key`).
pub fn signature_of(key: &SigningKey, unsigned: &[u8]) -> String {
    CommitSignature { public_key: key.public_key(), bytes: key.sign_bytes(unsigned) }.encode()
}

/// What the signature alone says, before any list of allowed keys is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// No signature.
    Unsigned,
    /// A signature that does not hold: malformed, made by a key other than the one
    /// `signer-key-id` names, or not matching the commit's bytes. The reason says which.
    Bad(String),
    /// A valid signature by this key, which `signer-key-id` names.
    Valid(PublicKey),
}

/// Checks `commit`'s signature cryptographically: the steps 1–4 of `docs/formats.md` §4.1.
pub fn check(commit: &Commit) -> Check {
    if commit.signature.is_empty() {
        return Check::Unsigned;
    }
    if commit.signer_key_id.is_empty() {
        return Check::Bad("the commit is signed but names no signer key".into());
    }
    let parsed = match CommitSignature::parse(&commit.signature) {
        Ok(parsed) => parsed,
        Err(reason) => return Check::Bad(reason),
    };
    if parsed.public_key.key_id() != commit.signer_key_id {
        return Check::Bad(format!("the signature was made by {}, not by the signer key {}", parsed.public_key.key_id(), commit.signer_key_id));
    }
    match parsed.public_key.verify(&commit.encode_unsigned(), &parsed.bytes) {
        Ok(()) => Check::Valid(parsed.public_key),
        Err(reason) => Check::Bad(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit() -> Commit {
        Commit { message: "m\n".into(), author: "Ada <ada@example.com>".into(), committed_at: "2026-01-01T00:00:00Z".into(), ..Commit::default() }
    }

    #[test]
    fn signing_then_checking_is_valid_and_the_encoding_round_trips() {
        let key = SigningKey::from_seed(&[1; 32]);
        let mut c = commit();
        sign_commit(&key, &mut c);
        assert_eq!(check(&c), Check::Valid(key.public_key()));
        let parsed = CommitSignature::parse(&c.signature).expect("parses");
        assert_eq!(parsed.encode(), c.signature);
        assert_eq!(c.signature.len(), 8 + 44 + 1 + 88);
    }

    #[test]
    fn malformed_values_are_bad() {
        let key = SigningKey::from_seed(&[1; 32]);
        let mut c = commit();
        sign_commit(&key, &mut c);
        let good = c.signature.clone();
        for bad in [
            good.replacen("ed25519", "ed448", 1),
            format!("{good} "),
            good.replace(' ', "  "),
            good.trim_end_matches('=').to_string(),
            "ed25519 AAAA AAAA".to_string(),
            "x".to_string(),
        ] {
            let tampered = Commit { signature: bad.clone(), ..c.clone() };
            assert!(matches!(check(&tampered), Check::Bad(_)), "{bad:?}");
        }
    }
}
