//! Shared helpers for system tests: a server running in its own actix System on a background
//! thread, and raw-socket clients. Every wait is bounded.

#![allow(dead_code)]

pub mod abuse;
pub mod load;
pub mod process;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use web_server::http::Router;
use web_server::server::{Server, ServerConfig};
use web_server::supervision::NodeSnapshot;

/// How long any single wait in a test may take before the test fails (a hang, not slowness).
pub const WAIT: Duration = Duration::from_secs(10);

enum Command {
    Snapshot(mpsc::Sender<NodeSnapshot>),
    Kill(String, mpsc::Sender<bool>),
    Active(mpsc::Sender<usize>),
    Cache(mpsc::Sender<web_server::server::CacheStats>),
    Stop,
}

/// A server on a background thread.
pub struct TestServer {
    /// The first bound address.
    pub addr: SocketAddr,
    /// Every bound address, in configuration order.
    pub addrs: Vec<SocketAddr>,
    /// The admin endpoint's address, when it runs.
    pub admin: Option<SocketAddr>,
    /// The HTTPS address, when TLS is on.
    pub tls: Option<SocketAddr>,
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(
        config: ServerConfig,
        router: impl FnOnce() -> Router + Send + 'static,
    ) -> TestServer {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (commands, mut command_rx) = tokio::sync::mpsc::unbounded_channel();
        let thread = std::thread::spawn(move || {
            let system = actix::System::new();
            system.block_on(async move {
                let server = match Server::start(config, router()).await {
                    Ok(server) => server,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok((
                    server.addrs().to_vec(),
                    server.admin_addrs().first().copied(),
                    server.tls_addrs().first().copied(),
                )));
                while let Some(command) = command_rx.recv().await {
                    match command {
                        Command::Snapshot(reply) => {
                            let _ = reply.send(server.root().snapshot(false).await);
                        }
                        Command::Kill(id, reply) => {
                            let _ = reply.send(server.root().kill_child(&id).await.is_ok());
                        }
                        Command::Active(reply) => {
                            let _ = reply.send(server.active_connections());
                        }
                        Command::Cache(reply) => {
                            let _ = reply.send(server.cache_stats());
                        }
                        Command::Stop => break,
                    }
                }
                server.stop().await;
            });
        });
        let (addrs, admin, tls): (Vec<SocketAddr>, Option<SocketAddr>, Option<SocketAddr>) =
            ready_rx
                .recv_timeout(WAIT)
                .expect("server starts in time")
                .expect("server starts");
        TestServer {
            addr: addrs[0],
            addrs,
            admin,
            tls,
            commands,
            thread: Some(thread),
        }
    }

    pub fn snapshot(&self) -> NodeSnapshot {
        let (tx, rx) = mpsc::channel();
        self.commands.send(Command::Snapshot(tx)).unwrap();
        rx.recv_timeout(WAIT).unwrap()
    }

    pub fn kill(&self, id: &str) -> bool {
        let (tx, rx) = mpsc::channel();
        self.commands
            .send(Command::Kill(id.to_owned(), tx))
            .unwrap();
        rx.recv_timeout(WAIT).unwrap()
    }

    pub fn active_connections(&self) -> usize {
        let (tx, rx) = mpsc::channel();
        self.commands.send(Command::Active(tx)).unwrap();
        rx.recv_timeout(WAIT).unwrap()
    }

    /// The static-file cache's contents and counters.
    pub fn cache(&self) -> web_server::server::CacheStats {
        let (tx, rx) = mpsc::channel();
        self.commands.send(Command::Cache(tx)).unwrap();
        rx.recv_timeout(WAIT).unwrap()
    }

    /// A connection to the admin endpoint.
    pub fn connect_admin(&self) -> TcpStream {
        let stream = TcpStream::connect(self.admin.expect("admin runs")).expect("connects");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connects");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads exactly one response (Content-Length framed, or no content for HEAD/304/204).
pub fn read_reply(stream: &mut TcpStream, head_request: bool) -> Reply {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("reads a response head");
        assert!(
            n > 0,
            "connection closed before a response head; got {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    let length: usize = reply
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    if !head_request && status != 304 && status != 204 {
        reply.body = vec![0; length];
        stream.read_exact(&mut reply.body).expect("reads the body");
    }
    reply
}

/// Sends `request` and reads one response.
pub fn exchange(stream: &mut TcpStream, request: &str) -> Reply {
    stream.write_all(request.as_bytes()).unwrap();
    read_reply(stream, request.starts_with("HEAD "))
}

/// True when the peer closed the connection (reads EOF) within the wait.
pub fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).is_ok() && rest.is_empty()
}

/// A document root with a few files, in a fresh temporary directory.
pub fn docroot(files: &[(&str, &[u8])]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "web_server_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    // Names repeat when a process id is reused, and earlier runs' directories are not removed:
    // start empty, or a file a test creates later (a 404 that must turn into a 200) would be
    // there from the start.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, content).unwrap();
    }
    dir
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
