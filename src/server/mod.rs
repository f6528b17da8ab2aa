//! The standalone request pipeline, sans-IO: connections, the handshake,
//! request dispatch, replies and notifications. The runtime feeds it whole
//! frames and the time; it appends reply and notification frames to each
//! connection's output buffer, so every connection's output is one FIFO
//! (which is what keeps ordering rules 1-4 of ARCHITECTURE.md).
//!
//! Runs on the core shard only; owns the DataTree, the session table and
//! the watch tables.

mod admin;
mod conns;
pub use admin::{AdminExtras, Gather, QuorumFigures};
mod dispatch;
mod ensemble;
pub mod metrics;
mod pipeline;
mod reply;
pub mod sasl;

pub use crate::types::Role;
pub use ensemble::{decode_caller, encode_caller, Forward};
use pipeline::{Held, Pipeline, Reply};

use crate::proto::records;
use crate::session::prep::Outstanding;
use crate::session::SessionTable;
use crate::tree::acl::{Caller, Id};
use crate::tree::txn::TxnOp;
use crate::tree::watch::{WatchLimits, WatchManager};
use crate::tree::{DataTree, OpResult};
use crate::types::{ConnId, Now, SessionId, Zxid};
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Settings of the core (from the config file).
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub server_id: u8,
    pub tick_ms: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    pub ttl_enabled: bool,
    /// `super:<base64>` digest id that gets the super identity.
    pub super_digest: Option<String>,
    /// How often containers and TTL nodes are reaped.
    pub container_check_ms: u64,
    /// Connections allowed from one IP address (0 = no limit).
    pub max_client_cnxns: u32,
    /// Connections allowed in all (0 = no limit).
    pub max_cnxns: u32,
    /// An observer in an ensemble (4lw shows `Mode: observer`).
    pub observer: bool,
    /// What one connection may watch.
    pub watch_limits: WatchLimits,
    /// The x509 subject that gets the super identity
    /// (`zookeeper.X509AuthenticationProvider.superUser`).
    pub x509_super_user: Option<String>,
    /// SASL DIGEST-MD5 users (user -> password) from the JAAS `Server`
    /// section; empty: SASL is refused.
    pub sasl_users: std::collections::BTreeMap<String, String>,
    /// The SASL user that gets the super identity (`zookeeper.superUser`).
    pub sasl_super_user: Option<String>,
    /// `enforce.auth.enabled` with `enforce.auth.schemes`: every request
    /// but auth and sasl needs an id of one of these schemes (empty: off).
    pub enforce_auth_schemes: Vec<String>,
    /// `readonlymode.enabled`: a member that has been looking for a leader
    /// a while serves read-only clients (see [`Role::ReadOnly`]).
    pub read_only_mode: bool,
    /// How long a member looks for a leader before it goes read-only;
    /// None: ZooKeeper's max(2 s, tickTime). The simulator, whose runs are
    /// a few seconds long, shortens it.
    pub read_only_grace_ms: Option<u64>,
    /// Test-only rule breakers (all off).
    pub faults: CoreFaults,
    /// Seeds the core's CSPRNG (session ids and passwords): the runtime
    /// draws it from the OS, the simulator from its seed.
    pub seed: Seed,
}

/// 32 bytes of seed, never printed.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(..)")
    }
}

/// Test-only fault injection: each knob breaks one rule on purpose so that
/// tests can show the simulator's checker catches it. Never set outside
/// tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreFaults {
    /// A write that fails prep is answered at once (against the txns in
    /// flight it saw) instead of as an error txn once they commit.
    pub errors_at_once: bool,
    /// A fired data watch sends no NodeDataChanged event.
    pub drop_data_events: bool,
    /// An ephemeral create is applied as a persistent node.
    pub ephemerals_as_persistent: bool,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            server_id: 1,
            tick_ms: 2000,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            ttl_enabled: true,
            super_digest: None,
            container_check_ms: 60_000,
            max_client_cnxns: 60,
            max_cnxns: 0,
            observer: false,
            watch_limits: WatchLimits::default(),
            x509_super_user: None,
            sasl_users: Default::default(),
            sasl_super_user: None,
            enforce_auth_schemes: Vec::new(),
            read_only_mode: false,
            read_only_grace_ms: None,
            faults: CoreFaults::default(),
            seed: Seed::default(),
        }
    }
}

/// Per-connection counters (stat / cons).
#[derive(Clone, Debug, Default)]
pub struct ConnStats {
    pub received: u64,
    pub sent: u64,
    pub last_op: &'static str,
    pub last_cxid: i32,
    pub last_zxid: i64,
    pub last_response_mono_ms: u64,
    pub established_wall_ms: i64,
}

pub(crate) struct Conn {
    pub addr: SocketAddr,
    pub session: Option<SessionId>,
    pub old_client: bool,
    pub caller: Caller,
    pub out: Vec<u8>,
    pub close: bool,
    dirty: bool,
    pub stats: ConnStats,
    /// What this connection is owed behind its writes in flight (pipeline).
    held: VecDeque<Held>,
    /// The rest of a four-letter reply being streamed.
    fourlw: Option<Box<admin::FourLwStream>>,
    /// A SASL exchange waiting for the client's response.
    sasl: Option<Box<sasl::DigestMd5>>,
}

/// Server-wide counters (srvr / mntr).
#[derive(Clone, Debug, Default)]
pub struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub auth_failed: u64,
    pub started_mono_ms: u64,
    /// Connections refused by the per-IP limit.
    pub connections_rejected: u64,
    /// The most txns that were in flight (proposed, not yet applied) at once.
    pub max_in_flight: u64,
}

pub struct Core {
    cfg: CoreConfig,
    tree: DataTree,
    sessions: SessionTable,
    watches: WatchManager,
    conns: conns::Conns,
    stats: ServerStats,
    latency: metrics::Latency,
    /// Reads and writes handled since the runtime last asked (for latency).
    batch: (u64, u64),
    /// Requests per kind ([`metrics::OPS`]) since the runtime last asked.
    batch_ops: [u32; metrics::OPS.len()],
    next_reap_ms: u64,
    scratch_conns: Vec<ConnId>,
    scratch_results: Vec<OpResult>,
    pipeline: Pipeline,
    /// Prep's view of the txns in `pipeline` (ZooKeeper's outstandingChanges).
    outstanding: Outstanding,
    role: Role,
    ensemble: ensemble::EnsembleState,
    /// Session ids and passwords.
    rng: rand_chacha::ChaCha20Rng,
    /// Sessions created in read-only mode: this server's alone, never
    /// replicated (never in a snapshot), gone when it leaves read-only mode.
    local_sessions: crate::types::FxHashSet<SessionId>,
}

/// What the runtime should do with a connection after [`Core::drain`].
pub struct Output<'a> {
    pub conn: ConnId,
    pub bytes: &'a mut Vec<u8>,
    pub close: bool,
}

impl Core {
    /// The data tree as applied so far (snapshots, checks).
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// Starts a fuzzy snapshot walk of the tree (see [`DataTree::walk_begin`]).
    pub fn snapshot_walk_begin(&mut self) -> crate::tree::restore::Walk {
        self.tree.walk_begin()
    }

    /// One bounded step of a fuzzy snapshot walk of the tree (see
    /// [`DataTree::walk_step`]).
    pub fn snapshot_walk_step(
        &mut self,
        walk: &crate::tree::restore::Walk,
        max: usize,
        f: impl FnMut(&str, crate::tree::NodeRef<'_>),
    ) -> Result<bool, crate::tree::restore::WalkLost> {
        self.tree.walk_step(walk, max, f)
    }

    /// The core's settings.
    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    /// The live sessions.
    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    /// When the core started, on the monotonic clock.
    pub fn started_mono_ms(&self) -> u64 {
        self.stats.started_mono_ms
    }

    pub fn new(cfg: CoreConfig, now: Now) -> Core {
        let sessions = SessionTable::new(cfg.tick_ms, cfg.server_id);
        let watches = WatchManager::with_limits(cfg.watch_limits);
        Core {
            rng: rand_chacha::rand_core::SeedableRng::from_seed(cfg.seed.0),
            local_sessions: Default::default(),
            next_reap_ms: now.mono_ms + cfg.container_check_ms,
            cfg,
            tree: DataTree::new(),
            sessions,
            watches,
            conns: conns::Conns::default(),
            stats: ServerStats {
                started_mono_ms: now.mono_ms,
                ..Default::default()
            },
            latency: metrics::Latency::default(),
            batch: (0, 0),
            batch_ops: [0; metrics::OPS.len()],
            scratch_conns: Vec::new(),
            scratch_results: Vec::new(),
            pipeline: Pipeline::default(),
            outstanding: Outstanding::default(),
            role: Role::Standalone,
            ensemble: ensemble::EnsembleState::default(),
        }
    }

    /// The zxid of the last applied txn.
    pub fn last_zxid(&self) -> Zxid {
        self.tree.last_zxid
    }

    /// A new TCP connection. Past `maxClientCnxns` from its address it is
    /// closed at once without a word, as ZooKeeper does.
    pub fn conn_open(&mut self, id: ConnId, addr: SocketAddr, now: Now) {
        let open = self.conns.len();
        let from_ip = self.conns.open(id, addr, now);
        let over = (self.cfg.max_client_cnxns != 0 && from_ip > self.cfg.max_client_cnxns)
            || (self.cfg.max_cnxns != 0 && open >= self.cfg.max_cnxns as usize);
        if over {
            self.stats.connections_rejected += 1;
            self.close_conn(id);
        }
    }

    /// The connection is gone (closed by either side). Its watches go; its
    /// session stays until it expires or is closed.
    /// The connection's TLS client certificate was verified: the session
    /// gets the `x509` id of its subject (and `super` if it is the
    /// configured super user), as ZooKeeper's X509AuthenticationProvider
    /// gives it.
    pub fn conn_x509(&mut self, id: ConnId, subject: &str) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.caller.ids.push(Id::new("x509", subject));
        if self.cfg.x509_super_user.as_deref() == Some(subject) {
            c.caller.ids.push(Id::new("super", subject));
        }
    }

    pub fn conn_closed(&mut self, id: ConnId) {
        if let Some(c) = self.conns.remove(id) {
            if let Some(s) = c.session {
                if let Some(sess) = self.sessions.get_mut(s) {
                    if sess.conn == Some(id) {
                        sess.conn = None;
                    }
                }
            }
        }
        self.watches.remove_conn(id);
    }

    pub fn is_open(&self, id: ConnId) -> bool {
        self.conns.contains_key(&id)
    }

    fn mark(&mut self, id: ConnId) {
        self.conns.mark(id);
    }

    fn close_conn(&mut self, id: ConnId) {
        self.conns.close(id);
    }

    /// Hands every connection with pending output (or a pending close) to
    /// `f`. The runtime writes the bytes and clears the buffer.
    pub fn drain(&mut self, f: impl FnMut(Output<'_>)) {
        self.conns.drain(f);
    }

    /// Input on a connection: one or more whole frames, each with its
    /// 4-byte length prefix (the runtime has checked lengths and framing).
    pub fn conn_input(&mut self, id: ConnId, mut frames: &[u8], now: Now) {
        while frames.len() >= 4 {
            let len = u32::from_be_bytes([frames[0], frames[1], frames[2], frames[3]]) as usize;
            if frames.len() < 4 + len {
                break;
            }
            let (frame, rest) = frames[4..].split_at(len);
            frames = rest;
            let Some(c) = self.conns.get(&id) else {
                return;
            };
            if c.close {
                return;
            }
            self.stats.packets_received += 1;
            if c.session.is_none() {
                self.handshake(id, frame, now);
            } else {
                self.request(id, frame, now);
            }
        }
    }

    /// Periodic work: session expiry and the container/TTL reaper. Both
    /// propose txns; they take effect at [`Core::commit_through`].
    pub fn tick(&mut self, now: Now) {
        if self.role == Role::ReadOnly {
            return self.expire_local_sessions(now);
        }
        if !matches!(self.role, Role::Standalone | Role::Leader) {
            // The leader expires sessions and reaps for everyone.
            return;
        }
        // In an ensemble the leader's ZAB replica tracks session activity
        // (its clients' and the learners') and proposes the expiries.
        let expired = if self.role == Role::Standalone {
            self.sessions.expired(now.mono_ms)
        } else {
            Vec::new()
        };
        for s in expired {
            let conn = self.sessions.get(s).and_then(|x| x.conn);
            self.close_session(s, 0, now, Reply::Expire { conn });
        }
        if now.mono_ms >= self.next_reap_ms {
            self.next_reap_ms = now.mono_ms + self.cfg.container_check_ms;
            for p in self.tree.reapable(now.wall_ms) {
                // A node with a change in flight is left for the next round.
                if self.outstanding.touches(&p) {
                    continue;
                }
                let zxid = self.next_zxid();
                self.outstanding.delete(&self.tree, &p, zxid);
                self.propose(0, 0, TxnOp::Delete { path: p }, now, Reply::Nobody);
            }
        }
    }

    /// Proposes the end of a session: its ephemerals (applied or in
    /// flight) go, and the session takes no more requests from now on.
    fn close_session(&mut self, sid: SessionId, cxid: i32, now: Now, reply: Reply) -> Zxid {
        self.begin_close(sid, self.next_zxid());
        self.propose(sid, cxid, TxnOp::CloseSession, now, reply)
    }

    /// What prep must see of a close proposed as txn `zxid`: the session's
    /// ephemerals (applied or in flight) deleted, and the session closing:
    /// no new requests; it leaves the table when the txn applies (requests
    /// it sent before the close still run).
    fn begin_close(&mut self, sid: SessionId, zxid: Zxid) {
        let mut paths: Vec<Box<str>> = self.tree.ephemerals_of(sid).map(Box::from).collect();
        paths.extend(self.outstanding.pending_ephemerals(sid));
        paths.sort_unstable();
        paths.dedup();
        for p in &paths {
            self.outstanding.delete(&self.tree, p, zxid);
        }
        if let Some(s) = self.sessions.get_mut(sid) {
            s.closing = true;
        }
    }

    fn handshake(&mut self, id: ConnId, frame: &[u8], now: Now) {
        let Some(req) = records::connect_request(frame) else {
            self.close_conn(id);
            return;
        };
        if req.last_zxid_seen > self.last_zxid() {
            self.close_conn(id);
            return;
        }
        let timeout = (req.timeout.max(0) as u32).clamp(
            self.cfg.min_session_timeout_ms,
            self.cfg.max_session_timeout_ms,
        );
        let old_client = req.read_only.is_none();
        if self.role == Role::NotServing
            || (self.role == Role::ReadOnly && req.read_only != Some(true))
        {
            // Read-only mode takes only clients that said they can live
            // with it, as ZooKeeper's ReadOnlyZooKeeperServer.
            self.close_conn(id);
            return;
        }
        if self.role == Role::ReadOnly
            && req.session_id != 0
            && !self.local_sessions.contains(&req.session_id)
        {
            // ZooKeeper 3.7+ (ZOOKEEPER-3864): a read-only server does not
            // renew a global session; only a leader may keep it alive (it
            // may have expired it, and its ephemerals with it, already).
            self.close_conn(id);
            return;
        }
        if req.session_id == 0 && self.role == Role::ReadOnly {
            // A local session: no txn, no other server knows it.
            let sid = self.sessions.next_session_id(&mut self.rng);
            let passwd = self.new_passwd();
            self.sessions.add(sid, timeout, passwd, now.mono_ms);
            if let Some(s) = self.sessions.get_mut(sid) {
                s.conn = Some(id);
            }
            self.local_sessions.insert(sid);
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            c.old_client = old_client;
            c.session = Some(sid);
            c.stats.last_op = "SESS";
            reply::connect(&mut c.out, Some((sid, timeout, passwd)), old_client, true);
            self.stats.packets_sent += 1;
            self.mark(id);
            return;
        }
        if req.session_id == 0 && self.role.is_learner() {
            let sid = self.sessions.next_session_id(&mut self.rng);
            self.forward_create_session(id, sid, timeout, old_client, now);
            return;
        }
        if req.session_id == 0 {
            // A new session is a txn: the ConnectResponse goes out once it
            // is durable; requests sent meanwhile wait behind it.
            let sid = self.sessions.next_session_id(&mut self.rng);
            let passwd = self.new_passwd();
            self.sessions.add(sid, timeout, passwd, now.mono_ms);
            if let Some(s) = self.sessions.get_mut(sid) {
                s.conn = Some(id);
            }
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            c.old_client = old_client;
            c.session = Some(sid);
            c.stats.last_op = "SESS";
            let op = TxnOp::CreateSession {
                timeout: timeout as i32,
                passwd: Some(passwd),
            };
            let reply = Reply::Connect {
                conn: id,
                timeout,
                old_client,
            };
            self.propose(sid, 0, op, now, reply);
            return;
        }
        let sid = req.session_id;
        let passwd = self.sessions.get(sid).map(|s| s.passwd);
        let ok = passwd.is_some_and(|pw| crate::session::passwd_matches(req.passwd, &pw))
            && self.sessions.touch(sid, now.mono_ms);
        if ok {
            // Move the session here: the old connection is dropped.
            if let Some(old) = self.sessions.get(sid).and_then(|s| s.conn) {
                if old != id {
                    self.close_conn(old);
                    if let Some(c) = self.conns.get_mut(&old) {
                        c.session = None;
                    }
                }
            }
            self.sessions.set_timeout(sid, timeout, now.mono_ms);
        }
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.old_client = old_client;
        reply::connect(
            &mut c.out,
            passwd.filter(|_| ok).map(|pw| (sid, timeout, pw)),
            old_client,
            self.role == Role::ReadOnly,
        );
        self.stats.packets_sent += 1;
        if ok {
            c.session = Some(sid);
            c.stats.last_op = "SESS";
            if let Some(s) = self.sessions.get_mut(sid) {
                s.conn = Some(id);
            }
            self.mark(id);
        } else {
            self.close_conn(id);
        }
    }

    /// A fresh session password.
    pub(crate) fn new_passwd(&mut self) -> [u8; 16] {
        let mut pw = [0u8; 16];
        rand_chacha::rand_core::RngCore::fill_bytes(&mut self.rng, &mut pw);
        pw
    }

    /// Writes a header-only reply.
    fn reply_err(&mut self, id: ConnId, xid: i32, zxid: Zxid, code: i32) {
        if let Some(c) = self.conns.get_mut(&id) {
            reply::header(&mut c.out, xid, zxid, code);
            self.stats.packets_sent += 1;
        }
        self.mark(id);
    }
}
