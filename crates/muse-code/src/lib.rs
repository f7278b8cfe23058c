//! The code domain: what a change means for a program's public API.
//!
//! * [`extract`] reads one source file (Python, Rust, TypeScript, JavaScript, Go; each grammar
//!   a cargo feature) with tree-sitter into [`Symbol`]s: functions, methods, classes, structs,
//!   enums, traits, interfaces, types, constants, fields and variants, each with its qualified
//!   name, signature, visibility by the language's rule, line and body hash. Other files get no
//!   symbol claims ([`FileSymbols::Unknown`]). Extraction never panics and never fails.
//! * [`Extractor::diff`] and [`diff_snapshots_semantic`] compare the changed files of two
//!   snapshots symbol by symbol ([`SemanticDiff`]): added, removed, renamed or moved (the same
//!   body under a new name or place), kind, visibility, signature or body changed.
//! * The [`Rule`]s turn that into the computed bump, each breaking change a [`Finding`] with a
//!   stable rule id and its place; [`StructuredDelta`] is what a commit records of it.
//! * [`SymbolCache`] keeps extraction results in the store by blob id, so a file's content is
//!   parsed once.
//!
//! The library never prints; the CLI (`muse commit`, `muse diff --semantic`, `muse semver`)
//! shows its results.
#![warn(missing_docs)]

mod cache;
mod delta;
mod diff;
mod error;
mod extract;
mod model;
mod paths;
mod rules;
mod source;

pub use cache::SymbolCache;
pub use delta::{StructuredDelta, DELTA_FORMAT, MAX_DELTA_FINDINGS};
pub use diff::{diff_files, ChangeKind, FileDelta, FileSides, FileStatus, Finding, SemanticDiff, SymbolChange};
pub use error::{CodeError, Result};
pub use extract::{extract, EXTRACTOR_VERSION, MAX_SOURCE_BYTES};
pub use model::{FileSymbols, Language, Param, ParamKind, Symbol, SymbolKind, UnknownReason};
pub use paths::{is_documentation, is_outside_api, is_private_module};
pub use rules::Rule;
pub use source::{diff_snapshots_semantic, BlobSource, Extractor, WorkingCopySource};
