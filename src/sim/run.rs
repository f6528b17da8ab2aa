//! The simulator's event loop: nodes and their effects, the network, the
//! disks, crashes and restarts, fault injection, the clients' connections
//! (the end-of-run checks are `checks.rs`).

use super::*;

impl Sim {
    pub(super) fn handle(&mut self, ev: Event) {
        match ev {
            Event::Tick(i, inc) => {
                if self.servers[i].up && self.servers[i].inc == inc {
                    self.node_call(i, |n, now| n.tick(now));
                    self.at(self.now + TICK_MS, Event::Tick(i, inc));
                }
            }
            Event::Deliver {
                from,
                to,
                frame,
                gen,
            } => {
                if !self.servers[to].up {
                    return;
                }
                if let Some(g) = gen {
                    let c = self.conns.entry(key(from, to)).or_default();
                    if c.gen != g {
                        return;
                    }
                }
                match decode_frame(&frame) {
                    Ok(Some((msg, used))) if used == frame.len() => {
                        let id = self.servers[from].id;
                        if self.trace {
                            self.trace_line(to, &format!("from {id}: {}", show(&msg)));
                        }
                        self.node_call(to, |n, now| n.peer(id, msg, now));
                    }
                    other => self.fail(format!("frame did not decode: {other:?}")),
                }
            }
            Event::Disconnected { at, peer, inc } => {
                if self.servers[at].up && self.servers[at].inc == inc {
                    let id = self.servers[peer].id;
                    self.node_call(at, |n, now| n.peer_down(id, now));
                }
            }
            Event::Fsync(i, inc) => {
                if self.servers[i].up && self.servers[i].inc == inc {
                    self.fsync(i);
                }
            }
            Event::Restart(i) => {
                if !self.servers[i].up {
                    self.restart(i);
                }
            }
            Event::Client(c) => {
                self.client_step(c);
                let d = 4 + self.rng.below(12);
                self.at(self.now + d, Event::Client(c));
            }
            Event::ToServer {
                node,
                inc,
                conn,
                bytes,
                close,
            } => {
                let s = &self.servers[node];
                if !s.up || s.inc != inc || !s.conns.contains_key(&conn) {
                    return;
                }
                if !bytes.is_empty() {
                    self.node_call(node, |n, now| n.conn_input(conn, &bytes, now));
                }
                if close && self.servers[node].conns.remove(&conn).is_some() {
                    self.node_call(node, |n, now| n.conn_closed(conn, now));
                }
            }
            Event::ToClient {
                client,
                conn,
                bytes,
                close,
            } => {
                let c = &self.clients[client];
                if c.link.map(|l| l.conn) != Some(conn) {
                    return;
                }
                let now = self.now;
                let acts = self.clients[client].receive(&mut self.shared, now, &bytes, close);
                self.client_acts(client, acts);
            }
            Event::Fault => {
                if !self.healing {
                    self.inject_fault();
                    let g = self.cfg.probs.fault_gap_ms.max(1);
                    let d = g + self.rng.below(g);
                    self.at(self.now + d, Event::Fault);
                }
            }
            Event::HealPartition(id) => {
                if id == self.partition_id && !self.blocked.is_empty() {
                    self.blocked.clear();
                    self.cov.partitions_healed += 1;
                }
            }
        }
    }

    // ------------------------------------------------------------- nodes

    /// Calls into node `i`, then performs what it produced.
    fn node_call(&mut self, i: usize, f: impl FnOnce(&mut Node, Now)) {
        let now = self.time();
        let Some(n) = self.servers[i].node.as_mut() else {
            return;
        };
        f(n, now);
        self.after(i);
    }

    /// Performs node `i`'s effects and routes its client output, until
    /// nothing is left.
    fn after(&mut self, i: usize) {
        loop {
            if self.violation.is_some() {
                return;
            }
            let Some(n) = self.servers[i].node.as_mut() else {
                return;
            };
            // Linear in the log: every 8th step (a broken invariant stays
            // broken until then).
            self.steps += 1;
            if self.steps % 8 == 0 {
                if let Some(r) = n.replica() {
                    r.check_invariants();
                }
            }
            let effects: Vec<Effect> = n.take_effects().collect();
            let mut outs = Vec::new();
            n.core_mut()
                .drain(|o| outs.push((o.conn, std::mem::take(o.bytes), o.close)));
            if effects.is_empty() && outs.is_empty() {
                return;
            }
            if self.trace && !effects.is_empty() {
                let shown: Vec<String> = effects.iter().filter_map(show_effect).collect();
                if !shown.is_empty() {
                    self.trace_line(i, &shown.join(", "));
                }
            }
            let mut committed = false;
            for e in effects {
                committed |= matches!(e, Effect::Committed(_) | Effect::InstallSnapshot { .. });
                self.perform(i, e);
                if !self.servers[i].up || self.violation.is_some() {
                    return;
                }
            }
            if committed {
                self.check_digest_at(i, false);
            }
            for (conn, bytes, close) in outs {
                self.send_to_client(i, conn, bytes, close);
            }
        }
    }

    fn trace_line(&self, i: usize, what: &str) {
        let Some(n) = self.servers[i].node.as_ref() else {
            return;
        };
        let Some(r) = n.replica() else {
            return;
        };
        eprintln!(
            "{:>5} n{} [{:?} e{} last {:#x} c {:#x}] {what}",
            self.now,
            i + 1,
            r.role(),
            r.current_epoch(),
            r.last_zxid(),
            r.committed()
        );
    }

    fn perform(&mut self, i: usize, e: Effect) {
        match e {
            Effect::Send { to, frame } => self.send(i, to as usize - 1, frame),
            Effect::Disconnect { peer } => self.reset_conn(i, peer as usize - 1, false, true),
            Effect::PersistEpochs {
                accepted,
                current,
                accepted_from,
            } => self.servers[i].epochs = (accepted, current, accepted_from),
            Effect::Append(t) => self.append(i, t),
            Effect::Sync => {
                if !self.servers[i].fsync_pending {
                    self.servers[i].fsync_pending = true;
                    // Mostly quick, sometimes a stalled fsync.
                    let d = if self.rng.chance(self.cfg.probs.slow_fsync) {
                        10 + self.rng.below(40)
                    } else {
                        1 + self.rng.below(4)
                    };
                    let inc = self.servers[i].inc;
                    self.at(self.now + d, Event::Fsync(i, inc));
                }
            }
            Effect::Truncate { after } => {
                self.servers[i].logged.retain(|t| t.header.zxid <= after);
                self.rewrite_log(i);
            }
            Effect::InstallSnapshot { zxid, data } => {
                let s = &mut self.servers[i];
                s.snap = Some(data);
                s.logged.clear();
                self.rewrite_log(i);
                self.set_applied(i, zxid, "installed a snapshot");
            }
            Effect::Committed(t) => self.committed(i, &t),
            Effect::RoleChanged { serving, .. } => self.servers[i].serving = serving,
            Effect::Established { epoch } => {
                self.cov.elections += 1;
                let id = self.servers[i].id;
                if let Some(&other) = self.leaders.get(&epoch) {
                    if other != id {
                        self.fail(format!(
                            "two established leaders in epoch {epoch}: {other} and {id}"
                        ));
                        return;
                    }
                }
                self.leaders.insert(epoch, id);
                self.established_at = self.now;
            }
            Effect::Notice(n) => match n {
                Notice::SnapshotSent { .. } => self.cov.snaps += 1,
                Notice::SnapshotInstalled { .. } => {}
                Notice::ReadOnly => self.cov.read_only_periods += 1,
                Notice::BadSnapshot { from, what } => self.fail(format!(
                    "node {} refused server {from}'s snapshot: {what}",
                    i + 1
                )),
                Notice::ProposalRefused { zxid } => self.fail(format!(
                    "node {}'s replica refused its core's proposal {zxid:#x}",
                    i + 1
                )),
            },
        }
    }

    /// Node `i`'s tree now holds the committed state at `zxid`.
    fn set_applied(&mut self, i: usize, zxid: Zxid, how: &str) {
        let pos = if zxid == 0 {
            Some(0)
        } else {
            self.canon_at.get(&zxid).map(|k| k + 1)
        };
        match pos {
            Some(p) => self.servers[i].applied = p,
            None => {
                let id = self.servers[i].id;
                self.fail(format!(
                    "node {id} {how} at {zxid:#x}, which is not in the committed sequence"
                ))
            }
        }
    }

    /// The tree digest of node `i`'s last applied zxid agrees with every
    /// other node's at that zxid. Digests cost a walk of the tree, so only
    /// zxids whose counter is a multiple of 8 are compared after a commit
    /// (a diverged tree stays diverged); restarts, installs and the end of
    /// the run compare whatever zxid they are at.
    fn check_digest_at(&mut self, i: usize, any: bool) {
        let Some(n) = self.servers[i].node.as_ref() else {
            return;
        };
        let tree = &n.core().tree();
        let z = tree.last_zxid;
        if !any && z % 8 != 0 {
            return;
        }
        let d = tree_digest(tree);
        match self.digests.get(&z) {
            Some(&d0) if d0 != d => {
                let id = self.servers[i].id;
                self.fail(format!("node {id} tree digest at {z:#x} differs"));
            }
            Some(_) => {}
            None => {
                self.digests.insert(z, d);
            }
        }
    }

    fn committed(&mut self, i: usize, t: &Arc<Txn>) {
        let z = t.header.zxid;
        let fp = fingerprint(t);
        let k = self.servers[i].applied;
        let id = self.servers[i].id;
        match self.canon.get(k) {
            Some(&(cz, cfp)) => {
                if (cz, cfp) != (z, fp) {
                    self.fail(format!(
                        "committed prefixes diverge: node {id} applies {z:#x} at position {k}, committed there is {cz:#x}{}",
                        if cz == z { " with other content" } else { "" }
                    ));
                    return;
                }
            }
            None => {
                if let Some(&(prev, _)) = self.canon.last() {
                    if !is_successor(prev, z) {
                        self.fail(format!("node {id} commits {z:#x} after {prev:#x}"));
                        return;
                    }
                }
                self.canon.push((z, fp));
                self.canon_at.insert(z, k);
                track_ephemerals(&mut self.ephemerals, t.header.session, &t.op);
                self.cov.commits += 1;
                let tag = (t.header.session, t.header.cxid);
                if let Some(&at) = self.shared.tags.get(&tag) {
                    let ts = self.shared.seq + 1;
                    self.shared.seq = ts;
                    self.resolved
                        .insert(at, (self.now * 1_000_000 + ts, outcome(&t.op)));
                }
            }
        }
        self.servers[i].applied = k + 1;
        let s = t.header.session;
        match &t.op {
            TxnOp::CreateSession { .. } => {
                self.created_sessions.insert(s);
            }
            TxnOp::CloseSession => {
                self.closed_sessions.insert(s);
                let tree = &self.servers[i].node.as_ref().expect("up").core().tree();
                if tree.ephemerals_of(s).next().is_some() {
                    self.fail(format!(
                        "node {id}: ephemerals of closed session {s:#x} remain"
                    ));
                    return;
                }
            }
            _ => {}
        }
        if k % 16 == 0 {
            if let Some(n) = self.servers[i].node.as_ref() {
                n.core().tree().check_invariants();
            }
        }
    }

    // ------------------------------------------------------------- network

    fn send(&mut self, from: usize, to: usize, frame: Arc<[u8]>) {
        if to >= self.servers.len() || to == from {
            self.fail(format!("send to bad peer {to}"));
            return;
        }
        let ty = frame.get(5).copied().unwrap_or(0);
        match ty {
            5 => self.cov.diffs += 1,
            6 => self.cov.truncs += 1,
            _ => {}
        }
        let p = self.cfg.probs;
        let datagram = ty == peer::MsgType::Notification as u8;
        let net = self.cfg.mix.net() && !self.healing;
        let down = !self.servers[to].up || self.blocked.contains(&(from, to));
        let clog = self.clogged.get(&(from, to)).copied().unwrap_or(0);
        let clog = clog.saturating_sub(self.now);
        if datagram {
            if down || (net && self.rng.chance(p.datagram_drop)) {
                return;
            }
            let copies = if net && self.rng.chance(p.datagram_dup) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let d = 1 + self.rng.below(if net { 12 } else { 4 }) + clog;
                self.at(
                    self.now + d,
                    Event::Deliver {
                        from,
                        to,
                        frame: frame.clone(),
                        gen: None,
                    },
                );
            }
            return;
        }
        let k = key(from, to);
        let broken = self.conns.entry(k).or_default().broken;
        if broken {
            return;
        }
        if down || (net && self.rng.below(1000) < p.frame_loss_permille) {
            // The frame is lost: the connection is broken from here on.
            self.conns.entry(k).or_default().broken = true;
            if self.rng.chance(p.reset_on_loss) {
                self.reset_conn(from, to, true, self.servers[to].up);
            }
            return;
        }
        let gen = self.conns.entry(k).or_default().gen;
        let d = 1 + self.rng.below(if net { 6 } else { 3 }) + clog;
        let t = (self.now + d).max(self.fifo.get(&(from, to)).copied().unwrap_or(0));
        self.fifo.insert((from, to), t);
        self.at(
            t,
            Event::Deliver {
                from,
                to,
                frame,
                gen: Some(gen),
            },
        );
    }

    /// A new connection between `a` and `b`: frames of the old one are
    /// dropped; the chosen ends are told the old one broke.
    fn reset_conn(&mut self, a: usize, b: usize, tell_a: bool, tell_b: bool) {
        self.cov.resets += 1;
        let c = self.conns.entry(key(a, b)).or_default();
        c.gen += 1;
        c.broken = false;
        for (at, peer, tell) in [(a, b, tell_a), (b, a, tell_b)] {
            if tell && self.servers[at].up {
                let inc = self.servers[at].inc;
                self.at(self.now, Event::Disconnected { at, peer, inc });
            }
        }
    }

    // ---------------------------------------------------------- clients

    /// Server output for a client connection: delivered in order after a
    /// small delay. A close ends the connection at the server at once (the
    /// runtime writes what is owed, then closes).
    fn send_to_client(&mut self, i: usize, conn: ConnId, bytes: Vec<u8>, close: bool) {
        let Some(&client) = self.servers[i].conns.get(&conn) else {
            return;
        };
        if close {
            self.servers[i].conns.remove(&conn);
            self.node_call(i, |n, now| n.conn_closed(conn, now));
        }
        let d = 1 + self.rng.below(3);
        let t = (self.now + d).max(self.cfifo.get(&(conn, false)).copied().unwrap_or(0));
        self.cfifo.insert((conn, false), t);
        self.at(
            t,
            Event::ToClient {
                client,
                conn,
                bytes,
                close,
            },
        );
    }

    fn client_step(&mut self, c: usize) {
        let up: Vec<usize> = (0..self.servers.len())
            .filter(|&i| self.servers[i].up)
            .collect();
        let (now, quiet) = (self.now, self.quiet);
        let acts = self.clients[c].step(&mut self.rng, &mut self.shared, now, &up, quiet);
        self.client_acts(c, acts);
    }

    fn client_acts(&mut self, c: usize, acts: Vec<Act>) {
        for a in acts {
            match a {
                Act::Connect { server, bytes } => {
                    self.next_conn += 1;
                    let conn = ConnId::new(0, self.next_conn);
                    let inc = self.servers[server].inc;
                    self.clients[c].link = Some(client::Link { server, conn, inc });
                    self.servers[server].conns.insert(conn, c);
                    let addr = format!("10.0.{}.{}:4000", c / 250, c % 250 + 1)
                        .parse()
                        .expect("address");
                    self.node_call(server, |n, now| n.conn_open(conn, addr, now));
                    self.client_send(c, bytes, false);
                }
                Act::Send(bytes) => self.client_send(c, bytes, false),
                Act::Close(link) => self.client_closed(link),
            }
        }
    }

    /// Client bytes to its server, in order after a small delay.
    fn client_send(&mut self, c: usize, bytes: Vec<u8>, close: bool) {
        let Some(l) = self.clients[c].link else {
            return;
        };
        let d = 1 + self.rng.below(3);
        let t = (self.now + d).max(self.cfifo.get(&(l.conn, true)).copied().unwrap_or(0));
        self.cfifo.insert((l.conn, true), t);
        self.at(
            t,
            Event::ToServer {
                node: l.server,
                inc: l.inc,
                conn: l.conn,
                bytes,
                close,
            },
        );
    }

    /// The client side closed `link` (a move, an abandon, a give-up).
    fn client_closed(&mut self, link: client::Link) {
        let d = 1 + self.rng.below(3);
        let t = (self.now + d).max(self.cfifo.get(&(link.conn, true)).copied().unwrap_or(0));
        self.at(
            t,
            Event::ToServer {
                node: link.server,
                inc: link.inc,
                conn: link.conn,
                bytes: Vec::new(),
                close: true,
            },
        );
    }

    // ---------------------------------------------------------------- disk

    fn append(&mut self, i: usize, t: Arc<Txn>) {
        let s = &mut self.servers[i];
        if let Some(prev) = s.logged.last() {
            if !is_successor(prev.header.zxid, t.header.zxid) {
                let msg = format!(
                    "node {} appends {:#x} after {:#x}",
                    s.id, t.header.zxid, prev.header.zxid
                );
                self.fail(msg);
                return;
            }
        }
        let Some(log) = s.log.as_mut() else {
            return;
        };
        match log.append(&t) {
            Ok(_) => s.logged.push(t),
            Err(LogError::Device(_)) | Err(LogError::Poisoned) => self.crash(i),
            Err(e) => self.fail(format!("append failed: {e}")),
        }
    }

    fn fsync(&mut self, i: usize) {
        self.servers[i].fsync_pending = false;
        let fail =
            self.cfg.mix.disk() && !self.healing && self.rng.chance(self.cfg.probs.fsync_fail);
        let s = &mut self.servers[i];
        let Some(log) = s.log.as_mut() else {
            return;
        };
        if fail {
            // The write reaches the device, the fsync fails.
            if log.flush().is_err() {
                self.crash(i);
                return;
            }
            for name in log.dir().names() {
                if let Some(d) = log.dir().file(&name) {
                    d.fail_from_now();
                }
            }
        }
        match log.sync() {
            Ok(d) => {
                let through = if log.last_zxid().is_some() { d } else { 0 };
                self.node_call(i, |n, now| n.durable(through, now));
            }
            Err(_) => {
                self.cov.fsync_failures += 1;
                self.crash(i);
            }
        }
    }

    /// Rewrites node `i`'s log to hold exactly `logged`, durably.
    fn rewrite_log(&mut self, i: usize) {
        let cfg = self.log_cfg();
        let s = &mut self.servers[i];
        let mut log = match TxnLog::create(MemDir::new(), cfg) {
            Ok(l) => l,
            Err(e) => {
                self.fail(format!("log create: {e}"));
                return;
            }
        };
        for t in &s.logged {
            if let Err(e) = log.append(t) {
                let msg = format!("log rewrite: {e}");
                self.fail(msg);
                return;
            }
        }
        if let Err(e) = log.sync() {
            self.fail(format!("log rewrite sync: {e}"));
            return;
        }
        self.servers[i].log = Some(log);
    }

    /// A snapshot of node `i`'s committed tree, as the snapshot thread
    /// would write it (the log keeps everything; startup skips what the
    /// snapshot holds).
    fn take_snapshot(&mut self, i: usize) {
        let s = &mut self.servers[i];
        let Some(n) = s.node.as_ref() else {
            return;
        };
        let core = n.core();
        let data = encode_tree(core.tree(), &core.session_list(), SNAP_BLOCK);
        s.snap = Some(data.into());
        self.cov.snapshots_taken += 1;
    }

    fn crash(&mut self, i: usize) {
        let s = &mut self.servers[i];
        if !s.up {
            return;
        }
        if self.trace {
            eprintln!("{:>5} n{} CRASH", self.now, i + 1);
        }
        self.cov.crashes += 1;
        if let Some(r) = s.node.as_ref().and_then(|n| n.replica()) {
            if r.is_syncing() {
                self.cov.crashes_mid_sync += 1;
            }
            self.cov.rollovers += r.stats().rollovers;
            self.cov.expirations += r.stats().expired;
        }
        let model = if self.rng.chance(50) {
            CrashModel::MIXED
        } else {
            CrashModel::LOSE_ALL
        };
        let dir = match s.log.take() {
            Some(l) => l.dir().crash(&mut self.rng, model),
            None => MemDir::new(),
        };
        s.down_dir = Some(dir);
        s.up = false;
        s.inc += 1;
        s.node = None;
        s.serving = false;
        s.fsync_pending = false;
        // Its client connections end.
        let conns: Vec<(ConnId, usize)> = std::mem::take(&mut s.conns).into_iter().collect();
        for (conn, client) in conns {
            self.at(
                self.now + 1,
                Event::ToClient {
                    client,
                    conn,
                    bytes: Vec::new(),
                    close: true,
                },
            );
        }
        for p in 0..self.servers.len() {
            if p != i {
                self.reset_conn(i, p, false, true);
            }
        }
        let back = if self.healing {
            self.now + 1
        } else {
            self.now + 30 + self.rng.below(300)
        };
        self.at(back, Event::Restart(i));
    }

    fn restart(&mut self, i: usize) {
        let cfg = self.log_cfg();
        let mut dir = self.servers[i].down_dir.take().unwrap_or_default();
        let rec = match recover(&mut dir) {
            Ok(r) => r,
            Err(e) => {
                self.fail(format!("node {} log recovery refused: {e}", i + 1));
                return;
            }
        };
        if rec.torn.is_some() {
            self.cov.torn_tails += 1;
        }
        let log = match TxnLog::open(dir, cfg, &rec) {
            Ok(l) => l,
            Err(e) => {
                self.fail(format!("log open: {e}"));
                return;
            }
        };
        let built = match &self.servers[i].snap {
            Some(data) => match state::build_snapshot("sim", data) {
                Ok(b) => {
                    self.cov.restarts_from_snapshot += 1;
                    Some(b)
                }
                Err(e) => {
                    self.fail(format!("node {} snapshot invalid: {e:?}", i + 1));
                    return;
                }
            },
            None => None,
        };
        let logged: Vec<Arc<Txn>> = rec.txns.iter().cloned().map(Arc::new).collect();
        let mut boot = match node::boot_state(built, rec) {
            Ok(b) => b,
            Err(e) => {
                self.fail(format!("node {} cannot start: {e}", i + 1));
                return;
            }
        };
        boot.epochs = self.servers[i].epochs;
        let base = boot.base;
        let (ccfg, zcfg, now) = (self.core_cfg(i), self.zcfg(i), self.time());
        let mut n = Node::new(ccfg, zcfg, boot, now);
        n.record_commits(true);
        let s = &mut self.servers[i];
        s.log = Some(log);
        s.logged = logged;
        s.up = true;
        s.inc += 1;
        s.node = Some(n);
        self.set_applied(i, base, "restarted");
        self.check_digest_at(i, true);
        let inc = self.servers[i].inc;
        let t = self.now + 1 + self.rng.below(TICK_MS);
        self.at(t, Event::Tick(i, inc));
        self.after(i);
    }

    // ------------------------------------------------------------- faults

    fn inject_fault(&mut self) {
        let n = self.servers.len();
        let (mix, p) = (self.cfg.mix, self.cfg.probs);
        if mix.crash() && self.rng.chance(p.snapshot) {
            let i = self.rng.below(n as u64) as usize;
            self.take_snapshot(i);
        }
        let roll = self.rng.below(100);
        if mix.crash() && roll < p.crash {
            let i = self.rng.below(n as u64) as usize;
            let up = self.servers.iter().filter(|x| x.up).count();
            if self.servers[i].up && up > 1 {
                self.crash(i);
            }
        } else if mix.net() && roll < p.crash + p.partition && self.blocked.is_empty() {
            self.partition_id += 1;
            self.cov.partitions += 1;
            let x = self.rng.below(n as u64) as usize;
            match self.rng.below(3) {
                0 => {
                    // Isolate one node.
                    for q in 0..n {
                        if q != x {
                            self.blocked.insert((x, q));
                            self.blocked.insert((q, x));
                        }
                    }
                }
                1 => {
                    // Split: a random minority side.
                    let side: Vec<usize> = (0..n).filter(|_| self.rng.chance(40)).collect();
                    for &a in &side {
                        for b in 0..n {
                            if !side.contains(&b) {
                                self.blocked.insert((a, b));
                                self.blocked.insert((b, a));
                            }
                        }
                    }
                }
                _ => {
                    // One-way: x cannot reach some peers.
                    for q in 0..n {
                        if q != x && self.rng.chance(60) {
                            self.blocked.insert((x, q));
                        }
                    }
                }
            }
            let d = 60 + self.rng.below(500);
            let id = self.partition_id;
            self.at(self.now + d, Event::HealPartition(id));
        } else if mix.net() && roll < p.crash + p.partition + p.clog {
            let a = self.rng.below(n as u64) as usize;
            let b = self.rng.below(n as u64) as usize;
            if a != b {
                let until = self.now + 50 + self.rng.below(250);
                self.clogged.insert((a, b), until);
            }
        }
    }

    pub(super) fn heal(&mut self) {
        self.healing = true;
        if !self.blocked.is_empty() {
            self.blocked.clear();
            self.cov.partitions_healed += 1;
        }
        self.clogged.clear();
        for i in 0..self.servers.len() {
            if !self.servers[i].up {
                self.at(self.now + 1, Event::Restart(i));
            }
        }
    }
}

/// What a committed op does to the set of ephemerals (path -> owner).
fn track_ephemerals(e: &mut BTreeMap<String, SessionId>, session: SessionId, op: &TxnOp) {
    match op {
        TxnOp::Create { path, owner, .. } if is_ephemeral(*owner) => {
            e.insert(path.to_string(), *owner);
        }
        TxnOp::Delete { path } => {
            e.remove(&**path);
        }
        TxnOp::CloseSession => e.retain(|_, o| *o != session),
        TxnOp::Multi(ops) => {
            for op in ops {
                track_ephemerals(e, session, op);
            }
        }
        _ => {}
    }
}

fn show(m: &PeerMsg<'_>) -> String {
    match m {
        PeerMsg::Proposal { zxid, .. } => format!("Proposal {zxid:#x}"),
        PeerMsg::Inform { zxid, .. } => format!("Inform {zxid:#x}"),
        PeerMsg::Snap { zxid, .. } => format!("Snap {zxid:#x}"),
        PeerMsg::Request { session, cxid, .. } => format!("Request {session:#x}/{cxid}"),
        PeerMsg::Notification(n) => format!(
            "Note r{} {:?} votes {} ({:#x}, e{})",
            n.round, n.state, n.proposed_leader, n.last_zxid, n.peer_epoch
        ),
        m => format!("{m:?}"),
    }
}

fn show_effect(e: &Effect) -> Option<String> {
    Some(match e {
        Effect::Send { to, frame } => match decode_frame(frame) {
            Ok(Some((m, _))) if !matches!(m, PeerMsg::Ping { .. }) => {
                format!("->{to} {}", show(&m))
            }
            _ => return None,
        },
        Effect::Append(t) => format!("append {:#x}", t.header.zxid),
        Effect::Committed(t) => format!("commit {:#x}", t.header.zxid),
        Effect::InstallSnapshot { zxid, .. } => format!("install {zxid:#x}"),
        o => format!("{o:?}"),
    })
}

/// What a committed txn did to the key its client's request named, as the
/// model's output (None: nothing at all, such as a write of a session that
/// had expired).
fn outcome(op: &TxnOp) -> Option<crate::lincheck::ZnodeOut> {
    use crate::lincheck::ZnodeOut;
    use crate::proto::codes::err;
    match op {
        TxnOp::SetData { version, .. } => Some(ZnodeOut::Ok { version: *version }),
        TxnOp::Create { .. } => Some(ZnodeOut::Ok { version: 0 }),
        TxnOp::Delete { .. } => Some(ZnodeOut::Deleted),
        TxnOp::Error { code } => matches!(
            *code,
            err::BAD_VERSION | err::NO_NODE | err::NODE_EXISTS | err::NOT_EMPTY
        )
        .then_some(ZnodeOut::Rejected),
        TxnOp::Multi(ops) => {
            if ops.iter().any(|o| matches!(o, TxnOp::Error { .. })) {
                let failed = ops.iter().find_map(|o| match o {
                    TxnOp::Error { code } if *code != 0 && *code != err::RUNTIME_INCONSISTENCY => {
                        Some(*code)
                    }
                    _ => None,
                });
                outcome(&TxnOp::Error {
                    code: failed.unwrap_or(0),
                })
            } else {
                ops.iter().rev().find_map(outcome)
            }
        }
        _ => None,
    }
}

fn key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// Runs one seed, turning a panic into a violation.
pub fn run_seed(cfg: SimConfig) -> Report {
    let seed = cfg.seed;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Sim::new(cfg).run())) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Report {
                seed,
                violation: Some(format!("panic: {msg}")),
                coverage: Coverage::default(),
            }
        }
    }
}
