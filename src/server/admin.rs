//! Four-letter words: a snapshot of the server's state, rendered with
//! ZooKeeper's exact text layouts by [`crate::proto::fourlw`].

use super::Core;
use crate::proto::fourlw::{
    self, ConfInfo, ConnInfo, EnvInfo, FourLetter, MntrFigures, MntrValue, ServerSnapshot,
    SessionConnInfo, SessionExpiryBucket, SessionPaths,
};
use crate::types::{ConnId, Now, SessionId};
use std::collections::VecDeque;
use std::rc::Rc;

/// What only the runtime knows (configuration paths, the environment).
#[derive(Clone, Debug, Default)]
pub struct AdminExtras {
    pub conf: ConfInfo,
    pub env: Option<EnvInfo>,
    /// (open, max) file descriptors.
    pub fds: Option<(u64, u64)>,
    /// Ensemble figures for `mntr` (None standalone).
    pub quorum: Option<QuorumFigures>,
    /// Further `mntr` keys from the runtime (the txn log's fsync figures).
    pub mntr_extra: Vec<(String, crate::proto::fourlw::MntrValue)>,
}

/// What `mntr` shows of this server's part in an ensemble.
#[derive(Clone, Debug, Default)]
pub struct QuorumFigures {
    /// `zk_peer_state`, e.g. `leading - broadcast`.
    pub peer_state: String,
    pub quorum_size: u64,
    /// Leader only.
    pub leader: Option<crate::proto::fourlw::LeaderMntr>,
    /// Further `zk_` keys (election time, pipeline depth per follower,
    /// log sync and commit latency).
    pub extra: Vec<(String, crate::proto::fourlw::MntrValue)>,
}

/// Which listings a snapshot gathers besides what costs nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gather {
    /// Every connection's line (`cons`, `stat`).
    pub connections: bool,
    /// Data watches per session and their summary (`wchc`, `wchp`, `wchs`).
    pub watches: bool,
    /// Session expiry buckets and ephemerals (`dump`).
    pub dump: bool,
    /// `mntr`'s figures.
    pub mntr: bool,
}

impl Gather {
    pub const NOTHING: Gather = Gather {
        connections: false,
        watches: false,
        dump: false,
        mntr: false,
    };
    pub const ALL: Gather = Gather {
        connections: true,
        watches: true,
        dump: true,
        mntr: true,
    };
}

/// A streamed word's reply is produced in steps of about this many bytes,
/// each once the step before has been written to the client: the core shard
/// is never held for more than one step, and an unread reply never holds
/// more than one step in memory.
pub const FOURLW_STEP: usize = 64 * 1024;

/// Listings of at most this many entries come sorted; longer ones in hash
/// order, as ZooKeeper prints them all, so that every listing stays linear.
const SORT_UP_TO: usize = 4096;

/// Lines of one large ephemeral set printed per resumption.
const EPHEMERAL_BATCH: usize = 512;

/// The rest of a streamed four-letter reply (cons, stat, wchc, wchp, dump).
/// Listings are taken from the live state as they are printed: what changes
/// while a reply streams may or may not appear, as in ZooKeeper.
#[derive(Debug)]
pub(crate) struct FourLwStream {
    parts: VecDeque<Part>,
}

#[derive(Debug)]
enum Part {
    Text(String),
    /// cons lines, or stat's (`brief`).
    Conns {
        ids: Vec<ConnId>,
        at: usize,
        brief: bool,
        asking: ConnId,
    },
    /// wchc: each connection's data-watch paths.
    ConnWatches {
        conns: Vec<ConnId>,
        at: usize,
        paths: Paths,
    },
    /// wchp: each watched path's connections.
    PathWatchers {
        paths: Paths,
    },
    /// dump: session expiry buckets (expiry as wall-clock ms).
    Buckets {
        buckets: Vec<(u64, Vec<SessionId>)>,
        at: usize,
        ii: usize,
    },
    /// dump: each session's ephemeral nodes.
    Ephemerals {
        sessions: Vec<SessionId>,
        at: usize,
        pi: usize,
    },
}

/// A list of watched paths being printed: all of them at once (sorted) when
/// they are few, else a batch at a time from a cursor into the watch table.
#[derive(Debug, Default)]
struct Paths {
    batch: Vec<Rc<str>>,
    at: usize,
    /// Where the next batch starts; `None` when `batch` is the last.
    cursor: Option<usize>,
}

/// Paths fetched per batch from a large watch table.
const PATH_BATCH: usize = 512;

impl Paths {
    /// `count` paths, gathered by `all` (few) or `scan` (many).
    fn new(count: usize, all: impl FnOnce() -> Vec<Rc<str>>) -> Paths {
        if count <= SORT_UP_TO {
            let mut batch = all();
            batch.sort_unstable();
            Paths {
                batch,
                at: 0,
                cursor: None,
            }
        } else {
            Paths {
                batch: Vec::new(),
                at: 0,
                cursor: Some(0),
            }
        }
    }

    /// The next path, refilling the batch with `scan` when it runs out.
    fn next(
        &mut self,
        mut scan: impl FnMut(&mut usize, usize) -> Option<Vec<Rc<str>>>,
    ) -> Option<Rc<str>> {
        loop {
            if let Some(p) = self.batch.get(self.at) {
                self.at += 1;
                return Some(p.clone());
            }
            let cursor = self.cursor.as_mut()?;
            match scan(cursor, PATH_BATCH) {
                Some(batch) => {
                    self.batch = batch;
                    self.at = 0;
                }
                None => {
                    self.cursor = None;
                    self.batch.clear();
                    return None;
                }
            }
        }
    }
}

fn sort_if_small<T: Ord>(v: &mut [T]) {
    if v.len() <= SORT_UP_TO {
        v.sort_unstable();
    }
}

impl Core {
    /// What every word may print that costs nothing to gather.
    fn base_snapshot(&self, extras: &AdminExtras) -> ServerSnapshot {
        // ZooKeeper reports latencies in milliseconds.
        let (_, min_us, mean_us, max_us) = self.latency.overall();
        ServerSnapshot {
            latency_min: min_us / 1000,
            latency_avg: mean_us / 1000.0,
            latency_max: max_us / 1000,
            received: self.stats.packets_received,
            sent: self.stats.packets_sent,
            alive_connections: self.conns.len() as u64,
            zxid: self.last_zxid(),
            node_count: self.tree.node_count() as u64,
            conf: extras.conf.clone(),
            env: extras.env.clone().unwrap_or_default(),
            mode: self.role,
            serving: self.role != super::Role::NotServing,
            ..Default::default()
        }
    }

    /// `mntr`'s figures.
    fn mntr_figures(&self, now: Now, extras: &AdminExtras) -> MntrFigures {
        let (open_fds, max_fds) = extras.fds.unwrap_or((0, 0));
        let (_, min_us, mean_us, max_us) = self.latency.overall();
        let mut extra = Vec::new();
        for (name, h) in [
            ("readlatency", &self.latency.reads),
            ("updatelatency", &self.latency.writes),
        ] {
            if h.is_empty() {
                continue;
            }
            let q = |p: f64| MntrValue::Int((h.value_at_quantile(p) / 1000) as i64);
            extra.push((
                format!("avg_{name}"),
                MntrValue::Float(fourlw::round4(h.mean() / 1000.0)),
            ));
            extra.push((
                format!("min_{name}"),
                MntrValue::Int((h.min() / 1000) as i64),
            ));
            extra.push((
                format!("max_{name}"),
                MntrValue::Int((h.max() / 1000) as i64),
            ));
            extra.push((format!("cnt_{name}"), MntrValue::Int(h.len() as i64)));
            extra.push((format!("p50_{name}"), q(0.5)));
            extra.push((format!("p95_{name}"), q(0.95)));
            extra.push((format!("p99_{name}"), q(0.99)));
            extra.push((format!("p999_{name}"), q(0.999)));
        }
        extra.extend(extras.mntr_extra.iter().cloned());
        let (peer_state, quorum_size, leader) = match &extras.quorum {
            Some(q) => {
                extra.extend(q.extra.iter().cloned());
                (
                    Some(q.peer_state.clone()),
                    Some(q.quorum_size),
                    q.leader.clone(),
                )
            }
            None => (None, None, None),
        };
        MntrFigures {
            peer_state,
            quorum_size,
            leader,
            packets_received: self.stats.packets_received,
            packets_sent: self.stats.packets_sent,
            num_alive_connections: self.conns.len() as u64,
            outstanding_requests: self.in_flight() as u64,
            uptime: now.mono_ms.saturating_sub(self.stats.started_mono_ms),
            znode_count: self.tree.node_count() as u64,
            watch_count: self.watches.total() as u64,
            ephemerals_count: self.tree.ephemeral_count() as u64,
            approximate_data_size: self.tree.approximate_data_size(),
            global_sessions: (self.sessions.len() - self.local_session_count()) as u64,
            local_sessions: self.local_session_count() as u64,
            open_file_descriptor_count: open_fds,
            max_file_descriptor_count: max_fds,
            auth_failed_count: self.stats.auth_failed,
            avg_latency: mean_us / 1000.0,
            min_latency: min_us / 1000,
            max_latency: max_us / 1000,
            extra,
            ..Default::default()
        }
    }

    /// One connection's cons/stat line, as seen by connection `asking`.
    fn conn_info(&self, id: ConnId, asking: ConnId) -> Option<ConnInfo> {
        let c = self.conns.get(&id)?;
        let session = c.session.map(|sid| SessionConnInfo {
            sid,
            last_op: c.stats.last_op,
            established_ms: Some(c.stats.established_wall_ms.max(0) as u64),
            timeout_ms: self.sessions.get(sid).map_or(0, |s| s.timeout_ms),
            last_cxid: c.stats.last_cxid as i64,
            last_zxid: c.stats.last_zxid,
            last_resp_mono_ms: c.stats.last_response_mono_ms,
            ..Default::default()
        });
        let (recved, sent) = if id == asking {
            (1, 0)
        } else {
            (c.stats.received, c.stats.sent)
        };
        Some(ConnInfo {
            addr: c.addr,
            interest_ops: u32::from(c.session.is_some()),
            queued: 0,
            recved,
            sent,
            session,
        })
    }

    /// Everything every listing prints, gathered at once: the reference
    /// the streamed four-letter replies must match; `asking` is the
    /// connection asking, if any.
    pub fn full_snapshot(&self, asking: ConnId, now: Now, extras: &AdminExtras) -> ServerSnapshot {
        self.snapshot_of(Gather::ALL, asking, now, extras)
    }

    /// What costs nothing to gather, plus the listings in `what` (the
    /// AdminServer asks for what its command prints, no more).
    pub fn snapshot_of(
        &self,
        what: Gather,
        asking: ConnId,
        now: Now,
        extras: &AdminExtras,
    ) -> ServerSnapshot {
        let mut s = self.base_snapshot(extras);
        if what.connections {
            s.connections = self.connections_of(asking);
        }
        if what.watches {
            s.data_watches = self.data_watches_listing();
            let (connections, paths, total) = self.watches.data_summary();
            s.watch_summary = Some(fourlw::WatchSummary {
                connections,
                paths,
                total,
            });
        }
        if what.dump {
            self.dump_listing(&mut s, now);
        }
        if what.mntr {
            s.mntr = self.mntr_figures(now, extras);
        }
        s
    }

    fn connections_of(&self, asking: ConnId) -> Vec<ConnInfo> {
        self.conn_ids()
            .into_iter()
            .filter_map(|c| self.conn_info(c, asking))
            .collect()
    }

    fn data_watches_listing(&self) -> Vec<SessionPaths> {
        self.watches
            .data_watching_conns()
            .into_iter()
            .map(|c| {
                let mut paths: Vec<String> = self
                    .watches
                    .data_paths_of(c)
                    .iter()
                    .map(|p| p.to_string())
                    .collect();
                sort_if_small(&mut paths);
                SessionPaths {
                    session_id: self.session_of(c),
                    paths,
                }
            })
            .collect()
    }

    fn dump_listing(&self, s: &mut ServerSnapshot, now: Now) {
        let mut sessions: Vec<SessionId> = self.tree.ephemeral_sessions().map(|(s, _)| s).collect();
        sort_if_small(&mut sessions);
        s.ephemerals = sessions
            .into_iter()
            .map(|sid| {
                let mut paths: Vec<String> =
                    self.tree.ephemerals_of(sid).map(str::to_string).collect();
                sort_if_small(&mut paths);
                SessionPaths {
                    session_id: sid,
                    paths,
                }
            })
            .collect();
        s.session_expiry = self
            .sessions
            .buckets()
            .into_iter()
            .map(|(at, mut ids)| {
                sort_if_small(&mut ids);
                SessionExpiryBucket {
                    expire_at_ms: (now.wall_ms.max(0) as u64 + at).saturating_sub(now.mono_ms),
                    session_ids: ids,
                }
            })
            .collect();
    }

    /// Whether requests are answered (false while an ensemble member has
    /// no leader).
    pub fn is_serving(&self) -> bool {
        self.role != super::Role::NotServing
    }

    /// ZooKeeper's `crst` (true) or `srst` (false): connection or server
    /// counters back to zero.
    pub fn reset_stats(&mut self, connections: bool) {
        if connections {
            for c in self.conns.values_mut() {
                c.stats.received = 0;
                c.stats.sent = 0;
            }
        } else {
            self.stats.packets_received = 0;
            self.stats.packets_sent = 0;
            self.latency.reset();
        }
    }

    fn session_of(&self, c: ConnId) -> SessionId {
        self.conns.get(&c).and_then(|x| x.session).unwrap_or(0)
    }

    fn conn_ids(&self) -> Vec<ConnId> {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        sort_if_small(&mut ids);
        ids
    }

    /// Answers a four-letter word on a fresh connection: at once, or (a
    /// listing) in steps, each after the last was written (`fourlw_more`);
    /// the connection closes after the last. A refused or unknown word does
    /// no work, and each word gathers only what it prints.
    pub fn four_letter(
        &mut self,
        id: ConnId,
        word: [u8; 4],
        allowed: bool,
        now: Now,
        extras: &AdminExtras,
    ) {
        self.four_letter_in_steps(id, word, allowed, now, extras, FOURLW_STEP)
    }

    fn four_letter_in_steps(
        &mut self,
        id: ConnId,
        word: [u8; 4],
        allowed: bool,
        now: Now,
        extras: &AdminExtras,
        step: usize,
    ) {
        // Refused (e.g. over maxClientCnxns) or already closing: no answer.
        if self.conns.get(&id).is_none_or(|c| c.close) {
            return;
        }
        self.stats.packets_received += 1;
        let Some(cmd) = FourLetter::from_word(word) else {
            self.close_conn(id);
            return;
        };
        if !allowed {
            let text = fourlw::render(cmd, &ServerSnapshot::default(), false);
            return self.fourlw_reply(id, &text, VecDeque::new(), step);
        }
        match cmd {
            FourLetter::Crst => self.reset_stats(true),
            FourLetter::Srst => self.reset_stats(false),
            _ => {}
        }
        let mut snap = self.base_snapshot(extras);
        let mut head = Vec::new();
        let mut parts = VecDeque::new();
        if !snap.serving && cmd.needs_server() {
            head = fourlw::render(cmd, &snap, true);
        } else {
            match cmd {
                FourLetter::Cons => {
                    parts.push_back(Part::Conns {
                        ids: self.conn_ids(),
                        at: 0,
                        brief: false,
                        asking: id,
                    });
                    parts.push_back(Part::Text("\n".into()));
                }
                FourLetter::Stat => {
                    let mut text = String::new();
                    fourlw::stat_head(&mut text, &snap, true);
                    head = text.into_bytes();
                    parts.push_back(Part::Conns {
                        ids: self.conn_ids(),
                        at: 0,
                        brief: true,
                        asking: id,
                    });
                    let mut tail = String::from("\n");
                    fourlw::stat_tail(&mut tail, &snap);
                    parts.push_back(Part::Text(tail));
                }
                FourLetter::Wchc => {
                    parts.push_back(Part::ConnWatches {
                        conns: self.watches.data_watching_conns(),
                        at: 0,
                        paths: Paths::default(),
                    });
                    parts.push_back(Part::Text("\n".into()));
                }
                FourLetter::Wchp => {
                    let w = &self.watches;
                    let paths = Paths::new(w.data_path_count(), || w.data_paths());
                    parts.push_back(Part::PathWatchers { paths });
                    parts.push_back(Part::Text("\n".into()));
                }
                FourLetter::Dump => {
                    // Expiry buckets are on the monotonic clock; dump prints
                    // wall time.
                    let to_wall =
                        |mono: u64| (now.wall_ms.max(0) as u64 + mono).saturating_sub(now.mono_ms);
                    let buckets: Vec<(u64, Vec<SessionId>)> = self
                        .sessions
                        .buckets()
                        .into_iter()
                        .map(|(at, mut ids)| {
                            sort_if_small(&mut ids);
                            (to_wall(at), ids)
                        })
                        .collect();
                    let n = buckets.iter().map(|b| b.1.len()).sum();
                    let mut text = String::new();
                    fourlw::dump_sessions_head(&mut text, buckets.len(), n);
                    head = text.into_bytes();
                    parts.push_back(Part::Buckets {
                        buckets,
                        at: 0,
                        ii: 0,
                    });
                    let mut sessions: Vec<SessionId> =
                        self.tree.ephemeral_sessions().map(|(s, _)| s).collect();
                    sort_if_small(&mut sessions);
                    let mut text = String::new();
                    fourlw::dump_ephemerals_head(&mut text, sessions.len());
                    parts.push_back(Part::Text(text));
                    parts.push_back(Part::Ephemerals {
                        sessions,
                        at: 0,
                        pi: 0,
                    });
                    let mut text = String::new();
                    fourlw::dump_connections(&mut text, &[]);
                    parts.push_back(Part::Text(text));
                }
                _ => {
                    match cmd {
                        FourLetter::Mntr => snap.mntr = self.mntr_figures(now, extras),
                        FourLetter::Wchs => {
                            let (connections, paths, total) = self.watches.data_summary();
                            snap.watch_summary = Some(fourlw::WatchSummary {
                                connections,
                                paths,
                                total,
                            });
                        }
                        _ => {}
                    }
                    head = fourlw::render(cmd, &snap, true);
                }
            }
        }
        self.fourlw_reply(id, &head, parts, step);
    }

    /// Queues `head`, then the first step of `parts` (if any).
    fn fourlw_reply(&mut self, id: ConnId, head: &[u8], parts: VecDeque<Part>, step: usize) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.out.extend_from_slice(head);
            c.fourlw = Some(Box::new(FourLwStream { parts }));
        }
        self.fourlw_step(id, step);
    }

    /// The next step of a streamed four-letter reply, once the last one has
    /// been written (the runtime asks).
    pub fn fourlw_more(&mut self, id: ConnId) {
        self.fourlw_step(id, FOURLW_STEP);
    }

    fn fourlw_step(&mut self, id: ConnId, step: usize) {
        let Some(mut st) = self.conns.get_mut(&id).and_then(|c| c.fourlw.take()) else {
            return;
        };
        let mut o = String::new();
        let done = self.fourlw_fill(&mut st, &mut o, step);
        if let Some(c) = self.conns.get_mut(&id) {
            c.out.extend_from_slice(o.as_bytes());
            if !done {
                c.fourlw = Some(st);
            }
        }
        if done {
            self.close_conn(id);
        } else {
            self.mark(id);
        }
    }

    /// Prints `st` into `o` until `o` holds about `limit` bytes; true when
    /// nothing is left.
    fn fourlw_fill(&self, st: &mut FourLwStream, o: &mut String, limit: usize) -> bool {
        while o.len() < limit {
            let Some(part) = st.parts.front_mut() else {
                break;
            };
            let finished = match part {
                Part::Text(t) => {
                    o.push_str(t);
                    true
                }
                Part::Conns {
                    ids,
                    at,
                    brief,
                    asking,
                } => {
                    while *at < ids.len() && o.len() < limit {
                        if let Some(info) = self.conn_info(ids[*at], *asking) {
                            fourlw::conn_line(o, &info, *brief);
                            o.push('\n');
                        }
                        *at += 1;
                    }
                    *at == ids.len()
                }
                Part::ConnWatches { conns, at, paths } => {
                    let mut done = false;
                    while o.len() < limit {
                        // `at` is one past the connection being listed.
                        let listed = at.checked_sub(1).and_then(|i| conns.get(i).copied());
                        let next = listed.and_then(|c| {
                            paths.next(|cur, max| self.watches.data_paths_of_scan(c, cur, max))
                        });
                        if let Some(p) = next {
                            fourlw::tab_line(o, &p);
                            continue;
                        }
                        let Some(&c) = conns.get(*at) else {
                            done = true;
                            break;
                        };
                        *at += 1;
                        let w = &self.watches;
                        *paths = Paths::new(w.data_path_count_of(c), || w.data_paths_of(c));
                        if w.data_path_count_of(c) > 0 {
                            fourlw::wchc_session(o, self.session_of(c));
                        }
                    }
                    done
                }
                Part::PathWatchers { paths } => {
                    let mut done = false;
                    while o.len() < limit {
                        let Some(p) = paths.next(|cur, max| self.watches.data_paths_scan(cur, max))
                        else {
                            done = true;
                            break;
                        };
                        let watchers = self.watches.data_watchers_of(&p);
                        if !watchers.is_empty() {
                            fourlw::line(o, &p);
                            for w in watchers {
                                fourlw::tab_session(o, self.session_of(w));
                            }
                        }
                    }
                    done
                }
                Part::Buckets { buckets, at, ii } => {
                    while o.len() < limit {
                        let Some((wall, ids)) = buckets.get(*at) else {
                            break;
                        };
                        if *ii == 0 {
                            fourlw::dump_bucket_head(o, ids.len(), *wall);
                        }
                        if let Some(s) = ids.get(*ii) {
                            fourlw::tab_session(o, *s);
                            *ii += 1;
                        }
                        if *ii >= ids.len() {
                            *at += 1;
                            *ii = 0;
                        }
                    }
                    *at >= buckets.len()
                }
                Part::Ephemerals { sessions, at, pi } => {
                    while o.len() < limit {
                        let Some(&s) = sessions.get(*at) else {
                            break;
                        };
                        let n = self.tree.ephemerals_count_of(s);
                        if *pi == 0 {
                            if n == 0 {
                                *at += 1;
                                continue;
                            }
                            fourlw::dump_ephemerals_of(o, s);
                            if n <= SORT_UP_TO {
                                let mut paths: Vec<&str> = self.tree.ephemerals_of(s).collect();
                                paths.sort_unstable();
                                for p in paths {
                                    fourlw::tab_line(o, p);
                                }
                                *at += 1;
                                continue;
                            }
                        }
                        let mut printed = 0;
                        for p in self.tree.ephemerals_of(s).skip(*pi).take(EPHEMERAL_BATCH) {
                            fourlw::tab_line(o, p);
                            printed += 1;
                        }
                        *pi += printed;
                        if printed == 0 || *pi >= n {
                            *at += 1;
                            *pi = 0;
                        }
                    }
                    *at >= sessions.len()
                }
            };
            if finished {
                st.parts.pop_front();
            }
        }
        st.parts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::super::pipeline::tests::{create, now, path_op, proposals, session};
    use super::super::{Core, CoreConfig};
    use super::*;
    use crate::proto::codes::op;

    /// Runs `word` on a fresh connection in steps of `step` bytes; the
    /// reply and how many steps it took.
    fn streamed(core: &mut Core, id: ConnId, word: &str, step: usize) -> (String, usize) {
        core.conn_open(id, "127.0.0.1:40999".parse().unwrap(), now());
        let w: [u8; 4] = word.as_bytes().try_into().unwrap();
        core.four_letter_in_steps(id, w, true, now(), &AdminExtras::default(), step);
        let mut out = Vec::new();
        let mut steps = 1;
        loop {
            let mut closed = false;
            core.drain(|o| {
                if o.conn == id {
                    out.append(o.bytes);
                    closed |= o.close;
                }
            });
            if closed {
                break;
            }
            assert!(steps < 1_000_000, "{word} never ends");
            core.fourlw_step(id, step);
            steps += 1;
        }
        core.conn_closed(id);
        (String::from_utf8(out).unwrap(), steps)
    }

    fn commit(core: &mut Core) {
        let z = proposals(core);
        if let Some(last) = z.last() {
            core.commit_through(*last, now());
        }
        core.drain(|o| o.bytes.clear());
    }

    /// Three sessions with ephemerals and data watches (some shared).
    fn busy_core() -> Core {
        let mut core = Core::new(CoreConfig::default(), now());
        for c in 1..=3u64 {
            let id = ConnId::new(0, c);
            session(&mut core, id);
            let mut f = Vec::new();
            for i in 0..5 {
                create(&mut f, i, &format!("/e{c}-{i}"), b"", 1);
            }
            for i in 0..4 {
                path_op(
                    &mut f,
                    10 + i,
                    op::EXISTS,
                    &format!("/w{}", (c as i32) + i),
                    &[1],
                );
            }
            core.conn_input(id, &f, now());
            commit(&mut core);
        }
        core
    }

    #[test]
    fn streamed_listings_match_the_whole_reply_at_every_step_size() {
        let mut core = busy_core();
        let asking = ConnId::new(0, 50);
        for word in [
            "cons", "stat", "wchc", "wchp", "dump", "wchs", "srvr", "mntr",
        ] {
            let cmd = FourLetter::from_word(word.as_bytes().try_into().unwrap()).unwrap();
            for step in [1, 7, 100, FOURLW_STEP] {
                // The reference: rendered at once with the asking connection
                // open and the word itself counted as received.
                let received = core.stats.packets_received;
                core.conn_open(asking, "127.0.0.1:40999".parse().unwrap(), now());
                core.stats.packets_received += 1;
                let mut snap = core.full_snapshot(asking, now(), &AdminExtras::default());
                if cmd == FourLetter::Mntr {
                    snap.mntr = core.mntr_figures(now(), &AdminExtras::default());
                }
                let want = String::from_utf8(fourlw::render(cmd, &snap, true)).unwrap();
                core.conn_closed(asking);
                core.stats.packets_received = received;
                let (got, steps) = streamed(&mut core, asking, word, step);
                assert_eq!(got, want, "{word} in steps of {step}");
                if step == 1 && matches!(word, "cons" | "stat" | "wchc" | "wchp" | "dump") {
                    assert!(steps > 3, "{word} was not streamed");
                }
            }
        }
    }
}
