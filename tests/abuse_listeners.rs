//! The abuse suite on every listener (issue 16, "The same attacks on every listener"): the
//! scenarios of `tests/abuse_*.rs` (slowloris, slow body, slow read, connection flood, oversized
//! heads and bodies, request smuggling, garbage, resets and half-closes) against the TLS listener
//! and the admin endpoint, with the same client code as on the plain listener
//! ([`support::listeners::Target`]).
//!
//! Every server runs the release profile's settings (`config/prod.toml`, through
//! [`profile_config`]): its limits as they are, its timeouts scaled down to 1 s in the quick tests
//! (`make test`) and as they are in the `#[ignore]`d long ones:
//! `cargo test --test abuse_listeners -- --ignored --nocapture`.
//!
//! Each scenario checks that a normal client keeps being served on the same listener during the
//! attack, that the attack's connections are closed by the timeout or limit that bounds them,
//! and that nothing leaks: no connection held, descriptors back to the baseline, no socket in
//! CLOSE_WAIT on the attacked port. On the admin endpoint the normal client asks `/health`, and
//! the attacks aim at its state-changing routes: none may reload the configuration or kill an
//! actor.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::abuse::{
    close_times, content, profile_config, require_fds, serial, Received, Trickled, Xorshift,
};
use support::garbage::{generate_from, seed, TEMPLATES};
use support::http::{find, read_head, split_replies, status_codes, Reply};
use support::listeners::{
    assert_no_leaks, certificate, counting_reloads, held, idle_baseline, read_until_close,
    tls_on_loopback, trickle, Listener, Stream, Target,
};
use support::proc::{kib, rss_bytes};
use support::temp::TempDir;
use support::{eventually, TestServer, WAIT};
use web_server::http::{Response, Router, StatusCode};
use web_server::server::ServerConfig;

/// The hidden request of the smuggling attacks on the public listeners.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n";
/// What `/smuggled` answers: it must never show up.
const MARKER: &[u8] = b"SMUGGLED-REQUEST-WAS-EXECUTED-7c1e9b";
/// The hidden request of the smuggling attacks on the admin endpoint: it would kill the cache.
const SMUGGLED_KILL: &str =
    "POST /admin/actors/web_server_cache/kill HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: 0\r\n\r\n";
/// A head that never ends: the trickle sends it one byte at a time.
const ENDLESS_HEAD: &[u8] = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nX-Slowloris: \
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A server under attack on one of its listeners.
struct Attacked {
    server: TestServer,
    target: Target,
    /// The release profile's settings it runs, as scaled.
    config: ServerConfig,
    /// Calls of `GET /smuggled` (public listeners).
    smuggled: Arc<AtomicUsize>,
    /// Calls of `POST /admin/reload` (admin endpoint).
    reloads: Arc<AtomicUsize>,
    /// The large response of the slow-read and mid-response scenarios: its request and its
    /// length.
    big_request: Vec<u8>,
    big_len: usize,
}

/// How the release profile's timeouts are used.
#[derive(Clone, Copy)]
enum Timeouts {
    /// As they are in `config/prod.toml` (and `tls.handshake_timeout_ms` of default.toml).
    Release,
    /// Every one scaled down to this.
    Scaled(Duration),
}

const QUICK: Timeouts = Timeouts::Scaled(Duration::from_secs(1));

/// A file the slow readers ask for and never read.
const BIG_FILE: usize = 8 * 1024 * 1024;
/// Pipelined `GET /admin/tree.html` requests the admin's slow readers send (about 7 KiB each).
const ADMIN_PIPELINED: usize = 1_000;

fn router(smuggled: Arc<AtomicUsize>) -> Router {
    let mut router = Router::new();
    router
        .post("/upload", |_req, _params| {
            Response::text(StatusCode::OK, "stored\n")
        })
        .unwrap();
    router
        .get("/smuggled", move |_req, _params| {
            smuggled.fetch_add(1, Ordering::SeqCst);
            Response::text(StatusCode::OK, String::from_utf8(MARKER.to_vec()).unwrap())
        })
        .unwrap();
    router
}

/// Starts a server on the release profile's settings, `timeouts` applied and `adjust`ed, with
/// the TLS listener or the admin endpoint on as `listener` asks, and aims at that listener.
fn attack(
    listener: Listener,
    timeouts: Timeouts,
    big_file: usize,
    adjust: impl FnOnce(&mut ServerConfig),
) -> Attacked {
    let big = content(big_file, 7);
    let root = support::docroot(&[("a.txt", b"alpha"), ("big.bin", &big)]);
    let mut config = profile_config("prod", &root);
    config.workers = 2;
    config.shutdown_timeout = Duration::from_secs(1);
    let (source, reloads) = counting_reloads();
    config.config_source = Some(source);
    let mut handshake_timeout = Duration::from_secs(10);
    if let Timeouts::Scaled(timeout) = timeouts {
        let connection = &mut config.connection;
        connection.header_timeout = timeout;
        connection.body_timeout = timeout;
        connection.keepalive_timeout = timeout;
        connection.send_timeout = timeout;
        handshake_timeout = timeout;
    }
    let mut cert_dir: Option<TempDir> = None;
    let mut trusted = None;
    match listener {
        Listener::Plain => {}
        Listener::Tls => {
            let (dir, cert, key, der) = certificate();
            config.tls = Some(tls_on_loopback(&cert, &key, handshake_timeout));
            cert_dir = Some(dir);
            trusted = Some(der);
        }
        Listener::Admin => {
            config.admin = Some(support::admin_on_loopback(None, true));
        }
    }
    adjust(&mut config);
    let smuggled = Arc::new(AtomicUsize::new(0));
    let mut server = TestServer::start(config.clone(), {
        let smuggled = smuggled.clone();
        move || router(smuggled)
    })
    .keeping(root);
    if let Some(dir) = cert_dir {
        server = server.keeping(dir);
    }
    let target = match listener {
        Listener::Plain => Target::plain(server.addr),
        Listener::Tls => Target::tls_of(&server, trusted.as_ref().unwrap()),
        Listener::Admin => Target::admin_of(&server),
    };
    let (big_request, big_len) = match listener {
        Listener::Admin => (
            b"GET /admin/tree.html HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(ADMIN_PIPELINED),
            0,
        ),
        _ => (
            b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            big_file,
        ),
    };
    Attacked {
        server,
        target,
        config,
        smuggled,
        reloads,
        big_request,
        big_len,
    }
}

impl Attacked {
    /// The normal client's request on this listener and the body it expects.
    fn normal_path(&self) -> (&'static str, &'static [u8]) {
        match self.target.listener {
            Listener::Admin => ("/health", b"ok\n"),
            _ => ("/a.txt", b"alpha"),
        }
    }

    /// One normal request, which must succeed.
    fn assert_serves(&self) {
        let (path, body) = self.normal_path();
        self.target.assert_serves(path, body);
    }

    fn normal_client(&self) -> support::abuse::NormalClient {
        let (path, body) = self.normal_path();
        self.target.normal_client(path, body)
    }

    /// Where a body may be sent: `POST /upload`, or `POST /admin/reload` on the admin endpoint.
    fn body_path(&self) -> &'static str {
        match self.target.listener {
            Listener::Admin => "/admin/reload",
            _ => "/upload",
        }
    }

    /// The hidden request of the smuggling attacks.
    fn hidden(&self) -> &'static str {
        match self.target.listener {
            Listener::Admin => SMUGGLED_KILL,
            _ => SMUGGLED,
        }
    }

    /// Nothing an attack hid or aimed at ran: no smuggled request, no reload, no kill, no
    /// restart anywhere in the tree.
    fn assert_nothing_ran(&self, what: &str) {
        assert_eq!(
            self.smuggled.load(Ordering::SeqCst),
            0,
            "{what}: the smuggled request ran"
        );
        assert_eq!(
            self.reloads.load(Ordering::SeqCst),
            0,
            "{what}: the configuration was reloaded"
        );
        for node in self.server.snapshot().walk() {
            assert_eq!(
                node.restarts_total, 0,
                "{what}: {} was restarted (killed?)",
                node.id
            );
        }
    }

    fn name(&self) -> &'static str {
        match self.target.listener {
            Listener::Plain => "plain",
            Listener::Tls => "TLS",
            Listener::Admin => "admin",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Slow clients.

/// Every trickling connection was closed by the server no earlier than `timeout` after its
/// first byte and no later than `timeout + slack`, answered 408 or nothing. Returns (earliest,
/// latest, answered 408).
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
            codes.iter().all(|&code| code == 408),
            "a slow connection got {codes:?}: {:?}",
            String::from_utf8_lossy(&result.received)
        );
        answered_408 += codes.len();
    }
    (earliest, latest, answered_408)
}

/// Slowloris: `connections` heads trickled one byte every `interval`.
fn slowloris(attacked: &Attacked, connections: usize, interval: Duration, slack: Duration) {
    let timeout = attacked.config.connection.header_timeout;
    attacked.assert_serves();
    let baseline = idle_baseline(&attacked.server, &attacked.target);
    let normal = attacked.normal_client();
    let results = trickle(
        &attacked.target,
        connections,
        b"",
        ENDLESS_HEAD,
        interval,
        timeout + slack + WAIT,
    );
    let normal = normal.finish_and_check(10);
    let (earliest, latest, answered) = check_closed_by_timeout(&results, timeout, slack);
    assert_no_leaks(&attacked.server, &attacked.target, baseline);
    attacked.assert_nothing_ran("slowloris");
    eprintln!(
        "{} slowloris: {connections} connections, 1 byte / {interval:?}, header timeout \
         {timeout:?}: all closed {earliest:?}..{latest:?} after their first byte ({answered} \
         answered 408); normal client: {} requests, p99 {:?}, max {:?}",
        attacked.name(),
        normal.latencies.samples.len(),
        normal.latencies.p99(),
        normal.latencies.max()
    );
}

/// Slow bodies: the release profile's largest body declared, then trickled.
fn slow_body(attacked: &Attacked, connections: usize, interval: Duration, slack: Duration) {
    let timeout = attacked.config.connection.body_timeout;
    let max_body = attacked.config.connection.limits.max_body_bytes;
    attacked.assert_serves();
    let baseline = idle_baseline(&attacked.server, &attacked.target);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: {max_body}\r\n\r\n",
        attacked.body_path()
    );
    let normal = attacked.normal_client();
    let results = trickle(
        &attacked.target,
        connections,
        head.as_bytes(),
        b"x",
        interval,
        timeout + slack + WAIT,
    );
    let normal = normal.finish_and_check(10);
    let (earliest, latest, answered) = check_closed_by_timeout(&results, timeout, slack);
    assert_no_leaks(&attacked.server, &attacked.target, baseline);
    attacked.assert_nothing_ran("slow body");
    eprintln!(
        "{} slow body: {connections} × POST {} declaring {max_body} bytes, 1 byte / \
         {interval:?}, body timeout {timeout:?}: all closed {earliest:?}..{latest:?} after \
         their head ({answered} answered 408); normal client: {} requests, p99 {:?}",
        attacked.name(),
        attacked.body_path(),
        normal.latencies.samples.len(),
        normal.latencies.p99(),
    )
}

/// A connection whose receive window stays small, so that a reader that never reads stalls
/// the server's writes after a few KiB rather than after the kernel's autotuned buffers.
fn connect_small_window(target: &Target) -> Stream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect_timeout(&target.addr.into(), WAIT).unwrap();
    let tcp = TcpStream::from(socket);
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.set_write_timeout(Some(WAIT)).unwrap();
    target
        .wrap(tcp)
        .unwrap_or_else(|err| panic!("connecting to the {target:?}: {err}"))
}

/// Slow readers: the large response asked for, never read; dropped after the send timeout.
fn slow_readers(attacked: &Attacked, connections: usize) {
    let timeout = attacked.config.connection.send_timeout;
    let (server, target) = (&attacked.server, &attacked.target);
    attacked.assert_serves();
    let (baseline, baseline_rss) = (idle_baseline(server, target), rss_bytes(std::process::id()));
    let normal = attacked.normal_client();
    let began = Instant::now();
    let stalled: Vec<Stream> = (0..connections)
        .map(|_| {
            let mut stream = connect_small_window(target);
            stream.write_all(&attacked.big_request).unwrap();
            stream.flush().unwrap();
            stream
        })
        .collect();
    let mut peak = baseline_rss;
    let mut most_held = 0;
    eventually("the slow readers are dropped", timeout + 2 * WAIT, || {
        peak = peak.max(rss_bytes(std::process::id()));
        let active = held(server, target);
        most_held = most_held.max(active);
        most_held >= connections && active <= 1
    });
    let dropped_after = began.elapsed();
    let normal = normal.finish_and_check(10);
    let per_connection = peak.saturating_sub(baseline_rss) / connections as u64;
    assert!(
        dropped_after >= timeout,
        "the slow readers were dropped after {dropped_after:?}, before the {timeout:?} send \
         timeout"
    );
    assert!(
        per_connection < 1024 * 1024,
        "a slow reader cost {} of resident memory",
        kib(per_connection)
    );
    drop(stalled);
    assert_no_leaks(server, target, baseline);
    attacked.assert_nothing_ran("slow readers");
    eprintln!(
        "{} slow readers: {connections} × {} never read, send timeout {timeout:?}: all dropped \
         {dropped_after:?} after the requests; resident memory +{} per connection; normal \
         client: {} requests, p99 {:?}",
        attacked.name(),
        match target.listener {
            Listener::Admin => format!("{ADMIN_PIPELINED} pipelined GET /admin/tree.html"),
            _ => format!("GET of a {} MiB file", attacked.big_len >> 20),
        },
        kib(per_connection),
        normal.latencies.samples.len(),
        normal.latencies.p99(),
    );
}

// ---------------------------------------------------------------------------------------------
// Connection flood.

/// Opens `count` silent TCP connections (for TLS: never a handshake) from four threads; the
/// ones the kernel completed.
fn open_flood(target: &Target, count: usize) -> Vec<TcpStream> {
    let threads: Vec<_> = (0..4)
        .map(|lane| {
            let target = target.clone();
            std::thread::spawn(move || {
                (lane..count)
                    .step_by(4)
                    .filter_map(|_| target.connect_tcp(Duration::from_secs(3)).ok())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect()
}

/// `web_server_connections_accepted_total` now (the recorder is process-wide; the flood tests
/// run alone, under `serial`).
fn accepted_total() -> f64 {
    web_server::metrics::render()
        .lines()
        .find_map(|line| line.strip_prefix("web_server_connections_accepted_total "))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

/// Connections a server may hold at its limit: `limit`, plus the reclaims under way (at most a
/// batch of 32 per worker, two workers here): connections told to close for room whose slots
/// come back as they go.
fn margin(limit: usize) -> usize {
    limit + 2 * 32
}

/// A flood of `count` silent connections against a listener admitting `limit`; the attacker
/// keeps every `keep_every`-th. `timeout` is what closes a silent one (the TLS handshake timeout,
/// or the header timeout). A sampler watches the connections held throughout.
fn flood(attacked: &Attacked, count: usize, keep_every: usize, limit: usize, timeout: Duration) {
    let (server, target) = (&attacked.server, &attacked.target);
    attacked.assert_serves();
    let baseline = idle_baseline(server, target);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (summary, most_held) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut most = 0;
            while !done.load(Ordering::Acquire) {
                most = most.max(held(server, target));
                std::thread::sleep(Duration::from_millis(5));
            }
            most
        });
        let accepted_before = accepted_total();
        let began = Instant::now();
        let flood = open_flood(target, count);
        let opened = flood.len();
        let opened_in = began.elapsed();
        // Normal clients come once the flood is held: accepted whole, nothing more arriving.
        // While a burst is still being accepted, every newcomer reclaims the oldest reusable
        // connection, and a client in the middle of its exchange can be that one (nginx's
        // reuse behaves alike): the guarantee is for a flood that is held, not one that churns.
        support::eventually("the server accepted the whole flood", 2 * WAIT, || {
            accepted_total() - accepted_before >= opened as f64
        });
        let (path, body) = attacked.normal_path();
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let mut latencies = support::abuse::Latencies::default();
        for _ in 0..5 {
            let sent = Instant::now();
            let reply = target
                .try_send(request.as_bytes())
                .unwrap_or_else(|err| panic!("a normal client failed during the flood: {err}"));
            assert_eq!((reply.status, reply.body.as_slice()), (200, body));
            latencies.samples.push(sent.elapsed());
        }
        // The attacker gives up on most connections; every `keep_every`-th stays, silent.
        let silent: Vec<TcpStream> = flood.into_iter().step_by(keep_every).collect();
        let kept = silent.len();
        for mut stream in silent {
            let received = support::abuse::read_until_close(&mut stream, timeout + 2 * WAIT);
            assert!(
                received.closed,
                "a silent flood connection was never closed"
            );
            assert!(
                received.bytes.is_empty(),
                "a silent connection got an answer: {:?}",
                received.bytes
            );
        }
        let all_closed_after = began.elapsed();
        done.store(true, Ordering::Release);
        let most_held = sampler.join().unwrap();
        let summary = format!(
            "{opened} of {count} silent connections opened in {opened_in:?} against a limit of \
             {limit}; {kept} kept silent, all closed (reclaimed, or by the {timeout:?} \
             timeout) {all_closed_after:?} after the flood began; normal client: {} requests \
             served while it was held, max {:?}",
            latencies.samples.len(),
            latencies.max()
        );
        (summary, most_held)
    });
    assert!(
        most_held <= margin(limit),
        "{most_held} connections held on the {target:?}, limit {limit}"
    );
    // At the limit the oldest silent connections are reclaimed a batch at a time for the newer
    // ones, so the count moves between the limit less a batch and the limit: the flood reaches
    // it, however the samples fall.
    assert!(
        most_held >= limit / 2,
        "the flood never filled the {target:?} ({most_held} held at most, limit {limit})"
    );
    attacked.assert_serves();
    assert_no_leaks(server, target, baseline);
    attacked.assert_nothing_ran("flood");
    eprintln!(
        "{} connection flood: {summary}; at most {most_held} held",
        attacked.name()
    );
}

// ---------------------------------------------------------------------------------------------
// Oversized requests.

/// One answer with a status in `allowed`, announcing and doing the close.
fn assert_rejected_and_closed(what: &str, received: &Received, allowed: &[u16]) -> Reply {
    let (responses, rest) = split_replies(&received.bytes);
    let shown = String::from_utf8_lossy(&received.bytes[..received.bytes.len().min(300)]);
    assert_eq!(responses.len(), 1, "{what}: expected one answer: {shown}");
    assert!(rest.is_empty(), "{what}: bytes after the answer: {shown}");
    let status = responses[0].status;
    assert!(
        allowed.contains(&status),
        "{what}: answered {status}, expected {allowed:?}: {shown}"
    );
    assert_eq!(
        responses[0].header("connection"),
        Some("close"),
        "{what}: the answer announces the close"
    );
    assert!(received.closed, "{what}: the connection stayed open");
    responses.into_iter().next().unwrap()
}

fn oversized(attacked: &Attacked) {
    let target = &attacked.target;
    let limits = attacked.config.connection.limits;
    let (get, post) = (attacked.normal_path().0, attacked.body_path());
    let long_line = format!(
        "GET {get}?{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "q".repeat(64 * 1024)
    );
    let just_over_line = format!(
        "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(limits.max_request_line)
    );
    let header = |len: usize| {
        format!(
            "GET {get} HTTP/1.1\r\nHost: localhost\r\nCookie: {}\r\n\r\n",
            "c".repeat(len)
        )
    };
    let fields = |count: usize| {
        let mut request = format!("GET {get} HTTP/1.1\r\nHost: localhost\r\n");
        for i in 0..count {
            request.push_str(&format!("X-H{i}: v\r\n"));
        }
        request + "\r\n"
    };
    let cases: Vec<(String, String, u16)> = vec![
        ("64 KiB request line".into(), long_line, 414),
        (
            format!("request line of {} bytes", limits.max_request_line + 20),
            just_over_line,
            414,
        ),
        ("1 MiB header".into(), header(1024 * 1024), 431),
        (
            format!("header just over {} bytes", limits.max_header_bytes),
            header(limits.max_header_bytes),
            431,
        ),
        ("10,000 headers".into(), fields(10_000), 431),
        (
            format!("{} headers", limits.max_headers + 1),
            fields(limits.max_headers + 1),
            431,
        ),
    ];
    for (what, request, status) in cases {
        let received = target.send_and_receive(request.as_bytes(), false);
        assert_rejected_and_closed(&what, &received, &[status]);
    }
    // Bodies over the limit: answered from the head (or the chunk size crossing it) alone.
    let declared = format!(
        "POST {post} HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: {}\r\n\r\n",
        limits.max_body_bytes + 1
    );
    let received = target.send_and_receive(declared.as_bytes(), false);
    assert_rejected_and_closed("a body over max_body_bytes, declared", &received, &[413]);
    let declared = format!("POST {post} HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: 1073741824\r\n\r\n");
    let received = target.send_and_receive(declared.as_bytes(), false);
    assert_rejected_and_closed("1 GiB declared", &received, &[413]);
    let half = limits.max_body_bytes as usize / 2 + 1;
    let chunked = [
        format!(
            "POST {post} HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nTransfer-Encoding: chunked\r\n\r\n{half:x}\r\n"
        )
        .as_bytes(),
        &vec![b'x'; half],
        format!("\r\n{half:x}\r\n").as_bytes(),
    ]
    .concat();
    let received = target.send_and_receive(&chunked, false);
    assert_rejected_and_closed("chunks over max_body_bytes", &received, &[413]);
    attacked.assert_serves();
    attacked.assert_nothing_ran("oversized requests");
    eprintln!(
        "{} oversized: request line, header section, field count and body over the release \
         limits ({limits:?}) answered 414 / 431 / 413 and closed",
        attacked.name()
    );
}

// ---------------------------------------------------------------------------------------------
// Request smuggling.

/// Framing attacks on `POST path`, each hiding `hidden` where a lenient parser would take it
/// for the next request: (name, request).
fn smuggling_cases(path: &str, hidden: &str) -> Vec<(&'static str, Vec<u8>)> {
    let post = |version: &str, fields: &str, body: &str| {
        let host = if version == "HTTP/1.1" {
            "Host: localhost\r\nX-Requested-By: tests\r\n"
        } else {
            "X-Requested-By: tests\r\n"
        };
        format!("POST {path} {version}\r\n{host}{fields}\r\n{body}").into_bytes()
    };
    let last_chunk_then_hidden = format!("0\r\n\r\n{hidden}");
    let hidden_in_a_chunk = format!("{:x}\r\n{hidden}\r\n0\r\n\r\n", hidden.len());
    let size_line = format!("{:x}\r\n", hidden.len());
    let n = hidden.len();
    let cl = last_chunk_then_hidden.len();
    vec![
        (
            "CL.TE",
            post(
                "HTTP/1.1",
                &format!("Content-Length: {cl}\r\nTransfer-Encoding: chunked\r\n"),
                &last_chunk_then_hidden,
            ),
        ),
        (
            "TE.CL",
            post(
                "HTTP/1.1",
                &format!(
                    "Transfer-Encoding: chunked\r\nContent-Length: {}\r\n",
                    size_line.len()
                ),
                &hidden_in_a_chunk,
            ),
        ),
        (
            "TE identity + CL",
            post(
                "HTTP/1.1",
                &format!("Transfer-Encoding: identity\r\nContent-Length: {cl}\r\n"),
                &last_chunk_then_hidden,
            ),
        ),
        (
            "CL + TE with a space before the colon",
            post(
                "HTTP/1.1",
                &format!("Content-Length: {cl}\r\nTransfer-Encoding : chunked\r\n"),
                &last_chunk_then_hidden,
            ),
        ),
        (
            "TE folded + CL",
            post(
                "HTTP/1.1",
                &format!("Transfer-Encoding:\r\n chunked\r\nContent-Length: {cl}\r\n"),
                &last_chunk_then_hidden,
            ),
        ),
        (
            "TE chunked twice",
            post(
                "HTTP/1.1",
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                &last_chunk_then_hidden,
            ),
        ),
        (
            "Content-Length 0 then n",
            post(
                "HTTP/1.1",
                &format!("Content-Length: 0\r\nContent-Length: {n}\r\n"),
                hidden,
            ),
        ),
        (
            "Content-Length list n, 0",
            post("HTTP/1.1", &format!("Content-Length: {n}, 0\r\n"), hidden),
        ),
        (
            "Content-Length 2^64",
            post(
                "HTTP/1.1",
                "Content-Length: 18446744073709551616\r\n",
                hidden,
            ),
        ),
        (
            "Content-Length +0",
            post("HTTP/1.1", "Content-Length: +0\r\n", hidden),
        ),
        (
            "chunk size 2^64 (wraps to 0)",
            post(
                "HTTP/1.1",
                "Transfer-Encoding: chunked\r\n",
                &format!("10000000000000000\r\n\r\n{hidden}"),
            ),
        ),
        (
            "bare LF after the last chunk",
            post(
                "HTTP/1.1",
                "Transfer-Encoding: chunked\r\n",
                &format!("0\n\n{hidden}"),
            ),
        ),
        (
            "chunk size larger than its data",
            post(
                "HTTP/1.1",
                "Transfer-Encoding: chunked\r\n",
                &format!("3\r\nhello\r\n0\r\n\r\n{hidden}"),
            ),
        ),
        (
            "HTTP/1.0 + TE",
            post(
                "HTTP/1.0",
                "Transfer-Encoding: chunked\r\n",
                &last_chunk_then_hidden,
            ),
        ),
    ]
}

fn smuggling(attacked: &Attacked) {
    let target = &attacked.target;
    let hidden = attacked.hidden();
    let hidden_path = hidden.split(' ').nth(1).unwrap();
    let cases = smuggling_cases(attacked.body_path(), hidden);
    let count = cases.len();
    for (name, request) in cases {
        let received = target.send_and_receive(&request, false);
        let shown = String::from_utf8_lossy(&received.bytes).into_owned();
        assert!(
            find(&received.bytes, MARKER).is_none() && find(&received.bytes, b"killed").is_none(),
            "{name}: the hidden request was answered: {shown}"
        );
        assert_rejected_and_closed(name, &received, &[400]);
        attacked.assert_nothing_ran(name);
    }
    attacked.assert_serves();
    eprintln!(
        "{} smuggling: {count} framing attacks on POST {} hiding {hidden_path}: all 400 and \
         closed, the hidden request never ran",
        attacked.name(),
        attacked.body_path()
    );
}

/// The detectors work: asked for directly, the hidden requests run.
fn smuggling_detectors(attacked: &Attacked) {
    let hidden = attacked.hidden();
    let reply = attacked
        .target
        .try_send(hidden.as_bytes())
        .expect("the hidden request answers");
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    match attacked.target.listener {
        Listener::Admin => {
            let killed = attacked
                .server
                .snapshot()
                .find("web_server_cache")
                .unwrap()
                .restarts_total;
            assert_eq!(killed, 1, "the kill route kills");
            let reload = format!(
                "POST {} HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: 0\r\n\r\n",
                attacked.body_path()
            );
            let reply = attacked.target.try_send(reload.as_bytes()).unwrap();
            assert_eq!(reply.status, 422, "the counting source refuses the reload");
            assert_eq!(attacked.reloads.load(Ordering::SeqCst), 1);
        }
        _ => assert_eq!(attacked.smuggled.load(Ordering::SeqCst), 1),
    }
}

// ---------------------------------------------------------------------------------------------
// Garbage.

/// Well-formed admin requests the admin garbage mutates.
const ADMIN_TEMPLATES: &[&[u8]] = &[
    b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n",
    b"GET /admin/tree?connections=all HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"HEAD /admin/tree.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /admin/config HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer x\r\n\r\n",
    b"POST /admin/reload HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /admin/actors/web_server_cache/kill HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /admin/actors/web_server_tcp_acceptor_sup%2F0/kill HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
    b"OPTIONS /admin/reload HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\nGET /ready HTTP/1.1\r\nHost: localhost\r\n\r\n",
];

/// `cases` garbage requests, each on its own connection followed by the client's half-close,
/// four senders at once; every connection ends, nothing answers an unexpected 5xx, and the
/// listener serves between batches.
fn garbage(attacked: &Attacked, cases: usize) {
    let seed = seed(0x5EED_0FA1_1BAD);
    let templates = match attacked.target.listener {
        Listener::Admin => ADMIN_TEMPLATES,
        _ => TEMPLATES,
    };
    attacked.assert_serves();
    let baseline = idle_baseline(&attacked.server, &attacked.target);
    let mut rng = Xorshift::new(seed);
    let all: Vec<(usize, Vec<u8>)> = (0..cases)
        .map(|i| (i, generate_from(&mut rng, templates)))
        .collect();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for batch in all.chunks(100) {
        let lanes: Vec<_> = (0..4)
            .map(|lane| {
                let target = attacked.target.clone();
                let lane: Vec<(usize, Vec<u8>)> = batch
                    .iter()
                    .filter(|(i, _)| i % 4 == lane)
                    .cloned()
                    .collect();
                std::thread::spawn(move || {
                    let mut statuses = BTreeMap::new();
                    for (i, request) in lane {
                        let received = target.send_and_receive(&request, true);
                        let replay = format!(
                            "seed {seed:#x}, case {i}: {:?}",
                            String::from_utf8_lossy(&request)
                        );
                        assert!(received.closed, "the connection did not end ({replay})");
                        let codes = status_codes(&received.bytes);
                        for &code in &codes {
                            assert!(
                                !(500..600).contains(&code) || code == 501 || code == 505,
                                "answered {code} ({replay}): {}",
                                String::from_utf8_lossy(&received.bytes)
                            );
                            *statuses.entry(code).or_insert(0) += 1;
                        }
                        if codes.is_empty() {
                            *statuses.entry(0).or_insert(0) += 1;
                        }
                    }
                    statuses
                })
            })
            .collect();
        for lane in lanes {
            for (code, count) in lane.join().expect("a garbage sender failed") {
                *statuses.entry(code).or_insert(0) += count;
            }
        }
        attacked.assert_serves();
    }
    for node in attacked.server.snapshot().walk() {
        if node.dynamic.is_none() {
            assert_eq!(node.restarts_total, 0, "{} restarted", node.id);
        }
    }
    assert_no_leaks(&attacked.server, &attacked.target, baseline);
    eprintln!(
        "{} garbage: {cases} requests from seed {seed:#x}; answers by status (0 = closed \
         without one): {statuses:?}",
        attacked.name()
    );
}

// ---------------------------------------------------------------------------------------------
// Resets and half-closes.

const PER_SCENARIO: usize = 10;

/// Opens the scenario's connections (`raw`: TCP only, no handshake), runs `begin` on each,
/// waits until the server holds all of them, then runs `end` on each; afterwards the server
/// holds none and nothing is in CLOSE_WAIT.
fn socket_scenario(
    attacked: &Attacked,
    name: &str,
    raw: bool,
    begin: impl Fn(&mut Stream),
    end: impl Fn(Stream),
) {
    let (server, target) = (&attacked.server, &attacked.target);
    let mut conns: Vec<Stream> = (0..PER_SCENARIO)
        .map(|_| {
            let mut conn = if raw {
                Stream::Plain(target.connect_tcp(WAIT).unwrap())
            } else {
                connect_small_window(target)
            };
            conn.set_read_timeout(Some(WAIT));
            begin(&mut conn);
            conn
        })
        .collect();
    eventually(
        &format!("{name}: the server holds every connection"),
        WAIT,
        || held(server, target) >= PER_SCENARIO,
    );
    for conn in conns.drain(..) {
        end(conn);
    }
    eventually(
        &format!("{name}: the server closed every connection"),
        WAIT,
        || held(server, target) == 0,
    );
    eventually(&format!("{name}: no socket in CLOSE_WAIT"), WAIT, || {
        support::proc::close_wait(target.port()) == 0
    });
}

fn sockets(attacked: &Attacked) {
    let target = &attacked.target;
    let path = attacked.body_path();
    attacked.assert_serves();
    let baseline = idle_baseline(&attacked.server, target);
    let big = attacked.big_request.clone();
    let big_len = attacked.big_len;
    let partial_head = b"GET /a.txt HTTP/1.1\r\nHo".to_vec();
    let partial_body = [
        format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: 1000\r\n\r\n").as_bytes(),
        &[b'x'; 100],
    ]
    .concat();
    let (normal_path, normal_body) = attacked.normal_path();
    let whole = format!("GET {normal_path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let send = |conn: &mut Stream, bytes: &[u8]| {
        conn.write_all(bytes).unwrap();
        conn.flush().unwrap();
    };
    let mid_response = |conn: &mut Stream| {
        send(conn, &big);
        let head = read_head(conn);
        assert_eq!(head.status, 200, "{head:?}");
        let mut some = vec![0u8; 1024];
        conn.read_exact(&mut some).unwrap();
    };
    let half_close_then_read = |mut conn: Stream| {
        conn.half_close();
        let received = read_until_close(&mut conn, WAIT);
        assert!(received.closed, "the server closed after the half-close");
        assert!(received.bytes.is_empty(), "{:?}", received.bytes);
    };
    let tls = target.listener == Listener::Tls;

    socket_scenario(attacked, "RST before any byte", true, |_| {}, Stream::reset);
    socket_scenario(
        attacked,
        "RST mid-head",
        false,
        |c| send(c, &partial_head),
        Stream::reset,
    );
    socket_scenario(
        attacked,
        "RST mid-body",
        false,
        |c| send(c, &partial_body),
        Stream::reset,
    );
    socket_scenario(
        attacked,
        "RST mid-response",
        false,
        mid_response,
        Stream::reset,
    );
    socket_scenario(
        attacked,
        "RST while idle between requests",
        false,
        |c| {
            send(c, whole.as_bytes());
            let reply = support::http::read_reply(c, false);
            assert_eq!((reply.status, reply.body.as_slice()), (200, normal_body));
        },
        Stream::reset,
    );
    socket_scenario(
        attacked,
        "FIN before any byte",
        true,
        |_| {},
        |c| {
            c.fin_only();
            let mut c = c;
            let received = read_until_close(&mut c, WAIT);
            assert!(received.closed && received.bytes.is_empty());
        },
    );
    socket_scenario(
        attacked,
        "half-close mid-head",
        false,
        |c| send(c, &partial_head),
        half_close_then_read,
    );
    socket_scenario(
        attacked,
        "half-close mid-body",
        false,
        |c| send(c, &partial_body),
        half_close_then_read,
    );
    if tls {
        // A TCP FIN without close_notify: an unclean end, dropped the same way.
        socket_scenario(
            attacked,
            "FIN without close_notify mid-head",
            false,
            |c| send(c, &partial_head),
            |mut c| {
                c.fin_only();
                let received = read_until_close(&mut c, WAIT);
                assert!(received.closed, "the server closed after the FIN");
            },
        );
    }
    socket_scenario(
        attacked,
        "half-close after a whole request",
        false,
        |c| send(c, whole.as_bytes()),
        |mut c| {
            c.half_close();
            let received = read_until_close(&mut c, WAIT);
            let (responses, _) = split_replies(&received.bytes);
            assert_eq!(responses.len(), 1, "answered despite the half-close");
            assert_eq!(responses[0].body, normal_body);
            assert!(received.closed);
        },
    );
    socket_scenario(
        attacked,
        "half-close mid-response",
        false,
        mid_response,
        |mut c| {
            c.half_close();
            let received = read_until_close(&mut c, 2 * WAIT);
            assert!(received.closed, "the server closed after the response");
            if big_len > 0 {
                assert_eq!(
                    received.bytes.len(),
                    big_len - 1024,
                    "the response completes after the half-close"
                );
            }
        },
    );
    socket_scenario(
        attacked,
        "close with the response unread",
        false,
        mid_response,
        drop,
    );
    assert_no_leaks(&attacked.server, target, baseline);
    attacked.assert_serves();
    attacked.assert_nothing_ran("resets and half-closes");
    eprintln!(
        "{} resets and half-closes: {} scenarios × {PER_SCENARIO} connections; descriptors back \
         to {baseline}",
        attacked.name(),
        if tls { 12 } else { 11 }
    );
}

// ---------------------------------------------------------------------------------------------
// The TLS listener.

mod tls {
    use super::*;

    fn quick() -> Attacked {
        attack(Listener::Tls, QUICK, BIG_FILE, |_| {})
    }

    #[test]
    fn tls_slowloris_heads_are_closed_at_the_header_timeout_while_others_are_served() {
        let _serial = serial();
        slowloris(
            &quick(),
            30,
            Duration::from_millis(200),
            Duration::from_secs(1),
        );
    }

    #[test]
    fn tls_slow_bodies_are_answered_408_at_the_body_timeout_while_others_are_served() {
        let _serial = serial();
        slow_body(
            &quick(),
            20,
            Duration::from_millis(200),
            Duration::from_secs(1),
        );
    }

    #[test]
    fn tls_slow_readers_are_dropped_after_the_send_timeout_with_bounded_memory() {
        let _serial = serial();
        slow_readers(&quick(), 10);
    }

    #[test]
    fn tls_flood_of_silent_connections_is_bounded_by_max_connections_and_the_handshake_timeout() {
        let _serial = serial();
        require_fds(1_000);
        let limit = 32;
        let attacked = attack(Listener::Tls, QUICK, 1024, |config| {
            config.max_connections = limit;
        });
        let timeout = attacked.config.tls.as_ref().unwrap().handshake_timeout;
        flood(&attacked, 200, 4, limit, timeout);
    }

    #[test]
    fn tls_oversized_request_lines_heads_and_bodies_are_414_431_413_and_close() {
        oversized(&attack(Listener::Tls, Timeouts::Release, 1024, |_| {}));
    }

    #[test]
    fn tls_smuggling_framings_are_400_and_close_and_the_hidden_request_never_runs() {
        let attacked = attack(Listener::Tls, Timeouts::Release, 1024, |_| {});
        smuggling(&attacked);
        smuggling_detectors(&attacked);
    }

    #[test]
    fn tls_garbage_requests_leave_the_listener_alive_and_serving() {
        let _serial = serial();
        garbage(&attack(Listener::Tls, QUICK, 1024, |_| {}), 200);
    }

    #[test]
    fn tls_resets_and_half_closes_anywhere_leave_no_descriptor_and_no_close_wait() {
        let _serial = serial();
        sockets(&attack(
            Listener::Tls,
            Timeouts::Release,
            4 * 1024 * 1024,
            |_| {},
        ));
    }

    #[test]
    #[ignore = "long: 500 TLS slowloris connections at 1 byte / 2 s against the release \
                profile's 5 s header timeout (~8 s); run with --ignored"]
    fn tls_slowloris_long_500_connections_one_byte_every_2_s() {
        let _serial = serial();
        require_fds(1_500);
        let attacked = attack(Listener::Tls, Timeouts::Release, 1024, |_| {});
        slowloris(
            &attacked,
            500,
            Duration::from_secs(2),
            Duration::from_secs(3),
        );
    }

    #[test]
    #[ignore = "long: 200 TLS slow bodies at 1 byte / 2 s against the release profile's 15 s \
                body timeout (~18 s); run with --ignored"]
    fn tls_slow_body_long_200_connections_one_byte_every_2_s() {
        let _serial = serial();
        require_fds(600);
        let attacked = attack(Listener::Tls, Timeouts::Release, 1024, |_| {});
        slow_body(
            &attacked,
            200,
            Duration::from_secs(2),
            Duration::from_secs(3),
        );
    }

    #[test]
    #[ignore = "long: 50 TLS readers of a 64 MiB file that never read, against the release \
                profile's 30 s send timeout (~35 s); run with --ignored"]
    fn tls_slow_readers_long_50_connections_64_mib() {
        let _serial = serial();
        require_fds(300);
        let attacked = attack(Listener::Tls, Timeouts::Release, 64 * 1024 * 1024, |_| {});
        slow_readers(&attacked, 50);
    }

    #[test]
    #[ignore = "long: 5,000 silent TLS connections against the release profile's \
                max_connections of 1,024 and 10 s handshake timeout (~60 s, needs `ulimit -n` \
                of at least 12000); run with --ignored"]
    fn tls_flood_long_5000_connections() {
        let _serial = serial();
        require_fds(12_000);
        let attacked = attack(Listener::Tls, Timeouts::Release, 1024, |config| {
            config.backlog = 4096;
        });
        let limit = attacked.config.max_connections;
        let timeout = attacked.config.tls.as_ref().unwrap().handshake_timeout;
        flood(&attacked, 5_000, 10, limit, timeout);
    }

    #[test]
    #[ignore = "long: 1,000 TLS garbage requests (~15 s); run with --ignored"]
    fn tls_garbage_long_1000_requests() {
        let _serial = serial();
        garbage(
            &attack(Listener::Tls, Timeouts::Release, 1024, |_| {}),
            1_000,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The admin endpoint.

mod admin {
    use super::*;

    /// The admin endpoint's own connection limit (crates/server/src/admin/mod.rs).
    const ADMIN_MAX_CONNECTIONS: usize = 256;

    fn quick() -> Attacked {
        attack(Listener::Admin, QUICK, 1024, |_| {})
    }

    #[test]
    fn admin_slowloris_heads_are_closed_at_the_header_timeout_while_health_is_served() {
        let _serial = serial();
        slowloris(
            &quick(),
            30,
            Duration::from_millis(200),
            Duration::from_secs(1),
        );
    }

    #[test]
    fn admin_slow_reload_bodies_are_answered_408_at_the_body_timeout_and_reload_nothing() {
        let _serial = serial();
        slow_body(
            &quick(),
            20,
            Duration::from_millis(200),
            Duration::from_secs(1),
        );
    }

    #[test]
    fn admin_slow_readers_are_dropped_after_the_send_timeout_with_bounded_memory() {
        let _serial = serial();
        slow_readers(&quick(), 10);
    }

    #[test]
    fn admin_flood_of_silent_connections_is_bounded_by_its_limit_and_the_header_timeout() {
        let _serial = serial();
        require_fds(1_500);
        // 2 s rather than 1: time for the flood to fill the endpoint on a busy machine before
        // the first silent ones time out. 330 connections: the limit, the endpoint's backlog
        // of 64 and a few the kernel makes retry.
        let attacked = attack(
            Listener::Admin,
            Timeouts::Scaled(Duration::from_secs(2)),
            1024,
            |_| {},
        );
        let timeout = attacked.config.connection.header_timeout;
        flood(&attacked, 330, 2, ADMIN_MAX_CONNECTIONS, timeout);
    }

    #[test]
    fn admin_oversized_request_lines_heads_and_bodies_are_414_431_413_and_close() {
        oversized(&attack(Listener::Admin, Timeouts::Release, 1024, |_| {}));
    }

    #[test]
    fn admin_smuggling_framings_on_reload_are_400_and_close_and_neither_reload_nor_kill() {
        let attacked = attack(Listener::Admin, Timeouts::Release, 1024, |_| {});
        smuggling(&attacked);
        smuggling_detectors(&attacked);
    }

    #[test]
    fn admin_garbage_requests_leave_the_endpoint_alive_and_serving() {
        let _serial = serial();
        // As in production: kills refused, so legitimate mutations kill nothing either.
        let attacked = attack(Listener::Admin, QUICK, 1024, |config| {
            config.admin.as_mut().unwrap().allow_kill = false;
        });
        garbage(&attacked, 200);
    }

    #[test]
    fn admin_resets_and_half_closes_anywhere_leave_no_descriptor_and_no_close_wait() {
        let _serial = serial();
        sockets(&attack(Listener::Admin, Timeouts::Release, 1024, |_| {}));
    }

    #[test]
    #[ignore = "long: 200 admin slowloris connections at 1 byte / 2 s against the release \
                profile's 5 s header timeout (~8 s); run with --ignored"]
    fn admin_slowloris_long_200_connections_one_byte_every_2_s() {
        let _serial = serial();
        let attacked = attack(Listener::Admin, Timeouts::Release, 1024, |_| {});
        slowloris(
            &attacked,
            200,
            Duration::from_secs(2),
            Duration::from_secs(3),
        );
    }

    #[test]
    #[ignore = "long: 200 slow admin reload bodies at 1 byte / 2 s against the release \
                profile's 15 s body timeout (~18 s); run with --ignored"]
    fn admin_slow_body_long_200_connections_one_byte_every_2_s() {
        let _serial = serial();
        let attacked = attack(Listener::Admin, Timeouts::Release, 1024, |_| {});
        slow_body(
            &attacked,
            200,
            Duration::from_secs(2),
            Duration::from_secs(3),
        );
    }

    #[test]
    #[ignore = "long: 50 admin readers that never read, against the release profile's 30 s \
                send timeout (~35 s); run with --ignored"]
    fn admin_slow_readers_long_50_connections() {
        let _serial = serial();
        let attacked = attack(Listener::Admin, Timeouts::Release, 1024, |_| {});
        slow_readers(&attacked, 50);
    }

    #[test]
    #[ignore = "long: 2,000 silent connections against the admin endpoint's 256 and the \
                release profile's 5 s header timeout (~45 s); run with --ignored"]
    fn admin_flood_long_2000_connections() {
        let _serial = serial();
        require_fds(5_000);
        let attacked = attack(Listener::Admin, Timeouts::Release, 1024, |_| {});
        let timeout = attacked.config.connection.header_timeout;
        flood(&attacked, 2_000, 10, ADMIN_MAX_CONNECTIONS, timeout);
    }

    #[test]
    #[ignore = "long: 1,000 admin garbage requests (~10 s); run with --ignored"]
    fn admin_garbage_long_1000_requests() {
        let _serial = serial();
        let attacked = attack(Listener::Admin, Timeouts::Release, 1024, |config| {
            config.admin.as_mut().unwrap().allow_kill = false;
        });
        garbage(&attacked, 1_000);
    }
}

/// The plain listener through the same scenario code: a cross-check that the generic client
/// sees what `tests/abuse_*.rs` see (they keep the plain listener's full suite).
#[test]
fn plain_smuggling_and_oversized_through_the_generic_client_match_the_plain_suite() {
    let attacked = attack(Listener::Plain, Timeouts::Release, 1024, |_| {});
    smuggling(&attacked);
    oversized(&attacked);
    smuggling_detectors(&attacked);
}
