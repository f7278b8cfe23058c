//! Extraction never panics, whatever the bytes: random bytes, random code-like text, and deeply
//! nested input through every grammar compiled in.

use muse_code::{extract, FileSymbols, Language};
use proptest::prelude::*;

/// Tokens that reach deep into every grammar's rules.
const PIECES: &[&str] = &[
    "def ",
    "class ",
    "fn ",
    "pub ",
    "impl ",
    "trait ",
    "struct ",
    "enum ",
    "func ",
    "type ",
    "interface ",
    "export ",
    "const ",
    "let ",
    "var ",
    "mod ",
    "function ",
    "package main\n",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    ":",
    ";",
    ",",
    "=",
    "*",
    "**",
    "/",
    "?",
    "=>",
    "->",
    "...",
    "@",
    "#",
    "&",
    "'",
    "\"",
    "`",
    "\\",
    "\n",
    "    ",
    "\t",
    "x",
    "A",
    "_y",
    "self",
    "this",
    "0",
    "__all__",
    "#[non_exhaustive]",
    "async ",
    "static ",
    "private ",
];

fn check(language: Language, bytes: &[u8]) {
    if let FileSymbols::Parsed { symbols, .. } = extract(language, bytes) {
        for s in symbols {
            assert!(s.line >= 1 && !s.body.is_empty());
            let _ = s.signature();
        }
    }
}

fn languages() -> Vec<Language> {
    Language::ALL.into_iter().filter(|l| l.is_compiled_in()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        // Without NUL bytes, so that the bytes reach the parser instead of being taken for binary.
        let text: Vec<u8> = bytes.iter().map(|b| (*b).max(1)).collect();
        for language in languages() {
            check(language, &bytes);
            check(language, &text);
        }
    }

    #[test]
    fn random_code(pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..400)) {
        let text: String = pieces.concat();
        for language in languages() {
            check(language, text.as_bytes());
        }
    }
}

#[test]
fn deep_nesting_and_limits() {
    let deep: Vec<String> = vec![
        "(".repeat(100_000),
        "[".repeat(100_000) + &"]".repeat(100_000),
        "mod a { ".repeat(5_000),
        (0..2_000).map(|i| format!("{}class C{i}:\n", "    ".repeat(i))).collect(),
        "namespace N { ".repeat(5_000),
        "{".repeat(100_000),
        "func f() { ".repeat(5_000),
    ];
    for language in languages() {
        for text in &deep {
            check(language, text.as_bytes());
        }
    }
    assert_eq!(languages().len(), Language::ALL.len(), "every grammar is compiled in for the tests");
    let big = "x = 1\n".repeat(200_000);
    assert_eq!(extract(Language::Python, big.as_bytes()), FileSymbols::Unknown { reason: muse_code::UnknownReason::TooLarge });
    assert_eq!(extract(Language::Python, b"def f():\0 pass"), FileSymbols::Unknown { reason: muse_code::UnknownReason::Binary });
}
