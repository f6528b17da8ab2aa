//! Attacks on real 3-server ensembles.
//!
//! The quorum port against a fake peer:
//!
//! * with `quorum.auth.enableSasl` (and both require flags, the JAAS file
//!   ZooKeeper users have), a process that claims a server id without the
//!   password gets no ZAB frame: a plain HELLO is closed at once, a wrong
//!   password gets only the challenge; the ensemble goes on serving. The
//!   same fake against the same ensemble without authentication is linked
//!   and gets the leader's LEADERINFO: the control that shows the check can
//!   fail (a loopback ensemble without authentication trusts local users);
//! * a frame header announcing a huge body closes the link at once, and
//!   the server's memory does not grow with what a header claims;
//! * a flood of greetings for a server's id does not take over its link:
//!   a client's requests on every server keep succeeding meanwhile.
//!
//! Sessions: a session's password is random and replicated, so a client
//! that knows another session's id (it shows in an ephemeral's Stat, `cons`,
//! `dump`) and derives ZooKeeper's password from it is refused on every
//! server, also after a restart, while the real password moves the session
//! between servers; ids do not follow each other.

mod common;

use common::ensemble::Ensemble;
use common::raw::{self, op, RawConn};
use corral::peer::auth::{self, Hello};
use corral::peer::{self, PeerMsg};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const JAAS: &str = r#"
QuorumServer {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_peer="quorum-secret";
};
QuorumLearner {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="peer"
       password="quorum-secret";
};
"#;

/// Reads until the server closes; returns what it sent.
fn drain(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    let mut b = [0u8; 4096];
    loop {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&b[..n]),
        }
    }
}

/// Servers 1 and 2 of `e` run (2 leads them); server 3 is stopped, so its
/// id is free for a fake. Returns the leader's index.
fn two_of_three(e: &mut Ensemble) -> usize {
    e.wait_stable(&[0, 1, 2], Duration::from_secs(30));
    e.kill(2);
    let l = e.wait_stable(&[0, 1], Duration::from_secs(30));
    assert_eq!(l, 1, "server 2 leads servers 1 and 2");
    l
}

fn quorum_addr(e: &Ensemble, i: usize) -> String {
    format!("{}:{}", e.nodes[i].host, e.nodes[i].quorum)
}

fn frame(m: &PeerMsg<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    peer::encode(m, &mut v);
    v
}

/// A client write and read on every running server succeed.
fn serves(e: &Ensemble, among: &[usize], tag: &str) {
    for &i in among {
        let addr = e.addrs()[i].clone();
        let mut c = RawConn::connect(&addr, 10_000);
        let path = format!("/{tag}-{i}");
        c.create(&path, Some(b"v"), 0).ok();
        c.get_data(&path, false).ok();
    }
}

#[test]
fn quorum_auth_keeps_a_fake_peer_out() {
    let tmp = tempfile::tempdir().unwrap();
    let jaas = tmp.path().join("jaas.conf");
    std::fs::write(&jaas, JAAS).unwrap();
    let extra = format!(
        "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
         quorum.auth.serverRequireSasl=true\ncorral.jaasConfig={}",
        jaas.display()
    );
    let mut e = Ensemble::start_with(3, |_| "127.0.0.1".into(), &extra);
    let l = two_of_three(&mut e);
    serves(&e, &[0, 1], "before");
    let target = quorum_addr(&e, l);
    // Claims server 3 without credentials: closed without a byte.
    let mut s = TcpStream::connect(&target).unwrap();
    s.write_all(&Hello { id: 3, auth: None }.encode()).unwrap();
    s.write_all(&frame(&PeerMsg::FollowerInfo {
        server_id: 3,
        accepted_epoch: 0,
        current_epoch: 0,
        accepted_from: 0,
        last_zxid: 0,
        is_observer: false,
    }))
    .unwrap();
    assert!(
        drain(&mut s).is_empty(),
        "an unauthenticated peer got bytes"
    );
    // With a guessed password: the challenge, then the close.
    let mut s = TcpStream::connect(&target).unwrap();
    let nd = [3u8; auth::NONCE_LEN];
    s.write_all(
        &Hello {
            id: 3,
            auth: Some((nd, "peer".into())),
        }
        .encode(),
    )
    .unwrap();
    let mut c = [0u8; auth::CHALLENGE_LEN];
    s.read_exact(&mut c).unwrap();
    let na: auth::Nonce = c[1..].try_into().unwrap();
    s.write_all(&auth::dialer_proof("guess", 3, 2, &na, &nd))
        .unwrap();
    assert!(
        drain(&mut s).is_empty(),
        "a wrong password got more than the challenge"
    );
    serves(&e, &[0, 1], "after");
    // The real server 3 (with the password) joins and serves.
    e.launch(2);
    e.wait_stable(&[0, 1, 2], Duration::from_secs(30));
    serves(&e, &[0, 1, 2], "joined");
    let log = std::fs::read_to_string(e.nodes[l].dir.join("out.log")).unwrap();
    assert!(
        log.contains("refused a peer connection") && log.contains("failed authentication"),
        "refusals are logged with the address:\n{}",
        e.logs()
    );
}

/// The control: without authentication the same fake is linked as server 3
/// and the leader answers its FOLLOWERINFO (what enableSasl prevents).
#[test]
fn without_quorum_auth_a_local_fake_is_linked() {
    let mut e = Ensemble::start(3);
    let l = two_of_three(&mut e);
    let mut s = TcpStream::connect(quorum_addr(&e, l)).unwrap();
    s.write_all(&Hello { id: 3, auth: None }.encode()).unwrap();
    s.write_all(&frame(&PeerMsg::FollowerInfo {
        server_id: 3,
        accepted_epoch: 0,
        current_epoch: 0,
        accepted_from: 0,
        last_zxid: 0,
        is_observer: false,
    }))
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let got = loop {
        let mut b = [0u8; 4096];
        let n = s.read(&mut b).expect("the leader answers");
        assert!(n > 0, "closed");
        buf.extend_from_slice(&b[..n]);
        if let Ok(Some((m, _))) = peer::decode_frame(&buf) {
            if !matches!(m, PeerMsg::Notification(_)) {
                break m.msg_type();
            }
            let used = peer::decode_frame(&buf).unwrap().unwrap().1;
            buf.drain(..used);
        }
    };
    assert_eq!(got, peer::MsgType::LeaderInfo);
}

#[test]
fn a_frame_header_cannot_balloon_a_servers_memory() {
    let mut e = Ensemble::start(3);
    let l = two_of_three(&mut e);
    let before = e.rss_kib(l);
    let mut conns = Vec::new();
    for _ in 0..2 {
        // Linked as server 3 (no authentication here), then a header
        // announcing a 1 GiB body and a few bytes of it.
        let mut s = TcpStream::connect(quorum_addr(&e, l)).unwrap();
        s.write_all(&Hello { id: 3, auth: None }.encode()).unwrap();
        let mut h = peer::MAGIC.to_vec();
        h.push(peer::VERSION);
        h.push(peer::MsgType::Proposal as u8);
        h.extend_from_slice(&(1u32 << 30).to_le_bytes());
        h.extend_from_slice(&[0; 4]);
        h.extend_from_slice(&[0x55; 16]);
        s.write_all(&h).unwrap();
        conns.push(s);
    }
    for s in &mut conns {
        drain(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = e.rss_kib(l);
    assert!(
        after < before + 8 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    serves(&e, &[0, 1], "still");
}

#[test]
fn a_flood_of_greetings_does_not_break_the_ensemble() {
    let e = Ensemble::start(3);
    let all = [0, 1, 2];
    e.wait_stable(&all, Duration::from_secs(30));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let (stop, targets) = (stop.clone(), vec![quorum_addr(&e, 0), quorum_addr(&e, 1)]);
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (k, t) in targets.iter().enumerate() {
                    if let Ok(mut s) = TcpStream::connect(t) {
                        // Server k+1's links are dialed by the larger ids.
                        let _ = s.write_all(
                            &Hello {
                                id: k as u64 + 2,
                                auth: None,
                            }
                            .encode(),
                        );
                        n += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            n
        })
    };
    let mut ok = 0;
    let mut clients: Vec<RawConn> = e
        .addrs()
        .iter()
        .map(|a| RawConn::connect(a, 10_000))
        .collect();
    for k in 0..150 {
        let c = &mut clients[k % 3];
        let p = format!("/flood-{k}");
        c.create(&p, Some(b"x"), 0).ok();
        c.call(op::GET_DATA, &raw::path_watch_req(&p, false)).ok();
        ok += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let greetings = flood.join().unwrap();
    assert!(greetings > 50, "{greetings} greetings");
    assert_eq!(ok, 150);
    assert_eq!(
        e.wait_stable(&all, Duration::from_secs(5)),
        e.wait_stable(&all, Duration::from_secs(5))
    );
}

#[test]
fn a_neighbours_session_cannot_be_taken_over() {
    let mut e = Ensemble::start(3);
    let all = [0, 1, 2];
    e.wait_stable(&all, Duration::from_secs(30));
    let addrs = e.addrs();
    let mut victim = RawConn::connect(&addrs[0], 30_000);
    victim.create("/lock", Some(b"held"), 1).ok(); // ephemeral
    let (sid, passwd) = (victim.session_id, victim.passwd.clone());
    let derived = corral::session::legacy_password(sid);
    assert_ne!(passwd, derived.to_vec(), "the password follows from the id");
    // The owner shows in the lock's Stat, as any client can see.
    let mut other = RawConn::connect(&addrs[1], 30_000);
    let r = other.exists("/lock", false);
    assert_eq!(r.ok().stat().ephemeral_owner, sid);
    for a in &addrs {
        assert!(
            RawConn::reattach(a, sid, &derived, 30_000).is_err(),
            "{a}: the derived password was accepted"
        );
    }
    // Ids do not follow each other.
    let ids: Vec<i64> = (0..3)
        .map(|k| RawConn::connect(&addrs[k], 30_000).session_id)
        .collect();
    for w in ids.windows(2) {
        assert!((w[0] - w[1]).unsigned_abs() > 1 << 32, "ids {ids:x?}");
    }
    // The real password moves the session to another server.
    drop(victim);
    let mut moved = RawConn::reattach(&addrs[2], sid, &passwd, 30_000).expect("moved");
    moved.exists("/lock", false).ok();
    // After a restart of every server (snapshots and logs), the same.
    drop(moved);
    for i in 0..3 {
        e.kill(i);
    }
    for i in 0..3 {
        e.launch(i);
    }
    e.wait_stable(&all, Duration::from_secs(30));
    for a in &addrs {
        assert!(RawConn::reattach(a, sid, &derived, 30_000).is_err());
    }
    let mut back = RawConn::reattach(&addrs[1], sid, &passwd, 30_000).expect("reattached");
    let r = back.exists("/lock", false);
    assert_eq!(r.ok().stat().ephemeral_owner, sid);
}

/// A CA for quorum certificates.
fn quorum_ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let key = KeyPair::generate().unwrap();
    (p.self_signed(&key).unwrap(), key)
}

/// A server certificate from `issuer` (every test server runs on 127.0.0.1).
fn quorum_leaf(
    issuer: &(rcgen::Certificate, rcgen::KeyPair),
) -> (rcgen::Certificate, rcgen::KeyPair) {
    let mut p =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "corral server");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &issuer.0, &issuer.1).unwrap();
    (cert, key)
}

/// Writes a PEM key store (key, certificate, issuer) and a trust store of
/// `trusted` CAs, each through a rename so a reader never sees half a file.
fn write_quorum_stores(
    dir: &std::path::Path,
    leaf: &(rcgen::Certificate, rcgen::KeyPair),
    issuer: &rcgen::Certificate,
    trusted: &[&rcgen::Certificate],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let put = |name: &str, text: String| {
        let tmp = dir.join(format!("{name}.new"));
        std::fs::write(&tmp, text).unwrap();
        let path = dir.join(name);
        std::fs::rename(&tmp, &path).unwrap();
        path
    };
    let ks = put(
        "server.pem",
        format!("{}{}{}", leaf.1.serialize_pem(), leaf.0.pem(), issuer.pem()),
    );
    let ts = put(
        "ca.pem",
        trusted.iter().map(|c| c.pem()).collect::<Vec<_>>().concat(),
    );
    (ks, ts)
}

/// The zoo.cfg lines of a TLS quorum with these stores.
fn ssl_quorum_cfg(ks: &std::path::Path, ts: &std::path::Path) -> String {
    format!(
        "sslQuorum=true\nssl.quorum.keyStore.location={}\nssl.quorum.keyStore.type=PEM\n\
         ssl.quorum.trustStore.location={}\nssl.quorum.trustStore.type=PEM",
        ks.display(),
        ts.display()
    )
}

/// TLS to server `i`'s quorum port with a client certificate, trusting
/// `roots` for the server's.
fn dial_quorum(
    e: &Ensemble,
    i: usize,
    roots: &[&rcgen::Certificate],
    cert: &rcgen::Certificate,
    key: &rcgen::KeyPair,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store
            .add(rustls::pki_types::CertificateDer::from(r.der().to_vec()))
            .unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_client_auth_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    let conn = rustls::ClientConnection::new(
        std::sync::Arc::new(cfg),
        rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
    )
    .unwrap();
    let tcp = TcpStream::connect(quorum_addr(e, i)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Whether a peer with this certificate gets anything past the TLS
/// handshake and its HELLO: the server's reply to a HELLO with an id it
/// does not know is a close, so "gets bytes" never happens; what tells a
/// trusted certificate from an untrusted one is whether the handshake
/// completes at all.
fn quorum_handshake_completes(
    e: &Ensemble,
    i: usize,
    roots: &[&rcgen::Certificate],
    cert: &rcgen::Certificate,
    key: &rcgen::KeyPair,
) -> Option<Vec<u8>> {
    let mut s = dial_quorum(e, i, roots, cert, key);
    s.conn.complete_io(&mut s.sock).ok()?;
    if s.conn.is_handshaking() {
        return None;
    }
    // TLS 1.3: the server checks the client's certificate after the
    // client's side of the handshake is done; a refusal arrives as an
    // alert on the first read.
    let _ = s.write_all(b"CRPRPR02\0\0\0\0\0\0\0\x03");
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => None,
        _ => s
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec()),
    }
}

/// `sslQuorum=true`: the servers link over TLS with certificates from the
/// `ssl.quorum.*` stores and replicate; a plaintext peer and a TLS peer
/// whose certificate comes from another CA are closed before any ZAB frame,
/// and the ensemble keeps serving.
#[test]
fn ssl_quorum_links_need_a_trusted_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let good = quorum_ca("quorum CA");
    let (cert, key) = quorum_leaf(&good);
    let leaf = (cert, key);
    let (ks, ts) = write_quorum_stores(tmp.path(), &leaf, &good.0, &[&good.0]);
    let e = Ensemble::start_with(3, |_| "127.0.0.1".into(), &ssl_quorum_cfg(&ks, &ts));
    e.wait_stable(&[0, 1, 2], Duration::from_secs(30));
    serves(&e, &[0, 1, 2], "tlsq");
    // Written through one server, read on another: the links carry ZAB.
    let mut a = RawConn::connect(&e.addrs()[0], 10_000);
    a.create("/over-tls", Some(b"q"), 0).ok();
    let mut b = RawConn::connect(&e.addrs()[2], 10_000);
    b.call(op::SYNC, &raw::path_req("/over-tls")).ok();
    assert_eq!(b.get_data("/over-tls", false).ok().buf().unwrap(), b"q");

    // A plaintext peer: its HELLO is not TLS; the acceptor closes.
    let mut plain = TcpStream::connect(quorum_addr(&e, 0)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = plain.write_all(b"CRPRPR02\0\0\0\0\0\0\0\x03");
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(got.len() < 16, "a plaintext peer got {} bytes", got.len());

    // The port speaks TLS with the server's certificate, which the quorum
    // CA signed: a trusted peer completes the handshake.
    let mut trusted = dial_quorum(&e, 0, &[&good.0], &leaf.0, &leaf.1);
    trusted.conn.complete_io(&mut trusted.sock).unwrap();
    assert!(!trusted.conn.is_handshaking());
    assert!(trusted
        .conn
        .peer_certificates()
        .is_some_and(|c| !c.is_empty()));

    // A TLS peer with a certificate from another CA.
    let stranger = quorum_ca("stranger CA");
    let (scert, skey) = quorum_leaf(&stranger);
    let mut tls = dial_quorum(&e, 0, &[&good.0], &scert, &skey);
    let _ = tls.write_all(b"CRPRPR02\0\0\0\0\0\0\0\x03");
    let mut buf = [0u8; 64];
    assert!(
        !matches!(tls.read(&mut buf), Ok(n) if n > 0),
        "a peer with an untrusted certificate got bytes"
    );
    serves(&e, &[0, 1, 2], "tlsq-after");
}

/// `sslQuorumReloadCertFiles=true`: new key and trust stores written over
/// the old ones are used by the next peer connections (a certificate from
/// the new CA is accepted, and the server shows its new certificate) while
/// the links already up keep replicating.
#[test]
fn ssl_quorum_certificates_reload_without_dropping_links() {
    let tmp = tempfile::tempdir().unwrap();
    let old_ca = quorum_ca("old quorum CA");
    let old_leaf = quorum_leaf(&old_ca);
    let (ks, ts) = write_quorum_stores(tmp.path(), &old_leaf, &old_ca.0, &[&old_ca.0]);
    let cfg = format!(
        "{}\nsslQuorumReloadCertFiles=true",
        ssl_quorum_cfg(&ks, &ts)
    );
    let e = Ensemble::start_with(3, |_| "127.0.0.1".into(), &cfg);
    e.wait_stable(&[0, 1, 2], Duration::from_secs(30));
    serves(&e, &[0, 1, 2], "reload-before");

    let new_ca = quorum_ca("new quorum CA");
    let new_leaf = quorum_leaf(&new_ca);
    let both = [&old_ca.0, &new_ca.0];
    assert_eq!(
        quorum_handshake_completes(&e, 0, &both, &new_leaf.0, &new_leaf.1),
        None,
        "a certificate from the new CA before the stores changed"
    );
    // The new certificate, and a trust store with both CAs (the servers
    // pick the files up one by one).
    write_quorum_stores(tmp.path(), &new_leaf, &new_ca.0, &both);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let shown = loop {
        // Each server looks at its files at most once a second.
        std::thread::sleep(Duration::from_millis(300));
        if let Some(c) = quorum_handshake_completes(&e, 0, &both, &new_leaf.0, &new_leaf.1) {
            break c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new stores were not picked up"
        );
    };
    assert_eq!(shown, new_leaf.0.der().to_vec(), "the server's certificate");
    serves(&e, &[0, 1, 2], "reload-after");
}

/// `ssl.quorum.hostnameVerification` (on by default): a server whose
/// certificate does not name the host of its `server.N` line gets no link,
/// since the servers that dial it refuse its certificate, and the other two
/// form the quorum without it; turned off, the chain alone counts and all
/// three join.
#[test]
fn ssl_quorum_hostname_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = quorum_ca("quorum CA");
    // The certificate names 127.0.0.1 and localhost; server 1 runs on
    // 127.0.0.2 (loopback too).
    let leaf = quorum_leaf(&ca);
    let (ks, ts) = write_quorum_stores(tmp.path(), &leaf, &ca.0, &[&ca.0]);
    let host = |i: usize| if i == 1 { "127.0.0.2" } else { "127.0.0.1" }.to_string();
    let e = Ensemble::start_with(3, host, &ssl_quorum_cfg(&ks, &ts));
    e.wait_stable(&[1, 2], Duration::from_secs(30));
    serves(&e, &[1, 2], "names");
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        let mode = e.mode(0);
        assert!(
            !matches!(mode.as_deref(), Some("leader" | "follower")),
            "the server whose certificate does not name its host joined: {mode:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(e);

    let cfg = format!(
        "{}\nssl.quorum.hostnameVerification=false",
        ssl_quorum_cfg(&ks, &ts)
    );
    let e = Ensemble::start_with(3, host, &cfg);
    e.wait_stable(&[0, 1, 2], Duration::from_secs(30));
    serves(&e, &[0, 1, 2], "any-name");
}
