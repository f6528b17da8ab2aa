//! The leader side: discovery (picking the epoch), synchronizing each
//! learner (DIFF/TRUNC/SNAP), establishing, proposing and committing at a
//! quorum of acks.

use super::*;

impl Replica {
    pub(super) fn lead(&mut self, out: &mut Out) {
        let l = Leading {
            epoch: None,
            established: false,
            since: self.now,
            history_end: self.last_zxid(),
            synced: false,
            learners: BTreeMap::new(),
            next_counter: 1,
        };
        self.state = State::Leading(l);
        out.push(Output::RoleChanged {
            role: ZabState::Leading,
            epoch: self.current_epoch,
            leader: Some(self.cfg.id),
            serving: false,
        });
        // A single-voter ensemble decides its epoch alone.
        self.try_pick_epoch(out);
    }

    pub(super) fn try_pick_epoch(&mut self, out: &mut Out) {
        let q = self.quorum();
        let State::Leading(l) = &mut self.state else {
            return;
        };
        if l.epoch.is_some() {
            return;
        }
        let voters = 1 + l
            .learners
            .iter()
            .filter(|(s, x)| !x.observer && self.cfg.voters.contains(s))
            .count();
        if voters < q {
            return;
        }
        let max = l
            .learners
            .values()
            .map(|x| x.accepted_epoch)
            .chain([self.accepted_epoch, self.current_epoch])
            .max()
            .unwrap_or(0);
        let Some(e) = max.checked_add(1) else {
            return;
        };
        l.epoch = Some(e);
        self.accepted_epoch = e;
        self.accepted_from = self.cfg.id;
        out.push(Output::PersistEpochs {
            accepted: e,
            current: self.current_epoch,
            accepted_from: self.cfg.id,
        });
        let f = frame(&PeerMsg::LeaderInfo { new_epoch: e });
        for (s, x) in l.learners.iter_mut() {
            x.phase = LPhase::AwaitAckEpoch;
            out.push(Output::Send {
                to: *s,
                frame: f.clone(),
            });
        }
        self.try_start_sync(out);
    }

    pub(super) fn on_from_learner(&mut self, from: ServerId, msg: PeerMsg<'_>, out: &mut Out) {
        let now = self.now;
        let State::Leading(l) = &mut self.state else {
            return;
        };
        if let PeerMsg::FollowerInfo {
            server_id,
            accepted_epoch,
            current_epoch,
            accepted_from,
            is_observer,
            ..
        } = msg
        {
            if server_id != from || is_observer == self.cfg.voters.contains(&from) {
                self.stats.bad_frames += 1;
                out.push(Output::Disconnect { peer: from });
                l.learners.remove(&from);
                return;
            }
            if let Some(e) = l.epoch {
                // The learner takes a LEADERINFO of `e` only if it never
                // promised a later epoch, nor acked NEWLEADER of `e` for
                // another leader (see `on_from_leader`). If it cannot, only
                // a new epoch brings it back: step down, and the next
                // election picks an epoch above its promise. (Staying would
                // leave it outside for as long as we lead.)
                let promised = accepted_epoch > e
                    || (accepted_epoch == e && accepted_from != self.cfg.id && current_epoch >= e);
                if promised {
                    self.stats.step_downs += 1;
                    self.go_looking(out);
                    return;
                }
            }
            let mut x = Learner {
                observer: is_observer,
                accepted_epoch,
                phase: LPhase::Info,
                sent: 0,
                commit_sent: 0,
                sent_at_nl: 0,
                nl_acked: false,
                uptodate: false,
                acked: 0,
                heard: now,
            };
            if let Some(e) = l.epoch {
                x.phase = LPhase::AwaitAckEpoch;
                out.push(Output::Send {
                    to: from,
                    frame: frame(&PeerMsg::LeaderInfo { new_epoch: e }),
                });
            }
            l.learners.insert(from, x);
            self.try_pick_epoch(out);
            return;
        }
        let Some(x) = l.learners.get_mut(&from) else {
            // Not (or no longer) our learner: it must reconnect.
            self.stats.unexpected += 1;
            out.push(Output::Disconnect { peer: from });
            return;
        };
        x.heard = now;
        match msg {
            PeerMsg::AckEpoch {
                current_epoch,
                last_zxid,
                shape,
            } if x.phase == LPhase::AwaitAckEpoch => {
                if !shape_is_valid(shape, last_zxid) {
                    self.stats.bad_frames += 1;
                    l.learners.remove(&from);
                    out.push(Output::Disconnect { peer: from });
                    return;
                }
                let mine = (
                    self.current_epoch,
                    self.log.back().map_or(self.base, |e| e.zxid()),
                );
                if (current_epoch, last_zxid) > mine {
                    // A learner knows more than we do: we must not lead.
                    self.stats.step_downs += 1;
                    self.go_looking(out);
                    return;
                }
                let common = self.common_point(shape);
                let State::Leading(l) = &mut self.state else {
                    return;
                };
                let Some(x) = l.learners.get_mut(&from) else {
                    return;
                };
                x.phase = LPhase::AckedEpoch {
                    current: current_epoch,
                    last: last_zxid,
                    common,
                };
                if l.synced {
                    self.sync_learner(from, out);
                } else {
                    self.try_start_sync(out);
                }
            }
            PeerMsg::Ack { zxid: z } if x.phase == LPhase::Streaming => {
                let e = l.epoch.unwrap_or(0);
                if counter_of(z) == 0 {
                    if z != zxid(e, 0) || x.nl_acked {
                        self.stats.unexpected += 1;
                        return;
                    }
                    x.nl_acked = true;
                    x.acked = x.acked.max(x.sent_at_nl);
                    if l.established {
                        x.uptodate = true;
                        out.push(Output::Send {
                            to: from,
                            frame: frame(&PeerMsg::UpToDate),
                        });
                    } else {
                        self.try_establish(out);
                    }
                } else {
                    if epoch_of(z) != e || z > x.sent || !x.nl_acked || x.observer {
                        self.stats.unexpected += 1;
                        return;
                    }
                    x.acked = x.acked.max(z);
                    self.try_commit(out);
                }
            }
            PeerMsg::Ping { sessions } => {
                for (s, _) in sessions {
                    if let Some(x) = self.sessions.get_mut(&s) {
                        x.last_touch = now;
                    }
                }
            }
            PeerMsg::Request {
                session,
                cxid,
                opcode,
                request,
            } => {
                if l.established {
                    out.push(Output::Request {
                        from,
                        session,
                        cxid,
                        opcode,
                        body: request.to_vec(),
                    });
                }
            }
            PeerMsg::Revalidate { session, .. } => {
                let valid = l.established
                    && match self.sessions.get_mut(&session) {
                        Some(s) if !s.closing => {
                            s.last_touch = now;
                            true
                        }
                        _ => false,
                    };
                out.push(Output::Send {
                    to: from,
                    frame: frame(&PeerMsg::RevalidateReply { session, valid }),
                });
            }
            _ => {
                self.stats.unexpected += 1;
                l.learners.remove(&from);
                out.push(Output::Disconnect { peer: from });
            }
        }
    }

    /// Starts syncing once a quorum of voters acked the epoch.
    pub(super) fn try_start_sync(&mut self, out: &mut Out) {
        let q = self.quorum();
        let State::Leading(l) = &mut self.state else {
            return;
        };
        if l.epoch.is_none() || l.synced {
            return;
        }
        let acked = 1 + l
            .learners
            .iter()
            .filter(|(s, x)| {
                !x.observer
                    && self.cfg.voters.contains(s)
                    && matches!(x.phase, LPhase::AckedEpoch { .. })
            })
            .count();
        if acked < q {
            return;
        }
        l.synced = true;
        l.history_end = self.log.back().map_or(self.base, |x| x.zxid());
        let ready: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| matches!(x.phase, LPhase::AckedEpoch { .. }))
            .map(|(s, _)| *s)
            .collect();
        for s in ready {
            self.sync_learner(s, out);
        }
        self.try_establish(out);
    }

    /// Sends learner `to` its sync stream: DIFF/TRUNC/SNAP, the missing
    /// proposals, a cumulative COMMIT and NEWLEADER.
    pub(super) fn sync_learner(&mut self, to: ServerId, out: &mut Out) {
        let last = self.last_zxid();
        let base = self.base;
        let committed = self.committed;
        let known = self.known;
        let State::Leading(l) = &mut self.state else {
            return;
        };
        let e = l.epoch.unwrap_or(0);
        let Some(x) = l.learners.get_mut(&to) else {
            return;
        };
        let LPhase::AckedEpoch {
            last: fz, common, ..
        } = x.phase
        else {
            return;
        };
        // Every txn that may be committed is in our history, so the
        // learner's possibly committed txns are at most `common` (those it
        // shares with our log) or below our base. DIFF or TRUNC to the
        // common point keeps them; a SNAP is only needed when the common
        // point is below our base, and then our committed state covers
        // all of them (a SNAP below them would let the learner durably
        // drop committed txns before the proposals that bring them back
        // are durable).
        let from = match common.filter(|&p| p >= base) {
            Some(p) if p == fz => {
                out.push(Output::Send {
                    to,
                    frame: frame(&PeerMsg::Diff { zxid: last }),
                });
                self.stats.diffs += 1;
                p
            }
            Some(p) => {
                out.push(Output::Send {
                    to,
                    frame: frame(&PeerMsg::Trunc { zxid: p }),
                });
                self.stats.truncs += 1;
                p
            }
            None => {
                out.push(Output::SendSnapshot {
                    to,
                    zxid: committed,
                });
                self.stats.snaps += 1;
                committed
            }
        };
        let start = match self.log.binary_search_by_key(&from, |e| e.zxid()) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        for en in self.log.range(start..) {
            out.push(Output::Send {
                to,
                frame: frame(&PeerMsg::Proposal {
                    zxid: en.zxid(),
                    txn: &en.body,
                }),
            });
        }
        // Always: the learner may have logged, but not applied, txns we
        // committed (its own committed point is unknown to us).
        if known > 0 {
            out.push(Output::Send {
                to,
                frame: frame(&PeerMsg::Commit { zxid: known }),
            });
        }
        out.push(Output::Send {
            to,
            frame: frame(&PeerMsg::NewLeader { zxid: zxid(e, 0) }),
        });
        x.phase = LPhase::Streaming;
        x.sent = last;
        x.sent_at_nl = last;
        x.commit_sent = committed;
    }

    pub(super) fn self_ack(&self) -> Zxid {
        if self.cfg.faults.leader_ack_before_fsync {
            self.last_zxid()
        } else {
            self.durable
        }
    }

    pub(super) fn try_establish(&mut self, out: &mut Out) {
        let q = self.quorum();
        let self_ok = self.self_ack() >= self.last_zxid_history();
        let State::Leading(l) = &mut self.state else {
            return;
        };
        if l.established || !l.synced || !self_ok {
            return;
        }
        // Our own history is durable: now (never before) currentEpoch may
        // move to the new epoch, as a learner does before acking NEWLEADER.
        let e = l.epoch.unwrap_or(0);
        if self.current_epoch != e {
            self.current_epoch = e;
            out.push(self.epochs_output());
        }
        let State::Leading(l) = &mut self.state else {
            return;
        };
        let n = 1 + l
            .learners
            .iter()
            .filter(|(s, x)| !x.observer && x.nl_acked && self.cfg.voters.contains(s))
            .count();
        if n < q {
            return;
        }
        l.established = true;
        let end = l.history_end;
        for x in l.learners.values_mut() {
            if x.nl_acked {
                x.uptodate = true;
            }
        }
        // Sessions get a fresh timeout under the new leader.
        for s in self.sessions.values_mut() {
            s.last_touch = self.now;
            s.closing = false;
        }
        out.push(Output::Established { epoch: e });
        out.push(Output::RoleChanged {
            role: ZabState::Leading,
            epoch: e,
            leader: Some(self.cfg.id),
            serving: true,
        });
        self.advance_commit(end, out);
        let State::Leading(l) = &mut self.state else {
            return;
        };
        let up = frame(&PeerMsg::UpToDate);
        for (s, x) in l.learners.iter() {
            if x.uptodate {
                out.push(Output::Send {
                    to: *s,
                    frame: up.clone(),
                });
            }
        }
    }

    pub(super) fn last_zxid_history(&self) -> Zxid {
        match &self.state {
            State::Leading(l) => l.history_end,
            _ => self.last_zxid(),
        }
    }

    /// `z` is committed: tells the streaming learners, and applies it here
    /// as far as our own log is durable.
    pub(super) fn advance_commit(&mut self, z: Zxid, out: &mut Out) {
        if z <= self.known {
            return;
        }
        self.commit_to(z, out);
        let c = self.known;
        let State::Leading(l) = &mut self.state else {
            return;
        };
        let commit = frame(&PeerMsg::Commit { zxid: c });
        for (s, x) in l.learners.iter_mut() {
            if x.phase != LPhase::Streaming {
                continue;
            }
            if !x.observer {
                out.push(Output::Send {
                    to: *s,
                    frame: commit.clone(),
                });
                x.commit_sent = c;
                continue;
            }
            // Observers: COMMIT what they hold as proposals, INFORM the rest.
            if x.sent > x.commit_sent {
                let upto = x.sent.min(c);
                out.push(Output::Send {
                    to: *s,
                    frame: frame(&PeerMsg::Commit { zxid: upto }),
                });
                x.commit_sent = upto;
            }
            if c > x.sent {
                let start = match self.log.binary_search_by_key(&x.sent, |e| e.zxid()) {
                    Ok(i) => i + 1,
                    Err(i) => i,
                };
                for en in self.log.range(start..) {
                    if en.zxid() > c {
                        break;
                    }
                    out.push(Output::Send {
                        to: *s,
                        frame: frame(&PeerMsg::Inform {
                            zxid: en.zxid(),
                            txn: &en.body,
                        }),
                    });
                }
                x.sent = c;
                x.commit_sent = c;
            }
        }
    }

    pub(super) fn try_commit(&mut self, out: &mut Out) {
        let q = self.quorum();
        let mine = self.self_ack();
        let State::Leading(l) = &self.state else {
            return;
        };
        if !l.established {
            return;
        }
        let e = l.epoch.unwrap_or(0);
        let mut acks: Vec<Zxid> = l
            .learners
            .iter()
            .filter(|(s, x)| !x.observer && x.nl_acked && self.cfg.voters.contains(s))
            .map(|(_, x)| x.acked)
            .collect();
        acks.push(mine);
        if acks.len() < q {
            return;
        }
        acks.sort_unstable_by(|a, b| b.cmp(a));
        let z = acks[q - 1].min(self.last_zxid());
        if z > self.known && epoch_of(z) == e {
            self.advance_commit(z, out);
        }
    }

    /// The zxid the next proposal must carry, if we are an established
    /// leader with counters left in this epoch.
    pub fn next_zxid(&self) -> Option<Zxid> {
        match &self.state {
            State::Leading(l) if l.established => Some(zxid(l.epoch?, l.next_counter)),
            _ => None,
        }
    }

    /// Leader: logs and broadcasts a txn carrying the next zxid. False if
    /// not possible (not an established leader, a zxid out of step, or
    /// this epoch's counters are used up: then we step down so that a new
    /// epoch starts). Sessions are checked by the core (ZooKeeper's
    /// checkSession); here only their activity is tracked.
    pub(super) fn propose(&mut self, txn: Arc<Txn>, out: &mut Out) -> bool {
        let limit = self.cfg.counter_limit;
        let State::Leading(l) = &mut self.state else {
            return false;
        };
        if !l.established {
            return false;
        }
        if l.next_counter > limit || l.next_counter == u32::MAX {
            // Counter exhausted: a new epoch is needed.
            self.stats.rollovers += 1;
            self.go_looking(out);
            return false;
        }
        let z = zxid(l.epoch.unwrap_or(0), l.next_counter);
        if txn.header.zxid != z {
            self.stats.unexpected += 1;
            return false;
        }
        l.next_counter += 1;
        match &txn.op {
            TxnOp::CreateSession { timeout, .. } => {
                self.sessions.insert(
                    txn.header.session,
                    Session {
                        timeout_ms: *timeout,
                        last_touch: self.now,
                        closing: false,
                    },
                );
            }
            TxnOp::CloseSession => {
                if let Some(s) = self.sessions.get_mut(&txn.header.session) {
                    s.closing = true;
                }
            }
            _ => {}
        }
        let mut body = Vec::new();
        encode_txn_body(&mut body, &txn);
        let body: Arc<[u8]> = body.into();
        let t = txn;
        let f = frame(&PeerMsg::Proposal {
            zxid: z,
            txn: &body,
        });
        self.log.push_back(Entry {
            txn: t.clone(),
            body,
        });
        out.push(Output::Append(t));
        self.need_sync = true;
        let State::Leading(l) = &mut self.state else {
            return false;
        };
        for (s, x) in l.learners.iter_mut() {
            if x.phase == LPhase::Streaming && !x.observer {
                out.push(Output::Send {
                    to: *s,
                    frame: f.clone(),
                });
                x.sent = z;
            }
        }
        if self.cfg.faults.leader_ack_before_fsync {
            self.try_commit(out);
        }
        true
    }
}
