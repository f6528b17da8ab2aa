//! Server-to-server frames: the messages ZAB exchanges (election
//! notifications, discovery, sync, broadcast, learner requests), in our own
//! versioned, checksummed binary format.
//!
//! Pure code (no I/O, no clock): the runtime cuts frames out of a peer
//! connection's receive buffer with [`decode_frame`] and appends outgoing
//! frames with [`encode`]. Decoding is zero-copy with nom: byte fields
//! (proposal txns, forwarded requests, ping session lists) borrow the input.
//!
//! Every integer is **little-endian** (like the txn log, `storage::record`).
//!
//! **Frame** (14-byte header, then the body):
//!
//! | off | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `b"CRPR"` |
//! | 4 | 1 | format version, [`VERSION`] (1) |
//! | 5 | 1 | message type, [`MsgType`] |
//! | 6 | 4 | `len`: body length, u32, at most the receiver's maximum |
//! | 10 | 4 | crc32c of bytes 5..10 (type and len) followed by the body |
//! | 14 | len | body |
//!
//! **Bodies** (`u8`/`u32`/`u64`/`i32`/`i64` fixed width; `bool` = one byte,
//! exactly 0 or 1; `rest` = every remaining body byte, borrowed; epochs are
//! u32, the high half of a zxid):
//!
//! | type | message | body |
//! | --- | --- | --- |
//! | 1 | Notification | round u64, peer_epoch u32, last_zxid i64, server_id u64, state u8 ([`PeerState`]: 0 LOOKING, 1 FOLLOWING, 2 LEADING, 3 OBSERVING), proposed_leader u64 |
//! | 2 | FollowerInfo | server_id u64, accepted_epoch u32, current_epoch u32, accepted_from u64, last_zxid i64, is_observer bool |
//! | 3 | LeaderInfo | new_epoch u32 |
//! | 4 | AckEpoch | current_epoch u32, last_zxid i64, count u32, then count × i64: the learner's log shape ([`LogShape`]); count × 8 must fill the rest of the body |
//! | 5 | Diff | zxid i64 |
//! | 6 | Trunc | zxid i64 |
//! | 7 | Snap | zxid i64, snapshot rest (the sender's state as of `zxid`, opaque to this layer) |
//! | 8 | Proposal | zxid i64, txn rest (a txn log record body, `storage::record`) |
//! | 9 | Ack | zxid i64 |
//! | 10 | Commit | zxid i64 |
//! | 11 | Inform | zxid i64, txn rest (as Proposal; sent to observers) |
//! | 12 | NewLeader | zxid i64 |
//! | 13 | UpToDate | empty |
//! | 14 | Ping | count u32, then count × (session i64, timeout i32); count × 12 must fill the body |
//! | 15 | Request | session i64, cxid i32, opcode i32, request rest (the client's request body) |
//! | 16 | Revalidate | session i64, timeout i32 |
//! | 17 | RevalidateReply | session i64, valid bool |
//! | 18 | SnapChunk | zxid i64, total u64, offset u64, data rest: part of a SNAP payload (the whole payload is `total` bytes; chunks come in order, offsets contiguous from 0) |
//!
//! (Version 1's types 18 and 19, a sync request and reply, are gone: a sync
//! is a txn now. A snapshot travels as SnapChunks, so that no frame is
//! larger than a txn; a whole Snap frame is still decoded.)
//!
//! Invariants: decoding never panics, never allocates, and is strict: no
//! trailing bytes, bools 0 or 1, known states, a consistent ping count. So
//! the encoding is canonical: re-encoding a decoded message reproduces the
//! exact frame bytes (the fuzz target checks this). The crc32c catches every
//! single-bit error in type, length and body; a bit flip in the magic or
//! version fails those checks. A flipped length may make the receiver wait
//! for bytes that never come as one frame; the maximum bounds that wait, and
//! the crc rejects the frame once the claimed bytes are there.

use crate::types::{SessionId, Zxid};
use nom::number::complete::{le_i32, le_i64, le_u32, le_u64, le_u8};
use nom::sequence::tuple;
use thiserror::Error;

pub mod auth;
#[cfg(test)]
mod tests;

/// Frame magic.
pub const MAGIC: [u8; 4] = *b"CRPR";
/// Frame format version (2: FollowerInfo carries the learner's current
/// epoch and who set its accepted epoch; AckEpoch its log shape).
pub const VERSION: u8 = 2;
/// Header bytes before the body.
pub const HEADER_LEN: usize = 14;
/// Default maximum body length accepted by [`decode_frame`]: a proposal
/// carries at most one jute.maxbuffer-sized write plus its path and ACLs.
pub const DEFAULT_MAX_BODY: u32 = 16 << 20;

/// Bytes of one ping entry (session i64 + timeout i32).
const TOUCH_LEN: usize = 12;

/// Bytes of one log-shape entry (a zxid).
const ZXID_LEN: usize = 8;

// ------------------------------------------------------------------ types

/// The type byte of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    Notification = 1,
    FollowerInfo = 2,
    LeaderInfo = 3,
    AckEpoch = 4,
    Diff = 5,
    Trunc = 6,
    Snap = 7,
    Proposal = 8,
    Ack = 9,
    Commit = 10,
    Inform = 11,
    NewLeader = 12,
    UpToDate = 13,
    Ping = 14,
    Request = 15,
    Revalidate = 16,
    RevalidateReply = 17,
    SnapChunk = 18,
}

impl MsgType {
    /// Every type, in code order.
    pub const ALL: [MsgType; 18] = [
        MsgType::Notification,
        MsgType::FollowerInfo,
        MsgType::LeaderInfo,
        MsgType::AckEpoch,
        MsgType::Diff,
        MsgType::Trunc,
        MsgType::Snap,
        MsgType::Proposal,
        MsgType::Ack,
        MsgType::Commit,
        MsgType::Inform,
        MsgType::NewLeader,
        MsgType::UpToDate,
        MsgType::Ping,
        MsgType::Request,
        MsgType::Revalidate,
        MsgType::RevalidateReply,
        MsgType::SnapChunk,
    ];

    pub fn from_u8(b: u8) -> Option<MsgType> {
        match b {
            1..=18 => Some(MsgType::ALL[b as usize - 1]),
            _ => None,
        }
    }
}

/// A server's role, as announced in election notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PeerState {
    Looking = 0,
    Following = 1,
    Leading = 2,
    Observing = 3,
}

impl PeerState {
    pub fn from_u8(b: u8) -> Option<PeerState> {
        match b {
            0 => Some(PeerState::Looking),
            1 => Some(PeerState::Following),
            2 => Some(PeerState::Leading),
            3 => Some(PeerState::Observing),
            _ => None,
        }
    }
}

/// An election notification: the sender's vote and state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The sender's election round (ZooKeeper's electionEpoch).
    pub round: u64,
    /// The epoch of the proposed leader's last zxid (ZooKeeper's peerEpoch).
    pub peer_epoch: u32,
    /// The proposed leader's last zxid.
    pub last_zxid: Zxid,
    /// The sender.
    pub server_id: u64,
    pub state: PeerState,
    pub proposed_leader: u64,
}

/// The sessions a learner saw activity on since its last ping: (session,
/// timeout) pairs. Decoded, it borrows the frame body; to send, wrap a
/// slice with [`Touches::from_slice`].
#[derive(Clone, Copy)]
pub struct Touches<'a>(TouchRepr<'a>);

#[derive(Clone, Copy)]
enum TouchRepr<'a> {
    /// `len` entries of 12 bytes each, as on the wire.
    Wire(&'a [u8]),
    List(&'a [(SessionId, i32)]),
}

impl<'a> Touches<'a> {
    pub fn from_slice(list: &'a [(SessionId, i32)]) -> Touches<'a> {
        Touches(TouchRepr::List(list))
    }

    pub fn len(&self) -> usize {
        match self.0 {
            TouchRepr::Wire(b) => b.len() / TOUCH_LEN,
            TouchRepr::List(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> TouchIter<'a> {
        TouchIter {
            repr: self.0,
            next: 0,
        }
    }
}

impl PartialEq for Touches<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Touches<'_> {}

impl std::fmt::Debug for Touches<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Touches<'a> {
    type Item = (SessionId, i32);
    type IntoIter = TouchIter<'a>;
    fn into_iter(self) -> TouchIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Touches`].
pub struct TouchIter<'a> {
    repr: TouchRepr<'a>,
    next: usize,
}

impl Iterator for TouchIter<'_> {
    type Item = (SessionId, i32);

    fn next(&mut self) -> Option<(SessionId, i32)> {
        let k = self.next;
        let item = match self.repr {
            TouchRepr::Wire(b) => {
                let e = b.get(k * TOUCH_LEN..(k + 1) * TOUCH_LEN)?;
                let (s, t) = e.split_at(8);
                (
                    i64::from_le_bytes(s.try_into().ok()?),
                    i32::from_le_bytes(t.try_into().ok()?),
                )
            }
            TouchRepr::List(l) => *l.get(k)?,
        };
        self.next += 1;
        Some(item)
    }
}

/// The shape of a learner's log, sent in ACKEPOCH so that the leader can
/// find the newest zxid both logs hold: the zxid of the learner's base
/// state (its snapshot), then the last zxid of every epoch its log holds
/// after the base, in increasing order. Logs are contiguous (each zxid is
/// the successor of the one before), so this is the whole set of zxids the
/// learner holds. Decoded, it borrows the frame body; to send, wrap a
/// slice with [`LogShape::from_slice`].
#[derive(Clone, Copy)]
pub struct LogShape<'a>(ShapeRepr<'a>);

#[derive(Clone, Copy)]
enum ShapeRepr<'a> {
    /// `len` entries of 8 bytes each, as on the wire.
    Wire(&'a [u8]),
    List(&'a [Zxid]),
}

impl<'a> LogShape<'a> {
    pub fn from_slice(list: &'a [Zxid]) -> LogShape<'a> {
        LogShape(ShapeRepr::List(list))
    }

    pub fn len(&self) -> usize {
        match self.0 {
            ShapeRepr::Wire(b) => b.len() / ZXID_LEN,
            ShapeRepr::List(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, k: usize) -> Option<Zxid> {
        match self.0 {
            ShapeRepr::Wire(b) => {
                let e = b.get(k * ZXID_LEN..(k + 1) * ZXID_LEN)?;
                Some(i64::from_le_bytes(e.try_into().ok()?))
            }
            ShapeRepr::List(l) => l.get(k).copied(),
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Zxid> + ExactSizeIterator + 'a {
        let s = *self;
        (0..s.len()).map(move |k| s.get(k).unwrap_or(0))
    }
}

impl PartialEq for LogShape<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for LogShape<'_> {}

impl std::fmt::Debug for LogShape<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|z| format!("{z:#x}")))
            .finish()
    }
}

/// One server-to-server message. Byte fields borrow the decoded frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerMsg<'a> {
    Notification(Notification),
    /// Learner -> leader, opening discovery.
    FollowerInfo {
        server_id: u64,
        accepted_epoch: u32,
        /// The learner's currentEpoch and the server whose LEADERINFO set
        /// its acceptedEpoch: with them the leader knows whether the
        /// learner can take its epoch at all.
        current_epoch: u32,
        accepted_from: u64,
        last_zxid: Zxid,
        is_observer: bool,
    },
    /// Leader -> learner: the proposed new epoch.
    LeaderInfo {
        new_epoch: u32,
    },
    /// Learner -> leader: accepts the new epoch.
    AckEpoch {
        current_epoch: u32,
        last_zxid: Zxid,
        shape: LogShape<'a>,
    },
    /// Sync by diff: proposals and commits after `zxid` follow.
    Diff {
        zxid: Zxid,
    },
    /// Truncate the log to `zxid` (a DIFF follows).
    Trunc {
        zxid: Zxid,
    },
    /// Sync by snapshot: `data` is the sender's state as of `zxid`
    /// (format owned by the runtime), proposals after `zxid` follow.
    Snap {
        zxid: Zxid,
        data: &'a [u8],
    },
    /// `txn`: a txn log record body (`storage::record`).
    Proposal {
        zxid: Zxid,
        txn: &'a [u8],
    },
    Ack {
        zxid: Zxid,
    },
    Commit {
        zxid: Zxid,
    },
    /// A committed txn, for observers.
    Inform {
        zxid: Zxid,
        txn: &'a [u8],
    },
    NewLeader {
        zxid: Zxid,
    },
    UpToDate,
    /// Learner -> leader: touched sessions; leader -> learner: keepalive.
    Ping {
        sessions: Touches<'a>,
    },
    /// A client write forwarded by a learner; `request` is the request body
    /// after the client's RequestHeader.
    Request {
        session: SessionId,
        cxid: i32,
        opcode: i32,
        request: &'a [u8],
    },
    /// A learner asks whether a reconnecting session is still valid.
    Revalidate {
        session: SessionId,
        timeout: i32,
    },
    RevalidateReply {
        session: SessionId,
        valid: bool,
    },
    /// Bytes `offset..offset + data.len()` of a SNAP payload of `total`
    /// bytes taken at `zxid`.
    SnapChunk {
        zxid: Zxid,
        total: u64,
        offset: u64,
        data: &'a [u8],
    },
}

impl PeerMsg<'_> {
    pub fn msg_type(&self) -> MsgType {
        match self {
            PeerMsg::Notification(_) => MsgType::Notification,
            PeerMsg::FollowerInfo { .. } => MsgType::FollowerInfo,
            PeerMsg::LeaderInfo { .. } => MsgType::LeaderInfo,
            PeerMsg::AckEpoch { .. } => MsgType::AckEpoch,
            PeerMsg::Diff { .. } => MsgType::Diff,
            PeerMsg::Trunc { .. } => MsgType::Trunc,
            PeerMsg::Snap { .. } => MsgType::Snap,
            PeerMsg::Proposal { .. } => MsgType::Proposal,
            PeerMsg::Ack { .. } => MsgType::Ack,
            PeerMsg::Commit { .. } => MsgType::Commit,
            PeerMsg::Inform { .. } => MsgType::Inform,
            PeerMsg::NewLeader { .. } => MsgType::NewLeader,
            PeerMsg::UpToDate => MsgType::UpToDate,
            PeerMsg::Ping { .. } => MsgType::Ping,
            PeerMsg::Request { .. } => MsgType::Request,
            PeerMsg::Revalidate { .. } => MsgType::Revalidate,
            PeerMsg::RevalidateReply { .. } => MsgType::RevalidateReply,
            PeerMsg::SnapChunk { .. } => MsgType::SnapChunk,
        }
    }
}

// ------------------------------------------------------------------ errors

/// Why bytes are not a valid frame. Any of these ends the peer connection.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PeerError {
    #[error("bad frame magic")]
    Magic,
    #[error("unsupported frame version {0}")]
    Version(u8),
    #[error("body length {len} over the maximum {max}")]
    TooLong { len: u32, max: u32 },
    #[error("crc mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Crc { stored: u32, computed: u32 },
    #[error("unknown message type {0}")]
    UnknownType(u8),
    #[error("malformed {ty:?} body: {reason}")]
    Malformed { ty: MsgType, reason: &'static str },
}

// ---------------------------------------------------------------- decoding

/// [`decode_frame_max`] with [`DEFAULT_MAX_BODY`].
pub fn decode_frame(input: &[u8]) -> Result<Option<(PeerMsg<'_>, usize)>, PeerError> {
    decode_frame_max(input, DEFAULT_MAX_BODY)
}

/// Decodes the frame at the start of `input`: the message and the bytes it
/// took, or `Ok(None)` while the frame is incomplete. Errors are reported as
/// early as the bytes allow (a bad magic byte, version or length before the
/// body arrives), so a prefix of a valid frame always gives `Ok(None)`.
pub fn decode_frame_max(
    input: &[u8],
    max_body: u32,
) -> Result<Option<(PeerMsg<'_>, usize)>, PeerError> {
    let m = input.len().min(4);
    if input[..m] != MAGIC[..m] {
        return Err(PeerError::Magic);
    }
    match input.get(4) {
        None => return Ok(None),
        Some(&v) if v != VERSION => return Err(PeerError::Version(v)),
        Some(_) => {}
    }
    let Some(header) = input.get(..HEADER_LEN) else {
        return Ok(None);
    };
    // Cannot fail: the header slice holds the 9 bytes parsed.
    let (_, (ty, len, stored)) =
        tuple((le_u8, le_u32, le_u32))(&header[5..]).map_err(|_: NomErr<'_>| PeerError::Magic)?;
    if len > max_body {
        return Err(PeerError::TooLong { len, max: max_body });
    }
    let total = HEADER_LEN + len as usize;
    let Some(body) = input.get(HEADER_LEN..total) else {
        return Ok(None);
    };
    let computed = crc32c::crc32c_append(crc32c::crc32c(&header[5..10]), body);
    if computed != stored {
        return Err(PeerError::Crc { stored, computed });
    }
    let ty = MsgType::from_u8(ty).ok_or(PeerError::UnknownType(ty))?;
    let msg = decode_body(ty, body).map_err(|reason| PeerError::Malformed { ty, reason })?;
    Ok(Some((msg, total)))
}

type NomErr<'a> = nom::Err<nom::error::Error<&'a [u8]>>;

fn short(_: NomErr<'_>) -> &'static str {
    "truncated"
}

fn done<'a>(rest: &[u8], msg: PeerMsg<'a>) -> Result<PeerMsg<'a>, &'static str> {
    if rest.is_empty() {
        Ok(msg)
    } else {
        Err("trailing bytes")
    }
}

fn boolean(b: u8) -> Result<bool, &'static str> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err("bool not 0 or 1"),
    }
}

/// Decodes a body of type `ty` (the whole body, strictly).
pub fn decode_body(ty: MsgType, b: &[u8]) -> Result<PeerMsg<'_>, &'static str> {
    let zxid_only = |b| -> Result<Zxid, &'static str> {
        let (rest, zxid) = le_i64(b).map_err(short)?;
        if rest.is_empty() {
            Ok(zxid)
        } else {
            Err("trailing bytes")
        }
    };
    match ty {
        MsgType::Notification => {
            let (rest, (round, peer_epoch, last_zxid, server_id, state, proposed_leader)) =
                tuple((le_u64, le_u32, le_i64, le_u64, le_u8, le_u64))(b).map_err(short)?;
            let state = PeerState::from_u8(state).ok_or("unknown state")?;
            done(
                rest,
                PeerMsg::Notification(Notification {
                    round,
                    peer_epoch,
                    last_zxid,
                    server_id,
                    state,
                    proposed_leader,
                }),
            )
        }
        MsgType::FollowerInfo => {
            let (rest, (server_id, accepted_epoch, current_epoch, accepted_from, last_zxid, obs)) =
                tuple((le_u64, le_u32, le_u32, le_u64, le_i64, le_u8))(b).map_err(short)?;
            let is_observer = boolean(obs)?;
            done(
                rest,
                PeerMsg::FollowerInfo {
                    server_id,
                    accepted_epoch,
                    current_epoch,
                    accepted_from,
                    last_zxid,
                    is_observer,
                },
            )
        }
        MsgType::LeaderInfo => {
            let (rest, new_epoch) = le_u32(b).map_err(short)?;
            done(rest, PeerMsg::LeaderInfo { new_epoch })
        }
        MsgType::AckEpoch => {
            let (rest, (current_epoch, last_zxid, count)) =
                tuple((le_u32, le_i64, le_u32))(b).map_err(short)?;
            if count as u64 * ZXID_LEN as u64 != rest.len() as u64 {
                return Err("log shape count does not match the body length");
            }
            Ok(PeerMsg::AckEpoch {
                current_epoch,
                last_zxid,
                shape: LogShape(ShapeRepr::Wire(rest)),
            })
        }
        MsgType::Diff => Ok(PeerMsg::Diff {
            zxid: zxid_only(b)?,
        }),
        MsgType::Trunc => Ok(PeerMsg::Trunc {
            zxid: zxid_only(b)?,
        }),
        MsgType::Snap => {
            let (data, zxid) = le_i64(b).map_err(short)?;
            Ok(PeerMsg::Snap { zxid, data })
        }
        MsgType::Ack => Ok(PeerMsg::Ack {
            zxid: zxid_only(b)?,
        }),
        MsgType::Commit => Ok(PeerMsg::Commit {
            zxid: zxid_only(b)?,
        }),
        MsgType::NewLeader => Ok(PeerMsg::NewLeader {
            zxid: zxid_only(b)?,
        }),
        MsgType::Proposal => {
            let (txn, zxid) = le_i64(b).map_err(short)?;
            Ok(PeerMsg::Proposal { zxid, txn })
        }
        MsgType::Inform => {
            let (txn, zxid) = le_i64(b).map_err(short)?;
            Ok(PeerMsg::Inform { zxid, txn })
        }
        MsgType::UpToDate => done(b, PeerMsg::UpToDate),
        MsgType::Ping => {
            let (rest, count) = le_u32(b).map_err(short)?;
            if count as u64 * TOUCH_LEN as u64 != rest.len() as u64 {
                return Err("ping count does not match the body length");
            }
            Ok(PeerMsg::Ping {
                sessions: Touches(TouchRepr::Wire(rest)),
            })
        }
        MsgType::Request => {
            let (request, (session, cxid, opcode)) =
                tuple((le_i64, le_i32, le_i32))(b).map_err(short)?;
            Ok(PeerMsg::Request {
                session,
                cxid,
                opcode,
                request,
            })
        }
        MsgType::Revalidate => {
            let (rest, (session, timeout)) = tuple((le_i64, le_i32))(b).map_err(short)?;
            done(rest, PeerMsg::Revalidate { session, timeout })
        }
        MsgType::RevalidateReply => {
            let (rest, (session, valid)) = tuple((le_i64, le_u8))(b).map_err(short)?;
            let valid = boolean(valid)?;
            done(rest, PeerMsg::RevalidateReply { session, valid })
        }
        MsgType::SnapChunk => {
            let (data, (zxid, total, offset)) =
                tuple((le_i64, le_u64, le_u64))(b).map_err(short)?;
            if offset
                .checked_add(data.len() as u64)
                .is_none_or(|end| end > total)
            {
                return Err("snapshot chunk beyond its total");
            }
            Ok(PeerMsg::SnapChunk {
                zxid,
                total,
                offset,
                data,
            })
        }
    }
}

// ---------------------------------------------------------------- encoding

/// Appends `msg` as one frame to `out`; returns the frame's length. Byte
/// fields are copied once, straight into `out`.
///
/// Panics if the body exceeds `u32::MAX` bytes (no valid message does).
pub fn encode(msg: &PeerMsg<'_>, out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(msg.msg_type() as u8);
    out.extend_from_slice(&[0; 8]);
    encode_body(msg, out);
    let len = out.len() - at - HEADER_LEN;
    let len = u32::try_from(len).expect("peer frame body over 4 GiB");
    out[at + 6..at + 10].copy_from_slice(&len.to_le_bytes());
    let crc = crc32c::crc32c_append(
        crc32c::crc32c(&out[at + 5..at + 10]),
        &out[at + HEADER_LEN..],
    );
    out[at + 10..at + 14].copy_from_slice(&crc.to_le_bytes());
    out.len() - at
}

fn encode_body(msg: &PeerMsg<'_>, out: &mut Vec<u8>) {
    fn u32_(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64_(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn i32_(out: &mut Vec<u8>, v: i32) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn i64_(out: &mut Vec<u8>, v: i64) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    match *msg {
        PeerMsg::Notification(n) => {
            u64_(out, n.round);
            u32_(out, n.peer_epoch);
            i64_(out, n.last_zxid);
            u64_(out, n.server_id);
            out.push(n.state as u8);
            u64_(out, n.proposed_leader);
        }
        PeerMsg::FollowerInfo {
            server_id,
            accepted_epoch,
            current_epoch,
            accepted_from,
            last_zxid,
            is_observer,
        } => {
            u64_(out, server_id);
            u32_(out, accepted_epoch);
            u32_(out, current_epoch);
            u64_(out, accepted_from);
            i64_(out, last_zxid);
            out.push(is_observer as u8);
        }
        PeerMsg::LeaderInfo { new_epoch } => u32_(out, new_epoch),
        PeerMsg::AckEpoch {
            current_epoch,
            last_zxid,
            shape,
        } => {
            u32_(out, current_epoch);
            i64_(out, last_zxid);
            let n = u32::try_from(shape.len()).expect("log shape of over 2^32 epochs");
            u32_(out, n);
            match shape.0 {
                ShapeRepr::Wire(b) => out.extend_from_slice(b),
                ShapeRepr::List(l) => {
                    out.reserve(l.len() * ZXID_LEN);
                    for &z in l {
                        i64_(out, z);
                    }
                }
            }
        }
        PeerMsg::Diff { zxid }
        | PeerMsg::Trunc { zxid }
        | PeerMsg::Ack { zxid }
        | PeerMsg::Commit { zxid }
        | PeerMsg::NewLeader { zxid } => i64_(out, zxid),
        PeerMsg::Proposal { zxid, txn: data }
        | PeerMsg::Inform { zxid, txn: data }
        | PeerMsg::Snap { zxid, data } => {
            i64_(out, zxid);
            out.extend_from_slice(data);
        }
        PeerMsg::UpToDate => {}
        PeerMsg::Ping { sessions } => {
            let n = u32::try_from(sessions.len()).expect("ping of over 2^32 sessions");
            u32_(out, n);
            match sessions.0 {
                TouchRepr::Wire(b) => out.extend_from_slice(b),
                TouchRepr::List(l) => {
                    out.reserve(l.len() * TOUCH_LEN);
                    for &(s, t) in l {
                        i64_(out, s);
                        i32_(out, t);
                    }
                }
            }
        }
        PeerMsg::Request {
            session,
            cxid,
            opcode,
            request,
        } => {
            i64_(out, session);
            i32_(out, cxid);
            i32_(out, opcode);
            out.extend_from_slice(request);
        }
        PeerMsg::Revalidate { session, timeout } => {
            i64_(out, session);
            i32_(out, timeout);
        }
        PeerMsg::RevalidateReply { session, valid } => {
            i64_(out, session);
            out.push(valid as u8);
        }
        PeerMsg::SnapChunk {
            zxid,
            total,
            offset,
            data,
        } => {
            i64_(out, zxid);
            u64_(out, total);
            u64_(out, offset);
            out.extend_from_slice(data);
        }
    }
}
