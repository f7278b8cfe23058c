//! What a file's path says about its symbols: documentation (no code), code outside the public
//! API (tests, examples, benchmarks, scripts, build scripts, binaries), and modules private by
//! their language's rule.

use crate::model::Language;

/// Directory names whose files are never part of a public API.
const OUTSIDE_API_DIRS: &[&str] = &[
    "tests",
    "test",
    "testing",
    "testsuite",
    "__tests__",
    "examples",
    "example",
    "benches",
    "bench",
    "benchmarks",
    "scripts",
    "tools",
    "docs",
    "doc",
    "fuzz",
    "e2e",
];

/// Whether the file is documentation (a changed documentation file alone computes `none`):
/// Markdown, reStructuredText, AsciiDoc and plain text files, the usual top-level notes (README,
/// LICENSE, CHANGELOG, AUTHORS, …, with any extension), and everything under a top-level `docs/`
/// or `doc/` directory (its Sphinx configuration and images included).
pub fn is_documentation(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    if matches!(ext.to_ascii_lowercase().as_str(), "md" | "markdown" | "rst" | "txt" | "adoc" | "asciidoc") {
        return true;
    }
    if matches!(path.split('/').next(), Some("docs" | "doc")) && path.contains('/') {
        return true;
    }
    let stem = stem.to_ascii_uppercase();
    ["README", "LICENSE", "LICENCE", "COPYING", "AUTHORS", "CONTRIBUTORS", "NOTICE", "CHANGES", "CHANGELOG", "HISTORY", "NEWS"].contains(&stem.as_str())
}

/// Whether the file's symbols are outside the public API whatever their visibility: tests,
/// examples, benchmarks, scripts and documentation directories, test files by each language's
/// naming (`test_*.py`, `*_test.py`, `conftest.py`, `*_test.go`, `*.test.ts`, `*.spec.js`, …),
/// Python's `setup.py`, Rust build scripts and binaries (`build.rs`, `main.rs`, `src/bin/`).
pub fn is_outside_api(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let (name, dirs) = parts.split_last().map_or(("", &[][..]), |(n, d)| (*n, d));
    if dirs.iter().any(|d| OUTSIDE_API_DIRS.contains(d)) {
        return true;
    }
    if dirs.windows(2).any(|w| w == ["src", "bin"]) {
        return true;
    }
    let stem = name.split('.').next().unwrap_or(name);
    let test_js = [".test.", ".spec."].iter().any(|m| name.contains(m));
    stem.starts_with("test_")
        || stem.ends_with("_test")
        || stem.ends_with("_tests")
        || matches!(name, "conftest.py" | "setup.py" | "noxfile.py" | "build.rs" | "main.rs")
        || test_js
}

/// Whether the module itself is private by its language's rule, hiding every symbol in it:
/// Python modules and packages whose name starts with `_` (but not `__init__.py`), Go packages
/// under an `internal` directory.
pub fn is_private_module(path: &str, language: Language) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    match language {
        Language::Python => parts.iter().enumerate().any(|(i, part)| {
            let name = if i + 1 == parts.len() { part.split('.').next().unwrap_or(part) } else { part };
            name.starts_with('_') && name != "__init__"
        }),
        Language::Go => parts[..parts.len().saturating_sub(1)].contains(&"internal"),
        _ => false,
    }
}

/// The scope in which a symbol's name must be unique and stay the same for callers: the file
/// (a module in Python, JavaScript, TypeScript and Rust), or its directory (a package in Go, where
/// moving a function between files of a package changes nothing for callers). A Python file's
/// scope is its module: the path without a leading `src/` (the "src layout": `src/pkg/mod.py` is
/// imported as `pkg.mod`), its `.py`/`.pyi` extension and a trailing `/__init__` (`pkg.py` and
/// `pkg/__init__.py` are both module `pkg`), so such moves change nothing for callers.
pub fn api_scope(path: &str, language: Option<Language>) -> &str {
    match language {
        Some(Language::Go) => path.rsplit_once('/').map_or("", |(dir, _)| dir),
        Some(Language::Python) => {
            let module = path.strip_prefix("src/").unwrap_or(path);
            let module = module.strip_suffix(".py").or_else(|| module.strip_suffix(".pyi")).unwrap_or(module);
            module.strip_suffix("/__init__").unwrap_or(module)
        }
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_classified() {
        assert!(is_documentation("README.md") && is_documentation("docs/api.rst") && is_documentation("LICENSE") && is_documentation("CHANGES"));
        assert!(is_documentation("docs/conf.py") && !is_documentation("docs.py") && is_outside_api("flask/testsuite/helpers.py"));
        assert!(!is_documentation("src/lib.rs") && !is_documentation("setup.cfg"));
        assert!(is_outside_api("tests/test_api.py") && is_outside_api("pkg/test_x.py") && is_outside_api("a/b_test.go"));
        assert!(is_outside_api("src/main.rs") && is_outside_api("src/bin/tool.rs") && is_outside_api("web/app.spec.ts"));
        assert!(!is_outside_api("requests/api.py") && !is_outside_api("src/lib.rs") && !is_outside_api("testament.py"));
        assert!(is_private_module("requests/_internal_utils.py", Language::Python) && is_private_module("_vendor/x.py", Language::Python));
        assert!(!is_private_module("requests/__init__.py", Language::Python) && !is_private_module("requests/api.py", Language::Python));
        assert!(is_private_module("x/internal/y/z.go", Language::Go) && !is_private_module("x/internal.go", Language::Go));
        assert_eq!(api_scope("a/b/c.go", Some(Language::Go)), "a/b");
        assert_eq!(api_scope("a/b/c.py", Some(Language::Python)), "a/b/c");
        assert_eq!(api_scope("src/flask/app.py", Some(Language::Python)), "flask/app");
        assert_eq!(api_scope("src/flask/__init__.py", Some(Language::Python)), api_scope("flask.py", Some(Language::Python)));
    }
}
