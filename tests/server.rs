//! The server over real sockets: keep-alive, pipelining, HTTP/1.0, timeouts, back-pressure,
//! panicking routes, and the shape of the supervision tree.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::http::{closed_by_server, exchange, parse_whole, read_head, read_reply};
use support::proc::rss_bytes;
use support::temp::TempDir;
use support::{docroot, eventually, TestServer, WAIT};
use web_server::http::{Response, Router, StatusCode};
use web_server::server::ServerConfig;

/// A configuration serving `files`, and the directory holding them (keep it while serving).
fn config_with_docroot(files: &[(&str, &[u8])]) -> (ServerConfig, TempDir) {
    let root = docroot(files);
    let config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        ..ServerConfig::default()
    };
    (config, root)
}

fn site() -> (ServerConfig, TempDir) {
    config_with_docroot(&[("index.html", b"<h1>hello</h1>"), ("a.txt", b"alpha")])
}

/// A server on `site`'s configuration with [`router`], keeping its directory.
fn start((config, root): (ServerConfig, TempDir)) -> TestServer {
    TestServer::start(config, router).keeping(root)
}

fn router() -> Router {
    let mut router = Router::new();
    router
        .get("/hello/:name", |_req, params| {
            Response::text(
                StatusCode::OK,
                format!("hello {}\n", params.get("name").unwrap()),
            )
        })
        .unwrap();
    router
        .get("/panic", |_req, _params| panic!("handler exploded"))
        .unwrap();
    router
        .post("/echo", |req, _params| {
            Response::text(
                StatusCode::OK,
                String::from_utf8_lossy(req.body()).into_owned(),
            )
        })
        .unwrap();
    router
}

#[test]
fn serves_static_files_and_routes() {
    let server = start(site());
    let mut conn = server.connect();
    let index = exchange(&mut conn, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(index.status, 200);
    assert_eq!(index.body, b"<h1>hello</h1>");
    assert!(index
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let routed = exchange(&mut conn, "GET /hello/ada HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (routed.status, routed.body.as_slice()),
        (200, &b"hello ada\n"[..])
    );
    let missing = exchange(&mut conn, "GET /nope.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(missing.status, 404);
}

#[test]
fn rfc9112_9_3_keep_alive_reuses_the_connection() {
    let server = start(site());
    let mut conn = server.connect();
    for _ in 0..5 {
        let reply = exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(reply.body, b"alpha");
        assert_eq!(reply.header("connection"), None);
    }
}

#[test]
fn rfc9112_9_3_2_pipelined_responses_come_in_request_order() {
    let server = start(site());
    let mut conn = server.connect();
    let mut batch = String::new();
    for name in ["one", "two", "three", "four"] {
        batch.push_str(&format!("GET /hello/{name} HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    conn.write_all(batch.as_bytes()).unwrap();
    for name in ["one", "two", "three", "four"] {
        let reply = read_reply(&mut conn, false);
        assert_eq!(reply.body, format!("hello {name}\n").as_bytes());
    }
}

#[test]
fn rfc9112_9_3_http_1_0_closes_by_default() {
    let server = start(site());
    let mut conn = server.connect();
    let reply = exchange(&mut conn, "GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(reply.status, 200);
    assert!(closed_by_server(&mut conn));
}

/// A client that sends `Connection: close` gets the answer and then FIN, not a reset, whether
/// the server closes at once (nothing more sent) or lingers (bytes came after the request).
#[test]
fn rfc9112_9_6_a_client_close_is_answered_and_closed_at_once() {
    let server = start(site());
    let mut conn = server.connect();
    let reply = exchange(
        &mut conn,
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        (reply.status, reply.header("connection")),
        (200, Some("close"))
    );
    assert_eq!(reply.body, b"alpha");
    assert!(closed_by_server(&mut conn), "FIN after the answer");

    let mut pipelined = server.connect();
    pipelined
        .write_all(
            b"GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        )
        .unwrap();
    let reply = read_reply(&mut pipelined, false);
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"alpha"[..]));
    assert!(
        closed_by_server(&mut pipelined),
        "the request after the close is not answered, and the close is clean"
    );
}

#[test]
fn rfc9110_9_3_2_head_has_get_headers_and_no_body() {
    let server = start(site());
    let mut conn = server.connect();
    let head = exchange(&mut conn, "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(head.header("content-length"), Some("5"));
    assert!(head.body.is_empty());
    let get = exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(get.body, b"alpha", "the HEAD answer carried no stray body");
}

#[test]
fn rfc9110_10_1_1_expect_continue_gets_100_before_the_body() {
    let server = start(site());
    let mut conn = server.connect();
    conn.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let interim = read_reply(&mut conn, true);
    assert_eq!(interim.status, 100);
    conn.write_all(b"hello").unwrap();
    let reply = read_reply(&mut conn, false);
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"hello"[..]));
}

/// A config whose body timeout is far beyond any wait of a test: an answer that came quickly
/// did not wait for the body.
fn patient_site() -> (ServerConfig, TempDir) {
    let (mut config, root) = site();
    config.connection.body_timeout = Duration::from_secs(600);
    (config, root)
}

#[test]
fn rfc9110_10_1_1_a_decided_answer_is_sent_at_once_without_100_continue_and_closes() {
    let server = start(patient_site());
    // A static file and a GET-only route: both answer POST with 405 before any content.
    for target in ["/a.txt", "/hello/x"] {
        let mut conn = server.connect();
        conn.write_all(
            format!(
                "POST {target} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let reply = read_reply(&mut conn, false);
        assert_eq!(reply.status, 405, "{target}: no 100 Continue first");
        assert_eq!(reply.header("connection"), Some("close"), "{target}");
        assert!(
            closed_by_server(&mut conn),
            "{target}: the unread body is not waited for"
        );
    }
}

#[test]
fn a_slow_body_toward_a_405_does_not_hold_the_connection() {
    let server = start(patient_site());
    let mut conn = server.connect();
    // 1,000 bytes promised, 10 sent: the answer does not depend on them.
    conn.write_all(b"POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789")
        .unwrap();
    let reply = read_reply(&mut conn, false);
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert!(closed_by_server(&mut conn));
    eventually("the connection is gone", WAIT, || {
        server.active_connections() == 0
    });
}

#[test]
fn rfc9112_3_2_an_invalid_host_is_400_and_the_connection_closes() {
    let server = start(site());
    for head in [
        "GET /a.txt HTTP/1.1\r\n\r\n",
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n",
        "GET /a.txt HTTP/1.1\r\nHost: a b\r\n\r\n",
    ] {
        let mut conn = server.connect();
        // A second, valid request follows on the same connection: it must not be answered.
        conn.write_all(format!("{head}GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        let reply = read_reply(&mut conn, false);
        assert_eq!(reply.status, 400, "{head:?}");
        assert_eq!(reply.header("connection"), Some("close"), "{head:?}");
        assert!(
            closed_by_server(&mut conn),
            "{head:?}: nothing after an invalid head is read"
        );
    }
}

#[test]
fn rfc9112_3_2_2_absolute_form_without_a_path_is_the_root() {
    let server = start(site());
    let mut conn = server.connect();
    let reply = exchange(&mut conn, "GET http://t HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, &b"<h1>hello</h1>"[..])
    );
    let reply = exchange(&mut conn, "GET http://t?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(reply.status, 200);
}

#[test]
fn rfc9112_7_1_1_quoted_chunk_extensions_are_parsed() {
    let server = start(site());
    let mut conn = server.connect();
    let reply = exchange(
        &mut conn,
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
         1;name=\"a;b=c\"\r\nx\r\n2;q=\"\\\"=;\";flag\r\nyz\r\n0\r\n\r\n",
    );
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"xyz"[..]));
}

#[test]
fn rfc3986_5_2_4_dot_segments_above_the_root_are_400() {
    let server = start(site());
    for path in ["/..", "/a/../..", "/%2e%2e/a.txt", "/./../a.txt"] {
        let mut conn = server.connect();
        let reply = exchange(
            &mut conn,
            &format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"),
        );
        assert_eq!(reply.status, 400, "{path}");
        assert!(closed_by_server(&mut conn), "{path}");
    }
    let mut conn = server.connect();
    for path in ["/x/../a.txt", "/./a.txt", "/x/%2E%2e/a.txt"] {
        let reply = exchange(
            &mut conn,
            &format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"),
        );
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, &b"alpha"[..]),
            "{path}"
        );
    }
}

#[test]
fn rfc9110_12_5_3_unknown_codings_are_skipped() {
    let text = "a compressible line of text\n".repeat(200);
    let server = start(config_with_docroot(&[("page.txt", text.as_bytes())]));
    let mut conn = server.connect();
    for (accept, expected) in [
        ("foo;q=0.9, gzip;q=0.8", Some("gzip")),
        ("br, zstd, gzip;q=0.1", Some("gzip")),
        ("foo, gzip;q=0.5, identity;q=0.6", None),
        ("foo", None),
    ] {
        let reply = exchange(
            &mut conn,
            &format!("GET /page.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {accept}\r\n\r\n"),
        );
        assert_eq!(reply.status, 200, "{accept}");
        assert_eq!(reply.header("content-encoding"), expected, "{accept}");
    }
}

#[test]
fn max_keepalive_requests_closes_after_the_limit() {
    let (mut config, root) = site();
    config.connection.max_keepalive_requests = 3;
    let server = TestServer::start(config, router).keeping(root);
    let mut conn = server.connect();
    for _ in 0..2 {
        let reply = exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(reply.header("connection"), None);
    }
    let last = exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(last.header("connection"), Some("close"));
    assert!(closed_by_server(&mut conn));
}

#[test]
fn panicking_route_answers_500_closes_and_the_server_goes_on() {
    let server = start(site());
    let mut conn = server.connect();
    let reply = exchange(&mut conn, "GET /panic HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(reply.status, 500);
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(closed_by_server(&mut conn));
    let mut other = server.connect();
    assert_eq!(
        exchange(&mut other, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200
    );
    let tree = server.snapshot();
    assert_eq!(
        tree.find("web_server_tcp_acceptor_sup")
            .unwrap()
            .restarts_total,
        0
    );
}

#[test]
fn header_timeout_is_not_reset_by_trickled_bytes() {
    let (mut config, root) = site();
    config.connection.header_timeout = Duration::from_millis(300);
    let server = TestServer::start(config, router).keeping(root);
    let mut conn = server.connect();
    conn.write_all(b"GET /a.txt HTTP/1.1\r\n").unwrap();
    // Keep trickling bytes; the deadline counts from the first byte, so the server answers
    // 408 and closes although bytes keep coming.
    let began = std::time::Instant::now();
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    while began.elapsed() < WAIT {
        let _ = conn.write_all(b"X");
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let reply = parse_whole(&reply, false);
    assert_eq!(
        (reply.version.as_str(), reply.status),
        ("HTTP/1.1", 408),
        "{reply:?}"
    );
    assert!(began.elapsed() < WAIT, "closed by the header timeout");
}

#[test]
fn keepalive_timeout_closes_an_idle_connection() {
    let (mut config, root) = site();
    config.connection.keepalive_timeout = Duration::from_millis(200);
    let server = TestServer::start(config, router).keeping(root);
    let mut conn = server.connect();
    assert_eq!(
        exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200
    );
    assert!(closed_by_server(&mut conn), "idle connection closed");
}

#[test]
fn body_timeout_answers_408() {
    let (mut config, root) = site();
    config.connection.body_timeout = Duration::from_millis(200);
    let server = TestServer::start(config, router).keeping(root);
    let mut conn = server.connect();
    conn.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let reply = read_reply(&mut conn, false);
    assert_eq!(reply.status, 408);
    assert!(closed_by_server(&mut conn));
}

#[test]
fn max_connections_closes_the_oldest_idle_connection_for_a_new_one() {
    let (mut config, root) = site();
    config.max_connections = 2;
    config.workers = 1;
    let server = TestServer::start(config, router).keeping(root);
    let mut first = server.connect();
    let mut second = server.connect();
    for conn in [&mut first, &mut second] {
        assert_eq!(
            exchange(conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
            200
        );
    }
    // Both are idle keep-alive connections: the oldest makes room for the third.
    let mut third = server.connect();
    let reply = exchange(&mut third, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(reply.status, 200, "served at once at the limit");
    assert!(
        closed_by_server(&mut first),
        "the oldest idle connection was closed"
    );
    assert_eq!(
        exchange(&mut second, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200,
        "the younger one stays"
    );
}

#[test]
fn max_connections_holds_new_connections_while_every_connection_is_busy() {
    let (mut config, root) = site();
    config.max_connections = 2;
    config.workers = 1;
    config.connection.body_timeout = Duration::from_secs(600);
    let server = TestServer::start(config, router).keeping(root);
    // Two requests in progress: their bodies are still coming.
    let mut busy: Vec<_> = (0..2)
        .map(|_| {
            let mut conn = server.connect();
            conn.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab")
                .unwrap();
            conn
        })
        .collect();
    eventually("both are admitted", WAIT, || {
        server.active_connections() == 2
    });
    // The third completes the TCP handshake (kernel backlog) but is not served: nothing is
    // reclaimable, a request in progress is never cut.
    let mut third = server.connect();
    third
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        third.read(&mut byte).is_err(),
        "not served while every connection is busy"
    );
    // One request completes: its connection turns idle, and is reclaimed for the third.
    busy[0].write_all(b"cd").unwrap();
    let done = read_reply(&mut busy[0], false);
    assert_eq!((done.status, done.body.as_slice()), (200, &b"abcd"[..]));
    third.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(
        read_reply(&mut third, false).status,
        200,
        "served once a connection is reusable"
    );
    assert!(closed_by_server(&mut busy[0]), "the idle one made room");
    busy[1].write_all(b"ef").unwrap();
    let other = read_reply(&mut busy[1], false);
    assert_eq!((other.status, other.body.as_slice()), (200, &b"abef"[..]));
}

#[test]
fn malformed_request_gets_400_and_close() {
    let server = start(site());
    let mut conn = server.connect();
    let reply = exchange(&mut conn, "GET / HTTP/1.1\r\nHost : t\r\n\r\n");
    assert_eq!(reply.status, 400);
    assert!(closed_by_server(&mut conn));
}

#[test]
fn the_tree_has_the_seed_shape() {
    let server = start(site());
    let tree = server.snapshot();
    let ids: Vec<&str> = tree.walk().iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "web_server_sup",
            "web_server_tcp_listener_sup",
            "web_server_tcp_acceptor_sup",
            "web_server_tcp_acceptor_sup/0",
            "web_server_tcp_acceptor_sup/1",
            "web_server_tcp_listener",
            "web_server_cache_sup",
            "web_server_cache",
            "web_server_metrics_sup",
            "web_server_metrics",
        ]
    );
    let partition = tree.find("web_server_tcp_acceptor_sup/0").unwrap();
    assert_eq!(
        partition.dynamic.as_ref().unwrap().child_id.as_str(),
        "web_server_tcp_acceptor"
    );
    assert_ne!(
        tree.find("web_server_tcp_acceptor_sup/0").unwrap().arbiter,
        tree.find("web_server_tcp_acceptor_sup/1").unwrap().arbiter,
        "each partition on its own worker"
    );
}

#[test]
fn killed_listener_restarts_on_the_same_port_and_connections_survive() {
    let server = start(site());
    let mut kept = server.connect();
    assert_eq!(
        exchange(&mut kept, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200
    );
    assert!(server.kill("web_server_tcp_listener"));
    let mut fresh = server.connect();
    assert_eq!(
        exchange(&mut fresh, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200
    );
    assert_eq!(
        exchange(&mut kept, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200,
        "a listener restart leaves live connections alone"
    );
    assert_eq!(
        server
            .snapshot()
            .find("web_server_tcp_listener")
            .unwrap()
            .restarts_total,
        1
    );
}

#[test]
fn large_files_are_streamed_with_bounded_memory() {
    const SIZE: usize = 48 * 1024 * 1024;
    let content: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let (config, root) = config_with_docroot(&[("big.bin", &content)]);
    let expected_sum: u64 = content.iter().map(|&b| u64::from(b)).sum();
    drop(content);
    let server = TestServer::start(config, router).keeping(root);
    let before = rss_bytes(std::process::id());
    let mut conn = server.connect();
    conn.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let head = read_head(&mut conn);
    assert_eq!(
        head.header("content-length"),
        Some(SIZE.to_string().as_str()),
        "{head:?}"
    );
    let (mut received, mut sum, mut peak) = (0usize, 0u64, 0u64);
    let mut chunk = vec![0u8; 64 * 1024];
    while received < SIZE {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed after {received} bytes");
        sum += chunk[..n].iter().map(|&b| u64::from(b)).sum::<u64>();
        received += n;
        if received % (8 * 1024 * 1024) < n {
            peak = peak.max(rss_bytes(std::process::id()).saturating_sub(before));
        }
    }
    assert_eq!((received, sum), (SIZE, expected_sum));
    assert!(
        peak < 16 * 1024 * 1024,
        "resident memory grew by {peak} bytes while streaming a {SIZE}-byte file"
    );
    let ranged = exchange(
        &mut conn,
        "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-1999\r\n\r\n",
    );
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.body.len(), 1000);
    assert_eq!(
        ranged.body[0],
        (1000 % 251) as u8,
        "the connection stays usable after streaming"
    );
}

#[test]
fn binds_every_address_ipv4_and_ipv6() {
    let (mut config, root) = site();
    config.bind = vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()];
    let server = TestServer::start(config, router).keeping(root);
    assert_eq!(server.addrs.len(), 2);
    assert!(server.addrs[0].is_ipv4() && server.addrs[1].is_ipv6());
    for addr in &server.addrs {
        assert_ne!(addr.port(), 0, "port 0 resolved");
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(WAIT)).unwrap();
        assert_eq!(
            exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").body,
            b"alpha"
        );
    }
}

#[test]
fn connections_are_spread_over_the_worker_partitions() {
    let server = start(site());
    // SO_REUSEPORT hashes each connection to one worker's socket: with 32 connections, the
    // chance that all land on one of two workers is 2^-31.
    let mut conns: Vec<_> = (0..32).map(|_| server.connect()).collect();
    for conn in &mut conns {
        assert_eq!(
            exchange(conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
            200
        );
    }
    let tree = server.snapshot();
    let counts: Vec<usize> = [
        "web_server_tcp_acceptor_sup/0",
        "web_server_tcp_acceptor_sup/1",
    ]
    .iter()
    .map(|id| tree.find(id).unwrap().dynamic.as_ref().unwrap().count)
    .collect();
    assert_eq!(counts.iter().sum::<usize>(), 32, "{counts:?}");
    assert!(
        counts.iter().all(|&c| c > 0),
        "both workers serve: {counts:?}"
    );
}

#[test]
fn send_timeout_drops_a_client_that_stops_reading() {
    let big = vec![7u8; 32 * 1024 * 1024];
    let (mut config, root) = config_with_docroot(&[("big.bin", &big)]);
    config.connection.send_timeout = Duration::from_millis(300);
    let server = TestServer::start(config, router).keeping(root);
    let mut stalled = server.connect();
    stalled
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    eventually("the connection is counted", WAIT, || {
        server.active_connections() == 1
    });
    // Never read: the socket buffers fill, writes stop progressing, the server gives up.
    eventually("the stalled connection is dropped", WAIT, || {
        server.active_connections() == 0
    });
    let mut other = server.connect();
    assert_eq!(
        exchange(
            &mut other,
            "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\n\r\n"
        )
        .status,
        206
    );
}
