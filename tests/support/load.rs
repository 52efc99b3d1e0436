//! A mixed-load client for the chaos and soak suites (`tests/chaos.rs`, `tests/soak.rs`).
//!
//! Each client thread connects, sends a random number of keep-alive requests drawn from a mix
//! (a small file, `Connection: close`, gzip, a range, a 404, a conditional GET), checks every
//! answer byte for byte, then reconnects. Every failure is kept with when it happened and when
//! its connection was opened, so that a chaos drill can tell the failures its kills explain
//! from the others.

#![allow(dead_code)]

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::abuse::{content, Xorshift};
use super::http::{Reply, ReplyReader};
use super::temp::TempDir;

/// Read, write and connect timeout of every load connection: far longer than any answer takes,
/// so that expiring means a connection was left hanging.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Most keep-alive requests on one connection before the client reconnects.
pub const MAX_REQUESTS_PER_CONNECTION: u32 = 40;

// ---------------------------------------------------------------------------------------------
// The site the load asks for.

/// The files of the load's document root, kept to check every answer.
pub struct Site {
    pub dir: TempDir,
    /// `/small.bin`: 1 KiB, below `compression.min_bytes` and not a compressible type.
    pub small: Vec<u8>,
    /// `/page.html`: about 8 KiB of compressible HTML.
    pub page: Vec<u8>,
    /// `/big.bin`: 64 KiB, asked for by ranges.
    pub big: Vec<u8>,
    /// The gzip trailer (CRC-32 and length of `page`, little-endian) that a gzip answer for
    /// `/page.html` must end with: without a decompressor among the test dependencies, this
    /// ties the compressed body to the exact file.
    pub page_gzip_trailer: [u8; 8],
}

impl Site {
    /// Files in the site: the cache keeps at most one open per file.
    pub const FILES: usize = 3;

    pub fn create() -> Site {
        let small = content(1024, 1);
        let big = content(64 * 1024, 2);
        let mut page =
            String::from("<!doctype html>\n<html><head><title>load</title></head><body>\n");
        let mut line = 0;
        while page.len() < 8 * 1024 {
            page.push_str(&format!(
                "<p>Line {line}: the quick brown fox jumps over the lazy dog.</p>\n"
            ));
            line += 1;
        }
        page.push_str("</body></html>\n");
        let page = page.into_bytes();
        let mut page_gzip_trailer = [0u8; 8];
        page_gzip_trailer[..4].copy_from_slice(&crc32(&page).to_le_bytes());
        page_gzip_trailer[4..].copy_from_slice(&(page.len() as u32).to_le_bytes());
        let dir = super::docroot(&[
            ("small.bin", &small),
            ("page.html", &page),
            ("big.bin", &big),
        ]);
        Site {
            dir,
            small,
            page,
            big,
            page_gzip_trailer,
        }
    }
}

/// CRC-32 (IEEE, as gzip's trailer), bit by bit: computed once per site.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ---------------------------------------------------------------------------------------------
// The mix.

/// One kind of request of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `GET /small.bin` on a kept-alive connection: 200 and the exact bytes.
    KeepAlive,
    /// The same with `Connection: close`; the client then reconnects.
    Close,
    /// `GET /page.html` with `Accept-Encoding: gzip`: 200, `Content-Encoding: gzip`, a gzip
    /// body of that file.
    Gzip,
    /// A 100-byte range of `/big.bin`: 206 and those bytes.
    Range,
    /// A path that does not exist: 404.
    Missing,
    /// `GET /small.bin` with `If-None-Match` of its ETag: 304.
    NotModified,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::KeepAlive,
        Kind::Close,
        Kind::Gzip,
        Kind::Range,
        Kind::Missing,
        Kind::NotModified,
    ];

    pub fn index(self) -> usize {
        Kind::ALL.iter().position(|&k| k == self).unwrap()
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::KeepAlive => "keepalive",
            Kind::Close => "close",
            Kind::Gzip => "gzip",
            Kind::Range => "range",
            Kind::Missing => "404",
            Kind::NotModified => "304",
        }
    }
}

/// Relative weights of the kinds, in [`Kind::ALL`] order.
#[derive(Debug, Clone, Copy)]
pub struct Mix(pub [u32; 6]);

impl Default for Mix {
    fn default() -> Self {
        // Mostly kept-alive small files, as browsers fetch; enough closes to keep the accept
        // path busy.
        Mix([35, 10, 15, 15, 10, 15])
    }
}

impl Mix {
    fn pick(&self, rng: &mut Xorshift) -> Kind {
        let total: u32 = self.0.iter().sum();
        let mut at = rng.below(total as usize) as u32;
        for (i, &weight) in self.0.iter().enumerate() {
            if at < weight {
                return Kind::ALL[i];
            }
            at -= weight;
        }
        unreachable!("weights sum to total")
    }
}

/// What to send, and the bounds on it.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Client threads, each with one connection at a time.
    pub clients: usize,
    /// Seeds every client's choices (client `i` uses `seed + i`).
    pub seed: u64,
    pub mix: Mix,
    /// Requests at most, over all clients.
    pub max_requests: u64,
    /// The clients stop at this instant at the latest.
    pub deadline: Instant,
}

// ---------------------------------------------------------------------------------------------
// What went wrong.

/// How a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The connection could not be opened (refused, reset during the handshake …).
    Connect,
    /// The connection failed: a write or read error, or the server closed it before a whole
    /// answer.
    Io,
    /// Nothing happened for [`IO_TIMEOUT`]: a connection left hanging.
    Timeout,
    /// An answer arrived but was wrong (status, headers or body).
    Answer,
}

/// One failed request.
#[derive(Debug, Clone)]
pub struct Failure {
    pub when: Instant,
    /// When the connection it was sent on was opened (or its opening attempted).
    pub conn_opened: Instant,
    /// Answers the connection had given before this failure: 0 means it was never served.
    pub served_before: u32,
    /// The request's kind; `None` when the connection could not be opened.
    pub kind: Option<Kind>,
    pub fault: Fault,
    pub error: String,
}

/// What a load run did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Requests answered as expected, in total and per kind ([`Kind::ALL`] order).
    pub ok: u64,
    pub ok_by_kind: [u64; 6],
    /// Connections opened.
    pub connections: u64,
    pub failures: Vec<Failure>,
    pub elapsed: Duration,
}

impl LoadReport {
    /// `keepalive=N close=N …`.
    pub fn by_kind(&self) -> String {
        Kind::ALL
            .iter()
            .map(|k| format!("{}={}", k.name(), self.ok_by_kind[k.index()]))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// How many failures of each fault and error text.
    pub fn failures_by_error(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for failure in &self.failures {
            *counts
                .entry(format!("{:?}: {}", failure.fault, failure.error))
                .or_insert(0) += 1;
        }
        counts
    }

    pub fn requests_per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

// ---------------------------------------------------------------------------------------------
// The clients.

/// Mixed load running on background threads until [`stop`](Load::stop) or the plan's bounds.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    threads: Vec<JoinHandle<ClientReport>>,
    began: Instant,
}

#[derive(Default)]
struct ClientReport {
    ok_by_kind: [u64; 6],
    connections: u64,
    failures: Vec<Failure>,
}

struct Shared {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    issued: AtomicU64,
    plan: LoadPlan,
    small: Vec<u8>,
    big: Vec<u8>,
    page_gzip_trailer: [u8; 8],
}

impl Load {
    pub fn start(addr: SocketAddr, site: &Site, plan: LoadPlan) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Shared {
            addr,
            stop: stop.clone(),
            ok: ok.clone(),
            failed: failed.clone(),
            issued: AtomicU64::new(0),
            small: site.small.clone(),
            big: site.big.clone(),
            page_gzip_trailer: site.page_gzip_trailer,
            plan,
        });
        let threads = (0..shared.plan.clients)
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("load-{i}"))
                    .spawn(move || client(&shared, i as u64))
                    .expect("spawns a load client")
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            threads,
            began: Instant::now(),
        }
    }

    /// Requests answered as expected so far.
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Requests failed so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Whether every client has stopped by itself (its bounds reached).
    pub fn finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Stops the clients (each finishes its request in flight) and returns what they saw.
    pub fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Release);
        let mut report = LoadReport::default();
        for thread in self.threads {
            let client = thread.join().expect("a load client ran");
            for (total, n) in report.ok_by_kind.iter_mut().zip(client.ok_by_kind) {
                *total += n;
            }
            report.connections += client.connections;
            report.failures.extend(client.failures);
        }
        report.ok = report.ok_by_kind.iter().sum();
        report.failures.sort_by_key(|f| f.when);
        report.elapsed = self.began.elapsed();
        report
    }
}

/// Takes one request from the plan's budget; false once the run must end.
fn may_send(shared: &Shared) -> bool {
    !shared.stop.load(Ordering::Acquire)
        && Instant::now() < shared.plan.deadline
        && shared.issued.fetch_add(1, Ordering::Relaxed) < shared.plan.max_requests
}

fn client(shared: &Shared, index: u64) -> ClientReport {
    let mut rng = Xorshift::new(shared.plan.seed.wrapping_add(index));
    let mut report = ClientReport::default();
    let mut etag: Option<String> = None;
    let fail = |report: &mut ClientReport, failure: Failure| {
        shared.failed.fetch_add(1, Ordering::Relaxed);
        report.failures.push(failure);
    };
    'connections: while may_send(shared) {
        let conn_opened = Instant::now();
        let stream = match TcpStream::connect_timeout(&shared.addr, IO_TIMEOUT) {
            Ok(stream) => stream,
            Err(err) => {
                let fault = if is_timeout(&err) {
                    Fault::Timeout
                } else {
                    Fault::Connect
                };
                fail(
                    &mut report,
                    Failure {
                        when: Instant::now(),
                        conn_opened,
                        served_before: 0,
                        kind: None,
                        fault,
                        error: format!("connect: {err}"),
                    },
                );
                // A refused connect returns at once: pace the retries instead of spinning.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        report.connections += 1;
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let _ = stream.set_nodelay(true);
        let mut reader = ReplyReader::new(stream);
        let planned = 1 + rng.below(MAX_REQUESTS_PER_CONNECTION as usize) as u32;
        let mut served = 0u32;
        while served < planned {
            if served > 0 && !may_send(shared) {
                break 'connections;
            }
            let mut kind = shared.plan.mix.pick(&mut rng);
            if kind == Kind::NotModified && etag.is_none() {
                kind = Kind::KeepAlive;
            }
            let request = request(kind, &mut rng, etag.as_deref());
            let outcome = reader
                .get_mut()
                .write_all(request.text.as_bytes())
                .and_then(|()| reader.next_reply());
            let response = match outcome {
                Ok(response) => response,
                Err(err) => {
                    let fault = if is_timeout(&err) {
                        Fault::Timeout
                    } else {
                        Fault::Io
                    };
                    fail(
                        &mut report,
                        Failure {
                            when: Instant::now(),
                            conn_opened,
                            served_before: served,
                            kind: Some(kind),
                            fault,
                            error: err.to_string(),
                        },
                    );
                    continue 'connections;
                }
            };
            served += 1;
            if let Err(error) = check(shared, kind, &request, &response) {
                fail(
                    &mut report,
                    Failure {
                        when: Instant::now(),
                        conn_opened,
                        served_before: served - 1,
                        kind: Some(kind),
                        fault: Fault::Answer,
                        error,
                    },
                );
                // The stream may be out of step with the answers now.
                continue 'connections;
            }
            if kind == Kind::KeepAlive {
                etag = response.header("etag").map(str::to_owned).or(etag);
            }
            report.ok_by_kind[kind.index()] += 1;
            shared.ok.fetch_add(1, Ordering::Relaxed);
            let closing = response
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
            if kind == Kind::Close || closing {
                continue 'connections;
            }
        }
    }
    report
}

fn is_timeout(err: &std::io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

struct Request {
    text: String,
    /// For ranges: the first byte asked for.
    range_start: usize,
}

/// Bytes of `/big.bin` a range asks for.
const RANGE_LEN: usize = 100;

fn request(kind: Kind, rng: &mut Xorshift, etag: Option<&str>) -> Request {
    let mut range_start = 0;
    let text = match kind {
        Kind::KeepAlive => "GET /small.bin HTTP/1.1\r\nHost: load\r\n\r\n".to_owned(),
        Kind::Close => {
            "GET /small.bin HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n".to_owned()
        }
        Kind::Gzip => {
            "GET /page.html HTTP/1.1\r\nHost: load\r\nAccept-Encoding: gzip\r\n\r\n".to_owned()
        }
        Kind::Range => {
            range_start = rng.below(64 * 1024 - RANGE_LEN);
            format!(
                "GET /big.bin HTTP/1.1\r\nHost: load\r\nRange: bytes={}-{}\r\n\r\n",
                range_start,
                range_start + RANGE_LEN - 1
            )
        }
        // A bounded set of missing paths: real 404s vary, but an unbounded set would only
        // measure whatever per-path state a server keeps, which none should.
        Kind::Missing => format!(
            "GET /missing/{}.html HTTP/1.1\r\nHost: load\r\n\r\n",
            rng.below(1000)
        ),
        Kind::NotModified => format!(
            "GET /small.bin HTTP/1.1\r\nHost: load\r\nIf-None-Match: {}\r\n\r\n",
            etag.expect("a conditional GET needs an ETag")
        ),
    };
    Request { text, range_start }
}

/// Whether `response` is the right answer to `request`; what is wrong otherwise.
fn check(shared: &Shared, kind: Kind, request: &Request, response: &Reply) -> Result<(), String> {
    let expect_status = |status: u16| {
        if response.status == status {
            Ok(())
        } else {
            Err(format!(
                "answered {} instead of {status} (headers {:?}, {} body bytes)",
                response.status,
                response.headers,
                response.body.len()
            ))
        }
    };
    match kind {
        Kind::KeepAlive | Kind::Close => {
            expect_status(200)?;
            if response.body != shared.small {
                return Err(format!("wrong body ({} bytes)", response.body.len()));
            }
        }
        Kind::Gzip => {
            expect_status(200)?;
            if response.header("content-encoding") != Some("gzip") {
                return Err(format!("not gzip: headers {:?}", response.headers));
            }
            let body = &response.body;
            if !body.starts_with(&[0x1f, 0x8b, 0x08]) || !body.ends_with(&shared.page_gzip_trailer)
            {
                return Err(format!(
                    "not a gzip stream of /page.html ({} bytes)",
                    body.len()
                ));
            }
        }
        Kind::Range => {
            expect_status(206)?;
            let want = &shared.big[request.range_start..request.range_start + RANGE_LEN];
            if response.body != want {
                return Err(format!(
                    "wrong range bytes ({} bytes, Content-Range {:?})",
                    response.body.len(),
                    response.header("content-range")
                ));
            }
        }
        Kind::Missing => expect_status(404)?,
        Kind::NotModified => {
            expect_status(304)?;
            if !response.body.is_empty() {
                return Err("a 304 with a body".to_owned());
            }
        }
    }
    Ok(())
}
