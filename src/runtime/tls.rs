//! TLS (rustls with the aws-lc-rs provider) for client connections and
//! between servers: the configurations built from ZooKeeper's `ssl.*` and
//! `ssl.quorum.*` keys, reloaded when their files change, and the identity a
//! verified client certificate gives a session (ZooKeeper's
//! X509AuthenticationProvider: scheme `x509`, the subject DN as RFC 2253/4514
//! prints it, e.g. `CN=client,O=Example`).

use crate::config::{ClientAuth, ClientTls};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use std::io::BufReader;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A configuration error, naming the key and file at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

fn err(msg: impl Into<String>) -> TlsError {
    TlsError(msg.into())
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| err(format!("{key}={}: {e}", path.display())))
}

fn certs_in(key: &str, path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(pem))
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("{key}={}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(err(format!(
            "{key}={}: no CERTIFICATE in the file",
            path.display()
        )));
    }
    Ok(certs)
}

/// The key store: a PKCS#8 (or PKCS#1/SEC1) private key and the server's
/// certificate chain, in one PEM file.
fn key_store(
    keys: &str,
    path: &Path,
    password: Option<&str>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let key_name = format!("{keys}.keyStore.location");
    let key = key_name.as_str();
    let pem = read(key, path)?;
    if pem
        .windows(b"ENCRYPTED PRIVATE KEY".len())
        .any(|w| w == b"ENCRYPTED PRIVATE KEY")
    {
        return Err(err(format!(
            "{key}={}: the private key is encrypted{}; corral reads unencrypted PKCS#8 keys \
             (`openssl pkcs8 -in KEY -out PLAIN.pem`, and keep the file readable by the server only)",
            path.display(),
            if password.is_some() {
                format!(" ({keys}.keyStore.password is set)")
            } else {
                String::new()
            }
        )));
    }
    let certs = certs_in(key, path, &pem)?;
    let private = rustls_pemfile::private_key(&mut BufReader::new(&pem[..]))
        .map_err(|e| err(format!("{key}={}: {e}", path.display())))?
        .ok_or_else(|| {
            err(format!(
                "{key}={}: no PRIVATE KEY in the file",
                path.display()
            ))
        })?;
    Ok((certs, private))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The rustls server configuration for `cfg`.
pub fn server_config(cfg: &ClientTls) -> Result<Arc<ServerConfig>, TlsError> {
    let (provider, versions) = provider_for(cfg)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| err(format!("{}.enabledProtocols/ciphersuites: {e}", cfg.keys)))?;
    let builder = match cfg.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Want | ClientAuth::Need => {
            let roots = trust_store(cfg)?;
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if cfg.client_auth == ClientAuth::Want {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| err(format!("{}.trustStore.location: {e}", cfg.keys)))?,
            )
        }
    };
    let (chain, key) = own_identity(cfg)?;
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| err(format!("{}.keyStore.location: {e}", cfg.keys)))?;
    config.alpn_protocols.clear();
    Ok(Arc::new(config))
}

/// The dialing side of TLS between servers (`ssl.quorum.*`): our
/// certificate for the peer to check, the trust store for theirs, and, with
/// `ssl.quorum.hostnameVerification` (the default), the peer's certificate
/// must name the host of its `server.N` line.
pub fn peer_client_config(cfg: &ClientTls) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let (provider, versions) = provider_for(cfg)?;
    let roots = Arc::new(trust_store(cfg)?);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| err(format!("{}.enabledProtocols/ciphersuites: {e}", cfg.keys)))?;
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|e| err(format!("{}.trustStore.location: {e}", cfg.keys)))?;
    let builder = if cfg.hostname_verification {
        builder.with_webpki_verifier(webpki)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(webpki)))
    };
    let (chain, key) = own_identity(cfg)?;
    builder
        .with_client_auth_cert(chain, key)
        .map(Arc::new)
        .map_err(|e| err(format!("{}.keyStore.location: {e}", cfg.keys)))
}

/// Checks a server's chain against the trust store but not the name it
/// was dialed by (`ssl.quorum.hostnameVerification=false`).
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn trust_store(cfg: &ClientTls) -> Result<RootCertStore, TlsError> {
    let key = format!("{}.trustStore.location", cfg.keys);
    let path = cfg.trust_store.as_deref().ok_or_else(|| {
        err(format!(
            "{key} is needed (the CAs that sign the other side's certificates)"
        ))
    })?;
    let pem = read(&key, path)?;
    let mut roots = RootCertStore::empty();
    for c in certs_in(&key, path, &pem)? {
        roots
            .add(c)
            .map_err(|e| err(format!("{key}={}: {e}", path.display())))?;
    }
    Ok(roots)
}

fn own_identity(
    cfg: &ClientTls,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let path = cfg
        .key_store
        .as_deref()
        .ok_or_else(|| err(format!("{}.keyStore.location is needed for TLS", cfg.keys)))?;
    key_store(cfg.keys, path, cfg.key_store_password.as_deref())
}

/// The crypto provider with `cfg`'s cipher suites, and its protocol versions.
fn provider_for(
    cfg: &ClientTls,
) -> Result<
    (
        Arc<rustls::crypto::CryptoProvider>,
        Vec<&'static SupportedProtocolVersion>,
    ),
    TlsError,
> {
    let mut provider = (*provider()).clone();
    if !cfg.ciphersuites.is_empty() {
        let mut chosen = Vec::new();
        for name in &cfg.ciphersuites {
            let found = provider
                .cipher_suites
                .iter()
                .find(|s| format!("{:?}", s.suite()) == *name)
                .ok_or_else(|| {
                    let known: Vec<String> = provider
                        .cipher_suites
                        .iter()
                        .map(|s| format!("{:?}", s.suite()))
                        .collect();
                    err(format!(
                        "{}.ciphersuites: `{name}` is not supported (supported: {})",
                        cfg.keys,
                        known.join(", ")
                    ))
                })?;
            chosen.push(*found);
        }
        provider.cipher_suites = chosen;
    }
    let versions: Vec<&'static SupportedProtocolVersion> = if cfg.protocols.is_empty() {
        rustls::DEFAULT_VERSIONS.to_vec()
    } else {
        cfg.protocols
            .iter()
            .map(|p| match p.as_str() {
                "TLSv1.2" => &rustls::version::TLS12,
                _ => &rustls::version::TLS13,
            })
            .collect()
    };
    Ok((Arc::new(provider), versions))
}

/// How often a reloading source looks at its files.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// What identifies a version of the store files: modification time and
/// length of each.
type Stamp = Vec<Option<(SystemTime, u64)>>;

fn stamp(cfg: &ClientTls) -> Stamp {
    [cfg.key_store.as_deref(), cfg.trust_store.as_deref()]
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(p?).ok()?;
            Some((m.modified().ok()?, m.len()))
        })
        .collect()
}

/// Builds a rustls configuration from the stores.
pub type Build<T> = fn(&ClientTls) -> Result<Arc<T>, TlsError>;

/// The configuration new TLS connections get: the client port's
/// ([`TlsSource`], `client.certReload`) or, between servers, the
/// acceptor's and the dialer's (`sslQuorumReloadCertFiles`). With reload
/// on it is rebuilt when the key or trust store changes on disk (looked at
/// most once a second, when a connection starts); connections already open
/// keep theirs. A store that does not load (half written, wrong key) keeps
/// the previous configuration.
pub struct Reloading<T> {
    cfg: ClientTls,
    reload: bool,
    build: Build<T>,
    state: Mutex<SourceState<T>>,
}

/// The client port's TLS configuration.
pub type TlsSource = Reloading<ServerConfig>;

impl<T> std::fmt::Debug for Reloading<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloading")
            .field("keys", &self.cfg.keys)
            .field("reload", &self.reload)
            .finish_non_exhaustive()
    }
}

struct SourceState<T> {
    config: Arc<T>,
    stamp: Stamp,
    checked: Instant,
}

impl<T> Reloading<T> {
    /// Loads the stores now (an error names the key at fault).
    pub fn new(cfg: &ClientTls, build: Build<T>) -> Result<Reloading<T>, TlsError> {
        let stamp = stamp(cfg);
        let config = build(cfg)?;
        Ok(Reloading {
            cfg: cfg.clone(),
            reload: cfg.cert_reload,
            build,
            state: Mutex::new(SourceState {
                config,
                stamp,
                checked: Instant::now(),
            }),
        })
    }

    /// The configuration for a connection starting now.
    pub fn config(&self) -> Arc<T> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.reload && st.checked.elapsed() >= RELOAD_CHECK {
            st.checked = Instant::now();
            let now = stamp(&self.cfg);
            if now != st.stamp {
                match (self.build)(&self.cfg) {
                    Ok(c) => {
                        tracing::info!("{}: key or trust store changed: reloaded", self.cfg.keys);
                        st.config = c;
                        st.stamp = now;
                    }
                    Err(e) => tracing::warn!(
                        "{}: stores changed but do not load ({e}); keeping the previous ones",
                        self.cfg.keys
                    ),
                }
            }
        }
        st.config.clone()
    }
}

/// The subject of a (verified) client certificate, as ZooKeeper's x509 ids
/// spell it; None if the certificate cannot be decoded.
pub fn subject_dn(cert: &CertificateDer<'_>) -> Option<String> {
    use x509_cert::der::Decode;
    let c = x509_cert::Certificate::from_der(cert.as_ref()).ok()?;
    Some(c.tbs_certificate.subject.to_string())
}

/// True if `first` can start a TLS connection (a handshake record), which
/// a ZooKeeper request frame (a length below 2^24) or four-letter word
/// never does: how a unified port tells the two apart.
pub fn starts_tls(first: u8) -> bool {
    first == 0x16
}
