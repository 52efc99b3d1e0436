//! Log output from `log.format`, `log.level` and `log.access_log` (`RUST_LOG`, when set, wins
//! over `log.level`).
//!
//! - **Formats.** `json`: one JSON object per line (`timestamp`, `level`, the event's fields
//!   flattened into the object, `target`), for collectors. `pretty` and `compact`:
//!   tracing-subscriber's full and compact human formats, except that access-log events
//!   ([`crate::access_log`]) print as a classic access line:
//!
//!   ```text
//!   2025-01-31T10:15:02.118523Z  INFO web_server::access: 127.0.0.1:54321 "GET /index.html HTTP/1.1" 200 1661 0.182ms "-" "curl/8.0"
//!   ```
//!
//!   (peer, request line, status, bytes, duration, `Referer`, `User-Agent`; `"-"` for a header
//!   the request did not send; quotes, backslashes and control characters escaped).
//! - **Filter.** `log.level` is a `RUST_LOG`-style `EnvFilter`. The access log has its own
//!   switch: with `log.access_log = true`, `web_server::access=info` is added to the
//!   directives, so access lines are written whatever the level (`warn` keeps diagnostics quiet
//!   and still logs every request); with `false`, `web_server::access=off`. Directives that
//!   name `web_server::access` themselves are left as they are.
//! - **Reload.** The filter sits in a [`tracing_subscriber::reload`] layer: [`reconfigure`]
//!   swaps the level directives and the access-log switch while the server runs (hot reload).
//!   The format is fixed when the subscriber is installed; a different `log.format` takes a
//!   restart, and [`reconfigure`] says so in its error.

use std::fmt;
use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

use crate::access_log;
use crate::config::{LogFormat, LogSettings};

/// The handle of the subscriber [`init`] installed, for [`reconfigure`].
static INSTALLED: OnceLock<LogHandle> = OnceLock::new();

/// Installs the process-wide subscriber, writing to stdout, and sets the access-log switch.
/// Colours only on a terminal, and never with `NO_COLOR`. An invalid `RUST_LOG` is reported on
/// stderr and `log.level` is used instead. If the embedding application installed a subscriber
/// first, that one is kept (and [`reconfigure`] then only sets the access-log switch).
pub fn init(log: &LogSettings) {
    access_log::set_enabled(log.access_log);
    access_log::set_format(log.access_format);
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|directives| !directives.trim().is_empty())
        .filter(|directives| match parse_filter(directives) {
            Ok(_) => true,
            Err(err) => {
                eprintln!("web_server: ignoring RUST_LOG={directives:?} ({err}); using log.level");
                false
            }
        });
    let level = rust_log.as_deref().unwrap_or(&log.level);
    let filter = parse_filter(&directives(level, log.access_log)).unwrap_or_else(|err| {
        eprintln!("web_server: ignoring log.level={level:?} ({err}); using \"info\"");
        EnvFilter::new(directives("info", log.access_log))
    });
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::stdout().is_terminal() && !no_color;
    let (subscriber, handle) = build(log.format, filter, std::io::stdout, ansi, rust_log);
    // `try_init` also bridges the `log` crate, which can fail after the subscriber itself was
    // installed: what matters for `reconfigure` is whether this one became the default.
    let had_default = tracing::dispatcher::has_been_set();
    let _ = subscriber.try_init();
    if !had_default && tracing::dispatcher::has_been_set() {
        sync_log_crate_level();
        let _ = INSTALLED.set(handle);
    }
}

/// Applies a new `log.level` and `log.access_log` to the running subscriber (hot reload).
///
/// `Err` when something could not be applied, saying what:
/// - the directives do not parse (nothing is changed);
/// - `log.format` differs from the running one: the format is fixed at start, so this
///   returns `"log.format needs a restart …"`, after applying the level and the access-log
///   switch, which do not depend on it.
///
/// `RUST_LOG`, when it overrode `log.level` at start, keeps overriding it. Without a
/// subscriber from [`init`] (an embedding application's own), only the access-log switch is
/// set, and the result is `Ok`.
pub fn reconfigure(log: &LogSettings) -> Result<(), String> {
    match INSTALLED.get() {
        Some(handle) => handle.reconfigure(log),
        None => {
            access_log::set_enabled(log.access_log);
            access_log::set_format(log.access_format);
            Ok(())
        }
    }
}

/// The subscriber [`init`] would install, writing to `writer` instead of stdout, without
/// colours and ignoring `RUST_LOG`, and not installed: for tests (with
/// [`tracing::dispatcher::with_default`]) and for applications that route the server's logs
/// themselves. Also sets the access-log switch. `Err` when `log.level` does not parse.
pub fn subscriber<W>(log: &LogSettings, writer: W) -> Result<(Dispatch, LogHandle), String>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = parse_filter(&directives(&log.level, log.access_log))?;
    access_log::set_enabled(log.access_log);
    access_log::set_format(log.access_format);
    let (subscriber, handle) = build(log.format, filter, writer, false, None);
    Ok((Dispatch::new(subscriber), handle))
}

/// Changes a running subscriber's filter: what [`reconfigure`] uses for the one [`init`]
/// installed, and what [`subscriber`] returns for its own.
#[derive(Clone)]
pub struct LogHandle {
    /// The filter's slot in the subscriber: a `reload` layer, so the directives can change
    /// while every thread logs through it.
    filter: reload::Handle<EnvFilter, Registry>,
    /// The format the subscriber was built with: its layers are fixed once it is installed,
    /// so a different one is reported as needing a restart.
    format: LogFormat,
    /// `RUST_LOG`'s directives when they replaced `log.level` at start: they keep replacing
    /// it on reload, as the environment of a running process does not change.
    rust_log: Option<String>,
}

impl fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogHandle")
            .field("format", &self.format)
            .field("rust_log", &self.rust_log)
            .finish_non_exhaustive()
    }
}

impl LogHandle {
    /// The format the subscriber writes.
    pub fn format(&self) -> LogFormat {
        self.format
    }

    /// Applies `log.level` and `log.access_log`; see [`reconfigure`] for the errors.
    pub fn reconfigure(&self, log: &LogSettings) -> Result<(), String> {
        let level = self.rust_log.as_deref().unwrap_or(&log.level);
        let directives = directives(level, log.access_log);
        let filter = parse_filter(&directives).map_err(|err| format!("log.level: {err}"))?;
        self.filter
            .reload(filter)
            .map_err(|err| format!("cannot change the log filter: {err}"))?;
        access_log::set_enabled(log.access_log);
        access_log::set_format(log.access_format);
        sync_log_crate_level();
        tracing::info!(
            filter = %directives,
            access_log = log.access_log,
            "log filter changed"
        );
        if log.format != self.format {
            return Err(format!(
                "log.format needs a restart (running with {}, configured {}); \
                 log.level and log.access_log were applied",
                self.format, log.format
            ));
        }
        Ok(())
    }
}

/// Parses filter directives strictly (the lenient `EnvFilter::new` drops bad ones silently).
fn parse_filter(directives: &str) -> Result<EnvFilter, String> {
    EnvFilter::builder()
        .parse(directives)
        .map_err(|err| format!("{directives:?}: {err}"))
}

/// `level` plus the access log's own directive, unless `level` already names its target.
fn directives(level: &str, access_log: bool) -> String {
    let level = level.trim();
    let names_access = level
        .split(',')
        .any(|directive| directive.trim().starts_with(access_log::TARGET));
    if names_access {
        return level.to_owned();
    }
    let access = format!(
        "{}={}",
        access_log::TARGET,
        if access_log { "info" } else { "off" }
    );
    if level.is_empty() {
        access
    } else {
        format!("{level},{access}")
    }
}

/// Lets `log`-crate records (actix logs through it) reach the subscriber at the filter's
/// current maximum level: tracing-subscriber's bridge sets the `log` crate's level once, at
/// installation, and a reload can raise it.
fn sync_log_crate_level() {
    use tracing::level_filters::LevelFilter;
    let level = match LevelFilter::current() {
        LevelFilter::OFF => log::LevelFilter::Off,
        LevelFilter::ERROR => log::LevelFilter::Error,
        LevelFilter::WARN => log::LevelFilter::Warn,
        LevelFilter::INFO => log::LevelFilter::Info,
        LevelFilter::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    log::set_max_level(level);
}

/// The registry under the reloadable filter.
type Filtered = Layered<reload::Layer<EnvFilter, Registry>, Registry>;

/// The whole subscriber: registry, reloadable filter, one formatting layer chosen by
/// `log.format`.
type Built = Layered<Box<dyn Layer<Filtered> + Send + Sync>, Filtered>;

fn build<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
    rust_log: Option<String>,
) -> (Built, LogHandle)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (filter, reload_handle) = reload::Layer::new(filter);
    let output: Box<dyn Layer<Filtered> + Send + Sync> = match format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(ansi)
            .event_format(Human(tracing_subscriber::fmt::format()))
            .boxed(),
        LogFormat::Compact => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(ansi)
            .event_format(Human(tracing_subscriber::fmt::format().compact()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .with_ansi(false)
            .event_format(Lines(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            ))
            .boxed(),
    };
    let subscriber = Registry::default().with(filter).with(output);
    let handle = LogHandle {
        filter: reload_handle,
        format,
        rust_log,
    };
    (subscriber, handle)
}

/// Writes an access-log event's preformatted line (`log.access_format` `combined` or `json`)
/// as it is, and every other event as `F` does: a collector reading nginx's format or the
/// documented JSON object gets exactly that line, whatever `log.format` is.
struct Lines<F>(F);

impl<S, N, F> FormatEvent<S, N> for Lines<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        match write_preformatted(event, &mut writer) {
            Some(result) => result,
            None => self.0.format_event(ctx, writer, event),
        }
    }
}

/// Writes an access event's [`access_log::LINE_FIELD`] line; `None` for any other event.
fn write_preformatted(event: &Event<'_>, writer: &mut Writer<'_>) -> Option<fmt::Result> {
    struct Line<'w, 'a>(&'w mut Writer<'a>, fmt::Result);
    impl Visit for Line<'_, '_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == access_log::LINE_FIELD {
                self.1 = self
                    .0
                    .write_str(value)
                    .and_then(|()| self.0.write_char('\n'));
            }
        }
        fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
    }
    if event.metadata().target() != access_log::TARGET
        || event
            .metadata()
            .fields()
            .field(access_log::LINE_FIELD)
            .is_none()
    {
        return None;
    }
    let mut line = Line(writer, Ok(()));
    event.record(&mut line);
    Some(line.1)
}

/// A human format (`F`, tracing-subscriber's full or compact one) that prints access-log
/// events as classic access lines and every other event as `F` does.
struct Human<F>(F);

impl<S, N, F> FormatEvent<S, N> for Human<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if event.metadata().target() != access_log::TARGET {
            return self.0.format_event(ctx, writer, event);
        }
        if let Some(result) = write_preformatted(event, &mut writer) {
            return result;
        }
        let mut fields = AccessFields::default();
        event.record(&mut fields);
        let ansi = writer.has_ansi_escapes();
        // The same prefix as the full format: time, level, target.
        let (dim, green, reset) = if ansi {
            ("\x1b[2m", "\x1b[32m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        write!(writer, "{dim}")?;
        SystemTime.format_time(&mut writer)?;
        write!(
            writer,
            "{reset} {green} INFO{reset} {dim}{}:{reset} ",
            access_log::TARGET
        )?;
        // Behind a trusted proxy the client's address, else the peer's with its port.
        match &fields.client {
            Some(client) => write!(writer, "{client} \"")?,
            None => write!(writer, "{} \"", fields.peer)?,
        }
        escaped(&mut writer, &fields.method)?;
        writer.write_char(' ')?;
        escaped(&mut writer, &fields.uri)?;
        writer.write_char(' ')?;
        escaped(&mut writer, &fields.version)?;
        write!(
            writer,
            "\" {} {} {:.3}ms ",
            fields.status,
            fields.bytes,
            fields.duration * 1000.0
        )?;
        quoted_or_dash(&mut writer, fields.referer.as_deref())?;
        writer.write_char(' ')?;
        quoted_or_dash(&mut writer, fields.user_agent.as_deref())?;
        writeln!(writer)
    }
}

/// An access-log event's fields, collected to print them in the access line's order.
#[derive(Default)]
struct AccessFields {
    /// `peer`: the TCP peer, first on the line unless `client` differs.
    peer: String,
    /// `client`: the client's address (trusted proxies' report, else the peer's).
    client: Option<String>,
    /// `method`: in the quoted request line.
    method: String,
    /// `uri`: the request target, in the quoted request line.
    uri: String,
    /// `version`: ends the quoted request line.
    version: String,
    /// `status`: the response's status code.
    status: u64,
    /// `bytes`: bytes written for the response.
    bytes: u64,
    /// `duration`: seconds, printed in milliseconds.
    duration: f64,
    /// `user_agent`: `None` prints `"-"`.
    user_agent: Option<String>,
    /// `referer`: `None` prints `"-"`.
    referer: Option<String>,
}

impl Visit for AccessFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "method" => &mut self.method,
            "uri" => &mut self.uri,
            "version" => &mut self.version,
            "peer" => &mut self.peer,
            "user_agent" => self.user_agent.get_or_insert_with(String::new),
            "referer" => self.referer.get_or_insert_with(String::new),
            _ => return,
        };
        value.clone_into(slot);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "status" => self.status = value,
            "bytes" => self.bytes = value,
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "duration" {
            self.duration = value;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "peer" => self.peer = format!("{value:?}"),
            "client" => self.client = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

/// `"value"` with [`escaped`] contents, or `"-"` when absent (the combined log format's way).
fn quoted_or_dash(writer: &mut Writer<'_>, value: Option<&str>) -> fmt::Result {
    writer.write_char('"')?;
    escaped(writer, value.unwrap_or("-"))?;
    writer.write_char('"')
}

/// Writes client-chosen text so that it cannot end its quoted field or forge a line: `"` and
/// `\` are backslash-escaped, control characters written as `\xHH`.
fn escaped(writer: &mut Writer<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        match c {
            '"' => writer.write_str("\\\"")?,
            '\\' => writer.write_str("\\\\")?,
            c if c.is_control() => {
                let mut utf8 = [0; 4];
                for byte in c.encode_utf8(&mut utf8).bytes() {
                    write!(writer, "\\x{byte:02X}")?;
                }
            }
            c => writer.write_char(c)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_switch_adds_its_own_directive() {
        assert_eq!(directives("warn", true), "warn,web_server::access=info");
        assert_eq!(directives(" info ", false), "info,web_server::access=off");
        assert_eq!(directives("", true), "web_server::access=info");
        let own = "info,web_server::access=warn";
        assert_eq!(directives(own, true), own);
        for level in ["warn", "web_server=debug,warn", "off"] {
            for on in [true, false] {
                parse_filter(&directives(level, on)).unwrap();
            }
        }
    }

    #[test]
    fn access_lines_in_colour_colour_only_the_prefix() {
        use std::sync::{Arc, Mutex};
        let out: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = out.clone();
        let writer = move || Sink(sink.clone());
        let filter = parse_filter(&directives("info", true)).unwrap();
        let (subscriber, _) = build(LogFormat::Compact, filter, writer, true, None);
        tracing::subscriber::with_default(subscriber, || {
            access_log::record(&access_log::AccessEntry {
                peer: "[::1]:8080".parse().unwrap(),
                client: "::1".parse().unwrap(),
                method: "HEAD",
                target: "/",
                version: "HTTP/1.0",
                status: 304,
                bytes: 0,
                body_bytes: 0,
                duration: std::time::Duration::from_nanos(1500),
                user_agent: None,
                referer: None,
                host: None,
                request_id: None,
            })
        });
        let line = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let (_, rest) = line.split_once("Z\x1b[0m ").unwrap();
        assert_eq!(
            rest,
            "\x1b[32m INFO\x1b[0m \x1b[2mweb_server::access:\x1b[0m \
             [::1]:8080 \"HEAD / HTTP/1.0\" 304 0 0.002ms \"-\" \"-\"\n"
        );
    }

    /// Appends to a shared buffer.
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bad_directives_are_errors() {
        assert!(parse_filter("web_server=loud").is_err());
    }
}
