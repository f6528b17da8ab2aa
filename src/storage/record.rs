//! The byte format of the txn log: segment headers, records, txn bodies.
//!
//! Pure code (no I/O, no clock), used by the log thread's writer and by
//! recovery at startup. Every integer on disk is little-endian.
//!
//! **Segment header** (32 bytes at offset 0 of every segment file):
//!
//! | off | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `b"CRLG"` |
//! | 4 | 4 | format version, 1 |
//! | 8 | 8 | first zxid (equal to the `log.<hex>` file name) |
//! | 16 | 8 | capacity: the preallocated file size |
//! | 24 | 4 | crc32c of bytes 0..24 |
//! | 28 | 4 | zero |
//!
//! **Record** (from offset 32, back to back, no padding):
//!
//! | off | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | `len`: body length, >= 1. Zero means "no record here": the zeroed, preallocated tail |
//! | 4 | 4 | crc32c of bytes 0..4 followed by bytes 8..24+len (everything but itself) |
//! | 8 | 8 | zxid |
//! | 16 | 8 | `durable`: the zxid through which the log was durable (a completed sync) when this record was written; 0 = none |
//! | 24 | len | body |
//!
//! `durable` is what lets recovery tell a crash from corruption: a crash can
//! only damage records whose sync had not completed, and every record
//! written after a sync completed says so. A bad record followed by a valid
//! record whose `durable` covers it was acknowledged: that is corruption.
//!
//! **Body.** The first byte is the kind: [`KIND_TXN`] (a txn, layout below)
//! or [`KIND_ATTEST`] (no more bytes: a marker repeating the last zxid,
//! written after a sync so that the last batch is attested too).
//!
//! Txn body v1, after the kind byte (`varint` = unsigned LEB128, at most 10
//! bytes; `zz32` = zigzag i32 as varint; `i64` = 8 bytes LE; the zxid is not
//! repeated: it is the record's):
//!
//! | field | encoding |
//! | --- | --- |
//! | session | i64 |
//! | cxid | zz32 |
//! | time | i64 |
//! | op | tag byte + fields, below |
//!
//! | tag | op | fields |
//! | --- | --- | --- |
//! | 1 | CreateSession | timeout zz32 |
//! | 2 | CloseSession | - |
//! | 3 | Create | path str, data opt, acl list, owner i64, parent_cversion zz32 |
//! | 4 | Delete | path str |
//! | 5 | SetData | path str, data opt, version zz32 |
//! | 6 | SetAcl | path str, acl list, aversion zz32 |
//! | 7 | Check | path str |
//! | 8 | Multi | count varint, then each op (tag + fields), nested at most [`MAX_MULTI_DEPTH`] deep |
//! | 9 | Error | code zz32 (a write that failed prep; changes nothing) |
//! | 10 | Sync | - (a client's sync in an ensemble; changes nothing) |
//! | 11 | CreateSession with its password | timeout zz32, password 16 bytes (tag 1 has none: ZooKeeper's derived one) |
//!
//! `str` = varint length + UTF-8 bytes; `opt` (data) = varint 0 for null,
//! else varint `n + 1` followed by `n` bytes (so null and empty differ);
//! `acl list` = varint count, each entry perms zz32, scheme str, id str.
//!
//! Invariants: decoding never panics and never allocates more than the input
//! can hold (every count and length is checked against the bytes left);
//! `decode(encode(x)) == x` for every txn.

use crate::tree::acl::{Acl, AclList, Id};
use crate::tree::txn::{Txn, TxnHeader, TxnOp};
use crate::types::Zxid;
use std::sync::Arc;
use thiserror::Error;

pub const SEGMENT_MAGIC: [u8; 4] = *b"CRLG";
pub const SEGMENT_VERSION: u32 = 1;
pub const SEGMENT_HEADER_LEN: usize = 32;
pub const RECORD_HEADER_LEN: usize = 24;

/// Body kind: a txn (body layout v1).
pub const KIND_TXN: u8 = 1;
/// Body kind: an attestation marker (body is this single byte).
pub const KIND_ATTEST: u8 = 2;

/// Multi ops nest at most this deep (ZooKeeper never nests; the bound keeps
/// decoding of hostile bytes off the stack's edge).
pub const MAX_MULTI_DEPTH: usize = 4;

const OP_CREATE_SESSION: u8 = 1;
const OP_CLOSE_SESSION: u8 = 2;
const OP_CREATE: u8 = 3;
const OP_DELETE: u8 = 4;
const OP_SET_DATA: u8 = 5;
const OP_SET_ACL: u8 = 6;
const OP_CHECK: u8 = 7;
const OP_MULTI: u8 = 8;
const OP_ERROR: u8 = 9;
const OP_SYNC: u8 = 10;
const OP_CREATE_SESSION_PW: u8 = 11;

// ------------------------------------------------------------------ errors

/// Why a txn body did not decode. `at` is a byte offset inside the body.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("body ends at {at}, {need} more bytes needed")]
    Truncated { at: usize, need: usize },
    #[error("unknown body kind {0}")]
    Kind(u8),
    #[error("unknown op tag {tag} at {at}")]
    OpTag { tag: u8, at: usize },
    #[error("bad varint at {at}")]
    Varint { at: usize },
    #[error("value out of range at {at}")]
    Range { at: usize },
    #[error("invalid UTF-8 at {at}")]
    Utf8 { at: usize },
    #[error("multi nested deeper than {MAX_MULTI_DEPTH} at {at}")]
    Nesting { at: usize },
    #[error("{0} trailing bytes after the txn")]
    Trailing(usize),
    #[error("attestation body must be exactly one byte")]
    Attest,
}

/// Why the bytes at some offset are not a valid record.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("zero header (end of records)")]
    Zero,
    #[error("only {have} bytes left, a record header needs {RECORD_HEADER_LEN}")]
    ShortHeader { have: usize },
    #[error("length {len} exceeds the {room} bytes left")]
    Length { len: u32, room: usize },
    #[error("crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Crc { stored: u32, computed: u32 },
}

/// Why a segment header is not valid.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("segment header is all zero")]
    Zero,
    #[error("file shorter than a segment header")]
    Short,
    #[error("bad magic")]
    Magic,
    #[error("unsupported segment version {0}")]
    Version(u32),
    #[error("segment header crc mismatch")]
    Crc,
}

// ---------------------------------------------------------- segment header

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub first_zxid: Zxid,
    pub capacity: u64,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[0..4].copy_from_slice(&SEGMENT_MAGIC);
        b[4..8].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
        b[8..16].copy_from_slice(&self.first_zxid.to_le_bytes());
        b[16..24].copy_from_slice(&self.capacity.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..24]);
        b[24..28].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Result<SegmentHeader, HeaderError> {
        let b = b.get(..SEGMENT_HEADER_LEN).ok_or(HeaderError::Short)?;
        if b.iter().all(|&x| x == 0) {
            return Err(HeaderError::Zero);
        }
        if b[0..4] != SEGMENT_MAGIC {
            return Err(HeaderError::Magic);
        }
        let version = le_u32(b, 4);
        if version != SEGMENT_VERSION {
            return Err(HeaderError::Version(version));
        }
        if le_u32(b, 24) != crc32c::crc32c(&b[0..24]) || le_u32(b, 28) != 0 {
            return Err(HeaderError::Crc);
        }
        Ok(SegmentHeader {
            first_zxid: le_u64(b, 8) as i64,
            capacity: le_u64(b, 16),
        })
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

// ------------------------------------------------------------------ records

/// A record decoded in place: the body borrows the segment's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub zxid: Zxid,
    pub durable: Zxid,
    pub body: &'a [u8],
}

impl RecordRef<'_> {
    /// Bytes the record takes on disk, header included.
    pub fn total_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body.len()
    }

    pub fn kind(&self) -> u8 {
        self.body[0]
    }
}

fn record_crc(header: &[u8], body: &[u8]) -> u32 {
    let c = crc32c::crc32c(&header[0..4]);
    let c = crc32c::crc32c_append(c, &header[8..RECORD_HEADER_LEN]);
    crc32c::crc32c_append(c, body)
}

/// Decodes the record starting at `buf[0]` (the rest of the segment).
pub fn decode_record(buf: &[u8]) -> Result<RecordRef<'_>, RecordError> {
    if buf.len() < RECORD_HEADER_LEN {
        if buf.iter().all(|&x| x == 0) {
            return Err(RecordError::Zero);
        }
        return Err(RecordError::ShortHeader { have: buf.len() });
    }
    let h = &buf[..RECORD_HEADER_LEN];
    let len = le_u32(h, 0);
    if len == 0 {
        return if h.iter().all(|&x| x == 0) {
            Err(RecordError::Zero)
        } else {
            Err(RecordError::Length { len, room: 0 })
        };
    }
    let room = buf.len() - RECORD_HEADER_LEN;
    if len as usize > room {
        return Err(RecordError::Length { len, room });
    }
    let body = &buf[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len as usize];
    let stored = le_u32(h, 4);
    let computed = record_crc(h, body);
    if stored != computed {
        return Err(RecordError::Crc { stored, computed });
    }
    Ok(RecordRef {
        zxid: le_u64(h, 8) as i64,
        durable: le_u64(h, 16) as i64,
        body,
    })
}

/// Appends one record to `out`: the header is reserved, `body` writes the
/// body straight into `out` after it, then length and crc are patched in.
/// Returns the record's total length.
pub fn encode_record_with(
    out: &mut Vec<u8>,
    zxid: Zxid,
    durable: Zxid,
    body: impl FnOnce(&mut Vec<u8>),
) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER_LEN]);
    out[start + 8..start + 16].copy_from_slice(&zxid.to_le_bytes());
    out[start + 16..start + 24].copy_from_slice(&durable.to_le_bytes());
    body(out);
    let len = out.len() - start - RECORD_HEADER_LEN;
    debug_assert!(len >= 1 && len <= u32::MAX as usize);
    out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    let (h, b) = out[start..].split_at(RECORD_HEADER_LEN);
    let crc = record_crc(h, b);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    out.len() - start
}

/// Appends the record of `txn` (whose header carries the zxid).
pub fn encode_txn_record(out: &mut Vec<u8>, txn: &Txn, durable: Zxid) -> usize {
    encode_record_with(out, txn.header.zxid, durable, |o| encode_txn_body(o, txn))
}

/// Appends an attestation record after the record of `zxid`: "the log is
/// durable through `durable`" (<= `zxid`).
pub fn encode_attest_record(out: &mut Vec<u8>, zxid: Zxid, durable: Zxid) -> usize {
    debug_assert!(durable <= zxid);
    encode_record_with(out, zxid, durable, |o| o.push(KIND_ATTEST))
}

// ---------------------------------------------------------------- txn body

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_zz32(out: &mut Vec<u8>, v: i32) {
    put_varint(out, ((v << 1) ^ (v >> 31)) as u32 as u64);
}

pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn put_opt(out: &mut Vec<u8>, d: Option<&[u8]>) {
    match d {
        None => put_varint(out, 0),
        Some(b) => {
            put_varint(out, b.len() as u64 + 1);
            out.extend_from_slice(b);
        }
    }
}

pub(crate) fn put_acl(out: &mut Vec<u8>, acl: &[Acl]) {
    put_varint(out, acl.len() as u64);
    for a in acl {
        put_zz32(out, a.perms);
        put_str(out, &a.id.scheme);
        put_str(out, &a.id.id);
    }
}

/// Appends the body of `txn` (kind byte included, zxid excluded).
pub fn encode_txn_body(out: &mut Vec<u8>, txn: &Txn) {
    out.push(KIND_TXN);
    put_i64(out, txn.header.session);
    put_zz32(out, txn.header.cxid);
    put_i64(out, txn.header.time);
    put_op(out, &txn.op);
}

fn put_op(out: &mut Vec<u8>, op: &TxnOp) {
    match op {
        TxnOp::CreateSession {
            timeout,
            passwd: None,
        } => {
            out.push(OP_CREATE_SESSION);
            put_zz32(out, *timeout);
        }
        TxnOp::CreateSession {
            timeout,
            passwd: Some(pw),
        } => {
            out.push(OP_CREATE_SESSION_PW);
            put_zz32(out, *timeout);
            out.extend_from_slice(pw);
        }
        TxnOp::CloseSession => out.push(OP_CLOSE_SESSION),
        TxnOp::Create {
            path,
            data,
            acl,
            owner,
            parent_cversion,
        } => {
            out.push(OP_CREATE);
            put_str(out, path);
            put_opt(out, data.as_deref());
            put_acl(out, acl);
            put_i64(out, *owner);
            put_zz32(out, *parent_cversion);
        }
        TxnOp::Delete { path } => {
            out.push(OP_DELETE);
            put_str(out, path);
        }
        TxnOp::SetData {
            path,
            data,
            version,
        } => {
            out.push(OP_SET_DATA);
            put_str(out, path);
            put_opt(out, data.as_deref());
            put_zz32(out, *version);
        }
        TxnOp::SetAcl {
            path,
            acl,
            aversion,
        } => {
            out.push(OP_SET_ACL);
            put_str(out, path);
            put_acl(out, acl);
            put_zz32(out, *aversion);
        }
        TxnOp::Check { path } => {
            out.push(OP_CHECK);
            put_str(out, path);
        }
        TxnOp::Error { code } => {
            out.push(OP_ERROR);
            put_zz32(out, *code);
        }
        TxnOp::Sync => out.push(OP_SYNC),
        TxnOp::Multi(ops) => {
            out.push(OP_MULTI);
            put_varint(out, ops.len() as u64);
            for o in ops {
                put_op(out, o);
            }
        }
    }
}

/// A cursor over a body; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], BodyError> {
        let left = self.buf.len() - self.at;
        if n > left {
            return Err(BodyError::Truncated {
                at: self.at,
                need: n - left,
            });
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    pub(crate) fn left(&self) -> usize {
        self.buf.len() - self.at
    }

    pub(crate) fn u8(&mut self) -> Result<u8, BodyError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn array16(&mut self) -> Result<[u8; 16], BodyError> {
        Ok(self.take(16)?.try_into().expect("16 bytes"))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, BodyError> {
        Ok(le_u64(self.take(8)?, 0) as i64)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, BodyError> {
        let start = self.at;
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return Err(BodyError::Varint { at: start });
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(BodyError::Varint { at: start })
    }

    pub(crate) fn zz32(&mut self) -> Result<i32, BodyError> {
        let at = self.at;
        let v = self.varint()?;
        let v = u32::try_from(v).map_err(|_| BodyError::Range { at })?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// A length that must fit in the bytes left.
    pub(crate) fn len(&mut self) -> Result<usize, BodyError> {
        let at = self.at;
        let n = self.varint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.left() => Ok(n),
            _ => Err(BodyError::Range { at }),
        }
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, BodyError> {
        let n = self.len()?;
        let at = self.at;
        std::str::from_utf8(self.take(n)?).map_err(|_| BodyError::Utf8 { at })
    }

    pub(crate) fn opt(&mut self) -> Result<Option<&'a [u8]>, BodyError> {
        let at = self.at;
        match self.varint()? {
            0 => Ok(None),
            n => {
                let n = usize::try_from(n - 1).map_err(|_| BodyError::Range { at })?;
                if n > self.left() {
                    return Err(BodyError::Range { at });
                }
                Ok(Some(self.take(n)?))
            }
        }
    }

    pub(crate) fn acl(&mut self) -> Result<AclList, BodyError> {
        let at = self.at;
        let n = self.varint()?;
        // An entry takes at least 3 bytes: bound the allocation by the input.
        if n > (self.left() / 3) as u64 {
            return Err(BodyError::Range { at });
        }
        let mut v = Vec::with_capacity((n as usize).min(crate::types::MAX_PREALLOC));
        for _ in 0..n {
            let perms = self.zz32()?;
            let scheme = self.str()?.to_owned();
            let id = self.str()?.to_owned();
            v.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        Ok(Arc::from(v))
    }

    pub(crate) fn op(&mut self, depth: usize) -> Result<TxnOp, BodyError> {
        let at = self.at;
        let tag = self.u8()?;
        Ok(match tag {
            OP_CREATE_SESSION => TxnOp::CreateSession {
                timeout: self.zz32()?,
                passwd: None,
            },
            OP_CREATE_SESSION_PW => TxnOp::CreateSession {
                timeout: self.zz32()?,
                passwd: Some(self.array16()?),
            },
            OP_CLOSE_SESSION => TxnOp::CloseSession,
            OP_CREATE => TxnOp::Create {
                path: self.str()?.into(),
                data: self.opt()?.map(Box::from),
                acl: self.acl()?,
                owner: self.i64()?,
                parent_cversion: self.zz32()?,
            },
            OP_DELETE => TxnOp::Delete {
                path: self.str()?.into(),
            },
            OP_SET_DATA => TxnOp::SetData {
                path: self.str()?.into(),
                data: self.opt()?.map(Box::from),
                version: self.zz32()?,
            },
            OP_SET_ACL => TxnOp::SetAcl {
                path: self.str()?.into(),
                acl: self.acl()?,
                aversion: self.zz32()?,
            },
            OP_CHECK => TxnOp::Check {
                path: self.str()?.into(),
            },
            OP_ERROR => TxnOp::Error { code: self.zz32()? },
            OP_SYNC => TxnOp::Sync,
            OP_MULTI => {
                if depth >= MAX_MULTI_DEPTH {
                    return Err(BodyError::Nesting { at });
                }
                let cat = self.at;
                let n = self.varint()?;
                // Every op takes at least one byte.
                if n > self.left() as u64 {
                    return Err(BodyError::Range { at: cat });
                }
                let mut ops = Vec::with_capacity((n as usize).min(crate::types::MAX_PREALLOC));
                for _ in 0..n {
                    ops.push(self.op(depth + 1)?);
                }
                TxnOp::Multi(ops)
            }
            tag => return Err(BodyError::OpTag { tag, at }),
        })
    }
}

/// Decodes a txn body (kind byte included); `zxid` comes from the record.
pub fn decode_txn_body(zxid: Zxid, body: &[u8]) -> Result<Txn, BodyError> {
    let mut r = Reader { buf: body, at: 0 };
    match r.u8()? {
        KIND_TXN => {}
        k => return Err(BodyError::Kind(k)),
    }
    let session = r.i64()?;
    let cxid = r.zz32()?;
    let time = r.i64()?;
    let op = r.op(0)?;
    if r.left() != 0 {
        return Err(BodyError::Trailing(r.left()));
    }
    Ok(Txn {
        header: TxnHeader {
            session,
            cxid,
            zxid,
            time,
        },
        op,
    })
}

/// What a record's body holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Txn(Txn),
    Attest,
}

/// Decodes a record's body by its kind byte.
pub fn decode_entry(rec: &RecordRef<'_>) -> Result<Entry, BodyError> {
    match rec.body.first() {
        Some(&KIND_ATTEST) if rec.body.len() == 1 => Ok(Entry::Attest),
        Some(&KIND_ATTEST) => Err(BodyError::Attest),
        _ => decode_txn_body(rec.zxid, rec.body).map(Entry::Txn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Txn {
        Txn {
            header: TxnHeader {
                session: 0x0100_0000_0000_0042,
                cxid: 7,
                zxid: (3 << 32) | 9,
                time: 1_700_000_000_000,
            },
            op: TxnOp::Multi(vec![
                TxnOp::Create {
                    path: "/a".into(),
                    data: Some(Box::from(&b""[..])),
                    acl: crate::tree::acl::open_acl(),
                    owner: 0,
                    parent_cversion: 1,
                },
                TxnOp::SetData {
                    path: "/a".into(),
                    data: None,
                    version: -1,
                },
            ]),
        }
    }

    #[test]
    fn record_round_trip_and_layout() {
        let t = sample();
        let mut out = vec![0xAA]; // something before: encode appends
        let n = encode_txn_record(&mut out, &t, 5);
        assert_eq!(n, out.len() - 1);
        let rec = decode_record(&out[1..]).unwrap();
        assert_eq!(rec.zxid, t.header.zxid);
        assert_eq!(rec.durable, 5);
        assert_eq!(rec.total_len(), n);
        assert_eq!(le_u32(&out[1..], 0) as usize, n - RECORD_HEADER_LEN);
        assert_eq!(decode_entry(&rec).unwrap(), Entry::Txn(t));
    }

    #[test]
    fn null_and_empty_data_differ() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        put_opt(&mut a, None);
        put_opt(&mut b, Some(b""));
        assert_ne!(a, b);
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        let mut out = Vec::new();
        encode_txn_record(&mut out, &sample(), 0);
        for bit in 0..out.len() * 8 {
            let mut c = out.clone();
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_record(&c).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn every_truncation_is_caught() {
        let mut out = Vec::new();
        encode_txn_record(&mut out, &sample(), 0);
        for n in 0..out.len() {
            assert!(decode_record(&out[..n]).is_err(), "len {n}");
        }
        assert_eq!(decode_record(&[0u8; 40]), Err(RecordError::Zero));
        assert_eq!(decode_record(&[0u8; 3]), Err(RecordError::Zero));
    }

    #[test]
    fn attest_record() {
        let mut out = Vec::new();
        encode_attest_record(&mut out, 77, 77);
        let r = decode_record(&out).unwrap();
        assert_eq!((r.zxid, r.durable), (77, 77));
        assert_eq!(decode_entry(&r).unwrap(), Entry::Attest);
    }

    #[test]
    fn segment_header() {
        let h = SegmentHeader {
            first_zxid: 0x1_0000_0001,
            capacity: 1 << 20,
        };
        let b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        assert_eq!(SegmentHeader::decode(&[0; 32]), Err(HeaderError::Zero));
        assert_eq!(SegmentHeader::decode(&b[..31]), Err(HeaderError::Short));
        for bit in 0..256 {
            let mut c = b;
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(SegmentHeader::decode(&c).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn hostile_bodies_error_without_panicking() {
        // Deep multi nesting.
        let mut b = vec![KIND_TXN];
        b.extend_from_slice(&[0; 8]);
        b.push(0);
        b.extend_from_slice(&[0; 8]);
        for _ in 0..100 {
            b.extend_from_slice(&[OP_MULTI, 1]);
        }
        assert!(matches!(
            decode_txn_body(1, &b),
            Err(BodyError::Nesting { .. })
        ));
        // Huge counts and lengths.
        let mut b = vec![KIND_TXN];
        b.extend_from_slice(&[0; 8]);
        b.push(0);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&[OP_MULTI, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(matches!(
            decode_txn_body(1, &b),
            Err(BodyError::Range { .. })
        ));
        assert_eq!(
            decode_txn_body(1, &[]),
            Err(BodyError::Truncated { at: 0, need: 1 })
        );
        assert_eq!(decode_txn_body(1, &[9]), Err(BodyError::Kind(9)));
        // Overlong varint.
        let mut r = Reader {
            buf: &[0xff; 11],
            at: 0,
        };
        assert!(matches!(r.varint(), Err(BodyError::Varint { .. })));
    }

    #[test]
    fn zigzag_extremes() {
        for v in [0, 1, -1, i32::MAX, i32::MIN] {
            let mut o = Vec::new();
            put_zz32(&mut o, v);
            let mut r = Reader { buf: &o, at: 0 };
            assert_eq!(r.zz32().unwrap(), v);
            assert_eq!(r.left(), 0);
        }
    }

    // ------------------------------------------------------------ proptest

    fn arb_id() -> impl Strategy<Value = Id> {
        ("[a-z]{0,6}", "\\PC{0,12}").prop_map(|(scheme, id)| Id { scheme, id })
    }

    fn arb_acl() -> impl Strategy<Value = AclList> {
        prop::collection::vec(
            (any::<i32>(), arb_id()).prop_map(|(perms, id)| Acl { perms, id }),
            0..4,
        )
        .prop_map(Arc::from)
    }

    fn arb_data() -> impl Strategy<Value = Option<Box<[u8]>>> {
        prop::option::of(prop::collection::vec(any::<u8>(), 0..300).prop_map(Box::from))
    }

    fn arb_path() -> impl Strategy<Value = Box<str>> {
        "(/\\PC{0,10}){0,4}".prop_map(Box::from)
    }

    fn arb_leaf() -> impl Strategy<Value = TxnOp> {
        prop_oneof![
            (any::<i32>(), any::<Option<[u8; 16]>>())
                .prop_map(|(timeout, passwd)| TxnOp::CreateSession { timeout, passwd }),
            Just(TxnOp::CloseSession),
            (
                arb_path(),
                arb_data(),
                arb_acl(),
                any::<i64>(),
                any::<i32>()
            )
                .prop_map(|(path, data, acl, owner, parent_cversion)| TxnOp::Create {
                    path,
                    data,
                    acl,
                    owner,
                    parent_cversion
                }),
            arb_path().prop_map(|path| TxnOp::Delete { path }),
            (arb_path(), arb_data(), any::<i32>()).prop_map(|(path, data, version)| {
                TxnOp::SetData {
                    path,
                    data,
                    version,
                }
            }),
            (arb_path(), arb_acl(), any::<i32>()).prop_map(|(path, acl, aversion)| {
                TxnOp::SetAcl {
                    path,
                    acl,
                    aversion,
                }
            }),
            arb_path().prop_map(|path| TxnOp::Check { path }),
            any::<i32>().prop_map(|code| TxnOp::Error { code }),
            Just(TxnOp::Sync),
        ]
    }

    pub(crate) fn arb_op() -> impl Strategy<Value = TxnOp> {
        arb_leaf().prop_recursive(2, 24, 6, |inner| {
            prop::collection::vec(inner, 0..6).prop_map(TxnOp::Multi)
        })
    }

    fn arb_txn() -> impl Strategy<Value = Txn> {
        (
            any::<i64>(),
            any::<i32>(),
            any::<i64>(),
            any::<i64>(),
            arb_op(),
        )
            .prop_map(|(session, cxid, zxid, time, op)| Txn {
                header: TxnHeader {
                    session,
                    cxid,
                    zxid,
                    time,
                },
                op,
            })
    }

    proptest! {
        #[test]
        fn txn_round_trips(t in arb_txn(), durable in any::<i64>()) {
            let mut out = Vec::new();
            let n = encode_txn_record(&mut out, &t, durable);
            prop_assert_eq!(n, out.len());
            let rec = decode_record(&out).unwrap();
            prop_assert_eq!(rec.durable, durable);
            prop_assert_eq!(decode_entry(&rec).unwrap(), Entry::Txn(t));
        }

        #[test]
        fn body_prefixes_and_garbage_never_panic(t in arb_txn(), cut in any::<prop::sample::Index>(),
                                                 junk in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut body = Vec::new();
            encode_txn_body(&mut body, &t);
            let n = cut.index(body.len());
            prop_assert!(decode_txn_body(t.header.zxid, &body[..n]).is_err());
            let _ = decode_txn_body(1, &junk);
            let _ = decode_record(&junk);
            body.push(0);
            prop_assert_eq!(decode_txn_body(t.header.zxid, &body), Err(BodyError::Trailing(1)));
        }
    }
}
