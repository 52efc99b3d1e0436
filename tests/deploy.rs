//! The deployment files (docs/deploy/kubernetes.yaml and docs/deploy/Dockerfile) checked as far
//! as they can be without a container engine or a cluster:
//!
//! - the manifest parses as YAML and holds a Deployment and a Service;
//! - its environment and the image's are valid configuration (names from
//!   `web_server::config::keys()`, values accepted by the loader with the prod profile), the
//!   admin token comes from a Secret;
//! - the probes, the scrape annotations, the container ports and the Service point at the ports
//!   that configuration binds, and the probe and scrape paths are answered 200 by a real server
//!   started from it;
//! - the grace period covers the preStop pause plus `timeouts.shutdown_ms`;
//! - the Dockerfile is multi-stage, builds with the command the Makefile and README document,
//!   copies what exists to where the configuration expects it (and no configuration file: the
//!   profiles are compiled in), and runs as non-root.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;

use clap::Parser;
use serde::Deserialize;
use serde_json::Value;
use support::http::{send_closing, Reply};
use support::TestServer;
use web_server::config::AdminConfig;
use web_server::config::{self, Cli, Profile, Settings};
use web_server::http::Router;
use web_server::server::ServerConfig;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Stands in for the Secret's value: long enough for the prod profile.
const TOKEN: &str = "deploy-test-token-0123456789abcdef";

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path))
        .unwrap_or_else(|err| panic!("{path}: {err}"))
}

// --- the manifest ------------------------------------------------------------------------------

/// Every YAML document of the manifest, as JSON values.
fn manifest() -> Vec<Value> {
    let text = read("docs/deploy/kubernetes.yaml");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).expect("the manifest is valid YAML"))
        .collect()
}

fn object<'m>(documents: &'m [Value], kind: &str) -> &'m Value {
    let found: Vec<&Value> = documents.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} in the manifest");
    found[0]
}

fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// The container's environment, with the Secret's value replaced by [`TOKEN`].
fn manifest_env(container: &Value) -> Vec<(String, String)> {
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|var| {
            let name = var["name"].as_str().expect("env name").to_owned();
            let value = match (&var["value"], &var["valueFrom"]) {
                (Value::String(value), Value::Null) => value.clone(),
                (Value::Null, from) if !from["secretKeyRef"].is_null() => TOKEN.to_owned(),
                other => panic!("{name}: a string value or a secretKeyRef, found {other:?}"),
            };
            (name, value)
        })
        .collect()
}

/// A container port by number or by name.
fn port_of(container: &Value, port: &Value) -> u16 {
    if let Some(number) = port.as_u64() {
        return number as u16;
    }
    let name = port.as_str().expect("a port number or name");
    let found = container["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no container port named {name}"));
    found["containerPort"].as_u64().expect("containerPort") as u16
}

// --- the Dockerfile ----------------------------------------------------------------------------

/// One instruction: its keyword and its arguments, continuation lines joined.
struct Instruction {
    /// `FROM`, `RUN`, `COPY`, …
    keyword: String,
    /// Everything after the keyword, with `\`-newline continuations folded into spaces.
    args: String,
    /// The stage it belongs to (0 for the first `FROM`).
    stage: usize,
}

fn dockerfile() -> Vec<Instruction> {
    let text = read("docs/deploy/Dockerfile");
    let mut instructions = Vec::new();
    let mut pending = String::new();
    let mut stage = 0;
    for line in text.lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let (keyword, args) = pending.split_once(char::is_whitespace).expect("arguments");
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "FROM"
            && instructions
                .iter()
                .any(|i: &Instruction| i.keyword == "FROM")
        {
            stage += 1;
        }
        instructions.push(Instruction {
            keyword,
            args: args.split_whitespace().collect::<Vec<_>>().join(" "),
            stage,
        });
        pending.clear();
    }
    assert!(pending.is_empty(), "a dangling continuation");
    instructions
}

fn all<'d>(instructions: &'d [Instruction], keyword: &str) -> Vec<&'d Instruction> {
    instructions
        .iter()
        .filter(|i| i.keyword == keyword)
        .collect()
}

/// `ENV` pairs of the image (the `KEY=value` form only).
fn image_env(instructions: &[Instruction]) -> Vec<(String, String)> {
    all(instructions, "ENV")
        .iter()
        .flat_map(|env| env.args.split(' '))
        .map(|pair| {
            let (name, value) = pair.split_once('=').expect("ENV KEY=value");
            assert!(!value.contains(['"', '\'']), "unquoted values: {pair}");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// An exec-form array (`["a", "b"]`).
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|err| panic!("exec form {args}: {err}"))
}

/// `COPY` sources and destination, without flags other than `--from`.
fn copies(instructions: &[Instruction]) -> Vec<(Option<String>, Vec<String>, String, usize)> {
    all(instructions, "COPY")
        .iter()
        .map(|copy| {
            let mut from = None;
            let mut paths = Vec::new();
            for word in copy.args.split(' ') {
                match word.strip_prefix("--from=") {
                    Some(stage) => from = Some(stage.to_owned()),
                    None => {
                        assert!(!word.starts_with("--"), "unexpected COPY flag {word}");
                        paths.push(word.to_owned());
                    }
                }
            }
            let destination = paths.pop().expect("a destination");
            (from, paths, destination, copy.stage)
        })
        .collect()
}

/// Commands the Makefile's recipes and the README's code blocks run, `$(CARGO)` as `cargo`,
/// without trailing comments or `$(ARGS)`.
fn documented_commands() -> BTreeSet<String> {
    let clean = |line: &str| {
        let line = line.split(" #").next().unwrap();
        line.replace("$(CARGO)", "cargo")
            .replace("$(ARGS)", "")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let makefile = read("Makefile");
    let recipes = makefile
        .lines()
        .filter(|l| l.starts_with('\t'))
        .map(|l| clean(l.trim()));
    let readme = read("README.md");
    let mut in_block = false;
    let mut code = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
        } else if in_block {
            code.push(clean(line));
        }
    }
    // `make TARGET` is documented when the Makefile defines the target.
    let targets = makefile
        .lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| !t.is_empty() && !t.starts_with(['.', '\t', '#']) && !t.contains(' '))
        .map(|t| format!("make {t}"));
    recipes.chain(code).chain(targets).collect()
}

// --- configuration of the image and of the pod -------------------------------------------------

/// The process environment of the container: the image's `ENV`, then the pod's `env`.
fn container_env(pod: bool) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = image_env(&dockerfile()).into_iter().collect();
    if pod {
        let documents = manifest();
        env.extend(manifest_env(container(object(&documents, "Deployment"))));
    }
    env.into_iter().collect()
}

/// Loads the configuration the container would run with (the compiled-in profiles). The
/// document root exists only in the image, so the source tree's stands in for it (the
/// Dockerfile test checks the image copies exactly that to where the configuration points).
fn load(env: &[(String, String)], args: &[String]) -> Settings {
    let mut env = env.to_vec();
    for (name, value) in &mut env {
        if name == &config::env_var("server.docroot") {
            *value = format!("{ROOT}/crates/server/site");
        }
    }
    if !env
        .iter()
        .any(|(n, _)| n == &config::env_var("server.docroot"))
    {
        env.push((
            config::env_var("server.docroot"),
            format!("{ROOT}/crates/server/site"),
        ));
    }
    let argv = std::iter::once("web_server".to_owned()).chain(args.iter().cloned());
    let cli = Cli::try_parse_from(argv).expect("the container's arguments parse");
    Settings::load_from(&cli, env, Path::new(ROOT))
        .unwrap_or_else(|err| panic!("the container's configuration loads: {err}"))
}

/// The arguments the image's entry point gets: `ENTRYPOINT` after the binary, then `CMD`, then
/// the pod's `args` (which replace `CMD`).
fn container_args(pod: bool) -> Vec<String> {
    let instructions = dockerfile();
    let entrypoint = exec_form(&all(&instructions, "ENTRYPOINT").last().unwrap().args);
    let mut args: Vec<String> = entrypoint[1..].to_vec();
    let documents = manifest();
    let pod_args = &container(object(&documents, "Deployment"))["args"];
    match (pod, pod_args.as_array()) {
        (true, Some(given)) => args.extend(given.iter().map(|a| a.as_str().unwrap().to_owned())),
        _ => {
            if let Some(cmd) = all(&instructions, "CMD").last() {
                args.extend(exec_form(&cmd.args));
            }
        }
    }
    args
}

fn names_are_configuration(env: &[(String, String)], source: &str) {
    let keys: BTreeSet<String> = config::keys().map(config::env_var).collect();
    for (name, _) in env {
        if name.starts_with(config::ENV_PREFIX) {
            assert!(
                keys.contains(name),
                "{source}: {name} is no configuration key"
            );
        } else {
            assert!(
                [config::PROFILE_ENV, config::CONFIG_DIR_ENV].contains(&name.as_str()),
                "{source}: {name} is not read by web_server"
            );
        }
    }
}

// --- the tests ---------------------------------------------------------------------------------

#[test]
fn manifest_is_yaml_with_a_deployment_and_a_service() {
    let documents = manifest();
    let deployment = object(&documents, "Deployment");
    let service = object(&documents, "Service");
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(service["apiVersion"], "v1");
    assert!(
        deployment["spec"]["replicas"].as_u64().unwrap() >= 2,
        "replicas"
    );
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for (key, value) in deployment["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&labels[key], value, "the selector matches the pods");
        assert_eq!(
            &service["spec"]["selector"][key], value,
            "the Service selects the pods"
        );
    }
}

#[test]
fn environment_names_and_values_are_valid_configuration() {
    let documents = manifest();
    let pod = manifest_env(container(object(&documents, "Deployment")));
    names_are_configuration(&pod, "kubernetes.yaml");
    names_are_configuration(&image_env(&dockerfile()), "Dockerfile");
    // The token comes from a Secret, never from the manifest itself.
    let token = container(object(&documents, "Deployment"))["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == config::env_var("admin.token"))
        .expect("the admin token is set");
    assert!(token["value"].is_null(), "not a literal");
    assert!(!token["valueFrom"]["secretKeyRef"]["name"].is_null());
    assert!(!token["valueFrom"]["secretKeyRef"]["key"].is_null());
    // Both the pod and the image alone load with the prod profile.
    let settings = load(&container_env(true), &container_args(true));
    assert_eq!(settings.profile, Profile::Prod);
    assert_eq!(settings.admin.token.as_deref(), Some(TOKEN));
    assert_eq!(settings.log.format.name(), "json");
    let image = load(
        &[
            container_env(false),
            vec![(config::env_var("admin.token"), TOKEN.to_owned())],
        ]
        .concat(),
        &container_args(false),
    );
    assert_eq!(image.profile, Profile::Prod);
}

#[test]
fn probes_scrapes_and_service_use_the_configured_ports() {
    let documents = manifest();
    let deployment = object(&documents, "Deployment");
    let container = container(deployment);
    let settings = load(&container_env(true), &container_args(true));
    let admin = settings.admin.bind.expect("the admin endpoint runs");
    assert!(
        admin.ip().is_unspecified(),
        "probes reach {admin} from outside the pod"
    );
    for probe in ["readinessProbe", "livenessProbe"] {
        let port = port_of(container, &container[probe]["httpGet"]["port"]);
        assert_eq!(port, admin.port(), "{probe} probes the admin endpoint");
    }
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], admin.port().to_string());
    assert_eq!(annotations["prometheus.io/path"], "/metrics");

    let public = settings.server.bind[0];
    assert!(
        public.ip().is_unspecified(),
        "the site is reachable: {public}"
    );
    assert_eq!(port_of(container, &Value::from("http")), public.port());
    let service = object(&documents, "Service");
    let ports = service["spec"]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1, "only the site is load-balanced");
    assert_eq!(ports[0]["port"], 80);
    assert_eq!(port_of(container, &ports[0]["targetPort"]), public.port());
}

#[test]
fn the_grace_period_covers_the_pre_stop_pause_and_the_drain() {
    let documents = manifest();
    let deployment = object(&documents, "Deployment");
    let container = container(deployment);
    let settings = load(&container_env(true), &container_args(true));
    let command: Vec<String> =
        serde_json::from_value(container["lifecycle"]["preStop"]["exec"]["command"].clone())
            .expect("preStop runs a command");
    assert_eq!(command[0], "sleep", "{command:?}");
    let pause_ms: u64 = command[1].parse::<u64>().unwrap() * 1000;
    assert!(pause_ms > 0);
    let grace_ms = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds")
        * 1000;
    assert!(
        grace_ms > pause_ms + settings.timeouts.shutdown_ms,
        "{grace_ms} ms must exceed the {pause_ms} ms pause + timeouts.shutdown_ms = {}",
        settings.timeouts.shutdown_ms
    );
}

/// `GET path` on `addr`, as the kubelet sends it, with an optional bearer token.
fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Reply {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    send_closing(
        addr,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: pod\r\nUser-Agent: kube-probe/1.31\r\n{auth}Connection: close\r\n\r\n"
        ),
    )
}

/// A server running the pod's configuration, on loopback ports chosen by the kernel.
fn pod_server() -> (TestServer, Value) {
    let documents = manifest();
    let container = container(object(&documents, "Deployment")).clone();
    let settings = load(&container_env(true), &container_args(true));
    let mut config = ServerConfig::from_settings(&settings);
    config.bind = vec!["127.0.0.1:0".parse().unwrap()];
    let admin = config.admin.take().expect("the admin endpoint runs");
    config.admin = Some(AdminConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..admin
    });
    (TestServer::start(config, Router::new), container)
}

#[test]
fn probe_and_scrape_paths_are_served_by_the_admin_endpoint() {
    let (server, container) = pod_server();
    let admin = server.admin.unwrap();
    let documents = manifest();
    let annotations =
        &object(&documents, "Deployment")["spec"]["template"]["metadata"]["annotations"];
    let scrape = annotations["prometheus.io/path"].as_str().unwrap();
    for path in [
        container["readinessProbe"]["httpGet"]["path"]
            .as_str()
            .unwrap(),
        container["livenessProbe"]["httpGet"]["path"]
            .as_str()
            .unwrap(),
        scrape,
    ] {
        let reply = get(admin, path, Some(TOKEN));
        assert_eq!(reply.status, 200, "GET {path}: {reply:?}");
    }
    assert!(get(admin, scrape, Some(TOKEN))
        .text()
        .contains("web_server_requests_total"));
    // The kubelet sends no credentials: liveness must not need them.
    let liveness = container["livenessProbe"]["httpGet"]["path"]
        .as_str()
        .unwrap();
    assert_eq!(get(admin, liveness, None).status, 200);
}

// The kubelet's httpGet probes cannot send a Secret, and prod requires a token: readiness, like
// liveness, must answer without credentials.
#[test]
fn readiness_needs_no_credentials() {
    let (server, container) = pod_server();
    let readiness = container["readinessProbe"]["httpGet"]["path"]
        .as_str()
        .unwrap();
    let reply = get(server.admin.unwrap(), readiness, None);
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[test]
fn dockerfile_builds_with_the_documented_command() {
    let instructions = dockerfile();
    let documented = documented_commands();
    let mut builds = 0;
    for run in all(&instructions, "RUN") {
        assert!(!run.args.starts_with('['), "shell form: {}", run.args);
        for command in run.args.split("&&").flat_map(|c| c.split(';')) {
            let command = command.split_whitespace().collect::<Vec<_>>().join(" ");
            if command.starts_with("cargo ") || command.starts_with("make ") {
                builds += 1;
                assert!(
                    documented.contains(&command),
                    "{command:?} is not a command the README or the Makefile documents:\n{documented:#?}"
                );
            }
        }
    }
    assert!(builds >= 1, "the image builds web_server");
}

#[test]
fn dockerfile_is_multi_stage_non_root_and_copies_what_the_configuration_expects() {
    let instructions = dockerfile();
    let froms = all(&instructions, "FROM");
    assert!(froms.len() >= 2, "multi-stage");
    let (builder, build_stage) = froms[0]
        .args
        .split_once(" AS ")
        .or_else(|| froms[0].args.split_once(" as "))
        .expect("a named build stage");
    let runtime = &froms.last().unwrap().args;
    assert!(builder.starts_with("rust:1"), "{builder}");
    assert_eq!(runtime, "debian:bookworm-slim");
    assert!(
        builder.contains("bookworm"),
        "build on the runtime's Debian release (glibc): {builder}"
    );
    let last_stage = froms.len() - 1;

    // The binary: built under the build stage's WORKDIR, copied to the entry point.
    let workdir = all(&instructions, "WORKDIR")
        .into_iter()
        .rfind(|w| w.stage == 0)
        .expect("a WORKDIR in the build stage")
        .args
        .clone();
    let copies = copies(&instructions);
    let binary = copies
        .iter()
        .find(|(from, ..)| from.as_deref() == Some(build_stage))
        .expect("the binary copied from the build stage");
    assert_eq!(binary.1, [format!("{workdir}/target/release/web_server")]);
    let entrypoint = exec_form(&all(&instructions, "ENTRYPOINT").last().unwrap().args);
    assert_eq!(entrypoint[0], binary.2);

    // Local sources exist and are not ignored; config and the site land where the environment
    // and prod.toml point.
    let ignored: Vec<String> = read("docs/deploy/Dockerfile.dockerignore")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    for (from, sources, _, _) in &copies {
        if from.is_none() {
            for source in sources {
                let top = source.trim_end_matches('/').split('/').next().unwrap();
                assert!(Path::new(ROOT).join(source).exists(), "COPY {source}");
                assert!(
                    !ignored.iter().any(|i| i == top),
                    "COPY {source} is ignored"
                );
            }
        }
    }
    let runtime_copy = |source: &str| {
        copies
            .iter()
            .find(|(from, sources, _, stage)| {
                from.is_none() && *stage == last_stage && sources == &[source.to_owned()]
            })
            .map(|(_, _, destination, _)| destination.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| panic!("the runtime stage copies {source}"))
    };
    let env: BTreeMap<String, String> = image_env(&instructions).into_iter().collect();
    assert_eq!(
        env.get(config::PROFILE_ENV).map(String::as_str),
        Some("prod")
    );
    // No configuration file in the image: the profiles are compiled into the binary, so the
    // runtime stage copies none and points nowhere for them.
    assert_eq!(env.get(config::CONFIG_DIR_ENV), None);
    assert!(
        !copies
            .iter()
            .any(|(_, sources, _, stage)| *stage == last_stage
                && sources.iter().any(|s| s.starts_with("config"))),
        "the runtime stage copies no configuration"
    );
    let prod: toml::Value = toml::from_str(&read("config/prod.toml")).unwrap();
    let docroot = env
        .get(&config::env_var("server.docroot"))
        .cloned()
        .unwrap_or_else(|| prod["server"]["docroot"].as_str().unwrap().to_owned());
    assert_eq!(docroot, runtime_copy("crates/server/site"));

    // Non-root, the ports it listens on, SIGTERM.
    let user = &all(&instructions, "USER").last().expect("a USER").args;
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "USER {user}");
    let documents = manifest();
    let security = &object(&documents, "Deployment")["spec"]["template"]["spec"]["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(
        security["runAsUser"].to_string(),
        uid,
        "the pod runs as the image's user"
    );
    let image = load(
        &[
            container_env(false),
            vec![(config::env_var("admin.token"), TOKEN.to_owned())],
        ]
        .concat(),
        &container_args(false),
    );
    let exposed: BTreeSet<u16> = all(&instructions, "EXPOSE")
        .iter()
        .flat_map(|e| e.args.split(' '))
        .map(|p| p.trim_end_matches("/tcp").parse().unwrap())
        .collect();
    let listening: BTreeSet<u16> = image
        .server
        .bind
        .iter()
        .chain(image.admin.bind.iter())
        .map(|a| a.port())
        .collect();
    assert_eq!(exposed, listening);
    assert_eq!(
        all(&instructions, "STOPSIGNAL").last().unwrap().args,
        "SIGTERM"
    );
}

// --- systemd units -------------------------------------------------------------------------------

/// `KEY=VALUE` lines of a unit file (comments and section headers dropped), in order.
fn unit(path: &str) -> Vec<(String, String)> {
    read(path)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("{path}: {l}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn the_systemd_units_notify_activate_sandbox_and_run_a_valid_command_line() {
    let service = unit("docs/deploy/web_server.service");
    let get = |key: &str| -> Vec<&str> {
        service
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert!(
        get("Type")[0].starts_with("notify"),
        "the server sends READY=1"
    );
    assert_eq!(get("Requires"), ["web_server.socket"]);
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(get(key), [value], "{key}");
    }
    // The command line parses, and reads the token from a file (never the environment).
    let exec: Vec<String> = get("ExecStart")[0]
        .split_whitespace()
        .map(|word| word.replace("%d", "/run/credentials/web_server.service"))
        .collect();
    let cli = Cli::try_parse_from(&exec).expect("ExecStart's flags parse");
    assert!(cli.admin_token_file.is_some());
    // The environment is configuration: known names, a prod profile with the token file.
    let env: Vec<(String, String)> = get("Environment")
        .iter()
        .map(|assignment| {
            let (name, value) = assignment.split_once('=').unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    names_are_configuration(&env, "web_server.service");
    assert!(env.contains(&(config::PROFILE_ENV.to_owned(), "prod".to_owned())));
    // The stop timeout covers prod's drain.
    let prod: toml::Value = toml::from_str(&read("config/prod.toml")).unwrap();
    let drain_s = prod["timeouts"]["shutdown_ms"].as_integer().unwrap() / 1000;
    let stop_s: i64 = get("TimeoutStopSec")[0].parse().unwrap();
    assert!(
        stop_s > drain_s,
        "TimeoutStopSec {stop_s} > drain {drain_s} s"
    );

    let socket = unit("docs/deploy/web_server.socket");
    let listens: Vec<&str> = socket
        .iter()
        .filter(|(k, _)| k == "ListenStream")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(!listens.is_empty());
    for listen in listens {
        listen
            .parse::<SocketAddr>()
            .unwrap_or_else(|e| panic!("ListenStream={listen} is an address: {e}"));
    }
}

/// The Grafana dashboard queries only series the server exports: every metric name in its
/// expressions has a row in docs/operations.md's series table (a histogram's `_bucket` series
/// under the histogram's name).
#[test]
fn the_grafana_dashboard_uses_only_exported_series() {
    let dashboard: Value =
        serde_json::from_str(&read("docs/deploy/grafana-dashboard.json")).expect("valid JSON");
    let operations = read("docs/operations.md");
    let mut expressions = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            expressions.push(target["expr"].as_str().expect("an expression").to_owned());
        }
    }
    assert!(expressions.len() >= 10, "{expressions:?}");
    let mut names = BTreeSet::new();
    for expr in &expressions {
        let words = expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        for word in words {
            if word.starts_with("web_server_") || word.starts_with("process_") {
                names.insert(word.trim_end_matches("_bucket").to_owned());
            }
        }
    }
    for name in [
        "web_server_requests_total",
        "web_server_request_duration_seconds",
        "web_server_connections_active",
        "process_resident_memory_bytes",
        "web_server_cache_hits_total",
        "web_server_supervisor_restarts_total",
    ] {
        assert!(names.contains(name), "the dashboard charts {name}");
    }
    for name in &names {
        assert!(
            operations.contains(&format!("| `{name}` |")),
            "{name} is queried by the dashboard but is not in docs/operations.md's series table"
        );
    }
}
