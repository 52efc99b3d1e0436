//! Log output from `log.format` and `log.level` (`RUST_LOG`, when set, wins).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the process-wide subscriber. Colours only on a terminal, and never with `NO_COLOR`.
pub fn init(log: &LogSettings) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .unwrap_or_else(|err| {
                eprintln!("web_server: ignoring RUST_LOG={directives:?} ({err}); using log.level");
                EnvFilter::new(&log.level)
            }),
        _ => EnvFilter::new(&log.level),
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::stdout().is_terminal() && !no_color;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let installed = match log.format {
        LogFormat::Pretty => builder.with_ansi(ansi).try_init(),
        LogFormat::Compact => builder.compact().with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    // An embedding application may have installed its own subscriber first: keep it.
    let _ = installed;
}
