//! The accept loop: HTTP/1.1 connections with a header timeout, each request tagged with its
//! socket peer, a periodic sweep of expired uploads, and a graceful shutdown that lets requests
//! in flight (pushes included) finish.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::middleware::PeerAddr;
use crate::{router, AppState, Config};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created or used.
    #[error("data directory {}: {}", .0.display(), .1)]
    Data(PathBuf, #[source] std::io::Error),
    /// The database could not be opened or migrated.
    #[error("{0}")]
    Database(#[source] muse_hub::HubError),
    /// The listening address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, #[source] std::io::Error),
}

/// A server running on the current tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The address it listens on (with the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (the hub, content and uploads), for tests and tools.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections, lets requests in flight finish (at most the configured
    /// grace period), and returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Opens the hub and starts serving on `config.listen`.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    let listen = config.listen;
    let state = AppState::open(config).await?;
    let listener = TcpListener::bind(listen).await.map_err(|e| StartError::Listen(listen, e))?;
    let addr = listener.local_addr().map_err(|e| StartError::Listen(listen, e))?;
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(run(listener, state.clone(), stopped));
    Ok(RunningServer { addr, state, stop: Some(stop), task })
}

async fn run(listener: TcpListener, state: AppState, mut stopped: oneshot::Receiver<()>) {
    let limits = state.config().limits.clone();
    let app = router(state.clone());
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let sweeper = tokio::spawn({
        let state = state.clone();
        async move {
            // The first tick is immediate: expired uploads are swept at start, then periodically.
            let mut every = tokio::time::interval(limits.sweep_every);
            loop {
                every.tick().await;
                state.sweep_uploads().await;
            }
        }
    });
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let service = app.clone().map_request(move |mut request: axum::extract::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(PeerAddr(peer));
            request
        });
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    sweeper.abort();
    tracing::info!("shutting down: finishing requests in flight");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(limits.shutdown_grace) => tracing::warn!("grace period over; dropping the connections left"),
    }
}
