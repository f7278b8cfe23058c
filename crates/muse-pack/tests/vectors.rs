//! The test vector printed in docs/mpack.md (made with raw-block zstd frames by an independent
//! script) must apply as the document says.

use muse_core::{CommitId, ObjectId};
use muse_pack::{apply, ApplyOptions};
use muse_store::ObjectStore;

fn vector() -> Vec<u8> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/mpack.md")).unwrap();
    let start = doc.find("<!-- mpack-vector-begin -->").unwrap();
    let end = doc.find("<!-- mpack-vector-end -->").unwrap();
    let hex: String = doc[start..end].lines().filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_hexdigit())).collect();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn the_documented_vector_applies() {
    let pack = vector();
    assert_eq!(pack.len(), 535);
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::create(dir.path()).unwrap();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert_eq!((report.commits_written, report.snapshots_written, report.blobs_written), (1, 1, 2));
    assert!(report.rejected.is_empty());
    let commit_id = CommitId::parse("sha256:e4c3a56463a0bb5df5b3838f80fe5678b59f936dacf71b4f0308dbd35e3fc49a").unwrap();
    let commit = store.read_commit(&commit_id).unwrap();
    assert_eq!(commit.message, "first\n");
    assert_eq!(commit.snapshot.to_string(), "sha256:7c6187140f9e500f900e7275f048877307a450b62ca1c2f2bb167cb958ffd905");
    let blob = ObjectId::parse("c280100a8f659a08b436eda6564480ebdef9e6bcdf79d4cb60e1f4b5ee14d09a").unwrap();
    assert_eq!(store.read(&blob).unwrap().data, b"hello\n");
    let delta = ObjectId::parse("339c25cd0460bebfe9ed3c984f5cad7886261739a7580fd04c3edc4a2cc760b8").unwrap();
    assert_eq!(store.read(&delta).unwrap().data, b"hello world\n");
}
