//! File descriptors. At startup the process raises its soft
//! `RLIMIT_NOFILE` to the hard limit (as the JVM does for ZooKeeper), and
//! client sockets get a budget below it: the acceptor closes a connection
//! at once while the budget is used up, so the descriptors the server needs
//! for itself (log segments, snapshots written and sent, the epoch file,
//! peer links, the metrics endpoint, the shards' rings) are always there.
//! Running out of descriptors for clients never stops the server.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Descriptors kept from clients whatever the shape of the server: log
/// segments and their directory, snapshots being written, read and
/// installed, the epoch file, std streams, the metrics endpoint.
const RESERVED: u64 = 64;
/// Per shard: io_uring rings, eventfds, epoll.
const PER_SHARD: u64 = 16;
/// Per server of an ensemble: its link, a re-dial, a snapshot stream.
const PER_SERVER: u64 = 4;

/// Raises the soft limit to the hard one (where allowed) and returns how
/// many client connections may be open at once.
pub(crate) fn client_socket_budget(shards: usize, servers: usize) -> usize {
    let limit = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(e) => {
            tracing::warn!("RLIMIT_NOFILE unknown ({e}); assuming 1024");
            1024
        }
    };
    let reserve = RESERVED + PER_SHARD * shards as u64 + PER_SERVER * servers as u64;
    let budget = limit.saturating_sub(reserve).max(1);
    tracing::info!(
        "file descriptors: limit {limit}, {reserve} kept for the server, at most {budget} client connections"
    );
    usize::try_from(budget).unwrap_or(usize::MAX)
}
