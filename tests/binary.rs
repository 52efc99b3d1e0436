//! The `web_server` binary as a user runs it: it serves the bundled site, logs one ready line
//! with every bound address, stops cleanly on SIGTERM, and survives running out of file
//! descriptors. Every wait is on a log line or a socket, and bounded.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use support::http::{send_closing, try_send, Reply};
use support::proc::open_fds;
use support::process::{server, Running, WAIT};

fn request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    send_closing(addr, &request(path))
}

#[test]
fn serves_the_sample_site_and_exits_0_on_sigterm() {
    let mut running = Running::start({
        let mut command = server("test");
        command.args(["--bind", "127.0.0.1:0", "--bind", "[::1]:0"]);
        command
    });
    let addrs = running.ready();
    assert_eq!(
        addrs.len(),
        2,
        "one ready line with every address: {addrs:?}"
    );
    for addr in &addrs {
        let index = get(*addr, "/");
        assert_eq!(index.status_line(), "HTTP/1.1 200 OK", "{index:?}");
        assert!(index.text().contains("web_server"), "the sample site");
    }
    let redirect = get(addrs[0], "/docs");
    assert_eq!(redirect.status, 301, "{redirect:?}");
    assert_eq!(redirect.header("location"), Some("/docs/"), "{redirect:?}");
    running.signal("-TERM");
    running.wait_for("shutting down");
    assert_eq!(running.exit_code(), Some(0));
}

#[test]
fn sigint_stops_the_server_too() {
    let mut running = Running::start(server("test"));
    let addr = running.ready()[0];
    assert_eq!(get(addr, "/").status, 200);
    running.signal("-INT");
    assert_eq!(running.exit_code(), Some(0));
}

#[test]
fn a_port_in_use_is_a_clear_start_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut running = Running::start({
        let mut command = server("test");
        command.args(["--bind", &format!("127.0.0.1:{port}")]);
        command
    });
    running.wait_for(&format!("cannot listen on 127.0.0.1:{port}"));
    assert_eq!(running.exit_code(), Some(1));
}

#[test]
fn running_out_of_descriptors_backs_off_and_service_resumes() {
    // Learn how many descriptors an idle server uses, then run one with a few more than that.
    let mut probe = Running::start(server("test"));
    let addr = probe.ready()[0];
    assert_eq!(get(addr, "/").status, 200);
    let baseline = open_fds(probe.child.id());
    drop(probe);

    let limit = baseline + 4;
    let mut running = Running::start({
        let mut command = Command::new("bash");
        command.args([
            "-c",
            &format!(
                "ulimit -n {limit} && exec {} --profile test",
                env!("CARGO_BIN_EXE_web_server")
            ),
        ]);
        command
    });
    let addr = running.ready()[0];
    // More connections than descriptors left: accept fails with EMFILE, the loop backs off.
    let held: Vec<TcpStream> = (0..12).map(|_| TcpStream::connect(addr).unwrap()).collect();
    running.wait_for("accept failed; retrying in 100 ms");
    drop(held);
    // The held connections close over the next moments (lingering close keeps each briefly);
    // until descriptors free up, opening a file may still fail. Probe, bounded, for recovery.
    let began = std::time::Instant::now();
    let mut reply = try_send(addr, &request("/"));
    while !matches!(&reply, Ok(answer) if answer.status == 200) {
        assert!(began.elapsed() < WAIT, "service did not resume: {reply:?}");
        std::thread::sleep(Duration::from_millis(50));
        reply = try_send(addr, &request("/"));
    }
    running.signal("-TERM");
    assert_eq!(running.exit_code(), Some(0));
}
