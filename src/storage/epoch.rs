//! `acceptedEpoch` and `currentEpoch`: ZooKeeper's tiny epoch files (the
//! number in decimal followed by a newline), replaced atomically: written
//! to a temp file, fsynced, renamed over the old one, and the directory
//! fsynced, so a crash leaves either the old value or the new one.
//!
//! NOT pure: touches std::fs. Used by ZAB at startup and when it moves to a
//! new epoch (from the thread that owns the data directory).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
pub const CURRENT_EPOCH: &str = "currentEpoch";

/// Reads an epoch file: `Ok(None)` if it does not exist, an error naming
/// the file if it holds anything but a decimal number.
pub fn read_epoch(dir: &Path, name: &str) -> io::Result<Option<u64>> {
    let path = dir.join(name);
    let s = match fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    s.trim().parse::<u64>().map(Some).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not an epoch: {:?}", path.display(), s.trim()),
        )
    })
}

/// Atomically replaces an epoch file (temp + fsync + rename + dir fsync).
pub fn write_epoch(dir: &Path, name: &str, epoch: u64) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        writeln!(f, "{epoch}")?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_contents() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_epoch(d.path(), ACCEPTED_EPOCH).unwrap(), None);
        write_epoch(d.path(), ACCEPTED_EPOCH, 7).unwrap();
        write_epoch(d.path(), ACCEPTED_EPOCH, 8).unwrap();
        assert_eq!(read_epoch(d.path(), ACCEPTED_EPOCH).unwrap(), Some(8));
        assert_eq!(
            fs::read_to_string(d.path().join(ACCEPTED_EPOCH)).unwrap(),
            "8\n"
        );
        assert!(!d.path().join("acceptedEpoch.tmp").exists());
        fs::write(d.path().join(CURRENT_EPOCH), "x1").unwrap();
        let e = read_epoch(d.path(), CURRENT_EPOCH).unwrap_err();
        assert!(e.to_string().contains("currentEpoch"), "{e}");
    }
}
