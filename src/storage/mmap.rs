//! The server's txn-log device: segment files preallocated with
//! `fallocate`, written through a shared memory map (memmap2), made durable
//! with `fdatasync` on the file descriptor.
//!
//! NOT pure: this module touches files and memory maps. It runs on the log
//! thread (`runtime::storage`), never on a glommio shard: `sync` blocks in
//! `fdatasync` and a segment roll creates, preallocates and fsyncs a file
//! and its directory.
//!
//! * **Preallocation.** [`MmapDir::create`] makes the file with
//!   `fallocate(0, len)` (real blocks, so a later write never allocates and
//!   `fdatasync` has no metadata to flush), fsyncs it and fsyncs the
//!   directory before returning: the file, its length and its name are
//!   durable before the log writes its first record into it.
//! * **Pre-faulting.** The map is made with `MAP_POPULATE`, so the page
//!   tables of the whole segment are filled when it is created (on the log
//!   thread, once per segment) instead of one fault per page as the writer
//!   advances.
//! * **Writes** are a `memcpy` into the map. Linux keeps a shared mapping's
//!   pages in the page cache, so `fdatasync` on the descriptor writes back
//!   everything copied before it; that is the durability point.
//! * A failed `fdatasync` is returned as an error; the log poisons itself
//!   and the runtime stops the process.

use super::device::{Device, DeviceError, Dir};
use memmap2::{MmapMut, MmapOptions};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

fn io_err(e: io::Error) -> DeviceError {
    DeviceError::Io(e.to_string())
}

/// Suffix of a segment file still being created.
const TMP_SUFFIX: &str = ".tmp";

/// Fsyncs a directory (makes created, renamed and removed names durable).
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Allocates real blocks for `0..len` (falls back to `set_len` where the
/// file system cannot preallocate).
pub fn preallocate(file: &File, len: u64) -> io::Result<()> {
    let cur = file.metadata()?.len();
    if len > cur {
        // SAFETY: fallocate on a valid, owned descriptor; no memory involved.
        let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len as libc::off_t) };
        if r != 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(len)?,
                _ => return Err(e),
            }
        }
    } else if len < cur {
        file.set_len(len)?;
    }
    Ok(())
}

/// One segment file, mapped whole.
pub struct MmapDevice {
    file: File,
    map: Option<MmapMut>,
    len: u64,
    /// False with `forceSync=no`: `sync` does nothing (not durable).
    sync: bool,
}

impl std::fmt::Debug for MmapDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmapDevice")
            .field("len", &self.len)
            .finish()
    }
}

impl MmapDevice {
    fn map(file: File, len: u64, populate: bool) -> Result<MmapDevice, DeviceError> {
        let map = if len == 0 {
            None
        } else {
            let mut opts = MmapOptions::new();
            opts.len(len as usize);
            if populate {
                opts.populate();
            }
            // SAFETY: the mapping is of a segment file that only this process
            // writes, and only through this device (the log thread owns it);
            // its length is the file's length, which this device alone
            // changes (set_len remaps). Recovery and tools open files that no
            // running server writes to (the data directory is single-owner).
            Some(unsafe { opts.map_mut(&file) }.map_err(io_err)?)
        };
        Ok(MmapDevice {
            file,
            map,
            len,
            sync: true,
        })
    }

    /// Opens an existing segment file.
    pub fn open(path: &Path) -> Result<MmapDevice, DeviceError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => DeviceError::NotFound(path.display().to_string()),
                _ => io_err(e),
            })?;
        let len = file.metadata().map_err(io_err)?.len();
        MmapDevice::map(file, len, false)
    }
}

impl Device for MmapDevice {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, DeviceError> {
        let want = self.len.saturating_sub(off).min(buf.len() as u64) as usize;
        if want > 0 {
            let map = self.map.as_ref().expect("non-empty file is mapped");
            let off = off as usize;
            buf[..want].copy_from_slice(&map[off..off + want]);
        }
        buf[want..].fill(0);
        Ok(want)
    }

    fn write_at(&mut self, off: u64, data: &[u8]) -> Result<(), DeviceError> {
        let len = data.len() as u64;
        if off.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(DeviceError::OutOfRange {
                off,
                len,
                size: self.len,
            });
        }
        if let Some(map) = self.map.as_mut() {
            let off = off as usize;
            map[off..off + data.len()].copy_from_slice(data);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), DeviceError> {
        if !self.sync {
            return Ok(());
        }
        // fdatasync covers the shared mapping's dirty pages (same page cache).
        self.file.sync_data().map_err(io_err)
    }

    fn as_slice(&self) -> Option<&[u8]> {
        Some(self.map.as_deref().unwrap_or(&[]))
    }

    fn set_len(&mut self, len: u64) -> Result<(), DeviceError> {
        // Unmap first: the map must never extend past the file.
        self.map = None;
        preallocate(&self.file, len).map_err(io_err)?;
        let file = self.file.try_clone().map_err(io_err)?;
        let sync = self.sync;
        *self = MmapDevice::map(file, len, false)?;
        self.sync = sync;
        Ok(())
    }
}

/// The txn-log directory.
#[derive(Debug, Clone)]
pub struct MmapDir {
    path: PathBuf,
    sync: bool,
}

impl MmapDir {
    pub fn new(path: impl Into<PathBuf>) -> MmapDir {
        MmapDir {
            path: path.into(),
            sync: true,
        }
    }

    /// `false` (zoo.cfg `forceSync=no`): segment syncs are skipped. Files
    /// are still created, preallocated and fsynced with their directory.
    pub fn with_sync(mut self, sync: bool) -> MmapDir {
        self.sync = sync;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Dir for MmapDir {
    type Dev = MmapDevice;

    /// The file is made under a temporary name, preallocated to its full
    /// length and synced, then renamed and the directory synced: a crash
    /// part way leaves only a `.tmp` file (ignored by `list`, replaced by
    /// the next attempt), never a segment shorter than its header.
    fn create(&mut self, name: &str, len: u64) -> Result<MmapDevice, DeviceError> {
        let path = self.path.join(name);
        if path.exists() {
            return Err(DeviceError::Exists(name.to_string()));
        }
        let tmp = self.path.join(format!("{name}{TMP_SUFFIX}"));
        let _ = std::fs::remove_file(&tmp);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err)?;
        preallocate(&file, len).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        std::fs::rename(&tmp, &path).map_err(io_err)?;
        sync_dir(&self.path).map_err(io_err)?;
        let mut d = MmapDevice::map(file, len, true)?;
        d.sync = self.sync;
        Ok(d)
    }

    fn open(&mut self, name: &str) -> Result<MmapDevice, DeviceError> {
        let mut d = MmapDevice::open(&self.path.join(name))?;
        d.sync = self.sync;
        Ok(d)
    }

    fn list(&self) -> Result<Vec<String>, DeviceError> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(&self.path).map_err(io_err)? {
            let e = e.map_err(io_err)?;
            if let Ok(n) = e.file_name().into_string() {
                if !n.ends_with(TMP_SUFFIX) {
                    v.push(n);
                }
            }
        }
        v.sort();
        Ok(v)
    }

    fn remove(&mut self, name: &str) -> Result<(), DeviceError> {
        std::fs::remove_file(self.path.join(name)).map_err(io_err)?;
        sync_dir(&self.path).map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::log::{recover, LogConfig, TxnLog};
    use crate::tree::txn::{Txn, TxnHeader, TxnOp};

    fn t(z: i64) -> Txn {
        Txn {
            header: TxnHeader {
                session: 9,
                cxid: 1,
                zxid: z,
                time: 5,
            },
            op: TxnOp::SetData {
                path: format!("/n{z}").into(),
                data: Some(vec![z as u8; 100].into()),
                version: z as i32,
            },
        }
    }

    #[test]
    fn log_on_mapped_files() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_size: 8192,
            flush_bytes: 512,
        };
        let mut log = TxnLog::create(MmapDir::new(tmp.path()), cfg).unwrap();
        for z in 1..=200 {
            log.append(&t(z)).unwrap();
            if z % 9 == 0 {
                log.sync().unwrap();
            }
        }
        let mut dir = log.close().unwrap();
        let names = dir.list().unwrap();
        assert!(names.len() > 2, "{names:?}");
        // Preallocated: every segment has its full size with real blocks.
        for n in &names {
            let md = std::fs::metadata(tmp.path().join(n)).unwrap();
            assert_eq!(md.len(), 8192);
        }
        let rec = recover(&mut dir).unwrap();
        assert_eq!(rec.txns, (1..=200).map(t).collect::<Vec<_>>());
        let mut log = TxnLog::open(dir, cfg, &rec).unwrap();
        log.append(&t(201)).unwrap();
        let mut dir = log.close().unwrap();
        assert_eq!(recover(&mut dir).unwrap().txns.len(), 201);
    }

    #[test]
    fn set_len_remaps() {
        let tmp = tempfile::tempdir().unwrap();
        let mut dir = MmapDir::new(tmp.path());
        let mut d = dir.create("x", 1024).unwrap();
        d.write_at(1000, b"abcd").unwrap();
        assert!(d.write_at(1022, b"abcd").is_err());
        d.set_len(4096).unwrap();
        d.write_at(4000, b"efgh").unwrap();
        d.sync().unwrap();
        let d2 = dir.open("x").unwrap();
        let mut b = [0u8; 4];
        d2.read_at(1000, &mut b).unwrap();
        assert_eq!(&b, b"abcd");
        d2.read_at(4000, &mut b).unwrap();
        assert_eq!(&b, b"efgh");
        assert_eq!(d2.read_at(4094, &mut b).unwrap(), 2);
        assert_eq!(&b, b"\0\0\0\0");
    }
}
