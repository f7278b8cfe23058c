//! The hub's pages in a real headless Chromium (`harness`): a hub on 127.0.0.1 and a free port
//! with the demo repositories (`musehub serve --demo`'s) and fixtures, chromedriver on another
//! free port, a screenshot of every visited page under `$CARGO_TARGET_DIR/browser-artifacts/`.
//! The pages' DOM contract is `data-testid` attributes (`docs/hub.md` §Pages).

#[path = "../common/mod.rs"]
mod common;
mod harness;
mod pages;
mod signatures;
mod xss;

use common::TestHub;
use harness::Browser;
use muse_hub::Backend;
use muse_hub_server::demo;
use serde_json::Value;

/// The seed's page on the demo repository.
const SEED_PAGE: &str = "/demo/muse/blob/main/tests/test_apply_mpack_partial_failure.py";

/// Unix seconds now.
fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A hub on SQLite with the demo user and repositories, as `musehub serve --demo` makes them.
fn demo_hub() -> TestHub {
    let hub = TestHub::start(Backend::Sqlite);
    let seeded = hub.rt.block_on(demo::seed(hub.state(), unix_now())).unwrap();
    assert!(seeded.created);
    hub
}

#[test]
fn the_harness_drives_chromium_against_the_hub_and_stops_it() {
    let hub = demo_hub();
    let Some(browser) = Browser::start("harness", &hub.base) else { return };
    browser.run(async {
        browser.visit("/api/v1/repos/demo/muse").await;
        let text = browser.js("return document.body.innerText").await;
        let repo: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
        assert_eq!((repo["full_name"].as_str(), repo["private"].as_bool()), (Some("demo/muse"), Some(false)));
        browser.visit("/api/v1/repos/demo/notes").await;
        let text = browser.js("return document.body.innerText").await;
        let error: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
        assert_eq!(error["error"]["code"], "not_found", "a private repository is hidden from a signed-out browser");
        assert!(!browser.alert_open().await);
    });
    let shots: Vec<String> = std::fs::read_dir(browser.artifacts()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(shots.iter().filter(|s| s.ends_with(".png")).count(), 2, "{shots:?}");
    let driver = browser.driver_pid();
    drop(browser);
    let alive = std::process::Command::new("kill").args(["-0", &driver.to_string()]).stderr(std::process::Stdio::null()).status().unwrap().success();
    assert!(!alive, "chromedriver is stopped with the browser");
}
