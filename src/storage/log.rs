//! The txn log: preallocated segment files of records (format in
//! [`super::record`]), written through a [`Dir`]/[`Device`], and recovery.
//!
//! Runs on the core shard (the log writer) and at startup (recovery). Pure:
//! no std::fs, no clock, no threads; the runtime supplies the devices.
//!
//! **Segments.** `log.<first zxid, lowercase hex>` (ZooKeeper's naming),
//! each preallocated to a fixed capacity and starting with a
//! [`SegmentHeader`]. Appends are encoded into a pending buffer, written to
//! the device by `flush` and made durable by `sync` (one device sync per
//! batch: group commit is the caller calling `sync` once for many appends).
//! Every record carries the zxid through which the log was durable when it
//! was written; `attest` appends a marker carrying the newest durable zxid
//! (`close` does sync + attest + sync).
//!
//! **Writer rules** (what recovery relies on):
//! 1. zxids are contiguous: each is the successor of the last
//!    ([`is_successor`]: +1, or counter 1 of a later epoch);
//! 2. a segment is synced completely before anything is written to the
//!    next one, and a new segment's header is synced before its first
//!    record; segment files are fresh zero-filled files, never recycled;
//! 3. after a failed write or sync the log is poisoned (the process must
//!    treat itself as crashed, like after a failed fsync);
//! 4. after recovery, junk past the truncation point is zeroed and synced
//!    before anything new is written.
//!
//! **Recovery** ([`recover`]) scans the segments in zxid order:
//! * every record must be the successor of the one before it (across
//!   segments too), its `durable` may not decrease nor exceed the zxid
//!   before it, and its body must decode;
//! * in a segment that is not the last one, the records must run to the
//!   next segment's first zxid, and no valid record may follow a bad one;
//! * in the last segment, a bad record is a torn tail (truncated there,
//!   reported in [`Recovered::torn`]) unless a valid record after it
//!   attests (through its `durable`) that the bad record had been synced:
//!   then it is corruption;
//! * a segment file shorter than its preallocated capacity is tolerated
//!   only if the cut is in the zero tail;
//! * anything else refuses with a [`CorruptionError`] naming the file and
//!   offset. A refused log is never served.
//!
//! What no rule can see: damage confined to the last synced batch when no
//! record written after that sync survived (zeroing it yields bytes a crash
//! could have left). `close` and the next batch's records shrink that
//! window; replication covers it.

use super::device::{Device, DeviceError, Dir};
use super::record::{
    decode_entry, decode_record, encode_attest_record, encode_txn_record, BodyError, Entry,
    HeaderError, RecordError, SegmentHeader, KIND_TXN, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use crate::tree::txn::Txn;
use crate::types::Zxid;
use std::fmt;
use thiserror::Error;

/// Size of an attestation record (header + one body byte).
pub const ATTEST_LEN: u64 = RECORD_HEADER_LEN as u64 + 1;

pub const SEGMENT_PREFIX: &str = "log.";

pub fn segment_name(first: Zxid) -> String {
    format!("{SEGMENT_PREFIX}{:x}", first as u64)
}

/// The first zxid named by a segment file name (`log.<hex>`).
pub fn parse_segment_name(name: &str) -> Option<Zxid> {
    let hex = name.strip_prefix(SEGMENT_PREFIX)?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
}

/// True if `next` may follow `prev` in the log: the next counter of the same
/// epoch, or counter 1 of a later epoch. Counter 0 is never a txn.
pub fn is_successor(prev: Zxid, next: Zxid) -> bool {
    let counter = next & 0xffff_ffff;
    if counter == 0 {
        return false;
    }
    next == prev.wrapping_add(1) || ((next >> 32) > (prev >> 32) && counter == 1)
}

#[derive(Clone, Copy, Debug)]
pub struct LogConfig {
    /// Preallocated size of each segment file.
    pub segment_size: u64,
    /// Pending bytes that trigger a write to the device before `sync`.
    pub flush_bytes: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_size: 64 << 20,
            flush_bytes: 256 << 10,
        }
    }
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LogError {
    #[error("device: {0}")]
    Device(#[from] DeviceError),
    #[error("zxid {zxid:#x} does not follow {last:#x}")]
    NotNext { last: Zxid, zxid: Zxid },
    #[error("record of {len} bytes does not fit a segment of {segment_size}")]
    TooLarge { len: usize, segment_size: u64 },
    #[error("the log failed earlier and must be recovered")]
    Poisoned,
    #[error("segment size {0} too small")]
    Config(u64),
}

/// Where an appended record went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The segment's first zxid (its name).
    pub segment: Zxid,
    pub offset: u64,
    pub len: u32,
}

struct Current<D> {
    first: Zxid,
    dev: D,
    capacity: u64,
    /// Device offset where `pending` goes.
    written: u64,
    /// Records in this segment (written or pending).
    records: usize,
    dirty: bool,
}

/// The log writer.
pub struct TxnLog<R: Dir> {
    dir: R,
    cfg: LogConfig,
    cur: Option<Current<R::Dev>>,
    pending: Vec<u8>,
    last_zxid: Option<Zxid>,
    durable: Zxid,
    /// The newest `durable` written into a record.
    testified: Zxid,
    poisoned: bool,
}

impl<R: Dir> TxnLog<R> {
    /// An empty log in `dir` (which holds no segments).
    pub fn create(dir: R, cfg: LogConfig) -> Result<TxnLog<R>, LogError> {
        if cfg.segment_size < (SEGMENT_HEADER_LEN + RECORD_HEADER_LEN + 1) as u64 + ATTEST_LEN {
            return Err(LogError::Config(cfg.segment_size));
        }
        Ok(TxnLog {
            dir,
            cfg,
            cur: None,
            pending: Vec::with_capacity(cfg.flush_bytes),
            last_zxid: None,
            durable: 0,
            testified: 0,
            poisoned: false,
        })
    }

    /// Resumes after [`recover`]: repairs the end (zeroes a torn tail,
    /// rewrites a missing header, drops an empty last segment), syncs, and
    /// appends after `rec.last_zxid`.
    pub fn open(mut dir: R, cfg: LogConfig, rec: &Recovered) -> Result<TxnLog<R>, LogError> {
        let Some(end) = &rec.end else {
            return TxnLog::create(dir, cfg);
        };
        let mut dev = dir.open(&end.file)?;
        let mut cur = None;
        if end.records == 0 {
            // Nothing of value in it; its name may not match the next zxid.
            drop(dev);
            dir.remove(&end.file)?;
        } else {
            if dev.len() < end.capacity {
                dev.set_len(end.capacity)?;
            }
            if end.junk_end > end.offset {
                let zeros = vec![0u8; (end.junk_end - end.offset) as usize];
                dev.write_at(end.offset, &zeros)?;
            }
            dev.sync()?;
            cur = Some(Current {
                first: end.first,
                dev,
                capacity: end.capacity,
                written: end.offset,
                records: end.records,
                dirty: false,
            });
        }
        let mut log = TxnLog::create(dir, cfg)?;
        log.cur = cur;
        log.last_zxid = rec.last_zxid;
        log.durable = rec.last_zxid.unwrap_or(0);
        log.testified = rec.attested;
        Ok(log)
    }

    pub fn last_zxid(&self) -> Option<Zxid> {
        self.last_zxid
    }

    /// The zxid through which the log is durable (0: nothing yet).
    pub fn durable_zxid(&self) -> Zxid {
        self.durable
    }

    pub fn dir(&self) -> &R {
        &self.dir
    }

    fn check(&self) -> Result<(), LogError> {
        if self.poisoned {
            Err(LogError::Poisoned)
        } else {
            Ok(())
        }
    }

    fn poison<T>(&mut self, r: Result<T, DeviceError>) -> Result<T, LogError> {
        r.map_err(|e| {
            self.poisoned = true;
            LogError::Device(e)
        })
    }

    /// Appends `txn` (not yet durable: see [`TxnLog::sync`]).
    pub fn append(&mut self, txn: &Txn) -> Result<Position, LogError> {
        self.check()?;
        let zxid = txn.header.zxid;
        if let Some(last) = self.last_zxid {
            if !is_successor(last, zxid) {
                return Err(LogError::NotNext { last, zxid });
            }
        }
        let start = self.pending.len();
        let len = encode_txn_record(&mut self.pending, txn, self.durable);
        let room = self.cfg.segment_size - SEGMENT_HEADER_LEN as u64 - ATTEST_LEN;
        if len as u64 > room {
            self.pending.truncate(start);
            return Err(LogError::TooLarge {
                len,
                segment_size: self.cfg.segment_size,
            });
        }
        let fits = self
            .cur
            .as_ref()
            .is_some_and(|c| c.written + self.pending.len() as u64 + ATTEST_LEN <= c.capacity);
        let start = if fits {
            start
        } else {
            self.pending.truncate(start);
            self.roll(zxid)?;
            // The roll synced: the record now attests more.
            encode_txn_record(&mut self.pending, txn, self.durable);
            0
        };
        self.testified = self.durable;
        let cur = self.cur.as_mut().expect("a current segment after roll");
        cur.records += 1;
        let pos = Position {
            segment: cur.first,
            offset: cur.written + start as u64,
            len: len as u32,
        };
        self.last_zxid = Some(zxid);
        if self.pending.len() >= self.cfg.flush_bytes {
            self.flush()?;
        }
        Ok(pos)
    }

    /// Syncs the current segment and starts a new one named `first`.
    fn roll(&mut self, first: Zxid) -> Result<(), LogError> {
        if self.cur.is_some() {
            self.sync()?;
        }
        let name = segment_name(first);
        let capacity = self.cfg.segment_size;
        let r = self.dir.create(&name, capacity);
        let mut dev = self.poison(r)?;
        let header = SegmentHeader {
            first_zxid: first,
            capacity,
        }
        .encode();
        let r = dev.write_at(0, &header).and_then(|_| dev.sync());
        self.poison(r)?;
        self.cur = Some(Current {
            first,
            dev,
            capacity,
            written: SEGMENT_HEADER_LEN as u64,
            records: 0,
            dirty: false,
        });
        Ok(())
    }

    /// Writes pending records to the device (not a durability point).
    pub fn flush(&mut self) -> Result<(), LogError> {
        self.check()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let Some(cur) = self.cur.as_mut() else {
            return Ok(());
        };
        let r = cur.dev.write_at(cur.written, &self.pending);
        if r.is_ok() {
            cur.written += self.pending.len() as u64;
            cur.dirty = true;
            self.pending.clear();
        }
        self.poison(r)
    }

    /// Makes every append so far durable; returns the durable zxid.
    pub fn sync(&mut self) -> Result<Zxid, LogError> {
        self.flush()?;
        if let Some(cur) = self.cur.as_mut() {
            if cur.dirty {
                let r = cur.dev.sync();
                if r.is_ok() {
                    cur.dirty = false;
                }
                self.poison(r)?;
            }
        }
        if let Some(last) = self.last_zxid {
            self.durable = last;
        }
        Ok(self.durable)
    }

    /// Appends a marker attesting the durable zxid (becomes durable with the
    /// next sync). Useful after the last sync of a burst.
    /// Returns where the marker went, or None if it was not needed (nothing
    /// newer to attest) or did not fit.
    pub fn attest(&mut self) -> Result<Option<Position>, LogError> {
        self.check()?;
        let (Some(cur), Some(last)) = (self.cur.as_mut(), self.last_zxid) else {
            return Ok(None);
        };
        // Nothing new to say, or no room left: then the next append rolls,
        // and the new segment's first record carries the testimony.
        let room = cur.written + self.pending.len() as u64 + ATTEST_LEN <= cur.capacity;
        if self.durable <= self.testified || !room {
            return Ok(None);
        }
        let offset = cur.written + self.pending.len() as u64;
        let len = encode_attest_record(&mut self.pending, last, self.durable);
        self.testified = self.durable;
        cur.records += 1;
        Ok(Some(Position {
            segment: cur.first,
            offset,
            len: len as u32,
        }))
    }

    /// Clean shutdown: sync, attest, sync.
    pub fn close(mut self) -> Result<R, LogError> {
        self.sync()?;
        if self.last_zxid.is_some() && self.cur.is_some() {
            self.attest()?;
            self.sync()?;
        }
        Ok(self.dir)
    }
}

// ---------------------------------------------------------------- recovery

/// What recovery found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Every txn in the log, in zxid order.
    pub txns: Vec<Txn>,
    pub last_zxid: Option<Zxid>,
    /// The newest durable zxid attested by a record.
    pub attested: Zxid,
    /// Where appending resumes; None if there are no segments.
    pub end: Option<LogEnd>,
    /// Set if a torn tail was cut off.
    pub torn: Option<TornTail>,
    /// Non-zero bytes found in the zero tail of earlier segments (harmless:
    /// their records run on into the next segment); (file, offset) each.
    pub junk: Vec<(String, u64)>,
}

impl Recovered {
    /// Everything but the txns (what [`TxnLog::open`] needs).
    pub fn clone_without_txns(&self) -> Recovered {
        Recovered {
            txns: Vec::new(),
            last_zxid: self.last_zxid,
            attested: self.attested,
            end: self.end.clone(),
            torn: self.torn.clone(),
            junk: self.junk.clone(),
        }
    }
}

/// The end of the last segment, for [`TxnLog::open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEnd {
    pub file: String,
    pub first: Zxid,
    pub capacity: u64,
    /// First byte after the last good record.
    pub offset: u64,
    /// Bytes from `offset` up to here are junk to zero before appending.
    pub junk_end: u64,
    /// Good records (txns and attestations) in this segment.
    pub records: usize,
}

/// A torn tail that recovery cut off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub file: String,
    pub offset: u64,
    pub why: RecordError,
    /// Valid records found after the tear, none attesting it (they were
    /// written before the torn record's sync completed, so never
    /// acknowledged).
    pub unattested_records: usize,
}

/// The log is damaged in a way that may have lost acknowledged data.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("txn log corrupt: {file} at offset {offset}: {what}")]
pub struct CorruptionError {
    pub file: String,
    pub offset: u64,
    pub what: Corruption,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// Two segment names denote the same zxid.
    DuplicateName(String),
    Header(HeaderError),
    HeaderMismatch {
        name: Zxid,
        header: Zxid,
    },
    /// A bad record that a later valid record proves was there (same
    /// segment: at `by_offset`; or the segment is not the last one).
    BadRecord {
        why: RecordError,
        by_file: String,
        by_offset: u64,
        by_durable: Zxid,
    },
    /// A valid record whose zxid does not follow the one before it.
    Sequence {
        prev: Option<Zxid>,
        found: Zxid,
    },
    /// A record's `durable` goes backwards or claims an unwritten zxid.
    Testimony {
        durable: Zxid,
        prev: Option<Zxid>,
    },
    Body(BodyError),
    /// The records of this segment end at `last` but the next segment
    /// starts at `next_first`.
    Gap {
        last: Option<Zxid>,
        next_file: String,
        next_first: Zxid,
    },
    /// The file was cut short of its preallocated capacity inside records.
    ShortFile {
        len: u64,
        capacity: u64,
    },
    Device(DeviceError),
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::DuplicateName(n) => write!(f, "names the same zxid as {n}"),
            Corruption::Header(e) => write!(f, "bad segment header: {e}"),
            Corruption::HeaderMismatch { name, header } => {
                write!(f, "header says first zxid {header:#x}, name says {name:#x}")
            }
            Corruption::BadRecord {
                why,
                by_file,
                by_offset,
                by_durable,
            } => write!(
                f,
                "bad record ({why}) followed by a valid record ({by_file} at {by_offset}, durable through {by_durable:#x})"
            ),
            Corruption::Sequence { prev, found } => {
                write!(f, "zxid {found:#x} does not follow {prev:#x?}")
            }
            Corruption::Testimony { durable, prev } => {
                write!(f, "durable mark {durable:#x} inconsistent after {prev:#x?}")
            }
            Corruption::Body(e) => write!(f, "undecodable body: {e}"),
            Corruption::Gap {
                last,
                next_file,
                next_first,
            } => write!(
                f,
                "records end at {last:#x?} but {next_file} starts at {next_first:#x}: records missing"
            ),
            Corruption::ShortFile { len, capacity } => {
                write!(f, "file cut to {len} bytes of {capacity} inside its records")
            }
            Corruption::Device(e) => write!(f, "read failed: {e}"),
        }
    }
}

/// A segment to recover: its file name and device.
pub struct SegmentFile<'a, D> {
    pub name: &'a str,
    pub dev: &'a D,
}

/// Recovers every `log.*` file of `dir` (other names are ignored).
pub fn recover<R: Dir>(dir: &mut R) -> Result<Recovered, CorruptionError> {
    recover_after(dir, 0)
}

/// Like [`recover`], but txns through `skip` (a snapshot's zxid) are
/// checked (framing, crc, sequence, testimony) without decoding their
/// bodies and are not returned: a restart from a snapshot does not pay for
/// decoding what the snapshot already holds.
pub fn recover_after<R: Dir>(dir: &mut R, skip: Zxid) -> Result<Recovered, CorruptionError> {
    let dev_err = |e: DeviceError| CorruptionError {
        file: String::new(),
        offset: 0,
        what: Corruption::Device(e),
    };
    let names: Vec<String> = dir
        .list()
        .map_err(dev_err)?
        .into_iter()
        .filter(|n| n.starts_with(SEGMENT_PREFIX))
        .collect();
    let mut devs = Vec::with_capacity(names.len());
    for n in &names {
        devs.push(dir.open(n).map_err(dev_err)?);
    }
    let segs: Vec<SegmentFile<'_, R::Dev>> = names
        .iter()
        .zip(devs.iter())
        .map(|(name, dev)| SegmentFile { name, dev })
        .collect();
    recover_segments_after(&segs, skip)
}

/// A record as recovery saw it.
enum Scanned {
    Txn(Txn),
    /// A txn covered by the snapshot: checked, not decoded.
    Skipped,
    Attest,
}

struct Scan {
    prev: Option<Zxid>,
    attested: Zxid,
    txns: Vec<Txn>,
}

/// The newest `durable` among CRC-valid records anywhere in `buf[from..]`,
/// with the offset of the record carrying it and how many there are.
fn scan_valid(buf: &[u8], from: usize) -> Option<(usize, Zxid, usize)> {
    let mut best: Option<(usize, Zxid, usize)> = None;
    let last = buf.len().saturating_sub(RECORD_HEADER_LEN);
    let mut q = from;
    while q <= last {
        let len = u32::from_le_bytes([buf[q], buf[q + 1], buf[q + 2], buf[q + 3]]) as usize;
        if len == 0 {
            // Skip a run of zeros: no record starts where its 4 length
            // bytes would all be zero.
            match buf[q + 4..].iter().position(|&b| b != 0) {
                Some(i) => q = (q + 4 + i).saturating_sub(3).max(q + 1),
                None => break,
            }
            continue;
        }
        if len <= buf.len() - q - RECORD_HEADER_LEN {
            if let Ok(r) = decode_record(&buf[q..]) {
                best = Some(match best {
                    Some((o, d, n)) if d >= r.durable => (o, d, n + 1),
                    Some((_, _, n)) => (q, r.durable, n + 1),
                    None => (q, r.durable, 1),
                });
            }
        }
        q += 1;
    }
    best
}

/// Recovers the log held by `segs` (any order; names `log.<hex>`).
pub fn recover_segments<D: Device>(
    segs: &[SegmentFile<'_, D>],
) -> Result<Recovered, CorruptionError> {
    recover_segments_after(segs, 0)
}

/// [`recover_segments`] with bodies through `skip` left undecoded (see
/// [`recover_after`]).
pub fn recover_segments_after<D: Device>(
    segs: &[SegmentFile<'_, D>],
    skip: Zxid,
) -> Result<Recovered, CorruptionError> {
    let mut order: Vec<(Zxid, usize)> = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        let z = parse_segment_name(s.name).ok_or_else(|| CorruptionError {
            file: s.name.to_string(),
            offset: 0,
            what: Corruption::Header(HeaderError::Magic),
        })?;
        order.push((z, i));
    }
    order.sort_by_key(|&(z, _)| z as u64);
    for w in order.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(CorruptionError {
                file: segs[w[1].1].name.to_string(),
                offset: 0,
                what: Corruption::DuplicateName(segs[w[0].1].name.to_string()),
            });
        }
    }
    let mut st = Scan {
        prev: None,
        attested: 0,
        txns: Vec::new(),
    };
    let mut out = Recovered::default();
    // The end of the previous segment: (file, offset) where its records stop.
    let mut prev_end: Option<(String, u64)> = None;
    for (k, &(name_zxid, i)) in order.iter().enumerate() {
        let seg = &segs[i];
        let file = seg.name;
        let is_last = k + 1 == order.len();
        let corrupt = |offset: u64, what: Corruption| CorruptionError {
            file: file.to_string(),
            offset,
            what,
        };
        // The previous segment's records must run on into this one.
        let continues = st.prev.is_none_or(|p| is_successor(p, name_zxid));
        if !continues {
            let (pf, po) = prev_end.clone().unwrap_or_default();
            return Err(CorruptionError {
                file: pf,
                offset: po,
                what: Corruption::Gap {
                    last: st.prev,
                    next_file: file.to_string(),
                    next_first: name_zxid,
                },
            });
        }
        let len = seg.dev.len();
        // A mapped device is scanned in place; others are read into memory.
        let owned;
        let buf: &[u8] = match seg.dev.as_slice() {
            Some(s) => s,
            None => {
                let mut v = vec![0u8; len as usize];
                seg.dev
                    .read_at(0, &mut v)
                    .map_err(|e| corrupt(0, Corruption::Device(e)))?;
                owned = v;
                &owned
            }
        };

        let header = match SegmentHeader::decode(buf) {
            Ok(h) => h,
            Err(e) => {
                // A crash while creating the last segment leaves a bad or
                // zero header and nothing else; anything more is corruption.
                let rest_zero = buf
                    .get(SEGMENT_HEADER_LEN..)
                    .is_none_or(|r| r.iter().all(|&b| b == 0));
                // Dir::create makes the full length durable first, so a
                // file shorter than a header was cut: refuse.
                if is_last && rest_zero && len >= SEGMENT_HEADER_LEN as u64 {
                    out.end = Some(LogEnd {
                        file: file.to_string(),
                        first: name_zxid,
                        capacity: len,
                        offset: SEGMENT_HEADER_LEN as u64,
                        junk_end: SEGMENT_HEADER_LEN as u64,
                        records: 0,
                    });
                    break;
                }
                return Err(corrupt(0, Corruption::Header(e)));
            }
        };
        if header.first_zxid != name_zxid {
            return Err(corrupt(
                0,
                Corruption::HeaderMismatch {
                    name: name_zxid,
                    header: header.first_zxid,
                },
            ));
        }
        // Scan the records of this segment.
        let mut off = SEGMENT_HEADER_LEN;
        let mut records = 0usize;
        let mut seg_prev: Option<Zxid> = None;
        let stop = loop {
            let rec = match decode_record(&buf[off..]) {
                Ok(r) => r,
                Err(e) => break e,
            };
            let entry = if rec.zxid <= skip && rec.body.first() == Some(&KIND_TXN) {
                Ok(Scanned::Skipped)
            } else {
                decode_entry(&rec)
                    .map(|e| match e {
                        Entry::Txn(t) => Scanned::Txn(t),
                        Entry::Attest => Scanned::Attest,
                    })
                    .map_err(|e| corrupt(off as u64, Corruption::Body(e)))
            };
            let in_sequence = match (&entry, st.prev) {
                (Ok(Scanned::Attest), p) => p == Some(rec.zxid) && seg_prev.is_some(),
                (_, None) => rec.zxid == name_zxid,
                (_, Some(p)) => {
                    is_successor(p, rec.zxid) && (seg_prev.is_some() || rec.zxid == name_zxid)
                }
            };
            if !in_sequence {
                return Err(corrupt(
                    off as u64,
                    Corruption::Sequence {
                        prev: st.prev,
                        found: rec.zxid,
                    },
                ));
            }
            let entry = entry?;
            let durable_ok = rec.durable >= st.attested
                && match (&entry, st.prev) {
                    (Scanned::Attest, _) => rec.durable <= rec.zxid,
                    (_, Some(p)) => rec.durable <= p,
                    (_, None) => rec.durable < rec.zxid,
                };
            if !durable_ok {
                return Err(corrupt(
                    off as u64,
                    Corruption::Testimony {
                        durable: rec.durable,
                        prev: st.prev,
                    },
                ));
            }
            st.attested = rec.durable;
            if let Scanned::Txn(t) = entry {
                st.txns.push(t);
            }
            st.prev = Some(rec.zxid);
            seg_prev = Some(rec.zxid);
            records += 1;
            off += rec.total_len();
        };
        let p = off as u64;
        if !is_last && records == 0 {
            // Rolling happens only when a record does not fit: a segment
            // followed by another always has records.
            return Err(corrupt(
                p,
                Corruption::Gap {
                    last: st.prev,
                    next_file: segs[order[k + 1].1].name.to_string(),
                    next_first: order[k + 1].0,
                },
            ));
        }
        let rest_zero = buf[off..].iter().all(|&b| b == 0);
        // No record starts in zeros (its length is not 0): a clean tail
        // (the preallocated rest of the segment) needs no search.
        let later = if rest_zero {
            None
        } else {
            scan_valid(buf, off + 1)
        };
        if !is_last {
            // Synced whole before the next segment was written: any valid
            // record after a bad one proves loss; junk alone is harmless if
            // the next segment continues the zxids (checked next round).
            if let Some((q, d, _)) = later {
                return Err(corrupt(
                    p,
                    Corruption::BadRecord {
                        why: stop,
                        by_file: file.to_string(),
                        by_offset: q as u64,
                        by_durable: d,
                    },
                ));
            }
            if !rest_zero {
                out.junk.push((file.to_string(), p));
            }
            prev_end = Some((file.to_string(), p));
            continue;
        }
        // The last segment.
        if let Some((q, d, _)) = later {
            // Does `d` cover the zxid that belonged at `p`?
            let attests = match st.prev {
                Some(prev) => d > prev,
                None => d >= name_zxid,
            };
            if attests {
                return Err(corrupt(
                    p,
                    Corruption::BadRecord {
                        why: stop,
                        by_file: file.to_string(),
                        by_offset: q as u64,
                        by_durable: d,
                    },
                ));
            }
        }
        let cut = len < header.capacity;
        // A short file is fine only if at least a zero length field is
        // left at `p` (so no record started there).
        if cut && !(rest_zero && len >= p + 4) {
            return Err(corrupt(
                p,
                Corruption::ShortFile {
                    len,
                    capacity: header.capacity,
                },
            ));
        }
        let junk_end = if rest_zero {
            p
        } else {
            let nz = buf.iter().rposition(|&b| b != 0).unwrap_or(off);
            out.torn = Some(TornTail {
                file: file.to_string(),
                offset: p,
                why: stop,
                unattested_records: later.map_or(0, |(_, _, n)| n),
            });
            nz as u64 + 1
        };
        out.end = Some(LogEnd {
            file: file.to_string(),
            first: name_zxid,
            capacity: header.capacity,
            offset: p,
            junk_end,
            records,
        });
    }
    out.txns = st.txns;
    out.last_zxid = st.prev;
    out.attested = st.attested;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::device::{CrashModel, MemDevice, MemDir, SimRng};
    use crate::tree::txn::{TxnHeader, TxnOp};

    fn txn(zxid: Zxid, data: usize) -> Txn {
        Txn {
            header: TxnHeader {
                session: 1,
                cxid: zxid as i32,
                zxid,
                time: 1000 + zxid,
            },
            op: TxnOp::SetData {
                path: "/x".into(),
                data: Some(vec![0xA5u8; data].into()),
                version: -1,
            },
        }
    }

    fn cfg(size: u64) -> LogConfig {
        LogConfig {
            segment_size: size,
            flush_bytes: 1024,
        }
    }

    #[test]
    fn names() {
        assert_eq!(segment_name(0x1_0000_0001), "log.100000001");
        assert_eq!(parse_segment_name("log.100000001"), Some(0x1_0000_0001));
        assert_eq!(parse_segment_name("log."), None);
        assert_eq!(parse_segment_name("log.xyz"), None);
        assert_eq!(parse_segment_name("snapshot.1"), None);
        assert_eq!(parse_segment_name("log.ffffffffffffffff"), Some(-1));
        assert_eq!(parse_segment_name("log.1ffffffffffffffff"), None);
    }

    #[test]
    fn successor_rule() {
        assert!(is_successor(1, 2));
        assert!(!is_successor(1, 3));
        assert!(!is_successor(2, 2));
        assert!(is_successor(0x1_0000_0005, 0x2_0000_0001));
        assert!(is_successor(0x1_0000_0005, 0x5_0000_0001));
        assert!(!is_successor(0x1_0000_0005, 0x2_0000_0002));
        assert!(!is_successor(0x1_ffff_ffff, 0x2_0000_0000));
        assert!(!is_successor(0x2_0000_0005, 0x1_0000_0006 - 0x1_0000_0000));
    }

    #[test]
    fn append_roll_recover_resume() {
        let mut log = TxnLog::create(MemDir::new(), cfg(2048)).unwrap();
        for z in 1..=60 {
            log.append(&txn(z, 50)).unwrap();
            if z % 7 == 0 {
                assert_eq!(log.sync().unwrap(), z);
            }
        }
        let mut dir = log.close().unwrap();
        assert!(dir.names().len() >= 3, "{:?}", dir.names());
        let rec = recover(&mut dir).unwrap();
        assert_eq!(rec.txns, (1..=60).map(|z| txn(z, 50)).collect::<Vec<_>>());
        assert_eq!(rec.attested, 60);
        assert!(rec.torn.is_none());
        let mut log = TxnLog::open(dir, cfg(2048), &rec).unwrap();
        assert_eq!(log.durable_zxid(), 60);
        assert!(matches!(
            log.append(&txn(62, 1)),
            Err(LogError::NotNext { .. })
        ));
        for z in 61..=80 {
            log.append(&txn(z, 50)).unwrap();
        }
        let mut dir = log.close().unwrap();
        let rec = recover(&mut dir).unwrap();
        assert_eq!(rec.txns.len(), 80);
    }

    #[test]
    fn epoch_change_and_too_large() {
        let mut log = TxnLog::create(MemDir::new(), cfg(1024)).unwrap();
        log.append(&txn(0x1_0000_0001, 10)).unwrap();
        log.append(&txn(0x1_0000_0002, 10)).unwrap();
        log.append(&txn(0x3_0000_0001, 10)).unwrap();
        assert!(matches!(
            log.append(&txn(0x3_0000_0002, 2000)),
            Err(LogError::TooLarge { .. })
        ));
        log.append(&txn(0x3_0000_0002, 10)).unwrap();
        let mut dir = log.close().unwrap();
        let rec = recover(&mut dir).unwrap();
        assert_eq!(rec.last_zxid, Some(0x3_0000_0002));
        assert_eq!(rec.txns.len(), 4);
    }

    #[test]
    fn empty_and_fresh_segment() {
        let mut dir = MemDir::new();
        assert_eq!(recover(&mut dir).unwrap(), Recovered::default());
        // A last segment whose header never made it: empty, and dropped on open.
        let log = {
            let mut log = TxnLog::create(MemDir::new(), cfg(1024)).unwrap();
            for z in 1..=30 {
                log.append(&txn(z, 20)).unwrap();
            }
            log
        };
        let mut dir = log.close().unwrap();
        let names = dir.names();
        let last = names
            .iter()
            .max_by_key(|n| parse_segment_name(n).unwrap())
            .unwrap()
            .clone();
        let rec = recover(&mut dir).unwrap();
        let z = rec.last_zxid.unwrap() + 1;
        let name = segment_name(z);
        dir.insert(&name, MemDevice::new(1024));
        let rec2 = recover(&mut dir).unwrap();
        assert_eq!(rec2.txns, rec.txns);
        assert_eq!(rec2.end.as_ref().unwrap().file, name);
        let mut log = TxnLog::open(dir, cfg(1024), &rec2).unwrap();
        assert!(log.dir().file(&name).is_none());
        log.append(&txn(z, 20)).unwrap();
        let mut dir = log.close().unwrap();
        assert_eq!(recover(&mut dir).unwrap().txns.len(), 31);
        assert!(dir.file(&last).is_some());
    }

    #[test]
    fn crash_loses_only_unsynced() {
        let mut log = TxnLog::create(MemDir::new(), cfg(4096)).unwrap();
        for z in 1..=20 {
            log.append(&txn(z, 30)).unwrap();
        }
        log.sync().unwrap();
        for z in 21..=30 {
            log.append(&txn(z, 30)).unwrap();
        }
        log.flush().unwrap();
        let mut crashed = log.dir().crash(&mut SimRng::new(3), CrashModel::LOSE_ALL);
        let rec = recover(&mut crashed).unwrap();
        assert_eq!(rec.txns.len(), 20);
    }

    #[test]
    fn bad_record_attested_later_is_corruption() {
        let mut log = TxnLog::create(MemDir::new(), cfg(1 << 16)).unwrap();
        for z in 1..=10 {
            log.append(&txn(z, 30)).unwrap();
            log.sync().unwrap();
        }
        let dir = log.close().unwrap();
        let dev = dir.file("log.1").unwrap();
        // Record 5 starts after the header and four records.
        let rec_len = {
            let mut v = Vec::new();
            encode_txn_record(&mut v, &txn(1, 30), 0)
        };
        let off = SEGMENT_HEADER_LEN + 4 * rec_len + 30;
        dev.flip_bit(off as u64, 3);
        let mut dir = dir;
        let err = recover(&mut dir).unwrap_err();
        assert_eq!(err.file, "log.1");
        assert_eq!(err.offset, (SEGMENT_HEADER_LEN + 4 * rec_len) as u64);
        assert!(matches!(err.what, Corruption::BadRecord { .. }), "{err}");
    }

    #[test]
    fn poisoned_after_failed_sync() {
        let mut log = TxnLog::create(MemDir::new(), cfg(4096)).unwrap();
        log.append(&txn(1, 10)).unwrap();
        log.sync().unwrap();
        log.dir().file("log.1").unwrap().fail_from_now();
        log.append(&txn(2, 10)).unwrap();
        assert!(matches!(log.sync(), Err(LogError::Device(_))));
        assert_eq!(log.append(&txn(3, 10)), Err(LogError::Poisoned));
        assert_eq!(log.sync(), Err(LogError::Poisoned));
    }
}
