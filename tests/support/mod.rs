//! Shared helpers for system tests: a server running in its own actix System on a background
//! thread, and document roots for it. The HTTP client is in [`http`], temporary directories in
//! [`temp`], `/proc` measurements in [`proc`], the real binary in [`process`]. Every wait is
//! bounded.

#![allow(dead_code)]

pub mod abuse;
pub mod garbage;
pub mod http;
pub mod listeners;
pub mod load;
pub mod proc;
pub mod process;
pub mod temp;

use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use web_server::config::AdminConfig;
use web_server::http::Router;
use web_server::server::{Server, ServerConfig};
use web_server::supervision::NodeSnapshot;

use temp::TempDir;

/// The processes of the seed's supervision tree, in the seed's order (docs/architecture.md).
pub const SEED_PROCESS_IDS: [&str; 9] = [
    "web_server_sup",
    "web_server_tcp_listener_sup",
    "web_server_tcp_listener",
    "web_server_tcp_acceptor_sup",
    "web_server_tcp_acceptor",
    "web_server_cache_sup",
    "web_server_cache",
    "web_server_metrics_sup",
    "web_server_metrics",
];

/// How long any single wait in a test may take before the test fails (a hang, not slowness).
pub const WAIT: Duration = Duration::from_secs(10);

enum Command {
    Snapshot(mpsc::Sender<NodeSnapshot>),
    Kill(String, mpsc::Sender<bool>),
    Active(mpsc::Sender<usize>),
    AdminActive(mpsc::Sender<usize>),
    Cache(mpsc::Sender<web_server::server::CacheStats>),
    Stop,
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
    /// Directories the server reads, removed after it stopped (fields drop after `drop`).
    dirs: Vec<TempDir>,
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
                        Command::AdminActive(reply) => {
                            let _ = reply.send(server.admin_active_connections());
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
            dirs: Vec::new(),
        }
    }

    /// Keeps `dir` (the server's document root) until the server has stopped.
    pub fn keeping(mut self, dir: TempDir) -> TestServer {
        self.dirs.push(dir);
        self
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

    /// Live connections on the admin endpoint (not counted in [`Self::active_connections`]).
    pub fn admin_active_connections(&self) -> usize {
        let (tx, rx) = mpsc::channel();
        self.commands.send(Command::AdminActive(tx)).unwrap();
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
        http::connect(self.admin.expect("admin runs"))
    }

    /// A connection to the first bound address.
    pub fn connect(&self) -> TcpStream {
        http::connect(self.addr)
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

/// A document root holding `files` (name relative to it, content), in a fresh temporary
/// directory. Keep it until the server serving it has stopped.
pub fn docroot(files: &[(&str, &[u8])]) -> TempDir {
    TempDir::with_files("docroot", files)
}

/// The admin endpoint on a loopback port the kernel picks.
pub fn admin_on_loopback(token: Option<&str>, allow_kill: bool) -> AdminConfig {
    AdminConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        token: token.map(str::to_owned),
        metrics_token: None,
        allow_kill,
        allowed_hosts: Vec::new(),
    }
}

/// The node `id` in a supervision tree as `/admin/tree` gives it (JSON), searched depth first.
pub fn find_node<'v>(node: &'v serde_json::Value, id: &str) -> Option<&'v serde_json::Value> {
    if node["id"] == id {
        return Some(node);
    }
    node["children"]
        .as_array()?
        .iter()
        .find_map(|child| find_node(child, id))
}
