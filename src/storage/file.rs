//! A [`Device`]/[`Dir`] on plain std::fs: positioned reads and writes
//! (pread/pwrite), `fdatasync` as the durability point, and a directory
//! fsync after creating or removing a file.
//!
//! NOT pure: this module touches std::fs. It is for tools, tests and the
//! runtime until the runtime's own memory-mapped / io_uring device exists;
//! nothing in the pure core (record, device, log) uses it.
//!
//! Unix only (positioned I/O via `std::os::unix::fs::FileExt`).

use super::device::{Device, DeviceError, Dir};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

fn io_err(e: io::Error) -> DeviceError {
    DeviceError::Io(e.to_string())
}

/// One segment file.
#[derive(Debug)]
pub struct FileDevice {
    file: File,
    len: u64,
}

impl FileDevice {
    pub fn open(path: &Path) -> Result<FileDevice, DeviceError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => DeviceError::NotFound(path.display().to_string()),
                _ => io_err(e),
            })?;
        let len = file.metadata().map_err(io_err)?.len();
        Ok(FileDevice { file, len })
    }
}

impl Device for FileDevice {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, DeviceError> {
        let want = self.len.saturating_sub(off).min(buf.len() as u64) as usize;
        if want > 0 {
            self.file
                .read_exact_at(&mut buf[..want], off)
                .map_err(io_err)?;
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
        self.file.write_all_at(data, off).map_err(io_err)
    }

    fn sync(&mut self) -> Result<(), DeviceError> {
        self.file.sync_data().map_err(io_err)
    }

    fn set_len(&mut self, len: u64) -> Result<(), DeviceError> {
        self.file.set_len(len).map_err(io_err)?;
        self.len = len;
        Ok(())
    }
}

/// A directory of segment files.
#[derive(Debug, Clone)]
pub struct FileDir {
    path: PathBuf,
}

impl FileDir {
    pub fn new(path: impl Into<PathBuf>) -> FileDir {
        FileDir { path: path.into() }
    }

    fn sync_dir(&self) -> Result<(), DeviceError> {
        File::open(&self.path)
            .and_then(|d| d.sync_all())
            .map_err(io_err)
    }
}

impl Dir for FileDir {
    type Dev = FileDevice;

    fn create(&mut self, name: &str, len: u64) -> Result<FileDevice, DeviceError> {
        let path = self.path.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => DeviceError::Exists(name.to_string()),
                _ => io_err(e),
            })?;
        // set_len leaves a sparse file; the runtime's device uses fallocate.
        file.set_len(len).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        self.sync_dir()?;
        Ok(FileDevice { file, len })
    }

    fn open(&mut self, name: &str) -> Result<FileDevice, DeviceError> {
        FileDevice::open(&self.path.join(name))
    }

    fn list(&self) -> Result<Vec<String>, DeviceError> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(&self.path).map_err(io_err)? {
            let e = e.map_err(io_err)?;
            if let Ok(n) = e.file_name().into_string() {
                v.push(n);
            }
        }
        v.sort();
        Ok(v)
    }

    fn remove(&mut self, name: &str) -> Result<(), DeviceError> {
        std::fs::remove_file(self.path.join(name)).map_err(io_err)?;
        self.sync_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::log::{recover, LogConfig, TxnLog};
    use crate::tree::txn::{Txn, TxnHeader, TxnOp};

    #[test]
    fn log_on_real_files() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_size: 4096,
            flush_bytes: 512,
        };
        let mut log = TxnLog::create(FileDir::new(tmp.path()), cfg).unwrap();
        let t = |z: i64| Txn {
            header: TxnHeader {
                session: 9,
                cxid: 1,
                zxid: z,
                time: 5,
            },
            op: TxnOp::Create {
                path: format!("/n{z}").into(),
                data: Some(vec![z as u8; 100].into()),
                acl: crate::tree::acl::open_acl(),
                owner: 0,
                parent_cversion: z as i32,
            },
        };
        for z in 1..=100 {
            log.append(&t(z)).unwrap();
        }
        let mut dir = log.close().unwrap();
        assert!(dir.list().unwrap().len() > 2);
        let rec = recover(&mut dir).unwrap();
        assert_eq!(rec.txns, (1..=100).map(t).collect::<Vec<_>>());
        let mut log = TxnLog::open(dir, cfg, &rec).unwrap();
        log.append(&t(101)).unwrap();
        let mut dir = log.close().unwrap();
        assert_eq!(recover(&mut dir).unwrap().txns.len(), 101);
    }
}
