//! The command line.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use super::schema::LOG_FORMATS;
use super::Profile;

const AFTER_HELP: &str = "\
Configuration layers, later wins:
  1. default.toml     every key with its default   (compiled in, or <config-dir>/default.toml)
  2. <profile>.toml   dev, prod or test             (compiled in, or <config-dir>/<profile>.toml)
  3. --config FILE
  4. environment WEB_SERVER__SECTION__KEY, e.g. WEB_SERVER__TIMEOUTS__HEADER_MS=5000
     (lists comma-separated: WEB_SERVER__SERVER__BIND=127.0.0.1:0,[::1]:0)
  5. the flags above

A bad value, an unknown key or a missing docroot is reported with the key and the file,
variable or flag it came from, and the server exits with code 2 before binding anything
(--check stops there, exiting 0 when the configuration is good). Every key:
docs/configuration.md; the man page: web_server man.";

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

    /// Directory holding default.toml and the profiles, replacing the compiled-in ones
    /// [env: WEB_SERVER_CONFIG_DIR] [default: the files compiled into the binary]
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

    /// Bearer token of the admin endpoint (admin.token), read from FILE (a trailing newline is
    /// dropped), so the secret is in neither `ps` output nor the environment
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Address of the HTTPS listener (tls.bind); repeat or separate with commas for several
    #[arg(long = "tls-bind", value_name = "ADDR", value_delimiter = ',')]
    pub tls_bind: Vec<SocketAddr>,

    /// PEM certificate chain of the HTTPS listener (tls.cert); relative to the current directory
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of the HTTPS listener (tls.key); relative to the current directory
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Log filter such as info or web_server=debug,warn (log.level); RUST_LOG still wins
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Log format (log.format)
    #[arg(long, value_name = "FORMAT", value_parser = clap::builder::PossibleValuesParser::new(LOG_FORMATS))]
    pub log_format: Option<String>,

    /// Print the effective configuration as TOML (secrets redacted), each key followed by the
    /// file, variable or flag that set it, and exit
    #[arg(long)]
    pub print_config: bool,

    /// Check the configuration and exit: 0 when it is good, 2 naming the key and the file,
    /// variable or flag of the first problem (as `nginx -t`); nothing is bound or started
    #[arg(long, conflicts_with = "print_config")]
    pub check: bool,

    /// What to do instead of serving
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the binary can do besides serving: write what packagers install next to it.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Print a shell completion script for SHELL to stdout (e.g. `web_server completions bash >
    /// /usr/share/bash-completion/completions/web_server`)
    Completions {
        /// The shell to complete in
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout; `make man` writes it to target/man/web_server.1
    Man,
}

impl Cli {
    /// Writes the completion script for `shell`, generated from these flags.
    pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn Write) {
        let mut command = Cli::command();
        clap_complete::generate(shell, &mut command, "web_server", out);
    }

    /// Writes the man page (roff), generated from these flags and their help.
    pub fn write_man_page(out: &mut dyn Write) -> io::Result<()> {
        clap_mangen::Man::new(Cli::command()).render(out)
    }
}
