//! The peer-frame fuzz harness, shared by `fuzz/fuzz_targets/peer_frames.rs`
//! and `tests/peer_corpus.rs` (included with `#[path = ...] mod
//! peer_harness;`).
//!
//! [`peer_frames`] decodes an arbitrary byte string frame by frame, as a
//! peer connection's receive buffer, with a small maximum body length so
//! that the length check is reached too, and checks every decoded message:
//! re-encoding it reproduces the frame's exact bytes (the format is
//! canonical) and decodes to an equal message. [`examples`] are the encoded
//! examples of every message type the seed corpus is made of.

#![allow(dead_code)]

use corral::peer::{
    decode_frame, decode_frame_max, encode, LogShape, MsgType, Notification, PeerMsg, PeerState,
    Touches,
};
use corral::storage::record::encode_txn_body;
use corral::tree::txn::{Txn, TxnHeader, TxnOp};

/// The maximum body length the harness decodes with.
pub const MAX_BODY: u32 = 1 << 16;

/// How a byte string decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The types of the frames decoded, in order.
    pub types: Vec<MsgType>,
    /// Bytes consumed by whole frames.
    pub consumed: usize,
    /// The decode error that stopped the stream, if any (else it ended
    /// cleanly or in an incomplete frame).
    pub error: Option<String>,
}

pub fn peer_frames(input: &[u8]) -> Outcome {
    let mut out = Outcome::default();
    let mut rest = input;
    loop {
        match decode_frame_max(rest, MAX_BODY) {
            Ok(Some((msg, used))) => {
                assert!(used > 0 && used <= rest.len());
                let frame = &rest[..used];
                let mut again = Vec::new();
                let n = encode(&msg, &mut again);
                assert_eq!(n, used, "re-encoded length differs: {msg:?}");
                assert_eq!(again, frame, "re-encoding differs: {msg:?}");
                let (msg2, used2) = decode_frame(&again)
                    .expect("re-encoded frame fails")
                    .expect("re-encoded frame incomplete");
                assert_eq!(used2, used);
                assert_eq!(msg2, msg);
                out.types.push(msg.msg_type());
                out.consumed += used;
                rest = &rest[used..];
            }
            Ok(None) => {
                // Incomplete: every prefix of a frame must stay incomplete
                // with the default maximum as well (it is larger).
                assert_eq!(decode_frame(rest), Ok(None));
                return out;
            }
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        }
    }
}

/// A forwarded create request body (jute).
const REQUEST: &[u8] = &[
    0, 0, 0, 2, b'/', b'a', 0, 0, 0, 1, b'x', 0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 5, b'w', b'o',
    b'r', b'l', b'd', 0, 0, 0, 6, b'a', b'n', b'y', b'o', b'n', b'e', 0, 0, 0, 0,
];
const TOUCHES: &[(i64, i32)] = &[
    (0x0100_0000_0000_0001, 4000),
    (0x0200_0000_0000_0002, 30000),
];
/// A log shape: base 0, epoch 1 through counter 7, epoch 2 through 5.
const SHAPE: &[i64] = &[0, 0x0000_0001_0000_0007, 0x0000_0002_0000_0005];

/// Encoded examples of every message type: (file name, frame bytes), plus
/// a few multi-frame streams.
pub fn examples() -> Vec<(String, Vec<u8>)> {
    let z = 0x0000_0002_0000_0005i64;
    // A txn log record body as a proposal carries it.
    let mut txn = Vec::new();
    encode_txn_body(
        &mut txn,
        &Txn {
            header: TxnHeader {
                session: TOUCHES[0].0,
                cxid: 0,
                zxid: z + 1,
                time: 1_700_000_000_000,
            },
            op: TxnOp::CreateSession {
                timeout: 30000,
                passwd: None,
            },
        },
    );
    let txn = &txn[..];
    let msgs: Vec<(&str, PeerMsg<'_>)> = vec![
        (
            "notification-looking",
            PeerMsg::Notification(Notification {
                round: 1,
                peer_epoch: 2,
                last_zxid: z,
                server_id: 1,
                state: PeerState::Looking,
                proposed_leader: 1,
            }),
        ),
        (
            "notification-leading",
            PeerMsg::Notification(Notification {
                round: 7,
                peer_epoch: 3,
                last_zxid: z,
                server_id: 3,
                state: PeerState::Leading,
                proposed_leader: 3,
            }),
        ),
        (
            "follower_info",
            PeerMsg::FollowerInfo {
                server_id: 2,
                accepted_epoch: 2,
                current_epoch: 2,
                accepted_from: 3,
                last_zxid: z,
                is_observer: false,
            },
        ),
        (
            "follower_info-observer",
            PeerMsg::FollowerInfo {
                server_id: 4,
                accepted_epoch: 2,
                current_epoch: 1,
                accepted_from: 3,
                last_zxid: z,
                is_observer: true,
            },
        ),
        ("leader_info", PeerMsg::LeaderInfo { new_epoch: 3 }),
        (
            "ack_epoch",
            PeerMsg::AckEpoch {
                current_epoch: 2,
                last_zxid: z,
                shape: LogShape::from_slice(SHAPE),
            },
        ),
        ("diff", PeerMsg::Diff { zxid: z }),
        ("trunc", PeerMsg::Trunc { zxid: z - 2 }),
        ("snap", PeerMsg::Snap { zxid: z, data: &[] }),
        (
            "snap_data",
            PeerMsg::Snap {
                zxid: z,
                data: b"state",
            },
        ),
        ("proposal", PeerMsg::Proposal { zxid: z + 1, txn }),
        ("ack", PeerMsg::Ack { zxid: z + 1 }),
        ("commit", PeerMsg::Commit { zxid: z + 1 }),
        ("inform", PeerMsg::Inform { zxid: z + 1, txn }),
        ("new_leader", PeerMsg::NewLeader { zxid: 3 << 32 }),
        ("up_to_date", PeerMsg::UpToDate),
        (
            "ping",
            PeerMsg::Ping {
                sessions: Touches::from_slice(TOUCHES),
            },
        ),
        (
            "ping-empty",
            PeerMsg::Ping {
                sessions: Touches::from_slice(&[]),
            },
        ),
        (
            "request",
            PeerMsg::Request {
                session: TOUCHES[0].0,
                cxid: 12,
                opcode: 1,
                request: REQUEST,
            },
        ),
        (
            "revalidate",
            PeerMsg::Revalidate {
                session: TOUCHES[1].0,
                timeout: 30000,
            },
        ),
        (
            "revalidate_reply",
            PeerMsg::RevalidateReply {
                session: TOUCHES[1].0,
                valid: true,
            },
        ),
        (
            "snap_chunk",
            PeerMsg::SnapChunk {
                zxid: z,
                total: 10,
                offset: 5,
                data: b"state",
            },
        ),
    ];
    let one = |m: &PeerMsg<'_>| {
        let mut v = Vec::new();
        encode(m, &mut v);
        v
    };
    let by_name = |n: &str| one(&msgs.iter().find(|(k, _)| *k == n).expect(n).1);
    let mut out: Vec<(String, Vec<u8>)> = msgs
        .iter()
        .map(|(name, m)| (name.to_string(), one(m)))
        .collect();
    let stream = |names: &[&str]| names.iter().flat_map(|n| by_name(n)).collect::<Vec<u8>>();
    out.push((
        "stream-election".into(),
        stream(&[
            "notification-looking",
            "notification-leading",
            "notification-looking",
        ]),
    ));
    out.push((
        "stream-sync".into(),
        stream(&[
            "follower_info",
            "leader_info",
            "ack_epoch",
            "trunc",
            "diff",
            "proposal",
            "commit",
            "new_leader",
            "ack",
            "up_to_date",
        ]),
    ));
    out.push((
        "stream-broadcast".into(),
        stream(&[
            "request",
            "proposal",
            "ack",
            "commit",
            "inform",
            "ping",
            "revalidate",
            "revalidate_reply",
        ]),
    ));
    let mut partial = stream(&["ping", "proposal"]);
    partial.truncate(partial.len() - 3);
    out.push(("stream-partial".into(), partial));
    out
}
