//! Every frame the server writes to a client, in one place: a length, the
//! reply header (xid, zxid, error code) and the op's response record in
//! ZooKeeper's jute layout; the ConnectResponse; notifications. Each
//! function appends one whole frame to `out` (a connection's output
//! buffer); none decides anything.

use crate::proto::codes::{err, op, xid as xids};
use crate::proto::jute;
use crate::proto::records::{put_acl, put_reply_header, Stat, WatcherEventRef};
use crate::tree::acl::Id;
use crate::tree::{NodeRef, OpResult};
use crate::types::{SessionId, Zxid};

/// Writes one frame: the reply header, then `body`.
fn frame(out: &mut Vec<u8>, xid: i32, zxid: Zxid, code: i32, body: impl FnOnce(&mut Vec<u8>)) {
    let at = jute::begin_frame(out);
    put_reply_header(out, xid, zxid, code);
    body(out);
    jute::end_frame(out, at);
}

/// A reply that is only its header: every error, and the ops whose
/// response is empty (delete, ping, close, setWatches, removeWatches...).
pub(crate) fn header(out: &mut Vec<u8>, xid: i32, zxid: Zxid, code: i32) {
    frame(out, xid, zxid, code, |_| {});
}

/// exists, setData, setACL, check: the node's Stat.
pub(crate) fn stat(out: &mut Vec<u8>, xid: i32, zxid: Zxid, stat: &Stat) {
    frame(out, xid, zxid, err::OK, |out| stat.encode(out));
}

fn put_data(out: &mut Vec<u8>, n: NodeRef<'_>) {
    jute::put_buffer(out, n.data());
    n.stat().encode(out);
}

fn put_children(out: &mut Vec<u8>, n: NodeRef<'_>) {
    jute::put_int(out, n.num_children() as i32);
    for c in n.children() {
        jute::put_str(out, c);
    }
}

/// getData: the data and the Stat.
pub(crate) fn data(out: &mut Vec<u8>, xid: i32, zxid: Zxid, n: NodeRef<'_>) {
    frame(out, xid, zxid, err::OK, |out| put_data(out, n));
}

/// getChildren (and getChildren2 with the parent's Stat).
pub(crate) fn children(out: &mut Vec<u8>, xid: i32, zxid: Zxid, n: NodeRef<'_>, with_stat: bool) {
    frame(out, xid, zxid, err::OK, |out| {
        put_children(out, n);
        if with_stat {
            n.stat().encode(out);
        }
    });
}

/// getACL: the list and the Stat; without ADMIN, digest ids show only
/// their user name (`user:x`), as ZooKeeper 3.8 masks them.
pub(crate) fn acl(out: &mut Vec<u8>, xid: i32, zxid: Zxid, n: NodeRef<'_>, admin: bool) {
    frame(out, xid, zxid, err::OK, |out| {
        let list = n.acl();
        jute::put_int(out, list.len() as i32);
        for a in list.iter() {
            if !admin && a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                put_acl(out, a.perms, &a.id.scheme, &format!("{user}:x"));
            } else {
                put_acl(out, a.perms, &a.id.scheme, &a.id.id);
            }
        }
        n.stat().encode(out);
    });
}

/// sync: the path.
pub(crate) fn path(out: &mut Vec<u8>, xid: i32, zxid: Zxid, path: &str) {
    frame(out, xid, zxid, err::OK, |out| jute::put_str(out, path));
}

/// getAllChildrenNumber, addWatch: one int.
pub(crate) fn int(out: &mut Vec<u8>, xid: i32, zxid: Zxid, v: i32) {
    frame(out, xid, zxid, err::OK, |out| jute::put_int(out, v));
}

/// getEphemerals: a list of paths.
pub(crate) fn strings<'a>(
    out: &mut Vec<u8>,
    xid: i32,
    zxid: Zxid,
    list: impl ExactSizeIterator<Item = &'a str>,
) {
    frame(out, xid, zxid, err::OK, |out| {
        jute::put_int(out, list.len() as i32);
        for s in list {
            jute::put_str(out, s);
        }
    });
}

/// whoAmI: (scheme, user) per id; a digest id shows its user name only.
pub(crate) fn who_am_i(out: &mut Vec<u8>, xid: i32, zxid: Zxid, ids: &[Id]) {
    frame(out, xid, zxid, err::OK, |out| {
        jute::put_int(out, ids.len() as i32);
        for i in ids {
            let user = if i.scheme == "digest" {
                i.id.split(':').next().unwrap_or("")
            } else {
                &i.id
            };
            jute::put_str(out, &i.scheme);
            jute::put_str(out, user);
        }
    });
}

/// A SASL step: the server's token, or AuthFailed with a null token.
pub(crate) fn sasl(out: &mut Vec<u8>, xid: i32, zxid: Zxid, token: Option<&[u8]>) {
    match token {
        Some(t) => frame(out, xid, zxid, err::OK, |out| {
            jute::put_buffer(out, Some(t))
        }),
        None => frame(out, xid, zxid, err::AUTH_FAILED, |out| {
            jute::put_buffer(out, None)
        }),
    }
}

/// A committed single write, from its result: create/create2 (path, and
/// the Stat for every create but `create`), setData/setACL/check (Stat),
/// an error txn (the code), anything else (header only).
pub(crate) fn write(out: &mut Vec<u8>, xid: i32, zxid: Zxid, opcode: i32, r: Option<OpResult>) {
    match r {
        Some(OpResult::Created { path, stat }) => frame(out, xid, zxid, err::OK, |out| {
            jute::put_str(out, &path);
            if opcode != op::CREATE {
                stat.encode(out);
            }
        }),
        Some(OpResult::SetData { stat })
        | Some(OpResult::SetAcl { stat })
        | Some(OpResult::Checked { stat }) => self::stat(out, xid, zxid, &stat),
        Some(OpResult::Error(code)) => header(out, xid, zxid, code),
        _ => header(out, xid, zxid, err::OK),
    }
}

/// A multi's response: one (type, done, err) header per op and its
/// record, then the closing (-1, true, -1).
pub(crate) struct Multi {
    at: usize,
}

impl Multi {
    pub fn begin(out: &mut Vec<u8>, xid: i32, zxid: Zxid) -> Multi {
        let at = jute::begin_frame(out);
        put_reply_header(out, xid, zxid, err::OK);
        Multi { at }
    }

    fn op_header(out: &mut Vec<u8>, t: i32, done: bool, e: i32) {
        jute::put_int(out, t);
        jute::put_bool(out, done);
        jute::put_int(out, e);
    }

    /// An op that failed (or was rolled back): an ErrorResult.
    pub fn error(&self, out: &mut Vec<u8>, code: i32) {
        Self::op_header(out, -1, false, code);
        jute::put_int(out, code);
    }

    /// A read op of a read-only multi: getData or getChildren.
    pub fn read(&self, out: &mut Vec<u8>, opcode: i32, n: NodeRef<'_>) {
        Self::op_header(out, opcode, false, 0);
        if opcode == op::GET_DATA {
            put_data(out, n);
        } else {
            put_children(out, n);
        }
    }

    /// A write op's result.
    pub fn result(&self, out: &mut Vec<u8>, opcode: i32, r: &OpResult) {
        match r {
            OpResult::Created { path, stat } => {
                let t = if opcode == op::CREATE {
                    op::CREATE
                } else {
                    op::CREATE2
                };
                Self::op_header(out, t, false, 0);
                jute::put_str(out, path);
                if t != op::CREATE {
                    stat.encode(out);
                }
            }
            OpResult::SetData { stat } => {
                Self::op_header(out, op::SET_DATA, false, 0);
                stat.encode(out);
            }
            OpResult::Deleted => Self::op_header(out, op::DELETE, false, 0),
            OpResult::Checked { .. } => Self::op_header(out, op::CHECK, false, 0),
            OpResult::Error(e) => self.error(out, *e),
            OpResult::SetAcl { .. } | OpResult::Session | OpResult::Synced => {
                Self::op_header(out, opcode, false, 0)
            }
        }
    }

    pub fn end(self, out: &mut Vec<u8>) {
        Self::op_header(out, -1, true, -1);
        jute::end_frame(out, self.at);
    }
}

/// An applied multi's response, from its ops' results.
pub(crate) fn multi(out: &mut Vec<u8>, xid: i32, zxid: Zxid, opcodes: &[i32], rs: &[OpResult]) {
    let m = Multi::begin(out, xid, zxid);
    for (opcode, r) in opcodes.iter().zip(rs.iter()) {
        m.result(out, *opcode, r);
    }
    m.end(out);
}

/// A ConnectResponse: `Some((session, timeout, password))` accepts, `None`
/// refuses (zeros, as ZooKeeper answers an expired session); `read_only`
/// sets its readOnly flag (a new client only).
pub(crate) fn connect(
    out: &mut Vec<u8>,
    session: Option<(SessionId, u32, [u8; 16])>,
    old_client: bool,
    read_only: bool,
) {
    let at = jute::begin_frame(out);
    jute::put_int(out, 0);
    match session {
        Some((sid, timeout, passwd)) => {
            jute::put_int(out, timeout as i32);
            jute::put_long(out, sid);
            jute::put_buffer(out, Some(&passwd));
        }
        None => {
            jute::put_int(out, 0);
            jute::put_long(out, 0);
            jute::put_buffer(out, Some(&[0; 16]));
        }
    }
    if !old_client {
        jute::put_bool(out, read_only);
    }
    jute::end_frame(out, at);
}

/// A notification (xid -1): a WatcherEvent.
pub(crate) fn event(out: &mut Vec<u8>, kind: i32, path: &str, zxid: Zxid) {
    frame(out, xids::NOTIFICATION, zxid, err::OK, |out| {
        WatcherEventRef { kind, path }.encode(out)
    });
}
