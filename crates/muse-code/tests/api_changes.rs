//! The API-change cases of each language: a removed function, a rename, a parameter added with
//! and without a default, a visibility change, a method moved between classes, a body-only
//! change, and no change; each with the bump and the rule ids it must give.

use muse_code::{diff_files, extract, FileSides, Language, SemanticDiff};
use muse_core::SemVerBump;

/// The semantic diff of one file changed from `old` to `new` (no changed file when equal, as
/// a snapshot diff gives).
fn diff(path: &str, old: &str, new: &str) -> SemanticDiff {
    let language = Language::of_path(path).expect("a language muse extracts");
    let sides =
        FileSides { path: path.into(), language: Some(language), old: Some(extract(language, old.as_bytes())), new: Some(extract(language, new.as_bytes())) };
    diff_files(if old == new { &[] } else { std::slice::from_ref(&sides) })
}

/// Asserts the bump and the rule ids of every finding (major ones first, then minor ones).
#[track_caller]
fn expect(path: &str, old: &str, new: &str, bump: SemVerBump, rules: &[&str]) {
    let d = diff(path, old, new);
    let got: Vec<&str> = d.breaking.iter().chain(&d.additions).map(|f| f.rule.as_str()).collect();
    assert_eq!((d.bump, got.as_slice()), (bump, rules), "{path}:\n--- old\n{old}\n--- new\n{new}\n{:#?}", d);
}

use SemVerBump::{Major, Minor, None as NoBump, Patch};

#[test]
fn python() {
    let p = "pkg/api.py";
    let base = "def get(url, params=None):\n    return request('get', url, params)\n\ndef _helper(x):\n    return x\n";
    expect(p, base, base, NoBump, &[]);
    expect(p, base, "def _helper(x):\n    return x\n", Major, &["symbol-removed"]);
    expect(p, base, "def fetch(url, params=None):\n    return request('get', url, params)\n\ndef _helper(x):\n    return x\n", Major, &["symbol-renamed"]);
    expect(
        p,
        base,
        "def get(url, params=None, timeout=10):\n    return request('get', url, params)\n\ndef _helper(x):\n    return x\n",
        Minor,
        &["param-optional-added"],
    );
    expect(
        p,
        base,
        "def get(url, timeout, params=None):\n    return request('get', url, params)\n\ndef _helper(x):\n    return x\n",
        Major,
        &["param-reordered", "param-required-added"],
    );
    expect(
        p,
        base,
        "def get(url, params=None, *, timeout):\n    return request('get', url, params)\n\ndef _helper(x):\n    return x\n",
        Major,
        &["param-required-added"],
    );
    expect(p, base, "def _get(url, params=None):\n    return request('get', url, params)\n\ndef _helper(x):\n    return x\n", Major, &["symbol-renamed"]);
    expect(p, base, "def get(url, params=None):\n    return request('get', url, params)\n\ndef helper(x):\n    return x\n", Minor, &["symbol-added"]);
    expect(p, base, "def get(url, params=None):\n    # a comment\n    return request('get', url, params)\n\ndef _helper(x):\n    return x + 1\n", Patch, &[]);
    expect(p, base, "def get(url, params):\n    return request('get', url, params)\n\ndef _helper(x):\n    return x\n", Major, &["param-became-required"]);
    expect(p, base, "def get(address, params=None):\n    return request('get', url, params)\n\ndef _helper(x):\n    return x\n", Major, &["param-renamed"]);
    expect(p, "def get(url: str): pass\n", "def get(url: bytes): pass\n", Major, &["param-type-changed"]);
    expect(p, "def get(url): pass\n", "def get(url: str) -> int: pass\n", Patch, &[]);
    // __all__ decides what a module exports.
    expect(p, "__all__ = ['a']\ndef a(): return 1\ndef b(): return 2\n", "__all__ = ['a']\ndef a(): return 1\n", Patch, &[]);
    expect(
        p,
        "__all__ = ['a', 'b']\ndef a(): return 1\ndef b(): return 2\n",
        "__all__ = ['a']\ndef a(): return 1\ndef b(): return 2\n",
        Major,
        &["visibility-reduced"],
    );
    // A method moved between classes.
    let classes = "class A:\n    def run(self, x):\n        return x * 2\n\nclass B:\n    pass\n";
    let moved = "class A:\n    pass\n\nclass B:\n    def run(self, x):\n        return x * 2\n";
    expect(p, classes, moved, Major, &["symbol-moved"]);
    expect(p, classes, "class A:\n    def run(self, x, y=0):\n        return x * 2\n\nclass B:\n    pass\n", Minor, &["param-optional-added"]);
    expect(
        p,
        classes,
        "class A:\n    def run(self, x):\n        return x * 2\n    def stop(self):\n        return 0\n\nclass B:\n    pass\n",
        Minor,
        &["symbol-added"],
    );
    expect(p, classes, "class A:\n    @staticmethod\n    def run(x):\n        return x * 2\n\nclass B:\n    pass\n", Major, &["receiver-changed"]);
    // Tests and private modules are outside the API.
    expect("tests/test_api.py", base, "def _helper(x):\n    return x\n", Patch, &[]);
    expect("pkg/_compat.py", base, "def _helper(x):\n    return x\n", Patch, &[]);
    // A class renamed while it changed: removed and added, its unchanged members not again.
    expect(
        p,
        classes,
        "class Runner:\n    def run(self, x):\n        return x * 2\n    def more(self):\n        return 1\n\nclass B:\n    pass\n",
        Major,
        &["symbol-removed", "symbol-added"],
    );
    // A renamed class: one finding, not one per method.
    expect(p, classes, "class Runner:\n    def run(self, x):\n        return x * 2\n\nclass B:\n    pass\n", Major, &["symbol-renamed"]);
}

#[test]
fn rust() {
    let p = "src/lib.rs";
    let base = "pub fn parse(input: &str) -> Result<Ast, Error> {\n    Parser::new(input).run()\n}\nfn helper() -> u8 { 1 }\n";
    expect(p, base, base, NoBump, &[]);
    expect(p, base, "fn helper() -> u8 { 1 }\n", Major, &["symbol-removed"]);
    expect(
        p,
        base,
        "pub fn parse_str(input: &str) -> Result<Ast, Error> {\n    Parser::new(input).run()\n}\nfn helper() -> u8 { 1 }\n",
        Major,
        &["symbol-renamed"],
    );
    // Rust has no default arguments: any added parameter is required.
    expect(
        p,
        base,
        "pub fn parse(input: &str, strict: bool) -> Result<Ast, Error> {\n    Parser::new(input).run()\n}\nfn helper() -> u8 { 1 }\n",
        Major,
        &["param-required-added"],
    );
    expect(
        p,
        base,
        "pub fn parse(input: String) -> Result<Ast, Error> {\n    Parser::new(input).run()\n}\nfn helper() -> u8 { 1 }\n",
        Major,
        &["param-type-changed"],
    );
    expect(p, base, "pub fn parse(input: &str) -> Option<Ast> {\n    Parser::new(input).run()\n}\nfn helper() -> u8 { 1 }\n", Major, &["return-type-changed"]);
    expect(
        p,
        base,
        "pub(crate) fn parse(input: &str) -> Result<Ast, Error> {\n    Parser::new(input).run()\n}\nfn helper() -> u8 { 1 }\n",
        Major,
        &["visibility-reduced"],
    );
    expect(
        p,
        base,
        "pub fn parse(input: &str) -> Result<Ast, Error> {\n    Parser::new(input).run()\n}\npub fn helper() -> u8 { 1 }\n",
        Minor,
        &["symbol-added"],
    );
    expect(
        p,
        base,
        "pub fn parse(input: &str) -> Result<Ast, Error> {\n    // faster\n    Parser::new(input).fast()\n}\nfn helper() -> u8 { 2 }\n",
        Patch,
        &[],
    );
    // Methods moved between impl blocks of two types.
    let impls = "pub struct A;\npub struct B;\nimpl A {\n    pub fn run(&self, x: u32) -> u32 { x * 2 }\n}\nimpl B {}\n";
    let moved = "pub struct A;\npub struct B;\nimpl A {}\nimpl B {\n    pub fn run(&self, x: u32) -> u32 { x * 2 }\n}\n";
    expect(p, impls, moved, Major, &["symbol-moved"]);
    expect(
        p,
        impls,
        "pub struct A;\npub struct B;\nimpl A {\n    pub fn run(&mut self, x: u32) -> u32 { x * 2 }\n}\nimpl B {}\n",
        Major,
        &["receiver-changed"],
    );
    // Fields, variants, trait items.
    let types = "pub struct P { pub x: i32, y: i32 }\npub enum E { A, B }\n#[non_exhaustive]\npub enum F { A }\npub trait T { fn a(&self); fn b(&self) {} }\n";
    expect(
        p,
        types,
        "pub struct P { pub x: i64, y: i32 }\npub enum E { A, B }\n#[non_exhaustive]\npub enum F { A }\npub trait T { fn a(&self); fn b(&self) {} }\n",
        Major,
        &["type-changed"],
    );
    expect(
        p,
        types,
        "pub struct P { pub x: i32, y: i32 }\npub enum E { A, B, C }\n#[non_exhaustive]\npub enum F { A, B }\npub trait T { fn a(&self); fn b(&self) {} }\n",
        Major,
        &["variant-added", "symbol-added"],
    );
    expect(p, types, "pub struct P { pub x: i32, y: i32 }\npub enum E { A, B }\n#[non_exhaustive]\npub enum F { A }\npub trait T { fn a(&self); fn b(&self) {} fn c(&self); }\n", Major, &["required-member-added"]);
    expect(p, types, "pub struct P { pub x: i32, y: i32 }\npub enum E { A, B }\n#[non_exhaustive]\npub enum F { A }\npub trait T { fn a(&self); fn b(&self) {} fn c(&self) {} }\n", Minor, &["symbol-added"]);
    expect(
        p,
        types,
        "pub struct P { pub x: i32, y: i32, z: u8 }\npub enum E { A, B }\n#[non_exhaustive]\npub enum F { A }\npub trait T { fn a(&self); fn b(&self) {} }\n",
        Patch,
        &[],
    );
    // A private module's and a binary's items are not API.
    expect(p, "mod m { pub fn f() -> u8 { 1 } }\n", "mod m {}\n", Patch, &[]);
    expect("src/main.rs", base, "fn helper() -> u8 { 1 }\n", Patch, &[]);
}

#[test]
fn typescript() {
    let p = "src/client.ts";
    let base = "export function get(url: string, opts?: Options): Promise<Response> {\n  return send('GET', url, opts);\n}\nfunction helper(x: number) { return x; }\n";
    expect(p, base, base, NoBump, &[]);
    expect(p, base, "function helper(x: number) { return x; }\n", Major, &["symbol-removed"]);
    expect(p, base, "export function fetchUrl(url: string, opts?: Options): Promise<Response> {\n  return send('GET', url, opts);\n}\nfunction helper(x: number) { return x; }\n", Major, &["symbol-renamed"]);
    expect(p, base, "export function get(url: string, opts?: Options, retries = 3): Promise<Response> {\n  return send('GET', url, opts);\n}\nfunction helper(x: number) { return x; }\n", Minor, &["param-optional-added"]);
    expect(p, base, "export function get(url: string, opts?: Options, retries: number): Promise<Response> {\n  return send('GET', url, opts);\n}\nfunction helper(x: number) { return x; }\n", Major, &["param-required-added"]);
    expect(
        p,
        base,
        "function get(url: string, opts?: Options): Promise<Response> {\n  return send('GET', url, opts);\n}\nfunction helper(x: number) { return x; }\n",
        Major,
        &["visibility-reduced"],
    );
    expect(p, base, "export function get(url: string, opts?: Options): Promise<Response> {\n  return send('GET', url, opts);\n}\nfunction helper(x: number) { return x; }\nexport { helper };\n", Minor, &["symbol-added"]);
    expect(
        p,
        base,
        "export function get(url: URL, opts?: Options): Promise<Response> {\n  return send('GET', url, opts);\n}\nfunction helper(x: number) { return x; }\n",
        Major,
        &["param-type-changed"],
    );
    let classes = "export class A {\n  run(x: number): number { return x * 2; }\n  private secret() { return 1; }\n}\nexport class B {}\n";
    let moved = "export class A {\n  private secret() { return 1; }\n}\nexport class B {\n  run(x: number): number { return x * 2; }\n}\n";
    expect(p, classes, moved, Major, &["symbol-moved"]);
    expect(p, classes, "export class A {\n  run(x: number): number { return x * 2; }\n}\nexport class B {}\n", Patch, &[]);
    let iface = "export interface Options {\n  timeout?: number;\n  base: string;\n}\n";
    expect(p, iface, "export interface Options {\n  timeout?: number;\n  base: string;\n  retries?: number;\n}\n", Minor, &["symbol-added"]);
    expect(p, iface, "export interface Options {\n  timeout?: number;\n  base: string;\n  retries: number;\n}\n", Major, &["required-member-added"]);
    expect(p, iface, "export interface Options {\n  timeout?: number;\n}\n", Major, &["symbol-removed"]);
}

#[test]
fn javascript() {
    let p = "lib/index.js";
    let base = "export function get(url, opts) {\n  return send('GET', url, opts);\n}\nexport const VERSION = '1.0';\nfunction helper(x) { return x; }\n";
    expect(p, base, base, NoBump, &[]);
    expect(p, base, "export const VERSION = '1.0';\nfunction helper(x) { return x; }\n", Major, &["symbol-removed"]);
    expect(
        p,
        base,
        "export function request(url, opts) {\n  return send('GET', url, opts);\n}\nexport const VERSION = '1.0';\nfunction helper(x) { return x; }\n",
        Major,
        &["symbol-renamed"],
    );
    expect(
        p,
        base,
        "export function get(url, opts, retries = 3) {\n  return send('GET', url, opts);\n}\nexport const VERSION = '1.0';\nfunction helper(x) { return x; }\n",
        Minor,
        &["param-optional-added"],
    );
    expect(
        p,
        base,
        "export function get(url, opts, retries) {\n  return send('GET', url, opts);\n}\nexport const VERSION = '1.0';\nfunction helper(x) { return x; }\n",
        Major,
        &["param-required-added"],
    );
    expect(
        p,
        base,
        "function get(url, opts) {\n  return send('GET', url, opts);\n}\nexport const VERSION = '1.0';\nfunction helper(x) { return x; }\n",
        Major,
        &["visibility-reduced"],
    );
    expect(
        p,
        base,
        "export function get(url, opts) {\n  return send('GET', url, opts);\n}\nexport const VERSION = '1.1';\nfunction helper(x) { return x + 1; }\n",
        Patch,
        &[],
    );
    expect(
        p,
        base,
        "export function get(url, opts) {\n  return send('GET', url, opts);\n}\nexport const VERSION = '1.0';\nexport function helper(x) { return x; }\n",
        Minor,
        &["symbol-added"],
    );
    let classes = "export class A {\n  run(x) { return x * 2; }\n}\nexport class B {}\n";
    expect(p, classes, "export class A {}\nexport class B {\n  run(x) { return x * 2; }\n}\n", Major, &["symbol-moved"]);
    expect(p, "export const add = (a, b) => a + b;\n", "export const add = (a, b, c = 0) => a + b + c;\n", Minor, &["param-optional-added"]);
}

#[test]
fn go() {
    let p = "client/client.go";
    let base = "package client\n\nfunc Get(url string, timeout int) (*Response, error) {\n\treturn send(\"GET\", url, timeout)\n}\n\nfunc helper(x int) int { return x }\n";
    expect(p, base, base, NoBump, &[]);
    expect(p, base, "package client\n\nfunc helper(x int) int { return x }\n", Major, &["symbol-removed"]);
    expect(p, base, "package client\n\nfunc Fetch(url string, timeout int) (*Response, error) {\n\treturn send(\"GET\", url, timeout)\n}\n\nfunc helper(x int) int { return x }\n", Major, &["symbol-renamed"]);
    // Go has no defaults: an added parameter is required, a variadic one optional.
    expect(p, base, "package client\n\nfunc Get(url string, timeout int, retries int) (*Response, error) {\n\treturn send(\"GET\", url, timeout)\n}\n\nfunc helper(x int) int { return x }\n", Major, &["param-required-added"]);
    expect(p, base, "package client\n\nfunc Get(url string, timeout int, opts ...Option) (*Response, error) {\n\treturn send(\"GET\", url, timeout)\n}\n\nfunc helper(x int) int { return x }\n", Minor, &["param-optional-added"]);
    expect(p, base, "package client\n\nfunc get(url string, timeout int) (*Response, error) {\n\treturn send(\"GET\", url, timeout)\n}\n\nfunc helper(x int) int { return x }\n", Major, &["symbol-renamed"]);
    expect(p, base, "package client\n\nfunc Get(url string, timeout int) (*Response, error) {\n\treturn send(\"GET\", url, timeout)\n}\n\nfunc Helper(x int) int { return x }\n", Minor, &["symbol-added"]);
    expect(p, base, "package client\n\nfunc Get(url string, timeout time.Duration) (*Response, error) {\n\treturn send(\"GET\", url, timeout)\n}\n\nfunc helper(x int) int { return x }\n", Major, &["param-type-changed"]);
    let methods = "package client\n\ntype A struct{}\ntype B struct{}\n\nfunc (a *A) Run(x int) int { return x * 2 }\n";
    expect(p, methods, "package client\n\ntype A struct{}\ntype B struct{}\n\nfunc (b *B) Run(x int) int { return x * 2 }\n", Major, &["symbol-moved"]);
    expect(p, methods, "package client\n\ntype A struct{}\ntype B struct{}\n\nfunc (a A) Run(x int) int { return x * 2 }\n", Major, &["receiver-changed"]);
    let iface = "package client\n\ntype Doer interface {\n\tDo(r *Request) error\n}\n";
    expect(p, iface, "package client\n\ntype Doer interface {\n\tDo(r *Request) error\n\tClose() error\n}\n", Major, &["required-member-added"]);
    // internal/ packages and package main have no public API.
    expect("x/internal/c/c.go", base, "package client\n\nfunc helper(x int) int { return x }\n", Patch, &[]);
    expect("cmd/tool/main.go", "package main\n\nfunc Run() {}\n", "package main\n", Patch, &[]);
}

#[test]
fn a_function_moved_between_files_of_a_go_package_is_no_change() {
    let (a, b) = ("pkg/a.go", "pkg/b.go");
    let f = "package pkg\n\nfunc Run(x int) int { return x }\n";
    let sides = |path: &str, old: &str, new: &str| FileSides {
        path: path.into(),
        language: Some(Language::Go),
        old: Some(extract(Language::Go, old.as_bytes())),
        new: Some(extract(Language::Go, new.as_bytes())),
    };
    let d = diff_files(&[sides(a, f, "package pkg\n"), sides(b, "package pkg\n", f)]);
    assert_eq!(d.bump, Patch);
    assert!(d.breaking.is_empty() && d.additions.is_empty(), "{d:#?}");
    // In Python a move between modules changes the import path.
    let g = "def run(x):\n    return x\n";
    let py = |path: &str, old: &str, new: &str| FileSides {
        path: path.into(),
        language: Some(Language::Python),
        old: Some(extract(Language::Python, old.as_bytes())),
        new: Some(extract(Language::Python, new.as_bytes())),
    };
    let d = diff_files(&[py("pkg/a.py", g, ""), py("pkg/b.py", "", g)]);
    assert_eq!(d.breaking.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(), ["symbol-moved"]);
    assert_eq!((d.breaking[0].path.as_str(), d.breaking[0].line), ("pkg/a.py", 1));
    // Moving a package into `src/` keeps its import path.
    let gone = |path: &str| FileSides { path: path.into(), language: Some(Language::Python), old: Some(extract(Language::Python, g.as_bytes())), new: None };
    let new = |path: &str| FileSides { path: path.into(), language: Some(Language::Python), old: None, new: Some(extract(Language::Python, g.as_bytes())) };
    let d = diff_files(&[gone("pkg/a.py"), new("src/pkg/a.py")]);
    assert!(d.breaking.is_empty() && d.additions.is_empty(), "{d:#?}");
    assert_eq!(d.bump, Patch);
}

#[test]
fn documentation_alone_is_no_bump_and_unknown_files_are_patch() {
    let doc = FileSides { path: "README.md".into(), language: None, old: None, new: None };
    assert_eq!(diff_files(std::slice::from_ref(&doc)).bump, NoBump);
    let data = FileSides { path: "data/config.yaml".into(), language: None, old: None, new: None };
    let d = diff_files(&[doc, data]);
    assert_eq!(d.bump, Patch);
    assert_eq!(d.files[1].unknown, Some(muse_code::UnknownReason::UnknownLanguage));
}
