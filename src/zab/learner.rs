//! The learner side (following and observing): joining a leader, taking its
//! sync and broadcast, acknowledging, committing and applying in order.

use super::*;

impl Replica {
    pub(super) fn follow(&mut self, leader: ServerId, out: &mut Out) {
        self.state = State::Following(Following {
            leader,
            phase: FPhase::AwaitLeaderInfo,
            epoch: 0,
            newleader: None,
            acked: 0,
            since: self.now,
            heard: self.now,
            touches: BTreeSet::new(),
        });
        out.push(Output::RoleChanged {
            role: self.role(),
            epoch: self.current_epoch,
            leader: Some(leader),
            serving: false,
        });
        out.push(Output::Send {
            to: leader,
            frame: frame(&PeerMsg::FollowerInfo {
                server_id: self.cfg.id,
                accepted_epoch: self.accepted_epoch,
                current_epoch: self.current_epoch,
                accepted_from: self.accepted_from,
                last_zxid: self.last_zxid(),
                is_observer: self.is_observer,
            }),
        });
    }

    /// A protocol breach by the leader we follow: drop it, look again.
    pub(super) fn abandon_leader(&mut self, out: &mut Out) {
        self.stats.unexpected += 1;
        self.go_looking(out);
    }

    pub(super) fn on_from_leader(&mut self, msg: PeerMsg<'_>, out: &mut Out) {
        let State::Following(f) = &mut self.state else {
            return;
        };
        f.heard = self.now;
        let phase = f.phase;
        match msg {
            PeerMsg::LeaderInfo { new_epoch } if phase == FPhase::AwaitLeaderInfo => {
                // An epoch equal to our acceptedEpoch is taken from another
                // leader only while we never acked a NEWLEADER of it: a
                // server acks NEWLEADER(e) for one leader at most, so two
                // leaders cannot both establish e.
                let again = self.accepted_from == f.leader;
                let equal_ok = again || self.current_epoch < new_epoch;
                if new_epoch < self.accepted_epoch
                    || (new_epoch == self.accepted_epoch && !equal_ok)
                {
                    self.abandon_leader(out);
                    return;
                }
                f.epoch = new_epoch;
                f.phase = FPhase::AwaitSync;
                let leader = f.leader;
                if new_epoch > self.accepted_epoch || self.accepted_from != leader {
                    self.accepted_epoch = new_epoch;
                    self.accepted_from = leader;
                    out.push(self.epochs_output());
                }
                let last = self.last_zxid();
                let shape = self.log_shape();
                out.push(Output::Send {
                    to: leader,
                    frame: frame(&PeerMsg::AckEpoch {
                        current_epoch: self.current_epoch,
                        last_zxid: last,
                        shape: LogShape::from_slice(&shape),
                    }),
                });
            }
            PeerMsg::Diff { .. } if phase == FPhase::AwaitSync => {
                f.phase = FPhase::Syncing;
                self.stats.diffs += 1;
            }
            PeerMsg::Trunc { zxid: t } if phase == FPhase::AwaitSync => {
                f.phase = FPhase::Syncing;
                self.stats.truncs += 1;
                if t < self.known || (t != self.base && self.index_of(t).is_none()) {
                    // Would drop committed txns, or names a zxid we lack.
                    self.abandon_leader(out);
                    return;
                }
                while self.log.back().is_some_and(|e| e.zxid() > t) {
                    self.log.pop_back();
                }
                self.durable = self.durable.min(t);
                out.push(Output::Truncate { after: t });
            }
            PeerMsg::Snap { zxid: z, data } if phase == FPhase::AwaitSync => {
                f.phase = FPhase::Syncing;
                self.stats.snaps += 1;
                self.log.clear();
                self.base = z;
                self.known = z;
                self.committed = z;
                self.durable = z;
                out.push(Output::InstallSnapshot {
                    zxid: z,
                    data: data.to_vec(),
                });
            }
            PeerMsg::Proposal { zxid: z, txn } if phase != FPhase::AwaitLeaderInfo => {
                let epoch = f.epoch;
                let ok_phase = phase != FPhase::AwaitSync;
                let last = self.last_zxid();
                let in_epoch = if phase == FPhase::Syncing {
                    epoch_of(z) <= epoch
                } else {
                    epoch_of(z) == epoch
                };
                if !ok_phase || !in_epoch || !is_successor(last, z) {
                    self.abandon_leader(out);
                    return;
                }
                let Ok(t) = decode_txn_body(z, txn) else {
                    self.stats.bad_frames += 1;
                    self.abandon_leader(out);
                    return;
                };
                let t = Arc::new(t);
                self.log.push_back(Entry {
                    txn: t.clone(),
                    body: txn.into(),
                });
                out.push(Output::Append(t));
                self.need_sync = true;
            }
            PeerMsg::Inform { zxid: z, txn } if phase == FPhase::Broadcast && self.is_observer => {
                let epoch = f.epoch;
                if !is_successor(self.last_zxid(), z) || epoch_of(z) != epoch {
                    self.abandon_leader(out);
                    return;
                }
                let Ok(t) = decode_txn_body(z, txn) else {
                    self.stats.bad_frames += 1;
                    self.abandon_leader(out);
                    return;
                };
                let t = Arc::new(t);
                self.log.push_back(Entry {
                    txn: t.clone(),
                    body: txn.into(),
                });
                out.push(Output::Append(t));
                self.need_sync = true;
                self.commit_to(z, out);
            }
            PeerMsg::Commit { zxid: z } if phase != FPhase::AwaitLeaderInfo => {
                if phase == FPhase::AwaitSync || z > self.last_zxid() {
                    self.abandon_leader(out);
                    return;
                }
                self.commit_to(z, out);
            }
            PeerMsg::NewLeader { zxid: z } if phase == FPhase::Syncing => {
                if epoch_of(z) != f.epoch || counter_of(z) != 0 {
                    self.abandon_leader(out);
                    return;
                }
                f.phase = FPhase::AwaitUpToDate;
                f.newleader = Some((z, self.log.back().map_or(self.base, |e| e.zxid())));
                self.maybe_ack(out);
            }
            PeerMsg::UpToDate if phase == FPhase::AwaitUpToDate => {
                if f.newleader.is_some() {
                    // The leader never sends UPTODATE before our ack.
                    self.abandon_leader(out);
                    return;
                }
                f.phase = FPhase::Broadcast;
                let leader = f.leader;
                out.push(Output::RoleChanged {
                    role: self.role(),
                    epoch: self.current_epoch,
                    leader: Some(leader),
                    serving: true,
                });
                self.maybe_ack(out);
            }
            PeerMsg::Ping { .. } => {
                let touches: Vec<(SessionId, i32)> = std::mem::take(&mut f.touches)
                    .into_iter()
                    .map(|s| (s, self.sessions.get(&s).map_or(0, |x| x.timeout_ms)))
                    .collect();
                let to = f.leader;
                out.push(Output::Send {
                    to,
                    frame: frame(&PeerMsg::Ping {
                        sessions: Touches::from_slice(&touches),
                    }),
                });
            }
            PeerMsg::RevalidateReply { session, valid } => {
                out.push(Output::Revalidated { session, valid });
            }
            _ => {
                self.abandon_leader(out);
            }
        }
    }

    /// Sends the NEWLEADER ack once synced txns are durable, and broadcast
    /// acks once proposals are.
    pub(super) fn maybe_ack(&mut self, out: &mut Out) {
        let durable = self.durable;
        let early = self.cfg.faults.newleader_ack_before_durable;
        let observer = self.is_observer;
        let State::Following(f) = &mut self.state else {
            return;
        };
        if let Some((z, covers)) = f.newleader {
            if durable < covers && !early {
                return;
            }
            // The synced txns are durable: only now may currentEpoch say
            // we hold the new epoch's history (ZOOKEEPER-3023), then ack.
            f.newleader = None;
            f.acked = covers;
            let (leader, epoch) = (f.leader, f.epoch);
            if self.current_epoch != epoch {
                self.current_epoch = epoch;
                out.push(self.epochs_output());
            }
            out.push(Output::Send {
                to: leader,
                frame: frame(&PeerMsg::Ack { zxid: z }),
            });
        }
        let State::Following(f) = &mut self.state else {
            return;
        };
        if !observer
            && f.phase == FPhase::Broadcast
            && durable > f.acked
            && epoch_of(durable) == f.epoch
        {
            f.acked = durable;
            out.push(Output::Send {
                to: f.leader,
                frame: frame(&PeerMsg::Ack { zxid: durable }),
            });
        }
    }

    /// `z` is committed: applies every logged txn through it that our log
    /// has made durable (the rest when it has, [`Replica::on_persisted`]).
    pub(super) fn commit_to(&mut self, z: Zxid, out: &mut Out) {
        if z > self.known {
            self.known = z.min(self.last_zxid());
        }
        self.apply_ready(out);
    }

    /// Applies the known-committed txns that are durable here.
    pub(super) fn apply_ready(&mut self, out: &mut Out) {
        let z = self.known.min(self.durable);
        if z <= self.committed {
            return;
        }
        let start = match self.log.binary_search_by_key(&self.committed, |e| e.zxid()) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        let mut i = start;
        while let Some(e) = self.log.get(i) {
            if e.zxid() > z {
                break;
            }
            let t = e.txn.clone();
            self.committed = t.header.zxid;
            self.on_committed_session(&t);
            out.push(Output::Commit(t));
            i += 1;
        }
        self.trim();
    }

    pub(super) fn on_committed_session(&mut self, t: &Txn) {
        let now = self.now;
        let track = |op: &TxnOp, sessions: &mut BTreeMap<SessionId, Session>| match op {
            TxnOp::CreateSession { timeout, .. } => {
                sessions.entry(t.header.session).or_insert(Session {
                    timeout_ms: *timeout,
                    last_touch: now,
                    closing: false,
                });
            }
            TxnOp::CloseSession => {
                sessions.remove(&t.header.session);
            }
            _ => {}
        };
        match &t.op {
            TxnOp::Multi(ops) => {
                for op in ops {
                    track(op, &mut self.sessions);
                }
            }
            op => track(op, &mut self.sessions),
        }
    }

    /// Drops committed entries beyond the in-memory window.
    pub(super) fn trim(&mut self) {
        while self.log.len() > self.cfg.log_window {
            match self.log.front() {
                Some(e) if e.zxid() <= self.committed => {
                    self.base = e.zxid();
                    self.log.pop_front();
                }
                _ => break,
            }
        }
    }
}
