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
    let store = ObjectStore::open(dir.path()).unwrap();
    let report = apply(&store, &pack[..], ApplyOptions::default()).unwrap();
    assert_eq!((report.commits_written, report.snapshots_written, report.blobs_written), (1, 1, 2));
    assert!(report.rejected.is_empty());
    let commit_id = CommitId::parse("sha256:e34945267ca6f922764866d7e7c8c4d96c15ab498379d3b9577bed48a83dc2f0").unwrap();
    let commit = store.read_commit(&commit_id).unwrap();
    assert_eq!(commit.message, "first\n");
    assert_eq!(commit.snapshot.to_string(), "sha256:4630f1a3a79bb7f0c3790226f89ba2ba818e196697d85678a20683e0cad42f69");
    let blob = ObjectId::parse("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03").unwrap();
    assert_eq!(store.read(&blob).unwrap().data, b"hello\n");
    let delta = ObjectId::parse("a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447").unwrap();
    assert_eq!(store.read(&delta).unwrap().data, b"hello world\n");
}
