//! Rust: functions, structs and unions with their fields, enums with their variants, traits with
//! their items, impl blocks' functions, constants, statics, type aliases, inline modules and
//! `macro_rules!` macros.
//!
//! Visibility: `pub` is public (`pub(crate)`, `pub(super)`, `pub(in …)` are not); an item of a
//! private inline module is private; a variant is as visible as its enum, a trait's items as
//! their trait; a method of an impl block is public when it is `pub` (trait impls: always) and
//! neither its type nor its trait is declared private in the same file. A macro is public when
//! `#[macro_export]`. Whether the file's own module is reachable from the crate root is not
//! known here: `pub` items of a private module count as public.

use std::collections::HashSet;

use tree_sitter::Node;

use super::{named_children, norm, symbol, within_nesting, Out, Src};
use crate::model::{Param, ParamKind, SymbolKind};

/// Where items are being read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A module (the file, or an inline `mod`).
    Module,
    /// An inherent `impl Type`.
    Impl,
    /// `impl Trait for Type`.
    TraitImpl,
    /// A trait's body.
    Trait,
}

pub(super) fn extract(src: &Src<'_>, root: Node<'_>, out: &mut Out) {
    let mut private_types = HashSet::new();
    let mut impl_members = Vec::new();
    items(src, root, "", true, Place::Module, 0, out, &mut private_types, &mut impl_members);
    // Impl members of a type or trait declared private in this file are private.
    for (at, owners) in impl_members {
        if owners.iter().any(|o| private_types.contains(o)) {
            out.symbols[at].public = false;
        }
    }
}

/// The items of a module, trait or impl body. `public` is whether the container is public;
/// `impl_members` collects, for each impl member pushed, the type and trait names it depends
/// on.
#[allow(clippy::too_many_arguments)]
fn items(
    src: &Src<'_>,
    node: Node<'_>,
    prefix: &str,
    public: bool,
    place: Place,
    depth: usize,
    out: &mut Out,
    private_types: &mut HashSet<String>,
    impl_members: &mut Vec<(usize, Vec<String>)>,
) {
    if !within_nesting(depth) {
        return;
    }
    let mut attributes: Vec<String> = Vec::new();
    for child in named_children(node) {
        if child.kind() == "attribute_item" {
            attributes.push(src.norm(child));
            continue;
        }
        let attrs = std::mem::take(&mut attributes);
        let own_pub = match place {
            Place::Module | Place::Impl => is_pub(src, child),
            Place::TraitImpl | Place::Trait => true,
        };
        let vis = public && own_pub;
        let name = src.field(child, "name").unwrap_or("");
        let qualified = format!("{prefix}{name}");
        match child.kind() {
            "function_item" | "function_signature_item" => {
                let kind = if place == Place::Module { SymbolKind::Function } else { SymbolKind::Method };
                let body = child.child_by_field_name("body");
                let mut s = symbol(kind, qualified, vis, child, src.body_hash(body));
                s.params = parameters(src, child);
                s.ty = src.field_norm(child, "return_type");
                s.generics = generics(src, child);
                s.required = place == Place::Trait && body.is_none();
                out.push(s);
            }
            "struct_item" | "union_item" => {
                let body = child.child_by_field_name("body");
                let mut s = symbol(SymbolKind::Struct, qualified.clone(), vis, child, src.body_hash(body));
                s.generics = generics(src, child);
                out.push(s);
                if let Some(body) = body {
                    fields(src, body, &qualified, vis, out);
                }
            }
            "enum_item" => {
                let body = child.child_by_field_name("body");
                let mut s = symbol(SymbolKind::Enum, qualified.clone(), vis, child, src.body_hash(body));
                s.generics = generics(src, child);
                s.exhaustive = !attrs.iter().any(|a| a.contains("non_exhaustive"));
                out.push(s);
                for variant in body.map(named_children).unwrap_or_default().into_iter().filter(|v| v.kind() == "enum_variant") {
                    let Some(vname) = src.field(variant, "name") else { continue };
                    let payload = variant.child_by_field_name("body");
                    let mut v = symbol(SymbolKind::Variant, format!("{qualified}::{vname}"), vis, variant, src.body_hash(Some(variant)));
                    v.ty = payload.map(|p| src.norm(p));
                    out.push(v);
                }
            }
            "trait_item" => {
                let body = child.child_by_field_name("body");
                let mut s = symbol(SymbolKind::Trait, qualified.clone(), vis, child, src.body_hash(body));
                s.generics = generics(src, child);
                out.push(s);
                if let Some(body) = body {
                    items(src, body, &format!("{qualified}::"), vis, Place::Trait, depth + 1, out, private_types, impl_members);
                }
            }
            "impl_item" => {
                impl_block(src, child, prefix, public, depth, out, private_types, impl_members);
            }
            "const_item" | "static_item" => {
                let mut s = symbol(SymbolKind::Constant, qualified, vis, child, src.body_hash(child.child_by_field_name("value")));
                s.ty = src.field_norm(child, "type");
                out.push(s);
            }
            "type_item" | "associated_type" => {
                let mut s = symbol(SymbolKind::Type, qualified, vis, child, src.body_hash(child.child_by_field_name("type")));
                s.ty = src.field_norm(child, "type");
                s.generics = generics(src, child);
                s.required = place == Place::Trait && child.child_by_field_name("type").is_none();
                out.push(s);
            }
            "mod_item" => {
                if let Some(body) = child.child_by_field_name("body") {
                    out.push(symbol(SymbolKind::Module, qualified.clone(), vis, child, src.body_hash(Some(body))));
                    items(src, body, &format!("{qualified}::"), vis, Place::Module, depth + 1, out, private_types, impl_members);
                }
            }
            "macro_definition" => {
                let exported = attrs.iter().any(|a| a.contains("macro_export"));
                out.push(symbol(SymbolKind::Macro, qualified, exported, child, src.body_hash(Some(child))));
            }
            _ => {}
        }
        if place == Place::Module && !own_pub && matches!(child.kind(), "struct_item" | "union_item" | "enum_item" | "trait_item" | "type_item") {
            private_types.insert(name.to_string());
        }
    }
}

/// An impl block: its functions, named `Type::f` (inherent) or `<Type as Trait>::f`.
#[allow(clippy::too_many_arguments)]
fn impl_block(
    src: &Src<'_>,
    node: Node<'_>,
    prefix: &str,
    public: bool,
    depth: usize,
    out: &mut Out,
    private_types: &mut HashSet<String>,
    impl_members: &mut Vec<(usize, Vec<String>)>,
) {
    let Some(ty) = node.child_by_field_name("type") else { return };
    let Some(body) = node.child_by_field_name("body") else { return };
    let type_text = src.norm(ty);
    let type_name = base_name(&type_text);
    let (inner_prefix, place, owners) = match node.child_by_field_name("trait") {
        Some(tr) => {
            let trait_text = src.norm(tr);
            let owners = vec![type_name.to_string(), base_name(&trait_text).to_string()];
            (format!("{prefix}<{type_text} as {trait_text}>::"), Place::TraitImpl, owners)
        }
        None => (format!("{prefix}{type_name}::"), Place::Impl, vec![type_name.to_string()]),
    };
    let before = out.symbols.len();
    items(src, body, &inner_prefix, public, place, depth + 1, out, private_types, impl_members);
    for at in before..out.symbols.len() {
        impl_members.push((at, owners.clone()));
    }
}

/// The last path segment of a type, without generic arguments or references:
/// `&'a mut foo::Bar<T>` → `Bar`.
fn base_name(ty: &str) -> &str {
    let no_args = ty.split('<').next().unwrap_or(ty);
    let last = no_args.rsplit("::").next().unwrap_or(no_args);
    last.trim_start_matches(['&', '*']).rsplit(' ').next().unwrap_or(last).trim()
}

/// Whether an item carries exactly `pub`.
fn is_pub(src: &Src<'_>, node: Node<'_>) -> bool {
    named_children(node).into_iter().any(|c| c.kind() == "visibility_modifier" && src.text(c).trim() == "pub")
}

/// Type parameters and where clause, as written.
fn generics(src: &Src<'_>, node: Node<'_>) -> Option<String> {
    let params = src.field_norm(node, "type_parameters");
    let bounds = src.field_norm(node, "bounds").map(|b| format!(": {b}"));
    let clause = named_children(node).into_iter().find(|c| c.kind() == "where_clause").map(|w| format!(" {}", src.norm(w)));
    let all: String = [params, bounds, clause].into_iter().flatten().collect();
    (!all.is_empty()).then_some(all)
}

/// Named (`Foo.x`) or positional (`Foo.0`) fields of a struct, union or variant.
fn fields(src: &Src<'_>, body: Node<'_>, owner: &str, public: bool, out: &mut Out) {
    match body.kind() {
        "field_declaration_list" => {
            for field in named_children(body).into_iter().filter(|f| f.kind() == "field_declaration") {
                let Some(name) = src.field(field, "name") else { continue };
                let mut s = symbol(SymbolKind::Field, format!("{owner}.{name}"), public && is_pub(src, field), field, src.body_hash(Some(field)));
                s.ty = src.field_norm(field, "type");
                out.push(s);
            }
        }
        "ordered_field_declaration_list" => {
            // Children: optional attributes and visibility, then the type, for each position.
            let mut index = 0;
            let mut vis = false;
            for child in named_children(body) {
                match child.kind() {
                    "attribute_item" => {}
                    "visibility_modifier" => vis = src.text(child).trim() == "pub",
                    _ => {
                        let mut s = symbol(SymbolKind::Field, format!("{owner}.{index}"), public && vis, child, src.body_hash(Some(child)));
                        s.ty = Some(src.norm(child));
                        out.push(s);
                        index += 1;
                        vis = false;
                    }
                }
            }
        }
        _ => {}
    }
}

/// A function's parameters: `self` as the receiver, then patterns with their types.
fn parameters(src: &Src<'_>, node: Node<'_>) -> Vec<Param> {
    let Some(list) = node.child_by_field_name("parameters") else { return Vec::new() };
    let mut params = Vec::new();
    for child in named_children(list) {
        let p = match child.kind() {
            "self_parameter" => Param { name: "self".into(), kind: ParamKind::Receiver, ty: Some(norm(src.text(child))), default: None, optional: false },
            "parameter" => Param {
                name: src.field_norm(child, "pattern").unwrap_or_default(),
                kind: ParamKind::Positional,
                ty: src.field_norm(child, "type"),
                default: None,
                optional: false,
            },
            "variadic_parameter" => Param { name: "...".into(), kind: ParamKind::VarPositional, ty: None, default: None, optional: true },
            _ => continue,
        };
        params.push(p);
    }
    params
}
