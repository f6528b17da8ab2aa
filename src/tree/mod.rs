//! The DataTree: znodes with ZooKeeper's exact Stat bookkeeping, ephemerals
//! per session, containers and TTL nodes, and the watch tables. Owned by the
//! core shard; pure (no I/O, no clock: times come in the txn header).
//!
//! Invariants: every node but "/" has its parent in the map and is listed in
//! the parent's `children`; `ephemerals[s]` holds exactly the nodes whose
//! owner is session `s`.

pub mod acl;
pub mod path;
pub mod restore;
pub mod txn;
pub mod watch;

use crate::proto::codes::event;
use crate::proto::records::Stat;
use crate::types::{FxHashMap, FxHashSet, SessionId, Zxid};
use acl::AclList;
use txn::{is_container, is_ephemeral, ttl_of, Txn, TxnHeader, TxnOp};

#[derive(Clone, Debug)]
pub struct Node {
    pub data: Option<Box<[u8]>>,
    pub acl: AclList,
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub pzxid: Zxid,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    /// Internal create counter (c_int); clients see 2*c - numChildren.
    pub cversion: i32,
    pub aversion: i32,
    /// Internal ephemeralOwner (may carry the container/TTL markers).
    pub owner: i64,
    pub children: FxHashSet<Box<str>>,
}

impl Node {
    pub fn stat(&self) -> Stat {
        let n = self.children.len() as i32;
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(n),
            aversion: self.aversion,
            ephemeral_owner: if is_ephemeral(self.owner) {
                self.owner
            } else {
                0
            },
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: n,
            pzxid: self.pzxid,
        }
    }

    fn new(data: Option<Box<[u8]>>, acl: AclList, zxid: Zxid, time: i64, owner: i64) -> Node {
        Node {
            data,
            acl,
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            owner,
            children: FxHashSet::default(),
        }
    }
}

/// What applying one op produced, for building the reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    Created {
        path: Box<str>,
        stat: Stat,
    },
    Deleted,
    SetData {
        stat: Stat,
    },
    SetAcl {
        stat: Stat,
    },
    Checked,
    Session,
    /// Applying failed (only possible if prep and tree disagree).
    Error(i32),
}

/// A change that fires watches: (event type, path).
pub type Trigger<'a> = (i32, &'a str);

/// The paths ZooKeeper refuses to delete.
pub fn is_protected(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

pub struct DataTree {
    nodes: FxHashMap<Box<str>, Node>,
    ephemerals: FxHashMap<SessionId, FxHashSet<Box<str>>>,
    /// Container and TTL nodes, for the reaper.
    special: FxHashSet<Box<str>>,
    acls: FxHashSet<AclList>,
    pub last_zxid: Zxid,
    data_bytes: u64,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    /// A fresh tree with "/", "/zookeeper", "/zookeeper/quota" and
    /// "/zookeeper/config" exactly as a new ZooKeeper 3.8 server has them.
    pub fn new() -> DataTree {
        let mut t = DataTree {
            nodes: FxHashMap::default(),
            ephemerals: FxHashMap::default(),
            special: FxHashSet::default(),
            acls: FxHashSet::default(),
            last_zxid: 0,
            data_bytes: 0,
        };
        let open = t.intern(acl::open_acl());
        let read = t.intern(acl::read_acl());
        let mut root = Node::new(Some(Box::from(&b""[..])), open.clone(), 0, 0, 0);
        root.children.insert("zookeeper".into());
        let mut zk = Node::new(Some(Box::from(&b""[..])), open.clone(), 0, 0, 0);
        zk.children.insert("quota".into());
        zk.children.insert("config".into());
        let quota = Node::new(Some(Box::from(&b""[..])), open, 0, 0, 0);
        let mut config = Node::new(Some(Box::from(&b""[..])), read, 0, 0, 0);
        config.aversion = -1;
        t.nodes.insert("/".into(), root);
        t.nodes.insert("/zookeeper".into(), zk);
        t.nodes.insert("/zookeeper/quota".into(), quota);
        t.nodes.insert("/zookeeper/config".into(), config);
        t
    }

    /// Shares identical ACL lists between nodes.
    pub fn intern(&mut self, a: AclList) -> AclList {
        if let Some(x) = self.acls.get(&a) {
            return x.clone();
        }
        self.acls.insert(a.clone());
        a
    }

    /// Looks a path up the way reads do: no validation, "" is the root.
    pub fn get(&self, path: &str) -> Option<&Node> {
        let key = if path.is_empty() { "/" } else { path };
        self.nodes.get(key)
    }

    /// Number of znodes as ZooKeeper counts them (the root counts twice).
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    pub fn approximate_data_size(&self) -> u64 {
        self.data_bytes
    }

    pub fn ephemerals_of(&self, s: SessionId) -> impl Iterator<Item = &str> {
        self.ephemerals
            .get(&s)
            .into_iter()
            .flat_map(|v| v.iter().map(|p| &**p))
    }

    pub fn ephemeral_sessions(&self) -> impl Iterator<Item = (SessionId, usize)> + '_ {
        self.ephemerals.iter().map(|(s, v)| (*s, v.len()))
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|v| v.len()).sum()
    }

    /// Number of descendants of `path` (getAllChildrenNumber).
    pub fn descendants(&self, path: &str) -> Option<usize> {
        if path == "/" || path.is_empty() {
            return Some(self.node_count() - 2);
        }
        let node = self.get(path)?;
        let mut n = 0;
        let mut stack: Vec<String> = node.children.iter().map(|c| path::join(path, c)).collect();
        while let Some(p) = stack.pop() {
            n += 1;
            if let Some(c) = self.nodes.get(p.as_str()) {
                stack.extend(c.children.iter().map(|k| path::join(&p, k)));
            }
        }
        Some(n)
    }

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

    /// Applies one op, moving its data into the tree.
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
            } => self.create(h, &path, data, acl, owner, parent_cversion, fire),
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
                let Some(n) = self.nodes.get_mut(&*path) else {
                    return OpResult::Error(crate::proto::codes::err::NO_NODE);
                };
                let old = n.data.as_ref().map_or(0, |d| d.len());
                let new = data.as_ref().map_or(0, |d| d.len());
                n.data = data;
                n.version = version;
                n.mzxid = h.zxid;
                n.mtime = h.time;
                let stat = n.stat();
                self.data_bytes = self.data_bytes - old as u64 + new as u64;
                fire((event::NODE_DATA_CHANGED, &path));
                OpResult::SetData { stat }
            }
            TxnOp::SetAcl {
                path,
                acl,
                aversion,
            } => {
                let acl = self.intern(acl);
                let Some(n) = self.nodes.get_mut(&*path) else {
                    return OpResult::Error(crate::proto::codes::err::NO_NODE);
                };
                n.acl = acl;
                n.aversion = aversion;
                OpResult::SetAcl { stat: n.stat() }
            }
            TxnOp::Check { .. } => OpResult::Checked,
            TxnOp::Error { code } => OpResult::Error(code),
            TxnOp::Multi(_) => OpResult::Error(crate::proto::codes::err::MARSHALLING_ERROR),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        h: &TxnHeader,
        path: &str,
        data: Option<Box<[u8]>>,
        acl: AclList,
        owner: i64,
        parent_cversion: i32,
        fire: &mut dyn FnMut(Trigger<'_>),
    ) -> OpResult {
        let Some((parent_path, name)) = path::split(path) else {
            return OpResult::Error(crate::proto::codes::err::BAD_ARGUMENTS);
        };
        let acl = self.intern(acl);
        let Some(parent) = self.nodes.get_mut(parent_path) else {
            return OpResult::Error(crate::proto::codes::err::NO_NODE);
        };
        if !parent.children.insert(name.into()) {
            return OpResult::Error(crate::proto::codes::err::NODE_EXISTS);
        }
        parent.cversion = parent_cversion;
        parent.pzxid = h.zxid;
        self.data_bytes += data.as_ref().map_or(0, |d| d.len()) as u64;
        let node = Node::new(data, acl, h.zxid, h.time, owner);
        let stat = node.stat();
        let key: Box<str> = path.into();
        if is_ephemeral(owner) {
            self.ephemerals
                .entry(owner)
                .or_default()
                .insert(key.clone());
        } else if is_container(owner) || ttl_of(owner).is_some() {
            self.special.insert(key.clone());
        }
        self.nodes.insert(key.clone(), node);
        fire((event::NODE_CREATED, path));
        fire((event::NODE_CHILDREN_CHANGED, parent_path));
        OpResult::Created { path: key, stat }
    }

    fn delete(&mut self, zxid: Zxid, path: &str, fire: &mut dyn FnMut(Trigger<'_>)) -> bool {
        let Some((parent_path, name)) = path::split(path) else {
            return false;
        };
        let Some(node) = self.nodes.remove(path) else {
            return false;
        };
        self.data_bytes -= node.data.as_ref().map_or(0, |d| d.len()) as u64;
        if is_ephemeral(node.owner) {
            if let Some(set) = self.ephemerals.get_mut(&node.owner) {
                set.remove(path);
                if set.is_empty() {
                    self.ephemerals.remove(&node.owner);
                }
            }
        } else if is_container(node.owner) || ttl_of(node.owner).is_some() {
            self.special.remove(path);
        }
        if let Some(parent) = self.nodes.get_mut(parent_path) {
            parent.children.remove(name);
            parent.pzxid = zxid;
        }
        fire((event::NODE_DELETED, path));
        fire((event::NODE_CHILDREN_CHANGED, parent_path));
        true
    }

    /// Containers and TTL nodes due for deletion at wall time `now`
    /// (ContainerManager rules): a container with no children that has had
    /// one; a TTL node with no children whose mtime is older than its TTL.
    pub fn reapable(&self, now: i64) -> Vec<Box<str>> {
        let mut v: Vec<Box<str>> = self
            .special
            .iter()
            .filter(|p| {
                let Some(n) = self.nodes.get(&***p) else {
                    return false;
                };
                if !n.children.is_empty() {
                    return false;
                }
                if is_container(n.owner) {
                    n.cversion > 0
                } else if let Some(ttl) = ttl_of(n.owner) {
                    now - n.mtime > ttl
                } else {
                    false
                }
            })
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Checks the structural invariants (tests and simulation).
    pub fn check_invariants(&self) {
        for (p, n) in &self.nodes {
            if &**p != "/" {
                let (parent, name) = path::split(p).expect("absolute path");
                let par = self.nodes.get(parent).expect("parent exists");
                assert!(par.children.contains(name), "{p} listed in parent");
            }
            for c in &n.children {
                assert!(self.nodes.contains_key(path::join(p, c).as_str()));
            }
            if is_ephemeral(n.owner) {
                assert!(self.ephemerals.get(&n.owner).is_some_and(|s| s.contains(p)));
            }
        }
    }
}
