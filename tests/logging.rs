//! Logs: the access log's JSON and human lines, its switch, the reloadable level filter, and
//! the real binary's JSON output (the ready line, supervisor start reports, access lines).
//!
//! In-process tests build the server's own subscriber ([`web_server::logging::subscriber`])
//! over a capturing writer and run under it with `tracing::dispatcher::with_default`. The
//! access-log switch is process-wide, so those tests take [`SWITCH`] first.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use support::http::{closing_request, send_closing, Reply};

use serde_json::Value;
use web_server::access_log::{self, AccessEntry};
use web_server::config::{LogFormat, LogSettings};
use web_server::logging;

/// Serialises the tests that set the process-wide access-log switch.
static SWITCH: Mutex<()> = Mutex::new(());

fn switch() -> MutexGuard<'static, ()> {
    SWITCH
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A writer that keeps everything written to it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn settings(format: LogFormat, level: &str, access_log: bool) -> LogSettings {
    LogSettings {
        format,
        level: level.to_owned(),
        access_log,
        access_format: web_server::access_log::AccessFormat::Text,
    }
}

/// Runs `body` under the server's subscriber for `log`, returning the lines written.
fn captured(log: &LogSettings, body: impl FnOnce(&logging::LogHandle)) -> Vec<String> {
    let out = Captured::default();
    let writer = out.clone();
    let (dispatch, handle) = logging::subscriber(log, move || writer.clone()).unwrap();
    tracing::dispatcher::with_default(&dispatch, || body(&handle));
    out.lines()
}

fn entry() -> AccessEntry<'static> {
    AccessEntry {
        peer: "127.0.0.1:54321".parse().unwrap(),
        client: "127.0.0.1".parse().unwrap(),
        method: "GET",
        target: "/index.html?q=1",
        version: "HTTP/1.1",
        status: 200,
        bytes: 1661,
        body_bytes: 1500,
        duration: Duration::from_micros(182),
        user_agent: Some("curl/8.0"),
        referer: Some("http://example.com/"),
        host: Some("localhost"),
        request_id: None,
    }
}

/// Access lines, in a human format or JSON (not lines that merely mention the target, such
/// as the filter's directives in "log filter changed").
fn access_lines(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| {
            l.contains(" web_server::access: ") || l.contains("\"target\":\"web_server::access\"")
        })
        .collect()
}

#[test]
fn json_access_line_has_every_field() {
    let _switch = switch();
    let lines = captured(&settings(LogFormat::Json, "info", true), |_| {
        access_log::record(&entry())
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["target"], "web_server::access");
    let timestamp = line["timestamp"].as_str().unwrap();
    assert!(
        timestamp.len() >= 20 && timestamp.as_bytes()[10] == b'T' && timestamp.ends_with('Z'),
        "RFC 3339 UTC: {timestamp}"
    );
    assert_eq!(line["peer"], "127.0.0.1:54321");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["uri"], "/index.html?q=1");
    assert_eq!(line["version"], "HTTP/1.1");
    assert_eq!(line["status"], 200);
    assert_eq!(line["bytes"], 1661);
    assert!((line["duration"].as_f64().unwrap() - 0.000182).abs() < 1e-9);
    assert_eq!(line["user_agent"], "curl/8.0");
    assert_eq!(line["referer"], "http://example.com/");
    // Flat: no span objects, and no key written twice (the request target is `uri`).
    assert!(line.get("span").is_none() && line.get("spans").is_none());
    assert_eq!(lines[0].matches("\"target\":").count(), 1, "{}", lines[0]);
}

#[test]
fn json_lines_are_one_object_each_for_other_events_too() {
    let _switch = switch();
    let lines = captured(&settings(LogFormat::Json, "info", true), |_| {
        tracing::info!(target: "web_server::server", workers = 2, "ready");
        let mut absent = entry();
        absent.user_agent = None;
        absent.referer = None;
        access_log::record(&absent);
    });
    assert_eq!(lines.len(), 2, "{lines:?}");
    let ready: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(ready["message"], "ready");
    assert_eq!(ready["workers"], 2);
    assert_eq!(ready["target"], "web_server::server");
    let access: Value = serde_json::from_str(&lines[1]).unwrap();
    assert!(access.get("user_agent").is_none() && access.get("referer").is_none());
}

#[test]
fn access_log_false_writes_no_access_lines() {
    let _switch = switch();
    for format in [LogFormat::Json, LogFormat::Compact, LogFormat::Pretty] {
        let lines = captured(&settings(format, "trace", false), |_| {
            access_log::record(&entry());
            tracing::info!("still logging");
        });
        assert!(access_lines(&lines).is_empty(), "{format}: {lines:?}");
        assert!(!access_log::enabled());
        assert!(
            lines.iter().any(|l| l.contains("still logging")),
            "{lines:?}"
        );
    }
}

#[test]
fn access_lines_are_written_whatever_the_level() {
    let _switch = switch();
    let lines = captured(&settings(LogFormat::Compact, "warn", true), |_| {
        tracing::info!("diagnostics stay quiet");
        access_log::record(&entry());
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("200 1661"), "{lines:?}");
    // Directives that name the access target themselves win.
    let lines = captured(
        &settings(LogFormat::Compact, "info,web_server::access=off", true),
        |_| access_log::record(&entry()),
    );
    assert!(lines.is_empty(), "{lines:?}");
}

/// Splits a human line into its time and the rest, checking the time is RFC 3339 UTC.
fn after_timestamp(line: &str) -> &str {
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(
        time.len() >= 20 && time.as_bytes()[10] == b'T' && time.ends_with('Z'),
        "{line}"
    );
    rest
}

#[test]
fn human_formats_print_a_classic_access_line() {
    let _switch = switch();
    for format in [LogFormat::Compact, LogFormat::Pretty] {
        let lines = captured(&settings(format, "info", true), |_| {
            access_log::record(&entry());
            let mut bare = entry();
            bare.user_agent = None;
            bare.referer = None;
            bare.duration = Duration::from_millis(1532);
            access_log::record(&bare);
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(
            after_timestamp(&lines[0]),
            " INFO web_server::access: 127.0.0.1:54321 \"GET /index.html?q=1 HTTP/1.1\" 200 1661 \
             0.182ms \"http://example.com/\" \"curl/8.0\"",
            "{format}"
        );
        assert_eq!(
            after_timestamp(&lines[1]),
            " INFO web_server::access: 127.0.0.1:54321 \"GET /index.html?q=1 HTTP/1.1\" 200 1661 \
             1532.000ms \"-\" \"-\"",
            "{format}"
        );
    }
}

#[test]
fn human_access_lines_cannot_be_forged_by_the_client() {
    let _switch = switch();
    let lines = captured(&settings(LogFormat::Compact, "info", true), |_| {
        let mut hostile = entry();
        hostile.user_agent = Some("evil\" 500 0\n2025-01-01T00:00:00Z  INFO fake\\");
        access_log::record(&hostile);
    });
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    assert!(
        lines[0].ends_with(r#""evil\" 500 0\x0A2025-01-01T00:00:00Z  INFO fake\\""#),
        "{}",
        lines[0]
    );
}

#[test]
fn other_events_keep_the_tracing_formats() {
    let _switch = switch();
    let compact = captured(&settings(LogFormat::Compact, "info", true), |_| {
        tracing::info!(
            supervisor = "web_server_sup",
            child = "web_server_cache_sup",
            "child started"
        );
    });
    assert_eq!(compact.len(), 1, "{compact:?}");
    let rest = after_timestamp(&compact[0]);
    assert!(rest.starts_with(" INFO "), "{rest}");
    assert!(
        rest.contains("child started")
            && rest.contains("supervisor=\"web_server_sup\"")
            && rest.contains("child=\"web_server_cache_sup\""),
        "{rest}"
    );
}

#[test]
fn reconfigure_changes_the_level_and_the_access_switch_at_run_time() {
    let _switch = switch();
    let lines = captured(&settings(LogFormat::Compact, "warn", false), |handle| {
        tracing::info!("before: filtered out");
        access_log::record(&entry());
        handle
            .reconfigure(&settings(LogFormat::Compact, "web_server=debug,warn", true))
            .unwrap();
        tracing::debug!(target: "web_server::cache", "after: debug shown");
        tracing::debug!(target: "actix", "after: other crates stay at warn");
        access_log::record(&entry());
        handle
            .reconfigure(&settings(LogFormat::Compact, "error", false))
            .unwrap();
        tracing::warn!(target: "web_server::cache", "last: filtered out");
        access_log::record(&entry());
    });
    let text = lines.join("\n");
    assert!(!text.contains("filtered out"), "{text}");
    assert!(!text.contains("other crates"), "{text}");
    assert!(text.contains("after: debug shown"), "{text}");
    assert_eq!(access_lines(&lines).len(), 1, "{text}");
}

#[test]
fn reconfigure_reports_a_format_change_as_needing_a_restart() {
    let _switch = switch();
    let mut outcome = None;
    let lines = captured(&settings(LogFormat::Compact, "warn", true), |handle| {
        assert_eq!(handle.format(), LogFormat::Compact);
        outcome = Some(handle.reconfigure(&settings(LogFormat::Json, "info", true)));
        tracing::info!("level applied anyway");
        let bad = handle.reconfigure(&settings(LogFormat::Compact, "web_server=loud", true));
        assert!(bad.unwrap_err().contains("log.level"));
        tracing::info!("bad directives change nothing");
    });
    let err = outcome.unwrap().unwrap_err();
    assert!(err.starts_with("log.format needs a restart"), "{err}");
    let text = lines.join("\n");
    assert!(text.contains("level applied anyway"), "{text}");
    assert!(text.contains("bad directives change nothing"), "{text}");
    // Still the compact format, not JSON.
    assert!(lines.iter().all(|l| !l.starts_with('{')), "{text}");
}

#[test]
fn record_is_cheap_when_switched_off() {
    let _switch = switch();
    let lines = captured(&settings(LogFormat::Json, "info", true), |_| {
        access_log::set_enabled(false);
        let entry = entry();
        let began = std::time::Instant::now();
        for _ in 0..1_000_000 {
            access_log::record(std::hint::black_box(&entry));
        }
        let per_call = began.elapsed() / 1_000_000;
        access_log::set_enabled(true);
        // A load and a branch; generous for unoptimised builds on a busy machine.
        assert!(per_call < Duration::from_micros(1), "{per_call:?} per call");
    });
    assert!(lines.is_empty(), "{lines:?}");
}

// The real binary.

/// The binary with the test profile, JSON logs at info and the access log as asked, with
/// stdout (JSON lines) and stderr delivered line by line.
struct Running(support::process::Running);

impl Running {
    fn start(access_log: bool) -> Running {
        let mut command = support::process::server("test");
        command
            .args(["--bind", "127.0.0.1:0"])
            .env("WEB_SERVER__LOG__FORMAT", "json")
            .env("WEB_SERVER__LOG__ACCESS_LOG", access_log.to_string());
        Running(support::process::Running::start(command))
    }

    /// The next JSON line satisfying `wanted`; every line before it must be JSON too.
    fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = self.0.next_line(what);
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}"));
            if wanted(&value) {
                return value;
            }
        }
    }

    /// The public address, from the ready line's message.
    fn ready(&mut self) -> SocketAddr {
        let ready = self.wait_for("ready", |v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("web_server ready"))
        });
        let message = ready["message"].as_str().unwrap();
        let url = message.split("http://").nth(1).unwrap();
        url.split([',', ' ']).next().unwrap().parse().unwrap()
    }

    /// Stops the server and returns every line it wrote after those already seen.
    fn stop(self) -> Vec<String> {
        let (code, rest) = self.0.terminate();
        assert_eq!(code, Some(0));
        rest
    }
}

fn get_with_agent(addr: SocketAddr, path: &str, agent: &str) -> Reply {
    send_closing(
        addr,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {agent}\r\nConnection: close\r\n\r\n"
        ),
    )
}

fn post(addr: SocketAddr, path: &str) -> Reply {
    send_closing(addr, &closing_request("POST", path, ""))
}

#[test]
fn binary_logs_supervisor_starts_exits_and_restarts_with_the_child_id() {
    let mut running = Running::start(false);
    let started = running.wait_for("child started", |v| {
        v["message"] == "child started" && v["child"] == "web_server_cache_sup"
    });
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["supervisor"], "web_server_sup");
    assert!(started["timestamp"].is_string());
    let admin = running.wait_for("admin endpoint", |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("admin endpoint on"))
    });
    let admin: SocketAddr = admin["message"].as_str().unwrap()["admin endpoint on http://".len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    running.ready();
    // The test profile allows kills: the cache's supervisor reports the exit and the restart.
    let reply = post(admin, "/admin/actors/web_server_cache/kill");
    assert_eq!(reply.status, 200, "{reply:?}");
    let cache = |message: &'static str| {
        move |v: &Value| {
            v["message"] == message
                && v["supervisor"] == "web_server_cache_sup"
                && v["child"] == "web_server_cache"
        }
    };
    let exited = running.wait_for("exit", cache("child exited abnormally"));
    assert_eq!(
        (&exited["level"], &exited["reason"]),
        (&"WARN".into(), &"killed".into())
    );
    let restarting = running.wait_for("restart", cache("restarting child"));
    assert_eq!(restarting["level"], "INFO");
    let restarted = running.wait_for("start after the restart", cache("child started"));
    assert_eq!(restarted["level"], "INFO");
}

// The connection's call site, end to end: one JSON line per response, every field filled.
#[test]
fn binary_writes_a_json_access_line_per_request() {
    let mut running = Running::start(true);
    let addr = running.ready();
    let reply = get_with_agent(addr, "/index.html?from=test", "logging-test/1.0");
    assert_eq!(reply.status_line(), "HTTP/1.1 200 OK", "{reply:?}");
    let line = running.wait_for("access", |v| v["target"] == "web_server::access");
    assert_eq!(line["level"], "INFO");
    assert!(line["timestamp"].is_string(), "{line}");
    let peer: SocketAddr = line["peer"].as_str().unwrap().parse().unwrap();
    assert!(peer.ip().is_loopback(), "{line}");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["uri"], "/index.html?from=test");
    assert_eq!(line["version"], "HTTP/1.1");
    assert_eq!(line["status"], 200);
    assert_eq!(
        line["bytes"].as_u64(),
        Some(reply.wire_len as u64),
        "head and content: {line}"
    );
    assert!(
        line["duration"].as_f64().is_some_and(|d| d >= 0.0),
        "{line}"
    );
    assert_eq!(line["user_agent"], "logging-test/1.0");
    drop(running.stop());
}

// Meaningful with the test above, which shows the same requests do log when switched on.
#[test]
fn binary_without_access_log_writes_no_access_lines() {
    let mut running = Running::start(false);
    let addr = running.ready();
    for _ in 0..3 {
        let reply = get_with_agent(addr, "/", "logging-test/1.0");
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let rest = running.stop();
    let access: Vec<&String> = rest
        .iter()
        .filter(|l| l.contains("web_server::access"))
        .collect();
    assert!(access.is_empty(), "{access:?}");
}
