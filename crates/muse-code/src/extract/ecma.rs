//! JavaScript and TypeScript: functions (declared, or arrow/function expressions bound by
//! `const`/`let`/`var`), classes with their methods and fields, constants and variables, and for
//! TypeScript interfaces with their members, type aliases, enums with their members, overload
//! signatures, `declare` declarations and namespaces.
//!
//! Visibility: a top-level declaration is public when it is exported (`export …`, `export
//! default …`, or named in an `export { … }` clause); a class member is public when its class is
//! and it is neither `private` nor a `#private` name; interface and enum members are as visible
//! as their interface or enum. CommonJS `module.exports` is not read.

use std::collections::HashSet;

use tree_sitter::Node;

use super::{named_children, norm, symbol, within_nesting, Out, Src};
use crate::model::{Param, ParamKind, SymbolKind};

pub(super) fn extract(src: &Src<'_>, root: Node<'_>, out: &mut Out, typescript: bool) {
    let mut exported = HashSet::new();
    statements(src, root, "", 0, out, &mut exported, typescript);
    // Members carry their own visibility so far; names exported by a clause (`export { a, b as
    // c }`) become public after the fact, and a member is public when its parent is too.
    let mut public_parents: HashSet<String> = HashSet::new();
    for s in &mut out.symbols {
        s.public = match s.parent() {
            None => s.public || exported.contains(s.name.as_str()),
            Some(parent) => s.public && public_parents.contains(parent),
        };
        if s.public {
            public_parents.insert(s.name.clone());
        }
    }
}

/// The statements of a program or namespace body. `exported` collects names exported by
/// clauses.
fn statements(src: &Src<'_>, node: Node<'_>, prefix: &str, depth: usize, out: &mut Out, exported: &mut HashSet<String>, ts: bool) {
    if !within_nesting(depth) {
        return;
    }
    for child in named_children(node) {
        if child.kind() == "export_statement" {
            export(src, child, prefix, depth, out, exported, ts);
        } else {
            declaration(src, child, prefix, false, depth, out, exported, ts);
        }
    }
}

fn export(src: &Src<'_>, node: Node<'_>, prefix: &str, depth: usize, out: &mut Out, exported: &mut HashSet<String>, ts: bool) {
    if let Some(decl) = node.child_by_field_name("declaration") {
        declaration(src, decl, prefix, true, depth, out, exported, ts);
        return;
    }
    for child in named_children(node) {
        if child.kind() == "export_clause" && node.child_by_field_name("source").is_none() {
            for spec in named_children(child).into_iter().filter(|s| s.kind() == "export_specifier") {
                if let Some(name) = src.field(spec, "name") {
                    exported.insert(format!("{prefix}{name}"));
                }
            }
        }
    }
    // `export default <declaration or expression>`.
    if let Some(value) = node.child_by_field_name("value").or_else(|| named_children(node).into_iter().find(|c| c.kind().ends_with("declaration"))) {
        if value.child_by_field_name("name").is_some() && value.kind().ends_with("declaration") {
            declaration(src, value, prefix, true, depth, out, exported, ts);
        } else if value.kind() == "identifier" {
            exported.insert(format!("{prefix}{}", src.text(value)));
        } else {
            let mut s = symbol(SymbolKind::Variable, format!("{prefix}default"), true, node, src.body_hash(Some(value)));
            if let Some((params, ret)) = callable(src, value) {
                s.kind = SymbolKind::Function;
                s.params = params;
                s.ty = ret;
            }
            out.push(s);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn declaration(src: &Src<'_>, node: Node<'_>, prefix: &str, public: bool, depth: usize, out: &mut Out, exported: &mut HashSet<String>, ts: bool) {
    let name = src.field(node, "name").unwrap_or("");
    let qualified = format!("{prefix}{name}");
    match node.kind() {
        "function_declaration" | "generator_function_declaration" | "function_signature" => {
            let body = node.child_by_field_name("body");
            let mut s = symbol(SymbolKind::Function, qualified, public, node, src.body_hash(body));
            s.params = parameters(src, node.child_by_field_name("parameters"), ts);
            s.ty = annotation(src, node, "return_type");
            s.generics = src.field_norm(node, "type_parameters");
            out.push(s);
        }
        "class_declaration" | "abstract_class_declaration" => {
            let body = node.child_by_field_name("body");
            let mut s = symbol(SymbolKind::Class, qualified.clone(), public, node, src.body_hash(body));
            s.generics = src.field_norm(node, "type_parameters");
            out.push(s);
            if let Some(body) = body {
                class_members(src, body, &qualified, out, ts);
            }
        }
        "lexical_declaration" | "variable_declaration" => {
            let constant = node.child_by_field_name("kind").is_some_and(|k| src.text(k) == "const");
            for declarator in named_children(node).into_iter().filter(|d| d.kind() == "variable_declarator") {
                let Some(var) = declarator.child_by_field_name("name").filter(|n| n.kind() == "identifier") else { continue };
                let value = declarator.child_by_field_name("value");
                let kind = if constant { SymbolKind::Constant } else { SymbolKind::Variable };
                let mut s = symbol(kind, format!("{prefix}{}", src.text(var)), public, declarator, src.body_hash(value));
                s.ty = annotation(src, declarator, "type");
                if let Some((params, ret)) = value.and_then(|v| callable(src, v)) {
                    s.kind = SymbolKind::Function;
                    s.params = params;
                    s.ty = ret;
                    s.body = src.body_hash(value.and_then(|v| v.child_by_field_name("body")));
                }
                out.push(s);
            }
        }
        "interface_declaration" => {
            let body = node.child_by_field_name("body");
            let mut s = symbol(SymbolKind::Interface, qualified.clone(), public, node, src.body_hash(body));
            s.generics = src.field_norm(node, "type_parameters");
            out.push(s);
            if let Some(body) = body {
                interface_members(src, body, &qualified, out);
            }
        }
        "type_alias_declaration" => {
            let mut s = symbol(SymbolKind::Type, qualified, public, node, src.body_hash(node.child_by_field_name("value")));
            s.ty = src.field_norm(node, "value");
            s.generics = src.field_norm(node, "type_parameters");
            out.push(s);
        }
        "enum_declaration" => {
            let body = node.child_by_field_name("body");
            out.push(symbol(SymbolKind::Enum, qualified.clone(), public, node, src.body_hash(body)));
            for member in body.map(named_children).unwrap_or_default() {
                let (mname, value) = match member.kind() {
                    "enum_assignment" => (src.field(member, "name").unwrap_or(""), member.child_by_field_name("value")),
                    "property_identifier" | "string" | "number" => (src.text(member), None),
                    _ => continue,
                };
                out.push(symbol(SymbolKind::Variant, format!("{qualified}.{mname}"), true, member, src.body_hash(value)));
            }
        }
        "internal_module" | "module" => {
            let body = node.child_by_field_name("body");
            out.push(symbol(SymbolKind::Module, qualified.clone(), public, node, src.body_hash(body)));
            if let Some(body) = body {
                statements(src, body, &format!("{qualified}."), depth + 1, out, exported, ts);
            }
        }
        "ambient_declaration" => {
            for inner in named_children(node) {
                declaration(src, inner, prefix, public, depth, out, exported, ts);
            }
        }
        "expression_statement" => {
            // `namespace X { … }` parses as an expression statement holding an internal module.
            for inner in named_children(node).into_iter().filter(|n| n.kind() == "internal_module") {
                declaration(src, inner, prefix, public, depth, out, exported, ts);
            }
        }
        _ => {}
    }
}

/// Methods and fields of a class.
fn class_members(src: &Src<'_>, body: Node<'_>, class: &str, out: &mut Out, ts: bool) {
    for member in named_children(body) {
        let name_node = member.child_by_field_name("name").or_else(|| member.child_by_field_name("property"));
        let Some(name_node) = name_node else { continue };
        let name = src.text(name_node);
        let private = name_node.kind() == "private_property_identifier"
            || named_children(member).into_iter().any(|c| c.kind() == "accessibility_modifier" && src.text(c) == "private");
        let vis = !private;
        let qualified = format!("{class}.{name}");
        match member.kind() {
            "method_definition" | "method_signature" | "abstract_method_signature" => {
                let body = member.child_by_field_name("body");
                let mut s = symbol(SymbolKind::Method, qualified, vis, member, src.body_hash(body));
                s.params = parameters(src, member.child_by_field_name("parameters"), ts);
                s.ty = annotation(src, member, "return_type");
                s.generics = src.field_norm(member, "type_parameters");
                s.required = member.kind() == "abstract_method_signature";
                out.push(s);
            }
            "field_definition" | "public_field_definition" => {
                let mut s = symbol(SymbolKind::Field, qualified, vis, member, src.body_hash(member.child_by_field_name("value")));
                s.ty = annotation(src, member, "type");
                out.push(s);
            }
            _ => {}
        }
    }
}

/// Properties and methods of an interface (`required` unless marked `?`).
fn interface_members(src: &Src<'_>, body: Node<'_>, interface: &str, out: &mut Out) {
    for member in named_children(body) {
        let Some(name) = src.field(member, "name") else { continue };
        let optional = super::children(member).iter().any(|c| c.kind() == "?");
        let qualified = format!("{interface}.{name}");
        let mut s = match member.kind() {
            "property_signature" => {
                let mut s = symbol(SymbolKind::Field, qualified, true, member, src.body_hash(member.child_by_field_name("type")));
                s.ty = annotation(src, member, "type");
                s
            }
            "method_signature" => {
                let mut s = symbol(SymbolKind::Method, qualified, true, member, src.body_hash(None));
                s.params = parameters(src, member.child_by_field_name("parameters"), true);
                s.ty = annotation(src, member, "return_type");
                s.generics = src.field_norm(member, "type_parameters");
                s
            }
            _ => continue,
        };
        s.required = !optional;
        out.push(s);
    }
}

/// The parameters and return type of an arrow function or function expression.
fn callable(src: &Src<'_>, value: Node<'_>) -> Option<(Vec<Param>, Option<String>)> {
    if !matches!(value.kind(), "arrow_function" | "function_expression" | "function" | "generator_function") {
        return None;
    }
    let params = match value.child_by_field_name("parameter") {
        Some(single) => vec![Param { name: src.text(single).to_string(), kind: ParamKind::Positional, ty: None, default: None, optional: false }],
        None => parameters(src, value.child_by_field_name("parameters"), true),
    };
    Some((params, annotation(src, value, "return_type")))
}

/// A type annotation field without its leading `:`.
fn annotation(src: &Src<'_>, node: Node<'_>, field: &str) -> Option<String> {
    let text = src.field(node, field)?;
    Some(norm(text.trim_start().trim_start_matches(':')))
}

/// `formal_parameters`: JavaScript patterns and defaults, TypeScript required and optional
/// parameters with their types; `this` (TypeScript) is the receiver.
fn parameters(src: &Src<'_>, node: Option<Node<'_>>, _ts: bool) -> Vec<Param> {
    let Some(node) = node else { return Vec::new() };
    let mut params = Vec::new();
    for child in named_children(node) {
        let plain = |name: String, default: Option<String>| {
            let optional = default.is_some();
            Param { name, kind: ParamKind::Positional, ty: None, default, optional }
        };
        let p = match child.kind() {
            "identifier" | "object_pattern" | "array_pattern" => plain(src.norm(child), None),
            "assignment_pattern" => plain(src.field_norm(child, "left").unwrap_or_default(), src.field_norm(child, "right")),
            "rest_pattern" => Param { name: src.norm(child), kind: ParamKind::VarPositional, ty: None, default: None, optional: true },
            "required_parameter" | "optional_parameter" => {
                let pattern = child.child_by_field_name("pattern").or_else(|| child.child_by_field_name("name"));
                let name = pattern.map(|p| src.norm(p)).unwrap_or_default();
                let default = src.field_norm(child, "value");
                let rest = pattern.is_some_and(|p| p.kind() == "rest_pattern");
                let kind = if name == "this" {
                    ParamKind::Receiver
                } else if rest {
                    ParamKind::VarPositional
                } else {
                    ParamKind::Positional
                };
                let optional = child.kind() == "optional_parameter" || default.is_some() || rest;
                Param { name, kind, ty: annotation(src, child, "type"), default, optional }
            }
            _ => continue,
        };
        params.push(p);
    }
    params
}
