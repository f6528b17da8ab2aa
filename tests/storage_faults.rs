//! Fault tests of the txn log: a reference log of more than 1,000 records over
//! many segments is damaged in every way listed below, and recovery must either
//! return an exact prefix that keeps every record whose loss it could detect, or
//! refuse and name the damaged file and offset. An independent oracle, built
//! from the writer's own record positions, predicts each outcome.
//!
//! Faults: cutting the last segment's file at every byte offset (and earlier
//! segments at sampled offsets), zero-filling from every byte offset of the last
//! segment (a torn tail), bit flips in every record and segment header, zeroing
//! each 512-byte sector, a missing middle segment, and crashes of a running log
//! (MemDevice: unsynced writes lost or torn) over many seeds.
//!
//! Run with `--nocapture` to see the outcome matrix.

use corral::storage::device::{CrashModel, Device, MemDevice, MemDir, SimRng, SECTOR};
use corral::storage::log::{
    recover, Corruption, CorruptionError, LogConfig, Recovered, TxnLog, ATTEST_LEN,
};
use corral::storage::record::SEGMENT_HEADER_LEN;
use corral::tree::acl::{Acl, Id};
use corral::tree::txn::{Txn, TxnHeader, TxnOp};
use std::collections::BTreeMap;
use std::sync::Arc;

const SEG: u64 = 8 * 1024;
const HDR: u64 = SEGMENT_HEADER_LEN as u64;

fn cfg() -> LogConfig {
    LogConfig {
        segment_size: SEG,
        flush_bytes: 2048,
    }
}

fn gen_op(rng: &mut SimRng, depth: u32) -> TxnOp {
    let data = |rng: &mut SimRng, n: u64| -> Option<Box<[u8]>> {
        match rng.below(10) {
            0 => None,
            1 => Some(Box::from(&b""[..])),
            _ => {
                let len = rng.below(n) as usize;
                Some((0..len).map(|_| rng.next_u64() as u8).collect())
            }
        }
    };
    let path = |rng: &mut SimRng| -> Box<str> { format!("/app/n{}", rng.below(1000)).into() };
    match rng.below(if depth == 0 { 12 } else { 10 }) {
        0..=4 => TxnOp::SetData {
            path: path(rng),
            data: Some((0..100).map(|_| rng.next_u64() as u8).collect()),
            version: rng.below(50) as i32 - 1,
        },
        5 => TxnOp::Create {
            path: path(rng),
            data: data(rng, 200),
            acl: Arc::from(vec![Acl {
                perms: 31,
                id: Id::new("digest", "user:abcdefghijklmnopqrstuvwxyz0="),
            }]),
            owner: rng.next_u64() as i64,
            parent_cversion: rng.below(100) as i32,
        },
        6 => TxnOp::Delete { path: path(rng) },
        7 => TxnOp::SetAcl {
            path: path(rng),
            acl: corral::tree::acl::open_acl(),
            aversion: 3,
        },
        8 => TxnOp::CreateSession {
            timeout: 30_000,
            passwd: None,
        },
        9 => TxnOp::Check { path: path(rng) },
        10 => TxnOp::CloseSession,
        _ => TxnOp::Multi((0..rng.below(4)).map(|_| gen_op(rng, depth + 1)).collect()),
    }
}

fn gen_txn(rng: &mut SimRng, zxid: i64) -> Txn {
    Txn {
        header: TxnHeader {
            session: 0x0100_0000_0000_0000 | rng.below(16) as i64,
            cxid: rng.below(1 << 20) as i32,
            zxid,
            time: 1_700_000_000_000 + zxid,
        },
        op: gen_op(rng, 0),
    }
}

/// One record of the reference log, as the writer placed it.
#[derive(Clone, Debug)]
struct Rec {
    seg: usize,
    off: u64,
    len: u64,
    zxid: i64,
    durable: i64,
    /// Index into the txn list; None for an attestation.
    txn: Option<usize>,
}

struct Reference {
    dir: MemDir,
    names: Vec<String>,
    txns: Vec<Txn>,
    recs: Vec<Rec>,
    /// End of the last record, per segment.
    data_end: Vec<u64>,
}

impl Reference {
    fn last_seg(&self) -> usize {
        self.names.len() - 1
    }
    /// The log after a purge kept only its last `keep` segments (what a
    /// snapshot allows); recovery must accept it as a log of its own.
    fn purged(&self, keep: usize) -> Reference {
        let first = self.names.len() - keep;
        let mut dir = self.dir.deep_clone();
        for n in &self.names[..first] {
            dir.take(n).unwrap();
        }
        let k0 = self.first_rec_of_seg(first);
        let t0 = self.txns_before(k0);
        let recs: Vec<Rec> = self.recs[k0..]
            .iter()
            .map(|x| Rec {
                seg: x.seg - first,
                txn: x.txn.map(|t| t - t0),
                ..x.clone()
            })
            .collect();
        Reference {
            dir,
            names: self.names[first..].to_vec(),
            txns: self.txns[t0..].to_vec(),
            recs,
            data_end: self.data_end[first..].to_vec(),
        }
    }

    fn txns_before(&self, rec_index: usize) -> usize {
        self.recs[..rec_index]
            .iter()
            .filter(|r| r.txn.is_some())
            .count()
    }
    fn first_rec_of_seg(&self, seg: usize) -> usize {
        self.recs.iter().position(|r| r.seg == seg).unwrap()
    }
}

/// 1,250 txns, random batch syncs, a few mid-log attestations, clean close.
fn build_reference() -> Reference {
    let mut rng = SimRng::new(0x5EED);
    let mut log = TxnLog::create(MemDir::new(), cfg()).unwrap();
    let mut txns = Vec::new();
    let mut recs: Vec<Rec> = Vec::new();
    let mut seg_firsts: Vec<i64> = Vec::new();
    let mut batch = 0;
    let mut i = 0;
    // At least 1,250 txns, and a last segment at least 3/4 full (so the
    // every-byte sweeps of the last segment cover real records).
    while i < 1250 || recs.last().is_none_or(|r| r.off < SEG * 3 / 4) {
        let zxid = if i == 700 {
            0x2_0000_0001
        } else {
            0x1_0000_0001 + i as i64
        };
        let zxid = if i > 700 {
            0x2_0000_0001 + (i - 700) as i64
        } else {
            zxid
        };
        let t = gen_txn(&mut rng, zxid);
        let pos = log.append(&t).unwrap();
        if seg_firsts.last() != Some(&pos.segment) {
            seg_firsts.push(pos.segment);
        }
        recs.push(Rec {
            seg: seg_firsts.len() - 1,
            off: pos.offset,
            len: pos.len as u64,
            zxid,
            durable: log.durable_zxid(),
            txn: Some(txns.len()),
        });
        txns.push(t);
        batch += 1;
        i += 1;
        if batch > rng.below(30) {
            batch = 0;
            log.sync().unwrap();
            if rng.chance(10) {
                push_attest(&mut log, &mut recs);
            }
        }
    }
    log.sync().unwrap();
    push_attest(&mut log, &mut recs);
    assert!(recs.last().unwrap().txn.is_none(), "the log ends attested");
    // close() adds nothing: the last sync is attested already.
    let dir = log.close().unwrap();
    let names: Vec<String> = seg_firsts
        .iter()
        .map(|&z| corral::storage::log::segment_name(z))
        .collect();
    let mut data_end = vec![0; names.len()];
    for r in &recs {
        data_end[r.seg] = data_end[r.seg].max(r.off + r.len);
    }
    // The reference itself must recover whole.
    let mut d = dir.deep_clone();
    let rec = recover(&mut d).unwrap();
    assert_eq!(rec.txns, txns);
    assert!(rec.torn.is_none());
    assert_eq!(d.names().len(), names.len());
    assert!(names.len() >= 12, "{} segments", names.len());
    Reference {
        dir,
        names,
        txns,
        recs,
        data_end,
    }
}

fn push_attest(log: &mut TxnLog<MemDir>, recs: &mut Vec<Rec>) {
    let last = recs.last().unwrap().clone();
    if let Some(pos) = log.attest().unwrap() {
        assert_eq!(pos.len as u64, ATTEST_LEN);
        recs.push(Rec {
            seg: last.seg,
            off: pos.offset,
            len: ATTEST_LEN,
            zxid: last.zxid,
            durable: log.durable_zxid(),
            txn: None,
        });
    }
}

/// What the oracle expects.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// Exactly the first n txns.
    Prefix(usize),
    /// Refusal naming this file and offset.
    Refuse(String, u64),
}

#[derive(Default)]
struct Tally {
    prefix_ok: usize,
    truncated_ok: usize,
    refused: usize,
    /// Txns dropped that the writer had synced (only where damage is
    /// byte-identical to a crash before that sync: see the log's docs).
    synced_lost: usize,
}

/// Recovers a damaged copy and checks it against the oracle.
fn check(
    r: &Reference,
    dir: &mut MemDir,
    expect: Expect,
    what: &str,
    tally: &mut Tally,
) -> Result<Recovered, CorruptionError> {
    let got = recover(dir);
    match (&got, &expect) {
        (Ok(rec), Expect::Prefix(n)) => {
            assert_eq!(rec.txns.len(), *n, "{what}: recovered count");
            assert!(
                rec.txns[..] == r.txns[..*n],
                "{what}: recovered data differs"
            );
            if rec.torn.is_some() {
                tally.truncated_ok += 1;
            } else {
                tally.prefix_ok += 1;
            }
            tally.synced_lost += r.txns.len() - n;
        }
        (Err(e), Expect::Refuse(file, off)) => {
            assert_eq!((&e.file, e.offset), (file, *off), "{what}: {e}");
            tally.refused += 1;
        }
        (Ok(rec), _) => panic!(
            "{what}: expected {expect:?}, got {} txns (torn {:?}, end {:?})",
            rec.txns.len(),
            rec.torn,
            rec.end
        ),
        (Err(e), _) => panic!("{what}: expected {expect:?}, got refusal: {e}"),
    }
    got
}

/// Oracle for damage that changes the bytes of some records (and maybe a
/// segment header). `changed` lists the damaged records in log order;
/// `header` the segments whose header changed; `img` returns the damaged
/// bytes of a segment.
fn oracle_damage(
    r: &Reference,
    changed: &[usize],
    header: Option<usize>,
    img: impl Fn(usize) -> Vec<u8>,
) -> Expect {
    if let Some(s) = header {
        let rest_nonzero = img(s)[HDR as usize..].iter().any(|&b| b != 0);
        if s != r.last_seg() || rest_nonzero {
            return Expect::Refuse(r.names[s].clone(), 0);
        }
        // The last segment reads as never initialized.
        return Expect::Prefix(r.txns_before(r.first_rec_of_seg(s)));
    }
    let Some(&j) = changed.first() else {
        return Expect::Prefix(r.txns.len());
    };
    let rj = &r.recs[j];
    let refuse = Expect::Refuse(r.names[rj.seg].clone(), rj.off);
    if rj.seg != r.last_seg() {
        // An attestation ending a segment guards nothing there: the next
        // segment still continues the zxids, so it is harmless junk.
        let ends_seg = r.recs.get(j + 1).is_none_or(|n| n.seg != rj.seg);
        if rj.txn.is_none() && ends_seg {
            return Expect::Prefix(r.txns.len());
        }
        return refuse;
    }
    // The newest zxid a later record must cover to prove record j synced.
    let need = if j == 0 {
        rj.zxid
    } else {
        r.recs[j - 1].zxid + 1
    };
    let attested =
        (j + 1..r.recs.len()).any(|k| !changed.contains(&k) && r.recs[k].durable >= need);
    if attested {
        refuse
    } else {
        Expect::Prefix(r.txns_before(j))
    }
}

fn damaged_records(r: &Reference, seg: usize, before: &[u8], after: &[u8]) -> Vec<usize> {
    (0..r.recs.len())
        .filter(|&k| {
            let x = &r.recs[k];
            let (a, b) = (x.off as usize, (x.off + x.len) as usize);
            x.seg == seg && before[a..b] != after[a..b.min(after.len())]
        })
        .collect()
}

const HEADING: &str =
    "fault                                 prefix-ok  truncated-ok  refused  synced-lost";

fn print_rows(rows: &[(String, Tally)]) {
    println!();
    println!("{HEADING}");
    for (k, t) in rows {
        println!(
            "{k:<37} {:>9} {:>13} {:>8} {:>12}",
            t.prefix_ok, t.truncated_ok, t.refused, t.synced_lost
        );
    }
}

/// Cuts the last segment's file at offsets `0, step, 2*step, ..`.
fn cut_last(r: &Reference, step: u64) -> Tally {
    let mut t = Tally::default();
    let last = r.last_seg();
    let end = r.data_end[last];
    for cut in (0..SEG).step_by(step as usize) {
        let mut d = r.dir.deep_clone();
        d.file(&r.names[last]).unwrap().truncate(cut);
        let expect = if cut >= end + 4 {
            Expect::Prefix(r.txns.len())
        } else if cut < HDR {
            Expect::Refuse(r.names[last].clone(), 0)
        } else {
            let p = r
                .recs
                .iter()
                .find(|x| x.seg == last && x.off + x.len > cut)
                .map_or(end, |x| x.off);
            Expect::Refuse(r.names[last].clone(), p)
        };
        let _ = check(r, &mut d, expect, &format!("cut last at {cut}"), &mut t);
    }
    assert_eq!(t.synced_lost, 0);
    t
}

/// Cuts earlier segments at sampled offsets and around sampled records.
fn cut_earlier(r: &Reference) -> Tally {
    let mut t = Tally::default();
    for s in 0..r.last_seg() {
        let mut cuts: Vec<u64> = (0..SEG).step_by(257).collect();
        for x in r.recs.iter().filter(|x| x.seg == s).step_by(5) {
            cuts.extend([x.off, x.off + 1, x.off + x.len - 1, x.off + x.len]);
        }
        cuts.extend([HDR - 1, HDR, r.data_end[s] - 1, r.data_end[s], SEG - 1]);
        cuts.sort();
        cuts.dedup();
        for cut in cuts {
            let mut d = r.dir.deep_clone();
            d.file(&r.names[s]).unwrap().truncate(cut);
            let expect = if cut >= r.data_end[s] {
                Expect::Prefix(r.txns.len())
            } else if cut < HDR {
                Expect::Refuse(r.names[s].clone(), 0)
            } else {
                let p = r
                    .recs
                    .iter()
                    .find(|x| x.seg == s && x.off + x.len > cut)
                    .unwrap()
                    .off;
                Expect::Refuse(r.names[s].clone(), p)
            };
            let _ = check(
                r,
                &mut d,
                expect,
                &format!("cut {} at {cut}", r.names[s]),
                &mut t,
            );
        }
    }
    assert_eq!(t.synced_lost, 0);
    t
}

/// Torn tail: zero-fills the last segment from offsets `0, step, ..` up to
/// its data end. Byte-identical to a crash before the tail's sync, so
/// recovery must truncate exactly there and never refuse.
fn zero_tail_last(r: &Reference, step: u64) -> Tally {
    let mut t = Tally::default();
    let last = r.last_seg();
    for x in (0..=r.data_end[last]).step_by(step as usize) {
        let mut d = r.dir.deep_clone();
        d.file(&r.names[last]).unwrap().zero(x, SEG);
        let expect = if x < HDR {
            Expect::Prefix(r.txns_before(r.first_rec_of_seg(last)))
        } else {
            let k = r
                .recs
                .iter()
                .position(|y| y.seg == last && y.off + y.len > x)
                .unwrap_or(r.recs.len());
            Expect::Prefix(r.txns_before(k))
        };
        let rec = check(r, &mut d, expect, &format!("zero tail from {x}"), &mut t).unwrap();
        // Resuming must work and keep what was recovered.
        if x % 97 == 0 {
            let mut log = TxnLog::open(d, cfg(), &rec).unwrap();
            let z = rec.last_zxid.unwrap() + 1;
            log.append(&gen_txn(&mut SimRng::new(x), z)).unwrap();
            let mut d = log.close().unwrap();
            let again = recover(&mut d).unwrap();
            assert_eq!(again.txns.len(), rec.txns.len() + 1);
            assert!(again.txns[..rec.txns.len()] == rec.txns[..]);
        }
    }
    t
}

/// Zero-fills earlier segments from sampled offsets.
fn zero_earlier(r: &Reference) -> Tally {
    let mut t = Tally::default();
    for s in 0..r.last_seg() {
        for x in (0..r.data_end[s] + 8).step_by(211) {
            let mut d = r.dir.deep_clone();
            let before = d.file(&r.names[s]).unwrap().image();
            d.file(&r.names[s]).unwrap().zero(x, SEG);
            let after = d.file(&r.names[s]).unwrap().image();
            let changed = damaged_records(r, s, &before, &after);
            let header = (before[..HDR as usize] != after[..HDR as usize]).then_some(s);
            let expect = oracle_damage(r, &changed, header, |_| after.clone());
            let _ = check(
                r,
                &mut d,
                expect,
                &format!("zero {} from {x}", r.names[s]),
                &mut t,
            );
        }
    }
    assert_eq!(t.synced_lost, 0);
    t
}

/// A flipped bit in every record and in segment headers.
fn flips(r: &Reference) -> Tally {
    let mut t = Tally::default();
    let mut rng = SimRng::new(77);
    for (k, x) in r.recs.iter().enumerate() {
        let off = x.off + rng.below(x.len);
        let bit = rng.below(8) as u8;
        let mut d = r.dir.deep_clone();
        d.file(&r.names[x.seg]).unwrap().flip_bit(off, bit);
        let after = d.file(&r.names[x.seg]).unwrap().image();
        let expect = oracle_damage(r, &[k], None, |_| after.clone());
        // A flip is never what a crash leaves: no synced txn may be lost.
        if x.txn.is_some() {
            assert!(matches!(expect, Expect::Refuse(..)), "record {k}");
        }
        let got = check(
            r,
            &mut d,
            expect,
            &format!("flip rec {k} at {off}.{bit}"),
            &mut t,
        );
        if let Err(e) = got {
            assert!(
                matches!(
                    e.what,
                    Corruption::BadRecord { .. } | Corruption::Gap { .. }
                ),
                "{e}"
            );
        }
    }
    for s in 0..r.names.len() {
        for bit in (s as u64 % 7..HDR * 8).step_by(7) {
            let mut d = r.dir.deep_clone();
            d.file(&r.names[s])
                .unwrap()
                .flip_bit(bit / 8, (bit % 8) as u8);
            let after = d.file(&r.names[s]).unwrap().image();
            let expect = oracle_damage(r, &[], Some(s), |_| after.clone());
            let got = check(
                r,
                &mut d,
                expect,
                &format!("flip header {s} bit {bit}"),
                &mut t,
            );
            assert!(matches!(
                got,
                Err(CorruptionError {
                    what: Corruption::Header(_),
                    ..
                })
            ));
        }
    }
    assert_eq!(t.synced_lost, 0);
    t
}

/// A zeroed 512-byte sector, at every sector of every segment.
fn sectors(r: &Reference) -> Tally {
    let mut t = Tally::default();
    let last = r.last_seg();
    let mut inherent = 0;
    for s in 0..r.names.len() {
        for sec in 0..SEG / SECTOR {
            let mut d = r.dir.deep_clone();
            let before = d.file(&r.names[s]).unwrap().image();
            d.file(&r.names[s]).unwrap().zero(sec * SECTOR, SECTOR);
            let after = d.file(&r.names[s]).unwrap().image();
            let changed = damaged_records(r, s, &before, &after);
            let header = (sec == 0 && before[..HDR as usize] != after[..HDR as usize]).then_some(s);
            let expect = oracle_damage(r, &changed, header, |_| after.clone());
            if let Expect::Prefix(n) = expect {
                if n < r.txns.len() {
                    // Only the sector holding the final attestation can hide
                    // synced records: without it the bytes are a crash's.
                    assert_eq!(s, last);
                    let fin = r.recs.last().unwrap();
                    assert!(fin.off + fin.len > sec * SECTOR, "sector {sec}");
                    inherent += 1;
                }
            }
            let _ = check(
                r,
                &mut d,
                expect,
                &format!("zero {} sector {sec}", r.names[s]),
                &mut t,
            );
        }
    }
    assert!(inherent <= 2, "{inherent}");
    t
}

/// A missing middle segment, or an empty file in its place.
fn missing(r: &Reference) -> Tally {
    let mut t = Tally::default();
    for s in 1..r.last_seg() {
        let mut d = r.dir.deep_clone();
        d.take(&r.names[s]).unwrap();
        let expect = Expect::Refuse(r.names[s - 1].clone(), r.data_end[s - 1]);
        let e = check(
            r,
            &mut d,
            expect,
            &format!("missing {}", r.names[s]),
            &mut t,
        )
        .unwrap_err();
        assert!(matches!(e.what, Corruption::Gap { .. }), "{e}");
    }
    for s in 1..r.last_seg() {
        let mut d = r.dir.deep_clone();
        let name = &r.names[s];
        d.take(name).unwrap();
        d.insert(name, MemDevice::new(SEG));
        // Its name continues the zxids; its zero header is the corruption.
        let expect = Expect::Refuse(name.clone(), 0);
        check(r, &mut d, expect, &format!("empty {name}"), &mut t).unwrap_err();
    }
    t
}

#[test]
fn fault_matrix() {
    type Section = fn() -> (String, Tally);
    let sections: Vec<Section> = vec![
        || {
            let r = build_reference().purged(4);
            ("cut file: last seg, every byte (*)".into(), cut_last(&r, 1))
        },
        || {
            let r = build_reference();
            (
                "cut file: last seg, every 13th byte".into(),
                cut_last(&r, 13),
            )
        },
        || {
            (
                "cut file: earlier segs, sampled".into(),
                cut_earlier(&build_reference()),
            )
        },
        || {
            let r = build_reference().purged(4);
            (
                "torn tail: zero from every byte (*)".into(),
                zero_tail_last(&r, 1),
            )
        },
        || {
            let r = build_reference();
            (
                "torn tail: zero from every 13th byte".into(),
                zero_tail_last(&r, 13),
            )
        },
        || {
            (
                "zero from x: earlier segs, sampled".into(),
                zero_earlier(&build_reference()),
            )
        },
        || {
            (
                "bit flip: every record + headers".into(),
                flips(&build_reference()),
            )
        },
        || {
            (
                "zeroed 512-byte sector: every one".into(),
                sectors(&build_reference()),
            )
        },
        || {
            (
                "missing/empty middle segment".into(),
                missing(&build_reference()),
            )
        },
    ];
    let rows: Vec<(String, Tally)> = std::thread::scope(|sc| {
        let handles: Vec<_> = sections.into_iter().map(|f| sc.spawn(f)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let r = build_reference();
    print_rows(&rows);
    println!(
        "{} records ({} txns) in {} segments of {} bytes; last segment {} bytes of records.",
        r.recs.len(),
        r.txns.len(),
        r.names.len(),
        SEG,
        r.data_end[r.last_seg()]
    );
    println!("(*) on the log's last 4 segments (older ones purged), to keep debug builds fast.");
    println!("synced-lost: synced txns dropped where the damage leaves bytes a crash could leave.");
}

#[test]
fn crash_matrix() {
    let seeds = std::env::var("SEEDS").map_or(400, |v| v.parse().unwrap());
    let t = crash_runs(seeds);
    assert_eq!(t.refused, 0);
    print_rows(&[(format!("crash (MemDevice) x3, {seeds} seeds"), t)]);
}

/// Runs random workloads, crashing several times per seed; recovery must
/// never refuse, must return an exact prefix of what was appended, and must
/// keep every txn whose sync completed.
fn crash_runs(seeds: u64) -> Tally {
    let mut t = Tally::default();
    let models = [
        CrashModel::LOSE_ALL,
        CrashModel::MIXED,
        CrashModel {
            keep_pct: 20,
            torn_pct: 60,
        },
        CrashModel {
            keep_pct: 90,
            torn_pct: 10,
        },
    ];
    let mut total_records = 0;
    let mut unattested_after_tear = 0;
    for seed in 0..seeds {
        let mut rng = SimRng::new(seed);
        let cfg = LogConfig {
            segment_size: 2048 + 512 * rng.below(8),
            flush_bytes: 256 + rng.below(2048) as usize,
        };
        let mut log = TxnLog::create(MemDir::new(), cfg).unwrap();
        let mut appended: Vec<Txn> = Vec::new();
        let mut acked = 0usize;
        let mut next: i64 = 1;
        for _cycle in 0..3 {
            for _ in 0..rng.below(60) + 5 {
                match rng.below(10) {
                    0..=5 => {
                        let txn = gen_txn(&mut rng, next);
                        log.append(&txn).unwrap();
                        appended.push(txn);
                        next += 1;
                    }
                    6 => log.flush().unwrap(),
                    7 | 8 => {
                        let d = log.sync().unwrap();
                        assert_eq!(d, appended.last().map_or(0, |x| x.header.zxid));
                        acked = appended.len();
                    }
                    _ => {
                        log.attest().unwrap();
                    }
                }
            }
            let model = models[rng.below(models.len() as u64) as usize];
            let mut crashed = log.dir().crash(&mut rng, model);
            let rec = match recover(&mut crashed) {
                Ok(rec) => rec,
                Err(e) => panic!("seed {seed}: a crash must never refuse: {e}"),
            };
            assert!(
                rec.txns.len() >= acked,
                "seed {seed}: lost synced txns ({} < {acked})",
                rec.txns.len()
            );
            assert!(
                rec.txns[..] == appended[..rec.txns.len()],
                "seed {seed}: recovered txns differ"
            );
            if let Some(torn) = &rec.torn {
                t.truncated_ok += 1;
                unattested_after_tear += torn.unattested_records;
            } else {
                t.prefix_ok += 1;
            }
            total_records += rec.txns.len();
            appended.truncate(rec.txns.len());
            next = rec.last_zxid.map_or(1, |z| z + 1);
            log = TxnLog::open(crashed, cfg, &rec).unwrap();
            // open() syncs what it recovered.
            acked = appended.len();
            assert_eq!(log.durable_zxid(), rec.last_zxid.unwrap_or(0));
        }
    }
    assert!(total_records > seeds as usize * 20);
    // The case that separates a crash from corruption must occur: valid
    // (never acknowledged) records after a torn one.
    println!("valid unattested records cut off after a tear: {unattested_after_tear}");
    if seeds >= 100 {
        assert!(unattested_after_tear > 0);
    }
    t
}

#[test]
fn crash_during_every_device_state_of_a_small_log() {
    // Every prefix of device operations: append one txn at a time, crash
    // after each with every model; recovery never refuses.
    let mut log = TxnLog::create(
        MemDir::new(),
        LogConfig {
            segment_size: 1024,
            flush_bytes: 1,
        },
    )
    .unwrap();
    let mut rng = SimRng::new(9);
    let mut acked = 0;
    let mut appended = Vec::new();
    for z in 1..=60 {
        let txn = gen_txn(&mut rng, z);
        log.append(&txn).unwrap();
        appended.push(txn);
        if z % 4 == 0 {
            log.sync().unwrap();
            acked = appended.len();
        }
        for seed in 0..20 {
            let mut c = log.dir().crash(&mut SimRng::new(seed), CrashModel::MIXED);
            let rec = recover(&mut c).unwrap_or_else(|e| panic!("z {z} seed {seed}: {e}"));
            assert!(rec.txns.len() >= acked);
            assert!(rec.txns[..] == appended[..rec.txns.len()]);
        }
    }
    let names: BTreeMap<String, u64> = log
        .dir()
        .names()
        .into_iter()
        .map(|n| {
            let l = log.dir().file(&n).unwrap().len();
            (n, l)
        })
        .collect();
    assert!(names.len() > 3);
}
