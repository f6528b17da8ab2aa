//! Request records decoded zero-copy from a frame body, and the response
//! records the server writes (protocol reference §5).

use super::codes::{op, OpCode};
use super::jute::{self, boolean, buffer, int, long, ustring, vector, JResult};
use std::borrow::Cow;

/// A znode's Stat as sent on the wire (68 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

impl Stat {
    pub fn encode(&self, out: &mut Vec<u8>) {
        jute::put_long(out, self.czxid);
        jute::put_long(out, self.mzxid);
        jute::put_long(out, self.ctime);
        jute::put_long(out, self.mtime);
        jute::put_int(out, self.version);
        jute::put_int(out, self.cversion);
        jute::put_int(out, self.aversion);
        jute::put_long(out, self.ephemeral_owner);
        jute::put_int(out, self.data_length);
        jute::put_int(out, self.num_children);
        jute::put_long(out, self.pzxid);
    }

    pub fn decode(i: &[u8]) -> JResult<'_, Stat> {
        let (i, czxid) = long(i)?;
        let (i, mzxid) = long(i)?;
        let (i, ctime) = long(i)?;
        let (i, mtime) = long(i)?;
        let (i, version) = int(i)?;
        let (i, cversion) = int(i)?;
        let (i, aversion) = int(i)?;
        let (i, ephemeral_owner) = long(i)?;
        let (i, data_length) = int(i)?;
        let (i, num_children) = int(i)?;
        let (i, pzxid) = long(i)?;
        Ok((
            i,
            Stat {
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                cversion,
                aversion,
                ephemeral_owner,
                data_length,
                num_children,
                pzxid,
            },
        ))
    }
}

/// An ACL entry as it appears in a request (borrowed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclRef<'a> {
    pub perms: i32,
    pub scheme: Cow<'a, str>,
    pub id: Cow<'a, str>,
}

pub fn acl(i: &[u8]) -> JResult<'_, AclRef<'_>> {
    let (i, perms) = int(i)?;
    let (i, scheme) = ustring(i)?;
    let (i, id) = ustring(i)?;
    Ok((i, AclRef { perms, scheme, id }))
}

pub fn put_acl(out: &mut Vec<u8>, perms: i32, scheme: &str, id: &str) {
    jute::put_int(out, perms);
    jute::put_str(out, scheme);
    jute::put_str(out, id);
}

/// CreateRequest / CreateTTLRequest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateReq<'a> {
    pub path: Cow<'a, str>,
    pub data: Option<&'a [u8]>,
    pub acl: Vec<AclRef<'a>>,
    pub flags: i32,
    /// Only for opcode 21.
    pub ttl: Option<i64>,
}

/// A client request body, decoded according to its opcode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// Opcodes 1, 15, 19, 21 (the opcode is kept in the header).
    Create(CreateReq<'a>),
    Delete {
        path: Cow<'a, str>,
        version: i32,
    },
    Exists {
        path: Cow<'a, str>,
        watch: bool,
    },
    GetData {
        path: Cow<'a, str>,
        watch: bool,
    },
    SetData {
        path: Cow<'a, str>,
        data: Option<&'a [u8]>,
        version: i32,
    },
    GetAcl {
        path: Cow<'a, str>,
    },
    SetAcl {
        path: Cow<'a, str>,
        acl: Vec<AclRef<'a>>,
        version: i32,
    },
    /// Opcodes 8 and 12.
    GetChildren {
        path: Cow<'a, str>,
        watch: bool,
    },
    Sync {
        path: Cow<'a, str>,
    },
    Ping,
    Check {
        path: Cow<'a, str>,
        version: i32,
    },
    /// Opcodes 14 and 22: (opcode, sub-request) pairs.
    Multi(Vec<(i32, Request<'a>)>),
    Reconfig,
    CheckWatches {
        path: Cow<'a, str>,
        kind: i32,
    },
    RemoveWatches {
        path: Cow<'a, str>,
        kind: i32,
    },
    Auth {
        scheme: Cow<'a, str>,
        auth: &'a [u8],
    },
    SetWatches(SetWatches<'a>),
    /// GetSASLRequest: the client's token (empty or null at the start).
    Sasl {
        token: &'a [u8],
    },
    GetEphemerals {
        prefix: Cow<'a, str>,
    },
    GetAllChildrenNumber {
        path: Cow<'a, str>,
    },
    AddWatch {
        path: Cow<'a, str>,
        mode: i32,
    },
    WhoAmI,
    CloseSession,
}

/// SetWatches (101) and SetWatches2 (105).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SetWatches<'a> {
    pub relative_zxid: i64,
    pub data: Vec<Cow<'a, str>>,
    pub exist: Vec<Cow<'a, str>>,
    pub child: Vec<Cow<'a, str>>,
    pub persistent: Vec<Cow<'a, str>>,
    pub persistent_recursive: Vec<Cow<'a, str>>,
}

/// Why a body could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Unknown or client-invalid opcode: Unimplemented, then close.
    UnknownOp,
    /// The body does not parse: MarshallingError, connection stays open.
    Malformed,
}

fn path_watch(i: &[u8]) -> JResult<'_, (Cow<'_, str>, bool)> {
    let (i, p) = ustring(i)?;
    let (i, w) = boolean(i)?;
    Ok((i, (p, w)))
}

fn create_body(i: &[u8], with_ttl: bool) -> JResult<'_, CreateReq<'_>> {
    let (i, path) = ustring(i)?;
    let (i, data) = buffer(i)?;
    let (i, acl) = vector(acl)(i)?;
    let (i, flags) = int(i)?;
    let (i, ttl) = if with_ttl {
        let (i, t) = long(i)?;
        (i, Some(t))
    } else {
        (i, None)
    };
    Ok((
        i,
        CreateReq {
            path,
            data,
            acl,
            flags,
            ttl,
        },
    ))
}

fn body(opcode: i32, i: &[u8]) -> Result<JResult<'_, Request<'_>>, DecodeError> {
    let Some(kind) = OpCode::from_code(opcode) else {
        return Err(DecodeError::UnknownOp);
    };
    Ok(match kind {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
            create_body(i, false).map(|(i, c)| (i, Request::Create(c)))
        }
        OpCode::CreateTtl => create_body(i, true).map(|(i, c)| (i, Request::Create(c))),
        OpCode::Delete => (|| {
            let (i, path) = ustring(i)?;
            let (i, version) = int(i)?;
            Ok((i, Request::Delete { path, version }))
        })(),
        OpCode::Exists => {
            path_watch(i).map(|(i, (path, watch))| (i, Request::Exists { path, watch }))
        }
        OpCode::GetData => {
            path_watch(i).map(|(i, (path, watch))| (i, Request::GetData { path, watch }))
        }
        OpCode::SetData => (|| {
            let (i, path) = ustring(i)?;
            let (i, data) = buffer(i)?;
            let (i, version) = int(i)?;
            Ok((
                i,
                Request::SetData {
                    path,
                    data,
                    version,
                },
            ))
        })(),
        OpCode::GetAcl => ustring(i).map(|(i, path)| (i, Request::GetAcl { path })),
        OpCode::SetAcl => (|| {
            let (i, path) = ustring(i)?;
            let (i, acl) = vector(acl)(i)?;
            let (i, version) = int(i)?;
            Ok((i, Request::SetAcl { path, acl, version }))
        })(),
        OpCode::GetChildren | OpCode::GetChildren2 => {
            path_watch(i).map(|(i, (path, watch))| (i, Request::GetChildren { path, watch }))
        }
        OpCode::Sync => ustring(i).map(|(i, path)| (i, Request::Sync { path })),
        OpCode::Ping => Ok((i, Request::Ping)),
        OpCode::Check => (|| {
            let (i, path) = ustring(i)?;
            let (i, version) = int(i)?;
            Ok((i, Request::Check { path, version }))
        })(),
        OpCode::Multi | OpCode::MultiRead => return multi(i),
        OpCode::Reconfig => Ok((i, Request::Reconfig)),
        OpCode::CheckWatches | OpCode::RemoveWatches => (|| {
            let (i, path) = ustring(i)?;
            let (i, kind) = int(i)?;
            let r = if opcode == op::CHECK_WATCHES {
                Request::CheckWatches { path, kind }
            } else {
                Request::RemoveWatches { path, kind }
            };
            Ok((i, r))
        })(),
        OpCode::Auth => (|| {
            let (i, _type) = int(i)?;
            let (i, scheme) = ustring(i)?;
            let (i, auth) = buffer(i)?;
            Ok((
                i,
                Request::Auth {
                    scheme,
                    auth: auth.unwrap_or(&[]),
                },
            ))
        })(),
        OpCode::SetWatches | OpCode::SetWatches2 => (|| {
            let paths = || vector(ustring);
            let (i, relative_zxid) = long(i)?;
            let (i, data) = paths()(i)?;
            let (i, exist) = paths()(i)?;
            let (i, child) = paths()(i)?;
            let mut sw = SetWatches {
                relative_zxid,
                data,
                exist,
                child,
                ..Default::default()
            };
            let mut i = i;
            if opcode == op::SET_WATCHES2 {
                let (j, p) = paths()(i)?;
                let (j, r) = paths()(j)?;
                sw.persistent = p;
                sw.persistent_recursive = r;
                i = j;
            }
            Ok((i, Request::SetWatches(sw)))
        })(),
        OpCode::Sasl => buffer(i).map(|(i, t)| {
            (
                i,
                Request::Sasl {
                    token: t.unwrap_or(&[]),
                },
            )
        }),
        OpCode::GetEphemerals => {
            ustring(i).map(|(i, prefix)| (i, Request::GetEphemerals { prefix }))
        }
        OpCode::GetAllChildrenNumber => {
            ustring(i).map(|(i, path)| (i, Request::GetAllChildrenNumber { path }))
        }
        OpCode::AddWatch => (|| {
            let (i, path) = ustring(i)?;
            let (i, mode) = int(i)?;
            Ok((i, Request::AddWatch { path, mode }))
        })(),
        OpCode::WhoAmI => Ok((i, Request::WhoAmI)),
        OpCode::CloseSession => Ok((i, Request::CloseSession)),
        // Answered before decoding (or never a request).
        OpCode::Notification | OpCode::DeleteContainer | OpCode::CreateSession | OpCode::Error => {
            return Err(DecodeError::UnknownOp)
        }
    })
}

/// MultiRequest: (MultiHeader + op record)* then a done header. A sub-op
/// that is not a create/delete/setData/check/getData/getChildren fails the
/// whole request with MarshallingError.
fn multi(i: &[u8]) -> Result<JResult<'_, Request<'_>>, DecodeError> {
    let mut ops = Vec::new();
    let mut i = i;
    loop {
        let Ok((r, t)) = int(i) else {
            return Err(DecodeError::Malformed);
        };
        let Ok((r, done)) = boolean(r) else {
            return Err(DecodeError::Malformed);
        };
        let Ok((r, _err)) = int(r) else {
            return Err(DecodeError::Malformed);
        };
        if done {
            return Ok(Ok((r, Request::Multi(ops))));
        }
        match t {
            op::CREATE
            | op::CREATE2
            | op::CREATE_CONTAINER
            | op::CREATE_TTL
            | op::DELETE
            | op::SET_DATA
            | op::CHECK
            | op::GET_DATA
            | op::GET_CHILDREN => {}
            _ => return Err(DecodeError::Malformed),
        }
        match body(t, r) {
            Ok(Ok((r, req))) => {
                ops.push((t, req));
                i = r;
            }
            _ => return Err(DecodeError::Malformed),
        }
    }
}

/// Decodes a request body for `opcode`. Trailing bytes are ignored, as the
/// Java server does.
pub fn decode_request(opcode: i32, body_bytes: &[u8]) -> Result<Request<'_>, DecodeError> {
    match body(opcode, body_bytes)? {
        Ok((_, r)) => Ok(r),
        Err(_) => Err(DecodeError::Malformed),
    }
}

/// RequestHeader {xid, type}.
pub fn request_header(i: &[u8]) -> JResult<'_, (i32, i32)> {
    let (i, xid) = int(i)?;
    let (i, t) = int(i)?;
    Ok((i, (xid, t)))
}

/// ConnectRequest (44 bytes without readOnly, 45 with).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest<'a> {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: &'a [u8],
    /// `None` for an old client that did not send the byte.
    pub read_only: Option<bool>,
}

pub fn connect_request(i: &[u8]) -> Option<ConnectRequest<'_>> {
    let f = |i| -> JResult<'_, ConnectRequest<'_>> {
        let (i, protocol_version) = int(i)?;
        let (i, last_zxid_seen) = long(i)?;
        let (i, timeout) = int(i)?;
        let (i, session_id) = long(i)?;
        let (i, passwd) = buffer(i)?;
        let (i, read_only) = match boolean(i) {
            Ok((i, b)) => (i, Some(b)),
            Err(_) => (i, None),
        };
        Ok((
            i,
            ConnectRequest {
                protocol_version,
                last_zxid_seen,
                timeout,
                session_id,
                passwd: passwd.unwrap_or(&[]),
                read_only,
            },
        ))
    };
    f(i).ok().map(|(_, c)| c)
}

/// Writes a ReplyHeader.
pub fn put_reply_header(out: &mut Vec<u8>, xid: i32, zxid: i64, err: i32) {
    jute::put_int(out, xid);
    jute::put_long(out, zxid);
    jute::put_int(out, err);
}

/// WatcherEvent {type, state, path}; the state is always SyncConnected.
pub struct WatcherEventRef<'a> {
    pub kind: i32,
    pub path: &'a str,
}

impl WatcherEventRef<'_> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        jute::put_int(out, self.kind);
        jute::put_int(out, super::codes::event::SYNC_CONNECTED);
        jute::put_str(out, self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_captured_create() {
        // kazoo create "/k" (protocol reference §5.3), minus the length and header.
        let hex =
            "000000022f6b00000000000000010000001f00000005776f726c6400000006616e796f6e6500000000";
        let b: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|k| u8::from_str_radix(&hex[k..k + 2], 16).unwrap())
            .collect();
        let r = decode_request(op::CREATE, &b).unwrap();
        let Request::Create(c) = r else { panic!() };
        assert_eq!(c.path, "/k");
        assert_eq!(c.data, Some(&b""[..]));
        assert_eq!(c.acl.len(), 1);
        assert_eq!(c.acl[0].perms, 31);
        assert_eq!(c.acl[0].scheme, "world");
        assert_eq!(c.acl[0].id, "anyone");
        assert_eq!(c.flags, 0);
    }

    #[test]
    fn truncated_body_is_malformed_and_unknown_op_is_unknown() {
        assert_eq!(
            decode_request(op::GET_DATA, &[0, 0, 0, 5, b'/']),
            Err(DecodeError::Malformed)
        );
        assert_eq!(decode_request(99, &[]), Err(DecodeError::UnknownOp));
        assert_eq!(decode_request(10, &[]), Err(DecodeError::UnknownOp));
    }

    #[test]
    fn multi_with_unsupported_sub_op_is_malformed() {
        let mut b = Vec::new();
        jute::put_int(&mut b, op::GET_ACL);
        jute::put_bool(&mut b, false);
        jute::put_int(&mut b, -1);
        jute::put_str(&mut b, "/x");
        assert_eq!(decode_request(op::MULTI, &b), Err(DecodeError::Malformed));
    }

    #[test]
    fn connect_request_old_and_new_forms() {
        let mut b = Vec::new();
        jute::put_int(&mut b, 0);
        jute::put_long(&mut b, 0);
        jute::put_int(&mut b, 10000);
        jute::put_long(&mut b, 0);
        jute::put_buffer(&mut b, Some(&[0; 16]));
        assert_eq!(b.len(), 44);
        assert_eq!(connect_request(&b).unwrap().read_only, None);
        b.push(1);
        assert_eq!(connect_request(&b).unwrap().read_only, Some(true));
        assert!(connect_request(&b[..30]).is_none());
    }
}
