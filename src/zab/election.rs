//! Fast leader election (LOOKING): votes, notifications, deciding.

use super::*;

impl Replica {
    pub(super) fn my_vote(&self) -> Vote {
        Vote {
            leader: self.cfg.id,
            zxid: self.last_zxid(),
            peer_epoch: self.current_epoch,
        }
    }

    pub(super) fn notification(&self) -> Notification {
        Notification {
            round: self.round,
            peer_epoch: self.vote.peer_epoch,
            last_zxid: self.vote.zxid,
            server_id: self.cfg.id,
            state: match self.role() {
                ZabState::Looking => PeerState::Looking,
                ZabState::Following => PeerState::Following,
                ZabState::Leading => PeerState::Leading,
                ZabState::Observing => PeerState::Observing,
            },
            proposed_leader: self.vote.leader,
        }
    }

    pub(super) fn notify(&self, to: ServerId, out: &mut Out) {
        out.push(Output::Send {
            to,
            frame: frame(&PeerMsg::Notification(self.notification())),
        });
    }

    pub(super) fn broadcast_notification(&self, out: &mut Out) {
        let f = frame(&PeerMsg::Notification(self.notification()));
        for &v in &self.cfg.voters {
            if v != self.cfg.id {
                out.push(Output::Send {
                    to: v,
                    frame: f.clone(),
                });
            }
        }
    }

    /// Leaves whatever role we had and starts a new election round.
    pub(super) fn go_looking(&mut self, out: &mut Out) {
        self.early_infos.clear();
        match std::mem::replace(&mut self.state, State::Looking(Looking::default())) {
            State::Following(f) => {
                out.push(Output::Disconnect { peer: f.leader });
            }
            State::Leading(l) => {
                for p in l.learners.keys() {
                    out.push(Output::Disconnect { peer: *p });
                }
            }
            State::Looking(_) => {}
        }
        self.round += 1;
        self.vote = self.my_vote();
        let (me, vote, now) = (self.cfg.id, self.vote, self.now);
        if let State::Looking(lk) = &mut self.state {
            if !self.is_observer {
                lk.recv.insert(me, vote);
            }
            lk.next_notify = now + self.cfg.notify_ticks;
        }
        out.push(Output::RoleChanged {
            role: ZabState::Looking,
            epoch: self.current_epoch,
            leader: None,
            serving: false,
        });
        if self.is_observer {
            // Ask the voters who leads (they answer when not LOOKING).
            self.broadcast_notification(out);
        } else {
            self.broadcast_notification(out);
            self.check_election(out);
        }
    }

    pub(super) fn on_notification(&mut self, from: ServerId, n: Notification, out: &mut Out) {
        let sender_voter = self.is_voter(from);
        if !matches!(self.state, State::Looking(_)) {
            // Established roles answer LOOKING servers (and observers).
            if n.state == PeerState::Looking || !sender_voter {
                self.notify(from, out);
            }
            return;
        }
        if !sender_voter {
            // Observers learn; they never vote. A looking voter answers.
            if !self.is_observer {
                self.notify(from, out);
            }
            return;
        }
        let v = Vote {
            leader: n.proposed_leader,
            zxid: n.last_zxid,
            peer_epoch: n.peer_epoch,
        };
        match n.state {
            PeerState::Looking => {
                // It no longer follows or leads anyone.
                if let State::Looking(lk) = &mut self.state {
                    lk.out.remove(&from);
                }
                if self.is_observer {
                    return;
                }
                if n.round < self.round {
                    self.notify(from, out);
                    return;
                }
                let mine = self.my_vote();
                let me = self.cfg.id;
                let State::Looking(lk) = &mut self.state else {
                    return;
                };
                let mut changed = false;
                if n.round > self.round {
                    self.round = n.round;
                    lk.recv.clear();
                    lk.quorum_since = None;
                    self.vote = if v.beats(&mine) { v } else { mine };
                    changed = true;
                } else if v.beats(&self.vote) {
                    self.vote = v;
                    lk.quorum_since = None;
                    changed = true;
                }
                lk.recv.insert(from, v);
                lk.recv.insert(me, self.vote);
                if changed {
                    self.broadcast_notification(out);
                }
                self.check_election(out);
            }
            PeerState::Following | PeerState::Leading => {
                let q = self.quorum();
                let me = self.cfg.id;
                let State::Looking(lk) = &mut self.state else {
                    return;
                };
                lk.out.insert(from, (v, n.state));
                // Join an established leader: a quorum of voters follow or
                // lead it, and its latest notification says it leads. Only
                // the leader id must agree: a follower that joined through
                // a delayed notification may carry an older vote, and
                // joining is always safe (discovery decides the epoch).
                let agree = lk
                    .out
                    .values()
                    .filter(|(x, _)| x.leader == v.leader)
                    .count();
                let leader_says = lk
                    .out
                    .get(&v.leader)
                    .is_some_and(|(x, st)| *st == PeerState::Leading && x.leader == v.leader);
                if agree >= q && leader_says && v.leader != me {
                    self.round = self.round.max(n.round);
                    self.vote = v;
                    self.follow(v.leader, out);
                }
            }
            PeerState::Observing => {}
        }
    }

    pub(super) fn check_election(&mut self, out: &mut Out) {
        let q = self.quorum();
        let (vote, now) = (self.vote, self.now);
        let State::Looking(lk) = &mut self.state else {
            return;
        };
        let n = lk.recv.values().filter(|v| **v == vote).count();
        if n < q {
            lk.quorum_since = None;
            return;
        }
        let since = *lk.quorum_since.get_or_insert(now);
        if now >= since + self.cfg.finalize_ticks {
            self.stats.elections += 1;
            let early = std::mem::take(&mut self.early_infos);
            if vote.leader == self.cfg.id {
                self.lead(out);
                for (from, x) in early {
                    let info = PeerMsg::FollowerInfo {
                        server_id: from,
                        accepted_epoch: x.accepted_epoch,
                        current_epoch: x.current_epoch,
                        accepted_from: x.accepted_from,
                        last_zxid: x.last_zxid,
                        is_observer: x.is_observer,
                    };
                    self.on_from_learner(from, info, out);
                    if !matches!(self.state, State::Leading(_)) {
                        break;
                    }
                }
            } else {
                for from in early.into_keys() {
                    out.push(Output::Disconnect { peer: from });
                }
                self.follow(vote.leader, out);
            }
        }
    }
}
