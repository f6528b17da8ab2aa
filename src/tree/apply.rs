//! Applying committed txns to the [`DataTree`]: ZooKeeper's Stat
//! bookkeeping per op (versions, cversion and pzxid of the parent,
//! ephemeral owners, containers and TTL nodes) and the watch triggers in
//! the order ZooKeeper fires them.

use super::acl::AclList;
use super::txn::{is_container, is_ephemeral, ttl_of, Txn, TxnHeader, TxnOp};
use super::{path, DataTree, NodeBytes, OpResult, Trigger, MAX_NAME, ROOT};
use crate::proto::codes::event;
use crate::proto::records::Stat;
use crate::types::Zxid;

impl DataTree {
    /// Applies a committed txn. `fire` is called for each watch trigger in
    /// the order ZooKeeper fires them; `results` gets one entry per op.
    pub fn apply(
        &mut self,
        txn: Txn,
        fire: &mut dyn FnMut(Trigger<'_>),
        results: &mut Vec<OpResult>,
    ) {
        if txn.header.zxid > self.last_zxid {
            self.last_zxid = txn.header.zxid;
        }
        let h = txn.header;
        match txn.op {
            TxnOp::Multi(ops) => {
                for op in ops {
                    let r = self.apply_op(&h, op, fire);
                    results.push(r);
                }
            }
            op => {
                let r = self.apply_op(&h, op, fire);
                results.push(r);
            }
        }
    }

    /// Applies one op.
    fn apply_op(
        &mut self,
        h: &TxnHeader,
        op: TxnOp,
        fire: &mut dyn FnMut(Trigger<'_>),
    ) -> OpResult {
        match op {
            TxnOp::CreateSession { .. } => OpResult::Session,
            TxnOp::CloseSession => {
                let mut paths: Vec<Box<str>> = self
                    .ephemerals
                    .get(&h.session)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                paths.sort();
                for p in paths.iter().rev() {
                    self.delete(h.zxid, p, fire);
                }
                self.ephemerals.remove(&h.session);
                OpResult::Session
            }
            TxnOp::Create {
                path,
                data,
                acl,
                owner,
                parent_cversion,
            } => self.create(h, &path, data.as_deref(), acl, owner, parent_cversion, fire),
            TxnOp::Delete { path } => {
                if self.delete(h.zxid, &path, fire) {
                    OpResult::Deleted
                } else {
                    OpResult::Error(crate::proto::codes::err::NO_NODE)
                }
            }
            TxnOp::SetData {
                path,
                data,
                version,
            } => {
                let Some(id) = self.lookup(&path) else {
                    return OpResult::Error(crate::proto::codes::err::NO_NODE);
                };
                let n = self.nodes.get_mut(id);
                let old = n.data_len();
                n.set_data(data.as_deref());
                n.version = version;
                n.mzxid = h.zxid;
                n.mtime = h.time;
                let stat = n.stat();
                let acl = n.acl as usize;
                self.data_bytes = self.data_bytes - old as u64 + n.data_len() as u64;
                fire((event::NODE_DATA_CHANGED, &path, &self.acls[acl]));
                OpResult::SetData { stat }
            }
            TxnOp::SetAcl {
                path,
                acl,
                aversion,
            } => {
                let Some(id) = self.lookup(&path) else {
                    return OpResult::Error(crate::proto::codes::err::NO_NODE);
                };
                let acl = self.intern(acl);
                let n = self.nodes.get_mut(id);
                n.acl = acl;
                n.aversion = aversion;
                OpResult::SetAcl { stat: n.stat() }
            }
            TxnOp::Check { path } => OpResult::Checked {
                stat: self
                    .lookup(&path)
                    .map_or_else(Stat::default, |id| self.nodes.get(id).stat()),
            },
            TxnOp::Sync => OpResult::Synced,
            TxnOp::Error { code } => OpResult::Error(code),
            TxnOp::Multi(_) => OpResult::Error(crate::proto::codes::err::MARSHALLING_ERROR),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        h: &TxnHeader,
        path: &str,
        data: Option<&[u8]>,
        acl: AclList,
        owner: i64,
        parent_cversion: i32,
        fire: &mut dyn FnMut(Trigger<'_>),
    ) -> OpResult {
        let Some((parent_path, name)) = path::split(path) else {
            return OpResult::Error(crate::proto::codes::err::BAD_ARGUMENTS);
        };
        if name.is_empty() || name.len() > MAX_NAME {
            return OpResult::Error(crate::proto::codes::err::BAD_ARGUMENTS);
        }
        let Some(parent) = self.lookup(parent_path) else {
            return OpResult::Error(crate::proto::codes::err::NO_NODE);
        };
        let acl = self.intern(acl);
        let name = name.as_bytes();
        let bytes = || NodeBytes::new(name, data);
        let Some(id) = self.alloc(parent, name, bytes, acl, h.zxid, h.time, owner) else {
            return OpResult::Error(crate::proto::codes::err::NODE_EXISTS);
        };
        {
            let p = self.nodes.get_mut(parent);
            p.cversion = parent_cversion;
            p.pzxid = h.zxid;
        }
        self.data_bytes += data.map_or(0, |d| d.len()) as u64;
        let stat = self.nodes.get(id).stat();
        let key: Box<str> = path.into();
        if is_ephemeral(owner) {
            self.ephemerals
                .entry(owner)
                .or_default()
                .insert(key.clone());
        } else if is_container(owner) || ttl_of(owner).is_some() {
            self.special.insert(key.clone());
        }
        let (acl, parent_acl) = (self.nodes.get(id).acl, self.nodes.get(parent).acl);
        fire((event::NODE_CREATED, path, &self.acls[acl as usize]));
        fire((
            event::NODE_CHILDREN_CHANGED,
            parent_path,
            &self.acls[parent_acl as usize],
        ));
        OpResult::Created { path: key, stat }
    }

    pub(super) fn delete(
        &mut self,
        zxid: Zxid,
        path: &str,
        fire: &mut dyn FnMut(Trigger<'_>),
    ) -> bool {
        let Some((parent_path, _)) = path::split(path) else {
            return false;
        };
        let Some(id) = self.lookup(path).filter(|&id| id != ROOT) else {
            return false;
        };
        // Prep only deletes leaves; a node with children (a replay over a
        // fuzzy snapshot) takes them along.
        if self.nodes.get(id).num_children > 0 {
            self.remove_descendants(id);
        }
        let parent = self.nodes.get(id).parent;
        let old = self.free_node(id);
        self.forget(path, &old);
        let p = self.nodes.get_mut(parent);
        p.pzxid = zxid;
        let parent_acl = p.acl as usize;
        // The ACL lists are never dropped: the deleted node's is still here.
        fire((event::NODE_DELETED, path, &self.acls[old.acl as usize]));
        fire((
            event::NODE_CHILDREN_CHANGED,
            parent_path,
            &self.acls[parent_acl],
        ));
        true
    }
}
