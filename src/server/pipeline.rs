//! The commit pipeline: writes are prepped into txns at once (so a session's
//! writes stream without waiting for each other), handed to the runtime to
//! be made durable (standalone: the txn log; ensemble: ZAB), and applied,
//! answered and their watches fired only when the runtime reports them
//! durable with [`Core::commit_through`].
//!
//! Ordering (ZooKeeper's CommitProcessor rules, ARCHITECTURE.md):
//! * txns are proposed and applied in zxid order;
//! * each connection keeps a FIFO of what it is owed ([`Held`]): once it has
//!   a write in flight, its later reads wait (as request frames) and its
//!   later immediate answers (errors) wait (as rendered bytes) until every
//!   earlier write is applied and answered, so replies leave in request
//!   order and a read sees the session's own earlier writes.
//!
//! Prep reads the tree through [`Outstanding`], the changes of txns not yet
//! applied; entries retire as their txns apply.

use super::{reply, Core};
use crate::proto::codes::{err, event, perm};
use crate::session::SessionImage;
use crate::tree::acl;
use crate::tree::txn::{Txn, TxnHeader, TxnOp};
use crate::tree::{DataTree, Trigger};
use crate::types::{ConnId, Now, SessionId, Zxid};
use std::collections::VecDeque;
use std::sync::Arc;

/// Who is waiting for a proposed txn, and how to answer them.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Nobody (the reaper, a replayed txn).
    Nobody,
    /// A single write request.
    Write { conn: ConnId, xid: i32, opcode: i32 },
    /// A multi: the sub-requests' opcodes shape the answer.
    Multi {
        conn: ConnId,
        xid: i32,
        opcodes: Box<[i32]>,
    },
    /// A new session: the ConnectResponse.
    Connect {
        conn: ConnId,
        timeout: u32,
        old_client: bool,
    },
    /// closeSession from the client: answer, then close the connection.
    Close { conn: ConnId, xid: i32 },
    /// An expired session: close its connection, if any.
    Expire { conn: Option<ConnId> },
    /// A sync on a learner: answered once the leader's state is applied here.
    Sync {
        conn: ConnId,
        xid: i32,
        path: Box<str>,
    },
}

impl Reply {
    pub(super) fn conn(&self) -> Option<ConnId> {
        match *self {
            Reply::Nobody | Reply::Expire { .. } => None,
            Reply::Write { conn, .. }
            | Reply::Sync { conn, .. }
            | Reply::Multi { conn, .. }
            | Reply::Connect { conn, .. }
            | Reply::Close { conn, .. } => Some(conn),
        }
    }
}

/// What a connection is owed, in request order, while it has writes in flight.
#[derive(Debug)]
pub(crate) enum Held {
    /// The answer to the write with this zxid (rendered when it applies).
    Write(Zxid),
    /// A request that must see the earlier writes: run when reached.
    Frame(Box<[u8]>),
    /// An answer decided at once (an error), sent when reached.
    Bytes(Vec<u8>),
    /// Close the connection once everything before has gone out.
    Close,
    /// A request forwarded to the leader (learner): answered when the txn
    /// of (this session, `cxid`) commits here, or its sync completes.
    Remote { cxid: i32, reply: Reply },
}

pub(crate) struct InFlight {
    /// Shared with the log writer while it appends; unique again (so
    /// applied without a copy) once the write is durable.
    pub txn: Arc<Txn>,
    pub reply: Reply,
}

/// Proposed txns not yet applied, in zxid order.
#[derive(Default)]
pub(crate) struct Pipeline {
    pub queue: VecDeque<InFlight>,
    /// How many txns at the back of `queue` the runtime has not yet taken.
    pub fresh: usize,
    /// The zxid of the newest proposed txn.
    pub last_proposed: Zxid,
}

/// Raises the zxid in the header of each reply frame in `frames` (length,
/// xid, zxid, err, body; notifications, xid -1, keep theirs) to at least
/// `zxid`.
fn raise_reply_zxids(frames: &mut [u8], zxid: Zxid) {
    let mut at = 0;
    while let Some(len) = frames
        .get(at..at + 4)
        .map(|l| u32::from_be_bytes(l.try_into().expect("4 bytes")) as usize)
    {
        let body = at + 4;
        if let Some(h) = frames.get_mut(body..body + 16) {
            let xid = i32::from_be_bytes(h[..4].try_into().expect("4 bytes"));
            let old = i64::from_be_bytes(h[4..12].try_into().expect("8 bytes"));
            if xid != crate::proto::codes::xid::NOTIFICATION && old < zxid {
                h[4..12].copy_from_slice(&zxid.to_be_bytes());
            }
        }
        at = body + len;
    }
}

impl Core {
    /// The zxid of the newest proposed txn (equal to the last applied one
    /// when nothing is in flight).
    pub fn last_proposed_zxid(&self) -> Zxid {
        self.pipeline.last_proposed
    }

    /// Txns proposed and not yet applied.
    pub fn in_flight(&self) -> usize {
        self.pipeline.queue.len()
    }

    /// Hands every txn proposed since the last call to `f`, in zxid order;
    /// the runtime makes them durable, then calls [`Core::commit_through`].
    pub fn take_proposals(&mut self, mut f: impl FnMut(&Txn)) {
        self.take_shared_proposals(|t| f(t));
    }

    /// Txns proposed since the last [`Core::take_shared_proposals`].
    pub fn has_fresh_proposals(&self) -> bool {
        self.pipeline.fresh > 0
    }

    /// [`Core::take_proposals`] handing out shared references: the log
    /// writer appends from them without copying the txns' data.
    pub fn take_shared_proposals(&mut self, mut f: impl FnMut(&Arc<Txn>)) {
        let q = &self.pipeline.queue;
        for p in q.range(q.len() - self.pipeline.fresh..) {
            f(&p.txn);
        }
        self.pipeline.fresh = 0;
    }

    /// Every handed-out txn through `zxid` is durable: apply them in order,
    /// fire their watches, answer their requests, and run whatever their
    /// connections had waiting behind them. Returns how many were applied.
    pub fn commit_through(&mut self, zxid: Zxid, now: Now) -> usize {
        let taken = self.pipeline.queue.len() - self.pipeline.fresh;
        let mut n = 0;
        while n < taken {
            match self.pipeline.queue.front() {
                Some(p) if p.txn.header.zxid <= zxid => {}
                _ => break,
            }
            let InFlight { txn, reply } = self.pipeline.queue.pop_front().expect("front");
            n += 1;
            let z = txn.header.zxid;
            self.apply(Arc::try_unwrap(txn).unwrap_or_else(|t| (*t).clone()));
            if let Some(c) = reply.conn().and_then(|c| self.conns.get_mut(&c)) {
                match c.held.front() {
                    Some(Held::Write(w)) if *w == z => {
                        c.held.pop_front();
                    }
                    // A closing connection dropped what it was owed.
                    _ if c.close => {}
                    other => debug_assert!(false, "owes {other:?}, not the write {z:#x}"),
                }
            }
            self.answer(reply, z, now);
        }
        if n > 0 {
            if self.pipeline.queue.is_empty() {
                self.outstanding.clear();
            } else {
                self.outstanding.retire(self.tree.last_zxid);
            }
        }
        n
    }

    /// Takes every proposal and commits it at once: for a core without
    /// durable storage (benches, in-memory tests).
    pub fn commit_all(&mut self, now: Now) {
        self.take_proposals(|_| {});
        self.commit_through(self.pipeline.last_proposed, now);
    }

    /// Assigns the next zxid to `op` and queues it for the runtime. The
    /// caller has already merged its prep changes (if any) into
    /// `outstanding` under the zxid this returns.
    pub(crate) fn propose(
        &mut self,
        session: SessionId,
        cxid: i32,
        op: TxnOp,
        now: Now,
        reply: Reply,
    ) -> Zxid {
        debug_assert!(
            self.role != super::Role::ReadOnly,
            "a proposal in read-only mode: {op:?}"
        );
        let zxid = self.pipeline.last_proposed + 1;
        self.pipeline.last_proposed = zxid;
        if let Some(c) = reply.conn() {
            if let Some(conn) = self.conns.get_mut(&c) {
                conn.held.push_back(Held::Write(zxid));
            }
        }
        self.stats.max_in_flight = self
            .stats
            .max_in_flight
            .max(self.pipeline.queue.len() as u64 + 1);
        self.pipeline.queue.push_back(InFlight {
            txn: Arc::new(Txn {
                header: TxnHeader {
                    session,
                    cxid,
                    zxid,
                    time: now.wall_ms,
                },
                op,
            }),
            reply,
        });
        self.pipeline.fresh += 1;
        zxid
    }

    /// The zxid the next proposal will get.
    pub(crate) fn next_zxid(&self) -> Zxid {
        self.pipeline.last_proposed + 1
    }

    /// Applies a txn to the tree, firing watches into connection buffers;
    /// the per-op results are left in `scratch_results`.
    pub(super) fn apply(&mut self, mut txn: Txn) {
        let zxid = txn.header.zxid;
        if self.cfg.faults.ephemerals_as_persistent {
            if let TxnOp::Create { owner, .. } = &mut txn.op {
                *owner = 0;
            }
        }
        if let TxnOp::CloseSession = txn.op {
            self.sessions.remove(txn.header.session);
        }
        let Core {
            tree,
            watches,
            conns,
            scratch_conns,
            scratch_results,
            stats,
            cfg,
            ..
        } = self;
        scratch_results.clear();
        let drop_data_events = cfg.faults.drop_data_events;
        let mut fire = |(kind, path, acl): Trigger<'_>| {
            watches.trigger(kind, path, scratch_conns);
            if drop_data_events && kind == event::NODE_DATA_CHANGED {
                return;
            }
            for &c in scratch_conns.iter() {
                conns.write(c, |conn| {
                    // A watch fires (and a one-shot one is used up) whoever
                    // holds it, but only a session that may READ the node
                    // hears of it (ZooKeeper 3.8.4+, CVE-2024-23944).
                    if conn.close || !acl::allowed(acl, perm::READ, &conn.caller) {
                        return false;
                    }
                    reply::event(&mut conn.out, kind, path, zxid);
                    conn.stats.sent += 1;
                    stats.packets_sent += 1;
                    true
                });
            }
        };
        tree.apply(txn, &mut fire, scratch_results);
    }

    /// Answers the request of an applied txn (its entry already taken off
    /// the connection's `held`), then lets its waiting requests through.
    pub(super) fn answer(&mut self, reply: Reply, zxid: Zxid, now: Now) {
        let Some(id) = reply.conn() else {
            if let Reply::Expire { conn: Some(c) } = reply {
                self.close_conn(c);
            }
            return;
        };
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.close {
            // Closing: nothing more goes out on it.
            c.held.clear();
            return;
        }
        let out = &mut c.out;
        match reply {
            Reply::Write { xid, opcode, .. } => {
                reply::write(out, xid, zxid, opcode, self.scratch_results.pop());
                c.stats.last_zxid = zxid;
            }
            Reply::Multi { xid, opcodes, .. } => {
                reply::multi(out, xid, zxid, &opcodes, &self.scratch_results);
                c.stats.last_zxid = zxid;
            }
            Reply::Connect {
                timeout,
                old_client,
                ..
            } => {
                let sid = c.session.unwrap_or(0);
                let passwd = self.sessions.get(sid).map_or([0; 16], |s| s.passwd);
                reply::connect(out, Some((sid, timeout, passwd)), old_client, false);
            }
            Reply::Close { xid, .. } => {
                reply::header(out, xid, zxid, err::OK);
                c.session = None;
                c.close = true;
            }
            Reply::Sync { xid, path, .. } => reply::path(out, xid, zxid, &path),
            Reply::Nobody | Reply::Expire { .. } => {}
        }
        self.stats.packets_sent += 1;
        self.mark(id);
        self.release(id, now);
    }

    /// Runs what `id` had waiting, up to its next write in flight.
    fn release(&mut self, id: ConnId, now: Now) {
        loop {
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            if c.close {
                c.held.clear();
                return;
            }
            match c.held.front() {
                None | Some(Held::Write(_)) | Some(Held::Remote { .. }) => return,
                Some(_) => {}
            }
            match c.held.pop_front() {
                Some(Held::Bytes(mut b)) => {
                    // Decided at arrival, sent after the writes before it:
                    // its header says what this server has applied by now,
                    // so a session never sees its zxid go back.
                    raise_reply_zxids(&mut b, self.tree.last_zxid);
                    c.out.extend_from_slice(&b);
                    self.mark(id);
                }
                Some(Held::Frame(f)) => {
                    // What it leaves owing (a write or sync in flight, a
                    // forward) goes before the requests queued behind it:
                    // it was pushed at the back, so rotate it to the front.
                    let queued = c.held.len();
                    self.execute(id, &f, now, true);
                    if let Some(c) = self.conns.get_mut(&id) {
                        let added = c.held.len().saturating_sub(queued);
                        if added > 0 && added < c.held.len() {
                            c.held.rotate_right(added);
                        }
                    }
                }
                Some(Held::Close) => self.close_conn(id),
                _ => unreachable!("checked above"),
            }
        }
    }

    /// Rebuilds the state from recovered contents: a tree (from a snapshot
    /// and/or log replay) and the sessions alive in it. Sessions start a
    /// fresh timeout from `now`, as after a ZooKeeper restart.
    pub fn restore(
        cfg: super::CoreConfig,
        tree: DataTree,
        sessions: impl IntoIterator<Item = SessionImage>,
        now: Now,
    ) -> Core {
        let mut core = Core::new(cfg, now);
        core.tree = tree;
        core.pipeline.last_proposed = core.tree.last_zxid;
        for s in sessions {
            core.sessions
                .add(s.id, s.timeout.max(0) as u32, s.passwd, now.mono_ms);
        }
        core
    }

    /// Applies one recovered txn (log replay at startup): tree and session
    /// table, without answers. Txns must come in zxid order.
    pub fn replay(&mut self, txn: Txn, now: Now) {
        debug_assert!(self.pipeline.queue.is_empty(), "replay only before serving");
        match &txn.op {
            TxnOp::CreateSession { timeout, passwd } => {
                let sid = txn.header.session;
                let pw = passwd.unwrap_or_else(|| crate::session::legacy_password(sid));
                self.sessions
                    .add(sid, (*timeout).max(0) as u32, pw, now.mono_ms)
            }
            TxnOp::CloseSession => {
                self.sessions.remove(txn.header.session);
            }
            _ => {}
        }
        self.apply(txn);
        self.pipeline.last_proposed = self.tree.last_zxid;
    }

    /// Sessions, their timeouts and passwords (for a snapshot).
    pub fn session_list(&self) -> Vec<SessionImage> {
        let mut v: Vec<SessionImage> = self
            .sessions
            .ids()
            .filter(|id| !self.local_sessions.contains(id))
            .filter_map(|id| {
                self.sessions.get(id).map(|s| SessionImage {
                    id,
                    timeout: s.timeout_ms as i32,
                    passwd: s.passwd,
                })
            })
            .collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{Core, CoreConfig};
    use super::raise_reply_zxids;
    use crate::proto::codes::{err, op, perm};
    use crate::proto::jute;
    use crate::proto::records::put_acl;
    use crate::types::{ConnId, Now};

    pub(crate) fn now() -> Now {
        Now {
            mono_ms: 1_000,
            wall_ms: 1_700_000_000_000,
        }
    }

    pub(crate) fn frame(out: &mut Vec<u8>, xid: i32, opcode: i32, body: &[u8]) {
        let at = jute::begin_frame(out);
        jute::put_int(out, xid);
        jute::put_int(out, opcode);
        out.extend_from_slice(body);
        jute::end_frame(out, at);
    }

    pub(crate) fn connect() -> Vec<u8> {
        let mut out = Vec::new();
        let at = jute::begin_frame(&mut out);
        jute::put_int(&mut out, 0);
        jute::put_long(&mut out, 0);
        jute::put_int(&mut out, 30_000);
        jute::put_long(&mut out, 0);
        jute::put_buffer(&mut out, Some(&[0; 16]));
        jute::put_bool(&mut out, false);
        jute::end_frame(&mut out, at);
        out
    }

    pub(crate) fn create(out: &mut Vec<u8>, xid: i32, path: &str, data: &[u8], flags: i32) {
        let mut b = Vec::new();
        jute::put_str(&mut b, path);
        jute::put_buffer(&mut b, Some(data));
        jute::put_int(&mut b, 1);
        put_acl(&mut b, perm::ALL, "world", "anyone");
        jute::put_int(&mut b, flags);
        frame(out, xid, op::CREATE, &b);
    }

    pub(crate) fn path_op(out: &mut Vec<u8>, xid: i32, opcode: i32, path: &str, tail: &[u8]) {
        let mut b = Vec::new();
        jute::put_str(&mut b, path);
        b.extend_from_slice(tail);
        frame(out, xid, opcode, &b);
    }

    pub(crate) fn get_data(out: &mut Vec<u8>, xid: i32, path: &str) {
        path_op(out, xid, op::GET_DATA, path, &[0]);
    }

    pub(crate) fn set_data(out: &mut Vec<u8>, xid: i32, path: &str, data: &[u8], version: i32) {
        let mut t = Vec::new();
        jute::put_buffer(&mut t, Some(data));
        jute::put_int(&mut t, version);
        path_op(out, xid, op::SET_DATA, path, &t);
    }

    /// A reply frame: (xid, zxid, err, body).
    pub(crate) type Frame = (i32, i64, i32, Vec<u8>);

    pub(crate) fn replies(core: &mut Core, id: ConnId) -> Vec<Frame> {
        drain_all(core).remove(&id).unwrap_or_default()
    }

    /// Every connection's pending output, cut into reply frames.
    pub(crate) fn drain_all(core: &mut Core) -> std::collections::BTreeMap<ConnId, Vec<Frame>> {
        let mut all = std::collections::BTreeMap::new();
        core.drain(|o| {
            let mut out: Vec<Frame> = Vec::new();
            let mut b = &o.bytes[..];
            while b.len() >= 4 {
                let len = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
                let f = &b[4..4 + len];
                out.push((
                    i32::from_be_bytes(f[..4].try_into().unwrap()),
                    i64::from_be_bytes(f[4..12].try_into().unwrap()),
                    i32::from_be_bytes(f[12..16].try_into().unwrap()),
                    f[16..].to_vec(),
                ));
                b = &b[4 + len..];
            }
            o.bytes.clear();
            all.insert(o.conn, out);
        });
        all
    }

    pub(crate) fn proposals(core: &mut Core) -> Vec<i64> {
        let mut z = Vec::new();
        core.take_proposals(|t| z.push(t.header.zxid));
        z
    }

    /// A core with one session on `id` (its ConnectResponse consumed).
    pub(crate) fn session(core: &mut Core, id: ConnId) {
        core.conn_open(id, "127.0.0.1:40000".parse().unwrap(), now());
        core.conn_input(id, &connect(), now());
        assert!(
            replies(core, id).is_empty(),
            "ConnectResponse before its txn is durable"
        );
        let z = proposals(core);
        assert_eq!(z.len(), 1);
        core.commit_through(z[0], now());
        let mut b = Vec::new();
        core.drain(|o| b.append(o.bytes));
        assert_eq!(b.len(), 4 + 37, "one ConnectResponse");
    }

    #[test]
    fn writes_answer_only_once_durable_and_reads_wait_behind_them() {
        let mut core = Core::new(CoreConfig::default(), now());
        let id = ConnId::new(0, 1);
        session(&mut core, id);
        let mut f = Vec::new();
        create(&mut f, 1, "/a", b"x", 0);
        get_data(&mut f, 2, "/a");
        path_op(&mut f, 3, op::EXISTS, "/nope", &[0]);
        core.conn_input(id, &f, now());
        assert!(replies(&mut core, id).is_empty());
        assert!(core.tree.get("/a").is_none(), "applied before durable");
        let z = proposals(&mut core);
        assert_eq!(z.len(), 1);
        // Durable through an older zxid: still nothing.
        core.commit_through(z[0] - 1, now());
        assert!(replies(&mut core, id).is_empty());
        core.commit_through(z[0], now());
        let r = replies(&mut core, id);
        let got: Vec<(i32, i32)> = r.iter().map(|f| (f.0, f.2)).collect();
        assert_eq!(got, vec![(1, err::OK), (2, err::OK), (3, err::NO_NODE)]);
        assert_eq!(r[0].1, z[0]);
        // The read saw the session's own write: data "x".
        assert_eq!(&r[1].3[..5], &[0, 0, 0, 1, b'x']);
        assert_eq!(core.in_flight(), 0);
    }

    #[test]
    fn pipelined_writes_see_each_other_and_commit_in_parts() {
        let mut core = Core::new(CoreConfig::default(), now());
        let id = ConnId::new(0, 1);
        session(&mut core, id);
        let mut f = Vec::new();
        create(&mut f, 1, "/p", b"", 0);
        create(&mut f, 2, "/p/c", b"", 0);
        set_data(&mut f, 3, "/p", b"v1", 0);
        set_data(&mut f, 4, "/p", b"v2", 1);
        path_op(&mut f, 5, op::DELETE, "/p/c", &(-1i32).to_be_bytes());
        core.conn_input(id, &f, now());
        let z = proposals(&mut core);
        assert_eq!(z.len(), 5, "every write prepped against the ones before it");
        assert!(z.windows(2).all(|w| w[1] == w[0] + 1));
        core.commit_through(z[1], now());
        let r = replies(&mut core, id);
        assert_eq!(r.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!(core.tree.get("/p/c").is_some());
        core.commit_through(z[4], now());
        let r = replies(&mut core, id);
        let got: Vec<(i32, i32)> = r.iter().map(|f| (f.0, f.2)).collect();
        assert_eq!(got, vec![(3, 0), (4, 0), (5, 0)]);
        let n = core.tree.get("/p").unwrap();
        assert_eq!((n.version(), n.data()), (2, Some(&b"v2"[..])));
        assert!(core.tree.get("/p/c").is_none());
        core.tree.check_invariants();
    }

    #[test]
    fn a_failed_write_is_an_error_txn_answered_when_it_commits() {
        let mut core = Core::new(CoreConfig::default(), now());
        let id = ConnId::new(0, 1);
        session(&mut core, id);
        let mut f = Vec::new();
        create(&mut f, 1, "/x", b"", 0);
        create(&mut f, 2, "/x", b"", 0); // NodeExists against the pending create
        set_data(&mut f, 3, "/x", b"", 5); // BadVersion against the pending node
        core.conn_input(id, &f, now());
        assert!(replies(&mut core, id).is_empty(), "error overtook a write");
        let z = proposals(&mut core);
        assert_eq!(z.len(), 3, "the failures are txns too");
        // The create commits; the errors it caused wait for their own txns.
        core.commit_through(z[0], now());
        let got: Vec<(i32, i32)> = replies(&mut core, id).iter().map(|f| (f.0, f.2)).collect();
        assert_eq!(got, vec![(1, 0)]);
        core.commit_through(z[2], now());
        let r = replies(&mut core, id);
        let got: Vec<(i32, i64, i32)> = r.iter().map(|f| (f.0, f.1, f.2)).collect();
        assert_eq!(
            got,
            vec![(2, z[1], err::NODE_EXISTS), (3, z[2], err::BAD_VERSION)],
            "answered with their own zxids, as ZooKeeper's error txns"
        );
        assert_eq!(core.tree.get("/x").unwrap().version(), 0);
    }

    /// Another session's failed conditional write that saw a txn in flight
    /// is answered only once that txn commits; if the txns in flight are
    /// dropped (a role change), the error is never sent.
    #[test]
    fn an_error_against_a_txn_in_flight_waits_for_it_or_is_never_sent() {
        use super::super::Role;
        for commit in [true, false] {
            let mut core = Core::new(CoreConfig::default(), now());
            let (a, b) = (ConnId::new(0, 1), ConnId::new(0, 2));
            session(&mut core, a);
            session(&mut core, b);
            let mut f = Vec::new();
            create(&mut f, 1, "/n", b"", 0);
            core.conn_input(a, &f, now());
            core.commit_all(now());
            replies(&mut core, a);
            // a's setData (version 0 -> 1) is in flight when b's CAS on
            // version 0 arrives: b fails against it.
            let mut f = Vec::new();
            set_data(&mut f, 2, "/n", b"a", 0);
            core.conn_input(a, &f, now());
            let mut g = Vec::new();
            set_data(&mut g, 7, "/n", b"b", 0);
            core.conn_input(b, &g, now());
            let z = proposals(&mut core);
            assert_eq!(z.len(), 2);
            assert!(replies(&mut core, b).is_empty(), "the error went out first");
            if commit {
                core.commit_through(z[1], now());
                let got: Vec<(i32, i32)> =
                    replies(&mut core, b).iter().map(|f| (f.0, f.2)).collect();
                assert_eq!(got, vec![(7, err::BAD_VERSION)]);
            } else {
                // The leader loses its role: nothing in flight commits.
                core.set_role(Role::Leader, 1, now());
                core.set_role(Role::NotServing, 1, now());
                let mut closed = false;
                let mut frames = 0;
                core.drain(|o| {
                    if o.conn == b {
                        closed = o.close;
                        frames += o.bytes.len();
                    }
                });
                assert!(closed && frames == 0, "no answer, the connection closes");
            }
        }
    }

    /// A request held behind a write that itself waits for a txn when it
    /// runs (a sync in an ensemble) keeps its place: what follows it is
    /// answered after it.
    #[test]
    fn a_held_request_that_proposes_keeps_its_place() {
        use super::super::Role;
        let mut core = Core::new(CoreConfig::default(), now());
        core.set_role(Role::Leader, 1, now());
        let id = ConnId::new(0, 1);
        session(&mut core, id);
        let mut f = Vec::new();
        create(&mut f, 1, "/h", b"v", 0);
        path_op(&mut f, 2, op::SYNC, "/h", &[]);
        get_data(&mut f, 3, "/h");
        core.conn_input(id, &f, now());
        core.commit_all(now()); // the create; the sync is proposed now
        let got: Vec<i32> = replies(&mut core, id).iter().map(|f| f.0).collect();
        assert_eq!(got, vec![1], "the read overtook the sync");
        core.commit_all(now()); // the sync
        let got: Vec<(i32, i32)> = replies(&mut core, id).iter().map(|f| (f.0, f.2)).collect();
        assert_eq!(got, vec![(2, 0), (3, 0)]);
    }

    /// A standalone check is a txn too: answered with the node's Stat when
    /// it commits, or with BadVersion.
    #[test]
    fn a_check_is_a_txn_answered_with_the_stat() {
        let mut core = Core::new(CoreConfig::default(), now());
        let id = ConnId::new(0, 1);
        session(&mut core, id);
        let mut f = Vec::new();
        create(&mut f, 1, "/c", b"", 0);
        path_op(&mut f, 2, op::CHECK, "/c", &0i32.to_be_bytes());
        path_op(&mut f, 3, op::CHECK, "/c", &4i32.to_be_bytes());
        core.conn_input(id, &f, now());
        assert_eq!(proposals(&mut core).len(), 3);
        core.commit_all(now());
        let r = replies(&mut core, id);
        let got: Vec<(i32, i32, usize)> = r.iter().map(|f| (f.0, f.2, f.3.len())).collect();
        assert_eq!(got, vec![(1, 0, 6), (2, 0, 68), (3, err::BAD_VERSION, 0)]);
    }

    #[test]
    fn requests_sent_before_a_close_still_run() {
        let mut core = Core::new(CoreConfig::default(), now());
        let id = ConnId::new(0, 1);
        session(&mut core, id);
        let mut f = Vec::new();
        create(&mut f, 1, "/c", b"d", 0);
        get_data(&mut f, 2, "/c");
        frame(&mut f, 3, op::CLOSE_SESSION, &[]);
        get_data(&mut f, 4, "/c"); // after the close: never answered
        core.conn_input(id, &f, now());
        assert_eq!(
            core.sessions.len(),
            1,
            "the session leaves when its close applies"
        );
        core.commit_all(now());
        let got: Vec<(i32, i32)> = replies(&mut core, id).iter().map(|f| (f.0, f.2)).collect();
        assert_eq!(got, vec![(1, 0), (2, 0), (3, 0)]);
        assert!(core.sessions.is_empty());
    }

    #[test]
    fn closing_a_session_removes_ephemerals_still_in_flight() {
        let mut core = Core::new(CoreConfig::default(), now());
        let (a, b) = (ConnId::new(0, 1), ConnId::new(0, 2));
        session(&mut core, a);
        session(&mut core, b);
        let mut f = Vec::new();
        create(&mut f, 1, "/e", b"", 1); // ephemeral
        frame(&mut f, 2, op::CLOSE_SESSION, &[]);
        core.conn_input(a, &f, now());
        // Another session creates the same path before either txn applies:
        // prep already sees /e gone with its session.
        let mut g = Vec::new();
        create(&mut g, 1, "/e", b"", 0);
        core.conn_input(b, &g, now());
        assert_eq!(proposals(&mut core).len(), 3);
        core.commit_all(now());
        let mut all = drain_all(&mut core);
        let ra: Vec<(i32, i32)> = all[&a].iter().map(|f| (f.0, f.2)).collect();
        assert_eq!(ra, vec![(1, 0), (2, 0)]);
        let rb: Vec<(i32, i32)> = all.remove(&b).unwrap().iter().map(|f| (f.0, f.2)).collect();
        assert_eq!(rb, vec![(1, 0)]);
        let n = core.tree.get("/e").expect("recreated");
        assert_eq!(n.owner(), 0);
        assert_eq!(core.tree.ephemeral_count(), 0);
        assert_eq!(core.sessions.len(), 1);
    }

    #[test]
    fn replaying_the_proposals_rebuilds_the_same_state() {
        let mut core = Core::new(CoreConfig::default(), now());
        let id = ConnId::new(0, 1);
        session(&mut core, id);
        let mut f = Vec::new();
        create(&mut f, 1, "/r", b"1", 0);
        create(&mut f, 2, "/r/s-", b"", 2); // sequential
        create(&mut f, 3, "/r/e", b"", 1); // ephemeral
        set_data(&mut f, 4, "/r", b"2", -1);
        core.conn_input(id, &f, now());
        let mut log = Vec::new();
        core.take_proposals(|t| log.push(t.clone()));
        core.commit_all(now());
        let mut fresh = Core::new(CoreConfig::default(), now());
        // The session's CreateSession txn went out before these.
        let sid = core.session_list()[0];
        fresh.replay(
            crate::tree::txn::Txn {
                header: crate::tree::txn::TxnHeader {
                    session: sid.id,
                    cxid: 0,
                    zxid: 1,
                    time: 0,
                },
                op: crate::tree::txn::TxnOp::CreateSession {
                    timeout: sid.timeout,
                    passwd: Some(sid.passwd),
                },
            },
            now(),
        );
        for t in log {
            fresh.replay(t, now());
        }
        assert_eq!(fresh.session_list(), core.session_list());
        assert_eq!(fresh.last_zxid(), core.last_zxid());
        assert_eq!(fresh.last_proposed_zxid(), core.last_zxid());
        for p in ["/r", "/r/s-0000000000", "/r/e"] {
            let (x, y) = (fresh.tree.get(p).unwrap(), core.tree.get(p).unwrap());
            assert_eq!(x.stat(), y.stat(), "{p}");
            assert_eq!(x.data(), y.data(), "{p}");
        }
    }

    fn reply_frame(xid: i32, zxid: i64, err: i32, body: &[u8]) -> Vec<u8> {
        let mut f = ((16 + body.len()) as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&xid.to_be_bytes());
        f.extend_from_slice(&zxid.to_be_bytes());
        f.extend_from_slice(&err.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn held_replies_get_the_current_zxid_and_events_keep_theirs() {
        let mut b = reply_frame(27, 10, -112, b"");
        b.extend(reply_frame(-1, 5, 0, b"event body"));
        b.extend(reply_frame(28, 20, 0, b"x"));
        raise_reply_zxids(&mut b, 12);
        let mut want = reply_frame(27, 12, -112, b"");
        want.extend(reply_frame(-1, 5, 0, b"event body"));
        want.extend(reply_frame(28, 20, 0, b"x"));
        assert_eq!(b, want);
    }
}
