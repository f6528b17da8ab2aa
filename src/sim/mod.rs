//! A seeded, deterministic cluster simulator. It runs 3, 5 or
//! 3+2-observer ensembles of the real [`Node`] (the same type the server
//! runs: the client-facing core, the ZAB replica and the glue between
//! them), with simulated clients that speak the client protocol
//! ([`client`]), the real txn log (over `storage::device::MemDir`, whose
//! crash model keeps or tears unsynced sectors), real snapshots (the
//! snapshot file format) and the real peer frames. Everything, faults
//! included, is drawn from one [`SimRng`] seeded by the run's seed, so a
//! seed replays exactly (`SIM_SEED=N cargo test --release --test sim
//! replay`, `SIM_TRACE=1` for every step).
//!
//! The network: election notifications are datagrams (dropped, duplicated,
//! delayed so they reorder); every other peer frame travels on a per-pair
//! connection with TCP's guarantees (FIFO, no duplicates; a lost frame
//! breaks the connection and, at random, resets it so both ends see it);
//! partitions (isolate one, split, one-way) and clogged links. Clients
//! reach servers over FIFO connections with small random delays; a server
//! crash ends its connections. Disks: crashes with the MemDir crash model,
//! stalled and failing fsyncs, snapshots taken at random. The fault mix
//! follows the seed ([`Mix`]); with `swarm`, the probabilities of each
//! fault and client operation are drawn per seed too, some turned off.
//!
//! The simulator performs each node's [`Effect`]s as the runtime does:
//! in order, `PersistEpochs`, `Truncate` and `InstallSnapshot` durable on
//! return, `Sync` an fsync whose completion is reported with
//! [`Node::durable`].
//!
//! Checked after every step (a failure stops the run with a message):
//! * at most one established leader per epoch;
//! * committed prefixes agree: every node applies exactly the global
//!   committed sequence, in order, from the state it started from;
//! * the same applied zxid gives the same tree digest everywhere;
//! * after a CloseSession no ephemeral of the session is left;
//! * at the end, every node's ephemerals are exactly those the committed
//!   sequence leaves (created, owner not closed or expired, not deleted);
//! * no node refuses a proposal of its own core or a snapshot;
//! * clients: replies come in request order, and no frame a session
//!   receives carries a zxid below one it saw (reads never go back and
//!   see the session's own writes);
//! * the replica's own invariants and the tree's.
//!
//! At the end: after a heal phase (faults off, everyone restarted) a leader
//! serves, new txns commit, every node catches up to the same tree, every
//! answered write is in the committed sequence, abandoned sessions expired,
//! and each key's history (creates, conditional and unconditional setData,
//! deletes, check+setData multis, failed ones included, and sync+getData)
//! is linearizable ([`crate::lincheck`]).

mod client;

pub use client::ClientStats;
use client::{Act, Client, Shared};

use crate::lincheck::{check_partitioned, Znode};
use crate::node::{self, Effect, Node, Notice};
use crate::peer::{self, decode_frame, PeerMsg};
use crate::server::{CoreConfig, CoreFaults};
use crate::storage::device::{CrashModel, MemDir, SimRng};
use crate::storage::log::{is_successor, recover, LogConfig, LogError, TxnLog};
use crate::storage::record::{decode_txn_body, encode_txn_body};
use crate::storage::snapshot::encode_tree;
use crate::storage::state;
use crate::tree::txn::{is_ephemeral, Txn, TxnOp};
use crate::tree::DataTree;
use crate::types::{ConnId, FxHashMap, Now, SessionId, Zxid};
use crate::zab::{self, Faults, ServerId, ZabState};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Which faults a run injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// None: elections, workload, sessions.
    Calm,
    /// Datagram loss/dup/reorder, broken connections, partitions, clogs.
    Network,
    /// Crashes and restarts (lost unsynced writes, torn tails).
    Crash,
    /// Crashes plus failing fsyncs.
    Disk,
    /// All of the above.
    Chaos,
}

impl Mix {
    pub const ALL: [Mix; 5] = [Mix::Calm, Mix::Network, Mix::Crash, Mix::Disk, Mix::Chaos];
    fn net(self) -> bool {
        matches!(self, Mix::Network | Mix::Chaos)
    }
    fn crash(self) -> bool {
        matches!(self, Mix::Crash | Mix::Disk | Mix::Chaos)
    }
    fn disk(self) -> bool {
        matches!(self, Mix::Disk | Mix::Chaos)
    }
}

/// Probabilities of faults (percent unless named otherwise); the mix
/// decides which kinds are on at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probs {
    pub datagram_drop: u64,
    pub datagram_dup: u64,
    /// Per mille: a connection frame is lost (the connection breaks).
    pub frame_loss_permille: u64,
    /// A broken connection is reset (both ends told).
    pub reset_on_loss: u64,
    pub slow_fsync: u64,
    pub fsync_fail: u64,
    /// Weights of the fault kinds at each fault event (out of 100).
    pub crash: u64,
    pub partition: u64,
    pub clog: u64,
    /// A snapshot is taken at a node at each fault event.
    pub snapshot: u64,
    /// Milliseconds between fault events: `gap..2*gap`.
    pub fault_gap_ms: u64,
}

impl Default for Probs {
    fn default() -> Probs {
        Probs {
            datagram_drop: 10,
            datagram_dup: 5,
            frame_loss_permille: 10,
            reset_on_loss: 50,
            slow_fsync: 10,
            fsync_fail: 3,
            crash: 25,
            partition: 25,
            clog: 15,
            snapshot: 10,
            fault_gap_ms: 40,
        }
    }
}

impl Probs {
    /// Swarm testing: each probability drawn per seed, about a third of
    /// them turned off entirely, so that rare combinations get runs where
    /// one fault dominates.
    pub fn swarm(rng: &mut SimRng) -> Probs {
        let mut pick = |max: u64| {
            if rng.chance(30) {
                0
            } else {
                rng.below(max + 1)
            }
        };
        Probs {
            datagram_drop: pick(40),
            datagram_dup: pick(20),
            frame_loss_permille: pick(40),
            reset_on_loss: pick(100),
            slow_fsync: pick(50),
            fsync_fail: pick(10),
            crash: pick(50),
            partition: pick(50),
            clog: pick(40),
            snapshot: pick(40),
            fault_gap_ms: 10 + rng.below(80),
        }
    }
}

/// One run's parameters.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub voters: usize,
    pub observers: usize,
    pub mix: Mix,
    pub probs: Probs,
    /// Milliseconds of faults, then of healing.
    pub fault_ms: u64,
    pub heal_ms: u64,
    pub clients: usize,
    /// Keys the clients contend on (`/k0`, `/k1`, ...).
    pub keys: usize,
    /// ZAB rule breakers (tests of the checker).
    pub faults: Faults,
    /// Core rule breakers (tests of the checker).
    pub core_faults: CoreFaults,
    pub log_window: usize,
    pub counter_limit: u32,
    pub segment_size: u64,
    /// `readonlymode.enabled` on every server: one without a leader for a
    /// while enters read-only mode (and refuses the simulated clients,
    /// which do not ask for it) until a role change.
    pub read_only_mode: bool,
}

impl SimConfig {
    /// The standard run for `seed`: the shape and the mix follow the seed.
    pub fn for_seed(seed: u64) -> SimConfig {
        let (voters, observers) = match seed % 3 {
            0 => (3, 0),
            1 => (5, 0),
            _ => (3, 2),
        };
        SimConfig {
            seed,
            voters,
            observers,
            mix: Mix::ALL[((seed / 3) % 5) as usize],
            probs: Probs::default(),
            fault_ms: 1500,
            heal_ms: 2500,
            clients: 4,
            keys: 3,
            faults: Faults::default(),
            core_faults: CoreFaults::default(),
            log_window: 40,
            counter_limit: if seed % 7 == 3 { 60 } else { 0xffff_fffe },
            segment_size: 32 << 10,
            read_only_mode: false,
        }
    }

    /// [`SimConfig::for_seed`] with swarm probabilities: every fault kind
    /// on (Chaos), each with a probability drawn from the seed.
    pub fn swarm(seed: u64) -> SimConfig {
        let mut c = SimConfig::for_seed(seed);
        let mut rng = SimRng::new(seed ^ 0x5a4a_12d0_0bad_f00d);
        c.mix = Mix::Chaos;
        c.probs = Probs::swarm(&mut rng);
        c.clients = 2 + rng.below(5) as usize;
        c.keys = 1 + rng.below(4) as usize;
        // From a stream of its own, so the draws above stay as they were.
        c.read_only_mode = SimRng::new(seed ^ 0x7e4d_0011_da7a_5eed).below(2) == 0;
        c
    }
}

/// What a run exercised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub runs: u64,
    pub elections: u64,
    pub diffs: u64,
    pub truncs: u64,
    pub snaps: u64,
    pub crashes: u64,
    pub crashes_mid_sync: u64,
    pub fsync_failures: u64,
    pub torn_tails: u64,
    pub partitions: u64,
    pub partitions_healed: u64,
    pub resets: u64,
    pub snapshots_taken: u64,
    pub restarts_from_snapshot: u64,
    pub commits: u64,
    pub expirations: u64,
    pub rollovers: u64,
    /// Times a server entered read-only mode.
    pub read_only_periods: u64,
    /// Operations in the linearizability histories (completed ones).
    pub checked_ops: u64,
    pub clients: ClientStats,
}

impl Coverage {
    pub fn add(&mut self, o: &Coverage) {
        self.runs += o.runs;
        self.elections += o.elections;
        self.diffs += o.diffs;
        self.truncs += o.truncs;
        self.snaps += o.snaps;
        self.crashes += o.crashes;
        self.crashes_mid_sync += o.crashes_mid_sync;
        self.fsync_failures += o.fsync_failures;
        self.torn_tails += o.torn_tails;
        self.partitions += o.partitions;
        self.partitions_healed += o.partitions_healed;
        self.resets += o.resets;
        self.snapshots_taken += o.snapshots_taken;
        self.restarts_from_snapshot += o.restarts_from_snapshot;
        self.commits += o.commits;
        self.expirations += o.expirations;
        self.rollovers += o.rollovers;
        self.read_only_periods += o.read_only_periods;
        self.checked_ops += o.checked_ops;
        let (a, b) = (&mut self.clients, &o.clients);
        a.sessions += b.sessions;
        a.reattached += b.reattached;
        a.refused += b.refused;
        a.moves += b.moves;
        a.conn_losses += b.conn_losses;
        a.give_ups += b.give_ups;
        a.cas_ok += b.cas_ok;
        a.cas_failed += b.cas_failed;
        a.synced_reads += b.synced_reads;
        a.watches_set += b.watches_set;
        a.watch_events += b.watch_events;
        a.reads += b.reads;
        a.unknown += b.unknown;
    }
}

/// A run's outcome.
#[derive(Clone, Debug)]
pub struct Report {
    pub seed: u64,
    pub violation: Option<String>,
    pub coverage: Coverage,
}

const TICK_MS: u64 = 10;
const WALL0: i64 = 1_700_000_000_000;
const SNAP_BLOCK: usize = 4 << 10;

enum Event {
    Tick(usize, u64),
    Deliver {
        from: usize,
        to: usize,
        frame: Arc<[u8]>,
        /// Connection generation (None: datagram).
        gen: Option<u64>,
    },
    Disconnected {
        at: usize,
        peer: usize,
        inc: u64,
    },
    Fsync(usize, u64),
    Restart(usize),
    /// A client's own step.
    Client(usize),
    /// Client bytes reach server `node` (of incarnation `inc`); `close`:
    /// the client closed its side after them.
    ToServer {
        node: usize,
        inc: u64,
        conn: ConnId,
        bytes: Vec<u8>,
        close: bool,
    },
    /// Server bytes reach a client; `close`: the connection ended.
    ToClient {
        client: usize,
        conn: ConnId,
        bytes: Vec<u8>,
        close: bool,
    },
    Fault,
    HealPartition(u64),
}

#[derive(Default)]
struct Conn {
    gen: u64,
    broken: bool,
}

struct Server {
    id: ServerId,
    up: bool,
    inc: u64,
    node: Option<Node>,
    log: Option<TxnLog<MemDir>>,
    /// The directory while down (the crash image).
    down_dir: Option<MemDir>,
    /// The txns in the log, mirrored for truncation.
    logged: Vec<Arc<Txn>>,
    epochs: (u32, u32, ServerId),
    /// The durable snapshot (the snapshot file format).
    snap: Option<Arc<[u8]>>,
    /// How much of the committed sequence the node's tree holds.
    applied: usize,
    fsync_pending: bool,
    serving: bool,
    /// Client connections open here: conn -> client.
    conns: BTreeMap<ConnId, usize>,
}

/// The simulator. Build with [`Sim::new`], run with [`Sim::run`].
pub struct Sim {
    cfg: SimConfig,
    rng: SimRng,
    now: u64,
    seq: u64,
    /// Node steps taken (paces the costlier checks).
    steps: u64,
    events: BTreeMap<(u64, u64), Event>,
    servers: Vec<Server>,
    conns: BTreeMap<(usize, usize), Conn>,
    fifo: BTreeMap<(usize, usize), u64>,
    /// Delivery order of client connections (FIFO per direction).
    cfifo: FxHashMap<(ConnId, bool), u64>,
    blocked: BTreeSet<(usize, usize)>,
    clogged: BTreeMap<(usize, usize), u64>,
    partition_id: u64,
    clients: Vec<Client>,
    shared: Shared,
    next_conn: u64,
    /// The committed sequence: (zxid, fingerprint).
    canon: Vec<(Zxid, u64)>,
    canon_at: FxHashMap<Zxid, usize>,
    digests: FxHashMap<Zxid, u64>,
    leaders: BTreeMap<u32, ServerId>,
    created_sessions: BTreeSet<SessionId>,
    /// Writes whose txn committed: (key, index) -> (when, what it did;
    /// None: nothing, e.g. its session had expired).
    resolved: BTreeMap<(usize, usize), (u64, Option<crate::lincheck::ZnodeOut>)>,
    closed_sessions: BTreeSet<SessionId>,
    /// The ephemerals the committed sequence leaves: path -> owner.
    ephemerals: BTreeMap<String, SessionId>,
    /// When the latest leader was established (session deadlines restart).
    established_at: u64,
    healing: bool,
    quiet: bool,
    violation: Option<String>,
    cov: Coverage,
    /// Print every step (SIM_TRACE=1 with SIM_SEED).
    trace: bool,
}

fn fingerprint(t: &Txn) -> u64 {
    let mut b = Vec::new();
    encode_txn_body(&mut b, t);
    fnv(fnv(0xcbf2_9ce4_8422_2325, &t.header.zxid.to_le_bytes()), &b)
}

fn fnv(mut h: u64, b: &[u8]) -> u64 {
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// A deterministic digest of a tree: every node's path, data, stat and
/// ACL, visited in sorted path order.
pub fn tree_digest(t: &DataTree) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut stack = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        let Some(n) = t.get(&p) else {
            continue;
        };
        h = fnv(h, p.as_bytes());
        match n.data() {
            Some(d) => {
                h = fnv(h, &(d.len() as u64).to_le_bytes());
                h = fnv(h, d);
            }
            None => h = fnv(h, b"-"),
        }
        let s = n.stat();
        for v in [
            s.czxid,
            s.mzxid,
            s.pzxid,
            s.ctime,
            s.mtime,
            s.version as i64,
            s.cversion as i64,
            s.aversion as i64,
            n.owner(),
            s.num_children as i64,
        ] {
            h = fnv(h, &v.to_le_bytes());
        }
        for a in n.acl().iter() {
            h = fnv(h, &a.perms.to_le_bytes());
            h = fnv(h, a.id.scheme.as_bytes());
            h = fnv(h, a.id.id.as_bytes());
        }
        let mut kids: Vec<&str> = n.children().collect();
        kids.sort_unstable_by(|a, b| b.cmp(a));
        for c in kids {
            stack.push(crate::tree::path::join(&p, c));
        }
    }
    h
}

/// Encodes a committed history as a snapshot payload for harnesses that
/// drive bare replicas (`tests/zab_regressions.rs`).
pub fn encode_snapshot(txns: &[Arc<Txn>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut body = Vec::new();
    for t in txns {
        body.clear();
        encode_txn_body(&mut body, t);
        out.extend_from_slice(&t.header.zxid.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// Decodes [`encode_snapshot`]'s bytes.
pub fn decode_snapshot(mut b: &[u8]) -> Option<Vec<Arc<Txn>>> {
    let mut v = Vec::new();
    while !b.is_empty() {
        let z = i64::from_le_bytes(b.get(..8)?.try_into().ok()?);
        let n = u32::from_le_bytes(b.get(8..12)?.try_into().ok()?) as usize;
        let body = b.get(12..12 + n)?;
        v.push(Arc::new(decode_txn_body(z, body).ok()?));
        b = &b[12 + n..];
    }
    Some(v)
}

impl Sim {
    pub fn new(cfg: SimConfig) -> Sim {
        let n = cfg.voters + cfg.observers;
        let rng = SimRng::new(cfg.seed ^ 0x5eed_0000_c0de);
        let servers = (0..n)
            .map(|i| Server {
                id: i as ServerId + 1,
                up: false,
                inc: 0,
                node: None,
                log: None,
                down_dir: Some(MemDir::new()),
                logged: Vec::new(),
                epochs: (0, 0, 0),
                snap: None,
                applied: 0,
                fsync_pending: false,
                serving: false,
                conns: BTreeMap::new(),
            })
            .collect();
        let clients = (0..cfg.clients).map(Client::new).collect();
        Sim {
            shared: Shared::new(cfg.keys),
            cfg,
            rng,
            now: 0,
            seq: 0,
            steps: 0,
            events: BTreeMap::new(),
            servers,
            conns: BTreeMap::new(),
            fifo: BTreeMap::new(),
            cfifo: FxHashMap::default(),
            blocked: BTreeSet::new(),
            clogged: BTreeMap::new(),
            partition_id: 0,
            clients,
            next_conn: 0,
            canon: Vec::new(),
            canon_at: FxHashMap::default(),
            digests: FxHashMap::default(),
            leaders: BTreeMap::new(),
            created_sessions: BTreeSet::new(),
            resolved: BTreeMap::new(),
            closed_sessions: BTreeSet::new(),
            ephemerals: BTreeMap::new(),
            established_at: 0,
            healing: false,
            quiet: false,
            violation: None,
            trace: std::env::var_os("SIM_TRACE").is_some(),
            cov: Coverage {
                runs: 1,
                ..Coverage::default()
            },
        }
    }

    fn at(&mut self, t: u64, e: Event) {
        self.seq += 1;
        self.events.insert((t, self.seq), e);
    }

    fn fail(&mut self, msg: String) {
        if self.violation.is_none() {
            self.violation = Some(format!("t={}ms: {msg}", self.now));
        }
    }

    fn time(&self) -> Now {
        Now {
            mono_ms: self.now,
            wall_ms: WALL0 + self.now as i64,
        }
    }

    fn zcfg(&self, i: usize) -> zab::Config {
        let voters: Vec<ServerId> = (1..=self.cfg.voters as u64).collect();
        let observers: Vec<ServerId> =
            (self.cfg.voters as u64 + 1..=(self.cfg.voters + self.cfg.observers) as u64).collect();
        let mut c = zab::Config::new(i as ServerId + 1, voters, observers);
        c.tick_ms = TICK_MS;
        c.init_limit = 15;
        c.sync_limit = 6;
        c.finalize_ticks = 1;
        c.notify_ticks = 3;
        c.log_window = self.cfg.log_window;
        c.counter_limit = self.cfg.counter_limit;
        c.faults = self.cfg.faults;
        c
    }

    fn core_cfg(&self, i: usize) -> CoreConfig {
        // Each incarnation draws its own ids and passwords, from the seed.
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.cfg.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&(i as u64).to_le_bytes());
        seed[16..24].copy_from_slice(&self.servers[i].inc.to_le_bytes());
        CoreConfig {
            seed: crate::server::Seed(seed),
            server_id: i as u8 + 1,
            tick_ms: 50,
            min_session_timeout_ms: 100,
            max_session_timeout_ms: 10_000,
            container_check_ms: 200,
            max_client_cnxns: 0,
            observer: i >= self.cfg.voters,
            faults: self.cfg.core_faults,
            read_only_mode: self.cfg.read_only_mode,
            read_only_grace_ms: Some(300),
            ..CoreConfig::default()
        }
    }

    fn log_cfg(&self) -> LogConfig {
        LogConfig {
            segment_size: self.cfg.segment_size,
            // Small: appends reach the device before their sync, so
            // crashes find unsynced sectors to lose or tear.
            flush_bytes: 256,
        }
    }

    /// Runs the whole scenario; returns the report.
    pub fn run(mut self) -> Report {
        for i in 0..self.servers.len() {
            let t = self.rng.below(20);
            self.at(t, Event::Restart(i));
        }
        for c in 0..self.clients.len() {
            let t = 30 + self.rng.below(30);
            self.at(t, Event::Client(c));
        }
        if self.cfg.mix != Mix::Calm {
            self.at(100, Event::Fault);
        }
        let heal_at = self.cfg.fault_ms;
        let quiet_at = heal_at + self.cfg.heal_ms.saturating_sub(600);
        let end = heal_at + self.cfg.heal_ms;
        let mut heal_len = 0;
        while let Some((&(t, s), _)) = self.events.iter().next() {
            if t > end || self.violation.is_some() {
                break;
            }
            if !self.healing && t >= heal_at {
                self.now = heal_at;
                self.heal();
                heal_len = self.canon.len();
            }
            if !self.quiet && t >= quiet_at {
                self.quiet = true;
            }
            let ev = self.events.remove(&(t, s)).expect("event present");
            self.now = t;
            self.handle(ev);
        }
        // Let in-flight commits land (clients are quiet by now).
        while self.violation.is_none() && !self.caught_up() {
            let Some((&(t, s), _)) = self.events.iter().next() else {
                break;
            };
            if t > end + 1000 {
                break;
            }
            let ev = self.events.remove(&(t, s)).expect("event present");
            self.now = t;
            self.handle(ev);
        }
        if self.violation.is_none() {
            self.violation = self.shared.violation.clone();
        }
        if self.violation.is_none() {
            self.final_checks(heal_len);
        }
        for s in &self.servers {
            if let Some(r) = s.node.as_ref().and_then(|n| n.replica()) {
                self.cov.rollovers += r.stats().rollovers;
                self.cov.expirations += r.stats().expired;
            }
        }
        for c in &self.clients {
            self.cov.add(&Coverage {
                clients: c.stats.clone(),
                ..Coverage::default()
            });
        }
        Report {
            seed: self.cfg.seed,
            violation: self.violation,
            coverage: self.cov,
        }
    }
}

mod checks;
mod run;
pub use run::run_seed;
