//! Half-close and reset (issue 9, "Abuse"): clients that half-close (FIN) or reset (RST, via
//! `SO_LINGER 0`) before, during and after requests and responses. Afterwards the server holds
//! no connection, the process's descriptors (`/proc/self/fd`) are back to the baseline, and no
//! socket on the server's port is left in CLOSE_WAIT (`/proc/net/tcp{,6}`, state 08).
//!
//! Each scenario runs on 20 connections at once; the abort happens once the server has
//! accepted all of them (an event, not a sleep).

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use support::abuse::{assert_no_leaks, content, read_until_close, reset, serial, upload_router};
use support::http::{assert_serves, connect, read_head, read_reply, split_replies};
use support::proc::{close_wait, open_fds, tcp_states};
use support::{eventually, TestServer, WAIT};

use web_server::server::ServerConfig;

const PER_SCENARIO: usize = 20;
const BIG: usize = 4 * 1024 * 1024;

fn start() -> (TestServer, Vec<u8>) {
    let big = content(BIG, 11);
    let root = support::docroot(&[("a.txt", b"alpha"), ("big.bin", &big)]);
    let mut config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        shutdown_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    // Long enough never to be what ends a connection here: only the client's FIN or RST does.
    config.connection.header_timeout = Duration::from_secs(30);
    config.connection.body_timeout = Duration::from_secs(30);
    config.connection.keepalive_timeout = Duration::from_secs(30);
    config.connection.send_timeout = Duration::from_secs(30);
    let server = TestServer::start(config, upload_router).keeping(root);
    (server, big)
}

/// Opens the scenario's connections, runs `begin` on each, waits until the server holds all of
/// them, then runs `end` on each.
fn scenario(
    server: &TestServer,
    name: &str,
    begin: impl Fn(&mut TcpStream),
    end: impl Fn(TcpStream),
) {
    let mut conns: Vec<TcpStream> = (0..PER_SCENARIO)
        .map(|_| {
            let mut conn = connect(server.addr);
            begin(&mut conn);
            conn
        })
        .collect();
    eventually(
        &format!("{name}: the server holds every connection"),
        WAIT,
        || server.active_connections() >= PER_SCENARIO,
    );
    for conn in conns.drain(..) {
        end(conn);
    }
    eventually(
        &format!("{name}: the server closed every connection"),
        WAIT,
        || server.active_connections() == 0,
    );
    eventually(
        &format!("{name}: no socket left in CLOSE_WAIT"),
        WAIT,
        || close_wait(server.addr.port()) == 0,
    );
}

/// Reads the head of a response and `bytes` of its body.
fn read_head_and(conn: &mut TcpStream, bytes: usize) {
    let head = read_head(conn);
    assert_eq!(
        (head.version.as_str(), head.status),
        ("HTTP/1.1", 200),
        "{head:?}"
    );
    let mut body = vec![0u8; bytes];
    conn.read_exact(&mut body).unwrap();
}

fn send(conn: &mut TcpStream, bytes: &[u8]) {
    conn.write_all(bytes).unwrap();
}

#[test]
fn half_closes_and_resets_anywhere_leave_no_descriptor_and_no_close_wait() {
    let _serial = serial();
    let (server, big) = start();
    // Warm up (blocking pool, cache, streaming) before taking the baseline.
    assert_serves(server.addr, "/a.txt", b"alpha");
    let mut warm = connect(server.addr);
    send(
        &mut warm,
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let received = read_until_close(&mut warm, WAIT);
    let (responses, _) = split_replies(&received.bytes);
    assert_eq!(responses[0].body, big);
    drop(warm);
    assert_no_leaks(&server, usize::MAX);
    let baseline = open_fds(std::process::id());

    let partial_head = b"GET /a.txt HTTP/1.1\r\nHo";
    let partial_body = [
        &b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"[..],
        &[b'x'; 100],
    ]
    .concat();
    let get_big = b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n";

    // Resets.
    scenario(&server, "RST before any byte", |_| {}, reset);
    scenario(&server, "RST mid-head", |c| send(c, partial_head), reset);
    scenario(&server, "RST mid-body", |c| send(c, &partial_body), reset);
    scenario(
        &server,
        "RST mid-response",
        |c| {
            send(c, get_big);
            read_head_and(c, 64 * 1024);
        },
        reset,
    );
    scenario(
        &server,
        "RST with pipelined requests in flight",
        |c| {
            send(c, &get_big.repeat(8));
            read_head_and(c, 1024);
        },
        reset,
    );
    scenario(
        &server,
        "RST while idle between requests",
        |c| {
            send(c, b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(read_reply(c, false).status, 200);
        },
        reset,
    );

    // Half-closes: the client's FIN, then it keeps reading.
    let half_close_then_read = |expect: &'static [u8]| {
        move |mut c: TcpStream| {
            c.shutdown(Shutdown::Write).unwrap();
            let received = read_until_close(&mut c, WAIT);
            assert!(received.closed, "the server closed after the FIN");
            assert!(
                received.bytes.starts_with(expect),
                "{:?}",
                &received.bytes[..received.bytes.len().min(64)]
            );
        }
    };
    scenario(
        &server,
        "FIN before any byte",
        |_| {},
        half_close_then_read(b""),
    );
    scenario(
        &server,
        "FIN mid-head",
        |c| send(c, partial_head),
        half_close_then_read(b""),
    );
    scenario(
        &server,
        "FIN mid-body",
        |c| send(c, &partial_body),
        half_close_then_read(b""),
    );
    scenario(
        &server,
        "FIN after a whole request",
        |c| send(c, b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"),
        |mut c| {
            c.shutdown(Shutdown::Write).unwrap();
            let received = read_until_close(&mut c, WAIT);
            let (responses, _) = split_replies(&received.bytes);
            assert_eq!(responses.len(), 1, "answered despite the half-close");
            assert_eq!(responses[0].body, b"alpha");
            assert!(received.closed);
        },
    );
    scenario(
        &server,
        "FIN mid-response",
        |c| {
            send(c, get_big);
            read_head_and(c, 64 * 1024);
        },
        |mut c| {
            c.shutdown(Shutdown::Write).unwrap();
            let received = read_until_close(&mut c, WAIT);
            assert!(received.closed);
            assert_eq!(
                received.bytes.len(),
                BIG - 64 * 1024,
                "the response completes after the client's FIN"
            );
            assert_eq!(&received.bytes[..], &big[64 * 1024..]);
        },
    );
    // Closing with unread response bytes (the kernel answers those with RST).
    scenario(
        &server,
        "close with the response unread",
        |c| {
            send(c, get_big);
            read_head_and(c, 1024);
        },
        drop,
    );

    assert_no_leaks(&server, baseline);
    let states = tcp_states(server.addr.port());
    assert_serves(server.addr, "/a.txt", b"alpha");
    eprintln!(
        "half-close/RST: 12 scenarios × {PER_SCENARIO} connections; descriptors back to {baseline}; \
         sockets on the port afterwards (hex states): {states:02x?}"
    );
}
