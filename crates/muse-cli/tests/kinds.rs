//! Black-box tests of the kind rule (docs/formats.md §1): a file whose bytes are a tree's
//! encoding is a blob with its own id in every command (commit, show, fsck, gc, bundle, clone),
//! and a blob shaped like a tree that arrives first cannot stand in for the tree committed later.
//! Also: uppercase full ids, and symlink targets (docs/formats.md §3). Ids are computed here
//! independently of muse-core, from the documented rule, with `sha2`.

mod common;

use common::{exit, raw_frame, sha, TestRepo};

/// A blob's id: SHA-256 of `muse-blob/1\n` and the content.
fn blob_id(content: &[u8]) -> [u8; 32] {
    sha(&[b"muse-blob/1\n", content].concat())
}

/// The canonical encoding of a tree of `(code, name, id)` entries (given in name order).
fn tree_encoding(entries: &[(u8, &str, [u8; 32])]) -> Vec<u8> {
    let mut out = b"muse-tree/1\n".to_vec();
    for (code, name, id) in entries {
        out.extend_from_slice(&[*code, b' ']);
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(id);
    }
    out
}

fn text_id(id: [u8; 32]) -> String {
    format!("sha256:{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The `new_id` of `path` in `muse show REV --json`.
fn shown_id(repo: &TestRepo, rev: &str, path: &str) -> String {
    let shown = repo.json(["show", rev]).ok().json();
    let files = shown["files"].as_array().expect("files");
    let file = files.iter().find(|f| f["path"] == path).unwrap_or_else(|| panic!("{path} not in {shown}"));
    file["new_id"].as_str().expect("new_id").to_string()
}

#[test]
fn a_file_holding_a_tree_encoding_is_a_blob_in_every_command() {
    let repo = TestRepo::new();
    let main_rs = b"fn main() {}\n";
    let src_tree = tree_encoding(&[(b'f', "main.rs", blob_id(main_rs))]);
    repo.write("src/main.rs", main_rs);
    // Bytes equal to the `src` subtree's encoding, and to the empty tree's.
    repo.write("looks-like-src", &src_tree);
    repo.write("empty-tree", b"muse-tree/1\n");
    repo.commit("trees in disguise");

    let id = shown_id(&repo, "HEAD", "looks-like-src");
    assert_eq!(id, text_id(blob_id(&src_tree)));
    assert_ne!(id, text_id(sha(&src_tree)), "the file shares the src tree's id");
    assert_eq!(shown_id(&repo, "HEAD", "empty-tree"), text_id(blob_id(b"muse-tree/1\n")));
    repo.assert_fsck_clean();

    repo.json(["gc"]).ok();
    repo.assert_fsck_clean();
    assert_eq!(shown_id(&repo, "HEAD", "looks-like-src"), id);

    let bundle = repo.tmp.path().join("all.bundle");
    repo.json(["bundle", "create", bundle.to_str().unwrap()]).ok();
    let dst = TestRepo::new();
    dst.muse(["switch", "-c", "elsewhere"]).ok();
    let report = dst.json(["bundle", "apply", bundle.to_str().unwrap()]).ok().json();
    assert_eq!(report["rejected"], serde_json::json!([]), "{report}");
    assert_eq!(dst.rev("main"), repo.rev("main"));
    dst.assert_fsck_clean();

    let target = repo.tmp.path().join("copy");
    let cloned = repo.json(["clone", repo.root.to_str().unwrap(), target.to_str().unwrap()]).ok().json();
    assert_eq!(cloned["head"], "refs/heads/main", "{cloned}");
    assert_eq!(std::fs::read(target.join("looks-like-src")).unwrap(), src_tree);
    assert_eq!(std::fs::read(target.join("empty-tree")).unwrap(), b"muse-tree/1\n");
    assert_eq!(std::fs::read(target.join("src/main.rs")).unwrap(), main_rs);
    common::assert_fsck_clean(&target);
}

/// Someone who can send a bundle plants a blob whose bytes are the encoding of a tree the victim
/// commits later. Under the kind rule the blob has its own id, so the victim's tree is written.
#[test]
fn a_planted_blob_shaped_like_a_tree_cannot_stand_in_for_it() {
    let victim_file = b"hello\n";
    let victim_tree = tree_encoding(&[(b'f', "a.txt", blob_id(victim_file))]);

    // As a file in a bundle built by muse.
    let attacker = TestRepo::new();
    attacker.muse(["switch", "-c", "evil"]).ok();
    attacker.write("payload", &victim_tree);
    attacker.commit("plant");
    let bundle = attacker.tmp.path().join("evil.bundle");
    attacker.json(["bundle", "create", bundle.to_str().unwrap(), "evil"]).ok();
    let victim = TestRepo::new();
    victim.write("keep.txt", "mine\n");
    victim.commit("base");
    let report = victim.json(["bundle", "apply", bundle.to_str().unwrap()]).ok().json();
    assert_eq!(report["blobs_written"], 1, "{report}");

    // As a hand-made record declaring the tree's id for the tree's bytes sent as a blob.
    let mut pack = b"\x89MPACK\r\n\0\0\0\x02\0\0\0\0".to_vec();
    let frame = raw_frame(&victim_tree);
    pack.push(1);
    pack.extend_from_slice(&sha(&victim_tree)[..8]);
    pack.push(victim_tree.len() as u8);
    pack.push(frame.len() as u8);
    pack.extend_from_slice(&frame);
    pack.push(0);
    pack.extend_from_slice(&1u64.to_be_bytes());
    let sum = sha(&pack);
    pack.extend_from_slice(&sum);
    let crafted = victim.tmp.path().join("crafted.bundle");
    std::fs::write(&crafted, [b"muse-bundle 1\n\n".as_slice(), &pack].concat()).unwrap();
    let report = victim.json(["bundle", "apply", crafted.to_str().unwrap()]).code(exit::FAILED).json();
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    assert!(rejected[0]["reason"].as_str().unwrap().contains("hash to"), "{report}");
    victim.assert_fsck_clean();

    // The victim now commits the very tree.
    victim.write("dir/a.txt", victim_file);
    victim.commit("the real tree");
    assert_eq!(shown_id(&victim, "HEAD", "dir/a.txt"), text_id(blob_id(victim_file)));
    victim.assert_fsck_clean();
    victim.json(["gc"]).ok();
    victim.assert_fsck_clean();
    let target = victim.tmp.path().join("copy");
    let cloned = victim.json(["clone", victim.root.to_str().unwrap(), target.to_str().unwrap()]).ok().json();
    assert_eq!(cloned["head"], "refs/heads/main", "{cloned}");
    assert_eq!(std::fs::read(target.join("dir/a.txt")).unwrap(), victim_file);
    common::assert_fsck_clean(&target);
}

#[test]
fn full_ids_must_be_lowercase_and_prefixes_are_case_insensitive() {
    let repo = TestRepo::new();
    repo.write("a", "a\n");
    let id = repo.commit("one");
    let hex = common::hex_of(&id).to_string();
    repo.json(["show", &hex]).ok();
    repo.json(["show", &id]).ok();
    for upper in [hex.to_uppercase(), format!("sha256:{}", hex.to_uppercase()), format!("{}{}", &hex[..63], hex[63..].to_uppercase())] {
        if upper == hex {
            continue;
        }
        let run = repo.json(["show", &upper]).fails_with(exit::INVALID, "invalid_input");
        assert!(run.error_json()["message"].as_str().unwrap().contains("lowercase"), "{}", run.error_json());
    }
    let shown = repo.json(["show", &hex[..12].to_uppercase()]).ok().json();
    assert_eq!(shown["commit"]["commit_id"], id.as_str());
    repo.json(["log", &format!("sha256:{}", &hex[..20].to_uppercase())]).ok();
}

#[test]
fn commit_refuses_a_symlink_whose_target_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let repo = TestRepo::new();
    repo.write("a", "a\n");
    repo.commit("base");
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(b"bad-\xff-target"), repo.path("link")).unwrap();
    let run = repo.json(["commit", "-m", "link"]).fails_with(exit::INVALID, "invalid_input");
    let message = run.error_json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("link") && message.contains("not UTF-8"), "{message}");
    assert_eq!(repo.log_messages(&[]), ["base"]);
    repo.assert_fsck_clean();
}

/// A bundle whose tree holds a symlink to an empty, NUL-holding or non-UTF-8 target: the tree and
/// the commit over it are rejected (the blobs themselves are harmless and kept); nothing breaks a
/// later checkout.
#[test]
fn bundle_apply_rejects_trees_with_invalid_symlink_targets() {
    for target in [&b""[..], b"a\0b", b"\xff\xfe"] {
        let tree = tree_encoding(&[(b'l', "link", blob_id(target))]);
        let mut pack = b"\x89MPACK\r\n\0\0\0\x02\0\0\0\0".to_vec();
        for (tag, id, data) in [(1u8, blob_id(target), target), (2, sha(&tree), &tree[..])] {
            let frame = raw_frame(data);
            pack.push(tag);
            pack.extend_from_slice(&id[..8]);
            pack.push(data.len() as u8);
            pack.push(frame.len() as u8);
            pack.extend_from_slice(&frame);
        }
        pack.push(0);
        pack.extend_from_slice(&2u64.to_be_bytes());
        let sum = sha(&pack);
        pack.extend_from_slice(&sum);
        let dst = TestRepo::new();
        let path = dst.tmp.path().join("links.bundle");
        std::fs::write(&path, [b"muse-bundle 1\n\n".as_slice(), &pack].concat()).unwrap();
        let report = dst.json(["bundle", "apply", path.to_str().unwrap()]).code(exit::FAILED).json();
        let rejected = report["rejected"].as_array().unwrap();
        assert_eq!(rejected.len(), 1, "{target:?}: {report}");
        assert_eq!(rejected[0]["kind"], "tree");
        assert!(rejected[0]["reason"].as_str().unwrap().contains("not a valid symlink target"), "{report}");
        assert_eq!(report["blobs_written"], 1);
        dst.assert_fsck_clean();
    }
}

/// A store from before the kind rule is refused with a message that says what to do.
#[test]
fn a_muse_store_1_is_refused_with_a_clear_message() {
    let repo = TestRepo::new();
    std::fs::write(repo.path(".muse/format"), "muse-store 1\n").unwrap();
    let run = repo.json(["status"]).fails_with(exit::INVALID, "unsupported");
    let message = run.error_json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("muse-store 1") && message.contains("clean break") && message.contains("re-create"), "{message}");
}
