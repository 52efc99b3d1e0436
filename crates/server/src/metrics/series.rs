//! The series this server exports: their names, the latency histogram's buckets, and the
//! metadata every series is registered with. Both the recorder (which describes and installs
//! them) and the stored handles (which register them) read this catalogue.

use metrics::{Level, Metadata};

/// `web_server_connections_active`.
pub(crate) const CONNECTIONS_ACTIVE: &str = "web_server_connections_active";
/// `web_server_connections_accepted_total`.
pub(crate) const CONNECTIONS_ACCEPTED: &str = "web_server_connections_accepted_total";
/// `web_server_connections_closed_total`.
pub(crate) const CONNECTIONS_CLOSED: &str = "web_server_connections_closed_total";
/// `web_server_connections_reclaimed_total`.
pub(crate) const CONNECTIONS_RECLAIMED: &str = "web_server_connections_reclaimed_total";
/// `web_server_requests_total`.
pub(crate) const REQUESTS: &str = "web_server_requests_total";
/// `web_server_requests_per_second`.
pub(crate) const REQUESTS_PER_SECOND: &str = "web_server_requests_per_second";
/// `web_server_request_duration_seconds`.
pub(crate) const REQUEST_DURATION: &str = "web_server_request_duration_seconds";
/// `web_server_response_bytes_total`.
pub(crate) const RESPONSE_BYTES: &str = "web_server_response_bytes_total";
/// `web_server_resident_memory_bytes`.
pub(crate) const RESIDENT_MEMORY: &str = "web_server_resident_memory_bytes";
/// `web_server_cache_hits_total`.
pub(crate) const CACHE_HITS: &str = "web_server_cache_hits_total";
/// `web_server_cache_misses_total`.
pub(crate) const CACHE_MISSES: &str = "web_server_cache_misses_total";
/// `web_server_cache_evictions_total`.
pub(crate) const CACHE_EVICTIONS: &str = "web_server_cache_evictions_total";
/// `web_server_cache_entries`.
pub(crate) const CACHE_ENTRIES: &str = "web_server_cache_entries";
/// `web_server_cache_bytes`.
pub(crate) const CACHE_BYTES: &str = "web_server_cache_bytes";
/// `web_server_supervisor_restarts_total`.
pub(crate) const SUPERVISOR_RESTARTS: &str = "web_server_supervisor_restarts_total";
/// `web_server_tls_handshakes_total`.
pub(crate) const TLS_HANDSHAKES: &str = "web_server_tls_handshakes_total";
/// `web_server_tls_handshake_failures_total`.
pub(crate) const TLS_HANDSHAKE_FAILURES: &str = "web_server_tls_handshake_failures_total";
/// `web_server_client_connections_refused_total`.
pub(crate) const CLIENT_CONNECTIONS_REFUSED: &str = "web_server_client_connections_refused_total";
/// `web_server_client_requests_limited_total`.
pub(crate) const CLIENT_REQUESTS_LIMITED: &str = "web_server_client_requests_limited_total";

/// `web_server_build_info`.
pub(crate) const BUILD_INFO: &str = "web_server_build_info";

/// Upper bounds of the latency histogram's buckets, in seconds: 50 µs to 10 s in 1-2.5-5
/// steps (a cache hit on loopback takes tens of microseconds; a slow client, seconds).
pub const LATENCY_BUCKETS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// What every series is registered with (the exporter ignores it; `metrics` requires it).
pub(crate) const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));
