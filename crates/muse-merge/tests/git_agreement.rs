//! Agreement with git on real merges: every two-parent merge commit of a corpus history
//! (`shared/corpus`, default muse-python; `MUSE_MERGE_BUNDLE` names another) is merged again
//! from its two parents by muse (imported with muse-import) and by `git merge-tree
//! --write-tree`. The two agree on a merge when both are clean with the same tree, or both
//! conflict on the same set of paths. Every disagreement is printed with what each side did;
//! the test fails when more merges disagree than the known, explained ones (docs/cli.md
//! §Merging, "Agreement with git").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use muse_core::{CommitId, EntryKind, ObjectId, TreeId};
use muse_merge::{merge_commits, Labels, Options};
use muse_store::snapshot::diff_snapshots;
use muse_store::Repository;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("MUSE_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.args(args).current_dir(dir).env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd
}

/// Runs git; returns (exit code, stdout).
fn git(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = git_command(dir, args).output().expect("git is installed");
    assert!(out.status.code().is_some_and(|c| c <= 1), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).expect("UTF-8"))
}

/// Blob contents by git id, through one long-running `git cat-file --batch`.
struct CatFile {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
    cache: HashMap<String, ObjectId>,
}

impl CatFile {
    fn new(dir: &Path) -> CatFile {
        let mut child = git_command(dir, &["cat-file", "--batch"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("git cat-file");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        CatFile { child, out, cache: HashMap::new() }
    }

    /// The muse blob id of git blob `id` (the same content hashed the muse way).
    fn muse_id(&mut self, id: &str) -> ObjectId {
        if let Some(found) = self.cache.get(id) {
            return *found;
        }
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{id}").unwrap();
        stdin.flush().unwrap();
        let mut header = String::new();
        self.out.read_line(&mut header).unwrap();
        let size: usize = header.trim_end().rsplit(' ').next().unwrap().parse().unwrap();
        let mut content = vec![0; size + 1];
        self.out.read_exact(&mut content).unwrap();
        content.pop();
        let muse = muse_core::blob_id(&content);
        self.cache.insert(id.to_string(), muse);
        muse
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

type Changes = BTreeMap<String, Option<(EntryKind, ObjectId)>>;

/// What git's merged tree changes relative to the first parent.
fn git_changes(dir: &Path, cat: &mut CatFile, parent: &str, tree: &str) -> Changes {
    let (_, out) = git(dir, &["diff-tree", "-r", "--no-renames", "-z", parent, tree]);
    let mut changes = Changes::new();
    let mut fields = out.split('\0').filter(|s| !s.is_empty());
    while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let (mode, id) = (parts[1], parts[3]);
        let state = match mode {
            "000000" => None,
            "160000" => continue,
            "120000" => Some((EntryKind::Symlink, cat.muse_id(id))),
            m if m.ends_with("755") => Some((EntryKind::Executable, cat.muse_id(id))),
            _ => Some((EntryKind::File, cat.muse_id(id))),
        };
        changes.insert(path.to_string(), state);
    }
    changes
}

fn muse_changes(repo: &Repository, from: TreeId, to: TreeId) -> Changes {
    diff_snapshots(repo.objects(), Some(from), Some(to)).unwrap().into_iter().map(|c| (c.path, c.new)).collect()
}

#[test]
fn real_merges_agree_with_git_merge_tree() {
    let bundle = std::env::var("MUSE_MERGE_BUNDLE").unwrap_or_else(|_| "muse-python".into());
    let root = tempfile::tempdir().unwrap();
    let git_dir = root.path().join("src.git");
    let bundle_path = corpus_dir().join(format!("{bundle}.bundle"));
    assert!(bundle_path.is_file(), "corpus bundle {} not found (set MUSE_CORPUS)", bundle_path.display());
    git(root.path(), &["clone", "--quiet", "--mirror", bundle_path.to_str().unwrap(), git_dir.to_str().unwrap()]);
    let repo = Repository::init(&root.path().join("muse"), "main").unwrap();
    muse_import::import_git(&git_dir, &repo, &muse_import::ImportOptions::default(), &mut |_| {}).expect("import");
    let map_text = std::fs::read_to_string(repo.store_dir().join("import/git-map")).unwrap();
    let map: HashMap<&str, CommitId> = map_text.lines().skip(1).filter_map(|l| l.split_once(' ')).map(|(g, m)| (g, CommitId::parse(m).unwrap())).collect();

    let (_, merges) = git(&git_dir, &["rev-list", "--merges", "--parents", "--all"]);
    let mut cat = CatFile::new(&git_dir);
    let labels = Labels { base: "base".into(), ours: "ours".into(), theirs: "theirs".into() };
    let (mut total, mut agree, mut conflicted) = (0, 0, 0);
    let mut disagreements = Vec::new();
    for line in merges.lines() {
        let ids: Vec<&str> = line.split(' ').collect();
        if ids.len() != 3 {
            continue; // octopus merges: git merge-tree takes two sides
        }
        let (merge, p1, p2) = (ids[0], ids[1], ids[2]);
        total += 1;
        let (code, out) = git(&git_dir, &["merge-tree", "--write-tree", "--name-only", "--no-messages", p1, p2]);
        let mut lines = out.lines();
        let git_tree = lines.next().unwrap().to_string();
        let git_conflicts: BTreeSet<String> = lines.filter(|l| !l.is_empty()).map(str::to_string).collect();
        let (ours, theirs) = (map[p1], map[p2]);
        let merged = merge_commits(&repo, ours, theirs, &labels, Options::standard()).unwrap();
        let muse_conflicts: BTreeSet<String> = merged.merge.conflicts.iter().map(|c| c.path.clone()).collect();
        let same = match (code == 0, merged.merge.is_clean()) {
            (true, true) => {
                let ours_tree = repo.objects().read_commit(&ours).unwrap().snapshot;
                git_changes(&git_dir, &mut cat, p1, &git_tree) == muse_changes(&repo, ours_tree, merged.merge.tree)
            }
            (false, false) => {
                conflicted += 1;
                git_conflicts == muse_conflicts
            }
            _ => false,
        };
        if same {
            agree += 1;
        } else {
            let kinds: Vec<String> = merged.merge.conflicts.iter().map(|c| format!("{} {}", c.kind.as_str(), c.path)).collect();
            disagreements.push(format!("merge {merge} ({p1} + {p2}): git conflicts {git_conflicts:?}, muse {kinds:?}"));
        }
    }
    eprintln!("{bundle}: {agree} of {total} real merges agree with git merge-tree ({conflicted} conflict in both)");
    for d in &disagreements {
        eprintln!("  {d}");
    }
    assert!(total > 0, "no merge commits found");
    // The known, explained disagreements (docs/cli.md §Merging): none on muse-python.
    let allowed: usize = std::env::var("MUSE_MERGE_ALLOWED_DISAGREEMENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(disagreements.len() <= allowed, "{} of {total} merges disagree with git", disagreements.len());
}
