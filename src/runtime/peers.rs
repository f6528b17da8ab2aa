//! Server-to-server connections (the election and quorum ports of
//! `server.N` lines), on the core shard.
//!
//! * One TCP connection per pair of servers and port. The server with the
//!   larger id dials; a connection from a smaller id is refused, so a pair
//!   never ends up with two (ZooKeeper's rule). A dialer re-dials with
//!   exponential backoff (50 ms to 1 s) whenever its connection is down.
//! * A connection starts with a 16-byte preamble from the dialer:
//!   `b"CRPRPEER"` then its server id (u64, little-endian). The acceptor
//!   checks the magic, that the id is a configured server and larger than
//!   its own; anything else is closed.
//! * Then both directions carry peer frames (`crate::peer`). Frames are cut
//!   by their length field only; the owner decodes them (magic, crc, type)
//!   and calls [`PeerNet::reset`] on a bad one. A frame longer than the
//!   maximum closes the connection at once.
//! * Sending never blocks the caller: each peer has a bounded lock-free
//!   queue (crossbeam `ArrayQueue`) drained by that peer's sender task, many
//!   frames per write. A full queue means the peer cannot keep up; that
//!   connection is reset (the protocol resynchronises it), so one slow peer
//!   never holds up the others. Frames for a peer that is down are refused.
//! * The owner sees [`PeerEvent`]s in order: `Up`, frames, `Down`, with a
//!   generation number so that it can tell one connection from the next.

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
use std::time::Duration;

pub type ServerId = u64;

/// The dialer's first 8 bytes.
pub const PREAMBLE_MAGIC: [u8; 8] = *b"CRPRPEER";
const PREAMBLE_LEN: usize = 16;

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
}

/// Counters for mntr and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerNetStats {
    pub connections: u64,
    pub refused: u64,
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
                let n = n.clone();
                glommio::spawn_local(async move { n.accept(s).await }).detach();
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
                Ok(mut s) => {
                    let mut pre = [0u8; PREAMBLE_LEN];
                    pre[..8].copy_from_slice(&PREAMBLE_MAGIC);
                    pre[8..].copy_from_slice(&self.inner.cfg.my_id.to_le_bytes());
                    if s.write_all(&pre).await.is_ok() {
                        backoff = Duration::from_millis(50);
                        let link = self.inner.links[&peer].clone();
                        self.install(peer, s);
                        link.down.wait().await;
                        continue;
                    }
                }
                Err(e) => tracing::debug!(peer, %addr, "dial failed: {e}"),
            }
            glommio::timer::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    async fn accept(&self, s: std::net::TcpStream) {
        let mut s = TcpStream::from(socket2::Socket::from(s));
        let mut pre = [0u8; PREAMBLE_LEN];
        let read = glommio::timer::timeout(Duration::from_secs(5), async {
            s.read_exact(&mut pre).await.map_err(Into::into)
        })
        .await;
        let id = u64::from_le_bytes(pre[8..].try_into().expect("8 bytes"));
        let ok = read.is_ok()
            && pre[..8] == PREAMBLE_MAGIC
            && id > self.inner.cfg.my_id
            && self.inner.links.contains_key(&id);
        if !ok {
            self.inner.stat(|st| st.refused += 1);
            tracing::warn!(claimed = id, "refused a peer connection");
            return;
        }
        self.install(id, s);
    }

    /// Makes `s` the connection to `peer` (replacing any older one) and
    /// starts its reader and sender.
    fn install(&self, peer: ServerId, s: TcpStream) {
        let _ = s.set_nodelay(true);
        let link = self.inner.links[&peer].clone();
        if link.up.get() {
            self.inner.teardown(peer, link.gen.get());
        }
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
        mut rd: futures_lite::io::ReadHalf<TcpStream>,
    ) {
        let max = self.inner.cfg.max_body as usize;
        let mut buf = vec![0u8; 64 * 1024];
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
                self.inner.stat(|s| s.frames_in += 1);
                self.inner.push(PeerEvent::Frame { peer, frame });
                at += HEADER_LEN + len;
            }
            buf.copy_within(at..filled, 0);
            filled -= at;
            if filled >= HEADER_LEN {
                let len = u32::from_le_bytes(buf[6..10].try_into().expect("4 bytes")) as usize;
                if buf.len() < HEADER_LEN + len {
                    buf.resize((HEADER_LEN + len).next_power_of_two(), 0);
                }
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
        mut wr: futures_lite::io::WriteHalf<TcpStream>,
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
        // One target: nothing to balance.
        .spawn(move || super::conn::acceptor(listener, vec![tx], super::conn::ShardLoad::new(1)))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(rx)
}
