//! A seeded, deterministic cluster simulator for [`crate::zab`].
//!
//! It runs 3, 5 or 3+2-observer ensembles of the real replica, the real
//! DataTree and the real txn log (over `storage::device::MemDir`, whose
//! crash model keeps or tears unsynced sectors), exchanging the real peer
//! frames (every message is encoded with `peer::encode` and decoded with
//! `peer::decode_frame`). Everything, including the faults, is drawn from
//! one [`SimRng`] seeded by the run's seed, so a seed replays exactly.
//!
//! The simulated network has two kinds of traffic. Election notifications
//! are datagrams: each may be dropped, duplicated or delayed independently
//! (so they reorder). Every other frame travels on a per-pair connection
//! with TCP's guarantees: FIFO, no duplicates; losing a frame breaks the
//! connection (later frames are lost too) and, at random, resets it so both
//! ends see [`Input::PeerDisconnected`]; otherwise the ends find out through
//! their timeouts and close it themselves ([`Output::Disconnect`]).
//! Partitions (isolate one node, split, one-way) and clogged links (large
//! delays) are scheduled by the fault mix, as are crashes (the MemDir is
//! crashed with the crash model; the node restarts by recovering its log
//! with `storage::log::recover`, replaying its snapshot into a fresh tree
//! and rejoining) and failing fsyncs (the device fails, the log poisons,
//! the node crashes).
//!
//! The runtime contract is played faithfully: outputs are performed in
//! order; `PersistEpochs`, `Truncate` and `InstallSnapshot` are durable on
//! return; `Sync` schedules an fsync whose completion reports `Persisted`;
//! `Commit` applies to the tree. A snapshot here is the committed history
//! itself (the txns, re-applied on install); the log is cut on truncate by
//! rewriting it (storage has no in-place truncate yet).
//!
//! Checked after every step (a failure stops the run with a message):
//! * at most one established leader per epoch;
//! * committed prefixes agree: every replica applies exactly the global
//!   committed sequence, in order, from its start;
//! * applied zxids are contiguous (`is_successor`), appends too;
//! * the same applied zxid gives the same tree digest everywhere;
//! * a client session never reads a lower zxid than it saw, and a sync
//!   returns only once its server applied what the leader had committed;
//! * after a CloseSession no ephemeral of the session is left;
//! * the replica's own `check_invariants` and the tree's.
//!
//! At the end: after a heal phase (faults off, everyone restarted) a leader
//! must be established, new writes must commit and every replica must
//! catch up (liveness); every acknowledged write is in the committed
//! sequence every caught-up replica applied; abandoned sessions expired
//! once a timeout passed under the current leader.

use crate::peer::{self, decode_frame, PeerMsg};
use crate::storage::device::{CrashModel, MemDir, SimRng};
use crate::storage::log::{is_successor, recover, LogConfig, LogError, TxnLog};
use crate::storage::record::{decode_txn_body, encode_txn_body};
use crate::tree::acl::open_acl;
use crate::tree::txn::{Txn, TxnHeader, TxnOp};
use crate::tree::DataTree;
use crate::types::{FxHashMap, SessionId, Zxid};
use crate::zab::{self, Boot, Faults, Input, Output, Replica, Role, ServerId};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
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

/// One run's parameters.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub voters: usize,
    pub observers: usize,
    pub mix: Mix,
    /// Milliseconds of faults, then of healing.
    pub fault_ms: u64,
    pub heal_ms: u64,
    pub clients: usize,
    pub faults: Faults,
    pub log_window: usize,
    pub counter_limit: u32,
    pub segment_size: u64,
    /// Bytes of data in each client create/setData (random below this).
    pub max_data: usize,
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
            fault_ms: 1500,
            heal_ms: 2500,
            clients: 3,
            faults: Faults::default(),
            log_window: 40,
            counter_limit: if seed % 7 == 3 { 60 } else { 0xffff_fffe },
            segment_size: 32 << 10,
            max_data: 40,
        }
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
    pub commits: u64,
    pub acked_writes: u64,
    pub reads: u64,
    pub syncs: u64,
    pub expirations: u64,
    pub rollovers: u64,
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
        self.commits += o.commits;
        self.acked_writes += o.acked_writes;
        self.reads += o.reads;
        self.syncs += o.syncs;
        self.expirations += o.expirations;
        self.rollovers += o.rollovers;
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
const SESSION_TIMEOUT_MS: i32 = 300;
const WALL0: i64 = 1_700_000_000_000;

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
    Client(usize),
    Fault,
    HealPartition(u64),
}

#[derive(Default)]
struct Conn {
    gen: u64,
    broken: bool,
}

struct Node {
    id: ServerId,
    up: bool,
    inc: u64,
    replica: Option<Replica>,
    log: Option<TxnLog<MemDir>>,
    /// The directory while down (the crash image).
    down_dir: Option<MemDir>,
    /// The txns in the log (after the snapshot), mirrored for truncation.
    logged: Vec<Arc<Txn>>,
    epochs: (u32, u32, ServerId),
    /// Durable snapshot: the committed history up to its last zxid.
    snap: Rc<Vec<Arc<Txn>>>,
    tree: DataTree,
    /// What the tree holds, in order.
    applied: Vec<Arc<Txn>>,
    fsync_pending: bool,
    serving: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pending {
    None,
    CreateSession(i32, u64),
    Write(i32, u64),
    Sync(i32, u64),
}

struct Client {
    server: Option<usize>,
    session: Option<SessionId>,
    live: bool,
    next_cxid: i32,
    pending: Pending,
    last_seen: Zxid,
    sessions_made: u64,
}

/// The simulator. Build with [`Sim::new`], run with [`Sim::run`].
pub struct Sim {
    cfg: SimConfig,
    rng: SimRng,
    now: u64,
    seq: u64,
    events: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Node>,
    conns: BTreeMap<(usize, usize), Conn>,
    fifo: BTreeMap<(usize, usize), u64>,
    blocked: BTreeSet<(usize, usize)>,
    clogged: BTreeMap<(usize, usize), u64>,
    partition_id: u64,
    clients: Vec<Client>,
    /// The committed sequence: (zxid, fingerprint).
    canon: Vec<(Zxid, u64)>,
    canon_at: FxHashMap<Zxid, usize>,
    digests: FxHashMap<Zxid, u64>,
    leaders: BTreeMap<u32, ServerId>,
    acked: Vec<(Zxid, u64)>,
    closed_sessions: BTreeSet<SessionId>,
    /// Abandoned sessions and when.
    abandoned: Vec<(SessionId, u64)>,
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

/// Encodes a sim snapshot (a committed history) for a SNAP frame.
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

fn sessions_of(txns: &[Arc<Txn>]) -> Vec<(SessionId, i32)> {
    let mut m = BTreeMap::new();
    for t in txns {
        match &t.op {
            TxnOp::CreateSession { timeout } => {
                m.insert(t.header.session, *timeout);
            }
            TxnOp::CloseSession => {
                m.remove(&t.header.session);
            }
            _ => {}
        }
    }
    m.into_iter().collect()
}

impl Sim {
    pub fn new(cfg: SimConfig) -> Sim {
        let n = cfg.voters + cfg.observers;
        let rng = SimRng::new(cfg.seed ^ 0x5eed_0000_c0de);
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            nodes.push(Node {
                id: i as ServerId + 1,
                up: false,
                inc: 0,
                replica: None,
                log: None,
                down_dir: Some(MemDir::new()),
                logged: Vec::new(),
                epochs: (0, 0, 0),
                snap: Rc::new(Vec::new()),
                tree: DataTree::new(),
                applied: Vec::new(),
                fsync_pending: false,
                serving: false,
            });
        }
        let clients = (0..cfg.clients)
            .map(|_| Client {
                server: None,
                session: None,
                live: false,
                next_cxid: 1,
                pending: Pending::None,
                last_seen: 0,
                sessions_made: 0,
            })
            .collect();
        Sim {
            cfg,
            rng,
            now: 0,
            seq: 0,
            events: BTreeMap::new(),
            nodes,
            conns: BTreeMap::new(),
            fifo: BTreeMap::new(),
            blocked: BTreeSet::new(),
            clogged: BTreeMap::new(),
            partition_id: 0,
            clients,
            canon: Vec::new(),
            canon_at: FxHashMap::default(),
            digests: FxHashMap::default(),
            leaders: BTreeMap::new(),
            acked: Vec::new(),
            closed_sessions: BTreeSet::new(),
            abandoned: Vec::new(),
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
        for i in 0..self.nodes.len() {
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
            self.final_checks(heal_len);
        }
        Report {
            seed: self.cfg.seed,
            violation: self.violation,
            coverage: self.cov,
        }
    }

    // -------------------------------------------------------------- events

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Tick(i, inc) => {
                if self.nodes[i].up && self.nodes[i].inc == inc {
                    let wall = WALL0 + self.now as i64;
                    self.step(i, Input::Tick { wall_ms: wall });
                    self.at(self.now + TICK_MS, Event::Tick(i, inc));
                }
            }
            Event::Deliver {
                from,
                to,
                frame,
                gen,
            } => {
                if !self.nodes[to].up {
                    return;
                }
                if let Some(g) = gen {
                    let c = self.conns.entry(key(from, to)).or_default();
                    if c.gen != g {
                        return;
                    }
                }
                match decode_frame(&frame) {
                    Ok(Some((msg, used))) if used == frame.len() => {
                        let id = self.nodes[from].id;
                        self.step(to, Input::Peer { from: id, msg });
                    }
                    other => self.fail(format!("frame did not decode: {other:?}")),
                }
            }
            Event::Disconnected { at, peer, inc } => {
                if self.nodes[at].up && self.nodes[at].inc == inc {
                    let id = self.nodes[peer].id;
                    self.step(at, Input::PeerDisconnected(id));
                }
            }
            Event::Fsync(i, inc) => {
                if self.nodes[i].up && self.nodes[i].inc == inc {
                    self.fsync(i);
                }
            }
            Event::Restart(i) => {
                if !self.nodes[i].up {
                    self.restart(i);
                }
            }
            Event::Client(c) => {
                self.client_step(c);
                let d = 4 + self.rng.below(12);
                self.at(self.now + d, Event::Client(c));
            }
            Event::Fault => {
                if !self.healing {
                    self.inject_fault();
                    let d = 40 + self.rng.below(40);
                    self.at(self.now + d, Event::Fault);
                }
            }
            Event::HealPartition(id) => {
                if id == self.partition_id && !self.blocked.is_empty() {
                    self.blocked.clear();
                    self.cov.partitions_healed += 1;
                }
            }
        }
    }

    /// Steps replica `i` and performs its outputs.
    fn step(&mut self, i: usize, input: Input<'_>) {
        let mut out = Vec::new();
        let Some(r) = self.nodes[i].replica.as_mut() else {
            return;
        };
        let shown = if self.trace {
            match &input {
                Input::Tick { .. } => None,
                Input::Peer { from, msg } => Some(format!("from {from}: {}", show(msg))),
                other => Some(format!("{other:?}")),
            }
        } else {
            None
        };
        r.step(input, &mut out);
        r.check_invariants();
        if self.trace {
            let outs: Vec<String> = out
                .iter()
                .filter_map(|o| match o {
                    Output::Send { to, frame } => match decode_frame(frame) {
                        Ok(Some((m, _))) if !matches!(m, PeerMsg::Ping { .. }) => {
                            Some(format!("->{to} {}", show(&m)))
                        }
                        _ => None,
                    },
                    Output::Append(t) => Some(format!("append {:#x}", t.header.zxid)),
                    Output::Commit(t) => Some(format!("commit {:#x}", t.header.zxid)),
                    Output::InstallSnapshot { zxid, .. } => Some(format!("install {zxid:#x}")),
                    o => Some(format!("{o:?}")),
                })
                .collect();
            if shown.is_some() || !outs.is_empty() {
                eprintln!(
                    "{:>5} n{} [{:?} e{} last {:#x} c {:#x}] {} => {}",
                    self.now,
                    i + 1,
                    r.role(),
                    r.current_epoch(),
                    r.last_zxid(),
                    r.committed(),
                    shown.unwrap_or_else(|| "tick".into()),
                    outs.join(", ")
                );
            }
        }
        self.perform(i, out);
    }

    fn perform(&mut self, i: usize, out: Vec<Output>) {
        let mut later: Vec<Input<'static>> = Vec::new();
        for o in out {
            if !self.nodes[i].up || self.violation.is_some() {
                return;
            }
            match o {
                Output::Send { to, frame } => self.send(i, to as usize - 1, frame),
                Output::SendSnapshot { to, zxid } => {
                    let n = &self.nodes[i];
                    let at = n.applied.last().map_or(0, |t| t.header.zxid);
                    if at != zxid {
                        self.fail(format!(
                            "node {} asked to send a snapshot at {zxid:#x} but applied {at:#x}",
                            n.id
                        ));
                        return;
                    }
                    let data = encode_snapshot(&n.applied);
                    let mut f = Vec::new();
                    peer::encode(&PeerMsg::Snap { zxid, data: &data }, &mut f);
                    self.send(i, to as usize - 1, f.into());
                }
                Output::Disconnect { peer } => {
                    self.reset_conn(i, peer as usize - 1, false, true);
                }
                Output::PersistEpochs {
                    accepted,
                    current,
                    accepted_from,
                } => {
                    self.nodes[i].epochs = (accepted, current, accepted_from);
                }
                Output::Append(t) => self.append(i, t),
                Output::Sync => {
                    if !self.nodes[i].fsync_pending {
                        self.nodes[i].fsync_pending = true;
                        // Mostly quick, sometimes a stalled fsync.
                        let d = if self.rng.chance(10) {
                            10 + self.rng.below(40)
                        } else {
                            1 + self.rng.below(4)
                        };
                        let inc = self.nodes[i].inc;
                        self.at(self.now + d, Event::Fsync(i, inc));
                    }
                }
                Output::Truncate { after } => {
                    let n = &mut self.nodes[i];
                    n.logged.retain(|t| t.header.zxid <= after);
                    self.rewrite_log(i);
                }
                Output::InstallSnapshot { zxid, data } => {
                    let Some(txns) = decode_snapshot(&data) else {
                        self.fail("snapshot did not decode".into());
                        return;
                    };
                    let last = txns.last().map_or(0, |t| t.header.zxid);
                    if last != zxid {
                        self.fail(format!("snapshot says {zxid:#x} but ends at {last:#x}"));
                        return;
                    }
                    let n = &mut self.nodes[i];
                    n.tree = DataTree::new();
                    n.applied.clear();
                    for t in &txns {
                        self.apply(i, t.clone());
                    }
                    let n = &mut self.nodes[i];
                    n.snap = Rc::new(txns);
                    n.logged.clear();
                    self.rewrite_log(i);
                    later.push(Input::SessionsRestored {
                        sessions: sessions_of(&self.nodes[i].snap),
                    });
                }
                Output::Commit(t) => self.apply(i, t),
                Output::Request { body, .. } => match decode_txn_body(0, &body) {
                    Ok(t) => later.push(Input::Propose(t)),
                    Err(e) => self.fail(format!("forwarded request did not decode: {e}")),
                },
                Output::Rejected { session, cxid } => {
                    for c in self.clients.iter_mut() {
                        if c.session == Some(session)
                            && matches!(c.pending, Pending::Write(x, _) | Pending::Sync(x, _) | Pending::CreateSession(x, _) if x == cxid)
                        {
                            c.pending = Pending::None;
                        }
                    }
                }
                Output::SyncDone {
                    session,
                    cxid,
                    zxid,
                } => {
                    let have = self.nodes[i].tree.last_zxid;
                    if have < zxid {
                        self.fail(format!(
                            "sync answered at node {} with {have:#x} applied, leader had {zxid:#x}",
                            self.nodes[i].id
                        ));
                        return;
                    }
                    for c in self.clients.iter_mut() {
                        if c.session == Some(session)
                            && c.server == Some(i)
                            && c.pending == Pending::Sync(cxid, c.pending_at())
                        {
                            c.pending = Pending::None;
                            c.last_seen = c.last_seen.max(have);
                            self.cov.syncs += 1;
                        }
                    }
                }
                Output::RoleChanged { serving, .. } => {
                    self.nodes[i].serving = serving;
                    if !serving {
                        for c in self.clients.iter_mut() {
                            if c.server == Some(i) {
                                c.server = None;
                                c.pending = Pending::None;
                            }
                        }
                    }
                }
                Output::Revalidated { .. } => {}
                Output::Established { epoch } => {
                    self.cov.elections += 1;
                    let id = self.nodes[i].id;
                    if let Some(&other) = self.leaders.get(&epoch) {
                        if other != id {
                            self.fail(format!(
                                "two established leaders in epoch {epoch}: {other} and {id}"
                            ));
                            return;
                        }
                    }
                    self.leaders.insert(epoch, id);
                    self.established_at = self.now;
                }
            }
        }
        for inp in later {
            self.step(i, inp);
        }
    }

    // ------------------------------------------------------------- network

    fn send(&mut self, from: usize, to: usize, frame: Arc<[u8]>) {
        if to >= self.nodes.len() || to == from {
            self.fail(format!("send to bad peer {to}"));
            return;
        }
        let ty = frame.get(5).copied().unwrap_or(0);
        match ty {
            5 => self.cov.diffs += 1,
            6 => self.cov.truncs += 1,
            7 => self.cov.snaps += 1,
            _ => {}
        }
        let datagram = ty == peer::MsgType::Notification as u8;
        let net = self.cfg.mix.net() && !self.healing;
        let down = !self.nodes[to].up || self.blocked.contains(&(from, to));
        let clog = self.clogged.get(&(from, to)).copied().unwrap_or(0);
        let clog = clog.saturating_sub(self.now);
        if datagram {
            if down || (net && self.rng.chance(10)) {
                return;
            }
            let copies = if net && self.rng.chance(5) { 2 } else { 1 };
            for _ in 0..copies {
                let d = 1 + self.rng.below(if net { 12 } else { 4 }) + clog;
                self.at(
                    self.now + d,
                    Event::Deliver {
                        from,
                        to,
                        frame: frame.clone(),
                        gen: None,
                    },
                );
            }
            return;
        }
        let k = key(from, to);
        let broken = self.conns.entry(k).or_default().broken;
        if broken {
            return;
        }
        if down || (net && self.rng.chance(1)) {
            // The frame is lost: the connection is broken from here on.
            self.conns.entry(k).or_default().broken = true;
            if self.rng.chance(50) {
                self.reset_conn(from, to, true, self.nodes[to].up);
            }
            return;
        }
        let gen = self.conns.entry(k).or_default().gen;
        let d = 1 + self.rng.below(if net { 6 } else { 3 }) + clog;
        let t = (self.now + d).max(self.fifo.get(&(from, to)).copied().unwrap_or(0));
        self.fifo.insert((from, to), t);
        self.at(
            t,
            Event::Deliver {
                from,
                to,
                frame,
                gen: Some(gen),
            },
        );
    }

    /// A new connection between `a` and `b`: frames of the old one are
    /// dropped; the chosen ends are told the old one broke.
    fn reset_conn(&mut self, a: usize, b: usize, tell_a: bool, tell_b: bool) {
        self.cov.resets += 1;
        let c = self.conns.entry(key(a, b)).or_default();
        c.gen += 1;
        c.broken = false;
        for (at, peer, tell) in [(a, b, tell_a), (b, a, tell_b)] {
            if tell && self.nodes[at].up {
                let inc = self.nodes[at].inc;
                self.at(self.now, Event::Disconnected { at, peer, inc });
            }
        }
    }

    // ---------------------------------------------------------------- disk

    fn append(&mut self, i: usize, t: Arc<Txn>) {
        let n = &mut self.nodes[i];
        if let Some(prev) = n.logged.last() {
            if !is_successor(prev.header.zxid, t.header.zxid) {
                let msg = format!(
                    "node {} appends {:#x} after {:#x}",
                    n.id, t.header.zxid, prev.header.zxid
                );
                self.fail(msg);
                return;
            }
        }
        let Some(log) = n.log.as_mut() else {
            return;
        };
        match log.append(&t) {
            Ok(_) => n.logged.push(t),
            Err(LogError::Device(_)) | Err(LogError::Poisoned) => self.crash(i),
            Err(e) => self.fail(format!("append failed: {e}")),
        }
    }

    fn fsync(&mut self, i: usize) {
        self.nodes[i].fsync_pending = false;
        let fail = self.cfg.mix.disk() && !self.healing && self.rng.chance(3);
        let n = &mut self.nodes[i];
        let Some(log) = n.log.as_mut() else {
            return;
        };
        if fail {
            // The write reaches the device, the fsync fails.
            if log.flush().is_err() {
                self.crash(i);
                return;
            }
            for name in log.dir().names() {
                if let Some(d) = log.dir().file(&name) {
                    d.fail_from_now();
                }
            }
        }
        match log.sync() {
            Ok(d) => {
                let through = if log.last_zxid().is_some() { d } else { 0 };
                self.step(i, Input::Persisted { through });
            }
            Err(_) => {
                self.cov.fsync_failures += 1;
                self.crash(i);
            }
        }
    }

    /// Rewrites node `i`'s log to hold exactly `logged`, durably.
    fn rewrite_log(&mut self, i: usize) {
        let cfg = self.log_cfg();
        let n = &mut self.nodes[i];
        let mut log = match TxnLog::create(MemDir::new(), cfg) {
            Ok(l) => l,
            Err(e) => {
                self.fail(format!("log create: {e}"));
                return;
            }
        };
        for t in &n.logged {
            if let Err(e) = log.append(t) {
                let msg = format!("log rewrite: {e}");
                self.fail(msg);
                return;
            }
        }
        if let Err(e) = log.sync() {
            self.fail(format!("log rewrite sync: {e}"));
            return;
        }
        self.nodes[i].log = Some(log);
    }

    fn crash(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if !n.up {
            return;
        }
        if self.trace {
            eprintln!("{:>5} n{} CRASH", self.now, i + 1);
        }
        self.cov.crashes += 1;
        if n.replica.as_ref().is_some_and(|r| r.is_syncing()) {
            self.cov.crashes_mid_sync += 1;
        }
        if let Some(r) = &n.replica {
            self.cov.rollovers += r.stats().rollovers;
            self.cov.expirations += r.stats().expired;
        }
        let model = if self.rng.chance(50) {
            CrashModel::MIXED
        } else {
            CrashModel::LOSE_ALL
        };
        let dir = match n.log.take() {
            Some(l) => l.dir().crash(&mut self.rng, model),
            None => MemDir::new(),
        };
        n.down_dir = Some(dir);
        n.up = false;
        n.inc += 1;
        n.replica = None;
        n.serving = false;
        n.fsync_pending = false;
        for c in self.clients.iter_mut() {
            if c.server == Some(i) {
                c.server = None;
                c.pending = Pending::None;
            }
        }
        for p in 0..self.nodes.len() {
            if p != i {
                self.reset_conn(i, p, false, true);
            }
        }
        let back = if self.healing {
            self.now + 1
        } else {
            self.now + 30 + self.rng.below(300)
        };
        self.at(back, Event::Restart(i));
    }

    fn restart(&mut self, i: usize) {
        let cfg = self.log_cfg();
        let mut dir = self.nodes[i].down_dir.take().unwrap_or_default();
        let rec = match recover(&mut dir) {
            Ok(r) => r,
            Err(e) => {
                self.fail(format!("node {} log recovery refused: {e}", i + 1));
                return;
            }
        };
        if rec.torn.is_some() {
            self.cov.torn_tails += 1;
        }
        let log = match TxnLog::open(dir, cfg, &rec) {
            Ok(l) => l,
            Err(e) => {
                self.fail(format!("log open: {e}"));
                return;
            }
        };
        let n = &mut self.nodes[i];
        let base = n.snap.last().map_or(0, |t| t.header.zxid);
        if let Some(first) = rec.txns.first() {
            if !is_successor(base, first.header.zxid) {
                let msg = format!(
                    "node {} log starts at {:#x} after snapshot {base:#x}",
                    n.id, first.header.zxid
                );
                self.fail(msg);
                return;
            }
        }
        n.log = Some(log);
        n.logged = rec.txns.iter().cloned().map(Arc::new).collect();
        n.up = true;
        n.inc += 1;
        n.tree = DataTree::new();
        n.applied.clear();
        let snap = n.snap.clone();
        for t in snap.iter() {
            self.apply(i, t.clone());
        }
        let n = &mut self.nodes[i];
        let boot = Boot {
            accepted_epoch: n.epochs.0,
            current_epoch: n.epochs.1,
            accepted_from: n.epochs.2,
            base,
            sessions: sessions_of(&snap),
            log: rec.txns,
        };
        let mut out = Vec::new();
        let r = Replica::new(self.zcfg(i), boot, &mut out);
        self.nodes[i].replica = Some(r);
        let inc = self.nodes[i].inc;
        let t = self.now + 1 + self.rng.below(TICK_MS);
        self.at(t, Event::Tick(i, inc));
        self.perform(i, out);
    }

    // -------------------------------------------------------------- apply

    fn apply(&mut self, i: usize, t: Arc<Txn>) {
        let z = t.header.zxid;
        let fp = fingerprint(&t);
        let n = &mut self.nodes[i];
        let k = n.applied.len();
        if let Some(prev) = n.applied.last() {
            if !is_successor(prev.header.zxid, z) {
                let msg = format!("node {} applies {z:#x} after {:#x}", n.id, prev.header.zxid);
                self.fail(msg);
                return;
            }
        }
        match self.canon.get(k) {
            Some(&(cz, cfp)) => {
                if (cz, cfp) != (z, fp) {
                    let msg = format!(
                        "committed prefixes diverge: node {} applies {z:#x} at position {k}, committed there is {cz:#x}{}",
                        n.id,
                        if cz == z { " with other content" } else { "" }
                    );
                    self.fail(msg);
                    return;
                }
            }
            None => {
                self.canon.push((z, fp));
                self.canon_at.insert(z, k);
                self.cov.commits += 1;
            }
        }
        let mut res = Vec::new();
        n.tree.apply((*t).clone(), &mut |_| {}, &mut res);
        n.applied.push(t.clone());
        if k % 16 == 0 {
            n.tree.check_invariants();
        }
        let d = tree_digest(&n.tree);
        let id = n.id;
        match self.digests.get(&z) {
            Some(&d0) if d0 != d => {
                self.fail(format!("node {id} tree digest at {z:#x} differs"));
                return;
            }
            Some(_) => {}
            None => {
                self.digests.insert(z, d);
            }
        }
        if matches!(t.op, TxnOp::CloseSession) {
            let s = t.header.session;
            self.closed_sessions.insert(s);
            if self.nodes[i].tree.ephemerals_of(s).next().is_some() {
                self.fail(format!(
                    "node {id}: ephemerals of closed session {s:#x} remain"
                ));
                return;
            }
        }
        // Replies to this server's clients.
        for c in self.clients.iter_mut() {
            if c.server != Some(i) || c.session != Some(t.header.session) {
                continue;
            }
            if matches!(t.op, TxnOp::CloseSession) {
                c.session = None;
                c.live = false;
                c.pending = Pending::None;
                c.last_seen = c.last_seen.max(z);
                continue;
            }
            match c.pending {
                Pending::CreateSession(x, _) if x == t.header.cxid => {
                    c.live = true;
                    c.pending = Pending::None;
                    c.last_seen = c.last_seen.max(z);
                }
                Pending::Write(x, _) if x == t.header.cxid => {
                    c.pending = Pending::None;
                    c.last_seen = c.last_seen.max(z);
                    self.acked.push((z, fp));
                    self.cov.acked_writes += 1;
                }
                _ => {}
            }
        }
    }

    // ------------------------------------------------------------- faults

    fn inject_fault(&mut self) {
        let n = self.nodes.len();
        let mix = self.cfg.mix;
        let roll = self.rng.below(100);
        if mix.crash() && roll < 25 {
            let i = self.rng.below(n as u64) as usize;
            let up = self.nodes.iter().filter(|x| x.up).count();
            if self.nodes[i].up && up > 1 {
                self.crash(i);
            }
        } else if mix.net() && roll < 50 && self.blocked.is_empty() {
            self.partition_id += 1;
            self.cov.partitions += 1;
            let x = self.rng.below(n as u64) as usize;
            match self.rng.below(3) {
                0 => {
                    // Isolate one node.
                    for p in 0..n {
                        if p != x {
                            self.blocked.insert((x, p));
                            self.blocked.insert((p, x));
                        }
                    }
                }
                1 => {
                    // Split: a random minority side.
                    let side: Vec<usize> = (0..n).filter(|_| self.rng.chance(40)).collect();
                    for &a in &side {
                        for b in 0..n {
                            if !side.contains(&b) {
                                self.blocked.insert((a, b));
                                self.blocked.insert((b, a));
                            }
                        }
                    }
                }
                _ => {
                    // One-way: x cannot reach some peers.
                    for p in 0..n {
                        if p != x && self.rng.chance(60) {
                            self.blocked.insert((x, p));
                        }
                    }
                }
            }
            let d = 60 + self.rng.below(500);
            let id = self.partition_id;
            self.at(self.now + d, Event::HealPartition(id));
        } else if mix.net() && roll < 65 {
            let a = self.rng.below(n as u64) as usize;
            let b = self.rng.below(n as u64) as usize;
            if a != b {
                let until = self.now + 50 + self.rng.below(250);
                self.clogged.insert((a, b), until);
            }
        }
    }

    fn heal(&mut self) {
        self.healing = true;
        if !self.blocked.is_empty() {
            self.blocked.clear();
            self.cov.partitions_healed += 1;
        }
        self.clogged.clear();
        for i in 0..self.nodes.len() {
            if !self.nodes[i].up {
                self.at(self.now + 1, Event::Restart(i));
            }
        }
    }

    // ------------------------------------------------------------ clients

    fn client_step(&mut self, ci: usize) {
        let now = self.now;
        // Give up on requests that got no answer (outcome unknown).
        let c = &mut self.clients[ci];
        match c.pending {
            Pending::Write(_, t) | Pending::Sync(_, t) if now > t + 400 => {
                c.pending = Pending::None
            }
            Pending::CreateSession(_, t) if now > t + 400 => {
                c.pending = Pending::None;
                c.session = None;
            }
            _ => {}
        }
        // A session create that was refused or lost: start over (if it
        // commits after all, nobody pings it and the leader expires it).
        if c.session.is_some() && !c.live && c.pending == Pending::None {
            c.session = None;
        }
        // Connect to a serving server that has seen what we saw.
        if self.clients[ci].server.is_none() {
            let last_seen = self.clients[ci].last_seen;
            let ok: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| {
                    let n = &self.nodes[i];
                    n.up && n.serving && n.tree.last_zxid >= last_seen
                })
                .collect();
            if ok.is_empty() {
                return;
            }
            let s = ok[self.rng.below(ok.len() as u64) as usize];
            self.clients[ci].server = Some(s);
        }
        let Some(si) = self.clients[ci].server else {
            return;
        };
        let c = &self.clients[ci];
        if c.pending != Pending::None {
            if let Some(s) = c.session.filter(|_| c.live) {
                self.step(si, Input::Touch { session: s });
            }
            return;
        }
        let Some(session) = c.session else {
            if self.quiet {
                return;
            }
            let c = &mut self.clients[ci];
            c.sessions_made += 1;
            let s = ((ci as i64 + 1) << 40) | c.sessions_made as i64;
            c.session = Some(s);
            c.live = false;
            let op = TxnOp::CreateSession {
                timeout: SESSION_TIMEOUT_MS,
            };
            self.submit(ci, si, op, true);
            return;
        };
        if !self.clients[ci].live {
            return;
        }
        self.step(si, Input::Touch { session });
        if self.quiet {
            return;
        }
        let roll = self.rng.below(100);
        let tree = &self.nodes[si].tree;
        let root_kids: Vec<String> = {
            let mut v: Vec<String> = tree
                .get("/")
                .map(|r| r.children().map(|c| c.to_string()).collect())
                .unwrap_or_default();
            v.retain(|k| k.starts_with('c') || k.starts_with('s'));
            v.sort();
            v
        };
        let root_cv = tree.get("/").map_or(0, |r| r.cversion());
        let data_len = self.rng.below(self.cfg.max_data as u64 + 1) as usize;
        let data: Box<[u8]> = (0..data_len).map(|k| (k as u8) ^ (roll as u8)).collect();
        if roll < 30 {
            // Read: never older than what this session saw.
            let z = self.nodes[si].tree.last_zxid;
            let c = &mut self.clients[ci];
            if z < c.last_seen {
                let msg = format!(
                    "session {session:#x} read {z:#x} at node {} after seeing {:#x}",
                    si + 1,
                    c.last_seen
                );
                self.fail(msg);
                return;
            }
            c.last_seen = z;
            self.cov.reads += 1;
            return;
        }
        let op = if roll < 45 {
            let k = self.rng.below(30);
            let (path, seq) = if self.rng.chance(30) {
                (format!("/s-{:010}", root_cv), true)
            } else {
                (format!("/c{k}"), false)
            };
            let _ = seq;
            TxnOp::Create {
                path: path.into(),
                data: Some(data),
                acl: open_acl(),
                owner: 0,
                parent_cversion: root_cv + 1,
            }
        } else if roll < 60 {
            let k = self.rng.below(1000);
            TxnOp::Create {
                path: format!("/e{:x}-{k}", session).into(),
                data: Some(data),
                acl: open_acl(),
                owner: session,
                parent_cversion: root_cv + 1,
            }
        } else if roll < 78 && !root_kids.is_empty() {
            let p = &root_kids[self.rng.below(root_kids.len() as u64) as usize];
            let path = format!("/{p}");
            let v = self.nodes[si].tree.get(&path).map_or(0, |n| n.version());
            TxnOp::SetData {
                path: path.into(),
                data: Some(data),
                version: v + 1,
            }
        } else if roll < 88 && !root_kids.is_empty() {
            let p = &root_kids[self.rng.below(root_kids.len() as u64) as usize];
            TxnOp::Delete {
                path: format!("/{p}").into(),
            }
        } else if roll < 95 {
            let c = &mut self.clients[ci];
            let cxid = c.next_cxid;
            c.next_cxid += 1;
            c.pending = Pending::Sync(cxid, now);
            self.step(si, Input::Sync { session, cxid });
            return;
        } else if roll < 98 {
            TxnOp::CloseSession
        } else {
            // Abandon the session: stop pinging; the leader must expire it.
            self.abandoned.push((session, now));
            let c = &mut self.clients[ci];
            c.session = None;
            c.live = false;
            c.server = None;
            return;
        };
        self.submit(ci, si, op, false);
    }

    fn submit(&mut self, ci: usize, si: usize, op: TxnOp, create: bool) {
        let now = self.now;
        let c = &mut self.clients[ci];
        let Some(session) = c.session else {
            return;
        };
        let cxid = c.next_cxid;
        c.next_cxid += 1;
        c.pending = if create {
            Pending::CreateSession(cxid, now)
        } else {
            Pending::Write(cxid, now)
        };
        let txn = Txn {
            header: TxnHeader {
                session,
                cxid,
                zxid: 0,
                time: WALL0 + now as i64,
            },
            op,
        };
        let leader = self.nodes[si]
            .replica
            .as_ref()
            .is_some_and(|r| r.role() == Role::Leading);
        if leader {
            self.step(si, Input::Propose(txn));
        } else {
            let mut body = Vec::new();
            encode_txn_body(&mut body, &txn);
            self.step(
                si,
                Input::Forward {
                    session,
                    cxid,
                    opcode: 1,
                    body: &body,
                },
            );
        }
    }

    // -------------------------------------------------------------- final

    fn caught_up(&self) -> bool {
        self.nodes
            .iter()
            .all(|n| n.up && n.serving && n.applied.len() == self.canon.len())
    }

    fn final_checks(&mut self, heal_len: usize) {
        for n in &self.nodes {
            if let Some(r) = &n.replica {
                self.cov.rollovers += r.stats().rollovers;
                self.cov.expirations += r.stats().expired;
            }
        }
        let leaders: Vec<ServerId> = self
            .nodes
            .iter()
            .filter(|n| {
                n.serving
                    && n.replica
                        .as_ref()
                        .is_some_and(|r| r.role() == Role::Leading)
            })
            .map(|n| n.id)
            .collect();
        if leaders.len() != 1 {
            self.fail(format!(
                "liveness: {} serving leaders after healing ({leaders:?})",
                leaders.len()
            ));
            return;
        }
        // A zxid a client saw must still exist somewhere after healing.
        let best = self
            .nodes
            .iter()
            .filter(|n| n.serving)
            .map(|n| n.tree.last_zxid)
            .max()
            .unwrap_or(0);
        if let Some(c) = self.clients.iter().find(|c| c.last_seen > best) {
            let msg = format!(
                "a session saw zxid {:#x} but the newest serving replica has {best:#x}: committed txns lost",
                c.last_seen
            );
            self.fail(msg);
            return;
        }
        if self.canon.len() <= heal_len {
            let cs: Vec<String> = self
                .clients
                .iter()
                .map(|c| {
                    format!(
                        "server {:?} session {:?} live {} pending {:?} seen {:#x}",
                        c.server, c.session, c.live, c.pending, c.last_seen
                    )
                })
                .collect();
            self.fail(format!(
                "liveness: nothing committed after healing; clients: {cs:?}"
            ));
            return;
        }
        for n in &self.nodes {
            if !n.up || !n.serving || n.applied.len() != self.canon.len() {
                let msg = format!(
                    "liveness: node {} not caught up after healing (up {}, serving {}, applied {} of {})",
                    n.id,
                    n.up,
                    n.serving,
                    n.applied.len(),
                    self.canon.len()
                );
                self.fail(msg);
                return;
            }
        }
        for &(z, fp) in &self.acked {
            match self.canon_at.get(&z) {
                Some(&k) if self.canon[k] == (z, fp) => {}
                _ => {
                    self.fail(format!("acknowledged write {z:#x} lost"));
                    return;
                }
            }
        }
        let d0 = tree_digest(&self.nodes[0].tree);
        for n in &self.nodes {
            n.tree.check_invariants();
            if tree_digest(&n.tree) != d0 {
                let msg = format!("node {} final tree differs", n.id);
                self.fail(msg);
                return;
            }
            for s in &self.closed_sessions {
                if n.tree.ephemerals_of(*s).next().is_some() {
                    let msg = format!("node {}: ephemerals of closed session {s:#x}", n.id);
                    self.fail(msg);
                    return;
                }
            }
        }
        // Abandoned sessions that were created must have expired.
        let created: BTreeSet<SessionId> = self.nodes[0]
            .applied
            .iter()
            .filter(|t| matches!(t.op, TxnOp::CreateSession { .. }))
            .map(|t| t.header.session)
            .collect();
        for &(s, at) in &self.abandoned {
            // Due: a full timeout (plus a margin of ticks) after both the
            // abandonment and the current leader's establishment.
            let due = at.max(self.established_at) + SESSION_TIMEOUT_MS as u64 + 5 * TICK_MS;
            if created.contains(&s) && !self.closed_sessions.contains(&s) && self.now > due {
                self.fail(format!("abandoned session {s:#x} never expired"));
                return;
            }
        }
    }
}

impl Client {
    fn pending_at(&self) -> u64 {
        match self.pending {
            Pending::None => 0,
            Pending::CreateSession(_, t) | Pending::Write(_, t) | Pending::Sync(_, t) => t,
        }
    }
}

fn show(m: &PeerMsg<'_>) -> String {
    match m {
        PeerMsg::Proposal { zxid, .. } => format!("Proposal {zxid:#x}"),
        PeerMsg::Inform { zxid, .. } => format!("Inform {zxid:#x}"),
        PeerMsg::Snap { zxid, .. } => format!("Snap {zxid:#x}"),
        PeerMsg::Request { session, cxid, .. } => format!("Request {session:#x}/{cxid}"),
        PeerMsg::Notification(n) => format!(
            "Note r{} {:?} votes {} ({:#x}, e{})",
            n.round, n.state, n.proposed_leader, n.last_zxid, n.peer_epoch
        ),
        m => format!("{m:?}"),
    }
}

fn key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// Runs one seed, turning a panic into a violation.
pub fn run_seed(cfg: SimConfig) -> Report {
    let seed = cfg.seed;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Sim::new(cfg).run())) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Report {
                seed,
                violation: Some(format!("panic: {msg}")),
                coverage: Coverage::default(),
            }
        }
    }
}
