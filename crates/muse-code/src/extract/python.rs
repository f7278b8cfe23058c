//! Python: functions, classes, methods (decorated or not) and module-level assignments.
//!
//! Visibility: a name starting with `_` is private, except special names (`__init__`, …) of
//! methods; a member of a private class is private; when the module assigns `__all__` a list or
//! tuple of string literals, a top-level name is public exactly when listed there. Module-level
//! `NAME = …` assignments are constants when the name is upper case, variables otherwise.

use std::collections::HashSet;

use tree_sitter::Node;

use super::{named_children, symbol, within_nesting, Out, Src};
use crate::model::{Param, ParamKind, SymbolKind};

pub(super) fn extract(src: &Src<'_>, root: Node<'_>, out: &mut Out) {
    block(src, root, "", false, 0, out);
    let all = dunder_all(src, root);
    // Parents precede their members in `out`, so one pass settles visibility top-down.
    let mut public_parents: HashSet<String> = HashSet::new();
    for s in &mut out.symbols {
        let own = !private_name(s.leaf(), s.kind == SymbolKind::Method);
        s.public = match s.parent() {
            None => match &all {
                Some(all) => all.contains(s.name.as_str()),
                None => own,
            },
            Some(parent) => own && public_parents.contains(parent),
        };
        if s.public {
            public_parents.insert(s.name.clone());
        }
    }
}

/// Whether a name is private by Python's convention (special `__x__` names of methods are not).
fn private_name(name: &str, method: bool) -> bool {
    let special = name.len() > 4 && name.starts_with("__") && name.ends_with("__");
    name.starts_with('_') && !(special && method)
}

/// The definitions directly in a module or class body.
fn block(src: &Src<'_>, node: Node<'_>, prefix: &str, in_class: bool, depth: usize, out: &mut Out) {
    if !within_nesting(depth) {
        return;
    }
    for child in named_children(node) {
        match child.kind() {
            "function_definition" => function(src, child, &[], prefix, in_class, out),
            "class_definition" => class(src, child, prefix, depth, out),
            "decorated_definition" => {
                let decorators: Vec<String> = named_children(child).into_iter().filter(|d| d.kind() == "decorator").map(|d| src.norm(d)).collect();
                match child.child_by_field_name("definition") {
                    Some(def) if def.kind() == "function_definition" => function(src, def, &decorators, prefix, in_class, out),
                    Some(def) if def.kind() == "class_definition" => class(src, def, prefix, depth, out),
                    _ => {}
                }
            }
            "expression_statement" => assignment(src, child, prefix, in_class, out),
            _ => {}
        }
    }
}

fn class(src: &Src<'_>, node: Node<'_>, prefix: &str, depth: usize, out: &mut Out) {
    let Some(name) = src.field(node, "name") else { return };
    let qualified = format!("{prefix}{name}");
    let body = node.child_by_field_name("body");
    let mut s = symbol(SymbolKind::Class, qualified.clone(), true, node, src.body_hash(body));
    s.generics = src.field_norm(node, "type_parameters");
    out.push(s);
    if let Some(body) = body {
        block(src, body, &format!("{qualified}."), true, depth + 1, out);
    }
}

fn function(src: &Src<'_>, node: Node<'_>, decorators: &[String], prefix: &str, in_class: bool, out: &mut Out) {
    let Some(name) = src.field(node, "name") else { return };
    let kind = if in_class { SymbolKind::Method } else { SymbolKind::Function };
    let mut s = symbol(kind, format!("{prefix}{name}"), true, node, src.body_hash(node.child_by_field_name("body")));
    let static_method = decorators.iter().any(|d| d == "@staticmethod");
    if let Some(params) = node.child_by_field_name("parameters") {
        s.params = parameters(src, params, in_class && !static_method);
    }
    s.ty = src.field_norm(node, "return_type");
    s.generics = src.field_norm(node, "type_parameters");
    out.push(s);
}

/// The parameters of a `def`, with Python's kinds: before `/` positional-only, after `*` or
/// `*args` keyword-only; the first of a method (not a staticmethod) is the receiver.
fn parameters(src: &Src<'_>, node: Node<'_>, method: bool) -> Vec<Param> {
    let mut params: Vec<Param> = Vec::new();
    let mut keyword_only = false;
    for child in named_children(node) {
        let param = |name: &str, ty: Option<String>, default: Option<String>, kind: ParamKind| {
            let optional = default.is_some() || matches!(kind, ParamKind::VarPositional | ParamKind::VarKeyword);
            Param { name: name.to_string(), kind, ty, default, optional }
        };
        let plain = if keyword_only { ParamKind::KeywordOnly } else { ParamKind::Positional };
        let p = match child.kind() {
            "identifier" => param(src.text(child), None, None, plain),
            "typed_parameter" => {
                let ty = src.field_norm(child, "type");
                let Some(inner) = named_children(child).into_iter().find(|n| n.kind() != "type") else { continue };
                match inner.kind() {
                    "list_splat_pattern" => {
                        keyword_only = true;
                        param(splat_name(src, inner), ty, None, ParamKind::VarPositional)
                    }
                    "dictionary_splat_pattern" => param(splat_name(src, inner), ty, None, ParamKind::VarKeyword),
                    _ => param(src.text(inner), ty, None, plain),
                }
            }
            "default_parameter" | "typed_default_parameter" => {
                let Some(name) = src.field(child, "name") else { continue };
                param(name, src.field_norm(child, "type"), src.field_norm(child, "value"), plain)
            }
            "list_splat_pattern" => {
                keyword_only = true;
                param(splat_name(src, child), None, None, ParamKind::VarPositional)
            }
            "dictionary_splat_pattern" => param(splat_name(src, child), None, None, ParamKind::VarKeyword),
            "keyword_separator" => {
                keyword_only = true;
                continue;
            }
            "positional_separator" => {
                for p in &mut params {
                    if p.kind == ParamKind::Positional {
                        p.kind = ParamKind::PositionalOnly;
                    }
                }
                continue;
            }
            "tuple_pattern" => param(&src.norm(child), None, None, plain),
            _ => continue,
        };
        params.push(p);
    }
    if method {
        if let Some(first) = params.first_mut().filter(|p| matches!(p.kind, ParamKind::Positional | ParamKind::PositionalOnly)) {
            first.kind = ParamKind::Receiver;
        }
    }
    params
}

fn splat_name<'a>(src: &Src<'a>, node: Node<'_>) -> &'a str {
    named_children(node).first().map_or("", |n| src.text(*n))
}

/// `NAME = value` (or `NAME: T = value`) at module or class level.
fn assignment(src: &Src<'_>, node: Node<'_>, prefix: &str, in_class: bool, out: &mut Out) {
    let Some(assign) = named_children(node).into_iter().find(|n| n.kind() == "assignment") else { return };
    let Some(left) = assign.child_by_field_name("left").filter(|l| l.kind() == "identifier") else { return };
    let name = src.text(left);
    if name == "__all__" {
        return;
    }
    let kind = if in_class {
        SymbolKind::Field
    } else if name.chars().any(|c| c.is_alphabetic()) && name.chars().all(|c| !c.is_lowercase()) {
        SymbolKind::Constant
    } else {
        SymbolKind::Variable
    };
    // Special names assigned in a body (`__slots__`, `__version__`) start with `_`: private.
    let mut s = symbol(kind, format!("{prefix}{name}"), true, left, src.body_hash(assign.child_by_field_name("right")));
    s.ty = src.field_norm(assign, "type");
    out.push(s);
}

/// The names listed in a module-level `__all__ = [...]` (or `+=`), when every assignment to it
/// is a list or tuple of string literals.
fn dunder_all(src: &Src<'_>, root: Node<'_>) -> Option<HashSet<String>> {
    let mut names: Option<HashSet<String>> = None;
    for stmt in named_children(root).into_iter().filter(|n| n.kind() == "expression_statement") {
        let Some(assign) = named_children(stmt).into_iter().find(|n| matches!(n.kind(), "assignment" | "augmented_assignment")) else { continue };
        if assign.child_by_field_name("left").map(|l| src.text(l)) != Some("__all__") {
            continue;
        }
        let right = assign.child_by_field_name("right")?;
        if !matches!(right.kind(), "list" | "tuple") {
            return None;
        }
        let set = names.get_or_insert_with(HashSet::new);
        for item in named_children(right) {
            if item.kind() != "string" {
                return None;
            }
            let content: String = named_children(item).into_iter().filter(|n| n.kind() == "string_content").map(|n| src.text(n)).collect();
            set.insert(content);
        }
    }
    names
}
