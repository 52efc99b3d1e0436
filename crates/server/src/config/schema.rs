//! The known keys and the type and range of each, checked against every layer separately so an
//! error names the file, variable or flag the bad value came from.
//!
//! The schema mirrors [`Settings`](super::Settings); a unit test keeps the two in step.

use std::net::SocketAddr;
use std::path::PathBuf;

use tracing_subscriber::EnvFilter;
use web_server_http::Cidr;

/// The shape of a key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A non-negative integer within `min..=max`, in `unit`.
    Int {
        min: u64,
        max: u64,
        unit: &'static str,
    },
    /// `true` or `false`.
    Bool,
    /// One of a fixed set of names.
    Choice(&'static [&'static str]),
    /// A tracing `EnvFilter` directive string.
    Directive,
    /// An optional secret: printable ASCII without blanks; `""` means none.
    Secret,
    /// A list of socket addresses with at least `min_len` entries.
    Addrs { min_len: usize },
    /// An optional socket address; `""` means none.
    OptAddr,
    /// A list of host names (no port), as a `Host` header names them.
    Hosts,
    /// A required directory path.
    Dir,
    /// An optional file path; `""` means none.
    OptFile,
    /// A list of address blocks (`10.0.0.0/8`, `::1/128`, a bare address), possibly empty.
    Cidrs,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeySpec {
    /// Dotted name, `section.key`.
    pub key: &'static str,
    /// What its value must look like.
    pub kind: Kind,
}

impl KeySpec {
    /// The section, `server` for `server.bind`.
    pub fn section(&self) -> &'static str {
        self.key
            .split_once('.')
            .map_or(self.key, |(section, _)| section)
    }

    /// The environment variable that sets this key, e.g. `WEB_SERVER__SERVER__BIND`.
    pub fn env_var(&self) -> String {
        env_var_for(self.key)
    }
}

/// The environment variable for a dotted key.
pub(crate) fn env_var_for(key: &str) -> String {
    format!(
        "{}{}",
        super::ENV_PREFIX,
        key.replace('.', "__").to_ascii_uppercase()
    )
}

const MS_MAX: u64 = 86_400_000; // one day: anything longer is a unit mistake
const BYTES_MAX: u64 = 1 << 40; // 1 TiB

const fn ms(min: u64) -> Kind {
    Kind::Int {
        min,
        max: MS_MAX,
        unit: "milliseconds",
    }
}

const fn bytes(min: u64, max: u64) -> Kind {
    Kind::Int {
        min,
        max,
        unit: "bytes",
    }
}

const fn count(min: u64, max: u64) -> Kind {
    Kind::Int { min, max, unit: "" }
}

/// The names `log.format` accepts (also offered by `--log-format` and its completions).
pub(crate) const LOG_FORMATS: &[&str] = &["pretty", "compact", "json"];

/// The names `log.access_format` accepts.
pub(crate) const ACCESS_FORMATS: &[&str] = &["text", "combined", "json"];

/// Every key, in the order of `config/default.toml` and docs/configuration.md.
pub(crate) const SCHEMA: &[KeySpec] = &[
    KeySpec {
        key: "server.bind",
        kind: Kind::Addrs { min_len: 1 },
    },
    KeySpec {
        key: "server.workers",
        kind: count(0, 1024),
    },
    KeySpec {
        key: "server.backlog",
        kind: count(1, 65_535),
    },
    KeySpec {
        key: "server.max_connections",
        kind: count(1, 1_000_000),
    },
    KeySpec {
        key: "server.docroot",
        kind: Kind::Dir,
    },
    KeySpec {
        key: "server.trusted_proxies",
        kind: Kind::Cidrs,
    },
    KeySpec {
        key: "server.request_id",
        kind: Kind::Bool,
    },
    KeySpec {
        key: "server.proxy_protocol",
        kind: Kind::Bool,
    },
    KeySpec {
        key: "timeouts.header_ms",
        kind: ms(1),
    },
    KeySpec {
        key: "timeouts.body_ms",
        kind: ms(1),
    },
    KeySpec {
        key: "timeouts.keepalive_ms",
        kind: ms(1),
    },
    KeySpec {
        key: "timeouts.send_ms",
        kind: ms(1),
    },
    KeySpec {
        key: "timeouts.shutdown_ms",
        kind: ms(1),
    },
    KeySpec {
        key: "limits.max_request_line",
        kind: bytes(64, 1 << 20),
    },
    KeySpec {
        key: "limits.max_header_bytes",
        kind: bytes(256, 16 << 20),
    },
    KeySpec {
        key: "limits.max_headers",
        kind: count(1, 10_000),
    },
    KeySpec {
        key: "limits.max_body_bytes",
        kind: bytes(0, BYTES_MAX),
    },
    KeySpec {
        key: "limits.max_keepalive_requests",
        kind: count(1, u32::MAX as u64),
    },
    KeySpec {
        key: "limits.max_connections_per_ip",
        kind: count(0, 1_000_000),
    },
    KeySpec {
        key: "limits.requests_per_second",
        kind: count(0, 1_000_000),
    },
    KeySpec {
        key: "limits.request_burst",
        kind: count(1, 1_000_000),
    },
    KeySpec {
        key: "cache.max_bytes",
        kind: bytes(0, BYTES_MAX),
    },
    KeySpec {
        key: "cache.max_entries",
        kind: count(0, 100_000_000),
    },
    KeySpec {
        key: "cache.max_file_bytes",
        kind: bytes(0, BYTES_MAX),
    },
    KeySpec {
        key: "cache.revalidate_ms",
        kind: ms(0),
    },
    KeySpec {
        key: "cache.max_negative_entries",
        kind: count(0, 100_000_000),
    },
    KeySpec {
        key: "compression.gzip",
        kind: Kind::Bool,
    },
    KeySpec {
        key: "compression.min_bytes",
        kind: bytes(0, BYTES_MAX),
    },
    KeySpec {
        key: "compression.level",
        kind: count(0, 9),
    },
    KeySpec {
        key: "admin.bind",
        kind: Kind::OptAddr,
    },
    KeySpec {
        key: "admin.token",
        kind: Kind::Secret,
    },
    KeySpec {
        key: "admin.metrics_token",
        kind: Kind::Secret,
    },
    KeySpec {
        key: "admin.allow_kill",
        kind: Kind::Bool,
    },
    KeySpec {
        key: "admin.allowed_hosts",
        kind: Kind::Hosts,
    },
    KeySpec {
        key: "tls.bind",
        kind: Kind::Addrs { min_len: 0 },
    },
    KeySpec {
        key: "tls.cert",
        kind: Kind::OptFile,
    },
    KeySpec {
        key: "tls.key",
        kind: Kind::OptFile,
    },
    KeySpec {
        key: "tls.handshake_timeout_ms",
        kind: ms(1),
    },
    KeySpec {
        key: "tls.redirect_http",
        kind: Kind::Bool,
    },
    KeySpec {
        key: "log.format",
        kind: Kind::Choice(LOG_FORMATS),
    },
    KeySpec {
        key: "log.level",
        kind: Kind::Directive,
    },
    KeySpec {
        key: "log.access_log",
        kind: Kind::Bool,
    },
    KeySpec {
        key: "log.access_format",
        kind: Kind::Choice(ACCESS_FORMATS),
    },
];

/// The spec of a dotted key, if it is known.
pub(crate) fn lookup(key: &str) -> Option<&'static KeySpec> {
    SCHEMA.iter().find(|spec| spec.key == key)
}

/// Whether `name` is a section (`server`, `timeouts`, ...).
pub(crate) fn is_section(name: &str) -> bool {
    SCHEMA.iter().any(|spec| spec.section() == name)
}

/// The known key closest to an unknown one, for "did you mean" hints: a small edit distance
/// on the whole key, else the same name in another section, else a key of the same section
/// whose name starts with the same word (`timeouts.header_timeout` → `timeouts.header_ms`).
pub(crate) fn suggest(unknown: &str) -> Option<&'static str> {
    let (section, name) = unknown.rsplit_once('.').unwrap_or(("", unknown));
    let first_word = |name: &str| name.split('_').next().unwrap_or(name).to_owned();
    SCHEMA
        .iter()
        .map(|spec| (spec.key, edit_distance(unknown, spec.key)))
        .filter(|&(_, distance)| distance <= 2)
        .min_by_key(|&(_, distance)| distance)
        .map(|(key, _)| key)
        .or_else(|| {
            SCHEMA
                .iter()
                .find(|spec| spec.key.rsplit('.').next() == Some(name))
                .map(|spec| spec.key)
        })
        .or_else(|| {
            SCHEMA
                .iter()
                .find(|spec| {
                    spec.section() == section
                        && first_word(&spec.key[section.len() + 1..]) == first_word(name)
                })
                .map(|spec| spec.key)
        })
}

/// Levenshtein distance over bytes (keys are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// A value that passed its key's type check, before relative paths are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Int(u64),
    Bool(bool),
    /// Choice, directive or secret (`""` for a secret means none).
    Text(String),
    Addrs(Vec<SocketAddr>),
    /// Host names.
    Hosts(Vec<String>),
    /// An optional address (`None` written as `""`).
    Addr(Option<SocketAddr>),
    /// A path, relative ones not yet resolved (`None` written as `""`).
    Path(Option<PathBuf>),
    /// Address blocks.
    Cidrs(Vec<Cidr>),
}

impl Kind {
    /// What a value of this kind looks like, for error messages.
    pub fn expected(self) -> String {
        match self {
            Kind::Int { min, max, unit } => {
                let unit = if unit.is_empty() {
                    String::new()
                } else {
                    format!(" ({unit})")
                };
                format!("an integer from {min} to {max}{unit}")
            }
            Kind::Bool => "true or false".to_owned(),
            Kind::Choice(names) => {
                let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
                format!("one of {}", quoted.join(", "))
            }
            Kind::Directive => {
                "a log filter such as \"info\" or \"web_server=debug,warn\"".to_owned()
            }
            Kind::Secret => "printable ASCII without blanks, or \"\" for none".to_owned(),
            Kind::Addrs { min_len: 0 } => {
                "a list of socket addresses such as [\"127.0.0.1:8443\", \"[::1]:8443\"] (empty disables)"
                    .to_owned()
            }
            Kind::Addrs { .. } => {
                "a non-empty list of socket addresses such as [\"127.0.0.1:8080\", \"[::1]:8080\"]"
                    .to_owned()
            }
            Kind::OptAddr => {
                "a socket address such as \"127.0.0.1:9901\", or \"\" to disable".to_owned()
            }
            Kind::Dir => "a directory path".to_owned(),
            Kind::OptFile => "a file path, or \"\" for none".to_owned(),
            Kind::Hosts => {
                "a list of host names without ports, such as [\"admin.internal\"]".to_owned()
            }
            Kind::Cidrs => {
                "a list of address blocks such as [\"10.0.0.0/8\", \"::1/128\"] (empty trusts none)"
                    .to_owned()
            }
        }
    }

    /// Converts a TOML value, checking type and range.
    pub fn parse_toml(self, value: &toml::Value) -> Result<Val, String> {
        let wrong = || {
            let found = if self == Kind::Secret {
                type_name(value).to_owned()
            } else {
                describe(value)
            };
            format!("expected {}, found {found}", self.expected())
        };
        let val = match (self, value) {
            (Kind::Int { .. }, toml::Value::Integer(n)) => {
                Val::Int(u64::try_from(*n).map_err(|_| wrong())?)
            }
            (Kind::Bool, toml::Value::Boolean(b)) => Val::Bool(*b),
            (Kind::Choice(_) | Kind::Directive | Kind::Secret, toml::Value::String(s)) => {
                Val::Text(s.clone())
            }
            (Kind::Addrs { .. }, toml::Value::Array(items)) => {
                let mut addrs = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => addrs.push(
                            parse_addr(s)
                                .map_err(|e| format!("expected {}, but {e}", self.expected()))?,
                        ),
                        other => {
                            return Err(format!(
                                "expected {}, found {} in the list",
                                self.expected(),
                                describe(other)
                            ))
                        }
                    }
                }
                Val::Addrs(addrs)
            }
            (Kind::Hosts, toml::Value::Array(items)) => {
                let mut hosts = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => hosts.push(s.clone()),
                        other => {
                            return Err(format!(
                                "expected {}, found {} in the list",
                                self.expected(),
                                describe(other)
                            ))
                        }
                    }
                }
                Val::Hosts(hosts)
            }
            (Kind::Cidrs, toml::Value::Array(items)) => {
                let mut blocks = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => blocks.push(parse_cidr(s, self)?),
                        other => {
                            return Err(format!(
                                "expected {}, found {} in the list",
                                self.expected(),
                                describe(other)
                            ))
                        }
                    }
                }
                Val::Cidrs(blocks)
            }
            (Kind::Cidrs, toml::Value::String(s)) => self.parse_text(s)?,
            // A single address is accepted where a list is expected: `bind = "127.0.0.1:80"`.
            (Kind::Addrs { .. }, toml::Value::String(s)) => self.parse_text(s)?,
            (Kind::OptAddr | Kind::Dir | Kind::OptFile, toml::Value::String(s)) => {
                self.parse_text(s)?
            }
            _ => return Err(wrong()),
        };
        self.check(&val)?;
        Ok(val)
    }

    /// Converts the text of an environment variable, checking type and range. Lists are
    /// comma-separated; `""` is an empty list or "none".
    pub fn parse_text(self, text: &str) -> Result<Val, String> {
        let wrong = || format!("expected {}, found {text:?}", self.expected());
        let val = match self {
            Kind::Int { .. } => Val::Int(text.trim().parse().map_err(|_| wrong())?),
            Kind::Bool => Val::Bool(match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return Err(wrong()),
            }),
            Kind::Choice(_) | Kind::Directive | Kind::Secret => Val::Text(text.to_owned()),
            Kind::Addrs { .. } => {
                let mut addrs = Vec::new();
                for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    addrs.push(
                        parse_addr(item)
                            .map_err(|e| format!("expected {}, but {e}", self.expected()))?,
                    );
                }
                Val::Addrs(addrs)
            }
            Kind::Hosts => Val::Hosts(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            Kind::Cidrs => Val::Cidrs(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| parse_cidr(s, self))
                    .collect::<Result<_, _>>()?,
            ),
            Kind::OptAddr => match text.trim() {
                "" => Val::Addr(None),
                addr => Val::Addr(Some(
                    parse_addr(addr)
                        .map_err(|e| format!("expected {}, but {e}", self.expected()))?,
                )),
            },
            Kind::Dir | Kind::OptFile => match text {
                "" => Val::Path(None),
                path => Val::Path(Some(PathBuf::from(path))),
            },
        };
        self.check(&val)?;
        Ok(val)
    }

    /// Checks ranges and contents of a value already of the right type.
    pub fn check(self, val: &Val) -> Result<(), String> {
        match (self, val) {
            (Kind::Int { min, max, .. }, Val::Int(n)) if !(min..=max).contains(n) => {
                Err(format!("expected {}, found {n}", self.expected()))
            }
            (Kind::Choice(names), Val::Text(s)) if !names.contains(&s.as_str()) => {
                Err(format!("expected {}, found {s:?}", self.expected()))
            }
            (Kind::Directive, Val::Text(s)) => check_directive(s),
            (Kind::Secret, Val::Text(s)) => check_secret(s),
            (Kind::Addrs { min_len }, Val::Addrs(addrs)) if addrs.len() < min_len => {
                Err(format!("expected {}, found an empty list", self.expected()))
            }
            (Kind::Hosts, Val::Hosts(hosts)) => hosts
                .iter()
                .find(|host| !is_host_name(host))
                .map_or(Ok(()), |bad| {
                    Err(format!("expected {}, found {bad:?}", self.expected()))
                }),
            (Kind::Dir, Val::Path(None)) => Err(format!(
                "expected {}, found an empty string",
                self.expected()
            )),
            _ => Ok(()),
        }
    }
}

/// A DNS name or IP address as a `Host` header carries it, without a port: letters, digits,
/// `-`, `.`, and the brackets and colons of an IPv6 literal.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'[' | b']' | b':'))
        && (host.starts_with('[') || !host.contains(':'))
}

fn parse_cidr(text: &str, kind: Kind) -> Result<Cidr, String> {
    text.parse()
        .map_err(|e| format!("expected {}, but {e}", kind.expected()))
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!("{text:?} is not an IP address with a port (host names are not resolved; write IPv6 as \"[::1]:8080\")")
    })
}

/// Level names a bare directive may be; any other bare word would silently become a target
/// name enabled at TRACE (`"inof"` would log nothing but target `inof`).
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

fn check_directive(directive: &str) -> Result<(), String> {
    if directive.trim().is_empty() {
        return Err(format!(
            "expected {}, found an empty string",
            Kind::Directive.expected()
        ));
    }
    for part in directive
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let bare = !part.contains('=') && !part.contains('[');
        if bare && !LEVELS.iter().any(|level| level.eq_ignore_ascii_case(part)) {
            return Err(format!(
                "expected {}, found {directive:?} ({part:?} is not a level; write \"{part}=LEVEL\" to filter a target)",
                Kind::Directive.expected()
            ));
        }
    }
    EnvFilter::builder()
        .parse(directive)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "expected {}, found {directive:?} ({e})",
                Kind::Directive.expected()
            )
        })
}

/// The placeholder `--print-config` writes instead of a token; refused as the effective token
/// (see `load::validate`), but a later layer may replace it, so printed files can be reused.
pub(crate) const REDACTED: &str = "<redacted>";

fn check_secret(secret: &str) -> Result<(), String> {
    if let Some(bad) = secret.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "expected {}, found a string containing {bad:?}",
            Kind::Secret.expected()
        ));
    }
    Ok(())
}

/// A TOML value's type, for messages about secrets (whose value is never echoed).
fn type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// A TOML value's type and value, for error messages.
fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(n) => format!("integer {n}"),
        toml::Value::Float(x) => format!("float {x}"),
        toml::Value::Boolean(b) => format!("boolean {b}"),
        toml::Value::Datetime(d) => format!("datetime {d}"),
        toml::Value::Array(_) => "an array".to_owned(),
        toml::Value::Table(_) => "a table".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_sectioned() {
        for (i, spec) in SCHEMA.iter().enumerate() {
            assert!(spec.key.contains('.'), "{}", spec.key);
            assert!(
                SCHEMA[i + 1..].iter().all(|other| other.key != spec.key),
                "duplicate {}",
                spec.key
            );
        }
    }

    #[test]
    fn env_var_names() {
        assert_eq!(
            lookup("timeouts.header_ms").unwrap().env_var(),
            "WEB_SERVER__TIMEOUTS__HEADER_MS"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("server.bnd"), Some("server.bind"));
        assert_eq!(suggest("admin.docroot"), Some("server.docroot"));
        assert_eq!(
            suggest("timeouts.header_timeout"),
            Some("timeouts.header_ms")
        );
        assert_eq!(suggest("bind"), Some("server.bind"));
        assert_eq!(suggest("nothing.like.it"), None);
    }

    #[test]
    fn integers_from_toml_and_text() {
        let kind = lookup("compression.level").unwrap().kind;
        assert_eq!(kind.parse_toml(&toml::Value::Integer(9)), Ok(Val::Int(9)));
        let err = kind.parse_toml(&toml::Value::Integer(10)).unwrap_err();
        assert!(err.contains("from 0 to 9") && err.contains("10"), "{err}");
        let err = kind.parse_toml(&toml::Value::Integer(-1)).unwrap_err();
        assert!(err.contains("integer -1"), "{err}");
        let err = kind
            .parse_toml(&toml::Value::String("6".into()))
            .unwrap_err();
        assert!(err.contains("string \"6\""), "{err}");
        assert_eq!(kind.parse_text(" 6 "), Ok(Val::Int(6)));
        assert!(kind.parse_text("six").unwrap_err().contains("\"six\""));
        let timeout = lookup("timeouts.header_ms").unwrap().kind;
        assert!(timeout.parse_text("0").unwrap_err().contains("from 1 to"));
    }

    #[test]
    fn booleans_from_text() {
        for (text, want) in [("true", true), ("ON", true), ("0", false), ("No", false)] {
            assert_eq!(Kind::Bool.parse_text(text), Ok(Val::Bool(want)), "{text}");
        }
        assert!(Kind::Bool.parse_text("maybe").is_err());
    }

    #[test]
    fn address_lists() {
        let kind = Kind::Addrs { min_len: 1 };
        let want = Val::Addrs(vec![
            "127.0.0.1:0".parse().unwrap(),
            "[::1]:0".parse().unwrap(),
        ]);
        assert_eq!(kind.parse_text("127.0.0.1:0, [::1]:0"), Ok(want.clone()));
        let array = toml::Value::Array(vec!["127.0.0.1:0".into(), "[::1]:0".into()]);
        assert_eq!(kind.parse_toml(&array), Ok(want));
        assert_eq!(
            kind.parse_toml(&"127.0.0.1:80".into()),
            Ok(Val::Addrs(vec!["127.0.0.1:80".parse().unwrap()]))
        );
        assert!(kind.parse_text("").unwrap_err().contains("empty list"));
        assert!(kind
            .parse_text("localhost:80")
            .unwrap_err()
            .contains("localhost"));
        assert_eq!(
            Kind::Addrs { min_len: 0 }.parse_text(""),
            Ok(Val::Addrs(vec![]))
        );
    }

    #[test]
    fn optional_values() {
        assert_eq!(Kind::OptAddr.parse_text(""), Ok(Val::Addr(None)));
        assert_eq!(Kind::OptFile.parse_text(""), Ok(Val::Path(None)));
        assert!(Kind::Dir.parse_text("").is_err());
        assert_eq!(Kind::Secret.parse_text(""), Ok(Val::Text(String::new())));
        assert!(Kind::Secret.parse_text("has space").is_err());
    }

    #[test]
    fn directives_and_choices() {
        assert!(Kind::Directive.parse_text("web_server=debug,warn").is_ok());
        assert!(Kind::Directive.parse_text("").is_err());
        assert!(Kind::Directive.parse_text("web_server=loud").is_err());
        assert!(Kind::Directive.parse_text("WARN").is_ok());
        let err = Kind::Directive.parse_text("inof").unwrap_err();
        assert!(err.contains("\"inof\" is not a level"), "{err}");
        let blocks = lookup("server.trusted_proxies").unwrap().kind;
        assert_eq!(
            blocks.parse_text("10.0.0.0/8, ::1"),
            Ok(Val::Cidrs(vec![
                "10.0.0.0/8".parse().unwrap(),
                "::1/128".parse().unwrap()
            ]))
        );
        let err = blocks.parse_text("10.1.0.0/8").unwrap_err();
        assert!(err.contains("host bits"), "{err}");
        let format = lookup("log.format").unwrap().kind;
        assert!(format.parse_text("json").is_ok());
        assert!(format.parse_text("xml").unwrap_err().contains("\"xml\""));
    }
}
