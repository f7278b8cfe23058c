//! The crate's one error type.

/// What can go wrong reading keys or an allowed-signers file. (A commit whose signature does not
/// verify is not an error: [`crate::verify`] reports it as a [`crate::Status`].)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The private key file is protected by a passphrase. Muse never prompts, so it cannot use it.
    #[error(
        "the private key is protected by a passphrase, and Muse never prompts for one: sign with a key without a passphrase (`muse key generate` makes one)"
    )]
    Encrypted,
    /// The key is not an Ed25519 key.
    #[error("the key is {0}, not ssh-ed25519: Muse signs with Ed25519 keys only")]
    NotEd25519(String),
    /// The text is not an OpenSSH key of the expected kind.
    #[error("not an OpenSSH {what}: {reason}")]
    BadKey {
        /// "private key" or "public key".
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A line of an allowed-signers file breaks its format (`docs/formats.md` §4.2).
    #[error("allowed signers, line {line}: {reason}")]
    BadAllowedSigners {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An argument (an identity, a model list, a date) is not valid.
    #[error("{0}")]
    Invalid(String),
    /// The operating system's random number generator failed.
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

impl SignError {
    /// A stable word for the kind of error, for JSON and exit codes: `encrypted_key`,
    /// `unsupported_key`, `bad_key`, `bad_allowed_signers`, `invalid_input` or `random`.
    pub fn kind(&self) -> &'static str {
        match self {
            SignError::Encrypted => "encrypted_key",
            SignError::NotEd25519(_) => "unsupported_key",
            SignError::BadKey { .. } => "bad_key",
            SignError::BadAllowedSigners { .. } => "bad_allowed_signers",
            SignError::Invalid(_) => "invalid_input",
            SignError::Random(_) => "random",
        }
    }
}
