//! Unit tests of the replica in isolation (the cluster behaviour is tested
//! by `tests/zab_regressions.rs` and the simulator).

use super::*;
use crate::tree::acl::open_acl;
use crate::tree::txn::TxnHeader;

fn txn(session: SessionId, op: TxnOp) -> Txn {
    Txn {
        header: TxnHeader {
            session,
            cxid: 1,
            zxid: 0,
            time: 5,
        },
        op,
    }
}

/// Proposes `t` under the zxid the replica expects next (as the core
/// assigns it).
fn propose(r: &mut Replica, mut t: Txn, out: &mut Vec<Output>) {
    t.header.zxid = r.next_zxid().unwrap_or(0);
    r.step(Input::Propose(Arc::new(t)), out);
}

fn create(path: &str) -> TxnOp {
    TxnOp::Create {
        path: path.into(),
        data: None,
        acl: open_acl(),
        owner: 0,
        parent_cversion: 1,
    }
}

/// A one-voter ensemble: it elects and establishes itself.
fn solo(cfg: impl FnOnce(&mut Config)) -> (Replica, Vec<Output>) {
    let mut c = Config::new(1, vec![1], vec![]);
    cfg(&mut c);
    let mut out = Vec::new();
    let mut r = Replica::new(c, Boot::default(), &mut out);
    for _ in 0..3 {
        r.step(Input::Tick { wall_ms: 0 }, &mut out);
    }
    assert_eq!(r.role(), ZabState::Leading);
    assert!(r.is_serving());
    (r, out)
}

fn commits(out: &[Output]) -> Vec<Zxid> {
    out.iter()
        .filter_map(|o| match o {
            Output::Commit(t) => Some(t.header.zxid),
            _ => None,
        })
        .collect()
}

#[test]
fn votes_order_by_epoch_then_zxid_then_id() {
    let v = |peer_epoch, zxid, leader| Vote {
        leader,
        zxid,
        peer_epoch,
    };
    assert!(v(2, 0, 1).beats(&v(1, 100, 9)));
    assert!(v(1, 5, 1).beats(&v(1, 4, 9)));
    assert!(v(1, 5, 2).beats(&v(1, 5, 1)));
    assert!(!v(1, 5, 1).beats(&v(1, 5, 1)));
}

#[test]
fn leader_commits_only_after_its_own_fsync() {
    let (mut r, _) = solo(|_| {});
    let mut out = Vec::new();
    propose(&mut r, txn(0, create("/a")), &mut out);
    let z = r.last_zxid();
    assert_eq!(epoch_of(z), 1);
    assert_eq!(counter_of(z), 1);
    assert!(matches!(out.last(), Some(Output::Sync)));
    assert!(commits(&out).is_empty(), "committed before the fsync");
    out.clear();
    r.step(Input::Persisted { through: z }, &mut out);
    assert_eq!(commits(&out), vec![z]);
    assert_eq!(r.committed(), z);
}

#[test]
fn fault_knob_counts_the_leaders_ack_before_fsync() {
    let (mut r, _) = solo(|c| c.faults.leader_ack_before_fsync = true);
    let mut out = Vec::new();
    propose(&mut r, txn(0, create("/a")), &mut out);
    assert_eq!(
        r.commit_point(),
        r.last_zxid(),
        "the knob breaks the rule: committed before any fsync"
    );
    assert!(commits(&out).is_empty(), "applied before our own fsync");
}

#[test]
fn a_follower_applies_only_what_its_log_made_durable() {
    // Node 1 follows node 2 (3 voters); its fsyncs lag the commits.
    let mut out = Vec::new();
    let mut c = Config::new(1, vec![1, 2, 3], vec![]);
    c.finalize_ticks = 0;
    let mut r = Replica::new(c, Boot::default(), &mut out);
    let msg = |r: &mut Replica, m: PeerMsg<'_>, out: &mut Vec<Output>| {
        r.step(Input::Peer { from: 2, msg: m }, out)
    };
    for s in [2u64, 3] {
        let n = Notification {
            round: 1,
            peer_epoch: 0,
            last_zxid: 0,
            server_id: s,
            state: PeerState::Looking,
            proposed_leader: 2,
        };
        r.step(
            Input::Peer {
                from: s,
                msg: PeerMsg::Notification(n),
            },
            &mut out,
        );
    }
    r.step(Input::Tick { wall_ms: 0 }, &mut out);
    assert_eq!(r.leader(), Some(2));
    msg(&mut r, PeerMsg::LeaderInfo { new_epoch: 1 }, &mut out);
    msg(&mut r, PeerMsg::Diff { zxid: 0 }, &mut out);
    msg(&mut r, PeerMsg::NewLeader { zxid: zxid(1, 0) }, &mut out);
    msg(&mut r, PeerMsg::UpToDate, &mut out);
    assert!(r.is_serving());
    let mut body = Vec::new();
    let mut t = txn(0, create("/f"));
    t.header.zxid = zxid(1, 1);
    encode_txn_body(&mut body, &t);
    msg(
        &mut r,
        PeerMsg::Proposal {
            zxid: zxid(1, 1),
            txn: &body,
        },
        &mut out,
    );
    out.clear();
    msg(&mut r, PeerMsg::Commit { zxid: zxid(1, 1) }, &mut out);
    assert_eq!(r.commit_point(), zxid(1, 1));
    assert!(commits(&out).is_empty(), "applied before its own fsync");
    r.step(
        Input::Persisted {
            through: zxid(1, 1),
        },
        &mut out,
    );
    assert_eq!(commits(&out), vec![zxid(1, 1)]);
    assert_eq!(r.committed(), zxid(1, 1));
}

#[test]
fn counter_rollover_forces_a_new_epoch() {
    let (mut r, _) = solo(|c| c.counter_limit = 2);
    let mut out = Vec::new();
    for k in 0..2 {
        propose(&mut r, txn(0, create(&format!("/n{k}"))), &mut out);
        let z = r.last_zxid();
        r.step(Input::Persisted { through: z }, &mut out);
    }
    out.clear();
    propose(&mut r, txn(0, create("/x")), &mut out);
    assert!(out.iter().any(|o| matches!(o, Output::Rejected { .. })));
    assert_eq!(r.role(), ZabState::Looking);
    assert_eq!(r.stats().rollovers, 1);
    for _ in 0..3 {
        r.step(Input::Tick { wall_ms: 0 }, &mut out);
    }
    assert!(r.is_serving());
    out.clear();
    propose(&mut r, txn(0, create("/x")), &mut out);
    assert_eq!(r.last_zxid(), zxid(2, 1));
}

#[test]
fn silent_sessions_are_expired_once() {
    let (mut r, _) = solo(|c| c.tick_ms = 10);
    let mut out = Vec::new();
    propose(
        &mut r,
        txn(
            7,
            TxnOp::CreateSession {
                timeout: 50,
                passwd: None,
            },
        ),
        &mut out,
    );
    r.step(
        Input::Persisted {
            through: r.last_zxid(),
        },
        &mut out,
    );
    assert_eq!(r.sessions().collect::<Vec<_>>(), vec![7]);
    // Touched: it stays.
    for _ in 0..10 {
        r.step(Input::Touch { session: 7 }, &mut out);
        r.step(Input::Tick { wall_ms: 9 }, &mut out);
    }
    assert_eq!(r.stats().expired, 0);
    // Silent past its timeout (5 ticks): the runtime is asked to expire
    // it, once.
    out.clear();
    for _ in 0..20 {
        r.step(Input::Tick { wall_ms: 9 }, &mut out);
    }
    assert_eq!(r.stats().expired, 1);
    let expired: Vec<SessionId> = out
        .iter()
        .filter_map(|o| match o {
            Output::Expire { session } => Some(*session),
            _ => None,
        })
        .collect();
    assert_eq!(expired, vec![7]);
    // The core proposes the close; once committed the session is gone.
    out.clear();
    propose(&mut r, txn(7, TxnOp::CloseSession), &mut out);
    r.step(
        Input::Persisted {
            through: r.last_zxid(),
        },
        &mut out,
    );
    assert_eq!(r.sessions().count(), 0);
}

/// One zxid allocator: a proposal must carry the zxid the replica expects;
/// anything else is refused (and the core starts its pipeline over).
#[test]
fn a_proposal_out_of_step_is_refused() {
    let (mut r, _) = solo(|_| {});
    let mut out = Vec::new();
    let next = r.next_zxid().unwrap();
    assert_eq!(next, zxid(1, 1));
    for z in [0, next + 1, zxid(2, 1)] {
        let mut t = txn(0, create("/a"));
        t.header.zxid = z;
        r.step(Input::Propose(Arc::new(t)), &mut out);
    }
    let refused = out
        .iter()
        .filter(|o| matches!(o, Output::Rejected { .. }))
        .count();
    assert_eq!(refused, 3);
    assert_eq!(r.last_zxid(), 0);
    propose(&mut r, txn(0, create("/a")), &mut out);
    assert_eq!(r.last_zxid(), next);
}

/// Every message type, from every kind of sender, in every role: counted
/// or acted on, never a panic.
#[test]
fn unexpected_frames_never_panic() {
    let touches = [(1i64, 100i32)];
    let msgs = [
        PeerMsg::Notification(Notification {
            round: 9,
            peer_epoch: 3,
            last_zxid: 77,
            server_id: 2,
            state: PeerState::Leading,
            proposed_leader: 2,
        }),
        PeerMsg::FollowerInfo {
            server_id: 2,
            accepted_epoch: 1,
            current_epoch: 1,
            accepted_from: 3,
            last_zxid: 0,
            is_observer: true,
        },
        PeerMsg::LeaderInfo { new_epoch: 0 },
        PeerMsg::AckEpoch {
            current_epoch: 99,
            last_zxid: i64::MAX,
            shape: LogShape::from_slice(&[0, i64::MAX]),
        },
        PeerMsg::AckEpoch {
            current_epoch: 0,
            last_zxid: 7,
            shape: LogShape::from_slice(&[9, 3]),
        },
        PeerMsg::Diff { zxid: -1 },
        PeerMsg::Trunc { zxid: 5 },
        PeerMsg::Snap {
            zxid: 5,
            data: b"junk",
        },
        PeerMsg::Proposal {
            zxid: 1,
            txn: b"not a txn",
        },
        PeerMsg::Ack { zxid: i64::MIN },
        PeerMsg::Commit { zxid: i64::MAX },
        PeerMsg::Inform { zxid: 3, txn: b"" },
        PeerMsg::NewLeader { zxid: 1 << 32 },
        PeerMsg::UpToDate,
        PeerMsg::Ping {
            sessions: Touches::from_slice(&touches),
        },
        PeerMsg::Request {
            session: 1,
            cxid: 1,
            opcode: 1,
            request: b"x",
        },
        PeerMsg::Revalidate {
            session: 1,
            timeout: 1,
        },
        PeerMsg::RevalidateReply {
            session: 1,
            valid: true,
        },
    ];
    for role in 0..3 {
        for from in [2u64, 3, 99, 1] {
            for m in &msgs {
                let mut out = Vec::new();
                let mut c = Config::new(1, vec![1, 2, 3], vec![]);
                c.finalize_ticks = 0;
                let mut r = Replica::new(c, Boot::default(), &mut out);
                // role 0: looking; 1: leading (votes from 2 and 3 for us);
                // 2: following 3.
                if role > 0 {
                    let leader = if role == 1 { 1 } else { 3 };
                    for s in [2u64, 3] {
                        let n = Notification {
                            round: 1,
                            peer_epoch: 0,
                            last_zxid: 0,
                            server_id: s,
                            state: PeerState::Looking,
                            proposed_leader: leader,
                        };
                        r.step(
                            Input::Peer {
                                from: s,
                                msg: PeerMsg::Notification(n),
                            },
                            &mut out,
                        );
                    }
                }
                r.step(Input::Peer { from, msg: *m }, &mut out);
                r.check_invariants();
            }
        }
    }
}

#[test]
fn follower_refuses_an_older_epoch() {
    let mut out = Vec::new();
    let c = Config::new(1, vec![1, 2, 3], vec![]);
    let boot = Boot {
        accepted_epoch: 5,
        current_epoch: 5,
        ..Boot::default()
    };
    let mut r = Replica::new(c, boot, &mut out);
    for s in [2u64, 3] {
        let n = Notification {
            round: 1,
            peer_epoch: 5,
            last_zxid: 0,
            server_id: s,
            state: PeerState::Looking,
            proposed_leader: 3,
        };
        r.step(
            Input::Peer {
                from: s,
                msg: PeerMsg::Notification(n),
            },
            &mut out,
        );
    }
    for _ in 0..2 {
        r.step(Input::Tick { wall_ms: 0 }, &mut out);
    }
    assert_eq!(r.leader(), Some(3));
    r.step(
        Input::Peer {
            from: 3,
            msg: PeerMsg::LeaderInfo { new_epoch: 4 },
        },
        &mut out,
    );
    assert_eq!(r.role(), ZabState::Looking, "a lower epoch is refused");
    assert_eq!(r.accepted_epoch(), 5);
}
