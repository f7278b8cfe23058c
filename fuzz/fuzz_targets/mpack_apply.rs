//! Applies arbitrary bytes as an mpack to an empty store. Whatever the input, the apply must not
//! panic, and whatever it accepted must leave a sound store: every object readable under its id,
//! and every stored tree and commit with its closure present.
//!
//! The first input byte is a switch: when odd, the rest gets a correct trailing checksum before
//! it is applied, so that mutations reach the publication of accepted records instead of
//! stopping at the checksum (which the even half of the inputs still exercises).
#![no_main]

use libfuzzer_sys::fuzz_target;
use muse_core::{CommitId, TreeId};
use muse_pack::{apply, ApplyOptions};
use muse_store::{ObjectKind, ObjectStore};

fuzz_target!(|input: &[u8]| {
    let Some((&switch, rest)) = input.split_first() else { return };
    let mut data = rest.to_vec();
    if switch & 1 == 1 && data.len() >= 32 {
        let body = data.len() - 32;
        let sum = muse_core::ObjectId::sha256(&data[..body]);
        data[body..].copy_from_slice(sum.as_bytes());
    }
    let data = &data[..];
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ObjectStore::create(dir.path()).expect("store");
    let Ok(report) = apply(&store, data, ApplyOptions::default()) else {
        assert!(store.all_objects().expect("list").is_empty(), "a failed apply wrote objects");
        return;
    };
    for (id, kind) in store.all_objects().expect("list") {
        match kind {
            ObjectKind::Blob => {
                store.read(&id).expect("accepted blob reads back");
            }
            ObjectKind::Tree => {
                for entry in store.read_tree(&TreeId(id)).expect("accepted tree reads back").entries() {
                    assert!(store.contains(&entry.id).expect("lookup"), "tree {id} written without {}", entry.id);
                }
            }
            ObjectKind::Commit => {
                let commit = store.read_commit(&CommitId(id)).expect("accepted commit reads back");
                assert!(store.contains(&commit.snapshot.0).expect("lookup"));
                for parent in commit.parents {
                    assert!(store.contains(&parent.0).expect("lookup"));
                }
            }
        }
    }
    let written = report.commits_written + report.snapshots_written + report.blobs_written;
    assert_eq!(written as usize, store.all_objects().expect("list").len());
});
