//! Client connections on a shard: accept, cut frames, hand them to the core,
//! write replies. One reader task and one writer task per connection; on the
//! core shard the reader also sends the replies of its own turn when the
//! writer holds none ([`ConnIo::write_now`]).
//! Sockets are non-blocking and wait for readiness on the shard's epoll
//! set ([`Readiness`]).

use super::poll::{ClientSocket, Readiness};
use super::spin::SpinPolicy;
use super::{CoreLink, RuntimeConfig, ToCore};
use crate::types::{ConnId, FxHashMap};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::channels::shared_channel::{SharedReceiver, SharedSender};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Output side of one connection.
pub(crate) struct ConnIo {
    out: RefCell<Vec<u8>>,
    /// Bytes the writer has taken and not yet written.
    writing: Cell<usize>,
    close: Cell<bool>,
    /// The connection's reader is in the core's turn and sends or hands on
    /// what the turn queues for it: the writer need not be woken for that.
    in_turn: Cell<bool>,
    wake: LocalSender<()>,
}

/// Output a connection may have queued before its reader stops reading
/// (back pressure on a client that sends without reading its replies).
const MAX_PENDING_OUTPUT: usize = 2 << 20;

/// Buffers larger than this are released once empty, so an idle connection
/// holds a few KiB whatever its past bursts were.
const KEEP_BUFFER: usize = 64 * 1024;

/// Frames handed to the core in one go before back pressure is checked again.
const FRAMES_PER_TURN: usize = 64;

/// How often a throttled reader looks again.
const THROTTLE_POLL: Duration = Duration::from_micros(250);

/// ZooKeeper's `globalOutstandingLimit`: the core shard turns it on while
/// more txns are in flight (proposed, not yet applied) than the limit, and
/// every connection reader stops taking requests until commits catch up.
/// Requests already read still run and replies keep going out.
#[derive(Clone, Default)]
pub(crate) struct Throttle {
    on: Arc<AtomicBool>,
    waits: Arc<AtomicU64>,
}

impl Throttle {
    /// Called by the core shard after each turn (stores only on a change).
    pub fn set(&self, on: bool) {
        if self.on.load(Ordering::Relaxed) != on {
            self.on.store(on, Ordering::Relaxed);
        }
    }

    /// Times a reader had to wait (mntr `throttle_waits`).
    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    async fn wait(&self) {
        if !self.on.load(Ordering::Relaxed) {
            return;
        }
        self.waits.fetch_add(1, Ordering::Relaxed);
        while self.on.load(Ordering::Relaxed) {
            glommio::timer::sleep(THROTTLE_POLL).await;
        }
    }
}

impl ConnIo {
    fn pending(&self) -> usize {
        self.out.borrow().len() + self.writing.get()
    }

    /// Sends queued output straight from the reader, when the writer holds
    /// none (so the bytes stay in order) and no close is pending (the
    /// writer ends the connection after its last write). What does not fit
    /// stays queued for the writer.
    fn write_now(&self, sock: &ClientSocket) {
        if self.writing.get() > 0 || self.close.get() {
            return;
        }
        let mut out = self.out.borrow_mut();
        if out.is_empty() {
            return;
        }
        let n = sock.try_write(&out);
        out.drain(..n);
        if sock.tls_pending() {
            // Encrypted records the socket did not take: the writer sends them.
            let _ = self.wake.try_send(());
        }
    }
}

/// Open connections per shard. The acceptor keeps new connections on the
/// core shard until it has [`CORE_FIRST`] (a few clients make no
/// cross-shard hop, which costs each request two wake-ups), then hands
/// each to the shard with the fewest (the lowest-numbered on a tie).
#[derive(Clone)]
pub(crate) struct ShardLoad(Arc<[AtomicUsize]>);

/// Connections the core shard takes before any goes to another shard.
pub(crate) const CORE_FIRST: usize = 8;

impl ShardLoad {
    pub fn new(shards: usize) -> ShardLoad {
        ShardLoad((0..shards.max(1)).map(|_| AtomicUsize::new(0)).collect())
    }

    /// How many shards serve connections.
    pub fn shards(&self) -> usize {
        self.0.len()
    }

    /// The core shard while it has fewer than [`CORE_FIRST`] connections,
    /// else the least-loaded shard; counted as having one more connection.
    fn pick(&self) -> usize {
        if self.0[0].load(Ordering::Relaxed) < CORE_FIRST {
            self.0[0].fetch_add(1, Ordering::Relaxed);
            return 0;
        }
        let (i, _) = self
            .0
            .iter()
            .enumerate()
            .min_by_key(|(i, n)| (n.load(Ordering::Relaxed), *i))
            .expect("at least one shard");
        self.0[i].fetch_add(1, Ordering::Relaxed);
        i
    }

    fn closed(&self, shard: usize) {
        self.0[shard].fetch_sub(1, Ordering::Relaxed);
    }

    /// Open client connections on every shard.
    fn total(&self) -> usize {
        self.0.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    /// The core shard's connections (counting those handed to it and not
    /// yet registered), when no other shard has any.
    fn core_only(&self) -> Option<usize> {
        let others = self.0[1..].iter().any(|n| n.load(Ordering::Relaxed) > 0);
        (!others).then(|| self.0[0].load(Ordering::Relaxed))
    }
}

/// What every shard's connections share.
#[derive(Clone)]
pub(crate) struct ConnShared {
    pub throttle: Throttle,
    pub load: ShardLoad,
}

/// The connections of one shard.
pub(crate) struct ConnTable {
    conns: RefCell<FxHashMap<ConnId, Rc<ConnIo>>>,
    /// Core shard: the core awaits something from outside the shard's
    /// sockets (log syncs, peers, a snapshot), so the shard must look at
    /// its rings and channels often. Set after each core turn.
    core_waits: Cell<bool>,
    /// Core shard: the core awaits its own log's fsync (standalone, a
    /// write in flight); the poller spins through it (`spin.rs`).
    log_sync: Cell<bool>,
}

impl Default for ConnTable {
    fn default() -> ConnTable {
        ConnTable {
            conns: RefCell::default(),
            core_waits: Cell::new(true),
            log_sync: Cell::new(false),
        }
    }
}

impl ConnTable {
    pub fn set_core_waits(&self, waits: bool, log_sync: bool) {
        self.core_waits.set(waits);
        self.log_sync.set(log_sync);
    }

    /// Queues `bytes` (taken, leaving it empty) for `conn` and wakes its
    /// writer (unless the connection's own reader is in this turn).
    pub fn deliver(&self, conn: ConnId, bytes: &mut Vec<u8>, close: bool) {
        let conns = self.conns.borrow();
        let Some(io) = conns.get(&conn) else {
            bytes.clear();
            return;
        };
        {
            let mut out = io.out.borrow_mut();
            if out.is_empty() {
                std::mem::swap(&mut *out, bytes);
            } else {
                out.extend_from_slice(bytes);
                bytes.clear();
            }
        }
        if close {
            io.close.set(true);
        }
        if close || !io.in_turn.get() {
            let _ = io.wake.try_send(());
        }
    }
}

/// What a client port speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Port {
    /// `clientPort`.
    Plain,
    /// `secureClientPort`: TLS only.
    Tls,
    /// `clientPort` with `client.portUnification`: TLS if the first byte
    /// opens a TLS handshake, else plaintext.
    Unified,
}

/// A connection handed from an acceptor to a shard.
pub(crate) struct Incoming {
    pub stream: std::net::TcpStream,
    pub port: Port,
}

/// Serves the connections the acceptor hands to this shard.
pub(crate) async fn accept_loop(
    shard: usize,
    cfg: RuntimeConfig,
    link: CoreLink,
    table: Rc<ConnTable>,
    incoming: SharedReceiver<Incoming>,
    shared: ConnShared,
) -> std::io::Result<()> {
    let incoming = incoming.connect().await;
    let readiness = Readiness::new(SpinPolicy::new(cfg.spin, shared.load.shards()))?;
    // Quiet: only the core shard's own registered connections can bring it
    // work (no other shard forwards requests, no accepted connection is on
    // its way from the acceptor, the core awaits nothing else).
    let quiet = {
        let core_shard = matches!(link, CoreLink::Local(_));
        let (table, load, ready) = (table.clone(), shared.load.clone(), readiness.clone());
        move || {
            core_shard && !table.core_waits.get() && load.core_only() == Some(ready.registered())
        }
    };
    let log_sync = {
        let table = table.clone();
        move || table.log_sync.get()
    };
    glommio::spawn_local(readiness.clone().run(quiet, log_sync)).detach();
    let link = Rc::new(link);
    let cfg = Rc::new(cfg);
    let mut next: u64 = 0;
    while let Some(Incoming {
        stream: socket,
        port,
    }) = incoming.recv().await
    {
        next += 1;
        let sock = match readiness.register(next, socket) {
            Ok(sock) => Rc::new(sock),
            Err(e) => {
                tracing::warn!("cannot serve a connection: {e}");
                shared.load.closed(shard);
                continue;
            }
        };
        let id = ConnId::new(shard, next);
        let (wake, wake_rx) = local_channel::new_bounded(1);
        let io = Rc::new(ConnIo {
            out: RefCell::new(Vec::new()),
            writing: Cell::new(0),
            close: Cell::new(false),
            in_turn: Cell::new(false),
            wake,
        });
        table.conns.borrow_mut().insert(id, io.clone());
        let (link, cfg, table) = (link.clone(), cfg.clone(), table.clone());
        let shared = shared.clone();
        glommio::spawn_local(async move {
            serve(id, port, sock, io, wake_rx, &link, &cfg, &shared.throttle).await;
            shared.load.closed(shard);
            table.conns.borrow_mut().remove(&id);
            send(&link, ToCore::Closed(id)).await;
        })
        .detach();
    }
    Ok(())
}

/// Accepts connections on one or more listening sockets (the client port
/// and the secure client port; a peer port) and deals them out to the
/// shards, the first 8 to the core shard, then each to the least loaded
/// ([`ShardLoad`]); past `budget` open connections a new one is closed at
/// once. The sockets are bound once, by the process (so a port in use is an
/// error, as it is for ZooKeeper), and the accepting thread does nothing
/// else, so waiting in `poll(2)` costs no shard anything.
pub(crate) async fn acceptor<K: Copy, T: Send + 'static>(
    listeners: Vec<(std::net::TcpListener, K)>,
    shards: Vec<SharedSender<T>>,
    load: ShardLoad,
    budget: usize,
    wrap: impl Fn(std::net::TcpStream, K) -> T,
) -> std::io::Result<()> {
    use nix::poll::{poll, PollFd, PollFlags};
    let mut out = Vec::with_capacity(shards.len());
    for s in shards {
        out.push(s.connect().await);
    }
    for (l, _) in &listeners {
        l.set_nonblocking(true)?;
    }
    let mut refused: u64 = 0;
    let mut last_warning: Option<Instant> = None;
    loop {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = listeners
                .iter()
                .map(|(l, _)| PollFd::new(l, PollFlags::POLLIN))
                .collect();
            if let Err(e) = poll(&mut fds, -1) {
                if e != nix::errno::Errno::EINTR {
                    tracing::warn!("poll on the listening sockets: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        for ((listener, kind), ready) in listeners.iter().zip(ready) {
            if !ready {
                continue;
            }
            loop {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        if load.total() >= budget {
                            // Over the descriptor budget (fds.rs): closed at once.
                            drop(stream);
                            refused += 1;
                            if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                                tracing::warn!(
                                    "{budget} client connections open: closing new ones \
                                     ({refused} so far, the latest from {peer})"
                                );
                                last_warning = Some(Instant::now());
                            }
                            continue;
                        }
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_nodelay(true);
                        if out[load.pick()].send(wrap(stream, *kind)).await.is_err() {
                            return Ok(());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(10));
                        break;
                    }
                }
            }
        }
    }
}

async fn send(link: &CoreLink, msg: ToCore<'static>) {
    match link {
        CoreLink::Local(h) => h.handle(msg),
        CoreLink::Remote(tx) => {
            let _ = tx.send(msg).await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    id: ConnId,
    port: Port,
    sock: Rc<ClientSocket>,
    io: Rc<ConnIo>,
    wake_rx: LocalReceiver<()>,
    link: &CoreLink,
    cfg: &RuntimeConfig,
    throttle: &Throttle,
) {
    let Ok(addr) = sock.peer_addr() else {
        return;
    };
    send(link, ToCore::Open(id, addr)).await;
    let (done_tx, done_rx) = local_channel::new_bounded::<()>(1);
    let (drained_tx, drained_rx) = local_channel::new_bounded::<()>(1);
    // Writer: drains the output buffer whenever woken; ends the connection
    // after a close request has been written.
    let writer_io = io.clone();
    let wr = sock.clone();
    let writer = glommio::spawn_local(async move {
        let mut buf = Vec::new();
        loop {
            if wake_rx.recv().await.is_none() {
                break;
            }
            // Let the tasks that are ready run first: replies produced in
            // the same turn leave in one write, and a client's close that
            // arrived with them is seen before we write to it.
            futures_lite::future::yield_now().await;
            loop {
                std::mem::swap(&mut buf, &mut *writer_io.out.borrow_mut());
                if buf.is_empty() {
                    break;
                }
                writer_io.writing.set(buf.len());
                if wr.write_all(&buf).await.is_err() {
                    let _ = done_tx.try_send(());
                    return;
                }
                writer_io.writing.set(0);
                let _ = drained_tx.try_send(());
                buf.clear();
                if buf.capacity() > KEEP_BUFFER {
                    // A burst is over: give the memory back.
                    buf = Vec::new();
                }
            }
            // TLS records left by the reader's direct write.
            if wr.flush().await.is_err() {
                let _ = done_tx.try_send(());
                return;
            }
            if writer_io.close.get() {
                wr.shutdown_write().await;
                let _ = done_tx.try_send(());
                return;
            }
        }
    });

    let mut buf: Vec<u8> = vec![0; 4 * 1024];
    let mut filled = 0usize;
    let mut handshook = false;
    // TLS: started now (secure port), or decided by the first byte
    // (unified port); the client's verified certificate is reported to
    // the core once, before any of its requests.
    let mut tls_undecided = false;
    let mut x509_reported = cfg.client_tls.is_none();
    if let Some(tls) = &cfg.client_tls {
        match port {
            Port::Tls => sock.start_tls(tls.config(), &[]),
            Port::Unified => tls_undecided = true,
            Port::Plain => x509_reported = true,
        }
    }
    let deadline = Duration::from_millis(cfg.sessionless_timeout_ms);
    let started = std::time::Instant::now();
    let max = cfg.max_frame as usize;
    'conn: loop {
        // Back pressure: stop taking requests while too many replies wait to
        // be written (a client that sends without reading).
        while io.pending() > MAX_PENDING_OUTPUT {
            let stop = glommio::timer::timeout(deadline, async {
                Ok(futures_lite::future::or(
                    async {
                        // None: the writer is gone (its socket failed); stop.
                        drained_rx.recv().await.is_none()
                    },
                    async {
                        done_rx.recv().await;
                        true
                    },
                )
                .await)
            })
            .await
            // Nothing written for a while: wait on unless the core has
            // closed the connection (its session expired meanwhile).
            .unwrap_or_else(|_| io.close.get());
            if stop {
                break 'conn;
            }
        }
        throttle.wait().await;
        // Cut up to FRAMES_PER_TURN whole frames out of what was read.
        let mut at = 0;
        let mut frames = 0;
        let mut bad_length = false;
        while filled - at >= 4 && frames < FRAMES_PER_TURN {
            let head = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
            if !handshook && at == 0 && crate::proto::fourlw::is_command_prefix(head) {
                send(link, ToCore::FourLetter(id, head)).await;
                // The core answers in steps and closes after the last: ask
                // for the next step whenever the last has been written. A
                // client that stops reading for the sessionless timeout is
                // dropped.
                loop {
                    let progress = glommio::timer::timeout(deadline, async {
                        Ok(futures_lite::future::or(
                            async { drained_rx.recv().await.is_none() },
                            async {
                                done_rx.recv().await;
                                true
                            },
                        )
                        .await)
                    })
                    .await;
                    match progress {
                        Ok(false) => {}
                        // Written and closed, the writer failed, or stalled.
                        Ok(true) | Err(_) => break 'conn,
                    }
                    if io.pending() == 0 && !io.close.get() {
                        // Let the shard poll for I/O between steps: with a
                        // fast reader every step is ready at once, and glommio
                        // polls io_uring (where a parked shard's readiness
                        // arrives) only once the task queue is empty or its
                        // 100 ms slice ends. A timer lets the queue drain.
                        glommio::timer::sleep(Duration::from_micros(1)).await;
                        send(link, ToCore::FourLetterMore(id)).await;
                    }
                }
            }
            let len = i32::from_be_bytes(head);
            if len < 0 || len as usize > max {
                // Answer what came before it, then close.
                bad_length = true;
                break;
            }
            if filled - at - 4 < len as usize {
                break;
            }
            at += 4 + len as usize;
            frames += 1;
            handshook = true;
        }
        if at > 0 {
            match link {
                CoreLink::Local(h) => {
                    io.in_turn.set(true);
                    h.handle(ToCore::Frames(id, &buf[..at]));
                    io.in_turn.set(false);
                    if at == filled {
                        // Everything read has been answered: send the
                        // replies now, not one task hop later.
                        io.write_now(&sock);
                    }
                    if !io.out.borrow().is_empty() {
                        let _ = io.wake.try_send(());
                    }
                }
                CoreLink::Remote(tx) => {
                    if tx
                        .send(ToCore::Input(id, buf[..at].to_vec()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
            buf.copy_within(at..filled, 0);
            filled -= at;
            if filled == 0 && buf.len() > KEEP_BUFFER {
                buf = vec![0; 4 * 1024];
            }
            if io.close.get() {
                let _ = done_rx.recv().await;
                break;
            }
            if !bad_length {
                continue;
            }
        }
        if bad_length {
            break;
        }
        // No whole frame left: read more, making room for the frame that has begun.
        if filled >= 4 {
            let need = 4 + i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() < need {
                buf.resize(need.next_power_of_two(), 0);
            }
        }
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let read = sock.read(&mut buf[filled..]);
        let closed = done_rx.recv();
        let n = if handshook {
            futures_lite::future::or(async { read.await.ok() }, async {
                closed.await;
                None
            })
            .await
        } else {
            // The whole handshake must arrive within the sessionless timeout.
            let left = deadline.saturating_sub(started.elapsed());
            let timed = glommio::timer::timeout(left.max(Duration::from_millis(1)), async {
                Ok(futures_lite::future::or(async { read.await.ok() }, async {
                    closed.await;
                    None
                })
                .await)
            });
            timed.await.ok().flatten()
        };
        let Some(n) = n.filter(|n| *n > 0) else {
            // The client closed (or the read failed): like ZooKeeper, drop
            // whatever output is still queued and close.
            io.out.borrow_mut().clear();
            break;
        };
        if tls_undecided {
            tls_undecided = false;
            if super::tls::starts_tls(buf[filled]) {
                let tls = cfg.client_tls.as_ref().expect("unified port has TLS");
                sock.start_tls(tls.config(), &buf[filled..filled + n]);
                continue;
            }
            x509_reported = true;
        }
        filled += n;
        if !x509_reported && sock.handshake_done() {
            x509_reported = true;
            if let Some(dn) = sock
                .peer_certificate()
                .and_then(|c| super::tls::subject_dn(&c))
            {
                send(link, ToCore::X509(id, dn)).await;
            }
        }
    }
    io.close.set(true);
    let _ = io.wake.try_send(());
    // The writer sends what is queued, unless the client reads nothing for
    // the sessionless timeout: then it is dropped with the socket.
    let _ = glommio::timer::timeout(deadline, async {
        writer.await;
        Ok(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::super::poll::Readiness;
    use super::super::spin::{SpinMode, SpinPolicy};
    use super::{ConnIo, ShardLoad, CORE_FIRST};
    use glommio::channels::local_channel;
    use std::cell::{Cell, RefCell};
    use std::io::Read;
    use std::time::Duration;

    #[test]
    fn the_reader_sends_only_when_the_writer_holds_nothing_and_no_close_is_pending() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        peer.set_nonblocking(true).unwrap();
        let readiness = Readiness::new(SpinPolicy::new(
            SpinMode::Fixed(Duration::from_micros(200)),
            1,
        ))
        .unwrap();
        let sock = readiness.register(1, server).unwrap();
        let (wake, _wake_rx) = local_channel::new_bounded(1);
        let io = ConnIo {
            out: RefCell::new(b"reply".to_vec()),
            writing: Cell::new(0),
            close: Cell::new(false),
            in_turn: Cell::new(false),
            wake,
        };
        let received = |peer: &mut std::net::TcpStream| {
            // Loopback delivers within the send call; allow a moment anyway.
            let mut got = Vec::new();
            for _ in 0..50 {
                let mut buf = [0u8; 64];
                match peer.read(&mut buf) {
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if !got.is_empty() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => panic!("peer read: {e}"),
                }
            }
            got
        };

        // The writer holds earlier bytes: sending now would overtake them.
        io.writing.set(7);
        io.write_now(&sock);
        assert_eq!(*io.out.borrow(), b"reply");
        assert!(received(&mut peer).is_empty());

        // A close is pending: the writer sends the rest and ends the connection.
        io.writing.set(0);
        io.close.set(true);
        io.write_now(&sock);
        assert_eq!(*io.out.borrow(), b"reply");
        assert!(received(&mut peer).is_empty());

        // Otherwise the queued bytes go out now, and leave the queue.
        io.close.set(false);
        io.write_now(&sock);
        assert!(io.out.borrow().is_empty());
        assert_eq!(received(&mut peer), b"reply");
    }

    #[test]
    fn connections_go_to_the_least_loaded_shard() {
        let load = ShardLoad::new(3);
        // The core shard takes the first CORE_FIRST, then the others catch
        // up, then they take turns.
        let first: Vec<usize> = (0..CORE_FIRST * 3 + 3).map(|_| load.pick()).collect();
        assert!(first[..CORE_FIRST].iter().all(|&s| s == 0));
        assert_eq!(first[CORE_FIRST..CORE_FIRST * 3], [1, 2].repeat(CORE_FIRST));
        assert_eq!(first[CORE_FIRST * 3..], [0, 1, 2]);
        // Shard 1 loses two connections: the next two go there.
        load.closed(1);
        load.closed(1);
        assert_eq!((load.pick(), load.pick(), load.pick()), (1, 1, 0));
        // A few clients after everyone left land on the core shard again.
        let load = ShardLoad::new(2);
        let all: Vec<usize> = (0..20).map(|_| load.pick()).collect();
        for s in all {
            load.closed(s);
        }
        assert_eq!((0..3).map(|_| load.pick()).collect::<Vec<_>>(), [0, 0, 0]);
    }
}
