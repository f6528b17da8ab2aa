//! Txn log throughput: appends of 100-byte setData txns into a MemDevice
//! (encode + buffer + device write, synced every 64 appends), and txn record
//! encode/decode alone.

use corral::storage::device::MemDir;
use corral::storage::log::{LogConfig, TxnLog};
use corral::storage::record::{decode_entry, decode_record, encode_txn_record};
use corral::tree::txn::{Txn, TxnHeader, TxnOp};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};

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

fn bench(c: &mut Criterion) {
    const N: i64 = 10_000;
    let txns: Vec<Txn> = (1..=N).map(set_data).collect();
    let mut one = Vec::new();
    let rec_len = encode_txn_record(&mut one, &txns[0], 0);

    let mut g = c.benchmark_group("txnlog");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("append_100B_setData_sync64_memdevice", |b| {
        b.iter_batched(
            || {
                TxnLog::create(
                    MemDir::new(),
                    LogConfig {
                        segment_size: 4 << 20,
                        flush_bytes: 64 << 10,
                    },
                )
                .unwrap()
            },
            |mut log| {
                for (i, t) in txns.iter().enumerate() {
                    log.append(t).unwrap();
                    if i % 64 == 63 {
                        log.sync().unwrap();
                    }
                }
                log.sync().unwrap();
                log
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Bytes(rec_len as u64));
    let mut buf = Vec::with_capacity(4096);
    g.bench_function("encode_setData_100B", |b| {
        b.iter(|| {
            buf.clear();
            encode_txn_record(&mut buf, black_box(&txns[0]), 0)
        })
    });
    g.bench_function("decode_setData_100B", |b| {
        b.iter(|| {
            let r = decode_record(black_box(&one)).unwrap();
            decode_entry(&r).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
