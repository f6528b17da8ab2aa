//! ZAB: one server's replication state machine, sans-IO.
//!
//! A [`Replica`] is driven by [`Input`]s (a tick, a decoded peer frame, a
//! txn to propose, "the log is durable through zxid", a peer connection
//! lost, ...) and answers with [`Output`]s (send a frame, append to the log,
//! fsync, truncate, apply a committed txn, install or send a snapshot,
//! persist the epochs, role changes). It reads no clock, does no I/O, owns
//! no thread and draws no random numbers: the runtime and the simulator
//! drive it identically. Peer frames are the [`crate::peer`] codec's.
//!
//! Phases, as in ZooKeeper (election in `election.rs`, discovery, sync and
//! the leader's broadcast in `leader.rs`, the learner's side of them in
//! `learner.rs`; this file holds the types, stepping and the timers):
//! * **Election** (LOOKING): fast leader election. A vote is (leader,
//!   last zxid, peer epoch) within an election round; votes are ordered by
//!   (peer epoch, zxid, server id) like ZooKeeper's totalOrderPredicate.
//!   A quorum of voters agreeing on our vote, stable for `finalize_ticks`,
//!   decides. A LOOKING server that hears a quorum of FOLLOWING/LEADING
//!   notifications naming one leader (and the leader's own LEADING one)
//!   joins it. Observers never vote; they join the same way.
//! * **Discovery**: FOLLOWERINFO(acceptedEpoch) from a quorum (the leader
//!   included) lets the leader pick an epoch above all of them; it persists
//!   it as its acceptedEpoch and sends LEADERINFO; learners persist it and
//!   reply ACKEPOCH(currentEpoch, lastZxid). The leader gives up if a
//!   learner is more up to date than itself, and syncs nobody before a
//!   quorum of ACKEPOCHs passed that check.
//! * **Synchronization**: per learner, DIFF (its last zxid is in our log),
//!   TRUNC (its tail is in an epoch we know, beyond our log) or SNAP
//!   (anything else, or older than our in-memory window), then the missing
//!   proposals, a cumulative COMMIT, and NEWLEADER. A learner acknowledges
//!   NEWLEADER only once every synced txn is durable; only then does it
//!   persist the new currentEpoch (a currentEpoch ahead of the log would
//!   win elections without the history: ZOOKEEPER-3023), then it acks.
//!   A quorum of those acks (the leader's own counted only once its log is
//!   durable) establishes the leader: its whole history is committed and
//!   UPTODATE starts the learners serving.
//! * **Broadcast**: zxid = epoch << 32 | counter; proposals are pipelined
//!   in order on each learner connection; a follower acks (cumulatively)
//!   after its fsync; the leader commits at a quorum counting its own ack
//!   only after its own fsync; observers get INFORM. Reaching
//!   `counter_limit` makes the leader step down so a new epoch starts.
//!
//! Fencing: messages are only taken from the leader we follow (and the
//! runtime drops a connection's queued frames when it reports
//! [`Input::PeerDisconnected`] or performs [`Output::Disconnect`]), a
//! follower rejects a LEADERINFO below its acceptedEpoch, and a leader
//! steps down when fewer than a quorum of voters were heard within
//! `sync_limit` ticks. An old leader cannot commit once a quorum accepted a
//! newer epoch, because those voters no longer follow it.
//!
//! Sessions are global: every replica keeps the session table from
//! committed txns; the established leader tracks activity (its own clients'
//! and the touches relayed in learners' pings) and proposes CloseSession
//! for sessions silent longer than their timeout.
//!
//! Invariants ([`Replica::check_invariants`]): log zxids are contiguous
//! (`storage::log::is_successor`), base <= committed <= last, durable <=
//! last, currentEpoch <= acceptedEpoch, an established leader's epoch is
//! its currentEpoch and every learner's ack is within its log. Nothing here
//! panics on peer input: bad or unexpected frames are counted in
//! [`Stats`] and ignored, or end that peer's connection.

mod election;
mod invariants;
mod leader;
mod learner;
#[cfg(test)]
mod tests;

use crate::peer::{self, LogShape, Notification, PeerMsg, PeerState, Touches};
use crate::storage::log::is_successor;
use crate::storage::record::{decode_txn_body, encode_txn_body};
use crate::tree::txn::{Txn, TxnOp};
use crate::types::{SessionId, Zxid};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// A server's id (ZooKeeper's myid).
pub type ServerId = u64;

/// The epoch of a zxid.
pub fn epoch_of(z: Zxid) -> u32 {
    (z >> 32) as u32
}

/// The counter of a zxid.
pub fn counter_of(z: Zxid) -> u32 {
    z as u32
}

/// A zxid from its parts.
pub fn zxid(epoch: u32, counter: u32) -> Zxid {
    ((epoch as i64) << 32) | counter as i64
}

/// Test-only fault injection: each knob breaks one ZAB rule on purpose so
/// that tests can show the simulator's checker catches it. All off by
/// default; never set them outside tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// The leader counts its own ack of a proposal before its fsync.
    pub leader_ack_before_fsync: bool,
    /// A learner acks NEWLEADER before the synced txns are durable.
    pub newleader_ack_before_durable: bool,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub id: ServerId,
    /// Voting members (must contain `id` unless `id` is an observer).
    pub voters: Vec<ServerId>,
    pub observers: Vec<ServerId>,
    /// Milliseconds per tick (session timeouts are in ms).
    pub tick_ms: u64,
    /// Ticks a leader or learner may spend in discovery + sync.
    pub init_limit: u64,
    /// Ticks without hearing from the other side before giving up.
    pub sync_limit: u64,
    /// Ticks a quorum for our vote must stand before deciding.
    pub finalize_ticks: u64,
    /// Ticks between notification rebroadcasts while LOOKING.
    pub notify_ticks: u64,
    /// Committed entries kept in memory for DIFF sync; older learners get
    /// SNAP.
    pub log_window: usize,
    /// Last usable counter of an epoch (ZooKeeper: 0xffff_fffe; smaller in
    /// tests to exercise the rollover).
    pub counter_limit: u32,
    pub faults: Faults,
}

impl Config {
    /// Defaults for a server `id` of the given ensemble.
    pub fn new(id: ServerId, voters: Vec<ServerId>, observers: Vec<ServerId>) -> Config {
        Config {
            id,
            voters,
            observers,
            tick_ms: 100,
            init_limit: 10,
            sync_limit: 5,
            finalize_ticks: 1,
            notify_ticks: 2,
            log_window: 1000,
            counter_limit: 0xffff_fffe,
            faults: Faults::default(),
        }
    }
}

/// Durable state a replica starts from (after recovery).
#[derive(Clone, Debug, Default)]
pub struct Boot {
    pub accepted_epoch: u32,
    /// Who set `accepted_epoch` (see [`Output::PersistEpochs`]); 0: none.
    pub accepted_from: ServerId,
    pub current_epoch: u32,
    /// The zxid of the state the runtime loaded (snapshot); 0 if none.
    pub base: Zxid,
    /// Sessions in that state: (id, timeout ms).
    pub sessions: Vec<(SessionId, i32)>,
    /// Logged txns after `base`, in order (not necessarily committed).
    pub log: Vec<Txn>,
}

/// A replica's state in ZAB (ZooKeeper's LOOKING, FOLLOWING, LEADING,
/// OBSERVING). What the server is to its clients is [`crate::types::Role`],
/// which [`crate::node::Node`] derives from this and whether it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZabState {
    Looking,
    Following,
    Leading,
    Observing,
}

/// What the runtime feeds a replica.
#[derive(Debug)]
pub enum Input<'a> {
    /// One tick passed; `wall_ms` stamps txns the replica creates itself.
    Tick { wall_ms: i64 },
    /// A decoded frame from `from` (on its current connection).
    Peer { from: ServerId, msg: PeerMsg<'a> },
    /// The connection to `peer` broke; no more frames of it will come.
    PeerDisconnected(ServerId),
    /// The log is durable through `through` (the result of a sync).
    Persisted { through: Zxid },
    /// After [`Output::InstallSnapshot`]: the sessions of that state.
    SessionsRestored { sessions: Vec<(SessionId, i32)> },
    /// Leader: a prepped txn. Its zxid is the one the core assigned: the
    /// next of this epoch ([`Replica::next_zxid`]).
    Propose(Arc<Txn>),
    /// Learner: a client write to forward to the leader.
    Forward {
        session: SessionId,
        cxid: i32,
        opcode: i32,
        body: &'a [u8],
    },
    /// Client activity on a session connected here.
    Touch { session: SessionId },
    /// A client reconnects here with `session`: is it still valid?
    Revalidate { session: SessionId, timeout: i32 },
}

/// What a replica asks of the runtime. The runtime performs them in
/// order; those marked *durable* must be on stable storage before the
/// next output is performed.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send a complete frame to `to` on its connection (connect if none).
    Send { to: ServerId, frame: Arc<[u8]> },
    /// Send `to` a SNAP frame holding the runtime's state as of `zxid`
    /// (which is everything committed so far: the runtime applied every
    /// [`Output::Commit`] before this output).
    SendSnapshot { to: ServerId, zxid: Zxid },
    /// Close the connection to `peer` and drop its queued frames.
    Disconnect { peer: ServerId },
    /// *Durable, atomic*: write both epochs and the server whose
    /// LEADERINFO set `accepted` (ourselves when we lead it).
    PersistEpochs {
        accepted: u32,
        current: u32,
        accepted_from: ServerId,
    },
    /// Append to the log (durable only after a later [`Output::Sync`]
    /// completes and is reported with [`Input::Persisted`]).
    Append(Arc<Txn>),
    /// fsync the log, then report [`Input::Persisted`] with its last zxid.
    Sync,
    /// *Durable*: remove every logged txn after `after`.
    Truncate { after: Zxid },
    /// *Durable*: replace state and log with the snapshot (as of `zxid`);
    /// then report [`Input::SessionsRestored`].
    InstallSnapshot { zxid: Zxid, data: Vec<u8> },
    /// Apply a committed txn (in zxid order).
    Commit(Arc<Txn>),
    /// Leader: a write forwarded by learner `from`; prep it and propose.
    Request {
        from: ServerId,
        session: SessionId,
        cxid: i32,
        opcode: i32,
        body: Vec<u8>,
    },
    /// A write that cannot be served now (no leader, or a proposal out of
    /// step with this epoch).
    Rejected { session: SessionId, cxid: i32 },
    /// Leader: `session` was silent longer than its timeout; the runtime
    /// proposes its close (CloseSession) like any txn.
    Expire { session: SessionId },
    /// The answer to [`Input::Revalidate`] (false when no leader).
    Revalidated { session: SessionId, valid: bool },
    /// The state or the leader changed; `serving` = clients may be served.
    RoleChanged {
        role: ZabState,
        epoch: u32,
        leader: Option<ServerId>,
        serving: bool,
    },
    /// This server became the established leader of `epoch`.
    Established { epoch: u32 },
}

/// Counters (bad input, decisions).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub bad_frames: u64,
    pub unexpected: u64,
    pub elections: u64,
    pub diffs: u64,
    pub truncs: u64,
    pub snaps: u64,
    pub step_downs: u64,
    pub rollovers: u64,
    pub expired: u64,
}

/// A leader's view of one learner (for monitoring).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnerView {
    pub id: ServerId,
    pub observer: bool,
    /// Synced and receiving the broadcast.
    pub streaming: bool,
    /// Last zxid sent to it.
    pub sent: Zxid,
    /// Last zxid it acknowledged (observers: 0).
    pub acked: Zxid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Vote {
    leader: ServerId,
    zxid: Zxid,
    peer_epoch: u32,
}

impl Vote {
    /// ZooKeeper's totalOrderPredicate: is `self` better than `o`?
    fn beats(&self, o: &Vote) -> bool {
        (self.peer_epoch, self.zxid, self.leader) > (o.peer_epoch, o.zxid, o.leader)
    }
}

#[derive(Clone)]
struct Entry {
    txn: Arc<Txn>,
    body: Arc<[u8]>,
}

impl Entry {
    fn zxid(&self) -> Zxid {
        self.txn.header.zxid
    }
}

struct Session {
    timeout_ms: i32,
    last_touch: u64,
    closing: bool,
}

#[derive(Default)]
struct Looking {
    /// Votes of voters in our round (ours included).
    recv: BTreeMap<ServerId, Vote>,
    /// Votes of servers that are FOLLOWING/LEADING.
    out: BTreeMap<ServerId, (Vote, PeerState)>,
    quorum_since: Option<u64>,
    next_notify: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FPhase {
    AwaitLeaderInfo,
    AwaitSync,
    Syncing,
    /// NEWLEADER received.
    AwaitUpToDate,
    Broadcast,
}

struct Following {
    leader: ServerId,
    phase: FPhase,
    epoch: u32,
    /// NEWLEADER's zxid and the last zxid it covers, until acked.
    newleader: Option<(Zxid, Zxid)>,
    acked: Zxid,
    since: u64,
    heard: u64,
    touches: BTreeSet<SessionId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LPhase {
    /// FOLLOWERINFO received.
    Info,
    /// LEADERINFO sent.
    AwaitAckEpoch,
    /// ACKEPOCH received, waiting for a quorum of them. `common`: the
    /// newest zxid its log and ours both hold ([`Replica::common_point`]).
    AckedEpoch {
        current: u32,
        last: Zxid,
        common: Option<Zxid>,
    },
    /// Sync stream sent; receives every proposal/commit from now on.
    Streaming,
}

struct Learner {
    observer: bool,
    accepted_epoch: u32,
    phase: LPhase,
    /// Last zxid sent to it as a proposal (or by the sync).
    sent: Zxid,
    /// Last zxid covered by a commit or inform sent to it.
    commit_sent: Zxid,
    /// NEWLEADER zxid coverage: acked after the learner made `sent_at_nl`
    /// durable.
    sent_at_nl: Zxid,
    nl_acked: bool,
    uptodate: bool,
    acked: Zxid,
    heard: u64,
}

struct Leading {
    epoch: Option<u32>,
    established: bool,
    since: u64,
    /// Our last zxid when the new epoch's history was fixed.
    history_end: Zxid,
    synced: bool,
    learners: BTreeMap<ServerId, Learner>,
    next_counter: u32,
}

enum State {
    Looking(Looking),
    Following(Following),
    Leading(Leading),
}

/// One server's ZAB state machine. See the module docs.
pub struct Replica {
    cfg: Config,
    is_observer: bool,
    now: u64,
    wall_ms: i64,
    round: u64,
    vote: Vote,
    accepted_epoch: u32,
    current_epoch: u32,
    base: Zxid,
    log: VecDeque<Entry>,
    durable: Zxid,
    /// The newest zxid known to be committed (a quorum logged it).
    known: Zxid,
    /// The newest zxid applied: the known commit point, but never beyond
    /// our own durable log, so that the state (and any snapshot of it)
    /// never holds a txn a crash could take out of our log.
    committed: Zxid,
    sessions: BTreeMap<SessionId, Session>,
    state: State,
    stats: Stats,
    /// Outgoing appends in this step (one Sync at the end).
    need_sync: bool,
    /// The leader whose LEADERINFO set our acceptedEpoch (persisted with
    /// it): an equal epoch is accepted again only from that leader.
    accepted_from: ServerId,
    /// FOLLOWERINFOs that arrived while we were still LOOKING (a learner
    /// decided before we did): taken up if we lead, refused otherwise.
    early_infos: BTreeMap<ServerId, EarlyInfo>,
}

/// A FOLLOWERINFO kept while LOOKING.
#[derive(Clone, Copy, Debug)]
struct EarlyInfo {
    accepted_epoch: u32,
    current_epoch: u32,
    accepted_from: ServerId,
    last_zxid: Zxid,
    is_observer: bool,
}

type Out = Vec<Output>;

fn frame(msg: &PeerMsg<'_>) -> Arc<[u8]> {
    let mut v = Vec::new();
    peer::encode(msg, &mut v);
    v.into()
}

/// A learner's log shape is well formed: its base, then strictly
/// increasing zxids of strictly increasing epochs (the first may share the
/// base's epoch), ending at its last zxid.
fn shape_is_valid(shape: LogShape<'_>, last: Zxid) -> bool {
    let mut it = shape.iter();
    let Some(base) = it.next() else {
        return false;
    };
    if base < 0 {
        return false;
    }
    let (mut prev, mut prev_epoch) = (base, None);
    for z in it {
        if z <= prev || prev_epoch.is_some_and(|e| epoch_of(z) <= e) || counter_of(z) == 0 {
            return false;
        }
        prev = z;
        prev_epoch = Some(epoch_of(z));
    }
    prev == last
}

impl Replica {
    /// A replica starting LOOKING from recovered state.
    pub fn new(cfg: Config, boot: Boot, out: &mut Vec<Output>) -> Replica {
        let is_observer = cfg.observers.contains(&cfg.id);
        let mut log = VecDeque::with_capacity(boot.log.len());
        for t in boot.log {
            let mut body = Vec::new();
            encode_txn_body(&mut body, &t);
            log.push_back(Entry {
                txn: Arc::new(t),
                body: body.into(),
            });
        }
        let last = log.back().map_or(boot.base, |e| e.zxid());
        let mut r = Replica {
            is_observer,
            now: 0,
            wall_ms: 0,
            round: 0,
            vote: Vote {
                leader: cfg.id,
                zxid: last,
                peer_epoch: boot.current_epoch,
            },
            accepted_epoch: boot.accepted_epoch.max(boot.current_epoch),
            current_epoch: boot.current_epoch,
            base: boot.base,
            log,
            durable: last,
            known: boot.base,
            committed: boot.base,
            sessions: boot
                .sessions
                .into_iter()
                .map(|(s, t)| {
                    (
                        s,
                        Session {
                            timeout_ms: t,
                            last_touch: 0,
                            closing: false,
                        },
                    )
                })
                .collect(),
            state: State::Looking(Looking::default()),
            stats: Stats::default(),
            need_sync: false,
            accepted_from: boot.accepted_from,
            early_infos: BTreeMap::new(),
            cfg,
        };
        r.go_looking(out);
        r
    }

    // ------------------------------------------------------------ accessors

    pub fn id(&self) -> ServerId {
        self.cfg.id
    }
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    pub fn role(&self) -> ZabState {
        match &self.state {
            State::Looking(_) => ZabState::Looking,
            State::Following(_) if self.is_observer => ZabState::Observing,
            State::Following(_) => ZabState::Following,
            State::Leading(_) => ZabState::Leading,
        }
    }
    /// The leader we follow or are (None while LOOKING).
    pub fn leader(&self) -> Option<ServerId> {
        match &self.state {
            State::Looking(_) => None,
            State::Following(f) => Some(f.leader),
            State::Leading(_) => Some(self.cfg.id),
        }
    }
    /// True while clients may be served (established leader, or learner
    /// after UPTODATE).
    pub fn is_serving(&self) -> bool {
        match &self.state {
            State::Looking(_) => false,
            State::Following(f) => f.phase == FPhase::Broadcast,
            State::Leading(l) => l.established,
        }
    }
    /// True while in discovery or synchronization.
    pub fn is_syncing(&self) -> bool {
        match &self.state {
            State::Looking(_) => false,
            State::Following(f) => f.phase != FPhase::Broadcast,
            State::Leading(l) => !l.established,
        }
    }
    pub fn accepted_epoch(&self) -> u32 {
        self.accepted_epoch
    }
    pub fn current_epoch(&self) -> u32 {
        self.current_epoch
    }
    /// The newest zxid applied (committed and durable here).
    pub fn committed(&self) -> Zxid {
        self.committed
    }
    /// The newest zxid known to be committed (it may not be durable here
    /// yet, and so not applied).
    pub fn commit_point(&self) -> Zxid {
        self.known
    }
    pub fn durable(&self) -> Zxid {
        self.durable
    }
    pub fn last_zxid(&self) -> Zxid {
        self.log.back().map_or(self.base, |e| e.zxid())
    }
    /// Leader: each learner's (id, observer, synced and streaming, last zxid
    /// sent, last zxid it acknowledged). Empty unless leading.
    pub fn learners(&self) -> Vec<LearnerView> {
        match &self.state {
            State::Leading(l) => l
                .learners
                .iter()
                .map(|(id, x)| LearnerView {
                    id: *id,
                    observer: x.observer,
                    streaming: x.phase == LPhase::Streaming,
                    sent: x.sent,
                    acked: x.acked,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// Live sessions known here (committed creates minus closes).
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    fn epochs_output(&self) -> Output {
        Output::PersistEpochs {
            accepted: self.accepted_epoch,
            current: self.current_epoch,
            accepted_from: self.accepted_from,
        }
    }

    fn quorum(&self) -> usize {
        self.cfg.voters.len() / 2 + 1
    }
    fn is_voter(&self, s: ServerId) -> bool {
        self.cfg.voters.contains(&s)
    }
    fn is_member(&self, s: ServerId) -> bool {
        self.is_voter(s) || self.cfg.observers.contains(&s)
    }

    /// Our log's shape ([`LogShape`]): the base, then the last zxid of
    /// each epoch in the log.
    fn log_shape(&self) -> Vec<Zxid> {
        let mut v = vec![self.base];
        let mut it = self.log.iter().map(Entry::zxid).peekable();
        while let Some(z) = it.next() {
            if it.peek().is_none_or(|&n| epoch_of(n) != epoch_of(z)) {
                v.push(z);
            }
        }
        v
    }

    /// Whether our history (the base state and the log after it) holds
    /// zxid `z`.
    fn holds(&self, z: Zxid) -> bool {
        z == self.base || self.index_of(z).is_some()
    }

    /// The newest zxid that both our history and the learner's (given by
    /// its log shape) hold, if any. Two histories that hold the same zxid
    /// agree on every txn up to it (a zxid names one leader's proposal,
    /// and a log holding it was synced to that leader's history first), so
    /// this is where the learner's log and ours part.
    fn common_point(&self, shape: LogShape<'_>) -> Option<Zxid> {
        let theirs_base = shape.get(0)?;
        // Our newest zxid of epoch `e` (log or base), if any.
        let our_last_in = |e: u32| -> Option<Zxid> {
            let i = match self
                .log
                .binary_search_by_key(&zxid(e, u32::MAX), |x| x.zxid())
            {
                Ok(i) => i + 1,
                Err(i) => i,
            };
            match i.checked_sub(1).map(|k| self.log[k].zxid()) {
                Some(z) if epoch_of(z) == e => Some(z),
                _ => (epoch_of(self.base) == e).then_some(self.base),
            }
        };
        // The learner's epochs, newest first: each run of epoch `e` holds
        // every zxid from its start (counter 1, or its base when the log
        // continues the base's epoch) through its last.
        for k in (1..shape.len()).rev() {
            let hi = shape.get(k)?;
            let e = epoch_of(hi);
            let Some(ours) = our_last_in(e) else {
                continue;
            };
            let c = hi.min(ours);
            let their_lo = if epoch_of(theirs_base) == e {
                theirs_base
            } else {
                zxid(e, 1)
            };
            if c >= their_lo && self.holds(c) {
                return Some(c);
            }
        }
        self.holds(theirs_base).then_some(theirs_base)
    }

    /// Index in `log` of the entry with zxid `z`.
    fn index_of(&self, z: Zxid) -> Option<usize> {
        self.log.binary_search_by_key(&z, |e| e.zxid()).ok()
    }

    // ------------------------------------------------------------- stepping

    /// Feeds one input; appends what to do to `out`.
    pub fn step(&mut self, input: Input<'_>, out: &mut Vec<Output>) {
        match input {
            Input::Tick { wall_ms } => {
                self.now += 1;
                self.wall_ms = wall_ms;
                self.on_tick(out);
            }
            Input::Peer { from, msg } => {
                if !self.is_member(from) || from == self.cfg.id {
                    self.stats.bad_frames += 1;
                } else {
                    self.on_peer(from, msg, out);
                }
            }
            Input::PeerDisconnected(p) => self.on_disconnected(p, out),
            Input::Persisted { through } => self.on_persisted(through, out),
            Input::SessionsRestored { sessions } => {
                self.sessions = sessions
                    .into_iter()
                    .map(|(s, t)| {
                        (
                            s,
                            Session {
                                timeout_ms: t,
                                last_touch: self.now,
                                closing: false,
                            },
                        )
                    })
                    .collect();
            }
            Input::Propose(txn) => {
                let (s, c) = (txn.header.session, txn.header.cxid);
                if !self.propose(txn, out) {
                    out.push(Output::Rejected {
                        session: s,
                        cxid: c,
                    });
                }
            }
            Input::Forward {
                session,
                cxid,
                opcode,
                body,
            } => match &self.state {
                State::Following(f) if f.phase == FPhase::Broadcast => {
                    let to = f.leader;
                    out.push(Output::Send {
                        to,
                        frame: frame(&PeerMsg::Request {
                            session,
                            cxid,
                            opcode,
                            request: body,
                        }),
                    });
                }
                State::Leading(l) if l.established => out.push(Output::Request {
                    from: self.cfg.id,
                    session,
                    cxid,
                    opcode,
                    body: body.to_vec(),
                }),
                _ => out.push(Output::Rejected { session, cxid }),
            },
            Input::Touch { session } => match &mut self.state {
                State::Leading(_) => {
                    if let Some(s) = self.sessions.get_mut(&session) {
                        s.last_touch = self.now;
                    }
                }
                State::Following(f) => {
                    f.touches.insert(session);
                }
                State::Looking(_) => {}
            },
            Input::Revalidate { session, timeout } => match &self.state {
                State::Leading(l) if l.established => {
                    let now = self.now;
                    let valid = match self.sessions.get_mut(&session) {
                        Some(s) if !s.closing => {
                            s.last_touch = now;
                            true
                        }
                        _ => false,
                    };
                    out.push(Output::Revalidated { session, valid });
                }
                State::Following(f) if f.phase == FPhase::Broadcast => {
                    let to = f.leader;
                    out.push(Output::Send {
                        to,
                        frame: frame(&PeerMsg::Revalidate { session, timeout }),
                    });
                }
                _ => out.push(Output::Revalidated {
                    session,
                    valid: false,
                }),
            },
        }
        if std::mem::take(&mut self.need_sync) {
            out.push(Output::Sync);
        }
        debug_assert!({
            self.check_invariants();
            true
        });
    }

    // ------------------------------------------------------------ dispatch

    fn on_peer(&mut self, from: ServerId, msg: PeerMsg<'_>, out: &mut Out) {
        if let PeerMsg::Notification(n) = msg {
            if n.server_id != from {
                self.stats.bad_frames += 1;
                return;
            }
            self.on_notification(from, n, out);
            return;
        }
        match &self.state {
            State::Leading(_) => self.on_from_learner(from, msg, out),
            State::Following(f) if f.leader == from => self.on_from_leader(msg, out),
            State::Looking(_) => {
                if let PeerMsg::FollowerInfo {
                    server_id,
                    accepted_epoch,
                    current_epoch,
                    accepted_from,
                    last_zxid,
                    is_observer,
                } = msg
                {
                    if server_id == from {
                        self.early_infos.insert(
                            from,
                            EarlyInfo {
                                accepted_epoch,
                                current_epoch,
                                accepted_from,
                                last_zxid,
                                is_observer,
                            },
                        );
                        return;
                    }
                }
                self.stats.unexpected += 1;
            }
            _ => {
                // A session frame from someone we have no session with.
                self.stats.unexpected += 1;
                if matches!(msg, PeerMsg::FollowerInfo { .. }) {
                    out.push(Output::Disconnect { peer: from });
                }
            }
        }
    }

    fn on_disconnected(&mut self, p: ServerId, out: &mut Out) {
        match &mut self.state {
            State::Following(f) if f.leader == p => self.go_looking(out),
            State::Leading(l) => {
                l.learners.remove(&p);
            }
            _ => {}
        }
    }

    fn on_persisted(&mut self, through: Zxid, out: &mut Out) {
        let d = through.min(self.last_zxid());
        if d <= self.durable {
            return;
        }
        self.durable = d;
        self.apply_ready(out);
        match &self.state {
            State::Following(_) => self.maybe_ack(out),
            State::Leading(_) => {
                self.try_establish(out);
                self.try_commit(out);
            }
            State::Looking(_) => {}
        }
    }

    fn on_tick(&mut self, out: &mut Out) {
        let now = self.now;
        let q = self.quorum();
        match &mut self.state {
            State::Looking(lk) => {
                if now >= lk.next_notify {
                    lk.next_notify = now + self.cfg.notify_ticks;
                    self.broadcast_notification(out);
                }
                if !self.is_observer {
                    self.check_election(out);
                }
            }
            State::Following(f) => {
                let limit = if f.phase == FPhase::Broadcast {
                    now.saturating_sub(f.heard) > self.cfg.sync_limit
                } else {
                    now.saturating_sub(f.since) > self.cfg.init_limit
                        || now.saturating_sub(f.heard) > self.cfg.init_limit
                };
                if limit {
                    self.go_looking(out);
                }
            }
            State::Leading(l) => {
                if !l.established {
                    if now.saturating_sub(l.since) > self.cfg.init_limit {
                        self.stats.step_downs += 1;
                        self.go_looking(out);
                    }
                    return;
                }
                let ping = frame(&PeerMsg::Ping {
                    sessions: Touches::from_slice(&[]),
                });
                let mut alive = 1;
                for (s, x) in l.learners.iter() {
                    if x.phase == LPhase::Streaming {
                        out.push(Output::Send {
                            to: *s,
                            frame: ping.clone(),
                        });
                    }
                    if !x.observer
                        && x.nl_acked
                        && now.saturating_sub(x.heard) <= self.cfg.sync_limit
                        && self.cfg.voters.contains(s)
                    {
                        alive += 1;
                    }
                }
                if alive < q {
                    self.stats.step_downs += 1;
                    self.go_looking(out);
                    return;
                }
                // Drop learners that went silent (they will reconnect).
                let dead: Vec<ServerId> = l
                    .learners
                    .iter()
                    .filter(|(_, x)| now.saturating_sub(x.heard) > self.cfg.init_limit)
                    .map(|(s, _)| *s)
                    .collect();
                for s in dead {
                    l.learners.remove(&s);
                    out.push(Output::Disconnect { peer: s });
                }
                self.expire_sessions(out);
            }
        }
    }

    fn expire_sessions(&mut self, out: &mut Out) {
        let now = self.now;
        let tick = self.cfg.tick_ms.max(1);
        let due: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                let ticks = (s.timeout_ms.max(0) as u64).div_ceil(tick);
                !s.closing && now.saturating_sub(s.last_touch) > ticks
            })
            .map(|(id, _)| *id)
            .collect();
        for s in due {
            self.stats.expired += 1;
            if let Some(x) = self.sessions.get_mut(&s) {
                // Once: a close that never commits (we step down first) is
                // asked for again after the next leader's full timeout.
                x.closing = true;
            }
            out.push(Output::Expire { session: s });
        }
    }
}
