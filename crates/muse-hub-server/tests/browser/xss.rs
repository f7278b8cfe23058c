//! Hostile names and texts render inert, asserted in the browser: a repository whose file names,
//! file contents, messages, branch and tag names, model id and breaking-change texts carry
//! `<script>` and `"><img onerror=…>`; every page of it is visited (the links on its pages
//! followed) and on each `window.__xss` stays undefined, no alert is open and no injected node
//! exists.

use std::collections::{BTreeSet, VecDeque};

use muse_core::SemVerBump;
use muse_hub_server::demo::{publish, Author, CommitSpec, History};
use serde_json::Value;

use crate::common::TestHub;
use crate::harness::Browser;
use crate::unix_now;

const SCRIPT: &str = "<script>window.__xss=1</script>";
const IMG: &str = "\"><img src=x onerror=\"window.__xss=1\">";
/// A branch name cannot hold a space: the same attack with `/` between the attributes.
const IMG_REF: &str = "\"><img/src/onerror=window.__xss=1>";

/// Pages visited at most (the crawl stops there).
const MAX_PAGES: usize = 400;

/// `mallory/xss`: two commits full of payloads on `main`, and branches and a tag named by them.
fn hostile_hub() -> TestHub {
    let hub = TestHub::start(muse_hub::Backend::Sqlite);
    hub.user("mallory");
    let repo = hub.repo("mallory", "xss", false);
    let mut h = History::new(unix_now()).unwrap();
    let agent = Author::agent(&format!("{IMG} <m@example.com>"), SCRIPT, IMG, SCRIPT);
    let readme =
        format!("# {SCRIPT}\n\n{IMG}\n\n<img src=x onerror=\"window.__xss=1\">\n\n[click](javascript:window.__xss=1)\n\n<script>window.__xss=1</script>\n");
    let body = format!("{SCRIPT}\n{IMG}\n");
    h.commit(
        "main",
        CommitSpec::new(3 * 86_400, &Author::human(&format!("{SCRIPT} <s@example.com>")), &format!("{SCRIPT} first\n\n{IMG}"))
            .file("README.md", readme.clone())
            .file(&format!("{IMG}.py"), format!("x = '{SCRIPT}'\ny = '{IMG}'\n"))
            .file(SCRIPT, body.clone())
            .file("page.html", format!("<!doctype html>\n{SCRIPT}\n{IMG}\n"))
            .file(&format!("{IMG}/inside.md"), body.clone()),
    )
    .unwrap();
    let second = h
        .commit(
            "main",
            CommitSpec::new(86_400, &agent, &format!("{IMG} {SCRIPT} second, a first line long enough to be cut with an ellipsis\n\n{SCRIPT}"))
                .bump(SemVerBump::Major)
                .breaking(SCRIPT)
                .breaking(IMG)
                .file("README.md", format!("{readme}\n{IMG}\n"))
                .file(&format!("{IMG}.py"), format!("x = '{SCRIPT}'\ny = '{IMG}'\nz = 1\n"))
                .file("page.html", format!("<!doctype html>\n{SCRIPT}\n{IMG}\n<p>{IMG}</p>\n")),
        )
        .unwrap();
    h.branch(SCRIPT, "main").unwrap();
    h.branch(IMG_REF, "main").unwrap();
    h.commit(IMG_REF, CommitSpec::new(3_600, &agent, IMG).file(SCRIPT, format!("{body}{IMG}\n"))).unwrap();
    h.tag(SCRIPT, second);
    let packed = h.pack().unwrap();
    hub.rt.block_on(publish(hub.state(), &repo, packed)).unwrap();
    hub
}

/// What the page holds that it must not, read in the page.
const PROBE: &str = r#"
    const injectedImg = Array.from(document.querySelectorAll('img')).filter(i => i.getAttribute('src') === 'x' || i.hasAttribute('onerror') || i.hasAttribute('src/onerror') || i.getAttribute('src') === '');
    const inlineScripts = Array.from(document.scripts).filter(s => !s.src || new URL(s.src).origin !== location.origin || !new URL(s.src).pathname.startsWith('/static/'));
    const handlers = Array.from(document.querySelectorAll('*')).filter(e => Array.from(e.attributes).some(a => a.name.startsWith('on')));
    const jsLinks = Array.from(document.querySelectorAll('a[href]')).filter(a => a.getAttribute('href').trim().toLowerCase().startsWith('javascript:'));
    return {
        xss: typeof window.__xss,
        img: injectedImg.map(e => e.outerHTML),
        scripts: inlineScripts.map(e => e.outerHTML.slice(0, 200)),
        handlers: handlers.map(e => e.outerHTML.slice(0, 200)),
        js_links: jsLinks.map(e => e.outerHTML),
        shows_payload: document.body !== null && document.body.innerText.includes('window.__xss=1'),
        links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    };
"#;

#[test]
fn hostile_names_and_texts_render_inert_on_every_page() {
    let hub = hostile_hub();
    let Some(browser) = Browser::start("xss", &hub.base) else { return };
    let base = hub.base.clone();
    let start = [
        "/".to_string(),
        "/mallory".to_string(),
        "/mallory/xss".to_string(),
        format!("/mallory/xss/commits/main?model={}", encode(IMG)),
        format!("/mallory/xss/commits/main?agent={}", encode(SCRIPT)),
        format!("/mallory/xss/commits/main?path={}", encode(&format!("{IMG}.py"))),
        format!("/mallory/{}", encode(SCRIPT)),
        format!("/mallory/xss/blob/main/{}", encode("no such file <script>window.__xss=1</script>")),
        format!("/login?next={}", encode(&format!("javascript:{SCRIPT}"))),
    ];
    let mut queue: VecDeque<String> = start.iter().map(|p| format!("{base}{p}")).collect();
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    let mut showing = BTreeSet::new();
    let mut visited = 0;
    browser.run(async {
        while let Some(url) = queue.pop_front() {
            visited += 1;
            assert!(visited <= MAX_PAGES, "more than {MAX_PAGES} pages: the crawl does not end");
            browser.visit(&url).await;
            assert!(!browser.alert_open().await, "an alert opened on {url}");
            let probe = browser.js(PROBE).await;
            assert_eq!(probe["xss"], "undefined", "a payload ran on {url}");
            for key in ["img", "scripts", "handlers", "js_links"] {
                assert_eq!(probe[key], Value::Array(Vec::new()), "injected {key} on {url}");
            }
            if probe["shows_payload"] == true {
                showing.insert(url.clone());
            }
            // Follow the repository's own links (not sign-in, sign-out or elsewhere).
            for link in probe["links"].as_array().unwrap() {
                let link = link.as_str().unwrap();
                let link = link.split('#').next().unwrap();
                if link.starts_with(&format!("{base}/mallory/xss")) && !seen.contains(link) {
                    seen.insert(link.to_string());
                    queue.push_back(link.to_string());
                }
            }
        }
    });
    // The payloads were shown as text (escaped), not dropped: on the file, commit and ref pages.
    let shown = |part: &str| showing.iter().any(|u| u.contains(part));
    for part in ["/blob/", "/commit/", "/blame/", "/commits/", "/branches", "/tags", "/tree/"] {
        assert!(shown(part), "no {part} page shows the payloads as text: visited {seen:#?}");
    }
    assert!(visited >= 20, "the crawl reached only {visited} pages: {seen:#?}");
    // Raw files are never HTML.
    let agent = crate::common::agent();
    for path in ["page.html", &format!("{IMG}.py"), "README.md"] {
        let url = format!("{base}/mallory/xss/raw/main/{}", encode_path(path));
        let response = agent.get(&url).call().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(header("content-type").starts_with("text/plain"), "{url}: {}", header("content-type"));
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert!(header("content-security-policy").contains("sandbox"), "{url}");
    }
    // Every HTML page forbids inline scripts.
    let response = agent.get(&format!("{base}/mallory/xss")).call().unwrap();
    let csp = response.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(csp.contains("script-src") || csp.contains("default-src"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// [`encode`] for a path: `/` kept.
fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}
