//! The storage device seen by the txn log: one segment file, and the
//! directory that creates them. [`MemDevice`]/[`MemDir`] are in-memory
//! implementations for tests that model what a crash keeps.
//!
//! Pure code: no std::fs, no clock, no threads. The server's device is the
//! memory-mapped segment of `storage::mmap`; `storage::file` has a plain
//! std::fs one for tools and tests.
//!
//! The contract the log relies on (documented assumptions of the real
//! devices too):
//! * a new file reads as zeros up to its preallocated length, and the file,
//!   its length and its directory entry are durable when `Dir::create`
//!   returns;
//! * after `sync` returns Ok every byte written before it is durable;
//! * a crash keeps, for each 512-byte sector written since the last sync,
//!   either the old bytes, the new bytes, or a torn mix of the two; it never
//!   invents other bytes, and never touches synced sectors.
//!
//! [`MemDevice::crash`] implements exactly that model, deterministically
//! from a seed.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use thiserror::Error;

/// The unit a crash keeps or loses as a whole (unless torn).
pub const SECTOR: u64 = 512;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DeviceError {
    #[error("write of {len} bytes at {off} past the end ({size})")]
    OutOfRange { off: u64, len: u64, size: u64 },
    #[error("no such file {0}")]
    NotFound(String),
    #[error("file {0} exists")]
    Exists(String),
    #[error("injected failure")]
    Injected,
    #[error("i/o error: {0}")]
    Io(String),
}

/// One segment file.
pub trait Device {
    /// Current length in bytes.
    fn len(&self) -> u64;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads `buf.len()` bytes at `off`; bytes past the end read as zero.
    /// Returns how many bytes were within the file.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, DeviceError>;

    /// Writes `data` at `off`, inside the preallocated length (a log never
    /// grows a file by writing).
    fn write_at(&mut self, off: u64, data: &[u8]) -> Result<(), DeviceError>;

    /// The durability point: every earlier write is on stable storage.
    fn sync(&mut self) -> Result<(), DeviceError>;

    /// Sets the length (new bytes are zero); durable at the next `sync`.
    fn set_len(&mut self, len: u64) -> Result<(), DeviceError>;

    /// The whole contents as a slice, for devices that can lend them
    /// without copying (a memory map). Recovery scans it in place.
    fn as_slice(&self) -> Option<&[u8]> {
        None
    }
}

/// The directory holding the segment files.
pub trait Dir {
    type Dev: Device;

    /// Creates `name`, zero-filled to `len` bytes. The file, its length and
    /// its directory entry are durable when this returns.
    fn create(&mut self, name: &str, len: u64) -> Result<Self::Dev, DeviceError>;

    /// Opens an existing file.
    fn open(&mut self, name: &str) -> Result<Self::Dev, DeviceError>;

    /// File names, sorted.
    fn list(&self) -> Result<Vec<String>, DeviceError>;

    /// Removes a file (durably).
    fn remove(&mut self, name: &str) -> Result<(), DeviceError>;
}

// ------------------------------------------------------------- randomness

/// A tiny deterministic generator (splitmix64) for crash simulation.
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `pct`/100.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

// ------------------------------------------------------------- MemDevice

/// What survives a simulated crash, per unsynced sector.
#[derive(Clone, Copy, Debug)]
pub struct CrashModel {
    /// Percent of unsynced sectors whose new contents survive whole.
    pub keep_pct: u64,
    /// Percent of unsynced sectors that come back torn: new bytes up to a
    /// random split point, old bytes after it (or the reverse).
    pub torn_pct: u64,
}

impl CrashModel {
    /// Only synced bytes survive.
    pub const LOSE_ALL: CrashModel = CrashModel {
        keep_pct: 0,
        torn_pct: 0,
    };
    /// A mix: about half the unsynced sectors survive, a tenth are torn.
    pub const MIXED: CrashModel = CrashModel {
        keep_pct: 45,
        torn_pct: 10,
    };
}

#[derive(Clone, Debug, Default)]
struct MemFile {
    /// What reads see now.
    data: Vec<u8>,
    /// What is on stable storage.
    durable: Vec<u8>,
    /// Sectors written since the last sync (index = offset / SECTOR).
    dirty: BTreeSet<u64>,
    /// Fail every later write/sync (models a dead disk).
    fail: bool,
    syncs: u64,
}

/// An in-memory segment file that tracks durable versus merely written
/// bytes. Clones are handles to the same file (single-threaded).
#[derive(Clone, Debug, Default)]
pub struct MemDevice(Rc<RefCell<MemFile>>);

impl MemDevice {
    pub fn new(len: u64) -> MemDevice {
        let f = MemFile {
            data: vec![0; len as usize],
            durable: vec![0; len as usize],
            ..MemFile::default()
        };
        MemDevice(Rc::new(RefCell::new(f)))
    }

    /// A device whose current and durable contents are `bytes`.
    pub fn from_image(bytes: Vec<u8>) -> MemDevice {
        let f = MemFile {
            durable: bytes.clone(),
            data: bytes,
            ..MemFile::default()
        };
        MemDevice(Rc::new(RefCell::new(f)))
    }

    /// What reads see now.
    pub fn image(&self) -> Vec<u8> {
        self.0.borrow().data.clone()
    }

    /// What is durable now.
    pub fn durable_image(&self) -> Vec<u8> {
        self.0.borrow().durable.clone()
    }

    /// An independent copy (current and durable state).
    pub fn deep_clone(&self) -> MemDevice {
        MemDevice(Rc::new(RefCell::new(self.0.borrow().clone())))
    }

    pub fn syncs(&self) -> u64 {
        self.0.borrow().syncs
    }

    /// Makes every later write and sync fail.
    pub fn fail_from_now(&self) {
        self.0.borrow_mut().fail = true;
    }

    /// The file as a crash leaves it: synced bytes, plus for each unsynced
    /// sector (per `model`, from `rng`) the new bytes, the old bytes or a
    /// torn mix. The length is the durable length.
    pub fn crash(&self, rng: &mut SimRng, model: CrashModel) -> MemDevice {
        let f = self.0.borrow();
        let mut out = f.durable.clone();
        for &s in &f.dirty {
            let lo = (s * SECTOR) as usize;
            let hi = ((s + 1) * SECTOR) as usize;
            let hi_new = hi.min(f.data.len()).min(out.len());
            if lo >= hi_new {
                continue;
            }
            let roll = rng.below(100);
            if roll < model.keep_pct {
                out[lo..hi_new].copy_from_slice(&f.data[lo..hi_new]);
            } else if roll < model.keep_pct + model.torn_pct {
                let split = lo + rng.below((hi_new - lo) as u64) as usize;
                if rng.chance(50) {
                    out[lo..split].copy_from_slice(&f.data[lo..split]);
                } else {
                    out[split..hi_new].copy_from_slice(&f.data[split..hi_new]);
                }
            }
        }
        MemDevice::from_image(out)
    }

    // Damage to stable storage (applies to current and durable bytes).

    pub fn flip_bit(&self, off: u64, bit: u8) {
        let mut f = self.0.borrow_mut();
        f.data[off as usize] ^= 1 << bit;
        f.durable[off as usize] ^= 1 << bit;
    }

    pub fn zero(&self, off: u64, len: u64) {
        let mut f = self.0.borrow_mut();
        let end = ((off + len) as usize).min(f.data.len());
        f.data[off as usize..end].fill(0);
        f.durable[off as usize..end].fill(0);
    }

    pub fn truncate(&self, len: u64) {
        let mut f = self.0.borrow_mut();
        f.data.truncate(len as usize);
        f.durable.truncate(len as usize);
    }
}

impl Device for MemDevice {
    fn len(&self) -> u64 {
        self.0.borrow().data.len() as u64
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, DeviceError> {
        let f = self.0.borrow();
        let size = f.data.len() as u64;
        let n = size.saturating_sub(off).min(buf.len() as u64) as usize;
        if n > 0 {
            buf[..n].copy_from_slice(&f.data[off as usize..off as usize + n]);
        }
        buf[n..].fill(0);
        Ok(n)
    }

    fn write_at(&mut self, off: u64, data: &[u8]) -> Result<(), DeviceError> {
        let mut f = self.0.borrow_mut();
        if f.fail {
            return Err(DeviceError::Injected);
        }
        let size = f.data.len() as u64;
        let len = data.len() as u64;
        if off.checked_add(len).is_none_or(|end| end > size) {
            return Err(DeviceError::OutOfRange { off, len, size });
        }
        f.data[off as usize..(off + len) as usize].copy_from_slice(data);
        if len > 0 {
            for s in off / SECTOR..=(off + len - 1) / SECTOR {
                f.dirty.insert(s);
            }
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), DeviceError> {
        let mut f = self.0.borrow_mut();
        if f.fail {
            return Err(DeviceError::Injected);
        }
        // Copy only what changed since the last sync.
        let dirty = std::mem::take(&mut f.dirty);
        let MemFile { data, durable, .. } = &mut *f;
        durable.resize(data.len(), 0);
        for s in dirty {
            let lo = ((s * SECTOR) as usize).min(data.len());
            let hi = (((s + 1) * SECTOR) as usize).min(data.len());
            durable[lo..hi].copy_from_slice(&data[lo..hi]);
        }
        f.syncs += 1;
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> Result<(), DeviceError> {
        let mut f = self.0.borrow_mut();
        if f.fail {
            return Err(DeviceError::Injected);
        }
        // Length changes are modelled as durable at once (the log only
        // sets lengths through Dir::create and before a sync).
        f.data.resize(len as usize, 0);
        f.durable.resize(len as usize, 0);
        f.dirty.retain(|&s| s * SECTOR < len);
        Ok(())
    }
}

/// An in-memory directory of [`MemDevice`]s. Creation is durable at once,
/// as [`Dir::create`] promises.
#[derive(Clone, Debug, Default)]
pub struct MemDir {
    files: BTreeMap<String, MemDevice>,
}

impl MemDir {
    pub fn new() -> MemDir {
        MemDir::default()
    }

    pub fn file(&self, name: &str) -> Option<&MemDevice> {
        self.files.get(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    pub fn insert(&mut self, name: &str, dev: MemDevice) {
        self.files.insert(name.to_string(), dev);
    }

    pub fn take(&mut self, name: &str) -> Option<MemDevice> {
        self.files.remove(name)
    }

    /// The directory as a crash leaves it (see [`MemDevice::crash`]).
    pub fn crash(&self, rng: &mut SimRng, model: CrashModel) -> MemDir {
        MemDir {
            files: self
                .files
                .iter()
                .map(|(n, d)| (n.clone(), d.crash(rng, model)))
                .collect(),
        }
    }

    /// An independent copy of every file.
    pub fn deep_clone(&self) -> MemDir {
        MemDir {
            files: self
                .files
                .iter()
                .map(|(n, d)| (n.clone(), d.deep_clone()))
                .collect(),
        }
    }
}

impl Dir for MemDir {
    type Dev = MemDevice;

    fn create(&mut self, name: &str, len: u64) -> Result<MemDevice, DeviceError> {
        if self.files.contains_key(name) {
            return Err(DeviceError::Exists(name.to_string()));
        }
        let d = MemDevice::new(len);
        self.files.insert(name.to_string(), d.clone());
        Ok(d)
    }

    fn open(&mut self, name: &str) -> Result<MemDevice, DeviceError> {
        self.files
            .get(name)
            .cloned()
            .ok_or_else(|| DeviceError::NotFound(name.to_string()))
    }

    fn list(&self) -> Result<Vec<String>, DeviceError> {
        Ok(self.names())
    }

    fn remove(&mut self, name: &str) -> Result<(), DeviceError> {
        self.files
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| DeviceError::NotFound(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_end_are_zero() {
        let mut d = MemDevice::new(10);
        d.write_at(2, b"abc").unwrap();
        let mut b = [9u8; 8];
        assert_eq!(d.read_at(6, &mut b).unwrap(), 4);
        assert_eq!(b, [0; 8]);
        assert_eq!(d.read_at(1, &mut b[..4]).unwrap(), 4);
        assert_eq!(&b[..4], b"\0abc");
        assert!(d.write_at(8, b"abc").is_err());
        assert!(d.write_at(u64::MAX, b"a").is_err());
    }

    #[test]
    fn crash_keeps_synced_and_loses_unsynced() {
        let mut d = MemDevice::new(4 * SECTOR);
        d.write_at(0, &[1; 600]).unwrap();
        d.sync().unwrap();
        d.write_at(600, &[2; 1000]).unwrap();
        let lost = d.crash(&mut SimRng::new(1), CrashModel::LOSE_ALL).image();
        assert_eq!(&lost[..600], &[1; 600][..]);
        assert!(lost[600..].iter().all(|&b| b == 0));
        let kept = d
            .crash(
                &mut SimRng::new(1),
                CrashModel {
                    keep_pct: 100,
                    torn_pct: 0,
                },
            )
            .image();
        assert_eq!(kept, d.image());
    }

    #[test]
    fn crash_is_deterministic_and_sector_shaped() {
        let mut d = MemDevice::new(64 * SECTOR);
        d.write_at(0, &vec![7u8; (64 * SECTOR) as usize]).unwrap();
        let a = d.crash(&mut SimRng::new(42), CrashModel::MIXED).image();
        let b = d.crash(&mut SimRng::new(42), CrashModel::MIXED).image();
        assert_eq!(a, b);
        let (mut whole_new, mut whole_old, mut torn) = (0, 0, 0);
        for s in a.chunks(SECTOR as usize) {
            let new = s.iter().filter(|&&x| x == 7).count();
            match new {
                0 => whole_old += 1,
                512 => whole_new += 1,
                _ => {
                    torn += 1;
                    // A torn sector is one run of new and one run of old.
                    let changes = s.windows(2).filter(|w| w[0] != w[1]).count();
                    assert_eq!(changes, 1);
                }
            }
        }
        assert!(whole_new > 0 && whole_old > 0 && torn > 0);
    }

    #[test]
    fn dir_create_open_remove() {
        let mut dir = MemDir::new();
        let mut d = dir.create("log.1", 100).unwrap();
        assert!(dir.create("log.1", 100).is_err());
        d.write_at(0, b"x").unwrap();
        let o = dir.open("log.1").unwrap();
        let mut b = [0u8; 1];
        o.read_at(0, &mut b).unwrap();
        assert_eq!(&b, b"x");
        assert_eq!(dir.list().unwrap(), vec!["log.1".to_string()]);
        dir.remove("log.1").unwrap();
        assert!(dir.open("log.1").is_err());
    }
}
