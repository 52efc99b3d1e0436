//! Configuration: TOML profiles, environment variables and command-line flags, layered with the
//! `config` crate into one validated [`Settings`].
//!
//! Layers, later wins:
//!
//! 1. `default.toml`: every key with its default;
//! 2. `{dev,prod,test}.toml`: the profile, from `--profile` or `WEB_SERVER_PROFILE` (default
//!    `dev`);
//! 3. `--config FILE`;
//! 4. environment variables `WEB_SERVER__SECTION__KEY` (lists comma-separated);
//! 5. flags (`--bind`, `--docroot`, `--tls-cert`, `--log-level`, ... : [`Cli`]).
//!
//! The first two are compiled into the binary ([`BUILT_IN_FILES`]), so it needs no file to
//! start; `--config-dir DIR` or `WEB_SERVER_CONFIG_DIR` replaces them with the files of a
//! directory. The in-code defaults ([`ServerConfig::default`], `ConnectionOptions::default`,
//! `CacheOptions::default`) come from the same compiled-in `default.toml`
//! ([`built_in_defaults`]).
//!
//! Every layer is checked on its own, so an error names the key and the file, variable or flag
//! it came from; the binary prints it and exits with code 2 before binding anything.
//!
//! ```no_run
//! use clap::Parser;
//! use web_server::config::{Cli, Settings};
//!
//! let cli = Cli::parse();
//! let settings = Settings::load(&cli).unwrap_or_else(|err| {
//!     eprintln!("web_server: {err}");
//!     std::process::exit(2);
//! });
//! println!("listening on {:?}, header timeout {:?}", settings.server.bind, settings.timeouts.header());
//! ```
//!
//! Every key, its default per profile and why: docs/configuration.md.

mod built_in;
mod cli;
mod error;
mod load;
mod schema;
mod server_config;
mod settings;

pub use built_in::{BUILT_IN_FILES, DEFAULT_TOML};
pub use cli::{Cli, Command};
pub use load::{built_in_defaults, Origins};
pub use server_config::{AdminConfig, ConfigSource, InheritedListeners, ServerConfig};

pub use crate::cache::CacheOptions;
pub use crate::pipeline::ConnectionOptions;
pub use crate::tls::TlsConfig;
pub use error::{ConfigError, ErrorKind, Origin};
pub use settings::{
    AccessFormat, Admin, CacheSettings, Compression, Limits, LogFormat, LogSettings, Profile,
    ServerSettings, Settings, Timeouts, Tls,
};

/// Prefix of the environment variables that set keys: `WEB_SERVER__SERVER__BIND` sets
/// `server.bind` (sections and keys separated by double underscores).
pub const ENV_PREFIX: &str = "WEB_SERVER__";

/// Environment variable selecting the profile when `--profile` is not given.
pub const PROFILE_ENV: &str = "WEB_SERVER_PROFILE";

/// Environment variable naming the configuration directory when `--config-dir` is not given.
pub const CONFIG_DIR_ENV: &str = "WEB_SERVER_CONFIG_DIR";

/// The names of every configuration key (`section.key`), in documentation order.
pub fn keys() -> impl Iterator<Item = &'static str> {
    schema::SCHEMA.iter().map(|spec| spec.key)
}

/// The environment variable that sets a key: `timeouts.header_ms` →
/// `WEB_SERVER__TIMEOUTS__HEADER_MS`.
pub fn env_var(key: &str) -> String {
    schema::env_var_for(key)
}
