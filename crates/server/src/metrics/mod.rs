//! `web_server_metrics`, the metrics collector (its supervisor is [`sup`]), and the calls the
//! rest of the server records through. Recording imports nothing from the rest of the crate:
//! what the collector samples (connection counts, cache size) and which supervisors it counts
//! from zero are handed in by whoever wires the tree. Every series is listed, with its type, labels and meaning, in
//! docs/operations.md (`## Metrics`).
//!
//! # The recorder belongs to the process, not to the actor
//!
//! The Prometheus recorder is installed once per process, on first use, and never replaced —
//! like an ETS table owned by the application rather than by one of its processes. The
//! connections, the cache and the supervisors record into it directly through stored handles;
//! no message goes to the actor on the request path. The actor only does what needs a clock:
//! every [`UPKEEP_INTERVAL`] it runs the exporter's upkeep, and once a second
//! ([`SAMPLE_INTERVAL`]) it samples the gauges (active connections, requests per second,
//! resident memory, cache size).
//!
//! Upkeep moves the latency samples recorded since the last upkeep into the histogram. Under
//! heavy load, doing it once a second holds up the worker sharing its core for milliseconds at
//! a time, which shows in the 99th percentile; ten times a second spreads the same work
//! thinly.
//!
//! So killing `web_server_metrics` loses nothing that was recorded: counters and histograms
//! keep their values and keep counting while it is down, and the restarted actor samples the
//! same recorder. Only its own state starts fresh: the requests-per-second window is empty
//! again, so that gauge keeps its last value for one interval after a restart and then covers
//! the seconds since the restart until the window ([`RATE_WINDOW`]) is full again.
//!
//! # Several servers in one process
//!
//! Embedding applications may start several servers in one process (the tests start many).
//! They share the one recorder, so the series describe the whole process: counters add up
//! every server's traffic, and the gauges sum every live listener's connection gate and every
//! server's cache source (held weakly, so a stopped server drops out).
//!
//! Every listener counts, the admin endpoint's included: its connections and requests
//! (scrapes of `/metrics` too) are counted like any other, and the active-connections gauge
//! covers the same connections as the accepted and closed counters.
//!
//! # Layout
//!
//! - `sup`: `web_server_metrics_sup` and the collector's child spec.
//! - `series`: the series' names, the latency buckets, the metadata they are registered with.
//! - `recorder`: installing the recorder once, describing the series, rendering.
//! - `handles`: the stored handles, and [`RequestMetrics`] for the request path.
//! - `rate`: the sliding requests-per-second window.
//! - `proc`: resident memory from `/proc/self/statm`.
//! - `stats`: the last 15 minutes, one sample a second, for `/admin/stats` and the admin page.

mod handles;
mod proc;
mod rate;
mod recorder;
mod series;
mod stats;
pub(crate) mod sup;

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::{Actor, AsyncContext, Context};
use web_server_http::Method;

use handles::Tallies;
use rate::RateWindow;

pub use handles::{RequestMetrics, METHOD_LABELS, STATUS_CLASSES};
pub use series::LATENCY_BUCKETS;
pub use stats::{stats_json, ClassRates, Percentiles, StatsSample, STATS_HISTORY};
pub use sup::ID as METRICS_SUP_ID;

/// The supervision id of the metrics collector.
pub const ID: &str = "web_server_metrics";
/// The supervision id of the metrics collector ([`ID`], under the name embedders know).
pub const METRICS_ID: &str = ID;
/// How often the actor samples the gauges.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// How often the actor moves recorded latencies into the histogram.
pub const UPKEEP_INTERVAL: Duration = Duration::from_millis(100);
/// How far back `web_server_requests_per_second` looks.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Records one answered request: its method (`None` when it was not recognised, counted as
/// `other`), its status code, the time from its first byte to the end of its response, and
/// the bytes written for it. Costs an index and a few atomic adds; see [`RequestMetrics`].
#[inline]
pub fn request_done(method: Option<Method>, status: u16, elapsed: Duration, bytes: u64) {
    RequestMetrics::get().record(method, status, elapsed, bytes);
}

/// Counts an accepted connection (`web_server_connections_accepted_total`).
pub(crate) fn connection_opened() {
    recorder::installed()
        .handles
        .connections_accepted
        .increment(1);
}

/// Counts a closed connection (`web_server_connections_closed_total`).
pub(crate) fn connection_closed() {
    recorder::installed()
        .handles
        .connections_closed
        .increment(1);
}

/// Counts a connection closed to make room for a new one at the connection limit
/// (`web_server_connections_reclaimed_total`).
pub(crate) fn connection_reclaimed() {
    recorder::installed()
        .handles
        .connections_reclaimed
        .increment(1);
}

/// Counts a connection closed at accept for `limits.max_connections_per_ip`
/// (`web_server_client_connections_refused_total`).
pub(crate) fn client_connection_refused() {
    recorder::installed()
        .handles
        .client_connections_refused
        .increment(1);
}

/// Counts a request answered 429 for `limits.requests_per_second`
/// (`web_server_client_requests_limited_total`).
pub(crate) fn client_request_limited() {
    recorder::installed()
        .handles
        .client_requests_limited
        .increment(1);
}

/// Counts a lookup the file cache answered from memory.
pub fn cache_hit() {
    let handles = &recorder::installed().handles;
    handles.cache_hits.increment(1);
    Tallies::count(&handles.tallies.cache_hits);
}

/// Counts a lookup the file cache could not answer from memory.
pub(crate) fn cache_miss() {
    let handles = &recorder::installed().handles;
    handles.cache_misses.increment(1);
    Tallies::count(&handles.tallies.cache_misses);
}

/// Counts an entry evicted from the file cache to stay within its limits.
pub(crate) fn cache_eviction() {
    recorder::installed().handles.cache_evictions.increment(1);
}

/// Registers the restart counters of `supervisors` at zero, so a dashboard or an alert on
/// `increase()` sees their first restart too. Supervisors not registered this way appear at
/// their first restart. Registering twice is harmless.
pub(crate) fn count_restarts_from_zero(supervisors: &[&str]) {
    let installed = recorder::installed();
    for supervisor in supervisors {
        // Registering is enough for the exporter to render the series, at 0.
        let _zero = installed.supervisor_restarts(supervisor);
    }
}

/// Counts a restart made by the supervisor `supervisor`. Called for every supervisor of the
/// process through the supervision library's restart observer, installed with the recorder;
/// the label's values are supervisor ids, a set fixed by the shape of the trees.
pub(crate) fn supervisor_restart(supervisor: &str) {
    let installed = recorder::installed();
    installed.supervisor_restarts(supervisor).increment(1);
    Tallies::count(&installed.handles.tallies.restarts);
}

/// Counts a finished TLS handshake: every one in `web_server_tls_handshakes_total`, failed
/// ones (`ok == false`) also in `web_server_tls_handshake_failures_total`.
pub(crate) fn tls_handshake(ok: bool) {
    let handles = &recorder::installed().handles;
    handles.tls_handshakes.increment(1);
    if !ok {
        handles.tls_handshake_failures.increment(1);
    }
}

/// The Prometheus text exposition of every series, for `GET /metrics` (content type
/// `text/plain; version=0.0.4`): the recorder's, then the standard `process_*` series, read
/// from `/proc` now as the Prometheus client libraries read them at each scrape. (Those are not
/// kept in the recorder: `process_cpu_seconds_total` is a counter of fractional seconds, which
/// the exporter's integer counters cannot hold.)
pub fn render() -> String {
    let mut text = recorder::installed().handle.render();
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push('\n');
    }
    text.push_str(&proc::process_exposition());
    text
}

/// Whether the server's recorder is also the `metrics` crate's global recorder. False when the
/// embedding application installed its own first: the server's series are still all rendered
/// by [`render`], but `metrics` macros called elsewhere in the process go to that other
/// recorder.
pub fn recorder_is_global() -> bool {
    recorder::installed().global
}

/// The file cache's size at one moment, for the `web_server_cache_entries` and
/// `web_server_cache_bytes` gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CacheStatsSnapshot {
    /// Entries held.
    pub entries: u64,
    /// Bytes held (bodies and their compressed variants).
    pub bytes: u64,
}

/// Reads the file cache's size; called by the metrics actor once per [`SAMPLE_INTERVAL`], on
/// its own Arbiter, so it must be cheap and must not block.
pub(crate) type CacheStatsSource = Arc<dyn Fn() -> CacheStatsSnapshot + Send + Sync>;

/// Something that counts live connections (a listener's connection gate), sampled into
/// `web_server_connections_active`. Cheap and non-blocking, like a [`CacheStatsSource`].
pub(crate) trait ConnectionCount: Send + Sync + 'static {
    /// Live connections now.
    fn active(&self) -> usize;
}

/// What the gauges are sampled from, across every server of the process.
struct Sources {
    /// Every listener's connection count, alive while its server holds it.
    gates: Vec<Weak<dyn ConnectionCount>>,
    /// Every server's cache-size source, alive while its tree holds it.
    caches: Vec<Weak<dyn Fn() -> CacheStatsSnapshot + Send + Sync>>,
}

/// Registered by [`child_spec`]; held weakly, so a stopped server's sources drop out.
static SOURCES: Mutex<Sources> = Mutex::new(Sources {
    gates: Vec::new(),
    caches: Vec::new(),
});

/// Counts `connections` in `web_server_connections_active` for as long as someone holds it.
/// Every listener's gate is registered (the admin endpoint's too), so the gauge covers the same
/// connections as the accepted and closed counters.
pub(crate) fn watch_connections(connections: Arc<dyn ConnectionCount>) {
    let mut sources = SOURCES.lock().unwrap_or_else(PoisonError::into_inner);
    let connections = Arc::downgrade(&connections);
    if !sources.gates.iter().any(|g| g.ptr_eq(&connections)) {
        sources.gates.push(connections);
    }
}

/// Counts `cache` in the cache gauges for as long as someone holds it.
fn watch_cache(cache: &CacheStatsSource) {
    let mut sources = SOURCES.lock().unwrap_or_else(PoisonError::into_inner);
    let cache = Arc::downgrade(cache);
    if !sources.caches.iter().any(|c| c.ptr_eq(&cache)) {
        sources.caches.push(cache);
    }
}

/// Live connections and cache size summed over every live source (dead ones are dropped).
fn sample_sources() -> (usize, CacheStatsSnapshot) {
    let (gates, caches) = {
        let mut sources = SOURCES.lock().unwrap_or_else(PoisonError::into_inner);
        sources.gates.retain(|g| g.strong_count() > 0);
        sources.caches.retain(|c| c.strong_count() > 0);
        let gates: Vec<_> = sources.gates.iter().filter_map(Weak::upgrade).collect();
        let caches: Vec<_> = sources.caches.iter().filter_map(Weak::upgrade).collect();
        (gates, caches)
    };
    // The sources are called with the lock released: a cache source may take its own locks.
    let active = gates.iter().map(|gate| gate.active()).sum();
    let cache =
        caches
            .iter()
            .map(|source| source())
            .fold(CacheStatsSnapshot::default(), |sum, one| {
                CacheStatsSnapshot {
                    entries: sum.entries.saturating_add(one.entries),
                    bytes: sum.bytes.saturating_add(one.bytes),
                }
            });
    (active, cache)
}

/// The metrics collector: runs the exporter's upkeep and samples the gauges every
/// [`SAMPLE_INTERVAL`]. Everything it samples into lives in the process-wide recorder.
pub(crate) struct Metrics {
    /// This server's connection count: held so it stays registered while the collector runs
    /// (the registry of sources holds it weakly).
    _connections: Arc<dyn ConnectionCount>,
    /// This server's cache-size source, held for the same reason.
    _cache: Option<CacheStatsSource>,
    /// Recent totals of answered requests; fresh at every (re)start.
    rate: RateWindow,
}

impl Metrics {
    fn new(connections: Arc<dyn ConnectionCount>, cache: Option<CacheStatsSource>) -> Self {
        Metrics {
            _connections: connections,
            _cache: cache,
            rate: RateWindow::new(RATE_WINDOW),
        }
    }

    fn upkeep(&mut self) {
        recorder::installed().handle.run_upkeep();
    }

    fn sample(&mut self) {
        // Upkeep has its own, shorter interval ([`UPKEEP_INTERVAL`]).
        let installed = recorder::installed();
        let handles = &installed.handles;
        let (active, cache) = sample_sources();
        let now = Instant::now();
        let requests = handles.request.totals();
        handles.connections_active.set(active as f64);
        if let Some(rate) = self.rate.observe(now, requests.by_class.iter().sum()) {
            handles.requests_per_second.set(rate);
        }
        let resident = proc::resident_bytes();
        if let Some(resident) = resident {
            handles.resident_memory.set(resident as f64);
        }
        handles.cache_entries.set(cache.entries as f64);
        handles.cache_bytes.set(cache.bytes as f64);
        let tallies = &handles.tallies;
        stats::record(stats::Reading {
            at: now,
            unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_millis() as u64,
            requests,
            cache_hits: Tallies::read(&tallies.cache_hits),
            cache_misses: Tallies::read(&tallies.cache_misses),
            restarts: Tallies::read(&tallies.restarts),
            connections_open: active as u64,
            resident_memory_bytes: resident,
            cache_bytes: cache.bytes,
            cache_entries: cache.entries,
        });
    }
}

impl Actor for Metrics {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.sample();
        ctx.run_interval(SAMPLE_INTERVAL, |metrics, _| metrics.sample());
        ctx.run_interval(UPKEEP_INTERVAL, |metrics, _| metrics.upkeep());
    }
}

#[cfg(test)]
mod tests;
