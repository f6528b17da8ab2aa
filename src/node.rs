//! One server as a pure, deterministic state machine: the client side
//! ([`Core`]: connections, prep, the commit pipeline, the tree) and, for an
//! ensemble member, the replication side ([`Replica`]: ZAB), and the rules
//! that join them. The runtime (`runtime/mod.rs`, whose `effects.rs`
//! performs the effects) and the simulator (`crate::sim`) drive the same
//! [`Node`] with the same inputs, so whatever the simulator checks is what
//! the server runs. A standalone server ([`Node::alone`]) has no replica:
//! its proposals become `Append` effects and a `Sync`, and
//! [`Node::durable`] commits them.
//!
//! **Inputs**: client connections opened, bytes, closed; decoded peer
//! frames and lost peer links; "the log is durable through zxid"; a tick
//! with the time. Nothing here reads a clock, touches a socket or a file,
//! or draws a random number.
//!
//! **Outputs**: client bytes stay in the core's per-connection buffers
//! (the runtime drains them with [`Core::drain`]); everything else is an
//! [`Effect`], performed by the runtime in order: peer frames, log
//! appends/syncs/truncations, durable epochs, snapshot installs, role
//! changes.
//!
//! **The glue** (what a role means for the core):
//! * One zxid allocator: the core's pipeline. A leader's core assigns the
//!   next zxid of the replica's epoch; the replica logs and broadcasts the
//!   txn under that zxid ([`Replica::next_zxid`] must agree, else the
//!   proposal is refused and the core's pipeline starts over). Sessions
//!   the replica finds silent are closed by the core, like any write.
//! * Learners forward writes, checks, syncs and session changes to the
//!   leader ([`Core::take_forwards`]); the leader preps them
//!   ([`Core::remote_request`]), failures included (error txns), and the
//!   learner answers its client when the txn commits locally.
//! * Commits: the leader's own proposals commit from its pipeline (the
//!   client is answered there), everything else is applied as the leader
//!   sent it ([`Core::commit_txn`]).
//! * A role change closes every client connection and drops what was in
//!   flight ([`Core::set_role`]), as ZooKeeper does; sessions survive.
//! * A SNAP travels as chunks ([`SNAP_CHUNK`]); the node reassembles them
//!   (in order, contiguous, one snapshot at a time: anything else is a
//!   protocol breach) and decodes the whole before the replica sees it: a
//!   snapshot that does not decode drops the link, never half installs.

use crate::peer::{self, PeerMsg};
use crate::server::{Core, CoreConfig, Role};
use crate::storage::log::{is_successor, Recovered};
use crate::storage::snapshot::encode_tree;
use crate::storage::state::{self, Built};
use crate::tree::txn::Txn;
use crate::tree::DataTree;
use crate::types::{ConnId, Now, Zxid};
use crate::zab::{self, Input, Output, Replica, ServerId, ZabState};
use std::net::SocketAddr;
use std::sync::Arc;

/// Bytes of one block in a SNAP payload (the snapshot file format).
const SNAP_BLOCK: usize = 256 << 10;
/// A SNAP payload travels in chunks of at most this many bytes, so that no
/// peer frame is larger than a txn.
pub const SNAP_CHUNK: usize = 256 << 10;

/// What a member starts from (after recovery).
pub struct NodeBoot {
    /// The state loaded from the newest snapshot and the log through the
    /// snapshot's end (committed txns only).
    pub tree: DataTree,
    pub sessions: Vec<crate::session::SessionImage>,
    /// The zxid of that state.
    pub base: Zxid,
    /// Txns logged after `base`, in order: history not known to be
    /// committed; applied once ZAB commits them.
    pub tail: Vec<Txn>,
    /// acceptedEpoch, currentEpoch and who set acceptedEpoch.
    pub epochs: (u32, u32, ServerId),
}

impl NodeBoot {
    /// A server with no data directory: an empty tree at zxid 0.
    pub fn empty() -> NodeBoot {
        NodeBoot {
            tree: DataTree::new(),
            sessions: Vec::new(),
            base: 0,
            tail: Vec::new(),
            epochs: (0, 0, 0),
        }
    }
}

/// Splits recovered storage into the committed state to serve from and
/// the replica's history: the snapshot (if any) plus the log through the
/// snapshot's end zxid (its fuzzy part) become the tree; every txn logged
/// after that is history. Errors name what is missing.
pub fn boot_state(snap: Option<Built>, mut rec: Recovered) -> Result<NodeBoot, String> {
    let end = snap.as_ref().map_or(0, |s| s.end_zxid);
    let all = std::mem::take(&mut rec.txns);
    let (head, tail): (Vec<Txn>, Vec<Txn>) = all.into_iter().partition(|t| t.header.zxid <= end);
    rec.txns = head;
    let loaded = state::load_built(snap, rec, None).map_err(|e| e.to_string())?;
    if let Some(first) = tail.first() {
        if !is_successor(loaded.last_zxid, first.header.zxid) {
            return Err(format!(
                "the log continues at {:#x} after state {:#x}: txns missing",
                first.header.zxid, loaded.last_zxid
            ));
        }
    }
    Ok(NodeBoot {
        base: loaded.last_zxid,
        tree: loaded.tree,
        sessions: loaded.sessions,
        tail,
        epochs: (0, 0, 0),
    })
}

/// What the runtime must do, in order. Those marked *durable* are on
/// stable storage before the next effect is performed.
#[derive(Debug)]
pub enum Effect {
    /// Send a whole frame to `to` (connecting if needed).
    Send { to: ServerId, frame: Arc<[u8]> },
    /// Close the link to `peer` and drop its queued frames.
    Disconnect { peer: ServerId },
    /// *Durable, atomic*: the epochs.
    PersistEpochs {
        accepted: u32,
        current: u32,
        accepted_from: ServerId,
    },
    /// Append to the log (durable after a later `Sync`).
    Append(Arc<Txn>),
    /// fsync the log, then report [`Node::durable`] with its last zxid.
    Sync,
    /// *Durable*: drop every logged txn after `after`, then report
    /// [`Node::durable`] with the new last zxid.
    Truncate { after: Zxid },
    /// *Durable*: `data` (the snapshot file format, as of `zxid`) replaces
    /// the state: write it as the newest snapshot and empty the log. The
    /// node already serves from it.
    InstallSnapshot { zxid: Zxid, data: Arc<[u8]> },
    /// A txn was applied (committed), in zxid order. Only with
    /// [`Node::record_commits`].
    Committed(Arc<Txn>),
    /// The role or leader changed (for logs and metrics).
    RoleChanged {
        role: ZabState,
        epoch: u32,
        leader: Option<ServerId>,
        serving: bool,
    },
    /// This server became the established leader of `epoch`.
    Established { epoch: u32 },
    /// Something worth a log line.
    Notice(Notice),
}

/// Events the runtime logs.
#[derive(Debug)]
pub enum Notice {
    SnapshotSent {
        to: ServerId,
        zxid: Zxid,
        bytes: usize,
    },
    SnapshotInstalled {
        zxid: Zxid,
    },
    /// A SNAP from the leader did not decode: the link was dropped.
    BadSnapshot {
        from: ServerId,
        what: String,
    },
    /// The replica refused one of our proposals: the pipeline started over.
    ProposalRefused {
        zxid: Zxid,
    },
    /// Looking for a leader past the grace period: serving read-only
    /// clients (`readonlymode.enabled`) until a role change.
    ReadOnly,
}

/// One server. See the module docs.
pub struct Node {
    core: Core,
    /// The replica; None for a standalone server (its proposals are
    /// appended and synced as effects and commit on [`Node::durable`]).
    replica: Option<Replica>,
    effects: Vec<Effect>,
    outs: Vec<Output>,
    /// A SNAP decoded when it arrived, installed when the replica says so.
    snap: Option<Built>,
    /// A SNAP being received: (from, zxid, total, bytes so far).
    chunks: Option<(ServerId, Zxid, u64, Vec<u8>)>,
    record_commits: bool,
    /// Txns applied since [`Node::take_applied`] last asked.
    applied: u64,
    /// Since when (monotonic ms) the replica has been looking for a
    /// leader; None otherwise.
    looking_since: Option<u64>,
}

impl Node {
    /// A member starting LOOKING from `boot`.
    pub fn new(cfg: CoreConfig, zcfg: zab::Config, boot: NodeBoot, now: Now) -> Node {
        let mut core = Core::restore(cfg, boot.tree, boot.sessions.clone(), now);
        core.set_role(Role::NotServing, 0, now);
        let (accepted, current, from) = boot.epochs;
        let zboot = zab::Boot {
            accepted_epoch: accepted,
            accepted_from: from,
            current_epoch: current,
            base: boot.base,
            sessions: boot.sessions.iter().map(|s| (s.id, s.timeout)).collect(),
            log: boot.tail,
        };
        let mut outs = Vec::new();
        let replica = Replica::new(zcfg, zboot, &mut outs);
        let mut n = Node::around(core, Some(replica), Some(now.mono_ms));
        n.perform_all(outs, now);
        n
    }

    fn around(core: Core, replica: Option<Replica>, looking_since: Option<u64>) -> Node {
        Node {
            core,
            replica,
            effects: Vec::new(),
            outs: Vec::new(),
            snap: None,
            chunks: None,
            record_commits: false,
            applied: 0,
            looking_since,
        }
    }

    /// A standalone server from `boot`: the only voter, so everything it
    /// logged is committed and the logged tail is applied at once; its
    /// proposals commit when its own log says they are durable. It keeps
    /// ZooKeeper's standalone numbering (epoch 0, no election, no epochs).
    pub fn alone(cfg: CoreConfig, boot: NodeBoot, now: Now) -> Node {
        let mut core = Core::restore(cfg, boot.tree, boot.sessions, now);
        for t in boot.tail {
            core.replay(t, now);
        }
        Node::around(core, None, None)
    }

    /// Emit [`Effect::Committed`] for every applied txn (the simulator's
    /// checker and commit-latency metrics use it).
    pub fn record_commits(&mut self, on: bool) {
        self.record_commits = on;
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The core, for what does not change the pipeline (draining output,
    /// four-letter words, metrics). Call [`Node::pump`] after anything
    /// that may propose.
    pub fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    /// The replica (None standalone).
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    /// Takes the effects produced so far, in order.
    pub fn take_effects(&mut self) -> std::vec::Drain<'_, Effect> {
        self.effects.drain(..)
    }

    /// How many txns were applied (committed) since the last call.
    pub fn take_applied(&mut self) -> u64 {
        std::mem::take(&mut self.applied)
    }

    /// Whether effects are waiting.
    pub fn has_effects(&self) -> bool {
        !self.effects.is_empty()
    }

    // ------------------------------------------------------------ inputs

    pub fn conn_open(&mut self, id: ConnId, addr: SocketAddr, now: Now) {
        self.core.conn_open(id, addr, now);
    }

    pub fn conn_input(&mut self, id: ConnId, frames: &[u8], now: Now) {
        self.core.conn_input(id, frames, now);
        self.pump(now);
    }

    pub fn conn_closed(&mut self, id: ConnId, now: Now) {
        self.core.conn_closed(id);
        self.pump(now);
    }

    /// A decoded frame from peer `from`.
    pub fn peer(&mut self, from: ServerId, msg: PeerMsg<'_>, now: Now) {
        match msg {
            PeerMsg::SnapChunk {
                zxid,
                total,
                offset,
                data,
            } => {
                let mut buf = match self.chunks.take() {
                    None if offset == 0 => Vec::new(),
                    Some((f, z, t, b)) if (f, z, t) == (from, zxid, total) => b,
                    _ => return self.breach(from, "a snapshot chunk out of sequence".into(), now),
                };
                if offset != buf.len() as u64 {
                    return self.breach(from, "a snapshot chunk out of sequence".into(), now);
                }
                buf.extend_from_slice(data);
                if (buf.len() as u64) < total {
                    self.chunks = Some((from, zxid, total, buf));
                    return;
                }
                self.peer(from, PeerMsg::Snap { zxid, data: &buf }, now);
            }
            PeerMsg::Snap { zxid, data } => {
                // Decode before the replica takes it (see the module docs).
                match decode_snap(zxid, data) {
                    Ok(b) => self.snap = Some(b),
                    Err(what) => return self.breach(from, what, now),
                }
                self.step(Input::Peer { from, msg }, now);
                self.pump(now);
            }
            _ => {
                self.step(Input::Peer { from, msg }, now);
                self.pump(now);
            }
        }
    }

    /// `from` broke the protocol: its link goes, and the replica hears so.
    fn breach(&mut self, from: ServerId, what: String, now: Now) {
        self.chunks = None;
        self.effects
            .push(Effect::Notice(Notice::BadSnapshot { from, what }));
        self.effects.push(Effect::Disconnect { peer: from });
        self.step(Input::PeerDisconnected(from), now);
        self.pump(now);
    }

    /// The link to `peer` broke.
    pub fn peer_down(&mut self, peer: ServerId, now: Now) {
        if self.chunks.as_ref().is_some_and(|c| c.0 == peer) {
            self.chunks = None;
        }
        self.step(Input::PeerDisconnected(peer), now);
        self.pump(now);
    }

    /// The log is durable through `through` (after [`Effect::Sync`] or
    /// [`Effect::Truncate`]; standalone: the proposals taken from the core
    /// through `through` are, and they commit).
    pub fn durable(&mut self, through: Zxid, now: Now) {
        if self.replica.is_none() {
            self.applied += self.core.commit_through(through, now) as u64;
            return;
        }
        self.step(Input::Persisted { through }, now);
        self.pump(now);
    }

    /// One replica tick, then the core's periodic work (expiry, reaping).
    pub fn tick(&mut self, now: Now) {
        self.step(
            Input::Tick {
                wall_ms: now.wall_ms,
            },
            now,
        );
        self.core.tick(now);
        self.maybe_read_only(now);
        self.pump(now);
    }

    /// How long a member looks for a leader before it serves read-only
    /// clients (`readonlymode.enabled`): ZooKeeper's grace period,
    /// max(2 s, tickTime).
    pub fn read_only_grace_ms(&self) -> u64 {
        let cfg = self.core.config();
        cfg.read_only_grace_ms
            .unwrap_or_else(|| u64::from(cfg.tick_ms).max(2000))
    }

    /// Enters read-only mode once the replica has been looking for the
    /// grace period; any role change leaves it (closing its connections).
    fn maybe_read_only(&mut self, now: Now) {
        if !self.core.config().read_only_mode || self.core.role() != Role::NotServing {
            return;
        }
        if let Some(t) = self.looking_since {
            if now.mono_ms.saturating_sub(t) >= self.read_only_grace_ms() {
                let e = self.replica.as_ref().map_or(0, |r| r.current_epoch());
                self.core.set_role(Role::ReadOnly, e, now);
                self.effects.push(Effect::Notice(Notice::ReadOnly));
            }
        }
    }

    /// Feeds what the core produced (proposals, forwards, session touches)
    /// to the replica until nothing is left.
    /// Standalone: the core's new proposals go to the log, then a sync.
    pub fn pump(&mut self, now: Now) {
        if self.replica.is_none() {
            // Reads propose nothing: no effect, no log wake-up.
            if self.core.has_fresh_proposals() {
                let effects = &mut self.effects;
                self.core
                    .take_shared_proposals(|t| effects.push(Effect::Append(t.clone())));
                self.effects.push(Effect::Sync);
            }
            return;
        }
        let mut props: Vec<Arc<Txn>> = Vec::new();
        let mut fwds = Vec::new();
        let mut touched = Vec::new();
        loop {
            self.core.take_shared_proposals(|t| props.push(t.clone()));
            self.core.take_forwards(|f| fwds.push(f));
            self.core.take_touched(|s| touched.push(s));
            if props.is_empty() && fwds.is_empty() && touched.is_empty() {
                return;
            }
            for t in props.drain(..) {
                self.step(Input::Propose(t), now);
            }
            for f in fwds.drain(..) {
                self.step(
                    Input::Forward {
                        session: f.session,
                        cxid: f.cxid,
                        opcode: f.opcode,
                        body: &f.body,
                    },
                    now,
                );
            }
            for s in touched.drain(..) {
                self.step(Input::Touch { session: s }, now);
            }
        }
    }

    // ------------------------------------------------------------- glue

    fn step(&mut self, input: Input<'_>, now: Now) {
        let Some(r) = self.replica.as_mut() else {
            return;
        };
        let mut outs = std::mem::take(&mut self.outs);
        r.step(input, &mut outs);
        self.perform_all(outs, now);
    }

    fn perform_all(&mut self, mut outs: Vec<Output>, now: Now) {
        for o in outs.drain(..) {
            self.perform(o, now);
        }
        if self.outs.capacity() < outs.capacity() {
            self.outs = outs;
        }
    }

    fn perform(&mut self, o: Output, now: Now) {
        match o {
            Output::Send { to, frame } => self.effects.push(Effect::Send { to, frame }),
            Output::SendSnapshot { to, zxid } => {
                // The replica asks for its committed state, which is the
                // tree: every commit was applied before this output.
                debug_assert_eq!(self.core.tree().last_zxid, zxid);
                let data = encode_tree(self.core.tree(), &self.core.session_list(), SNAP_BLOCK);
                self.effects.push(Effect::Notice(Notice::SnapshotSent {
                    to,
                    zxid,
                    bytes: data.len(),
                }));
                let total = data.len() as u64;
                let mut offset = 0;
                for chunk in data.chunks(SNAP_CHUNK) {
                    let mut f = Vec::with_capacity(chunk.len() + peer::HEADER_LEN + 24);
                    peer::encode(
                        &PeerMsg::SnapChunk {
                            zxid,
                            total,
                            offset,
                            data: chunk,
                        },
                        &mut f,
                    );
                    offset += chunk.len() as u64;
                    self.effects.push(Effect::Send {
                        to,
                        frame: f.into(),
                    });
                }
            }
            Output::Disconnect { peer } => self.effects.push(Effect::Disconnect { peer }),
            Output::PersistEpochs {
                accepted,
                current,
                accepted_from,
            } => self.effects.push(Effect::PersistEpochs {
                accepted,
                current,
                accepted_from,
            }),
            Output::Append(t) => self.effects.push(Effect::Append(t)),
            Output::Sync => self.effects.push(Effect::Sync),
            Output::Truncate { after } => self.effects.push(Effect::Truncate { after }),
            Output::InstallSnapshot { zxid, data } => {
                let Some(built) = self.snap.take().filter(|b| b.zxid == zxid) else {
                    // `peer` decoded every SNAP the replica can take.
                    debug_assert!(false, "a snapshot install without its SNAP");
                    return;
                };
                let sessions = built.sessions.iter().map(|s| (s.id, s.timeout)).collect();
                self.core.replace_state(built.tree, &built.sessions, now);
                self.effects.push(Effect::InstallSnapshot {
                    zxid,
                    data: data.into(),
                });
                self.effects
                    .push(Effect::Notice(Notice::SnapshotInstalled { zxid }));
                self.step(Input::SessionsRestored { sessions }, now);
            }
            Output::Commit(t) => {
                self.core.commit_txn(&t, now);
                self.applied += 1;
                if self.record_commits {
                    self.effects.push(Effect::Committed(t));
                }
            }
            Output::Request {
                session,
                cxid,
                opcode,
                body,
                ..
            } => self.core.remote_request(session, cxid, opcode, &body, now),
            Output::Rejected { session, .. } => {
                if self.core.role() == Role::Leader {
                    // A proposal of ours was refused while we lead: our
                    // pipeline no longer matches the replica's log; start
                    // it over (this closes the client connections).
                    let zxid = self.core.last_proposed_zxid();
                    self.effects
                        .push(Effect::Notice(Notice::ProposalRefused { zxid }));
                    let e = self.replica.as_ref().map_or(0, |r| r.current_epoch());
                    self.core.set_role(Role::NotServing, e, now);
                    self.core.set_role(Role::Leader, e, now);
                } else {
                    self.core.forward_rejected(session);
                }
            }
            Output::Expire { session } => self.core.expire_session(session, now),
            Output::RoleChanged {
                role,
                epoch,
                leader,
                serving,
            } => {
                let as_role = match (role, serving) {
                    (ZabState::Leading, true) => Role::Leader,
                    (ZabState::Following, true) => Role::Follower,
                    (ZabState::Observing, true) => Role::Observer,
                    _ => Role::NotServing,
                };
                self.looking_since = match (role, self.looking_since) {
                    (ZabState::Looking, Some(t)) => Some(t),
                    (ZabState::Looking, None) => Some(now.mono_ms),
                    _ => None,
                };
                self.core.set_role(as_role, epoch, now);
                self.effects.push(Effect::RoleChanged {
                    role,
                    epoch,
                    leader,
                    serving,
                });
            }
            Output::Established { epoch } => self.effects.push(Effect::Established { epoch }),
            // Reconnects are checked against the replicated session table;
            // the core never asks the leader to revalidate.
            Output::Revalidated { .. } => {}
        }
    }
}

/// Decodes a SNAP payload: a whole snapshot in the file format, taken of a
/// settled tree (its start and end zxids are the frame's).
fn decode_snap(zxid: Zxid, data: &[u8]) -> Result<Built, String> {
    let b = state::build_snapshot("the leader's snapshot", data)
        .map_err(|e| format!("offset {}: {}", e.offset, e.what))?;
    if b.zxid != zxid || b.end_zxid != zxid {
        return Err(format!(
            "a SNAP at {zxid:#x} holds a snapshot from {:#x} to {:#x}",
            b.zxid, b.end_zxid
        ));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::DataTree;

    fn alone(read_only_mode: bool, now: Now) -> Node {
        let boot = NodeBoot {
            tree: DataTree::new(),
            sessions: Vec::new(),
            base: 0,
            tail: Vec::new(),
            epochs: (0, 0, 0),
        };
        let cfg = CoreConfig {
            read_only_mode,
            tick_ms: 500,
            ..CoreConfig::default()
        };
        // One of three voters, the others never heard: it looks forever.
        Node::new(cfg, zab::Config::new(1, vec![1, 2, 3], vec![]), boot, now)
    }

    fn at(ms: u64) -> Now {
        Now {
            mono_ms: ms,
            wall_ms: 1_700_000_000_000 + ms as i64,
        }
    }

    fn read_only_notices(n: &mut Node) -> usize {
        n.take_effects()
            .filter(|e| matches!(e, Effect::Notice(Notice::ReadOnly)))
            .count()
    }

    #[test]
    fn a_member_goes_read_only_after_the_grace_period_and_only_if_enabled() {
        let mut n = alone(true, at(1_000));
        assert_eq!(n.read_only_grace_ms(), 2_000, "max(2 s, tickTime)");
        let mut t = 1_000;
        while t < 2_990 {
            t += 10;
            n.tick(at(t));
            assert_eq!(
                n.core().role(),
                Role::NotServing,
                "read-only before the grace period at {t}"
            );
        }
        assert_eq!(read_only_notices(&mut n), 0);
        n.tick(at(3_000));
        assert_eq!(n.core().role(), Role::ReadOnly);
        assert_eq!(read_only_notices(&mut n), 1, "one notice on entering");
        n.tick(at(5_000));
        assert_eq!(n.core().role(), Role::ReadOnly);
        assert_eq!(read_only_notices(&mut n), 0, "no second notice while in it");

        let mut off = alone(false, at(1_000));
        off.tick(at(60_000));
        assert_eq!(
            off.core().role(),
            Role::NotServing,
            "disabled: never read-only"
        );
    }
}
