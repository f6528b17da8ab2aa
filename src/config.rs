//! zoo.cfg-compatible configuration.
//!
//! [`parse`] reads the text of a ZooKeeper 3.8 `zoo.cfg` (the `java.util.Properties`
//! syntax ZooKeeper uses), [`load`] reads a file, resolves relative directories against the
//! current directory (as ZooKeeper does), reads `dataDir/myid` when `server.N` lines are
//! present and validates the whole; [`Config::default`] is the embedded default used when
//! corral starts without a file.
//!
//! Policy: every key ZooKeeper 3.8 understands is accepted. Keys that corral implements are
//! applied; keys without an effect here are accepted, type-checked where cheap and listed in
//! [`Config::ignored`] (see [`IGNORED_KEYS`] / [`IGNORED_PREFIXES`]); keys whose setting would
//! silently change semantics we do not provide (`skipACL=yes`,
//! dynamic config files, hierarchical quorums, multi-address servers) are rejected
//! with a "not supported" error. Unlike ZooKeeper (which turns any unknown key into a
//! `zookeeper.<key>` system property) unknown keys are **rejected**, naming the line and the
//! closest known key.
//!
//! Differences from ZooKeeper, all deliberate:
//! * a missing `dataDir` defaults to `./data` (ZooKeeper refuses to start);
//! * a missing `clientPort` defaults to 2181 unless the own `server.N` line carries a client
//!   port;
//! * `forceSync` and `skipACL` only take `yes`/`no` (ZooKeeper reads any value other than
//!   `no`, e.g. `false`, as "yes" for forceSync);
//! * names in `4lw.commands.whitelist` must be known four-letter words.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Error from reading, parsing or validating a configuration. `Display` is meant to be shown
/// to a user as is, e.g. `conf/zoo.cfg: line 3: unknown key `tickTim` (did you mean `tickTime`?)`.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// An error inside the named file.
    #[error("{}: {inner}", path.display())]
    InFile {
        path: PathBuf,
        inner: Box<ConfigError>,
    },
    /// A line that is not `key=value` (or the Properties equivalents).
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    /// A key neither ZooKeeper 3.8 nor corral knows.
    #[error("line {line}: unknown key `{key}`{}", suggestion_text(.suggestion))]
    UnknownKey {
        line: usize,
        key: String,
        suggestion: Option<&'static str>,
    },
    /// A known key with a value that does not parse or is out of range.
    #[error("line {line}: invalid value `{value}` for `{key}`: {reason}")]
    InvalidValue {
        line: usize,
        key: String,
        value: String,
        reason: String,
    },
    /// A ZooKeeper key (or value) that corral does not implement and cannot safely ignore.
    #[error("line {line}: `{key}={value}` is not supported by corral: {reason}")]
    Unsupported {
        line: usize,
        key: String,
        value: String,
        reason: String,
    },
    /// A whole-configuration check failed (line of the most relevant key when known).
    #[error("{}{msg}", line_prefix(*.line))]
    Invalid { line: Option<usize>, msg: String },
    /// `dataDir/myid` is unreadable or malformed.
    #[error("{}: {reason}", path.display())]
    MyId { path: PathBuf, reason: String },
}

fn suggestion_text(s: &Option<&'static str>) -> String {
    match s {
        Some(k) => format!(" (did you mean `{k}`?)"),
        None => String::new(),
    }
}

fn line_prefix(line: Option<usize>) -> String {
    match line {
        Some(l) => format!("line {l}: "),
        None => String::new(),
    }
}

/// The four-letter words ZooKeeper 3.8 knows (the names `4lw.commands.whitelist` accepts).
pub const FOUR_LETTER_WORDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];

/// Which four-letter words may run (`4lw.commands.whitelist`).
///
/// ZooKeeper semantics: a comma-separated list (corral also accepts spaces), `*` enables every
/// command, `srvr` is always enabled, `isro` is added when `readonlymode.enabled=true`. The
/// file default (key absent) is `srvr` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FourLetterWhitelist {
    all: bool,
    cmds: Vec<&'static str>,
}

impl FourLetterWhitelist {
    /// Every command enabled (`*`).
    pub fn all() -> Self {
        FourLetterWhitelist {
            all: true,
            cmds: Vec::new(),
        }
    }

    /// ZooKeeper's default when the key is absent: `srvr` only.
    pub fn zookeeper_default() -> Self {
        FourLetterWhitelist {
            all: false,
            cmds: vec!["srvr"],
        }
    }

    /// Parses a whitelist value (`srvr, ruok`, `*`, `stat mntr`). `srvr` is always added. An
    /// unknown command name is an error naming it.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut wl = Self::zookeeper_default();
        for item in list.split(|c: char| c == ',' || c.is_whitespace()) {
            if item.is_empty() {
                continue;
            }
            if item == "*" {
                return Ok(Self::all());
            }
            match FOUR_LETTER_WORDS.iter().find(|w| **w == item) {
                Some(w) => wl.add(w),
                None => {
                    return Err(format!(
                        "unknown four-letter word `{item}` (known: {}, or * for all)",
                        FOUR_LETTER_WORDS.join(",")
                    ))
                }
            }
        }
        Ok(wl)
    }

    /// Enables one more command (no-op for unknown names).
    pub fn add(&mut self, cmd: &str) {
        if let Some(w) = FOUR_LETTER_WORDS.iter().find(|w| **w == cmd) {
            if !self.cmds.contains(w) {
                self.cmds.push(w);
            }
        }
    }

    /// Whether the command (e.g. `"ruok"`) may run.
    pub fn allows(&self, cmd: &str) -> bool {
        if self.all {
            return FOUR_LETTER_WORDS.contains(&cmd);
        }
        self.cmds.contains(&cmd)
    }

    /// Whether this is `*`.
    pub fn is_all(&self) -> bool {
        self.all
    }
}

impl fmt::Display for FourLetterWhitelist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.all {
            f.write_str("*")
        } else {
            f.write_str(&self.cmds.join(","))
        }
    }
}

/// `peerType` of this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerType {
    #[default]
    Participant,
    Observer,
}

/// One `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub id: u64,
    /// Host name or IP literal (IPv6 without the brackets).
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
    /// Client port after `;`, if given.
    pub client_port: Option<u16>,
    /// Client address before the client port, if given (ZooKeeper uses 0.0.0.0 when absent).
    pub client_addr: Option<String>,
}

impl ServerSpec {
    /// Parses the value of a `server.N` line (`id` is the N).
    pub fn parse(id: u64, value: &str) -> Result<ServerSpec, String> {
        let fmt_hint = "expected host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]";
        let mut halves = value.split(';');
        let server_part = halves.next().unwrap_or("").trim();
        let client_part = halves.next().map(str::trim);
        if halves.next().is_some() {
            return Err(format!("more than one `;` ({fmt_hint})"));
        }
        if server_part.contains('|') {
            return Err("multiple addresses separated by `|` are not supported by corral".into());
        }
        let parts = split_host_port(server_part).map_err(|e| format!("{e} ({fmt_hint})"))?;
        if parts.len() < 3 || parts.len() > 4 {
            return Err(format!("wrong number of `:` fields ({fmt_hint})"));
        }
        let host = parts[0].clone();
        if host.is_empty() {
            return Err(format!("empty host ({fmt_hint})"));
        }
        let quorum_port = parse_port(&parts[1]).map_err(|e| format!("quorum port: {e}"))?;
        let election_port = parse_port(&parts[2]).map_err(|e| format!("election port: {e}"))?;
        let observer = match parts.get(3).map(|s| s.to_ascii_lowercase()) {
            None => false,
            Some(t) if t == "participant" => false,
            Some(t) if t == "observer" => true,
            Some(_) => {
                return Err(format!(
                    "unrecognised peer type `{}` (participant or observer)",
                    parts[3]
                ))
            }
        };
        let (client_addr, client_port) = match client_part {
            None => (None, None),
            Some(c) => {
                let cp = split_host_port(c).map_err(|e| format!("client address: {e}"))?;
                match cp.len() {
                    1 => (
                        None,
                        Some(parse_port(&cp[0]).map_err(|e| format!("client port: {e}"))?),
                    ),
                    2 if !cp[0].is_empty() => (
                        Some(cp[0].clone()),
                        Some(parse_port(&cp[1]).map_err(|e| format!("client port: {e}"))?),
                    ),
                    _ => return Err(format!("bad client address `{c}` ({fmt_hint})")),
                }
            }
        };
        Ok(ServerSpec {
            id,
            host,
            quorum_port,
            election_port,
            observer,
            client_port,
            client_addr,
        })
    }
}

/// Splits `host:p1:p2...` where host may be `[ipv6]` (ZooKeeper's ConfigUtils.getHostAndPort).
fn split_host_port(s: &str) -> Result<Vec<String>, String> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("`{s}`: missing `]` after an IPv6 address"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let mut out = vec![host.to_string()];
        if after.is_empty() {
            return Ok(out);
        }
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| format!("`{s}`: expected `:` after `]`"))?;
        out.extend(after.split(':').map(|p| p.trim().to_string()));
        Ok(out)
    } else {
        Ok(s.split(':').map(|p| p.trim().to_string()).collect())
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Ok(p) => Err(format!("{p} is out of range 1..65535")),
        Err(_) => Err(format!("`{s}` is not a port number")),
    }
}

/// The AdminServer's settings (`admin.enableServer`, `admin.serverAddress`,
/// `admin.serverPort`, `admin.commandURL`). A zoo.cfg gets ZooKeeper's
/// defaults (on, port 8080, `/commands`) except the address: loopback
/// unless `admin.serverAddress` says otherwise (ZooKeeper's is 0.0.0.0),
/// because the AdminServer asks for no authentication. corral's embedded
/// default (no configuration file) keeps it off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    pub enabled: bool,
    /// An IP address or a host name.
    pub address: String,
    /// 0 picks a free port.
    pub port: u16,
    pub command_url: String,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            enabled: false,
            address: "127.0.0.1".into(),
            port: 8080,
            command_url: "/commands".into(),
        }
    }
}

impl AdminSettings {
    /// Where to listen, when enabled (a host name is resolved here).
    pub fn listen(&self) -> Option<Result<SocketAddr, String>> {
        use std::net::ToSocketAddrs;
        if !self.enabled {
            return None;
        }
        let host = self.address.trim_matches(|c| c == '[' || c == ']');
        Some(
            (host, self.port)
                .to_socket_addrs()
                .map_err(|e| e.to_string())
                .and_then(|mut a| a.next().ok_or_else(|| "no address".to_string()))
                .map_err(|e| format!("admin.serverAddress={}: {e}", self.address)),
        )
    }
}

/// A key that was accepted but has no effect in corral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredKey {
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// Server configuration (zoo.cfg keys in parentheses).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `tickTime` (ms, > 0).
    pub tick_time_ms: u32,
    /// `initLimit` (ticks, > 0).
    pub init_limit: u32,
    /// `syncLimit` (ticks, > 0).
    pub sync_limit: u32,
    /// `dataDir`.
    pub data_dir: PathBuf,
    /// `dataLogDir` (None: same as data_dir).
    pub data_log_dir: Option<PathBuf>,
    /// `clientPort` (1..65535), or the own `server.N` line's client port.
    pub client_port: u16,
    /// `clientPortAddress`; a file without it binds 0.0.0.0 like ZooKeeper.
    pub client_port_address: IpAddr,
    /// `maxClientCnxns` per client IP; 0 = unlimited.
    pub max_client_cnxns: u32,
    /// `minSessionTimeout` (ms); see [`Config::min_session_timeout`].
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout` (ms); see [`Config::max_session_timeout`].
    pub max_session_timeout_ms: Option<u32>,
    /// `4lw.commands.whitelist` (+ `isro` when `readonlymode.enabled=true`, + `srvr` always).
    pub four_lw_whitelist: FourLetterWhitelist,
    /// `readonlymode.enabled`.
    pub read_only_mode_enabled: bool,
    /// `extendedTypesEnabled` / `zookeeper.extendedTypesEnabled` (TTL nodes).
    pub extended_types_enabled: bool,
    /// `DigestAuthenticationProvider.superDigest` (`user:base64(sha1(user:password))`).
    pub super_digest: Option<String>,
    /// `jute.maxbuffer` (bytes, > 0).
    pub jute_max_buffer: u32,
    /// `nio.sessionlessCnxnTimeout` / `zookeeper.nio.sessionlessCnxnTimeout` (ms, > 0).
    pub sessionless_timeout_ms: u32,
    /// `globalOutstandingLimit` (> 0).
    pub global_outstanding_limit: u32,
    /// `forceSync` (`yes`/`no`).
    pub force_sync: bool,
    /// `snapCount` (values below 2 become 2, as in ZooKeeper).
    pub snap_count: u32,
    /// `autopurge.snapRetainCount` (values below 3 become 3, as in ZooKeeper).
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval` in hours; 0 (or negative in the file) = disabled.
    pub autopurge_purge_interval_h: u32,
    /// `preAllocSize` (KiB, > 0).
    pub pre_alloc_size_kb: u64,
    /// `server.N` lines, sorted by id.
    pub servers: Vec<ServerSpec>,
    /// Content of `dataDir/myid` (see [`Config::load_myid`]) or set with [`Config::set_my_id`].
    pub my_id: Option<u64>,
    /// `peerType`.
    pub peer_type: PeerType,
    /// `maxCnxns`: client connections the server accepts in all (0 = no limit).
    pub max_cnxns: u32,
    /// `corral.metricsAddr` (corral-only: `ip:port` of the metrics endpoint).
    pub metrics_addr: Option<SocketAddr>,
    /// `admin.*`: the AdminServer.
    pub admin: AdminSettings,
    /// The configuration file's text, as read (the AdminServer's
    /// `initial_configuration`).
    pub source_text: Option<String>,
    /// `corral.shards` (corral-only: number of shards/cores, >= 1).
    pub shards: Option<usize>,
    /// `quorum.auth.*`: authentication between servers.
    pub quorum_auth: QuorumAuth,
    /// `secureClientPort`, `client.portUnification` and `ssl.*`: TLS for clients.
    pub client_tls: ClientTls,
    /// `sslQuorum`: TLS between servers, with the `ssl.quorum.*` stores.
    pub ssl_quorum: bool,
    pub quorum_tls: ClientTls,
    /// `zookeeper.superUser`: the SASL user that gets the super identity.
    pub sasl_super_user: Option<String>,
    /// `enforce.auth.enabled` + `enforce.auth.schemes` (or
    /// `sessionRequireClientSASLAuth=true`: `sasl`): the schemes one of
    /// which a connection must hold before any request but auth/sasl.
    pub enforce_auth_schemes: Vec<String>,
    enforce_auth_enabled: bool,
    /// `corral.jaasConfig` (corral-only: the JAAS file ZooKeeper reads from
    /// `-Djava.security.auth.login.config`; `--jaas` overrides it).
    pub jaas_config: Option<PathBuf>,
    /// `jute.maxbuffer.extrasize` (bytes a peer frame may carry beyond
    /// `jute.maxbuffer`; ZooKeeper's default is `jute.maxbuffer`).
    pub jute_max_buffer_extra: Option<u32>,
    /// `corral.maxWatchesPerConnection` (corral-only: watches one connection
    /// may hold, a path watched for data and children counting twice; 0 = no
    /// limit).
    pub max_watches_per_connection: u32,
    /// `corral.maxWatchBytesPerConnection` (corral-only: bytes of watched
    /// paths one connection may hold; 0 = no limit).
    pub max_watch_bytes_per_connection: u32,
    /// Keys accepted without effect, in file order (log them at startup).
    pub ignored: Vec<IgnoredKey>,
    /// Line of every key taken from the file (canonical key name -> line), for messages and
    /// for telling "set in the file" from "defaulted". Empty for [`Config::default`].
    pub key_lines: BTreeMap<String, usize>,
}

/// The embedded default used when corral runs without a config file: 127.0.0.1:2181,
/// `./data`, tickTime 2000, ZooKeeper's other defaults. Deliberate dev-friendly choice: the
/// 4lw whitelist is `srvr,ruok,mntr,isro,conf,envi` (ZooKeeper's default is `srvr` only, which
/// is what a zoo.cfg without `4lw.commands.whitelist` gets). `stat`, `cons` and `wchs` stay off:
/// they list other clients' addresses and sessions.
impl Default for Config {
    fn default() -> Self {
        let mut wl = FourLetterWhitelist::zookeeper_default();
        for c in ["ruok", "mntr", "isro", "conf", "envi"] {
            wl.add(c);
        }
        Config {
            tick_time_ms: 2000,
            init_limit: 10,
            sync_limit: 5,
            data_dir: PathBuf::from("./data"),
            data_log_dir: None,
            client_port: 2181,
            client_port_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            max_client_cnxns: 60,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            four_lw_whitelist: wl,
            read_only_mode_enabled: false,
            extended_types_enabled: false,
            super_digest: None,
            jute_max_buffer: 0xfffff,
            sessionless_timeout_ms: 10_000,
            global_outstanding_limit: 1000,
            force_sync: true,
            snap_count: 100_000,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_h: 0,
            pre_alloc_size_kb: 65536,
            servers: Vec::new(),
            my_id: None,
            peer_type: PeerType::Participant,
            max_cnxns: 0,
            metrics_addr: None,
            admin: AdminSettings::default(),
            source_text: None,
            shards: None,
            quorum_auth: QuorumAuth::default(),
            client_tls: ClientTls::default(),
            ssl_quorum: false,
            quorum_tls: ClientTls {
                keys: "ssl.quorum",
                ..ClientTls::default()
            },
            sasl_super_user: None,
            enforce_auth_schemes: Vec::new(),
            enforce_auth_enabled: false,
            jaas_config: None,
            jute_max_buffer_extra: None,
            max_watches_per_connection: 100_000,
            max_watch_bytes_per_connection: 64 << 20,
            ignored: Vec::new(),
            key_lines: BTreeMap::new(),
        }
    }
}

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

/// Keys ZooKeeper 3.8 accepts that corral accepts and ignores (listed in [`Config::ignored`]).
/// Boolean ones are still checked for `true`/`false`.
pub const IGNORED_KEYS: &[&str] = &[
    "standaloneEnabled",
    "reconfigEnabled",
    "electionAlg",
    "quorumListenOnAllIPs",
    "syncEnabled",
    "clientPortListenBacklog",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "connectToLearnerMasterLimit",
    "observerMasterPort",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckTimeoutMs",
    "multiAddress.reachabilityCheckEnabled",
    "oraclePath",
    "serverCnxnFactory",
    "snapshot.trust.empty",
    "digest.enabled",
    "audit.enable",
    "fsync.warningthresholdms",
    "leaderServes",
    "cnxTimeout",
    "electionPortBindRetry",
    "tcpKeepAlive",
    "commitLogCount",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "requireClientAuthScheme",
    "enforceQuota",
    "netty.server.outstandingHandshake.limit",
    "quorum.cnxn.threads.size",
    "initialConfig",
    "minRequestThrottle",
];

/// Key prefixes ZooKeeper accepts that corral ignores (`metricsProvider.className`,
/// `admin.enableServer`, `admin.serverPort`, `authProvider.1`, `ssl.keyStore.location`, ...).
pub const IGNORED_PREFIXES: &[&str] = &["metricsProvider.", "admin.", "authProvider.", "ssl."];

/// Keys ZooKeeper reads as `zookeeper.<key>` system properties: accepted with or without the
/// `zookeeper.` prefix.
const SYSPROP_KEYS: &[&str] = &[
    "extendedTypesEnabled",
    "DigestAuthenticationProvider.superDigest",
    "nio.sessionlessCnxnTimeout",
    "4lw.commands.whitelist",
    "snapCount",
    "preAllocSize",
    "globalOutstandingLimit",
    "forceSync",
    "skipACL",
    "jute.maxbuffer",
    "maxCnxns",
    "snapshot.trust.empty",
    "digest.enabled",
    "audit.enable",
    "fsync.warningthresholdms",
    "leaderServes",
    "cnxTimeout",
    "electionPortBindRetry",
    "tcpKeepAlive",
    "commitLogCount",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "requireClientAuthScheme",
    "enforceQuota",
    "serverCnxnFactory",
    "readonlymode.enabled",
    "client.portUnification",
    "X509AuthenticationProvider.superUser",
    "superUser",
    "client.certReload",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
    "enforce.auth.scheme",
    "sessionRequireClientSASLAuth",
];

/// Keys corral applies (canonical names).
const EFFECTIVE_KEYS: &[&str] = &[
    "tickTime",
    "initLimit",
    "syncLimit",
    "dataDir",
    "dataLogDir",
    "clientPort",
    "clientPortAddress",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "4lw.commands.whitelist",
    "readonlymode.enabled",
    "extendedTypesEnabled",
    "DigestAuthenticationProvider.superDigest",
    "jute.maxbuffer",
    "nio.sessionlessCnxnTimeout",
    "globalOutstandingLimit",
    "forceSync",
    "snapCount",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "preAllocSize",
    "peerType",
    "corral.metricsAddr",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
    "admin.forceHttps",
    "admin.portUnification",
    "corral.shards",
    "corral.jaasConfig",
    "corral.maxWatchesPerConnection",
    "corral.maxWatchBytesPerConnection",
    "jute.maxbuffer.extrasize",
    "quorum.auth.enableSasl",
    "quorum.auth.learnerRequireSasl",
    "quorum.auth.serverRequireSasl",
    "quorum.auth.learner.saslLoginContext",
    "quorum.auth.server.saslLoginContext",
    "secureClientPort",
    "secureClientPortAddress",
    "client.portUnification",
    "ssl.keyStore.location",
    "ssl.keyStore.password",
    "ssl.keyStore.type",
    "ssl.trustStore.location",
    "ssl.trustStore.password",
    "ssl.trustStore.type",
    "ssl.clientAuth",
    "ssl.protocol",
    "ssl.enabledProtocols",
    "ssl.ciphersuites",
    "ssl.crl",
    "ssl.ocsp",
    "ssl.quorum.keyStore.location",
    "ssl.quorum.keyStore.password",
    "ssl.quorum.keyStore.type",
    "ssl.quorum.trustStore.location",
    "ssl.quorum.trustStore.password",
    "ssl.quorum.trustStore.type",
    "ssl.quorum.hostnameVerification",
    "ssl.quorum.protocol",
    "ssl.quorum.enabledProtocols",
    "ssl.quorum.ciphersuites",
    "X509AuthenticationProvider.superUser",
    "superUser",
    "client.certReload",
    "sslQuorumReloadCertFiles",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
    "enforce.auth.scheme",
    "sessionRequireClientSASLAuth",
    // rejected unless harmless, but known:
    "skipACL",
    "sslQuorum",
    "portUnification",
    "dynamicConfigFile",
];

/// Keys that are ZooKeeper-known but rejected when set to anything meaningful.
fn unsupported_reason(key: &str, value: &str) -> Option<&'static str> {
    let v = value.to_ascii_lowercase();
    match key {
        "portUnification" if v != "false" => {
            Some("a quorum port that takes TLS and plaintext is not implemented; only `false` is accepted")
        }
        "ssl.crl" | "ssl.ocsp" if v != "false" => {
            Some("certificate revocation checks are not implemented; only `false` is accepted")
        }
        "skipACL" if v == "yes" => Some("ACL checks cannot be disabled"),
        "dynamicConfigFile" => {
            Some("dynamic reconfiguration files are not implemented; put server.N lines in zoo.cfg")
        }
        "quorum.auth.kerberos.servicePrincipal" => Some(
            "Kerberos between servers is not implemented; corral authenticates servers with the \
             DigestLoginModule passwords of the JAAS QuorumServer/QuorumLearner sections",
        ),
        _ if key.starts_with("group.") || key.starts_with("weight.") => {
            Some("hierarchical quorums are not implemented")
        }
        _ => None,
    }
}

/// `ssl.*` and `ssl.quorum.*` store keys (the part after the prefix) into `t`.
fn store_key(t: &mut ClientTls, rest: &str, cx: &Ctx<'_>, e: &Entry) -> Result<(), ConfigError> {
    match rest {
        "keyStore.location" => t.key_store = Some(cx.path()?),
        "keyStore.password" => {
            t.key_store_password = Some(e.value.clone()).filter(|v| !v.is_empty())
        }
        "trustStore.location" => t.trust_store = Some(cx.path()?),
        "trustStore.password" => {}
        "keyStore.type" | "trustStore.type" => match e.value.to_ascii_uppercase().as_str() {
            "PEM" | "" => {}
            "JKS" | "PKCS12" | "BCFKS" => {
                return Err(cx.invalid(
                    "corral reads PEM stores only; convert with `keytool -importkeystore \
                     -srckeystore STORE -destkeystore store.p12 -deststoretype PKCS12` and \
                     `openssl pkcs12 -in store.p12 -nodes -out store.pem`, then set PEM",
                ))
            }
            _ => return Err(cx.invalid("expected PEM")),
        },
        "clientAuth" => {
            t.client_auth = match e.value.to_ascii_lowercase().as_str() {
                "none" => ClientAuth::None,
                "want" => ClientAuth::Want,
                "need" => ClientAuth::Need,
                _ => return Err(cx.invalid("expected `none`, `want` or `need`")),
            }
        }
        "protocol" | "enabledProtocols" => {
            let list: Vec<String> = comma_list(&e.value);
            for p in &list {
                if !matches!(p.as_str(), "TLSv1.2" | "TLSv1.3" | "TLS") {
                    return Err(
                        cx.invalid(format!("`{p}`: corral speaks TLSv1.2 and TLSv1.3 only"))
                    );
                }
            }
            // enabledProtocols wins over protocol, as in ZooKeeper.
            if rest == "enabledProtocols" || t.protocols.is_empty() {
                t.protocols = list.into_iter().filter(|p| p != "TLS").collect();
            }
        }
        "ciphersuites" => t.ciphersuites = comma_list(&e.value),
        "hostnameVerification" => t.hostname_verification = cx.boolean()?,
        _ => unreachable!("store_key called for {rest}"),
    }
    Ok(())
}

/// The non-empty items of a comma-separated value, trimmed.
fn comma_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The store keys [`store_key`] takes after `ssl.` / `ssl.quorum.`.
const STORE_KEYS: &[&str] = &[
    "keyStore.location",
    "keyStore.password",
    "keyStore.type",
    "trustStore.location",
    "trustStore.password",
    "trustStore.type",
    "clientAuth",
    "protocol",
    "enabledProtocols",
    "ciphersuites",
    "hostnameVerification",
];

/// A raw logical line of the Properties file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    line: usize,
    key: String,
    value: String,
}

/// Splits Properties text into logical `key`/`value` entries (java.util.Properties.load):
/// `#`/`!` comment lines, `=`, `:` or whitespace separators, backslash line continuation,
/// `\t \n \r \f \uXXXX` escapes. Keys and values are trimmed (ZooKeeper trims both).
fn properties_entries(text: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut out = Vec::new();
    let natural: Vec<&str> = split_natural_lines(text);
    let mut i = 0;
    while i < natural.len() {
        let start_line = i + 1;
        let first = natural[i].trim_start_matches([' ', '\t', '\x0c']);
        i += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut cur = first.to_string();
        loop {
            let trailing = cur.chars().rev().take_while(|c| *c == '\\').count();
            if trailing % 2 == 1 {
                cur.pop();
                logical.push_str(&cur);
                if i < natural.len() {
                    cur = natural[i]
                        .trim_start_matches([' ', '\t', '\x0c'])
                        .to_string();
                    i += 1;
                    continue;
                }
                break;
            }
            logical.push_str(&cur);
            break;
        }
        let (k, v) = split_key_value(&logical);
        let key = unescape(k).map_err(|reason| ConfigError::Syntax {
            line: start_line,
            reason,
        })?;
        let value = unescape(v).map_err(|reason| ConfigError::Syntax {
            line: start_line,
            reason,
        })?;
        out.push(Entry {
            line: start_line,
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        });
    }
    Ok(out)
}

fn split_natural_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let b = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' || b[i] == b'\r' {
            lines.push(&text[start..i]);
            if b[i] == b'\r' && i + 1 < b.len() && b[i + 1] == b'\n' {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    if start < b.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Returns the raw (still escaped) key and value parts of a logical line.
fn split_key_value(line: &str) -> (&str, &str) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_sep = false;
    let mut backslash = false;
    for (idx, &(pos, c)) in chars.iter().enumerate() {
        if backslash {
            backslash = false;
            continue;
        }
        if c == '\\' {
            backslash = true;
            continue;
        }
        if c == '=' || c == ':' {
            key_end = pos;
            value_start = chars.get(idx + 1).map_or(line.len(), |x| x.0);
            has_sep = true;
            break;
        }
        if c == ' ' || c == '\t' || c == '\x0c' {
            key_end = pos;
            value_start = chars.get(idx + 1).map_or(line.len(), |x| x.0);
            break;
        }
    }
    let rest = &line[value_start..];
    let mut vs = 0;
    for (pos, c) in rest.char_indices() {
        if c == ' ' || c == '\t' || c == '\x0c' {
            vs = pos + c.len_utf8();
            continue;
        }
        if !has_sep && (c == '=' || c == ':') {
            has_sep = true;
            vs = pos + 1;
            continue;
        }
        vs = pos;
        break;
    }
    if rest.chars().all(|c| c == ' ' || c == '\t' || c == '\x0c') {
        vs = rest.len();
    }
    (&line[..key_end], &rest[vs..])
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                let cp = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .ok_or_else(|| format!("malformed \\uXXXX escape `\\u{hex}`"))?;
                out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
            }
            Some(o) => out.push(o),
        }
    }
    Ok(out)
}

/// Every name [`parse`] knows (for suggestions).
fn all_known_keys() -> impl Iterator<Item = &'static str> {
    EFFECTIVE_KEYS
        .iter()
        .chain(IGNORED_KEYS.iter())
        .copied()
        .chain(["server.1", "admin.idleTimeout", "metricsProvider.className"])
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggest(key: &str) -> Option<&'static str> {
    let key = key.strip_prefix("zookeeper.").unwrap_or(key);
    let (best, dist) = all_known_keys()
        .map(|k| (k, levenshtein(key, k)))
        .min_by_key(|x| x.1)?;
    let limit = (key.chars().count() / 3).clamp(1, 4);
    (dist <= limit).then_some(best)
}

/// Canonical form of a key: strips `zookeeper.` from system-property keys.
fn canonical_key(key: &str) -> &str {
    if let Some(rest) = key.strip_prefix("zookeeper.") {
        if SYSPROP_KEYS.contains(&rest) {
            return rest;
        }
    }
    key
}

struct Ctx<'a> {
    line: usize,
    key: &'a str,
    value: &'a str,
}

impl Ctx<'_> {
    fn invalid(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            line: self.line,
            key: self.key.to_string(),
            value: self.value.to_string(),
            reason: reason.into(),
        }
    }

    fn int(&self) -> Result<i64, ConfigError> {
        self.value.parse::<i64>().map_err(|_| {
            if self.value.contains('#') {
                self.invalid("not an integer (comments must be on their own line)")
            } else {
                self.invalid("not an integer")
            }
        })
    }

    fn u32_range(&self, min: u32) -> Result<u32, ConfigError> {
        let v = self.int()?;
        if v < i64::from(min) || v > i64::from(u32::MAX) {
            return Err(self.invalid(format!("must be between {min} and {}", u32::MAX)));
        }
        Ok(v as u32)
    }

    fn positive(&self) -> Result<u32, ConfigError> {
        self.u32_range(1)
    }

    fn boolean(&self) -> Result<bool, ConfigError> {
        match self.value.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.invalid("expected `true` or `false`")),
        }
    }

    fn yes_no(&self) -> Result<bool, ConfigError> {
        match self.value.to_ascii_lowercase().as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(self.invalid("expected `yes` or `no`")),
        }
    }

    fn path(&self) -> Result<PathBuf, ConfigError> {
        if self.value.is_empty() {
            return Err(self.invalid("empty path"));
        }
        Ok(PathBuf::from(self.value))
    }
}

/// Parses zoo.cfg text. Duplicate keys: the last one wins (like Properties). Checks every
/// value and the cross-key rules that do not need `myid` (see [`Config::validate`]).
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let entries = properties_entries(text)?;
    // last wins, but keep file order of the winners
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        last.insert(canonical_key(&e.key), i);
    }
    let mut cfg = Config {
        client_port_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        four_lw_whitelist: FourLetterWhitelist::zookeeper_default(),
        admin: AdminSettings {
            enabled: true,
            ..AdminSettings::default()
        },
        ..Config::default()
    };
    let mut servers: BTreeMap<u64, ServerSpec> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let key = canonical_key(&e.key);
        if last.get(key) != Some(&i) {
            continue;
        }
        let cx = Ctx {
            line: e.line,
            key: &e.key,
            value: &e.value,
        };
        if key.is_empty() {
            return Err(ConfigError::Syntax {
                line: e.line,
                reason: format!("missing key before `{}`", e.value),
            });
        }
        if let Some(reason) = unsupported_reason(key, &e.value) {
            return Err(ConfigError::Unsupported {
                line: e.line,
                key: e.key.clone(),
                value: e.value.clone(),
                reason: reason.into(),
            });
        }
        cfg.key_lines.insert(key.to_string(), e.line);
        if let Some(rest) = key.strip_prefix("ssl.quorum.") {
            if STORE_KEYS.contains(&rest) && rest != "clientAuth" {
                store_key(&mut cfg.quorum_tls, rest, &cx, e)?;
                continue;
            }
        } else if let Some(rest) = key.strip_prefix("ssl.") {
            if STORE_KEYS.contains(&rest) {
                store_key(&mut cfg.client_tls, rest, &cx, e)?;
                continue;
            }
        }
        match key {
            "tickTime" => cfg.tick_time_ms = cx.positive()?,
            "initLimit" => cfg.init_limit = cx.positive()?,
            "syncLimit" => cfg.sync_limit = cx.positive()?,
            "dataDir" => cfg.data_dir = cx.path()?,
            "dataLogDir" => cfg.data_log_dir = Some(cx.path()?),
            "clientPort" => cfg.client_port = parse_port(&e.value).map_err(|r| cx.invalid(r))?,
            "clientPortAddress" => {
                cfg.client_port_address = if e.value.eq_ignore_ascii_case("localhost") {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                } else {
                    e.value
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse()
                        .map_err(|_| cx.invalid("expected an IP address (or localhost)"))?
                }
            }
            "maxClientCnxns" => cfg.max_client_cnxns = cx.u32_range(0)?,
            "maxCnxns" => cfg.max_cnxns = cx.u32_range(0)?,
            "minSessionTimeout" | "maxSessionTimeout" => {
                let v = cx.int()?;
                let v = match v {
                    -1 => None, // ZooKeeper's "unset"
                    1..=0x7fff_ffff => Some(v as u32),
                    _ => return Err(cx.invalid("must be a positive number of milliseconds")),
                };
                if key == "minSessionTimeout" {
                    cfg.min_session_timeout_ms = v;
                } else {
                    cfg.max_session_timeout_ms = v;
                }
            }
            "4lw.commands.whitelist" => {
                cfg.four_lw_whitelist =
                    FourLetterWhitelist::parse(&e.value).map_err(|r| cx.invalid(r))?
            }
            "readonlymode.enabled" => cfg.read_only_mode_enabled = cx.boolean()?,
            "extendedTypesEnabled" => cfg.extended_types_enabled = cx.boolean()?,
            "DigestAuthenticationProvider.superDigest" => {
                validate_super_digest(&e.value).map_err(|r| cx.invalid(r))?;
                cfg.super_digest = Some(e.value.clone());
            }
            "jute.maxbuffer" => cfg.jute_max_buffer = cx.positive()?,
            "nio.sessionlessCnxnTimeout" => cfg.sessionless_timeout_ms = cx.positive()?,
            "globalOutstandingLimit" => cfg.global_outstanding_limit = cx.positive()?,
            "forceSync" => cfg.force_sync = cx.yes_no()?,
            "skipACL" => {
                cx.yes_no()?;
                cfg.ignore(e);
            }
            "sslQuorum" => cfg.ssl_quorum = cx.boolean()?,
            "portUnification" => {
                cx.boolean()?;
                cfg.ignore(e);
            }
            "secureClientPort" => {
                cfg.client_tls.secure_port = Some(parse_port(&e.value).map_err(|r| cx.invalid(r))?)
            }
            "secureClientPortAddress" => {
                cfg.client_tls.secure_address = Some(
                    e.value
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse()
                        .map_err(|_| cx.invalid("expected an IP address"))?,
                )
            }
            "client.portUnification" => cfg.client_tls.port_unification = cx.boolean()?,
            "client.certReload" => cfg.client_tls.cert_reload = cx.boolean()?,
            "sslQuorumReloadCertFiles" => cfg.quorum_tls.cert_reload = cx.boolean()?,
            "ssl.crl" | "ssl.ocsp" => {
                cx.boolean()?;
            }
            "X509AuthenticationProvider.superUser" => {
                cfg.client_tls.x509_super_user = Some(e.value.clone())
            }
            "superUser" => cfg.sasl_super_user = Some(e.value.clone()),
            "enforce.auth.enabled" => cfg.enforce_auth_enabled = cx.boolean()?,
            "sessionRequireClientSASLAuth" => {
                if cx.boolean()? {
                    cfg.enforce_auth_enabled = true;
                    cfg.enforce_auth_schemes = vec!["sasl".into()];
                }
            }
            "enforce.auth.schemes" | "enforce.auth.scheme" => {
                let list: Vec<String> = comma_list(&e.value);
                if let Some(bad) = list
                    .iter()
                    .find(|s| !matches!(s.as_str(), "digest" | "ip" | "sasl" | "x509"))
                {
                    return Err(cx.invalid(format!(
                        "authentication scheme `{bad}` is not available (digest, ip, sasl, x509)"
                    )));
                }
                cfg.enforce_auth_schemes = list;
            }
            "snapCount" => cfg.snap_count = cx.u32_range(0)?.max(2),
            "autopurge.snapRetainCount" => {
                cfg.autopurge_snap_retain_count = cx.u32_range(0)?.max(3)
            }
            "autopurge.purgeInterval" => {
                cfg.autopurge_purge_interval_h = cx.int()?.clamp(0, i64::from(u32::MAX)) as u32
            }
            "preAllocSize" => cfg.pre_alloc_size_kb = u64::from(cx.positive()?),
            "peerType" => {
                cfg.peer_type = match e.value.to_ascii_lowercase().as_str() {
                    "observer" => PeerType::Observer,
                    "participant" => PeerType::Participant,
                    _ => return Err(cx.invalid("expected `participant` or `observer`")),
                }
            }
            "admin.enableServer" => cfg.admin.enabled = cx.boolean()?,
            "admin.serverAddress" => {
                let v = e.value.trim();
                let host_ok = !v.is_empty()
                    && (v
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<IpAddr>()
                        .is_ok()
                        || v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
                if !host_ok {
                    return Err(cx.invalid("expected an IP address or host name, e.g. 127.0.0.1"));
                }
                cfg.admin.address = v.to_string();
            }
            "admin.serverPort" => {
                cfg.admin.port = e
                    .value
                    .parse()
                    .map_err(|_| cx.invalid("expected a port number 0..65535"))?
            }
            "admin.commandURL" => {
                if !e.value.starts_with('/') {
                    return Err(cx.invalid("expected a path starting with `/`, e.g. /commands"));
                }
                cfg.admin.command_url = e.value.clone();
            }
            "admin.forceHttps" | "admin.portUnification" => {
                if cx.boolean()? {
                    return Err(cx.invalid(
                        "HTTPS on the AdminServer is not supported by corral: \
                         bind it to a private address (admin.serverAddress) instead",
                    ));
                }
            }
            "corral.metricsAddr" => {
                cfg.metrics_addr = Some(
                    e.value
                        .parse()
                        .map_err(|_| cx.invalid("expected ip:port, e.g. 127.0.0.1:9141"))?,
                )
            }
            "quorum.auth.enableSasl" => cfg.quorum_auth.enabled = cx.boolean()?,
            "quorum.auth.learnerRequireSasl" => cfg.quorum_auth.learner_require = cx.boolean()?,
            "quorum.auth.serverRequireSasl" => cfg.quorum_auth.server_require = cx.boolean()?,
            "quorum.auth.learner.saslLoginContext" => {
                cfg.quorum_auth.learner_context = e.value.clone()
            }
            "quorum.auth.server.saslLoginContext" => {
                cfg.quorum_auth.server_context = e.value.clone()
            }
            "corral.jaasConfig" => cfg.jaas_config = Some(cx.path()?),
            "jute.maxbuffer.extrasize" => cfg.jute_max_buffer_extra = Some(cx.positive()?),
            "corral.maxWatchesPerConnection" => cfg.max_watches_per_connection = cx.u32_range(0)?,
            "corral.maxWatchBytesPerConnection" => {
                cfg.max_watch_bytes_per_connection = cx.u32_range(0)?
            }
            "corral.shards" => {
                let v = cx.int()?;
                if !(1..=4096).contains(&v) {
                    return Err(cx.invalid("must be between 1 and 4096"));
                }
                cfg.shards = Some(v as usize);
            }
            _ if key.starts_with("server.") => {
                let id: u64 =
                    key["server.".len()..]
                        .parse()
                        .map_err(|_| ConfigError::UnknownKey {
                            line: e.line,
                            key: e.key.clone(),
                            suggestion: Some("server.1"),
                        })?;
                let spec = ServerSpec::parse(id, &e.value).map_err(|r| cx.invalid(r))?;
                servers.insert(id, spec);
            }
            "standaloneEnabled"
            | "reconfigEnabled"
            | "quorumListenOnAllIPs"
            | "syncEnabled"
            | "localSessionsEnabled"
            | "localSessionsUpgradingEnabled"
            | "multiAddress.enabled"
            | "multiAddress.reachabilityCheckEnabled" => {
                cx.boolean()?;
                cfg.ignore(e);
            }
            "electionAlg" => {
                if cx.int()? != 3 {
                    return Err(cx.invalid("only 3 is supported (as in ZooKeeper 3.8)"));
                }
                cfg.ignore(e);
            }
            "clientPortListenBacklog"
            | "connectToLearnerMasterLimit"
            | "observerMasterPort"
            | "admin.idleTimeout" => {
                cx.int()?;
                cfg.ignore(e);
            }
            _ if IGNORED_KEYS.contains(&key)
                || IGNORED_PREFIXES.iter().any(|p| key.starts_with(p)) =>
            {
                cfg.ignore(e)
            }
            _ => {
                return Err(ConfigError::UnknownKey {
                    line: e.line,
                    key: e.key.clone(),
                    suggestion: suggest(&e.key),
                })
            }
        }
    }
    if cfg.read_only_mode_enabled {
        cfg.four_lw_whitelist.add("isro");
    }
    if !cfg.enforce_auth_enabled {
        cfg.enforce_auth_schemes.clear();
    } else if cfg.enforce_auth_schemes.is_empty() {
        return Err(ConfigError::Invalid {
            line: cfg.key_lines.get("enforce.auth.enabled").copied(),
            msg: "enforce.auth.enabled is true: enforce.auth.schemes must name the schemes".into(),
        });
    }
    cfg.servers = servers.into_values().collect();
    cfg.validate_static()?;
    Ok(cfg)
}

/// Checks `user:base64` where the base64 text is a 20-byte SHA-1 digest.
fn validate_super_digest(v: &str) -> Result<(), String> {
    let (user, digest) = v
        .split_once(':')
        .ok_or("expected user:base64digest (e.g. super:vwF3b39JxzrgKUNiFet8/1LxKxY=)")?;
    if user.is_empty() {
        return Err("empty user name before `:`".into());
    }
    let valid_chars = digest
        .trim_end_matches('=')
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
    let pad = digest.len() - digest.trim_end_matches('=').len();
    if !valid_chars || digest.len() % 4 != 0 || pad > 2 || digest.is_empty() {
        return Err("the part after `:` is not valid base64".into());
    }
    if digest.len() / 4 * 3 - pad != 20 {
        return Err(
            "the part after `:` must be base64 of a 20-byte SHA-1 digest (28 characters)".into(),
        );
    }
    Ok(())
}

/// Reads, parses and validates a zoo.cfg file: relative `dataDir`/`dataLogDir` are resolved
/// against the current directory (as ZooKeeper's `new File(value)` does), `dataDir/myid` is
/// read when `server.N` lines are present ([`Config::load_myid`]), then [`Config::validate`].
/// Errors inside the file are prefixed with its path.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let in_file = |e: ConfigError| match e {
        e @ (ConfigError::Io { .. } | ConfigError::MyId { .. }) => e,
        e => ConfigError::InFile {
            path: path.to_path_buf(),
            inner: Box::new(e),
        },
    };
    let mut cfg = parse(&text).map_err(in_file)?;
    cfg.source_text = Some(text);
    if let Ok(cwd) = std::env::current_dir() {
        if cfg.data_dir.is_relative() {
            cfg.data_dir = cwd.join(&cfg.data_dir);
        }
        if let Some(d) = cfg.data_log_dir.as_mut() {
            if d.is_relative() {
                *d = cwd.join(&*d);
            }
        }
    }
    cfg.load_myid().map_err(in_file)?;
    cfg.validate().map_err(in_file)?;
    Ok(cfg)
}

impl Config {
    /// Effective minimum session timeout: `minSessionTimeout` or 2 * tickTime.
    pub fn min_session_timeout(&self) -> u32 {
        self.min_session_timeout_ms
            .unwrap_or_else(|| self.tick_time_ms.saturating_mul(2))
    }

    /// Effective maximum session timeout: `maxSessionTimeout` or 20 * tickTime.
    pub fn max_session_timeout(&self) -> u32 {
        self.max_session_timeout_ms
            .unwrap_or_else(|| self.tick_time_ms.saturating_mul(20))
    }

    /// Transaction log directory (`dataLogDir`, or `dataDir`).
    pub fn log_dir(&self) -> &Path {
        self.data_log_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// Client listen address.
    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::new(self.client_port_address, self.client_port)
    }

    /// No `server.N` lines, or exactly one.
    pub fn is_standalone(&self) -> bool {
        self.servers.len() <= 1
    }

    /// This server's `server.N` entry (needs `my_id`).
    pub fn my_server(&self) -> Option<&ServerSpec> {
        let id = self.my_id?;
        self.servers.iter().find(|s| s.id == id)
    }

    /// Whether this server is an observer: its `server.N` line decides (ZooKeeper prefers the
    /// servers list over `peerType`), else `peerType`.
    pub fn is_observer(&self) -> bool {
        match self.my_server() {
            Some(s) => s.observer,
            None => self.peer_type == PeerType::Observer,
        }
    }

    fn ignore(&mut self, e: &Entry) {
        self.ignored.push(IgnoredKey {
            line: e.line,
            key: e.key.clone(),
            value: e.value.clone(),
        });
    }

    fn line_of(&self, key: &str) -> Option<usize> {
        self.key_lines.get(key).copied()
    }

    /// Reads `dataDir/myid` when `server.N` lines are configured and the file exists (trimmed
    /// decimal id), then [`Config::set_my_id`]. A missing file is not an error here (a lone
    /// `server.N` line runs standalone); [`Config::validate`] reports it when needed.
    pub fn load_myid(&mut self) -> Result<(), ConfigError> {
        if self.servers.is_empty() {
            return Ok(());
        }
        let path = self.data_dir.join("myid");
        if !path.is_file() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&path).map_err(|error| ConfigError::Io {
            path: path.clone(),
            error,
        })?;
        let t = text.trim();
        let id: u64 = t.parse().map_err(|_| ConfigError::MyId {
            path: path.clone(),
            reason: format!("server id `{t}` is not a number"),
        })?;
        self.set_my_id(id)
    }

    /// Sets the server id and applies its `server.N` line's client address, as ZooKeeper
    /// does: the line's `;[addr:]port` wins; a `clientPort` line with a different port is an
    /// error.
    pub fn set_my_id(&mut self, id: u64) -> Result<(), ConfigError> {
        self.my_id = Some(id);
        let Some(spec) = self.my_server().cloned() else {
            return Ok(());
        };
        let Some(port) = spec.client_port else {
            return Ok(());
        };
        if let Some(line) = self.line_of("clientPort") {
            if self.client_port != port {
                return Err(ConfigError::Invalid {
                    line: Some(line),
                    msg: format!(
                        "clientPort={} differs from the client port {port} in server.{id}",
                        self.client_port
                    ),
                });
            }
        }
        self.client_port = port;
        match spec.client_addr.as_deref() {
            None => {
                if self.line_of("clientPortAddress").is_none() {
                    self.client_port_address = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
                }
            }
            Some(a) if a.eq_ignore_ascii_case("localhost") => {
                self.client_port_address = IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
            Some(a) => {
                self.client_port_address = a.parse().map_err(|_| ConfigError::Invalid {
                    line: self.line_of(&format!("server.{id}")),
                    msg: format!("server.{id}: client address `{a}` is not an IP address"),
                })?
            }
        }
        Ok(())
    }

    fn validate_static(&self) -> Result<(), ConfigError> {
        let (min, max) = (self.min_session_timeout(), self.max_session_timeout());
        if min > max {
            return Err(ConfigError::Invalid {
                line: self
                    .line_of("minSessionTimeout")
                    .or(self.line_of("maxSessionTimeout"))
                    .or(self.line_of("tickTime")),
                msg: format!(
                    "minSessionTimeout ({min} ms) must not be larger than maxSessionTimeout ({max} ms)"
                ),
            });
        }
        if self.tick_time_ms == 0 {
            return Err(ConfigError::Invalid {
                line: self.line_of("tickTime"),
                msg: "tickTime must be > 0".into(),
            });
        }
        if !self.servers.is_empty() && !self.servers.iter().any(|s| !s.observer) {
            return Err(ConfigError::Invalid {
                line: None,
                msg: "server.N lines list only observers; at least one participant is needed"
                    .into(),
            });
        }
        if self.client_tls.enabled() && self.client_tls.key_store.is_none() {
            return Err(ConfigError::Invalid {
                line: self
                    .line_of("secureClientPort")
                    .or(self.line_of("client.portUnification")),
                msg:
                    "TLS for clients needs ssl.keyStore.location (a PEM file with the private key \
                      and the certificate chain)"
                        .into(),
            });
        }
        if self.client_tls.enabled()
            && self.client_tls.client_auth != ClientAuth::None
            && self.client_tls.trust_store.is_none()
        {
            return Err(ConfigError::Invalid {
                line: self
                    .line_of("ssl.clientAuth")
                    .or(self.line_of("secureClientPort")),
                msg: "ssl.clientAuth is `need` or `want` (`need` is the default): set \
                      ssl.trustStore.location to the CA certificates (PEM) that sign client \
                      certificates, or ssl.clientAuth=none"
                    .into(),
            });
        }
        if self.ssl_quorum
            && (self.quorum_tls.key_store.is_none() || self.quorum_tls.trust_store.is_none())
        {
            return Err(ConfigError::Invalid {
                line: self.line_of("sslQuorum"),
                msg: "sslQuorum=true needs ssl.quorum.keyStore.location (this server's key and \
                      certificate chain, PEM) and ssl.quorum.trustStore.location (the CAs of \
                      the servers' certificates)"
                    .into(),
            });
        }
        if self.client_tls.secure_port == Some(self.client_port)
            && self
                .client_tls
                .secure_address
                .is_none_or(|a| a == self.client_port_address)
        {
            return Err(ConfigError::Invalid {
                line: self.line_of("secureClientPort"),
                msg: "secureClientPort is the same as clientPort; use client.portUnification=true \
                      to take TLS and plaintext on one port"
                    .into(),
            });
        }
        let mut seen: BTreeMap<(String, u16), u64> = BTreeMap::new();
        for s in &self.servers {
            for port in [s.quorum_port, s.election_port] {
                if let Some(other) = seen.insert((s.host.clone(), port), s.id) {
                    return Err(ConfigError::Invalid {
                        line: self.line_of(&format!("server.{}", s.id)),
                        msg: format!(
                            "server.{} uses {}:{port}, already used by server.{other}",
                            s.id, s.host
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Full validation: everything [`parse`] checks, plus, with more than one `server.N` line,
    /// that `my_id` is known (from `dataDir/myid`) and listed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_static()?;
        if !self.is_standalone() {
            let path = self.data_dir.join("myid");
            let Some(id) = self.my_id else {
                return Err(ConfigError::MyId {
                    path,
                    reason: format!(
                        "file is missing: with {} server.N lines this server needs its id there",
                        self.servers.len()
                    ),
                });
            };
            if self.my_server().is_none() {
                let ids: Vec<String> = self.servers.iter().map(|s| s.id.to_string()).collect();
                return Err(ConfigError::MyId {
                    path,
                    reason: format!(
                        "server id {id} has no server.{id} line (configured: {})",
                        ids.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORRAL_SH_STANDALONE: &str = "# written by zkbench peers/corral.sh (standalone)
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/tmp/zkb/zk1/data
clientPort=26000
clientPortAddress=127.0.0.1
forceSync=yes
maxClientCnxns=60
admin.enableServer=false
4lw.commands.whitelist=*
";

    const CONFORMANCE_CFG: &str = "tickTime=2000
maxClientCnxns=60
4lw.commands.whitelist=*
admin.enableServer=false
extendedTypesEnabled=true
DigestAuthenticationProvider.superDigest=super:vwF3b39JxzrgKUNiFet8/1LxKxY=
dataDir=/tmp/x
clientPort=26001
";

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn corral_sh_standalone_config() {
        let c = parse(CORRAL_SH_STANDALONE).unwrap();
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(c.init_limit, 10);
        assert_eq!(c.sync_limit, 5);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/zkb/zk1/data"));
        assert_eq!(c.client_addr(), "127.0.0.1:26000".parse().unwrap());
        assert!(c.force_sync);
        assert_eq!(c.max_client_cnxns, 60);
        assert!(c.four_lw_whitelist.is_all());
        assert!(c.four_lw_whitelist.allows("ruok"));
        assert!(c.four_lw_whitelist.allows("mntr"));
        assert!(!c.four_lw_whitelist.allows("xyzw"));
        assert!(c.is_standalone());
        assert_eq!(c.min_session_timeout(), 4000);
        assert_eq!(c.max_session_timeout(), 40000);
        assert!(c.ignored.is_empty());
        assert_eq!(c.admin.listen(), None);
        c.validate().unwrap();
    }

    #[test]
    fn corral_sh_ensemble_config_and_myid() {
        let dir = std::env::temp_dir().join(format!("corral-cfg-test-{}", std::process::id()));
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let cfg_path = dir.join("zoo.cfg");
        let text = format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort=26001\n\
             clientPortAddress=127.0.0.1\nforceSync=yes\nmaxClientCnxns=60\n\
             admin.enableServer=false\n4lw.commands.whitelist=*\n\
             server.1=127.0.0.1:26011:26021\nserver.2=127.0.0.1:26012:26022\n\
             server.3=127.0.0.1:26013:26023\n",
            data.display()
        );
        std::fs::write(&cfg_path, &text).unwrap();
        // no myid yet
        let e = load(&cfg_path).unwrap_err().to_string();
        assert!(e.contains("myid") && e.contains("missing"), "{e}");
        std::fs::write(data.join("myid"), "2\n").unwrap();
        let c = load(&cfg_path).unwrap();
        assert_eq!(c.my_id, Some(2));
        assert!(!c.is_standalone());
        assert_eq!(c.servers.len(), 3);
        assert_eq!(c.my_server().unwrap().quorum_port, 26012);
        assert_eq!(c.client_port, 26001);
        assert!(!c.is_observer());
        std::fs::write(data.join("myid"), "7").unwrap();
        let e = load(&cfg_path).unwrap_err().to_string();
        assert!(e.contains("server id 7 has no server.7 line"), "{e}");
        std::fs::write(data.join("myid"), "two").unwrap();
        let e = load(&cfg_path).unwrap_err().to_string();
        assert!(e.contains("`two` is not a number"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_resolves_relative_data_dir_and_prefixes_path() {
        let dir = std::env::temp_dir().join(format!("corral-cfg-rel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("zoo.cfg");
        std::fs::write(&p, "dataDir=rel/data\ndataLogDir=logs\n").unwrap();
        let c = load(&p).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(c.data_dir, cwd.join("rel/data"));
        assert_eq!(c.log_dir(), cwd.join("logs"));
        std::fs::write(&p, "# c\ntickTim=2000\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: line 2: unknown key `tickTim` (did you mean `tickTime`?)",
                p.display()
            )
        );
        let e = load(&dir.join("nope.cfg")).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read ") && e.contains("nope.cfg"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn conformance_config() {
        let c = parse(CONFORMANCE_CFG).unwrap();
        assert!(c.extended_types_enabled);
        assert_eq!(
            c.super_digest.as_deref(),
            Some("super:vwF3b39JxzrgKUNiFet8/1LxKxY=")
        );
        assert_eq!(c.client_port, 26001);
        // clientPort without clientPortAddress binds the wildcard address, like ZooKeeper
        assert_eq!(c.client_port_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }

    #[test]
    fn defaults() {
        let d = Config::default();
        assert_eq!(d.client_addr(), "127.0.0.1:2181".parse().unwrap());
        assert_eq!(d.data_dir, PathBuf::from("./data"));
        assert_eq!(d.tick_time_ms, 2000);
        assert_eq!(d.jute_max_buffer, 0xfffff);
        assert_eq!(d.sessionless_timeout_ms, 10000);
        assert_eq!(d.global_outstanding_limit, 1000);
        assert_eq!(d.snap_count, 100000);
        assert_eq!(d.pre_alloc_size_kb, 65536);
        assert_eq!(d.autopurge_snap_retain_count, 3);
        assert_eq!(d.autopurge_purge_interval_h, 0);
        assert!(d.force_sync);
        assert!(!d.extended_types_enabled);
        for c in ["srvr", "ruok", "mntr", "isro", "conf", "envi"] {
            assert!(d.four_lw_whitelist.allows(c), "{c}");
        }
        for c in ["stat", "cons", "wchs", "wchc", "wchp", "dump"] {
            assert!(!d.four_lw_whitelist.allows(c), "{c}");
        }
        assert!(!d.four_lw_whitelist.allows("stmk"));
        d.validate().unwrap();

        // an empty file: ZooKeeper's defaults
        let f = parse("").unwrap();
        assert_eq!(f.client_addr(), "0.0.0.0:2181".parse().unwrap());
        assert!(f.four_lw_whitelist.allows("srvr"));
        assert!(!f.four_lw_whitelist.allows("ruok"));
        assert_eq!(f.four_lw_whitelist.to_string(), "srvr");
    }

    #[test]
    fn properties_syntax() {
        let c = parse(
            "# comment\n! also a comment\n   \n  tickTime = 3000\nclientPort:2182\n\
             maxClientCnxns 10\ninitLimit\t=\t7\ndataDir=/a\\\n   /b\r\nsyncLimit=2\rsnapCount=5",
        )
        .unwrap();
        assert_eq!(c.tick_time_ms, 3000);
        assert_eq!(c.client_port, 2182);
        assert_eq!(c.max_client_cnxns, 10);
        assert_eq!(c.init_limit, 7);
        assert_eq!(c.data_dir, PathBuf::from("/a/b"));
        assert_eq!(c.sync_limit, 2);
        assert_eq!(c.snap_count, 5);
        assert_eq!(c.key_lines["syncLimit"], 10);
        assert_eq!(c.key_lines["snapCount"], 11);
        // escapes in keys and values
        let c = parse("data\\u0044ir=/x\\ty\n").unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/x\ty"));
        // value with ':' after '=' is kept
        let c = parse("corral.metricsAddr=127.0.0.1:9141\n").unwrap();
        assert_eq!(c.metrics_addr, Some("127.0.0.1:9141".parse().unwrap()));
    }

    #[test]
    fn split_key_value_cases() {
        assert_eq!(split_key_value("a=b"), ("a", "b"));
        assert_eq!(split_key_value("a = b"), ("a", "b"));
        assert_eq!(split_key_value("a:b"), ("a", "b"));
        assert_eq!(split_key_value("a b"), ("a", "b"));
        assert_eq!(split_key_value("a  =  :b"), ("a", ":b"));
        assert_eq!(split_key_value("a"), ("a", ""));
        assert_eq!(split_key_value("a="), ("a", ""));
        assert_eq!(split_key_value("a\\=b=c"), ("a\\=b", "c"));
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let c = parse("tickTime=1000\ntickTime=3000\n").unwrap();
        assert_eq!(c.tick_time_ms, 3000);
        assert_eq!(c.key_lines["tickTime"], 2);
        // an earlier bad value is overridden, as with Properties
        let c = parse("tickTime=abc\ntickTime=3000\n").unwrap();
        assert_eq!(c.tick_time_ms, 3000);
        // aliases count as the same key
        let c = parse("zookeeper.snapCount=10\nsnapCount=20\n").unwrap();
        assert_eq!(c.snap_count, 20);
    }

    #[test]
    fn unknown_keys() {
        assert_eq!(
            err("tickTime=2000\nclientport=2181\n"),
            "line 2: unknown key `clientport` (did you mean `clientPort`?)"
        );
        assert_eq!(
            err("maxSessionTimout=1\n"),
            "line 1: unknown key `maxSessionTimout` (did you mean `maxSessionTimeout`?)"
        );
        assert_eq!(
            err("completelyUnrelatedThing=1\n"),
            "line 1: unknown key `completelyUnrelatedThing`"
        );
        assert_eq!(
            err("server.x=127.0.0.1:1:2\n"),
            "line 1: unknown key `server.x` (did you mean `server.1`?)"
        );
        assert_eq!(
            err("zookeeper.extendedTypesEnable=true\n"),
            "line 1: unknown key `zookeeper.extendedTypesEnable` (did you mean `extendedTypesEnabled`?)"
        );
    }

    #[test]
    fn invalid_values() {
        assert_eq!(
            err("tickTime=0\n"),
            "line 1: invalid value `0` for `tickTime`: must be between 1 and 4294967295"
        );
        assert_eq!(
            err("tickTime=abc\n"),
            "line 1: invalid value `abc` for `tickTime`: not an integer"
        );
        assert_eq!(
            err("tickTime=2000 # ms\n"),
            "line 1: invalid value `2000 # ms` for `tickTime`: not an integer (comments must be on their own line)"
        );
        assert_eq!(
            err("\nclientPort=0\n"),
            "line 2: invalid value `0` for `clientPort`: 0 is out of range 1..65535"
        );
        assert_eq!(
            err("clientPort=65536\n"),
            "line 1: invalid value `65536` for `clientPort`: 65536 is out of range 1..65535"
        );
        assert_eq!(
            err("clientPortAddress=nowhere\n"),
            "line 1: invalid value `nowhere` for `clientPortAddress`: expected an IP address (or localhost)"
        );
        assert_eq!(
            err("extendedTypesEnabled=yes\n"),
            "line 1: invalid value `yes` for `extendedTypesEnabled`: expected `true` or `false`"
        );
        assert_eq!(
            err("forceSync=false\n"),
            "line 1: invalid value `false` for `forceSync`: expected `yes` or `no`"
        );
        assert_eq!(
            err("maxClientCnxns=-1\n"),
            "line 1: invalid value `-1` for `maxClientCnxns`: must be between 0 and 4294967295"
        );
        assert_eq!(
            err("minSessionTimeout=0\n"),
            "line 1: invalid value `0` for `minSessionTimeout`: must be a positive number of milliseconds"
        );
        assert!(err("4lw.commands.whitelist=ruok,bogus\n")
            .starts_with("line 1: invalid value `ruok,bogus` for `4lw.commands.whitelist`: unknown four-letter word `bogus`"));
        assert_eq!(
            err("peerType=leader\n"),
            "line 1: invalid value `leader` for `peerType`: expected `participant` or `observer`"
        );
        assert_eq!(
            err("electionAlg=1\n"),
            "line 1: invalid value `1` for `electionAlg`: only 3 is supported (as in ZooKeeper 3.8)"
        );
        assert_eq!(
            err("standaloneEnabled=maybe\n"),
            "line 1: invalid value `maybe` for `standaloneEnabled`: expected `true` or `false`"
        );
        assert_eq!(
            err("corral.shards=0\n"),
            "line 1: invalid value `0` for `corral.shards`: must be between 1 and 4096"
        );
        assert!(err("corral.metricsAddr=9141\n").contains("expected ip:port"));
        assert!(err("dataDir=\n").contains("empty path"));
        assert!(err("ab\\u00zz=1\n").contains("malformed \\uXXXX escape"));
        assert_eq!(err("=5\n"), "line 1: missing key before `5`");
    }

    #[test]
    fn super_digest_validation() {
        parse("zookeeper.DigestAuthenticationProvider.superDigest=super:vwF3b39JxzrgKUNiFet8/1LxKxY=\n")
            .unwrap();
        for bad in [
            "nocolon",
            ":vwF3b39JxzrgKUNiFet8/1LxKxY=",
            "super:not base64!",
            "super:abcd",
            "super:",
        ] {
            let e = err(&format!("DigestAuthenticationProvider.superDigest={bad}\n"));
            assert!(
                e.starts_with(&format!(
                    "line 1: invalid value `{bad}` for `DigestAuthenticationProvider.superDigest`"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn unsupported_keys() {
        assert_eq!(
            err("secureClientPort=2281\n"),
            "line 1: TLS for clients needs ssl.keyStore.location (a PEM file with the private key and the certificate chain)"
        );
        assert!(err("ssl.crl=true\n").contains("revocation"));
        assert!(err("enforce.auth.enabled=true\n").contains("enforce.auth.schemes"));
        assert!(err("enforce.auth.schemes=kerberos\n").contains("not available"));
        let c = parse("zookeeper.sessionRequireClientSASLAuth=true\n").unwrap();
        assert_eq!(c.enforce_auth_schemes, ["sasl"]);
        let c = parse("enforce.auth.schemes=sasl,x509\n").unwrap();
        assert!(
            c.enforce_auth_schemes.is_empty(),
            "schemes alone enforce nothing"
        );
        assert!(err("ssl.keyStore.type=JKS\n").contains("openssl pkcs12"));
        assert!(err("ssl.clientAuth=maybe\n").contains("`none`, `want` or `need`"));
        assert!(err("ssl.enabledProtocols=TLSv1.1\n").contains("TLSv1.2 and TLSv1.3 only"));
        assert!(err("secureClientPort=2281\nssl.keyStore.location=/k.pem\n")
            .contains("ssl.trustStore.location"));
        let c = parse(
            "secureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n\
             ssl.keyStore.location=/k.pem\nssl.keyStore.type=PEM\nssl.clientAuth=want\n\
             ssl.trustStore.location=/ca.pem\nssl.protocol=TLSv1.3\n\
             ssl.enabledProtocols=TLSv1.2,TLSv1.3\nzookeeper.client.portUnification=true\n\
             zookeeper.X509AuthenticationProvider.superUser=CN=admin\n",
        )
        .unwrap();
        assert_eq!(c.client_tls.secure_port, Some(2281));
        assert_eq!(c.client_tls.client_auth, ClientAuth::Want);
        assert_eq!(c.client_tls.protocols, ["TLSv1.2", "TLSv1.3"]);
        assert!(c.client_tls.port_unification);
        assert_eq!(c.client_tls.x509_super_user.as_deref(), Some("CN=admin"));
        assert!(err("skipACL=yes\n").contains("ACL checks cannot be disabled"));
        parse("skipACL=no\n").unwrap();
        assert!(err("skipACL=true\n").contains("expected `yes` or `no`"));
        assert!(err("sslQuorum=true\n").contains("ssl.quorum.keyStore.location"));
        parse("sslQuorum=false\n").unwrap();
        let c = parse(
            "sslQuorum=true\nssl.quorum.keyStore.location=/q.pem\nssl.quorum.keyStore.type=PEM\n\
             ssl.quorum.trustStore.location=/qca.pem\nssl.quorum.hostnameVerification=false\n\
             ssl.quorum.enabledProtocols=TLSv1.3\nssl.keyStore.location=/c.pem\n",
        )
        .unwrap();
        assert!(c.ssl_quorum);
        assert_eq!(c.quorum_tls.key_store.as_deref(), Some(Path::new("/q.pem")));
        assert!(!c.quorum_tls.hostname_verification);
        assert_eq!(c.quorum_tls.protocols, ["TLSv1.3"]);
        assert_eq!(c.client_tls.key_store.as_deref(), Some(Path::new("/c.pem")));
        assert!(
            parse("sslQuorumReloadCertFiles=true\n")
                .unwrap()
                .quorum_tls
                .cert_reload
        );
        assert!(!c.quorum_tls.cert_reload);
        assert!(err("sslQuorumReloadCertFiles=maybe\n").contains("sslQuorumReloadCertFiles"));
        assert!(err("ssl.quorum.keyStore.type=JKS\n").contains("PEM"));
        assert!(err("dynamicConfigFile=/x\n").contains("not supported"));
        assert!(err("weight.1=2\n").contains("hierarchical quorums"));
        assert!(err("quorum.auth.kerberos.servicePrincipal=zk/_HOST\n").contains("Kerberos"));
        let c = parse(
            "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
             quorum.auth.serverRequireSasl=false\nquorum.auth.learner.saslLoginContext=L\n\
             corral.jaasConfig=/etc/zk/jaas.conf\njute.maxbuffer.extrasize=2048\n",
        )
        .unwrap();
        assert_eq!(
            c.quorum_auth,
            QuorumAuth {
                enabled: true,
                learner_require: true,
                server_require: false,
                learner_context: "L".into(),
                server_context: "QuorumServer".into(),
            }
        );
        assert_eq!(
            c.jaas_config.as_deref(),
            Some(Path::new("/etc/zk/jaas.conf"))
        );
        assert_eq!(c.jute_max_buffer_extra, Some(2048));
        assert!(err("quorum.auth.enableSasl=maybe\n").contains("quorum.auth.enableSasl"));
        assert!(err("server.1=a:1:2|b:1:2\n").contains("multiple addresses"));
    }

    #[test]
    fn admin_server_settings_follow_zookeeper() {
        let at = |c: &Config| c.admin.listen().map(|r| r.unwrap());
        let c = parse("clientPort=2181\n").unwrap();
        assert_eq!(
            at(&c),
            Some("127.0.0.1:8080".parse().unwrap()),
            "loopback unless told"
        );
        assert_eq!(c.admin.command_url, "/commands");
        assert_eq!(at(&Config::default()), None, "embedded default: off");
        let c = parse(
            "admin.serverAddress=127.0.0.1\nadmin.serverPort=0\nadmin.commandURL=/zk\n\
             admin.forceHttps=false\n",
        )
        .unwrap();
        assert_eq!(at(&c), Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(c.admin.command_url, "/zk");
        let c = parse("admin.enableServer=false\nadmin.serverPort=9\n").unwrap();
        assert_eq!(at(&c), None);
        let c = parse("admin.serverAddress=0.0.0.0\n").unwrap();
        assert_eq!(at(&c), Some("0.0.0.0:8080".parse().unwrap()));
        let c = parse("admin.serverAddress=localhost\n").unwrap();
        assert!(at(&c).unwrap().ip().is_loopback());
        assert!(err("admin.serverPort=http\n").contains("admin.serverPort"));
        assert!(err("admin.serverAddress=local host:1\n").contains("IP address or host name"));
        assert!(err("admin.commandURL=commands\n").contains("starting with `/`"));
        assert!(err("admin.forceHttps=true\n").contains("not supported"));
        assert!(err("admin.enableServer=yes please\n").contains("admin.enableServer"));
    }

    #[test]
    fn ignored_keys_are_accepted() {
        let c = parse(
            "admin.idleTimeout=30000\nstandaloneEnabled=true\n\
             reconfigEnabled=false\nelectionAlg=3\nquorumListenOnAllIPs=false\nsyncEnabled=true\n\
             clientPortListenBacklog=100\nlocalSessionsEnabled=false\n\
             localSessionsUpgradingEnabled=false\nmetricsProvider.className=x.Y\n\
             metricsProvider.httpPort=7000\nautopurge.snapRetainCount=5\n\
             autopurge.purgeInterval=24\nsnapCount=1000\npreAllocSize=1024\n\
             readonlymode.enabled=true\nauthProvider.1=org.x.SASLAuthenticationProvider\n\
             zookeeper.maxCnxns=100\nssl.handshakeDetectionTimeoutMillis=5000\n",
        )
        .unwrap();
        assert_eq!(c.autopurge_snap_retain_count, 5);
        assert_eq!(c.autopurge_purge_interval_h, 24);
        assert_eq!(c.snap_count, 1000);
        assert_eq!(c.pre_alloc_size_kb, 1024);
        assert_eq!(c.max_cnxns, 100);
        assert!(c.read_only_mode_enabled);
        assert!(c.four_lw_whitelist.allows("isro"));
        assert!(c.four_lw_whitelist.allows("srvr"));
        assert!(!c.four_lw_whitelist.allows("ruok"));
        let ignored: Vec<&str> = c.ignored.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            ignored,
            [
                "admin.idleTimeout",
                "standaloneEnabled",
                "reconfigEnabled",
                "electionAlg",
                "quorumListenOnAllIPs",
                "syncEnabled",
                "clientPortListenBacklog",
                "localSessionsEnabled",
                "localSessionsUpgradingEnabled",
                "metricsProvider.className",
                "metricsProvider.httpPort",
                "authProvider.1",
                "ssl.handshakeDetectionTimeoutMillis",
            ]
        );
    }

    #[test]
    fn clamps_like_zookeeper() {
        let c = parse("autopurge.snapRetainCount=1\nsnapCount=1\nautopurge.purgeInterval=-1\n")
            .unwrap();
        assert_eq!(c.autopurge_snap_retain_count, 3);
        assert_eq!(c.snap_count, 2);
        assert_eq!(c.autopurge_purge_interval_h, 0);
    }

    #[test]
    fn sysprop_aliases() {
        let c = parse(
            "zookeeper.extendedTypesEnabled=true\nzookeeper.nio.sessionlessCnxnTimeout=5000\n\
             jute.maxbuffer=4194304\nglobalOutstandingLimit=50\nzookeeper.forceSync=no\n\
             zookeeper.4lw.commands.whitelist=ruok, stat mntr\n",
        )
        .unwrap();
        assert!(c.extended_types_enabled);
        assert_eq!(c.sessionless_timeout_ms, 5000);
        assert_eq!(c.jute_max_buffer, 4194304);
        assert_eq!(c.global_outstanding_limit, 50);
        assert!(!c.force_sync);
        for w in ["ruok", "stat", "mntr", "srvr"] {
            assert!(c.four_lw_whitelist.allows(w), "{w}");
        }
        assert!(!c.four_lw_whitelist.allows("cons"));
        let c = parse("nio.sessionlessCnxnTimeout=7000\n").unwrap();
        assert_eq!(c.sessionless_timeout_ms, 7000);
    }

    #[test]
    fn session_timeouts() {
        let c = parse("tickTime=1000\n").unwrap();
        assert_eq!(
            (c.min_session_timeout(), c.max_session_timeout()),
            (2000, 20000)
        );
        let c = parse("minSessionTimeout=100\nmaxSessionTimeout=-1\n").unwrap();
        assert_eq!(
            (c.min_session_timeout(), c.max_session_timeout()),
            (100, 40000)
        );
        assert_eq!(
            err("tickTime=2000\nminSessionTimeout=50000\nmaxSessionTimeout=40000\n"),
            "line 2: minSessionTimeout (50000 ms) must not be larger than maxSessionTimeout (40000 ms)"
        );
        assert_eq!(
            err("tickTime=2000\nminSessionTimeout=50000\n"),
            "line 2: minSessionTimeout (50000 ms) must not be larger than maxSessionTimeout (40000 ms)"
        );
    }

    #[test]
    fn server_lines() {
        let s = ServerSpec::parse(1, "zk1.example:2888:3888").unwrap();
        assert_eq!(
            s,
            ServerSpec {
                id: 1,
                host: "zk1.example".into(),
                quorum_port: 2888,
                election_port: 3888,
                observer: false,
                client_port: None,
                client_addr: None
            }
        );
        let s = ServerSpec::parse(2, "10.0.0.2:2888:3888:observer;2181").unwrap();
        assert!(s.observer);
        assert_eq!(s.client_port, Some(2181));
        assert_eq!(s.client_addr, None);
        let s = ServerSpec::parse(3, "[::1]:2888:3888:participant;127.0.0.1:2182").unwrap();
        assert_eq!(s.host, "::1");
        assert!(!s.observer);
        assert_eq!(s.client_addr.as_deref(), Some("127.0.0.1"));
        assert_eq!(s.client_port, Some(2182));
        let s = ServerSpec::parse(4, "h:1:2;[::1]:2183").unwrap();
        assert_eq!(s.client_addr.as_deref(), Some("::1"));

        for (bad, what) in [
            ("h:2888", "wrong number"),
            ("h:2888:3888:participant:x", "wrong number"),
            ("h:0:3888", "quorum port: 0 is out of range"),
            ("h:2888:99999", "election port: 99999 is out of range"),
            ("h:2888:x", "election port: `x` is not a port number"),
            ("h:1:2:leader", "unrecognised peer type `leader`"),
            (":1:2", "empty host"),
            ("h:1:2;x", "client port: `x` is not a port number"),
            ("h:1:2;a:b:c", "bad client address"),
            ("h:1:2;1;2", "more than one `;`"),
            ("[::1:1:2", "missing `]`"),
        ] {
            let e = ServerSpec::parse(1, bad).unwrap_err();
            assert!(e.contains(what), "{bad}: {e}");
        }
        let e = err("server.3=h:1\n");
        assert!(
            e.starts_with("line 1: invalid value `h:1` for `server.3`: wrong number"),
            "{e}"
        );
    }

    #[test]
    fn ensemble_validation() {
        let base = "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890:observer;2183\n";
        let mut c = parse(base).unwrap();
        assert!(!c.is_standalone());
        assert_eq!(
            c.servers.iter().map(|s| s.id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("myid: file is missing"));
        c.set_my_id(3).unwrap();
        assert!(c.is_observer());
        assert_eq!(c.client_port, 2183);
        assert_eq!(c.client_port_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        c.validate().unwrap();
        c.set_my_id(9).unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("server id 9 has no server.9 line (configured: 1, 2, 3)"));

        // clientPort conflicting with the own server line
        let mut c = parse(&format!("clientPort=2181\n{base}")).unwrap();
        assert_eq!(
            c.set_my_id(3).unwrap_err().to_string(),
            "line 1: clientPort=2181 differs from the client port 2183 in server.3"
        );
        // a single server line is standalone, no myid needed
        let c = parse("server.1=127.0.0.1:2888:3888\n").unwrap();
        assert!(c.is_standalone());
        c.validate().unwrap();
        // peerType=observer without a server line
        let c = parse("peerType=observer\n").unwrap();
        assert!(c.is_observer());
        // duplicate addresses
        assert!(err("server.1=h:1:2\nserver.2=h:2:3\n")
            .contains("server.2 uses h:2, already used by server.1"));
        // observers only
        assert!(err("server.1=h:1:2:observer\n").contains("at least one participant"));
    }

    #[test]
    fn whitelist() {
        let w = FourLetterWhitelist::parse("ruok").unwrap();
        assert!(w.allows("ruok") && w.allows("srvr") && !w.allows("stat"));
        assert_eq!(w.to_string(), "srvr,ruok");
        let w = FourLetterWhitelist::parse(" ruok , *").unwrap();
        assert!(w.is_all() && w.allows("dump") && w.allows("hash"));
        let w = FourLetterWhitelist::parse("").unwrap();
        assert_eq!(w, FourLetterWhitelist::zookeeper_default());
        assert!(FourLetterWhitelist::parse("RUOK").is_err());
    }

    #[test]
    fn levenshtein_and_suggest() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("ABC", "abc"), 0);
        assert_eq!(suggest("datadir"), Some("dataDir"));
        assert_eq!(suggest("zz"), None);
    }
}
