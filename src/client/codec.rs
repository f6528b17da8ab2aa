//! The client side of the wire protocol, pure: requests are encoded straight
//! into the connection's output buffer (length prefix patched afterwards),
//! replies and notifications are decoded from one frame body. No I/O.

use crate::proto::codes::{event, op, perm};
use crate::proto::jute::{self, boolean, buffer, int, long, ustring, vector, JResult};
use crate::proto::records::Stat;

/// One ACL entry of a create request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acl<'a> {
    pub perms: i32,
    pub scheme: &'a str,
    pub id: &'a str,
}

/// `world:anyone` with every permission (Java's `OPEN_ACL_UNSAFE`).
pub const OPEN_ACL_UNSAFE: &[Acl<'static>] = &[Acl {
    perms: perm::ALL,
    scheme: "world",
    id: "anyone",
}];

/// Create flags (`CreateMode`).
pub mod create_flags {
    pub const PERSISTENT: i32 = 0;
    pub const EPHEMERAL: i32 = 1;
    pub const PERSISTENT_SEQUENTIAL: i32 = 2;
    pub const EPHEMERAL_SEQUENTIAL: i32 = 3;
    pub const CONTAINER: i32 = 4;
}

/// Writes a ConnectRequest frame (4 + 45 bytes: with the readOnly byte).
pub fn put_connect_request(
    out: &mut Vec<u8>,
    last_zxid_seen: i64,
    timeout_ms: i32,
    session_id: i64,
    passwd: &[u8; 16],
) {
    let at = jute::begin_frame(out);
    jute::put_int(out, 0);
    jute::put_long(out, last_zxid_seen);
    jute::put_int(out, timeout_ms);
    jute::put_long(out, session_id);
    jute::put_buffer(out, Some(passwd));
    jute::put_bool(out, false);
    jute::end_frame(out, at);
}

/// The server's answer to a ConnectRequest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: bool,
}

/// Decodes a ConnectResponse body (36 or 37 bytes).
pub fn decode_connect_response(body: &[u8]) -> Option<ConnectResponse> {
    let f = |i| -> JResult<'_, ConnectResponse> {
        let (i, _protocol) = int(i)?;
        let (i, timeout_ms) = int(i)?;
        let (i, session_id) = long(i)?;
        let (i, passwd) = buffer(i)?;
        let (i, read_only) = match boolean(i) {
            Ok((i, b)) => (i, b),
            Err(_) => (i, false),
        };
        Ok((
            i,
            ConnectResponse {
                timeout_ms,
                session_id,
                passwd: passwd.unwrap_or(&[]).to_vec(),
                read_only,
            },
        ))
    };
    f(body).ok().map(|(_, r)| r)
}

/// Writes one request frame: length, RequestHeader{xid, opcode}, then
/// whatever `body` appends.
pub fn put_request(out: &mut Vec<u8>, xid: i32, opcode: i32, body: impl FnOnce(&mut Vec<u8>)) {
    let at = jute::begin_frame(out);
    jute::put_int(out, xid);
    jute::put_int(out, opcode);
    body(out);
    jute::end_frame(out, at);
}

pub fn put_create(out: &mut Vec<u8>, path: &str, data: &[u8], acl: &[Acl<'_>], flags: i32) {
    jute::put_str(out, path);
    jute::put_buffer(out, Some(data));
    jute::put_int(out, acl.len() as i32);
    for a in acl {
        jute::put_int(out, a.perms);
        jute::put_str(out, a.scheme);
        jute::put_str(out, a.id);
    }
    jute::put_int(out, flags);
}

/// DeleteRequest and CheckVersionRequest share this layout.
pub fn put_path_version(out: &mut Vec<u8>, path: &str, version: i32) {
    jute::put_str(out, path);
    jute::put_int(out, version);
}

/// ExistsRequest, GetDataRequest, GetChildren(2)Request.
pub fn put_path_watch(out: &mut Vec<u8>, path: &str, watch: bool) {
    jute::put_str(out, path);
    jute::put_bool(out, watch);
}

pub fn put_set_data(out: &mut Vec<u8>, path: &str, data: &[u8], version: i32) {
    jute::put_str(out, path);
    jute::put_buffer(out, Some(data));
    jute::put_int(out, version);
}

/// ReplyHeader {xid, zxid, err}.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

/// Splits a reply frame body into its header and the rest.
pub fn reply_header(frame: &[u8]) -> Option<(ReplyHeader, &[u8])> {
    let f = |i| -> JResult<'_, ReplyHeader> {
        let (i, xid) = int(i)?;
        let (i, zxid) = long(i)?;
        let (i, err) = int(i)?;
        Ok((i, ReplyHeader { xid, zxid, err }))
    };
    f(frame).ok().map(|(rest, h)| (h, rest))
}

/// A watch notification (or, with `kind == -1`, a client-made connection
/// state event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedEvent {
    /// EventType: 1 created, 2 deleted, 3 data changed, 4 children changed;
    /// -1 for a connection state change.
    pub kind: i32,
    /// KeeperState: 3 SyncConnected from the server; 0 Disconnected,
    /// 7 Closed, -112 Expired made by the client.
    pub state: i32,
    pub path: String,
}

impl WatchedEvent {
    pub const NODE_CREATED: i32 = event::NODE_CREATED;
    pub const NODE_DELETED: i32 = event::NODE_DELETED;
    pub const NODE_DATA_CHANGED: i32 = event::NODE_DATA_CHANGED;
    pub const NODE_CHILDREN_CHANGED: i32 = event::NODE_CHILDREN_CHANGED;
    pub const STATE_DISCONNECTED: i32 = 0;
    pub const STATE_SYNC_CONNECTED: i32 = 3;
    pub const STATE_CLOSED: i32 = 7;
}

/// Decodes a WatcherEvent body.
pub fn decode_event(body: &[u8]) -> Option<WatchedEvent> {
    let f = |i| -> JResult<'_, WatchedEvent> {
        let (i, kind) = int(i)?;
        let (i, state) = int(i)?;
        let (i, path) = ustring(i)?;
        Ok((
            i,
            WatchedEvent {
                kind,
                state,
                path: path.into_owned(),
            },
        ))
    };
    f(body).ok().map(|(_, e)| e)
}

/// A successful reply body, decoded according to the request's opcode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Empty,
    Path(String),
    PathStat(String, Stat),
    Stat(Stat),
    Data(Vec<u8>, Stat),
    Children(Vec<String>),
    Children2(Vec<String>, Stat),
    Multi(Vec<OpResult>),
}

/// One result of a multi (or multiRead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    Create(String),
    Create2(String, Stat),
    Delete,
    SetData(Stat),
    Check,
    GetData(Vec<u8>, Stat),
    GetChildren(Vec<String>),
    /// The op failed with this code (-2 RuntimeInconsistency for the ops
    /// after the failing one, 0 for ops rolled back before it).
    Error(i32),
}

fn string(i: &[u8]) -> JResult<'_, String> {
    let (i, s) = ustring(i)?;
    Ok((i, s.into_owned()))
}

fn data_stat(i: &[u8]) -> JResult<'_, (Vec<u8>, Stat)> {
    let (i, d) = buffer(i)?;
    let (i, s) = Stat::decode(i)?;
    Ok((i, (d.unwrap_or(&[]).to_vec(), s)))
}

fn path_stat(i: &[u8]) -> JResult<'_, (String, Stat)> {
    let (i, p) = string(i)?;
    let (i, s) = Stat::decode(i)?;
    Ok((i, (p, s)))
}

fn multi_results(mut i: &[u8]) -> JResult<'_, Vec<OpResult>> {
    let mut v = Vec::new();
    loop {
        let (r, t) = int(i)?;
        let (r, done) = boolean(r)?;
        let (r, err) = int(r)?;
        if done {
            return Ok((r, v));
        }
        let (r, res) = match t {
            op::CREATE => string(r).map(|(r, p)| (r, OpResult::Create(p)))?,
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                path_stat(r).map(|(r, (p, s))| (r, OpResult::Create2(p, s)))?
            }
            op::DELETE => (r, OpResult::Delete),
            op::SET_DATA => Stat::decode(r).map(|(r, s)| (r, OpResult::SetData(s)))?,
            op::CHECK => (r, OpResult::Check),
            op::GET_DATA => data_stat(r).map(|(r, (d, s))| (r, OpResult::GetData(d, s)))?,
            op::GET_CHILDREN => vector(string)(r).map(|(r, c)| (r, OpResult::GetChildren(c)))?,
            op::ERROR => {
                let (r, e) = int(r)?;
                let _ = err;
                (r, OpResult::Error(e))
            }
            _ => {
                return Err(nom::Err::Error(nom::error::Error::new(
                    r,
                    nom::error::ErrorKind::Switch,
                )))
            }
        };
        v.push(res);
        i = r;
    }
}

/// Decodes the body of a successful (err == 0) reply to `opcode`.
pub fn decode_reply(opcode: i32, body: &[u8]) -> Option<Reply> {
    let r: JResult<'_, Reply> = match opcode {
        op::CREATE | op::SYNC => string(body).map(|(i, p)| (i, Reply::Path(p))),
        op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
            path_stat(body).map(|(i, (p, s))| (i, Reply::PathStat(p, s)))
        }
        op::EXISTS | op::SET_DATA | op::SET_ACL => {
            Stat::decode(body).map(|(i, s)| (i, Reply::Stat(s)))
        }
        op::GET_DATA => data_stat(body).map(|(i, (d, s))| (i, Reply::Data(d, s))),
        op::GET_CHILDREN => vector(string)(body).map(|(i, c)| (i, Reply::Children(c))),
        op::GET_CHILDREN2 => (|| {
            let (i, c) = vector(string)(body)?;
            let (i, s) = Stat::decode(i)?;
            Ok((i, Reply::Children2(c, s)))
        })(),
        op::MULTI | op::MULTI_READ => multi_results(body).map(|(i, m)| (i, Reply::Multi(m))),
        _ => Ok((body, Reply::Empty)),
    };
    r.ok().map(|(_, r)| r)
}

/// A multi request under construction: each op is encoded as it is added.
///
/// ```
/// use corral::client::{MultiBuilder, create_flags};
/// let mut m = MultiBuilder::new();
/// m.create("/a", b"x", create_flags::PERSISTENT)
///     .set_data("/a", b"y", 0)
///     .check("/a", 1)
///     .delete("/a", 1);
/// assert_eq!(m.len(), 4);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MultiBuilder {
    body: Vec<u8>,
    ops: usize,
}

impl MultiBuilder {
    pub fn new() -> MultiBuilder {
        MultiBuilder::default()
    }

    fn header(&mut self, opcode: i32) {
        jute::put_int(&mut self.body, opcode);
        jute::put_bool(&mut self.body, false);
        jute::put_int(&mut self.body, -1);
        self.ops += 1;
    }

    /// A create (opcode 1: the result carries the path only).
    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> &mut Self {
        self.header(op::CREATE);
        put_create(&mut self.body, path, data, OPEN_ACL_UNSAFE, flags);
        self
    }

    /// A create2 (opcode 15: the result carries path and Stat on 3.8.2+).
    pub fn create2(&mut self, path: &str, data: &[u8], flags: i32) -> &mut Self {
        self.header(op::CREATE2);
        put_create(&mut self.body, path, data, OPEN_ACL_UNSAFE, flags);
        self
    }

    pub fn delete(&mut self, path: &str, version: i32) -> &mut Self {
        self.header(op::DELETE);
        put_path_version(&mut self.body, path, version);
        self
    }

    pub fn set_data(&mut self, path: &str, data: &[u8], version: i32) -> &mut Self {
        self.header(op::SET_DATA);
        put_set_data(&mut self.body, path, data, version);
        self
    }

    pub fn check(&mut self, path: &str, version: i32) -> &mut Self {
        self.header(op::CHECK);
        put_path_version(&mut self.body, path, version);
        self
    }

    pub fn len(&self) -> usize {
        self.ops
    }

    pub fn is_empty(&self) -> bool {
        self.ops == 0
    }

    /// Appends the MultiRequest body (ops plus the done header) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.body);
        jute::put_int(out, -1);
        jute::put_bool(out, true);
        jute::put_int(out, -1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::records::{self, Request};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '|')
            .collect();
        (0..s.len())
            .step_by(2)
            .map(|k| u8::from_str_radix(&s[k..k + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn connect_request_matches_captured_kazoo_bytes() {
        let mut out = Vec::new();
        put_connect_request(&mut out, 0, 10_000, 0, &[0; 16]);
        // protocol reference §2.5
        let want = hex(
            "0000002d 00000000 0000000000000000 00002710 0000000000000000
             00000010 00000000000000000000000000000000 00",
        );
        assert_eq!(out, want);
        assert_eq!(out.len(), 49);
        // and the server's decoder agrees
        let c = records::connect_request(&out[4..]).unwrap();
        assert_eq!(
            (c.timeout, c.session_id, c.read_only),
            (10_000, 0, Some(false))
        );
    }

    #[test]
    fn connect_response_with_and_without_read_only() {
        let body =
            hex("00000000 00002710 010000059ba8000b 00000010 f02f5c460f5437220d3f19c3da5dd882 00");
        let r = decode_connect_response(&body).unwrap();
        assert_eq!(r.timeout_ms, 10_000);
        assert_eq!(r.session_id, 0x0100_0005_9ba8_000b);
        assert_eq!(r.passwd.len(), 16);
        assert!(!r.read_only);
        let old = decode_connect_response(&body[..body.len() - 1]).unwrap();
        assert_eq!(old.session_id, r.session_id);
        assert!(decode_connect_response(&body[..10]).is_none());
    }

    #[test]
    fn create_request_matches_captured_bytes() {
        // protocol reference §5.3: create "/k", data "", world:anyone:31, flags 0, xid 5
        let mut out = Vec::new();
        put_request(&mut out, 5, op::CREATE, |o| {
            put_create(o, "/k", b"", OPEN_ACL_UNSAFE, 0)
        });
        let want = hex(
            "00000031 00000005 00000001 | 00000002 2f6b | 00000000 | 00000001 0000001f
             00000005 776f726c64 00000006 616e796f6e65 | 00000000",
        );
        assert_eq!(out, want);
    }

    #[test]
    fn exists_request_matches_captured_bytes() {
        let mut out = Vec::new();
        put_request(&mut out, 14, op::EXISTS, |o| {
            put_path_watch(o, "/k/nope", true)
        });
        assert_eq!(
            out,
            hex("00000014 0000000e 00000003 00000007 2f6b2f6e6f7065 01")
        );
    }

    #[test]
    fn requests_round_trip_through_the_server_decoder() {
        let mut out = Vec::new();
        put_request(&mut out, 7, op::SET_DATA, |o| {
            put_set_data(o, "/a/b", b"xyz", 3)
        });
        let (body, (xid, t)) = records::request_header(&out[4..]).unwrap();
        assert_eq!((xid, t), (7, op::SET_DATA));
        assert_eq!(
            records::decode_request(t, body).unwrap(),
            Request::SetData {
                path: "/a/b".into(),
                data: Some(&b"xyz"[..]),
                version: 3
            }
        );
        let mut m = MultiBuilder::new();
        m.create("/m", b"1", create_flags::EPHEMERAL)
            .check("/m", 0)
            .set_data("/m", b"2", 0)
            .delete("/m", -1);
        let mut body = Vec::new();
        m.encode(&mut body);
        let Request::Multi(ops) = records::decode_request(op::MULTI, &body).unwrap() else {
            panic!("not a multi");
        };
        let kinds: Vec<i32> = ops.iter().map(|(t, _)| *t).collect();
        assert_eq!(kinds, [op::CREATE, op::CHECK, op::SET_DATA, op::DELETE]);
        let Request::Create(c) = &ops[0].1 else {
            panic!("not a create")
        };
        assert_eq!((c.path.as_ref(), c.flags), ("/m", create_flags::EPHEMERAL));
    }

    #[test]
    fn reply_header_and_notification() {
        // protocol reference §5.3: NodeDataChanged on /k/node, zxid -1
        let frame =
            hex("ffffffff ffffffffffffffff 00000000 | 00000003 00000003 00000007 2f6b2f6e6f6465");
        let (h, rest) = reply_header(&frame).unwrap();
        assert_eq!(
            h,
            ReplyHeader {
                xid: -1,
                zxid: -1,
                err: 0
            }
        );
        let e = decode_event(rest).unwrap();
        assert_eq!(e.kind, WatchedEvent::NODE_DATA_CHANGED);
        assert_eq!(e.state, WatchedEvent::STATE_SYNC_CONNECTED);
        assert_eq!(e.path, "/k/node");
        assert!(reply_header(&frame[..15]).is_none());
    }

    #[test]
    fn decodes_data_stat_children_and_path_replies() {
        let stat = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 3,
            num_children: 0,
            pzxid: 9,
        };
        let mut b = Vec::new();
        jute::put_buffer(&mut b, Some(b"abc"));
        stat.encode(&mut b);
        assert_eq!(
            decode_reply(op::GET_DATA, &b),
            Some(Reply::Data(b"abc".to_vec(), stat))
        );
        assert_eq!(decode_reply(op::GET_DATA, &b[..b.len() - 1]), None);

        let mut b = Vec::new();
        jute::put_int(&mut b, 2);
        jute::put_str(&mut b, "x");
        jute::put_str(&mut b, "y");
        assert_eq!(
            decode_reply(op::GET_CHILDREN, &b),
            Some(Reply::Children(vec!["x".into(), "y".into()]))
        );

        let mut b = Vec::new();
        jute::put_str(&mut b, "/s0000000001");
        assert_eq!(
            decode_reply(op::CREATE, &b),
            Some(Reply::Path("/s0000000001".into()))
        );
        stat.encode(&mut b);
        assert_eq!(
            decode_reply(op::CREATE2, &b),
            Some(Reply::PathStat("/s0000000001".into(), stat))
        );
        assert_eq!(decode_reply(op::DELETE, &[]), Some(Reply::Empty));
    }

    #[test]
    fn decodes_multi_results_including_errors() {
        let stat = Stat {
            version: 1,
            ..Stat::default()
        };
        let mut b = Vec::new();
        let hdr = |b: &mut Vec<u8>, t: i32, done: bool, err: i32| {
            jute::put_int(b, t);
            jute::put_bool(b, done);
            jute::put_int(b, err);
        };
        hdr(&mut b, op::CREATE, false, 0);
        jute::put_str(&mut b, "/a");
        hdr(&mut b, op::SET_DATA, false, 0);
        stat.encode(&mut b);
        hdr(&mut b, op::CHECK, false, 0);
        hdr(&mut b, op::DELETE, false, 0);
        hdr(&mut b, op::ERROR, false, -103);
        jute::put_int(&mut b, -103);
        hdr(&mut b, -1, true, -1);
        assert_eq!(
            decode_reply(op::MULTI, &b),
            Some(Reply::Multi(vec![
                OpResult::Create("/a".into()),
                OpResult::SetData(stat),
                OpResult::Check,
                OpResult::Delete,
                OpResult::Error(-103),
            ]))
        );
        // no terminator: malformed
        assert_eq!(decode_reply(op::MULTI, &b[..b.len() - 9]), None);
    }
}
