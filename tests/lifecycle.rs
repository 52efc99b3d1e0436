//! Graceful shutdown and hot reload of the real binary: SIGTERM drains (an in-flight download
//! completes, new connections are refused, readiness goes false, idle connections close), a
//! second signal exits at once, and SIGHUP or `POST /admin/reload` applies a new configuration
//! without dropping connections, or rejects an invalid one and keeps the old.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::docroot;
use support::http::{connect, exchange, read_head, read_reply, Reply};
use support::process::{server, Running};
use support::temp::TempDir;

const BIG: usize = 32 * 1024 * 1024;

fn site() -> TempDir {
    let big: Vec<u8> = (0..BIG).map(|i| (i % 241) as u8).collect();
    docroot(&[("big.bin", &big), ("a.txt", b"alpha")])
}

fn start(root: &Path, config: Option<&Path>, env: &[(&str, &str)]) -> Running {
    let mut command: Command = server("test");
    command
        .args(["--bind", "127.0.0.1:0", "--docroot"])
        .arg(root);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    Running::start(command)
}

/// Starts a download of big.bin and reads only its head and a first piece, then stops reading.
fn stalled_download(addr: SocketAddr) -> (TcpStream, usize) {
    let mut conn = connect(addr);
    conn.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let head = read_head(&mut conn);
    assert_eq!(
        head.header("content-length"),
        Some(BIG.to_string().as_str()),
        "{head:?}"
    );
    let mut first = vec![0u8; 64 * 1024];
    conn.read_exact(&mut first).unwrap();
    (conn, first.len())
}

fn admin(addr: SocketAddr, request: &str) -> Reply {
    let mut conn = connect(addr);
    exchange(&mut conn, request)
}

#[test]
fn sigterm_drains_an_in_flight_download_and_refuses_new_connections() {
    let root = site();
    let mut running = start(
        &root,
        None,
        &[("WEB_SERVER__TIMEOUTS__SHUTDOWN_MS", "20000")],
    );
    let addr = running.ready()[0];
    let admin_addr = running.admin();
    let (mut download, mut received) = stalled_download(addr);

    running.signal("-TERM");
    running.wait_for("stopped accepting; draining connections");
    let refused = TcpStream::connect(addr).map(|_| ()).unwrap_err();
    assert_eq!(
        refused.kind(),
        ErrorKind::ConnectionRefused,
        "new connections are refused"
    );
    let ready = admin(admin_addr, "GET /ready HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(ready.status, 503, "readiness is false during the drain");

    let mut chunk = vec![0u8; 256 * 1024];
    while received < BIG {
        let n = download.read(&mut chunk).unwrap();
        assert!(n > 0, "the download was cut at {received} bytes");
        received += n;
    }
    assert_eq!(received, BIG, "the in-flight download completed");
    assert_eq!(running.exit_code(), Some(0));
}

#[test]
fn idle_keepalive_connections_close_at_once_on_shutdown() {
    let root = site();
    let mut running = start(
        &root,
        None,
        &[
            ("WEB_SERVER__TIMEOUTS__SHUTDOWN_MS", "60000"),
            ("WEB_SERVER__TIMEOUTS__KEEPALIVE_MS", "60000"),
        ],
    );
    let addr = running.ready()[0];
    let mut idle = connect(addr);
    assert_eq!(
        exchange(&mut idle, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200
    );
    running.signal("-TERM");
    let mut rest = Vec::new();
    assert!(
        idle.read_to_end(&mut rest).is_ok() && rest.is_empty(),
        "closed without waiting"
    );
    // Nothing in flight: the process exits long before the 60 s shutdown timeout.
    assert_eq!(running.exit_code_within(Duration::from_secs(15)), Some(0));
}

#[test]
fn a_second_signal_exits_at_once() {
    let root = site();
    let mut running = start(
        &root,
        None,
        &[
            ("WEB_SERVER__TIMEOUTS__SHUTDOWN_MS", "60000"),
            ("WEB_SERVER__TIMEOUTS__SEND_MS", "60000"),
        ],
    );
    let addr = running.ready()[0];
    let (_stalled, _) = stalled_download(addr);
    running.signal("-TERM");
    running.wait_for("stopped accepting; draining connections");
    running.signal("-INT");
    running.wait_for("second signal: exiting at once");
    assert_eq!(running.exit_code_within(Duration::from_secs(15)), Some(130));
}

fn write_config(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn sighup_applies_new_limits_to_live_connections() {
    let root = site();
    let config = root.join("reload.toml");
    write_config(&config, "[limits]\nmax_keepalive_requests = 100\n");
    let mut running = start(&root, Some(&config), &[]);
    let addr = running.ready()[0];
    let mut conn = connect(addr);
    let first = exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!((first.status, first.header("connection")), (200, None));

    write_config(&config, "[limits]\nmax_keepalive_requests = 2\n");
    running.signal("-HUP");
    let reloaded = running.wait_for("configuration reloaded");
    assert!(
        reloaded.contains("limits.max_keepalive_requests"),
        "{reloaded}"
    );

    // The same connection, still open, now reaches the new limit on its second request.
    let second = exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        (second.status, second.header("connection")),
        (200, Some("close"))
    );
    running.signal("-TERM");
    assert_eq!(running.exit_code(), Some(0));
}

#[test]
fn sighup_applies_trusted_proxies_per_client_limits_and_the_access_format() {
    let root = site();
    let config = root.join("reload.toml");
    write_config(&config, "[limits]\nrequests_per_second = 0\n");
    let mut running = start(&root, Some(&config), &[]);
    let addr = running.ready()[0];
    let mut conn = connect(addr);
    let forwarded = "GET /a.txt HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.77\r\nUser-Agent: reloaded-agent\r\n\r\n";
    for _ in 0..3 {
        assert_eq!(
            exchange(&mut conn, forwarded).status,
            200,
            "no rate limit yet"
        );
    }

    write_config(
        &config,
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\n[limits]\nrequests_per_second = 1\nrequest_burst = 1\nmax_connections_per_ip = 8\n\n[log]\naccess_log = true\naccess_format = \"combined\"\n",
    );
    running.signal("-HUP");
    let reloaded = running.wait_for("configuration reloaded");
    for key in [
        "server.trusted_proxies",
        "limits.requests_per_second",
        "limits.request_burst",
        "limits.max_connections_per_ip",
        "log.access_format",
    ] {
        assert!(reloaded.contains(key), "{key} not in: {reloaded}");
    }

    // The same connection: the forwarded client now has a bucket of one.
    assert_eq!(exchange(&mut conn, forwarded).status, 200);
    let limited = exchange(&mut conn, forwarded);
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    // And the access log names it, in nginx's format.
    let line = running.wait_for("reloaded-agent");
    assert!(line.starts_with("203.0.113.77 - - ["), "{line}");
    running.signal("-TERM");
    assert_eq!(running.exit_code(), Some(0));
}

#[test]
fn admin_reload_reports_changes_and_rejects_invalid_configs() {
    let root = site();
    let config = root.join("reload.toml");
    write_config(&config, "[timeouts]\nheader_ms = 10000\n");
    let mut running = start(&root, Some(&config), &[]);
    let addr = running.ready()[0];
    let admin_addr = running.admin();
    let reload = "POST /admin/reload HTTP/1.1\r\nHost: localhost\r\nX-Requested-By: tests\r\nContent-Length: 0\r\n\r\n";

    write_config(
        &config,
        "[timeouts]\nheader_ms = 5000\n[cache]\nmax_entries = 5\n[server]\nbacklog = 77\n",
    );
    let applied = admin(admin_addr, reload);
    assert_eq!(
        applied.status,
        200,
        "{}",
        String::from_utf8_lossy(&applied.body)
    );
    let report: serde_json::Value = serde_json::from_slice(&applied.body).unwrap();
    let listed = |field: &str| -> Vec<String> {
        report[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        listed("applied").contains(&"timeouts.header_ms".to_owned()),
        "{report}"
    );
    assert!(
        listed("applied").contains(&"cache.max_entries".to_owned()),
        "{report}"
    );
    assert!(
        listed("needs_restart").contains(&"server.backlog".to_owned()),
        "{report}"
    );
    // GET /admin/config shows the configuration in force: the applied values, and the
    // start-up value of what waits for a restart.
    let in_force = admin(
        admin_addr,
        "GET /admin/config HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    let in_force: toml::Table = in_force.text().parse().unwrap();
    assert_eq!(in_force["timeouts"]["header_ms"].as_integer(), Some(5000));
    assert_eq!(in_force["cache"]["max_entries"].as_integer(), Some(5));
    assert_ne!(
        in_force["server"]["backlog"].as_integer(),
        Some(77),
        "server.backlog applies only after a restart"
    );

    write_config(&config, "[timeouts]\nheader_ms = \"soon\"\n");
    let rejected = admin(admin_addr, reload);
    assert_eq!(rejected.status, 422);
    assert!(String::from_utf8_lossy(&rejected.body).contains("timeouts.header_ms"));
    running.wait_for("configuration reload rejected; keeping the old configuration");
    running.signal("-HUP");
    running.wait_for("configuration reload rejected; keeping the old configuration");

    let mut conn = connect(addr);
    conn.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_reply(&mut conn, false).status,
        200,
        "still serving on the old configuration"
    );
    running.signal("-TERM");
    assert_eq!(running.exit_code(), Some(0));
}

#[test]
fn sigterm_drains_every_worker_in_parallel_against_one_deadline() {
    // Downloads that never finish on every worker: each partition holds its drain until the
    // deadline. Drained one partition after another, 4 workers would take 4 deadlines.
    const SHUTDOWN: Duration = Duration::from_secs(2);
    let root = site();
    let mut command: Command = server("test");
    command
        .args(["--bind", "127.0.0.1:0", "--workers", "4", "--docroot"])
        .arg(&root)
        .env("WEB_SERVER__TIMEOUTS__SHUTDOWN_MS", "2000")
        .env("WEB_SERVER__TIMEOUTS__SEND_MS", "60000")
        .env("WEB_SERVER__TIMEOUTS__KEEPALIVE_MS", "60000");
    let mut running = Running::start(command);
    let addr = running.ready()[0];
    // SO_REUSEPORT spreads connections over the workers by address hash: 24 stalled downloads
    // leave no worker without one (and the test holds whichever way they fall).
    let downloads: Vec<(TcpStream, usize)> = (0..24).map(|_| stalled_download(addr)).collect();
    let mut idle: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut conn = connect(addr);
            let reply = exchange(&mut conn, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(reply.status, 200);
            conn
        })
        .collect();

    let signalled = std::time::Instant::now();
    running.signal("-TERM");
    for conn in &mut idle {
        let mut rest = Vec::new();
        assert!(
            conn.read_to_end(&mut rest).is_ok() && rest.is_empty(),
            "an idle connection was closed cleanly"
        );
    }
    let idle_closed_after = signalled.elapsed();
    assert!(
        idle_closed_after < SHUTDOWN,
        "idle connections closed {idle_closed_after:?} after SIGTERM, not at once"
    );
    assert_eq!(
        running.exit_code_within(SHUTDOWN + Duration::from_secs(3)),
        Some(0)
    );
    let exited_after = signalled.elapsed();
    eprintln!(
        "4 workers, {} stalled downloads: idle connections closed {idle_closed_after:?} and the \
         process exited {exited_after:?} after SIGTERM (shutdown_ms {SHUTDOWN:?})",
        downloads.len()
    );
    assert!(
        exited_after < SHUTDOWN * 2,
        "exited {exited_after:?} after SIGTERM: the drain took more than one deadline"
    );
}
