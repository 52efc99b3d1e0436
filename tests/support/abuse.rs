//! Helpers for the abuse suite (`tests/abuse_*.rs`): process-wide measurements (resident
//! memory, open descriptors, sockets left in CLOSE_WAIT), bounded probes, a deterministic PRNG,
//! a "normal client" that measures latency while an attack runs, trickling attackers, and raw
//! clients that read until the server closes.
//!
//! The server under test runs in this process ([`super::TestServer`]), so `/proc/self` measures
//! it (plus the test's own clients, which are counted in the baselines). Tests that measure
//! process-wide quantities take [`serial`] so that other tests of the same binary do not disturb
//! them; cargo runs test binaries one at a time.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::WAIT;

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the rest of the test alone among the tests of this binary that also take it.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Process-wide measurements.

/// This process's resident memory (`VmRSS` in `/proc/self/status`), in bytes.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reads /proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS is a number of kB");
    kib * 1024
}

/// Descriptors open in this process (entries of `/proc/self/fd`, minus the one `read_dir`
/// itself holds while listing).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("lists /proc/self/fd")
        .count()
        .saturating_sub(1)
}

/// The soft limit on open descriptors (`Max open files` in `/proc/self/limits`).
pub fn fd_soft_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("reads /proc/self/limits");
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("Max open files in /proc/self/limits");
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()
        .unwrap();
    soft.parse().unwrap_or(u64::MAX) // "unlimited"
}

/// Fails the test with instructions when this process may not open `needed` descriptors.
pub fn require_fds(needed: u64) {
    let limit = fd_soft_limit();
    assert!(
        limit >= needed,
        "this test needs about {needed} open descriptors (client and server sockets in one \
         process) but the soft limit is {limit}: run it after `ulimit -n {}`",
        needed.next_power_of_two().max(4096)
    );
}

/// Sockets in CLOSE_WAIT (state `08` in `/proc/net/tcp` and `/proc/net/tcp6`) whose local port
/// is `port`: connections the peer closed but the server never did.
pub fn close_wait(port: u16) -> usize {
    tcp_states(port)
        .iter()
        .filter(|&&state| state == 0x08)
        .count()
}

/// The states of every socket in `/proc/net/tcp{,6}` whose local port is `port`.
pub fn tcp_states(port: u16) -> Vec<u8> {
    let mut states = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 4 {
                continue;
            }
            let local_port = fields[1]
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            if local_port == Some(port) {
                if let Ok(state) = u8::from_str_radix(fields[3], 16) {
                    states.push(state);
                }
            }
        }
    }
    states
}

/// Probes `condition` every 20 ms until it holds, failing the test after `limit`; returns how
/// long it took.
pub fn eventually(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) -> Duration {
    let began = Instant::now();
    while !condition() {
        assert!(
            began.elapsed() < limit,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    began.elapsed()
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
        fds = open_fds();
        fds <= baseline_fds
    });
    eventually("no socket is left in CLOSE_WAIT", WAIT, || {
        close_wait(port) == 0
    });
}

/// A fresh, empty directory under the system's temporary directory.
pub fn fresh_dir(label: &str) -> std::path::PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "web_server_abuse_{label}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
        let stop = Arc::new(AtomicBool::new(false));
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        let body = body.to_vec();
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut report = NormalReport::default();
                while !stop.load(Ordering::Acquire) {
                    let began = Instant::now();
                    match get_once(addr, &request) {
                        Ok((200, got)) if got == body => {
                            report.latencies.samples.push(began.elapsed())
                        }
                        Ok((status, _)) => report.failures.push(format!("answered {status}")),
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

/// One request on a fresh connection; the status and body of the answer (Content-Length
/// framed).
pub fn get_once(addr: SocketAddr, request: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT)?;
    stream.set_read_timeout(Some(WAIT))?;
    stream.write_all(request.as_bytes())?;
    let mut reader = ResponseReader::new(stream);
    let reply = reader.next_response()?;
    Ok((reply.status, reply.body))
}

/// `GET path` on a fresh connection: its status and body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    get_once(addr, &format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"))
        .unwrap_or_else(|err| panic!("GET {path}: {err}"))
}

// ---------------------------------------------------------------------------------------------
// Buffered response parsing (the harness's `read_reply` reads byte by byte, too slow for
// thousands of pipelined answers).

/// One response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads Content-Length-framed responses from a stream through a buffer.
pub struct ResponseReader<R: Read> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
}

impl<R: Read> ResponseReader<R> {
    pub fn new(inner: R) -> Self {
        ResponseReader {
            inner,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
        }
    }

    fn fill(&mut self) -> std::io::Result<()> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = self.inner.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                "connection closed before a whole response",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next response (bodies framed by Content-Length; none for 1xx, 204 and 304).
    pub fn next_response(&mut self) -> std::io::Result<Response> {
        let head_end = loop {
            if let Some(at) = find(&self.buf[self.start..], b"\r\n\r\n") {
                break self.start + at + 4;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.buf[self.start..head_end]).into_owned();
        let (status, headers) = parse_head(&head).ok_or_else(|| {
            std::io::Error::new(ErrorKind::InvalidData, format!("bad head {head:?}"))
        })?;
        let length = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let length = if status < 200 || status == 204 || status == 304 {
            0
        } else {
            length
        };
        while self.buf.len() < head_end + length {
            self.fill()?;
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.start = head_end + length;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Bytes received but not yet parsed.
    pub fn leftover(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

/// The status and fields of a response head (`HTTP/1.x NNN reason\r\n` + fields).
pub fn parse_head(head: &str) -> Option<(u16, Vec<(String, String)>)> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    if !status_line.starts_with("HTTP/1.") {
        return None;
    }
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.to_owned(), v.trim().to_owned()))
        })
        .collect();
    Some((status, headers))
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits everything a connection received into responses (Content-Length framed); the
/// unparsable rest is returned too.
pub fn split_responses(mut bytes: &[u8]) -> (Vec<Response>, Vec<u8>) {
    let mut reader = ResponseReader::new(&mut bytes);
    let mut responses = Vec::new();
    while let Ok(response) = reader.next_response() {
        responses.push(response);
    }
    let rest = reader.leftover().to_vec();
    (responses, rest)
}

/// Every status code at the start of a status line in `bytes` (a rough scan, for statistics).
pub fn status_codes(bytes: &[u8]) -> Vec<u16> {
    let mut codes = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&bytes[at..], b"HTTP/1.1 ") {
        let begin = at + found + 9;
        if let Some(code) = bytes
            .get(begin..begin + 3)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse().ok())
        {
            codes.push(code);
        }
        at = begin;
    }
    codes
}

// ---------------------------------------------------------------------------------------------
// Raw clients.

/// A connection with read and write timeouts of [`WAIT`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connects");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

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

/// Human-readable MiB / KiB.
pub fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
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
