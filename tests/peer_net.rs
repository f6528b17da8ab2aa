//! The server-to-server links over real loopback sockets: three servers
//! connect pairwise (the larger id dials), exchange peer frames both ways,
//! survive a reset (re-dial, new generation), and refuse a connection that
//! claims a smaller id or an unknown one, or lacks the HELLO; with quorum
//! authentication, strangers without the password (or with a wrong one)
//! are closed after the challenge, and a flood of greetings does not take
//! over a healthy link.

use corral::peer::auth::{self, Hello};
use corral::peer::{self, PeerMsg};
use corral::runtime::peers::{listen, PeerAuth, PeerEvent, PeerNet, PeerNetConfig, ServerId};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn ack(zxid: i64) -> Vec<u8> {
    let mut out = Vec::new();
    peer::encode(&PeerMsg::Ack { zxid }, &mut out);
    out
}

fn ack_zxid(frame: &[u8]) -> i64 {
    match peer::decode_frame(frame) {
        Ok(Some((PeerMsg::Ack { zxid }, n))) if n == frame.len() => zxid,
        other => panic!("not an Ack frame: {other:?}"),
    }
}

/// Waits for the next event, failing after 10 s.
async fn next(net: &PeerNet) -> PeerEvent {
    glommio::timer::timeout(Duration::from_secs(10), async { Ok(net.next().await) })
        .await
        .unwrap_or_else(|_| panic!("server {}: no peer event within 10 s", net.my_id()))
}

/// Runs until every one of `peers` is up; returns their generations in
/// that order. Frames that arrive meanwhile are kept in `early`.
async fn until_up(
    net: &PeerNet,
    peers: &[ServerId],
    early: &mut Vec<(ServerId, Vec<u8>)>,
) -> Vec<u64> {
    let mut gens = vec![None; peers.len()];
    while gens.iter().any(Option::is_none) {
        match next(net).await {
            PeerEvent::Up { peer, gen } => {
                if let Some(i) = peers.iter().position(|p| *p == peer) {
                    gens[i] = Some(gen);
                }
            }
            PeerEvent::Frame { peer, frame } => early.push((peer, frame)),
            PeerEvent::Down { peer, .. } => {
                if let Some(i) = peers.iter().position(|p| *p == peer) {
                    gens[i] = None;
                }
            }
        }
    }
    gens.into_iter().map(Option::unwrap).collect()
}

async fn frame_from(
    net: &PeerNet,
    peer: ServerId,
    early: &mut Vec<(ServerId, Vec<u8>)>,
) -> Vec<u8> {
    if let Some(i) = early.iter().position(|(p, _)| *p == peer) {
        return early.remove(i).1;
    }
    loop {
        match next(net).await {
            PeerEvent::Frame { peer: p, frame } if p == peer => return frame,
            PeerEvent::Frame { peer: p, frame } => early.push((p, frame)),
            _ => {}
        }
    }
}

#[test]
fn three_servers_link_exchange_reset_and_refuse_strangers() {
    let addrs: Vec<(ServerId, SocketAddr)> = (1..=3).map(|id| (id, free_addr())).collect();
    let (done_tx, done_rx) = mpsc::channel::<(ServerId, u64)>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let mut go_rx = Some(go_rx);
    let mut threads = Vec::new();
    for &(me, my_addr) in &addrs {
        let peers: Vec<_> = addrs.iter().copied().filter(|(id, _)| *id != me).collect();
        let done = done_tx.clone();
        let go = if me == 3 { go_rx.take() } else { None };
        threads.push(
            glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                .name(&format!("peer-test-{me}"))
                .spawn(move || async move {
                    let incoming = listen(my_addr, &format!("peer-acceptor-{me}")).unwrap();
                    let net = PeerNet::start(
                        PeerNetConfig {
                            my_id: me,
                            peers: peers.clone(),
                            queue_frames: 1024,
                            max_body: 1 << 20,
                            // Servers 1 and 2 dial from their own address.
                            bind: (me != 3).then(|| my_addr.ip()),
                            auth: PeerAuth::default(),
                            check_source: false,
                            tls: None,
                        },
                        incoming,
                    );
                    let mut early = Vec::new();
                    let ids: Vec<ServerId> = peers.iter().map(|(p, _)| *p).collect();
                    let gens = until_up(&net, &ids, &mut early).await;
                    // Exchange: each server sends every other one an Ack
                    // whose zxid encodes (from, to), a burst of 200.
                    for (p, _) in &peers {
                        for k in 0..200 {
                            assert!(net.send(*p, ack((me * 1000 + p) as i64 * 1000 + k)));
                        }
                    }
                    for (p, _) in &peers {
                        for k in 0..200 {
                            let z = ack_zxid(&frame_from(&net, *p, &mut early).await);
                            assert_eq!(
                                z,
                                (p * 1000 + me) as i64 * 1000 + k,
                                "server {me} from {p}"
                            );
                        }
                    }
                    // Everyone has everything: say so, and wait to hear it
                    // (links are FIFO), so the reset below loses nothing.
                    for (p, _) in &peers {
                        assert!(net.send(*p, ack(-1)));
                    }
                    for (p, _) in &peers {
                        assert_eq!(ack_zxid(&frame_from(&net, *p, &mut early).await), -1);
                    }
                    // Server 1 resets its link to 2 (2 dialed it): both see
                    // the connection go down and come back as a new one.
                    if me == 1 || me == 2 {
                        let other = 3 - me;
                        let old = gens[peers.iter().position(|(p, _)| *p == other).unwrap()];
                        if me == 2 {
                            // Everything of 1's arrived; 1 may reset now.
                            assert!(net.send(1, ack(-2)));
                        } else {
                            assert_eq!(ack_zxid(&frame_from(&net, 2, &mut early).await), -2);
                            net.reset(2);
                        }
                        loop {
                            match next(&net).await {
                                PeerEvent::Down { peer, gen } if peer == other => {
                                    assert_eq!(gen, old);
                                    break;
                                }
                                PeerEvent::Frame { peer, .. } => {
                                    panic!("server {me}: stray frame from {peer}")
                                }
                                _ => {}
                            }
                        }
                        let new = until_up(&net, &[other], &mut early).await[0];
                        assert_ne!(new, old);
                        assert!(net.send(other, ack(me as i64)));
                        assert_eq!(
                            ack_zxid(&frame_from(&net, other, &mut early).await),
                            other as i64
                        );
                    }
                    if let Some(go) = go {
                        // Let the test thread try its stranger connections
                        // against server 3, then report the refusals.
                        done.send((me, 0)).unwrap();
                        while go.try_recv().is_err() {
                            glommio::timer::sleep(Duration::from_millis(10)).await;
                        }
                        done.send((me, net.stats().refused)).unwrap();
                    } else {
                        done.send((me, net.stats().connections)).unwrap();
                        // Stay up until server 3 is done with the strangers.
                        glommio::timer::sleep(Duration::from_secs(2)).await;
                    }
                })
                .unwrap(),
        );
    }
    drop(done_tx);
    let mut ready = Vec::new();
    for _ in 0..3 {
        ready.push(
            done_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("a server got stuck"),
        );
    }
    ready.sort();
    // Servers 1 and 2 each saw three connections: to the other two, and the
    // re-established one between them.
    assert_eq!(&ready[..2], &[(1, 3), (2, 3)]);

    // Strangers at server 3: a smaller id (it must dial, not be dialed), an
    // unknown id, and garbage. Each is closed without a byte.
    let addr3 = addrs[2].1;
    for (what, bytes) in [
        ("smaller id", preamble(1)),
        ("unknown id", preamble(9)),
        ("garbage", b"GET / HTTP/1.1\r\n".to_vec()),
    ] {
        let mut s = TcpStream::connect(addr3).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&bytes).unwrap();
        let mut b = [0u8; 1];
        let n = s.read(&mut b).unwrap_or(0);
        assert_eq!(n, 0, "{what}: connection not closed");
    }
    go_tx.send(()).unwrap();
    let (id, refused) = done_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!((id, refused), (3, 3));
    for t in threads {
        t.join().unwrap();
    }
}

fn preamble(id: u64) -> Vec<u8> {
    Hello { id, auth: None }.encode()
}

/// What [`pair`] returns: the addresses, each server's `(id, refused,
/// auth failures)` report, the go signal, and the threads.
type Pair = (
    Vec<SocketAddr>,
    mpsc::Receiver<(ServerId, u64, u64)>,
    mpsc::Sender<()>,
    Vec<glommio::ExecutorJoinHandle<()>>,
);

/// Two servers (2 dials 1) with `auth`, started on their own executors;
/// each reports `(id, refused, auth failures)` on `done` once the test
/// thread says `go` (after its stranger connections against server 1),
/// having watched its link meanwhile: a Down of the link fails the test.
/// Server 2 keeps sending frames so that the link stays healthy.
fn pair(auth: PeerAuth) -> Pair {
    let addrs: Vec<SocketAddr> = (0..2).map(|_| free_addr()).collect();
    let (done_tx, done_rx) = mpsc::channel();
    let (up_tx, up_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = std::sync::Arc::new(std::sync::Mutex::new(go_rx));
    let mut threads = Vec::new();
    for me in 1..=2u64 {
        let my_addr = addrs[me as usize - 1];
        let other = 3 - me;
        let peers = vec![(other, addrs[other as usize - 1])];
        let (done, up, go, auth) = (done_tx.clone(), up_tx.clone(), go_rx.clone(), auth.clone());
        threads.push(
            glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                .name(&format!("peer-auth-{me}"))
                .spawn(move || async move {
                    let incoming = listen(my_addr, &format!("peer-auth-acceptor-{me}")).unwrap();
                    let net = PeerNet::start(
                        PeerNetConfig {
                            my_id: me,
                            peers,
                            queue_frames: 1024,
                            max_body: 1 << 20,
                            bind: Some(my_addr.ip()),
                            auth,
                            check_source: true,
                            tls: None,
                        },
                        incoming,
                    );
                    let mut early = Vec::new();
                    let gen = until_up(&net, &[other], &mut early).await[0];
                    up.send(()).unwrap();
                    let mut k = 0;
                    loop {
                        if go.lock().unwrap().try_recv().is_ok() {
                            break;
                        }
                        if me == 2 {
                            k += 1;
                            assert!(net.send(1, ack(k)), "the link went down");
                        }
                        while let Some(ev) = net.try_next() {
                            if let PeerEvent::Down { .. } = ev {
                                panic!("server {me}: the link (generation {gen}) went down");
                            }
                        }
                        glommio::timer::sleep(Duration::from_millis(20)).await;
                    }
                    let st = net.stats();
                    done.send((me, st.refused, st.auth_failures)).unwrap();
                })
                .unwrap(),
        );
    }
    up_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("link 1-2 up");
    up_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("link 1-2 up");
    (addrs, done_rx, go_tx, threads)
}

/// Reads until the peer closes; returns what it sent.
fn drain(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    let mut b = [0u8; 256];
    loop {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&b[..n]),
        }
    }
}

#[test]
fn authenticated_links_keep_strangers_out() {
    let mut users = std::collections::BTreeMap::new();
    users.insert("server".to_string(), "s3cret".to_string());
    let auth = PeerAuth {
        login: Some(("server".into(), "s3cret".into())),
        users,
        require_dialers: true,
        require_acceptors: true,
    };
    let (addrs, done, go, threads) = pair(auth);
    let a1 = addrs[0];
    // No credentials: closed without a byte.
    let mut s = TcpStream::connect(a1).unwrap();
    s.write_all(&preamble(2)).unwrap();
    assert!(
        drain(&mut s).is_empty(),
        "an unauthenticated dialer got bytes"
    );
    // A wrong password, a right one for an unknown user: only the
    // challenge comes back, then the close.
    for (user, password) in [("server", "guess"), ("nobody", "s3cret")] {
        let mut s = TcpStream::connect(a1).unwrap();
        let nd = [7u8; auth::NONCE_LEN];
        s.write_all(
            &Hello {
                id: 2,
                auth: Some((nd, user.into())),
            }
            .encode(),
        )
        .unwrap();
        let mut c = [0u8; auth::CHALLENGE_LEN];
        s.read_exact(&mut c).unwrap();
        assert_eq!(c[0], 1, "challenged");
        let na: auth::Nonce = c[1..].try_into().unwrap();
        s.write_all(&auth::dialer_proof(password, 2, 1, &na, &nd))
            .unwrap();
        assert!(
            drain(&mut s).is_empty(),
            "{user}/{password}: got the server's proof"
        );
    }
    go.send(()).unwrap();
    go.send(()).unwrap();
    let mut got: Vec<_> = (0..2)
        .map(|_| done.recv_timeout(Duration::from_secs(20)).unwrap())
        .collect();
    got.sort();
    // Server 1 refused all three and counted the three failed openings.
    assert_eq!(got[0], (1, 3, 3));
    for t in threads {
        t.join().unwrap();
    }
}

/// Without authentication (a loopback dev ensemble), a stranger repeating
/// a server's greeting cannot take over the established, healthy link.
#[test]
fn a_flood_of_greetings_does_not_take_over_a_healthy_link() {
    let (addrs, done, go, threads) = pair(PeerAuth::default());
    let mut refused_bytes = 0;
    for _ in 0..20 {
        let mut s = TcpStream::connect(addrs[0]).unwrap();
        s.write_all(&preamble(2)).unwrap();
        refused_bytes += drain(&mut s).len();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(refused_bytes, 0);
    go.send(()).unwrap();
    go.send(()).unwrap();
    let mut got: Vec<_> = (0..2)
        .map(|_| done.recv_timeout(Duration::from_secs(20)).unwrap())
        .collect();
    got.sort();
    assert_eq!(got[0].1, 20, "every greeting refused");
    for t in threads {
        t.join().unwrap();
    }
}
