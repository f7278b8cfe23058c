//! Black-box tests of `muse bundle create/apply`, `muse clone` and `muse gc`: JSON shapes and
//! exit codes documented in docs/cli.md, and a poisoned bundle crafted byte by byte.

mod common;

use common::{exit, raw_frame, sha, TestRepo};
use serde_json::Value;

/// A source repository with two commits on main and a tag.
fn source() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("README", "hello\n");
    repo.write("src/lib.rs", "pub fn one() {}\n");
    repo.commit("first");
    repo.write("src/lib.rs", "pub fn one() {}\npub fn two() {}\n");
    repo.commit("second");
    repo.muse(["tag", "v1"]).ok();
    repo
}

#[test]
fn bundle_round_trip_moves_refs_and_reports_counts() {
    let src = source();
    let bundle = src.tmp.path().join("all.bundle");
    let created = src.json(["bundle", "create", bundle.to_str().unwrap()]).ok().json();
    assert_eq!(created["commits"], 2);
    assert_eq!(created["refs"].as_array().unwrap().len(), 2);
    let dst = TestRepo::new();
    dst.muse(["switch", "-c", "elsewhere"]).code(exit::OK);
    let report = dst.json(["bundle", "apply", bundle.to_str().unwrap()]).ok().json();
    assert_eq!((report["commits_written"].as_u64(), report["snapshots_written"].as_u64()), (Some(2), Some(4)));
    assert_eq!(report["blobs_written"], 3);
    assert_eq!(report["rejected"], Value::Array(vec![]));
    let statuses: Vec<&str> = report["refs"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["created", "created"]);
    assert_eq!(dst.rev("main"), src.rev("main"));
    dst.assert_fsck_clean();
    // The same bundle again: nothing new, refs up to date.
    let again = dst.json(["bundle", "apply", bundle.to_str().unwrap()]).ok().json();
    assert_eq!(again["commits_written"], 0);
    assert_eq!(again["refs"][0]["status"], "up-to-date");
}

#[test]
fn incremental_bundles_need_their_prerequisites() {
    let src = source();
    let bundle = src.tmp.path().join("inc.bundle");
    src.json(["bundle", "create", bundle.to_str().unwrap(), "main", "--not", "main~1"]).ok();
    let dst = TestRepo::new();
    dst.json(["bundle", "apply", bundle.to_str().unwrap()]).fails_with(exit::NOT_FOUND, "not_found");
    src.json(["bundle", "create", "x.bundle", "no-such-branch"]).fails_with(exit::NOT_FOUND, "not_found");
}

#[test]
fn corrupted_bundles_are_invalid_input_and_write_nothing() {
    let src = source();
    let bundle = src.tmp.path().join("all.bundle");
    src.json(["bundle", "create", bundle.to_str().unwrap()]).ok();
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 40;
    bytes[last] ^= 0xff;
    std::fs::write(&bundle, &bytes).unwrap();
    let dst = TestRepo::new();
    dst.json(["bundle", "apply", bundle.to_str().unwrap()]).fails_with(exit::INVALID, "invalid_input");
    assert!(dst.packs().is_empty(), "a corrupted bundle wrote objects");
    std::fs::write(&bundle, b"not a bundle\n\n").unwrap();
    dst.json(["bundle", "apply", bundle.to_str().unwrap()]).fails_with(exit::INVALID, "invalid_input");
}

/// A blob's id (docs/formats.md §1): the SHA-256 of the blob magic and the content.
fn blob_sha(bytes: &[u8]) -> [u8; 32] {
    sha(&[b"muse-blob/1\n", bytes].concat())
}

#[test]
fn a_poisoned_bundle_applies_the_clean_chain_and_exits_1_with_the_report() {
    let good = b"good\n";
    let poisoned_id = [0xaa; 32];
    let clean_tree = [b"muse-tree/1\nf good.txt\0".as_slice(), &blob_sha(good)].concat();
    let bad_tree = [b"muse-tree/1\nf bad.txt\0".as_slice(), &poisoned_id].concat();
    let mut pack = b"\x89MPACK\r\n\0\0\0\x02\0\0\0\0".to_vec();
    let mut record = |tag: u8, id: [u8; 32], data: &[u8]| {
        let frame = raw_frame(data);
        pack.push(tag);
        pack.extend_from_slice(&id[..8]);
        pack.push(data.len() as u8);
        pack.push(frame.len() as u8);
        pack.extend_from_slice(&frame);
    };
    record(1, blob_sha(good), good);
    record(1, poisoned_id, b"not what the id says");
    record(2, sha(&clean_tree), &clean_tree);
    record(2, sha(&bad_tree), &bad_tree);
    pack.push(0);
    pack.extend_from_slice(&4u64.to_be_bytes());
    let sum = sha(&pack);
    pack.extend_from_slice(&sum);
    let mut bundle = b"muse-bundle 1\n\n".to_vec();
    bundle.extend_from_slice(&pack);
    let dst = TestRepo::new();
    let path = dst.tmp.path().join("poisoned.bundle");
    std::fs::write(&path, &bundle).unwrap();
    let run = dst.json(["bundle", "apply", path.to_str().unwrap()]).code(exit::FAILED);
    let report = run.json();
    assert_eq!((report["blobs_written"].as_u64(), report["snapshots_written"].as_u64()), (Some(1), Some(1)));
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["kind"], "blob");
    assert_eq!(rejected[1]["kind"], "tree");
    assert!(rejected[0]["reason"].as_str().unwrap().contains("hash to"));
    assert_eq!(rejected[0]["id"], "sha256:aaaaaaaaaaaaaaaa", "named by its declared id prefix");
    dst.assert_fsck_clean();
}

/// `docs/mpack.md` §Budgets of a receiver: a tree declared over the 16 MiB default budget is
/// rejected before it is decoded, and `bundle apply` exits 1 naming the budget.
#[test]
fn a_tree_over_the_receivers_budget_is_rejected() {
    let declared: u64 = (16 << 20) + 1;
    let frame = raw_frame(b"muse-tree/1\n");
    let mut pack = b"\x89MPACK\r\n\0\0\0\x02\0\0\0\0".to_vec();
    pack.push(2);
    pack.extend_from_slice(&[0xbb; 8]);
    let mut size = declared;
    while size >= 0x80 {
        pack.push((size as u8 & 0x7f) | 0x80);
        size >>= 7;
    }
    pack.push(size as u8);
    pack.push(frame.len() as u8);
    pack.extend_from_slice(&frame);
    pack.push(0);
    pack.extend_from_slice(&1u64.to_be_bytes());
    let sum = sha(&pack);
    pack.extend_from_slice(&sum);
    let mut bundle = b"muse-bundle 1\n\n".to_vec();
    bundle.extend_from_slice(&pack);
    let dst = TestRepo::new();
    let path = dst.tmp.path().join("big-tree.bundle");
    std::fs::write(&path, &bundle).unwrap();
    let report = dst.json(["bundle", "apply", path.to_str().unwrap()]).code(exit::FAILED).json();
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    assert!(rejected[0]["reason"].as_str().unwrap().contains("limit of 16777216 bytes for a tree"), "{report}");
    dst.assert_fsck_clean();
}

#[test]
fn clone_copies_history_and_files_and_refuses_a_non_empty_target() {
    let src = source();
    let target = src.tmp.path().join("copy");
    let report = src.json(["clone", src.root.to_str().unwrap(), target.to_str().unwrap()]).ok().json();
    assert_eq!(report["head"], "refs/heads/main");
    assert_eq!(report["commits_written"], 2);
    assert_eq!(report["files"], 2);
    assert_eq!(std::fs::read_to_string(target.join("src/lib.rs")).unwrap(), "pub fn one() {}\npub fn two() {}\n");
    common::assert_fsck_clean(&target);
    src.json(["clone", src.root.to_str().unwrap(), target.to_str().unwrap()]).fails_with(exit::CONFLICT, "conflict");
}

#[test]
fn gc_repacks_into_one_pack() {
    let src = source();
    assert!(src.packs().len() >= 2);
    let report = src.json(["gc"]).ok().json();
    assert_eq!(report["objects"], report["reachable"]);
    assert_eq!(src.packs().len(), 1);
    assert_eq!((report["pruned"].as_u64(), report["packs_after"].as_u64()), (Some(0), Some(1)));
    src.assert_fsck_clean();
    assert_eq!(src.log_messages(&[]), ["second", "first"]);
}

/// Sets every pack's modification time `days` back, as if written then.
fn age_packs(repo: &TestRepo, days: u64) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
    for pack in repo.packs() {
        std::fs::File::open(&pack).unwrap().set_modified(then).unwrap();
    }
}

/// A deleted branch's commits are pruned only once the op log no longer names them: `muse
/// undo` can bring the branch back after any gc.
#[test]
fn gc_keeps_what_the_op_log_can_restore_and_prunes_the_rest() {
    let repo = source();
    repo.muse(["switch", "-c", "doomed"]).ok();
    repo.write("doomed.txt", "soon unreachable\n");
    let doomed = repo.commit("doomed");
    repo.muse(["switch", "main"]).ok();
    repo.muse(["branch", "-D", "doomed"]).ok();
    age_packs(&repo, 400);
    let report = repo.json(["gc", "--prune=now"]).ok().json();
    assert_eq!(report["pruned"], 0, "the op log names the deleted branch's commit: {report}");
    repo.muse(["undo"]).ok();
    assert_eq!(common::id_of(&repo.json(["log", "doomed", "-n", "1"]).ok().json()[0]), doomed);
    repo.assert_fsck_clean();
    // With the op log's operations older than what it protects, the commit is garbage.
    repo.muse(["branch", "-D", "doomed"]).ok();
    let log = repo.root.join(".muse/oplog");
    assert!(log.exists(), "the op log lives at {}", log.display());
    std::fs::remove_file(&log).unwrap();
    age_packs(&repo, 400);
    let report = repo.json(["gc", "--prune=now"]).ok().json();
    assert_eq!(report["pruned"], 3, "commit, snapshot and blob of the deleted branch: {report}");
    repo.assert_fsck_clean();
}

#[test]
fn gc_prune_takes_a_duration_from_the_flag_or_the_config() {
    let src = source();
    for good in ["now", "never", "2w", "3.days.ago", "12h"] {
        let report = src.json(["gc", &format!("--prune={good}")]).ok().json();
        assert_eq!(report["pruned"], 0, "everything is reachable ({good})");
    }
    src.json(["gc", "--prune=soon"]).fails_with(exit::USAGE, "usage");
    src.muse(["config", "gc.pruneExpire", "fortnight"]).ok();
    src.json(["gc"]).fails_with(exit::INVALID, "invalid_input");
    src.json(["gc", "--prune=never"]).ok();
    src.muse(["config", "gc.pruneExpire", "1.week.ago"]).ok();
    src.json(["gc"]).ok();
    src.assert_fsck_clean();
}
