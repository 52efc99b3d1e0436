//! Oversized requests (issue 9, "Abuse"): a 64 KiB request line, a 1 MiB header, 10,000
//! headers, endless header streams and oversized bodies are rejected (414 / 431 / 400 / 413)
//! with `Connection: close`, the connection is closed, and memory stays bounded however much an
//! attacker sends.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::abuse::{
    assert_no_leaks, idle_baseline, read_until_close, send_and_receive, serial, upload_router,
    Received,
};
use support::http::{assert_serves, connect, split_replies};
use support::proc::{kib, rss_bytes};
use support::{TestServer, WAIT};
use web_server::http::Limits;
use web_server::server::ServerConfig;

fn start() -> TestServer {
    let root = support::docroot(&[("a.txt", b"alpha")]);
    let mut config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        shutdown_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    config.connection.limits = Limits::default();
    TestServer::start(config, upload_router).keeping(root)
}

/// One answer with a status in `allowed`, announcing and doing the close.
fn assert_rejected_and_closed(what: &str, received: &Received, allowed: &[u16]) -> u16 {
    let (responses, rest) = split_replies(&received.bytes);
    let shown = String::from_utf8_lossy(&received.bytes[..received.bytes.len().min(300)]);
    assert_eq!(responses.len(), 1, "{what}: expected one answer: {shown}");
    assert!(rest.is_empty(), "{what}: bytes after the answer");
    let status = responses[0].status;
    assert!(
        allowed.contains(&status),
        "{what}: answered {status}, expected {allowed:?}"
    );
    assert_eq!(responses[0].header("connection"), Some("close"), "{what}");
    assert!(received.closed, "{what}: the connection stayed open");
    status
}

/// Sends `prefix`, then `unit` over and over (an endless stream, bounded at `cap` bytes or
/// [`WAIT`]) from a writer thread until the server closes; what came back, and how many bytes
/// the kernel accepted before the server's close stopped the writer.
fn endless(addr: SocketAddr, prefix: &[u8], unit: &[u8], cap: usize) -> (Received, usize) {
    let mut stream = connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let (prefix, unit) = (prefix.to_vec(), unit.repeat((4096 / unit.len()).max(1)));
    let sender = std::thread::spawn(move || {
        let began = Instant::now();
        let mut sent = 0;
        if writer.write_all(&prefix).is_err() {
            return sent;
        }
        sent += prefix.len();
        while sent < cap && began.elapsed() < WAIT {
            match writer.write(&unit) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    let received = read_until_close(&mut stream, WAIT);
    drop(stream);
    let sent = sender.join().unwrap();
    (received, sent)
}

#[test]
fn a_64_kib_request_line_is_414_and_close() {
    let server = start();
    let target = format!("/{}", "a".repeat(64 * 1024));
    let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes();
    let received = send_and_receive(server.addr, request, false);
    assert_rejected_and_closed("64 KiB request line", &received, &[414]);
    // Also in a query, and as empty lines before the request line (they count toward it).
    let request = format!(
        "GET /a.txt?{} HTTP/1.1\r\nHost: t\r\n\r\n",
        "q".repeat(64 * 1024)
    );
    let received = send_and_receive(server.addr, request.into_bytes(), false);
    assert_rejected_and_closed("64 KiB query", &received, &[414]);
    let request = format!(
        "{}GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        "\r\n".repeat(32 * 1024)
    );
    let received = send_and_receive(server.addr, request.into_bytes(), false);
    assert_rejected_and_closed("64 KiB of empty lines first", &received, &[414, 400]);
    assert_serves(server.addr, "/a.txt", b"alpha");
}

#[test]
fn a_1_mib_header_is_431_and_close() {
    let server = start();
    let request = format!(
        "GET /a.txt HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n",
        "c".repeat(1024 * 1024)
    );
    let received = send_and_receive(server.addr, request.into_bytes(), false);
    assert_rejected_and_closed("1 MiB header", &received, &[431]);
    assert_serves(server.addr, "/a.txt", b"alpha");
}

#[test]
fn ten_thousand_headers_are_431_and_close() {
    let server = start();
    let mut request = String::from("GET /a.txt HTTP/1.1\r\nHost: t\r\n");
    for i in 0..10_000 {
        request.push_str(&format!("X-H{i}: v\r\n"));
    }
    request.push_str("\r\n");
    let received = send_and_receive(server.addr, request.into_bytes(), false);
    assert_rejected_and_closed("10,000 headers", &received, &[431]);
    // Many tiny ones, too: 10,000 × "a:\r\n" is under the byte limit, over the count.
    let mut request = String::from("GET /a.txt HTTP/1.1\r\nHost: t\r\n");
    request.push_str(&"a:\r\n".repeat(10_000));
    request.push_str("\r\n");
    let received = send_and_receive(server.addr, request.into_bytes(), false);
    assert_rejected_and_closed("10,000 empty headers", &received, &[431]);
    assert_serves(server.addr, "/a.txt", b"alpha");
}

#[test]
fn endless_header_streams_are_cut_off_and_closed() {
    let server = start();
    let head = b"GET /a.txt HTTP/1.1\r\nHost: t\r\n";
    let cases: [(&str, &[u8], &[u8]); 5] = [
        ("endless header lines", head, b"X-Endless: yes\r\n"),
        (
            "endless header value",
            b"GET /a.txt HTTP/1.1\r\nHost: t\r\nX-Long: ",
            b"v",
        ),
        ("endless header name", head, b"X"),
        ("endless request line", b"GET /", b"a"),
        ("endless empty lines", b"", b"\r\n"),
    ];
    for (what, prefix, unit) in cases {
        let (received, sent) = endless(server.addr, prefix, unit, 256 * 1024 * 1024);
        let status = assert_rejected_and_closed(what, &received, &[400, 414, 431]);
        eprintln!(
            "{what}: {status} and closed after the client sent {}",
            kib(sent as u64)
        );
    }
    assert_serves(server.addr, "/a.txt", b"alpha");
}

#[test]
fn oversized_bodies_are_413_before_they_are_sent() {
    let server = start();
    // Declared: answered from the head alone, the body never read.
    let mut conn = connect(server.addr);
    conn.write_all(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n\r\n")
        .unwrap();
    let received = read_until_close(&mut conn, WAIT);
    assert_rejected_and_closed("1 GiB Content-Length", &received, &[413]);
    // Chunked: refused at the chunk size that crosses the limit, before its data.
    let mut conn = connect(server.addr);
    conn.write_all(
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          80000\r\n",
    )
    .unwrap();
    conn.write_all(&vec![b'x'; 0x80000]).unwrap();
    conn.write_all(b"\r\n80001\r\n").unwrap();
    let received = read_until_close(&mut conn, WAIT);
    assert_rejected_and_closed("chunks over 1 MiB", &received, &[413]);
    // Endless chunks of 64 KiB: cut at the limit whatever keeps coming.
    let chunk = [b"10000\r\n".as_slice(), &[b'y'; 0x10000], b"\r\n"].concat();
    let (received, sent) = endless(
        server.addr,
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
        &chunk,
        256 * 1024 * 1024,
    );
    assert_rejected_and_closed("endless chunks", &received, &[413]);
    eprintln!(
        "endless chunks: 413 after the client sent {}",
        kib(sent as u64)
    );
}

/// 32 attackers at once, each streaming header lines without end: resident memory grows by a
/// bounded amount (the parser holds at most the head limits per connection).
#[test]
fn memory_stays_bounded_under_many_endless_streams() {
    let _serial = serial();
    const ATTACKERS: usize = 32;
    let server = start();
    assert_serves(server.addr, "/a.txt", b"alpha");
    let (baseline_fds, baseline) = idle_baseline(&server);
    let sampler = std::thread::spawn(|| {
        let mut peak = 0;
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(2) {
            peak = peak.max(rss_bytes(std::process::id()));
            std::thread::sleep(Duration::from_millis(10));
        }
        peak
    });
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|i| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let prefix: &[u8] = b"GET /a.txt HTTP/1.1\r\nHost: t\r\n";
                let unit: &[u8] = match i % 2 {
                    0 => b"X-Endless: yes\r\n",
                    _ => b"v",
                };
                endless(addr, prefix, unit, 64 * 1024 * 1024)
            })
        })
        .collect();
    let mut total_sent = 0;
    for attacker in attackers {
        let (received, sent) = attacker.join().unwrap();
        assert_rejected_and_closed("endless stream", &received, &[400, 431]);
        total_sent += sent;
    }
    let peak = sampler.join().unwrap();
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < 32 * 1024 * 1024,
        "{ATTACKERS} endless streams grew resident memory by {}",
        kib(growth)
    );
    assert_no_leaks(&server, baseline_fds);
    eprintln!(
        "{ATTACKERS} endless header streams ({} sent in all): resident memory peak +{} ({} per \
         connection)",
        kib(total_sent as u64),
        kib(growth),
        kib(growth / ATTACKERS as u64)
    );
}
