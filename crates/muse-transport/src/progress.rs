//! Progress reporting: the transport never prints, it tells a [`Progress`] what it is doing.

/// What a transfer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Asking which commits the server has.
    Negotiating,
    /// Receiving and applying a pack.
    Receiving,
    /// Building a pack to push.
    Packing,
    /// Uploading a pack; the total is its length.
    Uploading {
        /// The pack's length in bytes.
        total: u64,
    },
    /// Waiting for the server to verify the pack and move the refs.
    Updating,
}

/// Receives progress reports (from the thread running the transfer). Every method does
/// nothing by default.
pub trait Progress: Sync {
    /// A new phase starts.
    fn phase(&self, _phase: Phase) {}
    /// `done` bytes of the pack are transferred (counting a kept prefix).
    fn bytes(&self, _done: u64, _total: Option<u64>) {}
    /// `done` objects are received.
    fn objects(&self, _done: u64) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
