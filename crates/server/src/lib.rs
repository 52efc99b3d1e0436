//! web_server: an HTTP/1.1 server whose processes form an OTP supervision tree on actix.
//!
//! # Layout
//!
//! This crate is the server: the actor tree, TCP, cache, metrics, admin and configuration. It
//! builds on two crates of the workspace:
//!
//! - `web_server_supervision` (crates/supervision): OTP supervisors on actix; no HTTP.
//! - `web_server_http` (crates/http): sans-io HTTP/1.1; no actors, no sockets.
//!
//! The module tree is the supervision tree: the file that defines a process spells its id.
//!
//! - `sup`: `web_server_sup`, the root, wiring the subtrees below.
//! - `tcp`: `tcp/listener_sup.rs` (`web_server_tcp_listener_sup`), `tcp/listener.rs`
//!   (`web_server_tcp_listener`, the accept loops), `tcp/acceptor_sup.rs`
//!   (`web_server_tcp_acceptor_sup`), `tcp/acceptor/` (`web_server_tcp_acceptor`, one actor
//!   per connection, and its state machine); binding and back-pressure.
//! - `cache`: `cache/sup.rs` (`web_server_cache_sup`) and `cache/mod.rs` (`web_server_cache`),
//!   the static-file cache.
//! - [`metrics`]: `metrics/sup.rs` (`web_server_metrics_sup`) and `metrics/mod.rs`
//!   (`web_server_metrics`), and the recording calls everything else makes.
//!
//! Around the tree:
//!
//! - `pipeline`: one request's path from a parsed request to its answer, and the work after it.
//! - [`WebServer`]: embedding the server in another actix application, with its own routes and
//!   its own supervised actors (docs/embedding.md walks through it).
//! - [`run`](run()): the binary's whole life, testable with any future as the shutdown signal.
//! - [`server`]: starting and stopping a server (worker Arbiters, sockets, the tree).
//! - [`config`]: configuration profiles, layering, the command line, and [`config::ServerConfig`].
//! - [`logging`], [`access_log`]: log output per `log.*`, and the access-log line.
//! - `admin`: the admin endpoint (tree, kills, metrics, health, readiness, config), a small
//!   tree of its own beside the seed's.
//! - `reload`: hot reload of the configuration (SIGHUP, `POST /admin/reload`).
//! - `tls`: HTTPS with rustls (ring), reloadable certificates.
//! - `zero_copy`: large cached files kept open and sent with `sendfile`.
//! - `coarse_time`: millisecond clocks for the `Date` header and cache revalidation.
//! - [`systemd`]: readiness notifications and socket activation for the binary (Linux).
//!
//! The composition roots, which wire the parts and may import any of them, are `sup`,
//! [`server`], `run`, `embed` and this file; among the other modules imports go one way only
//! (tests/architecture.rs checks it).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod access_log;
mod admin;
mod cache;
pub mod client_limits;
mod coarse_time;
pub mod config;
mod embed;
pub mod logging;
pub mod metrics;
mod pipeline;
mod reload;
mod run;
pub mod server;
mod sup;
pub mod systemd;
mod tcp;
mod tls;
mod zero_copy;

pub use embed::{ActorSlot, CurrentAddr, PathParams, WebServer, WebServerBuilder};
pub use run::{run, run_until_signalled, shutdown_signal, RunError};
pub use web_server_http as http;
pub use web_server_supervision as supervision;

/// What the crate's benchmarks measure below the public API (the cache-hit path). Not part of
/// the API: it may change with any release.
#[doc(hidden)]
pub mod bench_internals {
    pub use crate::cache::sup::child_spec as cache_child_spec;
    pub use crate::cache::{CacheOptions, StaticCache, StaticLoader, StaticSource};
}
