//! READMEs: Markdown (CommonMark with tables, strikethrough and task lists) rendered to HTML
//! with any raw HTML in the source shown as text, and links or images whose URL has a scheme
//! other than `http`, `https` or `mailto` made inert.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag};

/// Whether a link's destination is safe to keep: relative, a fragment, or `http(s):`/`mailto:`.
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.find(':') {
        None => true,
        Some(colon) => {
            // A colon after a slash, `?` or `#` is not a scheme's.
            let before = &lower[..colon];
            before.contains(['/', '?', '#']) || matches!(before, "http" | "https" | "mailto")
        }
    }
}

/// The HTML of a Markdown document.
pub fn render(source: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(source, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) if !safe_url(&dest_url) => {
            Event::Start(Tag::Link { link_type, dest_url: CowStr::Borrowed("#"), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) if !safe_url(&dest_url) => {
            Event::Start(Tag::Image { link_type, dest_url: CowStr::Borrowed("#"), title, id })
        }
        other => other,
    });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_text_and_bad_links_are_inert() {
        let html = render("# Title <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[a](javascript:alert(1)) [b](https://x.org/a:b) [c](docs/a.md) ![i](data:x)\n");
        assert!(html.contains("<h1>Title &lt;script&gt;alert(1)&lt;/script&gt;</h1>"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
        assert!(!html.contains("<script") && !html.contains("<img src=\"x"), "{html}");
        assert!(html.contains("<a href=\"#\">a</a>") && html.contains("href=\"https://x.org/a:b\"") && html.contains("href=\"docs/a.md\""), "{html}");
        assert!(html.contains("<img src=\"#\""), "{html}");
    }
}
