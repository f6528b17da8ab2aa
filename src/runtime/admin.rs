//! The AdminServer: ZooKeeper 3.8's `http://host:8080/commands/<name>`
//! (`admin.enableServer`, `admin.serverAddress`, `admin.serverPort`,
//! `admin.commandURL`), answered with ZooKeeper's JSON: the same command
//! names and aliases, the same keys, `command` and `error` in every answer,
//! pretty-printed as ZooKeeper's Jackson prints them.
//!
//! Like ZooKeeper 3.8, the AdminServer does not consult
//! `4lw.commands.whitelist` and asks for no authentication: restrict it
//! with `admin.serverAddress` or turn it off. It runs on the shared bounded
//! HTTP layer ([`super::http`]), on the core shard, and reads the state at
//! the moment of the request.

use super::http::{Request, Response};
use super::CoreHandle;
use crate::proto::fourlw::{self, FourLetter, MemberInfo, ServerSnapshot};
use crate::server::Gather;
use crate::types::{ConnId, Role};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::rc::Rc;

/// Where the AdminServer listens and under which path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConfig {
    pub addr: SocketAddr,
    /// `admin.commandURL` (ZooKeeper's default `/commands`).
    pub command_url: String,
}

/// Every command: its primary name (listed by the index) and aliases.
pub const COMMANDS: &[(&str, &[&str])] = &[
    ("configuration", &["conf", "config"]),
    ("connection_stat_reset", &["crst"]),
    ("connections", &["cons"]),
    ("dirs", &[]),
    ("dump", &[]),
    ("environment", &["env", "envi"]),
    ("get_trace_mask", &["gtmk"]),
    ("hash", &[]),
    ("initial_configuration", &["icfg"]),
    ("is_read_only", &["isro"]),
    ("last_snapshot", &["lsnp"]),
    ("leader", &["lead"]),
    ("monitor", &["mntr"]),
    ("observer_connection_stat_reset", &["orst"]),
    ("observers", &["obsr"]),
    ("ruok", &[]),
    ("server_stats", &["srvr"]),
    ("set_trace_mask", &["stmk"]),
    ("stat_reset", &["srst"]),
    ("stats", &["stat"]),
    ("system_properties", &["sysp"]),
    ("voting_view", &[]),
    ("watch_summary", &["wchs"]),
    ("watches", &["wchc"]),
    ("watches_by_path", &["wchp"]),
    ("zabstate", &[]),
];

/// The primary name of `name` (itself or an alias).
pub fn primary(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(p, aliases)| *p == name || aliases.contains(&name))
        .map(|(p, _)| *p)
}

/// Commands that answer while the server is not serving (ZooKeeper 3.8's
/// `serverRequired = false`); the others answer NOT_SERVING then.
fn runs_without_server(cmd: &str) -> bool {
    matches!(
        cmd,
        "environment"
            | "get_trace_mask"
            | "monitor"
            | "set_trace_mask"
            | "system_properties"
            | "zabstate"
    )
}

/// What a command prints beyond what costs nothing.
fn gather(cmd: &str) -> Gather {
    // server_stats and stats print the uptime and auth failures, which come
    // with mntr's figures.
    Gather {
        connections: matches!(cmd, "connections" | "stats"),
        watches: matches!(cmd, "watches" | "watches_by_path" | "watch_summary"),
        dump: cmd == "dump",
        mntr: matches!(cmd, "monitor" | "server_stats" | "stats"),
    }
}

/// The index page: one link per command, as ZooKeeper's.
fn index(url: &str) -> String {
    let mut o = String::new();
    for (name, _) in COMMANDS {
        o.push_str(&format!("<a href=\"{url}/{name}\">{name}</a>\n<br/>\n"));
    }
    o
}

pub(crate) fn answer(req: &Request, h: &Rc<CoreHandle>, cfg: &AdminConfig) -> Response {
    // Routed on the path as sent: `/commands/ruok`, never
    // `/commandsruok` or `/commands%2Fruok`.
    let url = cfg.command_url.trim_end_matches('/');
    let rest = match req.raw_path.strip_prefix(url) {
        Some(r) if r.is_empty() || r.starts_with('/') => r,
        _ => return Response::not_found(),
    };
    let name = rest.strip_prefix('/').unwrap_or(rest);
    if name.contains('/') {
        return Response::not_found();
    }
    if name.is_empty() {
        return Response::ok("text/html", index(url));
    }
    let body = match primary(name) {
        Some(cmd) => run(cmd, name, req, h),
        None => {
            let mut m = Map::new();
            m.insert("command".into(), json!(name));
            m.insert("error".into(), json!(format!("Unknown command: {name}")));
            m
        }
    };
    Response::ok("application/json", to_jackson(&Value::Object(body)))
}

/// Runs `cmd` (a primary name; `asked` is the name as requested) and
/// returns its JSON object, `command` and `error` last as ZooKeeper puts
/// them.
fn run(cmd: &'static str, asked: &str, req: &Request, h: &Rc<CoreHandle>) -> Map<String, Value> {
    let now = h.clock.now();
    let mut m = Map::new();
    let mut error: Option<String> = None;
    {
        if !h.node.borrow().core().is_serving() && !runs_without_server(cmd) {
            m.insert("command".into(), json!(asked));
            m.insert("error".into(), json!(fourlw::NOT_SERVING));
            return m;
        }
        match cmd {
            "connection_stat_reset" => h.node.borrow_mut().core_mut().reset_stats(true),
            "stat_reset" => h.node.borrow_mut().core_mut().reset_stats(false),
            _ => {}
        }
        let node = h.node.borrow();
        let extras = h.extras_for(&node, four_letter_of(cmd));
        // No connection asks: every connection shows its own counts.
        let mut snap = node
            .core()
            .snapshot_of(gather(cmd), ConnId(u64::MAX), now, &extras);
        // monitor answers while not serving, with what there is.
        snap.serving = true;
        let ens = node.replica();
        match cmd {
            "configuration" => conf(&mut m, &snap),
            "connections" => {
                m.insert("connections".into(), connections(&snap, false));
                m.insert("secure_connections".into(), json!([]));
            }
            "dirs" => {
                m.insert("datadir_size".into(), json!(snap.conf.data_dir_size));
                m.insert("logdir_size".into(), json!(snap.conf.data_log_size));
            }
            "dump" => dump(&mut m, &snap),
            "environment" => {
                let text = String::from_utf8_lossy(&fourlw::render(FourLetter::Envi, &snap, true))
                    .into_owned();
                for line in text.lines().skip(1) {
                    if let Some((k, v)) = line.split_once('=') {
                        m.insert(k.to_string(), json!(v));
                    }
                }
            }
            "get_trace_mask" => {
                m.insert("tracemask".into(), json!(snap.trace_mask));
            }
            "hash" => {
                let digests: Vec<Value> = snap
                    .digest_log
                    .iter()
                    .map(|(z, d)| json!({"zxid": z, "digest": d}))
                    .collect();
                m.insert("digests".into(), Value::Array(digests));
            }
            "initial_configuration" => {
                let text = h.cfg.initial_config.as_deref().unwrap_or_default();
                m.insert("initial_configuration".into(), json!(redact(text)));
            }
            "is_read_only" => {
                m.insert("read_only".into(), json!(snap.mode == Role::ReadOnly));
            }
            "last_snapshot" => {
                let (zxid, ts) = h
                    .log
                    .as_ref()
                    .and_then(|l| last_snapshot(&l.cfg.snap_path()))
                    .unwrap_or((-1, -1));
                m.insert("zxid".into(), json!(format!("{:x}", zxid)));
                m.insert("timestamp".into(), json!(ts));
            }
            "leader" => match ens {
                Some(r) => {
                    let leader = r.leader();
                    m.insert("is_leader".into(), json!(leader == Some(r.id())));
                    m.insert("leader_id".into(), json!(leader.map_or(-1, |l| l as i64)));
                    let ip = leader
                        .and_then(|l| member(&snap, l))
                        .map(|mi| mi.host.clone())
                        .unwrap_or_default();
                    m.insert("leader_ip".into(), json!(ip));
                }
                None => error = Some("server is not initialized".into()),
            },
            "monitor" => {
                let text = String::from_utf8_lossy(&fourlw::render(FourLetter::Mntr, &snap, true))
                    .into_owned();
                for line in text.lines() {
                    let Some((k, v)) = line.split_once('\t') else {
                        continue;
                    };
                    m.insert(k.trim_start_matches("zk_").to_string(), typed(v));
                }
            }
            "observers" => {
                let observers: Vec<Value> = ens
                    .map(|r| {
                        r.learners()
                            .into_iter()
                            .filter(|l| l.observer && l.streaming)
                            .map(|l| json!({"sid": l.id, "last_zxid": l.sent}))
                            .collect()
                    })
                    .unwrap_or_default();
                m.insert("synced_observers".into(), json!(observers.len()));
                m.insert("observers".into(), Value::Array(observers));
            }
            "server_stats" | "stats" => {
                server_stats(&mut m, &snap);
                if cmd == "stats" {
                    m.insert("connections".into(), connections(&snap, true));
                    m.insert("secure_connections".into(), json!([]));
                }
            }
            "set_trace_mask" => match req.param("traceMask") {
                Some(v) => match v.parse::<i64>() {
                    Ok(mask) => {
                        m.insert("tracemask".into(), json!(mask));
                    }
                    Err(_) => {
                        error = Some(format!(
                            "setTraceMask requires long traceMask argument, got {v}"
                        ))
                    }
                },
                None => error = Some("setTraceMask requires long traceMask argument".into()),
            },
            "system_properties" => {
                let env = &snap.env;
                for (k, v) in [
                    ("file.separator", "/"),
                    ("java.io.tmpdir", env.tmp_dir.as_str()),
                    ("line.separator", "\n"),
                    ("os.arch", env.os_arch.as_str()),
                    ("os.name", env.os_name.as_str()),
                    ("os.version", env.os_version.as_str()),
                    ("path.separator", ":"),
                    ("user.dir", env.user_dir.as_str()),
                    ("user.home", env.user_home.as_str()),
                    ("user.name", env.user_name.as_str()),
                ] {
                    m.insert(k.into(), json!(v));
                }
            }
            "voting_view" => voting_view(&mut m, &snap, h),
            "watch_summary" => {
                let w = snap.watch_summary.unwrap_or_default();
                m.insert("num_connections".into(), json!(w.connections));
                m.insert("num_paths".into(), json!(w.paths));
                m.insert("num_total_watches".into(), json!(w.total));
            }
            "watches" => {
                let mut o = Map::new();
                for s in &snap.data_watches {
                    o.insert(s.session_id.to_string(), json!(s.paths));
                }
                m.insert("session_id_to_watched_paths".into(), Value::Object(o));
            }
            "watches_by_path" => {
                let mut by_path: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
                for s in &snap.data_watches {
                    for p in &s.paths {
                        by_path.entry(p).or_default().push(s.session_id);
                    }
                }
                m.insert("path_to_session_ids".into(), json!(by_path));
            }
            "zabstate" => zabstate(&mut m, &snap, h, ens),
            // ruok, the resets: nothing but command and error.
            _ => {}
        }
    }
    match error {
        Some(e) => {
            m.insert("error".into(), json!(e));
            m.insert("command".into(), json!(cmd));
        }
        None => {
            m.insert("command".into(), json!(cmd));
            m.insert("error".into(), Value::Null);
        }
    }
    m
}

/// The four-letter word whose runtime figures `cmd` needs (mntr's
/// extras, the environment, directory sizes).
fn four_letter_of(cmd: &str) -> &'static str {
    match cmd {
        "monitor" => "mntr",
        "environment" | "system_properties" => "envi",
        "dirs" | "server_stats" | "stats" => "dirs",
        _ => "",
    }
}

/// A mntr value as JSON: a number when it reads as one.
fn typed(v: &str) -> Value {
    if let Ok(i) = v.parse::<i64>() {
        return json!(i);
    }
    if v.contains('.') {
        if let Ok(f) = v.parse::<f64>() {
            return json!(f);
        }
    }
    json!(v)
}

fn conf(m: &mut Map<String, Value>, s: &ServerSnapshot) {
    let c = &s.conf;
    m.insert("client_port".into(), json!(c.client_port));
    m.insert("data_dir".into(), json!(c.snap_dir.display().to_string()));
    m.insert(
        "data_log_dir".into(),
        json!(c.log_dir.display().to_string()),
    );
    m.insert("tick_time".into(), json!(c.tick_time_ms));
    m.insert("max_client_cnxns".into(), json!(c.max_client_cnxns));
    m.insert(
        "min_session_timeout".into(),
        json!(c.min_session_timeout_ms),
    );
    m.insert(
        "max_session_timeout".into(),
        json!(c.max_session_timeout_ms),
    );
    m.insert("server_id".into(), json!(c.server_id));
    m.insert("client_port_listen_backlog".into(), json!(-1));
}

fn connections(s: &ServerSnapshot, brief: bool) -> Value {
    let list: Vec<Value> = s
        .connections
        .iter()
        .map(|c| {
            let mut o = Map::new();
            o.insert("remote_socket_address".into(), json!(c.addr.to_string()));
            o.insert("interest_ops".into(), json!(c.interest_ops));
            o.insert("outstanding_requests".into(), json!(c.queued));
            o.insert("packets_received".into(), json!(c.recved));
            o.insert("packets_sent".into(), json!(c.sent));
            if !brief {
                // A connection without a session shows ZooKeeper's defaults.
                let none = fourlw::SessionConnInfo {
                    last_op: "NA",
                    last_cxid: -1,
                    last_zxid: -1,
                    ..Default::default()
                };
                let se = c.session.as_ref().unwrap_or(&none);
                o.insert("session_id".into(), json!(se.sid));
                o.insert("last_operation".into(), json!(se.last_op));
                o.insert("established".into(), json!(se.established_ms.unwrap_or(0)));
                o.insert("session_timeout".into(), json!(se.timeout_ms));
                o.insert("last_cxid".into(), json!(se.last_cxid));
                o.insert("last_zxid".into(), json!(se.last_zxid));
                o.insert("last_response_time".into(), json!(se.last_resp_mono_ms));
                o.insert("last_latency".into(), json!(se.llat));
                o.insert("min_latency".into(), json!(se.minlat));
                o.insert("avg_latency".into(), json!(se.avglat));
                o.insert("max_latency".into(), json!(se.maxlat));
            }
            Value::Object(o)
        })
        .collect();
    Value::Array(list)
}

fn dump(m: &mut Map<String, Value>, s: &ServerSnapshot) {
    let mut expiry = Map::new();
    for b in &s.session_expiry {
        expiry.insert(b.expire_at_ms.to_string(), json!(b.session_ids));
    }
    let mut eph = Map::new();
    for e in &s.ephemerals {
        eph.insert(e.session_id.to_string(), json!(e.paths));
    }
    m.insert("expiry_time_to_session_ids".into(), Value::Object(expiry));
    m.insert("session_id_to_ephemeral_paths".into(), Value::Object(eph));
}

fn server_stats(m: &mut Map<String, Value>, s: &ServerSnapshot) {
    let buffers = |v: Option<(i64, i64, i64)>| {
        let (last, min, max) = v.unwrap_or((-1, -1, -1));
        json!({"last_buffer_size": last, "min_buffer_size": min, "max_buffer_size": max})
    };
    let client = buffers(None);
    let mut st = Map::new();
    st.insert("packets_sent".into(), json!(s.sent));
    st.insert("packets_received".into(), json!(s.received));
    st.insert("fsync_threshold_exceed_count".into(), json!(0));
    st.insert("client_response_stats".into(), client.clone());
    st.insert("data_dir_size".into(), json!(s.conf.data_dir_size));
    st.insert("log_dir_size".into(), json!(s.conf.data_log_size));
    st.insert("provider_null".into(), json!(false));
    st.insert("server_state".into(), json!(s.mode.as_str()));
    st.insert("last_processed_zxid".into(), json!(s.zxid));
    st.insert("outstanding_requests".into(), json!(s.outstanding));
    st.insert("avg_latency".into(), json!(fourlw::round4(s.latency_avg)));
    st.insert("max_latency".into(), json!(s.latency_max));
    st.insert("min_latency".into(), json!(s.latency_min));
    st.insert(
        "num_alive_client_connections".into(),
        json!(s.alive_connections),
    );
    st.insert("uptime".into(), json!(s.mntr.uptime));
    st.insert("auth_failed_count".into(), json!(s.mntr.auth_failed_count));
    st.insert("non_mtlsremote_conn_count".into(), json!(0));
    st.insert("non_mtlslocal_conn_count".into(), json!(0));
    m.insert("version".into(), json!(s.version));
    m.insert("read_only".into(), json!(s.mode == Role::ReadOnly));
    m.insert("server_stats".into(), Value::Object(st));
    m.insert("client_response".into(), client);
    if s.mode == Role::Leader {
        m.insert("proposal_stats".into(), buffers(s.proposal_sizes));
    }
    m.insert("node_count".into(), json!(s.node_count));
}

fn member(s: &ServerSnapshot, id: u64) -> Option<&MemberInfo> {
    s.conf.quorum.as_ref()?.members.iter().find(|m| m.id == id)
}

/// `server.N`'s client address as ZooKeeper shows it: its own from the
/// configuration, another's only when its `server.N` line names one.
fn client_address(s: &ServerSnapshot, h: &CoreHandle, mi: &MemberInfo) -> String {
    match &mi.client {
        Some((host, port)) => format!("{host}:{port}"),
        None if mi.id == s.conf.server_id => h.cfg.listen.to_string(),
        None => String::new(),
    }
}

fn voting_view(m: &mut Map<String, Value>, s: &ServerSnapshot, h: &CoreHandle) {
    let mut view = Map::new();
    for mi in s.conf.quorum.iter().flat_map(|q| q.members.iter()) {
        view.insert(
            mi.id.to_string(),
            json!({
                "server_addresses": [format!("{}:{}", mi.host, mi.quorum_port)],
                "election_addresses": [format!("{}:{}", mi.host, mi.election_port)],
                "client_address": client_address(s, h, mi),
                "learner_type": if mi.observer { "observer" } else { "participant" },
            }),
        );
    }
    m.insert("current_config".into(), Value::Object(view));
}

/// ZooKeeper's MultipleAddresses bean for one `host:port`.
fn addresses(host: &str, port: u16) -> Value {
    let a = format!("{host}:{port}");
    json!({
        "empty": false,
        "all_addresses": [a],
        "all_reachable_addresses": [a],
        "one": a,
        "reachable_address": a,
        "wildcard_addresses": [format!("0.0.0.0:{port}")],
        "all_ports": [port],
        "all_host_strings": [host],
        "all_reachable_addresses_or_all": [a],
        "reachable_or_one": a,
    })
}

fn zabstate(
    m: &mut Map<String, Value>,
    s: &ServerSnapshot,
    h: &CoreHandle,
    ens: Option<&crate::zab::Replica>,
) {
    let (Some(r), Some(me)) = (ens, member(s, s.conf.server_id)) else {
        m.insert("voting".into(), json!(false));
        m.insert("zabstate".into(), json!(""));
        return;
    };
    let leader = r.leader();
    let z = s.zxid;
    let state = if r.is_serving() {
        "broadcast"
    } else if r.is_syncing() {
        "synchronization"
    } else if leader.is_some() {
        "discovery"
    } else {
        "election"
    };
    m.insert("myid".into(), json!(r.id()));
    m.insert("is_leader".into(), json!(leader == Some(r.id())));
    m.insert("quorum_address".into(), addresses(&me.host, me.quorum_port));
    m.insert(
        "election_address".into(),
        addresses(&me.host, me.election_port),
    );
    m.insert("client_address".into(), json!(client_address(s, h, me)));
    m.insert("voting".into(), json!(!me.observer));
    m.insert("last_zxid".into(), json!(format!("0x{:x}", z)));
    m.insert("zab_epoch".into(), json!(z >> 32));
    m.insert("zab_counter".into(), json!(z & 0xffff_ffff));
    m.insert("zabstate".into(), json!(state));
}

/// The configuration file with the values of secret keys (passwords,
/// `DigestAuthenticationProvider.superDigest`) replaced: the AdminServer
/// asks for no authentication.
pub(crate) fn redact(text: &str) -> String {
    let mut o = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let key = t
            .split(|c: char| c == '=' || c == ':' || c.is_whitespace())
            .next()
            .unwrap_or("");
        let lower = key.to_ascii_lowercase();
        let secret = !t.starts_with('#')
            && !t.starts_with('!')
            && (lower.contains("password") || lower.contains("superdigest"));
        match (secret, key.len()) {
            (true, n) if n > 0 => {
                let at = line.len() - t.len();
                o.push_str(&line[..at + n]);
                o.push_str("=********");
                if line.ends_with('\n') {
                    o.push('\n');
                }
            }
            _ => o.push_str(line),
        }
    }
    o
}

/// The newest snapshot in `dir`: (zxid, modification time in seconds).
fn last_snapshot(dir: &std::path::Path) -> Option<(i64, i64)> {
    let names = super::storage::list(dir).ok()?;
    let (name, zxid) = names
        .iter()
        .filter_map(|n| Some((n, crate::storage::snapshot::parse_snapshot_name(n)?)))
        .max_by_key(|(_, z)| *z)?;
    let modified = std::fs::metadata(dir.join(name)).ok()?.modified().ok()?;
    let secs = modified
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Some((zxid, secs))
}

/// Bytes of the regular files directly in `dir` (ZooKeeper's
/// `datadir_size`/`logdir_size`).
pub(crate) fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Prints `v` as Jackson's default pretty printer does (ZooKeeper's
/// AdminServer output): `"key" : value`, two-space indents per object
/// level, arrays on one line (`[ 1, 2 ]`), `{ }` and `[ ]` when empty.
pub fn to_jackson(v: &Value) -> String {
    let mut o = String::new();
    write_jackson(&mut o, v, 0);
    o
}

fn write_jackson(o: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Object(m) if m.is_empty() => o.push_str("{ }"),
        Value::Object(m) => {
            o.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                o.push('\n');
                o.push_str(&"  ".repeat(depth + 1));
                o.push_str(&Value::String(k.clone()).to_string());
                o.push_str(" : ");
                write_jackson(o, v, depth + 1);
            }
            o.push('\n');
            o.push_str(&"  ".repeat(depth));
            o.push('}');
        }
        Value::Array(a) if a.is_empty() => o.push_str("[ ]"),
        Value::Array(a) => {
            o.push_str("[ ");
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    o.push_str(", ");
                }
                write_jackson(o, v, depth);
            }
            o.push_str(" ]");
        }
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 1e15 {
                o.push_str(&format!("{f:.1}"));
            } else {
                o.push_str(&n.to_string());
            }
        }
        other => o.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jackson_layout_matches_zookeeper() {
        // Taken from ZooKeeper 3.8's /commands/connections and /commands/dirs.
        let v = json!({
            "connections": [{"remote_socket_address": "127.0.0.1:39452", "interest_ops": 1}],
            "secure_connections": [],
            "avg": 0.0,
            "ratio": 2.8333,
            "map": {},
            "ids": [1, 2],
            "command": "connections",
            "error": null,
        });
        assert_eq!(
            to_jackson(&v),
            "{\n  \"connections\" : [ {\n    \"remote_socket_address\" : \"127.0.0.1:39452\",\n    \
             \"interest_ops\" : 1\n  } ],\n  \"secure_connections\" : [ ],\n  \"avg\" : 0.0,\n  \
             \"ratio\" : 2.8333,\n  \"map\" : { },\n  \"ids\" : [ 1, 2 ],\n  \"command\" : \
             \"connections\",\n  \"error\" : null\n}"
        );
    }

    #[test]
    fn names_and_aliases_resolve_to_primary_names() {
        assert_eq!(primary("mntr"), Some("monitor"));
        assert_eq!(primary("monitor"), Some("monitor"));
        assert_eq!(primary("config"), Some("configuration"));
        assert_eq!(primary("obsr"), Some("observers"));
        assert_eq!(primary("nosuch"), None);
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.0).collect();
        let sorted = {
            let mut s = names.clone();
            s.sort();
            s
        };
        assert_eq!(
            names, sorted,
            "the index lists commands sorted, as ZooKeeper"
        );
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }

    #[test]
    fn secrets_do_not_leave_through_initial_configuration() {
        let cfg =
            "tickTime=2000\nssl.keyStore.password=hunter2\n  ssl.quorum.trustStore.password : pw\n\
                   DigestAuthenticationProvider.superDigest=super:abc=\n# password=kept comment\n\
                   dataDir=/var/zk";
        let r = redact(cfg);
        assert!(
            !r.contains("hunter2") && !r.contains(" pw") && !r.contains("super:abc"),
            "{r}"
        );
        assert!(r.contains("tickTime=2000\n"));
        assert!(r.contains("ssl.keyStore.password=********\n"));
        assert!(r.contains("  ssl.quorum.trustStore.password=********\n"));
        assert!(r.contains("DigestAuthenticationProvider.superDigest=********\n"));
        assert!(r.contains("# password=kept comment\n"));
        assert!(r.ends_with("dataDir=/var/zk"));
    }

    #[test]
    fn mntr_values_keep_their_types() {
        assert_eq!(typed("12"), json!(12));
        assert_eq!(typed("-1"), json!(-1));
        assert_eq!(typed("2.8333"), json!(2.8333));
        assert_eq!(typed("leading - broadcast"), json!("leading - broadcast"));
        assert_eq!(
            typed("3.8.0-abc, built on x"),
            json!("3.8.0-abc, built on x")
        );
    }
}
