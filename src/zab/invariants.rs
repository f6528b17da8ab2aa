//! The replica's internal invariants, checked by tests and the simulator.

use super::*;

impl Replica {
    /// Panics if an internal invariant does not hold (tests, simulation).
    pub fn check_invariants(&self) {
        let mut prev = self.base;
        for e in &self.log {
            assert!(
                is_successor(prev, e.zxid()),
                "log not contiguous at {:#x} after {:#x}",
                e.zxid(),
                prev
            );
            prev = e.zxid();
        }
        let last = self.last_zxid();
        assert!(self.base <= self.committed, "committed below base");
        assert!(
            self.committed <= self.known,
            "applied beyond the commit point"
        );
        assert!(
            self.committed <= self.durable.max(self.base),
            "applied beyond the durable log"
        );
        assert!(self.known <= last, "committed beyond the log");
        assert!(self.durable <= last, "durable beyond the log");
        assert!(self.current_epoch <= self.accepted_epoch, "epochs");
        if let State::Leading(l) = &self.state {
            if l.established {
                assert_eq!(Some(self.current_epoch), l.epoch, "leader epoch");
                assert!(self.known >= l.history_end, "history committed");
            }
            for x in l.learners.values() {
                assert!(x.acked <= last, "learner ack beyond our log");
            }
        }
    }
}
