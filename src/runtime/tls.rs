//! TLS for client connections (rustls with the aws-lc-rs provider): the server
//! configuration built from ZooKeeper's `ssl.*` keys, and the identity a
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
    path: &Path,
    password: Option<&str>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    const KEY: &str = "ssl.keyStore.location";
    let pem = read(KEY, path)?;
    if pem
        .windows(b"ENCRYPTED PRIVATE KEY".len())
        .any(|w| w == b"ENCRYPTED PRIVATE KEY")
    {
        return Err(err(format!(
            "{KEY}={}: the private key is encrypted{}; corral reads unencrypted PKCS#8 keys \
             (`openssl pkcs8 -in KEY -out PLAIN.pem`, and keep the file readable by the server only)",
            path.display(),
            if password.is_some() {
                " (ssl.keyStore.password is set)"
            } else {
                ""
            }
        )));
    }
    let certs = certs_in(KEY, path, &pem)?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(&pem[..]))
        .map_err(|e| err(format!("{KEY}={}: {e}", path.display())))?
        .ok_or_else(|| {
            err(format!(
                "{KEY}={}: no PRIVATE KEY in the file",
                path.display()
            ))
        })?;
    Ok((certs, key))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The rustls server configuration for `cfg`.
pub fn server_config(cfg: &ClientTls) -> Result<Arc<ServerConfig>, TlsError> {
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
                        "ssl.ciphersuites: `{name}` is not supported (supported: {})",
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
    let provider = Arc::new(provider);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| err(format!("ssl.enabledProtocols/ssl.ciphersuites: {e}")))?;
    let builder = match cfg.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Want | ClientAuth::Need => {
            const KEY: &str = "ssl.trustStore.location";
            let path = cfg
                .trust_store
                .as_deref()
                .ok_or_else(|| err(format!("{KEY} is needed unless ssl.clientAuth=none")))?;
            let pem = read(KEY, path)?;
            let mut roots = RootCertStore::empty();
            for c in certs_in(KEY, path, &pem)? {
                roots
                    .add(c)
                    .map_err(|e| err(format!("{KEY}={}: {e}", path.display())))?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if cfg.client_auth == ClientAuth::Want {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| err(format!("{KEY}={}: {e}", path.display())))?,
            )
        }
    };
    let path = cfg
        .key_store
        .as_deref()
        .ok_or_else(|| err("ssl.keyStore.location is needed for TLS"))?;
    let (chain, key) = key_store(path, cfg.key_store_password.as_deref())?;
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| err(format!("ssl.keyStore.location={}: {e}", path.display())))?;
    config.alpn_protocols.clear();
    Ok(Arc::new(config))
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

/// The server configuration new TLS connections get. With
/// `client.certReload=true` it is rebuilt when the key or trust store
/// changes on disk (looked at most once a second, when a connection
/// starts); connections already open keep theirs. A store that does not
/// load (half written, wrong key) keeps the previous configuration.
pub struct TlsSource {
    cfg: ClientTls,
    reload: bool,
    state: Mutex<SourceState>,
}

impl std::fmt::Debug for TlsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSource")
            .field("reload", &self.reload)
            .finish_non_exhaustive()
    }
}

struct SourceState {
    config: Arc<ServerConfig>,
    stamp: Stamp,
    checked: Instant,
}

impl TlsSource {
    pub fn new(cfg: &ClientTls) -> Result<TlsSource, TlsError> {
        let stamp = stamp(cfg);
        let config = server_config(cfg)?;
        Ok(TlsSource {
            cfg: cfg.clone(),
            reload: cfg.cert_reload,
            state: Mutex::new(SourceState {
                config,
                stamp,
                checked: Instant::now(),
            }),
        })
    }

    /// The configuration for a connection starting now.
    pub fn config(&self) -> Arc<ServerConfig> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.reload && st.checked.elapsed() >= RELOAD_CHECK {
            st.checked = Instant::now();
            let now = stamp(&self.cfg);
            if now != st.stamp {
                match server_config(&self.cfg) {
                    Ok(c) => {
                        tracing::info!("TLS key or trust store changed: reloaded");
                        st.config = c;
                        st.stamp = now;
                    }
                    Err(e) => tracing::warn!(
                        "TLS stores changed but do not load ({e}); keeping the previous ones"
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
