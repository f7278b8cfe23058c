//! The symbol diff of two snapshots' changed files, and the bump it implies.

use std::collections::{BTreeMap, HashMap, HashSet};

use muse_core::SemVerBump;
use serde::{Deserialize, Serialize};

use crate::model::{FileSymbols, Language, Symbol, SymbolKind, UnknownReason};
use crate::paths::{api_scope, is_documentation, is_outside_api, is_private_module};
use crate::rules::{compare, Rule};

/// One changed file, as extraction saw each side (`None`: the file is absent on that side).
#[derive(Debug, Clone)]
pub struct FileSides {
    /// The path.
    pub path: String,
    /// Its language, when muse extracts it.
    pub language: Option<Language>,
    /// Before.
    pub old: Option<FileSymbols>,
    /// After.
    pub new: Option<FileSymbols>,
}

/// A rule that fired, where, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's stable id (see [`Rule`]).
    pub rule: String,
    /// The bump it implies.
    pub bump: SemVerBump,
    /// The file: the old one for a symbol that was removed, renamed or moved (where callers
    /// found it), the new one otherwise.
    pub path: String,
    /// The symbol's 1-based line in that file.
    pub line: u32,
    /// The symbol's qualified name there.
    pub symbol: String,
    /// What changed, in words.
    pub detail: String,
}

impl Finding {
    /// The one-line form recorded in a commit's `breaking_changes`:
    /// `RULE PATH:LINE SYMBOL: DETAIL`.
    pub fn to_text(&self) -> String {
        format!("{} {}:{} {}: {}", self.rule, self.path, self.line, self.symbol, self.detail)
    }
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// New in the second snapshot.
    Added,
    /// Gone from the second snapshot.
    Deleted,
    /// In both, with different content.
    Modified,
}

/// How a symbol changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New.
    Added,
    /// Gone.
    Removed,
    /// The same body under another name.
    Renamed,
    /// The same body and name under another parent, module or file.
    Moved,
    /// Its kind changed (a function became a class, …).
    KindChanged,
    /// It became public or stopped being public.
    VisibilityChanged,
    /// Its parameters, types, type parameters or required-ness changed.
    SignatureChanged,
    /// Only its body changed.
    BodyChanged,
}

/// One changed symbol of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolChange {
    /// How it changed.
    pub change: ChangeKind,
    /// What it is (after the change; before, for a removed symbol).
    pub kind: SymbolKind,
    /// Its qualified name (after; before, for a removed symbol).
    pub symbol: String,
    /// Whether it is part of the public API (after; before, for a removed symbol): public by
    /// its language's rule, in a public module, outside tests and examples.
    pub public: bool,
    /// Its 1-based line (after; before, for a removed symbol).
    pub line: u32,
    /// Its signature (after; before, for a removed symbol).
    pub signature: String,
    /// The name it had, for a rename or move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_symbol: Option<String>,
    /// The file it was in, when it moved from another file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// Its line before, for a symbol that existed before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_line: Option<u32>,
    /// Its signature before, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_signature: Option<String>,
}

/// One changed file of a semantic diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDelta {
    /// The path.
    pub path: String,
    /// Its language, when muse extracts it.
    pub language: Option<Language>,
    /// How the file changed.
    pub status: FileStatus,
    /// Why no symbol claims are made about the file (`None`: its symbols were compared).
    pub unknown: Option<UnknownReason>,
    /// Whether the file can hold public API (not a test, example, script, or private module).
    pub api: bool,
    /// Its changed symbols, in order of line.
    pub changes: Vec<SymbolChange>,
}

/// The semantic diff of two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SemanticDiff {
    /// The computed bump: major if any breaking change, minor if any addition to the API, patch
    /// if any other file than documentation changed, none otherwise.
    pub bump: SemVerBump,
    /// The findings that imply a major bump.
    pub breaking: Vec<Finding>,
    /// The findings that imply a minor bump.
    pub additions: Vec<Finding>,
    /// Every changed file, sorted by path.
    pub files: Vec<FileDelta>,
}

/// One symbol of one side, with what the diff needs beside it.
struct Entry<'a> {
    path: &'a str,
    language: Language,
    symbol: &'a Symbol,
    /// Part of the public API (language rule, module and path rules).
    public: bool,
    /// The key of its parent symbol, if any.
    parent: Option<(&'a str, &'a str)>,
}

type Key<'a> = (&'a str, &'a str);

/// Computes the symbol diff and the bump of a set of changed files.
pub fn diff_files(files: &[FileSides]) -> SemanticDiff {
    let mut deltas: Vec<FileDelta> = files.iter().map(file_delta).collect();
    let mut old: BTreeMap<Key<'_>, Entry<'_>> = BTreeMap::new();
    let mut new: BTreeMap<Key<'_>, Entry<'_>> = BTreeMap::new();
    for (f, delta) in files.iter().zip(&deltas) {
        let Some(language) = f.language.filter(|_| delta.unknown.is_none()) else { continue };
        for (side, map) in [(&f.old, &mut old), (&f.new, &mut new)] {
            for symbol in side.as_ref().and_then(FileSymbols::symbols).unwrap_or_default() {
                let scope = api_scope(&f.path, Some(language));
                let public = symbol.public && delta.api;
                map.insert((scope, &symbol.name), Entry { path: &f.path, language, symbol, public, parent: symbol.parent().map(|p| (scope, p)) });
            }
        }
    }
    let mut findings: Vec<Finding> = Vec::new();
    let mut changes: Vec<(&str, SymbolChange)> = Vec::new();
    let mut removed: Vec<Key<'_>> = Vec::new();
    let mut added: Vec<Key<'_>> = Vec::new();
    for (key, o) in &old {
        match new.get(key) {
            Some(n) => matched(o, n, &mut findings, &mut changes),
            None => removed.push(*key),
        }
    }
    added.extend(new.keys().filter(|k| !old.contains_key(*k)).copied());
    let pairs = pair_renames(&old, &new, &removed, &added);
    let old_paired: HashMap<Key<'_>, Key<'_>> = pairs.iter().map(|(o, n)| (*o, *n)).collect();
    let new_paired: HashSet<Key<'_>> = pairs.iter().map(|(_, n)| *n).collect();
    let removed_set: HashSet<Key<'_>> = removed.iter().copied().collect();
    let added_set: HashSet<Key<'_>> = added.iter().copied().collect();
    for (ok, nk) in &pairs {
        let (o, n) = (&old[ok], &new[nk]);
        // A member that moved with its renamed or moved parent is covered by the parent, and so
        // is one whose parent was removed while the new parent was added (a class renamed while
        // it changed: reported as removed and added).
        let follows_parent = match (o.parent, n.parent) {
            (Some(op), Some(np)) => {
                old_paired.get(&op) == Some(&np)
                    || (removed_set.contains(&op) && !old_paired.contains_key(&op) && added_set.contains(&np) && !new_paired.contains(&np))
            }
            _ => false,
        };
        renamed(o, n, follows_parent, &mut findings, &mut changes);
    }
    for key in removed.iter().filter(|k| !old_paired.contains_key(*k)) {
        let o = &old[key];
        let parent_gone = o.parent.is_some_and(|p| removed_set.contains(&p) || old_paired.contains_key(&p));
        if o.public && !parent_gone {
            findings.push(finding(Rule::SymbolRemoved, o, format!("{} {} removed", o.symbol.kind, o.symbol.name)));
        }
        changes.push((o.path, change(ChangeKind::Removed, o, None)));
    }
    for key in added.iter().filter(|k| !new_paired.contains(*k)) {
        let n = &new[key];
        let parent_new = n.parent.is_some_and(|p| added_set.contains(&p) || new_paired.contains(&p));
        if n.public && !parent_new {
            let parent = n.parent.and_then(|p| old.get(&p)).filter(|p| p.public);
            let (rule, detail) = match parent {
                Some(p) if n.symbol.kind == SymbolKind::Variant && p.symbol.exhaustive => {
                    (Rule::VariantAdded, format!("variant {} added to an enum matched exhaustively", n.symbol.name))
                }
                Some(p) if n.symbol.required && matches!(p.symbol.kind, SymbolKind::Trait | SymbolKind::Interface | SymbolKind::Class) => {
                    (Rule::RequiredMemberAdded, format!("required {} {} added", n.symbol.kind, n.symbol.name))
                }
                _ => (Rule::SymbolAdded, format!("{} {} added", n.symbol.kind, n.symbol.name)),
            };
            findings.push(finding(rule, n, detail));
        }
        changes.push((n.path, change(ChangeKind::Added, n, None)));
    }
    let at: HashMap<&str, usize> = files.iter().enumerate().map(|(i, f)| (f.path.as_str(), i)).collect();
    for (path, c) in changes {
        if let Some(&i) = at.get(path) {
            deltas[i].changes.push(c);
        }
    }
    for d in &mut deltas {
        d.changes.sort_by(|a, b| (a.line, &a.symbol).cmp(&(b.line, &b.symbol)));
    }
    findings.sort_by(|a, b| (&a.path, a.line, &a.symbol, &a.rule).cmp(&(&b.path, b.line, &b.symbol, &b.rule)));
    findings.dedup();
    let code_changed = files.iter().any(|f| !is_documentation(&f.path));
    let bump = findings.iter().map(|f| f.bump).max().unwrap_or(if code_changed { SemVerBump::Patch } else { SemVerBump::None });
    let (breaking, additions) = findings.into_iter().partition(|f| f.bump == SemVerBump::Major);
    SemanticDiff { bump, breaking, additions, files: deltas }
}

/// The delta of a file before its symbols are compared.
fn file_delta(f: &FileSides) -> FileDelta {
    let status = match (&f.old, &f.new) {
        (None, _) => FileStatus::Added,
        (_, None) => FileStatus::Deleted,
        _ => FileStatus::Modified,
    };
    let unknown = [&f.old, &f.new].into_iter().flatten().find_map(|s| match s {
        FileSymbols::Unknown { reason } => Some(*reason),
        FileSymbols::Parsed { .. } => None,
    });
    let unknown = unknown.or(if f.language.is_none() { Some(UnknownReason::UnknownLanguage) } else { None });
    let api = !is_outside_api(&f.path) && !f.language.is_some_and(|l| is_private_module(&f.path, l));
    FileDelta { path: f.path.clone(), language: f.language, status, unknown, api, changes: Vec::new() }
}

/// Compares a symbol present on both sides under the same key.
fn matched<'a>(o: &Entry<'a>, n: &Entry<'a>, findings: &mut Vec<Finding>, changes: &mut Vec<(&'a str, SymbolChange)>) {
    let (a, b) = (o.symbol, n.symbol);
    let signature_changed = a.kind != b.kind || a.params != b.params || a.ty != b.ty || a.generics != b.generics || a.required != b.required;
    let kind = if a.kind != b.kind && !(a.kind.is_callable() && b.kind.is_callable()) {
        ChangeKind::KindChanged
    } else if o.public != n.public {
        ChangeKind::VisibilityChanged
    } else if signature_changed {
        ChangeKind::SignatureChanged
    } else if a.body != b.body || a.exhaustive != b.exhaustive {
        ChangeKind::BodyChanged
    } else {
        return;
    };
    if o.public && !n.public {
        findings.push(finding(Rule::VisibilityReduced, o, format!("{} {} is no longer public", a.kind, a.name)));
    } else if !o.public && n.public {
        findings.push(finding(Rule::SymbolAdded, n, format!("{} {} became public", b.kind, b.name)));
    }
    if o.public && n.public {
        for (rule, detail) in compare(n.language, a, b) {
            findings.push(finding(rule, n, detail));
        }
    }
    changes.push((n.path, change(kind, n, Some(o))));
}

/// Reports a removed symbol paired with an added one of the same body.
fn renamed<'a>(o: &Entry<'a>, n: &Entry<'a>, follows_parent: bool, findings: &mut Vec<Finding>, changes: &mut Vec<(&'a str, SymbolChange)>) {
    let moved = o.symbol.leaf() == n.symbol.leaf();
    let kind = if moved { ChangeKind::Moved } else { ChangeKind::Renamed };
    if o.public && !follows_parent {
        let place = if o.path == n.path { String::new() } else { format!(" in {}", n.path) };
        let (rule, what) = if moved { (Rule::SymbolMoved, "moved to") } else { (Rule::SymbolRenamed, "renamed to") };
        findings.push(finding(rule, o, format!("{} {} {what} {}{place}", o.symbol.kind, o.symbol.name, n.symbol.name)));
    } else if !o.public && n.public {
        findings.push(finding(Rule::SymbolAdded, n, format!("{} {} added", n.symbol.kind, n.symbol.name)));
    }
    if o.public && n.public {
        // A method moved to another type takes that type as its receiver: not a change of its own.
        let other_parent = o.symbol.parent() != n.symbol.parent();
        for (rule, detail) in compare(n.language, o.symbol, n.symbol) {
            if !(other_parent && rule == Rule::ReceiverChanged) {
                findings.push(finding(rule, n, detail));
            }
        }
    }
    let mut c = change(kind, n, Some(o));
    c.old_symbol = Some(o.symbol.name.clone());
    c.old_path = (o.path != n.path).then(|| o.path.to_string());
    changes.push((n.path, c));
}

/// Pairs removed and added symbols with the same non-empty body and a compatible kind, when the
/// pair is the only one with that body.
fn pair_renames<'a>(old: &BTreeMap<Key<'a>, Entry<'a>>, new: &BTreeMap<Key<'a>, Entry<'a>>, removed: &[Key<'a>], added: &[Key<'a>]) -> Vec<(Key<'a>, Key<'a>)> {
    let empty = crate::extract::empty_body_hash();
    let group = |s: &Symbol| if s.kind.is_callable() { SymbolKind::Function } else { s.kind };
    // (body hash, kind group) → (removed keys, added keys)
    type Candidates<'a> = (Vec<Key<'a>>, Vec<Key<'a>>);
    let mut by_body: HashMap<(&str, SymbolKind), Candidates<'a>> = HashMap::new();
    for k in removed {
        let s = old[k].symbol;
        if s.body != empty {
            by_body.entry((s.body.as_str(), group(s))).or_default().0.push(*k);
        }
    }
    for k in added {
        let s = new[k].symbol;
        if s.body != empty {
            if let Some(entry) = by_body.get_mut(&(s.body.as_str(), group(s))) {
                entry.1.push(*k);
            }
        }
    }
    let mut pairs: Vec<(Key<'a>, Key<'a>)> = by_body.into_values().filter(|(o, n)| o.len() == 1 && n.len() == 1).map(|(o, n)| (o[0], n[0])).collect();
    pairs.sort();
    pairs
}

fn finding(rule: Rule, e: &Entry<'_>, detail: String) -> Finding {
    Finding { rule: rule.id().to_string(), bump: rule.bump(), path: e.path.to_string(), line: e.symbol.line, symbol: e.symbol.name.clone(), detail }
}

fn change(kind: ChangeKind, e: &Entry<'_>, before: Option<&Entry<'_>>) -> SymbolChange {
    let signature = e.symbol.signature();
    let old_signature = before.map(|b| b.symbol.signature()).filter(|s| *s != signature);
    SymbolChange {
        change: kind,
        kind: e.symbol.kind,
        symbol: e.symbol.name.clone(),
        public: e.public,
        line: e.symbol.line,
        signature,
        old_symbol: None,
        old_path: None,
        old_line: before.map(|b| b.symbol.line),
        old_signature,
    }
}
