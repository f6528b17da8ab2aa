//! Ensemble mode: the glommio driver of a ZAB [`Replica`] next to the
//! [`Core`], on the core shard.
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
//! * Startup: the newest valid snapshot, the log replayed only through the
//!   snapshot's end zxid (its fuzzy part); everything logged after it goes
//!   to the replica as its uncommitted history, applied once ZAB commits it.
//!   So the tree only ever holds committed txns and a truncation (TRUNC)
//!   only rewrites the log.

use super::peers::{self, PeerEvent, PeerNet, PeerNetConfig, ServerId};
use super::storage::{fatal, LogCmd, StorageConfig, StorageStats};
use super::{conn, Clock, CoreHandle, CoreLink, RuntimeConfig};
use crate::node::{self, Effect, Node, NodeBoot, Notice};
use crate::peer;
use crate::storage::log::TxnLog;
use crate::storage::mmap::{sync_dir, MmapDir};
use crate::storage::snapshot::snapshot_name;
use crate::tree::txn::Txn;
use crate::types::{Now, Zxid};
use crate::zab::{self, Role};
use glommio::channels::shared_channel;
use glommio::Placement;
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
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
fn read_epochs(dir: &Path) -> Result<(u32, u32, ServerId), String> {
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

/// What startup found: the node's boot state and the open log.
struct Started {
    boot: NodeBoot,
    log: TxnLog<MmapDir>,
}

/// An ensemble member's startup: [`super::storage::recover`] (the same as
/// standalone), then only the snapshot's fuzzy range replayed; everything
/// logged after it goes to the replica as its uncommitted history.
fn start_storage(sc: &StorageConfig) -> Result<Started, String> {
    let mut r = super::storage::recover(sc)?;
    let rec = std::mem::take(&mut r.rec);
    let rec_end = rec.clone_without_txns();
    let mut boot = node::boot_state(r.snap.take(), rec)
        .map_err(|e| format!("{}: {e}", sc.log_path().display()))?;
    boot.epochs = read_epochs(&sc.snap_path())?;
    let log = r.open_log(sc, &rec_end)?;
    Ok(Started { boot, log })
}

/// The ensemble side of the core shard: performs the [`Node`]'s effects on
/// real sockets and files, and keeps the figures `mntr` shows.
pub(crate) struct Ens {
    net: PeerNet,
    to_log: super::storage::MailboxTx<LogCmd>,
    appends: RefCell<Vec<Arc<Txn>>>,
    storage: StorageConfig,
    role: Cell<Option<(Role, bool)>>,
    election_started: Cell<Option<Instant>>,
    /// How long the last election plus sync took, until serving.
    last_election: Cell<Option<Duration>>,
    /// Leader: our proposals waiting for their commit, oldest first.
    proposed: RefCell<std::collections::VecDeque<(Zxid, Instant)>>,
    /// Log syncs asked for: (last zxid appended then, when), oldest first.
    syncs: RefCell<std::collections::VecDeque<(Zxid, Instant)>>,
    last_appended: Cell<Zxid>,
    /// Microseconds from proposal to commit (leader).
    commit_us: RefCell<hdrhistogram::Histogram<u64>>,
    /// Microseconds from a sync request to its durability report.
    sync_us: RefCell<hdrhistogram::Histogram<u64>>,
    /// The log thread's counters.
    pub storage_stats: Arc<StorageStats>,
}

fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid bounds")
}

impl Ens {
    /// `mntr`'s ensemble figures.
    pub fn figures(&self, node: &Node) -> crate::server::QuorumFigures {
        use crate::proto::fourlw::{LeaderMntr, MntrValue};
        let Some(r) = node.replica() else {
            return Default::default();
        };
        let (role, serving) = self.role.get().unwrap_or((Role::Looking, false));
        let phase = if serving {
            "broadcast"
        } else {
            "synchronization"
        };
        let peer_state = match role {
            Role::Looking => "looking".to_string(),
            Role::Leading => format!("leading - {phase}"),
            Role::Following => format!("following - {phase}"),
            Role::Observing => format!("observing - {phase}"),
        };
        let mut extra = Vec::new();
        let ms = |d: Option<Duration>| MntrValue::Int(d.map_or(-1, |d| d.as_millis() as i64));
        extra.push((
            "last_election_time_ms".to_string(),
            ms(self.last_election.get()),
        ));
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
            let h = h.borrow();
            for (q, label) in [(0.5, "p50"), (0.99, "p99"), (1.0, "max")] {
                extra.push((
                    format!("{name}_{label}"),
                    MntrValue::Int(h.value_at_quantile(q) as i64),
                ));
            }
        }
        let mut leader = None;
        if role == Role::Leading {
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

    fn flush_appends(&self) {
        let batch = std::mem::take(&mut *self.appends.borrow_mut());
        self.to_log.send([LogCmd::Append(batch)]);
    }

    /// Performs the node's effects, in order; returns how many txns
    /// committed.
    pub fn perform(&self, node: &mut Node) -> u64 {
        let mut committed = 0u64;
        for e in node.take_effects() {
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
                Effect::Append(t) => {
                    if self.role.get() == Some((Role::Leading, true)) {
                        self.proposed
                            .borrow_mut()
                            .push_back((t.header.zxid, Instant::now()));
                    }
                    self.last_appended.set(t.header.zxid);
                    self.appends.borrow_mut().push(t);
                }
                Effect::Sync => {
                    self.syncs
                        .borrow_mut()
                        .push_back((self.last_appended.get(), Instant::now()));
                    self.flush_appends()
                }
                Effect::Truncate { after } => {
                    if !self.appends.borrow().is_empty() {
                        self.flush_appends();
                    }
                    self.to_log.send([LogCmd::TruncateAfter(after)]);
                }
                Effect::InstallSnapshot { zxid, data } => {
                    let dir = self.storage.snap_path();
                    let tmp = dir.join(format!("{}.tmp", snapshot_name(zxid)));
                    let r = (|| -> std::io::Result<()> {
                        let mut f = std::fs::File::create(&tmp)?;
                        f.write_all(&data)?;
                        f.sync_all()?;
                        std::fs::rename(&tmp, dir.join(snapshot_name(zxid)))?;
                        sync_dir(&dir)
                    })();
                    if let Err(e) = r {
                        fatal(&format!("writing the leader's snapshot: {e}"));
                    }
                    if !self.appends.borrow().is_empty() {
                        self.flush_appends();
                    }
                    self.to_log.send([LogCmd::Reset]);
                }
                Effect::Committed(t) => {
                    committed += 1;
                    let z = t.header.zxid;
                    let mut p = self.proposed.borrow_mut();
                    while let Some(&(pz, at)) = p.front() {
                        if pz > z {
                            break;
                        }
                        p.pop_front();
                        if pz == z {
                            let _ = self
                                .commit_us
                                .borrow_mut()
                                .record(at.elapsed().as_micros() as u64);
                        }
                    }
                }
                Effect::RoleChanged {
                    role,
                    epoch,
                    leader,
                    serving,
                } => {
                    if role == Role::Looking && self.election_started.get().is_none() {
                        self.election_started.set(Some(Instant::now()));
                    }
                    if serving {
                        if let Some(t0) = self.election_started.take() {
                            tracing::info!("serving after {:?} of election and sync", t0.elapsed());
                            self.last_election.set(Some(t0.elapsed()));
                        }
                    }
                    if !matches!(role, Role::Leading) {
                        self.proposed.borrow_mut().clear();
                    }
                    tracing::info!(
                        "role {role:?}, epoch {epoch}, leader {leader:?}, serving {serving}"
                    );
                    self.role.set(Some((role, serving)));
                }
                Effect::Established { epoch } => {
                    tracing::info!("established as leader of epoch {epoch}")
                }
                Effect::Notice(n) => match n {
                    Notice::SnapshotSent { to, zxid, bytes } => tracing::info!(
                        "sending a snapshot at {zxid:#x} ({bytes} bytes) to server {to}"
                    ),
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
            }
        }
        committed
    }

    fn on_peer_event(&self, node: &mut Node, ev: PeerEvent, now: Now) {
        match ev {
            PeerEvent::Up { .. } => {}
            PeerEvent::Down { peer, .. } => node.peer_down(peer, now),
            PeerEvent::Frame { peer, frame } => match peer::decode_frame_max(&frame, u32::MAX) {
                Ok(Some((msg, n))) if n == frame.len() => node.peer(peer, msg, now),
                other => {
                    tracing::warn!("bad frame from server {peer}: {other:?}; resetting the link");
                    self.net.reset(peer);
                }
            },
        }
    }
}

/// Runs this server as a member of an ensemble.
pub fn run(cfg: RuntimeConfig, ens: EnsembleConfig) -> std::io::Result<()> {
    let sc = cfg
        .storage
        .clone()
        .ok_or_else(|| std::io::Error::other("an ensemble needs a dataDir"))?;
    let t0 = Instant::now();
    let started = start_storage(&sc).map_err(std::io::Error::other)?;
    let (accepted, current, _) = started.boot.epochs;
    tracing::info!(
        "server {} recovered {} znodes at {:#x} and {} logged txns after it (epochs {accepted}/{current}) in {:?}",
        ens.my_id,
        started.boot.tree.node_count(),
        started.boot.base,
        started.boot.tail.len(),
        t0.elapsed()
    );
    let my_quorum = ens
        .quorum
        .iter()
        .find(|(id, _)| *id == ens.my_id)
        .map(|(_, a)| *a)
        .ok_or_else(|| std::io::Error::other(format!("no server.{} line", ens.my_id)))?;
    let listeners = super::client_listeners(&cfg)?;
    let peer_incoming = peers::listen(my_quorum, "corral-peer-acceptor")?;
    let stats = Arc::new(StorageStats::default());
    let log = super::storage::spawn_log_thread(started.log, sc.clone(), stats.clone())?;
    let snap_tx = super::storage::spawn_snap_thread(sc.clone(), stats.clone())?;
    let (accept_tx, accept_rx) = shared_channel::new_bounded(64);
    let load = conn::ShardLoad::new(1);
    let budget = super::fds::client_socket_budget(1, ens.quorum.len());
    let core_load = load.clone();
    let clock = Clock {
        start: Instant::now(),
    };
    let h = super::executor("corral-shard-0", Placement::Unbound)
        .spin_before_park(cfg.spin.executor_spin())
        .spawn(move || async move {
            let now = clock.now();
            let per_tick = |limit: u32| u64::from(limit) * u64::from(ens.tick_time_ms) / TICK_MS;
            let mut zc = zab::Config::new(ens.my_id, ens.voters.clone(), ens.observers.clone());
            zc.tick_ms = TICK_MS;
            zc.init_limit = per_tick(ens.init_limit).max(20);
            zc.sync_limit = per_tick(ens.sync_limit).max(10);
            let mut node = Node::new(cfg.core.clone(), zc, started.boot, now);
            node.record_commits(true);
            let local = Rc::new(conn::ConnTable::default());
            let shared = conn::ConnShared {
                throttle: conn::Throttle::default(),
                load: core_load,
            };
            let handle = Rc::new(CoreHandle {
                node: RefCell::new(node),
                local: local.clone(),
                remote: vec![None],
                clock,
                extras: crate::server::AdminExtras {
                    conf: cfg.conf.clone(),
                    ..Default::default()
                },
                cfg: cfg.clone(),
                throttle: shared.throttle.clone(),
                // Snapshots of the committed tree, as standalone (the
                // replica drives the log itself).
                log: Some(super::LogSide {
                    to_log: None,
                    snap: snap_tx,
                    stats: stats.clone(),
                    cfg: sc.clone(),
                    since_snap: Cell::new(0),
                }),
                ens: std::cell::OnceCell::new(),
            });
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
                peer_incoming,
            );
            let to_log = super::storage::MailboxTx {
                mailbox: log.mailbox,
                bell: log.bell.connect().await,
            };
            let e = Rc::new(Ens {
                net: net.clone(),
                to_log,
                appends: RefCell::new(Vec::new()),
                storage: sc,
                role: Cell::new(None),
                election_started: Cell::new(Some(Instant::now())),
                last_election: Cell::new(None),
                proposed: RefCell::new(Default::default()),
                syncs: RefCell::new(Default::default()),
                last_appended: Cell::new(0),
                commit_us: RefCell::new(histogram()),
                sync_us: RefCell::new(histogram()),
                storage_stats: stats,
            });
            let _ = handle.ens.set(e.clone());
            handle.flush();
            // Peer frames.
            {
                let (h, e) = (handle.clone(), e.clone());
                glommio::spawn_local(async move {
                    loop {
                        let ev = e.net.next().await;
                        {
                            let now = h.clock.now();
                            let mut node = h.node.borrow_mut();
                            e.on_peer_event(&mut node, ev, now);
                            while let Some(ev) = e.net.try_next() {
                                e.on_peer_event(&mut node, ev, now);
                            }
                        }
                        h.flush();
                    }
                })
                .detach();
            }
            // Durability reports.
            {
                let (h, e) = (handle.clone(), e.clone());
                let rx = log.durable;
                glommio::spawn_local(async move {
                    let rx = rx.connect().await;
                    while let Some(z) = rx.recv().await {
                        {
                            let mut s = e.syncs.borrow_mut();
                            while let Some(&(sz, at)) = s.front() {
                                if sz > z {
                                    break;
                                }
                                s.pop_front();
                                let _ = e
                                    .sync_us
                                    .borrow_mut()
                                    .record(at.elapsed().as_micros() as u64);
                            }
                        }
                        let now = h.clock.now();
                        h.node.borrow_mut().durable(z, now);
                        h.flush();
                    }
                    fatal("the log thread stopped");
                })
                .detach();
            }
            // Ticks.
            {
                let h = handle.clone();
                glommio::spawn_local(async move {
                    loop {
                        glommio::timer::sleep(Duration::from_millis(TICK_MS)).await;
                        h.flush();
                        let now = h.clock.now();
                        h.node.borrow_mut().tick(now);
                        h.flush();
                    }
                })
                .detach();
            }
            super::start_http(&handle)?;
            conn::accept_loop(0, cfg, CoreLink::Local(handle), local, accept_rx, shared).await
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let acceptor = super::executor("corral-acceptor", Placement::Unbound)
        .spawn(move || conn::acceptor(listeners, vec![accept_tx], load, budget, super::incoming))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    h.join()
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    acceptor
        .join()
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{Core, CoreConfig};
    use crate::storage::state;

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
