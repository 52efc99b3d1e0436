//! Configuration: TOML profiles, environment variables and command-line flags, layered with the
//! `config` crate into one validated [`Settings`].
//!
//! Layers, later wins:
//!
//! 1. `<config-dir>/default.toml`: every key with its default;
//! 2. `<config-dir>/{dev,prod,test}.toml`: the profile, from `--profile` or `WEB_SERVER_PROFILE`
//!    (default `dev`);
//! 3. `--config FILE`;
//! 4. environment variables `WEB_SERVER__SECTION__KEY` (lists comma-separated);
//! 5. flags (`--bind`, `--docroot`, `--workers`, `--admin-bind`).
//!
//! The configuration directory is `--config-dir`, else `WEB_SERVER_CONFIG_DIR`, else `./config`
//! when `./config/default.toml` exists, else [`BUILT_IN_CONFIG_DIR`] (the source tree's
//! `config/`, so `cargo run` and tests work from any directory).
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

mod cli;
mod error;
mod load;
mod schema;
mod server_config;
mod settings;

pub use cli::Cli;
pub use server_config::{AdminConfig, ConfigSource, ServerConfig};

pub use crate::cache::CacheOptions;
pub use crate::pipeline::ConnectionOptions;
pub use crate::tls::TlsConfig;
pub use error::{ConfigError, ErrorKind, Origin};
pub use settings::{
    Admin, CacheSettings, Compression, Limits, LogFormat, LogSettings, Profile, ServerSettings,
    Settings, Timeouts, Tls,
};

/// Prefix of the environment variables that set keys: `WEB_SERVER__SERVER__BIND` sets
/// `server.bind` (sections and keys separated by double underscores).
pub const ENV_PREFIX: &str = "WEB_SERVER__";

/// Environment variable selecting the profile when `--profile` is not given.
pub const PROFILE_ENV: &str = "WEB_SERVER_PROFILE";

/// Environment variable naming the configuration directory when `--config-dir` is not given.
pub const CONFIG_DIR_ENV: &str = "WEB_SERVER_CONFIG_DIR";

/// The `config/` directory of the source tree this binary was built from: the last resort when
/// neither `--config-dir`, `WEB_SERVER_CONFIG_DIR` nor `./config/default.toml` exists.
pub const BUILT_IN_CONFIG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config");

/// The names of every configuration key (`section.key`), in documentation order.
pub fn keys() -> impl Iterator<Item = &'static str> {
    schema::SCHEMA.iter().map(|spec| spec.key)
}

/// The environment variable that sets a key: `timeouts.header_ms` →
/// `WEB_SERVER__TIMEOUTS__HEADER_MS`.
pub fn env_var(key: &str) -> String {
    schema::env_var_for(key)
}
