//! Transactions: the deterministic effects of a write, decided by prep and
//! applied in zxid order by every replica.

use super::acl::AclList;
use crate::types::{SessionId, Zxid};

/// `ephemeralOwner` marker for container nodes (clients see 0).
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// High byte marking a TTL node's `ephemeralOwner` (low 40 bits: the TTL).
pub const TTL_MARK: i64 = 0xFF00_0000_0000_0000u64 as i64;
pub const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

pub fn is_container(owner: i64) -> bool {
    owner == CONTAINER_OWNER
}

pub fn ttl_of(owner: i64) -> Option<i64> {
    if owner != CONTAINER_OWNER && (owner as u64) >> 56 == 0xFF {
        Some(owner & MAX_TTL)
    } else {
        None
    }
}

/// A real ephemeral: owned by a session (containers and TTL nodes are not).
pub fn is_ephemeral(owner: i64) -> bool {
    owner != 0 && !is_container(owner) && ttl_of(owner).is_none()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnHeader {
    pub session: SessionId,
    pub cxid: i32,
    pub zxid: Zxid,
    /// Wall-clock ms, taken by the leader (ctime/mtime).
    pub time: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    CreateSession {
        timeout: i32,
        /// The session's password (None in txns written before passwords
        /// were stored: then it is ZooKeeper's derived one).
        passwd: Option<[u8; 16]>,
    },
    /// Deletes every ephemeral of `header.session`.
    CloseSession,
    Create {
        path: Box<str>,
        data: Option<Box<[u8]>>,
        acl: AclList,
        /// Internal ephemeralOwner (session, container or TTL marker, or 0).
        owner: i64,
        /// The parent's create counter after this create.
        parent_cversion: i32,
    },
    Delete {
        path: Box<str>,
    },
    SetData {
        path: Box<str>,
        data: Option<Box<[u8]>>,
        version: i32,
    },
    SetAcl {
        path: Box<str>,
        acl: AclList,
        aversion: i32,
    },
    Check {
        path: Box<str>,
    },
    Multi(Vec<TxnOp>),
    /// A write that failed prep on the leader, replicated so that the server
    /// holding the client's connection can answer it in order (ZooKeeper's
    /// error txn). Changes nothing; inside a Multi, one per op.
    Error {
        code: i32,
    },
    /// A client's sync in an ensemble: committed by a quorum like any txn,
    /// so that its answer (when it applies on the client's server) reflects
    /// every txn committed before the sync arrived, even if the leader that
    /// took it has been replaced meanwhile. Changes nothing.
    Sync,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub header: TxnHeader,
    pub op: TxnOp,
}

/// A create of `path` under its parent as it stands in `t` (the parent's
/// next create counter; 1 if it is missing): how tests grow trees.
#[cfg(test)]
pub(crate) fn test_create(
    t: &super::DataTree,
    header: TxnHeader,
    path: &str,
    data: Option<Box<[u8]>>,
    acl: AclList,
    owner: i64,
) -> Txn {
    let parent = super::path::split(path).map_or("/", |(p, _)| p);
    Txn {
        header,
        op: TxnOp::Create {
            path: path.into(),
            data,
            acl,
            owner,
            parent_cversion: t.get(parent).map_or(0, |n| n.cversion()) + 1,
        },
    }
}
