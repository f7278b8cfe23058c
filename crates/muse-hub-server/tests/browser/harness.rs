//! A real headless Chromium driven through chromedriver (WebDriver, `fantoccini`), for the hub's
//! pages: [`Browser::start`] spawns `chromedriver --port=FREE` in its own process group with a
//! fresh profile directory, every [`Browser::visit`] saves a screenshot under
//! `$CARGO_TARGET_DIR/browser-artifacts/TEST/`, and dropping the browser closes the session and
//! kills the whole process group (chromedriver and every Chromium process).
//!
//! Missing Chromium or chromedriver fails the test with what to install, unless
//! `MUSE_SKIP_BROWSER=1` asks to skip browser tests.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// The switches every Chromium gets (no network beyond the hub, no first-run or sync noise).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
];

/// Where a program is: `$VAR` if set, else `default`.
fn program(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

/// `$CARGO_TARGET_DIR/browser-artifacts/NAME`, emptied.
pub fn artifacts_dir(name: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("the target directory").to_path_buf();
    let dir = target.join("browser-artifacts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A headless Chromium session on a hub at `base`.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
    artifacts: PathBuf,
    shots: AtomicUsize,
    base: String,
}

impl Browser {
    /// Starts chromedriver and a Chromium session for the test `name` against the hub at `base`
    /// (`http://127.0.0.1:PORT`). `None` only when `MUSE_SKIP_BROWSER=1`; panics with what to
    /// install when Chromium or chromedriver is missing.
    pub fn start(name: &str, base: &str) -> Option<Browser> {
        if std::env::var("MUSE_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("MUSE_SKIP_BROWSER=1: browser test {name} skipped");
            return None;
        }
        let chromium = program("MUSE_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("MUSE_CHROMEDRIVER", "/usr/bin/chromedriver");
        for (what, path) in [("chromium", &chromium), ("chromedriver", &chromedriver)] {
            assert!(
                path.is_file(),
                "the browser tests need {what} at {}: install Chromium and its driver (Debian: apt-get install -y chromium chromium-driver; \
                 .ci/run does), point MUSE_CHROMIUM / MUSE_CHROMEDRIVER at them, or set MUSE_SKIP_BROWSER=1 to skip these tests",
                path.display()
            );
        }
        let artifacts = artifacts_dir(name);
        let profile = tempfile::Builder::new().prefix("muse-chromium").tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut last_error = String::new();
        // A free port can be taken between the probe and chromedriver's bind: try a few.
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let log = std::fs::File::create(artifacts.join("chromedriver.log")).unwrap();
            let mut driver = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromedriver.display()));
            let url = format!("http://127.0.0.1:{port}");
            if let Err(e) = wait_ready(&mut driver, &url) {
                last_error = e;
                kill_group(&mut driver);
                continue;
            }
            let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
            args.push(format!("--user-data-dir={}", profile.path().display()));
            let capabilities = json!({
                "browserName": "chrome",
                "unhandledPromptBehavior": "ignore",
                "goog:chromeOptions": {"binary": chromium, "args": args},
            });
            let Value::Object(capabilities) = capabilities else { unreachable!() };
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match rt.block_on(ClientBuilder::new(connector).capabilities(capabilities).connect(&url)) {
                Ok(client) => {
                    return Some(Browser {
                        rt,
                        client: Some(client),
                        driver,
                        _profile: profile,
                        artifacts,
                        shots: AtomicUsize::new(0),
                        base: base.trim_end_matches('/').to_string(),
                    })
                }
                Err(e) => {
                    last_error = format!("no Chromium session: {e}");
                    kill_group(&mut driver);
                }
            }
        }
        panic!("chromedriver did not start ({last_error}); see {}", artifacts.join("chromedriver.log").display());
    }

    /// Runs a test body on the browser's runtime.
    pub fn run<T>(&self, body: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(body)
    }

    /// The WebDriver session.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("a live session")
    }

    /// chromedriver's process id (its process group holds the browsers).
    pub fn driver_pid(&self) -> u32 {
        self.driver.id()
    }

    /// The hub's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Where this test's screenshots go.
    pub fn artifacts(&self) -> &Path {
        &self.artifacts
    }

    /// Opens `path` (absolute on the hub, or a full URL) and saves a screenshot of it.
    pub async fn visit(&self, path: &str) {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) };
        self.client().goto(&url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
        self.screenshot(path).await;
    }

    /// Saves a screenshot of the current page as `NN-LABEL.png`.
    pub async fn screenshot(&self, label: &str) -> PathBuf {
        let n = self.shots.fetch_add(1, Ordering::SeqCst);
        let slug: String = label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).take(80).collect();
        let path = self.artifacts.join(format!("{n:03}-{}.png", slug.trim_matches('_')));
        let png = self.client().screenshot().await.unwrap_or_else(|e| panic!("screenshot of {label}: {e}"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.client().current_url().await.unwrap().to_string()
    }

    /// Every element matching `css`.
    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client().find_all(Locator::Css(css)).await.unwrap_or_else(|e| panic!("finding {css}: {e}"))
    }

    /// The one element matching `css` (panics, naming the page, if there is none).
    pub async fn one(&self, css: &str) -> Element {
        match self.client().find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.url().await),
        }
    }

    /// The text of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self.all(css).await {
            texts.push(element.text().await.unwrap().trim().to_string());
        }
        texts
    }

    /// The value of a script's `return`.
    pub async fn js(&self, script: &str) -> Value {
        self.client().execute(script, Vec::new()).await.unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// Whether an alert, confirm or prompt is open.
    pub async fn alert_open(&self) -> bool {
        self.client().get_alert_text().await.is_ok()
    }

    /// Waits (at most 5 s) until `css` matches something, e.g. after a form was submitted.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client().wait().at_most(Duration::from_secs(5)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // A failed test may have left the session unusable: do not wait long.
            let _ = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
        }
        kill_group(&mut self.driver);
    }
}

/// Polls chromedriver's `/status` until it says ready (at most 20 s).
fn wait_ready(driver: &mut Child, url: &str) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(2))).build().into();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(status)) = driver.try_wait() {
            return Err(format!("chromedriver exited: {status}"));
        }
        if let Ok(mut response) = agent.get(format!("{url}/status")).call() {
            let body: Value = response.body_mut().read_to_vec().ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
            if body["value"]["ready"] == true {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("chromedriver was not ready after 20 s".into())
}

/// Kills chromedriver's process group (it and the browsers it started) and reaps it.
fn kill_group(driver: &mut Child) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", driver.id())]).stderr(Stdio::null()).status();
    let _ = driver.kill();
    let _ = driver.wait();
}
