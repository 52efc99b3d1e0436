//! The typed configuration: what every part of the server reads after loading.
//!
//! Each field says why it exists and what it protects against; docs/configuration.md has the
//! defaults per profile and the reasoning behind them. Values here are already validated and
//! paths already resolved (see [`Settings::load`](super::Settings::load)).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use web_server_http::Cidr;

pub use crate::access_log::AccessFormat;

/// Which profile file (`config/{profile}.toml`) is layered over `config/default.toml`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Development: 127.0.0.1:8080, pretty logs, the bundled sample site.
    #[default]
    Dev,
    /// Production: 0.0.0.0:8080, JSON logs, hardened limits, an admin token required.
    Prod,
    /// Tests: 127.0.0.1 on port 0, quiet logs.
    Test,
}

impl Profile {
    /// Every profile, in the order the documentation lists them.
    pub const ALL: [Profile; 3] = [Profile::Dev, Profile::Prod, Profile::Test];

    /// The profile's name as written in `--profile`, `WEB_SERVER_PROFILE` and its file name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Dev => "dev",
            Profile::Prod => "prod",
            Profile::Test => "test",
        }
    }

    /// The profile's file name inside the configuration directory, e.g. `dev.toml`.
    pub fn file_name(self) -> String {
        format!("{}.toml", self.name())
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;

    /// Parses `dev`, `prod` or `test`, ignoring ASCII case and surrounding blanks.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| format!("expected dev, prod or test, found {s:?}"))
    }
}

/// The effective configuration of one server instance.
///
/// Built by [`Settings::load`](super::Settings::load) from the layers described in
/// docs/configuration.md; every field has been validated and relative paths resolved, so the
/// rest of the server can use the values as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The profile the settings were loaded with; not a key (it selects the profile file), kept
    /// so the server can log it and `--print-config` can show it.
    #[serde(skip)]
    pub profile: Profile,
    /// Listening sockets, workers and the document root.
    pub server: ServerSettings,
    /// How long a connection may stay in each state before it is closed.
    pub timeouts: Timeouts,
    /// Upper bounds on what one request may make the server buffer.
    pub limits: Limits,
    /// The in-memory file cache.
    pub cache: CacheSettings,
    /// On-the-fly gzip of compressible files.
    pub compression: Compression,
    /// The admin endpoint (tree, kill, metrics, health).
    pub admin: Admin,
    /// Optional HTTPS listener.
    pub tls: Tls,
    /// Log output.
    pub log: LogSettings,
}

/// `[server]`: where the server listens and what it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Every address to listen on (IPv4 and IPv6 literals with a port; port 0 picks a free
    /// one). A list, because a dual-stack host binds `0.0.0.0:80` and `[::]:80` separately;
    /// never empty, since a server that listens nowhere is a configuration mistake.
    pub bind: Vec<SocketAddr>,
    /// Worker Arbiters (threads) that run connection actors; 0 means one per core. Bounded
    /// (at most 1024) because each worker is an OS thread with its own event loop.
    pub workers: usize,
    /// `listen(2)` backlog: connections the kernel queues while every acceptor is busy. Ranch's
    /// default; Linux silently caps it at `net.core.somaxconn`.
    pub backlog: u32,
    /// Most simultaneous connections; at the limit the acceptors stop accepting until one
    /// closes (back-pressure), so a flood cannot exhaust file descriptors or memory.
    pub max_connections: usize,
    /// Directory of the static files; must exist when the server starts, so a typo is an error
    /// at startup rather than a site of 404s. Absolute after loading (relative values are
    /// resolved as docs/configuration.md says).
    #[serde(serialize_with = "path_text::serialize")]
    pub docroot: PathBuf,
    /// Peers whose `Forwarded`, `X-Forwarded-For` and `X-Forwarded-Proto` are believed (the
    /// load balancers in front); empty trusts none. From anyone else the headers are ignored,
    /// since any client can send them. See docs/operations.md, "Deploying behind a balancer".
    #[serde(with = "cidr_text")]
    pub trusted_proxies: Vec<Cidr>,
    /// Whether every response carries an `X-Request-Id` (and the access log's `json` line a
    /// `request_id`): a trusted proxy's id when it sent a plain one, else one generated here,
    /// so one request can be followed from the balancer's log to this one. Off by default: it
    /// costs an allocation per request.
    pub request_id: bool,
    /// Whether every connection (plain and TLS listeners) starts with a PROXY protocol header
    /// (v1 or v2) from a TCP balancer such as HAProxy or AWS NLB; one missing or malformed is
    /// closed unread. The header's client is believed only from `trusted_proxies`, which must
    /// then list the balancers.
    pub proxy_protocol: bool,
}

impl ServerSettings {
    /// The number of worker Arbiters to start: `workers`, or the number of cores when it is 0
    /// (1 if the number of cores cannot be determined).
    pub fn worker_threads(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

/// `[timeouts]`, in milliseconds: every state a connection can wait in has a deadline, so a
/// slow or silent peer cannot hold a connection slot forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// From the first byte of a request to the end of its head, not reset by trickled bytes:
    /// the defence against slowloris (nginx `client_header_timeout`, Cowboy `request_timeout`).
    pub header_ms: u64,
    /// From the end of a request's head to the end of its body, not reset by trickled bytes
    /// (stricter than nginx's per-read `client_body_timeout`), so a client that stops or
    /// trickles its upload releases its connection: the slow-body (R-U-Dead-Yet) defence.
    pub body_ms: u64,
    /// Idle time allowed between requests on a kept-alive connection (nginx
    /// `keepalive_timeout`); idle connections cost a slot and a file descriptor.
    pub keepalive_ms: u64,
    /// Longest time without write progress (nginx `send_timeout`), so a client that stops
    /// reading cannot pin a response and its buffers.
    pub send_ms: u64,
    /// Grace period for open connections to finish on shutdown before they are killed, as an
    /// OTP child's shutdown timeout.
    pub shutdown_ms: u64,
}

impl Timeouts {
    /// [`Timeouts::header_ms`] as a `Duration`.
    pub fn header(&self) -> Duration {
        Duration::from_millis(self.header_ms)
    }

    /// [`Timeouts::body_ms`] as a `Duration`.
    pub fn body(&self) -> Duration {
        Duration::from_millis(self.body_ms)
    }

    /// [`Timeouts::keepalive_ms`] as a `Duration`.
    pub fn keepalive(&self) -> Duration {
        Duration::from_millis(self.keepalive_ms)
    }

    /// [`Timeouts::send_ms`] as a `Duration`.
    pub fn send(&self) -> Duration {
        Duration::from_millis(self.send_ms)
    }

    /// [`Timeouts::shutdown_ms`] as a `Duration`.
    pub fn shutdown(&self) -> Duration {
        Duration::from_millis(self.shutdown_ms)
    }
}

/// `[limits]`: the most one request may make the server buffer, checked by the HTTP parser
/// before buffers grow past them (same names and units as `web_server_http::Limits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Longest request line in bytes; longer → 414. Bounds the buffer before any header is
    /// parsed (nginx and Cowboy both use about 8 KiB).
    pub max_request_line: usize,
    /// Largest header section in bytes; larger → 431. Bounds per-connection memory for the head.
    pub max_header_bytes: usize,
    /// Most header fields in a request; more → 431. Bounds parsing work and the header index
    /// (Cowboy's `max_headers` is 100).
    pub max_headers: usize,
    /// Largest request body in bytes; larger → 413. A static server needs little; the admin
    /// endpoint's requests are small.
    pub max_body_bytes: u64,
    /// Requests served on one connection before it is closed (nginx `keepalive_requests`), so
    /// long-lived connections are recycled and per-connection state cannot grow forever.
    pub max_keepalive_requests: u64,
    /// Connections open at once from one peer address (nginx `limit_conn`); more are closed
    /// at accept, unread. 0 = no limit. Trusted proxies are not counted: they carry many
    /// clients. Keeps one address from taking every `server.max_connections` slot.
    pub max_connections_per_ip: usize,
    /// Requests per second one client (the address trusted proxies report, else the peer) may
    /// sustain (nginx `limit_req`); over it, 429 with `Retry-After`. 0 = no limit.
    pub requests_per_second: u32,
    /// Requests a client may make at once before `requests_per_second` applies: the token
    /// bucket's size, so a page's burst of assets is not refused.
    pub request_burst: u32,
}

/// `[cache]`: the in-memory cache of small static files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Total bytes the cache may hold; 0 disables caching. Bounds the server's memory.
    pub max_bytes: u64,
    /// Most files the cache may hold; bounds the index and per-entry overhead when files are
    /// tiny.
    pub max_entries: usize,
    /// Files larger than this are never cached but streamed from disk in chunks, so one big file
    /// cannot evict the whole working set. At most `max_bytes`.
    pub max_file_bytes: u64,
    /// How long a cached entry is trusted before its file's metadata is checked again; 0
    /// re-checks on every request (edits show at once, at the cost of a `stat` per request).
    pub revalidate_ms: u64,
    /// Paths refused with 404, 403 or 400 remembered at most (negative entries), in a bound of
    /// their own so that a scan of random paths cannot evict cached files; 0 remembers none.
    pub max_negative_entries: usize,
}

impl CacheSettings {
    /// [`CacheSettings::revalidate_ms`] as a `Duration`.
    pub fn revalidate(&self) -> Duration {
        Duration::from_millis(self.revalidate_ms)
    }

    /// Whether the cache is enabled (`max_bytes` > 0 and `max_entries` > 0).
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0 && self.max_entries > 0
    }
}

/// `[compression]`: gzip of compressible responses when the client accepts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compression {
    /// Whether to gzip compressible files on the fly; text shrinks three- to tenfold.
    pub gzip: bool,
    /// Smaller responses are sent as they are: below about 1 KiB gzip's header and CPU cost
    /// outweigh the bytes saved.
    pub min_bytes: u64,
    /// zlib level 0-9; 6 is zlib's own default balance (and cached files are compressed once).
    pub level: u32,
}

/// `[admin]`: the admin endpoint (live tree, kill, metrics, health).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Address of the admin listener, separate from `server.bind` so it can stay on loopback
    /// while the site is public; `""` (None) disables the admin endpoint.
    #[serde(default, with = "opt_text")]
    pub bind: Option<SocketAddr>,
    /// Bearer token the admin endpoint requires; `""` (None) means no token (dev and test
    /// only: the prod profile refuses to start without one while the admin endpoint is enabled).
    /// Shown as `<redacted>` by `--print-config`.
    #[serde(default, with = "opt_text")]
    pub token: Option<String>,
    /// Read-only bearer token for `GET /metrics` alone (besides `token`), so a scraper never
    /// holds the token that can kill processes; `""` (None) means none. Redacted like `token`.
    #[serde(default, with = "opt_text")]
    pub metrics_token: Option<String>,
    /// Whether the admin endpoint may kill processes of the tree (to watch supervisors restart
    /// them); a debugging aid, off in production.
    pub allow_kill: bool,
    /// Without a token, the `Host` values the admin endpoint answers besides IP addresses and
    /// `localhost` names: a page rebinding its own DNS name to the admin address is refused.
    pub allowed_hosts: Vec<String>,
}

/// `[tls]`: an optional HTTPS listener (served from issue 6 on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Addresses of the TLS listener; empty disables TLS. When set, `cert` and `key` must name
    /// existing files, so a half-configured TLS setup fails at startup, not at the first
    /// handshake.
    #[serde(default)]
    pub bind: Vec<SocketAddr>,
    /// PEM certificate chain; required when `bind` is set.
    #[serde(default, with = "opt_path")]
    pub cert: Option<PathBuf>,
    /// PEM private key; required when `bind` is set.
    #[serde(default, with = "opt_path")]
    pub key: Option<PathBuf>,
    /// A handshake not finished within this is dropped, so stuck or slow handshakes cannot
    /// hold connection slots.
    pub handshake_timeout_ms: u64,
    /// Answer plain-HTTP requests with a 301 to the HTTPS listener instead of serving them.
    pub redirect_http: bool,
}

impl Tls {
    /// [`Tls::handshake_timeout_ms`] as a `Duration`.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }

    /// Whether a TLS listener is configured (`bind` is not empty).
    pub fn enabled(&self) -> bool {
        !self.bind.is_empty()
    }
}

/// Output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, one line per event with its fields and spans (tracing-subscriber's
    /// default "full" format), coloured on a terminal unless `NO_COLOR` is set.
    Pretty,
    /// Like `pretty`, shorter: span fields appended instead of nested.
    Compact,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// The format's name as written in configuration.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Compact => "compact",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `[log]`: what is logged and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` for people, `json` for collectors, `compact` in between.
    pub format: LogFormat,
    /// A `RUST_LOG`-style filter (e.g. `info` or `web_server=debug,warn`); `RUST_LOG`, when set,
    /// overrides it so one run can be debugged without editing files.
    pub level: String,
    /// Whether every request is logged (method, target, status, bytes, duration); off in tests
    /// to keep their output readable.
    pub access_log: bool,
    /// The access line: `text` (the classic line inside the log format), `combined` (nginx's
    /// `combined`, byte for byte, for GoAccess and log shippers' nginx parsers) or `json` (one
    /// object per request with a documented, stable field set).
    pub access_format: AccessFormat,
}

/// Serialises a path as UTF-8 text (lossily, so rendering never fails); loading guarantees
/// configured paths are valid UTF-8.
mod path_text {
    use std::path::Path;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&path.to_string_lossy())
    }
}

/// An optional value written as text, with `""` meaning none (TOML has no null).
mod opt_text {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, T: Display>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => s.collect_str(value),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: Display,
    {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) if text.is_empty() => Ok(None),
            Some(text) => text.parse().map(Some).map_err(D::Error::custom),
        }
    }
}

/// Address blocks written as text (`"10.0.0.0/8"`).
mod cidr_text {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use web_server_http::Cidr;

    pub fn serialize<S: Serializer>(blocks: &[Cidr], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(blocks.iter().map(ToString::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cidr>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| text.parse().map_err(D::Error::custom))
            .collect()
    }
}

/// An optional path written as text, with `""` meaning none.
mod opt_path {
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(path) => s.serialize_str(&path.to_string_lossy()),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        Ok(Option::<String>::deserialize(d)?
            .filter(|text| !text.is_empty())
            .map(PathBuf::from))
    }
}
