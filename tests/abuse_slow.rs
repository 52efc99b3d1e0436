//! Slow clients (issue 9, "Abuse"): slowloris heads, slow bodies and readers that never read.
//! Each is bounded by its timeout while a normal client keeps being served quickly.
//!
//! The quick tests (`make test`) scale the numbers down and shorten the timeouts; the
//! `#[ignore]`d ones run the full numbers on the test profile's real defaults:
//! `cargo test --test abuse_slow -- --ignored --nocapture`.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use support::abuse::{
    assert_no_leaks, close_times, content, idle_baseline, profile_config, require_fds, serial,
    trickle, upload_router, NormalClient, Trickled,
};
use support::http::{assert_serves, connect, read_reply, status_codes};
use support::proc::{kib, rss_bytes};
use support::temp::TempDir;
use support::{eventually, TestServer, WAIT};

use web_server::server::ServerConfig;

/// A head that never ends: the trickle sends it one byte at a time.
const ENDLESS_HEAD: &[u8] = b"GET /a.txt HTTP/1.1\r\nHost: t\r\nX-Slowloris: \
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A request declaring a 1 MiB body, which then arrives one byte at a time.
const SLOW_BODY_HEAD: &[u8] =
    b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n";

fn site(extra: &[(&str, &[u8])]) -> TempDir {
    let mut files = vec![("a.txt", &b"alpha"[..])];
    files.extend_from_slice(extra);
    support::docroot(&files)
}

fn quick_config(docroot: &Path) -> ServerConfig {
    ServerConfig {
        docroot: Some(docroot.to_path_buf()),
        workers: 2,
        shutdown_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    }
}

/// Every trickling connection was closed by the server no earlier than `timeout` after its
/// first byte (so the timeout, not something else, closed it) and no later than `timeout +
/// slack`, and none was answered with a 2xx. Returns (earliest, latest, answered 408).
fn check_closed_by_timeout(
    results: &[Trickled],
    timeout: Duration,
    slack: Duration,
) -> (Duration, Duration, usize) {
    let (closed, earliest, latest) = close_times(results);
    assert_eq!(
        closed,
        results.len(),
        "{} of {} slow connections were still open after the test's limit",
        results.len() - closed,
        results.len()
    );
    assert!(
        earliest + Duration::from_millis(20) >= timeout,
        "a slow connection was closed after {earliest:?}, before the {timeout:?} timeout"
    );
    assert!(
        latest <= timeout + slack,
        "a slow connection was closed only after {latest:?} (timeout {timeout:?} + slack {slack:?})"
    );
    let mut answered_408 = 0;
    for result in results {
        let codes = status_codes(&result.received);
        assert!(
            codes.iter().all(|&code| !(200..300).contains(&code)),
            "a slow connection got a success: {:?}",
            String::from_utf8_lossy(&result.received)
        );
        assert!(
            codes.iter().all(|&code| code == 408),
            "a slow connection got {codes:?}"
        );
        answered_408 += codes.len();
    }
    (earliest, latest, answered_408)
}

// ---------------------------------------------------------------------------------------------
// Slowloris: heads trickled one byte at a time.

fn slowloris(
    config: ServerConfig,
    connections: usize,
    interval: Duration,
    slack: Duration,
) -> String {
    let header_timeout = config.connection.header_timeout;
    let server = TestServer::start(config, upload_router);
    let normal = NormalClient::start(server.addr, "/a.txt", b"alpha");
    let limit = header_timeout + slack + WAIT;
    let results = trickle(server.addr, connections, b"", ENDLESS_HEAD, interval, limit);
    let normal = normal.finish_and_check(10);
    let (earliest, latest, answered) = check_closed_by_timeout(&results, header_timeout, slack);
    let most_bytes = results.iter().map(|r| r.trickled).max().unwrap_or(0);
    format!(
        "slowloris: {connections} connections, 1 byte / {interval:?}, header_timeout \
         {header_timeout:?}: all closed {earliest:?}..{latest:?} after their first byte \
         ({answered} answered 408, at most {most_bytes} bytes sent each); normal client: {} \
         requests, p99 {:?}, max {:?}",
        normal.latencies.samples.len(),
        normal.latencies.p99(),
        normal.latencies.max()
    )
}

#[test]
fn slowloris_heads_are_closed_at_the_header_timeout_while_others_are_served() {
    let _serial = serial();
    let root = site(&[]);
    let mut config = quick_config(&root);
    config.connection.header_timeout = Duration::from_secs(1);
    let summary = slowloris(
        config,
        100,
        Duration::from_millis(200),
        Duration::from_secs(1),
    );
    eprintln!("{summary}");
}

#[test]
#[ignore = "long: 500 slowloris connections at 1 byte / 2 s against the test profile's 10 s \
            header timeout (~12 s, 1,000 descriptors); run with --ignored"]
fn slowloris_long_500_connections_one_byte_every_2_s() {
    let _serial = serial();
    require_fds(1_200);
    let root = site(&[]);
    let config = profile_config("test", &root);
    let summary = slowloris(config, 500, Duration::from_secs(2), Duration::from_secs(2));
    eprintln!("{summary}");
}

// ---------------------------------------------------------------------------------------------
// Slow body: a 1 MiB body declared, then trickled.

fn slow_body(
    config: ServerConfig,
    connections: usize,
    interval: Duration,
    slack: Duration,
) -> String {
    let body_timeout = config.connection.body_timeout;
    let server = TestServer::start(config, upload_router);
    let normal = NormalClient::start(server.addr, "/a.txt", b"alpha");
    let results = trickle(
        server.addr,
        connections,
        SLOW_BODY_HEAD,
        b"x",
        interval,
        body_timeout + slack + WAIT,
    );
    let normal = normal.finish_and_check(10);
    let (earliest, latest, answered) = check_closed_by_timeout(&results, body_timeout, slack);
    format!(
        "slow body: {connections} connections declaring 1 MiB, 1 byte / {interval:?}, \
         body_timeout {body_timeout:?}: all closed {earliest:?}..{latest:?} after their head \
         ({answered} answered 408); normal client: {} requests, p99 {:?}",
        normal.latencies.samples.len(),
        normal.latencies.p99(),
    )
}

#[test]
fn slow_bodies_are_answered_408_within_the_body_timeout() {
    let _serial = serial();
    let root = site(&[]);
    let mut config = quick_config(&root);
    config.connection.body_timeout = Duration::from_secs(1);
    let summary = slow_body(
        config,
        50,
        Duration::from_millis(200),
        Duration::from_secs(1),
    );
    eprintln!("{summary}");
}

#[test]
#[ignore = "long: 200 slow bodies at 1 byte / 2 s against the test profile's 30 s body \
            timeout (~32 s); run with --ignored"]
fn slow_body_long_200_connections_one_byte_every_2_s() {
    let _serial = serial();
    require_fds(600);
    let root = site(&[]);
    let config = profile_config("test", &root);
    let summary = slow_body(config, 200, Duration::from_secs(2), Duration::from_secs(3));
    eprintln!("{summary}");
}

// ---------------------------------------------------------------------------------------------
// Slow bodies toward answers decided by the head: a POST to a static file is 405 whatever its
// body, so the body is not waited for (issue 16).

/// `connections` slow bodies toward a static file, from one address, against a body timeout far
/// longer than the test: each is answered 405 at once and closed, and others are served.
fn slow_bodies_toward_decided_answers(config: ServerConfig, connections: usize) -> String {
    let server = TestServer::start(config, upload_router);
    let normal = NormalClient::start(server.addr, "/a.txt", b"alpha");
    let began = std::time::Instant::now();
    let results = trickle(
        server.addr,
        connections,
        // Under every profile's limits.max_body_bytes: the answer is 405, not 413.
        b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 60000\r\nExpect: 100-continue\r\n\r\n",
        b"x",
        Duration::from_millis(500),
        WAIT,
    );
    let all_closed_after = began.elapsed();
    // The attack ends as fast as the server answers it: a few normal requests are enough.
    let normal = normal.finish_and_check(1);
    for (i, result) in results.iter().enumerate() {
        let text = String::from_utf8_lossy(&result.received);
        assert!(
            text.starts_with("HTTP/1.1 405 "),
            "connection {i}: answered at once with 405, no 100 Continue: {text:?}"
        );
        assert!(result.closed_after.is_some(), "connection {i} was closed");
    }
    format!(
        "slow bodies toward a static file: {connections} connections from one address, each \
         declaring 60,000 bytes: all answered 405 and closed within {all_closed_after:?} (body timeout \
         600 s); normal client: {} requests, p99 {:?}",
        normal.latencies.samples.len(),
        normal.latencies.p99(),
    )
}

#[test]
fn slow_bodies_toward_a_decided_answer_are_answered_at_once_and_closed() {
    let _serial = serial();
    let root = site(&[]);
    let mut config = quick_config(&root);
    config.connection.body_timeout = Duration::from_secs(600);
    let summary = slow_bodies_toward_decided_answers(config, 100);
    eprintln!("{summary}");
}

#[test]
#[ignore = "long: 1,100 slow bodies toward a static file from one address, more than the \
            release profile's max_connections; run with --ignored"]
fn slow_bodies_long_1100_toward_a_static_file_lock_no_one_out() {
    let _serial = serial();
    require_fds(3_000);
    let root = site(&[]);
    let mut config = profile_config("prod", &root);
    config.connection.body_timeout = Duration::from_secs(600);
    let summary = slow_bodies_toward_decided_answers(config, 1_100);
    eprintln!("{summary}");
}

// ---------------------------------------------------------------------------------------------
// Slow readers: a large file requested, never read.

fn slow_readers(config: ServerConfig, connections: usize, file_len: usize) -> String {
    let send_timeout = config.connection.send_timeout;
    let server = TestServer::start(config, upload_router);
    // Warm up what the first requests set up once (blocking pool, cache, date), so the
    // baseline holds it.
    assert_serves(server.addr, "/a.txt", b"alpha");
    let mut ranged = connect(server.addr);
    ranged
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-99\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut ranged, false).status, 206);
    drop(ranged);
    let (baseline_fds, baseline_rss) = idle_baseline(&server);

    let normal = NormalClient::start(server.addr, "/a.txt", b"alpha");
    let began = Instant::now();
    let stalled: Vec<TcpStream> = (0..connections)
        .map(|_| {
            let mut stream = connect(server.addr);
            stream
                .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            stream
        })
        .collect();
    // Sample resident memory while they are held; they are gone when at most the normal
    // client's connection remains.
    let mut peak = baseline_rss;
    let mut most_held = 0;
    eventually(
        "the slow readers are dropped",
        send_timeout + 2 * WAIT,
        || {
            peak = peak.max(rss_bytes(std::process::id()));
            let active = server.active_connections();
            most_held = most_held.max(active);
            most_held >= connections && active <= 1
        },
    );
    let dropped_after = began.elapsed();
    let normal = normal.finish_and_check(10);
    let per_connection = peak.saturating_sub(baseline_rss) / connections as u64;
    assert!(
        dropped_after >= send_timeout,
        "the slow readers were dropped after {dropped_after:?}, before the {send_timeout:?} \
         send timeout"
    );
    assert!(
        per_connection < 1024 * 1024,
        "a slow reader cost {} of resident memory (file {file_len} bytes)",
        kib(per_connection)
    );
    drop(stalled);
    assert_no_leaks(&server, baseline_fds);
    drop(server);
    format!(
        "slow readers: {connections} × GET of a {} MiB file, never read, send_timeout \
         {send_timeout:?}: all dropped {dropped_after:?} after the requests; resident memory \
         peak +{} ({} per connection); normal client: {} requests, p99 {:?}",
        file_len >> 20,
        kib(peak.saturating_sub(baseline_rss)),
        kib(per_connection),
        normal.latencies.samples.len(),
        normal.latencies.p99(),
    )
}

#[test]
fn slow_readers_cost_bounded_memory_and_are_dropped_after_the_send_timeout() {
    let _serial = serial();
    const LEN: usize = 32 * 1024 * 1024;
    let root = site(&[("big.bin", &content(LEN, 7))]);
    let mut config = quick_config(&root);
    config.connection.send_timeout = Duration::from_secs(1);
    let summary = slow_readers(config, 20, LEN);
    eprintln!("{summary}");
}

#[test]
#[ignore = "long: 50 readers of a 64 MiB file that never read, against the test profile's \
            30 s send timeout (~35 s); run with --ignored"]
fn slow_readers_long_50_connections_64_mib() {
    let _serial = serial();
    require_fds(300);
    const LEN: usize = 64 * 1024 * 1024;
    let root = site(&[("big.bin", &content(LEN, 7))]);
    let config = profile_config("test", &root);
    let summary = slow_readers(config, 50, LEN);
    eprintln!("{summary}");
}
