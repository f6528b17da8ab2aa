//! `mntr`: ZooKeeper 3.8's key set, in its order, with corral's figures.

use super::*;

/// Plain (non-summary) `mntr` keys of ZooKeeper 3.8 beyond zk_version/zk_server_state, with
/// whether the value is a double.
pub(super) const MNTR_GAUGES: &[(&str, bool)] = &[
    ("avg_latency", true),
    ("max_latency", false),
    ("min_latency", false),
    ("packets_received", false),
    ("packets_sent", false),
    ("num_alive_connections", false),
    ("outstanding_requests", false),
    ("uptime", false),
    ("znode_count", false),
    ("watch_count", false),
    ("ephemerals_count", false),
    ("approximate_data_size", false),
    ("global_sessions", false),
    ("local_sessions", false),
    ("open_file_descriptor_count", false),
    ("max_file_descriptor_count", false),
    ("connection_drop_probability", true),
    ("last_client_response_size", false),
    ("max_client_response_size", false),
    ("min_client_response_size", false),
    ("outstanding_tls_handshake", false),
    ("auth_failed_count", false),
    ("non_mtls_remote_conn_count", false),
    ("non_mtls_local_conn_count", false),
];

/// Counters (`zk_<name>`, integers).
pub(super) const MNTR_COUNTERS: &[&str] = &[
    "proposal_count",
    "watch_bytes",
    "outstanding_changes_removed",
    "throttled_ops",
    "stale_requests_dropped",
    "large_requests_rejected",
    "insecure_admin_count",
    "connection_rejected",
    "cnxn_closed_without_zk_server_running",
    "sessionless_connections_expired",
    "looking_count",
    "dead_watchers_queued",
    "stale_requests",
    "connection_drop_count",
    "learner_proposal_received_count",
    "digest_mismatches_count",
    "dead_watchers_cleared",
    "response_packet_cache_hits",
    "bytes_received_count",
    "add_dead_watcher_stall_time",
    "request_throttle_wait_count",
    "requests_not_forwarded_to_commit_processor",
    "response_packet_cache_misses",
    "ensemble_auth_success",
    "prep_processor_request_queued",
    "learner_commit_received_count",
    "stale_replies",
    "connection_request_count",
    "response_bytes",
    "ensemble_auth_fail",
    "diff_count",
    "response_packet_get_children_cache_misses",
    "connection_revalidate_count",
    "quit_leading_due_to_disloyal_voter",
    "snap_count",
    "unrecoverable_error_count",
    "unsuccessful_handshake",
    "commit_count",
    "stale_sessions_expired",
    "response_packet_get_children_cache_hits",
    "sync_processor_request_queued",
    "outstanding_changes_queued",
    "request_commit_queued",
    "ensemble_auth_skip",
    "skip_learner_request_to_next_processor_count",
    "tls_handshake_exceeded",
    "revalidate_count",
];

/// Summaries printed as `zk_{avg,min,max,cnt,sum}_<name>`.
pub(super) const MNTR_SUMMARIES: &[&str] = &[
    "socket_closing_time",
    "proposal_process_time",
    "leader_unavailable_time",
    "node_created_watch_count",
    "session_queues_drained",
    "write_commit_proc_req_queued",
    "connection_token_deficit",
    "read_commit_proc_req_queued",
    "node_deleted_watch_count",
    "startup_txns_load_time",
    "sync_processor_queue_size",
    "follower_sync_time",
    "prep_processor_queue_size",
    "fsynctime",
    "inflight_snap_count",
    "reads_issued_from_session_queue",
    "learner_request_processor_queue_size",
    "snapshottime",
    "unavailable_time",
    "startup_txns_loaded",
    "reads_after_write_in_session_queue",
    "requests_in_session_queue",
    "write_commit_proc_issued",
    "prep_process_time",
    "pending_session_queue_size",
    "time_waiting_empty_pool_in_commit_processor_read_ms",
    "commit_process_time",
    "dbinittime",
    "inflight_diff_count",
    "netty_queued_buffer_capacity",
    "election_time",
    "commit_commit_proc_req_queued",
    "sync_processor_batch_size",
    "node_children_watch_count",
    "write_batch_time_in_commit_processor",
    "read_commit_proc_issued",
    "concurrent_request_processing_in_commit_processor",
    "observer_sync_time",
    "node_changed_watch_count",
    "sync_process_time",
    "startup_snap_load_time",
];

/// Summaries with percentiles: the five keys plus `zk_{p50,p95,p99,p999}_<name>`.
pub(super) const MNTR_SUMMARIES_PCT: &[&str] = &[
    "prep_processor_queue_time_ms",
    "jvm_pause_time_ms",
    "close_session_prep_time",
    "read_commitproc_time_ms",
    "updatelatency",
    "local_write_committed_time_ms",
    "request_throttle_queue_time_ms",
    "readlatency",
    "quorum_ack_latency",
    "om_commit_process_time_ms",
    "read_final_proc_time_ms",
    "commit_propagation_latency",
    "dead_watchers_cleaner_latency",
    "write_final_proc_time_ms",
    "proposal_ack_creation_latency",
    "proposal_latency",
    "om_proposal_process_time_ms",
    "sync_processor_queue_and_flush_time_ms",
    "propagation_latency",
    "server_write_committed_time_ms",
    "sync_processor_queue_time_ms",
    "sync_processor_queue_flush_time_ms",
    "write_commitproc_time_ms",
];

pub(super) fn render_mntr(o: &mut String, s: &ServerSnapshot) {
    let m = &s.mntr;
    let mut kv: Vec<(String, MntrValue)> = Vec::with_capacity(520);
    let int = |v: u64| MntrValue::Int(v.min(i64::MAX as u64) as i64);
    if let Some(ps) = &m.peer_state {
        kv.push(("peer_state".into(), MntrValue::Text(ps.clone())));
    }
    for &(k, is_float) in MNTR_GAUGES {
        let v = match k {
            "avg_latency" => MntrValue::Float(round4(m.avg_latency)),
            "max_latency" => int(m.max_latency),
            "min_latency" => int(m.min_latency),
            "packets_received" => int(m.packets_received),
            "packets_sent" => int(m.packets_sent),
            "num_alive_connections" => int(m.num_alive_connections),
            "outstanding_requests" => int(m.outstanding_requests),
            "uptime" => int(m.uptime),
            "znode_count" => int(m.znode_count),
            "watch_count" => int(m.watch_count),
            "ephemerals_count" => int(m.ephemerals_count),
            "approximate_data_size" => int(m.approximate_data_size),
            "global_sessions" => int(m.global_sessions),
            "local_sessions" => int(m.local_sessions),
            "open_file_descriptor_count" => int(m.open_file_descriptor_count),
            "max_file_descriptor_count" => int(m.max_file_descriptor_count),
            "last_client_response_size" => MntrValue::Int(m.last_client_response_size),
            "max_client_response_size" => MntrValue::Int(m.max_client_response_size),
            "min_client_response_size" => MntrValue::Int(m.min_client_response_size),
            "auth_failed_count" => int(m.auth_failed_count),
            _ if is_float => MntrValue::Float(0.0),
            _ => MntrValue::Int(0),
        };
        kv.push((k.into(), v));
    }
    if let Some(q) = m.quorum_size {
        kv.push(("quorum_size".into(), int(q)));
    }
    if let Some(l) = &m.leader {
        for (k, v) in [
            ("learners", int(l.learners)),
            ("synced_followers", int(l.synced_followers)),
            (
                "synced_non_voting_followers",
                int(l.synced_non_voting_followers),
            ),
            ("synced_observers", int(l.synced_observers)),
            ("pending_syncs", int(l.pending_syncs)),
            ("leader_uptime", int(l.leader_uptime)),
            ("last_proposal_size", MntrValue::Int(l.last_proposal_size)),
            ("max_proposal_size", MntrValue::Int(l.max_proposal_size)),
            ("min_proposal_size", MntrValue::Int(l.min_proposal_size)),
        ] {
            kv.push((k.into(), v));
        }
    }
    for k in MNTR_COUNTERS {
        kv.push(((*k).into(), MntrValue::Int(0)));
    }
    let summary = |kv: &mut Vec<(String, MntrValue)>, name: &str, pct: bool| {
        kv.push((format!("avg_{name}"), MntrValue::Float(0.0)));
        for p in ["min", "max", "cnt", "sum"] {
            kv.push((format!("{p}_{name}"), MntrValue::Int(0)));
        }
        if pct {
            for p in ["p50", "p95", "p99", "p999"] {
                kv.push((format!("{p}_{name}"), MntrValue::Int(0)));
            }
        }
    };
    for n in MNTR_SUMMARIES {
        summary(&mut kv, n, false);
    }
    for n in MNTR_SUMMARIES_PCT {
        summary(&mut kv, n, true);
    }
    for (k, v) in &m.extra {
        let k = k.strip_prefix("zk_").unwrap_or(k);
        match kv.iter_mut().find(|(q, _)| q == k) {
            Some(slot) => slot.1 = v.clone(),
            None => kv.push((k.to_string(), v.clone())),
        }
    }
    let _ = writeln!(o, "zk_version\t{}", s.version);
    let _ = writeln!(o, "zk_server_state\t{}", s.mode.as_str());
    for (k, v) in kv {
        let _ = writeln!(o, "zk_{k}\t{}", v.render());
    }
}
