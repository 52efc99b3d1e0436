//! `/metrics` over real sockets, parsed by a real Prometheus text parser (`prometheus-parse`):
//! every series is there with HELP and TYPE, the counts add up to the traffic sent, and killing
//! `web_server_metrics` while a client keeps requesting loses no request and no count.
//!
//! The recorder is process-wide, so the tests of this file take turns (`SERIAL`) and compare
//! scrapes before and after their traffic. Traffic goes to the public listener as HEAD
//! requests, 404s and an unknown method, so that the scrapes (GETs answered 200 on the admin
//! endpoint) never fall in the pairs being counted.

mod support;

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};
use support::http::exchange;
use support::{docroot, TestServer, WAIT};
use web_server::http::Router;
use web_server::metrics::{LATENCY_BUCKETS, METRICS_ID, METRICS_SUP_ID};
use web_server::server::ServerConfig;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const BODY: &[u8] = b"alpha";

/// A server with the admin endpoint, serving `a.txt`.
fn start() -> TestServer {
    let root = docroot(&[("a.txt", BODY)]);
    let config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        admin: Some(support::admin_on_loopback(None, true)),
        ..ServerConfig::default()
    };
    TestServer::start(config, Router::new).keeping(root)
}

/// Scrapes over one kept-alive admin connection, so the scraper is a single, steady connection.
struct Scraper {
    conn: TcpStream,
}

impl Scraper {
    fn new(server: &TestServer) -> Scraper {
        Scraper {
            conn: server.connect_admin(),
        }
    }

    fn text(&mut self) -> String {
        let reply = exchange(
            &mut self.conn,
            "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
        );
        assert_eq!(reply.status, 200);
        assert!(reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain"));
        String::from_utf8(reply.body).unwrap()
    }

    fn scrape(&mut self) -> Scrape {
        let text = self.text();
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the exposition parses")
    }

    /// Scrapes until `done` holds for a scrape (each wait bounded), and returns that scrape.
    fn until(&mut self, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
        let began = Instant::now();
        loop {
            let scrape = self.scrape();
            if done(&scrape) {
                return scrape;
            }
            assert!(began.elapsed() < WAIT, "{what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
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

fn requests(scrape: &Scrape, method: &str, class: &str) -> f64 {
    value(
        scrape,
        "web_server_requests_total",
        &[("method", method), ("status_class", class)],
    )
}

const EVERY_SERIES: [(&str, &str); 20] = [
    ("web_server_connections_active", "gauge"),
    ("web_server_connections_accepted_total", "counter"),
    ("web_server_connections_closed_total", "counter"),
    ("web_server_connections_reclaimed_total", "counter"),
    ("web_server_client_connections_refused_total", "counter"),
    ("web_server_client_requests_limited_total", "counter"),
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
    ("web_server_build_info", "gauge"),
];

/// The Prometheus client libraries' standard process series, read from `/proc` on Linux.
const PROCESS_SERIES: [(&str, &str); 6] = [
    ("process_cpu_seconds_total", "counter"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
    ("process_virtual_memory_bytes", "gauge"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_start_time_seconds", "gauge"),
];

#[test]
fn metrics_has_every_series_and_counts_the_traffic() {
    let _turn = serial();
    let server = start();
    let mut scraper = Scraper::new(&server);
    let before = scraper.scrape();

    let mut conn = server.connect();
    for _ in 0..5 {
        let reply = exchange(&mut conn, "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(reply.status, 200);
    }
    for _ in 0..2 {
        let reply = exchange(&mut conn, "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(reply.status, 404);
    }
    let mut other = server.connect();
    let reply = exchange(&mut other, "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(reply.status, 501);
    drop((conn, other));

    // The server records a request once its answer is written, which the client may see first.
    let after = scraper.until("the traffic is counted", |s| {
        requests(s, "HEAD", "2xx") >= requests(&before, "HEAD", "2xx") + 5.0
            && requests(s, "GET", "4xx") >= requests(&before, "GET", "4xx") + 2.0
            && requests(s, "other", "5xx") >= requests(&before, "other", "5xx") + 1.0
    });
    assert_eq!(
        requests(&after, "HEAD", "2xx") - requests(&before, "HEAD", "2xx"),
        5.0
    );
    assert_eq!(
        requests(&after, "GET", "4xx") - requests(&before, "GET", "4xx"),
        2.0
    );
    assert_eq!(
        requests(&after, "other", "5xx") - requests(&before, "other", "5xx"),
        1.0
    );
    let bytes = |s: &Scrape| value(s, "web_server_response_bytes_total", &[]);
    assert!(bytes(&after) - bytes(&before) > 8.0 * "HTTP/1.1 200 OK\r\n".len() as f64);
    let accepted = |s: &Scrape| value(s, "web_server_connections_accepted_total", &[]);
    assert!(accepted(&after) - accepted(&before) >= 2.0);

    // Every series, with HELP and TYPE, as text and as the parser saw it.
    let text = scraper.text();
    assert_eq!(
        value(
            &after,
            "web_server_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    let process_series = if cfg!(target_os = "linux") {
        &PROCESS_SERIES[..]
    } else {
        &[]
    };
    for &(name, kind) in EVERY_SERIES.iter().chain(process_series) {
        assert!(
            text.contains(&format!("\n# TYPE {name} {kind}\n")),
            "TYPE of {name}"
        );
        assert!(
            text.contains(&format!("\n# HELP {name} "))
                || text.starts_with(&format!("# HELP {name} ")),
            "HELP of {name}"
        );
        assert!(after.docs.contains_key(name), "parsed HELP of {name}");
        assert!(
            after.samples.iter().any(|s| s.metric == name),
            "samples of {name}"
        );
    }
    let Value::Histogram(buckets) = &after
        .samples
        .iter()
        .find(|s| s.metric == "web_server_request_duration_seconds")
        .unwrap()
        .value
    else {
        panic!("a histogram");
    };
    let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
    assert_eq!(bounds.first(), Some(&5e-5));
    assert_eq!(bounds[bounds.len() - 2..], [10.0, f64::INFINITY]);
    assert_eq!(bounds[..bounds.len() - 1], LATENCY_BUCKETS);
    assert!(buckets.last().unwrap().count >= 8.0);

    // The sampled gauges, once the actor has had a second or two.
    scraper.until("the sampled gauges are set", |s| {
        value(s, "web_server_requests_per_second", &[]) > 0.0
            && value(s, "web_server_resident_memory_bytes", &[]) > 1_000_000.0
    });
    // With only the scraper connected, accepted − closed = active = 1, once the closes are
    // processed and sampled.
    scraper.until("open connections add up", |s| {
        let open = accepted(s) - value(s, "web_server_connections_closed_total", &[]);
        let active = value(s, "web_server_connections_active", &[]);
        open == 1.0 && active == 1.0
    });
}

#[test]
fn killing_web_server_metrics_loses_no_request_and_no_count() {
    let _turn = serial();
    let server = start();
    let mut scraper = Scraper::new(&server);
    let before = scraper.scrape();
    let restarts = |s: &Scrape| {
        value(
            s,
            "web_server_supervisor_restarts_total",
            &[("supervisor", METRICS_SUP_ID)],
        )
    };

    // A client keeps requesting throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = {
        let (stop, sent) = (stop.clone(), sent.clone());
        let mut conn = server.connect();
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let reply = exchange(&mut conn, "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
                statuses.push(reply.status);
                sent.fetch_add(1, Ordering::Relaxed);
            }
            statuses
        })
    };
    let wait_for = |n: usize| {
        let began = Instant::now();
        while sent.load(Ordering::Relaxed) < n {
            assert!(began.elapsed() < WAIT, "the client gets answers");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for(20);
    let mut admin = server.connect_admin();
    let killed = exchange(
        &mut admin,
        &format!(
            "POST /admin/actors/{METRICS_ID}/kill HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    assert_eq!(
        killed.status,
        200,
        "{}",
        String::from_utf8_lossy(&killed.body)
    );
    let began = Instant::now();
    loop {
        let node = server.snapshot();
        let node = node.find(METRICS_ID).unwrap();
        if node.restarts_total == 1 && node.status == web_server::supervision::ChildStatus::Running
        {
            break;
        }
        assert!(began.elapsed() < WAIT, "web_server_metrics comes back");
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_for(sent.load(Ordering::Relaxed) + 20);
    stop.store(true, Ordering::Relaxed);
    let statuses = client.join().unwrap();
    assert!(
        statuses.iter().all(|&s| s == 200),
        "every request succeeded"
    );
    let answered = statuses.len() as f64;

    let after = scraper.until("every request is counted", |s| {
        requests(s, "HEAD", "2xx") - requests(&before, "HEAD", "2xx") >= answered
    });
    assert_eq!(
        requests(&after, "HEAD", "2xx") - requests(&before, "HEAD", "2xx"),
        answered,
        "counts made before, during and after the restart are all there"
    );
    assert_eq!(restarts(&after) - restarts(&before), 1.0);
    assert_eq!(
        server.snapshot().find(METRICS_ID).unwrap().restarts_total,
        1,
        "the tree shows one restart"
    );
    // The restarted actor samples again: its fresh window gives a rate after two samples.
    scraper.until("the restarted actor samples the rate", |s| {
        value(s, "web_server_requests_per_second", &[]) > 0.0
    });
}

/// `promtool`, Prometheus' own checker, when installed (Debian's `prometheus` package).
fn promtool() -> Option<std::path::PathBuf> {
    let found = std::process::Command::new("which")
        .arg("promtool")
        .output()
        .ok()?;
    found
        .status
        .success()
        .then(|| String::from_utf8_lossy(&found.stdout).trim().into())
}

#[test]
fn promtool_finds_nothing_to_lint_in_metrics() {
    let Some(promtool) = promtool() else {
        eprintln!(
            "SKIPPED promtool_finds_nothing_to_lint_in_metrics: no promtool on this machine \
             (install Debian's `prometheus` package; .ci/run does)"
        );
        return;
    };
    let _serial = serial();
    let server = start();
    // Every kind of series present: requests, a cache hit and a restart.
    support::http::get(server.addr, "/a.txt");
    support::http::get(server.addr, "/a.txt");
    assert!(server.kill(METRICS_ID));
    let text = Scraper::new(&server).text();
    let mut check = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let checked = check.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&checked.stdout).into_owned()
        + &String::from_utf8_lossy(&checked.stderr);
    assert!(
        checked.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\n{text}"
    );
}
