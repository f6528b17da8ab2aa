//! Startup state: the newest valid snapshot plus the replay of the log
//! after it, checked for gaps; and which old files retention may delete.
//!
//! Pure: the runtime reads the files and hands their bytes and the
//! recovered log here. Runs once at startup (and for purges, on the
//! snapshot thread's schedule).
//!
//! Rules:
//! * the snapshot's start zxid `S` must be followed in the log by its
//!   successor (or the log must hold nothing after `S`), and the log must
//!   reach the snapshot's end zxid (the snapshot reflects txns through it);
//! * without a snapshot the log must begin with the first txn ever
//!   (counter 1 of some epoch);
//! * anything else is a gap: refused, naming the file and offset.

use super::log::{is_successor, parse_segment_name, Recovered};
use super::snapshot::{
    decode_snapshot_with, nodes_hint, parse_snapshot_name, SnapError, SnapProblem, Snapshot,
};
use crate::session::SessionImage;
use crate::tree::restore::{RestoreError, TreeBuilder};
use crate::tree::txn::TxnOp;
use crate::tree::DataTree;
use crate::types::{SessionId, Zxid};
use std::collections::BTreeMap;
use thiserror::Error;

/// The state to serve from.
pub struct Loaded {
    pub tree: DataTree,
    /// Live sessions, sorted by id.
    pub sessions: Vec<SessionImage>,
    /// The last zxid (0 for an empty server).
    pub last_zxid: Zxid,
    /// Txns replayed from the log.
    pub replayed: usize,
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LoadError {
    #[error("{file} at offset {offset}: {what}")]
    Gap {
        file: String,
        offset: u64,
        what: String,
    },
    #[error("{file}: {err}")]
    Tree { file: String, err: RestoreError },
}

/// A snapshot loaded into a tree.
pub struct Built {
    /// The file it came from (for messages).
    pub name: String,
    pub tree: DataTree,
    pub sessions: Vec<SessionImage>,
    pub zxid: Zxid,
    pub end_zxid: Zxid,
}

/// Decodes a snapshot file straight into a tree (no intermediate list of
/// nodes). Errors carry the offset in the file.
pub fn build_snapshot(name: &str, buf: &[u8]) -> Result<Built, SnapError> {
    let mut b = TreeBuilder::new();
    b.reserve(nodes_hint(buf) as usize);
    let s = decode_snapshot_with(buf, |img, _| b.push_ref(img).map_err(|e| e.to_string()))?;
    finish_build(name, b, s)
}

/// The last step of a load: the built tree with the snapshot's ephemerals
/// and sessions (`s` is what the decoder returned, without nodes).
pub fn finish_build(name: &str, b: TreeBuilder, s: Snapshot) -> Result<Built, SnapError> {
    let tree = b.finish(s.ephemerals, s.zxid).map_err(|e| SnapError {
        offset: 0,
        what: SnapProblem::Tree(e.to_string()),
    })?;
    Ok(Built {
        name: name.to_string(),
        tree,
        sessions: s.sessions,
        zxid: s.zxid,
        end_zxid: s.end_zxid,
    })
}

/// Builds the serving state from `snap` (its file name and contents, if
/// any) and the recovered log. `first_segment` names the oldest log
/// segment (for error messages).
pub fn load(
    snap: Option<(&str, Snapshot)>,
    log: Recovered,
    first_segment: Option<&str>,
) -> Result<Loaded, LoadError> {
    let built = match snap {
        Some((name, s)) => Some(Built {
            name: name.to_string(),
            tree: DataTree::from_images(s.nodes, s.ephemerals, s.zxid).map_err(|err| {
                LoadError::Tree {
                    file: name.to_string(),
                    err,
                }
            })?,
            sessions: s.sessions,
            zxid: s.zxid,
            end_zxid: s.end_zxid,
        }),
        None => None,
    };
    load_built(built, log, first_segment)
}

/// [`load`] from a snapshot already built into a tree.
pub fn load_built(
    snap: Option<Built>,
    log: Recovered,
    first_segment: Option<&str>,
) -> Result<Loaded, LoadError> {
    let log_file = first_segment.unwrap_or("the txn log").to_string();
    let (mut tree, mut sessions, start, end) = match snap {
        Some(b) => {
            let sessions: BTreeMap<SessionId, SessionImage> =
                b.sessions.into_iter().map(|s| (s.id, s)).collect();
            (b.tree, sessions, b.zxid, Some((b.name, b.end_zxid)))
        }
        None => (DataTree::new(), BTreeMap::new(), 0, None),
    };
    let mut txns = log.txns.into_iter().skip_while(|t| t.header.zxid <= start);
    let mut last = start;
    let mut replayed = 0;
    if let Some(first) = txns.next() {
        if !is_successor(start, first.header.zxid) {
            return Err(LoadError::Gap {
                file: log_file,
                offset: super::record::SEGMENT_HEADER_LEN as u64,
                what: format!(
                    "the log continues at zxid {:#x} but the state before it ends at {start:#x}{}: txns missing",
                    first.header.zxid,
                    end.as_ref().map_or(String::new(), |(n, _)| format!(" ({n})"))
                ),
            });
        }
        for t in std::iter::once(first).chain(txns) {
            last = t.header.zxid;
            replay_sessions(&mut sessions, &t.header.session, &t.op);
            tree.replay(t);
            replayed += 1;
        }
    }
    if let Some((name, end_zxid)) = &end {
        if last < *end_zxid {
            return Err(LoadError::Gap {
                file: name.clone(),
                offset: 0,
                what: format!(
                    "the snapshot reflects txns through {end_zxid:#x} but the log ends at {last:#x}: durable txns missing"
                ),
            });
        }
    }
    if replayed > 0 {
        tree.finish_replay();
    }
    tree.last_zxid = last;
    Ok(Loaded {
        tree,
        sessions: sessions.into_values().collect(),
        last_zxid: last,
        replayed,
    })
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("nodes", &self.tree.node_count())
            .field("sessions", &self.sessions.len())
            .field("last_zxid", &self.last_zxid)
            .field("replayed", &self.replayed)
            .finish()
    }
}

fn replay_sessions(sessions: &mut BTreeMap<SessionId, SessionImage>, id: &SessionId, op: &TxnOp) {
    match op {
        TxnOp::CreateSession { timeout, passwd } => {
            sessions.insert(
                *id,
                SessionImage {
                    id: *id,
                    timeout: *timeout,
                    passwd: passwd.unwrap_or_else(|| crate::session::legacy_password(*id)),
                },
            );
        }
        TxnOp::CloseSession => {
            sessions.remove(id);
        }
        _ => {}
    }
}

/// Snapshot names, newest (highest zxid) first.
pub fn snapshots_newest_first(names: &[String]) -> Vec<(Zxid, String)> {
    let mut v: Vec<(Zxid, String)> = names
        .iter()
        .filter_map(|n| parse_snapshot_name(n).map(|z| (z, n.clone())))
        .collect();
    v.sort_by_key(|b| std::cmp::Reverse(b.0 as u64));
    v
}

/// What retention may delete: all but the `retain` newest snapshots, and
/// the log segments whose txns all precede the oldest kept snapshot (a
/// segment goes only if the next segment starts at or before the txn after
/// that snapshot).
pub fn purge_plan(snap_names: &[String], log_names: &[String], retain: usize) -> Vec<String> {
    let snaps = snapshots_newest_first(snap_names);
    if snaps.len() <= retain || retain == 0 {
        return Vec::new();
    }
    let mut out: Vec<String> = snaps[retain..].iter().map(|(_, n)| n.clone()).collect();
    let oldest_kept = snaps[retain - 1].0;
    let mut logs: Vec<(Zxid, &String)> = log_names
        .iter()
        .filter_map(|n| parse_segment_name(n).map(|z| (z, n)))
        .collect();
    logs.sort_by_key(|(z, _)| *z as u64);
    for w in logs.windows(2) {
        if (w[1].0 as u64) <= (oldest_kept as u64).wrapping_add(1) {
            out.push(w[0].1.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::device::MemDir;
    use crate::storage::log::{recover, LogConfig, TxnLog};
    use crate::storage::snapshot::{decode_snapshot, encode_tree};
    use crate::tree::acl::open_acl;
    use crate::tree::txn::{Txn, TxnHeader};

    fn txn(z: Zxid) -> Txn {
        let header = TxnHeader {
            session: 0x10 + (z % 3),
            cxid: 1,
            zxid: z,
            time: z,
        };
        let op = match z % 4 {
            0 => TxnOp::CreateSession {
                timeout: 5000,
                passwd: None,
            },
            1 => TxnOp::Create {
                path: format!("/n{z}").into(),
                data: Some(vec![1; 10].into()),
                acl: open_acl(),
                owner: 0,
                parent_cversion: z as i32,
            },
            2 => TxnOp::SetData {
                path: format!("/n{}", z - 1).into(),
                data: Some(vec![2; 5].into()),
                version: 1,
            },
            _ => TxnOp::Delete {
                path: format!("/n{}", z - 2).into(),
            },
        };
        Txn { header, op }
    }

    fn apply_all(upto: Zxid) -> DataTree {
        let mut t = DataTree::new();
        let mut r = Vec::new();
        for z in 1..=upto {
            t.apply(txn(z), &mut |_| {}, &mut r);
        }
        t
    }

    fn logged(range: std::ops::RangeInclusive<Zxid>) -> Recovered {
        let mut log = TxnLog::create(
            MemDir::new(),
            LogConfig {
                segment_size: 4096,
                flush_bytes: 512,
            },
        )
        .unwrap();
        for z in range {
            log.append(&txn(z)).unwrap();
        }
        let mut dir = log.close().unwrap();
        recover(&mut dir).unwrap()
    }

    fn stats(t: &DataTree) -> Vec<(String, crate::proto::records::Stat)> {
        let mut v = Vec::new();
        for z in 0..=200 {
            let p = format!("/n{z}");
            if let Some(n) = t.get(&p) {
                v.push((p, n.stat()));
            }
        }
        v
    }

    #[test]
    fn log_only_and_snapshot_plus_log() {
        let want = apply_all(100);
        let l = load(None, logged(1..=100), Some("log.1")).unwrap();
        assert_eq!(l.last_zxid, 100);
        assert_eq!(l.replayed, 100);
        assert_eq!(stats(&l.tree), stats(&want));
        assert_eq!(l.sessions.len(), 3);

        let snap = decode_snapshot(&encode_tree(
            &apply_all(60),
            &[crate::session::SessionImage::legacy(0x10, 5000)],
            256,
        ))
        .unwrap();
        let l = load(Some(("snapshot.3c", snap)), logged(1..=100), Some("log.1")).unwrap();
        assert_eq!(l.replayed, 40);
        assert_eq!(stats(&l.tree), stats(&want));
        assert_eq!(l.tree.last_zxid, 100);
    }

    #[test]
    fn gaps_are_refused() {
        // No snapshot, log purged at the front.
        let e = load(None, logged(5..=20), Some("log.5")).unwrap_err();
        assert!(
            matches!(&e, LoadError::Gap { file, .. } if file == "log.5"),
            "{e}"
        );
        // Snapshot at 60, log from 62.
        let snap = decode_snapshot(&encode_tree(&apply_all(60), &[], 256)).unwrap();
        let e = load(
            Some(("snapshot.3c", snap.clone())),
            logged(62..=70),
            Some("log.3e"),
        );
        assert!(matches!(e, Err(LoadError::Gap { .. })));
        // Snapshot reflecting more than the log holds.
        let mut s2 = snap.clone();
        s2.end_zxid = 80;
        let e = load(Some(("snapshot.3c", s2)), logged(1..=70), Some("log.1")).unwrap_err();
        assert!(
            matches!(&e, LoadError::Gap { file, .. } if file == "snapshot.3c"),
            "{e}"
        );
        // A snapshot and no log after it is fine.
        let l = load(Some(("snapshot.3c", snap)), logged(1..=60), Some("log.1")).unwrap();
        assert_eq!(l.last_zxid, 60);
    }

    #[test]
    fn purge() {
        let snaps: Vec<String> = ["snapshot.10", "snapshot.30", "snapshot.50", "snapshot.70"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let logs: Vec<String> = ["log.1", "log.20", "log.31", "log.40", "log.60"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut p = purge_plan(&snaps, &logs, 3);
        p.sort();
        // Keep 70, 50, 30: log.1 (1..0x1f) precedes 0x30 wholly; log.20 runs to 0x30.
        assert_eq!(p, vec!["log.1", "log.20", "snapshot.10"]);
        assert!(purge_plan(&snaps, &logs, 4).is_empty());
    }
}
