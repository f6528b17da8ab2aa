//! Prep: turns a write request into a txn, checking exactly what ZooKeeper's
//! PrepRequestProcessor checks, in the same order, so each failure carries the
//! same error code. Checks run against the tree plus a pending-change overlay,
//! so the ops of one multi see each other's tentative effects.

use crate::proto::codes::{err, op, perm, CreateMode};
use crate::proto::records::{AclRef, CreateReq, Request};
use crate::tree::acl::{self, AclList, Caller};
use crate::tree::txn::{is_ephemeral, TxnOp, CONTAINER_OWNER, MAX_TTL, TTL_MARK};
use crate::tree::{is_protected, path, DataTree};
use crate::types::{FxHashMap, SessionId};
use std::sync::Arc;

/// What prep needs to know of a node.
#[derive(Clone, Debug)]
struct View {
    owner: i64,
    version: i32,
    cversion: i32,
    aversion: i32,
    num_children: i32,
    acl: AclList,
}

/// The tree as prep sees it: committed state plus earlier ops of this request.
pub struct Pending<'t> {
    tree: &'t DataTree,
    changes: FxHashMap<String, Option<View>>,
    /// False for a lone op: nothing after it needs its tentative effects.
    record: bool,
}

impl<'t> Pending<'t> {
    pub fn new(tree: &'t DataTree) -> Pending<'t> {
        Pending {
            tree,
            changes: FxHashMap::default(),
            record: true,
        }
    }

    /// A view for one op on its own: its tentative effects are not kept.
    pub fn single(tree: &'t DataTree) -> Pending<'t> {
        Pending {
            record: false,
            ..Pending::new(tree)
        }
    }

    fn get(&self, p: &str) -> Option<View> {
        let key = if p.is_empty() { "/" } else { p };
        if let Some(c) = self.changes.get(key) {
            return c.clone();
        }
        self.tree.get(key).map(|n| View {
            owner: n.owner,
            version: n.version,
            cversion: n.cversion,
            aversion: n.aversion,
            num_children: n.children.len() as i32,
            acl: n.acl.clone(),
        })
    }

    fn set(&mut self, p: &str, v: Option<View>) {
        if !self.record {
            return;
        }
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

/// Preps a multi: Ok(ops) or Err((index of the failing op, error code)).
pub fn prep_multi(
    ops: &[(i32, Request<'_>)],
    session: SessionId,
    caller: &Caller,
    cfg: PrepConfig,
    tree: &DataTree,
) -> Result<Vec<TxnOp>, (usize, i32)> {
    let mut pending = Pending::new(tree);
    let mut out = Vec::with_capacity(ops.len());
    for (k, (opcode, req)) in ops.iter().enumerate() {
        match prep_op(*opcode, req, session, caller, cfg, &mut pending) {
            Ok(t) => out.push(t),
            Err(e) => return Err((k, e)),
        }
    }
    Ok(out)
}
