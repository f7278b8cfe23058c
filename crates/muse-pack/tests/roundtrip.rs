//! build → apply round trips (property-tested), bundles, gc and local clone.

mod common;

use std::collections::HashSet;

use common::*;
use muse_core::{CommitId, ObjectId};
use muse_pack::{apply, build, ApplyOptions, BuildOptions, GcOptions, PackError, Prune};
use muse_store::{ObjectKind, ObjectStore, RefName, Repository};
use proptest::prelude::*;

fn arb_steps() -> impl Strategy<Value = Vec<Step>> {
    let step = (proptest::collection::vec(0usize..64, 0..3), proptest::collection::vec((0usize..9, 0u8..3, any::<u8>()), 1..5))
        .prop_map(|(parents, edits)| Step { parents, edits });
    proptest::collection::vec(step, 1..10)
}

fn fast() -> BuildOptions {
    BuildOptions { level: 1, max_depth: 3 }
}

fn gc_options(prune: Prune) -> GcOptions<'static> {
    GcOptions { build: fast(), prune, hook: None }
}

/// Object ids and kinds of a store.
fn contents(store: &ObjectStore) -> HashSet<(ObjectId, ObjectKind)> {
    store.all_objects().unwrap().into_iter().collect()
}

fn transfer(src: &ObjectStore, dst: &ObjectStore, want: &[CommitId], have: &[CommitId]) -> muse_pack::BuildStats {
    let mut pack = Vec::new();
    let stats = build(src, want, have, &mut pack, &fast()).unwrap();
    let report = apply(dst, &pack[..], ApplyOptions::default()).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    stats
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn build_then_apply_gives_the_same_objects(steps in arb_steps(), have_pick in any::<usize>(), tip_pick in any::<usize>()) {
        let (_s, src) = store();
        let ids = write_history(&src, &steps);
        let tips = vec![ids[ids.len() - 1], ids[tip_pick % ids.len()]];
        let have = vec![ids[have_pick % ids.len()]];
        let (_d, dst) = store();
        transfer(&src, &dst, &have, &[]);
        prop_assert_eq!(contents(&dst).into_iter().map(|(id, _)| id).collect::<HashSet<_>>(), reachable(&src, &have));
        let stats = transfer(&src, &dst, &tips, &have);
        let all = reachable(&src, &[tips.clone(), have.clone()].concat());
        let new = all.len() - reachable(&src, &have).len();
        // At least what the receiver lacks; more only when commit times cannot tell which side
        // reaches a commit first (here every commit has the same time), as with git.
        prop_assert!((stats.blobs + stats.trees + stats.commits) as usize >= new, "the pack must hold what the receiver lacks");
        let got = contents(&dst);
        prop_assert_eq!(got.iter().map(|(id, _)| *id).collect::<HashSet<_>>(), all);
        for (id, kind) in got {
            if kind == ObjectKind::Commit {
                prop_assert_eq!(dst.read_commit(&CommitId(id)).unwrap(), src.read_commit(&CommitId(id)).unwrap());
            } else {
                prop_assert_eq!(dst.read(&id).unwrap(), src.read(&id).unwrap());
            }
        }
        prop_assert!(closure_problems(&dst).is_empty());
    }
}

#[test]
fn deep_histories_use_bounded_delta_chains() {
    let steps: Vec<Step> = (0..40usize).map(|i| Step { parents: vec![i.wrapping_sub(1)], edits: vec![(1, 0, i as u8)] }).collect();
    let (_s, src) = store();
    let ids = write_history(&src, &steps);
    let mut pack = Vec::new();
    let stats = build(&src, &[ids[39]], &[], &mut pack, &BuildOptions { level: 3, max_depth: 5 }).unwrap();
    assert!(stats.deltas > 40, "{stats:?}");
    let (_d, dst) = store();
    let report = apply(&dst, &pack[..], ApplyOptions::default()).unwrap();
    assert!(report.rejected.is_empty());
    assert_eq!(contents(&dst).len(), reachable(&src, &[ids[39]]).len());
    // The same history with no depth bound for the applier to enforce: a crafted 51-long chain.
    let mut craft = Craft::new();
    let mut prev: Vec<u8> = b"start\n".repeat(20);
    craft = craft.blob(&prev);
    for i in 0..51 {
        let mut next = prev.clone();
        next.extend_from_slice(format!("{i}\n").as_bytes());
        craft = craft.delta(BLOB, muse_core::blob_id(&next), muse_core::blob_id(&prev), &prev, &next);
        prev = next;
    }
    let (_e, other) = store();
    let report = apply(&other, &craft.finish()[..], ApplyOptions::default()).unwrap();
    assert_eq!(report.rejected.len(), 1);
    assert!(report.rejected[0].reason.contains("longer than 50"), "{:?}", report.rejected);
}

#[test]
fn unknown_wants_are_an_error_and_unknown_haves_are_ignored() {
    let (_s, src) = store();
    let ids = write_history(&src, &[Step { parents: vec![], edits: vec![(0, 1, 1)] }]);
    let ghost = CommitId(ObjectId::sha256(b"ghost"));
    assert!(matches!(build(&src, &[ghost], &[], &mut Vec::new(), &fast()), Err(PackError::UnknownCommit(_))));
    let mut pack = Vec::new();
    let stats = build(&src, &ids, &[ghost], &mut pack, &fast()).unwrap();
    assert_eq!(stats.commits, 1);
}

fn repo_with_history(n: usize) -> (tempfile::TempDir, Repository, Vec<CommitId>) {
    let (dir, repo) = repo();
    let steps: Vec<Step> = (0..n).map(|i| Step { parents: vec![i.wrapping_sub(1)], edits: vec![(i % 7, 0, i as u8), (3, 1, 2)] }).collect();
    let ids = write_history(repo.objects(), &steps);
    repo.refs().compare_and_swap(&RefName::branch("main").unwrap(), None, Some(ids[n - 1])).unwrap();
    repo.refs().compare_and_swap(&RefName::tag("v1").unwrap(), None, Some(ids[n / 2])).unwrap();
    (dir, repo, ids)
}

#[test]
fn gc_repacks_into_one_pack_and_keeps_everything() {
    let (_dir, repo, _) = repo_with_history(12);
    let (_other, orphan_store) = store();
    let orphan = write_history(&orphan_store, &[Step { parents: vec![], edits: vec![(0, 1, 9)] }]);
    let mut pack = Vec::new();
    build(&orphan_store, &orphan, &[], &mut pack, &fast()).unwrap();
    apply(repo.objects(), &pack[..], ApplyOptions::default()).unwrap();
    let before = contents(repo.objects());
    std::fs::write(repo.objects().tmp_dir().join("pack-999999999-0-0.pack"), b"left by a dead writer").unwrap();
    let report = muse_pack::gc(&repo, &gc_options(Prune::default())).unwrap();
    assert_eq!(repo.objects().packs().unwrap().len(), 2, "the reachable objects, and the unreachable ones kept with their age");
    assert_eq!(contents(repo.objects()), before);
    assert_eq!(report.unreachable_kept, 3, "{report:?}");
    assert!(report.deltas > 0 && report.bytes_after < report.bytes_before, "{report:?}");
    assert_eq!(report.temp_files_removed, 1);
    assert!(muse_store::fsck::fsck(&repo).unwrap().problems.is_empty());
    let again = muse_pack::gc(&repo, &gc_options(Prune::default())).unwrap();
    assert_eq!(contents(repo.objects()), before);
    assert_eq!(again.packs_before, 2);
}

/// An incremental pack reads only what it sends and the edge it sends against: here, from a
/// store that holds only the last 30 commits of 60 (reading any older commit, tree or blob
/// would fail), the last 10 are packed, and apply onto the history they need.
#[test]
fn incremental_packs_never_walk_the_older_history() {
    let (_dir, repo, ids) = repo_with_history(60);
    let (_s, shallow) = store();
    let kept_commits = &ids[ids.len() - 30..];
    let mut writer = shallow.begin_write().unwrap();
    let mut trees: Vec<muse_core::TreeId> = Vec::new();
    for id in kept_commits {
        let commit = repo.objects().read_commit(id).unwrap();
        trees.push(commit.snapshot);
        writer.add_commit(&commit).unwrap();
    }
    while let Some(tree) = trees.pop() {
        for entry in repo.objects().read_tree(&tree).unwrap().entries() {
            if entry.kind.is_blob() {
                writer.add(ObjectKind::Blob, &repo.objects().read(&entry.id).unwrap().data).unwrap();
            } else {
                trees.push(muse_core::TreeId(entry.id));
            }
        }
        writer.add(ObjectKind::Tree, &repo.objects().read(&tree.0).unwrap().data).unwrap();
    }
    writer.finish().unwrap();
    let edge = ids[ids.len() - 11];
    let tip = ids[ids.len() - 1];
    let mut pack = Vec::new();
    let stats = build(&shallow, &[tip], &[edge], &mut pack, &fast()).unwrap();
    // Exactly what the receiver lacks.
    let lacks = reachable(repo.objects(), &[tip]).len() - reachable(repo.objects(), &[edge]).len();
    assert_eq!((stats.commits, (stats.commits + stats.trees + stats.blobs) as usize), (10, lacks));
    // The same pack from the full store, applied onto a copy of the history up to the edge.
    let mut full = Vec::new();
    assert_eq!(build(repo.objects(), &[tip], &[edge], &mut full, &fast()).unwrap(), stats);
    let (_d, target) = store();
    transfer(repo.objects(), &target, &[edge], &[]);
    let report = apply(&target, &pack[..], ApplyOptions::default()).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(reachable(&target, &[tip]), reachable(repo.objects(), &[tip]));
}

/// Packs do not pile up after many applies: they are consolidated as after commits.
#[test]
fn many_bundle_applies_consolidate_their_packs() {
    let (_dir, repo, ids) = repo_with_history(52);
    let (_t, target) = common::repo();
    // Not the branch the target has checked out (applies never move that one).
    let main = RefName::branch("feature").unwrap();
    for (i, id) in ids.iter().enumerate() {
        let header = muse_pack::BundleHeader { prerequisites: ids[..i].last().copied().into_iter().collect(), refs: vec![(main.clone(), *id)], head: None };
        let mut bundle = Vec::new();
        muse_pack::create_bundle(&repo, &header, &mut bundle, &fast()).unwrap();
        let report = muse_pack::apply_bundle(&target, &bundle[..], false, ApplyOptions::default()).unwrap();
        assert!(report.apply.rejected.is_empty() && report.refs[0].status != muse_pack::RefStatus::Rejected);
    }
    assert!(target.objects().packs().unwrap().len() < 10, "{} packs", target.objects().packs().unwrap().len());
    assert_eq!(target.refs().read(&main).unwrap(), ids.last().copied());
    assert!(muse_store::fsck::fsck(&target).unwrap().problems.is_empty());
}

/// A repository with history and an orphan history of 3 objects (unreachable) in its own pack,
/// written `age` ago.
fn repo_with_garbage(age: std::time::Duration) -> (tempfile::TempDir, Repository, Vec<CommitId>, Vec<CommitId>) {
    let (dir, repo, ids) = repo_with_history(6);
    let (_other, orphan_store) = store();
    let orphan = write_history(&orphan_store, &[Step { parents: vec![], edits: vec![(0, 1, 9)] }]);
    let mut pack = Vec::new();
    build(&orphan_store, &orphan, &[], &mut pack, &fast()).unwrap();
    let packs_before: Vec<_> = repo.objects().packs().unwrap().into_iter().map(|p| p.path).collect();
    apply(repo.objects(), &pack[..], ApplyOptions::default()).unwrap();
    let now = std::time::SystemTime::now();
    for p in repo.objects().packs().unwrap() {
        // The history's packs are three weeks old; the orphan's `age`.
        let when = if packs_before.contains(&p.path) { std::time::Duration::from_secs(21 * 86_400) } else { age };
        repo.objects().set_pack_modified(&p.path, now - when).unwrap();
    }
    (dir, repo, ids, orphan)
}

fn minutes(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(60 * n)
}

#[test]
fn prune_drops_only_what_was_unreachable_longer_than_the_grace_period() {
    let days = |n: u64| minutes(24 * 60 * n);
    // Three days old: kept by the default grace period (two weeks), dropped by a one-day one.
    let (_dir, repo, _, orphan) = repo_with_garbage(days(3));
    let reachable = contents(repo.objects()).len() - 3;
    let report = muse_pack::gc(&repo, &gc_options(Prune::default())).unwrap();
    assert_eq!((report.unreachable_kept, report.pruned), (3, 0), "{report:?}");
    assert!(repo.objects().contains(&orphan[0].0).unwrap());
    // The kept objects' pack keeps their age: copying them did not make them new.
    let cruft = repo.objects().packs().unwrap().into_iter().find(|p| p.objects == 3).unwrap();
    let age = cruft.modified.elapsed().unwrap();
    assert!(age > days(3) - minutes(1) && age < days(3) + minutes(1), "{age:?}");
    let report = muse_pack::gc(&repo, &gc_options(Prune::parse("1d").unwrap())).unwrap();
    assert_eq!((report.unreachable_kept, report.pruned, report.reachable as usize), (0, 3, reachable), "{report:?}");
    assert!(!repo.objects().contains(&orphan[0].0).unwrap());
    assert_eq!(contents(repo.objects()).len(), reachable);
    assert!(muse_store::fsck::fsck(&repo).unwrap().problems.is_empty());

    // `never` keeps everything; `now` still keeps what is younger than a minute.
    let (_dir, repo, _, orphan) = repo_with_garbage(days(300));
    assert_eq!(muse_pack::gc(&repo, &gc_options(Prune::Never)).unwrap().pruned, 0);
    let (_dir, repo, _, _) = repo_with_garbage(std::time::Duration::from_secs(5));
    assert_eq!(muse_pack::gc(&repo, &gc_options(Prune::parse("now").unwrap())).unwrap().pruned, 0);
    let (_dir, repo, _, _) = repo_with_garbage(minutes(2));
    assert_eq!(muse_pack::gc(&repo, &gc_options(Prune::parse("now").unwrap())).unwrap().pruned, 3);
    assert!(!orphan.is_empty());
}

/// What a writer does while gc runs: moving a ref to an old unreachable commit, or reusing an
/// object of an old pack for a new commit (which freshens that pack). gc rescues both.
#[test]
fn prune_rescues_what_a_concurrent_writer_started_to_reference() {
    let now = Prune::parse("now").unwrap();
    let (_dir, repo, _, orphan) = repo_with_garbage(minutes(10));
    let branch = RefName::branch("revived").unwrap();
    let revive = || repo.refs().compare_and_swap(&branch, None, Some(orphan[0])).unwrap();
    let report = muse_pack::gc(&repo, &GcOptions { hook: Some(&revive), ..gc_options(now) }).unwrap();
    assert_eq!((report.pruned, report.unreachable_kept), (0, 3), "{report:?}");
    assert!(muse_store::fsck::fsck(&repo).unwrap().problems.is_empty());

    let (_dir, repo, _, orphan) = repo_with_garbage(minutes(10));
    let snapshot = repo.objects().read_commit(&orphan[0]).unwrap().snapshot;
    let reuse = || {
        let writer = repo.objects().begin_write().unwrap();
        assert!(!writer.needs(ObjectKind::Tree, &snapshot.0).unwrap(), "the store holds it");
    };
    let report = muse_pack::gc(&repo, &GcOptions { hook: Some(&reuse), ..gc_options(now) }).unwrap();
    assert_eq!((report.pruned, report.unreachable_kept), (0, 3), "{report:?}");
    assert!(repo.objects().contains(&snapshot.0).unwrap());
}

/// A writer in progress (here in this very process, so its pid is alive; a writer in another PID
/// namespace looked dead to the pid check gc used to make) keeps its temporary pack: gc goes by
/// the writer's lock on the file, which only the writer's exit or death releases.
#[test]
fn gc_leaves_a_live_writers_temporary_pack_alone() {
    let (_dir, repo, _) = repo_with_history(3);
    let mut writer = repo.objects().begin_write().unwrap();
    let id = writer.add(muse_store::ObjectKind::Blob, b"being written").unwrap();
    let report = muse_pack::gc(&repo, &gc_options(Prune::default())).unwrap();
    assert_eq!(report.temp_files_removed, 0);
    assert_eq!(std::fs::read_dir(repo.objects().tmp_dir()).unwrap().count(), 1);
    writer.finish().unwrap().unwrap();
    assert_eq!(repo.objects().read(&id).unwrap().data, b"being written");
    assert!(muse_store::fsck::fsck(&repo).unwrap().problems.is_empty());
}

#[test]
fn clone_copies_refs_head_and_files() {
    let (_dir, repo, ids) = repo_with_history(6);
    let target = tempfile::tempdir().unwrap();
    let dest = target.path().join("copy");
    let report = muse_pack::clone_local(repo.work_dir(), &dest, &fast()).unwrap();
    assert_eq!(report.head, "refs/heads/main");
    assert_eq!(report.refs.len(), 2);
    assert!(report.files > 0);
    let copy = Repository::open(&dest).unwrap();
    assert_eq!(copy.head_commit().unwrap(), Some(ids[5]));
    assert_eq!(copy.refs().list("refs/tags/").unwrap(), repo.refs().list("refs/tags/").unwrap());
    assert!(dest.join("src/main.rs").exists() || dest.join("README").exists());
    assert!(muse_store::fsck::fsck(&copy).unwrap().problems.is_empty());
    let status = muse_store::worktree::scan(&copy, copy.objects().read_commit(&ids[5]).unwrap().snapshot, None).unwrap();
    assert!(status.is_clean(), "a fresh clone has no changes");
    assert!(matches!(muse_pack::clone_local(repo.work_dir(), &dest, &fast()), Err(PackError::TargetNotEmpty(_))));
}

#[test]
fn bundles_carry_refs_and_need_their_prerequisites() {
    let (_dir, repo, ids) = repo_with_history(8);
    let main = RefName::branch("main").unwrap();
    let full = muse_pack::BundleHeader { prerequisites: vec![], refs: vec![(RefName::branch("old").unwrap(), ids[3])], head: None };
    let mut first = Vec::new();
    muse_pack::create_bundle(&repo, &full, &mut first, &fast()).unwrap();
    let incremental = muse_pack::BundleHeader { prerequisites: vec![ids[3]], refs: vec![(main.clone(), ids[7])], head: Some(main.clone()) };
    let mut second = Vec::new();
    muse_pack::create_bundle(&repo, &incremental, &mut second, &fast()).unwrap();
    assert_eq!(muse_pack::BundleHeader::read(&mut &second[..]).unwrap(), incremental);

    let (_t, target) = common::repo();
    let err = muse_pack::apply_bundle(&target, &second[..], false, ApplyOptions::default()).unwrap_err();
    assert!(matches!(err, PackError::MissingPrerequisite(id) if id == ids[3].0), "{err}");
    let report = muse_pack::apply_bundle(&target, &first[..], false, ApplyOptions::default()).unwrap();
    assert_eq!(report.refs[0].status, muse_pack::RefStatus::Created);
    let report = muse_pack::apply_bundle(&target, &second[..], false, ApplyOptions::default()).unwrap();
    assert!(report.apply.rejected.is_empty() && report.apply.commits_written == 4, "{report:?}");
    assert_eq!(target.refs().read(&main).unwrap(), Some(ids[7]));
    // Moving `old` backwards is refused without force.
    let back = muse_pack::BundleHeader { prerequisites: vec![], refs: vec![(RefName::branch("old").unwrap(), ids[1])], head: None };
    let mut third = Vec::new();
    muse_pack::create_bundle(&repo, &back, &mut third, &fast()).unwrap();
    let report = muse_pack::apply_bundle(&target, &third[..], false, ApplyOptions::default()).unwrap();
    assert_eq!(report.refs[0].status, muse_pack::RefStatus::Rejected);
    let report = muse_pack::apply_bundle(&target, &third[..], true, ApplyOptions::default()).unwrap();
    assert_eq!(report.refs[0].status, muse_pack::RefStatus::Forced);
    assert!(muse_store::fsck::fsck(&target).unwrap().problems.is_empty());
}
