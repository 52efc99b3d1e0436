//! Floods (issue 9, "Abuse"): more connections than `server.max_connections`, and thousands of
//! pipelined requests per connection.
//!
//! * Connection flood: the server admits `max_connections`, the rest wait in the kernel backlog
//!   (back-pressure, never a crash); silent connections are reclaimed by the header timeout;
//!   normal service resumes; memory stays bounded; every connection is closed in the end.
//! * Pipelining flood: 4 connections × 5,000 pipelined GETs, all answered in order, with
//!   bounded memory.
//!
//! The quick connection flood (500 connections, limit 64) runs in `make test`; the full one
//! (5,000 connections against the test profile's limit of 1,024) is `#[ignore]`d:
//! `cargo test --test abuse_flood -- --ignored --nocapture`.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::abuse::{
    assert_no_leaks, idle_baseline, profile_config, read_until_close, require_fds, serial,
};
use support::http::{assert_serves, connect, read_reply, try_send, ReplyReader};
use support::proc::{close_wait, kib, rss_bytes};
use support::temp::TempDir;
use support::{eventually, TestServer, WAIT};
use web_server::http::{Response, Router, StatusCode};
use web_server::server::ServerConfig;

fn router() -> Router {
    let mut router = Router::new();
    router
        .get("/n/:i", |_req, params| {
            Response::text(StatusCode::OK, params.get("i").unwrap().to_owned())
        })
        .unwrap();
    router
}

fn site() -> TempDir {
    support::docroot(&[("a.txt", b"alpha")])
}

// ---------------------------------------------------------------------------------------------
// Connection flood.

/// Opens `count` connections to `addr` from four threads; the ones the kernel completed.
fn open_flood(addr: SocketAddr, count: usize) -> (Vec<TcpStream>, usize) {
    let threads: Vec<_> = (0..4)
        .map(|lane| {
            std::thread::spawn(move || {
                let mut opened = Vec::new();
                let mut failed = 0;
                for _ in (lane..count).step_by(4) {
                    match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
                        Ok(stream) => opened.push(stream),
                        Err(_) => failed += 1,
                    }
                }
                (opened, failed)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(count);
    let mut failed = 0;
    for thread in threads {
        let (opened, lost) = thread.join().unwrap();
        all.extend(opened);
        failed += lost;
    }
    (all, failed)
}

/// Floods a server configured with `config` with `count` silent connections, of which every
/// `silent_every`-th stays open (the others the attacker closes after a while).
fn connection_flood(config: ServerConfig, count: usize, silent_every: usize) -> String {
    let limit = config.max_connections;
    let header_timeout = config.connection.header_timeout;
    let server = TestServer::start(config, router);
    assert_serves(server.addr, "/a.txt", b"alpha");
    let (baseline_fds, baseline_rss) = idle_baseline(&server);

    let began = Instant::now();
    let (flood, refused) = open_flood(server.addr, count);
    let opened_in = began.elapsed();
    eventually("the server reaches its limit", WAIT, || {
        server.active_connections() == limit
    });
    // Never above the limit while the flood waits (a few samples).
    for _ in 0..10 {
        let active = server.active_connections();
        assert!(
            active <= limit,
            "{active} connections admitted, limit {limit}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let flood_rss = rss_bytes(std::process::id());
    let per_connection = flood_rss.saturating_sub(baseline_rss) / count as u64;

    // A normal client arrives now: it waits in the backlog, neither refused nor dropped.
    let queued_at = Instant::now();
    let mut queued = connect(server.addr);
    queued
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();

    // The attacker gives up on most connections; every `silent_every`-th stays, silent.
    let silent: Vec<TcpStream> = flood.into_iter().step_by(silent_every).collect();
    let silent_count = silent.len();

    // Normal service resumes: the queued request is answered, and a new client is served.
    let reply = read_reply(&mut queued, false);
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"alpha"[..]));
    let resumed_after = queued_at.elapsed();
    let fresh = try_send(server.addr, "GET /n/1 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert_eq!((fresh.status, fresh.body.as_slice()), (200, &b"1"[..]));
    drop(queued);

    // All closed eventually: the silent ones by the header timeout, a batch of `limit` at a time.
    for mut stream in silent {
        let received = read_until_close(&mut stream, 2 * WAIT + header_timeout);
        assert!(
            received.closed,
            "a silent flood connection was never closed"
        );
        assert!(
            received.bytes.is_empty(),
            "a silent connection got an answer"
        );
    }
    let all_closed_after = began.elapsed();
    let tree = server.snapshot();
    for node in tree.walk() {
        assert_eq!(
            node.restarts_total, 0,
            "{} restarted during the flood",
            node.id
        );
    }
    assert_no_leaks(&server, baseline_fds);
    assert_eq!(close_wait(server.addr.port()), 0);
    format!(
        "connection flood: {count} connections ({refused} not completed by the kernel) opened in \
         {opened_in:?} against max_connections {limit}: {limit} admitted, never more; resident \
         memory +{} ({} per flood connection); a queued client was answered {resumed_after:?} \
         after arriving; {silent_count} silent ones closed by the {header_timeout:?} header \
         timeout, all closed {all_closed_after:?} after the flood began",
        kib(flood_rss.saturating_sub(baseline_rss)),
        kib(per_connection),
    )
}

#[test]
fn a_connection_flood_is_held_at_max_connections_and_service_resumes() {
    let _serial = serial();
    require_fds(800);
    let root = site();
    let mut config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        max_connections: 64,
        shutdown_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    config.connection.header_timeout = Duration::from_secs(1);
    let summary = connection_flood(config, 500, 4);
    eprintln!("{summary}");
}

#[test]
#[ignore = "long: 5,000 connections against the test profile's max_connections of 1,024 \
            (~30 s, needs `ulimit -n` of at least 8192); run with --ignored"]
fn connection_flood_long_5000_connections() {
    let _serial = serial();
    require_fds(8_192);
    let root = site();
    let mut config = profile_config("test", &root);
    // The kernel's accept queue must hold the flood beyond the limit (somaxconn caps it).
    config.backlog = 4096;
    config.shutdown_timeout = Duration::from_secs(1);
    let summary = connection_flood(config, 5_000, 10);
    eprintln!("{summary}");
}

// ---------------------------------------------------------------------------------------------
// Pipelining flood.

const PIPELINED: usize = 5_000;
const PIPELINES: usize = 4;

/// The request for index `i` and the body its answer must carry: routes mostly, the static file
/// (from the cache) every seventh.
fn nth(i: usize) -> (String, Vec<u8>) {
    match i % 7 {
        0 => (
            "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
            b"alpha".to_vec(),
        ),
        _ => (
            format!("GET /n/{i} HTTP/1.1\r\nHost: t\r\n\r\n"),
            i.to_string().into_bytes(),
        ),
    }
}

#[test]
fn pipelined_floods_are_answered_in_order_with_bounded_memory() {
    let _serial = serial();
    let root = site();
    let mut config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        shutdown_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    config.connection.max_keepalive_requests = 2 * PIPELINED as u64;
    let server = TestServer::start(config, router);
    assert_serves(server.addr, "/a.txt", b"alpha");
    let (baseline_fds, baseline_rss) = idle_baseline(&server);

    let began = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = std::thread::spawn({
        let done = done.clone();
        move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                peak = peak.max(rss_bytes(std::process::id()));
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        }
    });
    let pipelines: Vec<_> = (0..PIPELINES)
        .map(|_| {
            let stream = connect(server.addr);
            let mut writer = stream.try_clone().unwrap();
            std::thread::spawn(move || {
                // All requests go out without waiting for answers, in writes of 100.
                let sender = std::thread::spawn(move || {
                    let mut batch = String::new();
                    for i in 0..PIPELINED {
                        batch.push_str(&nth(i).0);
                        if i % 100 == 99 {
                            writer.write_all(batch.as_bytes()).unwrap();
                            batch.clear();
                        }
                    }
                    writer.write_all(batch.as_bytes()).unwrap();
                });
                let mut reader = ReplyReader::new(stream);
                for i in 0..PIPELINED {
                    let response = reader
                        .next_reply()
                        .unwrap_or_else(|err| panic!("answer {i}: {err}"));
                    assert_eq!(response.status, 200, "answer {i}");
                    assert_eq!(response.body, nth(i).1, "answer {i} out of order");
                    assert_eq!(response.header("connection"), None, "answer {i} closes");
                }
                sender.join().unwrap();
                assert!(reader.leftover().is_empty(), "no extra answer");
            })
        })
        .collect();
    for pipeline in pipelines {
        pipeline.join().expect("a pipeline failed");
    }
    let elapsed = began.elapsed();
    done.store(true, std::sync::atomic::Ordering::Release);
    let peak = sampler.join().unwrap();
    let growth = peak.saturating_sub(baseline_rss);
    assert!(
        growth < 64 * 1024 * 1024,
        "resident memory grew by {} during the pipelining flood",
        kib(growth)
    );
    assert_no_leaks(&server, baseline_fds);
    eprintln!(
        "pipelining flood: {PIPELINES} × {PIPELINED} pipelined GETs answered in order in \
         {elapsed:?} ({:.0} requests/s, debug build); resident memory peak +{}",
        (PIPELINES * PIPELINED) as f64 / elapsed.as_secs_f64(),
        kib(growth)
    );
}
