//! The seed's page and the pages around it, on the demo repositories, against the DOM contract.

use std::collections::BTreeMap;

use muse_hub_server::demo;
use serde_json::Value;

use crate::harness::Browser;
use crate::{demo_hub, SEED_PAGE};

/// The seed's File History, newest first: the first line as shown (cut as in the seed), the
/// bump, whether ⚠ is shown, the age.
const SEED_ROWS: [(&str, &str, bool, &str); 6] = [
    ("fix: remove commit_exists filter from have anchors — server…", "patch", false, "20 days ago"),
    ("fix: rename objects→blobs in push client and all stale test…", "patch", false, "22 days ago"),
    ("rename: delta_add → delta_upsert across wire format, source…", "minor", true, "22 days ago"),
    ("fix(push): step 0 log shows full /refs URL instead of misle…", "patch", false, "22 days ago"),
    ("fix: repair four test failures from post-migration audit", "patch", false, "28 days ago"),
    ("fix: unified object store migration — idempotent writes, JS…", "minor", true, "28 days ago"),
];

/// One history row as the page shows it.
#[derive(Debug)]
struct Row {
    commit: String,
    id_text: String,
    href: String,
    message: String,
    title: String,
    model: String,
    bump: String,
    breaking: Option<(String, String)>,
    age: String,
    datetime: String,
}

/// The rows of `[data-testid=file-history]`, read in one script.
async fn history_rows(browser: &Browser) -> Vec<Row> {
    let rows = browser
        .js(r#"
            const q = (row, id) => row.querySelector(`[data-testid=${id}]`);
            return Array.from(document.querySelectorAll('[data-testid=file-history] [data-testid=history-row]')).map(row => {
                const id = q(row, 'commit-id'), message = q(row, 'commit-message'), age = q(row, 'age'), breaking = q(row, 'breaking');
                return {
                    commit: row.getAttribute('data-commit'),
                    id_text: id.textContent.trim(),
                    href: id.getAttribute('href'),
                    message: message.textContent.trim(),
                    title: message.getAttribute('title'),
                    model: q(row, 'model').textContent.trim(),
                    bump: q(row, 'bump').textContent.trim(),
                    breaking: breaking ? [breaking.innerText.trim(), (breaking.getAttribute('title') || '') + '\n' + Array.from(row.querySelectorAll('details li')).map(li => li.textContent).join('\n')] : null,
                    age: age.textContent.trim(),
                    datetime: age.getAttribute('datetime'),
                };
            });
        "#)
        .await;
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            Row {
                commit: s("commit"),
                id_text: s("id_text"),
                href: s("href"),
                message: s("message"),
                title: s("title"),
                model: s("model"),
                bump: s("bump"),
                breaking: r["breaking"].as_array().map(|b| (b[0].as_str().unwrap().to_string(), b[1].as_str().unwrap().to_string())),
                age: s("age"),
                datetime: s("datetime"),
            }
        })
        .collect()
}

#[test]
fn the_seeds_page_shows_the_file_with_line_numbers_and_its_file_history() {
    let hub = demo_hub();
    let Some(browser) = Browser::start("seed_page", &hub.base) else { return };
    browser.run(async {
        browser.visit(SEED_PAGE).await;
        assert_eq!(browser.texts("[data-testid=file-name]").await, ["test_apply_mpack_partial_failure.py"]);
        assert_eq!(browser.texts("[data-testid=file-language]").await, ["python"]);

        // The code: every line, in order, with its number linking to itself.
        let lines = browser
            .js(r#"return Array.from(document.querySelectorAll('[id^=L]')).filter(e => /^L[0-9]+$/.test(e.id)).map(e => {
                const n = e.querySelector('[data-testid=line-number]'), code = e.querySelector('[data-testid=line-code]');
                return [e.id, n && n.textContent.trim(), n && n.getAttribute('href'), code ? code.textContent : null];
            })"#)
            .await;
        let lines = lines.as_array().unwrap();
        let expected: Vec<&str> = demo::SEED_FILE.lines().collect();
        assert_eq!(lines.len(), expected.len(), "one element per line");
        for (i, (line, code)) in lines.iter().zip(&expected).enumerate() {
            let n = i + 1;
            assert_eq!(line[0], format!("L{n}"));
            assert_eq!(line[1], n.to_string());
            assert_eq!(line[2], format!("#L{n}"));
            assert_eq!(line[3].as_str().map(|c| c.trim_end_matches('\n')), Some(*code), "line {n}");
        }

        // The File History: six commits, newest first, as in the seed.
        assert_eq!(browser.texts("[data-testid=file-history] [data-testid=history-count]").await, ["6 commits"]);
        let rows = history_rows(&browser).await;
        assert_eq!(rows.len(), 6, "{rows:#?}");
        let mut times = Vec::new();
        for (row, (message, bump, breaking, age)) in rows.iter().zip(SEED_ROWS) {
            // The seed's cut: past 60 characters, the first 59 and `…`.
            assert_eq!(row.message, message, "{row:?}");
            assert!(row.title.starts_with(message.trim_end_matches('…')) && row.title.chars().count() >= message.chars().count(), "{row:?}");
            assert_eq!(row.model, "Sonnet 4.6");
            assert_eq!(row.bump, bump);
            assert_eq!(row.age, age);
            assert_eq!(row.commit.len(), 64, "data-commit is the full hex id: {row:?}");
            let shown = row.id_text.strip_prefix("sha256:").unwrap_or_else(|| panic!("{row:?}"));
            assert!(shown.len() >= 8 && row.commit.starts_with(shown), "{row:?}");
            assert_eq!(row.href, format!("/demo/muse/commit/{}", row.commit));
            match (&row.breaking, breaking) {
                (None, false) => {}
                (Some((mark, texts)), true) => {
                    assert_eq!(mark, "⚠");
                    assert!(texts.contains("delta_upsert") || texts.contains(".muse/objects/"), "the breaking changes are reachable: {texts}");
                }
                (shown, _) => panic!("⚠ must be exactly on the breaking commits: {row:?} / {shown:?}"),
            }
            times.push(muse_core::rfc3339_to_unix(&row.datetime).unwrap_or_else(|| panic!("datetime {:?}", row.datetime)).0);
        }
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

        // The header: the last commit that changed the file.
        let header = browser
            .js(r#"const h = document.querySelector('[data-testid=last-commit]');
                return ['commit-id', 'commit-message', 'model', 'bump', 'age'].map(id => h.querySelector(`[data-testid=${id}]`).textContent.trim());"#)
            .await;
        let header: Vec<&str> = header.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(header[1..], [rows[0].message.as_str(), "Sonnet 4.6", "patch", "20 days ago"]);
        assert!(rows[0].commit.starts_with(header[0].trim_start_matches("sha256:")), "{header:?}");

        // The screenshot for people: the File History in view.
        browser.js("document.querySelector('[data-testid=file-history]').scrollIntoView(); return null").await;
        browser.screenshot("file-history").await;

        // #L12 links to line 12.
        browser.one("#L12 [data-testid=line-number]").await.click().await.unwrap();
        assert!(browser.url().await.ends_with(&format!("{SEED_PAGE}#L12")));
        assert_eq!(browser.js("return document.querySelector(':target').id").await, "L12");
        browser.visit(&format!("{SEED_PAGE}#L30")).await;
        assert_eq!(browser.js("return document.querySelector(':target').id").await, "L30");
    });
}

#[test]
fn links_lead_from_the_repository_to_the_file_its_commits_and_blame_before_a_change() {
    let hub = demo_hub();
    let Some(browser) = Browser::start("links", &hub.base) else { return };
    browser.run(async {
        // Home: public repositories only.
        browser.visit("/").await;
        let repos = attrs(&browser, "[data-testid=repo-link]", "href").await;
        assert!(repos.iter().any(|h| h.ends_with("/demo/muse")), "{repos:?}");
        assert!(!repos.iter().any(|h| h.ends_with("/demo/notes")), "a private repository is not listed signed out: {repos:?}");
        browser.visit("/demo").await;
        assert_eq!(attrs(&browser, "[data-testid=repo-link]", "href").await.len(), 1);

        // Repository home → tests/ → the seed's file.
        browser.visit("/demo/muse").await;
        assert!(browser.texts("[data-testid=clone-url]").await[0].ends_with("/demo/muse"));
        assert!(browser.texts("[data-testid=readme]").await[0].contains("Version control for teams of people and AI agents"));
        browser.one("[data-testid=branch-select]").await;
        let entries = tree_entries(&browser).await;
        assert_eq!(entries.get("tests").map(String::as_str), Some("tree"), "{entries:?}");
        assert_eq!(entries.get("README.md").map(String::as_str), Some("blob"), "{entries:?}");
        assert_eq!(browser.all("[data-testid=tree-entry] [data-testid=entry-last-commit]").await.len(), entries.len());
        entry_link(&browser, "tests").await.click().await.unwrap();
        browser.screenshot("tests-tree").await;
        assert!(browser.url().await.ends_with("/demo/muse/tree/main/tests"), "{}", browser.url().await);
        entry_link(&browser, "test_apply_mpack_partial_failure.py").await.click().await.unwrap();
        browser.screenshot("seed-page-from-tree").await;
        assert!(browser.url().await.ends_with(SEED_PAGE));

        // History row → commit page with the full provenance and the breaking changes.
        let third = browser.all("[data-testid=file-history] [data-testid=history-row]").await.remove(2);
        let id = third.attr("data-commit").await.unwrap().unwrap();
        third.find(fantoccini::Locator::Css("a[data-testid=commit-id]")).await.unwrap().click().await.unwrap();
        browser.screenshot("commit").await;
        assert!(browser.url().await.ends_with(&format!("/demo/muse/commit/{id}")));
        assert!(browser.texts("[data-testid=commit-message]").await[0].starts_with("rename: delta_add → delta_upsert across wire format, source, and tests"));
        let provenance = browser.texts("[data-testid=provenance]").await.join(" ");
        assert!(provenance.contains("claude-code") && (provenance.contains("claude-sonnet-4-6") || provenance.contains("Sonnet 4.6")), "{provenance}");
        assert_eq!(browser.texts("[data-testid=bump]").await, ["minor"]);
        assert_eq!(browser.all("[data-testid=breaking-list] li, [data-testid=breaking-list] [data-testid=breaking-item]").await.len(), 2);
        let changed = attrs(&browser, "[data-testid=changed-file]", "data-path").await;
        assert_eq!(changed, ["muse/core/mpack.py", demo::SEED_PATH]);
        let parents = attrs(&browser, "a[data-testid=parent]", "href").await;
        assert_eq!(parents.len(), 1);
        browser.one("a[data-testid=parent]").await.click().await.unwrap();
        browser.screenshot("parent").await;
        assert!(browser.texts("[data-testid=commit-message]").await[0].starts_with("fix(push): step 0 log"));

        // Blame of a file three models and people wrote: shares add up, runs link to blame before.
        browser.visit("/demo/muse/blame/main/muse/core/mpack.py").await;
        let shares = shares(&browser).await;
        let total: f64 = shares.values().sum();
        assert!((total - 100.0).abs() <= 0.1, "{shares:?}");
        for label in ["human", "GPT-5.1 Codex", "Sonnet 4.6"] {
            assert!(shares.get(label).is_some_and(|p| *p > 0.0), "{label} in {shares:?}");
        }
        let runs = browser.all("[data-testid=blame-run]").await;
        assert!(runs.len() >= 3);
        let lines = browser.js("return document.querySelectorAll('[id^=L]').length").await;
        assert!(lines.as_u64().unwrap() >= 40, "{lines}");
        let before = browser.all("a[data-testid=blame-before]").await;
        assert!(!before.is_empty());
        let href = before[0].attr("href").await.unwrap().unwrap();
        let target = href.split('#').next().unwrap();
        assert!(target.starts_with("/demo/muse/blame/") && target.ends_with("/muse/core/mpack.py"), "{href}");
        before[0].click().await.unwrap();
        browser.screenshot("blame-before").await;
        assert!(browser.url().await.ends_with(&href));
        let earlier = shares_of(&browser).await;
        assert!((earlier.values().sum::<f64>() - 100.0).abs() <= 0.1, "{earlier:?}");

        // The seed's file is all Sonnet 4.6's.
        browser.visit(&SEED_PAGE.replace("/blob/", "/blame/")).await;
        assert_eq!(shares_of(&browser).await, BTreeMap::from([("Sonnet 4.6".to_string(), 100.0)]));

        // Commits, filtered; branches and tags.
        browser.visit("/demo/muse/commits/main").await;
        assert_eq!(browser.all("[data-testid=commit-row]").await.len(), 13);
        browser.visit(&format!("/demo/muse/commits/main?path={}", demo::SEED_PATH)).await;
        assert_eq!(browser.all("[data-testid=commit-row]").await.len(), 6);
        browser.visit("/demo/muse/commits/main?model=claude-sonnet-4-6").await;
        assert_eq!(browser.all("[data-testid=commit-row]").await.len(), 6);
        browser.visit("/demo/muse/commits/main?bump=minor").await;
        assert_eq!(browser.all("[data-testid=commit-row]").await.len(), 5);
        browser.visit("/demo/muse/branches").await;
        assert_eq!(attrs(&browser, "[data-testid=ref-row]", "data-name").await, ["agent/gemini/blob-cache", "main"]);
        browser.visit("/demo/muse/tags").await;
        let mut tags = attrs(&browser, "[data-testid=ref-row]", "data-name").await;
        tags.sort();
        assert_eq!(tags, ["v0.1.0", "v0.2.0"]);
    });
}

#[test]
fn signing_in_reaches_the_private_repository_and_signing_out_loses_it() {
    let hub = demo_hub();
    let Some(browser) = Browser::start("signin", &hub.base) else { return };
    browser.run(async {
        browser.visit("/demo/notes").await;
        browser.one("[data-testid=not-found]").await;
        browser.visit("/demo/notes/blob/main/NOTES.md").await;
        browser.one("[data-testid=not-found]").await;
        browser.visit("/").await;
        assert_eq!(attrs(&browser, "[data-testid=signin-link]", "href").await, ["/login"]);

        // A wrong password: an error, still signed out.
        browser.visit("/login?next=/demo/notes").await;
        sign_in(&browser, demo::USER, "not the password").await;
        browser.wait_for("[data-testid=flash-error]").await;
        browser.screenshot("wrong-password").await;
        assert!(browser.all("[data-testid=user-menu]").await.is_empty());

        // The right one: back to where the sign-in started, the private repository shown.
        browser.visit("/login?next=/demo/notes").await;
        sign_in(&browser, demo::USER, demo::PASSWORD).await;
        browser.wait_for("[data-testid=user-menu]").await;
        browser.screenshot("signed-in").await;
        assert!(browser.url().await.ends_with("/demo/notes"), "{}", browser.url().await);
        assert!(browser.texts("[data-testid=user-menu]").await[0].contains("demo"));
        assert!(tree_entries(&browser).await.contains_key("NOTES.md"));
        browser.visit("/demo/notes/blob/main/NOTES.md").await;
        assert!(browser.texts("[data-testid=line-code]").await.join("\n").contains("This repository is private"));
        browser.visit("/").await;
        assert!(attrs(&browser, "[data-testid=repo-link]", "href").await.iter().any(|h| h.ends_with("/demo/notes")));
        // A path no route has is a page of the site, with the visitor's nav bar.
        browser.visit("/no/such/thing/deep").await;
        browser.one("[data-testid=not-found]").await;
        browser.screenshot("not-found").await;
        assert!(browser.texts("[data-testid=user-menu]").await[0].contains("demo"));
        let cookies = browser.client().get_all_cookies().await.unwrap();
        assert!(cookies.iter().any(|c| c.http_only() == Some(true)), "the session cookie is HttpOnly: {cookies:?}");

        // Signing out: the private repository is gone again.
        browser.one("[data-testid=signout]").await.click().await.unwrap();
        browser.wait_for("[data-testid=signin-link]").await;
        browser.screenshot("signed-out").await;
        browser.visit("/demo/notes").await;
        browser.one("[data-testid=not-found]").await;
        browser.visit("/no/such/thing/deep").await;
        browser.one("[data-testid=not-found]").await;
        assert_eq!(attrs(&browser, "[data-testid=signin-link]", "href").await, ["/login"]);
        browser.visit("/").await;
        assert!(!attrs(&browser, "[data-testid=repo-link]", "href").await.iter().any(|h| h.ends_with("/demo/notes")));
    });
    // The same answers without the browser: 404 on pages and raw files.
    let agent = crate::common::agent();
    for path in ["/demo/notes", "/demo/notes/raw/main/NOTES.md", "/demo/notes/blob/main/NOTES.md"] {
        let (status, _) = crate::common::call(&agent, "GET", &format!("{}{path}", hub.base), None, None);
        assert_eq!(status, 404, "{path}");
    }
}

/// Fills the sign-in form and submits it.
async fn sign_in(browser: &Browser, user: &str, password: &str) {
    let form = browser.one("form[data-testid=login-form]").await;
    form.find(fantoccini::Locator::Css("input[name=username]")).await.unwrap().send_keys(user).await.unwrap();
    form.find(fantoccini::Locator::Css("input[name=password]")).await.unwrap().send_keys(password).await.unwrap();
    browser.one("[data-testid=login-submit]").await.click().await.unwrap();
}

/// The attribute `name` of every element matching `css`.
async fn attrs(browser: &Browser, css: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for element in browser.all(css).await {
        out.push(element.attr(name).await.unwrap().unwrap_or_default());
    }
    out
}

/// The tree entries on the page: last path component → kind.
async fn tree_entries(browser: &Browser) -> BTreeMap<String, String> {
    let entries = browser
        .js("return Array.from(document.querySelectorAll('[data-testid=tree-entry]')).map(e => [e.getAttribute('data-path'), e.getAttribute('data-kind')])")
        .await;
    entries.as_array().unwrap().iter().map(|e| (e[0].as_str().unwrap().rsplit('/').next().unwrap().to_string(), e[1].as_str().unwrap().to_string())).collect()
}

/// The link of the tree entry whose path ends with `name`.
async fn entry_link(browser: &Browser, name: &str) -> fantoccini::elements::Element {
    for entry in browser.all("[data-testid=tree-entry]").await {
        let path = entry.attr("data-path").await.unwrap().unwrap_or_default();
        if path.rsplit('/').next() == Some(name) {
            return entry.find(fantoccini::Locator::Css("a")).await.unwrap();
        }
    }
    panic!("no tree entry {name} on {}", browser.url().await)
}

/// The blame shares: label → percent.
async fn shares(browser: &Browser) -> BTreeMap<String, f64> {
    let shares = browser
        .js("return Array.from(document.querySelectorAll('[data-testid=blame-shares] [data-testid=share]')).map(s => [s.getAttribute('data-label'), s.getAttribute('data-percent')])")
        .await;
    shares
        .as_array()
        .unwrap()
        .iter()
        .map(|s: &Value| {
            let percent = s[1].as_str().unwrap();
            assert!(percent.split_once('.').is_some_and(|(_, d)| d.len() == 1), "one decimal: {percent}");
            (s[0].as_str().unwrap().to_string(), percent.parse().unwrap())
        })
        .collect()
}

/// [`shares`], after the page has loaded.
async fn shares_of(browser: &Browser) -> BTreeMap<String, f64> {
    browser.wait_for("[data-testid=blame-shares]").await;
    shares(browser).await
}
