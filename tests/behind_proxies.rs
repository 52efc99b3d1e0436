//! Issue 20, "Behind proxies and CDNs", over real sockets on loopback: the client address from
//! trusted proxies only (spoofed headers from anyone else ignored), `X-Forwarded-Proto` and
//! the HTTPS redirect, connections per address refused at accept while other addresses are
//! served, 429 with `Retry-After` under a burst while other clients are served, and the
//! access log's `combined` (matched by a regex of nginx's format, as log parsers read it) and
//! `json` lines.
//!
//! Other source addresses come from binding the client socket to 127.0.0.2 or 127.0.0.3 before
//! connecting (Linux routes all of 127.0.0.0/8 to the loopback interface).

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use support::http::{exchange, Reply};
use support::{docroot, eventually, TestServer, WAIT};
use web_server::access_log::{self, AccessFormat};
use web_server::config::{LogFormat, LogSettings, TlsConfig};
use web_server::http::{Router, TrustedProxies};
use web_server::logging;
use web_server::server::ServerConfig;

const LOOPBACK: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const SECOND: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const THIRD: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A connection to `addr` from source address `source`.
fn connect_from(source: Ipv4Addr, addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket
        .bind(&SocketAddr::from((source, 0)).into())
        .unwrap_or_else(|err| panic!("binding {source}: {err}"));
    socket.connect_timeout(&addr.into(), WAIT).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// `GET path` with `headers` (each ending in CRLF) on a kept-alive connection.
fn get_with(stream: &mut TcpStream, path: &str, headers: &str) -> Reply {
    exchange(
        stream,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n"),
    )
}

fn trusting(blocks: &[&str]) -> TrustedProxies {
    TrustedProxies::new(blocks.iter().map(|b| b.parse().unwrap()).collect())
}

fn start(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let root = docroot(&[("a.txt", b"alpha")]);
    let mut config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        shutdown_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    configure(&mut config);
    TestServer::start(config, Router::new).keeping(root)
}

/// The value of an unlabelled counter in the process's metrics.
fn counter(name: &str) -> u64 {
    web_server::metrics::render()
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .parse::<f64>()
                .ok()
        })
        .map_or(0, |value| value as u64)
}

// ---------------------------------------------------------------------------------------------
// The access log, captured: one subscriber for the whole test binary (a server's worker threads
// log through the global one), each test finding its own lines by a User-Agent of its own.

#[derive(Default)]
struct Captured {
    bytes: Mutex<Vec<u8>>,
    written: Condvar,
}

struct CapturedWriter(Arc<Captured>);

impl Write for CapturedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.bytes.lock().unwrap().extend_from_slice(buf);
        self.0.written.notify_all();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Arc<Captured> {
    static LOG: OnceLock<Arc<Captured>> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Arc::new(Captured::default());
        let writer = captured.clone();
        let settings = LogSettings {
            format: LogFormat::Pretty,
            level: "warn".to_owned(),
            access_log: true,
            access_format: AccessFormat::Text,
        };
        let (dispatch, _) =
            logging::subscriber(&settings, move || CapturedWriter(writer.clone())).unwrap();
        tracing::dispatcher::set_global_default(dispatch).unwrap();
        captured
    })
}

/// The access format is process-wide: tests that choose one hold this while they log.
fn access_format(format: AccessFormat) -> MutexGuard<'static, ()> {
    static FORMAT: Mutex<()> = Mutex::new(());
    let guard = FORMAT.lock().unwrap_or_else(|p| p.into_inner());
    captured();
    access_log::set_enabled(true);
    access_log::set_format(format);
    guard
}

/// Waits until a captured line contains `marker` (the access line is written after the
/// response, so it may come a moment after the reply).
fn line_with(marker: &str) -> String {
    let log = captured();
    let deadline = Instant::now() + WAIT;
    let mut bytes = log.bytes.lock().unwrap();
    loop {
        if let Some(line) = String::from_utf8_lossy(&bytes)
            .lines()
            .find(|line| line.contains(marker))
        {
            return line.to_owned();
        }
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("no log line with {marker:?}"));
        bytes = log.written.wait_timeout(bytes, left).unwrap().0;
    }
}

// ---------------------------------------------------------------------------------------------
// Real client addresses.

#[test]
fn forwarding_headers_count_only_from_trusted_proxies() {
    let server = start(|config| config.connection.trusted_proxies = trusting(&["127.0.0.2"]));
    let _format = access_format(AccessFormat::Combined);

    let mut direct = connect_from(LOOPBACK, server.addr);
    let reply = get_with(
        &mut direct,
        "/a.txt",
        "X-Forwarded-For: 6.6.6.6\r\nForwarded: for=7.7.7.7\r\nUser-Agent: spoofer-1\r\n",
    );
    assert_eq!(reply.status, 200);
    let line = line_with("spoofer-1");
    assert!(
        line.starts_with("127.0.0.1 - - ["),
        "spoofed headers ignored: {line}"
    );

    let mut proxy = connect_from(SECOND, server.addr);
    let reply = get_with(
        &mut proxy,
        "/a.txt",
        "X-Forwarded-For: 6.6.6.6, 203.0.113.9, 127.0.0.2\r\nUser-Agent: via-proxy-xff\r\n",
    );
    assert_eq!(reply.status, 200);
    let line = line_with("via-proxy-xff");
    assert!(
        line.starts_with("203.0.113.9 - - ["),
        "the rightmost untrusted hop: {line}"
    );

    let reply = get_with(
        &mut proxy,
        "/a.txt",
        "Forwarded: for=198.51.100.7;proto=https, for=127.0.0.2\r\nX-Forwarded-For: 6.6.6.6\r\nUser-Agent: via-proxy-forwarded\r\n",
    );
    assert_eq!(reply.status, 200);
    let line = line_with("via-proxy-forwarded");
    assert!(
        line.starts_with("198.51.100.7 - - ["),
        "Forwarded wins: {line}"
    );
}

#[test]
fn x_forwarded_proto_https_from_a_trusted_proxy_is_not_redirected() {
    let root = docroot(&[("a.txt", b"alpha")]);
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (root.join("cert.pem"), root.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let mut config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        tls: Some(TlsConfig {
            bind: vec!["127.0.0.1:0".parse().unwrap()],
            cert,
            key,
            handshake_timeout: Duration::from_secs(10),
            redirect_http: true,
        }),
        ..ServerConfig::default()
    };
    config.connection.trusted_proxies = trusting(&["127.0.0.2/32"]);
    let server = TestServer::start(config, Router::new).keeping(root);

    let mut proxy = connect_from(SECOND, server.addr);
    let reply = get_with(&mut proxy, "/a.txt", "X-Forwarded-Proto: https\r\n");
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"alpha"[..]));
    let reply = get_with(&mut proxy, "/a.txt", "X-Forwarded-Proto: http\r\n");
    assert_eq!(reply.status, 301, "the proxy's client came over plain HTTP");
    let reply = get_with(&mut proxy, "/a.txt", "");
    assert_eq!(reply.status, 301);

    let mut spoofer = connect_from(LOOPBACK, server.addr);
    let reply = get_with(&mut spoofer, "/a.txt", "X-Forwarded-Proto: https\r\n");
    assert_eq!(reply.status, 301, "an untrusted peer's claim is ignored");
}

// ---------------------------------------------------------------------------------------------
// Per-client limits.

/// Whether the server closed `stream` without answering (EOF or a reset, no bytes).
fn refused(stream: &mut TcpStream) -> bool {
    // The request may meet a closed socket already; the read tells.
    let _ =
        stream.write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => received.is_empty(),
        Err(err) => {
            matches!(
                err.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
            ) && received.is_empty()
        }
    }
}

#[test]
fn an_address_over_its_connection_limit_is_refused_while_others_are_served() {
    let server = start(|config| {
        config.max_connections_per_ip = 2;
        config.connection.trusted_proxies = trusting(&["127.0.0.3"]);
    });
    let refusals_before = counter("web_server_client_connections_refused_total");

    let mut first = connect_from(LOOPBACK, server.addr);
    let mut second = connect_from(LOOPBACK, server.addr);
    for conn in [&mut first, &mut second] {
        assert_eq!(get_with(conn, "/a.txt", "").status, 200);
    }
    let mut third = connect_from(LOOPBACK, server.addr);
    assert!(refused(&mut third), "a third connection from 127.0.0.1");

    // Another address is served meanwhile, up to its own limit.
    let mut others: Vec<TcpStream> = (0..2).map(|_| connect_from(SECOND, server.addr)).collect();
    for conn in &mut others {
        assert_eq!(get_with(conn, "/a.txt", "").status, 200);
    }
    // A trusted proxy carries many clients: it is not limited per address.
    let mut proxied: Vec<TcpStream> = (0..4).map(|_| connect_from(THIRD, server.addr)).collect();
    for conn in &mut proxied {
        assert_eq!(get_with(conn, "/a.txt", "").status, 200);
    }
    // The connections still open are untouched by the refusal.
    assert_eq!(get_with(&mut first, "/a.txt", "").status, 200);
    assert!(counter("web_server_client_connections_refused_total") > refusals_before);

    // Once one closes, the address gets its slot back.
    drop(second);
    eventually("127.0.0.1 is admitted again", WAIT, || {
        let mut again = connect_from(LOOPBACK, server.addr);
        !refused(&mut again)
    });
}

#[test]
fn a_burst_over_the_rate_is_429_with_retry_after_and_other_clients_are_served() {
    let server = start(|config| {
        config.connection.request_rate.per_second = 1;
        config.connection.request_rate.burst = 3;
        config.connection.trusted_proxies = trusting(&["127.0.0.3"]);
    });
    let limited_before = counter("web_server_client_requests_limited_total");

    let mut bursting = connect_from(LOOPBACK, server.addr);
    let statuses: Vec<u16> = (0..3)
        .map(|_| get_with(&mut bursting, "/a.txt", "").status)
        .collect();
    assert_eq!(statuses, [200, 200, 200], "the burst is served");
    // One token a second: of the next ten, taken within a second or so, most are refused.
    let replies: Vec<Reply> = (0..10)
        .map(|_| get_with(&mut bursting, "/a.txt", ""))
        .collect();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(
        refused.len() >= 8,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let retry_after: u64 = refused[0].header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    assert!(!refused[0].closes(), "a 429 keeps the connection");

    // Another client is unaffected.
    let mut other = connect_from(SECOND, server.addr);
    assert_eq!(get_with(&mut other, "/a.txt", "").status, 200);

    // Behind a trusted proxy, each forwarded client has its own bucket.
    let mut proxy = connect_from(THIRD, server.addr);
    let client_a = "X-Forwarded-For: 203.0.113.1\r\n";
    let statuses: Vec<u16> = (0..6)
        .map(|_| get_with(&mut proxy, "/a.txt", client_a).status)
        .collect();
    assert_eq!(&statuses[..3], [200, 200, 200]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    let client_b = "X-Forwarded-For: 203.0.113.2\r\n";
    assert_eq!(get_with(&mut proxy, "/a.txt", client_b).status, 200);

    assert!(counter("web_server_client_requests_limited_total") >= limited_before + 8);
}

// ---------------------------------------------------------------------------------------------
// Access log formats.

/// nginx's `combined` as fluent-bit's `nginx` parser matches it (its regex, in Rust syntax).
const NGINX_COMBINED: &str = r#"^(?<remote>[^ ]*) (?<host>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^"]*?)(?: +(?<protocol>\S*))?)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>[^"]*)" "(?<agent>[^"]*)")$"#;

#[test]
fn combined_lines_parse_with_nginxs_format() {
    let server = start(|_| {});
    let _format = access_format(AccessFormat::Combined);
    let combined = regex::Regex::new(NGINX_COMBINED).unwrap();
    let time = regex::Regex::new(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$").unwrap();

    let mut conn = connect_from(LOOPBACK, server.addr);
    let reply = get_with(
        &mut conn,
        "/a.txt?x=1",
        "Referer: http://example.com/page\r\nUser-Agent: combined-agent/1.0\r\n",
    );
    assert_eq!(reply.status, 200);
    let line = line_with("combined-agent/1.0");
    let fields = combined
        .captures(&line)
        .unwrap_or_else(|| panic!("not nginx's combined: {line:?}"));
    assert_eq!(&fields["remote"], "127.0.0.1");
    assert_eq!((&fields["host"], &fields["user"]), ("-", "-"));
    assert!(time.is_match(&fields["time"]), "{}", &fields["time"]);
    assert_eq!(&fields["method"], "GET");
    assert_eq!(&fields["path"], "/a.txt?x=1");
    assert_eq!(&fields["protocol"], "HTTP/1.1");
    assert_eq!(&fields["code"], "200");
    assert_eq!(
        fields["size"].parse::<usize>().unwrap(),
        reply.body.len(),
        "body bytes only"
    );
    assert_eq!(&fields["referer"], "http://example.com/page");
    assert_eq!(&fields["agent"], "combined-agent/1.0");

    // A 404 without Referer, and a quote a client put in its User-Agent (escaped as nginx does,
    // so it cannot end the field).
    let reply = get_with(
        &mut conn,
        "/missing",
        "User-Agent: combined-\"quoted\"-agent\r\n",
    );
    assert_eq!(reply.status, 404);
    let line = line_with("combined-\\x22quoted\\x22-agent");
    let fields = combined.captures(&line).expect("still nginx's combined");
    assert_eq!((&fields["code"], &fields["referer"]), ("404", "-"));
}

#[test]
fn json_lines_have_the_documented_fields_in_order() {
    let server = start(|_| {});
    let _format = access_format(AccessFormat::Json);
    let mut conn = connect_from(LOOPBACK, server.addr);
    let reply = get_with(&mut conn, "/a.txt", "User-Agent: json-agent/2.0\r\n");
    assert_eq!(reply.status, 200);
    let line = line_with("json-agent/2.0");
    let object: serde_json::Value = serde_json::from_str(&line).expect("one JSON object");
    let fields = [
        "time",
        "client",
        "peer",
        "method",
        "target",
        "protocol",
        "status",
        "bytes",
        "body_bytes",
        "duration",
        "host",
        "referer",
        "user_agent",
        "request_id",
    ];
    assert_eq!(object.as_object().unwrap().len(), fields.len(), "{line}");
    let positions: Vec<usize> = fields
        .iter()
        .map(|field| line.find(&format!("\"{field}\":")).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "field order: {line}"
    );
    assert_eq!(object["client"], "127.0.0.1");
    assert_eq!(object["method"], "GET");
    assert_eq!(object["target"], "/a.txt");
    assert_eq!(object["protocol"], "HTTP/1.1");
    assert_eq!(object["status"], 200);
    assert_eq!(object["body_bytes"], 5);
    assert_eq!(object["bytes"], reply.wire_len);
    assert_eq!(object["host"], "localhost");
    assert_eq!(object["referer"], serde_json::Value::Null);
    assert!(object["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        object["request_id"],
        serde_json::Value::Null,
        "server.request_id is off"
    );
}

// ---------------------------------------------------------------------------------------------
// Request ids.

#[test]
fn request_ids_are_kept_from_a_trusted_proxy_or_generated_and_logged() {
    let server = start(|config| {
        config.connection.request_id = true;
        config.connection.trusted_proxies = trusting(&["127.0.0.2"]);
    });
    let _format = access_format(AccessFormat::Json);
    let generated = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());

    let mut proxy = connect_from(SECOND, server.addr);
    let reply = get_with(
        &mut proxy,
        "/a.txt",
        "X-Request-Id: lb-7f3a-0001\r\nUser-Agent: id-from-proxy\r\n",
    );
    assert_eq!(reply.header("x-request-id"), Some("lb-7f3a-0001"));
    let line: serde_json::Value = serde_json::from_str(&line_with("id-from-proxy")).unwrap();
    assert_eq!(line["request_id"], "lb-7f3a-0001");

    // A proxy's id that could forge a header or a line is replaced.
    let reply = get_with(&mut proxy, "/a.txt", "X-Request-Id: a b\"c\r\n");
    assert!(generated(reply.header("x-request-id").unwrap()));

    let mut direct = connect_from(LOOPBACK, server.addr);
    let first = get_with(
        &mut direct,
        "/missing",
        "X-Request-Id: spoofed\r\nUser-Agent: id-generated\r\n",
    );
    assert_eq!(first.status, 404);
    let first_id = first.header("x-request-id").unwrap().to_owned();
    assert!(
        generated(&first_id),
        "an untrusted peer's id is replaced: {first_id}"
    );
    let line: serde_json::Value = serde_json::from_str(&line_with("id-generated")).unwrap();
    assert_eq!(line["request_id"], first_id.as_str());
    let second = get_with(&mut direct, "/a.txt", "");
    assert_ne!(
        second.header("x-request-id").unwrap(),
        first_id,
        "one id per request"
    );
}

// ---------------------------------------------------------------------------------------------
// The PROXY protocol.

fn proxy_protocol_server() -> TestServer {
    start(|config| {
        config.connection.proxy_protocol = true;
        config.connection.trusted_proxies = trusting(&["127.0.0.0/8"]);
        config.max_connections_per_ip = 1;
    })
}

/// Sends `pieces` one write at a time, then a request asking to close; what came back until
/// the server closed.
fn send_pieces(stream: &mut TcpStream, pieces: &[&[u8]]) -> Vec<u8> {
    for piece in pieces {
        if stream.write_all(piece).is_err() {
            break;
        }
        stream.flush().unwrap();
    }
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    received
}

const CLOSING_GET: &[u8] =
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: AGENT\r\nConnection: close\r\n\r\n";

fn closing_get(agent: &str) -> Vec<u8> {
    String::from_utf8_lossy(CLOSING_GET)
        .replace("AGENT", agent)
        .into_bytes()
}

#[test]
fn proxy_protocol_headers_give_the_client_address() {
    let server = proxy_protocol_server();
    let _format = access_format(AccessFormat::Combined);

    // v1 and the request in one write.
    let mut conn = connect_from(LOOPBACK, server.addr);
    let request = [
        b"PROXY TCP4 203.0.113.50 127.0.0.1 5555 80\r\n".as_slice(),
        &closing_get("pp-v1"),
    ]
    .concat();
    let received = send_pieces(&mut conn, &[&request]);
    assert!(
        received.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(line_with("pp-v1").starts_with("203.0.113.50 - - ["));

    // v2 with a TLV, split across writes inside the header.
    let header = web_server::http::proxy_protocol::v2_header(
        "[2001:db8::50]:4711".parse().unwrap(),
        "[2001:db8::1]:443".parse().unwrap(),
        &[0x01, 0, 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1'],
    );
    let mut conn = connect_from(LOOPBACK, server.addr);
    let received = send_pieces(
        &mut conn,
        &[
            &header[..10],
            &header[10..20],
            &header[20..],
            &closing_get("pp-v2"),
        ],
    );
    assert!(
        received.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(line_with("pp-v2").starts_with("2001:db8::50 - - ["));

    // v1 split in the middle of the line, and LOCAL (a health check): the peer stands.
    let mut conn = connect_from(LOOPBACK, server.addr);
    let received = send_pieces(
        &mut conn,
        &[
            b"PROXY TCP4 198.51",
            b".100.7 127.0.0.1 1 80\r",
            b"\n",
            &closing_get("pp-v1-split"),
        ],
    );
    assert!(received.starts_with(b"HTTP/1.1 200 "));
    assert!(line_with("pp-v1-split").starts_with("198.51.100.7 - - ["));
    let mut local = header.clone();
    local[12] = 0x20;
    let mut conn = connect_from(LOOPBACK, server.addr);
    let received = send_pieces(&mut conn, &[&local, &closing_get("pp-local")]);
    assert!(received.starts_with(b"HTTP/1.1 200 "));
    assert!(line_with("pp-local").starts_with("127.0.0.1 - - ["));
}

#[test]
fn missing_or_malformed_proxy_headers_close_the_connection_unanswered() {
    let server = proxy_protocol_server();
    let v2 = web_server::http::proxy_protocol::v2_header(
        "192.0.2.1:1".parse().unwrap(),
        "192.0.2.2:2".parse().unwrap(),
        &[],
    );
    let with = |at: usize, byte: u8| {
        let mut bad = v2.clone();
        bad[at] = byte;
        bad
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no header", Vec::new()),
        (
            "a bad v1 port",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 99999 80\r\n".to_vec(),
        ),
        (
            "a v1 family mismatch",
            b"PROXY TCP4 ::1 192.0.2.2 1 80\r\n".to_vec(),
        ),
        (
            "a bare LF",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1 80\n".to_vec(),
        ),
        (
            "a v1 line over 107 bytes",
            [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 120], b"\r\n"].concat(),
        ),
        ("v2 version 1", with(12, 0x11)),
        ("v2 over UDP", with(13, 0x12)),
        ("v2 too short for IPv4", with(15, 4)),
    ];
    for (what, header) in cases {
        let mut conn = connect_from(LOOPBACK, server.addr);
        let received = send_pieces(&mut conn, &[&header, &closing_get("malformed")]);
        assert!(
            received.is_empty(),
            "{what}: answered {:?}",
            String::from_utf8_lossy(&received)
        );
    }
    // A well-formed header still works afterwards.
    let mut conn = connect_from(LOOPBACK, server.addr);
    let received = send_pieces(&mut conn, &[&v2, &closing_get("after-malformed")]);
    assert!(received.starts_with(b"HTTP/1.1 200 "));
}

#[test]
fn behind_a_proxy_protocol_balancer_connections_are_limited_per_client() {
    let server = proxy_protocol_server(); // max_connections_per_ip = 1
    let header = |client: &str| format!("PROXY TCP4 {client} 127.0.0.1 1 80\r\n").into_bytes();
    let mut first = connect_from(LOOPBACK, server.addr);
    first.write_all(&header("203.0.113.7")).unwrap();
    assert_eq!(get_with(&mut first, "/a.txt", "").status, 200);
    // The same client through the same balancer is over its limit; another is not.
    let mut second = connect_from(LOOPBACK, server.addr);
    let received = send_pieces(
        &mut second,
        &[&header("203.0.113.7"), &closing_get("pp-limited")],
    );
    assert!(
        received.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    let mut other = connect_from(LOOPBACK, server.addr);
    other.write_all(&header("203.0.113.8")).unwrap();
    assert_eq!(get_with(&mut other, "/a.txt", "").status, 200);
}
