//! The error every decoder of this crate returns.

/// Why a byte string is not the canonical encoding of an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} encoding at byte {offset}: {reason}")]
pub struct DecodeError {
    /// Which kind of object was being decoded ("tree" or "commit").
    pub kind: &'static str,
    /// Where in the input the problem was found.
    pub offset: usize,
    /// What is wrong there.
    pub reason: String,
}

impl DecodeError {
    pub(crate) fn new(kind: &'static str, offset: usize, reason: impl Into<String>) -> Self {
        DecodeError { kind, offset, reason: reason.into() }
    }
}
