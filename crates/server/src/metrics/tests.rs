//! The recorder is process-wide and these tests run in parallel, so each test records into
//! label pairs no other test uses, or compares before and after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use web_server_supervision::{Strategy, SupervisorFlags, SupervisorRef, SupervisorSpec};

use super::sup::child_spec;
use super::*;

/// A fixed number of live connections, standing in for a listener's gate.
struct FixedCount(usize);

impl ConnectionCount for FixedCount {
    fn active(&self) -> usize {
        self.0
    }
}

fn connections(count: usize) -> Arc<dyn ConnectionCount> {
    Arc::new(FixedCount(count))
}

fn scrape() -> Scrape {
    let text = render();
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the exposition parses")
}

/// The value of a counter or gauge sample, 0 when absent.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map_or(0.0, |s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{name} is not a single value"),
        })
}

/// Waits (up to 10 s, polling) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(began.elapsed() < Duration::from_secs(10), "{what}");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

const EVERY_SERIES: [(&str, &str); 19] = [
    ("web_server_connections_active", "gauge"),
    ("web_server_connections_accepted_total", "counter"),
    ("web_server_connections_closed_total", "counter"),
    ("web_server_connections_reclaimed_total", "counter"),
    ("web_server_requests_total", "counter"),
    ("web_server_requests_per_second", "gauge"),
    ("web_server_request_duration_seconds", "histogram"),
    ("web_server_response_bytes_total", "counter"),
    ("web_server_resident_memory_bytes", "gauge"),
    ("web_server_cache_hits_total", "counter"),
    ("web_server_cache_misses_total", "counter"),
    ("web_server_cache_evictions_total", "counter"),
    ("web_server_cache_entries", "gauge"),
    ("web_server_cache_bytes", "gauge"),
    ("web_server_supervisor_restarts_total", "counter"),
    ("web_server_tls_handshakes_total", "counter"),
    ("web_server_tls_handshake_failures_total", "counter"),
    ("web_server_client_connections_refused_total", "counter"),
    ("web_server_client_requests_limited_total", "counter"),
];

#[test]
fn every_series_is_rendered_with_help_and_type() {
    request_done(Some(Method::Get), 200, Duration::from_millis(2), 100);
    connection_opened();
    connection_closed();
    connection_reclaimed();
    client_connection_refused();
    client_request_limited();
    cache_hit();
    cache_miss();
    cache_eviction();
    tls_handshake(true);
    tls_handshake(false);
    supervisor_restart("every_series_sup");
    let text = render();
    for (name, kind) in EVERY_SERIES {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "TYPE of {name} in\n{text}"
        );
        let help = format!("# HELP {name} ");
        assert!(text.contains(&help), "HELP of {name}");
    }
    assert!(
        text.contains(r#"web_server_supervisor_restarts_total{supervisor="every_series_sup"} 1"#)
    );
    let parsed = scrape();
    for (name, _) in EVERY_SERIES {
        assert!(
            parsed.docs.contains_key(name),
            "the parser saw HELP for {name}"
        );
        assert!(
            parsed.samples.iter().any(|s| s.metric == name),
            "the parser saw samples of {name}"
        );
    }
}

#[test]
fn every_method_and_status_class_pair_is_there_from_the_start() {
    let parsed = scrape();
    for method in METHOD_LABELS {
        for class in STATUS_CLASSES {
            assert!(
                parsed
                    .samples
                    .iter()
                    .any(|s| s.metric == "web_server_requests_total"
                        && s.labels.get("method") == Some(method)
                        && s.labels.get("status_class") == Some(class)),
                "{method} {class}"
            );
        }
    }
}

#[test]
fn the_latency_histogram_has_buckets_from_50_microseconds_to_10_seconds() {
    request_done(Some(Method::Head), 204, Duration::from_micros(30), 0);
    let parsed = scrape();
    let Value::Histogram(buckets) = &parsed
        .samples
        .iter()
        .find(|s| s.metric == "web_server_request_duration_seconds")
        .expect("the histogram is rendered")
        .value
    else {
        panic!("a histogram");
    };
    let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
    let mut expected = LATENCY_BUCKETS.to_vec();
    expected.push(f64::INFINITY);
    assert_eq!(bounds, expected);
    assert_eq!(bounds[0], 5e-5);
    assert!(
        buckets[0].count >= 1.0,
        "the 30 µs request is in the first bucket"
    );
    assert!(
        buckets.windows(2).all(|w| w[0].count <= w[1].count),
        "buckets are cumulative"
    );
}

#[test]
fn request_done_from_many_threads_adds_up() {
    // Pairs only this test records.
    let mix = [
        (Some(Method::Options), 101u16),
        (Some(Method::Delete), 302),
        (Some(Method::Connect), 307),
        (None, 199),
    ];
    let labels = |(method, status): (Option<Method>, u16)| {
        let method = method.map_or("other", Method::as_str);
        let class = STATUS_CLASSES[usize::from(status / 100 - 1)];
        (method, class)
    };
    let before = scrape();
    let count_before: Vec<f64> = mix
        .iter()
        .map(|&pair| {
            let (m, c) = labels(pair);
            value(
                &before,
                "web_server_requests_total",
                &[("method", m), ("status_class", c)],
            )
        })
        .collect();
    let bytes_before = value(&before, "web_server_response_bytes_total", &[]);
    let answered_before = RequestMetrics::get().answered();
    const THREADS: usize = 4;
    const PER_THREAD: usize = 2_500;
    let bytes_sent = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let bytes_sent = &bytes_sent;
            scope.spawn(move || {
                let request = RequestMetrics::get();
                for i in 0..PER_THREAD {
                    let (method, status) = mix[(t + i) % mix.len()];
                    let bytes = (i % 7) as u64;
                    if i % 2 == 0 {
                        request_done(method, status, Duration::from_micros(i as u64), bytes);
                    } else {
                        request.record(method, status, Duration::from_micros(i as u64), bytes);
                    }
                    bytes_sent.fetch_add(bytes, Ordering::Relaxed);
                }
            });
        }
    });
    let after = scrape();
    let total = (THREADS * PER_THREAD) as f64;
    for (i, &pair) in mix.iter().enumerate() {
        let (m, c) = labels(pair);
        let now = value(
            &after,
            "web_server_requests_total",
            &[("method", m), ("status_class", c)],
        );
        assert_eq!(now - count_before[i], total / mix.len() as f64, "{m} {c}");
    }
    // Other tests record too: the shared totals grew by at least this test's share.
    let bytes = value(&after, "web_server_response_bytes_total", &[]) - bytes_before;
    assert!(bytes >= bytes_sent.load(Ordering::Relaxed) as f64);
    assert!(RequestMetrics::get().answered() - answered_before >= total as u64);
}

#[test]
fn supervisor_restarts_are_counted_per_supervisor_through_the_observer() {
    let registered = ["registered_test_sup", "registered_test_sup/0"];
    count_restarts_from_zero(&registered);
    let seed = scrape();
    for supervisor in registered {
        assert!(
            seed.samples
                .iter()
                .any(|s| s.metric == "web_server_supervisor_restarts_total"
                    && s.labels.get("supervisor") == Some(supervisor)),
            "{supervisor} is registered before its first restart"
        );
    }
    actix::System::new().block_on(async {
        let spec = SupervisorSpec::new(
            "observed_test_sup",
            SupervisorFlags::new(Strategy::OneForOne).intensity(5, Duration::from_secs(10)),
        )
        .child(child_spec(connections(4), None));
        let root = SupervisorRef::start(spec).await.unwrap();
        root.kill_child(METRICS_ID).await.unwrap();
        root.kill_child(METRICS_SUP_ID).await.unwrap();
        eventually("the supervisor's restart is counted", || {
            let own = [("supervisor", "observed_test_sup")];
            value(&scrape(), "web_server_supervisor_restarts_total", &own) == 1.0
        })
        .await;
        let parsed = scrape();
        assert!(
            value(
                &parsed,
                "web_server_supervisor_restarts_total",
                &[("supervisor", METRICS_SUP_ID)]
            ) >= 1.0
        );
        root.shutdown().await;
    });
}

#[test]
fn the_actor_samples_gauges_and_a_restart_keeps_the_counters() {
    actix::System::new().block_on(async {
        let cache: CacheStatsSource = Arc::new(|| CacheStatsSnapshot {
            entries: 7,
            bytes: 12_345,
        });
        let spec = SupervisorSpec::new(
            "sampling_test_sup",
            SupervisorFlags::new(Strategy::OneForOne).intensity(5, Duration::from_secs(10)),
        )
        .child(child_spec(connections(3), Some(cache)));
        let root = SupervisorRef::start(spec).await.unwrap();
        // The actor samples as it starts, then every second.
        eventually("the gauges are sampled", || {
            let parsed = scrape();
            value(&parsed, "web_server_connections_active", &[]) >= 3.0
                && value(&parsed, "web_server_cache_entries", &[]) >= 7.0
                && value(&parsed, "web_server_cache_bytes", &[]) >= 12_345.0
                && value(&parsed, "web_server_resident_memory_bytes", &[]) > 0.0
        })
        .await;

        // Pairs only this test records.
        for _ in 0..5 {
            request_done(Some(Method::Trace), 404, Duration::from_millis(1), 10);
        }
        let pair = [("method", "TRACE"), ("status_class", "4xx")];
        assert_eq!(value(&scrape(), "web_server_requests_total", &pair), 5.0);
        root.kill_child(METRICS_ID).await.unwrap();
        // Recording goes on while the actor is down or restarting.
        request_done(Some(Method::Trace), 404, Duration::from_millis(1), 10);
        let began = Instant::now();
        while root
            .snapshot(false)
            .await
            .find(METRICS_ID)
            .unwrap()
            .restarts_total
            != 1
        {
            assert!(began.elapsed() < Duration::from_secs(10), "restarted");
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        eventually("the restarted actor samples again", || {
            value(&scrape(), "web_server_cache_entries", &[]) >= 7.0
        })
        .await;
        request_done(Some(Method::Trace), 404, Duration::from_millis(1), 10);
        assert_eq!(
            value(&scrape(), "web_server_requests_total", &pair),
            7.0,
            "the recorder outlives the actor"
        );
        root.shutdown().await;
    });
}

#[test]
fn a_stopped_servers_sources_drop_out() {
    let cache: CacheStatsSource = Arc::new(|| CacheStatsSnapshot {
        entries: 1_000_000,
        bytes: 1,
    });
    let spec = child_spec(connections(1), Some(cache.clone()));
    let registered = || {
        SOURCES
            .lock()
            .unwrap()
            .caches
            .iter()
            .any(|c| c.upgrade().is_some_and(|c| c().entries == 1_000_000))
    };
    assert!(registered());
    assert!(sample_sources().1.entries >= 1_000_000);
    // The tree's spec and the caller's handle were the only strong references.
    drop((spec, cache));
    assert!(!registered());
    sample_sources();
    assert!(SOURCES
        .lock()
        .unwrap()
        .caches
        .iter()
        .all(|c| c.strong_count() > 0));
}

#[test]
fn tls_failures_count_in_both_series() {
    let before = scrape();
    tls_handshake(false);
    let after = scrape();
    let delta = |name| value(&after, name, &[]) - value(&before, name, &[]);
    assert!(delta("web_server_tls_handshakes_total") >= 1.0);
    assert!(delta("web_server_tls_handshake_failures_total") >= 1.0);
}

#[test]
fn installing_twice_reuses_the_recorder() {
    let first = recorder::installed() as *const _;
    let from_another_thread = std::thread::spawn(|| recorder::installed() as *const _ as usize)
        .join()
        .unwrap();
    assert_eq!(first as usize, from_another_thread);
    // Nothing else installs a global recorder in this test binary, so ours is it.
    assert!(recorder_is_global());
}
