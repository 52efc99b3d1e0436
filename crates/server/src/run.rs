//! Running a server from a configuration until a shutdown signal: the whole of the binary,
//! testable with any future as the signal (mini-redis's `run(listener, shutdown)`).

use std::fmt;
use std::future::Future;

use web_server_http::Router;

use crate::config::Settings;
use crate::server::{Server, ServerConfig};

/// Why a server stopped other than by the shutdown signal.
#[derive(Debug)]
pub enum RunError {
    /// It never started (a socket could not be bound, the docroot could not be served, …).
    Start(String),
    /// Its supervision tree gave up (restart intensity exceeded at the root).
    TreeExited(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Start(why) => write!(f, "cannot start: {why}"),
            RunError::TreeExited(why) => write!(f, "the supervision tree stopped: {why}"),
        }
    }
}

impl std::error::Error for RunError {}

/// Starts a server for `settings` and runs it until `shutdown` resolves, then stops the tree
/// in reverse start order. Must run inside an actix `System`.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
    tracing::info!(profile = %settings.profile, "configuration loaded");
    let config = ServerConfig::from_settings(&settings);
    let server = Server::start(config, Router::new())
        .await
        .map_err(|err| RunError::Start(err.to_string()))?;
    tokio::select! {
        () = shutdown => {
            tracing::info!("shutting down");
            server.stop().await;
            Ok(())
        }
        reason = server.exited() => Err(RunError::TreeExited(reason.to_string())),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
