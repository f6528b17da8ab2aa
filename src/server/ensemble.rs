//! The core's part in an ensemble: what changes with the server's role.
//!
//! * **Standalone** and **Leader**: writes are prepped here and proposed
//!   (`take_proposals`); the leader also preps the requests learners
//!   forward ([`Core::remote_request`]), answering nobody itself: a failed
//!   one is proposed as an error txn so that the learner holding the
//!   client can answer it in order. Only the leader (or a standalone
//!   server) expires sessions (in an ensemble when its replica says so,
//!   [`Core::expire_session`]) and reaps containers.
//! * **Learner** (follower or observer): reads are served from the local
//!   tree; writes, checks, syncs, session creation and close are handed to
//!   the runtime as [`Forward`]s for the leader, and the connection owes a
//!   [`Held::Remote`] entry that the matching committed txn
//!   ([`Core::apply_committed`], matched by session and cxid) answers.
//! * **NotServing** (no quorum): new connections are closed at once.
//!
//! A role change closes every client connection, as ZooKeeper does: what a
//! client had in flight is unknown to it and it reconnects (to this or
//! another server) with its session id.

use super::pipeline::{Held, Reply};
use super::Core;
use crate::proto::codes::{err, op};
use crate::proto::jute;
use crate::proto::records::{decode_request, Request};
use crate::session::prep::{prep_multi, prep_op, Pending, PrepConfig};
use crate::tree::acl::{Caller, Id};
use crate::tree::txn::{Txn, TxnOp};
use crate::types::{ConnId, FxHashSet, Now, Role, SessionId};

/// Something a learner's client asked for that only the leader can do: a
/// write, a check, a sync, createSession or closeSession. `body` is the
/// caller's identity ([`encode_caller`]) followed by the request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    pub session: SessionId,
    pub cxid: i32,
    pub opcode: i32,
    pub body: Vec<u8>,
}

/// The error txns of a multi whose op `k` failed prep with `code`: the ops
/// before it report 0, the ones after it RuntimeInconsistency (ZooKeeper's
/// answer).
pub(super) fn multi_errors(n: usize, k: usize, code: i32) -> Vec<TxnOp> {
    (0..n)
        .map(|i| TxnOp::Error {
            code: match i.cmp(&k) {
                std::cmp::Ordering::Less => 0,
                std::cmp::Ordering::Equal => code,
                std::cmp::Ordering::Greater => err::RUNTIME_INCONSISTENCY,
            },
        })
        .collect()
}

#[derive(Default)]
pub(crate) struct EnsembleState {
    pub forwards: Vec<Forward>,
    /// Sessions with client activity since the runtime last asked.
    pub touched: FxHashSet<SessionId>,
    /// Sessions this learner asked the leader to create, not yet committed.
    pub provisional: FxHashSet<SessionId>,
}

/// Prefixes a forwarded request with what the leader needs for ACL
/// checks: the client's address and authenticated ids.
pub fn encode_caller(out: &mut Vec<u8>, caller: &Caller) {
    let addr = caller.addr.map(|a| a.to_string()).unwrap_or_default();
    jute::put_str(out, &addr);
    jute::put_int(out, caller.ids.len() as i32);
    for id in &caller.ids {
        jute::put_str(out, &id.scheme);
        jute::put_str(out, &id.id);
    }
}

/// The inverse of [`encode_caller`]: the caller and the request body.
pub fn decode_caller(b: &[u8]) -> Option<(Caller, &[u8])> {
    let (mut rest, addr) = jute::ustring(b).ok()?;
    let (r, n) = jute::int(rest).ok()?;
    rest = r;
    if n < 0 || n as usize > rest.len() / 8 {
        return None;
    }
    let mut ids = Vec::with_capacity((n as usize).min(crate::types::MAX_PREALLOC));
    for _ in 0..n {
        let (r, scheme) = jute::ustring(rest).ok()?;
        let (r, id) = jute::ustring(r).ok()?;
        rest = r;
        ids.push(Id::new(&scheme, &id));
    }
    let addr = if addr.is_empty() {
        None
    } else {
        Some(addr.parse().ok()?)
    };
    Some((Caller { ids, addr }, rest))
}

impl Core {
    pub fn role(&self) -> Role {
        self.role
    }

    /// Enters a role. Any change closes every client connection and drops
    /// what was in flight. A leader's proposals continue from
    /// `epoch << 32` (or the last applied zxid if that is later).
    pub fn set_role(&mut self, role: Role, epoch: u32, now: Now) {
        let changed = role != self.role;
        let was_read_only = self.role == Role::ReadOnly;
        self.role = role;
        if changed {
            if was_read_only {
                for s in std::mem::take(&mut self.local_sessions) {
                    self.sessions.remove(s);
                }
            }
            let ids: Vec<ConnId> = self.conns.keys().copied().collect();
            for id in ids {
                self.close_conn(id);
            }
            self.pipeline.queue.clear();
            self.pipeline.fresh = 0;
            self.outstanding.clear();
            self.ensemble.forwards.clear();
            for s in std::mem::take(&mut self.ensemble.provisional) {
                self.sessions.remove(s);
            }
            // Closes in flight were dropped with the pipeline: only
            // committed closes count, and the new leader may expire again.
            let ids: Vec<SessionId> = self.sessions.ids().collect();
            for s in ids {
                if let Some(x) = self.sessions.get_mut(s) {
                    x.closing = false;
                }
            }
        }
        let base = (i64::from(epoch) << 32).max(self.tree.last_zxid);
        self.pipeline.last_proposed = if role == Role::Leader {
            base
        } else {
            self.tree.last_zxid
        };
        if role == Role::Leader {
            // A new leader starts every session's timeout afresh.
            let ids: Vec<SessionId> = self.sessions.ids().collect();
            for s in ids {
                self.sessions.touch(s, now.mono_ms);
            }
        }
    }

    /// Read-only mode: local sessions past their timeout end here (their
    /// connections close); the others wait for a leader to decide.
    pub(super) fn expire_local_sessions(&mut self, now: Now) {
        let mut gone: Vec<SessionId> = self
            .local_sessions
            .iter()
            .copied()
            .filter(|s| {
                self.sessions
                    .get(*s)
                    .is_none_or(|x| x.expires_at <= now.mono_ms)
            })
            .collect();
        gone.sort_unstable();
        for s in gone {
            self.local_sessions.remove(&s);
            if let Some(x) = self.sessions.remove(s) {
                if let Some(c) = x.conn {
                    self.close_conn(c);
                }
            }
        }
    }

    /// Sessions created in read-only mode, live now.
    pub fn local_session_count(&self) -> usize {
        self.local_sessions.len()
    }

    /// Read-only mode: a request that would change something (or sync) is
    /// answered NotReadOnly; a close ends the session here. True when
    /// answered.
    pub(super) fn read_only_answer(
        &mut self,
        id: ConnId,
        sid: SessionId,
        xid: i32,
        opcode: i32,
    ) -> bool {
        let zxid = self.last_zxid();
        match crate::proto::codes::OpCode::from_code(opcode) {
            Some(k) if k.refused_read_only() => {
                self.reply_err(id, xid, zxid, err::NOT_READ_ONLY);
                true
            }
            Some(crate::proto::codes::OpCode::CloseSession) => {
                if !self.local_sessions.remove(&sid) {
                    // Only a leader can end a global session.
                    self.reply_err(id, xid, zxid, err::NOT_READ_ONLY);
                    return true;
                }
                self.sessions.remove(sid);
                self.reply_err(id, xid, zxid, err::OK);
                if let Some(c) = self.conns.get_mut(&id) {
                    c.session = None;
                }
                self.close_conn(id);
                true
            }
            _ => false,
        }
    }

    /// Learner: hands the requests to forward to the leader to `f`.
    pub fn take_forwards(&mut self, mut f: impl FnMut(Forward)) {
        for x in self.ensemble.forwards.drain(..) {
            f(x);
        }
    }

    /// The sessions with client activity since the last call: ZAB keeps
    /// them alive (a learner relays them to the leader in its pings).
    pub fn take_touched(&mut self, mut f: impl FnMut(SessionId)) {
        for s in self.ensemble.touched.drain() {
            f(s);
        }
    }

    pub(super) fn note_touch(&mut self, session: SessionId) {
        if matches!(self.role, Role::Follower | Role::Observer | Role::Leader) {
            self.ensemble.touched.insert(session);
        }
    }

    /// Learner: queues a write for the leader; the connection owes its
    /// answer until the txn commits here.
    pub(super) fn forward_write(
        &mut self,
        id: ConnId,
        sid: SessionId,
        xid: i32,
        opcode: i32,
        req: &Request<'_>,
        body: &[u8],
    ) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let mut fwd = Vec::with_capacity(body.len() + 32);
        encode_caller(&mut fwd, &c.caller);
        fwd.extend_from_slice(body);
        let reply = match (opcode, req) {
            (op::MULTI, Request::Multi(ops)) => Reply::Multi {
                conn: id,
                xid,
                opcodes: ops.iter().map(|(o, _)| *o).collect(),
            },
            (op::CLOSE_SESSION, _) => Reply::Close { conn: id, xid },
            _ => Reply::Write {
                conn: id,
                xid,
                opcode,
            },
        };
        c.held.push_back(Held::Remote { cxid: xid, reply });
        self.ensemble.forwards.push(Forward {
            session: sid,
            cxid: xid,
            opcode,
            body: fwd,
        });
    }

    /// Learner: a sync goes to the leader as a request; the leader proposes
    /// it as a sync txn, answered here when it commits (see `TxnOp::Sync`).
    pub(super) fn forward_sync(
        &mut self,
        id: ConnId,
        sid: SessionId,
        xid: i32,
        path: &str,
        body: &[u8],
    ) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let mut fwd = Vec::with_capacity(body.len() + 32);
        encode_caller(&mut fwd, &c.caller);
        fwd.extend_from_slice(body);
        let reply = Reply::Sync {
            conn: id,
            xid,
            path: path.into(),
        };
        c.held.push_back(Held::Remote { cxid: xid, reply });
        self.ensemble.forwards.push(Forward {
            session: sid,
            cxid: xid,
            opcode: op::SYNC,
            body: fwd,
        });
    }

    /// Learner: a new session is created by the leader; its id is ours.
    /// It is known here at once (so the client may pipeline requests
    /// behind its ConnectResponse) but only provisionally until it commits.
    pub(super) fn forward_create_session(
        &mut self,
        id: ConnId,
        sid: SessionId,
        timeout: u32,
        old_client: bool,
        now: Now,
    ) {
        let passwd = self.new_passwd();
        self.sessions.add(sid, timeout, passwd, now.mono_ms);
        if let Some(s) = self.sessions.get_mut(sid) {
            s.conn = Some(id);
        }
        self.ensemble.provisional.insert(sid);
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.session = Some(sid);
        c.old_client = old_client;
        c.stats.last_op = "SESS";
        let reply = Reply::Connect {
            conn: id,
            timeout,
            old_client,
        };
        c.held.push_back(Held::Remote { cxid: 0, reply });
        let mut body = Vec::new();
        encode_caller(&mut body, &c.caller);
        jute::put_int(&mut body, timeout as i32);
        body.extend_from_slice(&passwd);
        self.ensemble.forwards.push(Forward {
            session: sid,
            cxid: 0,
            opcode: op::CREATE_SESSION,
            body,
        });
    }

    /// Leader: a request a learner forwarded. It is proposed (as an error
    /// txn if it fails prep); the learner answers its client at commit.
    pub fn remote_request(
        &mut self,
        session: SessionId,
        cxid: i32,
        opcode: i32,
        body: &[u8],
        now: Now,
    ) {
        let (cxid, op) = match self.remote_txn(session, cxid, opcode, body, now) {
            Ok(x) => x,
            Err(code) => (cxid, TxnOp::Error { code }),
        };
        self.propose(session, cxid, op, now, Reply::Nobody);
    }

    /// The txn for a forwarded request (and its cxid), or the error code of
    /// a request that cannot be prepped at all. Prep failures of a valid
    /// request come back as `Ok` error txns, one per op for a multi.
    fn remote_txn(
        &mut self,
        session: SessionId,
        cxid: i32,
        opcode: i32,
        body: &[u8],
        now: Now,
    ) -> Result<(i32, TxnOp), i32> {
        let (caller, body) = decode_caller(body).ok_or(err::MARSHALLING_ERROR)?;
        if opcode == op::CREATE_SESSION {
            // The learner chose the id and the password (its client got
            // neither yet: the ConnectResponse waits for this txn).
            let (rest, timeout) = jute::int(body).map_err(|_| err::MARSHALLING_ERROR)?;
            let passwd: [u8; 16] = rest
                .get(..16)
                .and_then(|p| p.try_into().ok())
                .ok_or(err::MARSHALLING_ERROR)?;
            let timeout = (timeout.max(0) as u32).clamp(
                self.cfg.min_session_timeout_ms,
                self.cfg.max_session_timeout_ms,
            );
            if self.sessions.get(session).is_none() {
                self.sessions.add(session, timeout, passwd, now.mono_ms);
            }
            let op = TxnOp::CreateSession {
                timeout: timeout as i32,
                passwd: Some(passwd),
            };
            return Ok((0, op));
        }
        if self.sessions.get(session).is_none_or(|s| s.closing) {
            return Err(err::SESSION_EXPIRED);
        }
        self.sessions.touch(session, now.mono_ms);
        if opcode == op::CLOSE_SESSION {
            self.begin_close(session, self.next_zxid());
            return Ok((cxid, TxnOp::CloseSession));
        }
        if opcode == op::SYNC {
            return Ok((cxid, TxnOp::Sync));
        }
        let cfg = PrepConfig {
            ttl_enabled: self.cfg.ttl_enabled,
        };
        let req = decode_request(opcode, body).map_err(|_| err::MARSHALLING_ERROR)?;
        let zxid = self.next_zxid();
        let op = match &req {
            Request::Multi(ops) => {
                match prep_multi(ops, session, &caller, cfg, &self.tree, &self.outstanding) {
                    Ok((txns, changes)) => {
                        self.outstanding.merge(changes, zxid);
                        TxnOp::Multi(txns)
                    }
                    Err((k, code)) => TxnOp::Multi(multi_errors(ops.len(), k, code)),
                }
            }
            _ => {
                let mut pending = Pending::new(&self.tree, &self.outstanding);
                let r = prep_op(opcode, &req, session, &caller, cfg, &mut pending);
                let changes = pending.into_changes();
                match r {
                    Ok(t) => {
                        self.outstanding.merge(changes, zxid);
                        t
                    }
                    Err(code) => TxnOp::Error { code },
                }
            }
        };
        Ok((cxid, op))
    }

    /// Learner: a txn committed by the leader, in zxid order. Applies it
    /// (tree, sessions, watches) and answers the local client that asked
    /// for it, if any.
    pub fn apply_committed(&mut self, txn: Txn, now: Now) {
        let (sid, cxid, zxid) = (txn.header.session, txn.header.cxid, txn.header.zxid);
        let mut conn = self.sessions.get(sid).and_then(|s| s.conn);
        match &txn.op {
            TxnOp::CreateSession { timeout, passwd } => {
                self.ensemble.provisional.remove(&sid);
                if self.sessions.get(sid).is_none() {
                    let pw = passwd.unwrap_or_else(|| crate::session::legacy_password(sid));
                    self.sessions
                        .add(sid, (*timeout).max(0) as u32, pw, now.mono_ms);
                }
            }
            TxnOp::CloseSession => {
                self.sessions.remove(sid);
            }
            _ => {}
        }
        self.pipeline.last_proposed = self.pipeline.last_proposed.max(zxid);
        self.apply(txn);
        let Some(id) = conn.take() else {
            return;
        };
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        match c.held.front() {
            Some(Held::Remote { cxid: w, .. }) if *w == cxid => {
                let Some(Held::Remote { reply, .. }) = c.held.pop_front() else {
                    unreachable!("matched above");
                };
                self.answer(reply, zxid, now);
            }
            _ => {
                // Not this connection's request: the session ended under it
                // (expired by the leader) or it is an error txn for a
                // request of a connection that is gone.
                if self.sessions.get(sid).is_none() && c.session == Some(sid) {
                    self.close_conn(id);
                }
            }
        }
    }

    /// A txn ZAB committed, in zxid order: the leader's own proposal is
    /// committed from its pipeline (answering its client); anything else
    /// (a learner's commit, or a txn recovered from the log before this
    /// leader's epoch) is applied as the leader sent it.
    pub fn commit_txn(&mut self, txn: &Txn, now: Now) {
        let z = txn.header.zxid;
        if z <= self.tree.last_zxid {
            return;
        }
        let ours = self
            .pipeline
            .queue
            .front()
            .is_some_and(|p| p.txn.header.zxid == z)
            && self.pipeline.queue.len() > self.pipeline.fresh;
        if ours {
            self.commit_through(z, now);
        } else {
            self.apply_committed(txn.clone(), now);
        }
    }

    /// Leader: ZAB found `session` silent past its timeout (it tracks the
    /// activity of every server's clients): propose its close, as
    /// standalone expiry does. Unknown or closing sessions are left alone.
    pub fn expire_session(&mut self, session: SessionId, now: Now) {
        if self.role != Role::Leader || self.sessions.get(session).is_none_or(|s| s.closing) {
            return;
        }
        let conn = self.sessions.get(session).and_then(|s| s.conn);
        self.close_session(session, 0, now, Reply::Expire { conn });
    }

    /// Replaces the whole state (a snapshot from the leader was installed).
    /// Only while not serving: there are no client connections to keep.
    pub fn replace_state(
        &mut self,
        tree: crate::tree::DataTree,
        sessions: &[crate::session::SessionImage],
        now: Now,
    ) {
        self.tree = tree;
        self.sessions = crate::session::SessionTable::new(self.cfg.tick_ms, self.cfg.server_id);
        for s in sessions {
            self.sessions
                .add(s.id, s.timeout.max(0) as u32, s.passwd, now.mono_ms);
        }
        self.pipeline.queue.clear();
        self.pipeline.fresh = 0;
        self.pipeline.last_proposed = self.tree.last_zxid;
        self.outstanding.clear();
        self.ensemble.provisional.clear();
    }

    /// Learner: the leader refused a forwarded request (no leader right
    /// now): the client's connection is closed, as on a role change.
    pub fn forward_rejected(&mut self, session: SessionId) {
        if let Some(id) = self.sessions.get(session).and_then(|s| s.conn) {
            self.close_conn(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pipeline::tests::*;
    use super::super::{Core, CoreConfig};
    use super::Role;
    use crate::proto::codes::{err, op, perm};
    use crate::proto::jute;
    use crate::proto::records::put_acl;
    use crate::tree::txn::Txn;
    use crate::types::ConnId;

    /// A ConnectRequest with the readOnly flag (`canBeReadOnly`).
    fn connect_read_only(session: i64, passwd: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let at = jute::begin_frame(&mut out);
        jute::put_int(&mut out, 0);
        jute::put_long(&mut out, 0);
        jute::put_int(&mut out, 6_000);
        jute::put_long(&mut out, session);
        jute::put_buffer(&mut out, Some(passwd));
        jute::put_bool(&mut out, true);
        jute::end_frame(&mut out, at);
        out
    }

    /// The raw bytes a connection was sent, and whether the core asked for
    /// it to be closed (the runtime then reports it closed).
    fn out(core: &mut Core, id: ConnId) -> (Vec<u8>, bool) {
        let (mut b, mut closed) = (Vec::new(), false);
        core.drain(|o| {
            if o.conn == id {
                b.append(o.bytes);
                closed |= o.close;
            }
        });
        if closed {
            core.conn_closed(id);
        }
        (b, closed)
    }

    fn raw(core: &mut Core, id: ConnId) -> Vec<u8> {
        out(core, id).0
    }

    #[test]
    fn read_only_mode_serves_reads_refuses_changes_and_keeps_its_sessions_local() {
        let mut core = Core::new(
            CoreConfig {
                read_only_mode: true,
                ..CoreConfig::default()
            },
            now(),
        );
        // A committed (global) session first.
        let global = ConnId::new(0, 9);
        session(&mut core, global);
        let gsid = core.sessions().ids().next().unwrap();
        let gpass = core.sessions().get(gsid).unwrap().passwd;
        core.set_role(Role::Follower, 1, now());
        core.conn_closed(global);
        core.set_role(Role::ReadOnly, 1, now());
        assert_eq!(core.sessions().len(), 1);
        let zxid = core.last_zxid();
        // A client that cannot live with read-only is refused.
        let plain = ConnId::new(0, 1);
        core.conn_open(plain, "127.0.0.1:40001".parse().unwrap(), now());
        core.conn_input(plain, &connect(), now());
        assert_eq!(
            out(&mut core, plain),
            (vec![], true),
            "a read-write client is refused"
        );
        // So is a global session: only a leader may renew it.
        let renew = ConnId::new(0, 5);
        core.conn_open(renew, "127.0.0.1:40005".parse().unwrap(), now());
        core.conn_input(renew, &connect_read_only(gsid, &gpass), now());
        assert_eq!(
            out(&mut core, renew),
            (vec![], true),
            "a global session is not renewed"
        );
        // A read-only one gets a local session at once: no txn.
        let ro = ConnId::new(0, 2);
        core.conn_open(ro, "127.0.0.1:40002".parse().unwrap(), now());
        core.conn_input(ro, &connect_read_only(0, &[0; 16]), now());
        assert!(
            proposals(&mut core).is_empty(),
            "no txn for a read-only session"
        );
        let resp = raw(&mut core, ro);
        assert_eq!(resp.len(), 4 + 37);
        assert_eq!(resp[4 + 36], 1, "the ConnectResponse says read-only");
        let sid = i64::from_be_bytes(resp[12..20].try_into().unwrap());
        let passwd = resp[24..40].to_vec();
        assert_ne!(sid, 0);
        assert_eq!(core.sessions().len(), 2);
        assert!(
            core.session_list().iter().all(|s| s.id != sid),
            "a local session never goes into a snapshot"
        );
        // Reads answer; every change and sync gets NotReadOnly, before its
        // body is even decoded.
        let mut f = Vec::new();
        path_op(&mut f, 1, op::EXISTS, "/zookeeper", &[0]);
        create(&mut f, 2, "/a", b"x", 0);
        set_data(&mut f, 3, "/zookeeper", b"y", -1);
        path_op(&mut f, 4, op::SYNC, "/", &[]);
        path_op(&mut f, 5, op::DELETE, "/zookeeper", &(-1i32).to_be_bytes());
        path_op(&mut f, 6, op::CHECK, "/zookeeper", &(-1i32).to_be_bytes());
        frame(&mut f, 7, op::MULTI, b"not a multi");
        frame(&mut f, 8, op::SET_ACL, b"");
        get_data(&mut f, 9, "/zookeeper");
        core.conn_input(ro, &f, now());
        assert!(proposals(&mut core).is_empty());
        let got: Vec<(i32, i64, i32)> = replies(&mut core, ro)
            .iter()
            .map(|r| (r.0, r.1, r.2))
            .collect();
        let refused = |x| (x, zxid, err::NOT_READ_ONLY);
        assert_eq!(
            got,
            vec![
                (1, zxid, err::OK),
                refused(2),
                refused(3),
                refused(4),
                refused(5),
                refused(6),
                refused(7),
                refused(8),
                (9, zxid, err::OK)
            ]
        );
        assert!(core.tree().get("/a").is_none());
        // The local session moves to another connection (still read-only).
        let again = ConnId::new(0, 3);
        core.conn_open(again, "127.0.0.1:40003".parse().unwrap(), now());
        core.conn_input(again, &connect_read_only(sid, &passwd), now());
        let mut closed = Vec::new();
        let mut resp = Vec::new();
        core.drain(|o| {
            if o.close {
                closed.push(o.conn);
            }
            if o.conn == again {
                resp.append(o.bytes);
            }
        });
        assert_eq!(i64::from_be_bytes(resp[12..20].try_into().unwrap()), sid);
        assert_eq!(resp[4 + 36], 1);
        assert_eq!(closed, vec![ro], "the old connection is dropped");
        core.conn_closed(ro);
        // Past its timeout the local session ends here; the global one
        // waits for a leader.
        let mut later = now();
        later.mono_ms += 60_000;
        core.tick(later);
        assert!(
            proposals(&mut core).is_empty(),
            "no close txn for a local session"
        );
        assert!(core.sessions().get(sid).is_none());
        assert!(out(&mut core, again).1, "its connection closes");
        assert!(core.sessions().get(gsid).is_some_and(|s| !s.closing));
        // A close ends a local session at once.
        let closer = ConnId::new(0, 6);
        core.conn_open(closer, "127.0.0.1:40006".parse().unwrap(), later);
        core.conn_input(closer, &connect_read_only(0, &[0; 16]), later);
        let resp = raw(&mut core, closer);
        let sid3 = i64::from_be_bytes(resp[12..20].try_into().unwrap());
        let mut f = Vec::new();
        frame(&mut f, 1, op::CLOSE_SESSION, b"");
        core.conn_input(closer, &f, later);
        let (bytes, closed) = out(&mut core, closer);
        assert!(
            closed && bytes.len() == 4 + 16,
            "closeSession answered OK, then closed"
        );
        assert!(core.sessions().get(sid3).is_none());
        // Another one ends when a leader is found: its connection closes and
        // the session is forgotten; the global one stays.
        let other = ConnId::new(0, 4);
        core.conn_open(other, "127.0.0.1:40004".parse().unwrap(), later);
        core.conn_input(other, &connect_read_only(0, &[0; 16]), later);
        let resp = raw(&mut core, other);
        let sid2 = i64::from_be_bytes(resp[12..20].try_into().unwrap());
        assert!(core.sessions().get(sid2).is_some());
        core.set_role(Role::Follower, 2, later);
        assert!(
            out(&mut core, other).1,
            "leaving read-only mode closes its connections"
        );
        assert!(core.sessions().get(sid2).is_none());
        assert_eq!(core.sessions().ids().collect::<Vec<_>>(), vec![gsid]);
    }

    /// A leader and a learner at epoch 1, wired by hand.
    fn pair() -> (Core, Core) {
        let mut l = Core::new(CoreConfig::default(), now());
        let mut f = Core::new(
            CoreConfig {
                server_id: 2,
                ..CoreConfig::default()
            },
            now(),
        );
        l.set_role(Role::Leader, 1, now());
        f.set_role(Role::Follower, 1, now());
        (l, f)
    }

    /// Carries the learner's forwards to the leader, commits everything
    /// there, and applies the committed txns at the learner, until nothing
    /// is left to forward; returns the committed txns.
    fn pump(l: &mut Core, f: &mut Core) -> Vec<Txn> {
        let mut all = Vec::new();
        loop {
            let mut fwd = Vec::new();
            f.take_forwards(|x| fwd.push(x));
            if fwd.is_empty() {
                return all;
            }
            for x in fwd {
                l.remote_request(x.session, x.cxid, x.opcode, &x.body, now());
            }
            let mut txns = Vec::new();
            l.take_proposals(|t| txns.push(t.clone()));
            if let Some(t) = txns.last() {
                l.commit_through(t.header.zxid, now());
            }
            for t in &txns {
                f.apply_committed(t.clone(), now());
            }
            all.extend(txns);
        }
    }

    fn learner_session(l: &mut Core, f: &mut Core, id: ConnId) {
        f.conn_open(id, "127.0.0.1:40000".parse().unwrap(), now());
        f.conn_input(id, &connect(), now());
        assert!(
            replies(f, id).is_empty(),
            "ConnectResponse before the leader committed"
        );
        let txns = pump(l, f);
        assert_eq!(txns.len(), 1);
        assert_eq!(txns[0].header.zxid >> 32, 1, "a zxid of epoch 1");
        let mut b = Vec::new();
        f.drain(|o| b.append(o.bytes));
        assert_eq!(b.len(), 4 + 37, "one ConnectResponse");
        assert_eq!(l.session_list(), f.session_list(), "sessions are global");
    }

    #[test]
    fn learner_forwards_writes_and_answers_in_order_at_commit() {
        let (mut l, mut f) = pair();
        let id = ConnId::new(0, 1);
        learner_session(&mut l, &mut f, id);
        assert_eq!(l.last_zxid(), (1 << 32) + 1, "first zxid of epoch 1");
        let mut x = Vec::new();
        create(&mut x, 1, "/a", b"v", 0);
        get_data(&mut x, 2, "/a");
        create(&mut x, 3, "/a", b"", 0); // fails on the leader: NodeExists
        get_data(&mut x, 4, "/nope");
        f.conn_input(id, &x, now());
        assert!(replies(&mut f, id).is_empty());
        let txns = pump(&mut l, &mut f);
        assert_eq!(txns.len(), 2, "the failed create is an error txn");
        let r = replies(&mut f, id);
        let got: Vec<(i32, i32)> = r.iter().map(|x| (x.0, x.2)).collect();
        assert_eq!(
            got,
            vec![(1, 0), (2, 0), (3, err::NODE_EXISTS), (4, err::NO_NODE)]
        );
        assert_eq!(&r[1].3[..5], &[0, 0, 0, 1, b'v']);
        assert_eq!(r[2].1, txns[1].header.zxid);
        for c in [&l, &f] {
            assert_eq!(c.tree.get("/a").unwrap().data(), Some(&b"v"[..]));
            assert_eq!(c.last_zxid(), txns[1].header.zxid);
        }
    }

    #[test]
    fn a_failed_multi_answers_like_a_standalone_server() {
        let multi = |x: &mut Vec<u8>| {
            let mut b = Vec::new();
            for (k, path) in ["/m", "/m"].iter().enumerate() {
                jute::put_int(&mut b, op::CREATE);
                jute::put_bool(&mut b, false);
                jute::put_int(&mut b, -1);
                jute::put_str(&mut b, path);
                jute::put_buffer(&mut b, Some(&[k as u8]));
                jute::put_int(&mut b, 1);
                put_acl(&mut b, perm::ALL, "world", "anyone");
                jute::put_int(&mut b, 0);
            }
            jute::put_int(&mut b, -1);
            jute::put_bool(&mut b, true);
            jute::put_int(&mut b, -1);
            frame(x, 7, op::MULTI, &b);
        };
        let (mut l, mut f) = pair();
        let id = ConnId::new(0, 1);
        learner_session(&mut l, &mut f, id);
        let mut x = Vec::new();
        multi(&mut x);
        f.conn_input(id, &x, now());
        pump(&mut l, &mut f);
        let ens = replies(&mut f, id);
        let mut alone = Core::new(CoreConfig::default(), now());
        session(&mut alone, id);
        alone.conn_input(id, &x, now());
        alone.commit_all(now());
        let std = replies(&mut alone, id);
        assert_eq!(ens.len(), 1);
        assert_eq!(
            (ens[0].0, ens[0].2, &ens[0].3),
            (std[0].0, std[0].2, &std[0].3)
        );
        assert!(f.tree.get("/m").is_none() && l.tree.get("/m").is_none());
    }

    #[test]
    fn the_leader_checks_acls_with_the_learners_client_identity() {
        let (mut l, mut f) = pair();
        let id = ConnId::new(0, 1);
        learner_session(&mut l, &mut f, id);
        let auth_create = |x: &mut Vec<u8>, xid| {
            let mut b = Vec::new();
            jute::put_str(&mut b, "/secret");
            jute::put_buffer(&mut b, Some(b"s"));
            jute::put_int(&mut b, 1);
            put_acl(&mut b, perm::ALL, "auth", "");
            jute::put_int(&mut b, 0);
            frame(x, xid, op::CREATE, &b);
        };
        let mut x = Vec::new();
        auth_create(&mut x, 1); // no authenticated id yet: InvalidACL
        let mut a = Vec::new();
        jute::put_int(&mut a, 0);
        jute::put_str(&mut a, "digest");
        jute::put_buffer(&mut a, Some(b"bob:pw"));
        frame(&mut x, -4, op::AUTH, &a);
        auth_create(&mut x, 2);
        f.conn_input(id, &x, now());
        pump(&mut l, &mut f);
        let got: Vec<(i32, i32)> = replies(&mut f, id).iter().map(|x| (x.0, x.2)).collect();
        assert_eq!(got, vec![(1, err::INVALID_ACL), (-4, 0), (2, 0)]);
        let acl = l.tree.get("/secret").unwrap().acl();
        assert_eq!(acl[0].id.scheme, "digest");
        assert!(acl[0].id.id.starts_with("bob:"));
    }

    #[test]
    fn sync_close_and_leader_expiry_reach_the_learners_client() {
        let (mut l, mut f) = pair();
        let (a, b) = (ConnId::new(0, 1), ConnId::new(0, 2));
        learner_session(&mut l, &mut f, a);
        learner_session(&mut l, &mut f, b);
        // An ephemeral of a's, then a sync: answered after it applies.
        let mut x = Vec::new();
        create(&mut x, 1, "/eph", b"", 1);
        path_op(&mut x, 2, op::SYNC, "/", &[]);
        f.conn_input(a, &x, now());
        pump(&mut l, &mut f);
        let got: Vec<(i32, i32)> = replies(&mut f, a).iter().map(|x| (x.0, x.2)).collect();
        assert_eq!(got, vec![(1, 0), (2, 0)]);
        // b closes its session on the learner: answered, then closed.
        let mut y = Vec::new();
        frame(&mut y, 5, op::CLOSE_SESSION, &[]);
        f.conn_input(b, &y, now());
        pump(&mut l, &mut f);
        let mut closed = None;
        f.drain(|o| {
            if o.conn == b {
                closed = Some(o.close);
            }
        });
        assert_eq!(closed, Some(true));
        assert_eq!((l.sessions.len(), f.sessions.len()), (1, 1));
        // The leader's ZAB replica finds a silent (no pings for long) and
        // asks the core to expire it: a CloseSession proposed like any
        // write, committed everywhere; the ephemeral goes and the learner
        // closes a's connection.
        let mut later = now();
        later.mono_ms += 120_000;
        l.tick(later); // in an ensemble the replica decides expiry
        f.tick(later); // and learners never do
        assert_eq!(l.in_flight(), 0);
        assert!(f.tree.get("/eph").is_some());
        let sid = f.session_list()[0].id;
        f.expire_session(sid, later); // only a leader expires
        assert_eq!(f.in_flight(), 0);
        l.expire_session(sid, later);
        l.expire_session(sid, later); // once: it is closing now
        let mut txns = Vec::new();
        l.take_proposals(|t| txns.push(t.clone()));
        assert_eq!(txns.len(), 1);
        let close = txns.pop().unwrap();
        assert_eq!(close.op, crate::tree::txn::TxnOp::CloseSession);
        assert_eq!(close.header.session, sid);
        l.commit_txn(&close, later);
        f.apply_committed(close, later);
        assert!(l.tree.get("/eph").is_none() && f.tree.get("/eph").is_none());
        assert!(l.sessions.is_empty() && f.sessions.is_empty());
        let mut closed = None;
        f.drain(|o| {
            if o.conn == a {
                closed = Some(o.close);
            }
        });
        assert_eq!(closed, Some(true));
    }

    #[test]
    fn a_role_change_closes_clients_and_drops_provisional_sessions() {
        let (mut l, mut f) = pair();
        let id = ConnId::new(0, 1);
        learner_session(&mut l, &mut f, id);
        let other = ConnId::new(0, 2);
        f.conn_open(other, "127.0.0.1:40001".parse().unwrap(), now());
        f.conn_input(other, &connect(), now()); // forwarded, never committed
        assert_eq!(f.sessions.len(), 2);
        f.set_role(Role::NotServing, 1, now());
        assert_eq!(f.sessions.len(), 1, "the uncommitted session is gone");
        let mut closed = 0;
        f.drain(|o| closed += o.close as usize);
        assert_eq!(closed, 2);
        // Not serving: a new connection is closed without an answer.
        let n = ConnId::new(0, 3);
        f.conn_open(n, "127.0.0.1:40002".parse().unwrap(), now());
        f.conn_input(n, &connect(), now());
        let mut out = (0, false);
        f.drain(|o| out = (o.bytes.len(), o.close));
        assert_eq!(out, (0, true));
    }
}
