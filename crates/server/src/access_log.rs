//! The access log: one line per response, on the tracing target [`TARGET`]
//! (`web_server::access`) at INFO.
//!
//! # Call site
//!
//! The connection code calls [`record`] once per response, after its last byte was written (or
//! the write failed), with what it knows about the exchange:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use web_server::access_log::{self, AccessEntry};
//!
//! let began = Instant::now();
//! // … read the request, write the response …
//! access_log::record(&AccessEntry {
//!     peer: "127.0.0.1:54321".parse().unwrap(),
//!     method: "GET",
//!     target: "/index.html",
//!     version: "HTTP/1.1",
//!     status: 200,
//!     bytes: 1661,
//!     duration: began.elapsed(),
//!     user_agent: Some("curl/8.0"),
//!     referer: None,
//! });
//! ```
//!
//! Nothing is allocated or formatted before the two checks pass: first the process-wide switch
//! ([`set_enabled`], driven by `log.access_log`), a relaxed atomic load; then whether the
//! installed subscriber wants INFO events on [`TARGET`] (`tracing::enabled!`, answered from the
//! callsite's cached interest, so a filtered-out target costs a load and a branch).
//!
//! # Output
//!
//! The time comes from the subscriber. With `log.format = "json"` ([`crate::logging`]) a line
//! is one flat JSON object:
//!
//! ```json
//! {"timestamp":"2025-01-31T10:15:02.118523Z","level":"INFO","peer":"127.0.0.1:54321","method":"GET","uri":"/index.html","version":"HTTP/1.1","status":200,"bytes":1661,"duration":0.000182,"user_agent":"curl/8.0","target":"web_server::access"}
//! ```
//!
//! The request target is logged as `uri` because the JSON object's `target` key is the
//! tracing target. `duration` is in seconds; `user_agent` and `referer` are absent when the
//! request had no such header. The `pretty` and `compact` formats print a classic access line
//! instead (see [`crate::logging`]).
//!
//! The raw request target goes to the log only, never into a metric label (a client chooses it,
//! so it is unbounded).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The tracing target of access-log events; filter directives name it
/// (`web_server::access=off`), and the human formats recognise it.
pub const TARGET: &str = "web_server::access";

/// Whether [`record`] emits anything. On by default, as `log.access_log` is; set by
/// [`crate::logging::init`] and [`crate::logging::reconfigure`].
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns access logging on or off for the whole process (`log.access_log`).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether access logging is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// One request and its response, as the access log records them. Borrowed from the
/// connection's buffers: building one costs nothing when the log is off.
#[derive(Debug, Clone, Copy)]
pub struct AccessEntry<'a> {
    /// The client's address (the TCP peer), to tell clients apart and trace abuse.
    pub peer: SocketAddr,
    /// The request method as sent (`GET`, or an unknown token answered 501), to read the
    /// traffic's shape.
    pub method: &'a str,
    /// The request target as sent (path and query), the resource asked for; logged as `uri`.
    pub target: &'a str,
    /// The protocol version as sent (`HTTP/1.1`, `HTTP/1.0`), since keep-alive and framing
    /// rules differ between them.
    pub version: &'a str,
    /// The response's status code, the outcome.
    pub status: u16,
    /// Bytes written to the client for this response, head and content: what it cost on the
    /// wire, and whether a download was cut short.
    pub bytes: u64,
    /// From the request's first byte to the response's last, to find slow requests.
    pub duration: Duration,
    /// The `User-Agent` header, when sent, to tell browsers, crawlers and scripts apart.
    pub user_agent: Option<&'a str>,
    /// The `Referer` header, when sent, to see where traffic comes from.
    pub referer: Option<&'a str>,
}

/// Logs one response: a single INFO event on [`TARGET`] with the entry's fields (`peer`,
/// `method`, `uri`, `version`, `status`, `bytes`, `duration` in seconds, and `user_agent` and
/// `referer` when present). Returns at once when the access log is switched off or the
/// subscriber filters the target out.
pub fn record(entry: &AccessEntry<'_>) {
    if !enabled() || !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    tracing::info!(
        target: TARGET,
        peer = %entry.peer,
        method = entry.method,
        uri = entry.target,
        version = entry.version,
        status = entry.status,
        bytes = entry.bytes,
        duration = entry.duration.as_secs_f64(),
        user_agent = entry.user_agent,
        referer = entry.referer,
    );
}
