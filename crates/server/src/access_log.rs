//! The access log: one line per response, on the tracing target [`TARGET`]
//! (`web_server::access`) at INFO.
//!
//! # Call site
//!
//! The connection code calls [`record`] once per response, after its last byte was written (or
//! the write failed), with what it knows about the exchange:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use web_server::access_log::{self, AccessEntry};
//!
//! let began = Instant::now();
//! // … read the request, write the response …
//! access_log::record(&AccessEntry {
//!     peer: "127.0.0.1:54321".parse().unwrap(),
//!     client: "127.0.0.1".parse().unwrap(),
//!     method: "GET",
//!     target: "/index.html",
//!     version: "HTTP/1.1",
//!     status: 200,
//!     bytes: 1661,
//!     body_bytes: 1480,
//!     duration: began.elapsed(),
//!     user_agent: Some("curl/8.0"),
//!     referer: None,
//!     host: Some("localhost"),
//!     request_id: None,
//! });
//! ```
//!
//! Nothing is allocated or formatted before the two checks pass: first the process-wide switch
//! ([`set_enabled`], driven by `log.access_log`), a relaxed atomic load; then whether the
//! installed subscriber wants INFO events on [`TARGET`] (`tracing::enabled!`, answered from the
//! callsite's cached interest, so a filtered-out target costs a load and a branch).
//!
//! # Output
//!
//! `log.access_format` ([`set_format`]) chooses the line:
//!
//! - **`combined`**: nginx's `combined` format, byte for byte, so GoAccess, fluent-bit's
//!   `nginx` parser and other nginx log readers take it as it is:
//!
//!   ```text
//!   203.0.113.5 - - [31/Jan/2025:10:15:02 +0000] "GET /index.html HTTP/1.1" 200 1480 "-" "curl/8.0"
//!   ```
//!
//!   `$remote_addr` is the client address (trusted proxies' report, else the peer);
//!   `$time_local` is written in UTC; `$body_bytes_sent` counts content bytes only; text a
//!   client chose is escaped as nginx's `escape=default` does (`"`, `\`, control and non-ASCII
//!   bytes as `\xHH`); a request rejected before its request line was whole logs `"-"`.
//! - **`json`**: one object per request, with exactly these fields, in this order (stable:
//!   fields may be added at the end, none renamed or removed):
//!
//!   ```json
//!   {"time":"2025-01-31T10:15:02.118Z","client":"203.0.113.5","peer":"10.0.0.1:54321","method":"GET","target":"/index.html","protocol":"HTTP/1.1","status":200,"bytes":1661,"body_bytes":1480,"duration":0.000182,"host":"example.com","referer":null,"user_agent":"curl/8.0","request_id":null}
//!   ```
//!
//!   `time` is UTC with milliseconds; `client` the client address, `peer` the TCP peer (the
//!   balancer, behind one); `bytes` head and content written, `body_bytes` content only;
//!   `duration` seconds; `host`, `referer` and `user_agent` are `null` when not sent;
//!   `request_id` the `X-Request-Id` answered with (`server.request_id`), else `null`.
//! - **`text`** (the default): an event with the entry's fields, printed by the log format
//!   chosen with `log.format`, as follows.
//!
//! `combined` and `json` lines are written as they are whatever `log.format` is: they are
//! already the line a collector expects. With `text`, the time comes from the subscriber.
//! With `log.format = "json"` ([`crate::logging`]) a line is one flat JSON object:
//!
//! ```json
//! {"timestamp":"2025-01-31T10:15:02.118523Z","level":"INFO","peer":"127.0.0.1:54321","method":"GET","uri":"/index.html","version":"HTTP/1.1","status":200,"bytes":1661,"duration":0.000182,"user_agent":"curl/8.0","target":"web_server::access"}
//! ```
//!
//! The request target is logged as `uri` because the JSON object's `target` key is the
//! tracing target. `duration` is in seconds; `user_agent` and `referer` are absent when the
//! request had no such header. The `pretty` and `compact` formats print a classic access line
//! instead (see [`crate::logging`]).
//!
//! The raw request target goes to the log only, never into a metric label (a client chooses it,
//! so it is unbounded).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The tracing target of access-log events; filter directives name it
/// (`web_server::access=off`), and the human formats recognise it.
pub const TARGET: &str = "web_server::access";

/// The field holding a whole preformatted line (`combined`, `json`); the log formats write it
/// as it is.
pub const LINE_FIELD: &str = "access_line";

/// Whether [`record`] emits anything. On by default, as `log.access_log` is; set by
/// [`crate::logging::init`] and [`crate::logging::reconfigure`].
static ENABLED: AtomicBool = AtomicBool::new(true);

/// The [`AccessFormat`] in force, as its discriminant.
static FORMAT: AtomicU8 = AtomicU8::new(AccessFormat::Text as u8);

/// `log.access_format`: what an access line looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum AccessFormat {
    /// An event with the entry's fields, printed by `log.format` (the classic line in the
    /// human formats, an object in `json`).
    #[default]
    Text = 0,
    /// nginx's `combined` format.
    Combined = 1,
    /// One JSON object with the documented field set.
    Json = 2,
}

impl AccessFormat {
    /// The name as written in configuration.
    pub fn name(self) -> &'static str {
        match self {
            AccessFormat::Text => "text",
            AccessFormat::Combined => "combined",
            AccessFormat::Json => "json",
        }
    }
}

/// Turns access logging on or off for the whole process (`log.access_log`).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether access logging is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Chooses the access line for the whole process (`log.access_format`; applies live).
pub fn set_format(format: AccessFormat) {
    FORMAT.store(format as u8, Ordering::Relaxed);
}

/// The access line in force.
pub fn format() -> AccessFormat {
    match FORMAT.load(Ordering::Relaxed) {
        1 => AccessFormat::Combined,
        2 => AccessFormat::Json,
        _ => AccessFormat::Text,
    }
}

/// One request and its response, as the access log records them. Borrowed from the
/// connection's buffers: building one costs nothing when the log is off.
#[derive(Debug, Clone, Copy)]
pub struct AccessEntry<'a> {
    /// The TCP peer: the client, or the balancer in front of it.
    pub peer: SocketAddr,
    /// The client's address: what trusted proxies reported, else the peer's. Tells clients
    /// apart and traces abuse.
    pub client: IpAddr,
    /// The request method as sent (`GET`, or an unknown token answered 501), to read the
    /// traffic's shape.
    pub method: &'a str,
    /// The request target as sent (path and query), the resource asked for; logged as `uri`.
    pub target: &'a str,
    /// The protocol version as sent (`HTTP/1.1`, `HTTP/1.0`), since keep-alive and framing
    /// rules differ between them.
    pub version: &'a str,
    /// The response's status code, the outcome.
    pub status: u16,
    /// Bytes written to the client for this response, head and content: what it cost on the
    /// wire, and whether a download was cut short.
    pub bytes: u64,
    /// Of `bytes`, the content's (nginx's `$body_bytes_sent`).
    pub body_bytes: u64,
    /// From the request's first byte to the response's last, to find slow requests.
    pub duration: Duration,
    /// The `User-Agent` header, when sent, to tell browsers, crawlers and scripts apart.
    pub user_agent: Option<&'a str>,
    /// The `Referer` header, when sent, to see where traffic comes from.
    pub referer: Option<&'a str>,
    /// The `Host` header, when sent, to tell sites apart.
    pub host: Option<&'a str>,
    /// The `X-Request-Id` sent with the response (`server.request_id`), to follow one request
    /// through the balancer's log and this one.
    pub request_id: Option<&'a str>,
}

thread_local! {
    /// The line being formatted, kept per thread so that a line costs no allocation once the
    /// buffer has grown to the longest line seen.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Logs one response at INFO on [`TARGET`]. With `log.access_format = "text"`, an event with
/// the entry's fields (`peer`, `client` when it is not the peer's, `method`, `uri`, `version`, `status`, `bytes`,
/// `duration` in seconds, and `user_agent` and `referer` when present); with `combined` or
/// `json`, an event whose [`LINE_FIELD`] holds the whole line. Returns at once when the access
/// log is switched off or the subscriber filters the target out.
pub fn record(entry: &AccessEntry<'_>) {
    if !enabled() || !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    let format = format();
    if format == AccessFormat::Text {
        tracing::info!(
            target: TARGET,
            peer = %entry.peer,
            // Only when it is not the peer's: behind a trusted proxy.
            client = (entry.client != web_server_http::forwarded::canonical(entry.peer.ip()))
                .then(|| tracing::field::display(entry.client)),
            method = entry.method,
            uri = entry.target,
            version = entry.version,
            status = entry.status,
            bytes = entry.bytes,
            duration = entry.duration.as_secs_f64(),
            user_agent = entry.user_agent,
            referer = entry.referer,
            request_id = entry.request_id,
        );
        return;
    }
    LINE.with(|line| {
        let Ok(mut line) = line.try_borrow_mut() else {
            return;
        };
        line.clear();
        let now = SystemTime::now();
        if format == AccessFormat::Combined {
            combined(&mut line, entry, now);
        } else {
            json(&mut line, entry, now);
        }
        tracing::info!(target: TARGET, access_line = line.as_str());
    });
}

/// nginx's `combined`:
/// `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`.
pub fn combined(line: &mut String, entry: &AccessEntry<'_>, now: SystemTime) {
    let _ = write!(line, "{} - - [", entry.client);
    let civil = Civil::of(now);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let _ = write!(
        line,
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000] \"",
        civil.day,
        MONTHS[usize::from(civil.month - 1)],
        civil.year,
        civil.hour,
        civil.minute,
        civil.second
    );
    if entry.method == "-" && entry.target == "-" {
        line.push('-');
    } else {
        nginx_escaped(line, entry.method);
        line.push(' ');
        nginx_escaped(line, entry.target);
        line.push(' ');
        nginx_escaped(line, entry.version);
    }
    let _ = write!(line, "\" {} {} \"", entry.status, entry.body_bytes);
    nginx_escaped(line, entry.referer.unwrap_or("-"));
    line.push_str("\" \"");
    nginx_escaped(line, entry.user_agent.unwrap_or("-"));
    line.push('"');
}

/// The JSON line; see the module documentation for its fields.
pub fn json(line: &mut String, entry: &AccessEntry<'_>, now: SystemTime) {
    let civil = Civil::of(now);
    let _ = write!(
        line,
        "{{\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"client\":\"{}\",\"peer\":\"{}\",\"method\":",
        civil.year,
        civil.month,
        civil.day,
        civil.hour,
        civil.minute,
        civil.second,
        civil.millis,
        entry.client,
        entry.peer
    );
    json_string(line, Some(entry.method));
    line.push_str(",\"target\":");
    json_string(line, Some(entry.target));
    line.push_str(",\"protocol\":");
    json_string(line, Some(entry.version));
    let _ = write!(
        line,
        ",\"status\":{},\"bytes\":{},\"body_bytes\":{},\"duration\":{:.6},\"host\":",
        entry.status,
        entry.bytes,
        entry.body_bytes,
        entry.duration.as_secs_f64()
    );
    json_string(line, entry.host);
    line.push_str(",\"referer\":");
    json_string(line, entry.referer);
    line.push_str(",\"user_agent\":");
    json_string(line, entry.user_agent);
    line.push_str(",\"request_id\":");
    json_string(line, entry.request_id);
    line.push('}');
}

/// nginx's `escape=default`: `"`, `\\`, control bytes and bytes from 0x7F up as `\xHH`.
fn nginx_escaped(line: &mut String, text: &str) {
    for &byte in text.as_bytes() {
        if byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte) {
            let _ = write!(line, "\\x{byte:02X}");
        } else {
            line.push(char::from(byte));
        }
    }
}

/// A JSON string (RFC 8259 escapes), or `null`.
fn json_string(line: &mut String, text: Option<&str>) {
    let Some(text) = text else {
        line.push_str("null");
        return;
    };
    line.push('"');
    for c in text.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(line, "\\u{:04x}", u32::from(c));
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

/// A UTC calendar time.
struct Civil {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    millis: u16,
}

impl Civil {
    /// `time` in the proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`); a
    /// clock before 1970 reads as the epoch.
    fn of(time: SystemTime) -> Civil {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs() as i64;
        let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: (rest / 3600) as u8,
            minute: (rest / 60 % 60) as u8,
            second: (rest % 60) as u8,
            millis: since.subsec_millis() as u16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AccessEntry<'static> {
        AccessEntry {
            peer: "10.0.0.1:54321".parse().unwrap(),
            client: "203.0.113.5".parse().unwrap(),
            method: "GET",
            target: "/a b\"\\",
            version: "HTTP/1.1",
            status: 200,
            bytes: 300,
            body_bytes: 100,
            duration: Duration::from_micros(182),
            user_agent: Some("curl/8.0 \u{e9}"),
            referer: None,
            host: Some("example.com"),
            request_id: None,
        }
    }

    #[test]
    fn combined_is_nginxs_line() {
        let mut line = String::new();
        let at = UNIX_EPOCH + Duration::from_millis(1_738_318_502_118);
        combined(&mut line, &entry(), at);
        assert_eq!(
            line,
            "203.0.113.5 - - [31/Jan/2025:10:15:02 +0000] \"GET /a b\\x22\\x5C HTTP/1.1\" 200 100 \"-\" \"curl/8.0 \\xC3\\xA9\""
        );
        let mut rejected = entry();
        (rejected.method, rejected.target, rejected.version) = ("-", "-", "-");
        line.clear();
        combined(&mut line, &rejected, at);
        assert!(line.contains("] \"-\" 200 100 "), "{line}");
    }

    #[test]
    fn json_has_the_documented_fields_in_order() {
        let mut line = String::new();
        let at = UNIX_EPOCH + Duration::from_millis(1_738_318_502_118);
        json(&mut line, &entry(), at);
        assert_eq!(
            line,
            "{\"time\":\"2025-01-31T10:15:02.118Z\",\"client\":\"203.0.113.5\",\"peer\":\"10.0.0.1:54321\",\"method\":\"GET\",\"target\":\"/a b\\\"\\\\\",\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":300,\"body_bytes\":100,\"duration\":0.000182,\"host\":\"example.com\",\"referer\":null,\"user_agent\":\"curl/8.0 \u{e9}\",\"request_id\":null}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["target"], "/a b\"\\");
    }

    #[test]
    fn calendar_dates() {
        let at = |secs: u64| {
            let c = Civil::of(UNIX_EPOCH + Duration::from_secs(secs));
            (c.year, c.month, c.day, c.hour, c.minute, c.second)
        };
        assert_eq!(at(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(at(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(at(4_102_444_799), (2099, 12, 31, 23, 59, 59));
    }
}
