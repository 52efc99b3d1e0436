//! The `web_server` binary: parse flags, load the configuration (exit 2 on any error, before
//! anything binds), then run the server until SIGINT or SIGTERM (which drain it; a second one
//! exits at once); SIGHUP reloads the configuration. `--check` and `--print-config` stop after
//! loading; `completions SHELL` and `man` print what packagers install beside the binary.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use web_server::config::{Cli, Command, Settings};

/// Exit code for a configuration error, as documented in docs/configuration.md.
const CONFIG_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Completions { shell }) => {
            let mut out = std::io::stdout().lock();
            Cli::write_completions(shell, &mut out);
            return flushed(out.flush());
        }
        Some(Command::Man) => {
            let mut out = std::io::stdout().lock();
            let written = Cli::write_man_page(&mut out).and_then(|()| out.flush());
            return flushed(written);
        }
        None => {}
    }
    // Socket activation: the inherited sockets are claimed before any thread starts (the
    // variables naming them are removed from the environment).
    let inherited = web_server::systemd::take_listen_fds();
    let (settings, origins) = match Settings::load_with_origins(&cli) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("web_server: {err}");
            return ExitCode::from(CONFIG_ERROR);
        }
    };
    if cli.check {
        println!(
            "web_server: the configuration is valid (profile {})",
            settings.profile
        );
        return ExitCode::SUCCESS;
    }
    if cli.print_config {
        return match settings.to_redacted_toml_with_origins(&origins) {
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
    let inherited = match inherited {
        Ok(inherited) => inherited,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("web_server: {err}");
            return ExitCode::FAILURE;
        }
    };
    let system = actix::System::new();
    let outcome = system.block_on(web_server::run_until_signalled(cli, settings, inherited));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("web_server: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Exit status after writing to stdout: a closed pipe (`web_server man | head`) is no failure
/// worth more than a message.
fn flushed(written: std::io::Result<()>) -> ExitCode {
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("web_server: cannot write to stdout: {err}");
            ExitCode::FAILURE
        }
    }
}
