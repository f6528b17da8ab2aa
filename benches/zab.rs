//! ZAB pipeline throughput of the pure core: 3 replicas, no faults, every
//! frame encoded and decoded with the peer codec, fsyncs completing at
//! once. One iteration proposes a batch of 100-byte setData txns at the
//! leader (pipelined, all in flight together) and runs the cluster until
//! every one is committed; throughput = commits per second.

use corral::peer::decode_frame;
use corral::tree::txn::{Txn, TxnHeader, TxnOp};
use corral::zab::{Boot, Config, Input, Output, Replica};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::VecDeque;
use std::sync::Arc;

struct Cluster {
    rs: Vec<Replica>,
    queue: VecDeque<(usize, usize, Arc<[u8]>)>,
    sync: Vec<bool>,
    commits: u64,
}

impl Cluster {
    fn new() -> Cluster {
        let mut c = Cluster {
            rs: Vec::new(),
            queue: VecDeque::new(),
            sync: vec![false; 3],
            commits: 0,
        };
        let mut outs = Vec::new();
        for id in 1..=3 {
            let mut cfg = Config::new(id, vec![1, 2, 3], vec![]);
            cfg.log_window = 2000;
            let mut out = Vec::new();
            c.rs.push(Replica::new(cfg, Boot::default(), &mut out));
            outs.push(out);
        }
        for (i, out) in outs.into_iter().enumerate() {
            c.perform(i, out);
        }
        for _ in 0..50 {
            for i in 0..3 {
                let mut out = Vec::new();
                c.rs[i].step(Input::Tick { wall_ms: 0 }, &mut out);
                c.perform(i, out);
            }
            c.settle();
            if c.rs.iter().all(|r| r.is_serving()) {
                return c;
            }
        }
        panic!("no leader");
    }

    fn perform(&mut self, i: usize, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Send { to, frame } => self.queue.push_back((i, to as usize - 1, frame)),
                Output::Sync => self.sync[i] = true,
                Output::Commit(_) if i == 0 => self.commits += 1,
                _ => {}
            }
        }
    }

    fn settle(&mut self) {
        loop {
            while let Some((from, to, frame)) = self.queue.pop_front() {
                let (msg, _) = decode_frame(&frame).unwrap().unwrap();
                let mut out = Vec::new();
                self.rs[to].step(
                    Input::Peer {
                        from: from as u64 + 1,
                        msg,
                    },
                    &mut out,
                );
                self.perform(to, out);
            }
            let mut moved = false;
            for i in 0..3 {
                if std::mem::take(&mut self.sync[i]) {
                    moved = true;
                    let through = self.rs[i].last_zxid();
                    let mut out = Vec::new();
                    self.rs[i].step(Input::Persisted { through }, &mut out);
                    self.perform(i, out);
                }
            }
            if !moved && self.queue.is_empty() {
                return;
            }
        }
    }
}

fn set_data(k: u64) -> Txn {
    Txn {
        header: TxnHeader {
            session: 0,
            cxid: k as i32,
            zxid: 0,
            time: 1_700_000_000_000,
        },
        op: TxnOp::SetData {
            path: "/bench/node-0000000042".into(),
            data: Some(vec![0x5a; 100].into()),
            version: k as i32,
        },
    }
}

fn bench(c: &mut Criterion) {
    const BATCH: u64 = 1000;
    let mut cl = Cluster::new();
    let leader = (0..3)
        .find(|&i| cl.rs[i].leader() == Some(i as u64 + 1))
        .unwrap();
    let mut g = c.benchmark_group("zab");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("commit_3_replicas_pipelined_1000", |b| {
        b.iter(|| {
            let before = cl.commits;
            for k in 0..BATCH {
                let mut out = Vec::new();
                let mut t = set_data(k);
                t.header.zxid = cl.rs[leader].next_zxid().expect("leading");
                cl.rs[leader].step(Input::Propose(std::sync::Arc::new(t)), &mut out);
                cl.perform(leader, out);
            }
            cl.settle();
            assert_eq!(cl.commits - before, BATCH);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
