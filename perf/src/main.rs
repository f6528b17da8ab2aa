//! corral-perf: a closed-loop load generator for ZooKeeper-protocol servers
//! (corral or Apache ZooKeeper), built on corral's pipelined client.
//!
//! `--clients` sessions, each with `--inflight` slots; every slot issues its
//! next request as soon as its previous one completes. Sessions are spread
//! over `--threads` glommio executors. Setup (keys under a fresh prefix) and
//! cleanup are not timed; the first `--warmup` seconds are not measured.
//! Results are checked (see `verify_*`); a human table goes to stdout, then
//! one JSON line as the last line.
//!
//! Exit code: 0 clean, 1 request errors / aborted / nothing measured,
//! 2 wrong results, 3 could not connect or set up.

use clap::{Parser, ValueEnum};
use corral::client::{create_flags, Client, ClientError, Response};
use corral::proto::records::Stat;
use hdrhistogram::Histogram;
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// create2 of PERSISTENT_SEQUENTIAL nodes under a parent per slot
    Create,
    /// setData(version -1) on a random key
    Set,
    /// getData on a random key
    Get,
    /// --read-pct % getData, the rest setData
    Mixed,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Mixed => "mixed",
        }
    }
}

/// Closed-loop load generator on corral's own ZooKeeper client.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
struct Args {
    /// Servers, host:port[,host:port..]; session i uses server i mod n.
    #[arg(long, default_value = "127.0.0.1:2181")]
    servers: String,
    #[arg(long, value_enum, default_value = "get")]
    workload: Workload,
    /// Percentage of reads for --workload mixed.
    #[arg(long, default_value_t = 90)]
    read_pct: u32,
    /// Sessions.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Outstanding requests per session (closed-loop slots sharing it).
    #[arg(long, default_value_t = 8)]
    inflight: usize,
    /// Bytes per znode write.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unmeasured seconds of load before the measured window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Pre-created keys for set/get/mixed.
    #[arg(long, default_value_t = 10000)]
    keys: usize,
    /// glommio executors (threads) the sessions are spread over.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Root znode of the run (must not exist); default /corral-perf-<random>.
    #[arg(long)]
    prefix: Option<String>,
    /// Leave the run's znodes in place.
    #[arg(long)]
    no_cleanup: bool,
    #[arg(long, default_value_t = 15000)]
    session_timeout_ms: u32,
    /// Stop the run after this many request errors.
    #[arg(long, default_value_t = 10000)]
    max_errors: u64,
    /// Server pids whose CPU time is sampled over the measured window.
    #[arg(long, value_delimiter = ',')]
    server_pids: Vec<u32>,
    /// Free text copied into the JSON line.
    #[arg(long)]
    label: Option<String>,
    /// Seed of the key choice (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

// ------------------------------------------------------------ helpers

/// xorshift64*: enough for picking keys.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}

/// The value of `key` after write generation `gen` (0 = setup): key and gen
/// in the first 16 bytes (when there is room), then pseudo-random filler.
fn fill_value(buf: &mut Vec<u8>, key: u64, gen: u64, size: usize) {
    buf.clear();
    buf.extend_from_slice(&key.to_be_bytes());
    buf.extend_from_slice(&gen.to_be_bytes());
    let mut r = Rng::new(key ^ gen.rotate_left(32) ^ 0x5bd1_e995);
    while buf.len() < size {
        buf.extend_from_slice(&r.next().to_le_bytes());
    }
    buf.truncate(size);
}

/// The (key, gen) header of a value, when it has one.
fn value_header(v: &[u8]) -> Option<(u64, u64)> {
    if v.len() < 16 {
        return None;
    }
    let k = u64::from_be_bytes(v[..8].try_into().ok()?);
    let g = u64::from_be_bytes(v[8..16].try_into().ok()?);
    Some((k, g))
}

fn cpu_seconds(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the comm field
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0) // USER_HZ is 100 on Linux
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

fn hist_json(h: &Histogram<u64>) -> serde_json::Value {
    if h.is_empty() {
        return json!({"count": 0});
    }
    json!({
        "count": h.len(),
        "min": h.min(),
        "mean": (h.mean() * 10.0).round() / 10.0,
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
    })
}

// ------------------------------------------------------------ run layout

/// Everything a thread needs to know about the run, shared read-only.
struct Plan {
    args: Args,
    servers: Vec<SocketAddr>,
    prefix: String,
    slots: usize,
    /// keys >= slots: every slot owns the keys k with k % slots == slot and
    /// checks exact versions and read-your-writes.
    owned: bool,
}

impl Plan {
    fn key_path(&self, k: usize) -> String {
        format!("{}/k{k:07}", self.prefix)
    }
    fn slot_parent(&self, slot: usize) -> String {
        format!("{}/c/s{slot:05}", self.prefix)
    }
}

/// Per-thread results. `ops` and the histograms count successful requests
/// issued inside the measured window; failed ones only count as errors.
#[derive(Default)]
struct Stats {
    hist: Option<Histogram<u64>>,
    read: Option<Histogram<u64>>,
    write: Option<Histogram<u64>>,
    ops: u64,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
    wrong: u64,
    wrong_samples: Vec<String>,
    last_done: Option<Instant>,
    aborted: bool,
    final_check_failed: u64,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            hist: Some(new_hist()),
            read: Some(new_hist()),
            write: Some(new_hist()),
            ..Stats::default()
        }
    }

    fn merge(&mut self, o: Stats) {
        for (a, b) in [
            (&mut self.hist, o.hist),
            (&mut self.read, o.read),
            (&mut self.write, o.write),
        ] {
            if let (Some(a), Some(b)) = (a.as_mut(), b) {
                let _ = a.add(b);
            }
        }
        self.ops += o.ops;
        self.errors += o.errors;
        for (k, v) in o.error_kinds {
            *self.error_kinds.entry(k).or_default() += v;
        }
        self.wrong += o.wrong;
        for s in o.wrong_samples {
            if self.wrong_samples.len() < 20 {
                self.wrong_samples.push(s);
            }
        }
        self.last_done = self.last_done.max(o.last_done);
        self.aborted |= o.aborted;
        self.final_check_failed += o.final_check_failed;
    }

    fn wrong(&mut self, msg: String) {
        self.wrong += 1;
        if self.wrong_samples.len() < 20 {
            eprintln!("corral-perf: WRONG RESULT: {msg}");
            self.wrong_samples.push(msg);
        }
    }

    fn error(&mut self, e: &ClientError) {
        self.errors += 1;
        *self.error_kinds.entry(e.kind().to_string()).or_default() += 1;
    }
}

#[derive(Clone, Copy)]
struct Times {
    warm_end: Instant,
    end: Instant,
    hard_stop: Instant,
}

// ------------------------------------------------------------ one slot

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

type DataResponse = Response<(Vec<u8>, Stat)>;

/// What a slot remembers about the keys it owns (owned mode) or has seen.
struct SlotKeys {
    /// Key ids this slot may pick from.
    keys: Vec<usize>,
    /// Last known version (owned: exact; shared: highest seen).
    version: Vec<i32>,
    /// Last write generation (owned mode).
    gen: Vec<u64>,
    /// A request on this key failed: its outcome is unknown until the next success.
    unsure: Vec<bool>,
}

struct ThreadCtx {
    plan: Rc<Plan>,
    stats: RefCell<Stats>,
    errors_seen: Cell<u64>,
    abort: Cell<bool>,
    times: Times,
}

impl ThreadCtx {
    fn done(&self, kind: Kind, issued: Instant, measured: bool) {
        let now = Instant::now();
        if !measured {
            return;
        }
        let us = now.duration_since(issued).as_micros() as u64;
        let mut s = self.stats.borrow_mut();
        s.ops += 1;
        s.last_done = Some(now);
        if let Some(h) = s.hist.as_mut() {
            h.saturating_record(us.max(1));
        }
        let h = match kind {
            Kind::Read => s.read.as_mut(),
            Kind::Write => s.write.as_mut(),
        };
        if let Some(h) = h {
            h.saturating_record(us.max(1));
        }
    }

    fn failed(&self, e: &ClientError) {
        self.stats.borrow_mut().error(e);
        let n = self.errors_seen.get() + 1;
        self.errors_seen.set(n);
        if n >= self.plan.args.max_errors || matches!(e, ClientError::Closed) {
            self.abort.set(true);
        }
    }
}

async fn run_slot(ctx: Rc<ThreadCtx>, client: Rc<Client>, slot: usize, seed: u64) {
    let plan = ctx.plan.clone();
    let a = &plan.args;
    let mut rng = Rng::new(seed ^ (slot as u64).wrapping_mul(0x1000_0000_01b3));
    let mut value = Vec::with_capacity(a.value_size);
    let size = a.value_size;
    // per-slot key state
    let mut sk = match a.workload {
        Workload::Create => SlotKeys {
            keys: Vec::new(),
            version: Vec::new(),
            gen: Vec::new(),
            unsure: Vec::new(),
        },
        _ => {
            let keys: Vec<usize> = if plan.owned && a.workload != Workload::Get {
                (slot..a.keys).step_by(plan.slots).collect()
            } else {
                (0..a.keys).collect()
            };
            let n = keys.len();
            SlotKeys {
                keys,
                version: vec![0; n],
                gen: vec![0; n],
                unsure: vec![false; n],
            }
        }
    };
    let paths: Vec<String> = sk.keys.iter().map(|k| plan.key_path(*k)).collect();
    let parent = plan.slot_parent(slot);
    let seq_prefix = format!("{parent}/n-");
    let mut next_seq: i64 = 0;
    let mut create_unsure = false;
    let mut gen_counter: u64 = (slot as u64) << 40;

    loop {
        let now = Instant::now();
        // a lost connection fails every later request at once: stop the slot
        if now >= ctx.times.end || ctx.abort.get() {
            break;
        }
        if !client.is_connected() {
            ctx.stats.borrow_mut().aborted = true;
            break;
        }
        let measured = now >= ctx.times.warm_end;
        match a.workload {
            Workload::Create => {
                fill_value(&mut value, slot as u64, next_seq as u64 + 1, size);
                let t = Instant::now();
                let r = client
                    .create2(&seq_prefix, &value, create_flags::PERSISTENT_SEQUENTIAL)
                    .await;
                match r {
                    Ok((path, stat)) => {
                        ctx.done(Kind::Write, t, measured);
                        let seq = path
                            .strip_prefix(&seq_prefix)
                            .and_then(|s| s.parse::<i64>().ok());
                        let mut s = ctx.stats.borrow_mut();
                        match seq {
                            Some(q) if q == next_seq || create_unsure => {}
                            _ => s.wrong(format!(
                                "create under {parent}: got {path}, expected sequence {next_seq}"
                            )),
                        }
                        if stat.data_length != size as i32 || stat.version != 0 {
                            s.wrong(format!(
                                "create {path}: stat dataLength {} version {}",
                                stat.data_length, stat.version
                            ));
                        }
                        next_seq = seq.unwrap_or(next_seq) + 1;
                        create_unsure = false;
                    }
                    Err(e) => {
                        ctx.failed(&e);
                        create_unsure = true;
                    }
                }
            }
            w => {
                let i = rng.below(sk.keys.len());
                let key = sk.keys[i];
                let read = match w {
                    Workload::Get => true,
                    Workload::Set => false,
                    _ => rng.below(100) < a.read_pct as usize,
                };
                if read {
                    let t = Instant::now();
                    let r = client.get_data(&paths[i], false).await;
                    match r {
                        Ok((data, stat)) => {
                            ctx.done(Kind::Read, t, measured);
                            verify_read(&ctx, &plan, &mut sk, i, key, &data, &stat)
                        }
                        Err(e) => ctx.failed(&e),
                    }
                } else {
                    gen_counter += 1;
                    fill_value(&mut value, key as u64, gen_counter, size);
                    let t = Instant::now();
                    let r: Result<Stat, ClientError> = client.set_data(&paths[i], &value, -1).await;
                    match r {
                        Ok(stat) => {
                            ctx.done(Kind::Write, t, measured);
                            verify_set(&ctx, &plan, &mut sk, i, gen_counter, &stat)
                        }
                        Err(e) => {
                            ctx.failed(&e);
                            sk.unsure[i] = true;
                        }
                    }
                }
            }
        }
    }

    // Final check (owned set/mixed): every owned key holds this slot's last write.
    if plan.owned
        && matches!(a.workload, Workload::Set | Workload::Mixed)
        && !ctx.abort.get()
        && client.is_connected()
    {
        let reads: Vec<(usize, DataResponse)> = (0..sk.keys.len())
            .filter(|i| !sk.unsure[*i])
            .map(|i| (i, client.get_data(&paths[i], false)))
            .collect();
        for (i, r) in reads {
            match r.await {
                Ok((data, stat)) => {
                    fill_value(&mut value, sk.keys[i] as u64, sk.gen[i], size);
                    if data != value || stat.version != sk.version[i] {
                        let mut s = ctx.stats.borrow_mut();
                        s.final_check_failed += 1;
                        s.wrong(format!(
                            "final read of {}: version {} (expected {}), data {}",
                            paths[i],
                            stat.version,
                            sk.version[i],
                            if data == value { "ok" } else { "differs" }
                        ));
                    }
                }
                Err(e) => {
                    let mut s = ctx.stats.borrow_mut();
                    s.error(&e);
                    *s.error_kinds
                        .entry(format!("verify_{}", e.kind()))
                        .or_default() += 1;
                }
            }
        }
    }
}

fn verify_read(
    ctx: &ThreadCtx,
    plan: &Plan,
    sk: &mut SlotKeys,
    i: usize,
    key: usize,
    data: &[u8],
    stat: &Stat,
) {
    let a = &plan.args;
    let mut expect = Vec::with_capacity(a.value_size);
    let mut s = ctx.stats.borrow_mut();
    let path = plan.key_path(key);
    if a.workload == Workload::Get {
        fill_value(&mut expect, key as u64, 0, a.value_size);
        if data != expect.as_slice() || stat.version != 0 {
            s.wrong(format!(
                "get {path}: version {} data {}",
                stat.version,
                if data == expect.as_slice() {
                    "ok"
                } else {
                    "differs from the setup value"
                }
            ));
        }
        return;
    }
    if plan.owned {
        if sk.unsure[i] {
            // adopt whatever is there, if it is one of ours
            if let Some((k, g)) = value_header(data) {
                if k == key as u64 {
                    sk.gen[i] = g;
                }
            }
            sk.version[i] = stat.version;
            sk.unsure[i] = false;
            return;
        }
        fill_value(&mut expect, key as u64, sk.gen[i], a.value_size);
        if data != expect.as_slice() || stat.version != sk.version[i] {
            s.wrong(format!(
                "read-your-writes on {path}: version {} (expected {}), data {}",
                stat.version,
                sk.version[i],
                if data == expect.as_slice() {
                    "ok"
                } else {
                    "differs from the last write"
                }
            ));
        }
    } else {
        // shared keys: the value must be a write of this key, versions never go back
        if let Some((k, g)) = value_header(data) {
            fill_value(&mut expect, k, g, a.value_size);
            if k != key as u64 || data != expect.as_slice() {
                s.wrong(format!("read of {path}: value does not belong to the key"));
            }
        } else if data.len() != a.value_size {
            s.wrong(format!("read of {path}: {} bytes", data.len()));
        }
        if stat.version < sk.version[i] {
            s.wrong(format!(
                "read of {path}: version {} went back from {}",
                stat.version, sk.version[i]
            ));
        }
        sk.version[i] = sk.version[i].max(stat.version);
    }
}

fn verify_set(ctx: &ThreadCtx, plan: &Plan, sk: &mut SlotKeys, i: usize, gen: u64, stat: &Stat) {
    let a = &plan.args;
    let mut s = ctx.stats.borrow_mut();
    if stat.data_length != a.value_size as i32 {
        s.wrong(format!(
            "set {}: dataLength {}",
            plan.key_path(sk.keys[i]),
            stat.data_length
        ));
    }
    if plan.owned {
        if !sk.unsure[i] && stat.version != sk.version[i] + 1 {
            s.wrong(format!(
                "set {}: version {} (expected {})",
                plan.key_path(sk.keys[i]),
                stat.version,
                sk.version[i] + 1
            ));
        }
        sk.unsure[i] = false;
        sk.gen[i] = gen;
        sk.version[i] = stat.version;
    } else {
        if stat.version <= sk.version[i] {
            s.wrong(format!(
                "set {}: version {} not above {}",
                plan.key_path(sk.keys[i]),
                stat.version,
                sk.version[i]
            ));
        }
        sk.version[i] = sk.version[i].max(stat.version);
    }
}

// ------------------------------------------------------------ threads

enum ThreadMsg {
    Ready,
    Failed(String),
}

async fn load_thread(
    t: usize,
    plan: Rc<Plan>,
    ready: mpsc::Sender<ThreadMsg>,
    go: mpsc::Receiver<Times>,
    seed: u64,
) -> Stats {
    let a = &plan.args;
    let mut clients = Vec::new();
    for i in (t..a.clients).step_by(a.threads) {
        let addr = plan.servers[i % plan.servers.len()];
        match Client::connect(addr, a.session_timeout_ms).await {
            Ok(c) => clients.push((i, Rc::new(c))),
            Err(e) => {
                let _ = ready.send(ThreadMsg::Failed(format!("connect {addr}: {e}")));
                return Stats::new();
            }
        }
    }
    let _ = ready.send(ThreadMsg::Ready);
    // the one blocking wait of the thread: nothing else runs on it yet
    let Ok(times) = go.recv() else {
        return Stats::new();
    };
    let ctx = Rc::new(ThreadCtx {
        plan: plan.clone(),
        stats: RefCell::new(Stats::new()),
        errors_seen: Cell::new(0),
        abort: Cell::new(false),
        times,
    });
    let mut tasks = Vec::new();
    for (i, c) in &clients {
        for k in 0..a.inflight {
            let slot = i * a.inflight + k;
            tasks.push(glommio::spawn_local(run_slot(
                ctx.clone(),
                c.clone(),
                slot,
                seed,
            )));
        }
    }
    let all = async {
        for task in tasks {
            task.await;
        }
        false
    };
    let stop = async {
        let left = times.hard_stop.saturating_duration_since(Instant::now());
        glommio::timer::sleep(left).await;
        true
    };
    let stuck = futures_lite::future::or(all, stop).await;
    // Close the sessions together (bounded); after a stall just drop them.
    if !stuck {
        let closes: Vec<_> = clients
            .into_iter()
            .filter_map(|(_, c)| Rc::try_unwrap(c).ok())
            .map(|c| glommio::spawn_local(async move { c.close().await.is_ok() }))
            .collect();
        let _ = futures_lite::future::or(
            async {
                for t in closes {
                    t.await;
                }
            },
            glommio::timer::sleep(Duration::from_secs(5)),
        )
        .await;
    }
    let mut stats = ctx.stats.take();
    stats.aborted |= stuck || ctx.abort.get();
    stats
}

fn spawn_executor<T, F, G>(name: &str, f: G) -> std::io::Result<glommio::ExecutorJoinHandle<T>>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + 'static,
    G: FnOnce() -> F + Send + 'static,
{
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .name(name)
        .spawn(f)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Awaits `rs` in order, `window` at a time (issued up front), returning
/// the first error.
async fn pipelined<T>(
    mut issue: impl FnMut(usize) -> Response<T>,
    n: usize,
    window: usize,
    ok_codes: &[i32],
) -> Result<(), String> {
    let mut at = 0;
    while at < n {
        let end = (at + window).min(n);
        let rs: Vec<Response<T>> = (at..end).map(&mut issue).collect();
        for r in rs {
            if let Err(e) = r.await {
                if !e.code().is_some_and(|c| ok_codes.contains(&c)) {
                    return Err(e.to_string());
                }
            }
        }
        at = end;
    }
    Ok(())
}

async fn setup(plan: Rc<Plan>) -> Result<(), String> {
    let a = &plan.args;
    let c = Client::connect(plan.servers[0], a.session_timeout_ms)
        .await
        .map_err(|e| format!("connect {}: {e}", plan.servers[0]))?;
    c.create(&plan.prefix, b"", 0)
        .await
        .map_err(|e| format!("create {}: {e}", plan.prefix))?;
    match a.workload {
        Workload::Create => {
            c.create(&format!("{}/c", plan.prefix), b"", 0)
                .await
                .map_err(|e| e.to_string())?;
            pipelined(
                |s| c.create(&plan.slot_parent(s), b"", 0),
                plan.slots,
                512,
                &[],
            )
            .await?;
        }
        _ => {
            let mut v = Vec::new();
            pipelined(
                |k| {
                    fill_value(&mut v, k as u64, 0, a.value_size);
                    c.create(&plan.key_path(k), &v, 0)
                },
                a.keys,
                512,
                &[],
            )
            .await?;
        }
    }
    c.sync(&plan.prefix).await.map_err(|e| e.to_string())?;
    c.close().await.map_err(|e| e.to_string())
}

async fn cleanup(plan: Rc<Plan>) -> Result<(), String> {
    let a = &plan.args;
    let c = Client::connect(plan.servers[0], a.session_timeout_ms)
        .await
        .map_err(|e| e.to_string())?;
    let no_node = [corral::proto::codes::err::NO_NODE];
    match a.workload {
        Workload::Create => {
            for s in 0..plan.slots {
                let parent = plan.slot_parent(s);
                let kids = match c.get_children(&parent, false).await {
                    Ok(k) => k,
                    Err(ClientError::Zk(-101)) => continue,
                    Err(e) => return Err(e.to_string()),
                };
                pipelined(
                    |k| c.delete(&format!("{parent}/{}", kids[k]), -1),
                    kids.len(),
                    1024,
                    &no_node,
                )
                .await?;
                pipelined(|_| c.delete(&parent, -1), 1, 1, &no_node).await?;
            }
            pipelined(
                |_| c.delete(&format!("{}/c", plan.prefix), -1),
                1,
                1,
                &no_node,
            )
            .await?;
        }
        _ => {
            pipelined(|k| c.delete(&plan.key_path(k), -1), a.keys, 1024, &no_node).await?;
        }
    }
    c.delete(&plan.prefix, -1)
        .await
        .map_err(|e| e.to_string())?;
    c.close().await.map_err(|e| e.to_string())
}

/// Runs `f` on a fresh executor thread, bounded by `limit`.
fn on_executor<F, G>(name: &str, limit: Duration, plan: &Plan, f: G) -> Result<(), String>
where
    F: std::future::Future<Output = Result<(), String>> + 'static,
    G: FnOnce(Rc<Plan>) -> F + Send + 'static,
{
    let p = Plan {
        args: plan.args.clone(),
        servers: plan.servers.clone(),
        prefix: plan.prefix.clone(),
        slots: plan.slots,
        owned: plan.owned,
    };
    let h = spawn_executor(name, move || async move {
        let work = f(Rc::new(p));
        let timer = async {
            glommio::timer::sleep(limit).await;
            Err(format!("did not finish in {} s", limit.as_secs()))
        };
        futures_lite::future::or(work, timer).await
    })
    .map_err(|e| e.to_string())?;
    h.join().map_err(|e| e.to_string())?
}

// ------------------------------------------------------------ main

fn main() {
    let args = Args::parse();
    std::process::exit(run(args));
}

fn run(args: Args) -> i32 {
    if args.clients == 0 || args.inflight == 0 || args.threads == 0 || args.value_size > 1 << 20 {
        eprintln!(
            "corral-perf: --clients, --inflight and --threads must be >= 1, --value-size <= 1 MiB"
        );
        return 64;
    }
    if args.workload != Workload::Create && args.keys == 0 {
        eprintln!("corral-perf: --keys must be >= 1");
        return 64;
    }
    let mut servers = Vec::new();
    for s in args.servers.split(',').filter(|s| !s.is_empty()) {
        match s.to_socket_addrs().ok().and_then(|mut a| a.next()) {
            Some(a) => servers.push(a),
            None => {
                eprintln!("corral-perf: cannot resolve {s}");
                return 64;
            }
        }
    }
    if servers.is_empty() {
        eprintln!("corral-perf: no servers");
        return 64;
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32
    });
    let prefix = args
        .prefix
        .clone()
        .unwrap_or_else(|| format!("/corral-perf-{:012x}", Rng::new(seed).next() >> 16));
    let slots = args.clients * args.inflight;
    let owned = args.keys >= slots;
    let plan = Plan {
        args: args.clone(),
        servers: servers.clone(),
        prefix: prefix.clone(),
        slots,
        owned,
    };

    // setup
    let t_setup = Instant::now();
    if let Err(e) = on_executor("perf-setup", Duration::from_secs(300), &plan, setup) {
        eprintln!("corral-perf: setup failed: {e}");
        return 3;
    }
    let setup_s = t_setup.elapsed().as_secs_f64();

    // load threads
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut gos = Vec::new();
    let mut handles = Vec::new();
    for t in 0..args.threads {
        let (go_tx, go_rx) = mpsc::channel();
        gos.push(go_tx);
        let ready = ready_tx.clone();
        let p = Plan {
            args: args.clone(),
            servers: servers.clone(),
            prefix: prefix.clone(),
            slots,
            owned,
        };
        match spawn_executor(&format!("perf-{t}"), move || {
            load_thread(t, Rc::new(p), ready, go_rx, seed)
        }) {
            Ok(h) => handles.push(h),
            Err(e) => {
                eprintln!("corral-perf: cannot start thread: {e}");
                return 3;
            }
        }
    }
    drop(ready_tx);
    let mut failed = None;
    for _ in 0..args.threads {
        match ready_rx.recv() {
            Ok(ThreadMsg::Ready) => {}
            Ok(ThreadMsg::Failed(e)) => failed = Some(e),
            Err(_) => failed = Some("a load thread died".into()),
        }
    }
    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(args.warmup.max(0.0));
    let end = warm_end + Duration::from_secs_f64(args.duration.max(0.0));
    let times = Times {
        warm_end,
        end,
        hard_stop: end + Duration::from_secs(15),
    };
    if failed.is_none() {
        for g in &gos {
            let _ = g.send(times);
        }
    }
    drop(gos);
    let pids: Vec<String> = args.server_pids.iter().map(|p| p.to_string()).collect();
    let sample = |pids: &[String]| -> (Option<f64>, Option<f64>) {
        let me = cpu_seconds("self");
        let srv: Option<f64> = if pids.is_empty() {
            None
        } else {
            pids.iter().map(|p| cpu_seconds(p)).sum()
        };
        (me, srv)
    };
    let mut cpu0 = (None, None);
    let mut cpu1 = (None, None);
    if failed.is_none() {
        std::thread::sleep(warm_end.saturating_duration_since(Instant::now()));
        cpu0 = sample(&pids);
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
        cpu1 = sample(&pids);
    }
    let mut stats = Stats::new();
    for h in handles {
        match h.join() {
            Ok(s) => stats.merge(s),
            Err(e) => {
                failed.get_or_insert(format!("load thread: {e}"));
            }
        }
    }
    if let Some(e) = failed {
        eprintln!("corral-perf: {e}");
        let _ = on_executor("perf-cleanup", Duration::from_secs(120), &plan, cleanup);
        return 3;
    }

    // cleanup
    let cleanup_ok = if args.no_cleanup {
        None
    } else {
        match on_executor("perf-cleanup", Duration::from_secs(120), &plan, cleanup) {
            Ok(()) => Some(true),
            Err(e) => {
                eprintln!("corral-perf: cleanup failed: {e}");
                Some(false)
            }
        }
    };

    // report
    let elapsed = stats
        .last_done
        .map_or(0.0, |t| t.saturating_duration_since(warm_end).as_secs_f64());
    let ops_per_sec = if elapsed > 0.0 {
        stats.ops as f64 / elapsed
    } else {
        0.0
    };
    let diff = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(((b - a) * 1000.0).round() / 1000.0),
        _ => None,
    };
    let client_cpu = diff(cpu0.0, cpu1.0);
    let server_cpu = diff(cpu0.1, cpu1.1);
    let window = args.duration.max(1e-9);
    let per_op = |cpu: Option<f64>| {
        cpu.filter(|_| stats.ops > 0)
            .map(|c| (c * 1e6 / stats.ops as f64 * 10.0).round() / 10.0)
    };
    let hist = stats.hist.take().unwrap_or_else(new_hist);
    let read = stats.read.take().unwrap_or_else(new_hist);
    let write = stats.write.take().unwrap_or_else(new_hist);

    println!(
        "corral-perf {} | {} | {} sessions x {} inflight on {} thread(s) | value {} B{} | prefix {}",
        env!("CARGO_PKG_VERSION"),
        args.workload.name(),
        args.clients,
        args.inflight,
        args.threads,
        args.value_size,
        match args.workload {
            Workload::Create => String::new(),
            Workload::Mixed => format!(" | keys {} | reads {}%", args.keys, args.read_pct),
            _ => format!(" | keys {}", args.keys),
        },
        prefix
    );
    println!(
        "setup {setup_s:.1} s, warmup {} s, measured {elapsed:.2} s{}",
        args.warmup,
        match (args.workload, owned) {
            (Workload::Create, _) => "",
            (_, true) => ", owned keys (exact checks)",
            (_, false) => ", shared keys",
        }
    );
    println!(
        "{:<8} {:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8} {:>7}",
        "part",
        "ops",
        "ops/s",
        "p50 us",
        "p90 us",
        "p99 us",
        "p99.9 us",
        "max us",
        "errors",
        "wrong"
    );
    let row = |name: &str, h: &Histogram<u64>, errors: u64, wrong: u64| {
        let q = |x: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(x)
            }
        };
        println!(
            "{:<8} {:>10} {:>12.1} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8} {:>7}",
            name,
            h.len(),
            if elapsed > 0.0 {
                h.len() as f64 / elapsed
            } else {
                0.0
            },
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            h.max(),
            errors,
            wrong
        );
    };
    row("all", &hist, stats.errors, stats.wrong);
    if args.workload == Workload::Mixed {
        row("read", &read, 0, 0);
        row("write", &write, 0, 0);
    }
    if !stats.error_kinds.is_empty() {
        println!("errors: {:?}", stats.error_kinds);
    }
    if let Some(c) = client_cpu {
        print!("client CPU {c:.2} s ({:.2} cores)", c / window);
        if let Some(s) = server_cpu {
            print!(
                ", server CPU {s:.2} s ({:.2} cores, {} us/op)",
                s / window,
                per_op(Some(s)).unwrap_or(0.0)
            );
        }
        println!();
    }

    let mut by_kind = serde_json::Map::new();
    if args.workload == Workload::Mixed {
        by_kind.insert("read".into(), hist_json(&read));
        by_kind.insert("write".into(), hist_json(&write));
    }
    let line = json!({
        "tool": "corral-perf",
        "version": env!("CARGO_PKG_VERSION"),
        "label": args.label,
        "workload": args.workload.name(),
        "servers": args.servers,
        "clients": args.clients,
        "sessions": args.clients,
        "inflight": args.inflight,
        "threads": args.threads,
        "value_size": args.value_size,
        "keys": if args.workload == Workload::Create { serde_json::Value::Null } else { json!(args.keys) },
        "read_pct": if args.workload == Workload::Mixed { json!(args.read_pct) } else { serde_json::Value::Null },
        "owned_keys": owned,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "ops": stats.ops,
        "ops_per_sec": (ops_per_sec * 10.0).round() / 10.0,
        "latency_us": hist_json(&hist),
        "latency_us_by_kind": by_kind,
        "errors": stats.errors,
        "error_kinds": stats.error_kinds,
        "wrong_results": stats.wrong,
        "final_check_failed": stats.final_check_failed,
        "aborted": stats.aborted,
        "cleanup_ok": cleanup_ok,
        "client_cpu_s": client_cpu,
        "server_cpu_s": server_cpu,
        "server_cpu_cores": server_cpu.map(|s| (s / window * 1000.0).round() / 1000.0),
        "server_cpu_us_per_op": per_op(server_cpu),
        "client_cpu_us_per_op": per_op(client_cpu),
        "setup_s": (setup_s * 1000.0).round() / 1000.0,
        "prefix": prefix,
    });
    println!("{line}");

    if stats.wrong > 0 {
        2
    } else if stats.errors > 0 || stats.aborted || stats.ops == 0 {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_deterministic_and_carry_their_key() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        fill_value(&mut a, 7, 3, 100);
        fill_value(&mut b, 7, 3, 100);
        assert_eq!(a, b);
        assert_eq!(a.len(), 100);
        assert_eq!(value_header(&a), Some((7, 3)));
        fill_value(&mut b, 7, 4, 100);
        assert_ne!(a, b);
        fill_value(&mut b, 7, 3, 5);
        assert_eq!((b.len(), value_header(&b)), (5, None));
    }

    #[test]
    fn rng_below_stays_in_range_and_spreads() {
        let mut r = Rng::new(42);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[r.below(10)] += 1;
        }
        assert!(seen.iter().all(|n| *n > 800), "{seen:?}");
    }

    #[test]
    fn cpu_of_self_is_readable() {
        assert!(cpu_seconds("self").is_some());
    }
}
