//! What a server needs to start ([`ServerConfig`]), built from a loaded configuration
//! ([`ServerConfig::from_settings`]) or in code by an embedding application, and where a reload
//! re-reads it from ([`ConfigSource`]).

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use web_server_http::{Limits, StaticOptions, TrustedProxies};

use super::{LogSettings, Settings};
use crate::cache::CacheOptions;
use crate::client_limits::RateLimit;
use crate::pipeline::ConnectionOptions;
use crate::tls::TlsConfig;

/// Where and how the admin endpoint runs (`admin.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Its own listening address, loopback by default.
    pub bind: SocketAddr,
    /// When set, every route but `/health` requires it as a bearer token.
    pub token: Option<String>,
    /// When set, `GET /metrics` also takes it as a bearer token (and no other route does).
    pub metrics_token: Option<String>,
    /// Whether `POST /admin/actors/{id}/kill` may kill (chaos drills; off in prod).
    pub allow_kill: bool,
    /// Without a token, `Host` names answered besides IP addresses and `localhost` names.
    pub allowed_hosts: Vec<String>,
}

/// Re-reads the configuration (files and environment, as at start), for reloads.
#[derive(Clone)]
pub struct ConfigSource(Arc<dyn Fn() -> Result<Settings, String> + Send + Sync>);

impl ConfigSource {
    /// A source calling `load`.
    pub fn new(load: impl Fn() -> Result<Settings, String> + Send + Sync + 'static) -> Self {
        ConfigSource(Arc::new(load))
    }

    /// Reads the configuration again.
    pub fn load(&self) -> Result<Settings, String> {
        (self.0)()
    }
}

impl fmt::Debug for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConfigSource(..)")
    }
}

/// Listening sockets a service manager passed in (socket activation, see [`crate::systemd`]):
/// used instead of binding `server.bind` (`plain`) or `tls.bind` (`tls`) when not empty. Shared
/// (`Arc`) because a configuration is cloned (the reloader keeps one); each worker accepts on
/// its own duplicate of every socket.
#[derive(Debug, Clone, Default)]
pub struct InheritedListeners {
    /// Sockets for the plain-HTTP listener.
    pub plain: Vec<Arc<TcpListener>>,
    /// Sockets for the HTTPS listener (passed with the name `https` or `tls`).
    pub tls: Vec<Arc<TcpListener>>,
}

impl InheritedListeners {
    /// Whether no socket was passed.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.tls.is_empty()
    }
}

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
    /// Live connections at most from one peer address (`limits.max_connections_per_ip`; 0 =
    /// no limit; trusted proxies are not counted).
    pub max_connections_per_ip: usize,
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
    pub log: Option<LogSettings>,
    /// Where a reload (SIGHUP, `POST /admin/reload`) re-reads the configuration.
    pub config_source: Option<ConfigSource>,
    /// The HTTPS listener (`tls.*`); `None` serves plain HTTP only.
    pub tls: Option<TlsConfig>,
    /// An embedding application's own children (workers or subtrees), started under
    /// `web_server_sup` before its built-in children (see [`crate::WebServerBuilder::child`]);
    /// none from a configuration file.
    pub children: Vec<web_server_supervision::ChildSpec>,
    /// Sockets passed by a service manager, used instead of binding `bind` (and `tls.bind`);
    /// none unless the binary was socket-activated.
    pub inherited: InheritedListeners,
}

/// The compiled-in `default.toml` ([`super::built_in_defaults`]) for everything it tunes
/// (workers, backlog, connection limits and timeouts, cache, compression), so an embedder and an
/// operator get the same server from "the defaults". What says where a server runs and what it
/// serves is the embedding application's to choose, and starts empty: it listens on
/// `127.0.0.1:0` (a free port, so several servers in one process or test suite never collide),
/// serves no docroot, runs no admin endpoint and no TLS listener, and leaves logging to the
/// application. tests/config.rs compares this key by key with `default.toml`.
impl Default for ServerConfig {
    fn default() -> Self {
        let defaults = super::built_in_defaults();
        ServerConfig {
            bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
            docroot: None,
            admin: None,
            config_text: String::new(),
            log: None,
            tls: None,
            ..ServerConfig::from_settings(defaults)
        }
    }
}

impl Default for ConnectionOptions {
    /// The compiled-in `default.toml`'s `[limits]` and `[timeouts]`.
    fn default() -> Self {
        connection_options(super::built_in_defaults())
    }
}

impl Default for CacheOptions {
    /// The compiled-in `default.toml`'s `[cache]`.
    fn default() -> Self {
        cache_options(super::built_in_defaults())
    }
}

/// The connection limits and timeouts of a configuration.
fn connection_options(settings: &Settings) -> ConnectionOptions {
    let limits = Limits {
        max_request_line: settings.limits.max_request_line,
        max_header_bytes: settings.limits.max_header_bytes,
        max_headers: settings.limits.max_headers,
        max_body_bytes: settings.limits.max_body_bytes,
        ..Limits::default()
    };
    ConnectionOptions {
        limits,
        header_timeout: settings.timeouts.header(),
        body_timeout: settings.timeouts.body(),
        keepalive_timeout: settings.timeouts.keepalive(),
        send_timeout: settings.timeouts.send(),
        max_keepalive_requests: settings.limits.max_keepalive_requests,
        server_header: Some("web_server".to_owned()),
        trusted_proxies: TrustedProxies::new(settings.server.trusted_proxies.clone()),
        request_rate: RateLimit {
            per_second: settings.limits.requests_per_second,
            burst: settings.limits.request_burst,
        },
        request_id: settings.server.request_id,
        proxy_protocol: settings.server.proxy_protocol,
    }
}

/// The cache bounds of a configuration.
fn cache_options(settings: &Settings) -> CacheOptions {
    CacheOptions {
        max_bytes: settings.cache.max_bytes,
        max_entries: settings.cache.max_entries,
        revalidate: settings.cache.revalidate(),
        max_negative_entries: settings.cache.max_negative_entries,
    }
}

impl ServerConfig {
    /// The server part of a loaded configuration.
    pub fn from_settings(settings: &Settings) -> ServerConfig {
        ServerConfig {
            bind: settings.server.bind.clone(),
            workers: settings.server.workers,
            backlog: settings.server.backlog,
            max_connections: settings.server.max_connections,
            max_connections_per_ip: settings.limits.max_connections_per_ip,
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
            connection: connection_options(settings),
            shutdown_timeout: settings.timeouts.shutdown(),
            cache: cache_options(settings),
            admin: settings.admin.bind.map(|bind| AdminConfig {
                bind,
                token: settings.admin.token.clone(),
                metrics_token: settings.admin.metrics_token.clone(),
                allow_kill: settings.admin.allow_kill,
                allowed_hosts: settings.admin.allowed_hosts.clone(),
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
            inherited: InheritedListeners::default(),
        }
    }
}
