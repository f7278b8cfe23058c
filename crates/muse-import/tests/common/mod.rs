//! Helpers for the import tests: run real git for fixtures and expectations, flatten Muse trees.
//! The importer itself never runs git; only the tests do, to check it against the reference.

#![allow(dead_code)] // each test binary uses its own subset

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use muse_core::{CommitId, EntryKind, ObjectId, TreeId};
use muse_import::{import_git, ImportOptions, ImportSummary};
use muse_store::Repository;

/// The corpus of git bundles (`MUSE_CORPUS`, else `shared/corpus` beside the repository).
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("MUSE_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

/// Runs git with `args` in `dir`, returning stdout; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(git_bytes(dir, args, None)).expect("git printed UTF-8")
}

/// Runs git with `args` in `dir` (feeding `stdin` if given), returning raw stdout.
pub fn git_bytes(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git is installed");
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.map(<[u8]>::to_vec);
    let feeder = std::thread::spawn(move || {
        if let Some(data) = data {
            input.write_all(&data).expect("write to git");
        }
    });
    let out = child.wait_with_output().expect("git runs");
    feeder.join().expect("feeder thread");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Clones a corpus bundle as a bare mirror (every branch local) into `into`.
pub fn mirror_bundle(name: &str, into: &Path) -> PathBuf {
    let bundle = corpus_dir().join(name);
    assert!(bundle.is_file(), "corpus bundle {} not found (set MUSE_CORPUS)", bundle.display());
    let dest = into.join(name.replace(".bundle", ".git"));
    git(into, &["clone", "--quiet", "--mirror", bundle.to_str().expect("UTF-8 path"), dest.to_str().expect("UTF-8 path")]);
    dest
}

/// A fresh Muse repository at `dir` with `git_dir` imported into it.
pub fn import_into(git_dir: &Path, dir: &Path) -> (Repository, ImportSummary) {
    let repo = Repository::init(dir, "main").expect("init");
    let summary = import_git(git_dir, &repo, &ImportOptions::default(), &mut |_| {}).expect("import");
    (repo, summary)
}

/// A file of a snapshot: its kind and the SHA-256 of its bytes.
pub type Files = BTreeMap<String, (EntryKind, ObjectId)>;

/// Every file of a Muse snapshot, by path.
pub fn muse_files(repo: &Repository, root: TreeId) -> Files {
    let mut out = Files::new();
    let mut stack = vec![(String::new(), root)];
    while let Some((prefix, id)) = stack.pop() {
        for entry in repo.objects().read_tree(&id).expect("tree").entries() {
            let path = format!("{prefix}{}", entry.name);
            if entry.kind == EntryKind::Tree {
                stack.push((format!("{path}/"), TreeId(entry.id)));
            } else {
                out.insert(path, (entry.kind, entry.id));
            }
        }
    }
    out
}

/// Every file of a git commit's tree (submodules excluded), with the SHA-256 of its bytes.
pub fn git_files(git_dir: &Path, rev: &str) -> Files {
    let listing = git_bytes(git_dir, &["ls-tree", "-r", "-z", "--full-tree", rev], None);
    let mut entries = Vec::new();
    for record in listing.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let text = String::from_utf8(record.to_vec()).expect("UTF-8 paths in the corpus");
        let (meta, path) = text.split_once('\t').expect("ls-tree record");
        let mut parts = meta.split(' ');
        let (mode, kind, id) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        if kind != "blob" {
            continue;
        }
        let kind = match mode {
            "120000" => EntryKind::Symlink,
            m if m.ends_with("755") => EntryKind::Executable,
            _ => EntryKind::File,
        };
        entries.push((path.to_string(), kind, id.to_string()));
    }
    let hashes = sha256_of_blobs(git_dir, entries.iter().map(|(_, _, id)| id.as_str()));
    entries.into_iter().map(|(path, kind, id)| (path, (kind, hashes[&id]))).collect()
}

/// The SHA-256 of each git blob's content, read with `git cat-file --batch`.
fn sha256_of_blobs<'a>(git_dir: &Path, ids: impl Iterator<Item = &'a str>) -> HashMap<String, ObjectId> {
    let mut unique: Vec<&str> = ids.collect();
    unique.sort_unstable();
    unique.dedup();
    let input: String = unique.iter().map(|id| format!("{id}\n")).collect();
    let out = git_bytes(git_dir, &["cat-file", "--batch"], Some(input.as_bytes()));
    let mut reader = BufReader::new(&out[..]);
    let mut hashes = HashMap::new();
    for id in unique {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let size: usize = header.trim_end().rsplit(' ').next().unwrap().parse().unwrap();
        let mut content = vec![0; size + 1];
        reader.read_exact(&mut content).unwrap();
        content.pop();
        hashes.insert(id.to_string(), muse_core::blob_id(&content));
    }
    hashes
}

/// The git commit a Muse commit was imported from.
pub fn git_id_of(repo: &Repository, id: CommitId) -> String {
    repo.objects().read_commit(&id).expect("commit").metadata["git.commit-id"].clone()
}
