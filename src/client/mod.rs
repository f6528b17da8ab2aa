//! A pipelined ZooKeeper-protocol client on glommio, used by `perf/` and the
//! integration tests.
//!
//! One [`Client`] is one session on one TCP connection, owned by the glommio
//! executor (thread) that made it. Every operation encodes its request
//! straight into the connection's output buffer, queues a completion and
//! returns a `'static` future ([`Response`]); the request is on its way
//! whether or not the future is polled, so many requests may be in flight at
//! once and they go out in call order. A writer task flushes whatever has
//! accumulated in one write; a reader task cuts reply frames and completes
//! the queued requests in FIFO order (the server answers in request order;
//! a reply with an unexpected xid is fatal, as in the Java client).
//! Notifications (xid -1) go to the optional event channel, ping replies
//! (xid -2) are consumed. A pinger task pings every timeout/3 while nothing
//! else is sent and drops the connection when nothing arrives for 2/3 of the
//! session timeout.
//!
//! There is no reconnect: when the connection ends, every outstanding and
//! later request fails with [`ClientError::ConnectionLoss`] (or
//! [`ClientError::Closed`] after [`Client::close`]).

mod codec;

pub use codec::{
    create_flags, Acl, ConnectResponse, MultiBuilder, OpResult, Reply, WatchedEvent,
    OPEN_ACL_UNSAFE,
};
pub use codec::{
    decode_connect_response, decode_event, decode_reply, put_connect_request, put_create,
    put_path_version, put_path_watch, put_request, put_set_data, reply_header, ReplyHeader,
};

use crate::proto::codes::{err, op, xid};
use crate::proto::records::Stat;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::TcpStream;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Largest reply frame accepted (the Java client's default is 1 MiB; we
/// allow more so that big getChildren replies work, but cap garbage).
pub const MAX_REPLY_FRAME: usize = 64 << 20;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a ZooKeeper error code (e.g. -101 NoNode).
    #[error("ZooKeeper error {0} ({name})", name = code_name(*.0))]
    Zk(i32),
    /// Connecting failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The connection ended while the request was outstanding, or before it
    /// was issued.
    #[error("connection lost: {0}")]
    ConnectionLoss(String),
    /// The server refused the session (ConnectResponse timeout 0).
    #[error("session expired or refused by the server")]
    SessionExpired,
    /// The server sent something this client cannot make sense of.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
    /// Connecting took longer than the session timeout.
    #[error("timed out")]
    Timeout,
}

impl ClientError {
    /// The ZooKeeper error code, for [`ClientError::Zk`].
    pub fn code(&self) -> Option<i32> {
        match self {
            ClientError::Zk(c) => Some(*c),
            _ => None,
        }
    }

    /// A short name for metrics and logs (the Java `Code` name for server errors).
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Zk(c) => code_name(*c),
            ClientError::Io(_) => "Io",
            ClientError::ConnectionLoss(_) => "ConnectionLoss",
            ClientError::SessionExpired => "SessionExpired",
            ClientError::Protocol(_) => "Protocol",
            ClientError::Closed => "Closed",
            ClientError::Timeout => "Timeout",
        }
    }
}

/// Java's `KeeperException.Code` name of an error code.
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        -1 => "SystemError",
        -2 => "RuntimeInconsistency",
        -3 => "DataInconsistency",
        -4 => "ConnectionLoss",
        -5 => "MarshallingError",
        -6 => "Unimplemented",
        -7 => "OperationTimeout",
        -8 => "BadArguments",
        -12 => "UnknownSession",
        -13 => "NewConfigNoQuorum",
        -14 => "ReconfigInProgress",
        -100 => "APIError",
        -101 => "NoNode",
        -102 => "NoAuth",
        -103 => "BadVersion",
        -108 => "NoChildrenForEphemerals",
        -110 => "NodeExists",
        -111 => "NotEmpty",
        -112 => "SessionExpired",
        -113 => "InvalidCallback",
        -114 => "InvalidACL",
        -115 => "AuthFailed",
        -118 => "SessionMoved",
        -119 => "NotReadOnly",
        -120 => "EphemeralOnLocalSession",
        -121 => "NoWatcher",
        -122 => "RequestTimeout",
        -123 => "ReconfigDisabled",
        -124 => "SessionClosedRequireSaslAuth",
        -125 => "QuotaExceeded",
        -127 => "ThrottledOp",
        _ => "Unknown",
    }
}

// ------------------------------------------------------------ completions

type ReplyResult = Result<Reply, ClientError>;

/// A one-shot completion shared by the queue and the caller's future.
#[derive(Default)]
struct Slot {
    result: Cell<Option<ReplyResult>>,
    waker: Cell<Option<Waker>>,
}

impl Slot {
    fn complete(&self, r: ReplyResult) {
        self.result.set(Some(r));
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<ReplyResult> {
        match self.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

/// The outcome of one request. The request was already queued when this
/// was made; polling only waits for the reply. Dropping it does not cancel
/// the request.
#[must_use = "the request is sent anyway; await the Response to see its outcome"]
pub struct Response<T> {
    slot: Rc<Slot>,
    map: fn(ReplyResult) -> Result<T, ClientError>,
}

impl<T> Future for Response<T> {
    type Output = Result<T, ClientError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let map = self.map;
        self.slot.poll(cx).map(map)
    }
}

fn unexpected<T>(r: Reply) -> Result<T, ClientError> {
    Err(ClientError::Protocol(format!("unexpected reply {r:?}")))
}

/// A single-waiter wake-up flag.
#[derive(Default)]
struct Notify {
    set: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Notify {
    fn notify(&self) {
        self.set.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn notified(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.set.replace(false) {
                Poll::Ready(())
            } else {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
    }
}

// ------------------------------------------------------------ connection state

struct Pending {
    xid: i32,
    opcode: i32,
    slot: Rc<Slot>,
}

#[derive(Clone, Debug)]
enum Failure {
    Closed,
    Lost(String),
}

impl Failure {
    fn error(&self) -> ClientError {
        match self {
            Failure::Closed => ClientError::Closed,
            Failure::Lost(m) => ClientError::ConnectionLoss(m.clone()),
        }
    }
}

struct Inner {
    /// Encoded requests not yet handed to the socket.
    out: RefCell<Vec<u8>>,
    /// Requests written (or about to be), in xid order.
    pending: RefCell<VecDeque<Pending>>,
    next_xid: Cell<i32>,
    writer_wake: Notify,
    reader_stop: Notify,
    failed: RefCell<Option<Failure>>,
    closing: Cell<bool>,
    events: Option<LocalSender<WatchedEvent>>,
    last_send: Cell<Instant>,
    last_recv: Cell<Instant>,
    last_zxid: Cell<i64>,
}

impl Inner {
    fn submit(&self, opcode: i32, body: impl FnOnce(&mut Vec<u8>)) -> Rc<Slot> {
        let slot = Rc::new(Slot::default());
        if let Some(f) = &*self.failed.borrow() {
            slot.complete(Err(f.error()));
            return slot;
        }
        let x = self.next_xid.get();
        self.next_xid.set(if x == i32::MAX { 1 } else { x + 1 });
        codec::put_request(&mut self.out.borrow_mut(), x, opcode, body);
        self.pending.borrow_mut().push_back(Pending {
            xid: x,
            opcode,
            slot: slot.clone(),
        });
        self.writer_wake.notify();
        slot
    }

    /// Ends the connection: fails everything outstanding, stops the tasks.
    fn fail(&self, f: Failure) {
        if self.failed.borrow().is_some() {
            return;
        }
        let f = if self.closing.get() {
            Failure::Closed
        } else {
            f
        };
        *self.failed.borrow_mut() = Some(f.clone());
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        for p in pending {
            p.slot.complete(Err(f.error()));
        }
        self.out.borrow_mut().clear();
        if let Some(tx) = &self.events {
            let state = match f {
                Failure::Closed => WatchedEvent::STATE_CLOSED,
                Failure::Lost(_) => WatchedEvent::STATE_DISCONNECTED,
            };
            let _ = tx.try_send(WatchedEvent {
                kind: -1,
                state,
                path: String::new(),
            });
        }
        self.reader_stop.notify();
        self.writer_wake.notify();
    }

    /// Handles one reply frame body; an error ends the connection.
    fn on_frame(&self, frame: &[u8]) -> Result<(), String> {
        let (h, body) = codec::reply_header(frame).ok_or("reply shorter than its header")?;
        if h.zxid > self.last_zxid.get() {
            self.last_zxid.set(h.zxid);
        }
        match h.xid {
            xid::NOTIFICATION => {
                let e = codec::decode_event(body).ok_or("malformed notification")?;
                if let Some(tx) = &self.events {
                    let _ = tx.try_send(e);
                }
            }
            xid::PING | xid::AUTH => {}
            x => {
                let p = self
                    .pending
                    .borrow_mut()
                    .pop_front()
                    .ok_or_else(|| format!("reply xid {x} with no request outstanding"))?;
                if p.xid != x {
                    let m = format!("xid out of order: got {x}, expected {}", p.xid);
                    p.slot.complete(Err(ClientError::Protocol(m.clone())));
                    return Err(m);
                }
                let r = if h.err != err::OK {
                    Err(ClientError::Zk(h.err))
                } else {
                    codec::decode_reply(p.opcode, body).ok_or_else(|| {
                        ClientError::Protocol(format!("malformed reply to opcode {}", p.opcode))
                    })
                };
                p.slot.complete(r);
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------ tasks

async fn reader<R: futures_lite::AsyncRead + Unpin>(
    inner: Rc<Inner>,
    mut rd: R,
    mut buf: Vec<u8>,
    mut filled: usize,
) {
    loop {
        // Cut and handle whole frames.
        let mut at = 0;
        while filled - at >= 4 {
            let len = u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
            if len > MAX_REPLY_FRAME {
                inner.fail(Failure::Lost(format!("reply frame of {len} bytes")));
                return;
            }
            if filled - at - 4 < len {
                if buf.len() < 4 + len {
                    buf.resize((4 + len).next_power_of_two(), 0);
                }
                break;
            }
            if let Err(m) = inner.on_frame(&buf[at + 4..at + 4 + len]) {
                inner.fail(Failure::Lost(m));
                return;
            }
            at += 4 + len;
        }
        if at > 0 {
            buf.copy_within(at..filled, 0);
            filled -= at;
        }
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let read = rd.read(&mut buf[filled..]);
        let n = futures_lite::future::or(async { Some(read.await) }, async {
            inner.reader_stop.notified().await;
            None
        })
        .await;
        match n {
            None => return,
            Some(Ok(0)) => {
                inner.fail(Failure::Lost("connection closed by the server".into()));
                return;
            }
            Some(Ok(n)) => {
                inner.last_recv.set(Instant::now());
                filled += n;
            }
            Some(Err(e)) => {
                inner.fail(Failure::Lost(format!("read: {e}")));
                return;
            }
        }
    }
}

async fn writer<W: futures_lite::AsyncWrite + Unpin>(inner: Rc<Inner>, mut wr: W) {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        inner.writer_wake.notified().await;
        loop {
            std::mem::swap(&mut buf, &mut *inner.out.borrow_mut());
            if buf.is_empty() || inner.failed.borrow().is_some() {
                break;
            }
            inner.last_send.set(Instant::now());
            if let Err(e) = wr.write_all(&buf).await {
                inner.fail(Failure::Lost(format!("write: {e}")));
                return;
            }
            buf.clear();
        }
        if inner.failed.borrow().is_some() {
            let _ = wr.close().await;
            return;
        }
    }
}

async fn pinger(inner: Rc<Inner>, interval: Duration, read_timeout: Duration) {
    loop {
        let idle = inner.last_send.get().elapsed();
        let wait = if idle >= interval {
            codec::put_request(&mut inner.out.borrow_mut(), xid::PING, op::PING, |_| {});
            inner.last_send.set(Instant::now());
            inner.writer_wake.notify();
            interval
        } else {
            interval - idle
        };
        glommio::timer::sleep(wait).await;
        if inner.failed.borrow().is_some() {
            return;
        }
        let silent = inner.last_recv.get().elapsed();
        if silent > read_timeout {
            inner.fail(Failure::Lost(format!(
                "no response from the server in {} ms",
                silent.as_millis()
            )));
            return;
        }
    }
}

// ------------------------------------------------------------ the client

/// One session on one connection. See the module documentation.
pub struct Client {
    inner: Rc<Inner>,
    tasks: Vec<glommio::Task<()>>,
    session: ConnectResponse,
}

impl Client {
    /// Connects and creates a new session; watch events are dropped.
    pub async fn connect(addr: SocketAddr, session_timeout_ms: u32) -> Result<Client, ClientError> {
        Self::start(addr, session_timeout_ms, None).await
    }

    /// Connects and creates a new session; watch notifications (and a final
    /// connection-state event with `kind == -1`) arrive on the receiver.
    pub async fn connect_with_events(
        addr: SocketAddr,
        session_timeout_ms: u32,
    ) -> Result<(Client, LocalReceiver<WatchedEvent>), ClientError> {
        let (tx, rx) = local_channel::new_unbounded();
        let c = Self::start(addr, session_timeout_ms, Some(tx)).await?;
        Ok((c, rx))
    }

    async fn start(
        addr: SocketAddr,
        session_timeout_ms: u32,
        events: Option<LocalSender<WatchedEvent>>,
    ) -> Result<Client, ClientError> {
        let limit = Duration::from_millis(u64::from(session_timeout_ms.max(1000)));
        let handshake = async {
            let mut stream = TcpStream::connect(addr)
                .await
                .map_err(std::io::Error::from)?;
            stream.set_nodelay(true).map_err(std::io::Error::from)?;
            let mut out = Vec::with_capacity(49);
            let timeout = session_timeout_ms.min(i32::MAX as u32) as i32;
            codec::put_connect_request(&mut out, 0, timeout, 0, &[0; 16]);
            stream.write_all(&out).await?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut filled = 0;
            let len = loop {
                if filled >= 4 {
                    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                    if len > 4096 {
                        return Err(ClientError::Protocol(format!(
                            "ConnectResponse of {len} bytes"
                        )));
                    }
                    if filled >= 4 + len {
                        break len;
                    }
                }
                let n = stream.read(&mut buf[filled..]).await?;
                if n == 0 {
                    return Err(ClientError::ConnectionLoss(
                        "closed by the server during the handshake".into(),
                    ));
                }
                filled += n;
            };
            let resp = codec::decode_connect_response(&buf[4..4 + len])
                .ok_or_else(|| ClientError::Protocol("malformed ConnectResponse".into()))?;
            if resp.timeout_ms <= 0 || resp.session_id == 0 {
                return Err(ClientError::SessionExpired);
            }
            buf.copy_within(4 + len..filled, 0);
            filled -= 4 + len;
            Ok((stream, resp, buf, filled))
        };
        let timer = async {
            glommio::timer::sleep(limit).await;
            Err(ClientError::Timeout)
        };
        let (stream, resp, buf, filled) = futures_lite::future::or(handshake, timer).await?;

        let now = Instant::now();
        let inner = Rc::new(Inner {
            out: RefCell::new(Vec::with_capacity(64 * 1024)),
            pending: RefCell::new(VecDeque::new()),
            next_xid: Cell::new(1),
            writer_wake: Notify::default(),
            reader_stop: Notify::default(),
            failed: RefCell::new(None),
            closing: Cell::new(false),
            events,
            last_send: Cell::new(now),
            last_recv: Cell::new(now),
            last_zxid: Cell::new(0),
        });
        let negotiated = Duration::from_millis(resp.timeout_ms as u64);
        let (rd, wr) = futures_lite::io::split(stream);
        let tasks = vec![
            glommio::spawn_local(reader(inner.clone(), rd, buf, filled)),
            glommio::spawn_local(writer(inner.clone(), wr)),
            glommio::spawn_local(pinger(inner.clone(), negotiated / 3, negotiated * 2 / 3)),
        ];
        Ok(Client {
            inner,
            tasks,
            session: resp,
        })
    }

    /// The session id the server assigned.
    pub fn session_id(&self) -> i64 {
        self.session.session_id
    }

    /// The negotiated session timeout, ms.
    pub fn session_timeout_ms(&self) -> u32 {
        self.session.timeout_ms as u32
    }

    /// The session password (16 bytes).
    pub fn session_passwd(&self) -> &[u8] {
        &self.session.passwd
    }

    /// The highest zxid seen in a reply.
    pub fn last_zxid(&self) -> i64 {
        self.inner.last_zxid.get()
    }

    /// Requests sent and not yet answered.
    pub fn outstanding(&self) -> usize {
        self.inner.pending.borrow().len()
    }

    /// False once the connection has ended (closed or lost).
    pub fn is_connected(&self) -> bool {
        self.inner.failed.borrow().is_none()
    }

    fn request<T>(
        &self,
        opcode: i32,
        body: impl FnOnce(&mut Vec<u8>),
        map: fn(ReplyResult) -> Result<T, ClientError>,
    ) -> Response<T> {
        Response {
            slot: self.inner.submit(opcode, body),
            map,
        }
    }

    /// create (opcode 1) with `world:anyone` ALL; returns the created path
    /// (with the sequence suffix for sequential nodes).
    pub fn create(&self, path: &str, data: &[u8], flags: i32) -> Response<String> {
        self.create_with_acl(path, data, OPEN_ACL_UNSAFE, flags)
    }

    /// create (opcode 1) with an explicit ACL.
    pub fn create_with_acl(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl<'_>],
        flags: i32,
    ) -> Response<String> {
        self.request(
            op::CREATE,
            |o| codec::put_create(o, path, data, acl, flags),
            |r| match r? {
                Reply::Path(p) => Ok(p),
                r => unexpected(r),
            },
        )
    }

    /// create2 (opcode 15): the created path and the new node's Stat.
    pub fn create2(&self, path: &str, data: &[u8], flags: i32) -> Response<(String, Stat)> {
        self.request(
            op::CREATE2,
            |o| codec::put_create(o, path, data, OPEN_ACL_UNSAFE, flags),
            |r| match r? {
                Reply::PathStat(p, s) => Ok((p, s)),
                r => unexpected(r),
            },
        )
    }

    /// delete; `version` -1 matches any version.
    pub fn delete(&self, path: &str, version: i32) -> Response<()> {
        self.request(
            op::DELETE,
            |o| codec::put_path_version(o, path, version),
            |r| r.map(|_| ()),
        )
    }

    /// exists: `None` when the node does not exist (the watch, if asked
    /// for, is set anyway and fires on creation).
    pub fn exists(&self, path: &str, watch: bool) -> Response<Option<Stat>> {
        self.request(
            op::EXISTS,
            |o| codec::put_path_watch(o, path, watch),
            |r| match r {
                Ok(Reply::Stat(s)) => Ok(Some(s)),
                Err(ClientError::Zk(err::NO_NODE)) => Ok(None),
                Ok(r) => unexpected(r),
                Err(e) => Err(e),
            },
        )
    }

    /// getData: the data (null reads as empty) and Stat.
    pub fn get_data(&self, path: &str, watch: bool) -> Response<(Vec<u8>, Stat)> {
        self.request(
            op::GET_DATA,
            |o| codec::put_path_watch(o, path, watch),
            |r| match r? {
                Reply::Data(d, s) => Ok((d, s)),
                r => unexpected(r),
            },
        )
    }

    /// setData; `version` -1 matches any version. Returns the new Stat.
    pub fn set_data(&self, path: &str, data: &[u8], version: i32) -> Response<Stat> {
        self.request(
            op::SET_DATA,
            |o| codec::put_set_data(o, path, data, version),
            |r| match r? {
                Reply::Stat(s) => Ok(s),
                r => unexpected(r),
            },
        )
    }

    /// getChildren (opcode 8): bare child names, in no particular order.
    pub fn get_children(&self, path: &str, watch: bool) -> Response<Vec<String>> {
        self.request(
            op::GET_CHILDREN,
            |o| codec::put_path_watch(o, path, watch),
            |r| match r? {
                Reply::Children(c) => Ok(c),
                r => unexpected(r),
            },
        )
    }

    /// getChildren2 (opcode 12): child names plus the parent's Stat.
    pub fn get_children2(&self, path: &str, watch: bool) -> Response<(Vec<String>, Stat)> {
        self.request(
            op::GET_CHILDREN2,
            |o| codec::put_path_watch(o, path, watch),
            |r| match r? {
                Reply::Children2(c, s) => Ok((c, s)),
                r => unexpected(r),
            },
        )
    }

    /// sync: returns the path the server echoes.
    pub fn sync(&self, path: &str) -> Response<String> {
        self.request(
            op::SYNC,
            |o| crate::proto::jute::put_str(o, path),
            |r| match r? {
                Reply::Path(p) => Ok(p),
                r => unexpected(r),
            },
        )
    }

    /// multi (opcode 14). The server answers a multi with err 0 whether or
    /// not its ops succeeded: check the results for [`OpResult::Error`]
    /// (see [`first_error`]).
    pub fn multi(&self, m: &MultiBuilder) -> Response<Vec<OpResult>> {
        self.request(
            op::MULTI,
            |o| m.encode(o),
            |r| match r? {
                Reply::Multi(v) => Ok(v),
                r => unexpected(r),
            },
        )
    }

    /// Closes the session (closeSession, waits for its reply) and the
    /// connection. Requests still outstanding fail with [`ClientError::Closed`].
    pub async fn close(mut self) -> Result<(), ClientError> {
        let r = self.request(op::CLOSE_SESSION, |_| {}, |r| r.map(|_| ()));
        self.inner.closing.set(true);
        let r = r.await;
        self.inner.fail(Failure::Closed);
        for t in self.tasks.drain(..) {
            t.cancel().await;
        }
        match r {
            Err(ClientError::Closed) => Ok(()),
            r => r,
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Tasks are cancelled when `tasks` is dropped; fail what is left so
        // that no Response waits forever.
        self.inner.closing.set(true);
        self.inner.fail(Failure::Closed);
    }
}

/// The first real error in multi results: the failing op's code, ignoring
/// the 0 (rolled back) and -2 (RuntimeInconsistency) markers of the others.
pub fn first_error(results: &[OpResult]) -> Option<i32> {
    results.iter().find_map(|r| match r {
        OpResult::Error(c) if *c != 0 && *c != err::RUNTIME_INCONSISTENCY => Some(*c),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::jute;
    use crate::proto::records::{self, Request};
    use glommio::net::TcpListener;
    use glommio::LocalExecutor;

    fn reply(out: &mut Vec<u8>, xid: i32, zxid: i64, e: i32, body: impl FnOnce(&mut Vec<u8>)) {
        let at = jute::begin_frame(out);
        records::put_reply_header(out, xid, zxid, e);
        body(out);
        jute::end_frame(out, at);
    }

    /// Reads whole frames from a fake server's socket until `want` frames
    /// have arrived; returns their bodies.
    async fn read_frames(s: &mut TcpStream, buf: &mut Vec<u8>, want: usize) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        let mut tmp = vec![0u8; 65536];
        loop {
            while buf.len() >= 4 {
                let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if buf.len() < 4 + len {
                    break;
                }
                frames.push(buf[4..4 + len].to_vec());
                buf.drain(..4 + len);
            }
            if frames.len() >= want {
                return frames;
            }
            let n = s.read(&mut tmp).await.unwrap();
            assert!(n > 0, "client closed early");
            buf.extend_from_slice(&tmp[..n]);
        }
    }

    fn connect_response(out: &mut Vec<u8>, timeout: i32, session: i64) {
        let at = jute::begin_frame(out);
        jute::put_int(out, 0);
        jute::put_int(out, timeout);
        jute::put_long(out, session);
        jute::put_buffer(out, Some(&[7; 16]));
        jute::put_bool(out, false);
        jute::end_frame(out, at);
    }

    /// A scripted server on loopback: handshake, then 3 pipelined requests
    /// answered in order with a notification and a ping reply in between.
    #[test]
    fn pipelined_requests_against_a_scripted_server() {
        LocalExecutor::default().run(async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let server = glommio::spawn_local(async move {
                let mut s = l.accept().await.unwrap();
                let mut buf = Vec::new();
                let hello = read_frames(&mut s, &mut buf, 1).await;
                let c = records::connect_request(&hello[0]).unwrap();
                assert_eq!(
                    (c.timeout, c.session_id, c.read_only),
                    (6000, 0, Some(false))
                );
                let mut out = Vec::new();
                connect_response(&mut out, 4000, 0x55);
                s.write_all(&out).await.unwrap();
                let reqs = read_frames(&mut s, &mut buf, 3).await;
                let mut out = Vec::new();
                let mut xids = Vec::new();
                for (k, r) in reqs.iter().enumerate() {
                    let (body, (x, t)) = records::request_header(r).unwrap();
                    xids.push(x);
                    let req = records::decode_request(t, body).unwrap();
                    match (k, req) {
                        (0, Request::GetData { path, watch }) => {
                            assert_eq!((path.as_ref(), watch), ("/a", true));
                            reply(&mut out, x, 10, 0, |o| {
                                jute::put_buffer(o, Some(b"hi"));
                                Stat {
                                    version: 4,
                                    ..Stat::default()
                                }
                                .encode(o);
                            });
                            // a notification and a ping reply may come anywhere
                            reply(&mut out, -1, -1, 0, |o| {
                                jute::put_int(o, 3);
                                jute::put_int(o, 3);
                                jute::put_str(o, "/a");
                            });
                            reply(&mut out, -2, 10, 0, |_| {});
                        }
                        (1, Request::Exists { path, .. }) => {
                            assert_eq!(path, "/nope");
                            reply(&mut out, x, 11, err::NO_NODE, |_| {});
                        }
                        (2, Request::SetData { version, .. }) => {
                            assert_eq!(version, 4);
                            reply(&mut out, x, 12, err::BAD_VERSION, |_| {});
                        }
                        (k, r) => panic!("unexpected request {k}: {r:?}"),
                    }
                }
                s.write_all(&out).await.unwrap();
                xids
            });
            let (c, events) = Client::connect_with_events(addr, 6000).await.unwrap();
            assert_eq!(c.session_id(), 0x55);
            assert_eq!(c.session_timeout_ms(), 4000);
            let a = c.get_data("/a", true);
            let b = c.exists("/nope", false);
            let d = c.set_data("/a", b"x", 4);
            assert_eq!(c.outstanding(), 3);
            let (data, stat) = a.await.unwrap();
            assert_eq!((data.as_slice(), stat.version), (&b"hi"[..], 4));
            assert_eq!(b.await.unwrap(), None);
            assert_eq!(d.await.unwrap_err().code(), Some(err::BAD_VERSION));
            let e = events.recv().await.unwrap();
            assert_eq!((e.kind, e.path.as_str()), (3, "/a"));
            assert_eq!(c.last_zxid(), 12);
            assert_eq!(server.await, vec![1, 2, 3]);
            assert_eq!(c.outstanding(), 0);
        });
    }

    /// A reply whose xid is not the oldest outstanding one is fatal, and the
    /// connection ending fails every outstanding request.
    #[test]
    fn out_of_order_reply_fails_the_connection() {
        LocalExecutor::default().run(async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let server = glommio::spawn_local(async move {
                let mut s = l.accept().await.unwrap();
                let mut buf = Vec::new();
                read_frames(&mut s, &mut buf, 1).await;
                let mut out = Vec::new();
                connect_response(&mut out, 4000, 9);
                s.write_all(&out).await.unwrap();
                read_frames(&mut s, &mut buf, 2).await;
                let mut out = Vec::new();
                reply(&mut out, 2, 1, 0, |_| {});
                s.write_all(&out).await.unwrap();
                // keep the socket open until the client gives up on it
                let mut tmp = [0u8; 64];
                while s.read(&mut tmp).await.map(|n| n > 0).unwrap_or(false) {}
            });
            let c = Client::connect(addr, 4000).await.unwrap();
            let a = c.delete("/x", -1);
            let b = c.delete("/y", -1);
            assert!(matches!(a.await, Err(ClientError::Protocol(_))));
            assert!(matches!(b.await, Err(ClientError::ConnectionLoss(_))));
            assert!(!c.is_connected());
            // later requests fail at once
            assert!(matches!(
                c.sync("/").await,
                Err(ClientError::ConnectionLoss(_))
            ));
            drop(c);
            server.await;
        });
    }

    #[test]
    fn refused_session_is_session_expired() {
        LocalExecutor::default().run(async {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let server = glommio::spawn_local(async move {
                let mut s = l.accept().await.unwrap();
                let mut buf = Vec::new();
                read_frames(&mut s, &mut buf, 1).await;
                let mut out = Vec::new();
                connect_response(&mut out, 0, 0);
                s.write_all(&out).await.unwrap();
            });
            let r = Client::connect(addr, 4000).await;
            assert!(matches!(r, Err(ClientError::SessionExpired)));
            server.await;
        });
    }

    #[test]
    fn first_error_skips_rollback_markers() {
        let r = [
            OpResult::Error(0),
            OpResult::Error(-101),
            OpResult::Error(-2),
        ];
        assert_eq!(first_error(&r), Some(-101));
        assert_eq!(first_error(&[OpResult::Delete]), None);
        assert_eq!(ClientError::Zk(-110).kind(), "NodeExists");
        assert!(ClientError::Zk(-103).to_string().contains("BadVersion"));
    }
}
