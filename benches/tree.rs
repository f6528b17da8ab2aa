//! DataTree and WatchManager benchmarks: txns applied straight to the tree
//! (no prep, no codec), and watch fan-out.
//!
//! * `tree/create_100k`: 100 000 creates (100 parents x 1000 children) into
//!   a fresh tree.
//! * `tree/get_stat`: lookup + Stat of random nodes of a 100k-node tree.
//! * `tree/setData_100B`: setData txns on a 100k-node tree.
//! * `tree/delete_100k`: every leaf of a 100k-node tree deleted, in random
//!   order (building the tree is not timed).
//! * `tree/create_sequential_100k`: 100 000 creates under one parent
//!   (`/seq/n%010d`, as prep names sequential nodes).
//! * `watch/*`: one event fanned out to 1000 watchers: one-shot data
//!   watches on a WatchManager (registration not timed), persistent
//!   watches (steady state), and end to end through the Core (setData with
//!   1000 connections holding a persistent watch: 1000 notification frames).
//!
//! Run: `cargo bench --bench tree` (about two minutes).

use corral::proto::codes::{event, op, perm};
use corral::proto::jute;
use corral::proto::records::put_acl;
use corral::server::{Core, CoreConfig};
use corral::tree::acl::{open_acl, AclList};
use corral::tree::txn::{Txn, TxnHeader, TxnOp};
use corral::tree::watch::WatchManager;
use corral::tree::{DataTree, OpResult};
use corral::types::{ConnId, Now};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::time::{Duration, Instant};

const N: usize = 100_000;
const FANOUT: usize = 1000;

/// Applies txns with increasing zxids, ignoring watch triggers.
struct Applier {
    tree: DataTree,
    zxid: i64,
    results: Vec<OpResult>,
    acl: AclList,
}

impl Applier {
    fn new() -> Applier {
        Applier {
            tree: DataTree::new(),
            zxid: 0,
            results: Vec::new(),
            acl: open_acl(),
        }
    }

    fn apply(&mut self, op: TxnOp) {
        self.zxid += 1;
        let txn = Txn {
            header: TxnHeader {
                session: 0,
                cxid: 0,
                zxid: self.zxid,
                time: 1_700_000_000_000 + self.zxid,
            },
            op,
        };
        self.results.clear();
        self.tree.apply(txn, &mut |_| {}, &mut self.results);
        debug_assert!(!matches!(self.results[0], OpResult::Error(_)));
    }

    fn create(&mut self, path: &str, data: &[u8], parent_cversion: i32) {
        let acl = self.acl.clone();
        self.apply(TxnOp::Create {
            path: path.into(),
            data: Some(data.into()),
            acl,
            owner: 0,
            parent_cversion,
        });
    }
}

/// `/b0../b99`, each with children `c0..c999` holding 100 B.
fn paths() -> (Vec<String>, Vec<String>) {
    let parents: Vec<String> = (0..N / FANOUT).map(|p| format!("/b{p}")).collect();
    let mut leaves = Vec::with_capacity(N);
    for p in &parents {
        for c in 0..FANOUT {
            leaves.push(format!("{p}/c{c}"));
        }
    }
    (parents, leaves)
}

fn populate(parents: &[String], leaves: &[String]) -> Applier {
    let mut a = Applier::new();
    for (k, p) in parents.iter().enumerate() {
        a.create(p, b"", k as i32 + 1);
    }
    for (k, l) in leaves.iter().enumerate() {
        a.create(l, &[0x42; 100], (k % FANOUT) as i32 + 1);
    }
    a
}

/// A deterministic shuffle of 0..n (xorshift), for lookups in random order.
fn shuffled(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

fn bench_tree(c: &mut Criterion) {
    let (parents, leaves) = paths();
    let mut g = c.benchmark_group("tree");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(10);

    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("create_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let a = populate(&parents, &leaves);
                total += start.elapsed();
                assert_eq!(a.tree.node_count(), N + N / FANOUT + 5);
                drop(a); // not timed
            }
            total
        })
    });

    let seq: Vec<String> = (0..N).map(|k| format!("/seq/n{k:010}")).collect();
    g.bench_function("create_sequential_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut a = Applier::new();
                a.create("/seq", b"", 1);
                let start = Instant::now();
                for (k, p) in seq.iter().enumerate() {
                    a.create(p, &[1; 16], k as i32 + 1);
                }
                total += start.elapsed();
                drop(a);
            }
            total
        })
    });

    let mut a = populate(&parents, &leaves);
    let order = shuffled(N);
    g.sample_size(20).throughput(Throughput::Elements(1));
    let mut k = 0;
    g.bench_function("get_stat", |b| {
        b.iter(|| {
            k = (k + 1) % N;
            let n = a.tree.get(black_box(&leaves[order[k]])).unwrap();
            black_box((n.stat(), n.data().map(|d| d.len())))
        })
    });

    let data: Box<[u8]> = vec![0x17u8; 100].into();
    g.bench_function("setData_100B", |b| {
        b.iter(|| {
            k = (k + 1) % N;
            a.apply(TxnOp::SetData {
                path: leaves[order[k]].as_str().into(),
                data: Some(data.clone()),
                version: 1,
            });
        })
    });
    drop(a);

    g.sample_size(10).throughput(Throughput::Elements(N as u64));
    g.bench_function("delete_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut a = populate(&parents, &leaves); // not timed
                let start = Instant::now();
                for &i in &order {
                    a.apply(TxnOp::Delete {
                        path: leaves[i].as_str().into(),
                    });
                }
                total += start.elapsed();
                assert_eq!(a.tree.node_count(), N / FANOUT + 5);
                drop(a);
            }
            total
        })
    });
    g.finish();
}

fn bench_watch(c: &mut Criterion) {
    let mut g = c.benchmark_group("watch");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
        .throughput(Throughput::Elements(FANOUT as u64));
    let conns: Vec<ConnId> = (0..FANOUT as u64).map(|k| ConnId::new(1, k)).collect();

    // One-shot data watches: a NodeDataChanged consumes all 1000.
    g.bench_function("trigger_oneshot_1k", |b| {
        b.iter_batched(
            || {
                let mut w = WatchManager::default();
                for c in &conns {
                    w.add_data(*c, "/w/node");
                }
                (w, Vec::with_capacity(FANOUT))
            },
            |(mut w, mut out)| {
                w.trigger(event::NODE_DATA_CHANGED, black_box("/w/node"), &mut out);
                assert_eq!(out.len(), FANOUT);
                (w, out)
            },
            BatchSize::SmallInput,
        )
    });

    // Registration + trigger, all timed.
    let mut w = WatchManager::default();
    let mut out = Vec::with_capacity(FANOUT);
    g.bench_function("add_and_trigger_oneshot_1k", |b| {
        b.iter(|| {
            for c in &conns {
                w.add_data(*c, "/w/node");
            }
            w.trigger(event::NODE_DATA_CHANGED, black_box("/w/node"), &mut out);
            out.len()
        })
    });

    // Persistent watches stay: steady-state fan-out.
    let mut w = WatchManager::default();
    for c in &conns {
        w.add_persistent(*c, "/w/node", false);
    }
    g.bench_function("trigger_persistent_1k", |b| {
        b.iter(|| {
            w.trigger(event::NODE_DATA_CHANGED, black_box("/w/node"), &mut out);
            out.len()
        })
    });

    // Persistent recursive watches on an ancestor.
    let mut w = WatchManager::default();
    for c in &conns {
        w.add_persistent(*c, "/w", true);
    }
    g.bench_function("trigger_recursive_1k", |b| {
        b.iter(|| {
            w.trigger(event::NODE_DATA_CHANGED, black_box("/w/a/b/node"), &mut out);
            out.len()
        })
    });

    // End to end: 1000 sessions hold a persistent watch on /w; one setData
    // from another connection writes 1000 notification frames.
    let (mut core, writer, batch) = core_with_watchers(FANOUT);
    g.bench_function("core_setData_notify_1k", |b| {
        b.iter(|| {
            core.conn_input(writer, black_box(&batch), now());
            core.commit_all(now());
            let mut frames = 0;
            core.drain(|o| {
                frames += 1;
                o.bytes.clear();
            });
            assert_eq!(frames, FANOUT + 1);
        })
    });
    g.finish();
}

fn now() -> Now {
    Now {
        mono_ms: 1_000,
        wall_ms: 1_700_000_000_000,
    }
}

fn frame(out: &mut Vec<u8>, xid: i32, opcode: i32, body: &[u8]) {
    corral::client::put_request(out, xid, opcode, |o| o.extend_from_slice(body));
}

fn connect_frame() -> Vec<u8> {
    let mut out = Vec::new();
    corral::client::put_connect_request(&mut out, 0, 30_000, 0, &[0; 16]);
    out
}

/// A core with `n` watcher connections (persistent watch on /w) and a
/// writer connection, plus the writer's setData frame for /w.
fn core_with_watchers(n: usize) -> (Core, ConnId, Vec<u8>) {
    let mut core = Core::new(CoreConfig::default(), now());
    let addr = "127.0.0.1:40000".parse().unwrap();
    let writer = ConnId::new(1, 0);
    core.conn_open(writer, addr, now());
    let mut setup = connect_frame();
    let mut body = Vec::new();
    jute::put_str(&mut body, "/w");
    jute::put_buffer(&mut body, Some(b""));
    jute::put_int(&mut body, 1);
    put_acl(&mut body, perm::ALL, "world", "anyone");
    jute::put_int(&mut body, 0);
    frame(&mut setup, 1, op::CREATE, &body);
    core.conn_input(writer, &setup, now());
    core.commit_all(now());
    for k in 1..=n as u64 {
        let id = ConnId::new(1, k);
        core.conn_open(id, addr, now());
        let mut f = connect_frame();
        let mut body = Vec::new();
        jute::put_str(&mut body, "/w");
        jute::put_int(&mut body, 0); // PERSISTENT
        frame(&mut f, 1, op::ADD_WATCH, &body);
        core.conn_input(id, &f, now());
        core.commit_all(now());
    }
    core.drain(|o| {
        assert!(!o.close);
        o.bytes.clear();
    });
    let mut batch = Vec::new();
    let mut body = Vec::new();
    jute::put_str(&mut body, "/w");
    jute::put_buffer(&mut body, Some(&[5; 100]));
    jute::put_int(&mut body, -1);
    frame(&mut batch, 2, op::SET_DATA, &body);
    (core, writer, batch)
}

criterion_group!(benches, bench_tree, bench_watch);
criterion_main!(benches);
