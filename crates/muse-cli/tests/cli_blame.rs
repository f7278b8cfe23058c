//! Black-box tests of `muse blame` and `muse stats` on a history built with git and imported:
//! human and agent commits (provenance trailers), a branch merged back, a change reverted, a
//! rename and a reformatting commit; each blame compared with `git blame` on the same history,
//! and the stats checked against hand-counted shares. Plus the corpus check on muse-python.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::history::{git_map, GitHistory};
use common::{exit, Muse};
use serde_json::Value;

const CLAUDE: &str = "\n\nAgent-Id: claude\nModel-Id: claude-sonnet-4";
const CODEX: &str = "\n\nAgent-Id: codex\nModel-Id: gpt-5";

/// The history (see the module documentation); returns it with its commits by name.
fn history(root: &Path) -> (GitHistory, HashMap<&'static str, String>) {
    let mut h = GitHistory::new(root);
    let mut ids = HashMap::new();
    ids.insert("c1", h.commit(&[("app.py", Some("a\nb\nc\nd\n")), ("logo.bin", Some("PNG\0\0data"))], "human writes app"));
    ids.insert("c2", h.commit(&[("app.py", Some("a\nB\nc\nd\ne\n")), ("README", Some("x\ny\n"))], &format!("agent edits b, adds e and a README{CLAUDE}")));
    h.git(&["branch", "feature"]);
    ids.insert("c3", h.commit(&[("app.py", Some("a\nB\nc\nD\ne\n"))], "human edits d"));
    h.git(&["switch", "--quiet", "feature"]);
    ids.insert("c4", h.commit(&[("app.py", Some("a\nf\nB\nc\nd\ne\n"))], &format!("another agent adds f{CODEX}")));
    h.git(&["switch", "--quiet", "main"]);
    ids.insert("m", h.merge("feature", "merge feature"));
    ids.insert("c5", h.commit(&[("app.py", Some("a\nf\nB\nC\nD\ne\n"))], &format!("agent edits c{CLAUDE}")));
    ids.insert("c6", h.commit(&[("app.py", Some("a\nf\nB\nc\nD\ne\n"))], "Revert \"agent edits c\""));
    ids.insert("c7", h.commit(&[("app.py", None), ("src/app.py", Some("a\nf\nB\nc\nD\ne\n"))], "human moves app.py to src/"));
    ids.insert("c8", h.commit(&[("src/app.py", Some("a;\nf;\nB;\nc;\nD;\ne;\n"))], "reformat"));
    (h, ids)
}

/// `muse blame --json` as (git id of the line's commit, orig_line) per line.
fn muse_blame(dir: &Path, args: &[&str]) -> (Value, Vec<(String, u64)>) {
    let back: HashMap<String, String> = git_map(dir).into_iter().map(|(g, m)| (m, g)).collect();
    let mut all = vec!["--json", "blame"];
    all.extend_from_slice(args);
    let json = Muse::new(dir).args(all).run().ok().json();
    let lines = json["lines"].as_array().unwrap().iter().map(|l| (back[l["commit_id"].as_str().unwrap()].clone(), l["orig_line"].as_u64().unwrap())).collect();
    (json, lines)
}

/// `git blame --porcelain` as (commit, orig_line) per line.
fn git_blame(dir: &Path, args: &[&str]) -> Vec<(String, u64)> {
    let mut all = vec!["blame", "--porcelain"];
    all.extend_from_slice(args);
    common::history::git(dir, &all)
        .lines()
        .filter_map(|l| {
            let mut parts = l.split(' ');
            let (id, orig) = (parts.next()?, parts.next()?);
            let orig: u64 = orig.parse().ok()?;
            (id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()) && parts.next().is_some()).then(|| (id.to_string(), orig))
        })
        .collect()
}

#[test]
fn blame_assigns_every_line_where_git_does_with_provenance() {
    let root = tempfile::tempdir().unwrap();
    let (h, ids) = history(root.path());
    let dir = h.import(root.path());
    let map = git_map(&dir);
    let c7 = &map[&ids["c7"]];
    // Through a merge, a revert and a rename.
    let (json, lines) = muse_blame(&dir, &["src/app.py", c7]);
    assert_eq!(lines, git_blame(&h.dir, &[&ids["c7"], "--", "src/app.py"]));
    let owners: Vec<&str> = lines.iter().map(|(id, _)| ids.iter().find(|(_, v)| *v == id).map(|(k, _)| *k).unwrap()).collect();
    assert_eq!(owners, ["c1", "c4", "c2", "c6", "c3", "c2"]);
    let first = &json["lines"][0];
    assert_eq!((first["content"].as_str(), first["orig_path"].as_str(), first["kind"].as_str()), (Some("a"), Some("app.py"), Some("human")));
    let agent = &json["lines"][1];
    assert_eq!((agent["agent_id"].as_str(), agent["model_id"].as_str(), agent["kind"].as_str()), (Some("codex"), Some("gpt-5"), Some("agent")));
    assert_eq!(json["lines"][2]["model_id"], "claude-sonnet-4");
    for key in ["line", "content", "commit_id", "orig_line", "author", "agent_id", "model_id", "committed_at"] {
        assert!(agent.get(key).is_some(), "{key} missing");
    }
    assert_eq!(json["cached"], false);
    // Cached the second time, same answer; a range is cut from it.
    let (again, _) = muse_blame(&dir, &["src/app.py", c7]);
    assert_eq!((again["cached"].as_bool(), &again["lines"]), (Some(true), &json["lines"]));
    let (_, range) = muse_blame(&dir, &["src/app.py", c7, "-L", "2,+2"]);
    assert_eq!(range, lines[1..3]);
    // The reformatting commit owns every line, unless ignored.
    let (_, head) = muse_blame(&dir, &["src/app.py"]);
    assert_eq!(head, git_blame(&h.dir, &["HEAD", "--", "src/app.py"]));
    assert!(head.iter().all(|(id, _)| *id == ids["c8"]));
    let (_, ignoring) = muse_blame(&dir, &["src/app.py", "--ignore-rev", &map[&ids["c8"]]]);
    assert_eq!(ignoring.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), lines.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
    assert_eq!(ignoring, git_blame(&h.dir, &["--ignore-rev", &ids["c8"], "HEAD", "--", "src/app.py"]));
    // The same through a file of git ids, as a repository's .git-blame-ignore-revs holds them.
    std::fs::write(root.path().join("ignore"), format!("# formatting\n{}\n", ids["c8"])).unwrap();
    let (_, from_file) = muse_blame(&dir, &["src/app.py", "--ignore-revs-file", root.path().join("ignore").to_str().unwrap()]);
    assert_eq!(from_file, ignoring);
}

#[test]
fn blame_refuses_binary_files_and_missing_paths_clearly() {
    let root = tempfile::tempdir().unwrap();
    let (h, _) = history(root.path());
    let dir = h.import(root.path());
    let run = Muse::new(&dir).args(["--json", "blame", "logo.bin"]).run().fails_with(exit::INVALID, "binary_file");
    assert!(run.error_json()["message"].as_str().unwrap().contains("binary"));
    Muse::new(&dir).args(["--json", "blame", "nothing.py"]).run().fails_with(exit::NOT_FOUND, "not_found");
    Muse::new(&dir).args(["--json", "blame", "src"]).run().fails_with(exit::INVALID, "invalid_input");
    Muse::new(&dir).args(["--json", "blame", "src/app.py", "-L", "5,9"]).run().fails_with(exit::INVALID, "invalid_input");
    Muse::new(&dir).args(["blame", "src/app.py", "-L", "x"]).run().code(exit::USAGE);
    let text = Muse::new(&dir).args(["blame", "README"]).run().ok();
    assert!(text.stdout.lines().all(|l| l.contains("claude-sonnet-4")), "{}", text.stdout);
}

#[test]
fn stats_count_lines_by_model_and_agent_as_counted_by_hand() {
    let root = tempfile::tempdir().unwrap();
    let (h, ids) = history(root.path());
    let dir = h.import(root.path());
    let muse_c7 = git_map(&dir)[&ids["c7"]].clone();
    // src/app.py at c7: a (human c1), f (gpt-5), B (claude), c (human revert), D (human), e (claude);
    // README: x, y (claude). logo.bin is binary.
    let all = Muse::new(&dir).args(["--json", "stats", &muse_c7]).run().ok().json();
    assert_eq!(all["total_lines"], 8);
    assert_eq!(all["files"], 2);
    assert_eq!(all["by_model"], serde_json::json!({"human": 3, "claude-sonnet-4": 4, "gpt-5": 1}));
    assert_eq!(all["by_agent"], serde_json::json!({"human": 3, "claude": 4, "codex": 1}));
    assert_eq!(all["binary_files"], serde_json::json!(["logo.bin"]));
    let by_commit: Vec<(String, u64)> =
        all["by_commit"].as_array().unwrap().iter().map(|c| (c["kind"].as_str().unwrap().to_string(), c["lines"].as_u64().unwrap())).collect();
    assert_eq!(by_commit[0], ("agent".to_string(), 4));
    assert_eq!(by_commit.iter().map(|c| c.1).sum::<u64>(), 8);
    let dir_only = Muse::new(&dir).args(["--json", "stats", &muse_c7, "--", "src"]).run().ok().json();
    assert_eq!(dir_only["by_model"], serde_json::json!({"human": 3, "claude-sonnet-4": 2, "gpt-5": 1}));
    let text = Muse::new(&dir).args(["stats", &muse_c7]).run().ok().stdout;
    assert!(text.contains("37.5%") && text.contains("50.0%") && text.contains("12.5%"), "{text}");
    Muse::new(&dir).args(["--json", "stats", "HEAD", "--", "nothing"]).run().fails_with(exit::NOT_FOUND, "not_found");
}

/// The corpus history `name`, mirrored from its bundle and imported, in `root`.
fn corpus(root: &Path, name: &str) -> (PathBuf, PathBuf) {
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(format!("{name}.bundle"));
    let git_dir = root.join(format!("{name}.git"));
    common::history::git(root, &["clone", "--quiet", "--mirror", bundle.to_str().unwrap(), git_dir.to_str().unwrap()]);
    let dir = root.join(name);
    Muse::new(root).args(["import", "git", git_dir.to_str().unwrap(), dir.to_str().unwrap()]).run().ok();
    (git_dir, dir)
}

/// Two of the most-changed files of the muse-python corpus history blame as git blames them
/// (bench/history-agreement.sh runs every corpus and reports the few lines that differ).
#[test]
fn corpus_blame_agrees_with_git() {
    let root = tempfile::tempdir().unwrap();
    let (git_dir, dir) = corpus(root.path(), "muse-python");
    for path in ["muse/cli/app.py", "muse/cli/commands/commit.py"] {
        let (_, lines) = muse_blame(&dir, &[path]);
        let expected = git_blame(&git_dir, &["HEAD", "--", path]);
        let differing: Vec<usize> = (0..lines.len().max(expected.len())).filter(|i| lines.get(*i) != expected.get(*i)).collect();
        assert!(differing.is_empty(), "blame {path}: {} of {} lines differ from git, first at line {}", differing.len(), expected.len(), differing[0] + 1);
    }
}

/// `log --agent/--model/--author/--since` keep the commits a reviewer asks for.
#[test]
fn log_filters_by_agent_model_author_and_date() {
    let root = tempfile::tempdir().unwrap();
    let (h, ids) = history(root.path());
    let dir = h.import(root.path());
    let map = git_map(&dir);
    let subjects = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--json", "log"];
        all.extend_from_slice(args);
        let json = Muse::new(&dir).args(all).run().ok().json();
        json.as_array()
            .unwrap()
            .iter()
            .map(|c| map.iter().find(|(_, m)| **m == c["commit_id"]).map(|(g, _)| ids.iter().find(|(_, v)| *v == g).unwrap().0.to_string()).unwrap())
            .collect()
    };
    assert_eq!(subjects(&["--agent", "claude"]), ["c5", "c2"]);
    assert_eq!(subjects(&["--model", "gpt-5"]), ["c4"]);
    assert_eq!(subjects(&["--agent", "claude", "-n", "1"]), ["c5"]);
    assert_eq!(subjects(&["--agent", "human", "--", "src/app.py"]), ["c8", "c7"]);
    assert_eq!(subjects(&["--author", "nobody"]), Vec::<String>::new());
    // Commits are a minute apart from 1_700_000_060 (2023-11-14T22:14:20Z): c7 is the 8th.
    assert_eq!(subjects(&["--since", "2023-11-14T22:21:00Z"]), ["c8", "c7"]);
    Muse::new(&dir).args(["--json", "log", "--since", "yesterday"]).run().fails_with(exit::INVALID, "invalid_input");
}

/// `show REV:PATH` gives a file's bytes at a revision, across the rename too.
#[test]
fn show_prints_a_file_at_a_revision() {
    let root = tempfile::tempdir().unwrap();
    let (h, ids) = history(root.path());
    let dir = h.import(root.path());
    let map = git_map(&dir);
    let at_c3 = format!("{}:app.py", map[&ids["c3"]]);
    assert_eq!(Muse::new(&dir).args(["show", &at_c3]).run().ok().stdout, "a\nB\nc\nD\ne\n");
    assert_eq!(Muse::new(&dir).args(["show", "HEAD:src/app.py"]).run().ok().stdout, "a;\nf;\nB;\nc;\nD;\ne;\n");
    let json = Muse::new(&dir).args(["--json", "show", ":logo.bin"]).run().ok().json();
    assert_eq!((json["binary"].as_bool(), json["content"].is_null(), json["size"].as_u64()), (Some(true), true, Some(9)));
    assert_eq!(Muse::new(&dir).args(["show", "HEAD:src"]).run().ok().stdout, "app.py\n");
    Muse::new(&dir).args(["--json", "show", "HEAD:missing"]).run().fails_with(exit::NOT_FOUND, "not_found");
}

#[test]
fn agent_trace_export_is_blame_by_ranges() {
    let root = tempfile::tempdir().unwrap();
    let (h, _) = history(root.path());
    let dir = h.import(root.path());
    let blame = Muse::new(&dir).args(["--json", "blame", "src/app.py"]).run().ok().json();
    let records = Muse::new(&dir).args(["--json", "export", "agent-trace"]).run().ok().json();
    let record = &records[0];
    assert_eq!(record["version"], "0.1.0");
    assert_eq!(record["vcs"]["revision"], blame["commit_id"]);
    let paths: Vec<&str> = record["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["README", "src/app.py"], "binary logo.bin is left out");
    // Every line of src/app.py is in exactly one range, that of the commit blame names, with
    // that commit's model.
    let file = &record["files"][1];
    for line in blame["lines"].as_array().unwrap() {
        let n = line["line"].as_u64().unwrap();
        let owners: Vec<&Value> = file["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["ranges"].as_array().unwrap().iter().any(|r| r["start_line"].as_u64().unwrap() <= n && n <= r["end_line"].as_u64().unwrap()))
            .collect();
        assert_eq!(owners.len(), 1, "line {n} in one range");
        let owner = owners[0];
        assert_eq!(owner["metadata"]["dev.muse"]["commit_id"], line["commit_id"], "line {n}");
        let expected = if line["model_id"].as_str().unwrap().is_empty() && line["agent_id"].as_str().unwrap().is_empty() {
            serde_json::json!({"type": "human"})
        } else {
            serde_json::json!({"type": "ai", "model_id": line["model_id"]})
        };
        assert_eq!(owner["contributor"], expected, "line {n}");
    }
    // Text output: the same records as JSON Lines; the same export gives the same id.
    let text = Muse::new(&dir).args(["export", "agent-trace", "HEAD", "HEAD~1", "--", "src"]).run().ok().stdout;
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["files"], serde_json::json!([file]));
    let again = Muse::new(&dir).args(["export", "agent-trace", "HEAD", "--", "src"]).run().ok().stdout;
    assert_eq!(again.lines().next(), text.lines().next());
    assert_ne!(lines[0]["id"], record["id"], "the paths are part of the id");
    Muse::new(&dir).args(["--json", "export", "agent-trace", "HEAD", "--", "nope"]).run().fails_with(exit::NOT_FOUND, "not_found");
}
