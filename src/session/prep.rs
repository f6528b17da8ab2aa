//! Prep: turns a write request into a txn, checking exactly what ZooKeeper's
//! PrepRequestProcessor checks, in the same order, so each failure carries the
//! same error code. Checks run against the tree plus a pending-change overlay,
//! so the ops of one multi see each other's tentative effects.

use crate::proto::codes::{err, op, perm, CreateMode};
use crate::proto::records::{AclRef, CreateReq, Request};
use crate::tree::acl::{self, AclList, Caller};
use crate::tree::txn::{is_ephemeral, TxnOp, CONTAINER_OWNER, MAX_TTL, TTL_MARK};
use crate::tree::{is_protected, path, DataTree};
use crate::types::{FxHashMap, SessionId, Zxid};
use std::sync::Arc;

/// What prep needs to know of a node.
#[derive(Clone, Debug)]
pub struct View {
    owner: i64,
    version: i32,
    cversion: i32,
    aversion: i32,
    num_children: i32,
    acl: AclList,
}

/// Changes prepped but not yet applied, across requests: ZooKeeper's
/// `outstandingChanges`. Each entry carries the zxid of the txn that made it;
/// once that txn is applied the tree itself shows the change and the entry
/// is retired. Lets writes be pipelined: a create under a parent created by
/// a txn still waiting for its fsync sees that parent.
#[derive(Default)]
pub struct Outstanding {
    changes: FxHashMap<Box<str>, (Zxid, Option<View>)>,
}

impl Outstanding {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Records a request's prepped changes as made by txn `zxid`.
    pub fn merge(&mut self, changes: FxHashMap<String, Option<View>>, zxid: Zxid) {
        for (k, v) in changes {
            self.changes.insert(k.into_boxed_str(), (zxid, v));
        }
    }

    /// Forgets the changes of every txn through `zxid` (now in the tree).
    pub fn retire(&mut self, zxid: Zxid) {
        self.changes.retain(|_, (z, _)| *z > zxid);
    }

    pub fn clear(&mut self) {
        self.changes.clear();
    }

    /// Records the deletion of `path` by txn `zxid` (and its parent's lost
    /// child), as a closeSession or the reaper does it.
    pub fn delete(&mut self, tree: &DataTree, path: &str, zxid: Zxid) {
        let mut pending = Pending::new(tree, self);
        if let Some((parent_path, _)) = path::split(path) {
            if let Some(mut parent) = pending.get(parent_path) {
                parent.num_children -= 1;
                pending.set(parent_path, Some(parent));
            }
        }
        pending.set(path, None);
        let changes = pending.into_changes();
        self.merge(changes, zxid);
    }

    /// Paths of `session`'s ephemerals created by txns not yet applied.
    pub fn pending_ephemerals(&self, session: SessionId) -> Vec<Box<str>> {
        self.changes
            .iter()
            .filter(|(_, (_, v))| v.as_ref().is_some_and(|v| v.owner == session))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Whether a path has a change not yet applied.
    pub fn touches(&self, path: &str) -> bool {
        self.changes.contains_key(path)
    }
}

/// The tree as prep sees it: committed state, then the outstanding changes
/// of earlier requests, then the earlier ops of this request.
pub struct Pending<'t> {
    tree: &'t DataTree,
    base: &'t Outstanding,
    changes: FxHashMap<String, Option<View>>,
}

impl<'t> Pending<'t> {
    pub fn new(tree: &'t DataTree, base: &'t Outstanding) -> Pending<'t> {
        Pending {
            tree,
            base,
            changes: FxHashMap::default(),
        }
    }

    /// This request's changes, for [`Outstanding::merge`] once it has a zxid.
    pub fn into_changes(self) -> FxHashMap<String, Option<View>> {
        self.changes
    }

    fn get(&self, p: &str) -> Option<View> {
        let key = if p.is_empty() { "/" } else { p };
        if let Some(c) = self.changes.get(key) {
            return c.clone();
        }
        if let Some((_, c)) = self.base.changes.get(key) {
            return c.clone();
        }
        self.tree.get(key).map(|n| View {
            owner: n.owner(),
            version: n.version(),
            cversion: n.cversion(),
            aversion: n.aversion(),
            num_children: n.num_children() as i32,
            acl: n.acl().clone(),
        })
    }

    fn set(&mut self, p: &str, v: Option<View>) {
        let key = if p.is_empty() { "/" } else { p };
        self.changes.insert(key.to_string(), v);
    }
}

/// Settings prep depends on.
#[derive(Clone, Copy, Debug)]
pub struct PrepConfig {
    pub ttl_enabled: bool,
}

fn check_version(expected: i32, current: i32) -> Result<(), i32> {
    if expected != -1 && expected != current {
        Err(err::BAD_VERSION)
    } else {
        Ok(())
    }
}

fn need(v: &View, want: i32, caller: &Caller) -> Result<(), i32> {
    if acl::allowed(&v.acl, want, caller) {
        Ok(())
    } else {
        Err(err::NO_AUTH)
    }
}

fn fixup(req: &[AclRef<'_>], caller: &Caller) -> Result<AclList, i32> {
    acl::fixup(req, caller)
        .map(Arc::from)
        .map_err(|_| err::INVALID_ACL)
}

/// Preps one write op. `opcode` is the request's (or multi sub-op's) opcode.
pub fn prep_op(
    opcode: i32,
    req: &Request<'_>,
    session: SessionId,
    caller: &Caller,
    cfg: PrepConfig,
    pending: &mut Pending<'_>,
) -> Result<TxnOp, i32> {
    match req {
        Request::Create(c) => create(opcode, c, session, caller, cfg, pending),
        Request::Delete { path, version } => {
            let p: &str = path;
            if !p.contains('/') || p.contains('\0') || is_protected(p) {
                return Err(err::BAD_ARGUMENTS);
            }
            let (parent_path, _) = path::split(p).ok_or(err::BAD_ARGUMENTS)?;
            let parent = pending.get(parent_path).ok_or(err::NO_NODE)?;
            need(&parent, perm::DELETE, caller)?;
            let node = pending.get(p).ok_or(err::NO_NODE)?;
            check_version(*version, node.version)?;
            if node.num_children > 0 {
                return Err(err::NOT_EMPTY);
            }
            pending.set(p, None);
            let mut parent = parent;
            parent.num_children -= 1;
            pending.set(parent_path, Some(parent));
            Ok(TxnOp::Delete { path: p.into() })
        }
        Request::SetData {
            path,
            data,
            version,
        } => {
            let p: &str = path;
            if !path::is_valid(p) {
                return Err(err::BAD_ARGUMENTS);
            }
            let mut node = pending.get(p).ok_or(err::NO_NODE)?;
            need(&node, perm::WRITE, caller)?;
            check_version(*version, node.version)?;
            node.version = node.version.wrapping_add(1);
            let v = node.version;
            pending.set(p, Some(node));
            Ok(TxnOp::SetData {
                path: p.into(),
                data: data.map(Box::from),
                version: v,
            })
        }
        Request::SetAcl { path, acl, version } => {
            let p: &str = path;
            if !path::is_valid(p) {
                return Err(err::BAD_ARGUMENTS);
            }
            let list = fixup(acl, caller)?;
            let mut node = pending.get(p).ok_or(err::NO_NODE)?;
            need(&node, perm::ADMIN, caller)?;
            check_version(*version, node.aversion)?;
            node.aversion = node.aversion.wrapping_add(1);
            let v = node.aversion;
            node.acl = list.clone();
            pending.set(p, Some(node));
            Ok(TxnOp::SetAcl {
                path: p.into(),
                acl: list,
                aversion: v,
            })
        }
        Request::Check { path, version } => {
            let p: &str = path;
            if !path::is_valid(p) {
                return Err(err::BAD_ARGUMENTS);
            }
            let node = pending.get(p).ok_or(err::NO_NODE)?;
            need(&node, perm::READ, caller)?;
            check_version(*version, node.version)?;
            Ok(TxnOp::Check { path: p.into() })
        }
        _ => Err(err::MARSHALLING_ERROR),
    }
}

fn create(
    opcode: i32,
    c: &CreateReq<'_>,
    session: SessionId,
    caller: &Caller,
    cfg: PrepConfig,
    pending: &mut Pending<'_>,
) -> Result<TxnOp, i32> {
    let mut mode = CreateMode::from_flags(c.flags).ok_or(err::BAD_ARGUMENTS)?;
    let mut ttl = 0;
    if opcode == op::CREATE_TTL {
        if !cfg.ttl_enabled {
            return Err(err::UNIMPLEMENTED);
        }
        ttl = c.ttl.unwrap_or(-1);
        if !mode.ttl || !(1..=MAX_TTL).contains(&ttl) {
            return Err(err::BAD_ARGUMENTS);
        }
    } else if mode.ttl {
        return Err(err::BAD_ARGUMENTS);
    }
    if opcode == op::CREATE_CONTAINER {
        mode = CreateMode {
            ephemeral: false,
            sequential: false,
            container: true,
            ttl: false,
        };
    }
    let p: &str = &c.path;
    if !p.contains('/') || p.contains('\0') {
        return Err(err::BAD_ARGUMENTS);
    }
    let at = p.rfind('/').unwrap_or(0);
    let parent_path = if at == 0 { "/" } else { &p[..at] };
    let list = fixup(&c.acl, caller)?;
    let mut parent = pending.get(parent_path).ok_or(err::NO_NODE)?;
    need(&parent, perm::CREATE, caller)?;
    let full: String = if mode.sequential {
        format!("{}{:010}", p, parent.cversion)
    } else {
        p.to_string()
    };
    if !path::is_valid(&full) {
        return Err(err::BAD_ARGUMENTS);
    }
    if pending.get(&full).is_some() {
        return Err(err::NODE_EXISTS);
    }
    if is_ephemeral(parent.owner) {
        return Err(err::NO_CHILDREN_FOR_EPHEMERALS);
    }
    let owner = if mode.ephemeral {
        session
    } else if mode.container {
        CONTAINER_OWNER
    } else if mode.ttl {
        TTL_MARK | ttl
    } else {
        0
    };
    parent.cversion = parent.cversion.wrapping_add(1);
    parent.num_children += 1;
    let parent_cversion = parent.cversion;
    pending.set(parent_path, Some(parent));
    pending.set(
        &full,
        Some(View {
            owner,
            version: 0,
            cversion: 0,
            aversion: 0,
            num_children: 0,
            acl: list.clone(),
        }),
    );
    Ok(TxnOp::Create {
        path: full.into(),
        data: c.data.map(Box::from),
        acl: list,
        owner,
        parent_cversion,
    })
}

/// Preps a multi: Ok((ops, their changes)) or Err((index of the failing
/// op, error code)); a failed multi changes nothing.
#[allow(clippy::type_complexity)]
pub fn prep_multi(
    ops: &[(i32, Request<'_>)],
    session: SessionId,
    caller: &Caller,
    cfg: PrepConfig,
    tree: &DataTree,
    base: &Outstanding,
) -> Result<(Vec<TxnOp>, FxHashMap<String, Option<View>>), (usize, i32)> {
    let mut pending = Pending::new(tree, base);
    let mut out = Vec::with_capacity(ops.len());
    for (k, (opcode, req)) in ops.iter().enumerate() {
        match prep_op(*opcode, req, session, caller, cfg, &mut pending) {
            Ok(t) => out.push(t),
            Err(e) => return Err((k, e)),
        }
    }
    Ok((out, pending.into_changes()))
}
