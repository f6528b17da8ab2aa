//! The text layouts of every word but `mntr`.

use super::*;

pub(super) fn hex(v: i64) -> String {
    format!("{:x}", v as u64)
}

pub(super) fn or_na(s: &str) -> &str {
    if s.is_empty() {
        "<NA>"
    } else {
        s
    }
}

/// Renders the reply to `cmd` exactly as ZooKeeper 3.8 does. `whitelist_ok` false gives
/// `"<cmd> is not executed because it is not in the whitelist.\n"`. For `stmk` the server
/// reads the 8-byte mask first and stores it in `snap.trace_mask`; for `crst`/`srst` it
/// resets its statistics itself.
pub fn render(cmd: FourLetter, snap: &ServerSnapshot, whitelist_ok: bool) -> Vec<u8> {
    let name = cmd.as_str();
    if !whitelist_ok {
        return format!("{name} is not executed because it is not in the whitelist.\n")
            .into_bytes();
    }
    if !snap.serving && cmd.needs_server() {
        return if cmd == FourLetter::Hash {
            NOT_SERVING.into()
        } else {
            format!("{NOT_SERVING}\n").into_bytes()
        };
    }
    let mut o = String::new();
    match cmd {
        FourLetter::Ruok => o.push_str("imok"),
        FourLetter::Isro => o.push_str(match (snap.serving, snap.mode) {
            (false, _) => "null",
            (true, Role::ReadOnly) => "ro",
            (true, _) => "rw",
        }),
        FourLetter::Srvr | FourLetter::Stat => render_stat(&mut o, snap, cmd == FourLetter::Stat),
        FourLetter::Cons => {
            for c in &snap.connections {
                conn_line(&mut o, c, false);
                o.push('\n');
            }
            o.push('\n');
        }
        FourLetter::Wchs => {
            let w = snap
                .watch_summary
                .unwrap_or_else(|| WatchSummary::of(&snap.data_watches));
            wchs(&mut o, w);
        }
        FourLetter::Wchc => {
            for s in snap.data_watches.iter().filter(|s| !s.paths.is_empty()) {
                wchc_session(&mut o, s.session_id);
                for p in &s.paths {
                    tab_line(&mut o, p);
                }
            }
            o.push('\n');
        }
        FourLetter::Wchp => {
            let mut by_path: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
            for s in &snap.data_watches {
                for p in &s.paths {
                    by_path.entry(p).or_default().push(s.session_id);
                }
            }
            for (p, ids) in by_path {
                line(&mut o, p);
                for id in ids {
                    tab_session(&mut o, id);
                }
            }
            o.push('\n');
        }
        FourLetter::Dump => render_dump(&mut o, snap),
        FourLetter::Conf => render_conf(&mut o, &snap.conf),
        FourLetter::Envi => render_envi(&mut o, snap),
        FourLetter::Mntr => render_mntr(&mut o, snap),
        FourLetter::Crst => o.push_str("Connection stats reset.\n"),
        FourLetter::Srst => o.push_str("Server stats reset.\n"),
        FourLetter::Dirs => {
            let _ = write!(
                o,
                "datadir_size: {}\nlogdir_size: {}\n",
                snap.conf.data_dir_size, snap.conf.data_log_size
            );
        }
        FourLetter::Gtmk | FourLetter::Stmk => {
            let _ = write!(o, "{}", snap.trace_mask);
        }
        FourLetter::Hash => {
            for (zxid, digest) in &snap.digest_log {
                let _ = writeln!(o, "{}: {digest}", hex(*zxid));
            }
        }
    }
    o.into_bytes()
}

pub(super) fn render_stat(o: &mut String, s: &ServerSnapshot, clients: bool) {
    stat_head(o, s, clients);
    if clients {
        for c in &s.connections {
            conn_line(o, c, true);
            o.push('\n');
        }
        o.push('\n');
    }
    stat_tail(o, s);
}

/// `stat`/`srvr` up to the client lines (`Clients:` with `clients`).
pub fn stat_head(o: &mut String, s: &ServerSnapshot, clients: bool) {
    let _ = writeln!(o, "Zookeeper version: {}", s.version);
    if s.mode == Role::ReadOnly {
        o.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if clients {
        o.push_str("Clients:\n");
    }
}

/// `stat`/`srvr` after the client lines.
pub fn stat_tail(o: &mut String, s: &ServerSnapshot) {
    let _ = write!(
        o,
        "Latency min/avg/max: {}/{}/{}\nReceived: {}\nSent: {}\nConnections: {}\n\
         Outstanding: {}\nZxid: 0x{}\nMode: {}\nNode count: {}\n",
        s.latency_min,
        java_double(round4(s.latency_avg)),
        s.latency_max,
        s.received,
        s.sent,
        s.alive_connections,
        s.outstanding,
        hex(s.zxid),
        s.mode.as_str(),
        s.node_count
    );
    if s.mode == Role::Leader {
        let (l, mi, ma) = s.proposal_sizes.unwrap_or((-1, -1, -1));
        let _ = writeln!(o, "Proposal sizes last/min/max: {l}/{mi}/{ma}");
    }
}

/// `wchs`: `N connections watching M paths` and the total.
pub fn wchs(o: &mut String, w: WatchSummary) {
    let _ = write!(
        o,
        "{} connections watching {} paths\nTotal watches:{}\n",
        w.connections, w.paths, w.total
    );
}

/// `0x<session>` on its own line (wchc: the session whose paths follow).
pub fn wchc_session(o: &mut String, sid: i64) {
    let _ = writeln!(o, "0x{}", hex(sid));
}

/// `\t0x<session>` (wchp watchers, dump expiry buckets).
pub fn tab_session(o: &mut String, sid: i64) {
    let _ = writeln!(o, "\t0x{}", hex(sid));
}

/// `\t<text>` (wchc paths, dump ephemerals).
pub fn tab_line(o: &mut String, text: &str) {
    o.push('\t');
    o.push_str(text);
    o.push('\n');
}

/// `<text>` on its own line (wchp paths).
pub fn line(o: &mut String, text: &str) {
    o.push_str(text);
    o.push('\n');
}

/// ` /ip:port[ops](queued=..,recved=..,sent=..[,sid=...])` without the newline.
pub fn conn_line(o: &mut String, c: &ConnInfo, brief: bool) {
    let _ = write!(
        o,
        " {}[{:x}](queued={},recved={},sent={}",
        java_socket_addr(&c.addr),
        c.interest_ops,
        c.queued,
        c.recved,
        c.sent
    );
    if !brief {
        if let Some(s) = c.session.as_ref().filter(|s| s.sid != 0) {
            let _ = write!(o, ",sid=0x{},lop={}", hex(s.sid), s.last_op);
            if let Some(est) = s.established_ms {
                let _ = write!(o, ",est={est}");
            }
            if s.timeout_ms != 0 {
                let _ = write!(o, ",to={}", s.timeout_ms);
            }
            if s.last_cxid >= 0 {
                let _ = write!(o, ",lcxid=0x{}", hex(s.last_cxid));
            }
            let _ = write!(
                o,
                ",lzxid=0x{},lresp={},llat={},minlat={},avglat={},maxlat={}",
                hex(s.last_zxid),
                s.last_resp_mono_ms,
                s.llat,
                s.minlat,
                s.avglat,
                s.maxlat
            );
        }
    }
    o.push(')');
}

pub(super) fn render_dump(o: &mut String, s: &ServerSnapshot) {
    let n: usize = s.session_expiry.iter().map(|b| b.session_ids.len()).sum();
    dump_sessions_head(o, s.session_expiry.len(), n);
    for b in &s.session_expiry {
        dump_bucket_head(o, b.session_ids.len(), b.expire_at_ms);
        for id in &b.session_ids {
            tab_session(o, *id);
        }
    }
    dump_ephemerals_head(o, s.ephemerals.len());
    for e in &s.ephemerals {
        dump_ephemerals_of(o, e.session_id);
        for p in &e.paths {
            tab_line(o, p);
        }
    }
    dump_connections(o, &s.conn_expiry);
}

/// `dump`'s first lines: `buckets` session-expiry sets holding `sessions`.
pub fn dump_sessions_head(o: &mut String, buckets: usize, sessions: usize) {
    o.push_str("SessionTracker dump:\n");
    let _ = writeln!(o, "Session Sets ({buckets})/({sessions}):");
}

/// `dump`: one expiry bucket's header (its session lines follow).
pub fn dump_bucket_head(o: &mut String, sessions: usize, expire_at_ms: u64) {
    let _ = writeln!(o, "{sessions} expire at {}:", java_date_utc(expire_at_ms));
}

/// `dump`: the ephemerals section header.
pub fn dump_ephemerals_head(o: &mut String, sessions: usize) {
    o.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(o, "Sessions with Ephemerals ({sessions}):");
}

/// `dump`: `0x<session>:` (its ephemeral paths follow).
pub fn dump_ephemerals_of(o: &mut String, sid: i64) {
    let _ = writeln!(o, "0x{}:", hex(sid));
}

/// `dump`'s last section, the connection-expiry sets.
pub fn dump_connections(o: &mut String, sets: &[ConnExpiryBucket]) {
    o.push_str("Connections dump:\n");
    let n: usize = sets.iter().map(|b| b.conns.len()).sum();
    let _ = writeln!(o, "Connections Sets ({})/({n}):", sets.len());
    for b in sets {
        let _ = writeln!(
            o,
            "{} expire at {}:",
            b.conns.len(),
            java_date_utc(b.expire_at_ms)
        );
        for (addr, sid) in &b.conns {
            let _ = writeln!(
                o,
                "\tip: {} sessionId: 0x{}",
                java_socket_addr(addr),
                hex(*sid)
            );
        }
    }
}

pub(super) fn render_conf(o: &mut String, c: &ConfInfo) {
    let _ = write!(
        o,
        "clientPort={}\nsecureClientPort=-1\ndataDir={}\ndataDirSize={}\ndataLogDir={}\n\
         dataLogSize={}\ntickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\n\
         maxSessionTimeout={}\nclientPortListenBacklog=-1\nserverId={}\n",
        c.client_port,
        c.snap_dir.display(),
        c.data_dir_size,
        c.log_dir.display(),
        c.data_log_size,
        c.tick_time_ms,
        c.max_client_cnxns,
        c.min_session_timeout_ms,
        c.max_session_timeout_ms,
        c.server_id
    );
    if let Some(q) = &c.quorum {
        let _ = write!(
            o,
            "initLimit={}\nsyncLimit={}\nelectionAlg={}\nelectionPort={}\nquorumPort={}\n\
             peerType={}\nmembership: \n",
            q.init_limit,
            q.sync_limit,
            q.election_alg,
            q.election_port,
            q.quorum_port,
            u8::from(q.observer)
        );
        for m in &q.members {
            let host = bracket_v6(&m.host);
            let _ = write!(
                o,
                "server.{}={host}:{}:{}:{}",
                m.id,
                m.quorum_port,
                m.election_port,
                if m.observer {
                    "observer"
                } else {
                    "participant"
                }
            );
            if let Some((h, p)) = &m.client {
                let _ = write!(o, ";{}:{p}", bracket_v6(h));
            }
            o.push('\n');
        }
        // QuorumVerifier.toString() has no newline after the version
        let _ = write!(o, "version={:x}", q.config_version);
    }
}

pub(super) fn bracket_v6(h: &str) -> String {
    if h.contains(':') {
        format!("[{h}]")
    } else {
        h.to_string()
    }
}

pub(super) fn render_envi(o: &mut String, s: &ServerSnapshot) {
    let e = &s.env;
    let lines: [(&str, String); 18] = [
        ("zookeeper.version", s.version.to_string()),
        ("host.name", or_na(&e.host_name).to_string()),
        ("java.version", "<NA>".into()),
        ("java.vendor", "<NA>".into()),
        ("java.home", "<NA>".into()),
        ("java.class.path", "<NA>".into()),
        ("java.library.path", "<NA>".into()),
        ("java.io.tmpdir", or_na(&e.tmp_dir).to_string()),
        ("java.compiler", "<NA>".into()),
        ("os.name", or_na(&e.os_name).to_string()),
        ("os.arch", or_na(&e.os_arch).to_string()),
        ("os.version", or_na(&e.os_version).to_string()),
        ("user.name", or_na(&e.user_name).to_string()),
        ("user.home", or_na(&e.user_home).to_string()),
        ("user.dir", or_na(&e.user_dir).to_string()),
        ("os.memory.free", format!("{}MB", e.memory_free_mb)),
        ("os.memory.max", format!("{}MB", e.memory_max_mb)),
        ("os.memory.total", format!("{}MB", e.memory_total_mb)),
    ];
    o.push_str("Environment:\n");
    for (k, v) in lines {
        let _ = writeln!(o, "{k}={v}");
    }
}
