//! The rules that turn symbol changes into a bump. Each has a stable id (never renamed or reused;
//! docs/cli.md lists them) and the bump it implies.

use muse_core::SemVerBump;
use serde::{Serialize, Serializer};

use crate::model::{Language, Param, ParamKind, Symbol, SymbolKind};

/// A rule of the computed bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A public symbol was removed.
    SymbolRemoved,
    /// A public symbol was renamed (the same body under another name).
    SymbolRenamed,
    /// A public symbol moved to another class, module or file (same body, same name).
    SymbolMoved,
    /// A public symbol is no longer public.
    VisibilityReduced,
    /// A public symbol became another kind of symbol (a function became a class, …).
    KindChanged,
    /// A parameter of a public function was removed.
    ParamRemoved,
    /// A parameter that callers may pass by name was renamed (Python).
    ParamRenamed,
    /// A required parameter was added.
    ParamRequiredAdded,
    /// A parameter that had a default lost it.
    ParamBecameRequired,
    /// A parameter moved to another position.
    ParamReordered,
    /// A parameter can no longer be passed as before (by position, or by name).
    ParamKindChanged,
    /// A parameter's type changed.
    ParamTypeChanged,
    /// A function's return type changed.
    ReturnTypeChanged,
    /// A method's receiver changed (`&self` → `&mut self`, a Go value receiver → pointer, a
    /// Python method → staticmethod).
    ReceiverChanged,
    /// Type parameters or their bounds changed.
    GenericsChanged,
    /// The type of a public field, constant, alias or variant payload changed.
    TypeChanged,
    /// A member every implementation must define was added to a public trait or interface (or
    /// an existing one became required).
    RequiredMemberAdded,
    /// A variant was added to a public enum that code may match exhaustively (Rust).
    VariantAdded,
    /// A public symbol was added, or became public.
    SymbolAdded,
    /// An optional parameter was added (a default, `?`, or a variadic).
    ParamOptionalAdded,
}

impl Rule {
    /// Every rule, in id order of the documentation.
    pub const ALL: [Rule; 20] = [
        Rule::SymbolRemoved,
        Rule::SymbolRenamed,
        Rule::SymbolMoved,
        Rule::VisibilityReduced,
        Rule::KindChanged,
        Rule::ParamRemoved,
        Rule::ParamRenamed,
        Rule::ParamRequiredAdded,
        Rule::ParamBecameRequired,
        Rule::ParamReordered,
        Rule::ParamKindChanged,
        Rule::ParamTypeChanged,
        Rule::ReturnTypeChanged,
        Rule::ReceiverChanged,
        Rule::GenericsChanged,
        Rule::TypeChanged,
        Rule::RequiredMemberAdded,
        Rule::VariantAdded,
        Rule::SymbolAdded,
        Rule::ParamOptionalAdded,
    ];

    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Rule::SymbolRemoved => "symbol-removed",
            Rule::SymbolRenamed => "symbol-renamed",
            Rule::SymbolMoved => "symbol-moved",
            Rule::VisibilityReduced => "visibility-reduced",
            Rule::KindChanged => "kind-changed",
            Rule::ParamRemoved => "param-removed",
            Rule::ParamRenamed => "param-renamed",
            Rule::ParamRequiredAdded => "param-required-added",
            Rule::ParamBecameRequired => "param-became-required",
            Rule::ParamReordered => "param-reordered",
            Rule::ParamKindChanged => "param-kind-changed",
            Rule::ParamTypeChanged => "param-type-changed",
            Rule::ReturnTypeChanged => "return-type-changed",
            Rule::ReceiverChanged => "receiver-changed",
            Rule::GenericsChanged => "generics-changed",
            Rule::TypeChanged => "type-changed",
            Rule::RequiredMemberAdded => "required-member-added",
            Rule::VariantAdded => "variant-added",
            Rule::SymbolAdded => "symbol-added",
            Rule::ParamOptionalAdded => "param-optional-added",
        }
    }

    /// The bump the rule implies.
    pub fn bump(self) -> SemVerBump {
        match self {
            Rule::SymbolAdded | Rule::ParamOptionalAdded => SemVerBump::Minor,
            _ => SemVerBump::Major,
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// One rule that fired, with its explanation (e.g. `parameter 'timeout' removed`).
pub(crate) type Hit = (Rule, String);

/// The rules fired by the change from `old` to `new` of one public symbol that kept its name
/// (or was paired with a rename): kind, signature, types, required-ness.
pub(crate) fn compare(language: Language, old: &Symbol, new: &Symbol) -> Vec<Hit> {
    let mut hits = Vec::new();
    let callable = |s: &Symbol| s.kind.is_callable();
    if old.kind != new.kind && !(callable(old) && callable(new)) {
        hits.push((Rule::KindChanged, format!("{} became a {}", old.kind, new.kind)));
        return hits;
    }
    if old.generics != new.generics && (old.generics.is_some() || language.types_required()) {
        hits.push((Rule::GenericsChanged, format!("type parameters {} became {}", shown(&old.generics), shown(&new.generics))));
    }
    if callable(old) {
        params(language, &old.params, &new.params, &mut hits);
        if types_differ(language, &old.ty, &new.ty) {
            hits.push((Rule::ReturnTypeChanged, format!("return type {} became {}", shown(&old.ty), shown(&new.ty))));
        }
    } else if types_differ(language, &old.ty, &new.ty) && old.kind != SymbolKind::Variable {
        hits.push((Rule::TypeChanged, format!("type {} became {}", shown(&old.ty), shown(&new.ty))));
    }
    if new.required && !old.required {
        hits.push((Rule::RequiredMemberAdded, "became required of every implementation".to_string()));
    }
    hits
}

fn shown(t: &Option<String>) -> String {
    match t {
        Some(t) => format!("'{t}'"),
        None => "(none)".to_string(),
    }
}

/// Whether two written types differ in a way callers see: any difference where types are
/// compulsory (Rust, Go), only a change between two written types elsewhere (in Python between
/// their canonical spellings, [`canonical_python_type`]).
fn types_differ(language: Language, old: &Option<String>, new: &Option<String>) -> bool {
    match (old, new) {
        (Some(a), Some(b)) if language == Language::Python => canonical_python_type(a) != canonical_python_type(b),
        (Some(a), Some(b)) => a != b,
        (None, None) => false,
        _ => language.types_required(),
    }
}

/// The parameter rules: by name where names matter (Python), by position elsewhere.
fn params(language: Language, old: &[Param], new: &[Param], hits: &mut Vec<Hit>) {
    let receiver = |ps: &[Param]| ps.iter().find(|p| p.kind == ParamKind::Receiver).cloned();
    match (receiver(old), receiver(new)) {
        (Some(a), Some(b)) if types_differ(language, &a.ty, &b.ty) => {
            hits.push((Rule::ReceiverChanged, format!("receiver {} became {}", shown(&a.ty), shown(&b.ty))))
        }
        (Some(_), None) => hits.push((Rule::ReceiverChanged, "no longer takes a receiver".into())),
        (None, Some(_)) => hits.push((Rule::ReceiverChanged, "now takes a receiver".into())),
        _ => {}
    }
    let old: Vec<&Param> = old.iter().filter(|p| p.kind != ParamKind::Receiver).collect();
    let new: Vec<&Param> = new.iter().filter(|p| p.kind != ParamKind::Receiver).collect();
    if language.names_matter() {
        by_name(language, &old, &new, hits);
    } else {
        by_position(language, &old, &new, hits);
    }
}

fn by_position(language: Language, old: &[&Param], new: &[&Param], hits: &mut Vec<Hit>) {
    for (i, (a, b)) in old.iter().zip(new).enumerate() {
        if types_differ(language, &a.ty, &b.ty) {
            hits.push((Rule::ParamTypeChanged, format!("parameter {} ('{}') type {} became {}", i + 1, b.name, shown(&a.ty), shown(&b.ty))));
        }
        if a.optional && !b.optional {
            hits.push((Rule::ParamBecameRequired, format!("parameter {} ('{}') became required", i + 1, b.name)));
        }
        if (a.kind == ParamKind::VarPositional) != (b.kind == ParamKind::VarPositional) {
            hits.push((Rule::ParamKindChanged, format!("parameter {} ('{}') changed between variadic and not", i + 1, b.name)));
        }
    }
    for a in old.iter().skip(new.len()) {
        hits.push((Rule::ParamRemoved, format!("parameter '{}' removed", a.name)));
    }
    for b in new.iter().skip(old.len()) {
        if b.optional {
            hits.push((Rule::ParamOptionalAdded, format!("optional parameter '{}' added", b.name)));
        } else {
            hits.push((Rule::ParamRequiredAdded, format!("required parameter '{}' added", b.name)));
        }
    }
}

/// Python: arguments go by position or by name, so both must keep working.
fn by_name(language: Language, old: &[&Param], new: &[&Param], hits: &mut Vec<Hit>) {
    let positional = |p: &&&Param| matches!(p.kind, ParamKind::Positional | ParamKind::PositionalOnly);
    let find = |ps: &[&Param], name: &str| ps.iter().position(|p| p.name == name && !matches!(p.kind, ParamKind::VarPositional | ParamKind::VarKeyword));
    let old_pos: Vec<&&Param> = old.iter().filter(positional).collect();
    let new_pos: Vec<&&Param> = new.iter().filter(positional).collect();
    let has = |ps: &[&Param], kind: ParamKind| ps.iter().any(|p| p.kind == kind);
    for a in old {
        match a.kind {
            ParamKind::VarPositional | ParamKind::VarKeyword => {
                if !has(new, a.kind) {
                    hits.push((Rule::ParamRemoved, format!("parameter '{}' removed", a.name)));
                }
                continue;
            }
            _ => {}
        }
        let Some(j) = find(new, &a.name) else {
            let i = old_pos.iter().position(|p| p.name == a.name);
            let replaced = i.and_then(|i| new_pos.get(i)).filter(|b| find(old, &b.name).is_none());
            match replaced {
                Some(b) => hits.push((Rule::ParamRenamed, format!("parameter '{}' renamed to '{}'", a.name, b.name))),
                None => hits.push((Rule::ParamRemoved, format!("parameter '{}' removed", a.name))),
            }
            continue;
        };
        let b = new[j];
        if types_differ(language, &a.ty, &b.ty) {
            hits.push((Rule::ParamTypeChanged, format!("parameter '{}' type {} became {}", a.name, shown(&a.ty), shown(&b.ty))));
        }
        if a.optional && !b.optional {
            hits.push((Rule::ParamBecameRequired, format!("parameter '{}' lost its default", a.name)));
        }
        let by_position_before = matches!(a.kind, ParamKind::Positional | ParamKind::PositionalOnly);
        let by_name_before = matches!(a.kind, ParamKind::Positional | ParamKind::KeywordOnly);
        let by_position_now = matches!(b.kind, ParamKind::Positional | ParamKind::PositionalOnly);
        let by_name_now = matches!(b.kind, ParamKind::Positional | ParamKind::KeywordOnly);
        if (by_position_before && !by_position_now) || (by_name_before && !by_name_now) {
            hits.push((
                Rule::ParamKindChanged,
                format!("parameter '{}' can no longer be passed {}", a.name, if by_position_before && !by_position_now { "by position" } else { "by name" }),
            ));
        } else if by_position_before {
            let i = old_pos.iter().position(|p| p.name == a.name);
            let k = new_pos.iter().position(|p| p.name == a.name);
            if i != k {
                hits.push((
                    Rule::ParamReordered,
                    format!("parameter '{}' moved from position {} to {}", a.name, i.map_or(0, |i| i + 1), k.map_or(0, |k| k + 1)),
                ));
            }
        }
    }
    for b in new {
        let known = match b.kind {
            ParamKind::VarPositional | ParamKind::VarKeyword => has(old, b.kind),
            _ => find(old, &b.name).is_some(),
        };
        if known {
            continue;
        }
        // A positional parameter that took the place of a renamed one is reported as the rename.
        let i = new_pos.iter().position(|p| p.name == b.name);
        if i.and_then(|i| old_pos.get(i)).is_some_and(|a| find(new, &a.name).is_none()) {
            continue;
        }
        if b.optional {
            hits.push((Rule::ParamOptionalAdded, format!("optional parameter '{}' added", b.name)));
        } else {
            hits.push((Rule::ParamRequiredAdded, format!("required parameter '{}' added", b.name)));
        }
    }
}

/// How deep [`canonical_python_type`] follows nested brackets; deeper types are compared as
/// written.
const MAX_TYPE_DEPTH: usize = 16;

/// A Python annotation in one spelling, so that equivalent spellings compare equal: quotes of
/// forward references and the `typing.`/`t.`/`typing_extensions.`/`te.` prefixes dropped,
/// `List`/`Dict`/`Tuple`/`Set`/`FrozenSet`/`Type` as the builtins, `Optional[X]` and `Union[…]`
/// as `|` unions, union members sorted.
pub(crate) fn canonical_python_type(ty: &str) -> String {
    let unquoted: String = ty.chars().filter(|c| *c != '"' && *c != '\'').collect();
    canonical(&unquoted, 0).unwrap_or_else(|| unquoted.split_whitespace().collect())
}

/// Splits `text` at top-level occurrences of `sep` (outside brackets).
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i64, 0);
    for (i, c) in text.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn canonical(text: &str, depth: usize) -> Option<String> {
    if depth > MAX_TYPE_DEPTH {
        return None;
    }
    let text = text.trim();
    let members = split_top(text, '|');
    if members.len() > 1 {
        return union(members, depth);
    }
    let (head, args) = match text.find('[') {
        Some(open) if text.ends_with(']') => (&text[..open], Some(&text[open + 1..text.len() - 1])),
        _ => (text, None),
    };
    let head = head.trim();
    let name = ["typing_extensions.", "typing.", "te.", "t."].iter().find_map(|p| head.strip_prefix(p)).unwrap_or(head);
    let name = match name {
        "List" => "list",
        "Dict" => "dict",
        "Tuple" => "tuple",
        "Set" => "set",
        "FrozenSet" => "frozenset",
        "Type" => "type",
        other => other,
    };
    let Some(args) = args else { return Some(name.split_whitespace().collect()) };
    match name {
        "Optional" => union(vec![args, "None"], depth),
        "Union" => union(split_top(args, ','), depth),
        _ => {
            let inner: Option<Vec<String>> = split_top(args, ',').into_iter().map(|a| canonical(a, depth + 1)).collect();
            Some(format!("{name}[{}]", inner?.join(", ")))
        }
    }
}

fn union(members: Vec<&str>, depth: usize) -> Option<String> {
    let mut all: Vec<String> = Vec::new();
    for m in members {
        let c = canonical(m, depth + 1)?;
        // Nested unions flatten.
        all.extend(split_top(&c, '|').into_iter().map(|p| p.trim().to_string()));
    }
    all.sort();
    all.dedup();
    Some(all.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::canonical_python_type as c;

    #[test]
    fn python_type_spellings_compare_equal() {
        assert_eq!(c("t.Optional[str]"), c("str | None"));
        assert_eq!(c("typing.List[str]"), c("list[str]"));
        assert_eq!(c("t.Optional[t.Type[\"FlaskClient\"]]"), c("type[FlaskClient] | None"));
        assert_eq!(c("t.Union[str, os.PathLike]"), c("os.PathLike | str"));
        assert_eq!(c("\"te.NoReturn\""), c("t.NoReturn"));
        assert_eq!(c("t.Dict[str, t.Union[int, None]]"), c("dict[str, int | None]"));
        assert_ne!(c("str"), c("bytes"));
        assert_ne!(c("t.Optional[str]"), c("str"));
        assert_ne!(c("t.Callable"), c("t.Callable[[F], F]"));
        // Deep or unbalanced input is compared as written, without failing.
        let deep = "t.List[".repeat(100) + "int" + &"]".repeat(100);
        assert_eq!(c(&deep), c(&deep));
        assert_eq!(c("list[int"), "list[int");
    }
}
