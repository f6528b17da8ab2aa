//! Ensemble mode: what an ensemble member's runtime does beyond a
//! standalone server's (the startup, the shards and the log are the same,
//! `runtime/mod.rs`, `effects.rs`, `storage.rs`), on the core shard.
//!
//! * One [`PeerNet`] on this server's quorum port carries every ZAB frame
//!   (election included): one FIFO link per pair of servers, which is what
//!   the replica (and the simulator that checks it) assume. The election
//!   port of `server.N` lines is accepted in the config and left unused.
//! * Inputs: peer frames (decoded with [`crate::peer`]; a bad one resets that
//!   link), link losses, a tick every [`TICK_MS`], the log thread's "durable
//!   through", and after every client batch the core's proposals (leader),
//!   forwards and syncs (learner) and session touches.
//! * Outputs are performed in order: frames to the links; appends and
//!   syncs, truncations and resets to the log thread (`storage.rs`; one FIFO, so
//!   a durability report always follows everything queued before it);
//!   epochs to `dataDir/version-2/zabEpochs` (temp file, fsync, rename,
//!   directory fsync) before the next output; snapshots sent and installed;
//!   commits applied by the core; role changes given to the core (a change
//!   closes client connections, as ZooKeeper does).
//! * Startup ([`super::storage::start`]): the newest valid snapshot, the
//!   log replayed only through the snapshot's end zxid (its fuzzy part);
//!   everything logged after it goes to the replica as its uncommitted
//!   history, applied once ZAB commits it. So the tree only ever holds
//!   committed txns and a truncation (TRUNC) only rewrites the log.

use super::peers::{self, PeerEvent, PeerNet, PeerNetConfig, ServerId};
use super::storage::{fatal, StorageConfig};
use super::CoreHandle;
use crate::node::{Effect, Node, Notice};
use crate::peer;
use crate::storage::mmap::sync_dir;
use crate::storage::snapshot::snapshot_name;
use crate::types::{Now, Zxid};
use crate::zab::{self, ZabState};
use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The replica's tick. ZooKeeper's `initLimit`/`syncLimit` (in `tickTime`
/// units) are converted to this finer tick, so elections and failure
/// detection react in tens of milliseconds.
pub const TICK_MS: u64 = 50;

/// The smallest peer frame body cap, whatever `jute.maxbuffer` says: a
/// snapshot chunk and its header always fit.
const MIN_PEER_BODY: u32 = (crate::node::SNAP_CHUNK as u32) + 1024;

/// This server's place in the ensemble (from the `server.N` lines and myid).
#[derive(Clone, Debug)]
pub struct EnsembleConfig {
    pub my_id: ServerId,
    pub voters: Vec<ServerId>,
    pub observers: Vec<ServerId>,
    /// Every server's quorum address (ours included).
    pub quorum: Vec<(ServerId, SocketAddr)>,
    /// ZooKeeper's `initLimit` and `syncLimit`, in ticks of `tick_time_ms`.
    pub init_limit: u32,
    pub sync_limit: u32,
    pub tick_time_ms: u32,
    /// Quorum authentication.
    pub auth: peers::PeerAuth,
    /// `sslQuorum`: TLS on every link.
    pub tls: Option<peers::PeerTls>,
    /// Peers must connect from their configured address.
    pub check_source: bool,
    /// Largest peer frame body accepted (`jute.maxbuffer` plus
    /// `jute.maxbuffer.extrasize`, as ZooKeeper bounds quorum packets).
    pub max_peer_body: u32,
}

const EPOCHS_FILE: &str = "zabEpochs";

/// (accepted, current, accepted_from) from `dir`, zeros if absent.
pub(crate) fn read_epochs(dir: &Path) -> Result<(u32, u32, ServerId), String> {
    let p = dir.join(EPOCHS_FILE);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0, 0)),
        Err(e) => return Err(format!("{}: {e}", p.display())),
    };
    let v: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", p.display()))?;
    match v[..] {
        [a, c, f] if a <= u32::MAX as u64 && c <= a => Ok((a as u32, c as u32, f)),
        _ => Err(format!(
            "{}: expected \"accepted current from\", got {text:?}",
            p.display()
        )),
    }
}

/// Replaces the epochs file atomically and durably.
fn write_epochs(dir: &Path, accepted: u32, current: u32, from: ServerId) -> std::io::Result<()> {
    let tmp = dir.join(format!("{EPOCHS_FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{accepted} {current} {from}")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(EPOCHS_FILE))?;
    sync_dir(dir)
}

impl EnsembleConfig {
    /// This server's quorum address.
    pub fn my_quorum(&self) -> std::io::Result<SocketAddr> {
        self.quorum
            .iter()
            .find(|(id, _)| *id == self.my_id)
            .map(|(_, a)| *a)
            .ok_or_else(|| std::io::Error::other(format!("no server.{} line", self.my_id)))
    }

    /// The replica's configuration: ZooKeeper's limits in [`TICK_MS`] ticks.
    pub fn zab_config(&self) -> zab::Config {
        let per_tick = |limit: u32| u64::from(limit) * u64::from(self.tick_time_ms) / TICK_MS;
        let mut zc = zab::Config::new(self.my_id, self.voters.clone(), self.observers.clone());
        zc.tick_ms = TICK_MS;
        zc.init_limit = per_tick(self.init_limit).max(20);
        zc.sync_limit = per_tick(self.sync_limit).max(10);
        zc
    }
}

/// What only an ensemble member performs of its node's effects (the log
/// is [`super::effects::NodeIo`]'s): peer frames, epochs, snapshot
/// installs, role changes; and the figures `mntr` shows.
pub(crate) struct EnsIo {
    net: PeerNet,
    storage: StorageConfig,
    election_started: Option<Instant>,
    /// How long the last election plus sync took, until serving.
    last_election: Option<Duration>,
    /// Leader: our proposals waiting for their commit, oldest first.
    proposed: VecDeque<(Zxid, Instant)>,
    /// Log syncs asked for: (last zxid appended then, when), oldest first.
    syncs: VecDeque<(Zxid, Instant)>,
    /// Microseconds from proposal to commit (leader).
    commit_us: hdrhistogram::Histogram<u64>,
    /// Microseconds from a sync request to its durability report.
    sync_us: hdrhistogram::Histogram<u64>,
}

fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid bounds")
}

impl EnsIo {
    /// Starts the peer links on the quorum port (`incoming`: its acceptor).
    pub fn start(
        ens: &EnsembleConfig,
        storage: StorageConfig,
        incoming: glommio::channels::shared_channel::SharedReceiver<std::net::TcpStream>,
    ) -> std::io::Result<EnsIo> {
        let my_quorum = ens.my_quorum()?;
        let net = PeerNet::start(
            PeerNetConfig {
                my_id: ens.my_id,
                peers: ens
                    .quorum
                    .iter()
                    .copied()
                    .filter(|(id, _)| *id != ens.my_id)
                    .collect(),
                queue_frames: 65536,
                max_body: ens.max_peer_body.max(MIN_PEER_BODY),
                bind: Some(my_quorum.ip()),
                auth: ens.auth.clone(),
                check_source: ens.check_source,
                tls: ens.tls.clone(),
            },
            incoming,
        );
        Ok(EnsIo {
            net,
            storage,
            election_started: Some(Instant::now()),
            last_election: None,
            proposed: VecDeque::new(),
            syncs: VecDeque::new(),
            commit_us: histogram(),
            sync_us: histogram(),
        })
    }

    /// The peer links (the task that reads them holds a clone).
    pub fn net(&self) -> PeerNet {
        self.net.clone()
    }

    /// `mntr`'s ensemble figures.
    pub fn figures(&self, node: &Node) -> crate::server::QuorumFigures {
        use crate::proto::fourlw::{LeaderMntr, MntrValue};
        let Some(r) = node.replica() else {
            return Default::default();
        };
        let (role, serving) = (r.role(), r.is_serving());
        let phase = if serving {
            "broadcast"
        } else {
            "synchronization"
        };
        let peer_state = match role {
            ZabState::Looking => "looking".to_string(),
            ZabState::Leading => format!("leading - {phase}"),
            ZabState::Following => format!("following - {phase}"),
            ZabState::Observing => format!("observing - {phase}"),
        };
        let mut extra = Vec::new();
        let ms = |d: Option<Duration>| MntrValue::Int(d.map_or(-1, |d| d.as_millis() as i64));
        extra.push(("last_election_time_ms".to_string(), ms(self.last_election)));
        let st = r.stats();
        for (k, v) in [
            ("elections", st.elections),
            ("syncs_diff", st.diffs),
            ("syncs_trunc", st.truncs),
            ("syncs_snap", st.snaps),
            ("leader_step_downs", st.step_downs),
            ("bad_peer_frames", st.bad_frames),
        ] {
            extra.push((k.to_string(), MntrValue::Int(v as i64)));
        }
        for (name, h) in [
            ("commit_latency_us", &self.commit_us),
            ("log_sync_latency_us", &self.sync_us),
        ] {
            for (q, label) in [(0.5, "p50"), (0.99, "p99"), (1.0, "max")] {
                extra.push((
                    format!("{name}_{label}"),
                    MntrValue::Int(h.value_at_quantile(q) as i64),
                ));
            }
        }
        let mut leader = None;
        if role == ZabState::Leading {
            let ls = r.learners();
            for l in &ls {
                // Proposals sent to it and not yet acknowledged.
                let depth = if l.observer {
                    0
                } else {
                    (l.sent - l.acked).max(0)
                };
                extra.push((
                    format!("follower_{}_pipeline_depth", l.id),
                    MntrValue::Int(depth),
                ));
            }
            leader = Some(LeaderMntr {
                learners: ls.len() as u64,
                synced_followers: ls.iter().filter(|l| l.streaming && !l.observer).count() as u64,
                synced_observers: ls.iter().filter(|l| l.streaming && l.observer).count() as u64,
                pending_syncs: ls.iter().filter(|l| !l.streaming).count() as u64,
                ..Default::default()
            });
        }
        crate::server::QuorumFigures {
            peer_state,
            quorum_size: r.config().voters.len() as u64,
            leader,
            extra,
        }
    }

    /// A txn was appended (a leader's own proposal starts its commit clock).
    pub fn appended(&mut self, z: Zxid, leading: bool) {
        if leading {
            self.proposed.push_back((z, Instant::now()));
        }
    }

    /// A sync was asked for with `z` the last txn appended.
    pub fn sync_asked(&mut self, z: Zxid) {
        self.syncs.push_back((z, Instant::now()));
    }

    /// The log is durable through `z`.
    pub fn synced(&mut self, z: Zxid) {
        while let Some(&(sz, at)) = self.syncs.front() {
            if sz > z {
                break;
            }
            self.syncs.pop_front();
            let _ = self.sync_us.record(at.elapsed().as_micros() as u64);
        }
    }

    /// Writes a snapshot the node installed from the leader (the log is
    /// reset after it by the caller).
    pub fn install_snapshot(&self, zxid: Zxid, data: &[u8]) {
        let dir = self.storage.snap_path();
        let tmp = dir.join(format!("{}.tmp", snapshot_name(zxid)));
        let r = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            std::fs::rename(&tmp, dir.join(snapshot_name(zxid)))?;
            sync_dir(&dir)
        })();
        if let Err(e) = r {
            fatal(&format!("writing the leader's snapshot: {e}"));
        }
    }

    /// Every effect that is not the log's.
    pub fn perform(&mut self, e: Effect) {
        match e {
            Effect::Send { to, frame } => {
                self.net.send(to, frame.to_vec());
            }
            Effect::Disconnect { peer } => self.net.reset(peer),
            Effect::PersistEpochs {
                accepted,
                current,
                accepted_from,
            } => {
                if let Err(e) =
                    write_epochs(&self.storage.snap_path(), accepted, current, accepted_from)
                {
                    fatal(&format!("writing the epochs: {e}"));
                }
            }
            Effect::Committed(t) => {
                let z = t.header.zxid;
                while let Some(&(pz, at)) = self.proposed.front() {
                    if pz > z {
                        break;
                    }
                    self.proposed.pop_front();
                    if pz == z {
                        let _ = self.commit_us.record(at.elapsed().as_micros() as u64);
                    }
                }
            }
            Effect::RoleChanged {
                role,
                epoch,
                leader,
                serving,
            } => {
                if role == ZabState::Looking && self.election_started.is_none() {
                    self.election_started = Some(Instant::now());
                }
                if serving {
                    if let Some(t0) = self.election_started.take() {
                        tracing::info!("serving after {:?} of election and sync", t0.elapsed());
                        self.last_election = Some(t0.elapsed());
                    }
                }
                if !matches!(role, ZabState::Leading) {
                    self.proposed.clear();
                }
                tracing::info!(
                    "role {role:?}, epoch {epoch}, leader {leader:?}, serving {serving}"
                );
            }
            Effect::Established { epoch } => {
                tracing::info!("established as leader of epoch {epoch}")
            }
            Effect::Notice(n) => match n {
                Notice::SnapshotSent { to, zxid, bytes } => {
                    tracing::info!("sending a snapshot at {zxid:#x} ({bytes} bytes) to server {to}")
                }
                Notice::SnapshotInstalled { zxid } => {
                    tracing::info!("installed the leader's snapshot at {zxid:#x}")
                }
                Notice::BadSnapshot { from, what } => {
                    tracing::error!("the snapshot from server {from} is invalid: {what}")
                }
                Notice::ReadOnly => {
                    tracing::info!("no leader: serving read-only clients until one is found")
                }
                Notice::ProposalRefused { zxid } => tracing::warn!(
                    "the replica refused proposal {zxid:#x}; resetting client connections"
                ),
            },
            // The log's effects are NodeIo's.
            Effect::Append(_)
            | Effect::Sync
            | Effect::Truncate { .. }
            | Effect::InstallSnapshot { .. } => {}
        }
    }
}

/// Feeds the peer links' events to the node, in arrival order.
pub(crate) fn spawn_peer_reader(h: Rc<CoreHandle>, net: PeerNet) {
    glommio::spawn_local(async move {
        loop {
            let ev = net.next().await;
            {
                let now = h.clock.now();
                let mut node = h.node.borrow_mut();
                on_peer_event(&net, &mut node, ev, now);
                while let Some(ev) = net.try_next() {
                    on_peer_event(&net, &mut node, ev, now);
                }
            }
            h.flush();
        }
    })
    .detach();
}

fn on_peer_event(net: &PeerNet, node: &mut Node, ev: PeerEvent, now: Now) {
    match ev {
        PeerEvent::Up { .. } => {}
        PeerEvent::Down { peer, .. } => node.peer_down(peer, now),
        PeerEvent::Frame { peer, frame } => match peer::decode_frame_max(&frame, u32::MAX) {
            Ok(Some((msg, n))) if n == frame.len() => node.peer(peer, msg, now),
            other => {
                tracing::warn!("bad frame from server {peer}: {other:?}; resetting the link");
                net.reset(peer);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{Core, CoreConfig};
    use crate::storage::state;
    use crate::tree::txn::Txn;

    #[test]
    fn a_full_snapshot_loads_back_into_the_same_tree() {
        let now = Now {
            mono_ms: 1,
            wall_ms: 1_700_000_000_000,
        };
        let mut core = Core::new(CoreConfig::default(), now);
        let mut t = Txn {
            header: crate::tree::txn::TxnHeader {
                session: 0x77,
                cxid: 0,
                zxid: 1,
                time: 5,
            },
            op: crate::tree::txn::TxnOp::CreateSession {
                timeout: 9000,
                passwd: None,
            },
        };
        core.replay(t.clone(), now);
        for (k, path) in ["/a", "/a/b", "/e"].iter().enumerate() {
            t.header.zxid = 2 + k as i64;
            t.op = crate::tree::txn::TxnOp::Create {
                path: (*path).into(),
                data: Some(vec![k as u8; 10].into()),
                acl: crate::tree::acl::open_acl(),
                owner: if *path == "/e" { 0x77 } else { 0 },
                parent_cversion: 1,
            };
            core.replay(t.clone(), now);
        }
        let data =
            crate::storage::snapshot::encode_tree(core.tree(), &core.session_list(), 1 << 18);
        let built = state::build_snapshot("test", &data).expect("loads");
        assert_eq!(built.zxid, 4);
        assert_eq!(built.end_zxid, 4);
        assert_eq!(
            built.sessions,
            vec![crate::session::SessionImage::legacy(0x77, 9000)]
        );
        for p in ["/a", "/a/b", "/e", "/zookeeper"] {
            let (x, y) = (built.tree.get(p).unwrap(), core.tree().get(p).unwrap());
            assert_eq!((x.stat(), x.data()), (y.stat(), y.data()), "{p}");
        }
        assert_eq!(
            built.tree.ephemerals_of(0x77).collect::<Vec<_>>(),
            vec!["/e"]
        );
    }
}
