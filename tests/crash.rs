//! Crash safety of the durable write path.
//!
//! * `sigkill_cycles`: the real binary, one fixed data directory, a client
//!   writing with pipelining (up to 128 requests in flight) while the
//!   server is killed with SIGKILL at a random moment, at least 50 times
//!   (sometimes during recovery itself). After each restart, every
//!   acknowledged write must be there with the acknowledged data and
//!   version, and what survived must be a prefix of what was sent (no
//!   later write without every earlier one). Small segments and a small
//!   snapCount make segment rolls, snapshots and purges happen during the
//!   run. `CRASH_SEED` replays a run.
//! * `lost_unsynced_writes`: the same property on the in-memory device,
//!   whose crash drops every unsynced write (and, in a second model, keeps
//!   a random mix with torn sectors), through the real log, snapshot and
//!   startup code.

mod common;

use common::raw::{self, op, ConnectRequest, ConnectResponse, Dec, Enc};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn spawn(cfg: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .arg("--config")
        .arg(cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn corral")
}

/// Kills the server if the test panics while it runs.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            kill9(c);
        }
    }
}

fn kill9(child: &mut Child) {
    // SIGKILL, and reap it.
    let _ = child.kill();
    let _ = child.wait();
}

/// Connects a new session, retrying while the server starts (or until it
/// has exited: then returns None).
fn connect(addr: &str, child: &mut Child, deadline: Instant, log: &Path) -> Option<TcpStream> {
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            panic!(
                "corral exited during startup: {st}; end of its log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if let Ok(mut s) = TcpStream::connect(addr) {
            s.set_nodelay(true).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            if s.write_all(&raw::frame(&ConnectRequest::new_session(30000).body()))
                .is_ok()
            {
                if let Ok(body) = read_frame(&mut s) {
                    let r = ConnectResponse::decode(&body);
                    if r.session_id != 0 {
                        return Some(s);
                    }
                }
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let n = i32::from_be_bytes(len);
    if !(0..=0x10_0000).contains(&n) {
        return Err(std::io::Error::other(format!("bad frame length {n}")));
    }
    let mut body = vec![0u8; n as usize];
    s.read_exact(&mut body)?;
    Ok(body)
}

/// A reply: (xid, err, body after the header).
fn parse_reply(b: &[u8]) -> (i32, i32, Vec<u8>) {
    let xid = i32::from_be_bytes(b[0..4].try_into().unwrap());
    let err = i32::from_be_bytes(b[12..16].try_into().unwrap());
    (xid, err, b[16..].to_vec())
}

/// Sends `reqs` pipelined and returns the replies in order.
fn call_all(s: &mut TcpStream, reqs: &[(i32, Vec<u8>)]) -> Vec<(i32, Vec<u8>)> {
    let mut out = Vec::with_capacity(reqs.len());
    for chunk in reqs.chunks(256) {
        let mut buf = Vec::new();
        for (i, (opcode, body)) in chunk.iter().enumerate() {
            let payload = Enc::new().i32(i as i32 + 1).i32(*opcode).raw(body).done();
            buf.extend_from_slice(&raw::frame(&payload));
        }
        s.write_all(&buf).unwrap();
        for i in 0..chunk.len() {
            let (xid, err, body) = parse_reply(&read_frame(s).expect("reply"));
            assert_eq!(xid, i as i32 + 1);
            out.push((err, body));
        }
    }
    out
}

/// One write of a cycle.
#[derive(Clone, Debug)]
enum Wr {
    Set { key: usize, data: Vec<u8> },
    Create { path: String, data: Vec<u8> },
}

const KEYS: usize = 40;

fn key_path(k: usize) -> String {
    format!("/crash/k{k:02}")
}

/// The confirmed state: every key's data and version, every created node.
#[derive(Default)]
struct Model {
    keys: Vec<(Vec<u8>, i32)>,
    created: BTreeMap<String, Vec<u8>>,
}

/// Reads back what the server has: each key's (data, version) and whether
/// each path in `paths` exists with which data.
/// Every key's (data, version), and each path's data if it exists.
type State = (Vec<(Vec<u8>, i32)>, Vec<Option<Vec<u8>>>);

fn read_state(s: &mut TcpStream, paths: &[String]) -> State {
    let mut reqs: Vec<(i32, Vec<u8>)> = (0..KEYS)
        .map(|k| (op::GET_DATA, raw::path_watch_req(&key_path(k), false)))
        .collect();
    reqs.extend(
        paths
            .iter()
            .map(|p| (op::GET_DATA, raw::path_watch_req(p, false))),
    );
    let replies = call_all(s, &reqs);
    let mut keys = Vec::new();
    let mut nodes = Vec::new();
    for (i, (err, body)) in replies.into_iter().enumerate() {
        if i < KEYS {
            assert_eq!(err, 0, "key {} missing", key_path(i));
            let mut d = Dec::new(&body);
            let data = d.buf().unwrap_or_default();
            let stat = d.stat();
            keys.push((data, stat.version));
        } else if err == 0 {
            nodes.push(Some(Dec::new(&body).buf().unwrap_or_default()));
        } else {
            assert_eq!(err, raw::err::NO_NODE, "reading {}", paths[i - KEYS]);
            nodes.push(None);
        }
    }
    (keys, nodes)
}

#[test]
fn sigkill_cycles() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::Builder::new()
        .prefix("corral-crash-")
        .tempdir()
        .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             preAllocSize=128\nsnapCount=300\nautopurge.snapRetainCount=3\nautopurge.purgeInterval=1\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("server.log");
    let started = Instant::now();
    let mut model = Model::default();
    // Writes of the last cycle: all sent, the first `acked` acknowledged.
    let mut sent: Vec<Wr> = Vec::new();
    let mut acked = 0usize;
    let cycles = 60;
    let mut total_acked = 0usize;
    for cycle in 0..cycles {
        let mut guard = Guard(Some(spawn(&cfg, &log)));
        if cycle > 0 && rng.below(10) == 0 {
            // Kill during recovery / startup.
            std::thread::sleep(Duration::from_millis(rng.below(30)));
            kill9(guard.0.as_mut().unwrap());
            guard.0 = Some(spawn(&cfg, &log));
        }
        let child = guard.0.as_mut().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut s = connect(&addr, child, deadline, &log).unwrap_or_else(|| {
            panic!(
                "cycle {cycle}: server not serving; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        if cycle == 0 {
            let mut reqs = vec![(
                op::CREATE,
                raw::create_req("/crash", None, raw::OPEN_ACL, 0),
            )];
            for k in 0..KEYS {
                reqs.push((
                    op::CREATE,
                    raw::create_req(&key_path(k), Some(b"init"), raw::OPEN_ACL, 0),
                ));
            }
            for (err, _) in call_all(&mut s, &reqs) {
                assert_eq!(err, 0);
            }
            model.keys = vec![(b"init".to_vec(), 0); KEYS];
        } else {
            // Check the last cycle's writes: the survivors are a prefix of
            // what was sent that covers every acknowledged write.
            let paths: Vec<String> = sent
                .iter()
                .filter_map(|w| match w {
                    Wr::Create { path, .. } => Some(path.clone()),
                    _ => None,
                })
                .collect();
            let (keys, nodes) = read_state(&mut s, &paths);
            let mut exists: BTreeMap<&str, Option<Vec<u8>>> = BTreeMap::new();
            for (p, n) in paths.iter().zip(nodes) {
                exists.insert(p, n);
            }
            // The longest prefix consistent with what we see.
            let mut state = model.keys.clone();
            let mut matches_at = Vec::new();
            let check = |st: &Vec<(Vec<u8>, i32)>, upto: usize| -> bool {
                st == &keys
                    && sent.iter().enumerate().all(|(i, w)| match w {
                        Wr::Create { path, data } => {
                            let e = &exists[path.as_str()];
                            if i < upto {
                                e.as_ref() == Some(data)
                            } else {
                                e.is_none()
                            }
                        }
                        Wr::Set { .. } => true,
                    })
            };
            if check(&state, 0) {
                matches_at.push(0);
            }
            for (i, w) in sent.iter().enumerate() {
                if let Wr::Set { key, data } = w {
                    state[*key] = (data.clone(), state[*key].1 + 1);
                }
                if check(&state, i + 1) {
                    matches_at.push(i + 1);
                }
            }
            let Some(&p) = matches_at.last() else {
                panic!(
                    "cycle {cycle} (seed {seed}): the state after restart is no prefix of the \
                     {} writes sent ({acked} acknowledged); keys now {:?}",
                    sent.len(),
                    keys.iter()
                        .map(|(d, v)| (String::from_utf8_lossy(d).to_string(), *v))
                        .collect::<Vec<_>>()
                );
            };
            assert!(
                p >= acked,
                "cycle {cycle} (seed {seed}): only {p} of {acked} acknowledged writes survived"
            );
            // Adopt the survivors.
            model.keys = keys;
            for w in &sent[..p] {
                if let Wr::Create { path, data } = w {
                    model.created.insert(path.clone(), data.clone());
                }
            }
            // Every earlier acknowledged create, every 10 cycles.
            if cycle % 10 == 0 {
                let all: Vec<String> = model.created.keys().cloned().collect();
                let (_, nodes) = read_state(&mut s, &all);
                for (p, n) in all.iter().zip(nodes) {
                    assert_eq!(n.as_ref(), model.created.get(p), "cycle {cycle}: {p}");
                }
            }
        }
        // Write phase: pipelined, killed at a random moment.
        sent.clear();
        let n_writes = 2000;
        for i in 0..n_writes {
            let data = format!("c{cycle}-w{i}-{}", "x".repeat((i % 7) * 10)).into_bytes();
            if rng.below(3) == 0 {
                sent.push(Wr::Create {
                    path: format!("/crash/n{cycle}_{i}"),
                    data,
                });
            } else {
                sent.push(Wr::Set {
                    key: rng.below(KEYS as u64) as usize,
                    data,
                });
            }
        }
        let mut reader = s.try_clone().unwrap();
        let (tx, rx) = mpsc::channel::<usize>();
        let n_sent = sent.len();
        let rd = std::thread::spawn(move || {
            let mut ok = 0usize;
            while ok < n_sent {
                match read_frame(&mut reader) {
                    Ok(f) => {
                        let (xid, err, _) = parse_reply(&f);
                        if xid < 0 {
                            continue;
                        }
                        assert_eq!(err, 0, "write {xid} failed");
                        assert_eq!(xid as usize, ok + 1, "replies out of order");
                        ok += 1;
                        let _ = tx.send(ok);
                    }
                    Err(_) => break,
                }
            }
            ok
        });
        let kill_after = Duration::from_millis(5 + rng.below(150));
        let t0 = Instant::now();
        let mut w = s.try_clone().unwrap();
        let mut next = 0usize;
        let mut done = 0usize;
        while t0.elapsed() < kill_after && next < n_sent {
            while let Ok(k) = rx.try_recv() {
                done = k;
            }
            if next - done < 128 {
                let body = match &sent[next] {
                    Wr::Set { key, data } => (
                        op::SET_DATA,
                        raw::set_data_req(&key_path(*key), Some(data), -1),
                    ),
                    Wr::Create { path, data } => (
                        op::CREATE,
                        raw::create_req(path, Some(data), raw::OPEN_ACL, 0),
                    ),
                };
                let payload = Enc::new()
                    .i32(next as i32 + 1)
                    .i32(body.0)
                    .raw(&body.1)
                    .done();
                if w.write_all(&raw::frame(&payload)).is_err() {
                    break;
                }
                next += 1;
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        kill9(child);
        let _ = s.shutdown(std::net::Shutdown::Both);
        acked = rd.join().unwrap();
        sent.truncate(next);
        total_acked += acked;
    }
    eprintln!(
        "{cycles} SIGKILL cycles, {total_acked} acknowledged writes, {} nodes created, in {:?}",
        model.created.len(),
        started.elapsed()
    );
    assert!(total_acked > 0, "no write was ever acknowledged");
    let names: Vec<String> = std::fs::read_dir(dir.path().join("data/version-2"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("snapshot.")),
        "no snapshot was taken: {names:?}"
    );
}

mod mem {
    use corral::storage::device::{CrashModel, MemDir, SimRng};
    use corral::storage::log::{recover, LogConfig, TxnLog};
    use corral::storage::snapshot::{decode_snapshot, encode_tree};
    use corral::storage::state::load;
    use corral::tree::acl::open_acl;
    use corral::tree::txn::{Txn, TxnHeader, TxnOp};
    use corral::tree::DataTree;

    fn set(zxid: i64, key: usize, version: i32) -> Txn {
        Txn {
            header: TxnHeader {
                session: 1,
                cxid: zxid as i32,
                zxid,
                time: zxid,
            },
            op: TxnOp::SetData {
                path: format!("/k{key}").into(),
                data: Some(format!("z{zxid}").into_bytes().into()),
                version,
            },
        }
    }

    fn create(zxid: i64, key: usize, pc: i32) -> Txn {
        Txn {
            header: TxnHeader {
                session: 1,
                cxid: zxid as i32,
                zxid,
                time: zxid,
            },
            op: TxnOp::Create {
                path: format!("/k{key}").into(),
                data: Some(format!("z{zxid}").into_bytes().into()),
                acl: open_acl(),
                owner: 0,
                parent_cversion: pc,
            },
        }
    }

    /// Appends, syncs ("acknowledges") at random points, takes snapshots of
    /// the acknowledged state now and then, crashes: recovery must bring
    /// back every acknowledged txn, exactly, and nothing that breaks the
    /// zxid order.
    #[test]
    fn lost_unsynced_writes() {
        let keys = 12usize;
        let mut outcomes = [0usize; 2];
        for (mi, model) in [CrashModel::LOSE_ALL, CrashModel::MIXED]
            .into_iter()
            .enumerate()
        {
            for seed in 0..60u64 {
                let mut rng = SimRng::new(seed * 31 + mi as u64);
                let cfg = LogConfig {
                    segment_size: 2048 + 512 * rng.below(4),
                    flush_bytes: 256,
                };
                let mut log = TxnLog::create(MemDir::new(), cfg).unwrap();
                // The server's view: tree of committed (synced) txns.
                let mut tree = DataTree::new();
                let mut pending: Vec<Txn> = Vec::new();
                let mut versions = vec![-1i32; keys];
                let mut snap: Option<Vec<u8>> = None;
                let mut r = Vec::new();
                let n = 150 + rng.below(150) as i64;
                for z in 1..=n {
                    let k = rng.below(keys as u64) as usize;
                    let t = if versions[k] < 0 {
                        versions[k] = 0;
                        let pc = 1 + versions.iter().filter(|v| **v >= 0).count() as i32 - 1;
                        create(z, k, pc)
                    } else {
                        versions[k] += 1;
                        set(z, k, versions[k])
                    };
                    log.append(&t).unwrap();
                    pending.push(t);
                    if rng.chance(20) {
                        log.sync().unwrap();
                        for t in pending.drain(..) {
                            tree.apply(t, &mut |_| {}, &mut r);
                        }
                        if rng.chance(15) {
                            snap = Some(encode_tree(&tree, &[], 300));
                        }
                    } else if rng.chance(30) {
                        log.flush().unwrap();
                    }
                }
                let acked_zxid = tree.last_zxid;
                let mut crashed = log.dir().crash(&mut rng, model);
                let rec = recover(&mut crashed).unwrap_or_else(|e| {
                    panic!("seed {seed}: recovery refused a plain crash: {e:?}")
                });
                let s = snap
                    .as_ref()
                    .map(|b| ("snapshot", decode_snapshot(b).unwrap()));
                let loaded = load(s, rec, Some("log.1")).unwrap();
                assert!(
                    loaded.last_zxid >= acked_zxid,
                    "seed {seed}: lost acknowledged txns: recovered through {} of {acked_zxid}",
                    loaded.last_zxid
                );
                // Every acknowledged key is there with its data and version
                // (or a later one, from unacknowledged txns that survived).
                for k in 0..keys {
                    let p = format!("/k{k}");
                    if let Some(n) = tree.get(&p) {
                        let got = loaded
                            .tree
                            .get(&p)
                            .unwrap_or_else(|| panic!("seed {seed}: acknowledged {p} missing"));
                        assert!(got.stat().version >= n.stat().version, "seed {seed}: {p}");
                        if loaded.last_zxid == acked_zxid {
                            assert_eq!(got.data(), n.data(), "seed {seed}: {p}");
                            assert_eq!(got.stat(), n.stat(), "seed {seed}: {p}");
                        }
                    }
                }
                outcomes[usize::from(loaded.last_zxid > acked_zxid)] += 1;
            }
        }
        eprintln!(
            "in-memory crashes: {} recovered exactly the acknowledged txns, {} also kept unsynced ones",
            outcomes[0], outcomes[1]
        );
        assert!(outcomes[0] > 0);
    }
}
