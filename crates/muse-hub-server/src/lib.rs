//! MuseHub's HTTP server: the Muse wire protocol (`docs/protocol.md`), the JSON API under
//! `/api/v1/`, the web pages with their JSON twins ([`web`]), and the `musehub` binary's
//! commands (`docs/hub.md`).
//!
//! Handlers are thin: they parse, authenticate, authorize through the one policy
//! (`muse_hub::Hub::authorize`) and call the hub (metadata, refs), the content of repositories
//! ([`content::RepoContent`]) and the uploads ([`uploads::UploadStore`]). None touches SQL or a
//! file directly.
//!
//! ```no_run
//! # async fn example() -> Result<(), muse_hub_server::StartError> {
//! let config = muse_hub_server::Config::new("/var/lib/musehub".into());
//! let server = muse_hub_server::start(config).await?;
//! println!("listening on http://{}", server.addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod api;
pub mod auth;
pub mod cli;
pub mod content;
pub mod demo;
pub mod error;
mod extract;
pub mod middleware;
pub mod rate;
mod server;
pub mod signing;
pub mod uploads;
pub mod web;
mod wire;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use muse_hub::Hub;

pub use server::{start, RunningServer, StartError};

use content::{FsContent, RepoContent};
use rate::{Rate, RateLimiter};
use uploads::{FsUploads, UploadStore};

/// The server's limits; [`Limits::default`] gives the documented defaults (`docs/hub.md`
/// §Limits).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest JSON request body, except fetch's (bytes).
    pub json_body: usize,
    /// Largest fetch request body (bytes): 65536 haves need about 5 MB.
    pub fetch_body: usize,
    /// Largest pack an upload may announce (`Upload-Length`, bytes).
    pub max_upload: u64,
    /// How long a request body may pause before the request is dropped.
    pub body_idle: Duration,
    /// How long a fetch waits for a client that stopped reading.
    pub client_stall: Duration,
    /// How long a client may take to send its request line and headers.
    pub header_timeout: Duration,
    /// Requests per client address.
    pub rate_per_ip: Rate,
    /// Requests per presented credential.
    pub rate_per_token: Rate,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// How long an upload is kept after its last write.
    pub upload_expiry: Duration,
    /// How often expired uploads are swept.
    pub sweep_every: Duration,
    /// How long a web sign-in session lasts.
    pub session_lifetime: Duration,
    /// Pack builds at once, and what a fetch over that number does.
    pub pack_builds: content::BuildLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            json_body: 1 << 20,
            fetch_body: 8 << 20,
            max_upload: 64 << 30,
            body_idle: Duration::from_secs(60),
            client_stall: Duration::from_secs(60),
            header_timeout: Duration::from_secs(30),
            rate_per_ip: Rate { per_minute: 1200, burst: 300 },
            rate_per_token: Rate { per_minute: 1200, burst: 300 },
            shutdown_grace: Duration::from_secs(60),
            upload_expiry: Duration::from_secs(muse_protocol::UPLOAD_EXPIRY_SECS),
            sweep_every: Duration::from_secs(3600),
            session_lifetime: Duration::from_secs(14 * 86_400),
            pack_builds: content::BuildLimits::default(),
        }
    }
}

/// How to run a hub.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The data directory (`hub.db`, `repos/`, `uploads/`).
    pub data_dir: PathBuf,
    /// The metadata database; `None`: the SQLite file `DATA/hub.db`.
    pub database_url: Option<String>,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// The one proxy whose `X-Forwarded-For` is believed for rate limits and logs.
    pub trusted_proxy: Option<IpAddr>,
    /// The limits.
    pub limits: Limits,
}

impl Config {
    /// The defaults for `data_dir`: SQLite, `127.0.0.1:8080`, the default limits.
    pub fn new(data_dir: PathBuf) -> Config {
        Config { data_dir, database_url: None, listen: SocketAddr::from(([127, 0, 0, 1], 8080)), trusted_proxy: None, limits: Limits::default() }
    }

    /// The database URL: the configured one, or `sqlite://DATA/hub.db?mode=rwc`.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("hub.db").display()))
    }
}

/// Pack lengths remembered per fetch `ETag`, so a resumed fetch can say its `Content-Range`.
const REMEMBERED_LENGTHS: usize = 4096;

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    hub: Hub,
    content: Box<dyn RepoContent>,
    uploads: Box<dyn UploadStore>,
    config: Config,
    rate_ip: RateLimiter,
    rate_token: RateLimiter,
    lengths: Mutex<HashMap<String, u64>>,
    web: web::WebCache,
}

impl AppState {
    /// Opens the hub's database (migrating it) and its content and upload storage under the
    /// data directory.
    pub async fn open(config: Config) -> Result<AppState, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| StartError::Data(config.data_dir.clone(), e))?;
        let hub = Hub::open(&config.database_url()).await.map_err(StartError::Database)?;
        let repos = config.data_dir.join("repos");
        let content = FsContent::with_build_limits(&repos, config.limits.client_stall, config.limits.pack_builds).map_err(|e| StartError::Data(repos, e))?;
        let uploads_dir = config.data_dir.join("uploads");
        let uploads = FsUploads::new(&uploads_dir).map_err(|e| StartError::Data(uploads_dir, e))?;
        Ok(AppState::with_parts(hub, Box::new(content), Box::new(uploads), config))
    }

    /// A state over given parts (other content or upload storage).
    pub fn with_parts(hub: Hub, content: Box<dyn RepoContent>, uploads: Box<dyn UploadStore>, config: Config) -> AppState {
        let inner = Inner {
            hub,
            content,
            uploads,
            rate_ip: RateLimiter::new(config.limits.rate_per_ip),
            rate_token: RateLimiter::new(config.limits.rate_per_token),
            config,
            lengths: Mutex::new(HashMap::new()),
            web: web::WebCache::default(),
        };
        AppState(Arc::new(inner))
    }

    /// The hub's services.
    pub fn hub(&self) -> &Hub {
        &self.0.hub
    }

    /// The content of repositories.
    pub fn content(&self) -> &dyn RepoContent {
        self.0.content.as_ref()
    }

    /// The uploads.
    pub fn uploads(&self) -> &dyn UploadStore {
        self.0.uploads.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// What the web pages keep between requests.
    fn web(&self) -> &web::WebCache {
        &self.0.web
    }

    fn rate_ip(&self) -> &RateLimiter {
        &self.0.rate_ip
    }

    fn rate_token(&self) -> &RateLimiter {
        &self.0.rate_token
    }

    /// The pack length remembered for a fetch `ETag`.
    fn pack_length(&self, etag: &str) -> Option<u64> {
        self.0.lengths.lock().unwrap_or_else(|e| e.into_inner()).get(etag).copied()
    }

    fn remember_length(&self, etag: String, length: u64) {
        let mut lengths = self.0.lengths.lock().unwrap_or_else(|e| e.into_inner());
        if lengths.len() >= REMEMBERED_LENGTHS {
            lengths.clear();
        }
        lengths.insert(etag, length);
    }

    /// Forgets expired uploads.
    pub async fn sweep_uploads(&self) {
        match self.uploads().sweep(self.config().limits.upload_expiry).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "expired uploads removed"),
            Err(e) => tracing::warn!(error = %e, "sweeping expired uploads failed"),
        }
    }
}

/// Every route of the hub, with the middleware of [`middleware::frame`].
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(wire::routes())
        .merge(api::routes())
        .merge(signing::routes())
        .merge(web::routes())
        .fallback(middleware::no_such_endpoint)
        .method_not_allowed_fallback(middleware::no_such_endpoint)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::frame))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}
