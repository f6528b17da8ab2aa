//! Sessions: handshake shape, timeout negotiation, pings, pipelining, close,
//! expiry (ephemerals vanish, watchers hear NodeDeleted), and reattaching with
//! the same id and password (raw and through the crate's session resume API).

mod common;

use std::time::{Duration, Instant};

use common::raw::{self, op, ConnectRequest, RawConn};
use common::*;
use zk::{CreateMode, Error, EventType, SessionState};
use zookeeper_client as zk;

/// Upper bound for a session of `timeout_ms` to be expired by the server and
/// its ephemerals deleted: expiry runs in tick-sized buckets (protocol doc §14),
/// plus generous slack for slow machines.
fn expiry_bound(timeout_ms: i32, tick_ms: u32) -> Duration {
    Duration::from_millis(2 * timeout_ms as u64 + 2 * tick_ms as u64) + Duration::from_secs(10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_response_shape() {
    let server = Server::start();
    let (_s1, a) = raw::handshake(server.addr(), &ConnectRequest::new_session(10_000));
    let (_s2, b) = raw::handshake(server.addr(), &ConnectRequest::new_session(10_000));
    for resp in [&a, &b] {
        assert_eq!(resp.protocol_version, 0);
        assert_eq!(resp.body_len, 37, "4+4+8+(4+16)+1");
        assert_eq!(resp.read_only, Some(false));
        assert_eq!(resp.passwd.len(), 16, "password is exactly 16 bytes");
        assert!(resp.session_id > 0, "session ids are positive");
        assert_eq!(resp.timeout_ms, 10_000);
    }
    assert_ne!(a.session_id, b.session_id);
    assert_ne!(a.passwd, b.passwd);

    // A pre-3.4 client (44-byte request without readOnly) gets a 36-byte reply.
    let old = ConnectRequest {
        read_only: None,
        ..ConnectRequest::new_session(10_000)
    };
    assert_eq!(old.body().len(), 44);
    let (s3, c) = raw::handshake(server.addr(), &old);
    assert_eq!(
        c.body_len, 36,
        "no readOnly byte for a client that did not send one"
    );
    assert_eq!(c.read_only, None);
    assert!(c.session_id > 0);
    let mut conn = RawConn::from_parts(s3, &c);
    assert_eq!(conn.ping().err, 0, "the old-style session works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_negotiation_clamps_to_tick_bounds() {
    let server = Server::start();
    let tick = server.tick_ms() as i32;
    for (asked, expect) in [
        (1, 2 * tick),
        (10_000_000, 20 * tick),
        (3 * tick, 3 * tick),
        (2 * tick, 2 * tick),
    ] {
        let (_s, r) = raw::handshake(server.addr(), &ConnectRequest::new_session(asked));
        assert_eq!(
            r.timeout_ms, expect,
            "asked {asked} ms with tickTime {tick}"
        );
    }
    // The crate reports the negotiated value. (Not a tiny request: the crate
    // also uses the requested timeout as its connect deadline.)
    let c = server
        .connector()
        .with_session_timeout(Duration::from_secs(1000))
        .connect(server.addr())
        .await
        .unwrap();
    assert_eq!(c.session_timeout(), Duration::from_millis(20 * tick as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_negotiation_with_configured_bounds() {
    let Some(server) = Server::builder()
        .min_session_timeout(1000)
        .max_session_timeout(5000)
        .start_or_skip("timeout_negotiation_with_configured_bounds")
    else {
        return;
    };
    for (asked, expect) in [(100, 1000), (60_000, 5000), (3000, 3000)] {
        let (_s, r) = raw::handshake(server.addr(), &ConnectRequest::new_session(asked));
        assert_eq!(
            r.timeout_ms, expect,
            "asked {asked} ms with min 1000 / max 5000"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_before_connect_response() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "pipelined").await;
    c.create(&format!("{root}/n"), b"data", &open_options())
        .await
        .unwrap();

    // ConnectRequest and two requests in a single write, before reading anything.
    let mut s = raw::open(server.addr());
    let mut bytes = raw::frame(&ConnectRequest::new_session(10_000).body());
    bytes.extend(raw::frame(
        &raw::Enc::new()
            .i32(1)
            .i32(op::EXISTS)
            .raw(&raw::path_watch_req(&root, false))
            .done(),
    ));
    bytes.extend(raw::frame(
        &raw::Enc::new()
            .i32(2)
            .i32(op::GET_DATA)
            .raw(&raw::path_watch_req(&format!("{root}/n"), false))
            .done(),
    ));
    raw::blocking(|| std::io::Write::write_all(&mut s, &bytes)).unwrap();
    let resp = raw::ConnectResponse::decode(&raw::read_frame(&mut s).unwrap());
    assert!(resp.session_id > 0);
    let mut conn = RawConn::from_parts(s, &resp);
    let r1 = conn.recv_reply(1);
    assert_eq!(r1.ok().stat().num_children, 1);
    let r2 = conn.recv_reply(2);
    assert_eq!(r2.ok().buf(), Some(b"data".to_vec()));
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_fifo_and_pings_answered() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "fifo").await;
    let mut r = RawConn::connect(server.addr(), 10_000);
    // Many requests of different kinds in flight at once; replies must come back in order.
    let mut xids = Vec::new();
    for i in 0..10 {
        let p = format!("{root}/n{i}");
        xids.push(r.send(
            op::CREATE,
            &raw::create_req(&p, Some(b"x"), raw::OPEN_ACL, 0),
        ));
        xids.push(r.send(op::EXISTS, &raw::path_watch_req(&p, false)));
        xids.push(r.send(
            op::GET_DATA,
            &raw::path_watch_req(&format!("{root}/missing{i}"), false),
        ));
        xids.push(r.send(op::SYNC, &raw::path_req(&root)));
        xids.push(r.send(op::SET_DATA, &raw::set_data_req(&p, Some(b"y"), 0)));
    }
    let mut last_zxid = 0;
    for (i, xid) in xids.iter().enumerate() {
        let reply = r.recv_reply(*xid);
        match i % 5 {
            2 => reply.assert_err(raw::err::NO_NODE),
            _ => assert_eq!(reply.err, 0, "request #{i}"),
        }
        assert!(reply.zxid >= last_zxid, "reply zxids never go backwards");
        last_zxid = reply.zxid;
    }
    // Ping: xid -2, no body, zxid = last applied (at least what we saw).
    let ping = r.ping();
    assert_eq!((ping.xid, ping.err), (-2, 0));
    assert!(ping.body.is_empty());
    assert!(
        ping.zxid >= last_zxid,
        "ping zxid {} < last seen {last_zxid}",
        ping.zxid
    );
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_newer_than_server_is_refused() {
    let server = Server::start();
    let req = ConnectRequest {
        last_zxid_seen: 1 << 40,
        ..ConnectRequest::new_session(10_000)
    };
    let mut s = raw::open(server.addr());
    raw::write_frame(&mut s, &req.body());
    assert!(
        raw::wait_closed(&mut s, Duration::from_secs(10)),
        "closed without a ConnectResponse (§2.3 step 3)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_close_removes_ephemerals_and_fires_watches() {
    let server = Server::start();
    let a = server.client().await;
    let b = server.client().await;
    let root = make_root(&b, "crate_close").await;
    let e = format!("{root}/e");
    let p = format!("{root}/p");
    a.create(&e, b"", &options(CreateMode::Ephemeral))
        .await
        .unwrap();
    a.create(
        &format!("{root}/es-"),
        b"",
        &options(CreateMode::EphemeralSequential),
    )
    .await
    .unwrap();
    a.create(&p, b"", &open_options()).await.unwrap();

    let (stat, exists_w) = b.check_and_watch_stat(&e).await.unwrap();
    assert_eq!(stat.unwrap().ephemeral_owner, a.session_id().0);
    let (kids, _, child_w) = b.get_and_watch_children(&root).await.unwrap();
    assert_eq!(kids.len(), 3);

    // Dropping the last handle of a non-detached client sends closeSession.
    let mut state = a.state_watcher();
    drop(a);
    let closed = tokio::time::timeout(WAIT, state.changed())
        .await
        .expect("client reaches a terminal state");
    assert_eq!(closed, SessionState::Closed);

    let ev = wait_oneshot(exists_w).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, e.as_str())
    );
    let ev = wait_oneshot(child_w).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeChildrenChanged, root.as_str())
    );
    wait_until("both ephemerals gone", WAIT, || async {
        b.list_children(&root).await.unwrap() == vec!["p"]
    })
    .await;
    assert!(
        b.check_stat(&p).await.unwrap().is_some(),
        "persistent nodes of the session stay"
    );
    rm_rf(&b, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_close_session_replies_then_closes_tcp() {
    let server = Server::start();
    let b = server.client().await;
    let root = make_root(&b, "raw_close").await;
    let e = format!("{root}/e");
    let mut r = RawConn::connect(server.addr(), 10_000);
    let created = r.create(&e, Some(b""), 1);
    created.ok();
    let sid = r.session_id;
    let passwd = r.passwd.clone();
    assert_eq!(
        b.check_stat(&e).await.unwrap().unwrap().ephemeral_owner,
        sid
    );

    // closeSession followed by a request in the same write: the reply to close
    // comes back, the later request is dropped, and the server closes TCP.
    let close_xid = r.next_xid();
    let mut bytes = raw::frame(&raw::Enc::new().i32(close_xid).i32(op::CLOSE_SESSION).done());
    bytes.extend(raw::frame(
        &raw::Enc::new()
            .i32(close_xid + 1)
            .i32(op::EXISTS)
            .raw(&raw::path_watch_req(&e, false))
            .done(),
    ));
    raw::blocking(|| std::io::Write::write_all(&mut r.stream, &bytes)).unwrap();
    let reply = r.recv_reply(close_xid);
    assert_eq!(reply.err, 0);
    assert!(reply.body.is_empty(), "closeSession has an empty body");
    assert!(
        reply.zxid > created.zxid,
        "closeSession is a transaction with its own zxid"
    );
    assert!(
        raw::wait_closed(&mut r.stream, WAIT),
        "server closes TCP after closeSession"
    );

    // The ephemerals were deleted before the reply was sent.
    assert_eq!(b.check_stat(&e).await.unwrap(), None);

    // A closed session cannot be reattached.
    match RawConn::reattach(server.addr(), sid, &passwd, 10_000) {
        Ok(_) => panic!("reattached a closed session"),
        Err((mut s, resp)) => {
            assert!(resp.is_rejection(), "{resp:?}");
            assert_eq!(resp.body_len, 37);
            assert!(raw::wait_closed(&mut s, WAIT), "closed after the rejection");
        }
    }
    rm_rf(&b, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_raw_session_expires_and_ephemerals_vanish() {
    let server = Server::builder().tick_time(200).start();
    let b = server.client().await;
    let root = make_root(&b, "raw_expiry").await;
    let e = format!("{root}/e");

    let mut r = RawConn::connect(server.addr(), 1000);
    let t = r.timeout_ms;
    assert!(t > 0);
    r.create(&e, Some(b"bye"), 1).ok();
    r.create(&format!("{root}/keep"), Some(b""), 0).ok();
    let silent_since = Instant::now();
    let (sid, passwd) = (r.session_id, r.passwd.clone());

    let (stat, w) = b.check_and_watch_stat(&e).await.unwrap();
    assert_eq!(stat.unwrap().ephemeral_owner, sid);

    // The raw connection now sends nothing at all.
    let ev = wait_oneshot_for(w, expiry_bound(t, server.tick_ms())).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, e.as_str())
    );
    let waited = silent_since.elapsed();
    assert!(
        waited >= Duration::from_millis(t as u64 / 2),
        "expired after {waited:?}, timeout {t} ms: too early"
    );
    assert_eq!(b.check_stat(&e).await.unwrap(), None);
    assert!(b
        .check_stat(&format!("{root}/keep"))
        .await
        .unwrap()
        .is_some());

    // The server closed the expired session's connection...
    assert!(
        raw::wait_closed(&mut r.stream, WAIT),
        "expired connection is closed by the server"
    );
    // ...and refuses to reattach it: {0, 0, 0, 16 zero bytes}, then close.
    match RawConn::reattach(server.addr(), sid, &passwd, 1000) {
        Ok(_) => panic!("reattached an expired session"),
        Err((mut s, resp)) => {
            assert!(resp.is_rejection(), "{resp:?}");
            assert!(raw::wait_closed(&mut s, WAIT));
        }
    }
    rm_rf(&b, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_crate_session_expires_and_cannot_resume() {
    let server = Server::builder().tick_time(200).start();
    let b = server.client().await;
    let root = make_root(&b, "crate_expiry").await;
    let e = format!("{root}/e");

    let a = server
        .connector()
        .with_session_timeout(Duration::from_millis(1000))
        .with_detached()
        .connect(server.addr())
        .await
        .unwrap();
    let t = a.session_timeout();
    a.create(&e, b"", &options(CreateMode::Ephemeral))
        .await
        .unwrap();
    let (_, w) = b.check_and_watch_stat(&e).await.unwrap();
    // A detached client dropped: TCP closes, no closeSession, the session lives on until it expires.
    let info = a.into_session();

    let ev = wait_oneshot_for(w, expiry_bound(t.as_millis() as i32, server.tick_ms())).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, e.as_str())
    );

    let err = server
        .connector()
        .with_session(info)
        .connect(server.addr())
        .await
        .unwrap_err();
    assert_eq!(err, Error::SessionExpired);
    rm_rf(&b, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_keep_a_session_alive() {
    let server = Server::builder().tick_time(200).start();
    let b = server.client().await;
    let root = make_root(&b, "pings_alive").await;
    let e = format!("{root}/e");
    let mut r = RawConn::connect(server.addr(), 2000);
    let t = r.timeout_ms as u64;
    r.create(&e, Some(b""), 1).ok();
    // Ping every t/4 for 2.5 timeouts.
    let until = Instant::now() + Duration::from_millis(t * 5 / 2);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(t / 4)).await;
        assert_eq!(r.ping().err, 0);
    }
    assert_eq!(
        b.check_stat(&e).await.unwrap().unwrap().ephemeral_owner,
        r.session_id,
        "session still alive"
    );
    r.close_session();
    assert_eq!(b.check_stat(&e).await.unwrap(), None);
    rm_rf(&b, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_reattach_keeps_session_and_ephemerals() {
    let server = Server::start();
    let b = server.client().await;
    let root = make_root(&b, "raw_reattach").await;
    let e = format!("{root}/e");

    let mut r1 = RawConn::connect(server.addr(), 10_000);
    r1.create(&e, Some(b""), 1).ok();
    let (sid, passwd) = (r1.session_id, r1.passwd.clone());
    // Drop the TCP connection without closeSession.
    r1.stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop(r1);

    let mut r2 = RawConn::reattach(server.addr(), sid, &passwd, 8000)
        .unwrap_or_else(|(_, resp)| panic!("{resp:?}"));
    assert_eq!(r2.session_id, sid, "same session id");
    assert_eq!(r2.passwd, passwd, "same password");
    assert_eq!(
        r2.timeout_ms, 8000,
        "timeout renegotiated from the new request"
    );

    let st = b
        .check_stat(&e)
        .await
        .unwrap()
        .expect("ephemeral survives the reconnect");
    assert_eq!(st.ephemeral_owner, sid);
    let eph = r2.call(op::GET_EPHEMERALS, &raw::path_req(&root));
    assert_eq!(
        eph.ok().strs(),
        vec![e.clone()],
        "still owned by this session"
    );
    // New ephemerals on the reattached connection belong to the same session.
    let e2 = format!("{root}/e2");
    r2.create(&e2, Some(b""), 1).ok();
    assert_eq!(
        b.check_stat(&e2).await.unwrap().unwrap().ephemeral_owner,
        sid
    );

    r2.close_session();
    assert_eq!(b.check_stat(&e).await.unwrap(), None);
    assert_eq!(b.check_stat(&e2).await.unwrap(), None);
    rm_rf(&b, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reattach_closes_the_old_connection() {
    let server = Server::start();
    let b = server.client().await;
    let root = make_root(&b, "reattach_old_conn").await;
    let mut r1 = RawConn::connect(server.addr(), 10_000);
    r1.create(&format!("{root}/e"), Some(b""), 1).ok();
    let mut r2 = RawConn::reattach(server.addr(), r1.session_id, &r1.passwd.clone(), 10_000)
        .unwrap_or_else(|(_, resp)| panic!("{resp:?}"));
    assert!(
        raw::wait_closed(&mut r1.stream, WAIT),
        "the session's previous connection is closed"
    );
    assert_eq!(
        r2.exists(&format!("{root}/e"), false)
            .ok()
            .stat()
            .ephemeral_owner,
        r2.session_id
    );
    r2.close_session();
    rm_rf(&b, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reattach_with_bad_credentials_is_rejected() {
    let server = Server::start();
    let b = server.client().await;
    let root = make_root(&b, "reattach_bad").await;
    let e = format!("{root}/e");
    let mut r1 = RawConn::connect(server.addr(), 10_000);
    r1.create(&e, Some(b""), 1).ok();
    let (sid, passwd) = (r1.session_id, r1.passwd.clone());

    let mut wrong = passwd.clone();
    wrong[0] ^= 0xff;
    let unknown_sid = sid ^ 0x0000_0000_00ff_0000;
    for (what, id, pw) in [
        ("wrong password", sid, wrong.clone()),
        ("unknown session", unknown_sid, passwd.clone()),
    ] {
        match RawConn::reattach(server.addr(), id, &pw, 10_000) {
            Ok(_) => panic!("{what}: reattach accepted"),
            Err((mut s, resp)) => {
                assert!(resp.is_rejection(), "{what}: {resp:?}");
                assert_eq!(resp.protocol_version, 0);
                assert_eq!(resp.read_only, Some(false));
                assert!(
                    raw::wait_closed(&mut s, WAIT),
                    "{what}: connection closed after the rejection"
                );
            }
        }
    }
    // The session itself is unharmed: the right credentials still work.
    let mut r2 = RawConn::reattach(server.addr(), sid, &passwd, 10_000)
        .unwrap_or_else(|(_, resp)| panic!("{resp:?}"));
    assert_eq!(
        b.check_stat(&e).await.unwrap().unwrap().ephemeral_owner,
        sid
    );
    r2.close_session();
    assert_eq!(b.check_stat(&e).await.unwrap(), None);
    rm_rf(&b, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crate_session_resume_keeps_ephemerals() {
    let server = Server::start();
    let b = server.client().await;
    let root = make_root(&b, "crate_resume").await;
    let e = format!("{root}/e");

    let a1 = server
        .connector()
        .with_detached()
        .connect(server.addr())
        .await
        .unwrap();
    let sid = a1.session_id();
    a1.create(&e, b"", &options(CreateMode::Ephemeral))
        .await
        .unwrap();
    let info = a1.into_session(); // detached: the connection drops, the session stays

    let a2 = server
        .connector()
        .with_session(info)
        .connect(server.addr())
        .await
        .unwrap();
    assert_eq!(a2.session_id(), sid, "resumed the same session");
    let st = a2
        .check_stat(&e)
        .await
        .unwrap()
        .expect("ephemeral survives");
    assert_eq!(st.ephemeral_owner, sid.0);
    assert_eq!(a2.list_ephemerals(&root).await.unwrap(), vec![e.clone()]);

    // Not detached this time: dropping closes the session.
    let (_, w) = b.check_and_watch_stat(&e).await.unwrap();
    drop(a2);
    let ev = wait_oneshot(w).await;
    assert_eq!(ev.event_type, EventType::NodeDeleted);
    rm_rf(&b, &root).await;
}
