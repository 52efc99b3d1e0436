//! The process-wide Prometheus recorder: built and installed once per process, described once,
//! rendered for `GET /metrics`.
//!
//! Embedding applications may start several servers in one process, and the tests start many:
//! the first use installs the recorder and every later one reuses it. When the embedder has
//! already installed a global `metrics` recorder of its own, ours stays non-global: the server
//! records through handles registered on our recorder directly (never through the `metrics`
//! macros), so `/metrics` is complete either way; only the embedder's own macro calls then go
//! to the embedder's recorder.

use std::sync::{Arc, Once, OnceLock};

use metrics::{Counter, Key, Label, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::handles::{Handles, RequestMetrics};
use super::series::*;

/// Every series with its type, unit and HELP text, as rendered.
const DESCRIPTIONS: [(Kind, &str, Unit, &str); 20] = [
    (
        Kind::Gauge,
        CONNECTIONS_ACTIVE,
        Unit::Count,
        "Client connections open now, on every listener (admin endpoint included).",
    ),
    (
        Kind::Counter,
        CONNECTIONS_ACCEPTED,
        Unit::Count,
        "Client connections accepted, on every listener (admin endpoint included).",
    ),
    (
        Kind::Counter,
        CONNECTIONS_CLOSED,
        Unit::Count,
        "Client connections closed, for any reason.",
    ),
    (
        Kind::Counter,
        CONNECTIONS_RECLAIMED,
        Unit::Count,
        "Idle or head-waiting connections closed, oldest first, to admit new ones at max_connections.",
    ),
    (
        Kind::Counter,
        REQUESTS,
        Unit::Count,
        "Requests answered, by method (the standard ones, else \"other\") and status class.",
    ),
    (
        Kind::Gauge,
        REQUESTS_PER_SECOND,
        Unit::CountPerSecond,
        "Requests answered per second over the last 10 seconds, sampled every second.",
    ),
    (
        Kind::Histogram,
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's first byte to the last byte of its response.",
    ),
    (
        Kind::Counter,
        RESPONSE_BYTES,
        Unit::Bytes,
        "Response bytes written to clients (heads and content).",
    ),
    (
        Kind::Gauge,
        RESIDENT_MEMORY,
        Unit::Bytes,
        "Resident memory of the process (/proc/self/statm), sampled every second.",
    ),
    (
        Kind::Counter,
        CACHE_HITS,
        Unit::Count,
        "File cache lookups answered from memory.",
    ),
    (
        Kind::Counter,
        CACHE_MISSES,
        Unit::Count,
        "File cache lookups that had to read the file.",
    ),
    (
        Kind::Counter,
        CACHE_EVICTIONS,
        Unit::Count,
        "Entries evicted from the file cache to stay within its limits.",
    ),
    (
        Kind::Gauge,
        CACHE_ENTRIES,
        Unit::Count,
        "Files held in the file cache now, sampled every second.",
    ),
    (
        Kind::Gauge,
        CACHE_BYTES,
        Unit::Bytes,
        "Bytes held in the file cache now, sampled every second.",
    ),
    (
        Kind::Counter,
        SUPERVISOR_RESTARTS,
        Unit::Count,
        "Children restarted, by the id of the supervisor that restarted them.",
    ),
    (
        Kind::Counter,
        TLS_HANDSHAKES,
        Unit::Count,
        "TLS handshakes attempted, failed ones included.",
    ),
    (
        Kind::Counter,
        TLS_HANDSHAKE_FAILURES,
        Unit::Count,
        "TLS handshakes that failed.",
    ),
    (
        Kind::Counter,
        CLIENT_CONNECTIONS_REFUSED,
        Unit::Count,
        "Connections closed at accept because their address had limits.max_connections_per_ip open.",
    ),
    (
        Kind::Counter,
        CLIENT_REQUESTS_LIMITED,
        Unit::Count,
        "Requests answered 429 because their client exceeded limits.requests_per_second and its burst.",
    ),
    (
        Kind::Gauge,
        BUILD_INFO,
        Unit::Count,
        "Always 1; its labels tell the web_server version running.",
    ),
];

/// Metric types, for describing.
#[derive(Clone, Copy)]
enum Kind {
    /// A monotonic count.
    Counter,
    /// A value sampled or set.
    Gauge,
    /// A distribution with buckets.
    Histogram,
}

/// The process's recorder and what was registered on it.
pub(crate) struct Installed {
    /// Renders the exposition text and runs upkeep.
    pub(crate) handle: PrometheusHandle,
    /// Registers series; when `global`, the same recorder sits in `metrics`' global slot.
    recorder: Arc<PrometheusRecorder>,
    /// Whether `metrics`' global recorder is ours (false when the embedder installed theirs).
    pub(crate) global: bool,
    /// Handles registered once, used on every recording.
    pub(crate) handles: Handles,
}

/// Installed on first use; never replaced, so it outlives every actor and server.
static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Adds the restart observer once, after the recorder is installed: never while `INSTALLED`
/// is being initialised, so an observer that records (ours, or an embedder's calling into this
/// module) can never wait on an initialisation that waits on the observers' lock.
static OBSERVE_RESTARTS: Once = Once::new();

impl RequestMetrics {
    /// The process's request handles (installing the recorder on first use).
    #[inline]
    pub fn get() -> &'static RequestMetrics {
        &installed().handles.request
    }
}

/// The process's recorder, installed on first use.
#[inline]
pub(crate) fn installed() -> &'static Installed {
    if let Some(installed) = INSTALLED.get() {
        return installed;
    }
    let installed = INSTALLED.get_or_init(install);
    OBSERVE_RESTARTS.call_once(|| {
        web_server_supervision::add_restart_observer(|supervisor, _child| {
            super::supervisor_restart(supervisor.as_str());
        });
    });
    installed
}

fn install() -> Installed {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), &LATENCY_BUCKETS)
        .expect("LATENCY_BUCKETS is not empty");
    let recorder = Arc::new(builder.build_recorder());
    let handle = recorder.handle();
    let global = match metrics::set_global_recorder(recorder.clone()) {
        Ok(()) => true,
        Err(_) => {
            tracing::info!(
                "a global metrics recorder is already installed; web_server's series are \
                 still rendered on /metrics, through a recorder of their own"
            );
            false
        }
    };
    for (kind, name, unit, help) in DESCRIPTIONS {
        let help = SharedString::const_str(help);
        match kind {
            Kind::Counter => recorder.describe_counter(name.into(), Some(unit), help),
            Kind::Gauge => recorder.describe_gauge(name.into(), Some(unit), help),
            Kind::Histogram => recorder.describe_histogram(name.into(), Some(unit), help),
        }
    }
    let handles = Handles::register(&*recorder);
    Installed {
        handle,
        recorder,
        global,
        handles,
    }
}

impl Installed {
    /// The restart counter of one supervisor (a registry look-up: restarts are rare).
    pub(crate) fn supervisor_restarts(&self, supervisor: &str) -> Counter {
        supervisor_restarts(&self.recorder, supervisor)
    }
}

fn supervisor_restarts(recorder: &PrometheusRecorder, supervisor: &str) -> Counter {
    let key = Key::from_parts(
        SUPERVISOR_RESTARTS,
        vec![Label::new("supervisor", supervisor.to_owned())],
    );
    recorder.register_counter(&key, &METADATA)
}
