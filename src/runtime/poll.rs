//! Client sockets of a shard: one edge-triggered epoll set per shard,
//! busy-polled while the shard is active, parked on in io_uring once it is
//! not. Reads and writes are plain non-blocking `recv`/`send`.
//!
//! Why not glommio's own socket reads: glommio arms an io_uring poll for
//! every read that drains the socket, and a poll that completes while the
//! shard runs is delivered as task work, which interrupts the shard's
//! thread (an inter-processor interrupt, a VM exit on a virtual machine).
//! On loopback that made a lone client's round trip about twice that of a
//! server that simply retried `recv` in a loop. Here a shard that has done
//! client I/O within its spin window (`spin.rs`) asks the epoll set for ready sockets
//! once per executor turn (one `epoll_wait` with no timeout for all its
//! connections, no interrupt), and only a shard idle for longer than that
//! waits in the kernel, where one io_uring poll on the epoll descriptor
//! wakes it.

use super::spin::{RunQueueWait, SpinPolicy, CONTENTION_CHECK, SPIN_STATS};
use crate::types::FxHashMap;
use futures_lite::AsyncReadExt;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Events taken from the epoll set per call.
const EVENTS: usize = 256;

/// How long a hot poller looks at the epoll set in a tight loop before it
/// lets the executor take a full turn (which costs a few io_uring_enter
/// calls, about 20 us here, during which no socket is looked at).
const HOT_SLICE: Duration = Duration::from_micros(50);

/// The same while nothing but the shard's own sockets can bring it work
/// (see [`Readiness::run`]): timers then run up to this late.
const QUIET_SLICE: Duration = Duration::from_millis(1);

/// A shard that had events from two different connections within this
/// long is serving several clients.
const SEVERAL_CLIENTS: Duration = Duration::from_millis(1);

/// A hot poller's timer: due at the executor's next look at its timers.
const NEXT_TURN: Duration = Duration::from_micros(1);

/// One direction's readiness: set by the poller, cleared before each
/// attempt, so an edge reported after the attempt began wakes the task.
struct Flag {
    ready: Cell<bool>,
    /// Reads only: the peer closed or the socket failed. Sticky: that edge
    /// may come with data, and a read that returns the data does not report
    /// the end, so the reader must keep reading until it sees it (a closed
    /// socket never answers a read with EAGAIN). Writes get no such flag:
    /// a peer that closed its side may still read, so a full socket can
    /// still say EAGAIN, and the writer waits for an edge.
    closed: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Flag {
    /// A new socket may already hold data, and has room to send.
    fn new() -> Flag {
        Flag {
            ready: Cell::new(true),
            closed: Cell::new(false),
            waker: RefCell::new(None),
        }
    }

    fn set(&self) {
        self.ready.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.ready.get() || self.closed.get() {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// A connection's readiness, as the poller last saw it.
struct SocketReady {
    read: Flag,
    write: Flag,
}

/// A client connection's socket in its shard's epoll set; leaves the set
/// when dropped.
pub(crate) struct ClientSocket {
    socket: std::net::TcpStream,
    key: u64,
    ready: Rc<SocketReady>,
    readiness: Rc<Readiness>,
    /// TLS, once the connection speaks it: reads and writes then carry
    /// plaintext and the records go through here.
    tls: RefCell<Option<Tls>>,
}

/// A TLS connection's state. The reader and the writer task both may need
/// to send records (handshake replies, alerts, data): whoever finds no one
/// sending drains `out` to the socket; the other waits for it to finish.
struct Tls {
    conn: rustls::ServerConnection,
    /// Received bytes rustls has not taken yet.
    input: Vec<u8>,
    /// Records to send.
    out: Vec<u8>,
    sending: bool,
}

/// What a TLS read does next.
enum TlsStep {
    Done(std::io::Result<usize>),
    /// rustls refused the peer's data; an alert is queued.
    Alert(rustls::Error),
    /// Records (handshake, alerts) wait to be sent.
    Flush,
    /// rustls took bytes: look for plaintext again.
    Fed,
    NeedBytes,
}

/// Bytes read from the socket per TLS read.
const TLS_READ: usize = 16 * 1024;

impl ClientSocket {
    pub fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.socket.peer_addr()
    }

    /// From now on the connection speaks TLS; `input` is what was already
    /// read of it.
    pub fn start_tls(&self, config: std::sync::Arc<rustls::ServerConfig>, input: &[u8]) {
        match rustls::ServerConnection::new(config) {
            Ok(mut conn) => {
                // Our own output limit bounds what waits (conn.rs).
                conn.set_buffer_limit(None);
                *self.tls.borrow_mut() = Some(Tls {
                    conn,
                    input: input.to_vec(),
                    out: Vec::new(),
                    sending: false,
                });
            }
            Err(e) => {
                tracing::warn!("TLS connection: {e}");
                let _ = self.socket.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    pub fn is_tls(&self) -> bool {
        self.tls.borrow().is_some()
    }

    /// The verified client certificate chain's leaf, once the handshake is
    /// done (None before, without TLS, or without a certificate).
    pub fn peer_certificate(&self) -> Option<rustls::pki_types::CertificateDer<'static>> {
        let t = self.tls.borrow();
        let t = t.as_ref()?;
        if t.conn.is_handshaking() {
            return None;
        }
        t.conn
            .peer_certificates()?
            .first()
            .map(|c| c.clone().into_owned())
    }

    /// True once a TLS handshake has completed (always true without TLS).
    pub fn handshake_done(&self) -> bool {
        self.tls
            .borrow()
            .as_ref()
            .is_none_or(|t| !t.conn.is_handshaking())
    }

    /// Reads plaintext: from the socket, or through TLS. Ok(0) is the end
    /// of the stream.
    pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.is_tls() {
            return self.read_raw(buf).await;
        }
        let mut scratch = Vec::new();
        loop {
            match self.tls_step(buf) {
                TlsStep::Done(r) => return r,
                TlsStep::Alert(e) => {
                    tracing::info!(
                        "TLS connection from {}: {e}",
                        self.socket
                            .peer_addr()
                            .map_or_else(|_| "?".to_string(), |a| a.to_string())
                    );
                    // Send the alert rustls prepared, then fail.
                    let _ = self.flush_tls().await;
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
                }
                TlsStep::Flush => self.flush_tls().await?,
                TlsStep::Fed => {}
                TlsStep::NeedBytes => {
                    scratch.resize(TLS_READ, 0);
                    let n = self.read_raw(&mut scratch).await?;
                    if n == 0 {
                        return Ok(0);
                    }
                    if let Some(t) = self.tls.borrow_mut().as_mut() {
                        t.input.extend_from_slice(&scratch[..n]);
                    }
                }
            }
        }
    }

    /// One step of a TLS read without waiting: hand out plaintext, or feed
    /// rustls what was received, or say what is needed.
    fn tls_step(&self, buf: &mut [u8]) -> TlsStep {
        let mut g = self.tls.borrow_mut();
        let Some(t) = g.as_mut() else {
            return TlsStep::Done(Err(std::io::ErrorKind::NotConnected.into()));
        };
        match std::io::Read::read(&mut t.conn.reader(), buf) {
            Ok(n) => return TlsStep::Done(Ok(n)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            // The peer closed without close_notify: the end.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return TlsStep::Done(Ok(0)),
            Err(e) => return TlsStep::Done(Err(e)),
        }
        if t.input.is_empty() {
            return TlsStep::NeedBytes;
        }
        let took = match t.conn.read_tls(&mut &t.input[..]) {
            Ok(n) => n,
            Err(e) => return TlsStep::Done(Err(e)),
        };
        t.input.drain(..took);
        // rustls takes what it is given until its own record buffer is full
        // (then `read_tls` fails), so `input` holds at most one socket read;
        // should it ever take nothing, the connection ends rather than
        // reading on without bound.
        if took == 0 && t.input.len() >= TLS_READ {
            return TlsStep::Done(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "TLS records not taken",
            )));
        }
        if let Err(e) = t.conn.process_new_packets() {
            return TlsStep::Alert(e);
        }
        if t.conn.wants_write() {
            TlsStep::Flush
        } else if took > 0 {
            TlsStep::Fed
        } else {
            TlsStep::NeedBytes
        }
    }

    /// Sends every record rustls has queued; if another task is sending,
    /// waits until it is done (so that, when this returns, what was queued
    /// before is on its way).
    async fn flush_tls(&self) -> std::io::Result<()> {
        loop {
            let chunk = {
                let mut g = self.tls.borrow_mut();
                let Some(t) = g.as_mut() else {
                    return Ok(());
                };
                if t.sending {
                    None
                } else {
                    while t.conn.wants_write() {
                        if t.conn.write_tls(&mut t.out).is_err() {
                            break;
                        }
                    }
                    if t.out.is_empty() {
                        return Ok(());
                    }
                    t.sending = true;
                    Some(std::mem::take(&mut t.out))
                }
            };
            match chunk {
                None => glommio::timer::sleep(Duration::from_micros(100)).await,
                Some(bytes) => {
                    let r = self.write_raw(&bytes).await;
                    if let Some(t) = self.tls.borrow_mut().as_mut() {
                        t.sending = false;
                    }
                    r?;
                }
            }
        }
    }

    /// Reads what the socket has, waiting for it to become readable.
    /// Ok(0) is the end of the stream.
    async fn read_raw(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        let flag = &self.ready.read;
        loop {
            flag.wait().await;
            flag.ready.set(false);
            match (&self.socket).read(buf) {
                Ok(n) => {
                    // A read that filled the buffer may have left more; a
                    // shorter one emptied the socket, and the next edge says
                    // when there is more (no recv just to see EAGAIN).
                    if n == buf.len() {
                        flag.ready.set(true);
                    }
                    self.readiness.touch();
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => flag.ready.set(true),
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes all of `buf` (plaintext; encrypted first on a TLS
    /// connection), waiting for room when the socket is full.
    pub async fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
        if !self.is_tls() {
            return self.write_raw(buf).await;
        }
        {
            let mut g = self.tls.borrow_mut();
            let t = g.as_mut().expect("tls");
            std::io::Write::write_all(&mut t.conn.writer(), buf)?;
        }
        self.flush_tls().await
    }

    /// Writes all of `buf` to the socket.
    async fn write_raw(&self, mut buf: &[u8]) -> std::io::Result<()> {
        let flag = &self.ready.write;
        while !buf.is_empty() {
            flag.wait().await;
            flag.ready.set(false);
            match (&self.socket).write(buf) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    buf = &buf[n..];
                    // Only a WouldBlock says the socket is full.
                    flag.ready.set(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => flag.ready.set(true),
                Err(e) => return Err(e),
            }
        }
        self.readiness.touch();
        Ok(())
    }

    /// One non-blocking send of what fits, without waiting: the bytes
    /// written (0 when the socket is full, or failed: the writer task finds
    /// out when it tries).
    pub fn try_write(&self, buf: &[u8]) -> usize {
        if self.is_tls() {
            return self.try_write_tls(buf);
        }
        match (&self.socket).write(buf) {
            Ok(n) => {
                self.readiness.touch();
                n
            }
            Err(_) => 0,
        }
    }

    /// TLS: encrypts all of `buf` and sends what the socket takes; the
    /// rest waits in `out` for the writer task ([`Self::flush`]), which
    /// [`Self::tls_pending`] tells the caller to wake. Nothing (0) while
    /// the handshake runs, another task is sending or records still wait:
    /// records stay in order, and what a client does not read stays in the
    /// connection's counted output.
    fn try_write_tls(&self, buf: &[u8]) -> usize {
        let mut g = self.tls.borrow_mut();
        let Some(t) = g.as_mut() else {
            return 0;
        };
        if t.sending || !t.out.is_empty() || t.conn.wants_write() || t.conn.is_handshaking() {
            return 0;
        }
        if std::io::Write::write_all(&mut t.conn.writer(), buf).is_err() {
            return 0;
        }
        while t.conn.wants_write() {
            if t.conn.write_tls(&mut t.out).is_err() {
                break;
            }
        }
        if let Ok(n) = (&self.socket).write(&t.out) {
            t.out.drain(..n);
            self.readiness.touch();
        }
        buf.len()
    }

    /// True if TLS records wait to be sent.
    pub fn tls_pending(&self) -> bool {
        self.tls
            .borrow()
            .as_ref()
            .is_some_and(|t| !t.out.is_empty() || t.conn.wants_write())
    }

    /// Sends what waits (TLS records); nothing to do without TLS.
    pub async fn flush(&self) -> std::io::Result<()> {
        self.flush_tls().await
    }

    /// Sends a FIN (after a TLS close_notify) after what was written.
    pub async fn shutdown_write(&self) {
        if let Some(t) = self.tls.borrow_mut().as_mut() {
            t.conn.send_close_notify();
        }
        let _ = self.flush_tls().await;
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
    }
}

impl Drop for ClientSocket {
    fn drop(&mut self) {
        let _ = self.readiness.ep.delete(&self.socket);
        self.readiness.conns.borrow_mut().remove(&self.key);
    }
}

/// The epoll set of one shard and the connections in it.
pub(crate) struct Readiness {
    ep: Epoll,
    conns: RefCell<FxHashMap<u64, Rc<SocketReady>>>,
    /// The last client I/O of this shard.
    last_io: Cell<Instant>,
    /// A read or write since the poller last looked (it reads the clock
    /// once per pass, so the sockets need not).
    touched: Cell<bool>,
    /// When to spin (see `spin.rs`); used by the poller alone.
    policy: RefCell<SpinPolicy>,
}

impl Readiness {
    pub fn new(policy: SpinPolicy) -> std::io::Result<Rc<Readiness>> {
        let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        Ok(Rc::new(Readiness {
            ep,
            conns: RefCell::default(),
            last_io: Cell::new(Instant::now()),
            touched: Cell::new(false),
            policy: RefCell::new(policy),
        }))
    }

    /// Adds a client connection's socket under `key` (unique on the shard)
    /// and makes it non-blocking.
    pub fn register(
        self: &Rc<Self>,
        key: u64,
        socket: std::net::TcpStream,
    ) -> std::io::Result<ClientSocket> {
        socket.set_nonblocking(true)?;
        let flags = EpollFlags::EPOLLIN
            | EpollFlags::EPOLLOUT
            | EpollFlags::EPOLLRDHUP
            | EpollFlags::EPOLLET;
        self.ep.add(&socket, EpollEvent::new(flags, key))?;
        let ready = Rc::new(SocketReady {
            read: Flag::new(),
            write: Flag::new(),
        });
        self.conns.borrow_mut().insert(key, ready.clone());
        Ok(ClientSocket {
            socket,
            key,
            ready,
            readiness: self.clone(),
            tls: RefCell::new(None),
        })
    }

    /// Connections in the set.
    pub fn registered(&self) -> usize {
        self.conns.borrow().len()
    }

    /// Client I/O happened: stay hot for another spin window.
    fn touch(&self) {
        self.touched.set(true);
    }

    /// The shard's poller: runs for the shard's lifetime.
    ///
    /// - Hot (client I/O within the spin window, which [`SpinPolicy`]
    ///   works out from how soon client bytes have been arriving after the
    ///   shard ran out of work): one `epoll_wait` with no timeout per
    ///   pass over the shard's runnable tasks, in a tight loop for
    ///   [`HOT_SLICE`], then one full executor turn (see below).
    /// - Cold: parked until the epoll set has an event.
    /// - A hot shard that saw events from two connections within
    ///   [`SEVERAL_CLIENTS`] is serving several clients; between empty looks
    ///   it gives its CPU to any other runnable thread (`sched_yield`), as
    ///   those clients need it more than this shard needs a fast wake-up.
    ///   A shard serving one client keeps its CPU.
    /// - While `quiet()` says that nothing outside the epoll set can bring
    ///   the shard work (no log sync, peer or snapshot awaited, no other
    ///   shard forwarding requests), the tight loop lasts [`QUIET_SLICE`]:
    ///   an executor turn costs a few system calls, and a request that
    ///   arrives during one waits for it.
    pub async fn run(self: Rc<Self>, quiet: impl Fn() -> bool, log_sync: impl Fn() -> bool) {
        let mut events = vec![EpollEvent::empty(); EVENTS];
        let mut slice_start = Instant::now();
        // The last connection with an event, and when one other than it
        // last had one.
        let mut last_key = u64::MAX;
        let mut others_at: Option<Instant> = None;
        // The policy's clock, and the run-queue wait it looks at.
        let base = Instant::now();
        let us = |t: Instant| t.saturating_duration_since(base).as_micros() as u64;
        let auto = self.policy.borrow().is_auto();
        let run_queue = RunQueueWait::for_this_thread();
        let mut looked = (base, run_queue.micros().unwrap_or(0));
        // Since when the shard has had nothing to do (None: busy), and
        // whether it parked since.
        let mut idle_since: Option<Instant> = None;
        let mut parked = false;
        let stats = &SPIN_STATS;
        loop {
            let n = match self.ep.wait(&mut events, 0) {
                Ok(n) => n,
                Err(Errno::EINTR) => 0,
                Err(e) => {
                    // Not expected for a valid epoll set; keep serving
                    // (slowly) rather than leave every reader waiting.
                    tracing::error!("epoll_wait failed: {e}");
                    glommio::timer::sleep(Duration::from_millis(1)).await;
                    continue;
                }
            };
            let now = Instant::now();
            let mut arrived = false;
            if n > 0 {
                let conns = self.conns.borrow();
                let hangup = EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR;
                for ev in &events[..n] {
                    if let Some(ready) = conns.get(&ev.data()) {
                        let bits = ev.events();
                        if bits.intersects(hangup) {
                            ready.read.closed.set(true);
                        }
                        if bits.intersects(EpollFlags::EPOLLIN | hangup) {
                            ready.read.set();
                            arrived = true;
                        }
                        if bits.intersects(EpollFlags::EPOLLOUT | hangup) {
                            ready.write.set();
                        }
                    }
                    if ev.data() != last_key {
                        if last_key != u64::MAX {
                            others_at = Some(now);
                        }
                        last_key = ev.data();
                    }
                }
                drop(conns);
            }
            let since = |t: Instant| now.saturating_duration_since(t);
            if n > 0 || self.touched.replace(false) {
                self.last_io.set(now);
                if let (true, Some(t)) = (arrived, idle_since) {
                    self.policy
                        .borrow_mut()
                        .arrival(since(t).as_micros() as u64);
                    if !parked {
                        stats.hits.fetch_add(1, Ordering::Relaxed);
                        stats
                            .spin_us
                            .fetch_add(since(t).as_micros() as u64, Ordering::Relaxed);
                    }
                }
                idle_since = None;
            } else if idle_since.is_none() {
                idle_since = Some(now);
                parked = false;
            }
            if auto && since(looked.0) >= CONTENTION_CHECK {
                if let Some(wait) = run_queue.micros() {
                    let wall = since(looked.0).as_micros() as u64;
                    let waited = wait.saturating_sub(looked.1);
                    if self
                        .policy
                        .borrow_mut()
                        .run_queue_wait(us(now), waited, wall)
                    {
                        stats.contended.fetch_add(1, Ordering::Relaxed);
                    }
                    looked = (now, wait);
                }
            }
            let window = self.policy.borrow().window_us(us(now), log_sync());
            if since(self.last_io.get()).as_micros() as u64 >= window {
                // Parking right after I/O (a zero window): the wait for the
                // next arrival starts now.
                let t = match idle_since {
                    Some(t) => t,
                    None => {
                        idle_since = Some(now);
                        parked = false;
                        now
                    }
                };
                if !parked {
                    stats.parks.fetch_add(1, Ordering::Relaxed);
                    stats
                        .spin_us
                        .fetch_add(since(t).as_micros() as u64, Ordering::Relaxed);
                    stats.window_us.store(window, Ordering::Relaxed);
                    parked = true;
                }
                self.park().await;
                slice_start = Instant::now();
            } else if since(slice_start) < if quiet() { QUIET_SLICE } else { HOT_SLICE } {
                let contended = others_at.is_some_and(|t| since(t) < SEVERAL_CLIENTS);
                if n == 0 && contended {
                    std::thread::yield_now();
                }
                // Let the woken readers run, then look again.
                futures_lite::future::yield_now().await;
            } else {
                // glommio runs a task queue until it is empty (or its time
                // slice, 100 ms, ends) before it polls io_uring, timers and
                // cross-shard channels, so an always-runnable poller would
                // hold those back. A timer lets the queue drain.
                glommio::timer::sleep(NEXT_TURN).await;
                slice_start = Instant::now();
            }
        }
    }

    /// Waits in the kernel until the epoll set has an event.
    async fn park(&self) {
        // glommio has no public "wait until this descriptor is readable".
        // Its stream types arm an io_uring poll (POLLIN) on their
        // descriptor when built, and a read waits for that poll before it
        // calls recv(2); on an epoll descriptor that recv then fails (not a
        // socket), which ends the wait. A duplicate of the descriptor is
        // used so the epoll set itself stays open.
        match self.ep.0.try_clone() {
            Ok(fd) => {
                let as_socket = socket2::Socket::from(std::net::TcpStream::from(fd));
                let mut waiter = glommio::net::TcpStream::from(as_socket);
                let _ = waiter.read(&mut [0u8; 1]).await;
            }
            Err(e) => {
                // Out of descriptors: look again shortly rather than spin.
                tracing::warn!("cannot wait on the epoll set: {e}");
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}
