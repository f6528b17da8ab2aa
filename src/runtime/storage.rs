//! Durability in the runtime: opening the data directories at startup
//! (newest valid snapshot + log replay), the log thread (group commit), the
//! snapshot writer thread, and retention.
//!
//! Threads (none of them is a shard; none blocks a shard's reactor):
//! * **corral-log** owns the [`TxnLog`] on the memory-mapped device, for a
//!   standalone server and an ensemble member alike. It runs a glommio
//!   executor only to talk to the core shard over glommio's shared channels
//!   (eventfd wake-ups). Loop: take the queued [`LogCmd`]s in order; for an
//!   append, take every append queued behind it too (bounded by
//!   [`MAX_BATCH`] records), append them all (a memcpy each into the map),
//!   one `fdatasync`, report the durable zxid; an ensemble's truncation
//!   (TRUNC) or reset (after a snapshot install) rewrites the log's
//!   segments in FIFO order with the appends. While a sync is in flight the
//!   core keeps sending, so the next sync covers everything that queued up
//!   meanwhile: one fsync per batch. Segment rolls (create, fallocate,
//!   fsync, directory fsync) happen here too. A failed sync aborts the
//!   process: the server must not keep serving after losing durability.
//! * **corral-snap** writes snapshot blocks that the core shard encodes
//!   during a fuzzy walk of the tree (bounded steps between inputs), to
//!   `snapshot.<zxid>.tmp`; at the end: fsync, rename, directory fsync,
//!   then retention (`autopurge.*`: at startup, then after a snapshot at
//!   most once per `purgeInterval` hours).
//!
//! Appending on the log thread rather than on the core shard keeps the
//! writer single-owner (no lock around the map) and keeps segment rolls off
//! the reactor; the core shard's part of a write is handing a shared `Arc<Txn>`
//! to a channel.

use crate::node::{self, NodeBoot};
use crate::storage::device::Dir;
use crate::storage::log::{recover_after, LogConfig, Recovered, TxnLog};
use crate::storage::mmap::{sync_dir, MmapDir};
use crate::storage::snapshot::{decode_snapshot_with, nodes_hint, SnapError, SnapProblem};
use crate::storage::snapshot::{snapshot_name, SnapEncoder, SNAP_PREFIX};
use crate::storage::state::{self, Built};
use crate::tree::acl::AclList;
use crate::tree::restore::{Prepared, TreeBuilder};
use crate::tree::txn::Txn;
use crate::types::Zxid;
use glommio::channels::shared_channel::{self, SharedReceiver, SharedSender};
use glommio::Placement;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records appended before one sync, at most.
pub const MAX_BATCH: usize = 8192;

/// The snapshot thread fdatasyncs after this many bytes.
pub const SNAP_SYNC_EVERY: usize = 4 << 20;

/// Nodes a snapshot walk visits per step on the core shard.
pub const SNAP_STEP_NODES: usize = 500;

/// Storage settings (from zoo.cfg).
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// Snapshots go to `<snap_dir>/version-2` (dataDir).
    pub snap_dir: PathBuf,
    /// Txn log segments go to `<log_dir>/version-2` (dataLogDir or dataDir).
    pub log_dir: PathBuf,
    /// Preallocated segment size in bytes (`preAllocSize` KiB).
    pub segment_size: u64,
    /// `forceSync`: false skips fdatasync (like ZooKeeper: fast, not durable).
    pub force_sync: bool,
    /// A snapshot every this many txns (`snapCount`).
    pub snap_count: u64,
    /// `autopurge.snapRetainCount`.
    pub retain: usize,
    /// `autopurge.purgeInterval` in hours; 0 = no purging.
    pub purge_interval_h: u32,
}

impl StorageConfig {
    pub fn snap_path(&self) -> PathBuf {
        self.snap_dir.join("version-2")
    }
    pub fn log_path(&self) -> PathBuf {
        self.log_dir.join("version-2")
    }
}

/// Counters shared by the storage threads and the metrics endpoint.
#[derive(Debug, Default)]
pub struct StorageStats {
    pub fsyncs: AtomicU64,
    pub records: AtomicU64,
    pub max_batch: AtomicU64,
    pub sync_micros: AtomicU64,
    pub sync_max_micros: AtomicU64,
    /// The longest step of a snapshot walk on the core shard.
    pub walk_step_max_micros: AtomicU64,
    pub snapshots: AtomicU64,
    pub snapshot_in_progress: AtomicBool,
    pub purged_files: AtomicU64,
}

impl StorageStats {
    /// `mntr` keys in ZooKeeper's names for the same figures: fsync count
    /// and total time (ms), and the records each fsync covered.
    pub fn mntr(&self) -> Vec<(String, crate::proto::fourlw::MntrValue)> {
        use crate::proto::fourlw::MntrValue::{Float, Int};
        let f = self.fsyncs.load(Ordering::Relaxed) as i64;
        let r = self.records.load(Ordering::Relaxed) as i64;
        let us = self.sync_micros.load(Ordering::Relaxed);
        let avg = |x: f64| if f == 0 { 0.0 } else { x / f as f64 };
        vec![
            ("avg_fsynctime".to_string(), Float(avg(us as f64 / 1000.0))),
            ("cnt_fsynctime".to_string(), Int(f)),
            ("sum_fsynctime".to_string(), Int((us / 1000) as i64)),
            (
                "avg_sync_processor_batch_size".to_string(),
                Float(avg(r as f64)),
            ),
            (
                "max_sync_processor_batch_size".to_string(),
                Int(self.max_batch.load(Ordering::Relaxed) as i64),
            ),
            ("cnt_sync_processor_batch_size".to_string(), Int(f)),
            ("sum_sync_processor_batch_size".to_string(), Int(r)),
        ]
    }

    /// Prometheus lines.
    pub fn prometheus(&self) -> String {
        let f = self.fsyncs.load(Ordering::Relaxed);
        let r = self.records.load(Ordering::Relaxed);
        format!(
            "# TYPE corral_log_fsyncs_total counter\ncorral_log_fsyncs_total {f}\n\
             # TYPE corral_log_records_total counter\ncorral_log_records_total {r}\n\
             # TYPE corral_log_records_per_fsync gauge\ncorral_log_records_per_fsync {:.2}\n\
             # TYPE corral_log_max_batch gauge\ncorral_log_max_batch {}\n\
             # TYPE corral_log_fsync_seconds_total counter\ncorral_log_fsync_seconds_total {:.6}\n\
             # TYPE corral_log_fsync_max_seconds gauge\ncorral_log_fsync_max_seconds {:.6}\n\
             # TYPE corral_snapshots_total counter\ncorral_snapshots_total {}\n\
             # TYPE corral_snapshot_walk_step_max_seconds gauge\ncorral_snapshot_walk_step_max_seconds {:.6}\n",
            if f == 0 { 0.0 } else { r as f64 / f as f64 },
            self.max_batch.load(Ordering::Relaxed),
            self.sync_micros.load(Ordering::Relaxed) as f64 / 1e6,
            self.sync_max_micros.load(Ordering::Relaxed) as f64 / 1e6,
            self.snapshots.load(Ordering::Relaxed),
            self.walk_step_max_micros.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }
}

/// What startup found: the node's boot state and the opened log.
pub struct Started {
    pub boot: NodeBoot,
    /// Txns replayed onto the snapshot (they count towards the next one).
    pub replayed: u64,
    pub log: TxnLog<MmapDir>,
    pub elapsed: Duration,
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// What the data directories hold, read at startup by standalone servers
/// and ensemble members alike: the newest valid snapshot and the log's
/// records after it.
pub struct Recovery {
    pub snap: Option<Built>,
    pub rec: Recovered,
    /// The oldest log segment's path (for error messages).
    pub first_segment: Option<String>,
    started: Instant,
    snap_loaded: Duration,
    log_scanned: Duration,
}

impl Recovery {
    /// Opens the log for appending after what was recovered; logs how long
    /// the startup's steps took.
    pub fn open_log(
        &self,
        cfg: &StorageConfig,
        rec_end: &Recovered,
    ) -> Result<TxnLog<MmapDir>, String> {
        tracing::info!(
            "startup: snapshot loaded in {:?}, log scanned in {:?}, state built in {:?}",
            self.snap_loaded,
            self.log_scanned - self.snap_loaded,
            self.started.elapsed() - self.log_scanned
        );
        let log_path = cfg.log_path();
        let dir = MmapDir::new(&log_path).with_sync(cfg.force_sync);
        TxnLog::open(dir, log_cfg(cfg), rec_end).map_err(|e| file_err(&log_path, e))
    }
}

/// Reads the data directories (creating them, durably, if absent): drops
/// the leftovers of snapshots that never completed, loads the newest valid
/// snapshot (an invalid one is logged and the next older tried) while
/// another thread scans the log after it, and recovers the log (a torn
/// tail is cut and logged). An error names the file and offset; the server
/// must not start then.
pub fn recover(cfg: &StorageConfig) -> Result<Recovery, String> {
    let t0 = Instant::now();
    let snap_path = cfg.snap_path();
    let log_path = cfg.log_path();
    for p in [&snap_path, &log_path] {
        if !p.is_dir() {
            std::fs::create_dir_all(p).map_err(|e| file_err(p, e))?;
            // The new directory's name must be durable before any file in it.
            if let Some(parent) = p.parent() {
                sync_dir(parent).map_err(|e| file_err(parent, e))?;
            }
        }
    }
    let mut names = list(&snap_path)?;
    // Leftovers of a snapshot that never completed.
    for n in names.iter().filter(|n| n.ends_with(".tmp")) {
        let _ = std::fs::remove_file(snap_path.join(n));
    }
    names.retain(|n| !n.ends_with(".tmp"));
    let candidates = state::snapshots_newest_first(&names);
    // The log is scanned on another thread while the newest snapshot loads,
    // on the guess that it is valid (it is rescanned if an older one is used).
    let guess = candidates.first().map_or(0, |c| c.0);
    let scan_dir = log_path.clone();
    let scan = std::thread::Builder::new()
        .name("corral-log-scan".into())
        .spawn(move || recover_after(&mut MmapDir::new(&scan_dir), guess))
        .map_err(|e| format!("log scan thread: {e}"))?;
    let mut snap = None;
    for (_, name) in candidates {
        let path = snap_path.join(&name);
        let file = std::fs::File::open(&path).map_err(|e| file_err(&path, e))?;
        // SAFETY: a read-only map of a snapshot file: snapshots are written
        // under a temp name and never modified after the rename, and the
        // data directory belongs to this process alone.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| file_err(&path, e))?;
        match build_snapshot(&path.display().to_string(), &map) {
            Ok(s) => {
                snap = Some(s);
                break;
            }
            Err(e) => {
                // An older snapshot plus the log may still cover it; the
                // gap check of the state built from them refuses if they
                // do not.
                tracing::error!(
                    "snapshot {} invalid at offset {}: {}",
                    path.display(),
                    e.offset,
                    e.what
                );
            }
        }
    }
    let snap_loaded = t0.elapsed();
    let mut dir = MmapDir::new(&log_path);
    let skip = snap.as_ref().map_or(0, |s| s.zxid);
    let guessed = scan
        .join()
        .map_err(|_| "the log scan thread panicked".to_string())?;
    let scanned = if skip == guess {
        guessed
    } else {
        recover_after(&mut dir, skip)
    };
    let rec: Recovered = scanned.map_err(|e| {
        format!(
            "txn log corrupt: {}: offset {}: {}",
            log_path.join(&e.file).display(),
            e.offset,
            e.what
        )
    })?;
    if let Some(t) = &rec.torn {
        tracing::warn!(
            "txn log: torn tail cut at {} offset {} ({}; {} unattested records after it)",
            t.file,
            t.offset,
            t.why,
            t.unattested_records
        );
    }
    let mut segs: Vec<String> = dir
        .list()
        .map_err(|e| file_err(&log_path, e))?
        .into_iter()
        .filter(|n| crate::storage::log::parse_segment_name(n).is_some())
        .collect();
    segs.sort_by_key(|n| crate::storage::log::parse_segment_name(n).map(|z| z as u64));
    let first_segment = segs.first().map(|n| log_path.join(n).display().to_string());
    Ok(Recovery {
        snap,
        rec,
        first_segment,
        started: t0,
        snap_loaded,
        log_scanned: t0.elapsed(),
    })
}

/// Startup, for standalone servers and ensemble members alike:
/// [`recover`], then the state to serve, then retention (as ZooKeeper's
/// cleanup task at startup). A standalone server is its only voter, so
/// every logged txn is committed and replayed onto the snapshot. A member
/// replays only through the snapshot's end zxid (its fuzzy part); what was
/// logged after it is the replica's history, not known to be committed
/// ([`node::boot_state`]), and its epochs come from the epochs file.
pub fn start(cfg: &StorageConfig, member: bool) -> Result<Started, String> {
    let mut r = recover(cfg)?;
    let rec = std::mem::take(&mut r.rec);
    let rec_end = rec.clone_without_txns();
    let (boot, replayed) = if member {
        let mut boot =
            node::boot_state(r.snap.take(), rec).map_err(|e| file_err(&cfg.log_path(), e))?;
        boot.epochs = super::ensemble::read_epochs(&cfg.snap_path())?;
        (boot, 0)
    } else {
        let loaded = state::load_built(r.snap.take(), rec, r.first_segment.as_deref())
            .map_err(|e| e.to_string())?;
        let boot = NodeBoot {
            base: loaded.last_zxid,
            tree: loaded.tree,
            sessions: loaded.sessions,
            tail: Vec::new(),
            epochs: (0, 0, 0),
        };
        (boot, loaded.replayed as u64)
    };
    let log = r.open_log(cfg, &rec_end)?;
    if cfg.purge_interval_h > 0 {
        purge(cfg, &StorageStats::default()).map_err(|e| format!("purge: {e}"))?;
    }
    Ok(Started {
        boot,
        replayed,
        log,
        elapsed: r.started.elapsed(),
    })
}

/// [`state::build_snapshot`] on two threads: this one decodes and checks
/// the entries ([`Prepared`]); a second one links the nodes into the tree.
/// Most of a load is the first touch of new memory (the kernel zeroing
/// pages): the tree's arena and index on the linker, and the nodes' own
/// allocations (name + data) on whichever thread is less busy: the
/// decoder makes them while the linker has batches queued. Falls back to one thread if a second one
/// cannot be started. The result, errors included, is the same.
fn build_snapshot(name: &str, buf: &[u8]) -> Result<Built, SnapError> {
    enum Item<'a> {
        /// The ACL of the nodes that follow.
        Acl(AclList),
        /// A node and the offset of its entry.
        Node(Prepared<'a>, usize),
    }
    const BATCH: usize = 512;
    std::thread::scope(|s| {
        let (tx, rx) = crossbeam::channel::bounded::<Vec<Item<'_>>>(64);
        let linker = std::thread::Builder::new()
            .name("corral-snap-load".into())
            .spawn_scoped(s, move || {
                let mut b = TreeBuilder::new();
                b.reserve(nodes_hint(buf) as usize);
                let mut acl = 0;
                for batch in rx {
                    for item in batch {
                        match item {
                            Item::Acl(a) => acl = b.intern(a),
                            Item::Node(p, offset) => {
                                b.push_prepared(p, acl).map_err(|e| SnapError {
                                    offset: offset as u64,
                                    what: SnapProblem::Tree(e.to_string()),
                                })?
                            }
                        }
                    }
                }
                Ok(b)
            });
        let Ok(linker) = linker else {
            return state::build_snapshot(name, buf);
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut acl: Option<AclList> = None;
        let mut index = 0;
        let decoded = decode_snapshot_with(buf, |img, offset| {
            if !acl.as_ref().is_some_and(|a| Arc::ptr_eq(a, img.acl)) {
                acl = Some(img.acl.clone());
                batch.push(Item::Acl(img.acl.clone()));
            }
            // Copy here while the linker has work queued; else leave the
            // copy to it (whichever thread is idle takes the page faults).
            let copy = tx.len() >= 2;
            batch.push(Item::Node(
                Prepared::new(img, index, copy).map_err(|e| e.to_string())?,
                offset,
            ));
            index += 1;
            if batch.len() >= BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                // Refused only when the linker stopped at an error, which
                // is then the one reported.
                tx.send(full).map_err(|_| "stopped".to_string())?;
            }
            Ok(())
        });
        if decoded.is_ok() && !batch.is_empty() {
            let _ = tx.send(batch);
        }
        drop(tx);
        // The linker's error is at an earlier entry than the decoder's.
        let b = linker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        state::finish_build(name, b, decoded?)
    })
}

/// The sorted names in a directory.
pub fn list(p: &Path) -> Result<Vec<String>, String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(p).map_err(|e| file_err(p, e))? {
        let e = e.map_err(|e| file_err(p, e))?;
        if let Ok(n) = e.file_name().into_string() {
            v.push(n);
        }
    }
    v.sort();
    Ok(v)
}

/// Stops the process after a storage failure: never serve without durability.
pub fn fatal(what: &str) -> ! {
    eprintln!(
        "corral: FATAL: {what}; stopping (acknowledged writes can no longer be made durable)"
    );
    tracing::error!("FATAL: {what}");
    std::process::abort();
}

/// Work handed from the core shard to a log thread: items pile up under a
/// lock, and one doorbell message is in flight at most while they wait.
/// The log thread awaits doorbells with a plain `recv`, then takes
/// everything queued (group commit). Draining a shared channel with
/// `poll_once(recv())` instead leaves a waker registered in glommio's
/// reactor per empty poll, which piles up one per batch.
pub struct Mailbox<T> {
    items: std::sync::Mutex<Vec<T>>,
    rung: AtomicBool,
}

impl<T> Mailbox<T> {
    pub fn new() -> Arc<Mailbox<T>> {
        Arc::new(Mailbox {
            items: std::sync::Mutex::new(Vec::new()),
            rung: AtomicBool::new(false),
        })
    }

    /// Queues what `fill` appends (straight into the shared vector, no
    /// intermediate batch); true when something was queued and no doorbell
    /// is outstanding, so the caller must ring one.
    pub fn put_with(&self, fill: impl FnOnce(&mut Vec<T>)) -> bool {
        let added = {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            let before = items.len();
            fill(&mut items);
            items.len() > before
        };
        added && !self.rung.swap(true, Ordering::AcqRel)
    }

    /// After a doorbell: moves everything queued to `out`. An item queued
    /// after this rings a new doorbell.
    pub fn take(&self, out: &mut Vec<T>) {
        self.rung.store(false, Ordering::Release);
        out.append(&mut self.items.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// The core shard's side of a [`Mailbox`]: queue, and ring when needed.
pub struct MailboxTx<T> {
    pub mailbox: Arc<Mailbox<T>>,
    pub bell: glommio::channels::shared_channel::ConnectedSender<()>,
}

impl<T> MailboxTx<T> {
    pub fn send_with(&self, fill: impl FnOnce(&mut Vec<T>)) {
        if self.mailbox.put_with(fill) {
            // Refused only when full, and then a doorbell is waiting anyway.
            let _ = self.bell.try_send(());
        }
    }

    pub fn send(&self, items: impl IntoIterator<Item = T>) {
        self.send_with(|v| v.extend(items));
    }
}

/// Work for the log thread, in order.
pub enum LogCmd {
    /// Append, then fdatasync and report the durable zxid.
    Append(Vec<Arc<Txn>>),
    /// Keep only the txns through this zxid, durably, then report
    /// (an ensemble's TRUNC).
    TruncateAfter(Zxid),
    /// Start an empty log (after a snapshot was installed).
    Reset,
}

/// The log's configuration from the storage settings.
pub fn log_cfg(sc: &StorageConfig) -> LogConfig {
    LogConfig {
        segment_size: sc.segment_size,
        ..LogConfig::default()
    }
}

/// Rewrites the log keeping the txns through `keep_through` (none when
/// None: an empty log after a snapshot install). Only `log.*` segment files
/// change (the directory may also hold snapshots and the epochs file): the
/// kept txns are written as fresh segments into a subdirectory and synced,
/// old segments whose names the new log does not reuse are deleted, the new
/// ones are renamed over the rest, and the directory is synced. A crash
/// part way leaves either old segments (the tail not yet cut: the leader
/// cuts it again) or the new ones, never a gap inside the kept prefix.
fn rewrite_log(
    log: TxnLog<MmapDir>,
    sc: &StorageConfig,
    keep_through: Option<Zxid>,
) -> Result<TxnLog<MmapDir>, String> {
    let e = |x: &dyn std::fmt::Display| x.to_string();
    log.close().map_err(|x| e(&x))?;
    let path = sc.log_path();
    let kept: Vec<Txn> = match keep_through {
        Some(z) => {
            let mut dir = MmapDir::new(&path);
            let rec = recover_after(&mut dir, 0).map_err(|x| e(&x.what))?;
            rec.txns
                .into_iter()
                .filter(|t| t.header.zxid <= z)
                .collect()
        }
        None => Vec::new(),
    };
    let fresh = path.join("rewrite.tmp");
    let _ = std::fs::remove_dir_all(&fresh);
    std::fs::create_dir_all(&fresh).map_err(|x| e(&x))?;
    let mut nl = TxnLog::create(MmapDir::new(&fresh).with_sync(sc.force_sync), log_cfg(sc))
        .map_err(|x| e(&x))?;
    for t in &kept {
        nl.append(t).map_err(|x| e(&x))?;
    }
    nl.close().map_err(|x| e(&x))?;
    sync_dir(&fresh).map_err(|x| e(&x))?;
    let is_seg = |n: &String| crate::storage::log::parse_segment_name(n).is_some();
    let new_names: Vec<String> = list(&fresh)?.into_iter().filter(is_seg).collect();
    for old in list(&path)?.into_iter().filter(is_seg) {
        if !new_names.contains(&old) {
            std::fs::remove_file(path.join(&old)).map_err(|x| e(&x))?;
        }
    }
    for n in &new_names {
        std::fs::rename(fresh.join(n), path.join(n)).map_err(|x| e(&x))?;
    }
    sync_dir(&path).map_err(|x| e(&x))?;
    let _ = std::fs::remove_dir_all(&fresh);
    let mut dir = MmapDir::new(&path);
    let rec = recover_after(&mut dir, 0).map_err(|x| e(&x.what))?;
    let dir = MmapDir::new(&path).with_sync(sc.force_sync);
    TxnLog::open(dir, log_cfg(sc), &rec.clone_without_txns()).map_err(|x| e(&x))
}

/// The core shard's ends of the log thread's channels.
pub struct LogLink {
    pub mailbox: Arc<Mailbox<LogCmd>>,
    pub bell: SharedSender<()>,
    pub durable: SharedReceiver<Zxid>,
}

/// Starts the log thread (standalone and ensemble alike). Appends queued
/// while a sync was in flight go to the disk together, up to
/// [`MAX_BATCH`] txns per fdatasync; each txn is released once appended,
/// so the core applies it without a copy.
pub fn spawn_log_thread(
    mut log: TxnLog<MmapDir>,
    sc: StorageConfig,
    stats: Arc<StorageStats>,
) -> std::io::Result<LogLink> {
    let mailbox = Mailbox::<LogCmd>::new();
    let inbox = mailbox.clone();
    let (bell, rings) = shared_channel::new_bounded::<()>(16);
    let (to_core, durable) = shared_channel::new_bounded::<Zxid>(1024);
    super::executor("corral-log", Placement::Unbound)
        .spawn(move || async move {
            let rx = rings.connect().await;
            let tx = to_core.connect().await;
            let mut taken: Vec<LogCmd> = Vec::new();
            let mut pending: std::collections::VecDeque<LogCmd> = Default::default();
            loop {
                let cmd = match pending.pop_front() {
                    Some(c) => c,
                    None => {
                        if rx.recv().await.is_none() {
                            break;
                        }
                        // Everything queued while the last sync was in flight.
                        inbox.take(&mut taken);
                        pending.extend(taken.drain(..));
                        continue;
                    }
                };
                match cmd {
                    LogCmd::Append(first) => {
                        let append = |batch: Vec<Arc<Txn>>, log: &mut TxnLog<MmapDir>| {
                            for t in &batch {
                                if let Err(e) = log.append(t) {
                                    fatal(&format!(
                                        "txn log append of zxid {:#x}: {e}",
                                        t.header.zxid
                                    ));
                                }
                            }
                            batch.len()
                        };
                        let mut n = append(first, &mut log);
                        while n < MAX_BATCH {
                            match pending.pop_front() {
                                Some(LogCmd::Append(b)) => n += append(b, &mut log),
                                Some(other) => {
                                    pending.push_front(other);
                                    break;
                                }
                                None => break,
                            }
                        }
                        let t0 = Instant::now();
                        let z = log
                            .sync()
                            .unwrap_or_else(|e| fatal(&format!("txn log fdatasync: {e}")));
                        let took = t0.elapsed().as_micros() as u64;
                        stats.sync_micros.fetch_add(took, Ordering::Relaxed);
                        stats.sync_max_micros.fetch_max(took, Ordering::Relaxed);
                        stats.fsyncs.fetch_add(1, Ordering::Relaxed);
                        stats.records.fetch_add(n as u64, Ordering::Relaxed);
                        stats.max_batch.fetch_max(n as u64, Ordering::Relaxed);
                        if tx.send(z).await.is_err() {
                            break;
                        }
                    }
                    LogCmd::TruncateAfter(z) => {
                        tracing::info!("txn log: truncating after {z:#x}");
                        log = rewrite_log(log, &sc, Some(z))
                            .unwrap_or_else(|e| fatal(&format!("txn log truncation: {e}")));
                        if tx.send(log.last_zxid().unwrap_or(0)).await.is_err() {
                            break;
                        }
                    }
                    LogCmd::Reset => {
                        log = rewrite_log(log, &sc, None)
                            .unwrap_or_else(|e| fatal(&format!("txn log reset: {e}")));
                    }
                }
            }
            // The core is gone: close cleanly (sync + attestation).
            if let Err(e) = log.close() {
                tracing::warn!("txn log close: {e}");
            }
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(LogLink {
        mailbox,
        bell,
        durable,
    })
}

/// Messages to the snapshot thread.
pub enum SnapMsg {
    Begin(Zxid, Vec<u8>),
    Block(Vec<u8>),
    End(Vec<u8>),
    /// The snapshot begun is abandoned: delete its temporary file.
    Abort,
}

/// Starts the snapshot writer thread; returns its input.
pub fn spawn_snap_thread(
    cfg: StorageConfig,
    stats: Arc<StorageStats>,
) -> std::io::Result<std::sync::mpsc::SyncSender<SnapMsg>> {
    // Bounded: a slow disk slows the walk instead of buffering the tree.
    let (tx, rx) = std::sync::mpsc::sync_channel::<SnapMsg>(8);
    std::thread::Builder::new()
        .name("corral-snap".into())
        .spawn(move || {
            let dir = cfg.snap_path();
            let mut cur: Option<(Zxid, std::fs::File, PathBuf, Instant)> = None;
            let mut unsynced = 0usize;
            // open() purged at startup.
            let mut last_purge = Some(Instant::now());
            for m in rx {
                let r: std::io::Result<()> = (|| {
                    match m {
                        SnapMsg::Begin(z, header) => {
                            let tmp = dir.join(format!("{}.tmp", snapshot_name(z)));
                            let mut f = std::fs::File::create(&tmp)?;
                            f.write_all(&header)?;
                            cur = Some((z, f, tmp, Instant::now()));
                        }
                        SnapMsg::Block(b) => {
                            if let Some((_, f, _, _)) = cur.as_mut() {
                                f.write_all(&b)?;
                                // Flush as we go: one big fsync at the end
                                // would stall the log's fdatasync behind it.
                                unsynced += b.len();
                                if unsynced >= SNAP_SYNC_EVERY {
                                    f.sync_data()?;
                                    unsynced = 0;
                                }
                            }
                        }
                        SnapMsg::End(b) => {
                            if let Some((z, mut f, tmp, t0)) = cur.take() {
                                f.write_all(&b)?;
                                f.sync_all()?;
                                drop(f);
                                std::fs::rename(&tmp, dir.join(snapshot_name(z)))?;
                                sync_dir(&dir)?;
                                stats.snapshots.fetch_add(1, Ordering::Relaxed);
                                tracing::info!(
                                    "snapshot {} written in {:?}",
                                    snapshot_name(z),
                                    t0.elapsed()
                                );
                                let due = cfg.purge_interval_h > 0
                                    && last_purge.is_none_or(|t: Instant| {
                                        t.elapsed()
                                            >= Duration::from_secs(
                                                u64::from(cfg.purge_interval_h) * 3600,
                                            )
                                    });
                                if due {
                                    last_purge = Some(Instant::now());
                                    purge(&cfg, &stats)?;
                                }
                            }
                            stats.snapshot_in_progress.store(false, Ordering::Release);
                        }
                        SnapMsg::Abort => {
                            if let Some((_, f, tmp, _)) = cur.take() {
                                drop(f);
                                std::fs::remove_file(tmp)?;
                            }
                            stats.snapshot_in_progress.store(false, Ordering::Release);
                        }
                    }
                    Ok(())
                })();
                if let Err(e) = r {
                    // A failed snapshot leaves the log intact; try again later.
                    tracing::error!("snapshot write failed: {e}");
                    if let Some((_, _, tmp, _)) = cur.take() {
                        let _ = std::fs::remove_file(tmp);
                    }
                    stats.snapshot_in_progress.store(false, Ordering::Release);
                }
            }
        })?;
    Ok(tx)
}

/// Deletes old snapshots and the log segments wholly before the oldest kept
/// snapshot (`autopurge.snapRetainCount`).
pub fn purge(cfg: &StorageConfig, stats: &StorageStats) -> std::io::Result<()> {
    let err = |e: String| std::io::Error::other(e);
    let snaps = list(&cfg.snap_path()).map_err(err)?;
    let snaps: Vec<String> = snaps
        .into_iter()
        .filter(|n| n.starts_with(SNAP_PREFIX) && !n.ends_with(".tmp"))
        .collect();
    let logs = list(&cfg.log_path()).map_err(err)?;
    let plan = state::purge_plan(&snaps, &logs, cfg.retain);
    for n in &plan {
        let p = if n.starts_with(SNAP_PREFIX) {
            cfg.snap_path().join(n)
        } else {
            cfg.log_path().join(n)
        };
        std::fs::remove_file(&p)?;
        stats.purged_files.fetch_add(1, Ordering::Relaxed);
        tracing::info!("purged {}", p.display());
    }
    if !plan.is_empty() {
        sync_dir(&cfg.snap_path())?;
        sync_dir(&cfg.log_path())?;
    }
    Ok(())
}

/// Encodes the snapshot header and the session entries at the walk's start.
pub fn snapshot_begin(
    tree: &crate::tree::DataTree,
    sessions: &[crate::session::SessionImage],
) -> (Zxid, Vec<u8>, SnapEncoder) {
    let z = tree.last_zxid;
    let mut enc = SnapEncoder::new(256 << 10);
    for s in sessions {
        let eph: Vec<&str> = tree.ephemerals_of(s.id).collect();
        enc.session(s, eph.into_iter());
    }
    (
        z,
        SnapEncoder::header(z, tree.node_count() as u64).to_vec(),
        enc,
    )
}

#[cfg(test)]
mod tests {
    use super::Mailbox;
    use crate::storage::snapshot::{encode_tree, SnapEncoder};
    use crate::storage::state;
    use crate::tree::acl::{open_acl, read_acl};
    use crate::tree::txn::{test_create, TxnHeader};
    use crate::tree::DataTree;

    /// 3 000 nodes over several levels, ACLs alternating in runs, some with
    /// null data and some ephemeral.
    fn tree() -> DataTree {
        let mut t = DataTree::new();
        let mut r = Vec::new();
        let mut z = 0;
        let mut create = |t: &mut DataTree, path: String, i: i64| {
            z += 1;
            let header = TxnHeader {
                session: 0x77,
                cxid: 1,
                zxid: z,
                time: 1_700_000_000_000 + z,
            };
            let data = (i % 7 != 0).then(|| vec![i as u8; (i % 130) as usize].into());
            let acl = if (i / 50) % 2 == 0 {
                open_acl()
            } else {
                read_acl()
            };
            let owner = if i % 11 == 0 { 0x77 } else { 0 };
            let txn = test_create(t, header, &path, data, acl, owner);
            t.apply(txn, &mut |_| {}, &mut r);
        };
        for d in 0..30 {
            create(&mut t, format!("/d{d}"), 1);
            for k in 0..99 {
                create(&mut t, format!("/d{d}/k{k}"), d * 100 + k);
            }
        }
        t
    }

    /// The snapshot of `t` with the node at walk position `at` written
    /// under `path` instead (an orphan, a duplicate, a bad path...).
    fn with_path_at(t: &DataTree, at: usize, path: &str) -> Vec<u8> {
        let mut out = SnapEncoder::header(t.last_zxid, t.node_count() as u64).to_vec();
        let mut enc = SnapEncoder::new(4096);
        let mut i = 0;
        t.for_each_node(|p, n| {
            enc.node(if i == at { path } else { p }, n);
            i += 1;
            while let Some(b) = enc.take_block() {
                out.extend_from_slice(&b);
            }
        });
        out.extend_from_slice(&enc.finish(t.last_zxid));
        out
    }

    /// The two-thread load gives what the one-thread load gives: the same
    /// tree, and the same error at the same offset for every kind of bad
    /// file, early (first batch) or late.
    #[test]
    fn two_thread_snapshot_load_matches_one_thread() {
        let t = tree();
        let good = encode_tree(
            &t,
            &[crate::session::SessionImage::legacy(0x77, 30_000)],
            4096,
        );
        let one = state::build_snapshot("s", &good).unwrap();
        let two = super::build_snapshot("s", &good).unwrap();
        assert_eq!(two.tree.node_count(), t.node_count());
        assert_eq!(
            encode_tree(&two.tree, &two.sessions, 4096),
            encode_tree(&one.tree, &one.sessions, 4096)
        );
        let mut seen = 0;
        t.for_each_node(|p, n| {
            let m = two.tree.get(p).unwrap_or_else(|| panic!("{p} lost"));
            assert!(m.data() == n.data() && m.stat() == n.stat(), "{p} differs");
            assert_eq!(**m.acl(), **n.acl(), "{p} ACL");
            seen += 1;
        });
        let mut loaded = 0;
        two.tree.for_each_node(|_, _| loaded += 1);
        assert_eq!((seen, loaded), (3004, 3004));
        assert_eq!(
            two.tree.ephemerals_of(0x77).count(),
            t.ephemerals_of(0x77).count()
        );
        two.tree.check_invariants();

        let mut bad = Vec::new();
        for at in [0, 5, 700, 2900] {
            for path in ["/nope/x", "/d1", "/d1/", "/", "x", "/d3/k3"] {
                bad.push(with_path_at(&t, at, path));
            }
        }
        // A corrupt block after nodes were linked, and a truncated file.
        let mut flipped = good.clone();
        let n = flipped.len();
        flipped[n * 3 / 4] ^= 0x40;
        bad.push(flipped);
        bad.push(good[..good.len() - 10].to_vec());
        let mut refused = 0;
        for (i, b) in bad.iter().enumerate() {
            let one = state::build_snapshot("s", b).map(|_| ());
            let two = super::build_snapshot("s", b).map(|_| ());
            assert_eq!(two, one, "case {i}");
            refused += one.is_err() as usize;
        }
        assert!(
            refused >= bad.len() - 4,
            "{refused} of {} refused",
            bad.len()
        );
    }

    #[test]
    fn mailbox_rings_once_per_take() {
        let m = Mailbox::<u32>::new();
        assert!(!m.put_with(|_| {}), "nothing queued: no doorbell");
        assert!(m.put_with(|v| v.push(1)), "first item rings");
        assert!(
            !m.put_with(|v| v.extend([2, 3])),
            "a doorbell is outstanding"
        );
        let mut out = Vec::new();
        m.take(&mut out);
        assert_eq!(out, [1, 2, 3]);
        m.take(&mut out);
        assert_eq!(out, [1, 2, 3], "nothing new");
        assert!(m.put_with(|v| v.push(4)), "queued after a take rings again");
    }
}
