//! The `web_server` binary.
//!
//! Until the HTTP server lands, it runs a small supervised tree that shows what the
//! supervision layer does: a worker that panics every few seconds is restarted with fresh
//! state, and a reporter prints the live tree. Ctrl-C stops the tree in reverse start order.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use web_server::config::{Cli, LogFormat, LogSettings, Settings};
use web_server::supervision::{
    ChildSpec, NodeSnapshot, Strategy, Supervisor, SupervisorFlags, SupervisorRef, SupervisorSpec,
    TakeSnapshot,
};

/// Panics on a timer, to be restarted by its supervisor with a fresh `ticks` count.
struct FlakyWorker {
    /// Ticks survived since this incarnation started; always starts at zero.
    ticks: u32,
}

impl Actor for FlakyWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::info!(ticks = self.ticks, "flaky_worker started with fresh state");
        ctx.run_interval(Duration::from_secs(1), |worker, _| {
            worker.ticks += 1;
            if worker.ticks == 4 {
                panic!("flaky_worker gives up after {} ticks", worker.ticks);
            }
        });
    }
}

/// Prints the live tree every few seconds, as `/admin/tree` will.
struct Reporter {
    /// The root supervisor's address (set by its `on_start`), asked for snapshots.
    root: Arc<Mutex<Option<Addr<Supervisor>>>>,
}

impl Actor for Reporter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(3), |reporter, ctx| {
            let Some(root) = reporter.root.lock().unwrap().clone() else {
                return;
            };
            let asking = async move { root.send(TakeSnapshot { all_dynamic: false }).await };
            ctx.spawn(asking.into_actor(reporter).map(|view, _, _| {
                if let Ok(view) = view {
                    let mut lines = vec![format!(
                        "web_server_sup ({:?}, restarts in window {})",
                        view.info.strategy, view.info.restarts_in_window
                    )];
                    for child in &view.children {
                        print_node(child, 1, &mut lines);
                    }
                    tracing::info!("live tree:\n{}", lines.join("\n"));
                }
            }));
        });
    }
}

fn print_node(node: &NodeSnapshot, depth: usize, lines: &mut Vec<String>) {
    lines.push(format!(
        "{}└─ {} [{:?}] {:?}, restarts {} (total {}), on {}",
        "   ".repeat(depth - 1),
        node.id,
        node.kind,
        node.status,
        node.restarts_in_window,
        node.restarts_total,
        node.arbiter.as_deref().unwrap_or("?"),
    ));
    for child in &node.children {
        print_node(child, depth + 1, lines);
    }
}

/// Exit code for a configuration error (as for a command-line usage error).
const CONFIG_ERROR: u8 = 2;

/// Installs the global tracing subscriber: `log.format` to stdout, filtered by `RUST_LOG` when
/// it is set and valid, else by `log.level`; colours only on a terminal and without `NO_COLOR`.
fn init_tracing(log: &LogSettings) {
    use std::io::IsTerminal;

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
    match log.format {
        LogFormat::Pretty => builder.with_ansi(ansi).init(),
        LogFormat::Compact => builder.compact().with_ansi(ansi).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

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
        use std::io::Write;

        let printed = settings
            .to_redacted_toml()
            .map_err(|err| err.to_string())
            .and_then(|text| {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|err| err.to_string())
            });
        return match printed {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("web_server: cannot print the configuration: {err}");
                ExitCode::FAILURE
            }
        };
    }
    init_tracing(&settings.log);
    tracing::info!(profile = %settings.profile, "configuration loaded");
    let system = System::new();
    let stopped = system.block_on(async {
        let root_addr: Arc<Mutex<Option<Addr<Supervisor>>>> = Arc::default();
        let for_reporter = root_addr.clone();
        let spec = SupervisorSpec::new(
            "web_server_sup",
            SupervisorFlags::new(Strategy::OneForOne).intensity(5, Duration::from_secs(10)),
        )
        .on_start(move |addr| *root_addr.lock().unwrap() = Some(addr))
        .child(ChildSpec::worker("flaky_worker", |ctx| {
            Ok(ctx.start(FlakyWorker { ticks: 0 }).into())
        }))
        .child(ChildSpec::worker("reporter", move |ctx| {
            let reporter = Reporter {
                root: for_reporter.clone(),
            };
            Ok(ctx.start(reporter).into())
        }));
        let root = match SupervisorRef::start(spec).await {
            Ok(root) => root,
            Err(err) => {
                tracing::error!(%err, "the tree did not start");
                return false;
            }
        };
        tracing::info!("supervised demo running (the HTTP server comes next); Ctrl-C stops it");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("stopping the tree");
                root.shutdown().await;
                true
            }
            reason = root.exited() => {
                tracing::error!(%reason, "the root supervisor exited");
                false
            }
        }
    });
    if stopped {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
