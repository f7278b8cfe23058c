//! The `structured_delta` a commit records (docs/formats.md §4.1): the computed bump, the
//! declared one, and the findings, as one small JSON object whose shape is versioned.

use muse_core::SemVerBump;
use serde::{Deserialize, Serialize};

use crate::diff::{Finding, SemanticDiff};
use crate::extract::EXTRACTOR_VERSION;

/// The `format` of the structured deltas this version writes.
pub const DELTA_FORMAT: &str = "muse-semver/1";

/// At most this many findings of each list are recorded (the totals count them all).
pub const MAX_DELTA_FINDINGS: usize = 50;

/// What a commit records in `structured_delta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructuredDelta {
    /// Always [`DELTA_FORMAT`] (a reader refuses another).
    pub format: String,
    /// The extractor version that computed it.
    pub extractor: u32,
    /// The bump computed from the code against the first parent.
    pub computed: SemVerBump,
    /// The bump the author declared (`None`: not declared, so `sem_ver_bump` is the computed
    /// one).
    pub declared: Option<SemVerBump>,
    /// The findings implying a major bump (at most [`MAX_DELTA_FINDINGS`]).
    pub breaking: Vec<Finding>,
    /// How many breaking findings there were.
    pub breaking_total: usize,
    /// The findings implying a minor bump (at most [`MAX_DELTA_FINDINGS`]).
    pub additions: Vec<Finding>,
    /// How many additions there were.
    pub additions_total: usize,
    /// How many files changed.
    pub files_changed: usize,
    /// How many of them had their symbols compared (the rest: unknown language, binary, …).
    pub files_parsed: usize,
}

impl StructuredDelta {
    /// The delta of a semantic diff, with the author's declared bump if any.
    pub fn new(diff: &SemanticDiff, declared: Option<SemVerBump>) -> StructuredDelta {
        StructuredDelta {
            format: DELTA_FORMAT.to_string(),
            extractor: EXTRACTOR_VERSION,
            computed: diff.bump,
            declared,
            breaking: diff.breaking.iter().take(MAX_DELTA_FINDINGS).cloned().collect(),
            breaking_total: diff.breaking.len(),
            additions: diff.additions.iter().take(MAX_DELTA_FINDINGS).cloned().collect(),
            additions_total: diff.additions.len(),
            files_changed: diff.files.len(),
            files_parsed: diff.files.iter().filter(|f| f.unknown.is_none()).count(),
        }
    }

    /// The JSON text recorded in the commit (compact, fields in this order).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a commit's `structured_delta`; `None` when it is absent, not JSON, or of another
    /// format.
    pub fn parse(text: &str) -> Option<StructuredDelta> {
        serde_json::from_str::<StructuredDelta>(text).ok().filter(|d| d.format == DELTA_FORMAT)
    }
}
