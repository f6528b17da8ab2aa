//! `corral log dump|verify` and `corral snapshot dump|verify`: offline
//! inspection of the data directories.
//!
//! NOT pure: reads files (std::fs). Runs only from the command line, never
//! inside the server. Every function returns the text to print and whether
//! the file is sound; corruption is reported with the file and offset.

use super::device::Dir;
use super::file::FileDir;
use super::log::{recover, recover_segments, SegmentFile};
use super::record::{decode_entry, decode_record, Entry, SegmentHeader, SEGMENT_HEADER_LEN};
use super::snapshot::decode_snapshot;
use crate::tree::restore::NodeImage;
use crate::tree::txn::{Txn, TxnOp};
use crate::tree::DataTree;
use std::fmt::Write;
use std::path::Path;

fn op_line(op: &TxnOp) -> String {
    let data = |d: &Option<Box<[u8]>>| {
        d.as_ref()
            .map_or("null".to_string(), |d| format!("{}B", d.len()))
    };
    match op {
        TxnOp::CreateSession { timeout, .. } => format!("createSession timeout={timeout}"),
        TxnOp::CloseSession => "closeSession".into(),
        TxnOp::Create {
            path,
            data: d,
            owner,
            parent_cversion,
            ..
        } => format!(
            "create {path} data={} owner={owner:#x} parent_cversion={parent_cversion}",
            data(d)
        ),
        TxnOp::Delete { path } => format!("delete {path}"),
        TxnOp::SetData {
            path,
            data: d,
            version,
        } => format!("setData {path} data={} version={version}", data(d)),
        TxnOp::SetAcl { path, aversion, .. } => format!("setACL {path} aversion={aversion}"),
        TxnOp::Check { path } => format!("check {path}"),
        TxnOp::Error { code } => format!("error code={code}"),
        TxnOp::Sync => "sync".into(),
        TxnOp::Multi(ops) => format!(
            "multi [{}]",
            ops.iter().map(op_line).collect::<Vec<_>>().join("; ")
        ),
    }
}

fn txn_line(t: &Txn) -> String {
    format!(
        "session={:#x} cxid={} time={} {}",
        t.header.session,
        t.header.cxid,
        t.header.time,
        op_line(&t.op)
    )
}

/// One line per record of a segment file, then where the records end.
pub fn log_dump(path: &Path) -> (String, bool) {
    let mut out = String::new();
    let buf = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return (format!("{}: {e}\n", path.display()), false),
    };
    let h = match SegmentHeader::decode(&buf) {
        Ok(h) => h,
        Err(e) => return (format!("{}: offset 0: {e}\n", path.display()), false),
    };
    let _ = writeln!(
        out,
        "# {}: first zxid {:#x}, capacity {}",
        path.display(),
        h.first_zxid,
        h.capacity
    );
    let mut off = SEGMENT_HEADER_LEN;
    loop {
        match decode_record(&buf[off..]) {
            Ok(r) => {
                let what = match decode_entry(&r) {
                    Ok(Entry::Txn(t)) => txn_line(&t),
                    Ok(Entry::Attest) => "attest".into(),
                    Err(e) => format!("UNDECODABLE BODY: {e}"),
                };
                let _ = writeln!(
                    out,
                    "{off} zxid={:#x} durable={:#x} {what}",
                    r.zxid, r.durable
                );
                off += r.total_len();
            }
            Err(e) => {
                let _ = writeln!(out, "# records end at offset {off}: {e}");
                break;
            }
        }
    }
    let (text, ok) = log_verify(path);
    out.push_str(&text);
    (out, ok)
}

/// Checks a segment file (as the last segment of a log: a torn tail is
/// reported, not an error) or a whole log directory.
pub fn log_verify(path: &Path) -> (String, bool) {
    let r = if path.is_dir() {
        let mut dir = FileDir::new(path);
        recover(&mut dir)
    } else {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        else {
            return (format!("{}: not a file name\n", path.display()), false);
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let mut dir = FileDir::new(parent);
        match dir.open(name) {
            Ok(dev) => recover_segments(&[SegmentFile { name, dev: &dev }]),
            Err(e) => return (format!("{}: {e}\n", path.display()), false),
        }
    };
    match r {
        Ok(rec) => {
            let mut s = format!(
                "ok: {} txns, last zxid {}, attested through {:#x}\n",
                rec.txns.len(),
                rec.last_zxid
                    .map_or("none".to_string(), |z| format!("{z:#x}")),
                rec.attested
            );
            if let Some(t) = rec.torn {
                let _ = writeln!(
                    s,
                    "torn tail (unacknowledged, cut on recovery) in {} at offset {}: {}",
                    t.file, t.offset, t.why
                );
            }
            (s, true)
        }
        Err(e) => (
            format!("CORRUPT: {} at offset {}: {}\n", e.file, e.offset, e.what),
            false,
        ),
    }
}

fn node_line(n: &NodeImage) -> String {
    format!(
        "{} czxid={:#x} mzxid={:#x} pzxid={:#x} version={} cversion={} aversion={} owner={:#x} data={} acl={}",
        n.path,
        n.meta.czxid,
        n.meta.mzxid,
        n.meta.pzxid,
        n.meta.version,
        n.meta.cversion,
        n.meta.aversion,
        n.meta.owner,
        n.data.as_ref().map_or("null".to_string(), |d| format!("{}B", d.len())),
        n.acl.len()
    )
}

/// One line per session and per node.
pub fn snapshot_dump(path: &Path) -> (String, bool) {
    snapshot_check(path, true)
}

/// Checks a snapshot file: framing, CRCs, counts, and that it makes a tree.
pub fn snapshot_verify(path: &Path) -> (String, bool) {
    snapshot_check(path, false)
}

fn snapshot_check(path: &Path, dump: bool) -> (String, bool) {
    let buf = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return (format!("{}: {e}\n", path.display()), false),
    };
    let snap = match decode_snapshot(&buf) {
        Ok(s) => s,
        Err(e) => {
            return (
                format!(
                    "CORRUPT: {} at offset {}: {}\n",
                    path.display(),
                    e.offset,
                    e.what
                ),
                false,
            )
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {}: start zxid {:#x}, end zxid {:#x}, {} sessions, {} nodes",
        path.display(),
        snap.zxid,
        snap.end_zxid,
        snap.sessions.len(),
        snap.nodes.len()
    );
    if dump {
        for s in &snap.sessions {
            let _ = writeln!(out, "session {:#x} timeout={}", s.id, s.timeout);
        }
        for n in &snap.nodes {
            let _ = writeln!(out, "{}", node_line(n));
        }
    }
    match DataTree::from_images(snap.nodes, snap.ephemerals, snap.zxid) {
        Ok(_) => {
            out.push_str("ok\n");
            (out, true)
        }
        Err(e) => {
            let _ = writeln!(out, "CORRUPT: {}: {e}", path.display());
            (out, false)
        }
    }
}
