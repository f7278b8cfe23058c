//! Symbol extraction: parse a file with its tree-sitter grammar and walk the tree for the
//! definitions each language's module explains.
// A build with only some grammars leaves some helpers unused.
#![cfg_attr(
    not(all(feature = "python", feature = "rust", feature = "typescript", feature = "javascript", feature = "go")),
    allow(dead_code, unused_variables, unused_mut)
)]

#[cfg(any(feature = "javascript", feature = "typescript"))]
mod ecma;
#[cfg(feature = "go")]
mod go;
#[cfg(feature = "python")]
mod python;
#[cfg(feature = "rust")]
mod rust;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tree_sitter::{Node, ParseOptions, Parser};

use crate::model::{FileSymbols, Language, Symbol, UnknownReason};

/// Files larger than this are not parsed: they get no symbol claims (`too_large`).
pub const MAX_SOURCE_BYTES: usize = 1 << 20;

/// How long one file may take to parse before the parser gives up (`parse_failed`).
const PARSE_BUDGET: Duration = Duration::from_secs(2);

/// Definitions nested deeper than this (classes in classes, modules in modules) are not walked.
const MAX_NESTING: usize = 16;

/// Bumped whenever extraction would give a different answer for the same bytes: it names the
/// cache's directory, so entries of an older extractor are never read.
pub const EXTRACTOR_VERSION: u32 = 1;

/// The grammar of `language`, when this build carries it.
pub(crate) fn grammar(language: Language) -> Option<tree_sitter::Language> {
    match language {
        #[cfg(feature = "python")]
        Language::Python => Some(tree_sitter_python::LANGUAGE.into()),
        #[cfg(feature = "rust")]
        Language::Rust => Some(tree_sitter_rust::LANGUAGE.into()),
        #[cfg(feature = "typescript")]
        Language::TypeScript => Some(tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()),
        #[cfg(feature = "typescript")]
        Language::Tsx => Some(tree_sitter_typescript::LANGUAGE_TSX.into()),
        #[cfg(feature = "javascript")]
        Language::JavaScript => Some(tree_sitter_javascript::LANGUAGE.into()),
        #[cfg(feature = "go")]
        Language::Go => Some(tree_sitter_go::LANGUAGE.into()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Extracts the symbols of one file of `language` from its bytes. Never panics, whatever the
/// bytes: invalid UTF-8 is read lossily, syntax errors are recovered from (the symbols found are
/// kept and `syntax_errors` is set), and a file too large, binary, or too slow to parse gets no
/// symbol claims.
pub fn extract(language: Language, source: &[u8]) -> FileSymbols {
    if source.len() > MAX_SOURCE_BYTES {
        return FileSymbols::Unknown { reason: UnknownReason::TooLarge };
    }
    if source.contains(&0) {
        return FileSymbols::Unknown { reason: UnknownReason::Binary };
    }
    let Some(grammar) = grammar(language) else {
        return FileSymbols::Unknown { reason: UnknownReason::UnknownLanguage };
    };
    let text = String::from_utf8_lossy(source);
    let mut parser = Parser::new();
    if parser.set_language(&grammar).is_err() {
        return FileSymbols::Unknown { reason: UnknownReason::ParseFailed };
    }
    let bytes = text.as_bytes();
    let started = Instant::now();
    let mut give_up = |_: &tree_sitter::ParseState| if started.elapsed() > PARSE_BUDGET { ControlFlow::Break(()) } else { ControlFlow::Continue(()) };
    let options = ParseOptions::new().progress_callback(&mut give_up);
    let Some(tree) = parser.parse_with_options(&mut |i, _| bytes.get(i..).unwrap_or_default(), None, Some(options)) else {
        return FileSymbols::Unknown { reason: UnknownReason::ParseFailed };
    };
    let root = tree.root_node();
    let src = Src { text: &text };
    let mut out = Out::default();
    match language {
        #[cfg(feature = "python")]
        Language::Python => python::extract(&src, root, &mut out),
        #[cfg(feature = "rust")]
        Language::Rust => rust::extract(&src, root, &mut out),
        #[cfg(feature = "typescript")]
        Language::TypeScript | Language::Tsx => ecma::extract(&src, root, &mut out, true),
        #[cfg(feature = "javascript")]
        Language::JavaScript => ecma::extract(&src, root, &mut out, false),
        #[cfg(feature = "go")]
        Language::Go => go::extract(&src, root, &mut out),
        #[allow(unreachable_patterns)]
        _ => {}
    }
    FileSymbols::Parsed { symbols: out.symbols, syntax_errors: root.has_error() }
}

/// The source text being walked.
pub(crate) struct Src<'a> {
    pub text: &'a str,
}

impl<'a> Src<'a> {
    /// The text of a node (empty if its range is not on character boundaries).
    pub fn text(&self, node: Node<'_>) -> &'a str {
        self.text.get(node.byte_range()).unwrap_or("")
    }

    /// The text of a node with every run of whitespace made one space.
    pub fn norm(&self, node: Node<'_>) -> String {
        norm(self.text(node))
    }

    /// The text of the field `field` of `node`, whitespace collapsed.
    pub fn field_norm(&self, node: Node<'_>, field: &str) -> Option<String> {
        node.child_by_field_name(field).map(|n| self.norm(n))
    }

    /// The text of the field `field` of `node`.
    pub fn field(&self, node: Node<'_>, field: &str) -> Option<&'a str> {
        node.child_by_field_name(field).map(|n| self.text(n))
    }

    /// A hash of the tokens under `node` (comments left out), in hex: the same code laid out
    /// differently hashes the same. `None` hashes as the empty body.
    pub fn body_hash(&self, node: Option<Node<'_>>) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"muse-body 1\n");
        if let Some(node) = node {
            self.hash_tokens(node, &mut hasher);
        }
        hex::encode(&hasher.finalize()[..16])
    }

    /// Feeds every leaf under `node` (iteratively, comments skipped) to `hasher`.
    fn hash_tokens(&self, node: Node<'_>, hasher: &mut Sha256) {
        let mut cursor = node.walk();
        loop {
            let current = cursor.node();
            let comment = current.kind().contains("comment");
            if !comment && current.child_count() > 0 && cursor.goto_first_child() {
                continue;
            }
            if !comment && current.child_count() == 0 {
                hasher.update(self.text(current).as_bytes());
                hasher.update([0]);
            }
            loop {
                if cursor.node() == node {
                    return;
                }
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return;
                }
            }
        }
    }
}

/// `text` with every run of whitespace made one space, trimmed.
pub(crate) fn norm(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The 1-based line a node starts on.
pub(crate) fn line(node: Node<'_>) -> u32 {
    u32::try_from(node.start_position().row).unwrap_or(u32::MAX - 1) + 1
}

/// The named children of a node, collected (tree-sitter's iterator borrows a cursor).
pub(crate) fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// All children of a node, anonymous tokens included.
pub(crate) fn children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

/// Whether `depth` is still within [`MAX_NESTING`].
pub(crate) fn within_nesting(depth: usize) -> bool {
    depth < MAX_NESTING
}

/// The symbols found so far, with names kept unique: a second definition of a name (an
/// overload, a property's setter, a conditional redefinition) is folded into the first, whose
/// signature stands, and its body joins the first's hash.
#[derive(Default)]
pub(crate) struct Out {
    pub symbols: Vec<Symbol>,
    index: HashMap<String, usize>,
}

impl Out {
    /// Adds a symbol (folding it into an earlier one of the same name).
    pub fn push(&mut self, symbol: Symbol) {
        match self.index.get(&symbol.name) {
            Some(&at) => {
                let first = &mut self.symbols[at];
                let mut hasher = Sha256::new();
                hasher.update(first.body.as_bytes());
                hasher.update(symbol.body.as_bytes());
                first.body = hex::encode(&hasher.finalize()[..16]);
            }
            None => {
                self.index.insert(symbol.name.clone(), self.symbols.len());
                self.symbols.push(symbol);
            }
        }
    }
}

/// A symbol with only the fields every language sets; the rest default.
pub(crate) fn symbol(kind: crate::model::SymbolKind, name: String, public: bool, node: Node<'_>, body: String) -> Symbol {
    Symbol { kind, name, public, line: line(node), params: Vec::new(), ty: None, generics: None, required: false, exhaustive: false, body }
}

/// The body hash of a symbol without a body (a trait method's signature, an interface member):
/// such symbols are never paired as renames.
pub(crate) fn empty_body_hash() -> String {
    Src { text: "" }.body_hash(None)
}
