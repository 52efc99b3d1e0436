//! Running the `web_server` binary as a user does, reading its log lines as events.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(20);

pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    pub fn start(mut command: Command) -> Running {
        let mut child = command
            .env("NO_COLOR", "1")
            .env("WEB_SERVER__LOG__LEVEL", "info")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    pub fn wait_for(&mut self, needle: &str) -> String {
        self.wait_until(needle, |line| line.contains(needle))
    }

    /// The next line starting with `prefix` (earlier lines are skipped).
    pub fn wait_for_prefix(&mut self, prefix: &str) -> String {
        self.wait_until(prefix, |line| line.starts_with(prefix))
    }

    fn wait_until(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        loop {
            let line = self.next_line(what);
            if matches(&line) {
                return line;
            }
        }
    }

    /// The next line of output, waiting at most [`WAIT`]; `what` names it in the failure.
    pub fn next_line(&mut self, what: &str) -> String {
        let line = self.lines.recv_timeout(WAIT).unwrap_or_else(|_| {
            panic!("no line matching {what:?}; saw:\n{}", self.seen.join("\n"))
        });
        self.seen.push(line.clone());
        line
    }

    /// Sends SIGTERM and waits (at most [`WAIT`]) for the exit: its code, and every line
    /// written after those already read (the reader threads end at the pipes' EOF).
    pub fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        self.signal("-TERM");
        let (tx, rx) = mpsc::channel();
        let mut child = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap());
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx.recv_timeout(WAIT).expect("exits in time").unwrap();
        let rest = std::iter::from_fn(|| self.lines.recv_timeout(WAIT).ok()).collect();
        (status.code(), rest)
    }

    /// The addresses from the ready line.
    pub fn ready(&mut self) -> Vec<SocketAddr> {
        let line = self.wait_for("listening on");
        line.split("http://")
            .skip(1)
            .map(|rest| rest.split([',', ' ']).next().unwrap().parse().unwrap())
            .collect()
    }

    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap()
            .success());
    }

    pub fn exit_code(mut self) -> Option<i32> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(self.child.wait());
        });
        rx.recv_timeout(WAIT)
            .expect("exits in time")
            .unwrap()
            .code()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

impl Running {
    /// The admin endpoint's address, from its start line.
    pub fn admin(&mut self) -> SocketAddr {
        let needle = "admin endpoint on http://";
        let seen = self.seen.iter().find(|line| line.contains(needle)).cloned();
        let line = seen.unwrap_or_else(|| self.wait_for(needle));
        let rest = line.split("admin endpoint on http://").nth(1).unwrap();
        rest.split('/').next().unwrap().parse().unwrap()
    }

    /// Waits for the exit, at most `limit`.
    pub fn exit_code_within(mut self, limit: Duration) -> Option<i32> {
        let (tx, rx) = mpsc::channel();
        let mut child = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap());
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        rx.recv_timeout(limit)
            .expect("exits in time")
            .unwrap()
            .code()
    }
}

/// The binary with `--profile PROFILE`.
pub fn server(profile: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_web_server"));
    command.args(["--profile", profile]);
    command
}
