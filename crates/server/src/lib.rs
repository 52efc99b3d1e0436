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
//! Until the server lands (see docs/architecture.md for the plan, module by module), the
//! binary runs a supervised demo tree, and this library re-exports the two building blocks.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use web_server_http as http;
pub use web_server_supervision as supervision;
