//! Group commit on a real file: W writer threads each append a 100-byte
//! setData txn and wait until it is durable; one log thread runs the
//! runtime's loop (take everything queued, append each into the memory-mapped
//! segment, one fdatasync, wake the writers). Reports txns/s (criterion) and,
//! on stderr, fsyncs/s and records per fsync for 1, 8 and 64 writers.
//!
//! The segment lives in a temp dir under `CORRAL_BENCH_DIR` (default: the
//! system temp dir; it must be a real disk for fdatasync to mean anything).

use corral::storage::log::{LogConfig, TxnLog};
use corral::storage::mmap::MmapDir;
use corral::tree::txn::{Txn, TxnHeader, TxnOp};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crossbeam::channel;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

fn set_data(zxid: i64) -> Txn {
    Txn {
        header: TxnHeader {
            session: 0x0100_0000_0000_0001,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000,
        },
        op: TxnOp::SetData {
            path: "/bench/node-0000000042".into(),
            data: Some(vec![0x5a; 100].into()),
            version: -1,
        },
    }
}

/// The durable zxid, with a condvar for writers waiting on it.
struct Durable {
    zxid: Mutex<i64>,
    cv: Condvar,
}

/// Runs `total` txns from `writers` threads; returns (elapsed, fsyncs).
fn run(writers: usize, total: usize) -> (Duration, u64) {
    let base = std::env::var_os("CORRAL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new()
        .prefix("corral-bench-log-")
        .tempdir_in(base)
        .unwrap();
    let mut log = TxnLog::create(
        MmapDir::new(tmp.path()),
        LogConfig {
            segment_size: 64 << 20,
            flush_bytes: 256 << 10,
        },
    )
    .unwrap();
    let (tx, rx) = channel::unbounded::<Txn>();
    let durable = Arc::new(Durable {
        zxid: Mutex::new(0),
        cv: Condvar::new(),
    });
    let next = Arc::new(AtomicI64::new(0));
    // zxids must reach the log in order: a writer takes its zxid and sends
    // under one lock (the core shard's single thread does this in corral).
    let order = Arc::new(Mutex::new(()));
    let d2 = durable.clone();
    let logger = std::thread::spawn(move || {
        let mut fsyncs = 0u64;
        while let Ok(first) = rx.recv() {
            log.append(&first).unwrap();
            let mut n = 1;
            while n < 8192 {
                match rx.try_recv() {
                    Ok(t) => {
                        log.append(&t).unwrap();
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
            let z = log.sync().unwrap();
            fsyncs += 1;
            *d2.zxid.lock().unwrap() = z;
            d2.cv.notify_all();
        }
        fsyncs
    });
    let per = total / writers;
    let t0 = Instant::now();
    let hs: Vec<_> = (0..writers)
        .map(|_| {
            let tx = tx.clone();
            let durable = durable.clone();
            let next = next.clone();
            let order = order.clone();
            std::thread::spawn(move || {
                for _ in 0..per {
                    let z = {
                        let _g = order.lock().unwrap();
                        let z = next.fetch_add(1, Ordering::Relaxed) + 1;
                        tx.send(set_data(z)).unwrap();
                        z
                    };
                    let mut d = durable.zxid.lock().unwrap();
                    while *d < z {
                        d = durable.cv.wait(d).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let elapsed = t0.elapsed();
    drop(tx);
    let fsyncs = logger.join().unwrap();
    (elapsed, fsyncs)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("txnlog_fsync");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    for writers in [1usize, 8, 64] {
        let total = 512 * writers.min(8);
        g.throughput(Throughput::Elements(total as u64));
        let mut fs = (0u64, 0u64, Duration::ZERO);
        g.bench_function(format!("writers_{writers}"), |b| {
            b.iter_custom(|iters| {
                let mut all = Duration::ZERO;
                for _ in 0..iters {
                    let (e, f) = run(writers, total);
                    all += e;
                    fs.0 += f;
                    fs.1 += (total / writers * writers) as u64;
                    fs.2 += e;
                }
                all
            })
        });
        eprintln!(
            "txnlog_fsync writers={writers}: {:.0} fsyncs/s, {:.1} records per fsync, {:.0} txns/s",
            fs.0 as f64 / fs.2.as_secs_f64(),
            fs.1 as f64 / fs.0.max(1) as f64,
            fs.1 as f64 / fs.2.as_secs_f64()
        );
    }
    g.finish();

    // Append throughput alone: memcpy into the mapped segment, one sync at
    // the end (segment creation is outside the timing).
    let mut g = c.benchmark_group("txnlog_append_mmap");
    const N: i64 = 20_000;
    let txns: Vec<Txn> = (1..=N).map(set_data).collect();
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    g.bench_function("append_100B_setData_then_one_sync", |b| {
        b.iter_custom(|iters| {
            let mut all = Duration::ZERO;
            for _ in 0..iters {
                let tmp = tempfile::tempdir().unwrap();
                let mut log = TxnLog::create(
                    MmapDir::new(tmp.path()),
                    LogConfig {
                        segment_size: 64 << 20,
                        flush_bytes: 256 << 10,
                    },
                )
                .unwrap();
                log.append(&txns[0]).unwrap();
                log.sync().unwrap();
                let t0 = Instant::now();
                for t in &txns[1..] {
                    log.append(t).unwrap();
                }
                log.sync().unwrap();
                all += t0.elapsed();
            }
            all
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
