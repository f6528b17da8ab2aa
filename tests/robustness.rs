//! Robustness: bad input never panics or hangs the server, and other clients
//! keep being served meanwhile. Silent connections, frame-length limits
//! (protocol doc §1), garbage instead of a ConnectRequest (§2), malformed
//! request bodies and unknown opcodes (§4), a pipelined flood from a client that
//! does not read, hundreds of connections dropped abruptly, and a seeded stream
//! of random bytes.
//!
//! Every test runs its own server (they hammer it and inspect its log) and ends
//! with [`assert_healthy`]: the process still runs, its log has no panic,
//! `ruok` answers `imok` and a new session is served. Every wait is bounded.
//!
//! Plain `#[test]`s: the raw client is blocking `std::net` and no
//! `zookeeper-client` session shares a runtime with it here.

mod common;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::raw::{self, err, op, ConnectRequest, Enc, Frame, RawConn};
use common::{four_letter, Kind, Server, ServerBuilder};

/// Bound for one request of a well-behaved session to be answered.
const PROMPT: Duration = Duration::from_secs(5);
/// Bound for the server to close a connection it must close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// `jute.maxbuffer` default: the largest frame length the server accepts.
const MAX_FRAME: usize = 0xfffff;
/// Session timeout asked for by the well-behaved sessions (clamped to 20 ticks).
const SESSION_MS: i32 = 30_000;

// ------------------------------------------------------------------ helpers

/// True when the tests run against an outside server (`CORRAL_TEST_SERVER`).
fn external_mode() -> bool {
    std::env::var("CORRAL_TEST_SERVER").is_ok_and(|s| !s.is_empty())
}

/// Starts the test's own server (every test here floods it or reads its log)
/// with `corral.shards=shards`. In external mode the harness may spawn a
/// ZooKeeper instead: then only the one-shard variant runs, without that key.
fn start(shards: usize, test: &str, builder: ServerBuilder) -> Option<Server> {
    if external_mode() {
        if shards != 1 {
            eprintln!("NOTE: {test} with {shards} shards is corral-only; skipped in external mode");
            return None;
        }
        return builder.fresh().start_or_skip(test);
    }
    builder
        .extra(&format!("corral.shards={shards}"))
        .fresh()
        .start_or_skip(test)
}

/// A new session whose replies must come within [`PROMPT`].
fn session(addr: &str) -> RawConn {
    let c = RawConn::connect(addr, SESSION_MS);
    c.stream.set_read_timeout(Some(PROMPT)).unwrap();
    c
}

/// getData on `path` must be answered (within [`PROMPT`]) with `expect`.
#[track_caller]
fn probe(c: &mut RawConn, path: &str, expect: &[u8], when: &str) {
    let t = Instant::now();
    let xid = c.send(op::GET_DATA, &raw::path_watch_req(path, false));
    let reply = match raw::read_frame(&mut c.stream) {
        Ok(body) => body,
        Err(e) => panic!(
            "{when}: getData {path} on session {:#x} not answered after {:?}: {e}",
            c.session_id,
            t.elapsed()
        ),
    };
    let mut d = raw::Dec::new(&reply);
    assert_eq!(d.i32(), xid, "{when}: reply xid");
    let _zxid = d.i64();
    assert_eq!(d.i32(), err::OK, "{when}: getData {path} err");
    assert_eq!(
        d.buf().as_deref(),
        Some(expect),
        "{when}: getData {path} data"
    );
}

/// What the peer did within a bound.
#[derive(Debug, PartialEq, Eq)]
enum Peer {
    /// EOF or reset.
    Closed,
    /// Nothing happened.
    Open,
    /// It sent bytes (the first ones, at most 64).
    Sent(Vec<u8>),
}

/// Waits up to `within` for the peer to close; stops at the first byte received.
fn wait_close(s: &mut TcpStream, within: Duration) -> Peer {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Peer::Open;
        }
        s.set_read_timeout(Some(
            left.clamp(Duration::from_millis(1), Duration::from_millis(250)),
        ))
        .unwrap();
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Ok(0) => return Peer::Closed,
            Ok(n) => return Peer::Sent(b[..n].to_vec()),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return Peer::Closed,
        }
    }
}

/// Asserts the server closes `s` within [`CLOSE_WAIT`] without sending a byte.
#[track_caller]
fn assert_closed_silently(s: &mut TcpStream, what: &str) {
    match wait_close(s, CLOSE_WAIT) {
        Peer::Closed => {}
        Peer::Open => panic!("{what}: the server left the connection open for {CLOSE_WAIT:?}"),
        Peer::Sent(b) => panic!("{what}: expected a close without a reply, got bytes {b:02x?}"),
    }
}

/// Reads and discards until the peer closes; `Some(bytes read)` if it closed
/// within `within`, `None` if it was still open then.
fn drain_until_closed(s: &mut TcpStream, within: Duration) -> Option<usize> {
    let deadline = Instant::now() + within;
    let mut total = 0;
    let mut b = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(
            left.clamp(Duration::from_millis(1), Duration::from_millis(250)),
        ))
        .unwrap();
        match s.read(&mut b) {
            Ok(0) => return Some(total),
            Ok(n) => total += n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return Some(total),
        }
    }
}

/// Closes with a TCP reset instead of a FIN.
fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
}

/// The server process runs, logged no panic, answers `ruok`, serves a new session.
#[track_caller]
fn assert_healthy(server: &mut Server, when: &str) {
    if let Some(status) = server.exit_status() {
        panic!(
            "{when}: the server exited with {status}; log:\n{}",
            server.log_text().unwrap_or_default()
        );
    }
    if let Some(log) = server.log_text() {
        assert!(
            !log.contains("panicked"),
            "{when}: the server log shows a panic:\n{log}"
        );
    }
    let addr = server.addr().to_string();
    assert_eq!(
        four_letter(&addr, "ruok").expect("ruok").as_str(),
        "imok",
        "{when}: ruok"
    );
    let mut c = session(&addr);
    let r = c.get_data("/", false);
    r.ok();
    assert_eq!(c.close_session().err, err::OK, "{when}: closeSession");
}

/// `Connections: N` from `srvr`.
fn srvr_connections(addr: &str) -> usize {
    let out =
        four_letter(addr, "srvr").unwrap_or_else(|e| panic!("srvr got no answer from {addr}: {e}"));
    out.lines()
        .find_map(|l| l.strip_prefix("Connections: "))
        .unwrap_or_else(|| panic!("no `Connections:` line in srvr output:\n{out}"))
        .trim()
        .parse()
        .expect("Connections: <int>")
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (n > 0), good enough for a test.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// `0..n` random bytes.
    fn bytes_below(&mut self, n: usize) -> Vec<u8> {
        let len = self.below(n);
        self.bytes(len)
    }
}

// -------------------------------------------------------------------- tests

/// A connection that sends nothing, or only part of its ConnectRequest, is
/// dropped after `nio.sessionlessCnxnTimeout` (protocol doc §1), not at once;
/// sessions created before and during that time keep being served, and an
/// idle connection that did finish its handshake is not dropped by that timer.
fn silent_connection_is_dropped_after_sessionless_timeout(shards: usize) {
    let Some(mut server) = start(
        shards,
        "silent_connection_is_dropped_after_sessionless_timeout",
        Server::builder().extra("nio.sessionlessCnxnTimeout=1000"),
    ) else {
        return;
    };
    let addr = server.addr().to_string();
    let node = "/silent";
    let mut before = session(&addr);
    before.create(node, Some(b"v"), 0).ok();
    // Handshaked, then silent for the whole test (its session timeout is 30 s).
    let mut idle_session = session(&addr);

    let t0 = Instant::now();
    let mut silent = raw::open(&addr);
    let mut partial = raw::open(&addr);
    // A ConnectRequest frame promising 45 bytes, of which only 10 ever come.
    partial
        .write_all(&[0, 0, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();

    assert_eq!(
        wait_close(&mut silent, Duration::from_millis(300)),
        Peer::Open,
        "a silent connection must not be dropped right away (timeout is 1000 ms)"
    );
    assert_eq!(
        wait_close(&mut partial, Duration::from_millis(10)),
        Peer::Open,
        "a connection with half a ConnectRequest must not be dropped right away"
    );
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "the early checks took too long to prove anything ({:?})",
        t0.elapsed()
    );

    let bound = Duration::from_secs(10);
    let mut after: Option<RawConn> = None;
    let mut silent_closed = None;
    let mut partial_closed = None;
    while silent_closed.is_none() || partial_closed.is_none() {
        assert!(
            t0.elapsed() < bound,
            "sessionless connections still open after {bound:?} (silent closed at {silent_closed:?}, \
             partial closed at {partial_closed:?}); timeout configured: 1000 ms"
        );
        probe(
            &mut before,
            node,
            b"v",
            "session made before the silent ones",
        );
        let a = after.get_or_insert_with(|| session(&addr));
        probe(a, node, b"v", "session made while the silent ones wait");
        for (s, closed, what) in [
            (&mut silent, &mut silent_closed, "silent connection"),
            (
                &mut partial,
                &mut partial_closed,
                "half-ConnectRequest connection",
            ),
        ] {
            if closed.is_none() {
                match wait_close(s, Duration::from_millis(100)) {
                    Peer::Closed => *closed = Some(t0.elapsed()),
                    Peer::Open => {}
                    Peer::Sent(b) => panic!("{what}: the server sent {b:02x?} instead of closing"),
                }
            }
        }
    }
    eprintln!(
        "silent closed after {silent_closed:?}, half-ConnectRequest after {partial_closed:?}"
    );

    // Past the sessionless timeout for it too, the handshaked idle connection
    // is still there and answers.
    let since_idle = t0.elapsed();
    if since_idle < Duration::from_millis(2500) {
        thread::sleep(Duration::from_millis(2500) - since_idle);
    }
    assert_eq!(
        idle_session.ping().err,
        err::OK,
        "an idle handshaked connection must not be dropped by the sessionless timeout"
    );
    probe(&mut before, node, b"v", "after the drops");
    let mut late = session(&addr);
    probe(&mut late, node, b"v", "session made after the drops");
    assert_healthy(&mut server, "after the sessionless drops");
}

/// corral counts the handshake deadline from accept: a client that trickles its
/// ConnectRequest one byte every 100 ms (4.9 s for the whole frame) is dropped
/// once `nio.sessionlessCnxnTimeout` (1000 ms) has passed, without a
/// ConnectResponse. (ZooKeeper re-arms that timer on every read, so it would
/// finish such a handshake: corral only.)
fn trickled_handshake_is_dropped_at_the_deadline(shards: usize) {
    let Some(mut server) = start(
        shards,
        "trickled_handshake_is_dropped_at_the_deadline",
        Server::builder().extra("nio.sessionlessCnxnTimeout=1000"),
    ) else {
        return;
    };
    if server.kind() != Kind::Corral {
        eprintln!(
            "NOTE: trickled_handshake_is_dropped_at_the_deadline checks corral's own rule; skipped"
        );
        return;
    }
    let addr = server.addr().to_string();
    let mut other = session(&addr);
    other.create("/trickle", Some(b"t"), 0).ok();

    let t0 = Instant::now();
    let mut slow = raw::open(&addr);
    let mut w = slow.try_clone().unwrap();
    let trickler = thread::spawn(move || {
        let bytes = raw::frame(&ConnectRequest::new_session(SESSION_MS).body());
        for (i, b) in bytes.iter().enumerate() {
            if w.write_all(&[*b]).is_err() {
                return i;
            }
            thread::sleep(Duration::from_millis(100));
        }
        bytes.len()
    });
    let bound = Duration::from_secs(10);
    let closed_at = loop {
        assert!(
            t0.elapsed() < bound,
            "a trickled handshake still open after {bound:?} (deadline 1000 ms from accept)"
        );
        probe(
            &mut other,
            "/trickle",
            b"t",
            "while a handshake trickles in",
        );
        match wait_close(&mut slow, Duration::from_millis(100)) {
            Peer::Closed => break t0.elapsed(),
            Peer::Open => {}
            Peer::Sent(b) => panic!(
                "the trickled handshake got {b:02x?} after {:?}: it must be dropped at the \
                 deadline, before the ConnectRequest completes",
                t0.elapsed()
            ),
        }
    };
    let sent = trickler.join().unwrap();
    eprintln!("trickled handshake closed after {closed_at:?}; {sent} of 49 bytes written");
    assert!(
        sent < 49,
        "the whole ConnectRequest went out before the server dropped the connection"
    );
    probe(&mut other, "/trickle", b"t", "after the trickled handshake");
    assert_healthy(&mut server, "after the trickled handshake");
}

/// `maxClientCnxns` (protocol doc §1): past the per-IP limit a new connection
/// is closed at once without a reply, be it a ConnectRequest or a four-letter
/// word; the sessions already open keep being served, and a slot freed by a
/// close can be used again.
fn per_ip_connection_limit(shards: usize) {
    let Some(mut server) = start(
        shards,
        "per_ip_connection_limit",
        Server::builder().extra("maxClientCnxns=5"),
    ) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut conns: Vec<RawConn> = (0..5).map(|_| session(&addr)).collect();
    conns[0].create("/cnxns", Some(b"c"), 0).ok();
    let connect = raw::frame(&ConnectRequest::new_session(SESSION_MS).body());
    for attempt in 0..10 {
        let mut s = raw::open(&addr);
        let _ = s.write_all(&connect); // may fail: the server may have closed already
        assert_closed_silently(
            &mut s,
            &format!("connection 6 from one IP with maxClientCnxns=5 (attempt {attempt})"),
        );
        for (i, c) in conns.iter_mut().enumerate() {
            probe(
                c,
                "/cnxns",
                b"c",
                &format!("session {i} after refused attempt {attempt}"),
            );
        }
    }
    for attempt in 0..50 {
        // An error (reset) is a refusal too.
        let answer = four_letter(&addr, "ruok").unwrap_or_default();
        assert_eq!(
            answer, "",
            "ruok over the per-IP limit must be refused without an answer (attempt {attempt})"
        );
    }
    // Free one slot: a new session gets in (bounded wait for the server to
    // notice the close).
    drop(conns.pop());
    let t0 = Instant::now();
    let mut fresh = loop {
        let mut s = raw::open(&addr);
        let _ = s.write_all(&connect);
        match raw::read_frame(&mut s) {
            Ok(body) => {
                let resp = raw::ConnectResponse::decode(&body);
                assert!(resp.session_id != 0, "session refused: {resp:?}");
                s.set_read_timeout(Some(PROMPT)).unwrap();
                break RawConn::from_parts(s, &resp);
            }
            Err(_) => assert!(
                t0.elapsed() < CLOSE_WAIT,
                "no connection accepted {CLOSE_WAIT:?} after one of 5 was closed"
            ),
        }
        thread::sleep(Duration::from_millis(50));
    };
    probe(
        &mut fresh,
        "/cnxns",
        b"c",
        "the session that took the freed slot",
    );
    for (i, c) in conns.iter_mut().enumerate() {
        probe(c, "/cnxns", b"c", &format!("session {i} at the end"));
    }
    // assert_healthy needs two slots (ruok, then a session).
    drop(fresh);
    drop(conns.pop());
    let t0 = Instant::now();
    while four_letter(&addr, "ruok").unwrap_or_default() != "imok" {
        assert!(
            t0.elapsed() < CLOSE_WAIT,
            "ruok still refused {CLOSE_WAIT:?} after closing down to 3 connections"
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert_healthy(&mut server, "after the per-IP limit");
}

/// Frame lengths (protocol doc §1): exactly jute.maxbuffer is served; one more,
/// or a negative length, closes that connection without a reply. Other
/// sessions are unaffected.
fn frame_length_limits(shards: usize) {
    let Some(mut server) = start(shards, "frame_length_limits", Server::builder()) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut other = session(&addr);
    other.create("/limits", Some(b"o"), 0).ok();

    // A setData whose frame is exactly MAX_FRAME bytes.
    let mut big = session(&addr);
    big.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let path = "/limits_big";
    big.create(path, None, 0).ok();
    let n = MAX_FRAME - (4 + 4 + (4 + path.len()) + 4 + 4);
    let data = vec![0x5au8; n];
    let body = raw::set_data_req(path, Some(&data), -1);
    assert_eq!(8 + body.len(), MAX_FRAME, "test arithmetic");
    let st = big.call(op::SET_DATA, &body).ok().stat();
    assert_eq!(
        st.data_length as usize, n,
        "a frame of exactly jute.maxbuffer bytes"
    );
    let st = big.exists(path, false).ok().stat();
    assert_eq!(st.data_length as usize, n);
    probe(&mut other, "/limits", b"o", "after the largest frame");

    // One byte more: the whole frame is streamed from another thread while we
    // wait for the close (the server may stop reading and reset).
    let mut over = session(&addr);
    let mut w = over.stream.try_clone().unwrap();
    let over_len = MAX_FRAME + 1;
    let writer = thread::spawn(move || {
        let mut payload = Enc::new().i32(1).i32(op::SET_DATA).done();
        payload.resize(over_len, 0x41);
        let mut bytes = (over_len as i32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&payload);
        let _ = w.write_all(&bytes); // may fail once the server has closed
    });
    assert_closed_silently(&mut over.stream, "frame length jute.maxbuffer+1 (0x100000)");
    writer.join().unwrap();
    probe(&mut other, "/limits", b"o", "after the oversized frame");

    for len in [0x7fff_ffffi32, -5, -1, i32::MIN] {
        let mut c = session(&addr);
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&Enc::new().i32(1).i32(op::GET_DATA).done());
        c.stream.write_all(&bytes).unwrap();
        assert_closed_silently(&mut c.stream, &format!("frame length {len}"));
        probe(
            &mut other,
            "/limits",
            b"o",
            &format!("after frame length {len}"),
        );
    }
    // The connection that sent the largest frame is still served.
    let st = big.exists(path, false).ok().stat();
    assert_eq!(st.data_length as usize, n);
    assert_healthy(&mut server, "after the frame length checks");
}

/// Garbage where the ConnectRequest should be (protocol doc §1, §2): the
/// server closes without a reply, and serves a normal connection afterwards.
fn garbage_first_frame_is_closed_without_reply(shards: usize) {
    let Some(mut server) = start(
        shards,
        "garbage_first_frame_is_closed_without_reply",
        Server::builder(),
    ) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut other = session(&addr);
    other.create("/garbage", Some(b"g"), 0).ok();

    let connect = ConnectRequest::new_session(SESSION_MS).body();
    assert_eq!(connect.len(), 45);
    let passwd_overrun = Enc::new()
        .i32(0)
        .i64(0)
        .i32(SESSION_MS)
        .i64(0)
        .i32(100) // passwd length, but only 16 bytes follow
        .raw(&[0; 16])
        .bool(false)
        .done();
    let passwd_negative = Enc::new()
        .i32(0)
        .i64(0)
        .i32(SESSION_MS)
        .i64(0)
        .i32(-2)
        .bool(false)
        .done();
    let mut oversized = 0x10_0000i32.to_be_bytes().to_vec();
    oversized.extend_from_slice(&connect);
    let mut negative = (-1i32).to_be_bytes().to_vec();
    negative.extend_from_slice(&connect);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "HTTP request",
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".to_vec(),
        ),
        (
            "TLS ClientHello start",
            vec![
                0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
            ],
        ),
        (
            "8-byte junk frame",
            raw::frame(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]),
        ),
        ("zero-length frame", raw::frame(&[])),
        (
            "truncated ConnectRequest (20 of 45 bytes)",
            raw::frame(&connect[..20]),
        ),
        (
            "ConnectRequest whose passwd length overruns the frame",
            raw::frame(&passwd_overrun),
        ),
        (
            "ConnectRequest with passwd length -2",
            raw::frame(&passwd_negative),
        ),
        ("first frame length 0x100000", oversized),
        ("first frame length -1", negative),
    ];
    for (what, bytes) in &cases {
        let mut s = raw::open(&addr);
        s.write_all(bytes).unwrap();
        assert_closed_silently(&mut s, what);
        probe(&mut other, "/garbage", b"g", &format!("after {what}"));
        let mut fresh = session(&addr);
        probe(
            &mut fresh,
            "/garbage",
            b"g",
            &format!("new session after {what}"),
        );
    }
    assert_healthy(&mut server, "after the garbage first frames");
}

/// A request body that does not decode gets a header-only MarshallingError (-5)
/// reply and the connection stays open (protocol doc §0); a frame too short for
/// the request header closes the connection; an unknown opcode gets
/// `{xid, -1, Unimplemented (-6)}` and then a close (§4).
fn malformed_requests_after_handshake(shards: usize) {
    let Some(mut server) = start(
        shards,
        "malformed_requests_after_handshake",
        Server::builder(),
    ) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut other = session(&addr);
    other.create("/malformed", Some(b"m"), 0).ok();

    let mut c = session(&addr);
    let mut create_truncated = raw::create_req("/malformed_new", Some(b"x"), raw::OPEN_ACL, 0);
    create_truncated.truncate(create_truncated.len() - 6); // cut inside the ACL
    let cases: Vec<(&str, i32, Vec<u8>)> = vec![
        (
            "getData with a truncated path",
            op::GET_DATA,
            Enc::new().i32(100).raw(b"/ab").done(),
        ),
        (
            "getData with path length -7",
            op::GET_DATA,
            Enc::new().i32(-7).bool(false).done(),
        ),
        (
            "getData with path length 0x7fffffff",
            op::GET_DATA,
            Enc::new()
                .i32(0x7fff_ffff)
                .raw(b"/malformed")
                .bool(false)
                .done(),
        ),
        ("exists with an empty body", op::EXISTS, Vec::new()),
        (
            "create with a truncated ACL list",
            op::CREATE,
            create_truncated,
        ),
        (
            "setData with a data length past the frame",
            op::SET_DATA,
            Enc::new()
                .str("/malformed")
                .i32(0x7fff_ffff)
                .raw(b"abc")
                .done(),
        ),
        (
            "getChildren with a truncated path",
            op::GET_CHILDREN,
            Enc::new().i32(5).raw(b"/").done(),
        ),
    ];
    for (what, opcode, body) in &cases {
        let xid = c.send(*opcode, body);
        let r = c.recv_reply(xid);
        assert_eq!(r.err, err::MARSHALLING_ERROR, "{what}: reply err");
        assert!(
            r.body.is_empty(),
            "{what}: the error reply must be header-only"
        );
        probe(
            &mut c,
            "/malformed",
            b"m",
            &format!("same connection after {what}"),
        );
        probe(
            &mut other,
            "/malformed",
            b"m",
            &format!("other session after {what}"),
        );
    }
    // Nothing was created by the truncated create.
    c.exists("/malformed_new", false).assert_err(err::NO_NODE);

    // A frame too short for the RequestHeader {xid, type}: closed, no reply.
    for (what, payload) in [
        ("5-byte request frame", vec![0, 0, 0, 9, 0]),
        ("zero-length request frame", vec![]),
    ] {
        let mut s = session(&addr);
        raw::write_frame(&mut s.stream, &payload);
        assert_closed_silently(&mut s.stream, what);
        probe(&mut other, "/malformed", b"m", &format!("after {what}"));
    }

    // Unknown opcodes: Unimplemented with zxid -1, then close.
    for opcode in [99, 10, -100] {
        let mut u = session(&addr);
        let xid = u.send(opcode, &Enc::new().str("/malformed").bool(false).done());
        let r = u.recv_reply(xid);
        assert_eq!(
            (r.zxid, r.err),
            (-1, err::UNIMPLEMENTED),
            "opcode {opcode}: reply header"
        );
        assert!(r.body.is_empty(), "opcode {opcode}: header-only reply");
        assert_closed_silently(
            &mut u.stream,
            &format!("after the reply to opcode {opcode}"),
        );
        probe(
            &mut other,
            "/malformed",
            b"m",
            &format!("after opcode {opcode}"),
        );
    }
    assert_healthy(&mut server, "after the malformed requests");
}

/// One connection pipelines 50,000 getData requests (about 50 MB of replies)
/// and does not read its replies for a while, with a small receive buffer;
/// another session keeps being answered within [`PROMPT`] meanwhile. Then the
/// flooding connection gets every reply, in xid order: corral, like ZooKeeper,
/// neither drops the client nor its replies (corral stops reading a connection
/// while 2 MiB of its replies wait, so the writer may stall until we read).
/// A `mntr` figure as an integer.
fn mntr_int(addr: &str, key: &str) -> i64 {
    let text = four_letter(addr, "mntr").expect("mntr");
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('\t')))
        .unwrap_or_else(|| panic!("no {key} in mntr:\n{text}"))
        .trim()
        .parse()
        .expect("integer")
}

/// A figure from the Prometheus endpoint as an integer.
fn prometheus_int(addr: std::net::SocketAddr, key: &str) -> i64 {
    let mut s = TcpStream::connect(addr).expect("metrics endpoint");
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
        .trim()
        .parse()
        .expect("integer")
}

/// `globalOutstandingLimit`: a client pipelining thousands of durable writes
/// at once is read only as fast as commits retire them. Every write is
/// still answered, in order; the most txns in flight stays near the limit
/// (with one shard: the limit plus one reader turn of 64 frames, and the
/// throttle engaged); another session keeps being served.
fn outstanding_limit_throttles_a_write_flood(shards: usize) {
    if external_mode() {
        eprintln!("NOTE: corral-only (mntr figures); skipped in external mode");
        return;
    }
    const LIMIT: i64 = 16;
    let metrics = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let Some(mut server) = start(
        shards,
        "outstanding_limit_throttles_a_write_flood",
        Server::builder()
            .extra(&format!("globalOutstandingLimit={LIMIT}"))
            .extra(&format!("corral.metricsAddr={metrics}")),
    ) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut other = session(&addr);
    other.create("/other", Some(b"o"), 0).ok();
    let mut flood = session(&addr);
    flood.create("/w", Some(b""), 0).ok();

    const N: i32 = 3_000;
    let mut requests = Vec::new();
    for xid in 1..=N {
        requests.extend_from_slice(&raw::frame(
            &Enc::new()
                .i32(xid)
                .i32(op::SET_DATA)
                .raw(&raw::set_data_req("/w", Some(&xid.to_be_bytes()), -1))
                .done(),
        ));
    }
    let mut w = flood.stream.try_clone().unwrap();
    let writer = thread::spawn(move || w.write_all(&requests));
    probe(&mut other, "/other", b"o", "during the write flood");

    flood
        .stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut last_zxid = 0;
    for expect in 1..=N {
        let body = raw::read_frame(&mut flood.stream)
            .unwrap_or_else(|e| panic!("flood: stalled after {} of {N} replies: {e}", expect - 1));
        let mut d = raw::Dec::new(&body);
        assert_eq!(d.i32(), expect, "flood: replies out of order");
        let zxid = d.i64();
        assert!(zxid > last_zxid, "flood: zxid went back");
        last_zxid = zxid;
        assert_eq!(d.i32(), err::OK, "flood: reply {expect} err");
        assert_eq!(d.stat().version, expect, "flood: reply {expect} version");
    }
    writer.join().unwrap().expect("writing the flood");

    let max = prometheus_int(metrics, "corral_max_outstanding_requests");
    let waits = mntr_int(&addr, "zk_request_throttle_wait_count");
    assert_eq!(
        waits,
        prometheus_int(metrics, "corral_throttle_waits_total")
    );
    eprintln!("limit {LIMIT}: at most {max} txns in flight, {waits} throttle waits");
    // With one shard the reader outruns the log (it hands over 64 frames
    // per turn without waiting), so the throttle must engage and hold the
    // count near the limit. A connection shard's batches cross a channel
    // first, and commits may keep up without it.
    if shards == 1 {
        assert!(waits > 0, "the throttle never engaged");
        assert!(
            max <= LIMIT + 64,
            "{max} txns in flight with a limit of {LIMIT}"
        );
    }
    assert_eq!(
        mntr_int(&addr, "zk_outstanding_requests"),
        0,
        "idle after the flood"
    );
    probe(&mut other, "/other", b"o", "after the write flood");
    assert_healthy(&mut server, "after the write flood");
}

/// A session whose socket buffers at most about `bytes` of unread replies.
fn session_with_recv_buffer(addr: &str, bytes: usize) -> RawConn {
    let conn = session(addr);
    socket2::SockRef::from(&conn.stream)
        .set_recv_buffer_size(bytes)
        .unwrap();
    conn
}

/// A getData request frame (no watch).
fn get_data_frame(xid: i32, path: &str) -> Vec<u8> {
    raw::frame(
        &Enc::new()
            .i32(xid)
            .i32(op::GET_DATA)
            .str(path)
            .bool(false)
            .done(),
    )
}

/// Reads the next reply and checks it answers getData `xid` with `data`.
fn read_data_reply(rd: &mut impl Read, xid: i32, data: &[u8], what: &str) {
    let mut len = [0u8; 4];
    let body = rd.read_exact(&mut len).and_then(|_| {
        let n = i32::from_be_bytes(len);
        assert!((16..=MAX_FRAME as i32).contains(&n), "bad reply length {n}");
        let mut body = vec![0u8; n as usize];
        rd.read_exact(&mut body).map(|_| body)
    });
    let body = body.unwrap_or_else(|e| {
        panic!(
            "{what}: connection closed or stalled after {} replies: {e}",
            xid - 1
        )
    });
    let mut d = raw::Dec::new(&body);
    assert_eq!(d.i32(), xid, "{what}: replies out of order");
    let _zxid = d.i64();
    assert_eq!(d.i32(), err::OK, "{what}: reply {xid} err");
    assert_eq!(d.buf().as_deref(), Some(data), "{what}: reply {xid} data");
}

fn pipelined_flood_does_not_starve_others(shards: usize) {
    let Some(mut server) = start(
        shards,
        "pipelined_flood_does_not_starve_others",
        Server::builder(),
    ) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut other = session(&addr);
    let flood_data = vec![b'f'; 1000];
    other.create("/flood", Some(&flood_data), 0).ok();
    other.create("/other", Some(b"o"), 0).ok();

    const N: i32 = 50_000;
    // Keep the kernel from absorbing the replies we do not read.
    let mut flood = session_with_recv_buffer(&addr, 64 * 1024);
    let mut requests = Vec::with_capacity(N as usize * 23);
    for xid in 1..=N {
        requests.extend_from_slice(&get_data_frame(xid, "/flood"));
    }
    let mut w = flood.stream.try_clone().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let t0 = Instant::now();
    let writer = thread::spawn(move || {
        let r = w.write_all(&requests).map(|_| requests.len());
        let _ = done_tx.send(r);
    });

    // Not reading the flood's replies; the other session must keep being served.
    let mut probes = 0;
    let mut written = None;
    while t0.elapsed() < Duration::from_secs(4) {
        probe(
            &mut other,
            "/other",
            b"o",
            &format!("probe {probes} during the flood"),
        );
        probes += 1;
        if written.is_none() {
            match done_rx.recv_timeout(Duration::from_millis(20)) {
                Ok(r) => written = Some(r.expect("writing the flood")),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(e) => panic!("flood writer: {e}"),
            }
        } else if probes >= 20 {
            break; // everything written, replies piled up unread, others served
        } else {
            thread::sleep(Duration::from_millis(20));
        }
    }
    eprintln!(
        "flood: {probes} probes answered; writer {} after {:?}",
        if written.is_some() {
            "done"
        } else {
            "still writing"
        },
        t0.elapsed()
    );
    assert!(
        probes >= 20,
        "the other session was probed only {probes} times"
    );

    // Now read the flood's replies: all of them, in order, each within the bound.
    flood
        .stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rd = BufReader::with_capacity(256 * 1024, flood.stream.try_clone().unwrap());
    for expect in 1..=N {
        read_data_reply(&mut rd, expect, &flood_data, "flood");
        if expect % 10_000 == 0 {
            probe(
                &mut other,
                "/other",
                b"o",
                &format!("while reading flood reply {expect}"),
            );
        }
    }
    writer.join().unwrap();
    if written.is_none() {
        written = Some(done_rx.recv().unwrap().expect("writing the flood"));
    }
    eprintln!(
        "flood: {} bytes written, {N} replies read in order",
        written.unwrap()
    );
    // Nothing more pending, and the flooding connection is still served.
    drop(rd);
    flood.stream.set_read_timeout(Some(PROMPT)).unwrap();
    flood.send_with_xid(N + 1, op::GET_DATA, &raw::path_watch_req("/other", false));
    let r = flood.recv_reply(N + 1);
    assert_eq!(r.ok().buf().as_deref(), Some(&b"o"[..]));
    let n = srvr_connections(&addr);
    assert!(n >= 3, "srvr shows {n} connections with 2 sessions open");

    probe(&mut flood, "/other", b"o", "flood connection at the end");
    assert_healthy(&mut server, "after the flood");
}

/// A client that pipelines 50,000 getData requests (about 50 MB of replies),
/// never reads, and then goes away (shutdown, then a reset) while its replies
/// are backed up: the server must let go of the connection and keep serving
/// everyone else.
fn abandoned_backed_up_connection_is_released(shards: usize) {
    let Some(mut server) = start(
        shards,
        "abandoned_backed_up_connection_is_released",
        Server::builder(),
    ) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut other = session(&addr);
    other.create("/flood", Some(&vec![b'f'; 1000]), 0).ok();
    other.create("/other", Some(b"o"), 0).ok();

    let mut requests = Vec::new();
    for xid in 1..=50_000 {
        requests.extend_from_slice(&raw::frame(
            &Enc::new()
                .i32(xid)
                .i32(op::GET_DATA)
                .str("/flood")
                .bool(false)
                .done(),
        ));
    }
    let abandoned = session_with_recv_buffer(&addr, 64 * 1024);
    let mut w = abandoned.stream.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let _ = w.write_all(&requests); // fails once we shut the socket down
    });
    for i in 0..10 {
        probe(
            &mut other,
            "/other",
            b"o",
            &format!("probe {i} while the flood's replies back up"),
        );
        thread::sleep(Duration::from_millis(50));
    }
    let _ = abandoned.stream.shutdown(Shutdown::Both); // unblocks a stalled writer
    writer.join().unwrap();
    reset(abandoned.stream);

    probe(
        &mut other,
        "/other",
        b"o",
        "existing session after the backed-up connection went away",
    );
    let t0 = Instant::now();
    loop {
        // `other` and the srvr connection itself.
        let n = srvr_connections(&addr);
        if n <= 2 {
            break;
        }
        assert!(
            t0.elapsed() < CLOSE_WAIT,
            "srvr still shows {n} connections {CLOSE_WAIT:?} after the backed-up one was closed"
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert_healthy(&mut server, "after the abandoned flood");
}

/// 200 handshaked connections at once, then all dropped abruptly (resets,
/// FINs, half-written frames, requests whose replies are never read): the
/// server lists them in `cons`/`srvr`, notices they are gone, and serves on.
fn many_connections_dropped_abruptly(shards: usize) {
    let Some(mut server) = start(
        shards,
        "many_connections_dropped_abruptly",
        // 0 = no per-IP limit (ZooKeeper's default of 60 would refuse most).
        Server::builder().extra("maxClientCnxns=0"),
    ) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut watcher = session(&addr);
    watcher.create("/many", Some(b"m"), 0).ok();

    const COUNT: usize = 200;
    let mut conns = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        let mut c = session(&addr);
        if i % 10 == 0 {
            probe(
                &mut watcher,
                "/many",
                b"m",
                &format!("after opening {i} connections"),
            );
        }
        if i % 2 == 0 {
            probe(&mut c, "/many", b"m", &format!("connection {i}"));
        }
        conns.push(c);
    }
    let n = srvr_connections(&addr);
    assert!(
        n > COUNT,
        "srvr shows {n} connections with {COUNT}+1 sessions open"
    );
    let cons = four_letter(&addr, "cons").expect("cons");
    let listed = cons.lines().filter(|l| l.starts_with(" /")).count();
    assert!(
        listed > COUNT,
        "cons lists {listed} connections with {COUNT}+1 sessions open"
    );

    for (i, mut c) in conns.into_iter().enumerate() {
        match i % 5 {
            0 => reset(c.stream),
            1 => drop(c.stream),
            2 => {
                // Half a frame, then a reset.
                let _ = c.stream.write_all(&[0, 0, 0, 40, 0, 0, 0, 7, 0, 0]);
                reset(c.stream);
            }
            3 => {
                // Requests whose replies are never read, then a reset.
                for _ in 0..20 {
                    c.send(op::GET_DATA, &raw::path_watch_req("/many", false));
                }
                reset(c.stream);
            }
            _ => {
                let _ = c.stream.shutdown(Shutdown::Both);
            }
        }
    }
    probe(&mut watcher, "/many", b"m", "right after the abrupt closes");

    let t0 = Instant::now();
    let bound = Duration::from_secs(10);
    loop {
        // The watcher and the srvr connection itself.
        let n = srvr_connections(&addr);
        if n <= 2 {
            break;
        }
        assert!(
            t0.elapsed() < bound,
            "srvr still shows {n} connections {bound:?} after closing all but one"
        );
        thread::sleep(Duration::from_millis(100));
    }
    // Only the watcher's session is left (a four-letter-word connection that
    // has just closed may still be listed, without a sid).
    let cons = four_letter(&addr, "cons").expect("cons");
    let sessions = cons
        .lines()
        .filter(|l| l.starts_with(" /") && l.contains(",sid=0x"))
        .count();
    assert_eq!(
        sessions, 1,
        "cons lists {sessions} connections with a session after the closes:\n{cons}"
    );
    probe(
        &mut watcher,
        "/many",
        b"m",
        "after the server noticed the closes",
    );
    assert_healthy(&mut server, "after many abrupt closes");
}

/// Opcodes the random frames pick from (most of them known, to reach the
/// body decoders).
const OPCODES: &[i32] = &[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101, 102,
    103, 104, 105, 106, 107, -10, -11,
];

/// A valid-length frame with a RequestHeader and random body bytes.
fn random_request(rng: &mut Rng) -> Vec<u8> {
    let opcode = if rng.below(8) == 0 {
        rng.next() as i32
    } else {
        OPCODES[rng.below(OPCODES.len())]
    };
    let xid = match rng.below(4) {
        0 => rng.next() as i32,
        _ => 1 + rng.below(1000) as i32,
    };
    let mut body = Enc::new().i32(xid).i32(opcode).done();
    match rng.below(3) {
        // Pure random body.
        0 => body.extend(rng.bytes_below(200)),
        // A plausible path, then random bytes.
        1 => {
            let path = [
                "/",
                "/fuzz",
                "/fuzz/a",
                "/zookeeper",
                "/zookeeper/quota",
                "//",
            ][rng.below(6)];
            body.extend(Enc::new().str(path).done());
            body.extend(rng.bytes_below(40));
        }
        // Random small integers: lengths and counts that look almost right.
        _ => {
            for _ in 0..rng.below(12) {
                let v = match rng.below(4) {
                    0 => -1,
                    1 => rng.below(8) as i32,
                    2 => 0x7fff_fff0 + rng.below(16) as i32,
                    _ => rng.next() as i32,
                };
                body.extend(v.to_be_bytes());
            }
        }
    }
    raw::frame(&body)
}

/// 200 connections of seeded random input (raw random bytes, random frames
/// before or after a valid handshake, four-letter words with trailing junk);
/// a watcher session is served throughout and gets its notification at the
/// end. Set `CORRAL_ROBUST_SEED` to replay another seed.
fn random_garbage_connections(shards: usize) {
    let Some(mut server) = start(shards, "random_garbage_connections", Server::builder()) else {
        return;
    };
    let addr = server.addr().to_string();
    let seed = std::env::var("CORRAL_ROBUST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c0ff_ee00_0007u64);
    eprintln!("random_garbage_connections: seed {seed}");
    let mut rng = Rng::new(seed);

    let mut setter = session(&addr);
    setter.create("/fuzz", Some(b"w"), 0).ok();
    let mut watcher = session(&addr);
    let r = watcher.get_data("/fuzz", true);
    assert_eq!(r.ok().buf().as_deref(), Some(&b"w"[..]));

    let connect = raw::frame(&ConnectRequest::new_session(SESSION_MS).body());
    let words = [
        "ruok", "stat", "srvr", "cons", "mntr", "conf", "envi", "wchs", "dump",
    ];
    let t0 = Instant::now();
    let mut closed_by_server = 0;
    for i in 0..200 {
        let kind = rng.below(6);
        let what = format!("connection {i} (kind {kind}, seed {seed})");
        let mut s = raw::open(&addr);
        let mut bytes = Vec::new();
        match kind {
            // Random bytes from the start.
            0 => {
                let n = 1 + rng.below(4096);
                bytes = rng.bytes(n);
            }
            // A random first frame with a small valid length.
            1 => {
                let n = rng.below(300);
                bytes = raw::frame(&rng.bytes(n));
            }
            // Handshake, then random request frames (pipelined, not waiting).
            2 | 5 => {
                bytes.extend_from_slice(&connect);
                for _ in 0..1 + rng.below(20) {
                    bytes.extend(random_request(&mut rng));
                }
                if kind == 5 {
                    // Ends with a partial frame.
                    let f = random_request(&mut rng);
                    bytes.extend_from_slice(&f[..1 + rng.below(f.len() - 1)]);
                }
            }
            // Handshake, then random bytes.
            3 => {
                bytes.extend_from_slice(&connect);
                let n = 1 + rng.below(2048);
                bytes.extend(rng.bytes(n));
            }
            // A four-letter word with junk after it.
            _ => {
                bytes.extend_from_slice(words[rng.below(words.len())].as_bytes());
                bytes.extend(rng.bytes_below(64));
            }
        }
        let _ = s.write_all(&bytes); // the server may already have closed
        match rng.below(4) {
            // Abrupt reset without reading anything.
            0 => reset(s),
            // Half-close; the server must notice and close its side too.
            _ => {
                let _ = s.shutdown(Shutdown::Write);
                match drain_until_closed(&mut s, CLOSE_WAIT) {
                    Some(_) => closed_by_server += 1,
                    None => panic!(
                        "{what}: the server kept the connection open {CLOSE_WAIT:?} after the \
                         client's FIN; sent {} bytes starting {:02x?}",
                        bytes.len(),
                        &bytes[..bytes.len().min(64)]
                    ),
                }
            }
        }
        if i % 10 == 9 {
            probe(
                &mut watcher,
                "/fuzz",
                b"w",
                &format!("watcher after {what}"),
            );
        }
        if i % 50 == 49 {
            assert_eq!(
                four_letter(&addr, "ruok").expect("ruok").as_str(),
                "imok",
                "ruok after {what}"
            );
            assert!(
                server.exit_status().is_none(),
                "the server exited after {what}"
            );
        }
    }
    eprintln!(
        "random_garbage_connections: 200 connections in {:?}, {closed_by_server} closed by the server after FIN",
        t0.elapsed()
    );

    // The watcher's watch survived all of it.
    setter.set_data("/fuzz", Some(b"w2"), -1).ok();
    let event = match watcher.recv() {
        Frame::Event(e) => e,
        Frame::Reply(r) => panic!("watcher: unexpected reply {r:?}"),
    };
    assert_eq!(
        (event.typ, event.path.as_str()),
        (raw::ev::NODE_DATA_CHANGED, "/fuzz"),
        "watcher notification"
    );
    probe(&mut watcher, "/fuzz", b"w2", "watcher at the end");
    assert_healthy(&mut server, "after the random garbage");
}

/// A client that keeps sending while it reads its replies slowly: its socket
/// fills, so replies wait for room (partly sent by the reader, the rest left
/// to the writer task) while new requests keep arriving and are answered.
/// Every reply must arrive, in request order; a reply left queued with no
/// task to send it stalls the client. (That the reader never sends while the
/// writer holds bytes is checked directly in `runtime::conn`'s unit tests:
/// here the race that would reorder replies is too rare to rely on.)
fn replies_stay_in_order_while_a_slow_reader_keeps_sending(shards: usize) {
    let Some(server) = start(
        shards,
        "replies_stay_in_order_while_a_slow_reader_keeps_sending",
        Server::builder(),
    ) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut setup = session(&addr);
    let data = vec![b's'; 1000];
    setup.create("/slow", Some(&data), 0).ok();

    const N: i32 = 20_000;
    const CHUNK: i32 = 50;
    let conn = session_with_recv_buffer(&addr, 16 * 1024);
    let mut w = conn.stream.try_clone().unwrap();
    let writer = thread::spawn(move || {
        // Chunks with pauses: requests keep arriving while replies wait.
        let mut xid = 1;
        while xid <= N {
            let mut chunk = Vec::new();
            for _ in 0..CHUNK.min(N - xid + 1) {
                chunk.extend_from_slice(&get_data_frame(xid, "/slow"));
                xid += 1;
            }
            w.write_all(&chunk).expect("sending requests");
            thread::sleep(Duration::from_micros(200));
        }
    });
    conn.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rd = BufReader::with_capacity(4096, conn.stream.try_clone().unwrap());
    for expect in 1..=N {
        if expect % 100 == 0 {
            // Read slowly, so the server's side of the socket fills up.
            thread::sleep(Duration::from_millis(3));
        }
        read_data_reply(&mut rd, expect, &data, "slow reader");
    }
    writer.join().unwrap();
}

/// Every test runs twice: on one shard (the default), and on two shards, where
/// connections on shard 1 reach the core through channels (other timings).
macro_rules! per_shard_count {
    ($($name:ident),* $(,)?) => {
        mod one_shard {
            $( #[test] fn $name() { super::$name(1) } )*
        }
        mod two_shards {
            $( #[test] fn $name() { super::$name(2) } )*
        }
    };
}

per_shard_count!(
    silent_connection_is_dropped_after_sessionless_timeout,
    trickled_handshake_is_dropped_at_the_deadline,
    per_ip_connection_limit,
    frame_length_limits,
    garbage_first_frame_is_closed_without_reply,
    malformed_requests_after_handshake,
    pipelined_flood_does_not_starve_others,
    replies_stay_in_order_while_a_slow_reader_keeps_sending,
    outstanding_limit_throttles_a_write_flood,
    abandoned_backed_up_connection_is_released,
    many_connections_dropped_abruptly,
    random_garbage_connections,
);

/// Resident memory of a process in KiB (Linux `/proc`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Four-letter words over a server with 100,000 watched paths: the listings
/// (`wchp`, `wchc`) are produced as the asker reads them, so a reader that
/// stalls neither stalls other clients nor makes the server copy every path
/// per reply; the complete listings still name every path.
#[test]
fn four_letter_listings_stream_without_stalling_clients() {
    const PATHS: usize = 100_000;
    if external_mode() {
        eprintln!("NOTE: four_letter_listings_stream_without_stalling_clients is corral-only");
        return;
    }
    let Some(mut server) = start(1, "four_letter_listings", Server::builder()) else {
        return;
    };
    let addr = server.addr().to_string();
    let pid = server.pid().expect("spawned server");

    // One session sets exists() watches on PATHS absent paths, pipelined by a
    // writer thread while this thread reads the replies.
    let mut watcher = session(&addr);
    let mut out = watcher.stream.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let mut batch = Vec::new();
        for i in 0..PATHS {
            let path = format!("/watched/a-fairly-long-service-name-{i:08}");
            let body = raw::path_watch_req(&path, true);
            let payload = Enc::new()
                .i32(i as i32 + 1)
                .i32(op::EXISTS)
                .raw(&body)
                .done();
            batch.extend(raw::frame(&payload));
            if batch.len() > 64 * 1024 {
                out.write_all(&batch).unwrap();
                batch.clear();
            }
        }
        out.write_all(&batch).unwrap();
    });
    for i in 0..PATHS {
        match watcher.recv() {
            Frame::Reply(r) => {
                assert_eq!(r.xid, i as i32 + 1);
                assert_eq!(r.err, err::NO_NODE);
            }
            Frame::Event(e) => panic!("unexpected event {e:?}"),
        }
    }
    writer.join().unwrap();
    let wchs = four_letter(&addr, "wchs").expect("wchs");
    assert!(
        wchs.contains(&format!("watching {PATHS} paths")),
        "wchs: {wchs}"
    );

    // Askers that send `wchp`/`wchc` and then do not read.
    let before = rss_kib(pid);
    let mut stalled = Vec::new();
    for word in [
        "wchp", "wchc", "wchc", "wchc", "wchc", "wchc", "dump", "cons",
    ] {
        let mut s = raw::open(&addr);
        s.write_all(word.as_bytes()).unwrap();
        stalled.push(s);
    }
    thread::sleep(Duration::from_millis(500));
    // Meanwhile another client is served promptly.
    let mut other = session(&addr);
    for _ in 0..20 {
        let r = other.exists("/watched", false);
        assert_eq!(r.err, err::NO_NODE);
    }
    let grown_mib = rss_kib(pid).saturating_sub(before) / 1024;
    assert!(
        grown_mib < 64,
        "eight unread listings grew the server by {grown_mib} MiB"
    );

    // Read the listings to the end: every path is there.
    let whole = |s: &mut TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).expect("listing");
        text
    };
    let wchp = whole(&mut stalled[0]);
    let paths = wchp.lines().filter(|l| l.starts_with("/watched/")).count();
    assert_eq!(paths, PATHS, "wchp names every watched path");
    let session = format!("0x{:x}", watcher.session_id);
    assert_eq!(
        wchp.lines().filter(|l| l.trim() == session).count(),
        PATHS,
        "wchp names the watcher under each path"
    );
    let wchc = whole(&mut stalled[1]);
    assert!(
        wchc.starts_with(&format!("{session}\n")),
        "wchc: {}",
        &wchc[..80]
    );
    assert_eq!(
        wchc.lines()
            .filter(|l| l.starts_with("\t/watched/"))
            .count(),
        PATHS
    );
    for s in &mut stalled[2..] {
        whole(s);
    }
    assert_healthy(&mut server, "after the listings");
}

/// Files under `dir` (recursively) whose name starts with `prefix`.
fn files_named(dir: &std::path::Path, prefix: &str) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += files_named(&p, prefix);
        } else if e.file_name().to_string_lossy().starts_with(prefix) {
            n += 1;
        }
    }
    n
}

/// Client connections cannot take the descriptors the server needs for
/// itself: with `RLIMIT_NOFILE` at 160 and a flood of idle connections,
/// connections past the budget are closed as soon as they are accepted,
/// while a session opened before keeps writing through snapshots and log
/// rolls (`snapCount=20`); when the flood goes, new clients are served.
#[test]
fn a_connection_flood_cannot_take_the_servers_own_descriptors() {
    if external_mode() {
        eprintln!("NOTE: the descriptor budget is corral-only; skipped");
        return;
    }
    let builder = Server::builder()
        .nofile(160)
        .extra("maxClientCnxns=0")
        .extra("snapCount=20")
        .extra("preAllocSize=64");
    let Some(mut server) = start(1, "connection_flood_descriptors", builder) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut writer = session(&addr);
    writer.create("/fd", None, 0).ok();

    let target: std::net::SocketAddr = addr.parse().unwrap();
    let mut flood = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = TcpStream::connect_timeout(&target, Duration::from_millis(300)) {
            flood.push(s);
        }
    }
    thread::sleep(Duration::from_millis(500));
    let mut closed = 0;
    let mut open = 0;
    for s in &mut flood {
        s.set_nonblocking(true).unwrap();
        match s.read(&mut [0u8; 16]) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => open += 1,
            _ => closed += 1,
        }
    }
    assert!(open > 0, "no flood connection was accepted at all");

    // The server still writes: every create commits, snapshots are taken.
    let snaps_before = files_named(&server.data_dir().unwrap(), "snapshot.");
    for i in 0..100 {
        let r = writer.create(&format!("/fd/n{i}"), Some(b"x"), 0);
        assert_eq!(
            r.err,
            err::OK,
            "create {i} with {open} idle connections open"
        );
    }
    let snaps_after = files_named(&server.data_dir().unwrap(), "snapshot.");
    assert!(
        snaps_after > snaps_before,
        "no snapshot was written ({snaps_before} before, {snaps_after} after)"
    );
    assert!(closed > 0, "no connection was closed past the budget");
    drop(flood);
    thread::sleep(Duration::from_millis(300));
    assert_healthy(&mut server, "after the connection flood");
}

/// The metrics endpoint holds few connections and no connection for long:
/// past its cap new ones are closed at once, a request that trickles in is
/// cut at the deadline, and the client port is served meanwhile.
#[test]
fn the_metrics_endpoint_is_bounded() {
    if external_mode() {
        eprintln!("NOTE: the metrics endpoint is corral-only; skipped");
        return;
    }
    let metrics = format!("127.0.0.1:{}", common::free_port());
    let builder = Server::builder().extra(&format!("corral.metricsAddr={metrics}"));
    let Some(mut server) = start(1, "metrics_bounded", builder) else {
        return;
    };
    let addr = server.addr().to_string();
    let mut idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&metrics).expect("metrics connect"))
        .collect();
    // One trickles its request a byte at a time.
    idle[0].write_all(b"G").unwrap();
    thread::sleep(Duration::from_millis(500));
    let is_closed = |s: &mut TcpStream| -> bool {
        s.set_nonblocking(true).unwrap();
        !matches!(s.read(&mut [0u8; 16]), Err(e) if e.kind() == ErrorKind::WouldBlock)
    };
    let closed_now = idle.iter_mut().map(is_closed).filter(|c| *c).count();
    assert!(
        closed_now >= 12,
        "only {closed_now} of 20 idle metrics connections were closed past the cap"
    );
    let mut c = session(&addr);
    assert_eq!(c.exists("/", false).err, err::OK);
    // Within the deadline (5 s) and a margin, every one of them is gone.
    let t0 = Instant::now();
    let mut all_closed = false;
    while t0.elapsed() < Duration::from_secs(10) {
        let _ = idle[0].write_all(b"E");
        if idle.iter_mut().all(is_closed) {
            all_closed = true;
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
    assert!(all_closed, "idle metrics connections outlived the deadline");
    // And the endpoint answers again.
    let mut m = TcpStream::connect(&metrics).unwrap();
    m.set_read_timeout(Some(PROMPT)).unwrap();
    m.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    m.read_to_string(&mut text).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 200 OK"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert_healthy(&mut server, "after the metrics connections");
}

/// [`start`] with the metrics endpoint on a free port (corral only: None in
/// external mode).
fn start_with_metrics(
    shards: usize,
    test: &str,
    builder: ServerBuilder,
) -> Option<(Server, std::net::SocketAddr)> {
    if external_mode() {
        eprintln!(
            "NOTE: {test} reads the metrics endpoint (corral only); skipped in external mode"
        );
        return None;
    }
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{}", common::free_port())
        .parse()
        .unwrap();
    let builder = builder.extra(&format!("corral.metricsAddr={metrics}"));
    start(shards, test, builder).map(|s| (s, metrics))
}

/// The shards' spin decisions show on the metrics endpoint (mntr's keys
/// stay ZooKeeper's). A client that sends a request every 2 ms leaves its
/// shard idle longer than spinning could pay for: each gap ends in a park,
/// and the window the shard parks with drops to zero.
#[test]
fn spin_decisions_show_in_the_metrics() {
    let Some((server, metrics)) =
        start_with_metrics(1, "spin_decisions_show_in_the_metrics", Server::builder())
    else {
        return;
    };
    let addr = server.addr().to_string();
    let mut c = session(&addr);
    c.create("/spin", Some(b"s"), 0).ok();
    let parks = prometheus_int(metrics, "corral_spin_parks_total");
    for _ in 0..100 {
        thread::sleep(Duration::from_millis(2));
        probe(&mut c, "/spin", b"s", "slow gets");
    }
    let parked = prometheus_int(metrics, "corral_spin_parks_total") - parks;
    assert!(parked >= 80, "100 requests 2 ms apart: {parked} parks");
    assert_eq!(prometheus_int(metrics, "corral_spin_window_us"), 0);
    for key in [
        "corral_spin_time_us_total",
        "corral_spin_hits_total",
        "corral_spin_contended_total",
    ] {
        assert!(prometheus_int(metrics, key) >= 0, "{key}");
    }
    let mntr = four_letter(&addr, "mntr").expect("mntr");
    assert!(
        !mntr.contains("spin"),
        "mntr keeps ZooKeeper's keys:\n{mntr}"
    );
}

/// A process with more shards than CPUs it may use never spins: two shards
/// on one CPU (`taskset`) park at every idle moment, so back-to-back
/// requests leave parks behind and not one spin.
#[test]
fn more_shards_than_cpus_never_spin() {
    let builder = Server::builder().cpus("0");
    let Some((server, metrics)) =
        start_with_metrics(2, "more_shards_than_cpus_never_spin", builder)
    else {
        return;
    };
    let addr = server.addr().to_string();
    let mut c = session(&addr);
    c.create("/one-cpu", Some(b"c"), 0).ok();
    for _ in 0..200 {
        probe(&mut c, "/one-cpu", b"c", "back-to-back gets");
    }
    assert!(prometheus_int(metrics, "corral_spin_parks_total") >= 100);
    assert_eq!(prometheus_int(metrics, "corral_spin_hits_total"), 0);
    assert_eq!(prometheus_int(metrics, "corral_spin_time_us_total"), 0);
}
