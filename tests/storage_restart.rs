//! The real binary over its data directory: writes survive a kill and
//! restart (with snapshots and log segments rolled), retention at startup
//! keeps the newest snapshots and the log they need, `corral log|snapshot
//! verify|dump` report sound files and name the file and offset of damage,
//! and a server whose log was damaged inside acknowledged records refuses
//! to start, naming the file and offset.

mod common;

use common::raw::{self, op, ConnectRequest, ConnectResponse, Enc};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_corral")
}

struct Srv(Child);

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(cfg: &Path, log: &Path) -> Srv {
    let f = std::fs::File::create(log).unwrap();
    Srv(Command::new(bin())
        .arg("--config")
        .arg(cfg)
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap())
}

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut b = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut b).unwrap();
    b
}

fn session(addr: &str) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(mut s) = TcpStream::connect(addr) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(&raw::frame(&ConnectRequest::new_session(30000).body()))
                .unwrap();
            let r = ConnectResponse::decode(&read_frame(&mut s));
            assert!(r.session_id != 0);
            return s;
        }
        assert!(Instant::now() < deadline, "server never served {addr}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `reqs` pipelined; returns each reply's (err, body).
fn calls(s: &mut TcpStream, reqs: &[(i32, Vec<u8>)]) -> Vec<(i32, Vec<u8>)> {
    let mut buf = Vec::new();
    for (i, (opc, body)) in reqs.iter().enumerate() {
        buf.extend(raw::frame(
            &Enc::new().i32(i as i32 + 1).i32(*opc).raw(body).done(),
        ));
    }
    s.write_all(&buf).unwrap();
    (0..reqs.len())
        .map(|_| {
            let f = read_frame(s);
            (
                i32::from_be_bytes(f[12..16].try_into().unwrap()),
                f[16..].to_vec(),
            )
        })
        .collect()
}

fn tool(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    // In zxid order: names carry the zxid in hex without padding, so
    // "snapshot.fc" precedes "snapshot.338".
    v.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let hex = name.trim_start_matches(prefix).trim_end_matches(".tmp");
        (u64::from_str_radix(hex, 16).unwrap_or(u64::MAX), name)
    });
    v
}

#[test]
fn restart_retention_tools_and_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             preAllocSize=64\nsnapCount=250\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let v2 = dir.path().join("data/version-2");
    let log = dir.path().join("server.log");

    // 1. Write 600 nodes and overwrite some; kill; restart; all there.
    {
        let _srv = start(&cfg, &log);
        let mut s = session(&addr);
        let mut reqs = vec![(op::CREATE, raw::create_req("/r", None, raw::OPEN_ACL, 0))];
        for i in 0..600 {
            let d = format!("v{i}:{}", "p".repeat(100));
            reqs.push((
                op::CREATE,
                raw::create_req(&format!("/r/n{i}"), Some(d.as_bytes()), raw::OPEN_ACL, 0),
            ));
        }
        for i in 0..100 {
            reqs.push((
                op::SET_DATA,
                raw::set_data_req(&format!("/r/n{i}"), Some(b"again"), 0),
            ));
        }
        for (e, _) in calls(&mut s, &reqs) {
            assert_eq!(e, 0);
        }
        // Snapshots are written in the background: wait for one to land.
        let deadline = Instant::now() + Duration::from_secs(20);
        while files(&v2, "snapshot.")
            .iter()
            .all(|p| p.to_string_lossy().ends_with(".tmp"))
        {
            assert!(Instant::now() < deadline, "no snapshot after 700 txns");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    {
        let _srv = start(&cfg, &log);
        let mut s = session(&addr);
        let reqs: Vec<(i32, Vec<u8>)> = (0..600)
            .map(|i| {
                (
                    op::GET_DATA,
                    raw::path_watch_req(&format!("/r/n{i}"), false),
                )
            })
            .collect();
        for (i, (e, body)) in calls(&mut s, &reqs).into_iter().enumerate() {
            assert_eq!(e, 0, "/r/n{i} lost");
            let mut d = raw::Dec::new(&body);
            let data = d.buf().unwrap();
            let st = d.stat();
            if i < 100 {
                assert_eq!((data.as_slice(), st.version), (&b"again"[..], 1));
            } else {
                let want = format!("v{i}:{}", "p".repeat(100)).into_bytes();
                assert_eq!((data, st.version), (want, 0));
            }
        }
    }
    let segs = files(&v2, "log.");
    let snaps = files(&v2, "snapshot.");
    assert!(segs.len() >= 2, "segments rolled: {segs:?}");
    assert!(!snaps.is_empty(), "a snapshot was taken");

    // Retention: more snapshots (snapCount=50), then a start with
    // autopurge keeps the newest 3 and drops the segments before them;
    // every node is still there.
    let base = std::fs::read_to_string(&cfg).unwrap();
    let mut rounds = 0;
    std::fs::write(&cfg, base.replace("snapCount=250", "snapCount=50")).unwrap();
    {
        let _srv = start(&cfg, &log);
        let mut s = session(&addr);
        // Rounds of 60 writes until four more snapshots have landed.
        let deadline = Instant::now() + Duration::from_secs(30);
        while files(&v2, "snapshot.").len() < snaps.len() + 4 {
            assert!(Instant::now() < deadline, "snapshots never landed");
            let reqs: Vec<(i32, Vec<u8>)> = (100..160)
                .map(|i| {
                    let d = format!("v{i}:{}", "p".repeat(100));
                    (
                        op::SET_DATA,
                        raw::set_data_req(&format!("/r/n{i}"), Some(d.as_bytes()), -1),
                    )
                })
                .collect();
            for (e, _) in calls(&mut s, &reqs) {
                assert_eq!(e, 0);
            }
            rounds += 1;
            std::thread::sleep(Duration::from_millis(30));
        }
        // The last snapshot may still be in flight: let it land whole.
        std::thread::sleep(Duration::from_millis(200));
    }
    let before: Vec<PathBuf> = files(&v2, "snapshot.")
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(before.len() > 3, "{before:?}");
    std::fs::write(
        &cfg,
        base + "autopurge.snapRetainCount=3\nautopurge.purgeInterval=1\n",
    )
    .unwrap();
    {
        let _srv = start(&cfg, &log);
        let mut s = session(&addr);
        let reqs: Vec<(i32, Vec<u8>)> = (0..600)
            .map(|i| {
                (
                    op::GET_DATA,
                    raw::path_watch_req(&format!("/r/n{i}"), false),
                )
            })
            .collect();
        for (i, (e, body)) in calls(&mut s, &reqs).into_iter().enumerate() {
            assert_eq!(e, 0, "/r/n{i} lost after purge");
            let st = {
                let mut d = raw::Dec::new(&body);
                d.buf();
                d.stat()
            };
            let want = match i {
                0..100 => 1,
                100..160 => rounds,
                _ => 0,
            };
            assert_eq!(st.version, want, "/r/n{i}");
        }
    }
    let after = files(&v2, "snapshot.");
    assert_eq!(after, before[before.len() - 3..].to_vec(), "newest 3 kept");
    let segs = files(&v2, "log.");
    let snaps = after;

    // 2. Tools on sound files.
    let o = tool(&["log", "verify", v2.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let o = tool(&["log", "dump", segs[0].to_str().unwrap()]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("create /r/n") || text.contains("setData /r/n"),
        "{text}"
    );
    assert!(text.lines().filter(|l| l.contains(" zxid=")).count() > 50);
    let snap = snaps.last().unwrap();
    let o = tool(&["snapshot", "verify", snap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let o = tool(&["snapshot", "dump", snap.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.lines().any(|l| l.starts_with("/r/n1 ")), "{text}");

    // 3. Damage: a bit flip inside the first segment's records (all
    // acknowledged: later segments follow it).
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    bytes[1000] ^= 0x10;
    std::fs::write(&segs[0], &bytes).unwrap();
    let o = tool(&["log", "verify", v2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    let name = segs[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(text.contains("CORRUPT") && text.contains(&name), "{text}");
    // A damaged snapshot is refused by the tool with its offset.
    let mut sb = std::fs::read(snap).unwrap();
    let at = sb.len() / 2;
    sb[at] ^= 1;
    let bad = dir.path().join("bad.snapshot");
    std::fs::write(&bad, &sb).unwrap();
    let o = tool(&["snapshot", "verify", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("at offset"));

    // 4. With every snapshot gone the server needs the damaged segment: it
    // refuses to start and names the file and offset.
    for s in &snaps {
        std::fs::remove_file(s).unwrap();
    }
    let mut srv = start(&cfg, &log);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = srv.0.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "a corrupt log was served");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&name) && text.contains("offset"),
        "refusal names file and offset: {text}"
    );
    assert!(TcpStream::connect(&addr).is_err(), "nothing serves");
}
