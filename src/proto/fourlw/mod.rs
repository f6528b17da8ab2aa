//! Four-letter words (4lw): recognition and ZooKeeper 3.8's exact reply texts.
//!
//! The server recognises a 4lw on a *fresh* connection when its first 4 bytes, read as a
//! big-endian int, equal a known command code ([`is_command_prefix`]; no length prefix,
//! trailing bytes such as `\n` ignored; `stmk` is followed by an 8-byte big-endian mask).
//! It then fills a [`ServerSnapshot`] (plain owned data, `Default`, filled piece by piece:
//! only what the command needs), calls [`render`], writes the bytes and closes the
//! connection. `telnet close` (0xfff4fffd) is known but just closes, with no output.
//! An unknown word is a frame length (huge): the server just closes.

use crate::types::Role;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

mod java;
mod mntr;
mod render;
#[cfg(test)]
mod tests;

pub use java::*;
use mntr::render_mntr;
pub use render::*;

/// Version string printed by srvr/stat/envi/mntr. Matches go-zookeeper's FLWSrvr regex
/// `Zookeeper version: [A-Za-z0-9.-]+, built on \d\d\d\d-\d\d-\d\d \d\d:\d\d [A-Za-z]+` and
/// kazoo's `server_version()` (leading digits and dots: 3.8.4).
pub const VERSION: &str = concat!(
    "3.8.4-corral-",
    env!("CARGO_PKG_VERSION"),
    ", built on 2026-11-22 00:00 UTC"
);

/// Text of commands run while the server is not serving.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// `telnet close` (IAC DO/... 0xfff4fffd): a known code with no handler: close, no output.
pub const TELNET_CLOSE: u32 = 0xfff4_fffd;

/// The four-letter words of ZooKeeper 3.8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FourLetter {
    Ruok,
    Srvr,
    Stat,
    Mntr,
    Cons,
    Wchs,
    Wchc,
    Wchp,
    Dump,
    Conf,
    Envi,
    Isro,
    Crst,
    Srst,
    Dirs,
    Gtmk,
    Stmk,
    Hash,
}

impl FourLetter {
    /// Every command.
    pub const ALL: [FourLetter; 18] = [
        FourLetter::Ruok,
        FourLetter::Srvr,
        FourLetter::Stat,
        FourLetter::Mntr,
        FourLetter::Cons,
        FourLetter::Wchs,
        FourLetter::Wchc,
        FourLetter::Wchp,
        FourLetter::Dump,
        FourLetter::Conf,
        FourLetter::Envi,
        FourLetter::Isro,
        FourLetter::Crst,
        FourLetter::Srst,
        FourLetter::Dirs,
        FourLetter::Gtmk,
        FourLetter::Stmk,
        FourLetter::Hash,
    ];

    /// The command for these 4 bytes (case-sensitive, lowercase ASCII).
    pub fn from_word(w: [u8; 4]) -> Option<FourLetter> {
        Self::ALL.into_iter().find(|c| c.as_str().as_bytes() == w)
    }

    /// The word, e.g. `"ruok"` (the name used by the whitelist).
    pub fn as_str(self) -> &'static str {
        match self {
            FourLetter::Ruok => "ruok",
            FourLetter::Srvr => "srvr",
            FourLetter::Stat => "stat",
            FourLetter::Mntr => "mntr",
            FourLetter::Cons => "cons",
            FourLetter::Wchs => "wchs",
            FourLetter::Wchc => "wchc",
            FourLetter::Wchp => "wchp",
            FourLetter::Dump => "dump",
            FourLetter::Conf => "conf",
            FourLetter::Envi => "envi",
            FourLetter::Isro => "isro",
            FourLetter::Crst => "crst",
            FourLetter::Srst => "srst",
            FourLetter::Dirs => "dirs",
            FourLetter::Gtmk => "gtmk",
            FourLetter::Stmk => "stmk",
            FourLetter::Hash => "hash",
        }
    }

    /// The command code: the word as a big-endian int (what a frame length would read as).
    pub fn code(self) -> u32 {
        let b = self.as_str().as_bytes();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Whether the command needs a running server (else it prints [`NOT_SERVING`]).
    pub fn needs_server(self) -> bool {
        !matches!(
            self,
            FourLetter::Ruok
                | FourLetter::Envi
                | FourLetter::Gtmk
                | FourLetter::Stmk
                | FourLetter::Isro
        )
    }
}

/// Whether the first 4 bytes of a fresh connection are a 4lw (a known command or
/// [`TELNET_CLOSE`]) rather than a frame length.
pub fn is_command_prefix(first4: [u8; 4]) -> bool {
    u32::from_be_bytes(first4) == TELNET_CLOSE || FourLetter::from_word(first4).is_some()
}

/// Session part of a `cons` line (printed only for a non-zero `sid`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionConnInfo {
    pub sid: i64,
    /// Last operation tag ([`crate::proto::codes::OpCode::last_op_tag`]), `"NA"`
    /// before the first request.
    pub last_op: &'static str,
    /// Connection establishment time, epoch ms (`est=`; omitted when None).
    pub established_ms: Option<u64>,
    /// Negotiated session timeout (`to=`; omitted when 0).
    pub timeout_ms: u32,
    /// Last client xid (`lcxid=0x..`; omitted when negative).
    pub last_cxid: i64,
    /// Last zxid sent (`lzxid=0x..`; -1 prints `0xffffffffffffffff` as in ZooKeeper).
    pub last_zxid: i64,
    /// Time of the last response on the server's monotonic ms clock (`lresp=`).
    pub last_resp_mono_ms: u64,
    /// Latencies in ms: last, min (0 when none), avg (integer division), max.
    pub llat: u64,
    pub minlat: u64,
    pub avglat: u64,
    pub maxlat: u64,
}

/// One client connection (stat/cons/dump). Include the connection asking for the 4lw
/// itself: ZooKeeper lists it as `[0](queued=0,recved=1,sent=0)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnInfo {
    pub addr: SocketAddr,
    /// NIO interest ops: 1 = read, 4 = write, 5 = both, 0 = none (the 4lw connection).
    pub interest_ops: u32,
    /// Requests of this connection not answered yet.
    pub queued: u64,
    /// Packets received / sent on this connection (the ConnectRequest/Response count).
    pub recved: u64,
    pub sent: u64,
    pub session: Option<SessionConnInfo>,
}

/// What `wchs` prints: connections with data watches, distinct watched
/// paths, and data watches in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchSummary {
    pub connections: usize,
    pub paths: usize,
    pub total: usize,
}

impl WatchSummary {
    /// Counted from per-session listings (sessions without paths do not count).
    pub fn of(watches: &[SessionPaths]) -> WatchSummary {
        let mut paths: Vec<&str> = watches
            .iter()
            .flat_map(|s| s.paths.iter().map(String::as_str))
            .collect();
        let total = paths.len();
        paths.sort_unstable();
        paths.dedup();
        WatchSummary {
            connections: watches.iter().filter(|s| !s.paths.is_empty()).count(),
            paths: paths.len(),
            total,
        }
    }
}

/// A session with a list of paths (data watches, ephemerals).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionPaths {
    pub session_id: i64,
    pub paths: Vec<String>,
}

/// A session-expiry bucket for `dump` (`expire_at_ms` is epoch ms).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionExpiryBucket {
    pub expire_at_ms: u64,
    pub session_ids: Vec<i64>,
}

/// A connection-expiry bucket for `dump`: (remote address, session id or 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnExpiryBucket {
    pub expire_at_ms: u64,
    pub conns: Vec<(SocketAddr, i64)>,
}

/// One `server.N` membership line for `conf` in quorum mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberInfo {
    pub id: u64,
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
    /// `;host:port` suffix; ZooKeeper omits it when the client address came from `clientPort`.
    pub client: Option<(String, u16)>,
}

/// Quorum part of `conf`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumConf {
    pub init_limit: u32,
    pub sync_limit: u32,
    /// Always 3 in 3.8.
    pub election_alg: u32,
    pub election_port: u16,
    pub quorum_port: u16,
    pub observer: bool,
    pub members: Vec<MemberInfo>,
    /// Dynamic config version (0 for a static config), printed in hex.
    pub config_version: u64,
}

/// Fields of `conf` (and `dirs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfInfo {
    pub client_port: u16,
    /// ZooKeeper prints the snapshot dir: `<dataDir>/version-2`. Printed as given.
    pub snap_dir: PathBuf,
    /// ZooKeeper prints `<dataLogDir or dataDir>/version-2`. Printed as given.
    pub log_dir: PathBuf,
    /// Bytes of snapshots / logs (`dataDirSize`, `dataLogSize`, `dirs`).
    pub data_dir_size: u64,
    pub data_log_size: u64,
    pub tick_time_ms: u32,
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    /// 0 in standalone mode.
    pub server_id: u64,
    pub quorum: Option<QuorumConf>,
}

impl Default for ConfInfo {
    fn default() -> Self {
        ConfInfo {
            client_port: 2181,
            snap_dir: PathBuf::from("./data/version-2"),
            log_dir: PathBuf::from("./data/version-2"),
            data_dir_size: 0,
            data_log_size: 0,
            tick_time_ms: 2000,
            max_client_cnxns: 60,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            server_id: 0,
            quorum: None,
        }
    }
}

/// Fields of `envi`. Empty strings print `<NA>` (as Java does for unset properties); the
/// `java.*` keys print `<NA>` except `java.io.tmpdir`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvInfo {
    pub host_name: String,
    /// Java style: `Linux`.
    pub os_name: String,
    /// Java style: `amd64` for x86_64.
    pub os_arch: String,
    /// Kernel release.
    pub os_version: String,
    pub user_name: String,
    pub user_home: String,
    /// Current directory.
    pub user_dir: String,
    pub tmp_dir: String,
    /// `os.memory.free/max/total` in MiB (Java: heap figures; here: available, total RAM,
    /// process resident size).
    pub memory_free_mb: u64,
    pub memory_max_mb: u64,
    pub memory_total_mb: u64,
}

/// A `mntr` value.
#[derive(Debug, Clone, PartialEq)]
pub enum MntrValue {
    Int(i64),
    /// Printed as a Java double (`0.0`, `3.1667`).
    Float(f64),
    Text(String),
}

impl MntrValue {
    fn render(&self) -> String {
        match self {
            MntrValue::Int(v) => v.to_string(),
            MntrValue::Float(v) => java_double(*v),
            MntrValue::Text(t) => t.clone(),
        }
    }
}

/// Leader-only `mntr` gauges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderMntr {
    pub learners: u64,
    pub synced_followers: u64,
    pub synced_non_voting_followers: u64,
    pub synced_observers: u64,
    pub pending_syncs: u64,
    pub leader_uptime: u64,
    pub last_proposal_size: i64,
    pub max_proposal_size: i64,
    pub min_proposal_size: i64,
}

/// `mntr` figures. Every key of ZooKeeper 3.8's standalone `mntr` is printed; keys without
/// a field here print 0 (0.0 for `avg_*`) unless given in `extra`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MntrFigures {
    /// Rounded to 4 decimals and printed as a Java double.
    pub avg_latency: f64,
    pub min_latency: u64,
    pub max_latency: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub num_alive_connections: u64,
    pub outstanding_requests: u64,
    /// Server uptime in ms.
    pub uptime: u64,
    pub znode_count: u64,
    /// Data + child watches (ZooKeeper: 3 for a getData, an exists and a getChildren watch).
    pub watch_count: u64,
    pub ephemerals_count: u64,
    /// Sum of path lengths + data lengths of all nodes.
    pub approximate_data_size: u64,
    pub global_sessions: u64,
    pub local_sessions: u64,
    pub open_file_descriptor_count: u64,
    pub max_file_descriptor_count: u64,
    pub last_client_response_size: i64,
    pub max_client_response_size: i64,
    pub min_client_response_size: i64,
    pub auth_failed_count: u64,
    /// Quorum modes: `zk_peer_state` (e.g. `following - broadcast`).
    pub peer_state: Option<String>,
    /// Quorum modes: `zk_quorum_size`.
    pub quorum_size: Option<u64>,
    /// Leader only.
    pub leader: Option<LeaderMntr>,
    /// Any other key, without the `zk_` prefix (e.g. `("bytes_received_count", Int(292))`,
    /// `("avg_readlatency", Float(0.5))`): replaces the value of a known key, else appended.
    pub extra: Vec<(String, MntrValue)>,
}

/// Everything a 4lw may print. Plain owned data; `Default` is an idle standalone server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSnapshot {
    /// [`VERSION`] by default.
    pub version: &'static str,
    /// False: most commands print [`NOT_SERVING`] (isro prints `null`).
    pub serving: bool,
    pub mode: Role,
    /// Server latency in ms (srvr/stat `Latency min/avg/max`); avg is rounded to 4 decimals.
    pub latency_min: u64,
    pub latency_avg: f64,
    pub latency_max: u64,
    /// Server-wide packet counts (all connections, 4lw ones included).
    pub received: u64,
    pub sent: u64,
    /// `Connections:`: alive client connections, including the one asking.
    pub alive_connections: u64,
    pub outstanding: u64,
    /// Last processed zxid.
    pub zxid: i64,
    /// Node count (ZooKeeper counts the root twice: a fresh server reports 5).
    pub node_count: u64,
    /// Leader: `Proposal sizes last/min/max` (None prints `-1/-1/-1`).
    pub proposal_sizes: Option<(i64, i64, i64)>,
    /// stat / cons, in the order to print.
    pub connections: Vec<ConnInfo>,
    /// Data/exist watches only (ZooKeeper's dataWatches table: no child watches) for
    /// wchs/wchc/wchp, per session in order.
    pub data_watches: Vec<SessionPaths>,
    /// wchs, when known without listing (else counted from `data_watches`).
    pub watch_summary: Option<WatchSummary>,
    /// dump: sessions with ephemeral nodes.
    pub ephemerals: Vec<SessionPaths>,
    /// dump: session expiry buckets (ascending time).
    pub session_expiry: Vec<SessionExpiryBucket>,
    /// dump: connection expiry buckets (ascending time).
    pub conn_expiry: Vec<ConnExpiryBucket>,
    pub conf: ConfInfo,
    pub env: EnvInfo,
    pub mntr: MntrFigures,
    /// gtmk / stmk (after the server applied the new mask).
    pub trace_mask: i64,
    /// hash: (zxid, digest) history.
    pub digest_log: Vec<(i64, i64)>,
}

impl Default for ServerSnapshot {
    fn default() -> Self {
        ServerSnapshot {
            version: VERSION,
            serving: true,
            mode: Role::Standalone,
            latency_min: 0,
            latency_avg: 0.0,
            latency_max: 0,
            received: 0,
            sent: 0,
            alive_connections: 0,
            outstanding: 0,
            zxid: 0,
            node_count: 0,
            proposal_sizes: None,
            connections: Vec::new(),
            data_watches: Vec::new(),
            watch_summary: None,
            ephemerals: Vec::new(),
            session_expiry: Vec::new(),
            conn_expiry: Vec::new(),
            conf: ConfInfo::default(),
            env: EnvInfo::default(),
            mntr: MntrFigures::default(),
            // ZooTrace's default mask
            trace_mask: 306,
            digest_log: Vec::new(),
        }
    }
}
