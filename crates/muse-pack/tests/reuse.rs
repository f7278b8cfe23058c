//! Pack reuse: stored entries are copied into an mpack as they are (git's pack reuse), round-trip
//! byte for byte, and a damaged stored entry is never taken by a receiver.

mod common;

use common::*;
use muse_core::{CommitId, EntryKind};
use muse_pack::{apply, build, ApplyOptions, BuildOptions};
use muse_store::odb::{Encoding, RawEntry};
use muse_store::{ObjectKind, ObjectStore};

fn options() -> BuildOptions {
    BuildOptions { level: 3, ..BuildOptions::default() }
}

/// Builds a pack of `want` minus `have` from `src` and applies it to `dst`; returns the build's
/// stats and the pack.
fn transfer(src: &ObjectStore, dst: &ObjectStore, want: &[CommitId], have: &[CommitId]) -> (muse_pack::BuildStats, Vec<u8>) {
    let mut pack = Vec::new();
    let stats = build(src, want, have, &mut pack, &options()).unwrap();
    let report = apply(dst, &pack[..], ApplyOptions::default()).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    (stats, pack)
}

fn history(n: usize) -> Vec<Step> {
    (0..n).map(|i| Step { parents: vec![i.wrapping_sub(1)], edits: vec![(i % 5, 0, i as u8), (7, 0, 3)] }).collect()
}

fn same_raw(a: &RawEntry, b: &RawEntry) -> bool {
    (a.kind, a.encoding, a.size, &a.payload) == (b.kind, b.encoding, b.size, &b.payload)
}

#[test]
fn stored_entries_travel_as_they_are_and_round_trip() {
    let (_s, src) = store();
    let ids = write_history(&src, &history(30));
    // A first hop stores the pack's deltas as received; a second hop can then copy them.
    let (_m, mid) = store();
    let (first, _) = transfer(&src, &mid, &[ids[29]], &[]);
    let (_d, dst) = store();
    let (second, pack) = transfer(&mid, &dst, &[ids[29]], &[]);
    let records = second.blobs + second.trees + second.commits;
    assert_eq!(records, first.blobs + first.trees + first.commits);
    // Every blob and tree is copied (commits are stored whole by a receiver and sent as deltas
    // against their first parent, so they are encoded anew, but for the root commit).
    assert!(second.reused > second.blobs + second.trees, "{second:?}");
    assert!(second.deltas > 0, "{second:?}");
    // Reused entries are the stored ones, byte for byte, in both stores.
    let mut compared = 0;
    for id in reachable(&src, &[ids[29]]) {
        let (m, d) = (mid.read_raw(&id).unwrap(), dst.read_raw(&id).unwrap());
        if m.kind != ObjectKind::Commit {
            assert!(same_raw(&m, &d), "{id} was not stored as sent");
            assert!(contains(&pack, &m.payload), "{id}'s stored frame is not in the pack");
            compared += 1;
        }
        if m.kind == ObjectKind::Commit {
            assert_eq!(dst.read_commit(&CommitId(id)).unwrap(), src.read_commit(&CommitId(id)).unwrap());
        } else {
            assert_eq!(dst.read(&id).unwrap(), src.read(&id).unwrap());
        }
    }
    assert!(compared > 30);
    assert!(closure_problems(&dst).is_empty());
    // The same state builds the same bytes (what a resumed fetch relies on).
    let mut again = Vec::new();
    build(&mid, &[ids[29]], &[], &mut again, &options()).unwrap();
    assert_eq!(again, pack);
}

#[test]
fn a_stored_delta_against_what_the_receiver_has_goes_by_id() {
    let (_s, src) = store();
    let ids = write_history(&src, &history(12));
    let (_m, mid) = store();
    transfer(&src, &mid, &[ids[11]], &[]);
    let (_d, dst) = store();
    transfer(&mid, &dst, &[ids[5]], &[]);
    let (stats, _) = transfer(&mid, &dst, &[ids[11]], &[ids[5]]);
    assert!(stats.reused > 0 && stats.deltas > 0, "{stats:?}");
    assert!(closure_problems(&dst).is_empty());
    for id in reachable(&src, &[ids[11]]) {
        assert!(dst.contains(&id).unwrap(), "{id} missing");
    }
}

#[test]
fn long_stored_chains_are_cut_to_the_packs_limit() {
    // A store (gc's) may keep chains of 64; an mpack carries at most 50 (or the build's limit).
    let (_s, src) = store();
    let ids = write_history(&src, &history(70));
    let (_m, mid) = store();
    transfer(&src, &mid, &[ids[69]], &[]);
    let mut pack = Vec::new();
    let stats = build(&mid, &[ids[69]], &[], &mut pack, &BuildOptions { level: 1, max_depth: 4 }).unwrap();
    assert!(stats.reused > 0, "{stats:?}");
    let (_d, dst) = store();
    let report = apply(&dst, &pack[..], ApplyOptions::default()).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(closure_problems(&dst).is_empty());
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_damaged_stored_entry_is_sent_as_it_is_and_the_receiver_rejects_it() {
    // The sender copies stored entries without decoding them: the receiver's checks (PF-1)
    // are what stand between a damaged store and the clone. Two damages: a valid frame of other
    // bytes under the blob's id, and bytes that are no zstd frame at all.
    for damage in ["other bytes", "not a frame"] {
        let (_s, src) = store();
        let good = b"the file as committed\n".to_vec();
        let id = muse_core::blob_id(&good);
        let payload = match damage {
            "other bytes" => zstd::bulk::compress(b"the file as tampered\n", 3).unwrap(),
            _ => {
                let mut frame = zstd::bulk::compress(&good, 3).unwrap();
                let last = frame.len() - 1;
                frame[last] ^= 0xff;
                frame[6] ^= 0x55;
                frame
            }
        };
        let mut writer = src.begin_write().unwrap();
        writer.add_raw(ObjectKind::Blob, id, Encoding::Zstd, good.len() as u64, &payload).unwrap();
        let root = writer.add_tree(&tree(vec![entry("f.txt", EntryKind::File, id)])).unwrap();
        let c = writer.add_commit(&commit(root, vec![], "damaged")).unwrap();
        writer.finish().unwrap();
        let mut pack = Vec::new();
        let stats = build(&src, &[c], &[], &mut pack, &options()).unwrap();
        assert_eq!(stats.reused, 3, "sent as stored: {stats:?}");
        let (_d, dst) = store();
        let report = apply(&dst, &pack[..], ApplyOptions::default()).unwrap();
        let rejected: Vec<(ObjectKind, &str)> = report.rejected.iter().map(|r| (r.kind, r.reason.as_str())).collect();
        assert_eq!(rejected.len(), 3, "{damage}: {rejected:?}");
        assert_eq!(rejected[0].0, ObjectKind::Blob);
        assert!(!dst.contains(&id).unwrap() && !dst.contains(&root.0).unwrap() && !dst.contains(&c.0).unwrap(), "{damage}: something was written");
        assert_eq!((report.blobs_written, report.snapshots_written, report.commits_written), (0, 0, 0));
        assert!(apply(&dst, &pack[..], ApplyOptions { all_or_nothing: true, ..ApplyOptions::default() }).is_err());
    }
}
