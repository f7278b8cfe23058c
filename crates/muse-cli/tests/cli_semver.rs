//! Black-box tests of the computed semver bump: what `muse commit` records, warns and refuses,
//! `muse diff --semantic` and `muse semver`, with their JSON shapes (docs/cli.md).

mod common;

use common::{exit, TestRepo};
use serde_json::Value;

const API_V1: &str = "def greet(name, punctuation='!'):\n    return 'hi ' + name + punctuation\n\n\ndef _helper(x):\n    return x\n";

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect();
    keys.sort();
    keys
}

fn delta(commit: &Value) -> Value {
    serde_json::from_str(commit["structured_delta"].as_str().unwrap_or_else(|| panic!("no structured_delta: {commit}"))).unwrap()
}

/// A repository whose first commit adds `lib/api.py` and a README.
fn repo_with_api() -> (TestRepo, Value) {
    let repo = TestRepo::new();
    repo.write("lib/api.py", API_V1);
    repo.write("README.md", "# api\n");
    let first = repo.commit_json("first", &[]);
    (repo, first)
}

#[test]
fn commit_records_the_computed_bump_when_none_is_declared() {
    let (repo, first) = repo_with_api();
    // A root commit adds public symbols: minor.
    assert_eq!(first["sem_ver_bump"], "minor");
    assert_eq!(first["breaking_changes"], serde_json::json!([]));
    let d = delta(&first);
    assert_eq!(
        keys(&d),
        ["additions", "additions_total", "breaking", "breaking_total", "computed", "declared", "extractor", "files_changed", "files_parsed", "format"]
    );
    assert_eq!((d["format"].as_str(), d["computed"].as_str(), &d["declared"]), (Some("muse-semver/1"), Some("minor"), &Value::Null));
    assert_eq!((d["files_changed"].as_u64(), d["files_parsed"].as_u64(), d["additions_total"].as_u64()), (Some(2), Some(1), Some(1)));
    assert_eq!(d["additions"][0]["rule"], "symbol-added");
    assert_eq!(keys(&first["semver"]), ["additions", "breaking", "computed", "declared", "lower_than_computed", "recorded"]);
    assert_eq!(first["semver"]["lower_than_computed"], false);

    // Documentation alone: none. A private change: patch.
    repo.write("README.md", "# api\n\nMore.\n");
    assert_eq!(repo.commit_json("docs", &[])["sem_ver_bump"], "none");
    repo.write("lib/api.py", API_V1.replace("return x", "return x + 1"));
    assert_eq!(repo.commit_json("private", &[])["sem_ver_bump"], "patch");

    // A removed parameter: major, with the breaking change named by rule, place and symbol.
    repo.write("lib/api.py", "def greet(name):\n    return 'hi ' + name + punctuation\n");
    let commit = repo.commit_json("drop punctuation", &[]);
    assert_eq!(commit["sem_ver_bump"], "major");
    assert_eq!(commit["breaking_changes"], serde_json::json!(["param-removed lib/api.py:1 greet: parameter 'punctuation' removed"]));
    let d = delta(&commit);
    assert_eq!(
        d["breaking"][0],
        serde_json::json!({"rule": "param-removed", "bump": "major", "path": "lib/api.py", "line": 1, "symbol": "greet", "detail": "parameter 'punctuation' removed"})
    );
    let log = repo.muse(["log", "--oneline", "-n", "1"]).ok().stdout;
    assert!(log.contains("major ⚠"), "{log}");
}

#[test]
fn a_declared_bump_lower_than_the_computed_one_warns_or_is_refused() {
    let (repo, _) = repo_with_api();
    repo.write("lib/api.py", "def _helper(x):\n    return x\n");
    let date = repo.next_date();
    let run = repo.json(["commit", "-m", "remove greet", "--bump", "patch", "--date", &date]).ok();
    assert!(run.stderr.contains("warning: the declared bump patch is lower than the computed major:"), "{}", run.stderr);
    assert!(run.stderr.contains("  symbol-removed lib/api.py:1 greet: function greet removed"), "{}", run.stderr);
    let commit = run.json();
    assert_eq!(commit["sem_ver_bump"], "patch", "the declared bump is recorded");
    assert_eq!(
        commit["breaking_changes"],
        serde_json::json!(["symbol-removed lib/api.py:1 greet: function greet removed"]),
        "undeclared breaking changes are filled"
    );
    assert_eq!(commit["semver"]["lower_than_computed"], true);
    assert_eq!((commit["semver"]["computed"].as_str(), commit["semver"]["declared"].as_str()), (Some("major"), Some("patch")));
    assert_eq!(delta(&commit)["declared"], "patch");
    // Declared breaking changes are kept as given.
    repo.write("lib/api.py", "def _helper(y):\n    return y\n");
    let commit = repo.commit_json("rename", &["--bump", "major", "--breaking", "nothing public left"]);
    assert_eq!(commit["breaking_changes"], serde_json::json!(["nothing public left"]));
    assert_eq!(commit["semver"]["lower_than_computed"], false);

    // semver.enforce refuses instead, with exit 11, and records nothing.
    let (repo, _) = repo_with_api();
    repo.muse(["config", "semver.enforce", "true"]).ok();
    repo.write("lib/api.py", "def greet(name, punctuation):\n    return name\n");
    let head = repo.rev("HEAD");
    let refused = repo.json(["commit", "-m", "x", "--bump", "minor"]).fails_with(11, "bump_too_low");
    let message = refused.error_json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("declared bump minor is lower than the computed major") && message.contains("param-became-required lib/api.py:1 greet"),
        "{message}"
    );
    let text = repo.muse(["commit", "-m", "x", "--bump", "patch"]).code(11);
    assert!(text.stderr.starts_with("error: the declared bump patch"), "{}", text.stderr);
    assert_eq!(repo.rev("HEAD"), head, "nothing was committed");
    assert_eq!(repo.changes(), [("modified".to_string(), "lib/api.py".to_string())]);
    // Undeclared, or declared high enough: committed.
    assert_eq!(repo.commit_json("x", &["--bump", "major"])["sem_ver_bump"], "major");
    repo.write("lib/api.py", "def greet(name, punctuation, more):\n    return name\n");
    assert_eq!(repo.commit_json("y", &[])["sem_ver_bump"], "major");
    repo.muse(["config", "semver.enforce", "maybe"]).ok();
    repo.write("lib/api.py", "def greet(name):\n    return name\n");
    repo.json(["commit", "-m", "z"]).fails_with(exit::INVALID, "invalid_input");
}

#[test]
fn semver_compute_off_records_nothing_computed() {
    let repo = TestRepo::new();
    repo.muse(["config", "semver.compute", "false"]).ok();
    repo.write("a.py", "def f():\n    return 1\n");
    let commit = repo.commit_json("off", &[]);
    assert_eq!((commit["sem_ver_bump"].as_str(), &commit["structured_delta"], &commit["semver"]), (Some("none"), &Value::Null, &Value::Null));
}

#[test]
fn amend_computes_against_the_parent() {
    let (repo, _) = repo_with_api();
    repo.write("lib/more.py", "def extra():\n    return 2\n");
    assert_eq!(repo.commit_json("add extra", &[])["sem_ver_bump"], "minor");
    // The amended commit also removes greet: against its parent that is major.
    repo.write("lib/api.py", "def _helper(x):\n    return x\n");
    let amended = repo.commit_json("add extra, drop greet", &["--amend"]);
    assert_eq!(amended["sem_ver_bump"], "major");
    let d = delta(&amended);
    assert_eq!((d["breaking_total"].as_u64(), d["additions_total"].as_u64()), (Some(1), Some(1)));
    // A declared bump of the amended commit stays declared.
    let declared = repo.commit_json("declared", &["--amend", "--bump", "patch"]);
    assert_eq!(declared["sem_ver_bump"], "patch");
    let again = repo.json(["commit", "--amend", "-m", "again"]).ok();
    assert!(again.stderr.contains("declared bump patch is lower"), "{}", again.stderr);
    assert_eq!(again.json()["sem_ver_bump"], "patch");
}

#[test]
fn diff_semantic_shows_symbol_changes_and_the_bump() {
    let (repo, first) = repo_with_api();
    repo.write("lib/api.py", "def hello(name, punctuation='!'):\n    return 'hi ' + name + punctuation\n\n\ndef _helper(x, y=0):\n    return x\n");
    repo.write("notes.bin", [0u8, 1, 2]);
    let text = repo.muse(["diff", "--semantic"]).ok().stdout;
    assert!(text.contains("lib/api.py (python)"), "{text}");
    assert!(text.contains("renamed") && text.contains("hello(name, punctuation = '!') (was greet)"), "{text}");
    assert!(text.contains("notes.bin (?): no symbols (unknown_language)"), "{text}");
    assert!(text.contains("bump: major") && text.contains("symbol-renamed lib/api.py:1 greet: function greet renamed to hello"), "{text}");
    let json = repo.json(["diff", "--semantic"]).ok().json();
    assert_eq!(keys(&json), ["additions", "breaking", "bump", "files", "from", "to"]);
    assert_eq!((json["from"].as_str(), &json["to"], json["bump"].as_str()), (first["commit_id"].as_str(), &Value::Null, Some("major")));
    assert_eq!(keys(&json["breaking"][0]), ["bump", "detail", "line", "path", "rule", "symbol"]);
    let api = &json["files"][0];
    assert_eq!(keys(api), ["api", "changes", "language", "path", "status", "unknown"]);
    assert_eq!(
        (api["path"].as_str(), api["language"].as_str(), api["status"].as_str(), api["api"].as_bool()),
        (Some("lib/api.py"), Some("python"), Some("modified"), Some(true))
    );
    let changes = api["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{api}");
    assert_eq!(
        changes[0],
        serde_json::json!({"change": "renamed", "kind": "function", "symbol": "hello", "public": true, "line": 1,
                           "signature": "hello(name, punctuation = '!')", "old_symbol": "greet", "old_line": 1,
                           "old_signature": "greet(name, punctuation = '!')"})
    );
    assert_eq!((changes[1]["change"].as_str(), changes[1]["public"].as_bool()), (Some("signature_changed"), Some(false)));
    assert_eq!((json["files"][1]["unknown"].as_str(), &json["files"][1]["language"]), (Some("unknown_language"), &Value::Null));
    // Paths restrict it; two revisions compare commits.
    let only_bin = repo.json(["diff", "--semantic", "--", "notes.bin"]).ok().json();
    assert_eq!((only_bin["files"].as_array().map(Vec::len), only_bin["bump"].as_str()), (Some(1), Some("patch")));
    let second = repo.commit_json("second", &[]);
    let between = repo.json(["diff", "--semantic", first["commit_id"].as_str().unwrap(), "HEAD"]).ok().json();
    assert_eq!((between["to"].as_str(), between["bump"].as_str()), (second["commit_id"].as_str(), Some("major")));
    assert_eq!(repo.json(["diff", "--semantic", "HEAD", "HEAD"]).ok().json()["bump"], "none");
    repo.json(["diff", "--semantic", "--name-only"]).fails_with(exit::USAGE, "usage");
}

#[test]
fn semver_reports_recorded_and_computed_bumps() {
    let (repo, first) = repo_with_api();
    repo.write("lib/api.py", "def greet(name):\n    return name\n");
    let second = repo.commit_json("declared low", &["--bump", "patch"]);
    let json = repo.json(["semver"]).ok().json();
    assert_eq!(
        keys(&json),
        ["additions", "agrees", "breaking", "commit_id", "computed", "files", "parent", "recorded", "recorded_breaking", "recorded_source"]
    );
    assert_eq!((json["commit_id"].as_str(), json["parent"].as_str()), (second["commit_id"].as_str(), first["commit_id"].as_str()));
    assert_eq!(
        (json["recorded"].as_str(), json["recorded_source"].as_str(), json["computed"].as_str(), json["agrees"].as_bool()),
        (Some("patch"), Some("author"), Some("major"), Some(false))
    );
    assert_eq!(json["breaking"][0]["rule"], "param-removed");
    let text = repo.muse(["semver"]).ok().stdout;
    assert!(text.contains("recorded: patch (declared)") && text.contains("computed: major") && text.contains("⚠"), "{text}");
    let root = repo.json(["semver", "HEAD~1"]).ok().json();
    assert_eq!((&root["parent"], root["recorded_source"].as_str(), root["agrees"].as_bool()), (&Value::Null, Some("computed"), Some(true)));
    repo.json(["semver", "nope"]).fails_with(exit::NOT_FOUND, "not_found");

    // The symbol cache lives in the store; damaged entries are ignored and give the same answer.
    let cache = repo.path(".muse/code/symbols-v1");
    let mut entries = 0;
    for dir in std::fs::read_dir(&cache).unwrap() {
        for entry in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            std::fs::write(entry.unwrap().path(), b"{not json").unwrap();
            entries += 1;
        }
    }
    assert!(entries >= 2, "{entries} cache entries");
    assert_eq!(repo.json(["semver"]).ok().json(), json);
}
