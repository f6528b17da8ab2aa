//! `ssl.*`, `ssl.quorum.*` and `quorum.auth.*`: TLS and quorum authentication settings.

use super::*;

/// `ssl.clientAuth`: whether a TLS client must present a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Want,
    /// ZooKeeper's default.
    Need,
}

/// TLS on the client port(s), with ZooKeeper's keys. Key and trust stores
/// are PEM files (ZooKeeper 3.8's `PEM` store type: private key (PKCS#8)
/// and certificate chain in one file; CA certificates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTls {
    /// `secureClientPort`: a port that speaks TLS only.
    pub secure_port: Option<u16>,
    /// `secureClientPortAddress` (default: `clientPortAddress`'s rule, 0.0.0.0).
    pub secure_address: Option<IpAddr>,
    /// `client.portUnification`: `clientPort` takes TLS and plaintext,
    /// told apart by the first byte.
    pub port_unification: bool,
    /// `ssl.keyStore.location`.
    pub key_store: Option<PathBuf>,
    /// `ssl.keyStore.password` (encrypted PEM keys are refused).
    pub key_store_password: Option<String>,
    /// `ssl.trustStore.location`.
    pub trust_store: Option<PathBuf>,
    /// `ssl.clientAuth`.
    pub client_auth: ClientAuth,
    /// `ssl.enabledProtocols` / `ssl.protocol`: `TLSv1.2`, `TLSv1.3`.
    pub protocols: Vec<String>,
    /// `ssl.ciphersuites` (IANA names, as Java spells them); empty = rustls' defaults.
    pub ciphersuites: Vec<String>,
    /// `zookeeper.X509AuthenticationProvider.superUser`: the subject DN
    /// that gets the super identity.
    pub x509_super_user: Option<String>,
    /// `client.certReload`: reload the stores when their files change.
    pub cert_reload: bool,
    /// The key prefix these settings came from (`ssl` or `ssl.quorum`),
    /// for messages.
    pub keys: &'static str,
    /// `ssl.quorum.hostnameVerification`: a server's certificate must name
    /// the host its `server.N` line gives (default true).
    pub hostname_verification: bool,
}

impl Default for ClientTls {
    fn default() -> Self {
        ClientTls {
            secure_port: None,
            secure_address: None,
            port_unification: false,
            key_store: None,
            key_store_password: None,
            trust_store: None,
            client_auth: ClientAuth::Need,
            protocols: Vec::new(),
            ciphersuites: Vec::new(),
            x509_super_user: None,
            cert_reload: false,
            keys: "ssl",
            hostname_verification: true,
        }
    }
}

impl ClientTls {
    /// True if some port takes TLS.
    pub fn enabled(&self) -> bool {
        self.secure_port.is_some() || self.port_unification
    }
}

/// ZooKeeper's quorum authentication keys (SASL DIGEST-MD5 in ZooKeeper;
/// corral runs its own challenge-response over the same JAAS passwords).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumAuth {
    /// `quorum.auth.enableSasl`.
    pub enabled: bool,
    /// `quorum.auth.learnerRequireSasl`: refuse a server that does not
    /// prove the password when we connect to it.
    pub learner_require: bool,
    /// `quorum.auth.serverRequireSasl`: refuse servers connecting to us
    /// without authenticating.
    pub server_require: bool,
    /// `quorum.auth.learner.saslLoginContext` (JAAS section with
    /// `username`/`password`).
    pub learner_context: String,
    /// `quorum.auth.server.saslLoginContext` (JAAS section with `user_NAME`).
    pub server_context: String,
}

impl Default for QuorumAuth {
    fn default() -> Self {
        QuorumAuth {
            enabled: false,
            learner_require: false,
            server_require: false,
            learner_context: "QuorumLearner".into(),
            server_context: "QuorumServer".into(),
        }
    }
}
