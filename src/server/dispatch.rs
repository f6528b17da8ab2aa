//! Request dispatch: decode, check, apply, reply. Reads are answered from
//! the tree; writes go through prep (ZooKeeper's check order) and commit.

use super::{reply, sasl, Conn, Core, Held, Reply, Role};
use crate::proto::codes::{err, event, op, perm, xid, OpCode};
use crate::proto::records::{decode_request, DecodeError, Request};
use crate::session::prep::{prep_multi, prep_op, Pending, PrepConfig};
use crate::tree::acl::{self, Id};
use crate::tree::txn::TxnOp;
use crate::tree::watch::{WatchKind, WatchManager, WatcherType};
use crate::tree::NodeRef;
use crate::types::{ConnId, Now, Zxid};

impl Core {
    pub(super) fn request(&mut self, id: ConnId, frame: &[u8], now: Now) {
        let Ok((_, (xid, opcode))) = crate::proto::records::request_header(frame) else {
            self.close_conn(id);
            return;
        };
        let zxid = self.last_zxid();
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.stats.received += 1;
        c.stats.sent += 1;
        let kind = OpCode::from_code(opcode);
        match kind {
            Some(k) => {
                if let Some(tag) = k.last_op_tag() {
                    c.stats.last_op = tag;
                }
            }
            None => c.stats.last_op = "NA",
        }
        c.stats.last_cxid = xid;
        c.stats.last_zxid = zxid;
        c.stats.last_response_mono_ms = now.mono_ms;
        if let Some(i) = kind.and_then(OpCode::metric) {
            self.batch_ops[i] += 1;
        }
        let c = self.conns.get_mut(&id).expect("open");
        if c.held.is_empty() {
            return self.execute(id, frame, now, false);
        }
        // Writes in flight: a write is prepped now (it streams behind them)
        // but any answer it gets at once must wait its turn; anything else
        // (pings too) runs once the earlier writes are applied. The session
        // is alive now, whenever the request runs.
        if !kind.is_some_and(OpCode::runs_at_arrival) {
            c.held.push_back(Held::Frame(frame.into()));
            if let Some(sid) = c.session {
                self.sessions.touch(sid, now.mono_ms);
            }
            return;
        }
        let saved = std::mem::take(&mut c.out);
        let closing = c.close;
        self.execute(id, frame, now, false);
        if let Some(c) = self.conns.get_mut(&id) {
            let early = std::mem::replace(&mut c.out, saved);
            if !early.is_empty() {
                c.held.push_back(Held::Bytes(early));
            }
            if c.close && !closing {
                // The close waits for the answers owed before it.
                c.close = false;
                c.held.push_back(Held::Close);
            }
        }
    }

    /// Runs one request (at arrival, or when it stops waiting behind its
    /// connection's writes).
    /// `queued`: it waited behind writes and arrived while the session was
    /// live (a close sent after it does not stop it).
    pub(super) fn execute(&mut self, id: ConnId, frame: &[u8], now: Now, queued: bool) {
        let Ok((body, (xid, opcode))) = crate::proto::records::request_header(frame) else {
            self.close_conn(id);
            return;
        };
        let zxid = self.last_zxid();
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        let Some(sid) = c.session else {
            return;
        };
        self.note_touch(sid);
        let live = if queued {
            self.sessions.get(sid).is_some()
        } else {
            self.sessions.touch(sid, now.mono_ms)
        };
        if !live {
            // The session expired or is closing under this connection.
            self.reply_err(id, xid, zxid, err::SESSION_EXPIRED);
            self.close_conn(id);
            return;
        }
        if !self.cfg.enforce_auth_schemes.is_empty() && opcode != op::AUTH && opcode != op::SASL {
            // ZooKeeper 3.8's AuthenticationHelper: anything else from a
            // connection without an id of the required schemes closes it.
            let schemes = &self.cfg.enforce_auth_schemes;
            let authed = self
                .conns
                .get(&id)
                .is_some_and(|c| c.caller.ids.iter().any(|i| schemes.contains(&i.scheme)));
            if !authed {
                self.reply_err(id, xid, 0, err::SESSION_CLOSED_REQUIRE_SASL_AUTH);
                self.close_conn(id);
                return;
            }
        }
        if self.role == Role::ReadOnly && self.read_only_answer(id, sid, xid, opcode) {
            return;
        }
        match opcode {
            op::PING => return self.reply_err(id, xid::PING, zxid, err::OK),
            op::CREATE_SESSION => return self.reply_err(id, xid, zxid, err::MARSHALLING_ERROR),
            op::DELETE_CONTAINER => return self.reply_err(id, xid, zxid, err::BAD_ARGUMENTS),
            op::NOTIFICATION => {
                self.reply_err(id, xid, -1, err::UNIMPLEMENTED);
                return self.close_conn(id);
            }
            _ => {}
        }
        let req = match decode_request(opcode, body) {
            Ok(r) => r,
            Err(DecodeError::UnknownOp) => {
                self.reply_err(id, xid, -1, err::UNIMPLEMENTED);
                return self.close_conn(id);
            }
            Err(DecodeError::Malformed) => {
                return self.reply_err(id, xid, zxid, err::MARSHALLING_ERROR)
            }
        };
        match req {
            Request::Auth { scheme, auth } => self.auth(id, xid, &scheme, auth),
            Request::CloseSession => {
                if let Some(s) = self.sessions.get_mut(sid) {
                    s.closing = true;
                }
                if self.role.is_learner() {
                    self.forward_write(id, sid, xid, opcode, &req, body);
                } else {
                    self.close_session(sid, xid, now, Reply::Close { conn: id, xid });
                }
            }
            Request::Create(_)
            | Request::Delete { .. }
            | Request::SetData { .. }
            | Request::SetAcl { .. } => {
                self.batch.1 += 1;
                if self.role.is_learner() {
                    self.forward_write(id, sid, xid, opcode, &req, body);
                } else {
                    self.write(id, sid, xid, opcode, &req, now)
                }
            }
            Request::Check { .. } => {
                self.batch.1 += 1;
                if self.role.is_learner() {
                    self.forward_write(id, sid, xid, opcode, &req, body);
                } else {
                    self.write(id, sid, xid, opcode, &req, now)
                }
            }
            // In an ensemble a sync is a txn (see `TxnOp::Sync`); standalone
            // it is answered in order, like a read.
            Request::Sync { path } if self.role.is_learner() => {
                self.batch.0 += 1;
                self.forward_sync(id, sid, xid, &path, body)
            }
            Request::Sync { path } if self.role == Role::Leader => {
                self.batch.0 += 1;
                let reply = Reply::Sync {
                    conn: id,
                    xid,
                    path: path.as_ref().into(),
                };
                self.propose(sid, xid, TxnOp::Sync, now, reply);
            }
            Request::Multi(ops) => {
                if opcode == op::MULTI_READ {
                    self.batch.0 += 1;
                    self.multi_read(id, xid, &ops)
                } else if self.role.is_learner() {
                    self.batch.1 += 1;
                    self.forward_write(id, sid, xid, opcode, &Request::Multi(ops), body)
                } else {
                    self.batch.1 += 1;
                    self.multi(id, sid, xid, &ops, now)
                }
            }
            Request::Sasl { token } => self.sasl(id, xid, zxid, token),
            Request::Reconfig => self.reply_err(id, xid, zxid, err::RECONFIG_DISABLED),
            other => {
                self.batch.0 += 1;
                self.read(id, xid, opcode, other)
            }
        }
    }

    /// Auth packets are answered in order, echoing the request's xid (-4 from
    /// most clients; some send ordinary xids and match replies by xid).
    fn auth(&mut self, id: ConnId, xid: i32, scheme: &str, auth: &[u8]) {
        let super_digest = self.cfg.super_digest.clone();
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let new_id = match scheme {
            "digest" => Some(acl::digest_id(auth)),
            "ip" => Some(c.addr.ip().to_string()),
            _ => None,
        };
        match new_id {
            Some(v) => {
                let is_super = scheme == "digest" && super_digest.as_deref() == Some(v.as_str());
                let ident = Id::new(scheme, &v);
                if !c.caller.ids.contains(&ident) {
                    c.caller.ids.push(ident);
                }
                if is_super && !c.caller.is_super() {
                    c.caller.ids.push(Id::new("super", ""));
                }
                self.reply_err(id, xid, 0, err::OK);
            }
            None => {
                self.stats.auth_failed += 1;
                self.reply_err(id, xid, 0, err::AUTH_FAILED);
                self.close_conn(id);
            }
        }
    }

    /// One step of a SASL DIGEST-MD5 exchange (protocol doc 7.14): an
    /// empty token starts it (the challenge goes back), the next carries
    /// the client's response; success adds `sasl:<user>` (and `super:` for
    /// `zookeeper.superUser`) and answers `rspauth`. Failure, or SASL
    /// without a JAAS `Server` section: AuthFailed with a null token, then
    /// the connection closes.
    fn sasl(&mut self, id: ConnId, xid: i32, zxid: Zxid, token: &[u8]) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let reply: Result<Vec<u8>, &'static str> = if self.cfg.sasl_users.is_empty() {
            Err("no SASL users are configured (JAAS Server section)")
        } else {
            match c.sasl.take() {
                None if token.is_empty() => {
                    let mut n = [0u8; 24];
                    rand_chacha::rand_core::RngCore::fill_bytes(&mut self.rng, &mut n);
                    let nonce =
                        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, n);
                    let (state, challenge) = sasl::DigestMd5::start(nonce);
                    c.sasl = Some(Box::new(state));
                    Ok(challenge)
                }
                None => Err("DIGEST-MD5 starts with an empty token"),
                Some(state) => {
                    let users = &self.cfg.sasl_users;
                    match state.respond(token, |u| users.get(u).cloned()) {
                        sasl::Outcome::Done { token, authz } => {
                            let ident = Id::new("sasl", &authz);
                            if !c.caller.ids.contains(&ident) {
                                c.caller.ids.push(ident);
                            }
                            if self.cfg.sasl_super_user.as_deref() == Some(authz.as_str())
                                && !c.caller.is_super()
                            {
                                c.caller.ids.push(Id::new("super", &authz));
                            }
                            Ok(token)
                        }
                        sasl::Outcome::Failed(why) => Err(why),
                    }
                }
            }
        };
        reply::sasl(&mut c.out, xid, zxid, reply.as_ref().ok().map(|t| &t[..]));
        self.stats.packets_sent += 1;
        self.mark(id);
        if let Err(why) = reply {
            tracing::info!("SASL authentication failed on {id:?}: {why}");
            self.stats.auth_failed += 1;
            self.close_conn(id);
        }
    }

    fn prep_cfg(&self) -> PrepConfig {
        PrepConfig {
            ttl_enabled: self.cfg.ttl_enabled,
        }
    }

    /// A write on a leader or a standalone server: prepped against the
    /// tree and the txns in flight, and proposed. A write that fails prep
    /// is proposed too, as an error txn (ZooKeeper's): its answer goes out
    /// when it applies, so only after every txn it saw has committed, and
    /// never if those are discarded (the connection is closed then).
    fn write(&mut self, id: ConnId, sid: i64, xid: i32, opcode: i32, req: &Request<'_>, now: Now) {
        let cfg = self.prep_cfg();
        let caller = &self.conns[&id].caller;
        let mut pending = Pending::new(&self.tree, &self.outstanding);
        let txn = prep_op(opcode, req, sid, caller, cfg, &mut pending);
        let changes = pending.into_changes();
        let txn = match txn {
            Ok(t) => {
                let zxid = self.next_zxid();
                self.outstanding.merge(changes, zxid);
                t
            }
            Err(code) if self.cfg.faults.errors_at_once => {
                return self.reply_err(id, xid, self.last_zxid(), code);
            }
            Err(code) => TxnOp::Error { code },
        };
        self.propose(
            sid,
            xid,
            txn,
            now,
            Reply::Write {
                conn: id,
                xid,
                opcode,
            },
        );
    }

    fn multi(&mut self, id: ConnId, sid: i64, xid: i32, ops: &[(i32, Request<'_>)], now: Now) {
        if ops
            .iter()
            .any(|(o, _)| matches!(*o, op::GET_DATA | op::GET_CHILDREN))
        {
            return self.reply_err(id, xid, self.last_zxid(), err::MARSHALLING_ERROR);
        }
        let cfg = self.prep_cfg();
        let caller = &self.conns[&id].caller;
        match prep_multi(ops, sid, caller, cfg, &self.tree, &self.outstanding) {
            Err((k, code)) => {
                // An error txn per op, answered when it applies (see write).
                let errors = super::ensemble::multi_errors(ops.len(), k, code);
                let opcodes = ops.iter().map(|(o, _)| *o).collect();
                let reply = Reply::Multi {
                    conn: id,
                    xid,
                    opcodes,
                };
                self.propose(sid, xid, TxnOp::Multi(errors), now, reply);
            }
            Ok((txns, changes)) => {
                let zxid = self.next_zxid();
                self.outstanding.merge(changes, zxid);
                let opcodes = ops.iter().map(|(o, _)| *o).collect();
                let reply = Reply::Multi {
                    conn: id,
                    xid,
                    opcodes,
                };
                self.propose(sid, xid, TxnOp::Multi(txns), now, reply);
            }
        }
    }

    fn multi_read(&mut self, id: ConnId, xid: i32, ops: &[(i32, Request<'_>)]) {
        if ops
            .iter()
            .any(|(o, _)| !matches!(*o, op::GET_DATA | op::GET_CHILDREN))
        {
            return self.reply_err(id, xid, self.last_zxid(), err::MARSHALLING_ERROR);
        }
        let zxid = self.last_zxid();
        let Core { conns, tree, .. } = self;
        let c = conns.get_mut(&id).expect("open");
        let m = reply::Multi::begin(&mut c.out, xid, zxid);
        for (opcode, r) in ops {
            let path: &str = match r {
                Request::GetData { path, .. } | Request::GetChildren { path, .. } => path,
                _ => "",
            };
            let n = match tree.get(path) {
                None => Err(err::NO_NODE),
                Some(n) if !acl::allowed(n.acl(), perm::READ, &c.caller) => Err(err::NO_AUTH),
                Some(n) => Ok(n),
            };
            let n = match n {
                Ok(n) => n,
                Err(code) => {
                    m.error(&mut c.out, code);
                    continue;
                }
            };
            m.read(&mut c.out, *opcode, n);
        }
        m.end(&mut c.out);
        self.stats.packets_sent += 1;
        self.mark(id);
    }

    fn read(&mut self, id: ConnId, xid: i32, opcode: i32, req: Request<'_>) {
        let zxid = self.last_zxid();
        let Core {
            conns,
            tree,
            watches,
            stats,
            ..
        } = self;
        let c: &mut Conn = conns.get_mut(&id).expect("open");
        let out = &mut c.out;
        let caller = &c.caller;
        let code: i32 = (|| -> Result<(), i32> {
            match &req {
                Request::Exists { path, watch } => {
                    if path.contains('\0') {
                        return Err(err::BAD_ARGUMENTS);
                    }
                    if *watch {
                        if !watches.admits(id, path, WatchKind::Data) {
                            return Err(err::QUOTA_EXCEEDED);
                        }
                        watches.add_data(id, path);
                    }
                    let n = tree.get(path).ok_or(err::NO_NODE)?;
                    reply::stat(out, xid, zxid, &n.stat());
                }
                Request::GetData { path, watch } => {
                    let n = tree.get(path).ok_or(err::NO_NODE)?;
                    if !acl::allowed(n.acl(), perm::READ, caller) {
                        return Err(err::NO_AUTH);
                    }
                    if *watch {
                        if !watches.admits(id, path, WatchKind::Data) {
                            return Err(err::QUOTA_EXCEEDED);
                        }
                        watches.add_data(id, path);
                    }
                    reply::data(out, xid, zxid, n);
                }
                Request::GetChildren { path, watch } => {
                    let n = tree.get(path).ok_or(err::NO_NODE)?;
                    if !acl::allowed(n.acl(), perm::READ, caller) {
                        return Err(err::NO_AUTH);
                    }
                    if *watch {
                        if !watches.admits(id, path, WatchKind::Child) {
                            return Err(err::QUOTA_EXCEEDED);
                        }
                        watches.add_child(id, path);
                    }
                    reply::children(out, xid, zxid, n, opcode == op::GET_CHILDREN2);
                }
                Request::GetAcl { path } => {
                    let n = tree.get(path).ok_or(err::NO_NODE)?;
                    let admin = acl::allowed(n.acl(), perm::ADMIN, caller);
                    if !admin && !acl::allowed(n.acl(), perm::READ, caller) {
                        return Err(err::NO_AUTH);
                    }
                    reply::acl(out, xid, zxid, n, admin);
                }
                Request::Sync { path } => reply::path(out, xid, zxid, path),
                Request::GetAllChildrenNumber { path } => {
                    let n = tree.get(path).ok_or(err::NO_NODE)?;
                    if !acl::allowed(n.acl(), perm::READ, caller) {
                        return Err(err::NO_AUTH);
                    }
                    let count = tree.descendants(path).unwrap_or(0);
                    reply::int(out, xid, zxid, count as i32);
                }
                Request::GetEphemerals { prefix } => {
                    let sid = c.session.unwrap_or(0);
                    let all = prefix.trim().is_empty() || prefix == "/";
                    let mut list: Vec<&str> = tree
                        .ephemerals_of(sid)
                        .filter(|p| all || p.starts_with(&**prefix))
                        .collect();
                    list.sort_unstable();
                    reply::strings(out, xid, zxid, list.into_iter());
                }
                Request::WhoAmI => reply::who_am_i(out, xid, zxid, &caller.ids),
                Request::AddWatch { path, mode } => {
                    // ZooKeeper 3.8.4+: READ on the node when it exists.
                    if let Some(n) = tree.get(path) {
                        if !acl::allowed(n.acl(), perm::READ, caller) {
                            return Err(err::NO_AUTH);
                        }
                    }
                    let kind = match mode {
                        0 => WatchKind::Persistent,
                        1 => WatchKind::Recursive,
                        _ => return Err(err::BAD_ARGUMENTS),
                    };
                    if !watches.admits(id, path, kind) {
                        return Err(err::QUOTA_EXCEEDED);
                    }
                    watches.add_persistent(id, path, kind == WatchKind::Recursive);
                    reply::int(out, xid, zxid, 0);
                }
                Request::CheckWatches { path, kind } | Request::RemoveWatches { path, kind } => {
                    let t = WatcherType::from_wire(*kind).ok_or(err::BAD_ARGUMENTS)?;
                    let found = if opcode == op::CHECK_WATCHES {
                        watches.contains(id, path, t)
                    } else {
                        watches.remove(id, path, t)
                    };
                    if !found {
                        return Err(err::NO_WATCHER);
                    }
                    reply::header(out, xid, zxid, err::OK);
                }
                Request::SetWatches(sw) => {
                    let rel = sw.relative_zxid;
                    let mut ev = |out: &mut Vec<u8>, kind, p: &str| {
                        reply::event(out, kind, p, -1);
                        stats.packets_sent += 1;
                    };
                    // A catch-up event about a node that exists goes only to
                    // a session that may READ it (as a fired watch would);
                    // one that does not is used up silently.
                    let readable = |n: &NodeRef<'_>| acl::allowed(n.acl(), perm::READ, caller);
                    // Watches past the connection's limits are not set and
                    // the request answers QuotaExceeded (after the rest).
                    let mut refused = false;
                    let mut add = |watches: &mut WatchManager, p: &str, kind| {
                        if watches.admits(id, p, kind) {
                            match kind {
                                WatchKind::Data => watches.add_data(id, p),
                                WatchKind::Child => watches.add_child(id, p),
                                WatchKind::Persistent => watches.add_persistent(id, p, false),
                                WatchKind::Recursive => watches.add_persistent(id, p, true),
                            }
                        } else {
                            refused = true;
                        }
                    };
                    for p in &sw.data {
                        match tree.get(p) {
                            None => ev(out, event::NODE_DELETED, p),
                            Some(n) if n.mzxid() > rel => {
                                if readable(&n) {
                                    ev(out, event::NODE_DATA_CHANGED, p)
                                }
                            }
                            Some(_) => add(watches, p, WatchKind::Data),
                        }
                    }
                    for p in &sw.exist {
                        match tree.get(p) {
                            Some(n) => {
                                if readable(&n) {
                                    ev(out, event::NODE_CREATED, p)
                                }
                            }
                            None => add(watches, p, WatchKind::Data),
                        }
                    }
                    for p in &sw.child {
                        match tree.get(p) {
                            None => ev(out, event::NODE_DELETED, p),
                            Some(n) if n.pzxid() > rel => {
                                if readable(&n) {
                                    ev(out, event::NODE_CHILDREN_CHANGED, p)
                                }
                            }
                            Some(_) => add(watches, p, WatchKind::Child),
                        }
                    }
                    for p in &sw.persistent {
                        add(watches, p, WatchKind::Persistent);
                    }
                    for p in &sw.persistent_recursive {
                        add(watches, p, WatchKind::Recursive);
                    }
                    if refused {
                        return Err(err::QUOTA_EXCEEDED);
                    }
                    reply::header(out, xid, zxid, err::OK);
                }
                _ => return Err(err::MARSHALLING_ERROR),
            }
            Ok(())
        })()
        .err()
        .unwrap_or(err::OK);
        if code != err::OK {
            reply::header(out, xid, zxid, code);
        }
        stats.packets_sent += 1;
        self.mark(id);
    }
}
