//! Measurements of a process through `/proc` (resident memory, threads, open descriptors) and
//! of the kernel's TCP sockets, for the tests that check nothing leaks. The process measurements
//! take a process id: [`std::process::id`] for a server running inside the test, the child's for
//! the binary.

use std::time::{Duration, Instant};

/// Resident memory of process `pid` (`VmRSS` in `/proc/PID/status`), in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    status_field(pid, "VmRSS:") * 1024
}

/// Threads of process `pid`.
pub fn threads(pid: u32) -> u64 {
    status_field(pid, "Threads:")
}

fn status_field(pid: u32, name: &str) -> u64 {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    status
        .lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number for {name} in {path}"))
}

/// Descriptors open in process `pid` (entries of `/proc/PID/fd`). The listing holds a
/// descriptor of this process while it runs: when `pid` is this process, that one is not
/// counted.
pub fn open_fds(pid: u32) -> usize {
    let path = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&path)
        .unwrap_or_else(|err| panic!("{path}: {err}"))
        .count();
    if pid == std::process::id() {
        entries.saturating_sub(1)
    } else {
        entries
    }
}

/// Whether a descriptor (`N->target`, as [`fd_targets`] lists it) is a regular file, kept
/// open or deleted since.
fn is_regular_file(descriptor: &str) -> bool {
    let target = descriptor.split_once("->").map_or(descriptor, |(_, t)| t);
    target.ends_with(" (deleted)")
        || (target.starts_with('/') && std::path::Path::new(target).is_file())
}

/// What each descriptor of process `pid` points to, sorted.
pub fn fd_targets(pid: u32) -> Vec<String> {
    let path = format!("/proc/{pid}/fd");
    let mut targets: Vec<String> = std::fs::read_dir(&path)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| {
                    let target = std::fs::read_link(entry.path())
                        .map(|t| t.display().to_string())
                        .unwrap_or_else(|_| "?".to_owned());
                    format!("{}->{target}", entry.file_name().to_string_lossy())
                })
                .collect()
        })
        .unwrap_or_default();
    targets.sort();
    targets
}

/// A process's descriptors, split: the files the cache keeps open to send large bodies with
/// `sendfile` (see `crates/server/src/zero_copy.rs`) belong to the cache's entries and live as
/// long as they do, so they are bounded by the files cached, not by a baseline taken before
/// anything was cached. Between loads the server holds no other regular file open.
#[derive(Debug, Clone)]
pub struct Descriptors {
    pub bodies: Vec<String>,
    pub other: Vec<String>,
}

impl Descriptors {
    pub fn of(pid: u32) -> Descriptors {
        let (bodies, other) = fd_targets(pid)
            .into_iter()
            .partition(|t| is_regular_file(t));
        Descriptors { bodies, other }
    }

    pub fn total(&self) -> usize {
        self.bodies.len() + self.other.len()
    }

    /// Whether nothing is open beyond `baseline` but at most `max_bodies` cached bodies.
    pub fn back_to(&self, baseline: &Descriptors, max_bodies: usize) -> bool {
        self.other.len() == baseline.other.len() && self.bodies.len() <= max_bodies
    }

    /// What differs from `baseline`, for a failure message.
    pub fn diff(&self, baseline: &Descriptors) -> String {
        let opened: Vec<&String> = self
            .other
            .iter()
            .filter(|t| !baseline.other.contains(t))
            .collect();
        let closed: Vec<&String> = baseline
            .other
            .iter()
            .filter(|t| !self.other.contains(t))
            .collect();
        format!(
            "{} descriptors and {} cached bodies now, {} and {} at the baseline; opened since: \
             {opened:?}; closed since: {closed:?}; bodies: {:?}",
            self.other.len(),
            self.bodies.len(),
            baseline.other.len(),
            baseline.bodies.len(),
            self.bodies
        )
    }
}

/// Waits, at most `limit`, until process `pid` holds no descriptor beyond `baseline` but at
/// most `max_bodies` cached bodies; fails the test with what differs otherwise.
pub fn assert_descriptors_return(
    pid: u32,
    baseline: &Descriptors,
    max_bodies: usize,
    limit: Duration,
) -> Descriptors {
    let began = Instant::now();
    loop {
        let now = Descriptors::of(pid);
        if now.back_to(baseline, max_bodies) {
            return now;
        }
        assert!(
            began.elapsed() < limit,
            "the server's descriptors did not return to their baseline within {limit:?}: {}",
            now.diff(baseline)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Human-readable MiB.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Human-readable KiB.
pub fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// The soft limit on open descriptors (`Max open files` in `/proc/PID/limits`).
pub fn fd_soft_limit(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/limits");
    let limits = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("Max open files in /proc/PID/limits");
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()
        .unwrap();
    soft.parse().unwrap_or(u64::MAX) // "unlimited"
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
