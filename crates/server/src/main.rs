//! The `web_server` binary: parse flags, load the configuration (exit 2 on any error, before
//! anything binds), then run the server until SIGINT or SIGTERM (which drain it; a second one
//! exits at once); SIGHUP reloads the configuration.

use std::process::ExitCode;

use clap::Parser;
use web_server::config::{Cli, Settings};

/// Exit code for a configuration error, as documented in docs/configuration.md.
const CONFIG_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("web_server: {err}");
            return ExitCode::from(CONFIG_ERROR);
        }
    };
    if cli.print_config {
        return match settings.to_redacted_toml() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("web_server: cannot print the configuration: {err}");
                ExitCode::FAILURE
            }
        };
    }
    web_server::logging::init(&settings.log);
    let system = actix::System::new();
    let outcome = system.block_on(web_server::run_until_signalled(cli, settings));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("web_server: {err}");
            ExitCode::FAILURE
        }
    }
}
