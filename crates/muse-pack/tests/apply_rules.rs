//! The seed's rules PF-1..PF-4 and every reject reason of `docs/mpack.md`, against packs crafted
//! byte by byte, so a builder and an applier that agree on a bug are still caught.

mod common;

use std::io;

use common::*;
use muse_core::{CommitId, EntryKind, ObjectId, Tree};
use muse_pack::{apply, ApplyLimits, ApplyOptions, PackError, WriteStep};
use muse_store::ObjectKind;

fn reasons(report: &muse_pack::ApplyReport) -> Vec<(ObjectKind, String)> {
    report.rejected.iter().map(|r| (r.kind, r.reason.clone())).collect()
}

#[test]
fn pf1_poisoned_object_keeps_its_snapshot_and_commit_out() {
    let (_dir, store) = store();
    let good = b"def good(): pass\n";
    let poisoned_id = ObjectId::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
    let root = tree(vec![file("good.py", good), entry("bad.py", EntryKind::File, poisoned_id)]);
    let c = commit(root.id(), vec![], "poisoned");
    let pack = Craft::new().blob(good).object(BLOB, poisoned_id, b"this does not hash to aaa...").tree(&root).commit(&c).finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert!(!store.contains(&c.id().0).unwrap(), "commit written over a poisoned object");
    assert!(!store.contains(&root.id().0).unwrap(), "snapshot written over a poisoned object");
    assert!(!store.contains(&poisoned_id).unwrap());
    assert!(store.contains(&muse_core::blob_id(good)).unwrap(), "the good blob is harmless and kept");
    let rejected = reasons(&report);
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert_eq!(report.rejected[0].id, "sha256:aaaaaaaaaaaaaaaa", "an untrustworthy record is named by its declared prefix");
    assert_eq!(report.rejected[1].id, root.id().to_string(), "a decoded record by its full id");
    assert!(rejected[0].1.contains("hash to"), "{rejected:?}");
    assert_eq!(rejected[1].0, ObjectKind::Tree);
    assert!(rejected[1].1.contains("bad.py") && rejected[1].1.contains("was rejected"), "{rejected:?}");
    assert_eq!(rejected[2].0, ObjectKind::Commit);
    assert!(rejected[2].1.contains("snapshot") && rejected[2].1.contains("was rejected"), "{rejected:?}");
    assert_eq!((report.commits_written, report.snapshots_written, report.blobs_written), (0, 0, 1));
    assert!(closure_problems(&store).is_empty());
}

fn one_commit_pack() -> (Vec<u8>, Vec<ObjectId>) {
    let content = b"print('hello')\n";
    let root = tree(vec![file("hello.py", content)]);
    let c = commit(root.id(), vec![], "oserror test");
    let pack = Craft::new().blob(content).tree(&root).commit(&c).finish();
    (pack, vec![muse_core::blob_id(content), root.id().0, c.id().0])
}

#[test]
fn pf2_io_error_at_any_write_step_aborts_and_writes_nothing() {
    let (pack, ids) = one_commit_pack();
    for fail_at in 0.. {
        let (_dir, store) = store();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let hook = |_: &WriteStep<'_>| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == fail_at {
                Err(io::Error::other("disk full"))
            } else {
                Ok(())
            }
        };
        let result = apply(&store, &pack[..], ApplyOptions { hook: Some(&hook), ..ApplyOptions::default() });
        if calls.load(std::sync::atomic::Ordering::SeqCst) <= fail_at {
            assert!(result.is_ok(), "no failure injected, yet {result:?}");
            assert!(fail_at >= 7, "expected 3 spool + 3 store + 1 publish steps, saw {fail_at}");
            break;
        }
        let err = result.unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        for id in &ids {
            assert!(!store.contains(id).unwrap(), "{id} written despite an I/O error at step {fail_at}");
        }
        assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0, "temporary files left behind");
    }
}

#[test]
fn pf3_clean_chain_is_written_when_another_is_poisoned() {
    let (_dir, store) = store();
    let clean = b"def clean(): pass\n";
    let clean_root = tree(vec![file("clean.py", clean)]);
    let clean_commit = commit(clean_root.id(), vec![], "clean");
    let poisoned_id = ObjectId::parse(&"b".repeat(64)).unwrap();
    let bad_root = tree(vec![entry("bad.py", EntryKind::File, poisoned_id)]);
    let bad_commit = commit(bad_root.id(), vec![], "poisoned");
    let child = commit(bad_root.id(), vec![clean_commit.id(), bad_commit.id()], "merge of both");
    let pack = Craft::new()
        .blob(clean)
        .object(BLOB, poisoned_id, b"wrong bytes")
        .tree(&clean_root)
        .tree(&bad_root)
        .commit(&clean_commit)
        .commit(&bad_commit)
        .commit(&child)
        .finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert!(store.read_commit(&clean_commit.id()).is_ok(), "clean commit not written");
    assert!(!store.contains(&bad_commit.id().0).unwrap());
    assert!(!store.contains(&child.id().0).unwrap(), "a child of a poisoned commit was written");
    assert_eq!((report.commits_written, report.snapshots_written, report.blobs_written), (1, 1, 1));
    assert_eq!(report.rejected.len(), 4);
    assert!(report.rejected[3].reason.contains("tree"), "{:?}", report.rejected[3]);
    assert!(closure_problems(&store).is_empty());
}

/// Quarantine (a hub's push): with `all_or_nothing`, the clean chain of the PF-3 pack is not
/// written either; the error lists every rejection and nothing is left behind.
#[test]
fn all_or_nothing_writes_nothing_when_any_record_is_rejected() {
    let (_dir, store) = store();
    let clean = b"def clean(): pass\n";
    let clean_root = tree(vec![file("clean.py", clean)]);
    let clean_commit = commit(clean_root.id(), vec![], "clean");
    let missing_parent = CommitId(ObjectId::sha256(b"a commit nobody sent"));
    let orphan = commit(clean_root.id(), vec![missing_parent], "parent missing");
    let pack = Craft::new().blob(clean).tree(&clean_root).commit(&clean_commit).commit(&orphan).finish();
    let quarantine = ApplyOptions { all_or_nothing: true, ..ApplyOptions::default() };
    let err = apply(&store, &pack[..], quarantine).unwrap_err();
    let PackError::Rejected(rejected) = &err else { panic!("expected Rejected, got {err}") };
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].id, orphan.id().to_string());
    assert!(rejected[0].reason.contains("parent"), "{rejected:?}");
    assert!(err.to_string().contains("nothing of it was written"), "{err}");
    for id in [muse_core::blob_id(clean), clean_root.id().0, clean_commit.id().0, orphan.id().0] {
        assert!(!store.contains(&id).unwrap(), "{id} written by an all-or-nothing apply that rejected a record");
    }
    assert!(store.packs().unwrap().is_empty(), "a store pack was published");
    assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0, "temporary files left behind");
    // Without the poisoned record, the same options write everything.
    let pack = Craft::new().blob(clean).tree(&clean_root).commit(&clean_commit).finish();
    let report = apply(&store, &pack[..], quarantine).unwrap();
    assert_eq!((report.commits_written, report.snapshots_written, report.blobs_written), (1, 1, 1));
}

#[test]
fn pf4_happy_path_writes_everything_and_counts_with_the_seed_names() {
    let (pack, ids) = one_commit_pack();
    let (_dir, store) = store();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert_eq!((report.commits_written, report.snapshots_written, report.blobs_written), (1, 1, 1));
    assert!(report.rejected.is_empty());
    for id in &ids {
        assert!(store.contains(id).unwrap());
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json, serde_json::json!({"commits_written": 1, "snapshots_written": 1, "blobs_written": 1, "rejected": []}));
    // Applying the same pack again writes nothing new.
    let again = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert_eq!((again.commits_written, again.snapshots_written, again.blobs_written), (0, 0, 0));
}

/// Applies a pack and returns the single rejection's kind and reason.
fn only_rejection(store: &muse_store::ObjectStore, pack: &[u8]) -> (String, ObjectKind, String) {
    let report = apply(store, pack, ApplyOptions::default()).unwrap();
    let rejected: Vec<_> = report.rejected.iter().filter(|r| r.kind != ObjectKind::Commit || report.rejected.len() == 1).collect();
    let first = rejected.first().unwrap_or_else(|| panic!("nothing rejected: {report:?}"));
    (first.id.clone(), first.kind, first.reason.clone())
}

#[test]
fn snapshot_whose_id_does_not_match_its_content_is_rejected() {
    let (_dir, store) = store();
    let data = b"x";
    let real = tree(vec![file("x", data)]);
    let claimed = tree(vec![file("y", data)]).id();
    let c = commit(claimed, vec![], "lies about its snapshot");
    let pack = Craft::new().blob(data).object(TREE, claimed.0, &real.encode()).commit(&c).finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert_eq!(report.rejected.len(), 2);
    assert!(report.rejected[0].reason.contains("hash to"), "{:?}", report.rejected);
    assert!(report.rejected[1].reason.contains("snapshot"), "{:?}", report.rejected);
    assert!(!store.contains(&c.id().0).unwrap() && !store.contains(&claimed.0).unwrap());
}

#[test]
fn commit_whose_id_does_not_match_its_fields_is_rejected() {
    let (_dir, store) = store();
    let root = tree(vec![file("a", b"a")]);
    let c = commit(root.id(), vec![], "real");
    let claimed = commit(root.id(), vec![], "claimed").id();
    let pack = Craft::new().blob(b"a").tree(&root).object(COMMIT, claimed.0, &c.encode()).finish();
    let (id, kind, reason) = only_rejection(&store, &pack);
    assert_eq!((id, kind), (format!("sha256:{}", claimed.0.short(16)), ObjectKind::Commit));
    assert!(reason.contains("fields hash to") && reason.contains("not to the declared"), "{reason}");
    assert!(!store.contains(&claimed.0).unwrap() && !store.contains(&c.id().0).unwrap());
}

#[test]
fn commit_whose_parent_is_nowhere_is_rejected() {
    let (_dir, store) = store();
    let root = tree(vec![file("a", b"a")]);
    let ghost = CommitId(ObjectId::sha256(b"ghost"));
    let c = commit(root.id(), vec![ghost], "orphan");
    let pack = Craft::new().blob(b"a").tree(&root).commit(&c).finish();
    let (_, kind, reason) = only_rejection(&store, &pack);
    assert_eq!(kind, ObjectKind::Commit);
    assert!(reason.contains("parent") && reason.contains(&ghost.to_string()) && reason.contains("neither"), "{reason}");
    assert!(!store.contains(&c.id().0).unwrap());
}

#[test]
fn commit_whose_parent_is_in_the_store_is_accepted() {
    let (_dir, store) = store();
    let root = tree(vec![file("a", b"a")]);
    let parent = commit(root.id(), vec![], "parent");
    write_all(&store, &[b"a"], &[&root], &[&parent]);
    let child = commit(root.id(), vec![parent.id()], "child");
    let pack = Craft::new().commit(&child).finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert_eq!(report.commits_written, 1, "{report:?}");
    assert!(closure_problems(&store).is_empty());
}

#[test]
fn delta_whose_base_is_missing_is_rejected_and_so_are_its_dependents() {
    let (_dir, store) = store();
    let base = b"base content, long enough to matter".repeat(10);
    let mut target = base.clone();
    target.extend_from_slice(b"more");
    let root = tree(vec![file("t", &target)]);
    let c = commit(root.id(), vec![], "needs the delta");
    let pack = Craft::new().delta(BLOB, muse_core::blob_id(&target), muse_core::blob_id(&base), &base, &target).tree(&root).commit(&c).finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    let rejected = reasons(&report);
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert!(rejected[0].1.contains("delta base") && rejected[0].1.contains("neither"), "{rejected:?}");
    assert!(closure_problems(&store).is_empty() && !store.contains(&c.id().0).unwrap());
}

#[test]
fn deltas_against_pack_and_store_bases_are_accepted() {
    let (_dir, store) = store();
    let v1 = b"version one of the file\n".repeat(50);
    let mut v2 = v1.clone();
    v2.extend_from_slice(b"two\n");
    let mut v3 = v2.clone();
    v3.extend_from_slice(b"three\n");
    write_all(&store, &[&v1], &[], &[]);
    let root = tree(vec![file("f", &v3)]);
    let c = commit(root.id(), vec![], "chain");
    let pack = Craft::new()
        .delta(BLOB, muse_core::blob_id(&v2), muse_core::blob_id(&v1), &v1, &v2)
        .delta_back(BLOB, muse_core::blob_id(&v3), 1, &v2, &v3)
        .tree(&root)
        .commit(&c)
        .finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(report.blobs_written, 2);
    assert_eq!(store.read(&muse_core::blob_id(&v3)).unwrap().data, v3);
    assert!(closure_problems(&store).is_empty());
}

#[test]
fn delta_whose_base_was_rejected_is_rejected() {
    let (_dir, store) = store();
    let base = b"0123456789".repeat(20);
    let target = b"0123456789".repeat(21);
    let pack = Craft::new()
        .object(BLOB, muse_core::blob_id(&base), b"poison")
        .delta(BLOB, muse_core::blob_id(&target), muse_core::blob_id(&base), &base, &target)
        .finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert_eq!(report.rejected.len(), 2);
    assert!(report.rejected[1].reason.contains("delta base") && report.rejected[1].reason.contains("rejected"));
}

#[test]
fn tree_entries_must_exist_earlier_and_have_the_right_kind() {
    let (_dir, store) = store();
    let sub = tree(vec![file("inner", b"i")]);
    let wrong_kind = tree(vec![entry("looks-like-a-file", EntryKind::File, sub.id().0)]);
    let later = tree(vec![entry("sub", EntryKind::Tree, sub.id().0)]);
    // `later` references `sub` before `sub` arrives: rejected; `sub` itself is accepted.
    let pack = Craft::new().blob(b"i").tree(&later).tree(&sub).tree(&wrong_kind).finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    let rejected = reasons(&report);
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(rejected[0].1.contains("neither earlier in the pack nor in the store"), "{rejected:?}");
    assert!(rejected[1].1.contains("should be a blob but is a tree"), "{rejected:?}");
    assert!(store.contains(&sub.id().0).unwrap());
}

#[test]
fn undecodable_records_are_rejected_with_the_reason() {
    let (_dir, store) = store();
    let data = b"payload";
    let frame = zstd::bulk::compress(data, 3).unwrap();
    let mut trailing = frame.clone();
    trailing.extend_from_slice(&frame);
    let bad_tree = b"muse-tree/1\nz name\0".to_vec();
    let c = commit(Tree::empty_id(), vec![], "as a delta");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Craft::new().raw(BLOB, muse_core::blob_id(data), None, data.len() as u64, b"not zstd at all").finish(), "not a valid zstd frame"),
        (Craft::new().raw(BLOB, muse_core::blob_id(data), None, data.len() as u64 + 1, &frame).finish(), "decodes to 7 bytes"),
        (Craft::new().raw(BLOB, muse_core::blob_id(data), None, 3, &frame).finish(), "more than its declared size"),
        (Craft::new().raw(BLOB, muse_core::blob_id(data), None, data.len() as u64, &trailing).finish(), "after its zstd frame"),
        (Craft::new().raw(BLOB, muse_core::blob_id(data), None, 0, b"").finish(), "empty"),
        (Craft::new().object(TREE, ObjectId::sha256(&bad_tree), &bad_tree).finish(), "invalid tree encoding"),
        (Craft::new().raw(TREE, ObjectId::sha256(b"big"), None, 65 << 20, &frame).finish(), "limit"),
        (Craft::new().blob(b"x").delta(COMMIT, c.id().0, muse_core::blob_id(b"x"), b"x", &c.encode()).finish(), "base must be a commit"),
        (Craft::new().raw(BLOB, muse_core::blob_id(data), None, 7, &vec![0u8; 10_000]).finish(), "larger than any zstd frame"),
    ];
    for (pack, expected) in cases {
        let (_, _, reason) = only_rejection(&store, &pack);
        assert!(reason.contains(expected), "expected {expected:?} in {reason:?}");
    }
    let written: Vec<ObjectId> = store.all_objects().unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(written, vec![muse_core::blob_id(b"x")], "only the valid base blob of the commit case is written");
}

#[test]
fn broken_framing_rejects_the_whole_pack() {
    let (pack, _) = one_commit_pack();
    let (_dir, store) = store();
    let check = |bytes: &[u8], expected: &dyn Fn(&PackError) -> bool| {
        let err = apply(&store, bytes, ApplyOptions::default()).unwrap_err();
        assert!(expected(&err), "unexpected error {err}");
        assert!(store.all_objects().unwrap().is_empty(), "objects written from a broken pack ({err})");
    };
    // Truncated anywhere, including inside the trailer.
    for len in 0..pack.len() {
        check(&pack[..len], &|e| matches!(e, PackError::Truncated { .. } | PackError::NotAPack));
    }
    // Any flipped byte after the header is caught (by the checksum at the latest).
    for at in 16..pack.len() {
        let mut bad = pack.clone();
        bad[at] ^= 0x40;
        let err = apply(&store, &bad[..], ApplyOptions::default()).unwrap_err();
        assert_eq!(err.kind(), muse_store::ErrorKind::InvalidInput, "flip at {at}: {err}");
    }
    assert!(store.all_objects().unwrap().is_empty());
    let mut bad_sum = pack.clone();
    *bad_sum.last_mut().unwrap() ^= 1;
    check(&bad_sum, &|e| matches!(e, PackError::ChecksumMismatch { .. }));
    let mut extra = pack.clone();
    extra.push(0);
    check(&extra, &|e| e.to_string().contains("after the trailer"));
    check(b"PACK\0\0\0\x01 not ours at all", &|e| matches!(e, PackError::NotAPack));
    // Version 1 predates the kind rule: refused whole (a clean break), as is any later version.
    for version in [1u8, 3] {
        let mut other = pack.clone();
        other[11] = version;
        check(&other, &|e| matches!(e, PackError::UnsupportedVersion(v) if *v == u32::from(version)));
    }
    let root = tree(vec![file("a", b"a")]);
    check(&Craft::new().tree(&root).blob(b"a").finish(), &|e| e.to_string().contains("order"));
    check(&Craft::new().blob(b"a").blob(b"a").finish(), &|e| e.to_string().contains("twice"));
    let mut miscount = Craft::new().blob(b"a");
    miscount.records = 5;
    check(&miscount.finish(), &|e| e.to_string().contains("end record counts 5"));
    let mut unknown = Craft::new().finish();
    unknown[16] = 9;
    check(&unknown, &|e| e.to_string().contains("unknown record tag 0x09"));
    let blob = muse_core::blob_id(b"a");
    check(&Craft::new().record(BLOB | 3 << 4, blob, &[], 1, b"").finish(), &|e| e.to_string().contains("unknown record tag 0x31"));
    check(&Craft::new().delta_back(BLOB, blob, 1, b"", b"a").finish(), &|e| e.to_string().contains("outside the pack"));
    check(&Craft::new().record(BLOB, blob, &[], 0, b"").finish().iter().take(16 + 9).chain([0x80u8, 0x00].iter()).copied().collect::<Vec<_>>(), &|e| {
        e.to_string().contains("shortest form")
    });
    let mut long = Craft::new().finish()[..16].to_vec();
    long.push(BLOB);
    long.extend_from_slice(&blob.as_bytes()[..8]);
    long.extend_from_slice(&[0xff; 10]);
    check(&long, &|e| e.to_string().contains("overflows"));
}

#[test]
fn a_delta_against_a_base_over_the_inline_limit_is_rejected_without_reading_it() {
    let (_dir, store) = store();
    let big = vec![0u8; (64 << 20) + 1];
    let small = b"small".to_vec();
    let pack = Craft::new().blob(&big).delta(BLOB, muse_core::blob_id(&small), muse_core::blob_id(&big), b"", &small).finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert_eq!(report.blobs_written, 1, "the big blob itself is fine");
    assert_eq!(report.rejected.len(), 1);
    assert!(report.rejected[0].reason.contains("larger than"), "{:?}", report.rejected);
}

/// `docs/mpack.md` §Budgets of a receiver: a tree or commit over its budget is rejected before it
/// is decoded (a 64 MiB one from a few KB of zstd included); a pack over a whole-pack budget is
/// refused as invalid input with nothing written.
#[test]
fn receiver_budgets_reject_records_or_refuse_the_pack() {
    let (_dir, receiver) = store();
    let zeros = vec![0u8; 64 << 20];
    let bomb = zstd::bulk::compress(&zeros, 3).unwrap();
    assert!(bomb.len() < 16 << 10, "{} bytes", bomb.len());
    for (kind, expected) in [(TREE, "limit of 16777216 bytes for a tree"), (COMMIT, "limit of 4194304 bytes for a commit")] {
        let pack = Craft::new().raw(kind, ObjectId::sha256(b"bomb"), None, zeros.len() as u64, &bomb).finish();
        let (_, _, reason) = only_rejection(&receiver, &pack);
        assert!(reason.contains(expected), "{reason}");
    }
    assert!(receiver.all_objects().unwrap().is_empty());

    let (pack, ids) = one_commit_pack();
    let with = |limits: ApplyLimits| ApplyOptions { limits, ..ApplyOptions::default() };
    // Per-record: the tree over budget is rejected, the commit over it too; the blob is kept.
    let report = apply(&receiver, &pack[..], with(ApplyLimits { max_tree_size: 10, ..ApplyLimits::default() })).unwrap();
    let rejected = reasons(&report);
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(rejected[0].1.contains("limit of 10 bytes for a tree"), "{rejected:?}");
    assert!(receiver.contains(&ids[0]).unwrap() && !receiver.contains(&ids[1]).unwrap() && !receiver.contains(&ids[2]).unwrap());

    // Whole pack: refused, nothing written, no temporary file left.
    let whole_pack: [(ApplyLimits, &str); 4] = [
        (ApplyLimits { max_records: 2, ..ApplyLimits::default() }, "limit of 2 records"),
        (ApplyLimits { max_decoded_bytes: 20, ..ApplyLimits::default() }, "limit of 20 decoded bytes"),
        (ApplyLimits { max_spool_bytes: 10, ..ApplyLimits::default() }, "limit of 10 spooled bytes"),
        (ApplyLimits { max_rejected: 1, max_tree_size: 10, ..ApplyLimits::default() }, "limit of 1 rejected records"),
    ];
    for (limits, expected) in whole_pack {
        let (_fresh_dir, fresh) = store();
        let err = apply(&fresh, &pack[..], with(limits)).unwrap_err();
        assert!(matches!(err, PackError::BudgetExceeded { .. }) && err.kind() == muse_store::ErrorKind::InvalidInput, "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(fresh.all_objects().unwrap().is_empty(), "objects written despite {err}");
        assert_eq!(std::fs::read_dir(fresh.tmp_dir()).unwrap().count(), 0, "temporary files left behind");
    }
    // The defaults take the pack whole.
    let (_fresh_dir, fresh) = store();
    assert!(apply(&fresh, &pack[..], ApplyOptions::default()).unwrap().rejected.is_empty());
}

/// docs/mpack.md §Encodings: a commit delta's base may be a signed commit, its full stored bytes
/// (signature included) being the prefix, whether the base is earlier in the pack or already in
/// the store (a thin delta). Both read back from the store.
#[test]
fn a_signed_commit_is_a_valid_delta_base_in_the_pack_and_in_the_store() {
    let (_dir, store) = store();
    let root = tree(vec![file("f", b"f\n")]);
    let mut signed = commit(root.id(), vec![], "signed parent\n");
    signed.signer_key_id = "ed25519:abc".into();
    signed.signature = "sig-bytes".into();
    let child = commit(root.id(), vec![signed.id()], "child of a signed commit\n");
    let pack = Craft::new().blob(b"f\n").tree(&root).commit(&signed).delta_back(COMMIT, child.id().0, 1, &signed.encode(), &child.encode()).finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(store.read_commit(&child.id()).unwrap(), child);
    assert_eq!(store.read_commit(&signed.id()).unwrap().signature, "sig-bytes");
    // A thin delta against the signed commit, now in the receiver's store.
    let grandchild = commit(root.id(), vec![child.id()], "thin\n");
    let thin = Craft::new().delta(COMMIT, grandchild.id().0, signed.id().0, &signed.encode(), &grandchild.encode()).finish();
    let report = apply(&store, &thin[..], ApplyOptions::default()).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(store.read_commit(&grandchild.id()).unwrap(), grandchild);
    assert!(closure_problems(&store).is_empty());
}

/// docs/formats.md §3: a tree whose symlink names an empty, NUL-holding, non-UTF-8 or too long
/// target is rejected like any invalid record, and so is every commit over it (PF-1); the blob is
/// kept (it may be a file elsewhere), and an unrelated chain is written (PF-3). The check also
/// applies to a blob already in the store.
#[test]
fn trees_with_invalid_symlink_targets_are_rejected_with_their_commits() {
    let long = vec![b'a'; muse_core::MAX_SYMLINK_TARGET + 1];
    for target in [&b""[..], b"a\0b", b"\xff\xfe", &long] {
        let (_dir, store) = store();
        let bad = tree(vec![entry("link", EntryKind::Symlink, muse_core::blob_id(target))]);
        let bad_commit = commit(bad.id(), vec![], "bad link\n");
        let good = tree(vec![entry("link", EntryKind::Symlink, muse_core::blob_id(b"../README"))]);
        let good_commit = commit(good.id(), vec![], "good link\n");
        let pack = Craft::new().blob(target).blob(b"../README").tree(&bad).tree(&good).commit(&bad_commit).commit(&good_commit).finish();
        let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
        let rejected = reasons(&report);
        assert_eq!(rejected.len(), 2, "{target:?}: {rejected:?}");
        assert_eq!(rejected[0].0, ObjectKind::Tree);
        assert!(rejected[0].1.contains("not a valid symlink target"), "{rejected:?}");
        assert_eq!(rejected[1].0, ObjectKind::Commit);
        assert_eq!((report.blobs_written, report.snapshots_written, report.commits_written), (2, 1, 1));
        assert!(store.contains_kind(&good_commit.id().0, ObjectKind::Commit).unwrap());
        assert!(!store.contains(&bad.id().0).unwrap() && !store.contains(&bad_commit.id().0).unwrap());
        // Same tree in a later pack, its blob now in the store.
        let again = Craft::new().tree(&bad).finish();
        let (_, kind, reason) = only_rejection(&store, &again);
        assert_eq!(kind, ObjectKind::Tree);
        assert!(reason.contains("not a valid symlink target"), "{reason}");
        assert!(closure_problems(&store).is_empty());
    }
}

/// The kind rule on the wire: bytes sent as a blob get a blob's id, even when they are a tree's
/// encoding and the record declares that tree's id; the later real tree is accepted as a tree.
#[test]
fn a_blob_record_cannot_stand_in_for_a_tree() {
    let (_dir, store) = store();
    let real = tree(vec![file("a.txt", b"hello\n")]);
    let disguised = Craft::new().object(BLOB, real.id().0, &real.encode()).finish();
    let (_, kind, reason) = only_rejection(&store, &disguised);
    assert_eq!(kind, ObjectKind::Blob);
    assert!(reason.contains("hash to"), "{reason}");
    // Declared honestly it is a blob with its own id, and the tree arrives as a tree after it.
    let c = commit(real.id(), vec![], "real\n");
    let pack = Craft::new().blob(&real.encode()).blob(b"hello\n").tree(&real).commit(&c).finish();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!((report.blobs_written, report.snapshots_written), (2, 1));
    assert!(store.contains_kind(&muse_core::blob_id(&real.encode()), ObjectKind::Blob).unwrap());
    assert!(store.contains_kind(&real.id().0, ObjectKind::Tree).unwrap());
    assert_eq!(store.read_tree(&real.id()).unwrap(), real);
    assert!(closure_problems(&store).is_empty());
}
