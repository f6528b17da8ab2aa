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

mod keys;
mod parse;
mod properties;
mod server;
#[cfg(test)]
mod tests;
mod tls;

use keys::*;
pub use keys::{IGNORED_KEYS, IGNORED_PREFIXES};
pub use parse::parse;
use properties::*;
use server::*;
pub use server::{PeerType, ServerSpec};
pub use tls::{ClientAuth, ClientTls, QuorumAuth};

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
