//! Go: functions, methods (named `Type.Method`), types (structs with their fields, interfaces
//! with their methods, other named types and aliases), constants and variables.
//!
//! Visibility: a name is exported when it starts with an upper-case letter; a method or field
//! when its own name and its type's are; everything in `package main` is private (a command has
//! no importable API). Go's `internal/` directories are applied by the diff, from the path.

use std::collections::HashSet;

use tree_sitter::Node;

use super::{named_children, norm, symbol, Out, Src};
use crate::model::{Param, ParamKind, SymbolKind};

pub(super) fn extract(src: &Src<'_>, root: Node<'_>, out: &mut Out) {
    let mut main = false;
    for child in named_children(root) {
        match child.kind() {
            "package_clause" => main = named_children(child).first().is_some_and(|n| src.text(*n) == "main"),
            "function_declaration" => {
                let Some(name) = src.field(child, "name") else { continue };
                let mut s = symbol(SymbolKind::Function, name.to_string(), exported(name), child, src.body_hash(child.child_by_field_name("body")));
                s.params = parameters(src, child.child_by_field_name("parameters"));
                s.ty = src.field_norm(child, "result");
                s.generics = src.field_norm(child, "type_parameters");
                out.push(s);
            }
            "method_declaration" => method(src, child, out),
            "type_declaration" => {
                for spec in named_children(child).into_iter().filter(|s| matches!(s.kind(), "type_spec" | "type_alias")) {
                    type_spec(src, spec, out);
                }
            }
            "const_declaration" | "var_declaration" => {
                let kind = if child.kind() == "const_declaration" { SymbolKind::Constant } else { SymbolKind::Variable };
                let mut specs = Vec::new();
                for c in named_children(child) {
                    match c.kind() {
                        "const_spec" | "var_spec" => specs.push(c),
                        "var_spec_list" => specs.extend(named_children(c).into_iter().filter(|s| s.kind() == "var_spec")),
                        _ => {}
                    }
                }
                for spec in specs {
                    let value = spec.child_by_field_name("value");
                    let ty = src.field_norm(spec, "type");
                    let mut cursor = spec.walk();
                    let names: Vec<Node<'_>> = spec.children_by_field_name("name", &mut cursor).filter(|n| n.kind() == "identifier").collect();
                    for name_node in names {
                        let name = src.text(name_node);
                        let mut s = symbol(kind, name.to_string(), exported(name), spec, src.body_hash(value));
                        s.ty = ty.clone();
                        out.push(s);
                    }
                }
            }
            _ => {}
        }
    }
    if main {
        for s in &mut out.symbols {
            s.public = false;
        }
    }
}

/// Whether a Go name is exported (an upper-case initial).
fn exported(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

fn method(src: &Src<'_>, node: Node<'_>, out: &mut Out) {
    let Some(name) = src.field(node, "name") else { return };
    let receiver = node.child_by_field_name("receiver").and_then(|r| named_children(r).into_iter().find(|p| p.kind() == "parameter_declaration"));
    let receiver_type = receiver.and_then(|r| src.field_norm(r, "type")).unwrap_or_default();
    let type_name = receiver_type.trim_start_matches('*').split('[').next().unwrap_or("").trim().to_string();
    let mut s = symbol(
        SymbolKind::Method,
        format!("{type_name}.{name}"),
        exported(name) && exported(&type_name),
        node,
        src.body_hash(node.child_by_field_name("body")),
    );
    let receiver_name = receiver.and_then(|r| src.field(r, "name")).unwrap_or("").to_string();
    s.params = vec![Param { name: receiver_name, kind: ParamKind::Receiver, ty: Some(receiver_type), default: None, optional: false }];
    s.params.extend(parameters(src, node.child_by_field_name("parameters")));
    s.ty = src.field_norm(node, "result");
    out.push(s);
}

fn type_spec(src: &Src<'_>, spec: Node<'_>, out: &mut Out) {
    let Some(name) = src.field(spec, "name") else { return };
    let Some(ty) = spec.child_by_field_name("type") else { return };
    let public = exported(name);
    let generics = src.field_norm(spec, "type_parameters");
    match ty.kind() {
        "struct_type" if spec.kind() == "type_spec" => {
            let mut s = symbol(SymbolKind::Struct, name.to_string(), public, spec, src.body_hash(Some(ty)));
            s.generics = generics;
            out.push(s);
            let list = named_children(ty).into_iter().find(|c| c.kind() == "field_declaration_list");
            let mut seen = HashSet::new();
            for field in list.map(named_children).unwrap_or_default().into_iter().filter(|f| f.kind() == "field_declaration") {
                let fty = src.field_norm(field, "type");
                let mut cursor = field.walk();
                let mut names: Vec<String> = field.children_by_field_name("name", &mut cursor).map(|n| src.text(n).to_string()).collect();
                if names.is_empty() {
                    // An embedded field is named after its type: `*pkg.Reader` → `Reader`.
                    let embedded = fty.clone().unwrap_or_default();
                    names.push(embedded.trim_start_matches('*').rsplit('.').next().unwrap_or("").split('[').next().unwrap_or("").to_string());
                }
                for fname in names.into_iter().filter(|n| seen.insert(n.clone())) {
                    let mut f = symbol(SymbolKind::Field, format!("{name}.{fname}"), public && exported(&fname), field, src.body_hash(Some(field)));
                    f.ty = fty.clone();
                    out.push(f);
                }
            }
        }
        "interface_type" if spec.kind() == "type_spec" => {
            let mut s = symbol(SymbolKind::Interface, name.to_string(), public, spec, src.body_hash(Some(ty)));
            s.generics = generics;
            out.push(s);
            for elem in named_children(ty).into_iter().filter(|e| e.kind() == "method_elem") {
                let Some(mname) = src.field(elem, "name") else { continue };
                let mut m = symbol(SymbolKind::Method, format!("{name}.{mname}"), public && exported(mname), elem, src.body_hash(None));
                m.params = parameters(src, elem.child_by_field_name("parameters"));
                m.ty = src.field_norm(elem, "result");
                m.required = true;
                out.push(m);
            }
        }
        _ => {
            let mut s = symbol(SymbolKind::Type, name.to_string(), public, spec, src.body_hash(Some(ty)));
            s.ty = Some(if spec.kind() == "type_alias" { format!("= {}", src.norm(ty)) } else { src.norm(ty) });
            s.generics = generics;
            out.push(s);
        }
    }
}

/// A parameter list: `a, b int` gives two parameters of type `int`; unnamed parameters are
/// named `_`; `args ...T` is variadic.
fn parameters(src: &Src<'_>, node: Option<Node<'_>>) -> Vec<Param> {
    let Some(node) = node else { return Vec::new() };
    let mut params = Vec::new();
    for decl in named_children(node) {
        let variadic = decl.kind() == "variadic_parameter_declaration";
        if !variadic && decl.kind() != "parameter_declaration" {
            continue;
        }
        let ty = src.field_norm(decl, "type").map(|t| if variadic { format!("...{t}") } else { t });
        let mut cursor = decl.walk();
        let mut names: Vec<String> = decl.children_by_field_name("name", &mut cursor).map(|n| norm(src.text(n))).collect();
        if names.is_empty() {
            names.push("_".into());
        }
        for name in names {
            let kind = if variadic { ParamKind::VarPositional } else { ParamKind::Positional };
            params.push(Param { name, kind, ty: ty.clone(), default: None, optional: variadic });
        }
    }
    params
}
