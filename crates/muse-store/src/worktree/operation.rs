//! The "operation in progress" record of a working copy: written durably before a checkout
//! changes the first file, removed after HEAD moved. While it exists the working copy may hold a
//! mix of two snapshots; `status` and `commit` refuse, and [`super::checkout::roll_back`] or
//! [`super::checkout::finish`] make the tree consistent again (docs/formats.md, "Operation in
//! progress").

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use muse_core::{CommitId, TreeId};

use crate::error::{IoContext, Result, StoreError};
use crate::fsutil::write_atomic;
use crate::refs::RefName;
use crate::repo::Repository;
use crate::store::Head;

/// The record's file name in the working copy's state directory.
pub const RECORD_FILE: &str = "operation";
const MAGIC: &str = "muse-operation 1";

/// A ref an operation moves (or has moved): from `old` to `new` (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefMove {
    /// The ref.
    pub name: RefName,
    /// Its value before the operation.
    pub old: Option<CommitId>,
    /// Its value after the operation.
    pub new: Option<CommitId>,
}

/// An interrupted (or running) operation on a working copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// What ran: `switch`, `clone`, `import`, `bundle apply`, `workspace add`, …
    pub kind: String,
    /// The snapshot the working copy held before.
    pub from: TreeId,
    /// The snapshot it is being moved to.
    pub to: TreeId,
    /// HEAD before the operation.
    pub head_before: Head,
    /// HEAD after the operation.
    pub head_after: Head,
    /// Refs the operation moves (or moved before the files): rolled back or finished with it.
    pub refs: Vec<RefMove>,
    /// The directory holding new file contents not yet renamed into place.
    pub staging: PathBuf,
}

fn head_text(head: &Head) -> String {
    match head {
        Head::Branch(name) => format!("ref: {name}"),
        Head::Detached(id) => id.to_string(),
    }
}

fn parse_head(text: &str) -> Option<Head> {
    match text.strip_prefix("ref: ") {
        Some(name) => RefName::parse(name).ok().map(Head::Branch),
        None => CommitId::parse(text).ok().map(Head::Detached),
    }
}

fn opt_id(id: Option<CommitId>) -> String {
    id.map_or_else(|| "none".to_string(), |id| id.to_string())
}

fn parse_opt_id(text: &str) -> Option<Option<CommitId>> {
    if text == "none" {
        Some(None)
    } else {
        CommitId::parse(text).ok().map(Some)
    }
}

impl Pending {
    /// The record's text (docs/formats.md).
    pub fn encode(&self) -> String {
        let mut text = format!(
            "{MAGIC}\nkind: {}\nfrom: {}\nto: {}\nhead-before: {}\nhead-after: {}\n",
            self.kind,
            self.from,
            self.to,
            head_text(&self.head_before),
            head_text(&self.head_after)
        );
        for r in &self.refs {
            text.push_str(&format!("ref: {} {} {}\n", r.name, opt_id(r.old), opt_id(r.new)));
        }
        text.push_str(&format!("staging: {}\n", self.staging.display()));
        text
    }

    /// Parses a record; `None` if it is not one.
    pub fn decode(text: &str) -> Option<Pending> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let mut field = |key: &str| lines.next().and_then(|l| l.strip_prefix(key)).and_then(|l| l.strip_prefix(": ")).map(str::to_string);
        let kind = field("kind")?;
        let from = TreeId::parse(&field("from")?).ok()?;
        let to = TreeId::parse(&field("to")?).ok()?;
        let head_before = parse_head(&field("head-before")?)?;
        let head_after = parse_head(&field("head-after")?)?;
        let mut refs = Vec::new();
        let mut staging = None;
        for line in lines {
            if let Some(rest) = line.strip_prefix("ref: ") {
                let mut parts = rest.split(' ');
                let (name, old, new) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() {
                    return None;
                }
                refs.push(RefMove { name: RefName::parse(name).ok()?, old: parse_opt_id(old)?, new: parse_opt_id(new)? });
            } else if let Some(path) = line.strip_prefix("staging: ") {
                staging = Some(PathBuf::from(path));
            } else {
                return None;
            }
        }
        if kind.is_empty() || kind.contains('\n') {
            return None;
        }
        Some(Pending { kind, from, to, head_before, head_after, refs, staging: staging? })
    }
}

/// Where a working copy's record lives.
pub fn record_path(repo: &Repository) -> PathBuf {
    repo.state_dir().join(RECORD_FILE)
}

/// The working copy's interrupted operation, if any.
pub fn pending(repo: &Repository) -> Result<Option<Pending>> {
    let path = record_path(repo);
    match fs::read_to_string(&path) {
        Ok(text) => Pending::decode(&text)
            .map(Some)
            .ok_or_else(|| StoreError::Workspace(format!("{} is not an operation record; remove it by hand if no muse command runs", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Io { op: "read", path, source: e }),
    }
}

/// Refuses `command` while an operation is pending in the working copy.
pub fn ensure_none_pending(repo: &Repository, command: &str) -> Result<()> {
    match pending(repo)? {
        None => Ok(()),
        Some(p) => Err(StoreError::OperationPending { kind: p.kind, command: command.to_string() }),
    }
}

/// Writes the record durably (before the first file changes).
pub(crate) fn write_record(repo: &Repository, record: &Pending) -> Result<()> {
    let path = record_path(repo);
    write_atomic(&path, record.encode().as_bytes()).ctx("write", &path)
}

/// Removes the record durably (after HEAD moved): the operation is over.
pub(crate) fn remove_record(repo: &Repository) -> Result<()> {
    let path = record_path(repo);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::Io { op: "remove", path, source: e }),
    }
    crate::fsutil::sync_dir(repo.state_dir()).ctx("fsync", repo.state_dir())
}

/// Whether `dir` is on the same file system as `other` (renames between them work).
pub(crate) fn same_device(dir: &Path, other: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(dir), fs::metadata(other)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use muse_core::ObjectId;

    #[test]
    fn records_round_trip_and_reject_damage() {
        let record = Pending {
            kind: "bundle apply".into(),
            from: TreeId(ObjectId::sha256(b"a")),
            to: TreeId(ObjectId::sha256(b"b")),
            head_before: Head::Branch(RefName::branch("main").unwrap()),
            head_after: Head::Detached(CommitId(ObjectId::sha256(b"c"))),
            refs: vec![RefMove { name: RefName::branch("topic").unwrap(), old: None, new: Some(CommitId(ObjectId::sha256(b"d"))) }],
            staging: PathBuf::from("/tmp/x y/staging-1"),
        };
        let text = record.encode();
        assert_eq!(Pending::decode(&text), Some(record));
        assert_eq!(Pending::decode(&text.replace("muse-operation 1", "muse-operation 2")), None);
        assert_eq!(Pending::decode(&text.replace("head-after", "head")), None);
        assert_eq!(Pending::decode(&format!("{text}junk\n")), None);
        assert_eq!(Pending::decode(&text[..text.find("staging").unwrap()]), None);
    }
}
