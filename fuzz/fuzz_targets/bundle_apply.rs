//! Applies arbitrary bytes as a bundle (text header, then an mpack) to a fresh repository: no
//! panic, and no ref may end up pointing at a commit that is not in the store.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muse_pack::{apply_bundle, ApplyOptions};
use muse_store::Repository;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = Repository::init(&dir.path().join("r"), "main").expect("init");
    let _ = apply_bundle(&repo, data, false, ApplyOptions::default());
    for prefix in ["refs/heads/", "refs/tags/"] {
        for (name, id) in repo.refs().list(prefix).expect("refs") {
            repo.objects().read_commit(&id).unwrap_or_else(|e| panic!("{name} points at {id}: {e}"));
        }
    }
});
