//! Starting and stopping a whole server: worker Arbiters, bound sockets, the tree, the admin
//! endpoint. A composition root: it builds every part and hands each what it needs.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::Arbiter;
use web_server_http::{Router, StaticFiles};
use web_server_supervision::{ExitReason, StartError, SupervisorRef};

use crate::admin::{self, AdminEndpoint};
use crate::cache::{StaticCache, StaticLoader};
use crate::pipeline::{self, Pipeline, Routes};
use crate::reload::Reloader;
use crate::sup;
use crate::tcp::acceptor_sup::Partitions;
use crate::tcp::bind;
use crate::tcp::gate::ConnectionGate;
use crate::tcp::listener::ListenerShared;
use crate::tls::Tls;

pub use crate::cache::{CacheOptions, CacheStats};
pub use crate::config::ServerConfig;
pub use crate::pipeline::ConnectionOptions;
pub use crate::reload::ReloadReport;

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
    /// server accepts connections, answering with `router`'s plain handlers and mounts (and
    /// the docroot, when configured). Must run inside an actix `System`.
    pub async fn start(config: ServerConfig, router: Router) -> Result<Server, StartError> {
        Server::start_with_routes(config, pipeline::plain_routes(router)).await
    }

    /// [`start`](Self::start) with routes of every kind (see [`crate::WebServerBuilder`]).
    pub(crate) async fn start_with_routes(
        config: ServerConfig,
        mut router: Routes,
    ) -> Result<Server, StartError> {
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
        // Sockets passed by a service manager (socket activation) replace binding.
        let sockets = if config.inherited.plain.is_empty() {
            bind::bind_all(&config.bind, workers, config.backlog)
        } else {
            bind::adopt_all(&config.inherited.plain, workers)
        }
        .map_err(StartError::new)?;
        let addrs = sockets.addrs.clone();
        let tls = match &config.tls {
            None => None,
            Some(tls_config) => {
                let tls = Tls::new(tls_config.clone()).map_err(StartError::new)?;
                let tls_sockets = if config.inherited.tls.is_empty() {
                    bind::bind_all(&tls_config.bind, workers, config.backlog)
                } else {
                    bind::adopt_all(&config.inherited.tls, workers)
                }
                .map_err(StartError::new)?;
                Some((tls_sockets, tls))
            }
        };
        let terminator = tls.as_ref().map(|(_, tls)| tls.clone());
        let gate = ConnectionGate::new(config.max_connections);
        gate.set_per_ip_limit(
            config.max_connections_per_ip,
            config.connection.trusted_proxies.clone(),
        );
        let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
        let partitions = Partitions::new(workers);
        let shared = ListenerShared::with_tls(
            sockets,
            tls,
            arbiters.iter().map(Arbiter::handle).collect(),
            partitions.clone(),
            gate,
        );
        let cache = StaticCache::new(config.cache);
        let loader = StaticLoader::new(config.static_options.max_inline_bytes);
        let enabled = config.cache.max_bytes > 0 && config.cache.max_entries > 0;
        let pipeline = Pipeline::new(
            router,
            enabled.then(|| cache.clone()),
            config.connection.clone(),
        );
        let reloader = Reloader::new(
            config.clone(),
            pipeline.clone(),
            cache.clone(),
            shared.gate.clone(),
            terminator,
        );
        let spec = sup::spec(sup::Parts {
            listener: &shared,
            pipeline: &pipeline,
            partitions: &partitions,
            shutdown: config.shutdown_timeout,
            cache: &cache,
            loader: &loader,
            embedded: &config.children,
        });
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
    pub(crate) fn reloader(&self) -> Arc<Reloader> {
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

    /// Live connections on the admin endpoint now (0 when it does not run); they are not
    /// counted in [`active_connections`](Self::active_connections).
    pub fn admin_active_connections(&self) -> usize {
        self.admin
            .as_ref()
            .map_or(0, |admin| admin.shared.gate.active())
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
