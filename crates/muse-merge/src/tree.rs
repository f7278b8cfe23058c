//! The three-way merge of snapshots: per path, what each side did since the base (added,
//! removed, modified, renamed where the content shows it), merged into one tree; every path
//! that cannot be merged is a [`Conflict`], and the tree holds the best version of it (a file
//! with marker blocks, the modified side of a modify/delete, ours for binary files).
//!
//! Only the paths either side changed are looked at (identical subtrees are never read), and the
//! result is written as ours plus changes, so a merge costs in proportion to what changed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use muse_core::{EntryKind, ObjectId, TreeId};
use muse_store::odb::ObjectKind;
use muse_store::snapshot::{diff_snapshots, update_snapshot, PathState};
use muse_store::{PackWriter, Store};

use crate::lines::{ConflictHunk, FileMerger, Labels};
use crate::Result;

/// Why a path could not be merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Both sides changed the same lines of a text file: the file holds marker blocks.
    Content,
    /// Both sides added the path with different content (the file holds marker blocks when
    /// both are text, else ours).
    AddAdd,
    /// One side modified the file, the other deleted it: the file holds the modified version.
    ModifyDelete,
    /// One side renamed the file, the other deleted it: it is at the new name.
    RenameDelete,
    /// The sides renamed the file to different names: each name holds its side's version.
    RenameRename,
    /// One side has a file where the other has a directory: the directory keeps its name, the
    /// file is moved to `PATH~LABEL`.
    FileDirectory,
    /// The sides changed the executable bit differently, or one made a symbolic link where the
    /// other has a file: ours is kept.
    Type,
    /// Both sides changed a symbolic link's target differently: ours is kept.
    Symlink,
    /// Both sides changed a binary file differently: ours is kept.
    Binary,
}

impl ConflictKind {
    /// The name used in JSON and in the text report.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Content => "content",
            ConflictKind::AddAdd => "add_add",
            ConflictKind::ModifyDelete => "modify_delete",
            ConflictKind::RenameDelete => "rename_delete",
            ConflictKind::RenameRename => "rename_rename",
            ConflictKind::FileDirectory => "file_directory",
            ConflictKind::Type => "type",
            ConflictKind::Symlink => "symlink",
            ConflictKind::Binary => "binary",
        }
    }
}

/// One version of a conflicted path: where it is on its side, its kind and its blob.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Version {
    /// Its path on that side (differs from the conflict's path after a rename).
    pub path: String,
    /// File, executable or symlink.
    pub kind: EntryKind,
    /// The blob.
    pub id: ObjectId,
}

/// A path the merge could not settle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conflict {
    /// Where the merged tree (and so the working copy) holds it.
    pub path: String,
    /// Why.
    pub kind: ConflictKind,
    /// The base's version (`None`: the base has no such file).
    pub base: Option<Version>,
    /// Ours (`None`: deleted on our side).
    pub ours: Option<Version>,
    /// Theirs (`None`: deleted on their side).
    pub theirs: Option<Version>,
    /// For text files: the conflicting regions, base, ours and theirs.
    #[serde(default)]
    pub hunks: Vec<ConflictHunk>,
}

/// The result of a tree merge.
#[derive(Debug, Clone)]
pub struct TreeMerge {
    /// The merged tree (conflicted paths hold their best version, see [`ConflictKind`]).
    pub tree: TreeId,
    /// The conflicts, sorted by path.
    pub conflicts: Vec<Conflict>,
}

impl TreeMerge {
    /// Whether the merge is clean.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// How a tree merge runs.
#[derive(Clone, Copy)]
pub struct Options<'m> {
    /// The per-file merge.
    pub merger: &'m dyn FileMerger,
    /// Look for renames (git's default: a deleted file and an added one at least 50% similar).
    pub renames: bool,
    /// An inner merge building a virtual base (criss-cross): a binary or symlink conflict takes
    /// the base's version, as git's merge-ort does.
    pub virtual_base: bool,
}

/// git's `MAX_SCORE`: similarity scores are out of this.
const MAX_SCORE: u64 = 60_000;
/// git's default minimum rename score (50%).
const MIN_SCORE: u64 = 30_000;
/// Above this many sources × destinations, only exact renames are looked for (git's
/// `merge.renameLimit` default for merges).
const RENAME_LIMIT: usize = 7000;

type Change = (Option<PathState>, Option<PathState>);

fn version(path: &str, state: Option<PathState>) -> Option<Version> {
    state.map(|(kind, id)| Version { path: path.to_string(), kind, id })
}

fn regular(kind: EntryKind) -> bool {
    matches!(kind, EntryKind::File | EntryKind::Executable)
}

/// The merger's working state: the store, what was written, what conflicts.
struct Merge<'s, 'w, 'p, 'm> {
    store: &'s Store,
    writer: &'w mut PackWriter<'p>,
    labels: &'m Labels,
    options: Options<'m>,
    conflicts: Vec<Conflict>,
}

impl Merge<'_, '_, '_, '_> {
    fn read(&self, id: &ObjectId) -> Result<Vec<u8>> {
        Ok(self.store.objects().read(id)?.data)
    }

    /// Merges the three versions of a file whose sides both exist; `path` names it in the result.
    /// Returns the merged state and records a conflict if there is one.
    fn content(&mut self, path: &str, paths: [&str; 3], b: Option<PathState>, o: PathState, t: PathState, add_add: bool) -> Result<PathState> {
        let conflict = |kind, hunks| Conflict {
            path: path.to_string(),
            kind,
            base: version(paths[0], b),
            ours: version(paths[1], Some(o)),
            theirs: version(paths[2], Some(t)),
            hunks,
        };
        if o == t {
            return Ok(o);
        }
        // The kind: whichever side changed it; both differently is a conflict (ours kept).
        let base_kind = b.map(|s| s.0);
        let kind = if Some(o.0) == base_kind || o.0 == t.0 {
            t.0
        } else if Some(t.0) == base_kind {
            o.0
        } else {
            let kept = if self.options.virtual_base { b.unwrap_or(o) } else { o };
            self.conflicts.push(conflict(ConflictKind::Type, Vec::new()));
            return Ok(kept);
        };
        // The content: whichever side changed it, else a real merge.
        let base_id = b.map(|s| s.1);
        if Some(o.1) == base_id || o.1 == t.1 {
            return Ok((kind, t.1));
        }
        if Some(t.1) == base_id {
            return Ok((kind, o.1));
        }
        if !regular(o.0) || !regular(t.0) || b.is_some_and(|s| !regular(s.0)) {
            let which = if o.0 == EntryKind::Symlink && t.0 == EntryKind::Symlink { ConflictKind::Symlink } else { ConflictKind::Type };
            self.conflicts.push(conflict(which, Vec::new()));
            return Ok(if self.options.virtual_base { b.unwrap_or(o) } else { o });
        }
        let base_data = match b {
            Some((_, id)) => self.read(&id)?,
            None => Vec::new(),
        };
        let (ours_data, theirs_data) = (self.read(&o.1)?, self.read(&t.1)?);
        if muse_diff::is_binary(&base_data) || muse_diff::is_binary(&ours_data) || muse_diff::is_binary(&theirs_data) {
            self.conflicts.push(conflict(if add_add { ConflictKind::AddAdd } else { ConflictKind::Binary }, Vec::new()));
            return Ok((kind, if self.options.virtual_base { base_id.unwrap_or(o.1) } else { o.1 }));
        }
        let merged = self.options.merger.merge(path, &base_data, &ours_data, &theirs_data, self.labels);
        let id = self.writer.add(ObjectKind::Blob, &merged.content)?;
        if !merged.is_clean() {
            self.conflicts.push(conflict(if add_add { ConflictKind::AddAdd } else { ConflictKind::Content }, merged.conflicts));
        }
        Ok((kind, id))
    }
}

/// Merges snapshot `ours` and `theirs`, both descended from `base`. New blobs and trees go into
/// `writer`; the trees of the three snapshots must be readable from `store`.
pub fn merge_trees(
    store: &Store,
    writer: &mut PackWriter<'_>,
    base: TreeId,
    ours: TreeId,
    theirs: TreeId,
    labels: &Labels,
    options: Options<'_>,
) -> Result<TreeMerge> {
    if ours == theirs || theirs == base {
        return Ok(TreeMerge { tree: ours, conflicts: Vec::new() });
    }
    if ours == base {
        return Ok(TreeMerge { tree: theirs, conflicts: Vec::new() });
    }
    let to_map = |changes: Vec<muse_store::snapshot::Change>| -> BTreeMap<String, Change> { changes.into_iter().map(|c| (c.path, (c.old, c.new))).collect() };
    let (co, ct) = rayon::join(|| diff_snapshots(store.objects(), Some(base), Some(ours)), || diff_snapshots(store.objects(), Some(base), Some(theirs)));
    let (co, ct) = (to_map(co?), to_map(ct?));
    let (ro, rt) = if options.renames { (find_renames(store, &co, &ct)?, find_renames(store, &ct, &co)?) } else { (BTreeMap::new(), BTreeMap::new()) };
    let mut m = Merge { store, writer, labels, options, conflicts: Vec::new() };
    // The final state of every path either side touched (`None`: absent).
    let mut finals: BTreeMap<String, Option<PathState>> = BTreeMap::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let base_of = |p: &str| co.get(p).or_else(|| ct.get(p)).and_then(|c| c.0);

    // Renamed files first: their sources and destinations are settled here.
    let sources: BTreeSet<&String> = ro.keys().chain(rt.keys()).collect();
    for src in sources {
        let b = base_of(src);
        let (o_dst, t_dst) = (ro.get(src), rt.get(src));
        let o_at = |p: &str| co.get(p).map_or(b, |c| c.1);
        let t_at = |p: &str| ct.get(p).map_or(b, |c| c.1);
        done.insert(src);
        finals.insert(src.clone(), None);
        match (o_dst, t_dst) {
            (Some(q), Some(r)) if q == r => {
                done.insert(q);
                let (o, t) = (co[q].1, ct[r].1);
                let state = m.content(q, [src.as_str(), q.as_str(), r.as_str()], b, o.expect("added"), t.expect("added"), false)?;
                finals.insert(q.clone(), Some(state));
            }
            (Some(q), Some(r)) => {
                done.insert(q);
                done.insert(r);
                let (o, t) = (co[q].1, ct[r].1);
                finals.insert(q.clone(), o);
                finals.insert(r.clone(), t);
                for at in [q, r] {
                    m.conflicts.push(Conflict {
                        path: at.clone(),
                        kind: ConflictKind::RenameRename,
                        base: version(src, b),
                        ours: version(q, o),
                        theirs: version(r, t),
                        hunks: Vec::new(),
                    });
                }
            }
            (Some(dst), None) | (None, Some(dst)) => {
                let ours_renamed = o_dst.is_some();
                done.insert(dst);
                let (moved, other) = if ours_renamed { (co[dst].1, t_at(src)) } else { (ct[dst].1, o_at(src)) };
                let moved = moved.expect("added");
                // The other side may have added a file at the destination too.
                let clash = if ours_renamed { ct.get(dst.as_str()).and_then(|c| c.1) } else { co.get(dst.as_str()).and_then(|c| c.1) };
                match other {
                    None => {
                        finals.insert(dst.clone(), Some(moved));
                        let (ours, theirs) = if ours_renamed { (version(dst, Some(moved)), None) } else { (None, version(dst, Some(moved))) };
                        m.conflicts.push(Conflict {
                            path: dst.clone(),
                            kind: ConflictKind::RenameDelete,
                            base: version(src, b),
                            ours,
                            theirs,
                            hunks: Vec::new(),
                        });
                    }
                    Some(other) => {
                        let state = if ours_renamed {
                            m.content(dst, [src.as_str(), dst.as_str(), src.as_str()], b, moved, other, false)?
                        } else {
                            m.content(dst, [src.as_str(), src.as_str(), dst.as_str()], b, other, moved, false)?
                        };
                        let state = match clash {
                            Some(added) if added != state => {
                                let (o, t) = if ours_renamed { (state, added) } else { (added, state) };
                                m.content(dst, [dst.as_str(), dst.as_str(), dst.as_str()], None, o, t, true)?
                            }
                            _ => state,
                        };
                        finals.insert(dst.clone(), Some(state));
                    }
                }
            }
            (None, None) => {}
        }
    }

    // Every other path either side touched.
    let paths: BTreeSet<&String> = co.keys().chain(ct.keys()).filter(|p| !done.contains(p.as_str())).collect();
    for path in paths {
        let b = base_of(path);
        let o = co.get(path).map_or(b, |c| c.1);
        let t = ct.get(path).map_or(b, |c| c.1);
        let state = if o == t || t == b {
            o
        } else if o == b {
            t
        } else {
            match (o, t) {
                (Some(o), Some(t)) => Some(m.content(path, [path.as_str(), path.as_str(), path.as_str()], b, o, t, b.is_none())?),
                (None, kept) | (kept, None) => {
                    m.conflicts.push(Conflict {
                        path: path.clone(),
                        kind: ConflictKind::ModifyDelete,
                        base: version(path, b),
                        ours: version(path, o),
                        theirs: version(path, t),
                        hunks: Vec::new(),
                    });
                    if options.virtual_base {
                        b
                    } else {
                        kept
                    }
                }
            }
        };
        finals.insert(path.clone(), state);
    }

    // A file where the other side has files below it: the file moves aside.
    let mut moved: Vec<(String, String)> = Vec::new();
    for (path, state) in &finals {
        if state.is_none() {
            continue;
        }
        for (i, _) in path.match_indices('/') {
            let dir = &path[..i];
            if matches!(finals.get(dir), Some(Some(_))) && !moved.iter().any(|(d, _)| d == dir) {
                let ours_file = co.get(dir).map_or(base_of(dir), |c| c.1) == finals[dir];
                let label = if ours_file { &labels.ours } else { &labels.theirs };
                let mut aside = format!("{dir}~{}", label.replace(['/', '\0'], "_"));
                while finals.contains_key(&aside) || muse_store::snapshot::lookup(store.objects(), ours, &aside)?.is_some() {
                    aside.push('_');
                }
                moved.push((dir.to_string(), aside));
            }
        }
    }
    for (dir, aside) in moved {
        let state = finals.insert(dir.clone(), None).flatten();
        finals.insert(aside.clone(), state);
        let v = version(&aside, state);
        let (o, t) = if co.get(&dir).map_or(base_of(&dir), |c| c.1) == state { (v, None) } else { (None, v) };
        // A conflict already recorded at the file's path now names where it went.
        for c in m.conflicts.iter_mut().filter(|c| c.path == dir) {
            c.path = aside.clone();
        }
        m.conflicts.push(Conflict {
            path: aside,
            kind: ConflictKind::FileDirectory,
            base: version(&dir, base_of(&dir)),
            ours: o,
            theirs: t,
            hunks: Vec::new(),
        });
    }

    // The result is ours with every path whose final state differs from ours.
    let in_ours = |p: &str| if co.contains_key(p) || ct.contains_key(p) { co.get(p).map_or_else(|| base_of(p), |c| c.1) } else { None };
    let changes: Vec<(String, Option<PathState>)> = finals.into_iter().filter(|(p, state)| *state != in_ours(p)).collect();
    let tree = update_snapshot(store.objects(), m.writer, ours, &changes)?;
    let mut conflicts = m.conflicts;
    conflicts.sort_by(|a, b| a.path.cmp(&b.path).then(a.kind.cmp(&b.kind)));
    Ok(TreeMerge { tree, conflicts })
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The renames of one side (`mine`) that matter: sources are files it deleted that the other
/// side changed or deleted (a rename of an untouched file merges the same as a delete and an
/// add); destinations are files it added. Exact renames first (same blob, same basename
/// preferred), then git's similarity estimate (at least 50%, the best first). Returns source →
/// destination.
fn find_renames(store: &Store, mine: &BTreeMap<String, Change>, other: &BTreeMap<String, Change>) -> Result<BTreeMap<String, String>> {
    let sources: Vec<(&String, PathState)> =
        mine.iter().filter(|(p, c)| c.1.is_none() && other.contains_key(p.as_str())).filter_map(|(p, c)| c.0.map(|s| (p, s))).collect();
    if sources.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut dests: Vec<(&String, PathState)> = mine.iter().filter(|(_, c)| c.0.is_none()).filter_map(|(p, c)| c.1.map(|s| (p, s))).collect();
    let mut found = BTreeMap::new();
    let mut left: Vec<(&String, PathState)> = Vec::new();
    for (src, state) in sources {
        let exact: Vec<usize> = (0..dests.len()).filter(|&i| dests[i].1 .1 == state.1 && dests[i].1 .0 == state.0).collect();
        let pick = exact.iter().copied().find(|&i| basename(dests[i].0) == basename(src)).or(exact.first().copied());
        match pick {
            Some(i) => {
                found.insert(src.clone(), dests.remove(i).0.clone());
            }
            None => left.push((src, state)),
        }
    }
    if left.is_empty() || dests.is_empty() || left.len().saturating_mul(dests.len()) > RENAME_LIMIT * RENAME_LIMIT {
        return Ok(found);
    }
    let mut stats: HashMap<ObjectId, (u64, HashMap<u32, u64>)> = HashMap::new();
    for (_, state) in left.iter().chain(dests.iter()) {
        if regular(state.0) && !stats.contains_key(&state.1) {
            let data = store.objects().read(&state.1)?.data;
            stats.insert(state.1, (data.len() as u64, muse_blame::chunk_hashes(&data)));
        }
    }
    // Every pair's score, then the best pairs first, each file used once (as git does).
    let mut scored: Vec<(u64, bool, usize, usize)> = Vec::new();
    for (si, (src, s)) in left.iter().enumerate() {
        let Some((src_size, src_chunks)) = stats.get(&s.1).filter(|_| regular(s.0)) else { continue };
        for (di, (dst, d)) in dests.iter().enumerate() {
            let Some((dst_size, dst_chunks)) = stats.get(&d.1).filter(|_| regular(d.0)) else { continue };
            let (max, min) = (*src_size.max(dst_size), *src_size.min(dst_size));
            if max == 0 || max * (MAX_SCORE - MIN_SCORE) < (max - min) * MAX_SCORE {
                continue;
            }
            let copied: u64 = src_chunks.iter().map(|(h, n)| (*n).min(dst_chunks.get(h).copied().unwrap_or(0))).sum();
            let score = copied * MAX_SCORE / max;
            if score >= MIN_SCORE {
                scored.push((score, basename(src) == basename(dst), si, di));
            }
        }
    }
    scored.sort_by(|a, b| (b.0, b.1).cmp(&(a.0, a.1)).then((a.2, a.3).cmp(&(b.2, b.3))));
    let (mut src_used, mut dst_used) = (vec![false; left.len()], vec![false; dests.len()]);
    for (_, _, si, di) in scored {
        if !src_used[si] && !dst_used[di] {
            src_used[si] = true;
            dst_used[di] = true;
            found.insert(left[si].0.clone(), dests[di].0.clone());
        }
    }
    Ok(found)
}
