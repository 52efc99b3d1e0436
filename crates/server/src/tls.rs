//! HTTPS: rustls 0.23 with the ring provider, TLS 1.2 and 1.3, ALPN `http/1.1`, and a
//! certificate that can be replaced under a running server (hot reload) without dropping a
//! connection.
//!
//! The configuration is always built with `ServerConfig::builder_with_provider(ring)`: when
//! both crypto providers end up compiled in (test dependencies can do that), rustls's plain
//! `ServerConfig::builder()` panics at run time for want of a default provider.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::ring;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// What a TLS listener needs (`tls.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Addresses of the HTTPS listener.
    pub bind: Vec<std::net::SocketAddr>,
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// A client that has not completed its handshake within this is dropped (slow or stuck
    /// handshakes must not hold connection slots).
    pub handshake_timeout: Duration,
    /// Answer plain-HTTP requests with a 301 to the HTTPS address instead of serving them.
    pub redirect_http: bool,
}

/// Reads a certificate chain and its key, with errors that name the file.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|err| format!("cannot read certificates from {}: {err}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|err| format!("bad certificate PEM in {}: {err}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate found in {}", cert.display()));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|err| format!("no usable private key in {}: {err}", key.display()))?;
    let signing = ring::sign::any_supported_type(&private)
        .map_err(|err| format!("unsupported private key in {}: {err}", key.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|err| {
        format!(
            "the key in {} does not match the certificate in {}: {err}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(certified)
}

/// Hands every handshake the current certificate; a reload swaps it for new handshakes while
/// established sessions keep theirs.
struct ReloadableCert {
    /// The certificate in force.
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReloadableCert")
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        )
    }
}

/// A TLS terminator shared by every TLS accept loop and connection.
pub struct Tls {
    /// Accepts handshakes with the server configuration below.
    acceptor: TlsAcceptor,
    /// The certificate slot the configuration resolves through.
    cert: Arc<ReloadableCert>,
    /// The listener's settings (timeouts, redirect, files for reloads).
    config: RwLock<TlsConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("config", &self.config).finish()
    }
}

impl Tls {
    /// Loads the certificate and builds the rustls configuration.
    pub fn new(config: TlsConfig) -> Result<Arc<Tls>, String> {
        let certified = load_certified_key(&config.cert, &config.key)?;
        let cert = Arc::new(ReloadableCert {
            current: RwLock::new(Arc::new(certified)),
        });
        let mut server =
            rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|err| format!("TLS protocol versions: {err}"))?
                .with_no_client_auth()
                .with_cert_resolver(cert.clone());
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            cert,
            config: RwLock::new(config),
        }))
    }

    /// The handshake acceptor.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// The handshake timeout in force.
    pub fn handshake_timeout(&self) -> Duration {
        self.config().handshake_timeout
    }

    /// The settings in force.
    pub fn config(&self) -> TlsConfig {
        self.config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Re-reads the certificate and key (configuration reload). On error nothing changes.
    pub fn reload(&self, new: &TlsConfig) -> Result<(), String> {
        let certified = load_certified_key(&new.cert, &new.key)?;
        *self
            .cert
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(certified);
        let mut config = self.config.write().unwrap_or_else(|p| p.into_inner());
        config.cert = new.cert.clone();
        config.key = new.key.clone();
        config.handshake_timeout = new.handshake_timeout;
        Ok(())
    }
}
