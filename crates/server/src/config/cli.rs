//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use super::Profile;

const AFTER_HELP: &str = "\
Configuration layers, later wins:
  1. <config-dir>/default.toml     every key with its default
  2. <config-dir>/<profile>.toml   dev, prod or test
  3. --config FILE
  4. environment WEB_SERVER__SECTION__KEY, e.g. WEB_SERVER__TIMEOUTS__HEADER_MS=5000
     (lists comma-separated: WEB_SERVER__SERVER__BIND=127.0.0.1:0,[::1]:0)
  5. the flags above

A bad value, an unknown key or a missing docroot is reported with the key and the file,
variable or flag it came from, and the server exits with code 2 before binding anything.
Every key: docs/configuration.md.";

/// `web_server`'s command line. Flags are the last configuration layer (see
/// [`Settings::load`](super::Settings::load)); parse with `Cli::parse()` or, in tests,
/// `Cli::try_parse_from(["web_server", "--profile", "test"])`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Parser)]
#[command(
    name = "web_server",
    version,
    about = "An HTTP/1.1 server whose processes form an OTP supervision tree on actix.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Configuration profile [env: WEB_SERVER_PROFILE] [default: dev]
    #[arg(long, value_enum, value_name = "PROFILE")]
    pub profile: Option<Profile>,

    /// TOML file layered over the profile (relative paths inside it resolve against its directory)
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory holding default.toml and the profiles [env: WEB_SERVER_CONFIG_DIR]
    /// [default: ./config if ./config/default.toml exists, else the config/ directory of the
    /// source tree the binary was built from]
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,

    /// Address to listen on (server.bind); repeat or separate with commas for several
    #[arg(long = "bind", value_name = "ADDR", value_delimiter = ',')]
    pub bind: Vec<SocketAddr>,

    /// Directory of the static files (server.docroot); relative to the current directory
    #[arg(long, value_name = "DIR")]
    pub docroot: Option<PathBuf>,

    /// Worker threads, 0 = one per core (server.workers)
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Address of the admin endpoint (admin.bind)
    #[arg(long, value_name = "ADDR")]
    pub admin_bind: Option<SocketAddr>,

    /// Print the effective configuration as TOML (secrets redacted) and exit
    #[arg(long)]
    pub print_config: bool,
}
