//! Starting and stopping a whole server: worker Arbiters, bound sockets, the tree.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::Arbiter;
use web_server_http::{Limits, Router, StaticFiles, StaticOptions};
use web_server_supervision::{ExitReason, StartError, SupervisorRef};

use crate::admin::{self, AdminConfig, AdminEndpoint};
use crate::cache::{CacheOptions, CacheStats, StaticCache, StaticLoader};
use crate::config::Settings;
use crate::reload::{ConfigSource, ReloadReport, Reloader};
use crate::service::{ConnectionOptions, Service};
use crate::tcp::acceptor_sup::Partitions;
use crate::tcp::bind;
use crate::tcp::gate::ConnectionGate;
use crate::tcp::listener::ListenerShared;
use crate::tls::{Tls, TlsConfig};
use crate::tree;

/// What a server needs to start; built from the configuration (or in code when embedding).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Addresses to listen on (`server.bind`).
    pub bind: Vec<SocketAddr>,
    /// Worker Arbiters (`server.workers`; 0 = one per core).
    pub workers: usize,
    /// Listen backlog (`server.backlog`).
    pub backlog: u32,
    /// Live connections at most (`server.max_connections`).
    pub max_connections: usize,
    /// Static files served at `/` (`server.docroot`), if any.
    pub docroot: Option<PathBuf>,
    /// Static-file rules (compression, index file…).
    pub static_options: StaticOptions,
    /// Limits and timeouts for every connection.
    pub connection: ConnectionOptions,
    /// How long connections get to finish when the tree stops (`timeouts.shutdown_ms`).
    pub shutdown_timeout: Duration,
    /// The static-file cache (`cache.*`); `max_bytes = 0` disables it (the actor still runs).
    pub cache: CacheOptions,
    /// The admin endpoint (`admin.*`); `None` runs none.
    pub admin: Option<AdminConfig>,
    /// The effective configuration with secrets redacted, shown by `GET /admin/config`.
    pub config_text: String,
    /// The log settings in force, for reloads to compare against (`None` when the embedding
    /// application manages logging).
    pub log: Option<crate::config::LogSettings>,
    /// Where a reload (SIGHUP, `POST /admin/reload`) re-reads the configuration.
    pub config_source: Option<ConfigSource>,
    /// The HTTPS listener (`tls.*`); `None` serves plain HTTP only.
    pub tls: Option<TlsConfig>,
    /// An embedding application's own children (workers or subtrees), started under
    /// `web_server_sup` before its built-in children (see [`crate::WebServerBuilder::child`]);
    /// none from a configuration file.
    pub children: Vec<web_server_supervision::ChildSpec>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            workers: 0,
            backlog: 1024,
            max_connections: 10_000,
            docroot: None,
            static_options: StaticOptions::default(),
            connection: ConnectionOptions::default(),
            shutdown_timeout: Duration::from_secs(10),
            cache: CacheOptions {
                max_bytes: 64 * 1024 * 1024,
                max_entries: 10_000,
                revalidate: Duration::from_secs(1),
                max_negative_entries: 1_024,
            },
            admin: None,
            config_text: String::new(),
            log: None,
            config_source: None,
            tls: None,
            children: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// The server part of a loaded configuration.
    pub fn from_settings(settings: &Settings) -> ServerConfig {
        let limits = Limits {
            max_request_line: settings.limits.max_request_line,
            max_header_bytes: settings.limits.max_header_bytes,
            max_headers: settings.limits.max_headers,
            max_body_bytes: settings.limits.max_body_bytes,
            ..Limits::default()
        };
        ServerConfig {
            bind: settings.server.bind.clone(),
            workers: settings.server.workers,
            backlog: settings.server.backlog,
            max_connections: settings.server.max_connections,
            docroot: Some(settings.server.docroot.clone()),
            static_options: StaticOptions {
                gzip: settings.compression.gzip,
                gzip_min_bytes: settings.compression.min_bytes,
                gzip_level: settings.compression.level,
                // Up to the cache's per-file limit a file is answered from memory; above it,
                // streamed from disk.
                max_inline_bytes: settings.cache.max_file_bytes,
                ..StaticOptions::default()
            },
            connection: ConnectionOptions {
                limits,
                header_timeout: settings.timeouts.header(),
                body_timeout: settings.timeouts.body(),
                keepalive_timeout: settings.timeouts.keepalive(),
                send_timeout: settings.timeouts.send(),
                max_keepalive_requests: settings.limits.max_keepalive_requests,
                server_header: Some("web_server".to_owned()),
            },
            shutdown_timeout: settings.timeouts.shutdown(),
            cache: CacheOptions {
                max_bytes: settings.cache.max_bytes,
                max_entries: settings.cache.max_entries,
                revalidate: settings.cache.revalidate(),
                max_negative_entries: settings.cache.max_negative_entries,
            },
            admin: settings.admin.bind.map(|bind| AdminConfig {
                bind,
                token: settings.admin.token.clone(),
                allow_kill: settings.admin.allow_kill,
            }),
            log: Some(settings.log.clone()),
            config_source: None,
            tls: match (&settings.tls.cert, &settings.tls.key) {
                (Some(cert), Some(key)) if settings.tls.enabled() => Some(TlsConfig {
                    bind: settings.tls.bind.clone(),
                    cert: cert.clone(),
                    key: key.clone(),
                    handshake_timeout: settings.tls.handshake_timeout(),
                    redirect_http: settings.tls.redirect_http,
                }),
                _ => None,
            },
            config_text: settings
                .to_redacted_toml()
                .unwrap_or_else(|err| format!("# cannot render the configuration: {err}\n")),
            children: Vec::new(),
        }
    }
}

/// A running server.
pub struct Server {
    /// The root of the tree.
    root: SupervisorRef,
    /// Addresses actually bound (port 0 resolved).
    addrs: Vec<SocketAddr>,
    /// Gate, partitions and readiness.
    shared: Arc<ListenerShared>,
    /// The worker threads, stopped after the tree.
    workers: Vec<Arbiter>,
    /// The static-file cache's shared handle.
    cache: Arc<StaticCache>,
    /// Applies configuration reloads.
    reloader: Arc<Reloader>,
    /// The admin endpoint, when configured.
    admin: Option<AdminEndpoint>,
}

impl Server {
    /// Binds every address, starts the worker Arbiters and the tree, and returns once the
    /// server accepts connections. Must run inside an actix `System`.
    pub async fn start(config: ServerConfig, mut router: Router) -> Result<Server, StartError> {
        if let Some(docroot) = &config.docroot {
            let files =
                StaticFiles::new(docroot, config.static_options.clone()).map_err(|err| {
                    StartError::new(format!("server.docroot {}: {err}", docroot.display()))
                })?;
            router
                .mount("/", files)
                .map_err(|err| StartError::new(format!("cannot mount the docroot: {err}")))?;
        }
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let sockets =
            bind::bind_all(&config.bind, workers, config.backlog).map_err(StartError::new)?;
        let addrs = sockets.addrs.clone();
        let tls = match &config.tls {
            None => None,
            Some(tls_config) => {
                let tls = Tls::new(tls_config.clone()).map_err(StartError::new)?;
                let tls_sockets = bind::bind_all(&tls_config.bind, workers, config.backlog)
                    .map_err(StartError::new)?;
                Some((tls_sockets, tls))
            }
        };
        let terminator = tls.as_ref().map(|(_, tls)| tls.clone());
        let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
        let partitions = Partitions::new(workers);
        let shared = ListenerShared::with_tls(
            sockets,
            tls,
            arbiters.iter().map(Arbiter::handle).collect(),
            partitions.clone(),
            ConnectionGate::new(config.max_connections),
        );
        let router = Arc::new(router);
        let cache = StaticCache::new(config.cache);
        let loader = StaticLoader::new(router.clone(), config.static_options.max_inline_bytes);
        let enabled = config.cache.max_bytes > 0 && config.cache.max_entries > 0;
        let service = Service::with_cache(
            router,
            config.connection.clone(),
            enabled.then(|| cache.clone()),
        );
        let reloader = Reloader::new(
            config.clone(),
            service.clone(),
            cache.clone(),
            shared.gate.clone(),
            terminator,
        );
        let spec = tree::web_server_sup(
            &shared,
            &service,
            &partitions,
            config.shutdown_timeout,
            &cache,
            &loader,
            &config.children,
        );
        let root = match SupervisorRef::start(spec).await {
            Ok(root) => root,
            Err(err) => {
                arbiters.iter().for_each(|a| {
                    a.stop();
                });
                return Err(err);
            }
        };
        let admin = match &config.admin {
            None => None,
            Some(admin_config) => {
                let started = admin::start(
                    admin_config,
                    root.clone(),
                    shared.clone(),
                    config.config_text.clone(),
                    config.connection.clone(),
                    reloader.clone(),
                )
                .await;
                match started {
                    Ok(admin) => Some(admin),
                    Err(err) => {
                        root.shutdown().await;
                        arbiters.iter().for_each(|a| {
                            a.stop();
                        });
                        return Err(err);
                    }
                }
            }
        };
        let urls: Vec<String> = addrs
            .iter()
            .map(|a| format!("http://{a}"))
            .chain(shared.tls_addrs.iter().map(|a| format!("https://{a}")))
            .collect();
        tracing::info!(
            workers,
            "web_server ready, listening on {}",
            urls.join(", ")
        );
        Ok(Server {
            root,
            addrs,
            shared,
            workers: arbiters,
            cache,
            reloader,
            admin,
        })
    }

    /// The addresses actually bound.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The HTTPS addresses actually bound (empty without TLS).
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.shared.tls_addrs
    }

    /// The admin endpoint's addresses (empty when it does not run).
    pub fn admin_addrs(&self) -> &[SocketAddr] {
        self.admin.as_ref().map_or(&[], |admin| &admin.addrs)
    }

    /// Re-reads the configuration source and applies it (what SIGHUP does).
    pub fn reload(&self) -> Result<ReloadReport, String> {
        self.reloader.reload()
    }

    /// The reloader, to trigger reloads from elsewhere (a signal handler).
    pub fn reloader(&self) -> Arc<Reloader> {
        self.reloader.clone()
    }

    /// The static-file cache's contents and counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The root supervisor.
    pub fn root(&self) -> &SupervisorRef {
        &self.root
    }

    /// Live connections now.
    pub fn active_connections(&self) -> usize {
        self.shared.gate.active()
    }

    /// Whether a listener is accepting.
    pub fn is_accepting(&self) -> bool {
        self.shared.accepting.load(Ordering::Acquire)
    }

    /// Stops the tree in reverse start order (connections finish their request in progress,
    /// within the shutdown timeout), then the worker threads.
    pub async fn stop(self) -> ExitReason {
        // Stop accepting at once (readiness goes false, new connections are refused), then stop
        // the tree in reverse start order: connections finish the request in progress within
        // their shutdown timeout, idle ones close at once. The admin endpoint goes last, so
        // probes see `/ready` answer 503 during the drain.
        self.shared.close().await;
        tracing::info!(
            active = self.shared.gate.active(),
            "stopped accepting; draining connections"
        );
        let reason = self.root.shutdown().await;
        if let Some(admin) = &self.admin {
            admin.shared.close().await;
            admin.root.shutdown().await;
        }
        for worker in &self.workers {
            worker.stop();
        }
        reason
    }

    /// Resolves when the root exits by itself (escalation reached it).
    pub async fn exited(&self) -> ExitReason {
        self.root.exited().await
    }
}
