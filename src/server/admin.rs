//! Four-letter words: a snapshot of the server's state, rendered with
//! ZooKeeper's exact text layouts by [`crate::proto::fourlw`].

use super::Core;
use crate::proto::fourlw::{
    self, ConfInfo, ConnInfo, EnvInfo, FourLetter, MntrFigures, MntrValue, ServerSnapshot,
    SessionConnInfo, SessionExpiryBucket, SessionPaths,
};
use crate::types::{ConnId, Now};

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

impl Core {
    /// The state a four-letter word prints, as seen by connection `asking`.
    pub fn snapshot(&self, asking: ConnId, now: Now, extras: &AdminExtras) -> ServerSnapshot {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        ids.sort();
        let connections = ids
            .iter()
            .map(|id| {
                let c = &self.conns[id];
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
                let (recved, sent) = if *id == asking {
                    (1, 0)
                } else {
                    (c.stats.received, c.stats.sent)
                };
                ConnInfo {
                    addr: c.addr,
                    interest_ops: u32::from(c.session.is_some()),
                    queued: 0,
                    recved,
                    sent,
                    session,
                }
            })
            .collect();
        let session_of = |c: ConnId| self.conns.get(&c).and_then(|x| x.session).unwrap_or(0);
        let data_watches = self
            .watches
            .data_paths_by_conn()
            .into_iter()
            .map(|(c, paths)| SessionPaths {
                session_id: session_of(c),
                paths,
            })
            .collect();
        let mut ephemerals: Vec<SessionPaths> = self
            .tree
            .ephemeral_sessions()
            .map(|(s, _)| {
                let mut paths: Vec<String> =
                    self.tree.ephemerals_of(s).map(str::to_string).collect();
                paths.sort();
                SessionPaths {
                    session_id: s,
                    paths,
                }
            })
            .collect();
        ephemerals.sort_by_key(|e| e.session_id);
        // Expiry buckets are on the monotonic clock; dump prints wall time.
        let to_wall = |mono: u64| (now.wall_ms.max(0) as u64 + mono).saturating_sub(now.mono_ms);
        let session_expiry = self
            .sessions
            .buckets()
            .into_iter()
            .map(|(at, ids)| SessionExpiryBucket {
                expire_at_ms: to_wall(at),
                session_ids: ids,
            })
            .collect();
        let (open_fds, max_fds) = extras.fds.unwrap_or((0, 0));
        // ZooKeeper reports latencies in milliseconds.
        let (_, min_us, mean_us, max_us) = self.latency.overall();
        let ms = |us: u64| us / 1000;
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
        let mntr = MntrFigures {
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
            global_sessions: self.sessions.len() as u64,
            open_file_descriptor_count: open_fds,
            max_file_descriptor_count: max_fds,
            auth_failed_count: self.stats.auth_failed,
            avg_latency: mean_us / 1000.0,
            min_latency: ms(min_us),
            max_latency: ms(max_us),
            extra,
            ..Default::default()
        };
        ServerSnapshot {
            latency_min: ms(min_us),
            latency_avg: mean_us / 1000.0,
            latency_max: ms(max_us),
            received: self.stats.packets_received,
            sent: self.stats.packets_sent,
            alive_connections: self.conns.len() as u64,
            zxid: self.last_zxid(),
            node_count: self.tree.node_count() as u64,
            connections,
            data_watches,
            ephemerals,
            session_expiry,
            conf: extras.conf.clone(),
            env: extras.env.clone().unwrap_or_default(),
            mntr,
            mode: match self.mode {
                super::Mode::Standalone => crate::proto::fourlw::Mode::Standalone,
                super::Mode::Leader => crate::proto::fourlw::Mode::Leader,
                super::Mode::Learner if self.cfg.observer => crate::proto::fourlw::Mode::Observer,
                super::Mode::Learner | super::Mode::NotServing => {
                    crate::proto::fourlw::Mode::Follower
                }
            },
            serving: self.mode != super::Mode::NotServing,
            ..Default::default()
        }
    }

    /// Answers a four-letter word on a fresh connection, then closes it.
    pub fn four_letter(
        &mut self,
        id: ConnId,
        word: [u8; 4],
        allowed: bool,
        now: Now,
        extras: &AdminExtras,
    ) {
        // Refused (e.g. over maxClientCnxns) or already closing: no answer.
        if self.conns.get(&id).is_none_or(|c| c.close) {
            return;
        }
        self.stats.packets_received += 1;
        let text = match FourLetter::from_word(word) {
            Some(cmd) => {
                if allowed {
                    match cmd {
                        FourLetter::Crst => {
                            for c in self.conns.values_mut() {
                                c.stats.received = 0;
                                c.stats.sent = 0;
                            }
                        }
                        FourLetter::Srst => {
                            self.stats.packets_received = 0;
                            self.stats.packets_sent = 0;
                            self.latency.reset();
                        }
                        _ => {}
                    }
                }
                let snap = self.snapshot(id, now, extras);
                fourlw::render(cmd, &snap, allowed)
            }
            None => Vec::new(),
        };
        if let Some(c) = self.conns.get_mut(&id) {
            c.out.extend_from_slice(&text);
        }
        self.close_conn(id);
    }
}
