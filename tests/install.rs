//! What an operator installs: the binary alone, copied anywhere, runs with its compiled-in
//! configuration (no source tree, no config files); its man page and shell completions are
//! generated from the same clap definitions and mention every flag; `make man` writes the page.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use clap::CommandFactory;
use support::http::send_closing;
use support::process::{Running, WAIT};
use support::temp::TempDir;
use web_server::config::Cli;

const BIN: &str = env!("CARGO_BIN_EXE_web_server");

/// A copy of the built binary alone in a fresh directory (the binary, nothing else), and that
/// directory.
fn copied_binary() -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new("installed");
    let copy = dir.join("web_server");
    std::fs::copy(BIN, &copy).expect("copy the binary");
    // A process another test thread forked while the copy was open for writing holds that
    // descriptor until it execs, and until then executing the copy fails with ETXTBSY ("text
    // file busy"). That lasts microseconds: run the copy once, retrying only that error.
    for attempt in 0.. {
        match Command::new(&copy)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
        {
            Ok(_) => break,
            Err(err) if err.raw_os_error() == Some(26) && attempt < 100 => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(err) => panic!("the copied binary does not run: {err}"),
        }
    }
    (dir, copy)
}

/// `binary` with `args` in `cwd`, with an environment holding only `PATH`: no
/// `WEB_SERVER_CONFIG_DIR`, no `WEB_SERVER__*` variable, nothing pointing at the source tree.
fn bare(binary: &Path, cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    command
}

/// Runs to completion (bounded by [`WAIT`]).
fn output(mut command: Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(WAIT).expect("exits in time").unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn get(addr: SocketAddr, path: &str) -> support::http::Reply {
    send_closing(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
}

#[test]
fn a_copied_binary_serves_from_an_empty_directory_with_no_configuration_files() {
    let (dir, binary) = copied_binary();
    let cwd = TempDir::new("installed-cwd");
    let site = TempDir::with_files("installed-site", &[("index.html", b"<h1>anywhere</h1>")]);
    let site_arg = site.to_str().unwrap();

    let mut running = Running::start(bare(
        &binary,
        &cwd,
        &[
            "--docroot",
            site_arg,
            "--bind",
            "127.0.0.1:0",
            "--admin-bind",
            "127.0.0.1:0",
        ],
    ));
    let addr = running.ready()[0];
    let page = get(addr, "/");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.text(), "<h1>anywhere</h1>");
    let (code, _) = running.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "the binary wrote nothing where it ran"
    );
    drop(dir);
}

#[test]
fn a_config_dir_pointing_nowhere_is_an_error_naming_it() {
    let (_dir, binary) = copied_binary();
    let cwd = TempDir::new("installed-nowhere");
    let missing = cwd.join("no-such-config");
    let missing_arg = missing.to_str().unwrap();
    let flag = output(bare(
        &binary,
        &cwd,
        &["--config-dir", missing_arg, "--check"],
    ));
    assert_eq!(flag.status.code(), Some(2), "{}", stderr(&flag));
    assert!(stderr(&flag).contains(missing_arg), "{}", stderr(&flag));
    assert!(stderr(&flag).contains("--config-dir"), "{}", stderr(&flag));

    let mut from_env = bare(&binary, &cwd, &["--check"]);
    from_env.env(web_server::config::CONFIG_DIR_ENV, missing_arg);
    let from_env = output(from_env);
    assert_eq!(from_env.status.code(), Some(2), "{}", stderr(&from_env));
    assert!(stderr(&from_env).contains(missing_arg));
    assert!(stderr(&from_env).contains(web_server::config::CONFIG_DIR_ENV));

    // Without --docroot, the dev profile's sample site is not there: say how to name one.
    let no_site = output(bare(&binary, &cwd, &["--check"]));
    assert_eq!(no_site.status.code(), Some(2));
    let message = stderr(&no_site);
    for needle in ["`server.docroot`", "built-in dev.toml", "--docroot"] {
        assert!(message.contains(needle), "{needle:?} in {message}");
    }
}

/// Every long flag of the command line (and of its subcommands), from clap itself, so the
/// check cannot go stale when a flag is added.
fn every_flag() -> Vec<String> {
    let command = Cli::command();
    let mut flags = Vec::new();
    for cmd in std::iter::once(&command).chain(command.get_subcommands()) {
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                flags.push(format!("--{long}"));
            }
        }
    }
    assert!(flags.len() >= 15, "{flags:?}");
    flags
}

#[test]
fn the_man_page_and_completions_mention_every_flag() {
    let flags = every_flag();
    let man = output(bare(Path::new(BIN), Path::new("/"), &["man"]));
    assert!(man.status.success(), "{}", stderr(&man));
    // roff escapes hyphens (`\-\-bind`).
    let page = String::from_utf8(man.stdout).unwrap().replace("\\-", "-");
    assert!(
        page.starts_with(".ie") || page.contains(".TH"),
        "roff: {page}"
    );
    for flag in &flags {
        assert!(page.contains(flag.as_str()), "the man page mentions {flag}");
    }
    for subcommand in ["completions", "man"] {
        assert!(
            page.contains(subcommand),
            "the man page mentions {subcommand}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = output(bare(
            Path::new(BIN),
            Path::new("/"),
            &["completions", shell],
        ));
        assert!(script.status.success(), "{shell}: {}", stderr(&script));
        let script = String::from_utf8(script.stdout).unwrap();
        for flag in &flags {
            // fish lists long options without their dashes (`-l bind`).
            let name = flag.trim_start_matches('-');
            let mentioned =
                script.contains(flag.as_str()) || script.contains(&format!("-l {name}"));
            assert!(mentioned, "the {shell} completions mention {flag}");
        }
    }
}

#[test]
fn make_man_writes_the_page_with_the_binary() {
    let makefile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Makefile")).unwrap();
    let recipe: Vec<&str> = makefile
        .split("\nman:")
        .nth(1)
        .expect("a man target")
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with('\t'))
        .collect();
    let recipe = recipe.join("\n");
    assert!(
        recipe.contains("web_server -- man") || recipe.contains("web_server man"),
        "{recipe}"
    );
    assert!(recipe.contains("target/man/web_server.1"), "{recipe}");
    for shell in ["bash", "zsh", "fish"] {
        assert!(recipe.contains(&format!("completions {shell}")), "{recipe}");
    }
}
