//! Wire codec and request hot-path benchmarks.
//!
//! * `decode/*`: `decode_request` on typical request bodies (what follows
//!   the RequestHeader in a frame).
//! * `encode/getData_reply`: a getData reply (ReplyHeader + 100 B data +
//!   Stat) framed into a reused Vec.
//! * `core/*`: end to end through the sans-IO [`Core`]: a batch of 64
//!   pipelined frames on one connection, `conn_input` + `drain` (the read
//!   path without sockets). Throughput is per request, so criterion's
//!   "thrpt" is requests/s and time/64 is ns per request.
//!
//! Run: `cargo bench --bench codec` (about a minute).

use corral::proto::codes::{op, perm};
use corral::proto::jute;
use corral::proto::records::{decode_request, put_acl, put_reply_header, Stat};
use corral::server::{Core, CoreConfig};
use corral::types::{ConnId, Now};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

const BATCH: usize = 64;

fn now() -> Now {
    Now {
        mono_ms: 1_000,
        wall_ms: 1_700_000_000_000,
    }
}

// ------------------------------------------------------------ request bodies

fn get_data_body(path: &str, watch: bool) -> Vec<u8> {
    let mut b = Vec::new();
    jute::put_str(&mut b, path);
    jute::put_bool(&mut b, watch);
    b
}

fn create_body(path: &str, data: &[u8], flags: i32) -> Vec<u8> {
    let mut b = Vec::new();
    jute::put_str(&mut b, path);
    jute::put_buffer(&mut b, Some(data));
    jute::put_int(&mut b, 1);
    put_acl(&mut b, perm::ALL, "world", "anyone");
    jute::put_int(&mut b, flags);
    b
}

fn set_data_body(path: &str, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    jute::put_str(&mut b, path);
    jute::put_buffer(&mut b, Some(data));
    jute::put_int(&mut b, -1);
    b
}

fn multi_header(b: &mut Vec<u8>, t: i32, done: bool) {
    jute::put_int(b, t);
    jute::put_bool(b, done);
    jute::put_int(b, -1);
}

/// A multi of 5 ops: create, setData, check, create, delete.
fn multi_body() -> Vec<u8> {
    let mut b = Vec::new();
    multi_header(&mut b, op::CREATE, false);
    b.extend(create_body("/bench/multi/a", b"hello", 0));
    multi_header(&mut b, op::SET_DATA, false);
    b.extend(set_data_body("/bench/multi", &[7; 100]));
    multi_header(&mut b, op::CHECK, false);
    jute::put_str(&mut b, "/bench/multi");
    jute::put_int(&mut b, 3);
    multi_header(&mut b, op::CREATE, false);
    b.extend(create_body("/bench/multi/b", b"", 2));
    multi_header(&mut b, op::DELETE, false);
    jute::put_str(&mut b, "/bench/multi/old");
    jute::put_int(&mut b, -1);
    multi_header(&mut b, -1, true);
    b
}

/// A request frame: length prefix, RequestHeader, body.
fn frame(out: &mut Vec<u8>, xid: i32, opcode: i32, body: &[u8]) {
    corral::client::put_request(out, xid, opcode, |o| o.extend_from_slice(body));
}

fn connect_frame() -> Vec<u8> {
    let mut out = Vec::new();
    corral::client::put_connect_request(&mut out, 0, 30_000, 0, &[0; 16]);
    out
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    let get = get_data_body("/bench/node-0000000042", false);
    let create = create_body("/bench/node-0000000042", &[1; 16], 0);
    let set = set_data_body("/bench/node-0000000042", &[7; 100]);
    let multi = multi_body();
    for (name, opcode, body) in [
        ("getData", op::GET_DATA, &get),
        ("create_acl", op::CREATE, &create),
        ("setData_100B", op::SET_DATA, &set),
        ("multi_5ops", op::MULTI, &multi),
    ] {
        assert!(decode_request(opcode, body).is_ok(), "{name}");
        g.bench_function(name, |b| {
            b.iter(|| decode_request(black_box(opcode), black_box(body)).unwrap())
        });
    }
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    let data = [0x5au8; 100];
    let stat = Stat {
        czxid: 0x1_0000_0042,
        mzxid: 0x1_0000_0099,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_000_500,
        version: 3,
        data_length: 100,
        pzxid: 0x1_0000_0042,
        ..Stat::default()
    };
    let encode = |out: &mut Vec<u8>| {
        out.clear();
        let at = jute::begin_frame(out);
        put_reply_header(out, black_box(17), black_box(0x1_0000_0099), 0);
        jute::put_buffer(out, Some(black_box(&data[..])));
        black_box(&stat).encode(out);
        jute::end_frame(out, at);
        out.len()
    };
    let mut out = Vec::with_capacity(4096);
    assert_eq!(encode(&mut out), 4 + 16 + 4 + 100 + 68);
    g.bench_function("getData_reply", |b| b.iter(|| encode(&mut out)));
    g.finish();
}

/// A core with one connected session and `/bench/n0..n63` holding 100 B.
fn core_with_session() -> (Core, ConnId) {
    let mut core = Core::new(CoreConfig::default(), now());
    let id = ConnId::new(1, 1);
    core.conn_open(id, "127.0.0.1:40000".parse().unwrap(), now());
    let mut setup = connect_frame();
    frame(&mut setup, 1, op::CREATE, &create_body("/bench", b"", 0));
    for k in 0..BATCH {
        let p = format!("/bench/n{k}");
        frame(
            &mut setup,
            2 + k as i32,
            op::CREATE,
            &create_body(&p, &[9; 100], 0),
        );
    }
    core.conn_input(id, &setup, now());
    core.commit_all(now());
    let mut replies = 0;
    core.drain(|o| {
        assert!(!o.close);
        replies += o.bytes.len();
        o.bytes.clear();
    });
    assert!(replies > 0);
    assert!(core.tree().get("/bench/n63").is_some());
    (core, id)
}

/// Runs `batch` through `conn_input` + `drain`, returning the output bytes.
fn run_batch(core: &mut Core, id: ConnId, batch: &[u8]) -> usize {
    core.conn_input(id, batch, now());
    core.commit_all(now());
    let mut n = 0;
    core.drain(|o| {
        n += o.bytes.len();
        o.bytes.clear();
    });
    n
}

fn bench_core(c: &mut Criterion) {
    let mut g = c.benchmark_group("core");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
        .throughput(Throughput::Elements(BATCH as u64));

    // 64 pipelined getData of 64 different 100 B nodes.
    let (mut core, id) = core_with_session();
    let mut batch = Vec::new();
    for k in 0..BATCH {
        let p = format!("/bench/n{k}");
        frame(
            &mut batch,
            100 + k as i32,
            op::GET_DATA,
            &get_data_body(&p, false),
        );
    }
    let out = run_batch(&mut core, id, &batch);
    assert_eq!(out, BATCH * (4 + 16 + 4 + 100 + 68));
    g.bench_function("getData_x64", |b| {
        b.iter(|| run_batch(&mut core, id, black_box(&batch)))
    });

    // One getData per batch, as a lone client sends them: the fixed cost of
    // a batch (session touch, metrics, output routing) on top of the op.
    let mut one = Vec::new();
    frame(
        &mut one,
        99,
        op::GET_DATA,
        &get_data_body("/bench/n7", false),
    );
    assert_eq!(run_batch(&mut core, id, &one), 4 + 16 + 4 + 100 + 68);
    g.throughput(Throughput::Elements(1));
    g.bench_function("getData_x1", |b| {
        b.iter(|| run_batch(&mut core, id, black_box(&one)))
    });
    g.throughput(Throughput::Elements(BATCH as u64));

    // The same with watch=true: registers (re-registers) 64 data watches.
    let mut batch = Vec::new();
    for k in 0..BATCH {
        let p = format!("/bench/n{k}");
        frame(
            &mut batch,
            100 + k as i32,
            op::GET_DATA,
            &get_data_body(&p, true),
        );
    }
    g.bench_function("getData_watch_x64", |b| {
        b.iter(|| run_batch(&mut core, id, black_box(&batch)))
    });

    // 64 pipelined setData of 100 B (version -1) to 64 nodes: prep, commit,
    // apply, reply with a Stat. Fresh core so no watches fire.
    let (mut core, id) = core_with_session();
    let mut batch = Vec::new();
    for k in 0..BATCH {
        let p = format!("/bench/n{k}");
        frame(
            &mut batch,
            100 + k as i32,
            op::SET_DATA,
            &set_data_body(&p, &[3; 100]),
        );
    }
    let out = run_batch(&mut core, id, &batch);
    assert_eq!(out, BATCH * (4 + 16 + 68));
    g.bench_function("setData_100B_x64", |b| {
        b.iter(|| run_batch(&mut core, id, black_box(&batch)))
    });

    // 64 pipelined sequential creates under one parent (the parent grows by
    // 64 children per iteration, so later samples see a bigger parent).
    let mut batch = Vec::new();
    for k in 0..BATCH {
        frame(
            &mut batch,
            100 + k as i32,
            op::CREATE,
            &create_body("/bench/seq-", &[1; 16], 2),
        );
    }
    g.bench_function("create_sequential_x64", |b| {
        b.iter(|| run_batch(&mut core, id, black_box(&batch)))
    });

    // 64 pipelined pings.
    let mut batch = Vec::new();
    for _ in 0..BATCH {
        frame(&mut batch, -2, op::PING, &[]);
    }
    g.bench_function("ping_x64", |b| {
        b.iter(|| run_batch(&mut core, id, black_box(&batch)))
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_encode, bench_core);
criterion_main!(benches);
