//! Performs a [`Node`]'s effects on real files and sockets, the same way
//! for a standalone server and an ensemble member: appends are batched and
//! handed to the log thread at the node's next sync (one mailbox message
//! per batch, so the log thread's group commit sees everything a turn
//! proposed); truncations and resets follow them through the same FIFO, so
//! a durability report always follows everything queued before it. Without
//! a log (in-memory standalone) a sync is durable at once. What only
//! members do (peer frames, epochs, snapshot installs, role changes and
//! their metrics) is [`EnsIo`]'s.

use super::ensemble::EnsIo;
use super::storage::{LogCmd, MailboxTx};
use crate::node::{Effect, Node};
use crate::tree::txn::Txn;
use crate::types::{Now, Zxid};
use std::sync::Arc;

/// The runtime side of a node (owned by the core shard, next to it).
pub(crate) struct NodeIo {
    /// The log thread; None keeps everything in memory.
    to_log: Option<MailboxTx<LogCmd>>,
    /// Appends since the last sync.
    appends: Vec<Arc<Txn>>,
    last_appended: Zxid,
    /// Txns committed since the last snapshot started.
    pub since_snap: u64,
    /// Ensemble members only.
    pub ens: Option<EnsIo>,
}

impl NodeIo {
    pub fn new(to_log: Option<MailboxTx<LogCmd>>, since_snap: u64, ens: Option<EnsIo>) -> NodeIo {
        NodeIo {
            to_log,
            appends: Vec::new(),
            last_appended: 0,
            since_snap,
            ens,
        }
    }

    fn flush_appends(&mut self) {
        if let Some(to_log) = &self.to_log {
            to_log.send([LogCmd::Append(std::mem::take(&mut self.appends))]);
        }
    }

    /// Performs the node's effects, in order.
    pub fn perform(&mut self, node: &mut Node, now: Now) {
        let leading = node
            .replica()
            .is_some_and(|r| r.role() == crate::zab::ZabState::Leading && r.is_serving());
        let mut synced_in_memory = false;
        for e in node.take_effects() {
            match e {
                Effect::Append(t) => {
                    let z = t.header.zxid;
                    if let Some(ens) = &mut self.ens {
                        ens.appended(z, leading);
                    }
                    self.last_appended = z;
                    if self.to_log.is_some() {
                        self.appends.push(t);
                    }
                }
                Effect::Sync => {
                    if let Some(ens) = &mut self.ens {
                        ens.sync_asked(self.last_appended);
                    }
                    if self.to_log.is_some() {
                        self.flush_appends();
                    } else {
                        synced_in_memory = true;
                    }
                }
                Effect::Truncate { after } => {
                    if !self.appends.is_empty() {
                        self.flush_appends();
                    }
                    if let Some(to_log) = &self.to_log {
                        to_log.send([LogCmd::TruncateAfter(after)]);
                    }
                }
                Effect::InstallSnapshot { zxid, data } => {
                    if let Some(ens) = &self.ens {
                        ens.install_snapshot(zxid, &data);
                    }
                    if !self.appends.is_empty() {
                        self.flush_appends();
                    }
                    if let Some(to_log) = &self.to_log {
                        to_log.send([LogCmd::Reset]);
                    }
                }
                other => {
                    if let Some(ens) = &mut self.ens {
                        ens.perform(other);
                    }
                }
            }
        }
        if synced_in_memory {
            node.durable(self.last_appended, now);
        }
    }

    /// The log thread reported durability through `z`.
    pub fn synced(&mut self, z: Zxid) {
        if let Some(ens) = &mut self.ens {
            ens.synced(z);
        }
    }
}
