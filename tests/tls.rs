//! HTTPS over real sockets: a real rustls client (TLS 1.3 and 1.2, ALPN `http/1.1`) and `curl`,
//! failed and stalled handshakes that change nothing, the plain-HTTP redirect, and certificates
//! reloaded under the running binary without dropping a connection. Certificates are generated
//! at test time with rcgen.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use support::http::{exchange, read_reply, read_whole, Reply};
use support::process::{server, Running};
use support::{docroot, TestServer, WAIT};
use web_server::config::TlsConfig;
use web_server::http::Router;
use web_server::server::ServerConfig;

/// A self-signed certificate for `localhost`, written as PEM files in `dir`.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    (cert, key, generated.cert.der().clone())
}

/// A server with TLS on, its certificate, and the certificate's PEM file.
fn tls_server(
    redirect_http: bool,
    handshake_timeout: Duration,
) -> (TestServer, CertificateDer<'static>, PathBuf) {
    let root = docroot(&[("a.txt", b"alpha")]);
    let (cert, key, der) = certificate(&root, "cert");
    let pem = cert.clone();
    let config = ServerConfig {
        docroot: Some(root.to_path_buf()),
        workers: 2,
        tls: Some(TlsConfig {
            bind: vec!["127.0.0.1:0".parse().unwrap()],
            cert,
            key,
            handshake_timeout,
            redirect_http,
        }),
        ..ServerConfig::default()
    };
    (
        TestServer::start(config, Router::new).keeping(root),
        der,
        pem,
    )
}

fn client(
    trusted: &CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// One HTTPS request with `Connection: close`; returns the negotiated version, ALPN, the peer
/// certificate and the response.
fn https_get(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
) -> (
    rustls::ProtocolVersion,
    Option<Vec<u8>>,
    CertificateDer<'static>,
    Reply,
) {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let session =
        rustls::ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(session, tcp);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let reply = read_whole(&mut tls, false);
    let version = tls.conn.protocol_version().unwrap();
    let alpn = tls.conn.alpn_protocol().map(<[u8]>::to_vec);
    let peer = tls.conn.peer_certificates().unwrap()[0].clone();
    (version, alpn, peer, reply)
}

fn tls_addr(server: &TestServer) -> SocketAddr {
    server.tls.expect("TLS listener")
}

#[test]
fn https_with_tls13_and_tls12_and_alpn_http11() {
    let (server, der, _) = tls_server(false, Duration::from_secs(10));
    let addr = tls_addr(&server);
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (version, alpn, peer, reply) = https_get(addr, client(&der, versions), "/a.txt");
        assert_eq!(version, versions[0].version);
        assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(peer, der);
        assert_eq!(reply.status_line(), "HTTP/1.1 200 OK", "{reply:?}");
        assert_eq!(reply.body, b"alpha", "{reply:?}");
    }
    let mut plain = server.connect();
    assert_eq!(
        exchange(&mut plain, "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").status,
        200,
        "HTTP and HTTPS run together"
    );
}

#[test]
fn curl_fetches_over_https() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED curl_fetches_over_https: curl is not installed");
        return;
    }
    let (server, _, pem) = tls_server(false, Duration::from_secs(10));
    let addr = tls_addr(&server);
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10", "--cacert"])
        .arg(pem)
        .args(["--resolve", &format!("localhost:{}:127.0.0.1", addr.port())])
        .arg(format!("https://localhost:{}/a.txt", addr.port()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, b"alpha");
}

#[test]
fn failed_handshakes_are_dropped_and_change_nothing() {
    let (server, der, _) = tls_server(false, Duration::from_secs(10));
    let addr = tls_addr(&server);
    for garbage in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0x00][..],
    ] {
        let mut conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(WAIT)).unwrap();
        conn.write_all(garbage).unwrap();
        let mut rest = Vec::new();
        let _ = conn.read_to_end(&mut rest);
        assert!(
            !String::from_utf8_lossy(&rest).contains("HTTP/1.1"),
            "no HTTP answer to a broken handshake"
        );
    }
    let (_, _, _, reply) = https_get(addr, client(&der, &[&rustls::version::TLS13]), "/a.txt");
    assert_eq!(reply.status, 200);
    assert_eq!(
        server
            .snapshot()
            .find("web_server_tcp_acceptor_sup")
            .unwrap()
            .restarts_total,
        0
    );
}

#[test]
fn a_silent_client_is_dropped_at_the_handshake_timeout() {
    let (server, _, _) = tls_server(false, Duration::from_millis(200));
    let mut conn = TcpStream::connect(tls_addr(&server)).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let began = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
    assert!(began.elapsed() < WAIT, "closed by the handshake timeout");
    assert!(rest.is_empty());
}

#[test]
fn plain_http_can_redirect_to_https() {
    let (server, _, _) = tls_server(true, Duration::from_secs(10));
    let port = tls_addr(&server).port();
    let mut conn = server.connect();
    let reply = exchange(
        &mut conn,
        "GET /a.txt?x=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
    );
    assert_eq!(reply.status, 301);
    assert_eq!(
        reply.header("location"),
        Some(format!("https://localhost:{port}/a.txt?x=1").as_str())
    );
}

#[test]
fn certificates_reload_on_sighup_without_dropping_connections() {
    let root = docroot(&[("a.txt", b"alpha")]);
    let (cert, key, first) = certificate(&root, "cert");
    let mut command = server("test");
    command
        .args(["--bind", "127.0.0.1:0", "--docroot"])
        .arg(&root)
        .env("WEB_SERVER__TLS__BIND", "127.0.0.1:0")
        .env("WEB_SERVER__TLS__CERT", &cert)
        .env("WEB_SERVER__TLS__KEY", &key);
    let mut running = Running::start(command);
    let ready = running.wait_for("listening on");
    let https: SocketAddr = ready
        .split("https://")
        .nth(1)
        .unwrap()
        .split([',', ' '])
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // A keep-alive HTTPS connection opened before the reload.
    let tcp = TcpStream::connect(https).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let session = rustls::ClientConnection::new(
        client(&first, &[&rustls::version::TLS13]),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut kept = rustls::StreamOwned::new(session, tcp);
    let exchange_tls = |stream: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>| {
        stream
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        read_reply(stream, false)
    };
    let reply = exchange_tls(&mut kept);
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"alpha"[..]));

    let (_, _, second) = certificate(&root, "cert");
    running.signal("-HUP");
    running.wait_for("configuration reloaded");
    let (_, _, peer, reply) =
        https_get(https, client(&second, &[&rustls::version::TLS13]), "/a.txt");
    assert_eq!(peer, second, "new handshakes get the new certificate");
    assert_eq!(reply.status, 200);
    let reply = exchange_tls(&mut kept);
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (200, &b"alpha"[..]),
        "the old session kept going"
    );

    std::fs::write(&cert, b"not a certificate").unwrap();
    running.signal("-HUP");
    running.wait_for("configuration reload rejected");
    let (_, _, still, _) = https_get(https, client(&second, &[&rustls::version::TLS13]), "/a.txt");
    assert_eq!(still, second, "a bad certificate file changes nothing");
    running.signal("-TERM");
    assert_eq!(running.exit_code(), Some(0));
}
