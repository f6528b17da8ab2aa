//! The AdminServer (`admin.*`): every command answers with the keys
//! Apache ZooKeeper 3.8 answers with (compared with its recorded answers in
//! `tests/data/zk38-admin/`), with values that follow the server's state,
//! on a bounded HTTP port that refuses what is not a GET.
//!
//! corral-only in external mode (ZooKeeper's Debian build lacks the servlet
//! jar its AdminServer needs), like the metrics endpoint's tests.

mod common;

use common::ensemble::Ensemble;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;
use zookeeper_client as zk;

/// External mode (`CORRAL_TEST_SERVER`): these tests start their own corral.
fn skipped() -> bool {
    let external = std::env::var("CORRAL_TEST_SERVER").is_ok_and(|s| !s.is_empty());
    if external {
        eprintln!("NOTE: the AdminServer tests start their own corral; skipped in external mode");
    }
    external
}

/// A fresh server with its AdminServer on 127.0.0.1:`port`.
fn with_admin(port: u16) -> ServerBuilder {
    Server::builder()
        .extra("admin.enableServer=true")
        .extra("admin.serverAddress=127.0.0.1")
        .extra(&format!("admin.serverPort={port}"))
        .fresh()
}

/// One raw HTTP exchange: (status line, body).
fn http(addr: &str, request: &[u8]) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("admin connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8(out).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

fn get(addr: &str, path: &str) -> (String, String) {
    http(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: corral\r\n\r\n").as_bytes(),
    )
}

fn command(addr: &str, name: &str) -> Value {
    let (status, body) = get(addr, &format!("/commands/{name}"));
    assert_eq!(status, "HTTP/1.1 200 OK", "{name}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}: {body}"))
}

fn reference(dir: &str, name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/zk38-admin")
        .join(dir)
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// Where the keys of two answers differ: objects must have the same keys
/// (except objects keyed by data: session ids, times, paths, server ids,
/// whose entries are compared when both have one), arrays the same element
/// shape when both have elements, scalars the same JSON type.
fn differences(
    zk: &Value,
    ours: &Value,
    at: &str,
    skip: &dyn Fn(&str) -> bool,
    out: &mut Vec<String>,
) {
    let keyed_by_data = |m: &serde_json::Map<String, Value>| {
        !m.is_empty()
            && m.keys()
                .all(|k| k.starts_with('/') || k.parse::<i64>().is_ok())
    };
    match (zk, ours) {
        (Value::Object(a), Value::Object(b)) if keyed_by_data(a) || keyed_by_data(b) => {
            if let (Some(x), Some(y)) = (a.values().next(), b.values().next()) {
                differences(x, y, &format!("{at}/<entry>"), skip, out);
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys().filter(|k| !skip(k)) {
                match b.get(k) {
                    Some(v) => differences(&a[k], v, &format!("{at}/{k}"), skip, out),
                    None => out.push(format!("{at}/{k}: missing")),
                }
            }
            for k in b.keys().filter(|k| !skip(k) && !a.contains_key(*k)) {
                out.push(format!("{at}/{k}: not in ZooKeeper's answer"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                differences(x, y, &format!("{at}[]"), skip, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.is_f64() != b.is_f64() => out.push(format!(
            "{at}: ZooKeeper {}, corral {}",
            if a.is_f64() { "a double" } else { "an integer" },
            if b.is_f64() { "a double" } else { "an integer" }
        )),
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => {}
        (a, b) => out.push(format!("{at}: ZooKeeper {a}, corral {b}")),
    }
}

fn assert_same_keys(name: &str, zk: &Value, ours: &Value, skip: &dyn Fn(&str) -> bool) {
    let mut out = Vec::new();
    differences(zk, ours, "", skip, &mut out);
    assert!(out.is_empty(), "{name}: {out:#?}\ncorral: {ours:#}");
}

/// ZooKeeper publishes per-top-level-znode byte summaries
/// (`*_per_namespace`), which corral's mntr does not have.
fn per_namespace(k: &str) -> bool {
    k.ends_with("_per_namespace")
}

#[test]
fn every_command_answers_with_zookeepers_keys() {
    if skipped() {
        return;
    }
    let port = free_port();
    let admin = format!("127.0.0.1:{port}");
    let server = with_admin(port).start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The recorded state: one session with an ephemeral /a/e, a data and a
    // child watch on /a and an exists watch on /b.
    let (client, _watchers) = rt.block_on(async {
        let c = server.client().await;
        c.create("/a", b"x", &open_options()).await.unwrap();
        c.create("/a/e", b"y", &options(zk::CreateMode::Ephemeral))
            .await
            .unwrap();
        let (_, _, w1) = c.get_and_watch_data("/a").await.unwrap();
        let (_, _, w2) = c.get_and_watch_children("/a").await.unwrap();
        let w3 = match c.check_and_watch_stat("/b").await.unwrap() {
            (None, w) => w,
            (Some(_), _) => panic!("/b exists"),
        };
        (c, (w1, w2, w3))
    });
    let sid = client.session().id().0;

    // The index lists the commands exactly as ZooKeeper's does.
    let (status, index) = get(&admin, "/commands");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let zk_index = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zk38-admin/index.html"),
    )
    .unwrap();
    assert_eq!(index, zk_index);
    let names: Vec<&str> = index
        .lines()
        .filter_map(|l| l.strip_prefix("<a href=\"/commands/"))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert_eq!(names.len(), 26);
    for name in names {
        let ours = command(&admin, name);
        assert_eq!(ours["command"], name, "{name}");
        let zk = reference("standalone", name);
        match name {
            // Java's system properties: corral has only the few that mean
            // something outside a JVM, each one ZooKeeper has too.
            "system_properties" => {
                let m = ours.as_object().unwrap();
                for k in m.keys() {
                    assert!(
                        zk.get(k).is_some(),
                        "system_properties: {k} is not ZooKeeper's"
                    );
                }
                assert_eq!(ours["os.name"], zk["os.name"]);
            }
            "monitor" => assert_same_keys(name, &zk, &ours, &per_namespace),
            _ => assert_same_keys(name, &zk, &ours, &|_| false),
        }
    }

    // Values follow the state.
    let watches = command(&admin, "watches");
    assert_eq!(
        watches["session_id_to_watched_paths"][sid.to_string()],
        serde_json::json!(["/a", "/b"])
    );
    let by_path = command(&admin, "wchp");
    assert_eq!(by_path["command"], "watches_by_path");
    assert_eq!(
        by_path["path_to_session_ids"]["/b"],
        serde_json::json!([sid])
    );
    let summary = command(&admin, "watch_summary");
    assert_eq!(summary["num_paths"], 2);
    assert_eq!(summary["num_total_watches"], 2);
    let dump = command(&admin, "dump");
    assert_eq!(
        dump["session_id_to_ephemeral_paths"][sid.to_string()],
        serde_json::json!(["/a/e"])
    );
    let stats = command(&admin, "stats");
    assert!(
        !stats["connections"].as_array().unwrap().is_empty(),
        "{stats}"
    );
    let cons = command(&admin, "cons");
    assert!(
        cons["connections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["session_id"] == sid),
        "{cons}"
    );
    let mntr = command(&admin, "mntr");
    assert_eq!(mntr["command"], "monitor");
    assert_eq!(mntr["server_state"], "standalone");
    assert_eq!(mntr["ephemerals_count"], 1);
    assert_eq!(mntr["znode_count"], 7);
    let srvr = command(&admin, "srvr");
    assert_eq!(srvr["node_count"], 7);
    assert!(srvr["server_stats"]["data_dir_size"].as_u64().unwrap() > 0);
    assert!(srvr.get("proposal_stats").is_none(), "leaders only");
    let conf = command(&admin, "conf");
    assert_eq!(conf["command"], "configuration");
    assert_eq!(
        conf["client_port"],
        server
            .addr()
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    );
    let cfg_path = server.data_dir().unwrap().parent().unwrap().join("zoo.cfg");
    let file: String = std::fs::read_to_string(cfg_path)
        .unwrap()
        .lines()
        .map(|l| match l.split_once('=') {
            Some((k, _)) if k.contains("superDigest") => format!("{k}=********\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    assert_eq!(
        command(&admin, "icfg")["initial_configuration"],
        file.as_str()
    );
    // stat_reset zeroes the server's counters; the admin port is not a
    // client and counts nothing.
    rt.block_on(client.check_stat("/a")).unwrap();
    let before = command(&admin, "srvr")["server_stats"]["packets_received"]
        .as_u64()
        .unwrap();
    assert!(before > 0);
    command(&admin, "srst");
    assert_eq!(
        command(&admin, "srvr")["server_stats"]["packets_received"],
        0
    );

    // Errors as ZooKeeper words them.
    let lead = command(&admin, "leader");
    assert_eq!(lead["error"], "server is not initialized");
    let stmk = command(&admin, "stmk");
    assert_eq!(
        stmk["error"],
        "setTraceMask requires long traceMask argument"
    );
    let (_, body) = get(&admin, "/commands/stmk?traceMask=7");
    let stmk: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stmk["tracemask"], 7);
    assert_eq!(stmk["error"], Value::Null);
    let (_, body) = get(&admin, "/commands/stmk?traceMask=x");
    let stmk: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        stmk["error"],
        "setTraceMask requires long traceMask argument, got x"
    );
    let unknown = command(&admin, "nosuch");
    assert_eq!(unknown["error"], "Unknown command: nosuch");
    // Only whole path segments name a command.
    for path in [
        "/commandsruok",
        "/commands%2Fruok",
        "/commands/ruok/x",
        "/command/ruok",
    ] {
        assert_eq!(get(&admin, path).0, "HTTP/1.1 404 Not Found", "{path}");
    }
    // The configuration file comes back without its secrets.
    let icfg = command(&admin, "icfg")["initial_configuration"].clone();
    assert!(icfg
        .as_str()
        .unwrap()
        .contains("DigestAuthenticationProvider.superDigest=********"));

    // The layout is Jackson's.
    let (_, body) = get(&admin, "/commands/ruok");
    assert_eq!(body, "{\n  \"command\" : \"ruok\",\n  \"error\" : null\n}");
    drop(client);
}

#[test]
fn the_admin_port_takes_only_bounded_gets() {
    if skipped() {
        return;
    }
    let port = free_port();
    let admin = format!("127.0.0.1:{port}");
    let server = with_admin(port).extra("admin.commandURL=/zk").start();
    let (status, _) = get(&admin, "/commands/ruok");
    assert_eq!(
        status, "HTTP/1.1 404 Not Found",
        "admin.commandURL moves it"
    );
    let (status, body) = get(&admin, "/zk/ruok");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let (status, _) = http(
        &admin,
        b"POST /zk/ruok HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, body) = http(&admin, b"HEAD /zk/ruok HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "", "HEAD gets no body");
    let (status, _) = http(
        &admin,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    );
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    // A head that never ends within 8 KiB (exactly that much is sent, so
    // that all of it is read before the answer and the close).
    let mut long = b"GET /zk/ruok HTTP/1.1\r\nX: ".to_vec();
    long.resize(8192, b'a');
    let mut s = TcpStream::connect(&admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&long).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(
        out.starts_with(b"HTTP/1.1 431 "),
        "{:?}",
        String::from_utf8_lossy(&out[..out.len().min(80)])
    );
    // Idle connections past the cap (4 from one address) are closed at
    // once; the others once the 1 s for a request head has passed; the port
    // answers again then, and the client port never noticed.
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&admin).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let closed = |conns: &[TcpStream]| {
        conns
            .iter()
            .filter(|c| {
                c.set_nonblocking(true).unwrap();
                let mut b = [0u8; 1];
                match (&**c).read(&mut b) {
                    Ok(0) => true,
                    Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                    Ok(_) => false,
                }
            })
            .count()
    };
    let now_closed = closed(&idle);
    assert!(
        (16..20).contains(&now_closed),
        "{now_closed} of 20 idle connections closed at once (want all but the 4 served)"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        closed(&idle),
        20,
        "idle connections outlived the head deadline"
    );
    let (status, _) = get(&admin, "/zk/ruok");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(four_letter(server.addr(), "ruok").unwrap(), "imok");
}

#[test]
fn a_busy_admin_port_does_not_stop_the_server() {
    if skipped() {
        return;
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let server = with_admin(port).start();
    assert_eq!(four_letter(server.addr(), "ruok").unwrap(), "imok");
    let log = server.log_text().unwrap_or_default();
    assert!(log.contains("AdminServer not started"), "{log}");
}

#[test]
fn the_ensemble_shows_its_roles_like_zookeeper() {
    if skipped() {
        return;
    }
    let mut e = Ensemble::start_with(
        3,
        |_| "127.0.0.1".to_string(),
        "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n",
    );
    let leader = e.wait_stable(&[0, 1, 2], Duration::from_secs(30));
    let ports: Vec<u16> = e.nodes.iter().map(|n| n.admin).collect();
    let addr = |i: usize| format!("127.0.0.1:{}", ports[i]);
    for i in 0..3 {
        let role = if i == leader { "leader" } else { "follower" };
        for name in [
            "leader",
            "zabstate",
            "voting_view",
            "observers",
            "server_stats",
            "configuration",
        ] {
            let ours = command(&addr(i), name);
            assert_same_keys(
                &format!("{role} {name}"),
                &reference(role, name),
                &ours,
                &|_| false,
            );
        }
        let lead = command(&addr(i), "leader");
        assert_eq!(lead["is_leader"], i == leader);
        assert_eq!(lead["leader_id"], e.nodes[leader].id);
        assert_eq!(lead["leader_ip"], "127.0.0.1");
        let zab = command(&addr(i), "zabstate");
        assert_eq!(zab["myid"], e.nodes[i].id);
        assert_eq!(zab["voting"], true);
        assert_eq!(zab["zabstate"], "broadcast");
        assert_eq!(
            zab["quorum_address"]["one"],
            format!("127.0.0.1:{}", e.nodes[i].quorum)
        );
        let view = command(&addr(i), "voting_view");
        let members = view["current_config"].as_object().unwrap();
        assert_eq!(members.len(), 3);
        for n in &e.nodes {
            assert_eq!(
                members[&n.id.to_string()]["server_addresses"],
                serde_json::json!([format!("127.0.0.1:{}", n.quorum)])
            );
            assert_eq!(members[&n.id.to_string()]["learner_type"], "participant");
        }
        let mode = command(&addr(i), "mntr")["server_state"].clone();
        assert_eq!(mode, role);
    }
    // Without a quorum: what needs a serving server says so (the name as
    // asked), the rest answers.
    let survivor = (leader + 1) % 3;
    e.kill(leader);
    e.kill((leader + 2) % 3);
    let t0 = std::time::Instant::now();
    while command(&addr(survivor), "ruok")["error"].is_null() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "still serving without a quorum"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for name in ["ruok", "srvr", "conf", "cons", "leader"] {
        let r = command(&addr(survivor), name);
        assert_eq!(r["command"], name);
        assert_eq!(
            r["error"],
            "This ZooKeeper instance is not currently serving requests"
        );
    }
    let mntr = command(&addr(survivor), "mntr");
    assert_eq!(mntr["error"], Value::Null);
    assert!(mntr["znode_count"].as_u64().unwrap() >= 5, "{mntr}");
    let zab = command(&addr(survivor), "zabstate");
    assert_eq!(zab["error"], Value::Null);
    assert!(
        matches!(
            zab["zabstate"].as_str(),
            Some("election" | "discovery" | "synchronization")
        ),
        "{zab}"
    );
}
