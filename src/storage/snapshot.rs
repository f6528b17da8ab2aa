//! The snapshot file format: a CRC-framed image of the DataTree and the
//! session table, plus what recovery needs to check it against the log.
//!
//! Pure code (no I/O, no clock): the encoder produces bytes in bounded
//! blocks (the core shard encodes one block per step of a fuzzy walk, see
//! `tree::restore`), the decoder checks everything and never panics on bad
//! input. Files are `snapshot.<start zxid, lowercase hex>`. All integers are
//! little-endian.
//!
//! **Header** (32 bytes):
//!
//! | off | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `b"CRSN"` |
//! | 4 | 4 | version = 1 |
//! | 8 | 8 | start zxid `S` (the tree's last applied zxid when the walk began; equals the file name) |
//! | 16 | 8 | node count when the walk began (a capacity hint for loading) |
//! | 24 | 4 | crc32c of bytes 0..24 |
//! | 28 | 4 | zero |
//!
//! **Blocks**, back to back after the header: `len` u32 (payload bytes,
//! at least 1), crc32c u32 of the `len` field followed by the payload,
//! payload. A payload is a sequence of entries (tag byte + fields; `varint`, `zz32`,
//! `str`, `opt`, `acl` as in the txn body of `record`; `u64v` = a zxid or
//! time as an unsigned varint of its two's-complement bits):
//!
//! | tag | entry | fields |
//! | --- | --- | --- |
//! | 1 | ACL | index varint (0, 1, 2... in order of first use), acl list |
//! | 2 | session | id i64, timeout zz32, ephemeral count varint, each path str (the session's ephemerals at `S`) |
//! | 3 | node | path str, data opt, acl index varint, czxid u64v, mzxid u64v, pzxid u64v, ctime u64v, mtime u64v, version zz32, cversion (internal counter) zz32, aversion zz32, owner u64v |
//! | 4 | end | end zxid i64 (the tree's last zxid when the walk finished), node count varint, session count varint |
//! | 5 | session with its password | id i64, timeout zz32, password 16 bytes, then as tag 2 (tag 2, no longer written, gets ZooKeeper's derived password) |
//!
//! Sessions come first, then nodes in walk order (parents before
//! children). The end entry is the last entry of the last block and the
//! file ends right after it; anything else is corruption. Recovery loads
//! the tree, replays the log from `S + 1` and requires the log to reach the
//! end zxid (the snapshot reflects txns up to it).

use super::record::{put_acl, put_i64, put_opt, put_str, put_varint, put_zz32, BodyError, Reader};
use crate::session::SessionImage;
use crate::tree::acl::AclList;
use crate::tree::restore::{ImageRef, NodeImage, NodeMeta};
use crate::tree::NodeRef;
use crate::types::{FxHashMap, SessionId, Zxid};
use thiserror::Error;

pub const SNAP_MAGIC: [u8; 4] = *b"CRSN";
pub const SNAP_VERSION: u32 = 1;
pub const SNAP_HEADER_LEN: usize = 32;
pub const BLOCK_HEADER_LEN: usize = 8;
pub const SNAP_PREFIX: &str = "snapshot.";

const E_ACL: u8 = 1;
const E_SESSION: u8 = 2;
const E_NODE: u8 = 3;
const E_END: u8 = 4;
const E_SESSION_PW: u8 = 5;

pub fn snapshot_name(zxid: Zxid) -> String {
    format!("{SNAP_PREFIX}{:x}", zxid as u64)
}

/// The start zxid named by a snapshot file name (`snapshot.<hex>`).
pub fn parse_snapshot_name(name: &str) -> Option<Zxid> {
    let hex = name.strip_prefix(SNAP_PREFIX)?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
}

/// Why a snapshot file is not valid; `offset` is a byte offset in the file.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("offset {offset}: {what}")]
pub struct SnapError {
    pub offset: u64,
    pub what: SnapProblem,
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SnapProblem {
    #[error("file shorter than its header")]
    Short,
    #[error("bad magic")]
    Magic,
    #[error("unsupported version {0}")]
    Version(u32),
    #[error("header crc mismatch")]
    HeaderCrc,
    #[error("block header cut off")]
    BlockCut,
    #[error("block length {0} out of range")]
    BlockLen(u32),
    #[error("block crc mismatch")]
    BlockCrc,
    #[error("entry: {0}")]
    Entry(BodyError),
    #[error("unknown entry tag {0}")]
    Tag(u8),
    #[error("acl index {0} not defined")]
    AclIndex(u64),
    #[error("node does not fit the tree: {0}")]
    Tree(String),
    #[error("no end entry: the file is incomplete")]
    NoEnd,
    #[error("{0} bytes after the end entry")]
    Trailing(u64),
    #[error("end entry counts {nodes} nodes and {sessions} sessions, the file holds {found_nodes} and {found_sessions}")]
    Count {
        nodes: u64,
        sessions: u64,
        found_nodes: u64,
        found_sessions: u64,
    },
}

fn put_u64v(out: &mut Vec<u8>, v: i64) {
    put_varint(out, v as u64);
}

/// Encodes a snapshot in blocks of about `block_target` bytes.
pub struct SnapEncoder {
    acls: FxHashMap<usize, u64>,
    block: Vec<u8>,
    block_target: usize,
    nodes: u64,
    sessions: u64,
}

impl SnapEncoder {
    pub fn new(block_target: usize) -> SnapEncoder {
        SnapEncoder {
            acls: FxHashMap::default(),
            block: Vec::with_capacity(block_target + 1024),
            block_target,
            nodes: 0,
            sessions: 0,
        }
    }

    /// The file header for a snapshot starting at `zxid` of a tree of
    /// about `nodes` nodes.
    pub fn header(zxid: Zxid, nodes: u64) -> [u8; SNAP_HEADER_LEN] {
        let mut b = [0u8; SNAP_HEADER_LEN];
        b[0..4].copy_from_slice(&SNAP_MAGIC);
        b[4..8].copy_from_slice(&SNAP_VERSION.to_le_bytes());
        b[8..16].copy_from_slice(&zxid.to_le_bytes());
        b[16..24].copy_from_slice(&nodes.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..24]);
        b[24..28].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub fn session<'a>(
        &mut self,
        s: &SessionImage,
        ephemerals: impl ExactSizeIterator<Item = &'a str>,
    ) {
        let b = &mut self.block;
        b.push(E_SESSION_PW);
        put_i64(b, s.id);
        put_zz32(b, s.timeout);
        b.extend_from_slice(&s.passwd);
        put_varint(b, ephemerals.len() as u64);
        for p in ephemerals {
            put_str(b, p);
        }
        self.sessions += 1;
    }

    fn acl_index(&mut self, acl: &AclList) -> u64 {
        let key = acl.as_ptr() as usize;
        if let Some(&i) = self.acls.get(&key) {
            return i;
        }
        let i = self.acls.len() as u64;
        self.acls.insert(key, i);
        self.block.push(E_ACL);
        put_varint(&mut self.block, i);
        put_acl(&mut self.block, acl);
        i
    }

    pub fn node(&mut self, path: &str, n: NodeRef<'_>) {
        let acl = self.acl_index(n.acl());
        let b = &mut self.block;
        b.push(E_NODE);
        put_str(b, path);
        put_opt(b, n.data());
        put_varint(b, acl);
        put_u64v(b, n.czxid());
        put_u64v(b, n.mzxid());
        put_u64v(b, n.pzxid());
        put_u64v(b, n.ctime());
        put_u64v(b, n.mtime());
        put_zz32(b, n.version());
        put_zz32(b, n.cversion());
        put_zz32(b, n.aversion());
        put_u64v(b, n.owner());
        self.nodes += 1;
    }

    /// Nodes encoded so far.
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    fn frame(payload: &[u8], out: &mut Vec<u8>) {
        let len = (payload.len() as u32).to_le_bytes();
        let crc = crc32c::crc32c_append(crc32c::crc32c(&len), payload);
        out.extend_from_slice(&len);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(payload);
    }

    /// A framed block, once enough entries have accumulated.
    pub fn take_block(&mut self) -> Option<Vec<u8>> {
        if self.block.len() < self.block_target {
            return None;
        }
        let mut out = Vec::with_capacity(self.block.len() + BLOCK_HEADER_LEN);
        SnapEncoder::frame(&self.block, &mut out);
        self.block.clear();
        Some(out)
    }

    /// The last block(s): what is pending plus the end entry.
    pub fn finish(mut self, end_zxid: Zxid) -> Vec<u8> {
        self.block.push(E_END);
        put_i64(&mut self.block, end_zxid);
        put_varint(&mut self.block, self.nodes);
        put_varint(&mut self.block, self.sessions);
        let mut out = Vec::with_capacity(self.block.len() + BLOCK_HEADER_LEN);
        SnapEncoder::frame(&self.block, &mut out);
        out
    }
}

/// A decoded snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The start zxid `S`: replay from the txn after it.
    pub zxid: Zxid,
    /// The tree's last zxid when the walk finished: the log must reach it.
    pub end_zxid: Zxid,
    pub sessions: Vec<SessionImage>,
    /// Ephemerals per session at `S`.
    pub ephemerals: Vec<(SessionId, Box<str>)>,
    /// Nodes in walk order.
    pub nodes: Vec<NodeImage>,
    /// The header's node count hint, bounded by what the file could hold.
    pub nodes_hint: u64,
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The header's node count, bounded by what the file could hold (a node
/// entry takes at least 16 bytes); 0 for a file too short to have one.
pub fn nodes_hint(buf: &[u8]) -> u64 {
    match buf.get(16..24) {
        Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")).min(buf.len() as u64 / 16),
        None => 0,
    }
}

/// Decodes and checks a whole snapshot file.
pub fn decode_snapshot(buf: &[u8]) -> Result<Snapshot, SnapError> {
    let mut nodes = Vec::new();
    let mut snap = decode_snapshot_with(buf, |n, _| {
        nodes.push(n.to_owned());
        Ok(())
    })?;
    snap.nodes = nodes;
    Ok(snap)
}

/// Decodes and checks a snapshot file, handing each node to `sink` as it
/// is decoded, with the offset of its entry, borrowing its path and data
/// from `buf` (the returned [`Snapshot`] has no nodes). A sink error is
/// reported at the node's offset.
pub fn decode_snapshot_with<'a>(
    buf: &'a [u8],
    mut sink: impl FnMut(&ImageRef<'a, '_>, usize) -> Result<(), String>,
) -> Result<Snapshot, SnapError> {
    let mut count: u64 = 0;
    let err = |offset: usize, what| SnapError {
        offset: offset as u64,
        what,
    };
    if buf.len() < SNAP_HEADER_LEN {
        return Err(err(0, SnapProblem::Short));
    }
    if buf[0..4] != SNAP_MAGIC {
        return Err(err(0, SnapProblem::Magic));
    }
    let version = le_u32(buf, 4);
    if version != SNAP_VERSION {
        return Err(err(4, SnapProblem::Version(version)));
    }
    if le_u32(buf, 24) != crc32c::crc32c(&buf[0..24]) || le_u32(buf, 28) != 0 {
        return Err(err(0, SnapProblem::HeaderCrc));
    }
    let mut snap = Snapshot {
        zxid: i64::from_le_bytes(buf[8..16].try_into().expect("8 bytes")),
        nodes_hint: nodes_hint(buf),
        ..Snapshot::default()
    };
    let mut acls: Vec<AclList> = Vec::new();
    let mut off = SNAP_HEADER_LEN;
    loop {
        if off == buf.len() {
            return Err(err(off, SnapProblem::NoEnd));
        }
        if buf.len() - off < BLOCK_HEADER_LEN {
            return Err(err(off, SnapProblem::BlockCut));
        }
        let len = le_u32(buf, off);
        let room = buf.len() - off - BLOCK_HEADER_LEN;
        if len == 0 || len as usize > room {
            return Err(err(off, SnapProblem::BlockLen(len)));
        }
        let payload = &buf[off + BLOCK_HEADER_LEN..off + BLOCK_HEADER_LEN + len as usize];
        let crc = crc32c::crc32c_append(crc32c::crc32c(&buf[off..off + 4]), payload);
        if crc != le_u32(buf, off + 4) {
            return Err(err(off, SnapProblem::BlockCrc));
        }
        let base = off + BLOCK_HEADER_LEN;
        let mut r = Reader {
            buf: payload,
            at: 0,
        };
        let at = |r: &Reader<'_>| base + r.at;
        let entry_err = |e: BodyError| {
            let at = match &e {
                BodyError::Truncated { at, .. }
                | BodyError::Varint { at }
                | BodyError::Range { at }
                | BodyError::Utf8 { at } => *at,
                _ => 0,
            };
            err(base + at, SnapProblem::Entry(e))
        };
        while r.left() > 0 {
            let start = at(&r);
            let tag = r.u8().map_err(entry_err)?;
            match tag {
                E_ACL => {
                    let i = r.varint().map_err(entry_err)?;
                    if i != acls.len() as u64 {
                        return Err(err(start, SnapProblem::AclIndex(i)));
                    }
                    acls.push(r.acl().map_err(entry_err)?);
                }
                E_SESSION | E_SESSION_PW => {
                    let id = r.i64().map_err(entry_err)?;
                    let timeout = r.zz32().map_err(entry_err)?;
                    let passwd = if tag == E_SESSION_PW {
                        r.take(16).map_err(entry_err)?.try_into().expect("16 bytes")
                    } else {
                        crate::session::legacy_password(id)
                    };
                    let n = r.len().map_err(entry_err)?;
                    for _ in 0..n {
                        let p = r.str().map_err(entry_err)?;
                        snap.ephemerals.push((id, p.into()));
                    }
                    snap.sessions.push(SessionImage {
                        id,
                        timeout,
                        passwd,
                    });
                }
                E_NODE => {
                    let path = r.str().map_err(entry_err)?;
                    let data = r.opt().map_err(entry_err)?;
                    let ai = r.varint().map_err(entry_err)?;
                    let acl = acls
                        .get(ai as usize)
                        .ok_or_else(|| err(start, SnapProblem::AclIndex(ai)))?;
                    let mut v = [0i64; 5];
                    for x in v.iter_mut() {
                        *x = r.varint().map_err(entry_err)? as i64;
                    }
                    let version = r.zz32().map_err(entry_err)?;
                    let cversion = r.zz32().map_err(entry_err)?;
                    let aversion = r.zz32().map_err(entry_err)?;
                    let owner = r.varint().map_err(entry_err)? as i64;
                    sink(
                        &ImageRef {
                            path,
                            data,
                            acl,
                            meta: NodeMeta {
                                czxid: v[0],
                                mzxid: v[1],
                                pzxid: v[2],
                                ctime: v[3],
                                mtime: v[4],
                                version,
                                cversion,
                                aversion,
                                owner,
                            },
                        },
                        start,
                    )
                    .map_err(|e| err(start, SnapProblem::Tree(e)))?;
                    count += 1;
                }
                E_END => {
                    snap.end_zxid = r.i64().map_err(entry_err)?;
                    let nodes = r.varint().map_err(entry_err)?;
                    let sessions = r.varint().map_err(entry_err)?;
                    let end = at(&r);
                    if r.left() > 0 || end != buf.len() {
                        return Err(err(end, SnapProblem::Trailing((buf.len() - end) as u64)));
                    }
                    if nodes != count || sessions != snap.sessions.len() as u64 {
                        return Err(err(
                            start,
                            SnapProblem::Count {
                                nodes,
                                sessions,
                                found_nodes: count,
                                found_sessions: snap.sessions.len() as u64,
                            },
                        ));
                    }
                    return Ok(snap);
                }
                t => return Err(err(start, SnapProblem::Tag(t))),
            }
        }
        off = base + len as usize;
    }
}

/// Encodes a whole tree at once (tests, tools, and the first snapshot of an
/// empty server). The runtime uses the walk for live snapshots.
pub fn encode_tree(
    tree: &crate::tree::DataTree,
    sessions: &[SessionImage],
    block_target: usize,
) -> Vec<u8> {
    let mut out = SnapEncoder::header(tree.last_zxid, tree.node_count() as u64).to_vec();
    let mut enc = SnapEncoder::new(block_target);
    for s in sessions {
        let eph: Vec<&str> = tree.ephemerals_of(s.id).collect();
        enc.session(s, eph.into_iter());
    }
    tree.for_each_node(|p, n| {
        enc.node(p, n);
        while let Some(b) = enc.take_block() {
            out.extend_from_slice(&b);
        }
    });
    out.extend_from_slice(&enc.finish(tree.last_zxid));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::acl::{open_acl, read_acl};
    use crate::tree::txn::{test_create, TxnHeader};
    use crate::tree::DataTree;

    fn tree() -> DataTree {
        let mut t = DataTree::new();
        let mut r = Vec::new();
        for z in 1..=300i64 {
            let (path, owner) = if z % 3 == 0 {
                (format!("/e{z}"), 0x77)
            } else {
                (format!("/n{z}"), 0)
            };
            let header = TxnHeader {
                session: 0x77,
                cxid: 1,
                zxid: z,
                time: 1_700_000_000_000 + z,
            };
            let data = (z % 5 != 0).then(|| vec![z as u8; (z % 120) as usize].into());
            let acl = if z % 2 == 0 { open_acl() } else { read_acl() };
            let txn = test_create(&t, header, &path, data, acl, owner);
            t.apply(txn, &mut |_| {}, &mut r);
        }
        t
    }

    fn sorted(mut v: Vec<NodeImage>) -> Vec<NodeImage> {
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    #[test]
    fn names() {
        assert_eq!(snapshot_name(0x1_0000_00ff), "snapshot.1000000ff");
        assert_eq!(
            parse_snapshot_name("snapshot.1000000ff"),
            Some(0x1_0000_00ff)
        );
        assert_eq!(parse_snapshot_name("snapshot.1.tmp"), None);
        assert_eq!(parse_snapshot_name("log.1"), None);
    }

    #[test]
    fn round_trip_and_rebuild() {
        let t = tree();
        let bytes = encode_tree(
            &t,
            &[
                crate::session::SessionImage::legacy(0x77, 30000),
                crate::session::SessionImage::legacy(0x78, 4000),
            ],
            512,
        );
        let snap = decode_snapshot(&bytes).unwrap();
        assert_eq!(snap.zxid, 300);
        assert_eq!(snap.end_zxid, 300);
        assert_eq!(
            snap.sessions,
            vec![
                crate::session::SessionImage::legacy(0x77, 30000),
                crate::session::SessionImage::legacy(0x78, 4000)
            ]
        );
        assert_eq!(snap.ephemerals.len(), 100);
        let mut want = Vec::new();
        t.for_each_node(|p, n| want.push(DataTree::image(p, n)));
        assert_eq!(sorted(snap.nodes.clone()), sorted(want));
        let t2 = DataTree::from_images(snap.nodes, snap.ephemerals, snap.zxid).unwrap();
        t2.check_invariants();
        assert_eq!(t2.node_count(), t.node_count());
        assert_eq!(t2.ephemerals_of(0x77).count(), 100);
        assert_eq!(t2.get("/n4").unwrap().stat(), t.get("/n4").unwrap().stat());
    }

    /// Every truncation and every flipped bit is refused with an offset
    /// inside the file; nothing panics.
    #[test]
    fn damage_is_refused() {
        let t = tree();
        let bytes = encode_tree(
            &t,
            &[crate::session::SessionImage::legacy(0x77, 30000)],
            2048,
        );
        for cut in 0..bytes.len() {
            let e = decode_snapshot(&bytes[..cut]).unwrap_err();
            assert!(e.offset <= cut as u64, "cut {cut}: {e}");
        }
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 1 << (i % 8);
            let e = decode_snapshot(&b).unwrap_err();
            assert!(e.offset <= i as u64 + 4, "flip at {i}: {e}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode_snapshot(&longer).unwrap_err().what,
            SnapProblem::BlockCut | SnapProblem::Trailing(_)
        ));
    }
}
