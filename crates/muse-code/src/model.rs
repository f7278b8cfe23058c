//! What extraction produces: the symbols of one file, with their signatures and visibility.

use serde::{Deserialize, Serialize};

/// A language whose symbols muse knows how to extract (when its grammar is compiled in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Python (`.py`, `.pyi`).
    Python,
    /// Rust (`.rs`).
    Rust,
    /// TypeScript (`.ts`, `.mts`, `.cts`).
    TypeScript,
    /// TypeScript with JSX (`.tsx`).
    Tsx,
    /// JavaScript (`.js`, `.mjs`, `.cjs`, `.jsx`).
    JavaScript,
    /// Go (`.go`).
    Go,
}

impl Language {
    /// Every language, compiled in or not.
    pub const ALL: [Language; 6] = [Language::Python, Language::Rust, Language::TypeScript, Language::Tsx, Language::JavaScript, Language::Go];

    /// The language of a file, by its extension; `None` for other files and for languages whose
    /// grammar this build leaves out.
    pub fn of_path(path: &str) -> Option<Language> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let (_, ext) = name.rsplit_once('.')?;
        let language = match ext {
            "py" | "pyi" => Language::Python,
            "rs" => Language::Rust,
            "ts" | "mts" | "cts" => Language::TypeScript,
            "tsx" => Language::Tsx,
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "go" => Language::Go,
            _ => return None,
        };
        language.is_compiled_in().then_some(language)
    }

    /// Whether this build carries the language's grammar (cargo features of `muse-code`).
    pub fn is_compiled_in(self) -> bool {
        crate::extract::grammar(self).is_some()
    }

    /// The name used in JSON and text (`python`, `rust`, `typescript`, `tsx`, `javascript`, `go`).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
            Language::TypeScript => "typescript",
            Language::Tsx => "tsx",
            Language::JavaScript => "javascript",
            Language::Go => "go",
        }
    }

    /// Whether callers may pass arguments by name, so that a parameter's name is part of the
    /// API (Python keyword arguments); elsewhere only positions and types count.
    pub fn names_matter(self) -> bool {
        self == Language::Python
    }

    /// Whether a parameter or return type is enforced by the compiler, so that adding or dropping
    /// an annotation changes the signature (Rust, Go); in Python and TypeScript only a change
    /// between two written types counts.
    pub fn types_required(self) -> bool {
        matches!(self, Language::Rust | Language::Go)
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SymbolKind {
    /// A free function.
    Function,
    /// A function inside a class, impl block, trait or interface.
    Method,
    /// A class (Python, JavaScript, TypeScript).
    Class,
    /// A struct (Rust, Go) or union.
    Struct,
    /// An enum.
    Enum,
    /// A trait (Rust).
    Trait,
    /// An interface (TypeScript, Go).
    Interface,
    /// A type alias or other named type.
    Type,
    /// A constant or static.
    Constant,
    /// A module-level variable.
    Variable,
    /// A field of a struct or class, or a property of an interface.
    Field,
    /// An enum variant or member.
    Variant,
    /// A module declared inline (Rust `mod x { … }`, TypeScript `namespace`).
    Module,
    /// A macro (Rust `macro_rules!`).
    Macro,
}

impl SymbolKind {
    /// The name used in JSON and text.
    pub fn as_str(self) -> &'static str {
        match self {
            SymbolKind::Function => "function",
            SymbolKind::Method => "method",
            SymbolKind::Class => "class",
            SymbolKind::Struct => "struct",
            SymbolKind::Enum => "enum",
            SymbolKind::Trait => "trait",
            SymbolKind::Interface => "interface",
            SymbolKind::Type => "type",
            SymbolKind::Constant => "constant",
            SymbolKind::Variable => "variable",
            SymbolKind::Field => "field",
            SymbolKind::Variant => "variant",
            SymbolKind::Module => "module",
            SymbolKind::Macro => "macro",
        }
    }

    /// Whether the symbol takes parameters (its signature is a parameter list).
    pub fn is_callable(self) -> bool {
        matches!(self, SymbolKind::Function | SymbolKind::Method)
    }
}

impl std::fmt::Display for SymbolKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an argument reaches a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// By position (and, in Python, also by name).
    Positional,
    /// By position only (Python parameters before `/`).
    PositionalOnly,
    /// By name only (Python parameters after `*` or `*args`).
    KeywordOnly,
    /// Any number of positional arguments (`*args`, `...rest`, Go `...T`).
    VarPositional,
    /// Any number of keyword arguments (`**kwargs`).
    VarKeyword,
    /// The receiver: Python's `self`/`cls`, Rust's `self`, Go's method receiver.
    Receiver,
}

/// One parameter of a function or method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// Its name as written (a pattern's text when it is not a plain name).
    pub name: String,
    /// How arguments reach it.
    pub kind: ParamKind,
    /// Its type as written, whitespace collapsed (`None`: not annotated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// Its default value as written, whitespace collapsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Whether a caller may leave it out (a default, TypeScript `?`, or a variadic).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One symbol of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symbol {
    /// What it is.
    pub kind: SymbolKind,
    /// Its qualified name within the file: `Class.method` (Python, JavaScript, TypeScript, Go
    /// methods as `Type.Method`), `Type::method` and `module::item` (Rust).
    pub name: String,
    /// Visible outside its module by the language's own rule (Python: no `_` prefix and listed
    /// in `__all__` when the module has one; Rust: `pub`; Go: an upper-case initial;
    /// JavaScript/TypeScript: exported). Rules that depend on the file's path (a private module,
    /// Go's `internal/`, test files) are applied by the diff, not here.
    pub public: bool,
    /// The 1-based line where it starts.
    pub line: u32,
    /// Parameters of a function or method, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    /// The return type of a function, or the type of a field, constant or variant payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// Type parameters and bounds as written (Rust, Go, TypeScript).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generics: Option<String>,
    /// A member every implementation must define: a trait method without a default body, a Go
    /// interface method, a TypeScript interface member without `?`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// An enum that code outside may match exhaustively (a Rust enum without
    /// `#[non_exhaustive]`), so that a new variant breaks it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exhaustive: bool,
    /// A hash of the body's tokens (comments and layout left out, the name not included), in
    /// hex: equal bodies under different names are a rename.
    pub body: String,
}

impl Symbol {
    /// The last component of the qualified name.
    pub fn leaf(&self) -> &str {
        let cut = self.name.rfind(['.', ':']).map_or(0, |i| i + 1);
        &self.name[cut..]
    }

    /// The qualified name of the enclosing symbol (`None` at the top level).
    pub fn parent(&self) -> Option<&str> {
        let leaf = self.leaf().len();
        let rest = &self.name[..self.name.len() - leaf];
        let rest = rest.strip_suffix("::").or_else(|| rest.strip_suffix('.'))?;
        Some(rest)
    }

    /// The signature as one line: `name(a: int, b=1) -> str` for callables, `name: T` for typed
    /// fields and constants, the name alone otherwise.
    pub fn signature(&self) -> String {
        let mut out = self.name.clone();
        let (generics, clause) = match self.generics.as_deref().map(|g| g.split_once(" where ").map_or((g, None), |(g, w)| (g, Some(w)))) {
            Some((g, w)) => (g, w),
            None => ("", None),
        };
        out.push_str(generics);
        if self.kind.is_callable() {
            let params: Vec<String> = self.params.iter().map(render_param).collect();
            out.push('(');
            out.push_str(&params.join(", "));
            out.push(')');
            if let Some(ty) = &self.ty {
                out.push_str(" -> ");
                out.push_str(ty);
            }
        } else if let Some(ty) = &self.ty {
            out.push_str(": ");
            out.push_str(ty);
        }
        if let Some(clause) = clause {
            out.push_str(" where ");
            out.push_str(clause);
        }
        out
    }
}

fn render_param(p: &Param) -> String {
    // Rust's receiver is written whole (`&mut self`).
    if let (ParamKind::Receiver, Some(ty)) = (p.kind, &p.ty) {
        if ty.contains(p.name.as_str()) {
            return ty.clone();
        }
    }
    let mut out = match p.kind {
        ParamKind::VarPositional if !p.name.starts_with('*') && !p.name.starts_with("...") => format!("*{}", p.name),
        ParamKind::VarKeyword if !p.name.starts_with("**") => format!("**{}", p.name),
        _ => p.name.clone(),
    };
    if p.optional && p.default.is_none() && p.kind != ParamKind::VarPositional && p.kind != ParamKind::VarKeyword {
        out.push('?');
    }
    if let Some(ty) = &p.ty {
        out.push_str(": ");
        out.push_str(ty);
    }
    if let Some(default) = &p.default {
        out.push_str(" = ");
        out.push_str(default);
    }
    out
}

/// What extraction learned about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileSymbols {
    /// The file parsed: its symbols, in source order (names unique within the file).
    Parsed {
        /// The symbols.
        symbols: Vec<Symbol>,
        /// Whether the parser had to recover from syntax errors (the symbols are still those it
        /// found).
        #[serde(default, skip_serializing_if = "is_false")]
        syntax_errors: bool,
    },
    /// No symbol claims are made about the file.
    Unknown {
        /// Why.
        reason: UnknownReason,
    },
}

/// Why a file's symbols are not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownReason {
    /// Its language is not one muse extracts (or its grammar is not compiled in).
    UnknownLanguage,
    /// It is larger than [`crate::MAX_SOURCE_BYTES`].
    TooLarge,
    /// It holds a NUL byte (binary).
    Binary,
    /// The parser gave up (it reached its time limit).
    ParseFailed,
    /// It is a symbolic link.
    Symlink,
}

impl UnknownReason {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownReason::UnknownLanguage => "unknown_language",
            UnknownReason::TooLarge => "too_large",
            UnknownReason::Binary => "binary",
            UnknownReason::ParseFailed => "parse_failed",
            UnknownReason::Symlink => "symlink",
        }
    }
}

impl FileSymbols {
    /// The symbols, or `None` when they are unknown.
    pub fn symbols(&self) -> Option<&[Symbol]> {
        match self {
            FileSymbols::Parsed { symbols, .. } => Some(symbols),
            FileSymbols::Unknown { .. } => None,
        }
    }
}
