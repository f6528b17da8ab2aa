//! Simulated ZooKeeper clients: each speaks the client protocol (the
//! encoders and decoders of [`crate::client::codec`]) to a [`crate::node::Node`]
//! over a simulated connection, the way a real client library does:
//! connect (or reattach its session with id, password and lastZxidSeen),
//! pipeline requests, match replies in order, ping while idle, move to
//! another server, close or abandon its session.
//!
//! Every operation on the few shared keys is recorded for the
//! linearizability check ([`crate::lincheck`], the znode as a
//! compare-and-set register): creates, conditional and unconditional
//! setData, conditional deletes, check+setData multis, and sync+getData
//! (a read that must be linearizable). Failed conditional writes count: a
//! BadVersion is an observation of the version. Plain reads are only
//! sequentially consistent in ZooKeeper, so they are not in the history;
//! instead every frame a session receives must carry a zxid no lower than
//! the last it saw (reads never go back, and a read sees the session's own
//! writes), and replies must come in request order. Data watches: an
//! event must be for a watch the connection holds, and until it comes no
//! reply may show the watched node changed (ZooKeeper's "a client sees the
//! watch event before the new data").

use super::SimRng;
use crate::client::{
    create_flags, decode_connect_response, decode_event, decode_reply, put_connect_request,
    put_create, put_path_version, put_path_watch, put_request, put_set_data, reply_header,
    MultiBuilder, OpResult, Reply, OPEN_ACL_UNSAFE,
};
use crate::lincheck::{Op, ZnodeIn, ZnodeOut};
use crate::proto::codes::{err, op, xid};
use crate::types::{ConnId, SessionId, Zxid};
use std::collections::{BTreeMap, VecDeque};

/// Session timeout the clients ask for (ms).
pub const SESSION_TIMEOUT_MS: i32 = 300;
/// Requests a client keeps in flight at most.
const PIPELINE: usize = 3;
/// A client that waited this long for an answer gives up on the
/// connection (its requests' outcomes stay unknown) and moves on.
const GIVE_UP_MS: u64 = 1000;
/// Idle time before a ping.
const PING_MS: u64 = 100;

/// What a request was, to interpret its reply.
#[derive(Clone, Debug)]
enum What {
    Ping,
    /// getData, not in the history (sequential consistency only); with a
    /// data watch or not.
    Read(usize, bool),
    /// The sync before a linearizable read; the history op is the read's.
    Sync,
    /// getData after a sync: history op `h` of key `k`.
    SyncedRead(usize, usize),
    Create(usize, usize),
    SetData(usize, usize),
    Delete(usize, usize),
    /// check + setData as one multi.
    CasMulti(usize, usize),
    /// An ephemeral or sequential create (exercises, not in the history).
    Other,
    Close,
}

#[derive(Clone, Debug)]
struct Pending {
    xid: i32,
    opcode: i32,
    what: What,
    sent: u64,
}

/// A session as the client knows it.
#[derive(Clone, Copy, Debug)]
pub struct Session {
    pub id: SessionId,
    pub passwd: [u8; 16],
}

/// One open connection.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    pub server: usize,
    pub conn: ConnId,
    /// The server's incarnation when the connection opened.
    pub inc: u64,
}

/// What a client asks of the simulator after a step or a reply.
#[derive(Debug)]
pub enum Act {
    /// Open a connection to `server` and send `bytes` on it.
    Connect { server: usize, bytes: Vec<u8> },
    /// Send bytes on the open connection.
    Send(Vec<u8>),
    /// Close this connection (the client's side).
    Close(Link),
}

/// Counters of what the clients did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub sessions: u64,
    pub reattached: u64,
    pub refused: u64,
    pub moves: u64,
    pub conn_losses: u64,
    pub give_ups: u64,
    pub cas_ok: u64,
    pub cas_failed: u64,
    pub synced_reads: u64,
    /// Data watches set, and their events received.
    pub watches_set: u64,
    pub watch_events: u64,
    pub reads: u64,
    pub unknown: u64,
}

pub struct Client {
    pub idx: usize,
    pub link: Option<Link>,
    /// Waiting for the ConnectResponse (sent then).
    handshake: Option<u64>,
    pub session: Option<Session>,
    inbuf: Vec<u8>,
    next_xid: i32,
    pending: VecDeque<Pending>,
    /// The highest zxid this session saw (lastZxidSeen).
    pub last_zxid: Zxid,
    /// Last version seen per key (for conditional writes).
    versions: BTreeMap<usize, i32>,
    /// Data watches this connection holds: key -> the node's mzxid when
    /// the watch was set. Until its event arrives, nothing the session
    /// hears may show the node changed.
    watches: BTreeMap<usize, Zxid>,
    last_recv: u64,
    last_send: u64,
    writes: u64,
    pub stats: ClientStats,
}

/// Everything the clients record, shared by the simulator.
pub struct Shared {
    pub keys: usize,
    /// Per key: the history of linearizable operations.
    pub hist: Vec<Vec<Op<ZnodeIn, ZnodeOut>>>,
    /// Writes by the (session, xid) they were sent with: (key, index in
    /// `hist`). A write whose answer never came is resolved at the end
    /// from the committed sequence (see `Sim::resolve`).
    pub tags: BTreeMap<(SessionId, i32), (usize, usize)>,
    /// Zxids of writes that were answered (ok or error): each must be
    /// committed.
    pub answered: Vec<Zxid>,
    /// Sessions a client stopped using without closing: (id, when).
    pub abandoned: Vec<(SessionId, u64)>,
    /// A violation seen by a client.
    pub violation: Option<String>,
    /// Timestamps for the history: strictly increasing.
    pub seq: u64,
}

impl Shared {
    pub fn new(keys: usize) -> Shared {
        Shared {
            keys,
            hist: (0..keys).map(|_| Vec::new()).collect(),
            tags: BTreeMap::new(),
            answered: Vec::new(),
            abandoned: Vec::new(),
            violation: None,
            seq: 0,
        }
    }

    fn ts(&mut self, now: u64) -> u64 {
        self.seq += 1;
        now * 1_000_000 + self.seq
    }

    fn fail(&mut self, msg: String) {
        if self.violation.is_none() {
            self.violation = Some(msg);
        }
    }
}

pub fn key_path(k: usize) -> String {
    format!("/k{k}")
}

impl Client {
    pub fn new(idx: usize) -> Client {
        Client {
            idx,
            link: None,
            handshake: None,
            session: None,
            inbuf: Vec::new(),
            next_xid: 1,
            pending: VecDeque::new(),
            last_zxid: 0,
            versions: BTreeMap::new(),
            watches: BTreeMap::new(),
            last_recv: 0,
            last_send: 0,
            writes: 0,
            stats: ClientStats::default(),
        }
    }

    /// When the client last heard anything, or began waiting for what it
    /// waits for (None: it waits for nothing).
    fn waiting_since(&self) -> Option<u64> {
        let since = self.handshake.or(self.pending.front().map(|p| p.sent))?;
        Some(since.max(self.last_recv))
    }

    /// One step of the client's own initiative. `servers` are the
    /// servers it may connect to (up; the server decides the rest).
    pub fn step(
        &mut self,
        rng: &mut SimRng,
        sh: &mut Shared,
        now: u64,
        servers: &[usize],
        quiet: bool,
    ) -> Vec<Act> {
        let mut acts = Vec::new();
        // Nothing heard for too long: give up on this connection.
        if self.link.is_some() && self.waiting_since().is_some_and(|t| now > t + GIVE_UP_MS) {
            self.stats.give_ups += 1;
            acts.extend(self.lost().map(Act::Close));
            return acts;
        }
        let Some(link) = self.link else {
            if quiet && self.session.is_none() {
                return acts;
            }
            if servers.is_empty() {
                return acts;
            }
            let server = servers[rng.below(servers.len() as u64) as usize];
            let mut b = Vec::new();
            match self.session {
                Some(s) => {
                    self.stats.reattached += 1;
                    put_connect_request(&mut b, self.last_zxid, SESSION_TIMEOUT_MS, s.id, &s.passwd)
                }
                None => {
                    self.last_zxid = 0;
                    self.versions.clear();
                    put_connect_request(&mut b, 0, SESSION_TIMEOUT_MS, 0, &[0; 16])
                }
            }
            self.handshake = Some(now);
            self.last_send = now;
            acts.push(Act::Connect { server, bytes: b });
            return acts;
        };
        let _ = link;
        if self.handshake.is_some() || self.session.is_none() {
            return acts;
        }
        if self.pending.len() >= PIPELINE {
            return acts;
        }
        if quiet {
            if now > self.last_send + PING_MS && self.pending.is_empty() {
                acts.push(Act::Send(self.request(now, op::PING, What::Ping, |_| {})));
            }
            return acts;
        }
        let roll = rng.below(100);
        let k = rng.below(sh.keys as u64) as usize;
        let path = key_path(k);
        let expected = match self.versions.get(&k) {
            Some(&v) if !rng.chance(10) => v,
            _ if rng.chance(50) => -1,
            _ => rng.below(4) as i32,
        };
        self.writes += 1;
        let data = format!("c{}-{}", self.idx, self.writes).into_bytes();
        let bytes = if roll < 25 {
            let h = self.record(
                sh,
                now,
                k,
                ZnodeIn::Write {
                    data: data.clone(),
                    expected,
                },
            );
            self.request(now, op::SET_DATA, What::SetData(k, h), |b| {
                put_set_data(b, &path, &data, expected)
            })
        } else if roll < 35 {
            let watch = rng.chance(30);
            self.request(now, op::GET_DATA, What::Read(k, watch), |b| {
                put_path_watch(b, &path, watch)
            })
        } else if roll < 47 && self.pending.len() + 2 <= PIPELINE {
            // sync then getData, pipelined: the read is linearizable.
            let h = self.record(sh, now, k, ZnodeIn::Read);
            let mut b = self.request(now, op::SYNC, What::Sync, |b| {
                crate::proto::jute::put_str(b, &path)
            });
            b.extend(
                self.request(now, op::GET_DATA, What::SyncedRead(k, h), |b| {
                    put_path_watch(b, &path, false)
                }),
            );
            b
        } else if roll < 55 {
            let h = self.record(sh, now, k, ZnodeIn::Create { data: data.clone() });
            self.request(now, op::CREATE, What::Create(k, h), |b| {
                put_create(b, &path, &data, OPEN_ACL_UNSAFE, create_flags::PERSISTENT)
            })
        } else if roll < 60 {
            let h = self.record(sh, now, k, ZnodeIn::Delete { expected });
            self.request(now, op::DELETE, What::Delete(k, h), |b| {
                put_path_version(b, &path, expected)
            })
        } else if roll < 67 {
            let p = format!("/e-c{}-{}", self.idx, self.writes);
            self.request(now, op::CREATE, What::Other, |b| {
                put_create(b, &p, &data, OPEN_ACL_UNSAFE, create_flags::EPHEMERAL)
            })
        } else if roll < 71 {
            self.request(now, op::CREATE, What::Other, |b| {
                put_create(
                    b,
                    "/s-",
                    &data,
                    OPEN_ACL_UNSAFE,
                    create_flags::PERSISTENT_SEQUENTIAL,
                )
            })
        } else if roll < 76 && expected >= 0 {
            let h = self.record(
                sh,
                now,
                k,
                ZnodeIn::Write {
                    data: data.clone(),
                    expected,
                },
            );
            let mut m = MultiBuilder::new();
            m.check(&path, expected).set_data(&path, &data, -1);
            self.request(now, op::MULTI, What::CasMulti(k, h), |b| m.encode(b))
        } else if roll < 80 {
            self.request(now, op::PING, What::Ping, |_| {})
        } else if roll < 83 {
            // Move the session to another server.
            self.stats.moves += 1;
            acts.extend(self.lost().map(Act::Close));
            return acts;
        } else if roll < 85 {
            self.request(now, op::CLOSE_SESSION, What::Close, |_| {})
        } else if roll < 86 {
            // Abandon: stop using the session; the leader must expire it.
            if let Some(s) = self.session.take() {
                sh.abandoned.push((s.id, now));
            }
            acts.extend(self.lost().map(Act::Close));
            return acts;
        } else {
            if now > self.last_send + PING_MS && self.pending.is_empty() {
                acts.push(Act::Send(self.request(now, op::PING, What::Ping, |_| {})));
            }
            return acts;
        };
        acts.push(Act::Send(bytes));
        acts
    }

    /// Records an operation on key `k`; a write is tagged with the
    /// session and the xid its request will carry.
    fn record(&mut self, sh: &mut Shared, now: u64, k: usize, input: ZnodeIn) -> usize {
        let t = sh.ts(now);
        let write = input != ZnodeIn::Read;
        sh.hist[k].push(Op {
            invoke: t,
            complete: None,
            input,
            output: None,
        });
        let h = sh.hist[k].len() - 1;
        if let (true, Some(s)) = (write, self.session) {
            sh.tags.insert((s.id, self.next_xid), (k, h));
        }
        h
    }

    fn request(
        &mut self,
        now: u64,
        opcode: i32,
        what: What,
        body: impl FnOnce(&mut Vec<u8>),
    ) -> Vec<u8> {
        let x = if opcode == op::PING {
            xid::PING
        } else {
            let x = self.next_xid;
            self.next_xid += 1;
            x
        };
        let mut b = Vec::new();
        put_request(&mut b, x, opcode, body);
        self.pending.push_back(Pending {
            xid: x,
            opcode,
            what,
            sent: now,
        });
        self.last_send = now;
        b
    }

    /// The connection is gone (either side closed it, or the server
    /// crashed): outcomes of requests in flight are unknown. Returns it.
    pub fn lost(&mut self) -> Option<Link> {
        let link = self.link.take();
        if link.is_some() {
            self.stats.conn_losses += 1;
        }
        self.handshake = None;
        self.inbuf.clear();
        // Watches belong to the connection (this client does not set them
        // again on the next one).
        self.watches.clear();
        for p in self.pending.drain(..) {
            match p.what {
                What::SetData(..) | What::Create(..) | What::Delete(..) | What::CasMulti(..) => {
                    self.stats.unknown += 1
                }
                _ => {}
            }
        }
        link
    }

    /// Bytes from the server; `close`: the server closed the connection
    /// after them.
    pub fn receive(&mut self, sh: &mut Shared, now: u64, bytes: &[u8], close: bool) -> Vec<Act> {
        let mut acts = Vec::new();
        self.inbuf.extend_from_slice(bytes);
        self.last_recv = now;
        let buf = std::mem::take(&mut self.inbuf);
        let mut rest = &buf[..];
        while rest.len() >= 4 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if rest.len() < 4 + len {
                break;
            }
            let frame = &rest[4..4 + len];
            rest = &rest[4 + len..];
            if self.handshake.is_some() {
                self.handshake = None;
                match decode_connect_response(frame) {
                    Some(r) if r.timeout_ms > 0 => {
                        if self.session.is_none() {
                            self.stats.sessions += 1;
                            let mut passwd = [0; 16];
                            if r.passwd.len() == 16 {
                                passwd.copy_from_slice(&r.passwd);
                            }
                            self.session = Some(Session {
                                id: r.session_id,
                                passwd,
                            });
                        }
                    }
                    Some(_) => {
                        // Refused: the session expired.
                        self.stats.refused += 1;
                        self.session = None;
                    }
                    None => sh.fail(format!(
                        "client {}: a ConnectResponse did not decode",
                        self.idx
                    )),
                }
                continue;
            }
            self.frame(sh, now, frame);
            if sh.violation.is_some() {
                return acts;
            }
        }
        self.inbuf = rest.to_vec();
        if close {
            acts.extend(self.lost().map(Act::Close));
        }
        acts
    }

    /// A notification: it must be for a data watch this connection holds
    /// (which it uses up).
    fn event(&mut self, sh: &mut Shared, body: &[u8]) {
        let Some(e) = decode_event(body) else {
            sh.fail(format!(
                "client {}: a notification did not decode",
                self.idx
            ));
            return;
        };
        let k = (0..sh.keys).find(|&k| key_path(k) == e.path);
        match k.and_then(|k| self.watches.remove(&k)) {
            Some(_) => self.stats.watch_events += 1,
            None => sh.fail(format!(
                "client {} session {:#x}: event {} for {} without a watch on this connection",
                self.idx,
                self.session.map_or(0, |s| s.id),
                e.kind,
                e.path
            )),
        }
    }

    /// A read's answer about key `k`: while a data watch on it is
    /// pending, the node must be as it was when the watch was set (a
    /// client sees the watch event before the data that triggered it).
    fn saw_state(&mut self, sh: &mut Shared, k: usize, xid: i32, r: Option<&Reply>, e: i32) {
        let Some(&m0) = self.watches.get(&k) else {
            return;
        };
        match (r, e) {
            (Some(Reply::Data(_, stat)), _) if stat.mzxid != m0 => {
                self.changed_before_event(sh, k, xid, "a read shows it modified")
            }
            (_, err::NO_NODE) => self.changed_before_event(sh, k, xid, "a read shows it deleted"),
            _ => {}
        }
    }

    fn changed_before_event(&mut self, sh: &mut Shared, k: usize, xid: i32, how: &str) {
        if let Some(m0) = self.watches.get(&k) {
            sh.fail(format!(
                "client {} session {:#x}: {} changed after its watch was set at {m0:#x} and {how} (reply xid {xid}) before the watch event came",
                self.idx,
                self.session.map_or(0, |s| s.id),
                key_path(k)
            ));
        }
    }

    fn frame(&mut self, sh: &mut Shared, now: u64, frame: &[u8]) {
        let Some((h, body)) = reply_header(frame) else {
            sh.fail(format!(
                "client {}: a reply header did not decode",
                self.idx
            ));
            return;
        };
        if h.zxid > 0 {
            if h.zxid < self.last_zxid {
                sh.fail(format!(
                    "client {} session {:#x}: a frame (xid {}) carries zxid {:#x} after {:#x}: the session went back in time",
                    self.idx,
                    self.session.map_or(0, |s| s.id),
                    h.xid,
                    h.zxid,
                    self.last_zxid
                ));
                return;
            }
            self.last_zxid = h.zxid;
        }
        if h.xid == xid::NOTIFICATION {
            self.event(sh, body);
            return;
        }
        let Some(p) = self.pending.pop_front() else {
            sh.fail(format!(
                "client {}: a reply (xid {}) to nothing in flight",
                self.idx, h.xid
            ));
            return;
        };
        if p.xid != h.xid {
            sh.fail(format!(
                "client {}: reply xid {} (err {}) where {} ({:?}, opcode {}) was due: replies out of request order; then {:?}",
                self.idx, h.xid, h.err, p.xid, p.what, p.opcode, self.pending
            ));
            return;
        }
        let ok = h.err == err::OK;
        let reply = if ok {
            match decode_reply(p.opcode, body) {
                Some(r) => Some(r),
                None => {
                    sh.fail(format!(
                        "client {}: the reply to opcode {} did not decode",
                        self.idx, p.opcode
                    ));
                    return;
                }
            }
        } else {
            None
        };
        let t = sh.ts(now);
        let done = |sh: &mut Shared, k: usize, hi: usize, out: Option<ZnodeOut>| {
            let o = &mut sh.hist[k][hi];
            if let Some(out) = out {
                o.complete = Some(t);
                o.output = Some(out);
            }
        };
        // Errors that say nothing about the znode: the outcome stays unknown.
        let unknown = !ok
            && !matches!(
                h.err,
                err::BAD_VERSION | err::NO_NODE | err::NODE_EXISTS | err::NOT_EMPTY
            );
        if h.err == err::SESSION_EXPIRED {
            self.session = None;
        }
        // A write of this session changed its key (a multi's header says
        // OK even when an op failed: its results tell).
        let changed = match (&p.what, &reply) {
            (What::CasMulti(k, _), Some(Reply::Multi(rs))) => rs
                .iter()
                .any(|r| matches!(r, OpResult::SetData(_)))
                .then_some(*k),
            (What::SetData(k, _) | What::Create(k, _) | What::Delete(k, _), _) if ok => Some(*k),
            _ => None,
        };
        if let Some(k) = changed {
            let how = format!("its own write {:?} succeeded at {:#x}", p.what, h.zxid);
            self.changed_before_event(sh, k, h.xid, &how);
        }
        match p.what {
            What::Ping | What::Sync | What::Other => {}
            What::Close => {
                if ok {
                    self.session = None;
                }
            }
            What::Read(k, watch) => {
                self.stats.reads += 1;
                self.saw_state(sh, k, h.xid, reply.as_ref(), h.err);
                match reply {
                    Some(Reply::Data(_, stat)) => {
                        self.versions.insert(k, stat.version);
                        if watch {
                            self.watches.insert(k, stat.mzxid);
                            self.stats.watches_set += 1;
                        }
                    }
                    _ => {
                        self.versions.remove(&k);
                    }
                }
            }
            What::SyncedRead(k, hi) => {
                self.saw_state(sh, k, h.xid, reply.as_ref(), h.err);
                let out = match (reply, h.err) {
                    (Some(Reply::Data(d, stat)), _) => {
                        self.versions.insert(k, stat.version);
                        Some(ZnodeOut::Read(Some((d, stat.version))))
                    }
                    (_, err::NO_NODE) => {
                        self.versions.remove(&k);
                        Some(ZnodeOut::Read(None))
                    }
                    _ => None,
                };
                if out.is_some() {
                    self.stats.synced_reads += 1;
                }
                done(sh, k, hi, out);
            }
            What::SetData(k, hi) | What::CasMulti(k, hi) => {
                sh.answered.push(h.zxid);
                let version = match &reply {
                    Some(Reply::Stat(s)) => Some(s.version),
                    Some(Reply::Multi(rs)) => rs.iter().find_map(|r| match r {
                        OpResult::SetData(s) => Some(s.version),
                        _ => None,
                    }),
                    _ => None,
                };
                let out = if unknown {
                    None
                } else if let Some(v) = version {
                    self.stats.cas_ok += 1;
                    self.versions.insert(k, v);
                    Some(ZnodeOut::Ok { version: v })
                } else {
                    self.stats.cas_failed += 1;
                    Some(ZnodeOut::Rejected)
                };
                done(sh, k, hi, out);
            }
            What::Create(k, hi) => {
                sh.answered.push(h.zxid);
                let out = if ok {
                    self.versions.insert(k, 0);
                    Some(ZnodeOut::Ok { version: 0 })
                } else if unknown {
                    None
                } else {
                    Some(ZnodeOut::Rejected)
                };
                done(sh, k, hi, out);
            }
            What::Delete(k, hi) => {
                sh.answered.push(h.zxid);
                let out = if ok {
                    self.versions.remove(&k);
                    Some(ZnodeOut::Deleted)
                } else if unknown {
                    None
                } else {
                    Some(ZnodeOut::Rejected)
                };
                done(sh, k, hi, out);
            }
        }
        if unknown
            && matches!(
                p.what,
                What::SetData(..) | What::Create(..) | What::Delete(..) | What::CasMulti(..)
            )
        {
            self.stats.unknown += 1;
        }
    }
}
