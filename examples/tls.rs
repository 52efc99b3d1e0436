//! HTTPS on an embedded web_server, with a self-signed certificate generated at start (rcgen)
//! for `localhost` and `127.0.0.1`: the bundled site and a route over HTTPS, and plain HTTP
//! redirected to it.
//!
//! ```sh
//! cargo run --example tls            # https://127.0.0.1:8443, http://127.0.0.1:8080 redirects
//! # it prints where the certificate is; trust it for the request:
//! curl --cacert /tmp/web_server_tls_example_1234/cert.pem https://localhost:8443/hello
//! curl -i http://127.0.0.1:8080/     # 301 to https://127.0.0.1:8443/
//! ```
//!
//! A real deployment sets `tls.bind`, `tls.cert` and `tls.key` in its configuration instead
//! (docs/configuration.md). Ctrl-C or SIGTERM stops it gracefully. Walk-through:
//! docs/embedding.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use web_server::config::TlsConfig;
use web_server::http::{Method, Response, StatusCode};
use web_server::server::ServerConfig;
use web_server::WebServer;

/// The example's flags.
#[derive(Parser)]
struct Args {
    /// Plain-HTTP address, answered with redirects to HTTPS (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// HTTPS address (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8443")]
    tls_bind: SocketAddr,
}

/// Generates a self-signed certificate for `localhost` and `127.0.0.1` and writes it and its
/// key as PEM files in `dir`; returns their paths.
fn self_signed_certificate(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names).map_err(|err| err.to_string())?;
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).map_err(|err| err.to_string())?;
    std::fs::write(&key, generated.signing_key.serialize_pem()).map_err(|err| err.to_string())?;
    Ok((cert, key))
}

#[actix::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("web_server_tls_example_{}", std::process::id()));
    let (cert, key) = match self_signed_certificate(&dir) {
        Ok(files) => files,
        Err(err) => {
            eprintln!("tls: cannot write a certificate: {err}");
            return ExitCode::FAILURE;
        }
    };
    let config = ServerConfig {
        bind: vec![args.bind],
        ..ServerConfig::default()
    };
    let started = WebServer::builder(config)
        .tls(Some(TlsConfig {
            bind: vec![args.tls_bind],
            cert: cert.clone(),
            key,
            handshake_timeout: Duration::from_secs(10),
            redirect_http: true,
        }))
        .route(Method::Get, "/hello", |_, _| {
            Response::text(StatusCode::OK, "hello over HTTPS\n")
        })
        .static_dir(
            "/",
            concat!(env!("CARGO_MANIFEST_DIR"), "/crates/server/site"),
        )
        .start()
        .await;
    let server = match started {
        Ok(server) => server,
        Err(err) => {
            eprintln!("tls: cannot start: {err}");
            let _ = std::fs::remove_dir_all(&dir);
            return ExitCode::FAILURE;
        }
    };
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    for addr in server.tls_addrs() {
        println!("listening on https://{addr}");
    }
    println!("certificate {}", cert.display());
    if let Some(addr) = server.tls_addrs().first() {
        println!(
            "try: curl --cacert {} https://localhost:{}/hello",
            cert.display(),
            addr.port()
        );
    }

    web_server::shutdown_signal().await;
    println!("shutting down");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    ExitCode::SUCCESS
}
