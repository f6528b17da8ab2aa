//! The fuzz harness shared by the cargo-fuzz targets (`fuzz/fuzz_targets/`)
//! and the corpus replay test (`tests/fuzz_corpus.rs`), included in both with
//! `#[path = ...] mod harness;` so that the library stays untouched.
//!
//! [`client_frames`] plays an arbitrary byte string as the stream of one
//! client connection against a fresh [`Core`], cutting frames exactly like
//! the runtime (`src/runtime/conn.rs`) does, and panics on any broken
//! property: tree invariants, malformed server output, more replies than
//! requests, ephemerals outliving their sessions.
//! [`request_decode`] exercises `decode_request` on its own.

#![allow(dead_code)]

use corral::proto::records::{connect_request, decode_request, request_header};
use corral::server::{Core, CoreConfig, Output};
use corral::types::{ConnId, Now};
use std::net::SocketAddr;

/// jute.maxbuffer as the runtime enforces it: a length above this (or a
/// negative one) closes the connection.
pub const MAX_FRAME: usize = 0xfffff;

/// The four-letter words the runtime answers itself on a fresh connection
/// (copied from `runtime::conn::FOUR_LETTER_WORDS`, which is private). A
/// stream starting with one of them never reaches the core.
pub const FOUR_LETTER_WORDS: [&[u8; 4]; 18] = [
    b"ruok", b"srvr", b"stat", b"mntr", b"cons", b"wchs", b"wchc", b"wchp", b"dump", b"conf",
    b"envi", b"isro", b"crst", b"srst", b"dirs", b"gtmk", b"stmk", b"hash",
];

/// The superDigest of the conformance server (user "super").
pub const SUPER_DIGEST: &str = "super:vwF3b39JxzrgKUNiFet8/1LxKxY=";

/// How a stream cut into frames ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// Every byte was part of a whole frame.
    Clean,
    /// A length prefix < 0 or > [`MAX_FRAME`]: the runtime closes.
    BadLength,
    /// An incomplete frame (or length prefix) was left at the end.
    Partial,
}

/// Cuts `input` into whole frames (each including its 4-byte prefix) the
/// way the runtime does, stopping at a bad length or an incomplete frame.
/// The frames before a bad length are all kept: the runtime hands them to
/// the core when they arrived in earlier reads than the bad length (and
/// drops them when they came in the same read, which depends on timing).
pub fn cut_frames(input: &[u8]) -> (Vec<&[u8]>, StreamEnd) {
    let mut frames = Vec::new();
    let mut rest = input;
    loop {
        if rest.is_empty() {
            return (frames, StreamEnd::Clean);
        }
        if rest.len() < 4 {
            return (frames, StreamEnd::Partial);
        }
        let len = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        if len < 0 || len as usize > MAX_FRAME {
            return (frames, StreamEnd::BadLength);
        }
        let len = len as usize;
        if rest.len() < 4 + len {
            return (frames, StreamEnd::Partial);
        }
        let (frame, r) = rest.split_at(4 + len);
        frames.push(frame);
        rest = r;
    }
}

/// What one conversation did.
#[derive(Clone, Debug, Default)]
pub struct Conversation {
    /// Whole frames found in the input.
    pub frames_found: usize,
    /// Frames handed to the core (fewer once the server closed).
    pub frames_fed: usize,
    /// The stream ended with a bad length prefix.
    pub bad_length: bool,
    /// The server's frames, bodies without the length prefix, in order.
    pub server_frames: Vec<Vec<u8>>,
    /// The core asked for the connection to be closed.
    pub server_closed: bool,
}

impl Conversation {
    /// The ConnectResponse body, if the server answered the handshake.
    pub fn connect_response(&self) -> Option<&[u8]> {
        if self.frames_fed == 0 {
            return None;
        }
        self.server_frames.first().map(|f| &f[..])
    }
}

/// Splits a drained output buffer into frame bodies, panicking if it is not
/// a sequence of whole, well-formed frames.
fn split_output(bytes: &[u8], into: &mut Vec<Vec<u8>>) {
    let mut rest = bytes;
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "server output ends in a partial length");
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        assert!(
            rest.len() >= 4 + len,
            "server frame of {len} bytes overruns its buffer"
        );
        into.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
}

fn drain(core: &mut Core, conv: &mut Conversation, id: ConnId) {
    core.drain(|o: Output<'_>| {
        assert_eq!(o.conn, id, "output for a connection that never existed");
        split_output(o.bytes, &mut conv.server_frames);
        o.bytes.clear();
        if o.close {
            conv.server_closed = true;
        }
    });
}

/// Decodes one frame the way the core will, to fuzz the decoders directly:
/// the first frame of a connection as a ConnectRequest, later ones as a
/// RequestHeader plus the body of its opcode.
pub fn decode_frame(frame: &[u8], first: bool) {
    let body = &frame[4..];
    if first {
        let _ = connect_request(body);
    } else if let Ok((rest, (_xid, opcode))) = request_header(body) {
        let _ = decode_request(opcode, rest);
    }
}

/// Plays `input` as the byte stream of one client connection against a
/// fresh core. Returns `None` (nothing done) when the stream starts with a
/// four-letter word, which the runtime answers without the core.
pub fn client_frames(input: &[u8]) -> Option<Conversation> {
    if input.len() >= 4 && FOUR_LETTER_WORDS.iter().any(|w| &input[..4] == *w) {
        return None;
    }
    let mut now = Now {
        mono_ms: 1_000_000,
        wall_ms: 1_700_000_000_000,
    };
    let cfg = CoreConfig {
        super_digest: Some(SUPER_DIGEST.to_string()),
        ..CoreConfig::default()
    };
    let mut core = Core::new(cfg, now);
    let id = ConnId::new(1, 1);
    let addr: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    core.conn_open(id, addr, now);

    let (frames, end) = cut_frames(input);
    let mut conv = Conversation {
        frames_found: frames.len(),
        bad_length: end == StreamEnd::BadLength,
        ..Conversation::default()
    };
    for (k, frame) in frames.iter().enumerate() {
        decode_frame(frame, k == 0);
        // The runtime stops reading once the core asked for a close.
        if conv.server_closed {
            continue;
        }
        now.mono_ms += 1;
        now.wall_ms += 1;
        core.conn_input(id, frame, now);
        conv.frames_fed += 1;
        core.tick(now);
        // Proposals become durable in batches, so requests also run while
        // earlier writes are still in flight.
        if k % 3 == 2 || k + 1 == frames.len() {
            core.commit_all(now);
        }
        drain(&mut core, &mut conv, id);
        core.tree().check_invariants();
    }
    // The connection ends either way (server close, bad length, EOF).
    core.conn_closed(id);
    core.commit_all(now);
    drain(&mut core, &mut conv, id);
    assert!(!core.is_open(id));

    check_replies(&conv);

    // Long after: every session has expired (max timeout 40 s) and the
    // container/TTL reaper has run.
    now.mono_ms += 600_000;
    now.wall_ms += 600_000;
    core.tick(now);
    core.commit_all(now);
    drain(&mut core, &mut conv, id);
    core.tree().check_invariants();
    assert!(core.sessions().is_empty(), "a session outlived its expiry");
    assert_eq!(
        core.tree().ephemeral_count(),
        0,
        "ephemerals outlived their sessions"
    );
    Some(conv)
}

/// Properties of the server's frames that hold for every conversation.
fn check_replies(conv: &Conversation) {
    let mut frames = conv.server_frames.iter();
    if conv.frames_fed == 0 {
        assert!(conv.server_frames.is_empty(), "output without input");
        return;
    }
    // The only possible answer to the first frame is a ConnectResponse:
    // protocolVersion, timeOut, sessionId, passwd (16 bytes), [readOnly].
    if let Some(first) = frames.next() {
        assert!(
            first.len() == 36 || first.len() == 37,
            "ConnectResponse of {} bytes",
            first.len()
        );
        assert_eq!(&first[16..20], &16i32.to_be_bytes(), "passwd length");
    }
    // Later frames are replies or notifications, each with a ReplyHeader;
    // each request gets at most one reply.
    let mut replies = 0;
    for f in frames {
        assert!(f.len() >= 16, "reply frame of {} bytes", f.len());
        let xid = i32::from_be_bytes([f[0], f[1], f[2], f[3]]);
        if xid != -1 {
            replies += 1;
        }
    }
    assert!(
        replies < conv.frames_fed,
        "{replies} replies to {} requests",
        conv.frames_fed - 1
    );
}

/// `decode_request` on `input` = 4-byte big-endian opcode + body. A body
/// that decodes must decode to the same request with trailing bytes added
/// (the server ignores them, like the Java one).
pub fn request_decode(input: &[u8]) {
    if input.len() < 4 {
        return;
    }
    let opcode = i32::from_be_bytes([input[0], input[1], input[2], input[3]]);
    let body = &input[4..];
    let r = decode_request(opcode, body);
    if let Ok(req) = &r {
        let mut longer = body.to_vec();
        longer.extend_from_slice(&[0xa5, 0, 0, 0, 7]);
        assert_eq!(decode_request(opcode, &longer).as_ref(), Ok(req));
    }
}
