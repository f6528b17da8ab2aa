//! Small shared newtypes and constants used across the pure core.

/// A ZooKeeper transaction id: epoch in the high 32 bits, counter in the low 32.
pub type Zxid = i64;

/// A session id as carried on the wire (positive, non-zero for live sessions).
pub type SessionId = i64;

/// Identifies one client connection inside the process: shard in the high
/// 16 bits, a per-shard counter in the low 48.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    pub fn new(shard: usize, local: u64) -> ConnId {
        ConnId(((shard as u64) << 48) | (local & 0xffff_ffff_ffff))
    }
    pub fn shard(self) -> usize {
        (self.0 >> 48) as usize
    }
}

/// Time as the core sees it. The runtime reads the clocks and passes them in;
/// nothing in the core reads a clock itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Now {
    /// Monotonic milliseconds (session expiry, latencies).
    pub mono_ms: u64,
    /// Wall-clock milliseconds since the Unix epoch (ctime/mtime of znodes).
    pub wall_ms: i64,
}

/// Deterministic hash maps and sets for the core (fixed hasher, no random seed).
pub type FxHashMap<K, V> = rustc_hash::FxHashMap<K, V>;
pub type FxHashSet<K> = rustc_hash::FxHashSet<K>;

/// The most elements a decoder reserves up front for a count read from
/// the network or the disk: a count is only bounded by the bytes of its
/// frame (up to `jute.maxbuffer`, or a peer frame), so reserving all of it
/// at once would let a small frame claim far more memory than it carries.
/// Beyond this the vector grows as elements actually decode.
pub const MAX_PREALLOC: usize = 1024;

/// What a server is to its clients: the one role every layer uses (the
/// core's rules, `srvr`'s `Mode:`, `mntr`'s `zk_server_state`, the
/// AdminServer). A member's role follows its replica's ZAB state
/// ([`crate::zab::ZabState`]) once it serves; before that it is not serving
/// (or, with `readonlymode.enabled`, read-only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Standalone,
    Leader,
    Follower,
    Observer,
    /// A member looking for a leader or syncing with one.
    NotServing,
    /// A member without a leader for a while, with `readonlymode.enabled`:
    /// it serves clients that connected with `canBeReadOnly` from its tree
    /// (committed txns only), answers every change and sync NotReadOnly,
    /// keeps the sessions it creates to itself, and refuses other clients.
    /// ZooKeeper's ReadOnlyZooKeeperServer.
    ReadOnly,
}

impl Role {
    /// A follower or an observer: forwards writes to the leader.
    pub fn is_learner(self) -> bool {
        matches!(self, Role::Follower | Role::Observer)
    }

    /// As `srvr`, `mntr` and the AdminServer print it. A member that is
    /// not serving answers only the AdminServer's `monitor`, as a follower.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Standalone => "standalone",
            Role::Leader => "leader",
            Role::Follower | Role::NotServing => "follower",
            Role::Observer => "observer",
            Role::ReadOnly => "read-only",
        }
    }
}
