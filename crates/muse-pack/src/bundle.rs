//! Bundles: an mpack with a short text header naming the refs it carries and the commits the
//! receiver must already have, for offline transfer (`muse bundle create` / `apply`), like
//! `git bundle`. Layout (`docs/mpack.md` §Bundles):
//!
//! ```text
//! muse-bundle 1\n
//! prerequisite sha256:<hex>\n   (zero or more)
//! ref sha256:<hex> <full ref name>\n   (zero or more)
//! head <full ref name>\n   (at most one)
//! \n
//! <mpack>
//! ```

use std::io::{BufRead, Read, Write};

use muse_core::CommitId;
use muse_store::{ObjectKind, RefName, Store};

use crate::apply::{apply, ApplyOptions, ApplyReport};
use crate::build::{build, BuildOptions, BuildStats};
use crate::error::{PackError, Result};
use crate::refs::{update_refs, RefUpdate};

/// The first line of every bundle.
const MAGIC_LINE: &str = "muse-bundle 1";
/// The longest header line accepted (a ref name is far shorter).
const MAX_LINE: usize = 4096;
/// The most header lines accepted (prerequisites and refs).
const MAX_LINES: usize = 1 << 20;
/// The most header bytes accepted (bounds the memory of the parsed header).
const MAX_HEADER_BYTES: usize = 64 << 20;

/// What a bundle's header declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleHeader {
    /// Commits the receiver must have before applying (the bundle's `--not` side).
    pub prerequisites: Vec<CommitId>,
    /// Refs and the commits they point at.
    pub refs: Vec<(RefName, CommitId)>,
    /// The branch a clone from this bundle would check out.
    pub head: Option<RefName>,
}

impl BundleHeader {
    /// The header's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut text = format!("{MAGIC_LINE}\n");
        for id in &self.prerequisites {
            text.push_str(&format!("prerequisite {id}\n"));
        }
        for (name, id) in &self.refs {
            text.push_str(&format!("ref {id} {name}\n"));
        }
        if let Some(head) = &self.head {
            text.push_str(&format!("head {head}\n"));
        }
        text.push('\n');
        text.into_bytes()
    }

    /// Reads a header, leaving `input` at the first byte of the mpack.
    pub fn read(input: &mut dyn BufRead) -> Result<BundleHeader> {
        let mut header = BundleHeader::default();
        if read_line(input)?.as_deref() != Some(MAGIC_LINE) {
            return Err(PackError::Bundle("not a muse bundle (the first line is not 'muse-bundle 1')".into()));
        }
        let mut bytes = 0usize;
        for _ in 0..MAX_LINES {
            let line = read_line(input)?.ok_or_else(|| PackError::Bundle("the header ends before its blank line".into()))?;
            if line.is_empty() {
                return Ok(header);
            }
            bytes += line.len() + 1;
            if bytes > MAX_HEADER_BYTES {
                return Err(PackError::Bundle(format!("the header is longer than {MAX_HEADER_BYTES} bytes")));
            }
            let bad = |why: &str| PackError::Bundle(format!("bad header line {line:?}: {why}"));
            let parse_id = |text: &str| CommitId::parse(text).map_err(|e| bad(&e.to_string()));
            let parse_ref = |text: &str| RefName::parse(text).map_err(|e| bad(&e.to_string()));
            match line.split_once(' ') {
                Some(("prerequisite", id)) => header.prerequisites.push(parse_id(id)?),
                Some(("ref", rest)) => {
                    let (id, name) = rest.split_once(' ').ok_or_else(|| bad("expected 'ref <id> <name>'"))?;
                    header.refs.push((parse_ref(name)?, parse_id(id)?));
                }
                Some(("head", name)) if header.head.is_none() => header.head = Some(parse_ref(name)?),
                _ => return Err(bad("unknown or repeated field")),
            }
        }
        Err(PackError::Bundle(format!("more than {MAX_LINES} header lines")))
    }
}

/// Reads one `\n`-terminated UTF-8 line of at most [`MAX_LINE`] bytes; `None` at end of input.
fn read_line(input: &mut dyn BufRead) -> Result<Option<String>> {
    let mut line = Vec::new();
    let n = input.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line).map_err(|e| PackError::io("read", "the bundle", e))?;
    if n == 0 {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        return Err(PackError::Bundle("a header line is too long or unterminated".into()));
    }
    String::from_utf8(line).map(Some).map_err(|_| PackError::Bundle("a header line is not UTF-8".into()))
}

/// Writes a bundle of `refs` (and everything they reach that `prerequisites` do not) to `out`.
pub fn create_bundle(repo: &Store, header: &BundleHeader, mut out: impl Write, options: &BuildOptions) -> Result<BuildStats> {
    out.write_all(&header.encode()).map_err(|e| PackError::io("write", "the bundle", e))?;
    let want: Vec<CommitId> = header.refs.iter().map(|(_, id)| *id).collect();
    build(repo.objects(), &want, &header.prerequisites, out, options)
}

/// What applying a bundle did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BundleReport {
    /// The objects written and rejected.
    #[serde(flatten)]
    pub apply: ApplyReport,
    /// The refs moved (or not).
    pub refs: Vec<RefUpdate>,
}

/// Applies a bundle: checks its prerequisites, applies its pack, then moves its refs (forward
/// only unless `force`; never a branch checked out in a working copy).
pub fn apply_bundle(repo: &Store, mut input: impl BufRead, force: bool, options: ApplyOptions<'_>) -> Result<BundleReport> {
    let header = BundleHeader::read(&mut input)?;
    for id in &header.prerequisites {
        if repo.objects().kind(&id.0)? != Some(ObjectKind::Commit) {
            return Err(PackError::MissingPrerequisite(id.0));
        }
    }
    let apply = apply(repo.objects(), input, options)?;
    let refs = update_refs(repo, &header.refs, force, options.hook)?;
    // Each apply publishes one pack: merge them when they pile up, as commits do. This only
    // keeps lookups fast; the apply has landed whatever it does, so a failure is not an error.
    let _ = repo.objects().consolidate_if_needed();
    Ok(BundleReport { apply, refs })
}
