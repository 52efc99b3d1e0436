//! Hot reload, as OTP's `config_change`: SIGHUP or `POST /admin/reload` re-reads the
//! configuration and applies what can change under a running server, without dropping a
//! connection; what needs a re-bind or a new tree is reported as such. An invalid new
//! configuration changes nothing: the error is logged and returned, and the old one stays.
//!
//! | applied at once | needs a restart |
//! |---|---|
//! | `timeouts.{header,body,keepalive,send}_ms`, `limits.*`, `server.{trusted_proxies,request_id}` (from each connection's next request; `limits.max_connections_per_ip` and `server.proxy_protocol` from the next accepted connection) | `server.{bind,workers,backlog,docroot}` |
//! | `server.max_connections` | `compression.*`, `cache.max_file_bytes` (the static mounts' rules) |
//! | `cache.{max_bytes,max_entries,revalidate_ms,max_negative_entries}` | `timeouts.shutdown_ms`, `admin.*`, `tls.bind` |
//! | `log.level`, `log.access_log`, `log.access_format`; TLS certificates | `log.format` |

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::cache::StaticCache;
use crate::config::{ConfigSource, ServerConfig};
use crate::pipeline::Pipeline;
use crate::tcp::gate::ConnectionGate;
use crate::tls::Tls;

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// Keys whose new values now apply.
    pub applied: Vec<&'static str>,
    /// Keys that changed but apply only after a restart; they keep their old values.
    pub needs_restart: Vec<&'static str>,
}

/// Applies new configurations to a running server. Shared by the signal handler and the admin
/// endpoint; one reload at a time.
pub struct Reloader {
    /// Where a reload reads the new configuration; `None` for servers configured in code.
    source: Option<ConfigSource>,
    /// The configuration in force (the parts that did not apply stay at their old values).
    current: Mutex<ServerConfig>,
    /// Takes new connection options.
    pipeline: Arc<Pipeline>,
    /// Takes new cache bounds.
    cache: Arc<StaticCache>,
    /// Takes a new connection limit.
    gate: Arc<ConnectionGate>,
    /// Takes new certificates, when TLS is on.
    tls: Option<Arc<Tls>>,
    /// The configuration in force as TOML, secrets redacted, for `GET /admin/config`.
    config_text: Mutex<String>,
}

/// The keys (or whole sections) a reload cannot change: after a reload the configuration in
/// force keeps their start-up values. The same keys `apply` reports as needing a restart.
const APPLIED_AT_RESTART: [&str; 11] = [
    "server.bind",
    "server.workers",
    "server.backlog",
    "server.docroot",
    "compression",
    "cache.max_file_bytes",
    "timeouts.shutdown_ms",
    "admin",
    "tls.bind",
    "tls.redirect_http",
    "log.format",
];

/// The configuration in force after a reload from `old` to `new` (both TOML): `new`, with the
/// values of [`APPLIED_AT_RESTART`] taken from `old`. Either unreadable (a server configured
/// in code has no text): `new` as it is.
fn in_force(old: &str, new: &str) -> String {
    let (Ok(old), Ok(mut table)) = (old.parse::<toml::Table>(), new.parse::<toml::Table>()) else {
        return new.to_owned();
    };
    for path in APPLIED_AT_RESTART {
        let (section, key) = path
            .split_once('.')
            .map_or((path, None), |(s, k)| (s, Some(k)));
        match key {
            None => match old.get(section) {
                Some(value) => {
                    table.insert(section.to_owned(), value.clone());
                }
                None => {
                    table.remove(section);
                }
            },
            Some(key) => {
                let old_value = old.get(section).and_then(|s| s.get(key)).cloned();
                if let Some(toml::Value::Table(new_section)) = table.get_mut(section) {
                    match old_value {
                        Some(value) => {
                            new_section.insert(key.to_owned(), value);
                        }
                        None => {
                            new_section.remove(key);
                        }
                    }
                }
            }
        }
    }
    toml::to_string(&table).unwrap_or_else(|_| new.to_owned())
}

impl Reloader {
    pub(crate) fn new(
        config: ServerConfig,
        pipeline: Arc<Pipeline>,
        cache: Arc<StaticCache>,
        gate: Arc<ConnectionGate>,
        tls: Option<Arc<Tls>>,
    ) -> Arc<Self> {
        Arc::new(Reloader {
            config_text: Mutex::new(config.config_text.clone()),
            source: config.config_source.clone(),
            current: Mutex::new(config),
            pipeline,
            cache,
            gate,
            tls,
        })
    }

    /// The configuration in force, as TOML with secrets redacted.
    pub fn config_text(&self) -> String {
        self.config_text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the configuration source and applies it.
    pub fn reload(&self) -> Result<ReloadReport, String> {
        let source = self
            .source
            .as_ref()
            .ok_or("this server was configured in code: there is no configuration to re-read")?;
        let settings = source.load().inspect_err(|err| {
            tracing::error!(%err, "configuration reload rejected; keeping the old configuration");
        })?;
        let report = self.apply(ServerConfig::from_settings(&settings))?;
        tracing::info!(
            applied = ?report.applied,
            needs_restart = ?report.needs_restart,
            "configuration reloaded"
        );
        Ok(report)
    }

    /// Applies `new` to the running server and reports what changed. Certificates are read
    /// first: if they cannot be used, nothing changes.
    pub fn apply(&self, new: ServerConfig) -> Result<ReloadReport, String> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let mut report = ReloadReport::default();
        if let (Some(tls), Some(new_tls)) = (&self.tls, &new.tls) {
            // Certificate files are often replaced in place (renewals): always re-read them.
            tls.reload(new_tls).inspect_err(|err| {
                tracing::error!(%err, "configuration reload rejected; keeping the old configuration");
            })?;
            report.applied.push("tls.cert");
            if let Some(current_tls) = current.tls.as_mut() {
                if current_tls.handshake_timeout != new_tls.handshake_timeout {
                    report.applied.push("tls.handshake_timeout_ms");
                }
                current_tls.cert = new_tls.cert.clone();
                current_tls.key = new_tls.key.clone();
                current_tls.handshake_timeout = new_tls.handshake_timeout;
            }
        }
        let (old_conn, new_conn) = (&current.connection, &new.connection);
        let live = [
            (
                "timeouts.header_ms",
                old_conn.header_timeout != new_conn.header_timeout,
            ),
            (
                "timeouts.body_ms",
                old_conn.body_timeout != new_conn.body_timeout,
            ),
            (
                "timeouts.keepalive_ms",
                old_conn.keepalive_timeout != new_conn.keepalive_timeout,
            ),
            (
                "timeouts.send_ms",
                old_conn.send_timeout != new_conn.send_timeout,
            ),
            (
                "limits.max_request_line",
                old_conn.limits.max_request_line != new_conn.limits.max_request_line,
            ),
            (
                "limits.max_header_bytes",
                old_conn.limits.max_header_bytes != new_conn.limits.max_header_bytes,
            ),
            (
                "limits.max_headers",
                old_conn.limits.max_headers != new_conn.limits.max_headers,
            ),
            (
                "limits.max_body_bytes",
                old_conn.limits.max_body_bytes != new_conn.limits.max_body_bytes,
            ),
            (
                "limits.max_keepalive_requests",
                old_conn.max_keepalive_requests != new_conn.max_keepalive_requests,
            ),
            (
                "limits.requests_per_second",
                old_conn.request_rate.per_second != new_conn.request_rate.per_second,
            ),
            (
                "limits.request_burst",
                old_conn.request_rate.burst != new_conn.request_rate.burst,
            ),
            (
                "server.trusted_proxies",
                old_conn.trusted_proxies != new_conn.trusted_proxies,
            ),
            (
                "server.request_id",
                old_conn.request_id != new_conn.request_id,
            ),
            (
                "server.proxy_protocol",
                old_conn.proxy_protocol != new_conn.proxy_protocol,
            ),
        ];
        if live.iter().any(|(_, changed)| *changed) {
            self.pipeline.set_options(new.connection.clone());
            report
                .applied
                .extend(live.iter().filter(|(_, c)| *c).map(|(key, _)| *key));
            current.connection = new.connection.clone();
        }
        if current.max_connections_per_ip != new.max_connections_per_ip
            || self.gate.per_ip_limit() != new.max_connections_per_ip
            || report.applied.contains(&"server.trusted_proxies")
        {
            self.gate.set_per_ip_limit(
                new.max_connections_per_ip,
                new.connection.trusted_proxies.clone(),
            );
            if current.max_connections_per_ip != new.max_connections_per_ip {
                report.applied.push("limits.max_connections_per_ip");
            }
            current.max_connections_per_ip = new.max_connections_per_ip;
        }
        if current.max_connections != new.max_connections {
            self.gate.set_limit(new.max_connections);
            report.applied.push("server.max_connections");
            current.max_connections = new.max_connections;
        }
        let (old_cache, new_cache) = (current.cache, new.cache);
        if old_cache != new_cache {
            self.cache.set_options(new_cache);
            for (key, changed) in [
                (
                    "cache.max_bytes",
                    old_cache.max_bytes != new_cache.max_bytes,
                ),
                (
                    "cache.max_entries",
                    old_cache.max_entries != new_cache.max_entries,
                ),
                (
                    "cache.revalidate_ms",
                    old_cache.revalidate != new_cache.revalidate,
                ),
                (
                    "cache.max_negative_entries",
                    old_cache.max_negative_entries != new_cache.max_negative_entries,
                ),
            ] {
                if changed {
                    report.applied.push(key);
                }
            }
            current.cache = new_cache;
        }
        if let (Some(old_log), Some(new_log)) = (&current.log, &new.log) {
            if old_log != new_log {
                if old_log.format != new_log.format {
                    report.needs_restart.push("log.format");
                }
                if old_log.level != new_log.level
                    || old_log.access_log != new_log.access_log
                    || old_log.access_format != new_log.access_format
                {
                    // The format is reported as needing a restart above; apply the rest.
                    let applicable = crate::config::LogSettings {
                        format: old_log.format,
                        ..new_log.clone()
                    };
                    match crate::logging::reconfigure(&applicable) {
                        Ok(()) => {
                            if old_log.level != new_log.level {
                                report.applied.push("log.level");
                            }
                            if old_log.access_log != new_log.access_log {
                                report.applied.push("log.access_log");
                            }
                            if old_log.access_format != new_log.access_format {
                                report.applied.push("log.access_format");
                            }
                            let format = old_log.format;
                            current.log = Some(crate::config::LogSettings {
                                format,
                                ..new_log.clone()
                            });
                        }
                        Err(err) => tracing::warn!(%err, "log settings not applied"),
                    }
                }
            }
        }
        for (key, changed) in [
            ("server.bind", current.bind != new.bind),
            ("server.workers", current.workers != new.workers),
            ("server.backlog", current.backlog != new.backlog),
            ("server.docroot", current.docroot != new.docroot),
            (
                "static files (compression.*, cache.max_file_bytes)",
                current.static_options != new.static_options,
            ),
            (
                "timeouts.shutdown_ms",
                current.shutdown_timeout != new.shutdown_timeout,
            ),
            ("admin.*", current.admin != new.admin),
            (
                "tls.bind / tls.redirect_http",
                current.tls.as_ref().map(|t| (&t.bind, t.redirect_http))
                    != new.tls.as_ref().map(|t| (&t.bind, t.redirect_http)),
            ),
        ] {
            if changed {
                report.needs_restart.push(key);
            }
        }
        if !report.needs_restart.is_empty() {
            tracing::warn!(keys = ?report.needs_restart, "changed settings need a restart to apply");
        }
        let mut text = self.config_text.lock().unwrap_or_else(|p| p.into_inner());
        *text = in_force(&text, &new.config_text);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_in_force_keeps_what_applies_only_at_restart() {
        let old = "[server]\nworkers = 2\nmax_connections = 10\n\n[timeouts]\nheader_ms = 1000\nshutdown_ms = 5000\n\n[admin]\nallow_kill = true\n";
        let new = "[server]\nworkers = 8\nmax_connections = 20\n\n[timeouts]\nheader_ms = 2000\nshutdown_ms = 9000\n\n[admin]\nallow_kill = false\n";
        let text: toml::Table = in_force(old, new).parse().unwrap();
        assert_eq!(text["server"]["max_connections"].as_integer(), Some(20));
        assert_eq!(text["timeouts"]["header_ms"].as_integer(), Some(2000));
        assert_eq!(text["server"]["workers"].as_integer(), Some(2));
        assert_eq!(text["timeouts"]["shutdown_ms"].as_integer(), Some(5000));
        assert_eq!(text["admin"]["allow_kill"].as_bool(), Some(true));
        assert_eq!(in_force("", "[a]\nb = 1\n"), "[a]\nb = 1\n");
    }
}
