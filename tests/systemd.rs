//! systemd integration, by the protocols themselves (no systemd needed): readiness
//! notifications on a `NOTIFY_SOCKET` datagram socket the test reads, and socket activation with
//! a listening socket the test made, passed as descriptor 3 with `LISTEN_FDS`/`LISTEN_PID`.

#![cfg(target_os = "linux")]

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::Command;

use support::http::send_closing;
use support::process::{Running, WAIT};
use support::temp::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_web_server");

fn site() -> TempDir {
    TempDir::with_files("systemd-site", &[("index.html", b"activated")])
}

fn get(addr: SocketAddr) -> support::http::Reply {
    send_closing(
        addr,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
}

/// The service manager's end of `NOTIFY_SOCKET`: one datagram per notification.
struct NotifySocket {
    socket: UnixDatagram,
    _dir: TempDir,
    path: std::path::PathBuf,
}

impl NotifySocket {
    fn new() -> NotifySocket {
        let dir = TempDir::new("notify");
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        NotifySocket {
            socket,
            _dir: dir,
            path,
        }
    }

    /// The next notification's lines (waits at most [`WAIT`]).
    fn next(&self) -> Vec<String> {
        let mut buffer = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buffer)
            .expect("a notification within the wait");
        String::from_utf8_lossy(&buffer[..n])
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn ready_reloading_and_stopping_are_notified() {
    let notify = NotifySocket::new();
    let site = site();
    let mut command = Command::new(BIN);
    command
        .args(["--profile", "test", "--docroot", site.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &notify.path);
    let mut running = Running::start(command);

    assert_eq!(notify.next(), ["READY=1"]);
    // READY=1 means listening: the first connection succeeds.
    let addr = running.ready()[0];
    TcpStream::connect(addr).expect("listening once ready");
    assert_eq!(get(addr).status, 200);

    running.signal("-HUP");
    let reloading = notify.next();
    assert_eq!(reloading[0], "RELOADING=1", "{reloading:?}");
    let usec = reloading
        .iter()
        .find_map(|line| line.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("MONOTONIC_USEC for notify-reload: {reloading:?}"));
    assert!(usec.parse::<u64>().unwrap() > 0);
    assert_eq!(notify.next(), ["READY=1"], "ready again after the reload");
    assert_eq!(get(addr).status, 200);

    running.signal("-TERM");
    assert_eq!(notify.next(), ["STOPPING=1"]);
    assert_eq!(running.exit_code(), Some(0));
}

/// `command` run with `listener` as descriptor 3 and `LISTEN_FDS=1`, `LISTEN_PID` = its own
/// pid: through `sh`, whose `$$` is the pid the binary keeps after `exec`.
fn socket_activated(listener: &TcpListener, args: &[&str]) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"LISTEN_PID=$$ exec "$0" "$@""#)
        .arg(BIN)
        .args(args)
        .env("LISTEN_FDS", "1")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES");
    let fd = listener.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed; it makes exactly two, `dup2` and `fcntl`, both async-signal-safe
    // (POSIX.1-2017 2.4.3), allocates nothing, takes no lock and touches no Rust state. `fd`
    // stays open in the parent (the listener outlives `spawn`), so it is valid in the child.
    // dup2 onto 3 clears FD_CLOEXEC on the copy; when `fd` is already 3, dup2 does nothing
    // and the flag is cleared with fcntl instead, so the socket survives exec either way.
    unsafe {
        command.pre_exec(move || {
            let status = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if status == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

#[test]
fn an_inherited_socket_is_served_instead_of_binding() {
    let site = site();
    let passed = TcpListener::bind("127.0.0.1:0").unwrap();
    let passed_addr = passed.local_addr().unwrap();
    // The configured address is taken (without SO_REUSEPORT): binding it would fail the start,
    // so serving proves the server did not bind its own socket.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let configured = taken.local_addr().unwrap().to_string();
    let mut running = Running::start(socket_activated(
        &passed,
        &[
            "--profile",
            "test",
            "--docroot",
            site.to_str().unwrap(),
            "--bind",
            &configured,
        ],
    ));
    running.wait_for("socket activation");
    assert_eq!(
        running.ready(),
        [passed_addr],
        "serves on the passed socket only"
    );
    let reply = get(passed_addr);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text(), "activated");
    let (code, _) = running.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn sockets_for_another_process_are_not_taken() {
    let site = site();
    // LISTEN_PID names another process: the variables are not for this one, which binds as
    // configured.
    let mut command = Command::new(BIN);
    command
        .args(["--profile", "test", "--docroot", site.to_str().unwrap()])
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1");
    let mut running = Running::start(command);
    let addr = running.ready()[0];
    assert_eq!(get(addr).status, 200);
    let (code, lines) = running.terminate();
    assert_eq!(code, Some(0));
    assert!(
        !lines.iter().any(|line| line.contains("socket activation")),
        "{lines:?}"
    );
}
