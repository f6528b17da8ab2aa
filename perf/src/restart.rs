//! `corral-restart`: restart-to-serving time, bytes on disk and resident
//! memory for a data directory of N znodes of V bytes.
//!
//! Builds the data directory with corral's own storage code (the same log
//! writer and snapshot encoder the server runs): N create txns into the txn
//! log, and (unless `--log-only`) a snapshot of the resulting tree, so the
//! server recovers from a snapshot plus an empty log tail, or, with
//! `--log-only`, by replaying all N txns. Then starts the real binary,
//! measures the time from spawn until a getData of the last znode is
//! answered, and reads its VmRSS.
//!
//! ```text
//! cargo build --release --bins -p corral -p corral-perf
//! target/release/corral-restart --corral target/release/corral --znodes 1000000 --value-size 100
//! ```

use clap::Parser;
use corral::storage::log::{LogConfig, TxnLog};
use corral::storage::mmap::MmapDir;
use corral::storage::snapshot::{encode_tree, snapshot_name};
use corral::tree::acl::open_acl;
use corral::tree::txn::{Txn, TxnHeader, TxnOp};
use corral::tree::DataTree;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// The corral binary.
    #[arg(long, default_value = "target/release/corral")]
    corral: PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    znodes: usize,
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Recover by replaying the whole log (no snapshot).
    #[arg(long)]
    log_only: bool,
    #[arg(long, default_value_t = 22991)]
    port: u16,
    /// Where to build the data directory (default: a temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        dir_bytes(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn get_data(addr: &str, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let frame = |b: Vec<u8>| {
        let mut v = (b.len() as i32).to_be_bytes().to_vec();
        v.extend(b);
        v
    };
    // ConnectRequest: protocolVersion, lastZxid, timeout, sessionId, passwd.
    let mut c = Vec::new();
    c.extend(0i32.to_be_bytes());
    c.extend(0i64.to_be_bytes());
    c.extend(30000i32.to_be_bytes());
    c.extend(0i64.to_be_bytes());
    c.extend(16i32.to_be_bytes());
    c.extend([0u8; 16]);
    // getData: xid 1, op 4, path, watch false.
    let mut g = Vec::new();
    g.extend(1i32.to_be_bytes());
    g.extend(4i32.to_be_bytes());
    g.extend((path.len() as i32).to_be_bytes());
    g.extend(path.as_bytes());
    g.push(0);
    let mut out = frame(c);
    out.extend(frame(g));
    if s.write_all(&out).is_err() {
        return false;
    }
    let mut read = || -> Option<Vec<u8>> {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).ok()?;
        let mut b = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
        s.read_exact(&mut b).ok()?;
        Some(b)
    };
    let (Some(_), Some(r)) = (read(), read()) else {
        return false;
    };
    r.len() >= 16 && i32::from_be_bytes(r[12..16].try_into().unwrap()) == 0
}

fn main() {
    let a = Args::parse();
    let tmp = tempfile_dir(a.dir.clone());
    let data = tmp.join("data");
    let v2 = data.join("version-2");
    std::fs::create_dir_all(&v2).unwrap();
    let t0 = Instant::now();
    let mut log = TxnLog::create(MmapDir::new(&v2), LogConfig::default()).unwrap();
    let mut tree = DataTree::new();
    let mut r = Vec::new();
    let value = vec![0x61u8; a.value_size];
    let fanout = 1000usize;
    let mut z = 0i64;
    let mut txn = |op: TxnOp, z: &mut i64| {
        *z += 1;
        let t = Txn {
            header: TxnHeader {
                session: 0,
                cxid: 0,
                zxid: *z,
                time: 1_700_000_000_000,
            },
            op,
        };
        log.append(&t).unwrap();
        if !a.log_only {
            tree.apply(t, &mut |_| {}, &mut r);
            r.clear();
        }
    };
    let dirs = a.znodes.div_ceil(fanout);
    txn(
        TxnOp::Create {
            path: "/b".into(),
            data: None,
            acl: open_acl(),
            owner: 0,
            parent_cversion: 1,
        },
        &mut z,
    );
    let mut last = String::new();
    let mut made = 0;
    for d in 0..dirs {
        txn(
            TxnOp::Create {
                path: format!("/b/d{d:04}").into(),
                data: None,
                acl: open_acl(),
                owner: 0,
                parent_cversion: d as i32 + 1,
            },
            &mut z,
        );
        for k in 0..fanout.min(a.znodes - made) {
            last = format!("/b/d{d:04}/k{k:04}");
            txn(
                TxnOp::Create {
                    path: last.clone().into(),
                    data: Some(value.clone().into()),
                    acl: open_acl(),
                    owner: 0,
                    parent_cversion: k as i32 + 1,
                },
                &mut z,
            );
            made += 1;
        }
    }
    log.close().unwrap();
    if !a.log_only {
        let bytes = encode_tree(&tree, &[], 256 << 10);
        std::fs::write(v2.join(snapshot_name(tree.last_zxid)), bytes).unwrap();
        drop(tree);
    }
    let built = t0.elapsed();
    let on_disk = dir_bytes(&v2);
    let snap_bytes: u64 = std::fs::read_dir(&v2)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("snapshot."))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    let cfg = tmp.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n",
            data.display(),
            a.port
        ),
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", a.port);
    let t1 = Instant::now();
    let mut child = Command::new(&a.corral)
        .arg("--config")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn corral");
    let mut serving = None;
    while t1.elapsed() < Duration::from_secs(120) {
        if get_data(&addr, &last) {
            serving = Some(t1.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let rss_kb = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    let Some(serving) = serving else {
        eprintln!("corral did not serve {last} within 120 s");
        std::process::exit(1);
    };
    let n = a.znodes as f64;
    println!(
        "znodes {} x {} B ({}): built in {:.1?}; on disk {} bytes ({:.0} B/znode; snapshot {} bytes = {:.0} B/znode); \
         restart-to-serving {:.0?}; RSS {} KiB ({:.0} B/znode)",
        a.znodes,
        a.value_size,
        if a.log_only { "log only" } else { "snapshot + log" },
        built,
        on_disk,
        on_disk as f64 / n,
        snap_bytes,
        snap_bytes as f64 / n,
        serving,
        rss_kb,
        rss_kb as f64 * 1024.0 / n
    );
    println!(
        "{{\"znodes\":{},\"value_size\":{},\"log_only\":{},\"disk_bytes\":{},\"snapshot_bytes\":{},\"restart_ms\":{:.1},\"rss_kb\":{}}}",
        a.znodes,
        a.value_size,
        a.log_only,
        on_disk,
        snap_bytes,
        serving.as_secs_f64() * 1000.0,
        rss_kb
    );
    if a.dir.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
}

fn tempfile_dir(d: Option<PathBuf>) -> PathBuf {
    match d {
        Some(d) => {
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            d
        }
        None => {
            let d = std::env::temp_dir().join(format!("corral-restart-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            d
        }
    }
}
