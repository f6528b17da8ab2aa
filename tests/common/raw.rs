//! A tiny hand-rolled ZooKeeper wire client over `std::net::TcpStream`.
//!
//! It exists for what `zookeeper-client` hides or refuses to send: exact error
//! codes for invalid paths (the crate validates paths on its side), null versus
//! empty data, per-op multi results, session reattach with an explicit
//! id/password, going silent to let a session expire, and the precise order of
//! notifications versus replies on one connection.
//!
//! Encoding is jute (protocol doc §0): big-endian ints, `int len` + bytes for
//! strings and buffers (-1 = null), `int count` + items for vectors, and every
//! frame prefixed by a 4-byte big-endian length (§1).
//!
//! Every blocking call is routed through [`blocking`], so the helpers can be used
//! from inside `#[tokio::test(flavor = "multi_thread")]` tests without starving
//! the `zookeeper-client` session task that shares the runtime.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Opcodes, error codes and event types: the project's own tables (protocol
/// doc §4, §10, §12.2).
#[allow(unused_imports)] // each test crate uses a different subset
pub use corral::proto::codes::{err, event as ev, op};

/// `world:anyone` with all permissions: `OPEN_ACL_UNSAFE`.
pub const OPEN_ACL: &[(i32, &str, &str)] = &[(31, "world", "anyone")];

/// Runs a blocking closure; inside a multi-thread tokio runtime it hands the
/// worker's other tasks to another thread first (`block_in_place`).
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

// ---------------------------------------------------------------- encoding

#[derive(Default, Clone)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn new() -> Self {
        Enc(Vec::new())
    }
    pub fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bool(mut self, v: bool) -> Self {
        self.0.push(v as u8);
        self
    }
    pub fn str(self, s: &str) -> Self {
        self.buf(Some(s.as_bytes()))
    }
    /// `None` is the null buffer (length -1).
    pub fn buf(mut self, b: Option<&[u8]>) -> Self {
        match b {
            None => self.0.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                self.0.extend_from_slice(&(b.len() as i32).to_be_bytes());
                self.0.extend_from_slice(b);
            }
        }
        self
    }
    pub fn strs(self, v: &[&str]) -> Self {
        let mut e = self.i32(v.len() as i32);
        for s in v {
            e = e.str(s);
        }
        e
    }
    pub fn acls(self, acls: &[(i32, &str, &str)]) -> Self {
        let mut e = self.i32(acls.len() as i32);
        for (perms, scheme, id) in acls {
            e = e.i32(*perms).str(scheme).str(id);
        }
        e
    }
    pub fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn done(self) -> Vec<u8> {
        self.0
    }
}

/// CreateRequest {path, data, acl, flags} (opcodes 1, 15, 19).
pub fn create_req(
    path: &str,
    data: Option<&[u8]>,
    acl: &[(i32, &str, &str)],
    flags: i32,
) -> Vec<u8> {
    Enc::new().str(path).buf(data).acls(acl).i32(flags).done()
}

/// CreateTTLRequest {path, data, acl, flags, ttl} (opcode 21).
pub fn create_ttl_req(
    path: &str,
    data: Option<&[u8]>,
    acl: &[(i32, &str, &str)],
    flags: i32,
    ttl: i64,
) -> Vec<u8> {
    Enc::new()
        .str(path)
        .buf(data)
        .acls(acl)
        .i32(flags)
        .i64(ttl)
        .done()
}

/// {path, watch}: ExistsRequest, GetDataRequest, GetChildren(2)Request.
pub fn path_watch_req(path: &str, watch: bool) -> Vec<u8> {
    Enc::new().str(path).bool(watch).done()
}

/// {path}: SyncRequest, GetEphemeralsRequest, GetAllChildrenNumberRequest, GetACLRequest.
pub fn path_req(path: &str) -> Vec<u8> {
    Enc::new().str(path).done()
}

/// {path, version}: DeleteRequest, CheckVersionRequest.
pub fn path_version_req(path: &str, version: i32) -> Vec<u8> {
    Enc::new().str(path).i32(version).done()
}

pub fn set_data_req(path: &str, data: Option<&[u8]>, version: i32) -> Vec<u8> {
    Enc::new().str(path).buf(data).i32(version).done()
}

/// MultiRequest: per op `MultiHeader{type, done=false, err=-1}` + body, then the
/// terminator `{-1, true, -1}` (protocol doc §13.1).
pub fn multi_req(ops: &[(i32, Vec<u8>)]) -> Vec<u8> {
    let mut e = Enc::new();
    for (code, body) in ops {
        e = e.i32(*code).bool(false).i32(-1).raw(body);
    }
    e.i32(-1).bool(true).i32(-1).done()
}

pub fn set_watches_req(
    relative_zxid: i64,
    data: &[&str],
    exist: &[&str],
    child: &[&str],
) -> Vec<u8> {
    Enc::new()
        .i64(relative_zxid)
        .strs(data)
        .strs(exist)
        .strs(child)
        .done()
}

pub fn add_watch_req(path: &str, mode: i32) -> Vec<u8> {
    Enc::new().str(path).i32(mode).done()
}

pub fn auth_req(scheme: &str, auth: &[u8]) -> Vec<u8> {
    Enc::new().i32(0).str(scheme).buf(Some(auth)).done()
}

// ---------------------------------------------------------------- decoding

pub struct Dec<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Dec<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Dec { b, pos: 0 }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        assert!(
            self.pos + n <= self.b.len(),
            "decode past end: need {n} at {} of {}",
            self.pos,
            self.b.len()
        );
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    pub fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    pub fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    pub fn bool(&mut self) -> bool {
        self.take(1)[0] != 0
    }
    /// `None` for a null buffer (length -1).
    pub fn buf(&mut self) -> Option<Vec<u8>> {
        let n = self.i32();
        if n < 0 {
            assert_eq!(n, -1, "negative buffer length other than -1");
            None
        } else {
            Some(self.take(n as usize).to_vec())
        }
    }
    pub fn str(&mut self) -> String {
        String::from_utf8(self.buf().expect("null string")).expect("utf-8 string")
    }
    pub fn strs(&mut self) -> Vec<String> {
        let n = self.i32();
        assert!(n >= 0, "null vector");
        (0..n).map(|_| self.str()).collect()
    }
    pub fn stat(&mut self) -> RawStat {
        RawStat {
            czxid: self.i64(),
            mzxid: self.i64(),
            ctime: self.i64(),
            mtime: self.i64(),
            version: self.i32(),
            cversion: self.i32(),
            aversion: self.i32(),
            ephemeral_owner: self.i64(),
            data_length: self.i32(),
            num_children: self.i32(),
            pzxid: self.i64(),
        }
    }
    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }
    pub fn is_at_end(&self) -> bool {
        self.remaining() == 0
    }
}

/// Stat in wire order (protocol doc §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawStat {
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

/// One decoded entry of a MultiResponse (protocol doc §13.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiResult {
    /// MultiHeader.type: the op's opcode on success, -1 for an error result.
    pub typ: i32,
    /// MultiHeader.err.
    pub err: i32,
    /// For error results: ErrorResponse.err (must equal `err`).
    pub error_body: Option<i32>,
    /// For create results: the path.
    pub path: Option<String>,
    /// For create2/setData (and getData in multiRead) results: the Stat.
    pub stat: Option<RawStat>,
    /// For getData in multiRead.
    pub data: Option<Option<Vec<u8>>>,
    /// For getChildren in multiRead.
    pub children: Option<Vec<String>>,
}

/// Decodes a multi/multiRead response body up to and including the terminator;
/// asserts the terminator is `{-1, true, -1}` and nothing follows it.
pub fn decode_multi(body: &[u8]) -> Vec<MultiResult> {
    let mut d = Dec::new(body);
    let mut out = Vec::new();
    loop {
        let typ = d.i32();
        let done = d.bool();
        let err = d.i32();
        if done {
            assert_eq!(
                (typ, err),
                (-1, -1),
                "multi terminator must be {{-1, true, -1}}"
            );
            break;
        }
        let mut r = MultiResult {
            typ,
            err,
            error_body: None,
            path: None,
            stat: None,
            data: None,
            children: None,
        };
        match typ {
            op::ERROR => r.error_body = Some(d.i32()),
            op::CREATE => r.path = Some(d.str()),
            op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => {
                r.path = Some(d.str());
                r.stat = Some(d.stat());
            }
            op::SET_DATA => r.stat = Some(d.stat()),
            op::DELETE | op::CHECK => {}
            op::GET_DATA => {
                r.data = Some(d.buf());
                r.stat = Some(d.stat());
            }
            op::GET_CHILDREN => r.children = Some(d.strs()),
            other => panic!("unexpected multi result type {other}"),
        }
        out.push(r);
    }
    assert!(
        d.is_at_end(),
        "{} trailing bytes after the multi terminator",
        d.remaining()
    );
    out
}

// ---------------------------------------------------------------- connection

#[derive(Debug, Clone)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// `None` sends the 44-byte pre-3.4 form without the readOnly byte.
    pub read_only: Option<bool>,
}

impl ConnectRequest {
    pub fn new_session(timeout_ms: i32) -> Self {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        }
    }
    pub fn reattach(session_id: i64, passwd: &[u8], timeout_ms: i32) -> Self {
        ConnectRequest {
            session_id,
            passwd: passwd.to_vec(),
            ..Self::new_session(timeout_ms)
        }
    }
    pub fn body(&self) -> Vec<u8> {
        let mut e = Enc::new()
            .i32(self.protocol_version)
            .i64(self.last_zxid_seen)
            .i32(self.timeout_ms)
            .i64(self.session_id)
            .buf(Some(&self.passwd));
        if let Some(ro) = self.read_only {
            e = e.bool(ro);
        }
        e.done()
    }
}

#[derive(Debug, Clone)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
    /// Length of the frame body (37 with readOnly, 36 without).
    pub body_len: usize,
}

impl ConnectResponse {
    pub fn decode(body: &[u8]) -> Self {
        let mut d = Dec::new(body);
        let protocol_version = d.i32();
        let timeout_ms = d.i32();
        let session_id = d.i64();
        let passwd = d.buf().expect("null password in ConnectResponse");
        let read_only = if d.is_at_end() { None } else { Some(d.bool()) };
        assert!(d.is_at_end(), "trailing bytes in ConnectResponse");
        ConnectResponse {
            protocol_version,
            timeout_ms,
            session_id,
            passwd,
            read_only,
            body_len: body.len(),
        }
    }
    /// `{0, 0, 0, 16 zero bytes}`: the answer to an invalid/expired reattach (§2.3 step 6).
    pub fn is_rejection(&self) -> bool {
        self.timeout_ms == 0 && self.session_id == 0 && self.passwd == vec![0u8; 16]
    }
}

/// A reply to a request (xid >= 0 or a special xid other than -1).
#[derive(Debug, Clone)]
pub struct Reply {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn dec(&self) -> Dec<'_> {
        Dec::new(&self.body)
    }
    /// Asserts `err == 0` and returns a decoder over the body.
    #[track_caller]
    pub fn ok(&self) -> Dec<'_> {
        assert_eq!(
            self.err,
            err::OK,
            "expected OK reply, got err {} (xid {})",
            self.err,
            self.xid
        );
        Dec::new(&self.body)
    }
    /// Asserts an error reply: the given code and a header-only frame (§3).
    #[track_caller]
    pub fn assert_err(&self, code: i32) {
        assert_eq!(
            self.err, code,
            "expected err {code}, got {} (xid {})",
            self.err, self.xid
        );
        assert!(
            self.body.is_empty(),
            "error reply must be header-only, got {} body bytes",
            self.body.len()
        );
    }
}

/// A watch notification (xid -1, protocol doc §12.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub zxid: i64,
    pub typ: i32,
    pub state: i32,
    pub path: String,
}

#[derive(Debug)]
pub enum Frame {
    Reply(Reply),
    Event(Event),
}

pub const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens a TCP connection with a read timeout so nothing hangs forever.
pub fn open(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

pub fn write_frame(s: &mut TcpStream, payload: &[u8]) {
    blocking(|| s.write_all(&frame(payload))).expect("write frame");
}

/// Reads one length-prefixed frame; `Err` on EOF, reset or timeout.
pub fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    blocking(|| {
        let mut len = [0u8; 4];
        s.read_exact(&mut len)?;
        let n = i32::from_be_bytes(len);
        assert!((0..=0x10_0000).contains(&n), "bad frame length {n}");
        let mut body = vec![0u8; n as usize];
        s.read_exact(&mut body)?;
        Ok(body)
    })
}

/// Waits until the peer closes the connection (EOF or reset). Returns false if
/// it is still open after `within`, and panics if the server sends data instead.
pub fn wait_closed(s: &mut TcpStream, within: Duration) -> bool {
    blocking(|| {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s.set_read_timeout(Some(left.min(Duration::from_millis(500))))
                .unwrap();
            let mut b = [0u8; 1024];
            match s.read(&mut b) {
                Ok(0) => return true,
                Ok(n) => panic!("expected the server to close the connection, got {n} bytes"),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return true, // reset counts as closed
            }
        }
    })
}

/// Sends a ConnectRequest and reads the ConnectResponse.
pub fn handshake(addr: &str, req: &ConnectRequest) -> (TcpStream, ConnectResponse) {
    let mut s = open(addr);
    write_frame(&mut s, &req.body());
    let body = read_frame(&mut s).expect("read ConnectResponse");
    (s, ConnectResponse::decode(&body))
}

/// A raw session: one TCP connection after a successful handshake.
pub struct RawConn {
    pub stream: TcpStream,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub timeout_ms: i32,
    next_xid: i32,
    /// Notifications read while waiting for replies, in arrival order.
    pub events: Vec<Event>,
}

impl RawConn {
    /// New session with the requested timeout; panics if refused.
    pub fn connect(addr: &str, timeout_ms: i32) -> RawConn {
        let (stream, resp) = handshake(addr, &ConnectRequest::new_session(timeout_ms));
        assert!(
            resp.session_id != 0 && resp.timeout_ms > 0,
            "new session refused: {resp:?}"
        );
        RawConn::from_parts(stream, &resp)
    }

    /// Reattaches to an existing session; `Err(response)` if the server refused.
    pub fn reattach(
        addr: &str,
        session_id: i64,
        passwd: &[u8],
        timeout_ms: i32,
    ) -> Result<RawConn, (TcpStream, ConnectResponse)> {
        let (stream, resp) = handshake(
            addr,
            &ConnectRequest::reattach(session_id, passwd, timeout_ms),
        );
        if resp.timeout_ms > 0 && resp.session_id != 0 {
            Ok(RawConn::from_parts(stream, &resp))
        } else {
            Err((stream, resp))
        }
    }

    pub fn from_parts(stream: TcpStream, resp: &ConnectResponse) -> RawConn {
        RawConn {
            stream,
            session_id: resp.session_id,
            passwd: resp.passwd.clone(),
            timeout_ms: resp.timeout_ms,
            next_xid: 1,
            events: Vec::new(),
        }
    }

    pub fn next_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }

    /// Writes a request with the given xid (no wait).
    pub fn send_with_xid(&mut self, xid: i32, opcode: i32, body: &[u8]) {
        let payload = Enc::new().i32(xid).i32(opcode).raw(body).done();
        write_frame(&mut self.stream, &payload);
    }

    /// Writes a request with the next xid and returns that xid (no wait).
    pub fn send(&mut self, opcode: i32, body: &[u8]) -> i32 {
        let xid = self.next_xid();
        self.send_with_xid(xid, opcode, body);
        xid
    }

    /// Reads the next frame from the server.
    pub fn recv(&mut self) -> Frame {
        let body =
            read_frame(&mut self.stream).expect("read frame (connection closed or timed out)");
        let mut d = Dec::new(&body);
        let xid = d.i32();
        let zxid = d.i64();
        let err = d.i32();
        if xid == -1 {
            assert_eq!(err, 0, "notification with err != 0");
            let typ = d.i32();
            let state = d.i32();
            let path = d.str();
            assert!(d.is_at_end(), "trailing bytes in notification");
            Frame::Event(Event {
                zxid,
                typ,
                state,
                path,
            })
        } else {
            Frame::Reply(Reply {
                xid,
                zxid,
                err,
                body: body[16..].to_vec(),
            })
        }
    }

    /// Reads until the next reply, collecting notifications into `self.events`;
    /// asserts the reply carries `xid` (replies are FIFO, protocol doc §3.3).
    #[track_caller]
    pub fn recv_reply(&mut self, xid: i32) -> Reply {
        loop {
            match self.recv() {
                Frame::Event(e) => self.events.push(e),
                Frame::Reply(r) => {
                    assert_eq!(
                        r.xid, xid,
                        "reply out of order: expected xid {xid}, got {}",
                        r.xid
                    );
                    return r;
                }
            }
        }
    }

    /// Sends a request and waits for its reply.
    #[track_caller]
    pub fn call(&mut self, opcode: i32, body: &[u8]) -> Reply {
        let xid = self.send(opcode, body);
        self.recv_reply(xid)
    }

    /// Returns and clears the notifications collected so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// A ping round trip (xid -2, opcode 11). Every notification queued on this
    /// connection before the ping was processed is in `self.events` afterwards.
    #[track_caller]
    pub fn ping(&mut self) -> Reply {
        self.send_with_xid(-2, op::PING, &[]);
        self.recv_reply(-2)
    }

    /// closeSession (-11): returns its reply; the server then closes TCP.
    #[track_caller]
    pub fn close_session(&mut self) -> Reply {
        self.call(op::CLOSE_SESSION, &[])
    }

    // Convenience wrappers (open ACL).

    #[track_caller]
    pub fn create(&mut self, path: &str, data: Option<&[u8]>, flags: i32) -> Reply {
        self.call(op::CREATE, &create_req(path, data, OPEN_ACL, flags))
    }
    #[track_caller]
    pub fn get_data(&mut self, path: &str, watch: bool) -> Reply {
        self.call(op::GET_DATA, &path_watch_req(path, watch))
    }
    #[track_caller]
    pub fn exists(&mut self, path: &str, watch: bool) -> Reply {
        self.call(op::EXISTS, &path_watch_req(path, watch))
    }
    #[track_caller]
    pub fn get_children(&mut self, path: &str, watch: bool) -> Reply {
        self.call(op::GET_CHILDREN, &path_watch_req(path, watch))
    }
    #[track_caller]
    pub fn set_data(&mut self, path: &str, data: Option<&[u8]>, version: i32) -> Reply {
        self.call(op::SET_DATA, &set_data_req(path, data, version))
    }
    #[track_caller]
    pub fn delete(&mut self, path: &str, version: i32) -> Reply {
        self.call(op::DELETE, &path_version_req(path, version))
    }
    #[track_caller]
    pub fn multi(&mut self, ops: &[(i32, Vec<u8>)]) -> Reply {
        self.call(op::MULTI, &multi_req(ops))
    }
}
