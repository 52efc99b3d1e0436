//! Configuration as a user meets it: layering (default < profile < --config file < environment <
//! flag), profile selection, `--print-config`, and each kind of configuration error, which must
//! exit with code 2, promptly, with one message on stderr naming the key and where it came from,
//! and without binding anything.
//!
//! Library-level checks use `Settings::load_from` with an explicit environment (the process
//! environment is never modified); binary-level checks run the real `web_server` with a cleared
//! environment. Every wait on a child process is bounded.

mod support;

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use support::temp::TempDir;
use web_server::config::{
    Cli, ConfigError, ErrorKind, LogFormat, Origin, Profile, Settings, BUILT_IN_FILES,
};

/// How long a configuration error may take to be reported: it happens before anything starts.
const PROMPT: Duration = Duration::from_secs(10);

const BIN: &str = env!("CARGO_BIN_EXE_web_server");

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("web_server").chain(args.iter().copied()))
        .expect("valid command line")
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the binary with exactly `env` as its environment, in `cwd`, and waits at most
/// [`PROMPT`]; a process still running then is killed and the test fails.
fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id();
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(PROMPT) {
        Ok(output) => {
            let output = output.unwrap();
            assert!(started.elapsed() < PROMPT);
            output
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("web_server {args:?} still running after {PROMPT:?}");
        }
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The binary exited with code 2 and printed exactly one line, `web_server: ...`, containing
/// every needle; returns that line.
fn assert_config_error(output: &Output, needles: &[&str]) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "exit code; stderr:\n{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr:\n{err}");
    assert!(lines[0].starts_with("web_server: "), "{err}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} not in:\n{err}");
    }
    assert!(
        stdout(output).is_empty(),
        "nothing on stdout:\n{}",
        stdout(output)
    );
    lines[0].to_owned()
}

/// Nothing is listening on these loopback ports: we can bind them ourselves.
fn assert_ports_free(ports: &[u16]) {
    for &port in ports {
        TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("port {port} was bound by the failed server: {e}"));
    }
}

/// A config file that listens on two fresh loopback ports (server and admin) plus `extra`, so a
/// test can check afterwards that neither was bound.
fn config_with_ports(dir: &TempDir, extra: &str) -> (PathBuf, [u16; 2]) {
    let ports = [free_port(), free_port()];
    let text = format!(
        "[server]\nbind = [\"127.0.0.1:{}\"]\n\n[admin]\nbind = \"127.0.0.1:{}\"\n\n{extra}",
        ports[0], ports[1]
    );
    (dir.write("web_server.toml", &text), ports)
}

/// A start that must fail: a temporary directory with an empty site, and a config file on two
/// fresh ports plus `extra` (see [`config_with_ports`]).
struct FailingStart {
    tmp: TempDir,
    site: PathBuf,
    file: PathBuf,
    ports: [u16; 2],
}

impl FailingStart {
    fn new(label: &str, extra: &str) -> Self {
        let tmp = TempDir::new(label);
        let site = tmp.mkdir("site");
        let (file, ports) = config_with_ports(&tmp, extra);
        FailingStart {
            tmp,
            site,
            file,
            ports,
        }
    }

    /// Runs `--profile test --docroot SITE --config FILE`, then `more`, with `env`.
    fn run(&self, more: &[&str], env: &[(&str, &str)]) -> Output {
        let mut args = vec![
            "--profile",
            "test",
            "--docroot",
            s(&self.site),
            "--config",
            s(&self.file),
        ];
        args.extend_from_slice(more);
        run(self.tmp.path(), &args, env)
    }

    fn file(&self) -> &str {
        s(&self.file)
    }

    /// The failed start bound neither port.
    fn assert_nothing_bound(&self) {
        assert_ports_free(&self.ports);
    }
}

// ---------------------------------------------------------------------------------------------
// Layering, through the library.

/// One key at a time, adding one layer at a time: each layer overrides the ones before it.
#[test]
fn each_layer_overrides_the_previous_one_key_by_key() {
    let tmp = TempDir::new("layers");
    let site = tmp.mkdir("site");
    let file = tmp.write(
        "layer.toml",
        "[server]\nbind = [\"127.0.0.1:1001\"]\nworkers = 3\n\n\
         [admin]\nbind = \"127.0.0.1:2001\"\n\n\
         [log]\nlevel = \"debug\"\n\n\
         [limits]\nmax_headers = 50\n",
    );
    let env = [
        ("WEB_SERVER__SERVER__BIND", "127.0.0.1:1002"),
        ("WEB_SERVER__SERVER__WORKERS", "4"),
        ("WEB_SERVER__ADMIN__BIND", "127.0.0.1:2002"),
        ("WEB_SERVER__LOG__LEVEL", "error"),
    ];
    let base = ["--profile", "test", "--docroot", s(&site)];
    let with_file = [&base[..], &["--config", s(&file)]].concat();
    let with_flags = [
        &with_file[..],
        &[
            "--bind",
            "127.0.0.1:1003",
            "--admin-bind",
            "127.0.0.1:2003",
            "--workers",
            "5",
        ],
    ]
    .concat();
    let none: [(&str, &str); 0] = [];

    let default = Settings::load_from(&cli(&["--docroot", s(&site)]), none, tmp.path()).unwrap();
    let profile = Settings::load_from(&cli(&base), none, tmp.path()).unwrap();
    let file_layer = Settings::load_from(&cli(&with_file), none, tmp.path()).unwrap();
    let env_layer = Settings::load_from(&cli(&with_file), env, tmp.path()).unwrap();
    let flag_layer = Settings::load_from(&cli(&with_flags), env, tmp.path()).unwrap();

    // server.bind: default (via dev) < test profile < file < env < --bind
    assert_eq!(default.server.bind, [addr("127.0.0.1:8080")]);
    assert_eq!(profile.server.bind, [addr("127.0.0.1:0")]);
    assert_eq!(file_layer.server.bind, [addr("127.0.0.1:1001")]);
    assert_eq!(env_layer.server.bind, [addr("127.0.0.1:1002")]);
    assert_eq!(flag_layer.server.bind, [addr("127.0.0.1:1003")]);

    // admin.bind: default < profile < file < env < --admin-bind
    assert_eq!(default.admin.bind, Some(addr("127.0.0.1:9901")));
    assert_eq!(profile.admin.bind, Some(addr("127.0.0.1:0")));
    assert_eq!(file_layer.admin.bind, Some(addr("127.0.0.1:2001")));
    assert_eq!(env_layer.admin.bind, Some(addr("127.0.0.1:2002")));
    assert_eq!(flag_layer.admin.bind, Some(addr("127.0.0.1:2003")));

    // server.workers: default (0) < file < env < --workers (the test profile leaves it)
    assert_eq!(profile.server.workers, 0);
    assert_eq!(file_layer.server.workers, 3);
    assert_eq!(env_layer.server.workers, 4);
    assert_eq!(flag_layer.server.workers, 5);

    // log.level (no flag): default < profile < file < env
    assert_eq!(default.log.level, "info");
    assert_eq!(profile.log.level, "warn");
    assert_eq!(file_layer.log.level, "debug");
    assert_eq!(env_layer.log.level, "error");
    assert_eq!(flag_layer.log.level, "error");

    // limits.max_headers: set by default.toml and the file only; later layers keep it.
    assert_eq!(profile.limits.max_headers, 100);
    assert_eq!(file_layer.limits.max_headers, 50);
    assert_eq!(flag_layer.limits.max_headers, 50);

    // server.backlog: set by default.toml only, kept by every layer.
    for settings in [&default, &profile, &file_layer, &env_layer, &flag_layer] {
        assert_eq!(settings.server.backlog, 1024);
    }
}

/// A list key given in the environment is comma-separated, and a shorter later list replaces
/// a longer earlier one (lists are not merged element by element).
#[test]
fn lists_from_the_environment_replace_earlier_lists() {
    let tmp = TempDir::new("lists");
    let site = tmp.mkdir("site");
    let file = tmp.write(
        "three.toml",
        "[server]\nbind = [\"127.0.0.1:0\", \"127.0.0.2:0\", \"127.0.0.3:0\"]\n",
    );
    let args = [
        "--profile",
        "test",
        "--docroot",
        s(&site),
        "--config",
        s(&file),
    ];
    let env = [("WEB_SERVER__SERVER__BIND", "127.0.0.1:0,[::1]:0")];
    let settings = Settings::load_from(&cli(&args), env, tmp.path()).unwrap();
    assert_eq!(settings.server.bind, [addr("127.0.0.1:0"), addr("[::1]:0")]);

    let flags = [&args[..], &["--bind", "[::1]:0"]].concat();
    let settings = Settings::load_from(&cli(&flags), env, tmp.path()).unwrap();
    assert_eq!(settings.server.bind, [addr("[::1]:0")]);
}

/// The library reports errors with their kind, key and origin, for callers that want more than
/// the message.
#[test]
fn errors_carry_kind_key_and_origin() {
    let tmp = TempDir::new("error-api");
    let site = tmp.mkdir("site");
    let file = tmp.write("bad.toml", "[compression]\nlevel = 12\n");
    let args = [
        "--profile",
        "test",
        "--docroot",
        s(&site),
        "--config",
        s(&file),
    ];
    let none: [(&str, &str); 0] = [];
    let err: ConfigError = Settings::load_from(&cli(&args), none, tmp.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert_eq!(err.key(), Some("compression.level"));
    assert_eq!(err.origin(), Some(&Origin::File(file.clone())));
    assert_eq!(
        err.to_string(),
        format!(
            "invalid value for `compression.level` in config file {}: expected an integer from 0 to 9, found 12",
            file.display()
        )
    );

    let env = [("WEB_SERVER__COMPRESSION__LEVL", "1")];
    let args = ["--profile", "test", "--docroot", s(&site)];
    let err = Settings::load_from(&cli(&args), env, tmp.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownKey);
    assert_eq!(
        err.origin(),
        Some(&Origin::Env("WEB_SERVER__COMPRESSION__LEVL".into()))
    );
    assert!(
        err.to_string()
            .contains("did you mean WEB_SERVER__COMPRESSION__LEVEL?"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// The binary: layering, profiles and --print-config.

fn print_config(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> toml::Table {
    let mut all = vec!["--print-config"];
    all.extend_from_slice(args);
    let output = run(cwd, &all, env);
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        stderr(&output)
    );
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    toml::from_str(&stdout(&output)).expect("--print-config prints TOML")
}

fn get<'a>(table: &'a toml::Table, key: &str) -> &'a toml::Value {
    let (section, name) = key.split_once('.').unwrap();
    &table[section][name]
}

#[test]
fn the_binary_layers_file_environment_and_flags_in_order() {
    let tmp = TempDir::new("bin-layers");
    let site = tmp.mkdir("site");
    let file = tmp.write(
        "layer.toml",
        "[server]\nworkers = 3\nbackend_unused_check = 0\n",
    );
    // An unknown key in the file is an error, even when a later layer sets other keys.
    let output = run(
        tmp.path(),
        &[
            "--print-config",
            "--profile",
            "test",
            "--docroot",
            s(&site),
            "--config",
            s(&file),
        ],
        &[],
    );
    assert_config_error(&output, &["`server.backend_unused_check`", s(&file)]);

    fs::write(
        &file,
        "[server]\nworkers = 3\n\n[timeouts]\nheader_ms = 1111\nbody_ms = 1111\n",
    )
    .unwrap();
    let args = [
        "--profile",
        "test",
        "--docroot",
        s(&site),
        "--config",
        s(&file),
    ];
    let env = [
        ("WEB_SERVER__TIMEOUTS__HEADER_MS", "2222"),
        ("WEB_SERVER__SERVER__WORKERS", "4"),
    ];
    let printed = print_config(tmp.path(), &args, &env);
    assert_eq!(
        get(&printed, "server.backlog").as_integer(),
        Some(1024),
        "default"
    );
    assert_eq!(get(&printed, "log.level").as_str(), Some("warn"), "profile");
    assert_eq!(
        get(&printed, "timeouts.body_ms").as_integer(),
        Some(1111),
        "file"
    );
    assert_eq!(
        get(&printed, "timeouts.header_ms").as_integer(),
        Some(2222),
        "env"
    );
    assert_eq!(get(&printed, "server.workers").as_integer(), Some(4), "env");

    let flags = [
        &args[..],
        &[
            "--workers",
            "5",
            "--bind",
            "127.0.0.1:0",
            "--bind",
            "[::1]:0",
        ],
    ]
    .concat();
    let printed = print_config(tmp.path(), &flags, &env);
    assert_eq!(
        get(&printed, "server.workers").as_integer(),
        Some(5),
        "flag"
    );
    let binds: Vec<&str> = get(&printed, "server.bind")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(binds, ["127.0.0.1:0", "[::1]:0"], "repeated --bind");
    assert_eq!(get(&printed, "server.docroot").as_str(), Some(s(&site)));
}

#[test]
fn the_profile_comes_from_the_flag_then_web_server_profile_then_dev() {
    let tmp = TempDir::new("bin-profile");
    let site = tmp.mkdir("site");
    let docroot = ["--docroot", s(&site)];

    let dev = print_config(tmp.path(), &docroot, &[]);
    assert_eq!(
        get(&dev, "server.bind").as_array().unwrap()[0].as_str(),
        Some("127.0.0.1:8080")
    );
    assert_eq!(get(&dev, "log.format").as_str(), Some("pretty"));

    let test = print_config(tmp.path(), &docroot, &[("WEB_SERVER_PROFILE", "test")]);
    assert_eq!(
        get(&test, "server.bind").as_array().unwrap()[0].as_str(),
        Some("127.0.0.1:0")
    );
    assert_eq!(get(&test, "log.level").as_str(), Some("warn"));

    let flag = [&docroot[..], &["--profile", "dev"]].concat();
    let dev_again = print_config(tmp.path(), &flag, &[("WEB_SERVER_PROFILE", "test")]);
    assert_eq!(dev_again, dev, "--profile beats WEB_SERVER_PROFILE");

    let token = [("WEB_SERVER__ADMIN__TOKEN", "0123456789abcdef-token")];
    let prod = [&docroot[..], &["--profile", "prod"]].concat();
    let prod = print_config(tmp.path(), &prod, &token);
    assert_eq!(
        get(&prod, "server.bind").as_array().unwrap()[0].as_str(),
        Some("0.0.0.0:8080")
    );
    assert_eq!(get(&prod, "log.format").as_str(), Some("json"));
    assert_eq!(get(&prod, "admin.allow_kill").as_bool(), Some(false));

    let output = run(tmp.path(), &docroot, &[("WEB_SERVER_PROFILE", "staging")]);
    assert_config_error(&output, &["WEB_SERVER_PROFILE", "\"staging\""]);
}

#[test]
fn print_config_redacts_the_admin_token() {
    let tmp = TempDir::new("bin-redact");
    let site = tmp.mkdir("site");
    let secret = "s3cr3t-admin-token-0123456789";
    let args = ["--print-config", "--profile", "prod", "--docroot", s(&site)];
    let output = run(tmp.path(), &args, &[("WEB_SERVER__ADMIN__TOKEN", secret)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(!printed.contains(secret), "the token leaked:\n{printed}");
    assert!(printed.contains("token = \"<redacted>\""), "{printed}");
    assert!(printed.contains("profile \"prod\""), "{printed}");

    // Without a token (dev), there is nothing to redact.
    let output = run(tmp.path(), &["--print-config", "--docroot", s(&site)], &[]);
    assert!(
        stdout(&output).contains("token = \"\""),
        "{}",
        stdout(&output)
    );
}

/// The profiles are compiled in: a `config/` folder in the current directory is not read (only
/// `--config-dir` or `WEB_SERVER_CONFIG_DIR` replace the built-in files), and `--print-config`
/// names the layer of every key.
#[test]
fn the_built_in_files_are_used_from_anywhere_and_print_config_names_each_origin() {
    let tmp = TempDir::new("bin-anywhere");
    let site = tmp.mkdir("site");
    tmp.write("config/default.toml", "[server]\nworkers = 'not ours'\n");
    let args = ["--profile", "test", "--docroot", s(&site)];
    let printed = print_config(tmp.path(), &args, &[("WEB_SERVER__SERVER__WORKERS", "3")]);
    assert_eq!(get(&printed, "log.level").as_str(), Some("warn"));
    let output = run(
        tmp.path(),
        &[&["--print-config"][..], &args[..]].concat(),
        &[("WEB_SERVER__SERVER__WORKERS", "3")],
    );
    let text = stdout(&output);
    for line in [
        "backlog = 1024  # built-in default.toml",
        "level = \"warn\"  # built-in test.toml",
        "workers = 3  # environment variable WEB_SERVER__SERVER__WORKERS",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    assert!(
        text.contains(&format!("docroot = \"{}\"  # flag --docroot", s(&site))),
        "{text}"
    );
    // Every key line names its origin.
    for line in text.lines() {
        if line.contains(" = ") {
            assert!(line.contains("  # "), "no origin: {line}");
        }
    }
    // The compiled-in files are the repository's.
    for (name, text) in BUILT_IN_FILES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config")
            .join(name);
        assert_eq!(fs::read_to_string(path).unwrap(), text, "{name}");
    }
}

#[test]
fn help_and_version_exit_0_and_usage_errors_exit_2() {
    let tmp = TempDir::new("bin-help");
    let help = run(tmp.path(), &["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    let text = stdout(&help);
    for flag in [
        "--profile",
        "--config",
        "--config-dir",
        "--bind",
        "--docroot",
        "--workers",
        "--admin-bind",
        "--print-config",
        "--version",
        "WEB_SERVER_PROFILE",
        "WEB_SERVER__",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help:\n{text}");
    }
    let version = run(tmp.path(), &["--version"], &[]);
    assert_eq!(version.status.code(), Some(0));
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));

    let usage = run(tmp.path(), &["--workers", "many"], &[]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).contains("--workers"), "{}", stderr(&usage));
    let usage = run(tmp.path(), &["--bind", "localhost:80"], &[]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(stderr(&usage).contains("--bind"), "{}", stderr(&usage));
}

// ---------------------------------------------------------------------------------------------
// Each kind of error: exit 2, one line naming the key and its source, nothing bound.

#[test]
fn an_unknown_key_in_a_file_names_the_key_and_the_file() {
    let start = FailingStart::new("err-unknown-file", "[timeouts]\nheader_timeout = 5000\n");
    let output = start.run(&[], &[]);
    assert_config_error(
        &output,
        &[
            "unknown key `timeouts.header_timeout`",
            start.file(),
            "did you mean `timeouts.header_ms`?",
        ],
    );
    start.assert_nothing_bound();
}

#[test]
fn an_unknown_environment_variable_is_named() {
    let start = FailingStart::new("err-unknown-env", "");
    let output = start.run(&[], &[("WEB_SERVER__SERVER__BINDS", "127.0.0.1:0")]);
    assert_config_error(
        &output,
        &[
            "environment variable WEB_SERVER__SERVER__BINDS",
            "did you mean WEB_SERVER__SERVER__BIND?",
        ],
    );
    start.assert_nothing_bound();
}

#[test]
fn a_value_of_the_wrong_type_in_a_file_names_the_key_and_the_file() {
    let start = FailingStart::new("err-type-file", "[limits]\nmax_headers = \"lots\"\n");
    let output = start.run(&[], &[]);
    assert_config_error(
        &output,
        &[
            "`limits.max_headers`",
            start.file(),
            "expected an integer",
            "string \"lots\"",
        ],
    );
    start.assert_nothing_bound();
}

#[test]
fn invalid_toml_names_the_file_and_the_line() {
    let start = FailingStart::new("err-syntax", "[log]\nlevel = info\n");
    let output = start.run(&[], &[]);
    assert_config_error(&output, &["invalid TOML", start.file(), "line 8"]);
    start.assert_nothing_bound();
}

#[test]
fn a_bad_value_in_the_environment_names_the_variable() {
    let start = FailingStart::new("err-env-value", "");
    let output = start.run(&[], &[("WEB_SERVER__TIMEOUTS__HEADER_MS", "5s")]);
    assert_config_error(
        &output,
        &[
            "`timeouts.header_ms`",
            "environment variable WEB_SERVER__TIMEOUTS__HEADER_MS",
            "\"5s\"",
        ],
    );
    // Out of range is a bad value too (timeouts must be positive).
    let output = start.run(&[], &[("WEB_SERVER__TIMEOUTS__KEEPALIVE_MS", "0")]);
    assert_config_error(
        &output,
        &[
            "`timeouts.keepalive_ms`",
            "WEB_SERVER__TIMEOUTS__KEEPALIVE_MS",
            "from 1 to",
        ],
    );
    let output = start.run(&[], &[("WEB_SERVER__SERVER__BIND", "127.0.0.1:0,nowhere")]);
    assert_config_error(
        &output,
        &["`server.bind`", "WEB_SERVER__SERVER__BIND", "\"nowhere\""],
    );
    start.assert_nothing_bound();
}

#[test]
fn a_bad_flag_value_names_the_flag() {
    let start = FailingStart::new("err-flag", "");
    let output = start.run(&["--workers", "5000"], &[]);
    assert_config_error(&output, &["`server.workers`", "flag --workers", "5000"]);
    start.assert_nothing_bound();
}

#[test]
fn a_missing_docroot_names_the_key_and_where_it_was_set() {
    let tmp = TempDir::new("err-docroot");
    let (file, ports) = config_with_ports(&tmp, "");
    let missing = tmp.path().join("no-such-site");
    let output = run(
        tmp.path(),
        &[
            "--profile",
            "test",
            "--config",
            s(&file),
            "--docroot",
            s(&missing),
        ],
        &[],
    );
    assert_config_error(
        &output,
        &["`server.docroot`", "flag --docroot", "does not exist"],
    );

    // A relative docroot in a --config file resolves against that file's directory.
    let text = fs::read_to_string(&file).unwrap().replacen(
        "[server]\n",
        "[server]\ndocroot = \"no-such-site\"\n",
        1,
    );
    fs::write(&file, text).unwrap();
    let output = run(
        tmp.path(),
        &["--profile", "test", "--config", s(&file)],
        &[],
    );
    let line = assert_config_error(&output, &["`server.docroot`", s(&file), "does not exist"]);
    assert!(
        line.contains(s(&missing)),
        "resolved against the file's directory: {line}"
    );
    assert_ports_free(&ports);
}

#[test]
fn proxy_settings_that_cannot_work_are_errors_naming_the_key() {
    let tmp = TempDir::new("err-proxies");
    let site = tmp.mkdir("site");
    let (file, ports) = config_with_ports(&tmp, "");
    let args = ["--docroot", s(&site), "--config", s(&file)];
    // The PROXY protocol with no balancer to believe.
    let output = run(
        tmp.path(),
        &args,
        &[("WEB_SERVER__SERVER__PROXY_PROTOCOL", "true")],
    );
    assert_config_error(
        &output,
        &[
            "`server.trusted_proxies`",
            "server.proxy_protocol",
            "WEB_SERVER__SERVER__PROXY_PROTOCOL",
        ],
    );
    // A block with host bits set: almost always a typo that would trust too much.
    let output = run(
        tmp.path(),
        &args,
        &[(
            "WEB_SERVER__SERVER__TRUSTED_PROXIES",
            "10.0.0.0/8, 10.1.0.0/8",
        )],
    );
    assert_config_error(
        &output,
        &[
            "`server.trusted_proxies`",
            "WEB_SERVER__SERVER__TRUSTED_PROXIES",
            "host bits",
        ],
    );
    assert_ports_free(&ports);
}

#[test]
fn prod_without_an_admin_token_is_an_error_naming_admin_token() {
    let tmp = TempDir::new("err-prod-token");
    let site = tmp.mkdir("site");
    let (file, ports) = config_with_ports(&tmp, "");
    let args = [
        "--profile",
        "prod",
        "--docroot",
        s(&site),
        "--config",
        s(&file),
    ];
    let output = run(tmp.path(), &args, &[]);
    assert_config_error(
        &output,
        &["missing `admin.token`", "prod", "WEB_SERVER__ADMIN__TOKEN"],
    );
    let output = run(tmp.path(), &args, &[("WEB_SERVER__ADMIN__TOKEN", "short")]);
    assert_config_error(
        &output,
        &["`admin.token`", "WEB_SERVER__ADMIN__TOKEN", "at least 16"],
    );
    assert_ports_free(&ports);
    // With the admin endpoint disabled, prod needs no token.
    let printed = print_config(tmp.path(), &args, &[("WEB_SERVER__ADMIN__BIND", "")]);
    assert_eq!(get(&printed, "admin.bind").as_str(), Some(""));
}

#[test]
fn tls_bind_without_cert_names_tls_cert() {
    let tmp = TempDir::new("err-tls");
    let site = tmp.mkdir("site");
    let tls_port = free_port();
    let (file, ports) = config_with_ports(
        &tmp,
        &format!("[tls]\nbind = [\"127.0.0.1:{tls_port}\"]\nkey = \"key.pem\"\n"),
    );
    tmp.write("key.pem", "not really a key");
    let args = [
        "--profile",
        "test",
        "--docroot",
        s(&site),
        "--config",
        s(&file),
    ];
    let output = run(tmp.path(), &args, &[]);
    assert_config_error(&output, &["missing `tls.cert`", "`tls.bind`", s(&file)]);

    let output = run(
        tmp.path(),
        &args,
        &[("WEB_SERVER__TLS__CERT", "missing.pem")],
    );
    assert_config_error(
        &output,
        &[
            "`tls.cert`",
            "environment variable WEB_SERVER__TLS__CERT",
            "does not exist",
        ],
    );
    assert_ports_free(&[ports[0], ports[1], tls_port]);
}

/// The library's view of the same profiles the binary prints, for the rest of the server.
#[test]
fn settings_expose_typed_values_and_durations() {
    let tmp = TempDir::new("typed");
    let site = tmp.mkdir("site");
    let env = [("WEB_SERVER__TIMEOUTS__HEADER_MS", "250")];
    let settings = Settings::load_from(
        &cli(&["--profile", "test", "--docroot", s(&site)]),
        env,
        tmp.path(),
    )
    .unwrap();
    assert_eq!(settings.profile, Profile::Test);
    assert_eq!(settings.timeouts.header(), Duration::from_millis(250));
    assert_eq!(settings.log.format, LogFormat::Compact);
    assert_eq!(settings.server.docroot, site);
    assert_eq!(settings.limits.max_request_line, 8192);
}

// ---------------------------------------------------------------------------------------------
// docs/configuration.md stays true.

/// Every key has a row in the documentation's table whose default, per-profile values,
/// environment variable and flag match the profile files and the loader.
#[test]
fn the_documented_key_table_matches_the_profile_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    let read = |name: &str| -> toml::Table {
        toml::from_str(&fs::read_to_string(root.join("config").join(name)).unwrap()).unwrap()
    };
    let default = read("default.toml");
    let profiles: Vec<(&str, toml::Table)> = ["dev", "prod", "test"]
        .into_iter()
        .map(|p| (p, read(&format!("{p}.toml"))))
        .collect();
    let flags = [
        ("server.bind", "--bind"),
        ("server.docroot", "--docroot"),
        ("server.workers", "--workers"),
        ("admin.bind", "--admin-bind"),
        ("admin.token", "--admin-token-file"),
        ("tls.bind", "--tls-bind"),
        ("tls.cert", "--tls-cert"),
        ("tls.key", "--tls-key"),
        ("log.format", "--log-format"),
        ("log.level", "--log-level"),
    ];
    // A documented cell as a TOML value: `**...**` marks a profile's own setting.
    let cell_value = |cell: &str| -> Option<toml::Value> {
        let text = cell.trim().trim_matches('*').trim_matches('`');
        let table: toml::Table = toml::from_str(&format!("v = {text}")).ok()?;
        table.get("v").cloned()
    };
    let lookup = |table: &toml::Table, key: &str| -> Option<toml::Value> {
        let (section, name) = key.split_once('.').unwrap();
        table.get(section)?.get(name).cloned()
    };

    for key in web_server::config::keys() {
        let row = docs
            .lines()
            .find(|line| line.starts_with(&format!("| `{key}` |")))
            .unwrap_or_else(|| panic!("no row for `{key}` in docs/configuration.md"));
        let cells: Vec<&str> = row.trim_matches('|').split('|').collect();
        assert!(cells.len() >= 8, "{row}");
        let want_default = lookup(&default, key).unwrap();
        assert_eq!(
            cell_value(cells[1]),
            Some(want_default.clone()),
            "default of {key}"
        );
        for (i, (profile, table)) in profiles.iter().enumerate() {
            let cell = cells[2 + i];
            if cell.contains("required") {
                continue;
            }
            let own = lookup(table, key);
            let effective = own.clone().unwrap_or_else(|| want_default.clone());
            assert_eq!(
                cell_value(cell),
                Some(effective),
                "{profile} value of {key}"
            );
            assert_eq!(
                cell.trim().starts_with("**"),
                own.is_some(),
                "bold marks what {profile}.toml sets ({key})"
            );
        }
        assert_eq!(
            cells[5].trim(),
            format!("`{}`", web_server::config::env_var(key))
        );
        let flag = flags
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, f)| format!("`{f}`"));
        assert_eq!(cells[6].trim(), flag.unwrap_or_default(), "flag of {key}");
    }
}

// ---------------------------------------------------------------------------------------------
// One source of defaults.

/// `ServerConfig::default()` (the embedding API), `ConnectionOptions::default()` and
/// `CacheOptions::default()` are the compiled-in `default.toml`, key by key, over every key of
/// the schema. The keys that say where a server runs and what it serves (listen addresses,
/// docroot, admin endpoint, TLS, logging) are the embedding application's to choose: they are
/// checked to start empty, and listed here so a new key must be placed on one side or the other.
#[test]
fn the_in_code_defaults_are_default_toml_key_by_key() {
    use std::time::Duration;
    use toml::Value;
    use web_server::config::{CacheOptions, ConnectionOptions, ServerConfig, DEFAULT_TOML};

    let default: toml::Table = toml::from_str(DEFAULT_TOML).unwrap();
    let config = ServerConfig::default();
    let int = |n: u64| Value::Integer(i64::try_from(n).unwrap());
    let ms = |d: Duration| int(u64::try_from(d.as_millis()).unwrap());
    let usize_int = |n: usize| int(n as u64);
    let connection = &config.connection;
    let mut embedders_choice = Vec::new();
    for key in web_server::config::keys() {
        let (section, name) = key.split_once('.').unwrap();
        let want = default[section][name].clone();
        let got = match key {
            "server.workers" => usize_int(config.workers),
            "server.backlog" => int(config.backlog.into()),
            "server.max_connections" => usize_int(config.max_connections),
            "timeouts.header_ms" => ms(connection.header_timeout),
            "timeouts.body_ms" => ms(connection.body_timeout),
            "timeouts.keepalive_ms" => ms(connection.keepalive_timeout),
            "timeouts.send_ms" => ms(connection.send_timeout),
            "timeouts.shutdown_ms" => ms(config.shutdown_timeout),
            "limits.max_request_line" => usize_int(connection.limits.max_request_line),
            "limits.max_header_bytes" => usize_int(connection.limits.max_header_bytes),
            "limits.max_headers" => usize_int(connection.limits.max_headers),
            "limits.max_body_bytes" => int(connection.limits.max_body_bytes),
            "limits.max_keepalive_requests" => int(connection.max_keepalive_requests),
            "cache.max_bytes" => int(config.cache.max_bytes),
            "cache.max_entries" => usize_int(config.cache.max_entries),
            "cache.max_file_bytes" => int(config.static_options.max_inline_bytes),
            "cache.revalidate_ms" => ms(config.cache.revalidate),
            "cache.max_negative_entries" => usize_int(config.cache.max_negative_entries),
            "compression.gzip" => Value::Boolean(config.static_options.gzip),
            "compression.min_bytes" => int(config.static_options.gzip_min_bytes),
            "compression.level" => int(config.static_options.gzip_level.into()),
            "server.trusted_proxies" => Value::Array(
                connection
                    .trusted_proxies
                    .blocks()
                    .iter()
                    .map(|block| Value::String(block.to_string()))
                    .collect(),
            ),
            "server.request_id" => Value::Boolean(connection.request_id),
            "server.proxy_protocol" => Value::Boolean(connection.proxy_protocol),
            "limits.max_connections_per_ip" => usize_int(config.max_connections_per_ip),
            "limits.requests_per_second" => int(connection.request_rate.per_second.into()),
            "limits.request_burst" => int(connection.request_rate.burst.into()),
            "server.bind" => {
                assert_eq!(config.bind, [addr("127.0.0.1:0")], "a free loopback port");
                embedders_choice.push(key);
                continue;
            }
            "server.docroot" => {
                assert_eq!(config.docroot, None);
                embedders_choice.push(key);
                continue;
            }
            "admin.bind"
            | "admin.token"
            | "admin.metrics_token"
            | "admin.allow_kill"
            | "admin.allowed_hosts" => {
                assert_eq!(config.admin, None);
                embedders_choice.push(key);
                continue;
            }
            "tls.bind"
            | "tls.cert"
            | "tls.key"
            | "tls.handshake_timeout_ms"
            | "tls.redirect_http" => {
                assert_eq!(config.tls, None);
                embedders_choice.push(key);
                continue;
            }
            "log.format" | "log.level" | "log.access_log" | "log.access_format" => {
                assert_eq!(config.log, None, "the application's logging");
                embedders_choice.push(key);
                continue;
            }
            other => panic!(
                "`{other}` is a new key: compare it with ServerConfig::default() here, or list \
                 it as the embedding application's choice"
            ),
        };
        assert_eq!(
            got, want,
            "ServerConfig::default() differs from default.toml at {key}"
        );
    }
    assert_eq!(
        embedders_choice,
        [
            "server.bind",
            "server.docroot",
            "admin.bind",
            "admin.token",
            "admin.metrics_token",
            "admin.allow_kill",
            "admin.allowed_hosts",
            "tls.bind",
            "tls.cert",
            "tls.key",
            "tls.handshake_timeout_ms",
            "tls.redirect_http",
            "log.format",
            "log.level",
            "log.access_log",
            "log.access_format",
        ]
    );
    assert_eq!(ConnectionOptions::default(), config.connection);
    assert_eq!(CacheOptions::default(), config.cache);
}

// ---------------------------------------------------------------------------------------------
// --check, as `nginx -t`.

#[test]
fn check_exits_0_on_a_good_configuration_and_2_naming_key_and_file_on_a_bad_one() {
    let tmp = TempDir::new("bin-check");
    let site = tmp.mkdir("site");
    let good = tmp.write("good.toml", "[server]\nworkers = 2\n");
    let args = ["--check", "--docroot", s(&site), "--config", s(&good)];
    let output = run(tmp.path(), &args, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("configuration is valid"),
        "{}",
        stdout(&output)
    );
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));

    let bad = tmp.write("bad.toml", "[timeouts]\nheader_ms = \"soon\"\n");
    let args = ["--check", "--docroot", s(&site), "--config", s(&bad)];
    let output = run(tmp.path(), &args, &[]);
    assert_config_error(&output, &["`timeouts.header_ms`", s(&bad)]);

    // Cross-key checks run too: TLS without a certificate.
    let output = run(
        tmp.path(),
        &[
            "--check",
            "--docroot",
            s(&site),
            "--tls-bind",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_config_error(&output, &["`tls.cert`", "flag --tls-bind"]);
}
