//! Scripted regression scenarios for the ZAB core, one per historic
//! ZooKeeper failure. A small hand-driven cluster (no randomness) runs real
//! [`Replica`]s and real DataTrees; every frame goes through
//! `peer::encode`/`decode_frame`; each node's log is modelled as appended
//! txns plus a durable prefix (what survives a crash), so a test decides
//! exactly which fsyncs happen before which crash.

use corral::peer::{decode_frame, PeerMsg};
use corral::sim::{decode_snapshot, encode_snapshot, tree_digest};
use corral::storage::device::MemDir;
use corral::storage::log::{is_successor, recover, LogConfig, TxnLog};
use corral::tree::acl::open_acl;
use corral::tree::txn::{Txn, TxnHeader, TxnOp};
use corral::tree::DataTree;
use corral::types::{SessionId, Zxid};
use corral::zab::{Boot, Config, Faults, Input, Output, Replica, ServerId, ZabState};
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

struct Node {
    cfg: Config,
    r: Option<Replica>,
    /// Appended txns after the snapshot; `durable` of them survive a crash.
    logged: Vec<Arc<Txn>>,
    durable: usize,
    epochs: (u32, u32, ServerId),
    snap: Vec<Arc<Txn>>,
    tree: DataTree,
    applied: Vec<Arc<Txn>>,
    auto_fsync: bool,
    sync_wanted: bool,
    /// Frame types received (for asserting DIFF/TRUNC/SNAP).
    got: Vec<String>,
}

struct Cluster {
    nodes: Vec<Node>,
    queue: VecDeque<(usize, usize, Arc<[u8]>)>,
    cut: BTreeSet<usize>,
    /// Tear the next frame to this node (deliver only part of it).
    tear_to: Option<usize>,
    wall: i64,
    /// Forwarded writes the leader's "prep" turns into proposals.
    pending_proposals: Vec<(usize, Txn)>,
    /// `Output::Revalidated` answers: (node, session, valid).
    revalidated: Vec<(usize, SessionId, bool)>,
}

fn txn(session: SessionId, cxid: i32, op: TxnOp) -> Txn {
    Txn {
        header: TxnHeader {
            session,
            cxid,
            zxid: 0,
            time: 1_700_000_000_000,
        },
        op,
    }
}

fn create(path: &str, owner: i64, data: Vec<u8>) -> TxnOp {
    TxnOp::Create {
        path: path.into(),
        data: Some(data.into()),
        acl: open_acl(),
        owner,
        parent_cversion: 1,
    }
}

impl Cluster {
    fn new(voters: usize, observers: usize, faults: Faults, window: usize) -> Cluster {
        let vs: Vec<ServerId> = (1..=voters as u64).collect();
        let os: Vec<ServerId> = (voters as u64 + 1..=(voters + observers) as u64).collect();
        let mut c = Cluster {
            nodes: Vec::new(),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            tear_to: None,
            wall: 1_700_000_000_000,
            pending_proposals: Vec::new(),
            revalidated: Vec::new(),
        };
        for i in 0..voters + observers {
            let mut cfg = Config::new(i as u64 + 1, vs.clone(), os.clone());
            cfg.tick_ms = 10;
            cfg.init_limit = 20;
            cfg.sync_limit = 5;
            cfg.log_window = window;
            cfg.faults = faults;
            c.nodes.push(Node {
                cfg,
                r: None,
                logged: Vec::new(),
                durable: 0,
                epochs: (0, 0, 0),
                snap: Vec::new(),
                tree: DataTree::new(),
                applied: Vec::new(),
                auto_fsync: true,
                sync_wanted: false,
                got: Vec::new(),
            });
        }
        for i in 0..voters + observers {
            c.restart(i);
        }
        c
    }

    fn restart(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.tree = DataTree::new();
        n.applied.clear();
        for t in n.snap.clone() {
            n.tree.apply((*t).clone(), &mut |_| {}, &mut Vec::new());
            n.applied.push(t);
        }
        let boot = Boot {
            accepted_epoch: n.epochs.0,
            current_epoch: n.epochs.1,
            accepted_from: n.epochs.2,
            base: n.snap.last().map_or(0, |t| t.header.zxid),
            sessions: Vec::new(),
            log: n.logged.iter().map(|t| (**t).clone()).collect(),
        };
        let mut out = Vec::new();
        n.r = Some(Replica::new(n.cfg.clone(), boot, &mut out));
        self.perform(i, out);
    }

    fn crash(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.r = None;
        n.logged.truncate(n.durable);
        n.sync_wanted = false;
        self.queue.retain(|(a, b, _)| *a != i && *b != i);
        for p in 0..self.nodes.len() {
            if p != i {
                self.input(p, Input::PeerDisconnected(i as u64 + 1));
            }
        }
    }

    /// Proposes `t` at node `i` under the zxid its replica expects next
    /// (as the core assigns it).
    fn propose_at(&mut self, i: usize, mut t: Txn) {
        let next = self.nodes[i].r.as_ref().and_then(|r| r.next_zxid());
        t.header.zxid = next.unwrap_or(0);
        self.input(i, Input::Propose(Arc::new(t)));
    }

    fn input(&mut self, i: usize, input: Input<'_>) {
        let mut out = Vec::new();
        let Some(r) = self.nodes[i].r.as_mut() else {
            return;
        };
        r.step(input, &mut out);
        r.check_invariants();
        self.perform(i, out);
    }

    fn perform(&mut self, i: usize, out: Vec<Output>) {
        let mut later = Vec::new();
        for o in out {
            match o {
                Output::Send { to, frame } => {
                    let to = to as usize - 1;
                    if !self.cut.contains(&i) && !self.cut.contains(&to) {
                        self.queue.push_back((i, to, frame));
                    }
                }
                Output::SendSnapshot { to, zxid } => {
                    let n = &self.nodes[i];
                    assert_eq!(n.applied.last().map_or(0, |t| t.header.zxid), zxid);
                    let data = encode_snapshot(&n.applied);
                    let mut f = Vec::new();
                    corral::peer::encode(&PeerMsg::Snap { zxid, data: &data }, &mut f);
                    let to = to as usize - 1;
                    if !self.cut.contains(&i) && !self.cut.contains(&to) {
                        self.queue.push_back((i, to, f.into()));
                    }
                }
                Output::Disconnect { peer } => {
                    let p = peer as usize - 1;
                    self.queue
                        .retain(|(a, b, _)| !((*a == i && *b == p) || (*a == p && *b == i)));
                    later.push((p, i));
                }
                Output::PersistEpochs {
                    accepted,
                    current,
                    accepted_from,
                } => self.nodes[i].epochs = (accepted, current, accepted_from),
                Output::Append(t) => {
                    let n = &mut self.nodes[i];
                    let prev = n
                        .logged
                        .last()
                        .map(|t| t.header.zxid)
                        .or(n.snap.last().map(|t| t.header.zxid))
                        .unwrap_or(0);
                    assert!(
                        is_successor(prev, t.header.zxid),
                        "node {} log hole: {:#x} after {prev:#x}",
                        i + 1,
                        t.header.zxid
                    );
                    n.logged.push(t);
                }
                Output::Sync => self.nodes[i].sync_wanted = true,
                Output::Truncate { after } => {
                    let n = &mut self.nodes[i];
                    n.logged.retain(|t| t.header.zxid <= after);
                    n.durable = n.durable.min(n.logged.len());
                }
                Output::InstallSnapshot { zxid, data } => {
                    let txns = decode_snapshot(&data).expect("snapshot decodes");
                    assert_eq!(txns.last().map_or(0, |t| t.header.zxid), zxid);
                    let n = &mut self.nodes[i];
                    n.tree = DataTree::new();
                    n.applied.clear();
                    for t in &txns {
                        n.tree.apply((**t).clone(), &mut |_| {}, &mut Vec::new());
                        n.applied.push(t.clone());
                    }
                    n.snap = txns;
                    n.logged.clear();
                    n.durable = 0;
                }
                Output::Commit(t) => {
                    let n = &mut self.nodes[i];
                    if let Some(p) = n.applied.last() {
                        assert!(is_successor(p.header.zxid, t.header.zxid), "apply hole");
                    }
                    n.tree.apply((*t).clone(), &mut |_| {}, &mut Vec::new());
                    n.applied.push(t);
                }
                Output::Revalidated { session, valid } => {
                    self.revalidated.push((i, session, valid));
                }
                Output::Request { body, .. } => {
                    let t = corral::storage::record::decode_txn_body(0, &body).expect("request");
                    self.pending_proposals.push((i, t));
                }
                // The core proposes the close of a session the replica
                // found silent.
                Output::Expire { session } => {
                    self.pending_proposals
                        .push((i, txn(session, 0, TxnOp::CloseSession)));
                }
                _ => {}
            }
        }
        for (p, from) in later {
            self.input(p, Input::PeerDisconnected(from as u64 + 1));
        }
    }

    /// Delivers every queued frame (and fsyncs the auto-fsync nodes) until
    /// nothing moves.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            if let Some((from, to, frame)) = self.queue.pop_front() {
                if self.nodes[to].r.is_none() || self.cut.contains(&to) {
                    continue;
                }
                if self.tear_to == Some(to) {
                    // Only part of the frame arrives: it never decodes,
                    // and the connection dies with the crash that follows.
                    self.tear_to = None;
                    let half = &frame[..frame.len() / 2];
                    assert!(matches!(decode_frame(half), Ok(None)));
                    continue;
                }
                let (msg, used) = decode_frame(&frame)
                    .expect("frame decodes")
                    .expect("whole frame");
                assert_eq!(used, frame.len());
                let name = match msg {
                    PeerMsg::Trunc { zxid } => format!("Trunc {zxid:#x}"),
                    m => format!("{:?}", m.msg_type()),
                };
                self.nodes[to].got.push(name);
                self.input(
                    to,
                    Input::Peer {
                        from: from as u64 + 1,
                        msg,
                    },
                );
                continue;
            }
            let mut moved = false;
            for i in 0..self.nodes.len() {
                if self.nodes[i].auto_fsync && self.nodes[i].sync_wanted {
                    self.fsync(i);
                    moved = true;
                }
            }
            let props = std::mem::take(&mut self.pending_proposals);
            for (i, t) in props {
                self.propose_at(i, t);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("cluster does not settle");
    }

    fn fsync(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.sync_wanted = false;
        n.durable = n.logged.len();
        let through = n
            .logged
            .last()
            .or(n.snap.last())
            .map_or(0, |t| t.header.zxid);
        self.input(i, Input::Persisted { through });
    }

    fn tick(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.wall += 10;
            for i in 0..self.nodes.len() {
                let w = self.wall;
                self.input(i, Input::Tick { wall_ms: w });
            }
            self.settle();
        }
    }

    fn leader(&self) -> Option<usize> {
        // The serving leader among the nodes that are not cut off.
        (0..self.nodes.len()).find(|i| {
            !self.cut.contains(i)
                && self.nodes[*i]
                    .r
                    .as_ref()
                    .is_some_and(|r| r.role() == ZabState::Leading && r.is_serving())
        })
    }

    /// Ticks until a leader serves and every live, uncut node serves.
    fn until_stable(&mut self) -> usize {
        for _ in 0..300 {
            self.tick(1);
            if let Some(l) = self.leader() {
                let all = self.nodes.iter().enumerate().all(|(i, n)| {
                    self.cut.contains(&i) || n.r.as_ref().is_none_or(|r| r.is_serving())
                });
                if all {
                    return l;
                }
            }
        }
        panic!("no stable leader");
    }

    fn propose(&mut self, t: Txn) -> Zxid {
        let l = self.leader().expect("a leader");
        let before = self.nodes[l].r.as_ref().map_or(0, |r| r.last_zxid());
        self.propose_at(l, t);
        self.settle();
        let after = self.nodes[l].r.as_ref().map_or(0, |r| r.last_zxid());
        assert!(after > before, "proposal refused");
        after
    }

    fn applied_zxids(&self, i: usize) -> Vec<Zxid> {
        self.nodes[i]
            .applied
            .iter()
            .map(|t| t.header.zxid)
            .collect()
    }

    fn has_path(&self, i: usize, p: &str) -> bool {
        self.nodes[i].tree.get(p).is_some()
    }
}

const S1: SessionId = 0x100;

/// ZOOKEEPER-1154/1156: an ex-leader returns with a proposal nobody else
/// logged; the new leader truncates it exactly after the last common zxid.
#[test]
fn zk1154_returning_ex_leader_is_truncated_exactly() {
    let mut c = Cluster::new(3, 0, Faults::default(), 1000);
    let l = c.until_stable();
    c.propose(txn(
        S1,
        1,
        TxnOp::CreateSession {
            timeout: 100_000,
            passwd: None,
        },
    ));
    let common = c.propose(txn(S1, 2, create("/a", 0, b"a".to_vec())));
    // The leader logs X, but its frames never leave.
    c.cut.insert(l);
    c.propose_at(l, txn(S1, 3, create("/x", 0, b"x".to_vec())));
    c.settle();
    let x = c.nodes[l].r.as_ref().unwrap().last_zxid();
    assert!(x > common);
    assert_eq!(c.nodes[l].durable, c.nodes[l].logged.len(), "X is durable");
    // The others elect a new leader and commit more.
    let l2 = c.until_stable();
    assert_ne!(l2, l);
    c.propose(txn(S1, 4, create("/b", 0, b"b".to_vec())));
    // Fenced: alone, the ex-leader stepped down.
    assert_eq!(c.nodes[l].r.as_ref().unwrap().role(), ZabState::Looking);
    // The ex-leader returns.
    c.cut.clear();
    c.nodes[l].got.clear();
    c.until_stable();
    c.propose(txn(S1, 5, create("/c", 0, b"c".to_vec())));
    let got = &c.nodes[l].got;
    let want = format!("Trunc {common:#x}");
    assert!(got.contains(&want), "ex-leader got {got:?}, wanted {want}");
    // Its log is now exactly the leader's: X is gone, nothing else lost.
    let zl: Vec<Zxid> = c.nodes[l].logged.iter().map(|t| t.header.zxid).collect();
    let z2: Vec<Zxid> = c.nodes[l2].logged.iter().map(|t| t.header.zxid).collect();
    assert_eq!(zl, z2);
    assert!(!zl.contains(&x));
    assert!(zl.contains(&common));
    for i in 0..3 {
        assert!(!c.has_path(i, "/x"));
        assert!(c.has_path(i, "/a") && c.has_path(i, "/b") && c.has_path(i, "/c"));
        assert_eq!(c.applied_zxids(i), c.applied_zxids(l2));
        assert_eq!(
            tree_digest(&c.nodes[i].tree),
            tree_digest(&c.nodes[l2].tree)
        );
    }
}

/// The ZOOKEEPER-3023 class: a follower synced by DIFF acks NEWLEADER; if
/// it acks (and takes the new currentEpoch) before the synced txns are
/// durable, a crash leaves it with the new epoch but without the history,
/// its vote then wins, and committed txns are lost. Returns whether the
/// committed txns survived.
fn zk3023(faults: Faults) -> bool {
    let mut c = Cluster::new(3, 0, faults, 1000);
    let l = c.until_stable();
    assert_eq!(l, 2, "highest id leads an empty ensemble");
    // Node 1 misses T1..T5, committed by nodes 2 and 3.
    c.cut.insert(0);
    c.tick(10);
    let mut committed = Vec::new();
    committed.push(c.propose(txn(
        S1,
        1,
        TxnOp::CreateSession {
            timeout: 100_000,
            passwd: None,
        },
    )));
    for k in 0..5 {
        committed.push(c.propose(txn(S1, 2 + k, create(&format!("/t{k}"), 0, vec![k as u8]))));
    }
    assert!(committed
        .iter()
        .all(|z| c.nodes[1].r.as_ref().unwrap().committed() >= *z));
    // Node 2 goes down; node 1 returns but its fsyncs stall.
    c.crash(1);
    c.nodes[0].auto_fsync = false;
    c.cut.clear();
    c.tick(60);
    // Node 3 leads a new epoch; node 1 received the history by DIFF.
    assert!(c.nodes[0].got.iter().any(|t| t == "Diff"));
    assert!(c.nodes[0].logged.len() > c.nodes[0].durable);
    // Nodes 1 and 3 crash before node 1's fsync; 1 and 2 come back.
    c.crash(2);
    c.crash(0);
    c.nodes[0].auto_fsync = true;
    c.restart(0);
    c.restart(1);
    let l = c.until_stable();
    let have = c.applied_zxids(l);
    committed.iter().all(|z| have.contains(z))
}

#[test]
fn zk3023_newleader_ack_waits_for_durable_history() {
    assert!(zk3023(Faults::default()), "committed txns lost");
}

#[test]
fn zk3023_early_newleader_ack_loses_committed_txns() {
    let f = Faults {
        newleader_ack_before_durable: true,
        ..Faults::default()
    };
    assert!(!zk3023(f), "the broken rule should lose the txns");
}

/// ZOOKEEPER-2355: a follower crashes while reading a proposal that creates
/// an ephemeral; the proposal never commits, the session expires, and no
/// replica keeps a stale ephemeral.
#[test]
fn zk2355_torn_proposal_leaves_no_stale_ephemeral() {
    let mut c = Cluster::new(3, 0, Faults::default(), 1000);
    let l = c.until_stable();
    c.propose(txn(
        S1,
        1,
        TxnOp::CreateSession {
            timeout: 200,
            passwd: None,
        },
    ));
    let (f, g) = match l {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    // G misses the proposal; F gets only half of it, then crashes.
    c.cut.insert(g);
    c.tear_to = Some(f);
    c.propose_at(l, txn(S1, 2, create("/eph", S1, b"e".to_vec())));
    c.settle();
    assert!(c.tear_to.is_none(), "the proposal reached F torn");
    c.crash(f);
    c.crash(l);
    c.cut.clear();
    c.restart(f);
    // F and G elect; nobody pings S1, so the new leader expires it.
    c.until_stable();
    c.tick(60);
    // The old leader returns with the uncommitted create in its log.
    assert!(c.nodes[l]
        .logged
        .iter()
        .any(|t| matches!(&t.op, TxnOp::Create { path, .. } if &**path == "/eph")));
    c.restart(l);
    c.until_stable();
    c.tick(5);
    for i in 0..3 {
        assert!(
            !c.has_path(i, "/eph"),
            "node {} has the stale ephemeral",
            i + 1
        );
        assert_eq!(c.nodes[i].tree.ephemerals_of(S1).count(), 0);
        assert!(c.nodes[i]
            .applied
            .iter()
            .any(|t| t.header.session == S1 && t.op == TxnOp::CloseSession));
    }
}

/// ZOOKEEPER-4925: a follower too far behind the leader's in-memory log
/// must not get a DIFF that starts after a gap: it gets a SNAP, and its log
/// and applied txns stay contiguous (the harness asserts every append and
/// apply is a successor).
#[test]
fn zk4925_no_hole_when_follower_is_behind_the_window() {
    let mut c = Cluster::new(3, 0, Faults::default(), 5);
    let l = c.until_stable();
    c.propose(txn(
        S1,
        1,
        TxnOp::CreateSession {
            timeout: 100_000,
            passwd: None,
        },
    ));
    let f = (l + 1) % 3;
    c.cut.insert(f);
    c.tick(10);
    for k in 0..30 {
        c.propose(txn(S1, 2 + k, create(&format!("/n{k}"), 0, vec![k as u8])));
    }
    c.cut.clear();
    c.nodes[f].got.clear();
    let l = c.until_stable();
    c.propose(txn(S1, 100, create("/after", 0, b"z".to_vec())));
    assert!(
        c.nodes[f].got.iter().any(|t| t == "Snap"),
        "got {:?}",
        c.nodes[f].got
    );
    assert_eq!(c.applied_zxids(f), c.applied_zxids(l));
    let mut prev = c.nodes[f].snap.last().map_or(0, |t| t.header.zxid);
    for t in &c.nodes[f].logged {
        assert!(is_successor(prev, t.header.zxid));
        prev = t.header.zxid;
    }
    assert_eq!(tree_digest(&c.nodes[f].tree), tree_digest(&c.nodes[l].tree));
}

/// ZOOKEEPER-5010 class: a follower away while a session closed syncs by
/// DIFF, and the DIFF removes that session's ephemerals.
#[test]
fn zk5010_diff_removes_stale_ephemerals() {
    let mut c = Cluster::new(3, 0, Faults::default(), 1000);
    let l = c.until_stable();
    c.propose(txn(
        S1,
        1,
        TxnOp::CreateSession {
            timeout: 100_000,
            passwd: None,
        },
    ));
    c.propose(txn(S1, 2, create("/e1", S1, b"1".to_vec())));
    c.propose(txn(S1, 3, create("/e2", S1, b"2".to_vec())));
    let f = (l + 1) % 3;
    assert!(c.has_path(f, "/e1") && c.has_path(f, "/e2"));
    c.cut.insert(f);
    c.tick(10);
    c.propose(txn(S1, 4, TxnOp::CloseSession));
    assert!(c.has_path(f, "/e1"), "the follower was away");
    c.cut.clear();
    c.nodes[f].got.clear();
    c.until_stable();
    assert!(
        c.nodes[f].got.iter().any(|t| t == "Diff"),
        "got {:?}",
        c.nodes[f].got
    );
    assert!(!c.has_path(f, "/e1") && !c.has_path(f, "/e2"));
    assert_eq!(c.nodes[f].tree.ephemerals_of(S1).count(), 0);
}

/// ZOOKEEPER-3496: a txn near jute.maxbuffer (1 MiB of data) replicates to
/// followers and observers, and the txn log takes it.
#[test]
fn zk3496_one_mib_txn_replicates() {
    let mut c = Cluster::new(3, 1, Faults::default(), 1000);
    c.until_stable();
    c.propose(txn(
        S1,
        1,
        TxnOp::CreateSession {
            timeout: 100_000,
            passwd: None,
        },
    ));
    let data: Vec<u8> = (0..(1 << 20) - 64).map(|k| (k * 7 % 251) as u8).collect();
    let z = c.propose(txn(S1, 2, create("/big", 0, data.clone())));
    c.tick(3);
    for i in 0..4 {
        let n = c.nodes[i].tree.get("/big").expect("replicated");
        assert_eq!(n.data(), Some(&data[..]), "node {}", i + 1);
        assert_eq!(n.czxid(), z);
    }
    // The log writer and recovery take it too.
    let mut log = TxnLog::create(
        MemDir::new(),
        LogConfig {
            segment_size: 4 << 20,
            flush_bytes: 64 << 10,
        },
    )
    .unwrap();
    let big = c.nodes[0].applied.last().unwrap().clone();
    log.append(&big).unwrap();
    log.sync().unwrap();
    let mut dir = log.close().unwrap();
    let rec = recover(&mut dir).unwrap();
    assert_eq!(rec.txns, vec![(*big).clone()]);
}

/// A client reconnecting at a follower: the leader says whether its
/// session is still valid (and counts the reconnect as activity).
#[test]
fn session_revalidation_goes_through_the_leader() {
    let mut c = Cluster::new(3, 0, Faults::default(), 1000);
    let l = c.until_stable();
    c.propose(txn(
        S1,
        1,
        TxnOp::CreateSession {
            timeout: 100_000,
            passwd: None,
        },
    ));
    let f = (l + 1) % 3;
    c.input(
        f,
        Input::Revalidate {
            session: S1,
            timeout: 100_000,
        },
    );
    c.input(
        f,
        Input::Revalidate {
            session: 0x999,
            timeout: 100_000,
        },
    );
    c.settle();
    assert_eq!(c.revalidated, vec![(f, S1, true), (f, 0x999, false)]);
}

/// A learner's durable log, as a crash would leave it.
fn durable_zxids(c: &Cluster, i: usize) -> Vec<Zxid> {
    let n = &c.nodes[i];
    n.snap
        .iter()
        .chain(&n.logged[..n.durable])
        .map(|t| t.header.zxid)
        .collect()
}

/// Simulator seed 942 ("committed prefixes diverge"): a leader still in
/// discovery (its committed point is its restart base, here the empty
/// state) synced a learner whose log ends in a later epoch than any zxid
/// of the leader's at or below it. The old rule sent a SNAP at the
/// leader's committed point; installing it durably emptied the learner's
/// log, committed txns included, before the proposals that bring them
/// back were durable. A crash (or the leader's) in that window left the
/// learner with its currentEpoch and without committed history; its vote
/// then won and the committed txns were gone. Now the leader syncs to the
/// newest zxid both logs hold (from the learner's log shape in ACKEPOCH):
/// here a TRUNC that keeps every committed txn durable throughout.
#[test]
fn sim942_sync_never_makes_a_learner_drop_committed_txns() {
    let mut c = Cluster::new(3, 0, Faults::default(), 1000);
    assert_eq!(c.until_stable(), 2);
    let mut committed = vec![c.propose(txn(
        S1,
        1,
        TxnOp::CreateSession {
            timeout: 100_000,
            passwd: None,
        },
    ))];
    for k in 0..3 {
        if k == 2 {
            // Node 1 leaves before the last one.
            c.cut.insert(0);
            c.tick(10);
        }
        committed.push(c.propose(txn(S1, 2 + k, create(&format!("/t{k}"), 0, vec![k as u8]))));
    }
    // Node 3 restarts and leads epoch 2 with node 2.
    c.crash(2);
    c.restart(2);
    assert_eq!(c.until_stable(), 2);
    let e2 = c.nodes[2].r.as_ref().unwrap().current_epoch();
    // Node 3 logs Y in its epoch, durably, but no frame leaves it.
    c.cut.insert(2);
    c.propose_at(2, txn(S1, 9, create("/y", 0, b"y".to_vec())));
    c.settle();
    let y = c.nodes[2].r.as_ref().unwrap().last_zxid();
    assert_eq!(y >> 32, e2 as i64);
    assert_eq!(c.nodes[2].durable, c.nodes[2].logged.len());
    // Node 2 restarts (its committed point is its base again) and leads a
    // new epoch with node 1, whose fsyncs stall (it must log the last txn
    // before it acks NEWLEADER): node 2 stays in sync, not established,
    // with its currentEpoch already moved on.
    c.crash(1);
    c.restart(1);
    c.nodes[0].auto_fsync = false;
    c.cut.remove(&0);
    c.tick(8);
    let r2 = c.nodes[1].r.as_ref().unwrap();
    assert_eq!(r2.role(), ZabState::Leading);
    assert!(!r2.is_serving() && r2.committed() == 0);
    assert!(r2.current_epoch() > e2);
    // Node 3 returns as a learner; its own fsyncs stall too.
    c.nodes[2].auto_fsync = false;
    c.nodes[2].got.clear();
    c.cut.remove(&2);
    c.tick(6);
    let got = c.nodes[2].got.clone();
    let last_common = *committed.last().unwrap();
    assert!(
        got.contains(&format!("Trunc {last_common:#x}")),
        "node 3 got {got:?}"
    );
    assert!(!got.iter().any(|t| t == "Snap"), "node 3 got {got:?}");
    // Crash node 3 now: its durable log still holds every committed txn.
    c.crash(2);
    let kept = durable_zxids(&c, 2);
    for z in &committed {
        assert!(
            kept.contains(z),
            "committed {z:#x} lost from node 3: {kept:x?}"
        );
    }
    assert!(!kept.contains(&y), "the uncommitted tail is cut");
}

/// Simulator seeds 1009488, 1012263, 1019937 ("not caught up after
/// healing"): a server that promised a later epoch (acceptedEpoch) to a
/// leader that never established, or acked NEWLEADER of the current epoch
/// for another leader, refuses the established leader's LEADERINFO, goes
/// LOOKING, is told of that leader again, and loops for as long as the
/// leader lasts. FOLLOWERINFO now carries the learner's currentEpoch and
/// who set its acceptedEpoch, and a leader that such a learner cannot
/// follow steps down: the next election picks an epoch above the promise.
#[test]
fn sim1019937_a_learner_with_a_later_promise_is_brought_back() {
    for (accepted, current, from) in [(7u32, 1u32, 2u64), (1, 1, 2)] {
        let mut c = Cluster::new(3, 0, Faults::default(), 1000);
        assert_eq!(c.until_stable(), 2);
        c.propose(txn(
            S1,
            1,
            TxnOp::CreateSession {
                timeout: 100_000,
                passwd: None,
            },
        ));
        let e = c.nodes[2].r.as_ref().unwrap().current_epoch();
        assert_eq!(e, 1);
        // Node 1's durable epochs: a promise it made elsewhere.
        c.crash(0);
        c.nodes[0].epochs = (accepted, current, from);
        c.restart(0);
        c.until_stable();
        let l = c.leader().unwrap();
        let e2 = c.nodes[l].r.as_ref().unwrap().current_epoch();
        assert!(e2 > e && e2 >= accepted, "epoch {e2}, promise {accepted}");
        assert!(c.nodes[0].r.as_ref().unwrap().is_serving());
        c.propose(txn(S1, 2, create("/after", 0, b"a".to_vec())));
        assert!(c.has_path(0, "/after"));
    }
}
