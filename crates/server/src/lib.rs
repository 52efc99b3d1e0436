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
//! - [`WebServer`]: embedding the server in another actix application, with its own routes and
//!   its own supervised actors (the `embed` module; docs/embedding.md walks through it).
//! - [`run`](run()): the binary's whole life, testable with any future as the shutdown signal.
//! - [`config`]: configuration profiles, layering and the command line.
//! - [`logging`]: log output per `log.*`.
//! - [`server`]: starting and stopping a server (worker Arbiters, sockets, the tree).
//! - [`tree`]: the seed's supervision tree.
//! - [`tcp`]: binding, back-pressure, the listener's accept loops, the acceptor partitions.
//! - `conn`: `web_server_tcp_acceptor`, the per-connection actor and its state machine.
//! - [`service`]: the request pipeline (router, static files, panics → 500).
//! - [`cache`], [`metrics`]: the cache and metrics actors and their supervisors.
//! - [`zero_copy`]: large cached files kept open and sent with `sendfile`.
//! - `coarse_time`: millisecond clocks for the `Date` header and cache revalidation.
//! - [`tls`]: HTTPS with rustls (ring), reloadable certificates.
//! - [`reload`]: hot reload of the configuration (SIGHUP, `POST /admin/reload`).
//! - [`admin`]: the admin endpoint (tree, kills, metrics, health, readiness, config).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod access_log;
pub mod admin;
pub mod cache;
mod coarse_time;
pub mod config;
pub mod conn;
mod embed;
pub mod logging;
pub mod metrics;
pub mod reload;
mod run;
pub mod server;
pub mod service;
pub mod tcp;
pub mod tls;
pub mod tree;
pub mod zero_copy;

pub use embed::{ActorSlot, CurrentAddr, PathParams, WebServer, WebServerBuilder};
pub use run::{run, run_until_signalled, shutdown_signal, RunError};
pub use web_server_http as http;
pub use web_server_supervision as supervision;
