//! Server-to-server connections (the election and quorum ports of
//! `server.N` lines), on the core shard.
//!
//! * One TCP connection per pair of servers and port. The server with the
//!   larger id dials; a connection from a smaller id is refused, so a pair
//!   never ends up with two (ZooKeeper's rule). A dialer re-dials with
//!   exponential backoff (50 ms to 1 s) whenever its connection is down.
//! * A connection opens with the dialer's HELLO (`crate::peer::auth`): its
//!   server id, and with quorum authentication a challenge-response over
//!   the shared password, dialer first, before any frame. The acceptor
//!   checks that the id is a configured server larger than its own and, by
//!   default, that the connection comes from that server's configured
//!   address (unless every server is on loopback); anything else is closed
//!   and logged with the address. At most [`MAX_HANDSHAKES`] openings are
//!   in progress at once, each bounded by [`HANDSHAKE_TIMEOUT`].
//! * A healthy link (a frame within [`HEALTHY`]) is only replaced by a new
//!   connection for the same id that authenticated: a stranger repeating a
//!   server's greeting cannot tear the real link down.
//! * Then both directions carry peer frames (`crate::peer`). Frames are cut
//!   by their length field only; the owner decodes them (magic, crc, type)
//!   and calls [`PeerNet::reset`] on a bad one. A frame longer than the
//!   maximum closes the connection at once, and the receive buffer grows
//!   with the bytes that actually arrived, not with the length a header
//!   announces.
//! * Sending never blocks the caller: each peer has a bounded lock-free
//!   queue (crossbeam `ArrayQueue`) drained by that peer's sender task, many
//!   frames per write. A full queue means the peer cannot keep up; that
//!   connection is reset (the protocol resynchronises it), so one slow peer
//!   never holds up the others. Frames for a peer that is down are refused.
//! * The owner sees [`PeerEvent`]s in order: `Up`, frames, `Down`, with a
//!   generation number so that it can tell one connection from the next.

use crate::peer::auth::{self, Hello};
use crate::peer::HEADER_LEN;
use crate::types::FxHashMap;
use crossbeam::queue::ArrayQueue;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::shared_channel::SharedReceiver;
use glommio::net::TcpStream;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

pub type ServerId = u64;

/// Openings (HELLO and authentication) in progress at once; more are
/// closed at once.
pub const MAX_HANDSHAKES: usize = 16;
/// An opening must complete within this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// A link that delivered a frame this recently is not replaced by an
/// unauthenticated newcomer.
pub const HEALTHY: Duration = Duration::from_secs(2);
/// The receive buffer starts at this and doubles as bytes arrive.
const READ_CHUNK: usize = 64 * 1024;

/// Quorum authentication (ZooKeeper's `quorum.auth.*` keys and the JAAS
/// `QuorumLearner`/`QuorumServer` sections).
#[derive(Clone, Debug, Default)]
pub struct PeerAuth {
    /// Credentials presented when dialing: (user, password).
    pub login: Option<(String, String)>,
    /// Users accepted when dialed: user -> password.
    pub users: std::collections::BTreeMap<String, String>,
    /// Refuse dialers that do not authenticate (`serverRequireSasl`).
    pub require_dialers: bool,
    /// Refuse acceptors that cannot prove the password
    /// (`learnerRequireSasl`).
    pub require_acceptors: bool,
}

/// What happened on the peer links, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// A connection to `peer` is established (generation `gen`).
    Up { peer: ServerId, gen: u64 },
    /// One whole frame (header included) from `peer`.
    Frame { peer: ServerId, frame: Vec<u8> },
    /// The connection of generation `gen` to `peer` is gone.
    Down { peer: ServerId, gen: u64 },
}

#[derive(Clone, Debug)]
pub struct PeerNetConfig {
    pub my_id: ServerId,
    /// Every other server and its address on this port.
    pub peers: Vec<(ServerId, SocketAddr)>,
    /// Frames queued per peer before it counts as too slow.
    pub queue_frames: usize,
    /// Largest frame body accepted.
    pub max_body: u32,
    /// Source address for dialing (this server's own address), so that a
    /// peer sees connections from the address its `server.N` line names.
    /// None lets the kernel choose.
    pub bind: Option<std::net::IpAddr>,
    pub auth: PeerAuth,
    /// Refuse a connection claiming an id from another address than that
    /// server's configured one.
    pub check_source: bool,
    /// `sslQuorum`: every link is TLS with certificates on both sides,
    /// before the HELLO.
    pub tls: Option<PeerTls>,
}

/// TLS between servers: the acceptor's config (client certificates
/// required), the dialer's (both reloaded from their files with
/// `sslQuorumReloadCertFiles`), and the name each peer is dialed by (its
/// `server.N` host, which its certificate must name unless hostname
/// verification is off).
#[derive(Clone)]
pub struct PeerTls {
    pub accept: std::sync::Arc<super::tls::Reloading<rustls::ServerConfig>>,
    pub dial: std::sync::Arc<super::tls::Reloading<rustls::ClientConfig>>,
    pub names: Vec<(ServerId, rustls::pki_types::ServerName<'static>)>,
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTls")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// A link's byte stream: plain TCP, or TLS on either side.
enum PeerStream {
    Plain(TcpStream),
    Dialed(Box<futures_rustls::client::TlsStream<TcpStream>>),
    Accepted(Box<futures_rustls::server::TlsStream<TcpStream>>),
}

impl PeerStream {
    fn tcp(&self) -> &TcpStream {
        match self {
            PeerStream::Plain(s) => s,
            PeerStream::Dialed(s) => s.get_ref().0,
            PeerStream::Accepted(s) => s.get_ref().0,
        }
    }
}

impl futures_lite::AsyncRead for PeerStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            PeerStream::Dialed(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
            PeerStream::Accepted(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl futures_lite::AsyncWrite for PeerStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            PeerStream::Dialed(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
            PeerStream::Accepted(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            PeerStream::Dialed(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
            PeerStream::Accepted(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => std::pin::Pin::new(s).poll_close(cx),
            PeerStream::Dialed(s) => std::pin::Pin::new(s.as_mut()).poll_close(cx),
            PeerStream::Accepted(s) => std::pin::Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}

/// Counters for mntr and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerNetStats {
    pub connections: u64,
    pub refused: u64,
    /// Openings that failed authentication (either side).
    pub auth_failures: u64,
    pub resets_slow: u64,
    pub resets_bad_frame: u64,
    pub frames_in: u64,
    pub frames_out: u64,
}

/// A one-waiter wake-up flag.
#[derive(Default)]
struct Notify {
    set: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Notify {
    fn notify(&self) {
        self.set.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    async fn wait(&self) {
        futures_lite::future::poll_fn(|cx| {
            if self.set.replace(false) {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

struct Link {
    /// When the current connection last delivered a frame.
    last_frame: Cell<Instant>,
    queue: ArrayQueue<Vec<u8>>,
    /// Generation of the current (or last) connection.
    gen: Cell<u64>,
    up: Cell<bool>,
    /// Wakes the current connection's sender (frames queued, or the
    /// connection went down); each connection has its own.
    send: RefCell<Rc<Notify>>,
    /// Wakes the dialer (the connection went down).
    down: Notify,
}

struct Inner {
    cfg: PeerNetConfig,
    links: FxHashMap<ServerId, Rc<Link>>,
    events: RefCell<VecDeque<PeerEvent>>,
    event: Notify,
    stats: Cell<PeerNetStats>,
    next_gen: Cell<u64>,
    /// Openings in progress.
    handshakes: Cell<usize>,
}

impl Inner {
    fn stat(&self, f: impl FnOnce(&mut PeerNetStats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    fn push(&self, e: PeerEvent) {
        self.events.borrow_mut().push_back(e);
        self.event.notify();
    }

    /// Ends connection `gen` of `peer` if it is still the current one.
    fn teardown(&self, peer: ServerId, gen: u64) {
        let Some(link) = self.links.get(&peer) else {
            return;
        };
        if link.gen.get() != gen || !link.up.get() {
            return;
        }
        link.up.set(false);
        while link.queue.pop().is_some() {}
        link.send.borrow().notify();
        link.down.notify();
        self.push(PeerEvent::Down { peer, gen });
    }
}

/// The links of this server on one port. Lives on the core shard.
#[derive(Clone)]
pub struct PeerNet {
    inner: Rc<Inner>,
}

impl PeerNet {
    /// Starts dialing the servers with smaller ids and serving the
    /// connections `incoming` delivers (from the port's acceptor). Must run
    /// inside a glommio executor.
    pub fn start(cfg: PeerNetConfig, incoming: SharedReceiver<std::net::TcpStream>) -> PeerNet {
        let links = cfg
            .peers
            .iter()
            .map(|(id, _)| {
                (
                    *id,
                    Rc::new(Link {
                        last_frame: Cell::new(Instant::now()),
                        queue: ArrayQueue::new(cfg.queue_frames.max(1)),
                        gen: Cell::new(0),
                        up: Cell::new(false),
                        send: RefCell::new(Rc::new(Notify::default())),
                        down: Notify::default(),
                    }),
                )
            })
            .collect();
        let net = PeerNet {
            inner: Rc::new(Inner {
                cfg,
                links,
                events: RefCell::new(VecDeque::new()),
                event: Notify::default(),
                stats: Cell::new(PeerNetStats::default()),
                next_gen: Cell::new(0),
                handshakes: Cell::new(0),
            }),
        };
        for (id, addr) in net.inner.cfg.peers.clone() {
            if id < net.inner.cfg.my_id {
                let n = net.clone();
                glommio::spawn_local(async move { n.dial(id, addr).await }).detach();
            }
        }
        let n = net.clone();
        glommio::spawn_local(async move {
            let incoming = incoming.connect().await;
            while let Some(s) = incoming.recv().await {
                if n.inner.handshakes.get() >= MAX_HANDSHAKES {
                    n.inner.stat(|st| st.refused += 1);
                    tracing::warn!(
                        from = ?s.peer_addr().ok(),
                        "too many peer openings in progress; closing a new one"
                    );
                    continue;
                }
                n.inner.handshakes.set(n.inner.handshakes.get() + 1);
                let n = n.clone();
                glommio::spawn_local(async move {
                    n.accept(s).await;
                    n.inner.handshakes.set(n.inner.handshakes.get() - 1);
                })
                .detach();
            }
        })
        .detach();
        net
    }

    pub fn my_id(&self) -> ServerId {
        self.inner.cfg.my_id
    }

    pub fn stats(&self) -> PeerNetStats {
        self.inner.stats.get()
    }

    pub fn is_up(&self, peer: ServerId) -> bool {
        self.inner.links.get(&peer).is_some_and(|l| l.up.get())
    }

    /// Queues a whole frame for `peer`. False if the peer is down or its
    /// queue is full; a full queue also resets the connection.
    pub fn send(&self, peer: ServerId, frame: Vec<u8>) -> bool {
        let Some(link) = self.inner.links.get(&peer) else {
            return false;
        };
        if !link.up.get() {
            return false;
        }
        if link.queue.push(frame).is_err() {
            self.inner.stat(|s| s.resets_slow += 1);
            tracing::warn!(
                peer,
                "peer too slow: {} frames queued; resetting",
                link.queue.len()
            );
            self.inner.teardown(peer, link.gen.get());
            return false;
        }
        link.send.borrow().notify();
        true
    }

    /// Closes the current connection to `peer` (it sent a bad frame).
    pub fn reset(&self, peer: ServerId) {
        if let Some(link) = self.inner.links.get(&peer) {
            self.inner.stat(|s| s.resets_bad_frame += 1);
            self.inner.teardown(peer, link.gen.get());
        }
    }

    /// The next event, if one is waiting.
    pub fn try_next(&self) -> Option<PeerEvent> {
        self.inner.events.borrow_mut().pop_front()
    }

    /// Waits for the next event.
    pub async fn next(&self) -> PeerEvent {
        loop {
            if let Some(e) = self.try_next() {
                return e;
            }
            self.inner.event.wait().await;
        }
    }

    async fn dial(&self, peer: ServerId, addr: SocketAddr) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let attempt = match self.inner.cfg.bind {
                None => {
                    glommio::timer::timeout(Duration::from_secs(1), async {
                        TcpStream::connect(addr).await
                    })
                    .await
                }
                Some(ip) => glommio::executor()
                    .spawn_blocking(move || connect_from(ip, addr))
                    .await
                    .map(|s| TcpStream::from(socket2::Socket::from(s)))
                    .map_err(Into::into),
            };
            match attempt {
                Ok(tcp) => {
                    let opened = glommio::timer::timeout(HANDSHAKE_TIMEOUT, async {
                        let mut s = self.secure_dial(peer, tcp).await?;
                        self.open(&mut s, peer).await?;
                        Ok(s)
                    })
                    .await;
                    match opened {
                        Ok(s) => {
                            backoff = Duration::from_millis(50);
                            let link = self.inner.links[&peer].clone();
                            self.install(peer, s, true);
                            link.down.wait().await;
                            continue;
                        }
                        Err(e) => tracing::warn!(peer, %addr, "peer opening failed: {e}"),
                    }
                }
                Err(e) => tracing::debug!(peer, %addr, "dial failed: {e}"),
            }
            glommio::timer::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// With `sslQuorum`, the TLS handshake as the client (our certificate,
    /// the peer's checked against the trust store and its configured name).
    async fn secure_dial(
        &self,
        peer: ServerId,
        tcp: TcpStream,
    ) -> Result<PeerStream, glommio::GlommioError<()>> {
        let Some(tls) = &self.inner.cfg.tls else {
            return Ok(PeerStream::Plain(tcp));
        };
        let name = tls
            .names
            .iter()
            .find(|(id, _)| *id == peer)
            .map(|(_, n)| n.clone())
            .ok_or_else(|| refused("no name for this server"))?;
        let s = futures_rustls::TlsConnector::from(tls.dial.config())
            .connect(name, tcp)
            .await
            .map_err(|e| {
                self.inner.stat(|st| st.auth_failures += 1);
                refused_owned(format!("TLS: {e}"))
            })?;
        Ok(PeerStream::Dialed(Box::new(s)))
    }

    /// The dialer's side of an opening: HELLO, then (with credentials)
    /// our proof and the acceptor's.
    async fn open(
        &self,
        s: &mut PeerStream,
        peer: ServerId,
    ) -> Result<(), glommio::GlommioError<()>> {
        let me = self.inner.cfg.my_id;
        let a = &self.inner.cfg.auth;
        let nd = nonce();
        let hello = Hello {
            id: me,
            auth: a.login.as_ref().map(|(user, _)| (nd, user.clone())),
        };
        s.write_all(&hello.encode()).await?;
        let Some((_, password)) = &a.login else {
            return Ok(());
        };
        let mut c = [0u8; auth::CHALLENGE_LEN];
        s.read_exact(&mut c).await?;
        let na: auth::Nonce = c[1..].try_into().expect("nonce bytes");
        if c[0] != 1 {
            if a.require_acceptors {
                self.inner.stat(|st| st.auth_failures += 1);
                return Err(refused(
                    "the server does not authenticate (quorum.auth.learnerRequireSasl)",
                ));
            }
            return Ok(());
        }
        s.write_all(&auth::dialer_proof(password, me, peer, &na, &nd))
            .await?;
        let mut proof = [0u8; auth::MAC_LEN];
        s.read_exact(&mut proof).await?;
        if !auth::proof_matches(&proof, &auth::acceptor_proof(password, peer, me, &nd, &na)) {
            self.inner.stat(|st| st.auth_failures += 1);
            return Err(refused("the server's proof does not match our password"));
        }
        Ok(())
    }

    async fn accept(&self, s: std::net::TcpStream) {
        let from = s.peer_addr().ok();
        let tcp = TcpStream::from(socket2::Socket::from(s));
        let admitted = glommio::timer::timeout(HANDSHAKE_TIMEOUT, async {
            let mut s = match &self.inner.cfg.tls {
                None => PeerStream::Plain(tcp),
                Some(tls) => PeerStream::Accepted(Box::new(
                    futures_rustls::TlsAcceptor::from(tls.accept.config())
                        .accept(tcp)
                        .await
                        .map_err(|e| {
                            self.inner.stat(|st| st.auth_failures += 1);
                            refused_owned(format!("TLS: {e}"))
                        })?,
                )),
            };
            let (id, authenticated) = self.admit(&mut s, from).await?;
            // A verified certificate authenticates the peer too.
            Ok((s, id, authenticated || self.inner.cfg.tls.is_some()))
        })
        .await;
        match admitted {
            Ok((s, id, authenticated)) => self.install(id, s, authenticated),
            Err(e) => {
                self.inner.stat(|st| st.refused += 1);
                tracing::warn!(from = ?from, "refused a peer connection: {e}");
            }
        }
    }

    /// The acceptor's side of an opening: which server dials, and whether
    /// it proved the password.
    async fn admit(
        &self,
        s: &mut PeerStream,
        from: Option<SocketAddr>,
    ) -> Result<(ServerId, bool), glommio::GlommioError<()>> {
        let cfg = &self.inner.cfg;
        let mut buf = Vec::with_capacity(auth::HELLO_LEN);
        loop {
            let filled = buf.len();
            let need = Hello::needed(&buf).map_err(refused)?;
            if need == filled {
                break;
            }
            buf.resize(need, 0);
            s.read_exact(&mut buf[filled..]).await?;
        }
        let hello = Hello::decode(&buf).map_err(refused)?;
        let id = hello.id;
        if id <= cfg.my_id || !self.inner.links.contains_key(&id) {
            return Err(refused_owned(format!(
                "claims server id {id}: not a configured server with a larger id than ours"
            )));
        }
        if cfg.check_source {
            let want = cfg
                .peers
                .iter()
                .find(|(p, _)| *p == id)
                .map(|(_, a)| a.ip());
            if from.map(|f| f.ip()) != want {
                return Err(refused_owned(format!(
                    "claims server id {id}, whose address is {want:?}"
                )));
            }
        }
        let a = &cfg.auth;
        let Some((nd, user)) = hello.auth else {
            if a.require_dialers {
                self.inner.stat(|st| st.auth_failures += 1);
                return Err(refused_owned(format!(
                    "server {id} does not authenticate (quorum.auth.serverRequireSasl)"
                )));
            }
            return Ok((id, false));
        };
        let na = nonce();
        if a.users.is_empty() {
            s.write_all(&auth::challenge(false, &na)).await?;
            return Ok((id, false));
        }
        s.write_all(&auth::challenge(true, &na)).await?;
        let mut proof = [0u8; auth::MAC_LEN];
        s.read_exact(&mut proof).await?;
        // An unknown user is checked against a password no one has, so it
        // fails like a wrong password (and takes as long).
        let password = a.users.get(&user).map_or("", String::as_str);
        let ok = a.users.contains_key(&user)
            && auth::proof_matches(
                &proof,
                &auth::dialer_proof(password, id, cfg.my_id, &na, &nd),
            );
        if !ok {
            self.inner.stat(|st| st.auth_failures += 1);
            return Err(refused_owned(format!(
                "server {id} (user {user:?}) failed authentication"
            )));
        }
        s.write_all(&auth::acceptor_proof(password, cfg.my_id, id, &nd, &na))
            .await?;
        Ok((id, true))
    }

    /// Makes `s` the connection to `peer` (replacing any older one) and
    /// starts its reader and sender. A healthy link is only replaced by a
    /// connection that authenticated (or that we dialed ourselves).
    fn install(&self, peer: ServerId, s: PeerStream, trusted: bool) {
        let _ = s.tcp().set_nodelay(true);
        let link = self.inner.links[&peer].clone();
        if link.up.get() {
            if !trusted && link.last_frame.get().elapsed() < HEALTHY {
                self.inner.stat(|st| st.refused += 1);
                tracing::warn!(
                    peer,
                    from = ?s.tcp().peer_addr().ok(),
                    "refused a new connection for a healthy link"
                );
                return;
            }
            self.inner.teardown(peer, link.gen.get());
        }
        link.last_frame.set(Instant::now());
        let gen = self.inner.next_gen.get() + 1;
        self.inner.next_gen.set(gen);
        link.gen.set(gen);
        link.up.set(true);
        while link.queue.pop().is_some() {}
        link.down.set.set(false);
        let wake = Rc::new(Notify::default());
        *link.send.borrow_mut() = wake.clone();
        self.inner.stat(|st| st.connections += 1);
        self.inner.push(PeerEvent::Up { peer, gen });
        let (rd, wr) = futures_lite::io::split(s);
        let n = self.clone();
        glommio::spawn_local(async move {
            n.read_loop(peer, gen, rd).await;
            n.inner.teardown(peer, gen);
        })
        .detach();
        let n = self.clone();
        glommio::spawn_local(async move {
            n.send_loop(peer, gen, link, wake, wr).await;
            n.inner.teardown(peer, gen);
        })
        .detach();
    }

    async fn read_loop(
        &self,
        peer: ServerId,
        gen: u64,
        mut rd: futures_lite::io::ReadHalf<PeerStream>,
    ) {
        let max = self.inner.cfg.max_body as usize;
        let mut buf = vec![0u8; READ_CHUNK];
        let mut filled = 0;
        loop {
            let mut at = 0;
            while filled - at >= HEADER_LEN {
                let len =
                    u32::from_le_bytes(buf[at + 6..at + 10].try_into().expect("4 bytes")) as usize;
                if len > max {
                    self.inner.stat(|s| s.resets_bad_frame += 1);
                    tracing::warn!(peer, len, "peer frame too long; closing");
                    return;
                }
                if filled - at < HEADER_LEN + len {
                    break;
                }
                if self.inner.links[&peer].gen.get() != gen {
                    return;
                }
                let frame = buf[at..at + HEADER_LEN + len].to_vec();
                self.inner.links[&peer].last_frame.set(Instant::now());
                self.inner.stat(|s| s.frames_in += 1);
                self.inner.push(PeerEvent::Frame { peer, frame });
                at += HEADER_LEN + len;
            }
            buf.copy_within(at..filled, 0);
            filled -= at;
            if filled == buf.len() {
                // Full and a frame is still incomplete: grow with what has
                // arrived (at most doubling), never to what a header claims.
                let need = if filled >= HEADER_LEN {
                    let len = u32::from_le_bytes(buf[6..10].try_into().expect("4 bytes"));
                    HEADER_LEN + len as usize
                } else {
                    HEADER_LEN
                };
                buf.resize(need.min(buf.len() * 2), 0);
            } else if filled < READ_CHUNK && buf.len() > 4 * READ_CHUNK {
                // A large frame went through: give the memory back.
                buf.truncate(READ_CHUNK);
                buf.shrink_to_fit();
            }
            match rd.read(&mut buf[filled..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
            if self.inner.links[&peer].gen.get() != gen {
                return;
            }
        }
    }

    async fn send_loop(
        &self,
        peer: ServerId,
        gen: u64,
        link: Rc<Link>,
        wake: Rc<Notify>,
        mut wr: futures_lite::io::WriteHalf<PeerStream>,
    ) {
        let mut buf = Vec::new();
        loop {
            if link.gen.get() != gen || !link.up.get() {
                let _ = wr.close().await;
                return;
            }
            let mut frames = 0u64;
            while buf.len() < (1 << 20) {
                let Some(f) = link.queue.pop() else {
                    break;
                };
                if buf.is_empty() {
                    buf = f;
                } else {
                    buf.extend_from_slice(&f);
                }
                frames += 1;
            }
            if buf.is_empty() {
                wake.wait().await;
                continue;
            }
            if wr.write_all(&buf).await.is_err() {
                tracing::debug!(peer, "peer write failed");
                return;
            }
            self.inner.stat(|s| s.frames_out += frames);
            buf.clear();
        }
    }
}

/// A fresh nonce from the OS's random source.
fn nonce() -> auth::Nonce {
    let mut n = [0u8; auth::NONCE_LEN];
    getrandom::getrandom(&mut n).expect("the OS random source");
    n
}

fn refused(why: &str) -> glommio::GlommioError<()> {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, why.to_string()).into()
}

fn refused_owned(why: String) -> glommio::GlommioError<()> {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, why).into()
}

/// A blocking connect from `ip` (run off the reactor).
fn connect_from(ip: std::net::IpAddr, to: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(to),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    s.bind(&SocketAddr::new(ip, 0).into())?;
    s.connect_timeout(&to.into(), Duration::from_secs(1))?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// Binds a peer port (std, so a port in use is an error) and starts a
/// thread that accepts on it; the connections arrive on the returned
/// channel for [`PeerNet::start`].
pub fn listen(
    addr: SocketAddr,
    name: &str,
) -> std::io::Result<SharedReceiver<std::net::TcpStream>> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| std::io::Error::new(e.kind(), format!("peer port {addr}: {e}")))?;
    let (tx, rx) = glommio::channels::shared_channel::new_bounded(64);
    super::executor(name, glommio::Placement::Unbound)
        // One target: nothing to balance; the peer layer bounds openings
        // itself (its load count never goes down, so no budget here).
        .spawn(move || {
            super::conn::acceptor(
                vec![(listener, ())],
                vec![tx],
                super::conn::ShardLoad::new(1),
                usize::MAX,
                |s, ()| s,
            )
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(rx)
}
