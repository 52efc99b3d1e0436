//! Every example run as a user runs it: the compiled example binary (built by `cargo test`, or
//! `cargo build --examples`), its stdout lines read as events, driven over real sockets, then
//! stopped with SIGTERM and expected to exit with code 0.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::find_node;
use support::http::{closing_request, read_whole, send_closing, Reply};
use support::process::{Running, WAIT};

/// `target/<profile>/examples/<name>`: this test runs from `target/<profile>/deps`.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: `cargo test` builds the examples; with a test filter such as \
         `--test examples`, run `cargo build --examples` first",
        path.display()
    );
    path
}

/// A running example: the shared process harness, with the example's own conventions (lines
/// such as `listening on http://ADDR`, matched by prefix).
struct Example(Running);

impl Example {
    fn start(name: &str, args: &[&str]) -> Example {
        let mut command = Command::new(example_path(name));
        command
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("WEB_SERVER_PROFILE");
        Example(Running::start(command))
    }

    /// The next line starting with `prefix` (earlier ones are skipped).
    fn wait_for(&mut self, prefix: &str) -> String {
        self.0.wait_for_prefix(prefix)
    }

    /// The address of the next line `<prefix>ADDR`, e.g. `listening on http://127.0.0.1:8080`.
    fn addr(&mut self, prefix: &str) -> SocketAddr {
        let line = self.wait_for(prefix);
        line[prefix.len()..].trim().parse().expect("an address")
    }

    /// Sends SIGTERM and returns the exit code.
    fn terminate(self) -> Option<i32> {
        self.0.signal("-TERM");
        self.0.exit_code()
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the response.
fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> Reply {
    send_closing(addr, &closing_request(method, path, body))
}

#[test]
fn embed_in_actix_app_serves_its_actor_and_the_site_and_survives_a_kill() {
    let mut app = Example::start(
        "embed_in_actix_app",
        &[
            "--profile",
            "test",
            "--bind",
            "127.0.0.1:0",
            "--admin-bind",
            "127.0.0.1:0",
        ],
    );
    let site = app.addr("listening on http://");
    let admin = app.addr("admin on http://");

    let index = call(site, "GET", "/", "");
    assert_eq!(index.status, 200);
    assert!(index.text().contains("<html"), "the bundled site");

    let created = call(site, "PUT", "/api/kv/greeting", "\"hello\"");
    assert_eq!(
        (created.status, created.json()),
        (201, serde_json::json!({ "created": true }))
    );
    let replaced = call(site, "PUT", "/api/kv/greeting", "\"hello again\"");
    assert_eq!(replaced.json(), serde_json::json!({ "replaced": "hello" }));
    let read = call(site, "GET", "/api/kv/greeting", "");
    assert_eq!(read.status, 200);
    assert_eq!(read.header("content-type"), Some("application/json"));
    assert_eq!(read.json(), "hello again");
    assert_eq!(call(site, "PUT", "/api/kv/bad", "{not json").status, 400);
    call(site, "PUT", "/api/kv/other", "[1, 2]");
    assert_eq!(call(site, "DELETE", "/api/kv/other", "").status, 204);
    assert_eq!(call(site, "DELETE", "/api/kv/other", "").status, 404);
    assert_eq!(
        call(site, "GET", "/api/kv", "").json(),
        serde_json::json!({ "greeting": "hello again" })
    );

    let killed = call(admin, "POST", "/admin/actors/kv_store/kill", "");
    assert_eq!(killed.status, 200, "{}", killed.text());
    // The supervisor restarts the store at once; until then the routes answer 503.
    let deadline = Instant::now() + WAIT;
    let after = loop {
        let reply = call(site, "GET", "/api/kv/greeting", "");
        if reply.status != 503 || Instant::now() > deadline {
            break reply;
        }
    };
    assert_eq!(after.status, 404, "a fresh, empty store: {}", after.text());
    assert_eq!(
        call(site, "GET", "/api/kv", "").json(),
        serde_json::json!({})
    );

    let tree = call(admin, "GET", "/admin/tree", "").json();
    let web_server_sup = find_node(&tree, "web_server_sup").expect("the root");
    let kv_sup = find_node(web_server_sup, "kv_sup").expect("kv_sup under web_server_sup");
    let store = find_node(kv_sup, "kv_store").expect("kv_store under kv_sup");
    assert_eq!(store["restarts_total"], 1, "{store}");
    assert_eq!(store["status"], "running");

    assert_eq!(app.terminate(), Some(0));
}

#[test]
fn custom_routes_serves_parameters_json_async_and_static_files() {
    let mut app = Example::start("custom_routes", &["--bind", "127.0.0.1:0"]);
    let site = app.addr("listening on http://");

    let hello = call(site, "GET", "/hello/J%C3%BCrgen", "");
    assert_eq!((hello.status, hello.text()), (200, "Hello, Jürgen!\n"));

    let ada = call(site, "GET", "/api/users/1", "");
    assert_eq!(ada.status, 200);
    assert_eq!(ada.json(), serde_json::json!({ "id": 1, "name": "Ada" }));
    assert_eq!(call(site, "GET", "/api/users/9", "").status, 404);
    assert_eq!(call(site, "GET", "/api/users/x", "").status, 400);
    let grace = call(site, "POST", "/api/users", r#"{"name": "Grace"}"#);
    assert_eq!(grace.status, 201);
    assert_eq!(grace.header("location"), Some("/api/users/2"));
    assert_eq!(
        call(site, "GET", "/api/users", "").json(),
        serde_json::json!([{ "id": 1, "name": "Ada" }, { "id": 2, "name": "Grace" }])
    );
    assert_eq!(call(site, "POST", "/api/users", "{").status, 400);
    assert_eq!(
        call(site, "POST", "/api/users", r#"{"name": " "}"#).status,
        422
    );

    let delayed = call(site, "GET", "/api/delay/20", "");
    assert_eq!(
        (delayed.status, delayed.json()),
        (200, serde_json::json!({ "waited_ms": 20 }))
    );
    assert_eq!(call(site, "GET", "/api/delay/soon", "").status, 400);

    let page = call(site, "GET", "/static/index.html", "");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<html"));
    assert_eq!(call(site, "GET", "/", "").status, 404, "no docroot");

    assert_eq!(app.terminate(), Some(0));
}

#[test]
fn supervised_counter_restarts_with_fresh_state() {
    let mut app = Example::start("supervised_counter", &[]);
    app.wait_for("count before the crash: 4");
    app.wait_for("count after the restart: 1");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = app.0.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "exits by itself");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

/// One HTTPS request (`Connection: close`) trusting only `ca`, the example's certificate.
fn https_call(addr: SocketAddr, ca: &std::path::Path, path: &str) -> Reply {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).expect("the example's certificate"))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(addr).expect("connects");
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let session = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(session, tcp);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    read_whole(&mut tls, false)
}

#[test]
fn tls_serves_https_with_a_generated_certificate_and_redirects_http() {
    let mut app = Example::start(
        "tls",
        &["--bind", "127.0.0.1:0", "--tls-bind", "127.0.0.1:0"],
    );
    let plain = app.addr("listening on http://");
    let secure = app.addr("listening on https://");
    let line = app.wait_for("certificate ");
    let ca = PathBuf::from(line["certificate ".len()..].trim());

    let hello = https_call(secure, &ca, "/hello");
    assert_eq!((hello.status, hello.text()), (200, "hello over HTTPS\n"));
    let page = https_call(secure, &ca, "/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<html"), "the bundled site over HTTPS");

    let redirected = call(plain, "GET", "/hello?x=1", "");
    assert_eq!(redirected.status, 301);
    assert_eq!(
        redirected.header("location"),
        Some(format!("https://localhost:{}/hello?x=1", secure.port()).as_str())
    );

    assert_eq!(app.terminate(), Some(0));
    assert!(!ca.exists(), "the example removes its certificate on exit");
}
