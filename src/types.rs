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
