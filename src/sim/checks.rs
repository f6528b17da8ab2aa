//! The end of a run: the ensemble is healed and must catch up, then every
//! server's state is compared and the clients' histories are checked
//! (linearizability per znode, with failed conditional writes and synced
//! reads as observations).

use super::*;

impl Sim {
    pub(super) fn caught_up(&self) -> bool {
        self.servers
            .iter()
            .all(|s| s.up && s.serving && s.applied == self.canon.len())
    }

    pub(super) fn final_checks(&mut self, heal_len: usize) {
        let leaders: Vec<ServerId> = self
            .servers
            .iter()
            .filter(|s| {
                s.serving
                    && s.node
                        .as_ref()
                        .and_then(|n| n.replica())
                        .is_some_and(|r| r.role() == ZabState::Leading)
            })
            .map(|s| s.id)
            .collect();
        if leaders.len() != 1 {
            self.fail(format!(
                "liveness: {} serving leaders after healing ({leaders:?})",
                leaders.len()
            ));
            return;
        }
        if self.canon.len() <= heal_len {
            self.fail("liveness: nothing committed after healing".into());
            return;
        }
        for s in &self.servers {
            if !s.up || !s.serving || s.applied != self.canon.len() {
                let msg = format!(
                    "liveness: node {} not caught up after healing (up {}, serving {}, applied {} of {})",
                    s.id,
                    s.up,
                    s.serving,
                    s.applied,
                    self.canon.len()
                );
                self.fail(msg);
                return;
            }
        }
        let missing = self
            .shared
            .answered
            .iter()
            .find(|z| !self.canon_at.contains_key(z))
            .copied();
        if let Some(z) = missing {
            self.fail(format!(
                "an answered write {z:#x} is not in the committed sequence"
            ));
            return;
        }
        let tree0 = &self.servers[0].node.as_ref().expect("up").core().tree();
        let d0 = tree_digest(tree0);
        for s in &self.servers {
            let tree = &s.node.as_ref().expect("up").core().tree();
            tree.check_invariants();
            if tree_digest(tree) != d0 {
                let msg = format!("node {} final tree differs", s.id);
                self.fail(msg);
                return;
            }
        }
        // Every node's ephemerals are those the committed sequence leaves.
        for s in &self.servers {
            let tree = s.node.as_ref().expect("up").core().tree();
            let mut have = BTreeMap::new();
            for (owner, _) in tree.ephemeral_sessions() {
                for p in tree.ephemerals_of(owner) {
                    have.insert(p.to_string(), owner);
                }
            }
            if have != self.ephemerals {
                let extra: Vec<_> = have
                    .iter()
                    .filter(|(p, _)| !self.ephemerals.contains_key(*p))
                    .collect();
                let gone: Vec<_> = self
                    .ephemerals
                    .iter()
                    .filter(|(p, _)| !have.contains_key(*p))
                    .collect();
                let msg = format!(
                    "node {}: ephemerals differ from what the committed sequence leaves: not expected {extra:?}, missing {gone:?}",
                    s.id
                );
                self.fail(msg);
                return;
            }
        }
        // Abandoned sessions that were created must have expired: a full
        // timeout (plus a margin) after both the abandonment and the
        // current leader's establishment.
        for &(s, at) in &self.shared.abandoned {
            let due = at.max(self.established_at) + client::SESSION_TIMEOUT_MS as u64 + 5 * TICK_MS;
            if self.created_sessions.contains(&s)
                && !self.closed_sessions.contains(&s)
                && self.now > due
            {
                self.fail(format!("abandoned session {s:#x} never expired"));
                return;
            }
        }
        // Linearizability of every key's history. An unanswered read says
        // nothing. An unanswered write took effect exactly if its txn
        // committed (the simulator sees every commit): then it counts as
        // answered when it committed, with the result its txn had;
        // otherwise it never happened.
        let mut parts = Vec::new();
        for (k, h) in self.shared.hist.iter().enumerate() {
            let ops: Vec<_> = h
                .iter()
                .enumerate()
                .filter_map(|(hi, o)| {
                    if o.complete.is_some() {
                        return Some(o.clone());
                    }
                    let (ts, out) = self.resolved.get(&(k, hi))?.clone();
                    let mut o = o.clone();
                    o.complete = Some(ts);
                    o.output = Some(out?);
                    Some(o)
                })
                .collect();
            self.cov.checked_ops += ops.iter().filter(|o| o.complete.is_some()).count() as u64;
            parts.push((client::key_path(k), None, ops));
        }
        let bad = check_partitioned(&Znode, parts);
        if !bad.is_empty() {
            self.fail(format!("not linearizable: {bad:?}"));
        }
    }
}
