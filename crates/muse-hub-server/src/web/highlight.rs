//! Language detection by file name and server-side syntax highlighting (syntect's bundled
//! Sublime syntaxes, pure-Rust regexes): each line comes out as its own balanced HTML, with
//! one class per token from a small palette (`hl-comment`, `hl-string`, …) that the style
//! sheet colours for light and dark.

use std::collections::HashMap;
use std::sync::OnceLock;

use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxReference, SyntaxSet};

/// Files larger than this are shown without highlighting (bytes).
pub const HIGHLIGHT_MAX: usize = 512 << 10;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn syntax_for(path: &str) -> Option<&'static SyntaxReference> {
    let set = syntaxes();
    let name = path.rsplit('/').next().unwrap_or(path);
    let by_ext =
        name.rsplit_once('.').and_then(|(_, ext)| set.find_syntax_by_extension(ext).or_else(|| set.find_syntax_by_extension(&ext.to_ascii_lowercase())));
    by_ext.or_else(|| set.find_syntax_by_extension(name))
}

/// The language of a file from its name, in lowercase (`python`, `rust`, `markdown`), or
/// `text` when unknown.
pub fn language(path: &str) -> String {
    match syntax_for(path) {
        Some(syntax) if syntax.name != "Plain Text" => syntax.name.to_ascii_lowercase(),
        _ => "text".to_string(),
    }
}

/// The palette: the first scope prefix that matches, looking from the innermost scope out,
/// names the token's class.
const PALETTE: &[(&str, &str)] = &[
    ("comment", "hl-comment"),
    ("string", "hl-string"),
    ("constant.numeric", "hl-number"),
    ("constant.character.escape", "hl-escape"),
    ("constant", "hl-constant"),
    ("keyword", "hl-keyword"),
    ("storage.type", "hl-type"),
    ("storage", "hl-keyword"),
    ("entity.name.function", "hl-function"),
    ("support.function", "hl-function"),
    ("variable.function", "hl-function"),
    ("entity.name.tag", "hl-tag"),
    ("entity.other.attribute-name", "hl-attr"),
    ("entity.name", "hl-type"),
    ("support.type", "hl-type"),
    ("support.class", "hl-type"),
    ("variable.language", "hl-constant"),
    ("variable.parameter", "hl-param"),
    ("meta.annotation", "hl-function"),
    ("markup.heading", "hl-heading"),
    ("markup.bold", "hl-strong"),
    ("markup.italic", "hl-emphasis"),
    ("markup.underline.link", "hl-link"),
    ("markup.raw", "hl-string"),
    ("markup.inserted", "hl-inserted"),
    ("markup.deleted", "hl-deleted"),
];

fn class_of(scope: Scope, memo: &mut HashMap<Scope, Option<&'static str>>) -> Option<&'static str> {
    *memo.entry(scope).or_insert_with(|| {
        let name = scope.build_string();
        PALETTE.iter().find(|(prefix, _)| name == *prefix || name.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))).map(|(_, class)| *class)
    })
}

/// HTML-escapes `text` into `out`.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The lines of `text` (without their newlines), each as escaped HTML; highlighted when the
/// language is known and the text is at most [`HIGHLIGHT_MAX`] bytes. A line the highlighter
/// fails on, and every line after it, is shown plain.
pub fn highlight(path: &str, text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let syntax = if text.len() <= HIGHLIGHT_MAX { syntax_for(path).filter(|s| s.name != "Plain Text") } else { None };
    let mut out = Vec::with_capacity(lines.len());
    let mut state = syntax.map(|s| (ParseState::new(s), ScopeStack::new()));
    let mut memo = HashMap::new();
    for line in lines {
        let mut html = String::with_capacity(line.len() + 16);
        let shown = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(line);
        let highlighted = state.as_mut().is_some_and(|(parse, stack)| highlight_line(line, shown.len(), parse, stack, &mut memo, &mut html).is_some());
        if !highlighted {
            state = None;
            html.clear();
            escape_into(&mut html, shown);
        }
        out.push(html);
    }
    out
}

/// One line into `html`; `None` if the highlighter failed.
fn highlight_line(
    line: &str,
    shown: usize,
    parse: &mut ParseState,
    stack: &mut ScopeStack,
    memo: &mut HashMap<Scope, Option<&'static str>>,
    html: &mut String,
) -> Option<()> {
    let ops = parse.parse_line(line, syntaxes()).ok()?;
    let mut at = 0;
    // The class of the span open in `html`: neighbouring tokens of one class share it.
    let mut open: Option<&'static str> = None;
    let mut emit = |html: &mut String, stack: &ScopeStack, from: usize, to: usize| {
        let to = to.min(shown);
        if from >= to {
            return;
        }
        let class = stack.as_slice().iter().rev().find_map(|s| class_of(*s, memo));
        if class != open {
            if open.is_some() {
                html.push_str("</span>");
            }
            if let Some(class) = class {
                html.push_str("<span class=\"");
                html.push_str(class);
                html.push_str("\">");
            }
            open = class;
        }
        escape_into(html, &line[from..to]);
    };
    for (offset, op) in ops {
        let offset = offset.min(line.len());
        emit(html, stack, at, offset);
        at = offset;
        stack.apply(&op).ok()?;
    }
    emit(html, stack, at, line.len());
    if open.is_some() {
        html.push_str("</span>");
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_by_name() {
        assert_eq!(language("tests/test_apply.py"), "python");
        assert_eq!(language("src/lib.rs"), "rust");
        assert_eq!(language("README.md"), "markdown");
        assert_eq!(language("Makefile"), "makefile");
        assert_eq!(language("notes.unknownext"), "text");
        assert_eq!(language("LICENSE"), "text");
    }

    #[test]
    fn lines_are_escaped_balanced_and_coloured() {
        let lines = highlight("a.py", "# <script>alert(1)</script>\ns = \"\\\"><img src=x onerror=alert(1)>\"\n\nx = 1\n");
        assert_eq!(lines.len(), 4);
        assert!(lines[0].contains("hl-comment") && lines[0].contains("&lt;script&gt;"), "{}", lines[0]);
        assert!(!lines.iter().any(|l| l.contains("<script") || l.contains("<img")));
        assert!(lines[1].contains("hl-string"), "{}", lines[1]);
        assert_eq!(lines[2], "");
        for line in &lines {
            assert_eq!(line.matches("<span").count(), line.matches("</span>").count(), "{line}");
        }
        // Neighbouring tokens of one class share a span.
        let rst = highlight("a.rst", "-   ``redirect`` returns\n");
        assert_eq!(rst[0].matches("<span").count(), 1, "{}", rst[0]);
        assert!(rst[0].contains("``redirect``"), "{}", rst[0]);
        let plain = highlight("x.unknownext", "a<b\r\nc");
        assert_eq!(plain, ["a&lt;b", "c"]);
    }
}
