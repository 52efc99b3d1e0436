//! Configuration errors: one line naming the key and where its value came from.

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value (or a problem) came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A TOML file: `config/default.toml`, the profile's file, or the `--config` file.
    File(PathBuf),
    /// An environment variable, e.g. `WEB_SERVER__SERVER__BIND` or `WEB_SERVER_PROFILE`.
    Env(String),
    /// A command-line flag, e.g. `--bind`.
    Flag(&'static str),
    /// A file compiled into the binary (`default.toml` or a profile's file), used when neither
    /// `--config-dir` nor `WEB_SERVER_CONFIG_DIR` names a directory.
    BuiltIn(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "config file {}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Flag(name) => write!(f, "flag {name}"),
            Origin::BuiltIn(name) => write!(f, "built-in {name}"),
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file or directory could not be read (or the environment could not be).
    Read,
    /// A file is not valid TOML.
    Syntax,
    /// A key (in a file) or variable (in the environment) that the schema does not know.
    UnknownKey,
    /// A value of the wrong type, out of range, or naming something that does not exist.
    InvalidValue,
    /// A required value is absent (e.g. `admin.token` in prod, `tls.cert` with `tls.bind`).
    MissingValue,
}

/// Why the configuration could not be loaded. Its `Display` is the one-line message the binary
/// prints (after `web_server: `) before exiting with code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    kind: ErrorKind,
    key: Option<String>,
    origin: Option<Origin>,
    detail: String,
}

impl ConfigError {
    pub(crate) fn new(
        kind: ErrorKind,
        key: Option<&str>,
        origin: Option<Origin>,
        detail: impl Into<String>,
    ) -> Self {
        ConfigError {
            kind,
            key: key.map(str::to_owned),
            origin,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(key: &str, origin: Origin, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidValue, Some(key), Some(origin), detail)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The dotted key concerned (`server.bind`), when the error is about one key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The file, variable or flag the offending value came from; for a missing value, the
    /// source of the setting that requires it, if any.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// The explanation without the key and origin.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.key.as_deref().unwrap_or("?");
        match (&self.kind, &self.origin) {
            (ErrorKind::Read, Some(origin)) => write!(f, "cannot read {origin}: {}", self.detail),
            (ErrorKind::Syntax, Some(origin)) => {
                write!(f, "invalid TOML in {origin}: {}", self.detail)
            }
            (ErrorKind::UnknownKey, Some(origin)) => {
                write!(f, "unknown key `{key}` in {origin}{}", self.detail)
            }
            (ErrorKind::InvalidValue, Some(origin)) if self.key.is_some() => {
                write!(f, "invalid value for `{key}` in {origin}: {}", self.detail)
            }
            (ErrorKind::InvalidValue, Some(origin)) => {
                write!(f, "invalid {origin}: {}", self.detail)
            }
            (ErrorKind::MissingValue, _) => write!(f, "missing `{key}`: {}", self.detail),
            (_, None) => match &self.key {
                Some(key) => write!(f, "invalid configuration at `{key}`: {}", self.detail),
                None => write!(f, "invalid configuration: {}", self.detail),
            },
        }
    }
}

impl std::error::Error for ConfigError {}
