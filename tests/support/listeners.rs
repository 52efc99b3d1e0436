//! The abuse suite's client side on every listener (`tests/abuse_listeners.rs`): a [`Target`]
//! is the plain listener, the TLS listener (with a rustls client that trusts the test's
//! certificate) or the admin endpoint, and its [`Stream`]s read and write the same way on each,
//! blocking or not, so that one scenario runs on all three.
//!
//! A TLS stream drives its `rustls::ClientConnection` by hand rather than through
//! `rustls::StreamOwned`: a read never waits for a pending write (so a client whose request the
//! server stopped reading still gets the answer already sent), a peer closing without
//! `close_notify` reads as the end of the stream, and the TCP socket under it stays reachable
//! for resets and half-closes.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::ClientConnection;

use super::abuse::{NormalClient, Received, Trickled};
use super::http::{Reply, ReplyReader};
use super::proc::{close_wait, open_fds};
use super::temp::TempDir;
use super::{eventually, TestServer, WAIT};

/// Which listener a [`Target`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Plain,
    Tls,
    Admin,
}

/// A listener to attack: its kind, address and, for TLS, the client configuration.
#[derive(Clone)]
pub struct Target {
    pub listener: Listener,
    pub addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} listener {}", self.listener, self.addr)
    }
}

impl Target {
    pub fn plain(addr: SocketAddr) -> Target {
        Target {
            listener: Listener::Plain,
            addr,
            tls: None,
        }
    }

    pub fn tls(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Target {
        Target {
            listener: Listener::Tls,
            addr,
            tls: Some(config),
        }
    }

    pub fn admin(addr: SocketAddr) -> Target {
        Target {
            listener: Listener::Admin,
            addr,
            tls: None,
        }
    }

    /// The TLS listener of `server`, trusting `certificate`.
    pub fn tls_of(server: &TestServer, certificate: &CertificateDer<'static>) -> Target {
        Target::tls(
            server.tls.expect("the TLS listener runs"),
            client_config(certificate),
        )
    }

    /// The admin endpoint of `server`.
    pub fn admin_of(server: &TestServer) -> Target {
        Target::admin(server.admin.expect("the admin endpoint runs"))
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A connection, handshake done for TLS, with read and write timeouts of `timeout`.
    pub fn try_connect(&self, timeout: Duration) -> io::Result<Stream> {
        let tcp = TcpStream::connect_timeout(&self.addr, timeout)?;
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_write_timeout(Some(timeout))?;
        self.wrap(tcp)
    }

    /// `tcp`, connected to this listener, as its stream: for TLS, after the handshake (within
    /// `tcp`'s timeouts).
    pub fn wrap(&self, mut tcp: TcpStream) -> io::Result<Stream> {
        let Some(config) = &self.tls else {
            return Ok(Stream::Plain(tcp));
        };
        let name = ServerName::try_from("localhost").expect("a valid name");
        let mut conn = ClientConnection::new(config.clone(), name)
            .map_err(|err| io::Error::new(ErrorKind::InvalidData, err))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        Ok(Stream::Tls(Box::new(TlsStream { conn, tcp })))
    }

    /// A connection with read and write timeouts of [`WAIT`]; fails the test otherwise.
    pub fn connect(&self) -> Stream {
        self.try_connect(WAIT)
            .unwrap_or_else(|err| panic!("connecting to the {self:?}: {err}"))
    }

    /// A bare TCP connection (for TLS: one that never starts its handshake).
    pub fn connect_tcp(&self, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_timeout(&self.addr, timeout)
    }

    /// One request on a fresh connection and its response, without failing the test.
    pub fn try_send(&self, request: &[u8]) -> io::Result<Reply> {
        let mut stream = self.try_connect(WAIT)?;
        stream.write_all(request)?;
        stream.flush()?;
        ReplyReader::new(stream).next_reply_to(request.starts_with(b"HEAD "))
    }

    /// `GET path` on a fresh connection: its response; fails the test otherwise.
    pub fn get(&self, path: &str) -> Reply {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.try_send(request.as_bytes())
            .unwrap_or_else(|err| panic!("GET {path} on the {self:?}: {err}"))
    }

    /// Fails the test unless `GET path` on a fresh connection answers 200 with `body`.
    pub fn assert_serves(&self, path: &str, body: &[u8]) {
        let reply = self.get(path);
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (200, body),
            "GET {path} on the {self:?}"
        );
    }

    /// A well-behaved client on a background thread: `GET path` on a fresh connection every
    /// ~10 ms, each expected to answer 200 with `body` (see [`NormalClient`]).
    pub fn normal_client(&self, path: &str, body: &[u8]) -> NormalClient {
        let target = self.clone();
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        NormalClient::start_with(body, move || target.try_send(request.as_bytes()))
    }

    /// Sends `request` on a fresh connection while reading (so a server that answers and
    /// closes before reading it all cannot deadlock the test), then half-closes if
    /// `half_close` (TLS: `close_notify`, then the FIN), and reads until the server closes, for
    /// at most [`WAIT`].
    pub fn send_and_receive(&self, request: &[u8], half_close: bool) -> Received {
        let mut stream = self.connect();
        stream.set_nonblocking(true);
        let deadline = Instant::now() + WAIT;
        let mut sent = 0;
        let mut writing = true;
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        while Instant::now() < deadline {
            let mut progress = false;
            if writing && sent < request.len() {
                let end = request.len().min(sent + 64 * 1024);
                match stream.write(&request[sent..end]) {
                    Ok(n) => {
                        sent += n;
                        progress |= n > 0;
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                    // The server closed early (it answered an error): stop writing.
                    Err(_) => writing = false,
                }
            }
            if writing && sent == request.len() {
                match stream.flush() {
                    Ok(()) => {
                        writing = false;
                        if half_close {
                            stream.half_close();
                        }
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => writing = false,
                }
            }
            match stream.read(&mut chunk) {
                Ok(0) => {
                    return Received {
                        bytes,
                        closed: true,
                        reset: false,
                    }
                }
                Ok(n) => {
                    bytes.extend_from_slice(&chunk[..n]);
                    progress = true;
                }
                Err(err)
                    if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                Err(_) => {
                    return Received {
                        bytes,
                        closed: true,
                        reset: true,
                    }
                }
            }
            if !progress {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Received {
            bytes,
            closed: false,
            reset: false,
        }
    }
}

/// A rustls client trusting `certificate` only (TLS 1.2 and 1.3, ALPN `http/1.1`).
pub fn client_config(certificate: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A self-signed certificate for `localhost` in a fresh temporary directory (keep it until the
/// server has stopped): the directory, the certificate and key files, and the certificate.
pub fn certificate() -> (TempDir, PathBuf, PathBuf, CertificateDer<'static>) {
    let dir = TempDir::new("tls");
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.write("cert.pem", generated.cert.pem());
    let key = dir.write("key.pem", generated.signing_key.serialize_pem());
    (dir, cert, key, generated.cert.der().clone())
}

/// The TLS listener's configuration on a loopback port the kernel picks.
pub fn tls_on_loopback(
    cert: &Path,
    key: &Path,
    handshake_timeout: Duration,
) -> web_server::config::TlsConfig {
    web_server::config::TlsConfig {
        bind: vec!["127.0.0.1:0".parse().unwrap()],
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        handshake_timeout,
        redirect_http: false,
    }
}

// ---------------------------------------------------------------------------------------------
// Streams.

/// A TLS client connection and its socket.
pub struct TlsStream {
    pub conn: ClientConnection,
    pub tcp: TcpStream,
}

impl TlsStream {
    /// Writes the pending TLS records; `WouldBlock` (non-blocking) when the socket is full.
    fn flush_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.tcp)?;
        }
        Ok(())
    }
}

/// A connection to a [`Target`]: plain TCP or TLS, read and written alike.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Stream {
    /// The TCP socket under the stream.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.tcp,
        }
    }

    pub fn set_nonblocking(&self, nonblocking: bool) {
        self.tcp().set_nonblocking(nonblocking).unwrap();
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.tcp().set_read_timeout(timeout).unwrap();
    }

    /// The client's half-close: for TLS `close_notify` first (best effort), then the FIN.
    pub fn half_close(&mut self) {
        if let Stream::Tls(tls) = self {
            tls.conn.send_close_notify();
            let _ = tls.flush_records();
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }

    /// A TCP half-close without `close_notify` (for TLS, an unclean end).
    pub fn fin_only(&self) {
        let _ = self.tcp().shutdown(Shutdown::Write);
    }

    /// Closes with a reset (SO_LINGER 0): the peer sees RST instead of FIN.
    pub fn reset(self) {
        socket2::SockRef::from(self.tcp())
            .set_linger(Some(Duration::ZERO))
            .expect("sets SO_LINGER");
        drop(self);
    }
}

impl Read for Stream {
    /// A TLS stream's end (`close_notify`, or the socket's EOF without it) reads as `Ok(0)`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let tls = match self {
            Stream::Plain(tcp) => return tcp.read(buf),
            Stream::Tls(tls) => tls,
        };
        loop {
            match tls.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(err) if err.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(err) => return Err(err),
            }
            // Alerts or key updates the session owes; never wait for them.
            match tls.flush_records() {
                Err(err) if err.kind() != ErrorKind::WouldBlock => return Err(err),
                _ => {}
            }
            tls.conn.read_tls(&mut tls.tcp)?;
            tls.conn
                .process_new_packets()
                .map_err(|err| io::Error::new(ErrorKind::InvalidData, err))?;
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let tls = match self {
            Stream::Plain(tcp) => return tcp.write(buf),
            Stream::Tls(tls) => tls,
        };
        // What was sealed before goes first; a full socket takes nothing more.
        tls.flush_records()?;
        let n = tls.conn.writer().write(buf)?;
        match tls.flush_records() {
            Err(err) if err.kind() != ErrorKind::WouldBlock => Err(err),
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush_records(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario helpers.

/// Reads until the server closes `stream`, for at most `limit` (see
/// [`super::abuse::read_until_close`]).
pub fn read_until_close(stream: &mut Stream, limit: Duration) -> Received {
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
        stream.set_read_timeout(Some(left));
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Received {
                    bytes,
                    closed: true,
                    reset: false,
                }
            }
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) => {}
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

/// Opens `connections` connections to `target` (TLS: handshake done), writes `prefix` on each at
/// once, then one byte of `trickle` (cycled) on each every `interval`, watching every 10 ms for
/// the server closing them; stops when all are closed or after `limit`. Closures are timed from
/// each connection's first byte of HTTP (after the handshake).
pub fn trickle(
    target: &Target,
    connections: usize,
    prefix: &[u8],
    trickle: &[u8],
    interval: Duration,
    limit: Duration,
) -> Vec<Trickled> {
    struct Slow {
        stream: Stream,
        state: Trickled,
        next_write: Instant,
        open: bool,
    }
    let began = Instant::now();
    let mut slow: Vec<Slow> = (0..connections)
        .map(|_| {
            let mut stream = target.connect();
            let first_byte = Instant::now();
            let (sent, trickled) = if prefix.is_empty() {
                (stream.write_all(&trickle[..1]), 1)
            } else {
                (stream.write_all(prefix), 0)
            };
            sent.and_then(|()| stream.flush())
                .expect("the first bytes are sent");
            stream.set_nonblocking(true);
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

/// Connections the server holds on `target`'s listener now: the public gate (plain and TLS
/// share it) or the admin endpoint's.
pub fn held(server: &TestServer, target: &Target) -> usize {
    match target.listener {
        Listener::Admin => server.admin_active_connections(),
        Listener::Plain | Listener::Tls => server.active_connections(),
    }
}

/// Waits until the server holds no connection on any listener, this process's descriptors are
/// back to `baseline_fds` (or fewer) and no socket on `target`'s port is left in CLOSE_WAIT.
pub fn assert_no_leaks(server: &TestServer, target: &Target, baseline_fds: usize) {
    eventually("the server holds no connection", WAIT, || {
        server.active_connections() == 0 && server.admin_active_connections() == 0
    });
    let mut fds = 0;
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually("descriptors return to the baseline", WAIT, || {
            fds = open_fds(std::process::id());
            fds <= baseline_fds
        })
    }));
    assert!(
        waited.is_ok(),
        "{fds} descriptors open, {baseline_fds} at the baseline ({target:?})"
    );
    eventually(
        &format!("no socket on the {target:?} is left in CLOSE_WAIT"),
        WAIT,
        || close_wait(target.port()) == 0,
    );
}

/// Waits until the server is idle (see [`assert_no_leaks`]), then this process's open
/// descriptors: what an attack is compared with.
pub fn idle_baseline(server: &TestServer, target: &Target) -> usize {
    assert_no_leaks(server, target, usize::MAX);
    open_fds(std::process::id())
}

/// A configuration source that counts reloads and always fails them (the configuration in
/// force stays): `POST /admin/reload` ran exactly as often as the counter says.
pub fn counting_reloads() -> (web_server::config::ConfigSource, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let source = web_server::config::ConfigSource::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        Err("reloads are counted, never applied, in this test".to_owned())
    });
    (source, count)
}
