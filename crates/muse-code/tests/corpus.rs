//! Extraction on real code: files of the corpus histories (`shared/corpus`, read with git at
//! pinned tags) against symbol lists checked by hand against the source (line, visibility,
//! kind, signature).

use std::path::{Path, PathBuf};
use std::process::Command;

use muse_code::{extract, FileSymbols, Language};

/// The corpus directory: `$MUSE_CORPUS`, else `shared/corpus` beside the checkout (or beside
/// its parent, for a worktree one level down).
fn corpus() -> PathBuf {
    if let Some(dir) = std::env::var_os("MUSE_CORPUS") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [root.join("../shared/corpus"), root.join("../../shared/corpus")];
    candidates.iter().find(|d| d.join("requests.bundle").is_file()).cloned().unwrap_or_else(|| panic!("no corpus at {candidates:?} (set MUSE_CORPUS)"))
}

/// The file `path` at `rev` of the corpus history `name`.
fn file_at(dir: &Path, name: &str, rev: &str, path: &str) -> Vec<u8> {
    let git_dir = dir.join(format!("{name}.git"));
    if !git_dir.exists() {
        let bundle = corpus().join(format!("{name}.bundle"));
        let status = Command::new("git").args(["clone", "--quiet", "--mirror"]).arg(&bundle).arg(&git_dir).status().expect("git runs");
        assert!(status.success(), "git clone {}", bundle.display());
    }
    let out = Command::new("git").arg("--git-dir").arg(&git_dir).args(["show", &format!("{rev}:{path}")]).output().expect("git runs");
    assert!(out.status.success(), "git show {rev}:{path}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// One line per symbol: `LINE pub|priv KIND SIGNATURE`.
fn listing(path: &str, bytes: &[u8]) -> Vec<String> {
    let language = Language::of_path(path).expect("known language");
    match extract(language, bytes) {
        FileSymbols::Parsed { symbols, syntax_errors } => {
            assert!(!syntax_errors, "{path} parses without errors");
            symbols.iter().map(|s| format!("{} {} {} {}", s.line, if s.public { "pub" } else { "priv" }, s.kind, s.signature())).collect()
        }
        other => panic!("{path}: {other:?}"),
    }
}

#[track_caller]
fn assert_all(got: &[String], expected: &[&str]) {
    assert_eq!(got, expected, "\ngot:\n{}", got.join("\n"));
}

#[track_caller]
fn assert_contains(got: &[String], expected: &[&str]) {
    for line in expected {
        assert!(got.iter().any(|g| g == line), "missing {line:?} in:\n{}", got.join("\n"));
    }
}

#[test]
fn python_requests() {
    let dir = tempfile::tempdir().unwrap();
    let api = listing("requests/api.py", &file_at(dir.path(), "requests", "v2.31.0", "requests/api.py"));
    assert_all(
        &api,
        &[
            "14 pub function request(method, url, **kwargs)",
            "62 pub function get(url, params = None, **kwargs)",
            "76 pub function options(url, **kwargs)",
            "88 pub function head(url, **kwargs)",
            "103 pub function post(url, data = None, json = None, **kwargs)",
            "118 pub function put(url, data = None, **kwargs)",
            "133 pub function patch(url, data = None, **kwargs)",
            "148 pub function delete(url, **kwargs)",
        ],
    );
    let structures = listing("requests/structures.py", &file_at(dir.path(), "requests", "v2.31.0", "requests/structures.py"));
    assert_all(
        &structures,
        &[
            "13 pub class CaseInsensitiveDict",
            "40 pub method CaseInsensitiveDict.__init__(self, data = None, **kwargs)",
            "46 pub method CaseInsensitiveDict.__setitem__(self, key, value)",
            "51 pub method CaseInsensitiveDict.__getitem__(self, key)",
            "54 pub method CaseInsensitiveDict.__delitem__(self, key)",
            "57 pub method CaseInsensitiveDict.__iter__(self)",
            "60 pub method CaseInsensitiveDict.__len__(self)",
            "63 pub method CaseInsensitiveDict.lower_items(self)",
            "67 pub method CaseInsensitiveDict.__eq__(self, other)",
            "76 pub method CaseInsensitiveDict.copy(self)",
            "79 pub method CaseInsensitiveDict.__repr__(self)",
            "83 pub class LookupDict",
            "86 pub method LookupDict.__init__(self, name = None)",
            "90 pub method LookupDict.__repr__(self)",
            "93 pub method LookupDict.__getitem__(self, key)",
            "98 pub method LookupDict.get(self, key, default = None)",
        ],
    );
    let models = listing("requests/models.py", &file_at(dir.path(), "requests", "v2.31.0", "requests/models.py"));
    assert_contains(
        &models,
        &[
            "71 pub constant REDIRECT_STATI",
            "81 pub constant ITER_CHUNK_SIZE",
            "641 pub class Response",
            "646 priv field Response.__attrs__",
            "756 pub method Response.ok(self)",
            "853 pub method Response.iter_lines(self, chunk_size = ITER_CHUNK_SIZE, decode_unicode = False, delimiter = None)",
            "944 pub method Response.json(self, **kwargs)",
        ],
    );
    let sessions = listing("requests/sessions.py", &file_at(dir.path(), "requests", "v2.31.0", "requests/sessions.py"));
    assert_contains(
        &sessions,
        &[
            "61 pub function merge_setting(request_setting, session_setting, dict_class = OrderedDict)",
            "502 pub method Session.request(self, method, url, params = None, data = None, headers = None, cookies = None, files = None, auth = None, timeout = None, allow_redirects = True, proxies = None, hooks = None, stream = None, verify = None, cert = None, json = None)",
            "821 pub function session()",
        ],
    );
}

#[test]
fn rust_ripgrep() {
    let dir = tempfile::tempdir().unwrap();
    let path = "crates/matcher/src/interpolate.rs";
    let interpolate = listing(path, &file_at(dir.path(), "ripgrep", "14.1.0", path));
    assert_all(
        &interpolate,
        &[
            "14 pub function interpolate<A, N>(replacement: &[u8], append: A, name_to_index: N, dst: &mut Vec<u8>) where A: FnMut(usize, &mut Vec<u8>), N: FnMut(&str) -> Option<usize>,",
            "64 priv struct CaptureRef<'a>",
            "65 priv field CaptureRef.cap: Ref<'a>",
            "66 priv field CaptureRef.end: usize",
            "73 priv enum Ref<'a>",
            "74 priv variant Ref::Named: (&'a str)",
            "75 priv variant Ref::Number: (usize)",
            "80 priv method <Ref<'a> as From<&'a str>>::from(x: &'a str) -> Ref<'a>",
            "87 priv method <Ref<'static> as From<usize>>::from(x: usize) -> Ref<'static>",
            "97 priv function find_cap_ref(replacement: &[u8]) -> Option<CaptureRef<'_>>",
            "138 priv function is_valid_cap_letter(b: &u8) -> bool",
            "146 priv module tests",
            "149 priv macro tests::find",
            "164 priv macro tests::c",
            "185 priv function tests::interpolate_string(name_to_index: Vec<(&'static str, usize)>, caps: Vec<&'static str>, replacement: &str) -> String",
            "211 priv macro tests::interp",
        ],
    );
    let path = "crates/globset/src/lib.rs";
    let globset = listing(path, &file_at(dir.path(), "ripgrep", "14.1.0", path));
    assert_contains(
        &globset,
        &[
            "144 pub struct Error",
            "153 pub enum ErrorKind",
            "301 pub struct GlobSet",
            "302 priv field GlobSet.len: usize",
            "311 pub method GlobSet::builder() -> GlobSetBuilder",
            "334 pub method GlobSet::is_match<P: AsRef<Path>>(&self, path: P) -> bool",
            "380 pub method GlobSet::matches_into<P: AsRef<Path>>(&self, path: P, into: &mut Vec<usize>)",
            "413 priv method GlobSet::new(pats: &[Glob]) -> Result<GlobSet, Error>",
            "483 pub method <GlobSet as Default>::default() -> Self",
            "511 pub method GlobSetBuilder::add(&mut self, pat: Glob) -> &mut GlobSetBuilder",
            "567 priv enum GlobSetMatchStrategy",
        ],
    );
}
