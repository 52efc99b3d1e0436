//! Running a server from a configuration until a shutdown signal: the whole of the binary,
//! testable with any future as the signal (mini-redis's `run(listener, shutdown)`).

use std::fmt;
use std::future::Future;

use web_server_http::Router;

use crate::config::{Cli, ConfigSource, InheritedListeners, ServerConfig, Settings};
use crate::server::Server;
use crate::systemd::{self, Notify};

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

/// Starts a server for `settings` and runs it until `shutdown` resolves, then drains it and
/// stops the tree in reverse start order. Must run inside an actix `System`.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
    run_with(settings, None, InheritedListeners::default(), shutdown).await
}

/// What the binary runs: the server for `settings` until SIGINT or SIGTERM, which drains it
/// (a second signal exits at once, with code 130); SIGHUP re-reads the configuration as `cli`
/// says and applies it (see [`crate::reload`]). `inherited` are the sockets passed by socket
/// activation ([`systemd::take_listen_fds`]), used instead of binding. The service manager, if
/// any, hears `READY=1` once the server listens, `RELOADING=1`/`READY=1` around each SIGHUP
/// reload and `STOPPING=1` when the drain starts ([`crate::systemd`]).
pub async fn run_until_signalled(
    cli: Cli,
    settings: Settings,
    inherited: InheritedListeners,
) -> Result<(), RunError> {
    let (first_signal, first) = tokio::sync::oneshot::channel::<()>();
    actix_rt::spawn(async move {
        shutdown_signal().await;
        let _ = first_signal.send(());
        shutdown_signal().await;
        tracing::warn!("second signal: exiting at once, without draining");
        std::process::exit(130);
    });
    let source = ConfigSource::new(move || Settings::load(&cli).map_err(|err| err.to_string()));
    run_with(settings, Some(source), inherited, async {
        let _ = first.await;
    })
    .await
}

async fn run_with(
    settings: Settings,
    source: Option<ConfigSource>,
    inherited: InheritedListeners,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    tracing::info!(profile = %settings.profile, "configuration loaded");
    let mut config = ServerConfig::from_settings(&settings);
    if !inherited.is_empty() {
        tracing::info!(
            plain = inherited.plain.len(),
            tls = inherited.tls.len(),
            "socket activation: serving on the inherited sockets instead of binding"
        );
        if !inherited.tls.is_empty() && config.tls.is_none() {
            tracing::warn!("sockets named for TLS were passed, but TLS is not configured (tls.bind); they stay unused");
        }
    }
    config.inherited = inherited;
    let reloads = source.is_some();
    config.config_source = source;
    let server = Server::start(config, Router::new())
        .await
        .map_err(|err| RunError::Start(err.to_string()))?;
    systemd::notify(Notify::Ready);
    if reloads {
        reload_on_sighup(&server);
    }
    tokio::select! {
        () = shutdown => {
            tracing::info!("shutting down");
            systemd::notify(Notify::Stopping);
            server.stop().await;
            Ok(())
        }
        reason = server.exited() => Err(RunError::TreeExited(reason.to_string())),
    }
}

/// Re-reads and applies the configuration on every SIGHUP (logged by the reloader).
fn reload_on_sighup(server: &Server) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let reloader = server.reloader();
        match signal(SignalKind::hangup()) {
            Ok(mut hangups) => {
                actix_rt::spawn(async move {
                    while hangups.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading the configuration");
                        systemd::notify(Notify::Reloading);
                        // Errors are logged by the reloader; the old configuration stays, and
                        // the server is ready again either way.
                        let _ = reloader.reload();
                        systemd::notify(Notify::Ready);
                    }
                });
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGHUP; reload with POST /admin/reload")
            }
        }
    }
    #[cfg(not(unix))]
    let _ = server;
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
