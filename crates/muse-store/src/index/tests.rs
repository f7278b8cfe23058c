use super::*;
use crate::history::LogWalk;
use crate::odb::ObjectKind;
use crate::refs::RefName;
use crate::snapshot::{build_snapshot, FileEntry};
use crate::Repository;
use muse_core::{Commit, EntryKind};
use proptest::prelude::*;

/// Writes a commit whose snapshot holds `files` (path, content).
fn commit(repo: &Store, parents: &[CommitId], time: i64, files: &[(&str, &str)]) -> CommitId {
    let mut writer = repo.objects().begin_write().unwrap();
    let mut entries: Vec<FileEntry> = files
        .iter()
        .map(|(path, text)| FileEntry { path: path.to_string(), kind: EntryKind::File, id: writer.add(ObjectKind::Blob, text.as_bytes()).unwrap() })
        .collect();
    entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let snapshot = build_snapshot(&mut writer, &entries).unwrap();
    let commit = Commit {
        parents: parents.to_vec(),
        snapshot,
        message: format!("at {time}"),
        author: "A <a@example.com>".into(),
        committed_at: muse_core::unix_to_rfc3339_utc(1_700_000_000 + time),
        ..Commit::default()
    };
    let id = writer.add_commit(&commit).unwrap();
    writer.finish().unwrap();
    id
}

fn set_branch(repo: &Store, name: &str, id: CommitId) {
    let name = RefName::branch(name).unwrap();
    let old = repo.refs().read(&name).unwrap();
    repo.refs().compare_and_swap(&name, old, Some(id)).unwrap();
}

fn walk_ids(repo: &Store, starts: &[CommitId], paths: &[&str]) -> Vec<CommitId> {
    let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    LogWalk::new(repo, starts, paths).unwrap().map(|r| r.unwrap().0).collect()
}

fn index_ids(repo: &Store, starts: &[CommitId], paths: &[&str]) -> Vec<CommitId> {
    let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    let index = HistoryIndex::open(repo, starts).unwrap();
    index.log(repo, starts, &paths, false).unwrap().map(Result::unwrap).collect()
}

#[test]
fn path_history_from_the_index_matches_the_tree_walk() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path(), "main").unwrap();
    let a = commit(&repo, &[], 0, &[("a.txt", "1"), ("src/x.rs", "x")]);
    let b = commit(&repo, &[a], 1, &[("a.txt", "2"), ("src/x.rs", "x")]);
    let c = commit(&repo, &[b], 2, &[("a.txt", "2"), ("src/x.rs", "x2"), ("src/y.rs", "y")]);
    let d = commit(&repo, &[b], 3, &[("a.txt", "3"), ("src/x.rs", "x")]);
    let m = commit(&repo, &[c, d], 4, &[("a.txt", "3"), ("src/x.rs", "x2"), ("src/y.rs", "y")]);
    let r = commit(&repo, &[m], 5, &[("a.txt", "2"), ("src/x.rs", "x2"), ("src/y.rs", "y")]);
    set_branch(&repo, "main", r);
    for paths in [&["a.txt"][..], &["src"], &["src/x.rs"], &["src/y.rs"], &["nothing"], &[""], &["a.txt", "src/y.rs"], &[]] {
        assert_eq!(index_ids(&repo, &[r], paths), walk_ids(&repo, &[r], paths), "{paths:?}");
    }
    assert_eq!(index_ids(&repo, &[r], &["a.txt"]), vec![r, d, b, a]);
    let index = HistoryIndex::read(&repo).unwrap();
    assert_eq!(index.len(), 6);
    let pos = |id| index.position(&id).unwrap();
    assert_eq!(index.commit(pos(m)).unwrap().generation, 4);
    assert_eq!(index.is_ancestor(pos(d), pos(r)), Some(true));
    assert_eq!(index.is_ancestor(pos(c), pos(d)), Some(false));
    let first: Vec<CommitId> = index.log(&repo, &[r], &["a.txt".into()], true).unwrap().map(Result::unwrap).collect();
    assert_eq!(first, vec![r, m, b, a]);
    assert_eq!(HistoryIndex::check(&repo).unwrap(), vec![]);
}

#[test]
fn the_index_catches_up_in_segments_and_compacts_them() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path(), "main").unwrap();
    let mut tip = commit(&repo, &[], 0, &[("f", "0")]);
    set_branch(&repo, "main", tip);
    for i in 1..40 {
        tip = commit(&repo, &[tip], i, &[("f", &i.to_string())]);
        set_branch(&repo, "main", tip);
        let index = HistoryIndex::open(&repo, &[]).unwrap();
        assert_eq!(index.len(), i as usize + 1);
        assert!(index.stats().segments <= 8, "{:?}", index.stats());
    }
    let files = fs::read_dir(repo.store_dir().join(DIR)).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".mhi")).count();
    assert_eq!(files as u64, HistoryIndex::read(&repo).unwrap().stats().segments);
    assert_eq!(index_ids(&repo, &[tip], &["f"]).len(), 40);
    assert_eq!(HistoryIndex::check(&repo).unwrap(), vec![]);
    let stats = HistoryIndex::rebuild(&repo, &|_, _| {}).unwrap();
    assert_eq!((stats.commits, stats.segments, stats.added), (40, 1, 40));
}

#[test]
fn a_damaged_index_is_reported_and_read_as_empty_then_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path(), "main").unwrap();
    let a = commit(&repo, &[], 0, &[("f", "0")]);
    set_branch(&repo, "main", a);
    HistoryIndex::open(&repo, &[]).unwrap();
    let history = repo.store_dir().join(DIR);
    let segment = fs::read_dir(&history).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "mhi")).unwrap();
    let mut bytes = fs::read(&segment).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&segment, &bytes).unwrap();
    assert_eq!(HistoryIndex::check(&repo).unwrap().len(), 1);
    assert!(HistoryIndex::read(&repo).unwrap().is_empty());
    // A reader catches up from scratch, publishing a sound chain again.
    assert_eq!(index_ids(&repo, &[a], &["f"]), vec![a]);
    assert_eq!(HistoryIndex::check(&repo).unwrap(), vec![]);
}

#[test]
fn a_read_only_store_is_indexed_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init(dir.path(), "main").unwrap();
    let a = commit(&repo, &[], 0, &[("f", "0")]);
    let b = commit(&repo, &[a], 1, &[("f", "1")]);
    set_branch(&repo, "main", b);
    let history = repo.store_dir().join(DIR);
    fs::write(&history, "not a directory").unwrap();
    assert_eq!(index_ids(&repo, &[b], &["f"]), vec![b, a]);
    assert_eq!(HistoryIndex::read(&repo).unwrap().len(), 0);
}

/// One commit of a generated history: parent choices and (file, content) edits.
type GeneratedCommit = (Vec<usize>, Vec<(u8, u8)>);

fn arbitrary_history() -> impl Strategy<Value = Vec<GeneratedCommit>> {
    // Each commit: up to 2 parents among the earlier ones, and up to 3 (file, content) edits.
    proptest::collection::vec((proptest::collection::vec(any::<usize>(), 0..3), proptest::collection::vec((0u8..4, 0u8..3), 0..3)), 1..14)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// On any DAG, the index answers exactly what the tree walk answers, for files and
    /// directories, with first-parent or full simplification.
    #[test]
    fn the_index_agrees_with_the_tree_walk_on_any_history(history in arbitrary_history()) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path(), "main").unwrap();
        let names = ["a", "d/b", "d/e/c", "d/e/f"];
        let mut ids: Vec<CommitId> = Vec::new();
        let mut states: Vec<std::collections::BTreeMap<&str, String>> = Vec::new();
        for (i, (parents, edits)) in history.iter().enumerate() {
            let mut parents: Vec<usize> = if i == 0 { vec![] } else { parents.iter().map(|p| p % i).collect() };
            parents.dedup();
            let mut state = parents.first().map(|p| states[*p].clone()).unwrap_or_default();
            for (file, content) in edits {
                let name = names[*file as usize];
                if *content == 0 { state.remove(name); } else { state.insert(name, content.to_string()); }
            }
            let files: Vec<(&str, &str)> = state.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let parent_ids: Vec<CommitId> = parents.iter().map(|p| ids[*p]).collect();
            // Equal times on purpose in places: the insertion order must break ties the same way.
            ids.push(commit(&repo, &parent_ids, (i / 2) as i64, &files));
            states.push(state);
        }
        let tip = *ids.last().unwrap();
        for paths in [&["a"][..], &["d"], &["d/e"], &["d/e/c"], &["d/b", "a"], &[]] {
            prop_assert_eq!(index_ids(&repo, &[tip], paths), walk_ids(&repo, &[tip], paths));
        }
        prop_assert_eq!(HistoryIndex::check(&repo).unwrap(), vec![]);
    }
}
