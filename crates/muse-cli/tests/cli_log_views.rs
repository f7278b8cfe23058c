//! Black-box tests of the history views of `muse log`: revision ranges (`A..B`, `A...B`,
//! `^A`) compared with git on the same imported history, `--stat` and `-p` against hand-written
//! expectations and `muse show`, and the ASCII `--graph`.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::history::{git_map, GitHistory};
use common::{id_of, Muse, TestRepo};
use serde_json::Value;

/// main: c1 - c2 - c3 - m (merge of feature) - c5; feature: from c2, f1 - f2; side: from c3,
/// s1 (not merged). Returns the imported repository and git's ids by name.
fn branchy(root: &Path) -> (PathBuf, GitHistory, HashMap<&'static str, String>) {
    let mut h = GitHistory::new(root);
    let mut ids = HashMap::new();
    ids.insert("c1", h.commit(&[("a", Some("1\n")), ("doc/x", Some("x\n"))], "c1"));
    ids.insert("c2", h.commit(&[("a", Some("1\n2\n"))], "c2"));
    h.git(&["branch", "feature"]);
    ids.insert("c3", h.commit(&[("b", Some("b\n"))], "c3"));
    h.git(&["branch", "side"]);
    h.git(&["switch", "--quiet", "feature"]);
    ids.insert("f1", h.commit(&[("doc/x", Some("x\ny\n"))], "f1"));
    ids.insert("f2", h.commit(&[("f", Some("f\n"))], "f2"));
    h.git(&["switch", "--quiet", "side"]);
    ids.insert("s1", h.commit(&[("a", Some("0\n1\n2\n"))], "s1"));
    h.git(&["switch", "--quiet", "main"]);
    ids.insert("m", h.merge("feature", "merge feature"));
    ids.insert("c5", h.commit(&[("b", Some("b\nc\n"))], "c5"));
    let dir = h.import(root);
    (dir, h, ids)
}

/// `muse log --json ARGS` as git ids.
fn muse_log(dir: &Path, args: &[&str]) -> Vec<String> {
    let back: HashMap<String, String> = git_map(dir).into_iter().map(|(g, m)| (m, g)).collect();
    let mut all = vec!["--json", "log"];
    all.extend_from_slice(args);
    let json = Muse::new(dir).args(all).run().ok().json();
    json.as_array().unwrap().iter().map(|c| back[&id_of(c)].clone()).collect()
}

/// `git log --format=%H ARGS`.
fn git_log(h: &GitHistory, args: &[&str]) -> Vec<String> {
    let mut all = vec!["log", "--format=%H"];
    all.extend_from_slice(args);
    h.git(&all).lines().map(str::to_string).collect()
}

#[test]
fn ranges_list_what_git_lists() {
    let root = tempfile::tempdir().unwrap();
    let (dir, h, ids) = branchy(root.path());
    let cases: &[&[&str]] = &[
        &["main..side"],
        &["side..main"],
        &["side...main"],
        &["main...side"],
        &["feature..main"],
        &["main..feature"],
        &["^feature", "main"],
        &["^feature", "^side", "main"],
        &["side.."],
        &["..side"],
        &["side...main", "--", "a"],
        &["feature..main", "--", "doc"],
        &["--first-parent", "feature..main"],
        &["-n", "2", "c1-placeholder..main"],
    ];
    for case in cases {
        let mut args: Vec<String> = case.iter().map(|s| s.replace("c1-placeholder", &ids["c1"])).collect();
        let git = git_log(&h, &args.iter().map(String::as_str).collect::<Vec<_>>());
        // muse names the same commit by its own id.
        let map = git_map(&dir);
        for arg in &mut args {
            if let Some((a, b)) = arg.split_once("..") {
                let (a, b) = (map.get(a).cloned().unwrap_or(a.to_string()), map.get(b).cloned().unwrap_or(b.to_string()));
                *arg = format!("{a}..{b}");
            }
        }
        let muse = muse_log(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(muse, git, "log {case:?}");
        let empty_in_git: &[&[&str]] = &[&["main..feature"], &["feature..main", "--", "doc"]];
        assert_eq!(git.is_empty(), empty_in_git.contains(case), "{case:?}: the cases list something except where git lists nothing");
    }
    // Only exclusions: nothing, as in git.
    assert_eq!(muse_log(&dir, &["^main"]), Vec::<String>::new());
    // A bad side is the usual bad-revision error.
    Muse::new(&dir).args(["--json", "log", "main..nope"]).run().fails_with(common::exit::NOT_FOUND, "not_found");
}

#[test]
fn stat_and_patch_follow_each_commit() {
    let repo = TestRepo::new();
    repo.write("a", "1\n2\n3\n");
    repo.write("img.bin", b"\0\x01\x02".as_slice());
    repo.commit("base");
    repo.write("a", "1\nTWO\n3\n4\n");
    repo.write("new-file", "n\n");
    repo.write("img.bin", b"\0\x01\x03".as_slice());
    repo.commit("change");
    let out = repo.muse(["log", "--stat", "--oneline", "-n", "1"]).ok().stdout;
    let first = out.lines().next().unwrap().to_string();
    assert!(first.ends_with(" change"), "{out}");
    let expected = format!("{first}\n a        | 3 ++-\n img.bin  | Bin\n new-file | 1 +\n 3 files changed, 3 insertions(+), 1 deletion(-)\n");
    assert_eq!(out, expected);
    // JSON: the same figures.
    let json = repo.json(["log", "--stat", "-n", "2"]).ok().json();
    let stat = &json[0]["stat"];
    assert_eq!((stat["files_changed"].as_u64(), stat["insertions"].as_u64(), stat["deletions"].as_u64()), (Some(3), Some(3), Some(1)));
    assert_eq!(stat["files"][1], serde_json::json!({"path": "img.bin", "status": "modified", "insertions": 0, "deletions": 0, "binary": true}));
    assert_eq!(json[1]["stat"]["files"].as_array().unwrap().len(), 2, "the root commit's stat lists what it added");
    assert!(json[0].get("files").is_none(), "files only under -p");
    // -p: the same diff as `muse show`.
    let log = repo.muse(["log", "-p", "-n", "1"]).ok().stdout;
    let show = repo.muse(["show"]).ok().stdout;
    assert_eq!(log.replacen(" (HEAD -> main)", "", 1), show, "log -p of one commit prints what show prints");
    let json = repo.json(["log", "-p", "-n", "1"]).ok().json();
    let show = repo.json(["show"]).ok().json();
    assert_eq!(json[0]["files"], show["files"]);
}

#[test]
fn a_merge_shows_no_stat() {
    let root = tempfile::tempdir().unwrap();
    let (dir, _, ids) = branchy(root.path());
    let map = git_map(&dir);
    let json = Muse::new(&dir).args(["--json", "log", "--stat", "-n", "1", &map[&ids["m"]]]).run().ok().json();
    assert_eq!(json[0]["stat"]["files_changed"], 0);
}

/// The `--graph --oneline` drawing with ids and refs removed: graph and subject only.
fn graph(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["log", "--graph", "--oneline"];
    all.extend_from_slice(args);
    let out = Muse::new(dir).args(all).run().ok().stdout;
    out.lines()
        .map(|line| match line.find(|c: char| !"*|/\\_ ".contains(c)) {
            Some(at) => format!("{}{}", &line[..at], line.rsplit(' ').next().unwrap()),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn graph_draws_branches_and_merges() {
    let root = tempfile::tempdir().unwrap();
    let (dir, _, _) = branchy(root.path());
    assert_eq!(graph(&dir, &["main"]), ["* c5", "* feature", "|\\", "| * f2", "| * f1", "* | c3", "|/", "* c2", "* c1"].join("\n"));
    // Two tips: the side branch's line joins main's at c3, passing feature's.
    assert_eq!(
        graph(&dir, &["main", "side"]),
        ["* c5", "* feature", "|\\", "| | * s1", "| * | f2", "| * | f1", "|_|/", "* | c3", "|/", "* c2", "* c1"].join("\n")
    );
    // Ranges end the lines of commits not shown: the merge's second parent is hidden.
    assert_eq!(graph(&dir, &["feature..main"]), ["* c5", "* feature", "* c3"].join("\n"));
    // Under a path limit, parents are rewritten to the commits shown.
    assert_eq!(graph(&dir, &["main", "--", "a"]), ["* c2", "* c1"].join("\n"));
    // Full entries: every line of an entry carries the graph; with -n 3 the merge's first
    // parent (c3) is not shown, so its line ends and f2 is drawn last, as a root.
    let out = Muse::new(&dir).args(["log", "--graph", "-n", "3"]).run().ok().stdout;
    let f2 = out.find("(feature)").expect("f2 is shown");
    assert!(out[..f2].lines().all(|l| l.starts_with("* ") || l.starts_with("| ") || l == "|"), "{out}");
    assert!(out[f2..].lines().skip(1).all(|l| l.starts_with("  ") || l.is_empty()), "{out}");
}

#[test]
fn graph_of_full_entries_prefixes_every_line() {
    let repo = TestRepo::new();
    repo.write("a", "1\n");
    repo.commit("one");
    repo.write("a", "2\n");
    repo.commit("two");
    let out = repo.muse(["log", "--graph"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("* commit "), "{out}");
    assert!(lines[1..].iter().all(|l| l.starts_with("| ") || *l == "|" || l.starts_with("* ") || l.starts_with("  ") || l.is_empty()), "{out}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("* commit ")).count(), 2);
    // The JSON is the log's, whatever --graph says.
    let plain: Value = repo.json(["log"]).ok().json();
    assert_eq!(repo.json(["log", "--graph"]).ok().json(), plain);
}
