//! The server-to-server links over real loopback sockets: three servers
//! connect pairwise (the larger id dials), exchange peer frames both ways,
//! survive a reset (re-dial, new generation), and refuse a connection that
//! claims a smaller id or lacks the preamble.

use corral::peer::{self, PeerMsg};
use corral::runtime::peers::{listen, PeerEvent, PeerNet, PeerNetConfig, ServerId, PREAMBLE_MAGIC};
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
    let mut p = PREAMBLE_MAGIC.to_vec();
    p.extend_from_slice(&id.to_le_bytes());
    p
}
