use super::*;
use proptest::prelude::*;

/// Field values from which a message of any type is built.
#[derive(Clone, Debug)]
struct Fields {
    a: u64,
    b: u32,
    c: i64,
    d: u64,
    e: u64,
    i: i32,
    j: i32,
    flag: bool,
    state: u8,
    bytes: Vec<u8>,
    touches: Vec<(i64, i32)>,
    zxids: Vec<i64>,
}

fn build(ty: MsgType, f: &Fields) -> PeerMsg<'_> {
    match ty {
        MsgType::Notification => PeerMsg::Notification(Notification {
            round: f.a,
            peer_epoch: f.b,
            last_zxid: f.c,
            server_id: f.d,
            state: PeerState::from_u8(f.state % 4).unwrap(),
            proposed_leader: f.e,
        }),
        MsgType::FollowerInfo => PeerMsg::FollowerInfo {
            server_id: f.a,
            accepted_epoch: f.b,
            current_epoch: f.i as u32,
            accepted_from: f.e,
            last_zxid: f.c,
            is_observer: f.flag,
        },
        MsgType::LeaderInfo => PeerMsg::LeaderInfo { new_epoch: f.b },
        MsgType::AckEpoch => PeerMsg::AckEpoch {
            current_epoch: f.b,
            last_zxid: f.c,
            shape: LogShape::from_slice(&f.zxids),
        },
        MsgType::Diff => PeerMsg::Diff { zxid: f.c },
        MsgType::Trunc => PeerMsg::Trunc { zxid: f.c },
        MsgType::Snap => PeerMsg::Snap {
            zxid: f.c,
            data: &f.bytes,
        },
        MsgType::Proposal => PeerMsg::Proposal {
            zxid: f.c,
            txn: &f.bytes,
        },
        MsgType::Ack => PeerMsg::Ack { zxid: f.c },
        MsgType::Commit => PeerMsg::Commit { zxid: f.c },
        MsgType::Inform => PeerMsg::Inform {
            zxid: f.c,
            txn: &f.bytes,
        },
        MsgType::NewLeader => PeerMsg::NewLeader { zxid: f.c },
        MsgType::UpToDate => PeerMsg::UpToDate,
        MsgType::Ping => PeerMsg::Ping {
            sessions: Touches::from_slice(&f.touches),
        },
        MsgType::Request => PeerMsg::Request {
            session: f.c,
            cxid: f.i,
            opcode: f.j,
            request: &f.bytes,
        },
        MsgType::Revalidate => PeerMsg::Revalidate {
            session: f.c,
            timeout: f.i,
        },
        MsgType::RevalidateReply => PeerMsg::RevalidateReply {
            session: f.c,
            valid: f.flag,
        },
        MsgType::SnapChunk => PeerMsg::SnapChunk {
            zxid: f.c,
            total: f.bytes.len() as u64 + (f.a >> 1),
            offset: f.a >> 1,
            data: &f.bytes,
        },
    }
}

fn sample() -> Fields {
    Fields {
        a: 0x0102_0304_0506_0708,
        b: 0x1122_3344,
        c: 0x0000_0005_0000_0017,
        d: 3,
        e: 2,
        i: -7,
        j: 5,
        flag: true,
        state: 2,
        bytes: vec![1, 0xde, 0xad, 0xbe, 0xef],
        touches: vec![(0x1_0000_0001, 4000), (-1, -1), (0, 30000)],
        zxids: vec![0x1_0000_0004, 0x2_0000_0009],
    }
}

fn arb_fields() -> impl Strategy<Value = Fields> {
    (
        (
            any::<u64>(),
            any::<u32>(),
            any::<i64>(),
            any::<u64>(),
            any::<u64>(),
        ),
        (any::<i32>(), any::<i32>(), any::<bool>(), any::<u8>()),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec((any::<i64>(), any::<i32>()), 0..8),
        proptest::collection::vec(any::<i64>(), 0..8),
    )
        .prop_map(
            |((a, b, c, d, e), (i, j, flag, state), bytes, touches, zxids)| Fields {
                a,
                b,
                c,
                d,
                e,
                i,
                j,
                flag,
                state,
                bytes,
                touches,
                zxids,
            },
        )
}

fn enc(msg: &PeerMsg<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    let n = encode(msg, &mut v);
    assert_eq!(n, v.len());
    v
}

fn roundtrip(msg: &PeerMsg<'_>) {
    let bytes = enc(msg);
    let (got, used) = decode_frame(&bytes).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(&got, msg);
    assert_eq!(got.msg_type(), msg.msg_type());
    // Canonical: re-encoding the decoded message gives the same bytes.
    assert_eq!(enc(&got), bytes);
}

#[test]
fn header_layout() {
    let bytes = enc(&PeerMsg::Ack { zxid: 0x0102 });
    assert_eq!(&bytes[0..4], b"CRPR");
    assert_eq!(bytes[4], VERSION);
    assert_eq!(bytes[5], MsgType::Ack as u8);
    assert_eq!(&bytes[6..10], &8u32.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[5..10]), &bytes[14..]);
    assert_eq!(&bytes[10..14], &crc.to_le_bytes());
    assert_eq!(&bytes[14..], &0x0102i64.to_le_bytes());
    assert_eq!(bytes.len(), HEADER_LEN + 8);
}

#[test]
fn body_sizes() {
    let f = sample();
    let want = |ty| match ty {
        MsgType::Notification => 37,
        MsgType::FollowerInfo => 33,
        MsgType::LeaderInfo => 4,
        MsgType::AckEpoch => 16 + 2 * 8,
        MsgType::Proposal | MsgType::Inform | MsgType::Snap => 8 + 5,
        MsgType::UpToDate => 0,
        MsgType::Ping => 4 + 3 * 12,
        MsgType::Request => 16 + 5,
        MsgType::Revalidate => 12,
        MsgType::RevalidateReply => 9,
        MsgType::SnapChunk => 24 + 5,
        _ => 8,
    };
    for ty in MsgType::ALL {
        assert_eq!(enc(&build(ty, &f)).len(), HEADER_LEN + want(ty), "{ty:?}");
    }
}

#[test]
fn every_type_roundtrips() {
    let f = sample();
    for (k, ty) in MsgType::ALL.into_iter().enumerate() {
        assert_eq!(ty as u8 as usize, k + 1);
        assert_eq!(MsgType::from_u8(ty as u8), Some(ty));
        roundtrip(&build(ty, &f));
    }
    assert_eq!(MsgType::from_u8(0), None);
    for gone in [19, 20] {
        assert_eq!(MsgType::from_u8(gone), None);
    }
}

#[test]
fn byte_fields_borrow_the_input() {
    let f = sample();
    let bytes = enc(&build(MsgType::Proposal, &f));
    let (msg, _) = decode_frame(&bytes).unwrap().unwrap();
    let PeerMsg::Proposal { txn, .. } = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(txn.as_ptr(), bytes[HEADER_LEN + 8..].as_ptr());
}

#[test]
fn touches_api() {
    let list = [(5i64, 10i32), (6, 20)];
    let t = Touches::from_slice(&list);
    assert_eq!(t.len(), 2);
    assert!(!t.is_empty());
    assert_eq!(t.iter().collect::<Vec<_>>(), list);
    let bytes = enc(&PeerMsg::Ping { sessions: t });
    let (msg, _) = decode_frame(&bytes).unwrap().unwrap();
    let PeerMsg::Ping { sessions } = msg else {
        panic!()
    };
    assert_eq!(sessions.into_iter().collect::<Vec<_>>(), list);
    assert_eq!(format!("{sessions:?}"), "[(5, 10), (6, 20)]");
    assert!(Touches::from_slice(&[]).is_empty());
}

#[test]
fn frames_back_to_back() {
    let f = sample();
    let mut stream = Vec::new();
    for ty in MsgType::ALL {
        encode(&build(ty, &f), &mut stream);
    }
    let mut rest = &stream[..];
    for ty in MsgType::ALL {
        let (msg, used) = decode_frame(rest).unwrap().unwrap();
        assert_eq!(msg, build(ty, &f));
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
    assert_eq!(decode_frame(rest), Ok(None));
}

/// Re-frames `body` under type `ty` with a correct crc.
fn raw_frame(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&MAGIC);
    v.push(VERSION);
    v.push(ty);
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&v[5..10]), body);
    v.extend_from_slice(&crc.to_le_bytes());
    v.extend_from_slice(body);
    v
}

#[test]
fn header_errors() {
    let good = enc(&PeerMsg::UpToDate);
    assert_eq!(decode_frame(b""), Ok(None));
    assert_eq!(decode_frame(b"CR"), Ok(None));
    assert_eq!(decode_frame(b"X"), Err(PeerError::Magic));
    assert_eq!(decode_frame(b"CRPX"), Err(PeerError::Magic));
    let mut v = good.clone();
    v[4] = 1;
    assert_eq!(
        decode_frame(&v[..5]),
        Err(PeerError::Version(1)),
        "an old format"
    );
    v[4] = 3;
    assert_eq!(decode_frame(&v[..5]), Err(PeerError::Version(3)));
    let mut v = good.clone();
    v[6..10].copy_from_slice(&100u32.to_le_bytes());
    assert_eq!(
        decode_frame_max(&v, 99),
        Err(PeerError::TooLong { len: 100, max: 99 })
    );
    assert_eq!(decode_frame_max(&v, 100), Ok(None));
    assert_eq!(
        decode_frame(&raw_frame(0, b"")),
        Err(PeerError::UnknownType(0))
    );
    assert_eq!(
        decode_frame(&raw_frame(200, b"")),
        Err(PeerError::UnknownType(200))
    );
    let mut v = good;
    v[10] ^= 1;
    assert!(matches!(decode_frame(&v), Err(PeerError::Crc { .. })));
}

#[test]
fn malformed_bodies() {
    let bad = |ty: MsgType, body: &[u8], reason: &str| {
        assert_eq!(
            decode_frame(&raw_frame(ty as u8, body)),
            Err(PeerError::Malformed {
                ty,
                reason: match reason {
                    "t" => "truncated",
                    "x" => "trailing bytes",
                    r => Box::leak(r.to_string().into_boxed_str()),
                }
            }),
            "{ty:?} {body:?}"
        );
    };
    let f = sample();
    for ty in MsgType::ALL {
        let frame = enc(&build(ty, &f));
        let body = &frame[HEADER_LEN..];
        let open_ended = matches!(
            ty,
            MsgType::Proposal
                | MsgType::Inform
                | MsgType::Request
                | MsgType::Ping
                | MsgType::Snap
                | MsgType::AckEpoch
                | MsgType::SnapChunk
        );
        if !open_ended {
            let mut longer = body.to_vec();
            longer.push(0);
            bad(ty, &longer, "x");
        }
        if !body.is_empty() && ty != MsgType::Ping && ty != MsgType::AckEpoch {
            let min = match ty {
                MsgType::Proposal | MsgType::Inform | MsgType::Snap => 8,
                MsgType::SnapChunk => 24,
                MsgType::Request => 16,
                _ => body.len(),
            };
            bad(ty, &body[..min - 1], "t");
        }
    }
    bad(MsgType::Ping, &[1, 0, 0], "t");
    bad(
        MsgType::Ping,
        &[1, 0, 0, 0],
        "ping count does not match the body length",
    );
    bad(
        MsgType::Ping,
        &[0, 0, 0, 0, 9],
        "ping count does not match the body length",
    );
    let mut sc = enc(&build(MsgType::SnapChunk, &f))[HEADER_LEN..].to_vec();
    sc[8..16].copy_from_slice(&1u64.to_le_bytes()); // total below offset + len
    bad(MsgType::SnapChunk, &sc, "snapshot chunk beyond its total");
    sc[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    sc[16..24].copy_from_slice(&u64::MAX.to_le_bytes()); // offset + len overflows
    bad(MsgType::SnapChunk, &sc, "snapshot chunk beyond its total");
    let shape = "log shape count does not match the body length";
    let ae = enc(&build(MsgType::AckEpoch, &f))[HEADER_LEN..].to_vec();
    bad(MsgType::AckEpoch, &ae[..15], "t");
    bad(MsgType::AckEpoch, &ae[..ae.len() - 1], shape);
    let mut longer = ae.clone();
    longer.push(0);
    bad(MsgType::AckEpoch, &longer, shape);
    let mut huge = ae[..12].to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    bad(MsgType::AckEpoch, &huge, shape);
    let mut n = enc(&build(MsgType::Notification, &f))[HEADER_LEN..].to_vec();
    n[28] = 4;
    bad(MsgType::Notification, &n, "unknown state");
    let mut fi = enc(&build(MsgType::FollowerInfo, &f))[HEADER_LEN..].to_vec();
    fi[32] = 2;
    bad(MsgType::FollowerInfo, &fi, "bool not 0 or 1");
    let mut rr = enc(&build(MsgType::RevalidateReply, &f))[HEADER_LEN..].to_vec();
    rr[8] = 0xff;
    bad(MsgType::RevalidateReply, &rr, "bool not 0 or 1");
    // A huge ping count is rejected without allocating.
    bad(
        MsgType::Ping,
        &u32::MAX.to_le_bytes(),
        "ping count does not match the body length",
    );
}

/// Every single-bit flip is rejected, or (never, given the crc) decodes to
/// an equal message. A flip that makes the length larger leaves the frame
/// incomplete; completing it with zeros must then fail the crc.
fn check_bit_flips(bytes: &[u8], msg: &PeerMsg<'_>) {
    for bit in 0..bytes.len() * 8 {
        let mut v = bytes.to_vec();
        v[bit / 8] ^= 1 << (bit % 8);
        match decode_frame(&v) {
            Err(_) => {}
            Ok(Some((m, used))) => {
                assert_eq!(&m, msg, "bit {bit}");
                assert_eq!(used, v.len());
            }
            Ok(None) => {
                assert!((6 * 8..10 * 8).contains(&bit), "bit {bit}: Ok(None)");
                let len = u32::from_le_bytes(v[6..10].try_into().unwrap()) as usize;
                v.resize(HEADER_LEN + len, 0);
                assert!(
                    matches!(decode_frame(&v), Err(PeerError::Crc { .. })),
                    "bit {bit}"
                );
            }
        }
    }
}

/// Every strict prefix of a frame is `Ok(None)`.
fn check_truncations(bytes: &[u8]) {
    for k in 0..bytes.len() {
        assert_eq!(decode_frame(&bytes[..k]), Ok(None), "prefix {k}");
    }
}

#[test]
fn bit_flips_and_truncations_every_type() {
    let f = sample();
    for ty in MsgType::ALL {
        let msg = build(ty, &f);
        let bytes = enc(&msg);
        check_bit_flips(&bytes, &msg);
        check_truncations(&bytes);
    }
}

proptest! {
    #[test]
    fn prop_roundtrip_every_type(f in arb_fields()) {
        for ty in MsgType::ALL {
            roundtrip(&build(ty, &f));
        }
    }

}

proptest! {
    // Each case flips every bit of a frame: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_bit_flips_and_truncations(f in arb_fields(), k in 0..MsgType::ALL.len()) {
        let msg = build(MsgType::ALL[k], &f);
        let bytes = enc(&msg);
        check_bit_flips(&bytes, &msg);
        check_truncations(&bytes);
    }
}

proptest! {
    #[test]
    fn prop_arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ty in 0u8..=21,
        max in 0u32..128,
    ) {
        // Raw garbage, and garbage bodies behind a valid header and crc.
        let _ = decode_frame_max(&bytes, max);
        let frame = raw_frame(ty, &bytes);
        if let Ok(Some((m, used))) = decode_frame(&frame) {
            prop_assert_eq!(used, frame.len());
            prop_assert_eq!(&enc(&m), &frame);
        }
        for k in 0..frame.len() {
            let r = decode_frame(&frame[..k]);
            prop_assert!(matches!(r, Ok(None)), "prefix {}: {:?}", k, r);
        }
    }

    #[test]
    fn prop_appends_after_existing_bytes(f in arb_fields(), k in 0..MsgType::ALL.len(), pre in proptest::collection::vec(any::<u8>(), 0..16)) {
        let msg = build(MsgType::ALL[k], &f);
        let mut out = pre.clone();
        let n = encode(&msg, &mut out);
        prop_assert_eq!(&out[..pre.len()], &pre[..]);
        prop_assert_eq!(n, out.len() - pre.len());
        prop_assert_eq!(&out[pre.len()..], &enc(&msg)[..]);
    }
}
