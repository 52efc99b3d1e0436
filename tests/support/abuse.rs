//! Helpers for the abuse suite (`tests/abuse_*.rs`): the descriptor limit and leak checks,
//! bounded probes, a deterministic PRNG, a "normal client" that measures latency while an attack
//! runs, trickling attackers, and raw clients that read until the server closes.
//!
//! The server under test runs in this process ([`super::TestServer`]), so this process's
//! measurements ([`super::proc`] with [`std::process::id`]) measure it, plus the test's own
//! clients, which are counted in the baselines. Tests that measure process-wide quantities take
//! [`serial`] so that other tests of the same binary do not disturb them; cargo runs test
//! binaries one at a time.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::http::{connect, try_send};
use super::proc::{close_wait, fd_soft_limit, open_fds, rss_bytes};
use super::{eventually, WAIT};

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the rest of the test alone among the tests of this binary that also take it.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Process-wide measurements.

/// Fails the test with instructions when this process may not open `needed` descriptors.
pub fn require_fds(needed: u64) {
    let limit = fd_soft_limit(std::process::id());
    assert!(
        limit >= needed,
        "this test needs about {needed} open descriptors (client and server sockets in one \
         process) but the soft limit is {limit}: run it after `ulimit -n {}`",
        needed.next_power_of_two().max(4096)
    );
}

/// Waits until the server is idle (see [`assert_no_leaks`]), then measures what an attack is
/// compared with: this process's open descriptors and resident memory.
pub fn idle_baseline(server: &super::TestServer) -> (usize, u64) {
    assert_no_leaks(server, usize::MAX);
    let pid = std::process::id();
    (open_fds(pid), rss_bytes(pid))
}

/// The routes of the abuse targets: `POST /upload` answers `stored`, whatever it sent.
pub fn upload_router() -> web_server::http::Router {
    use web_server::http::{Response, Router, StatusCode};
    let mut router = Router::new();
    router
        .post("/upload", |_req, _params| {
            Response::text(StatusCode::OK, "stored\n")
        })
        .unwrap();
    router
}

/// Waits until the server holds no connection, this process's descriptors are back to
/// `baseline_fds` (or fewer) and no socket on `port` is left in CLOSE_WAIT.
pub fn assert_no_leaks(server: &super::TestServer, baseline_fds: usize) {
    let port = server.addr.port();
    eventually("the server holds no connection", WAIT, || {
        server.active_connections() == 0
    });
    let mut fds = 0;
    eventually("descriptors return to the baseline", WAIT, || {
        fds = open_fds(std::process::id());
        fds <= baseline_fds
    });
    eventually("no socket is left in CLOSE_WAIT", WAIT, || {
        close_wait(port) == 0
    });
}

/// `len` bytes of deterministic, incompressible-looking content.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Xorshift::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------------------------
// A deterministic PRNG (xorshift64*): the same seed gives the same requests on every machine.

/// Marsaglia's xorshift64 with the `*` output multiplier (Vigna).
#[derive(Debug, Clone)]
pub struct Xorshift(u64);

impl Xorshift {
    pub fn new(seed: u64) -> Self {
        // One splitmix64 step, so that nearby seeds give unrelated streams; zero is the
        // generator's one fixed point, so it is avoided.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Xorshift(if z == 0 { 0x9E37_79B9_7F4A_7C15 } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Latency of a normal client while an attack runs.

/// Request latencies.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    pub samples: Vec<Duration>,
}

impl Latencies {
    /// The `q`-quantile (nearest rank), zero without samples.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    pub fn max(&self) -> Duration {
        self.samples.iter().copied().max().unwrap_or_default()
    }
}

/// What a [`NormalClient`] saw.
#[derive(Debug, Default)]
pub struct NormalReport {
    pub latencies: Latencies,
    /// Requests that failed (an I/O error or an unexpected answer), described.
    pub failures: Vec<String>,
}

/// A well-behaved client on a background thread: one `GET path` on a fresh connection every
/// ~10 ms (a new visitor each time, so the accept path is measured too), each expected to answer
/// `200` with `body`, until [`finish`](Self::finish).
pub struct NormalClient {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<NormalReport>>,
}

impl NormalClient {
    pub fn start(addr: SocketAddr, path: &str, body: &[u8]) -> NormalClient {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        NormalClient::start_with(body, move || try_send(addr, &request))
    }

    /// The same client with its own way to send the request on a fresh connection (another
    /// listener's, see [`super::listeners::Target::normal_client`]).
    pub fn start_with(
        body: &[u8],
        mut send: impl FnMut() -> std::io::Result<super::http::Reply> + Send + 'static,
    ) -> NormalClient {
        let stop = Arc::new(AtomicBool::new(false));
        let body = body.to_vec();
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut report = NormalReport::default();
                while !stop.load(Ordering::Acquire) {
                    let began = Instant::now();
                    match send() {
                        Ok(reply) if reply.status == 200 && reply.body == body => {
                            report.latencies.samples.push(began.elapsed())
                        }
                        Ok(reply) => report.failures.push(format!("answered {}", reply.status)),
                        Err(err) => report.failures.push(format!("{err}")),
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                report
            }
        });
        NormalClient {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the client and returns what it saw.
    pub fn finish(mut self) -> NormalReport {
        self.stop.store(true, Ordering::Release);
        self.thread
            .take()
            .unwrap()
            .join()
            .expect("the normal client ran")
    }

    /// Asserts every request succeeded, there were at least `min_samples`, and p99 < 1 s;
    /// returns the report for printing.
    pub fn finish_and_check(self, min_samples: usize) -> NormalReport {
        let report = self.finish();
        assert!(
            report.failures.is_empty(),
            "a normal client's requests failed during the attack: {:?}",
            report.failures
        );
        assert!(
            report.latencies.samples.len() >= min_samples,
            "only {} normal requests completed",
            report.latencies.samples.len()
        );
        assert!(
            report.latencies.p99() < Duration::from_secs(1),
            "a normal client's p99 was {:?}",
            report.latencies.p99()
        );
        report
    }
}

impl Drop for NormalClient {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

// ---------------------------------------------------------------------------------------------
// Raw clients.

/// Closes `stream` with a reset (SO_LINGER 0): the peer sees RST instead of FIN.
pub fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("sets SO_LINGER");
    drop(stream);
}

/// What a connection received until the server closed it.
#[derive(Debug)]
pub struct Received {
    pub bytes: Vec<u8>,
    /// The server closed the connection (EOF, or a reset after its answer).
    pub closed: bool,
    /// It closed with a reset rather than a FIN.
    pub reset: bool,
}

/// Reads until the server closes the connection, for at most `limit`.
pub fn read_until_close(stream: &mut TcpStream, limit: Duration) -> Received {
    let deadline = Instant::now() + limit;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Received {
                bytes,
                closed: false,
                reset: false,
            };
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Received {
                    bytes,
                    closed: true,
                    reset: false,
                }
            }
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                return Received {
                    bytes,
                    closed: true,
                    reset: true,
                }
            }
        }
    }
}

/// Sends `request` on a fresh connection from a writer thread (so a server that answers and
/// closes before reading it all cannot deadlock the test), then half-closes if `half_close`
/// (otherwise only the server can end the connection), and reads until the server closes, for
/// at most [`WAIT`].
pub fn send_and_receive(addr: SocketAddr, request: Vec<u8>, half_close: bool) -> Received {
    let mut stream = connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // The server may close early (it answered an error): later writes fail, which is fine.
        if writer.write_all(&request).is_ok() && half_close {
            let _ = writer.shutdown(std::net::Shutdown::Write);
        }
    });
    let received = read_until_close(&mut stream, WAIT);
    let _ = sender.join();
    received
}

// ---------------------------------------------------------------------------------------------
// Trickling attackers (slowloris, slow body): many connections driven by one thread.

/// How one trickling connection ended.
#[derive(Debug, Clone)]
pub struct Trickled {
    /// When its first byte was written.
    pub first_byte: Instant,
    /// When the server's close was seen, if it was.
    pub closed_after: Option<Duration>,
    /// Bytes of the trickle sent (after the prefix).
    pub trickled: usize,
    /// What the server sent.
    pub received: Vec<u8>,
}

/// Opens `connections` connections, writes `prefix` on each at once, then one byte of
/// `trickle` (cycled) on each every `interval`, watching every 10 ms for the server closing them;
/// stops when all are closed or after `limit`. Closures are timed from each connection's first
/// byte.
pub fn trickle(
    addr: SocketAddr,
    connections: usize,
    prefix: &[u8],
    trickle: &[u8],
    interval: Duration,
    limit: Duration,
) -> Vec<Trickled> {
    struct Slow {
        stream: TcpStream,
        state: Trickled,
        next_write: Instant,
        open: bool,
    }
    let began = Instant::now();
    let mut slow: Vec<Slow> = (0..connections)
        .map(|_| {
            let mut stream = TcpStream::connect_timeout(&addr, WAIT).expect("connects");
            let first_byte = Instant::now();
            let (sent, trickled) = if prefix.is_empty() {
                (stream.write_all(&trickle[..1]), 1)
            } else {
                (stream.write_all(prefix), 0)
            };
            sent.expect("the first bytes are sent");
            stream.set_nonblocking(true).unwrap();
            Slow {
                stream,
                state: Trickled {
                    first_byte,
                    closed_after: None,
                    trickled,
                    received: Vec::new(),
                },
                next_write: first_byte + interval,
                open: true,
            }
        })
        .collect();
    let mut chunk = [0u8; 4096];
    while slow.iter().any(|s| s.open) && began.elapsed() < limit {
        let now = Instant::now();
        for s in slow.iter_mut().filter(|s| s.open) {
            loop {
                match s.stream.read(&mut chunk) {
                    Ok(0) => s.open = false,
                    Ok(n) => {
                        s.state.received.extend_from_slice(&chunk[..n]);
                        continue;
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => s.open = false,
                }
                break;
            }
            if s.open && now >= s.next_write {
                let byte = trickle[s.state.trickled % trickle.len()];
                match s.stream.write(&[byte]) {
                    Ok(_) => s.state.trickled += 1,
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => s.open = false,
                }
                s.next_write += interval;
            }
            if !s.open {
                s.state.closed_after = Some(s.state.first_byte.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    slow.into_iter().map(|s| s.state).collect()
}

/// Summary of a trickle run: (closed, earliest close, latest close).
pub fn close_times(results: &[Trickled]) -> (usize, Duration, Duration) {
    let times: Vec<Duration> = results.iter().filter_map(|r| r.closed_after).collect();
    (
        times.len(),
        times.iter().copied().min().unwrap_or_default(),
        times.iter().copied().max().unwrap_or_default(),
    )
}

/// The server configuration a profile's files give (as the binary would load it), serving
/// `docroot`, bound to 127.0.0.1:0, without the admin endpoint: the long tests run on the real
/// defaults.
pub fn profile_config(
    profile: &str,
    docroot: &std::path::Path,
) -> web_server::server::ServerConfig {
    use clap::Parser;
    let docroot = docroot.to_str().expect("a UTF-8 temporary path");
    let cli = web_server::config::Cli::try_parse_from([
        "web_server",
        "--profile",
        profile,
        "--docroot",
        docroot,
        "--bind",
        "127.0.0.1:0",
    ])
    .expect("valid flags");
    let env = [("WEB_SERVER__ADMIN__BIND", "")];
    let settings = web_server::config::Settings::load_from(&cli, env, &std::env::temp_dir())
        .expect("the profile loads");
    web_server::server::ServerConfig::from_settings(&settings)
}
