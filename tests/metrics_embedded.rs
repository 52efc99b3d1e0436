//! An embedding application that installed a global `metrics` recorder of its own before
//! starting servers: the servers start, and `/metrics` still has their series, from a recorder
//! of their own. A binary of its own, because the global recorder is per process.

mod support;

use std::time::{Duration, Instant};

use support::http::exchange;
use support::{docroot, TestServer, WAIT};
use web_server::http::{Method, Router};
use web_server::metrics as server_metrics;
use web_server::server::ServerConfig;

/// A server with the admin endpoint, serving `a.txt`.
fn start() -> TestServer {
    let root = docroot(&[("a.txt", b"alpha")]);
    let config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 1,
        admin: Some(support::admin_on_loopback(None, false)),
        ..ServerConfig::default()
    };
    TestServer::start(config, Router::new).keeping(root)
}

#[test]
fn another_global_recorder_does_not_hide_the_servers_series() {
    metrics::set_global_recorder(metrics::NoopRecorder).expect("the first global recorder");
    server_metrics::request_done(Some(Method::Post), 201, Duration::from_millis(1), 42);
    assert!(!server_metrics::recorder_is_global());
    let text = server_metrics::render();
    assert!(
        text.contains(r#"web_server_requests_total{method="POST",status_class="2xx"} 1"#),
        "{text}"
    );
    assert!(text.contains("web_server_response_bytes_total 42"));

    // Two servers in the process: both start, and share the one recorder.
    let first = start();
    let second = start();
    for server in [&first, &second] {
        let reply = exchange(
            &mut server.connect(),
            "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        assert_eq!(reply.status, 200);
    }
    let began = Instant::now();
    loop {
        let scraped = exchange(
            &mut second.connect_admin(),
            "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
        );
        let text = String::from_utf8(scraped.body).unwrap();
        if text.contains(r#"web_server_requests_total{method="HEAD",status_class="2xx"} 2"#) {
            assert!(text.contains(r#"{method="POST",status_class="2xx"} 1"#));
            break;
        }
        assert!(
            began.elapsed() < WAIT,
            "both servers' requests counted:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
