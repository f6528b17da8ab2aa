//! The glommio runtime: the only code that touches threads, sockets, files
//! and clocks. One executor per shard, pinned to a core when there are
//! enough cores. One acceptor thread deals client connections to the
//! shards, which cut frames; shard 0 (the core shard) owns the [`Node`]
//! (the [`Core`], and in an ensemble its ZAB replica). Other shards send it
//! frames over one bounded channel each and get replies and notifications
//! back on one ordered channel each.

pub mod admin;
mod conn;
mod effects;
pub mod ensemble;
pub mod env;
mod fds;
mod http;
mod metrics;
pub mod peers;
mod poll;
pub mod spin;
pub mod storage;
pub mod tls;

use crate::node::{Node, NodeBoot};
use crate::server::{AdminExtras, CoreConfig};
use crate::types::{ConnId, Now};
use glommio::channels::local_channel::{self, LocalSender};
use glommio::channels::shared_channel::{self, ConnectedSender, SharedReceiver, SharedSender};
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A glommio executor as every corral thread has it. corral does no
/// glommio file I/O, so the I/O memory glommio registers with io_uring is
/// its minimum (64 KiB) rather than its 10 MiB default, which is pinned,
/// and so touched page by page, when each executor starts.
pub(crate) fn executor(name: &str, placement: Placement) -> LocalExecutorBuilder {
    LocalExecutorBuilder::new(placement)
        .name(name)
        .io_memory(64 << 10)
}

/// What the runtime needs to know.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub listen: SocketAddr,
    pub shards: usize,
    pub core: CoreConfig,
    /// Frames longer than this close the connection (jute.maxbuffer).
    pub max_frame: u32,
    /// A connection that has not sent a ConnectRequest by then is dropped.
    pub sessionless_timeout_ms: u64,
    /// Where to serve Prometheus metrics (HTTP), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// The AdminServer, if on.
    pub admin: Option<admin::AdminConfig>,
    /// The configuration file's text (`initial_configuration`).
    pub initial_config: Option<String>,
    /// What `conf` prints.
    pub conf: crate::proto::fourlw::ConfInfo,
    /// Which four-letter words may run; the rest get ZooKeeper's refusal.
    pub four_lw: crate::config::FourLetterWhitelist,
    /// Durable storage; None keeps everything in memory (a proposal is
    /// committed at once).
    pub storage: Option<storage::StorageConfig>,
    /// Membership of an ensemble; None runs standalone.
    pub ensemble: Option<ensemble::EnsembleConfig>,
    /// `globalOutstandingLimit`: above this many txns in flight, connections
    /// stop being read until commits catch up.
    pub outstanding_limit: usize,
    /// When an idle shard spins before parking (`--spin-us`).
    pub spin: spin::SpinMode,
    /// TLS for clients (`secureClientPort`, `client.portUnification`).
    pub client_tls: Option<std::sync::Arc<tls::TlsSource>>,
    /// `secureClientPort` (with its address).
    pub secure_listen: Option<SocketAddr>,
    /// `client.portUnification`: `listen` takes TLS too.
    pub port_unification: bool,
}

/// Messages from a connection shard to the core shard.
pub(crate) enum ToCore<'a> {
    Open(ConnId, SocketAddr),
    /// Frames borrowed from a shard-0 connection's receive buffer.
    Frames(ConnId, &'a [u8]),
    Input(ConnId, Vec<u8>),
    FourLetter(ConnId, [u8; 4]),
    /// The last step of a streamed four-letter reply has been written.
    FourLetterMore(ConnId),
    /// The connection's TLS client certificate was verified: its subject.
    X509(ConnId, String),
    Closed(ConnId),
}

/// Output for one connection, from the core shard to its shard.
pub(crate) struct FromCore {
    conn: ConnId,
    bytes: Vec<u8>,
    close: bool,
}

/// The clock, read only here.
#[derive(Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
}

impl Clock {
    pub fn now(&self) -> Now {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Now {
            mono_ms: self.start.elapsed().as_millis() as u64,
            wall_ms: wall,
        }
    }
}

/// Shard 0's view of everything: the node plus how to reach every shard.
pub(crate) struct CoreHandle {
    pub node: RefCell<Node>,
    /// Local connections of shard 0.
    pub local: Rc<conn::ConnTable>,
    /// One queue per other shard (index = shard).
    pub remote: Vec<Option<LocalSender<FromCore>>>,
    pub clock: Clock,
    pub cfg: RuntimeConfig,
    pub extras: AdminExtras,
    /// Performs the node's effects: the log, and a member's peers.
    pub io: RefCell<effects::NodeIo>,
    /// Snapshots and the storage figures (None: in memory only).
    pub log: Option<LogSide>,
    /// Raised while more txns are in flight than `globalOutstandingLimit`.
    pub throttle: conn::Throttle,
}

/// The core shard's side of durable storage (the log itself is
/// [`effects::NodeIo`]'s).
pub(crate) struct LogSide {
    pub snap: std::sync::mpsc::SyncSender<storage::SnapMsg>,
    pub stats: std::sync::Arc<storage::StorageStats>,
    pub cfg: storage::StorageConfig,
}

impl CoreHandle {
    /// Hands new proposals to the log (or commits them at once without
    /// one), then routes every pending output to its connection.
    pub fn flush(self: &Rc<Self>) {
        let committed = self.flush_node();
        if committed > 0 {
            // Outside the node's borrow: this may start a snapshot task.
            count_commits(self, committed);
        }
    }

    /// [`CoreHandle::flush`] while the node is borrowed; returns how many
    /// txns were committed.
    fn flush_node(&self) -> u64 {
        let mut node = self.node.borrow_mut();
        let now = self.clock.now();
        node.pump(now);
        self.io.borrow_mut().perform(&mut node, now);
        let committed = node.take_applied();
        let ensemble = node.replica().is_some();
        let core = node.core_mut();
        self.throttle
            .set(core.in_flight() > self.cfg.outstanding_limit);
        let snapshot = self
            .log
            .as_ref()
            .is_some_and(|l| l.stats.snapshot_in_progress.load(Ordering::Relaxed));
        let writes = core.in_flight() > 0;
        self.local.set_core_waits(
            ensemble || writes || snapshot,
            !ensemble && writes && self.log.is_some(),
        );
        core.drain(|o| {
            let shard = o.conn.shard();
            if shard == 0 {
                self.local.deliver(o.conn, o.bytes, o.close);
            } else if let Some(Some(tx)) = self.remote.get(shard) {
                let _ = tx.try_send(FromCore {
                    conn: o.conn,
                    bytes: std::mem::take(o.bytes),
                    close: o.close,
                });
            }
        });
        committed
    }

    /// Feeds frames to the core and records how long they took.
    fn input(&self, node: &mut Node, id: ConnId, frames: &[u8], now: Now) {
        let t0 = Instant::now();
        node.conn_input(id, frames, now);
        node.core_mut()
            .record_batch_latency(t0.elapsed().as_micros() as u64);
    }

    /// What a four-letter word (or AdminServer command) needs from the
    /// runtime beyond the core's state.
    pub(crate) fn extras_for(&self, node: &Node, word: &str) -> AdminExtras {
        let mut extras = self.extras.clone();
        match word {
            "envi" => extras.env = Some(env::detect_env()),
            "mntr" => {
                extras.fds = env::process_fd_counts();
                extras.quorum = self.io.borrow().ens.as_ref().map(|e| e.figures(node));
                if let Some(log) = &self.log {
                    extras.mntr_extra = log.stats.mntr();
                }
                extras.mntr_extra.push((
                    "request_throttle_wait_count".into(),
                    crate::proto::fourlw::MntrValue::Int(self.throttle.waits() as i64),
                ));
            }
            "dirs" => {
                if let Some(log) = &self.log {
                    extras.conf.data_dir_size = admin::dir_size(&log.cfg.snap_path());
                    extras.conf.data_log_size = admin::dir_size(&log.cfg.log_path());
                }
            }
            _ => {}
        }
        extras
    }

    pub fn handle(self: &Rc<Self>, msg: ToCore<'_>) {
        let now = self.clock.now();
        {
            let mut node = self.node.borrow_mut();
            match msg {
                ToCore::Open(id, addr) => node.conn_open(id, addr, now),
                ToCore::Input(id, bytes) => self.input(&mut node, id, &bytes, now),
                ToCore::Frames(id, bytes) => self.input(&mut node, id, bytes, now),
                ToCore::FourLetter(id, w) => {
                    let word = std::str::from_utf8(&w).unwrap_or("");
                    let ok = self.cfg.four_lw.allows(word);
                    let extras = self.extras_for(&node, word);
                    node.core_mut().four_letter(id, w, ok, now, &extras);
                }
                ToCore::FourLetterMore(id) => node.core_mut().fourlw_more(id),
                ToCore::X509(id, dn) => node.core_mut().conn_x509(id, &dn),
                ToCore::Closed(id) => node.conn_closed(id, now),
            }
        }
        self.flush();
    }
}

/// Where a shard sends its connections' traffic.
pub(crate) enum CoreLink {
    Local(Rc<CoreHandle>),
    Remote(ConnectedSender<ToCore<'static>>),
}

/// Runs the server until the process is killed.
/// Binds the client port (and the secure client port), so that a busy port
/// is reported before any thread starts.
pub(crate) fn client_listeners(
    cfg: &RuntimeConfig,
) -> std::io::Result<Vec<(std::net::TcpListener, conn::Port)>> {
    let bind = |addr: SocketAddr| {
        std::net::TcpListener::bind(addr)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{addr}: {e}")))
    };
    let plain = if cfg.port_unification && cfg.client_tls.is_some() {
        conn::Port::Unified
    } else {
        conn::Port::Plain
    };
    let mut out = vec![(bind(cfg.listen)?, plain)];
    if let (Some(addr), Some(_)) = (cfg.secure_listen, &cfg.client_tls) {
        out.push((bind(addr)?, conn::Port::Tls));
    }
    Ok(out)
}

/// What an acceptor hands a shard.
pub(crate) fn incoming(stream: std::net::TcpStream, port: conn::Port) -> conn::Incoming {
    conn::Incoming { stream, port }
}

/// Runs the server (standalone or an ensemble member: one path) until the
/// process is killed.
pub fn run(cfg: RuntimeConfig) -> std::io::Result<()> {
    let ensemble = cfg.ensemble.clone();
    // An ensemble member runs one shard, not pinned: three servers on one
    // machine would otherwise all run their core shards on CPU 0.
    let shards = if ensemble.is_some() {
        1
    } else {
        cfg.shards.max(1)
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let clock = Clock {
        start: Instant::now(),
    };
    // Channels: shard s -> core, core -> shard s (s >= 1).
    let mut to_core_tx: Vec<Option<SharedSender<ToCore<'static>>>> = vec![None];
    let mut to_core_rx: Vec<SharedReceiver<ToCore<'static>>> = Vec::new();
    let mut from_core_tx: Vec<Option<SharedSender<FromCore>>> = vec![None];
    let mut from_core_rx: Vec<Option<SharedReceiver<FromCore>>> = vec![None];
    for _ in 1..shards {
        let (tx, rx) = shared_channel::new_bounded(4096);
        to_core_tx.push(Some(tx));
        to_core_rx.push(rx);
        let (tx, rx) = shared_channel::new_bounded(4096);
        from_core_tx.push(Some(tx));
        from_core_rx.push(Some(rx));
    }
    let start = startup(&cfg)?;
    // Bind once up front so that a busy port is reported before any thread starts.
    let listeners = client_listeners(&cfg)?;
    let peer_incoming = match &ensemble {
        Some(e) => Some(peers::listen(e.my_quorum()?, "corral-peer-acceptor")?),
        None => None,
    };
    let mut accept_tx = Vec::new();
    let mut accept_rx = Vec::new();
    for _ in 0..shards {
        let (tx, rx) = shared_channel::new_bounded::<conn::Incoming>(1024);
        accept_tx.push(tx);
        accept_rx.push(Some(rx));
    }

    let shared = conn::ConnShared {
        throttle: conn::Throttle::default(),
        load: conn::ShardLoad::new(shards),
    };
    let load = shared.load.clone();
    let budget = fds::client_socket_budget(shards, ensemble.as_ref().map_or(0, |e| e.quorum.len()));
    let mut handles = Vec::new();
    let mut core_parts = Some((to_core_rx, from_core_tx, start, peer_incoming));
    for shard in 0..shards {
        let placement = if ensemble.is_none() && shards <= cpus {
            Placement::Fixed(shard)
        } else {
            Placement::Unbound
        };
        let cfg = cfg.clone();
        let parts = if shard == 0 { core_parts.take() } else { None };
        let to_core = to_core_tx[shard].take();
        let from_core = from_core_rx[shard].take();
        let incoming = accept_rx[shard].take().expect("one receiver per shard");
        let shared = shared.clone();
        let h = executor(&format!("corral-shard-{shard}"), placement)
            .spin_before_park(cfg.spin.executor_spin())
            .spawn(move || async move {
                let r = if let Some((rxs, txs, start, peers)) = parts {
                    let links = CoreLinks { rxs, txs, peers };
                    core_shard(cfg, clock, links, incoming, start, shared).await
                } else {
                    conn_shard(
                        shard,
                        cfg,
                        to_core.expect("channel"),
                        from_core.expect("channel"),
                        incoming,
                        shared,
                    )
                    .await
                };
                if let Err(e) = &r {
                    // A shard that stops leaves the server unable to serve.
                    eprintln!("corral: shard {shard}: {e}");
                    std::process::exit(1);
                }
                r
            })
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        handles.push(h);
    }
    let acceptor = executor("corral-acceptor", Placement::Unbound)
        .spawn(move || conn::acceptor(listeners, accept_tx, load, budget, incoming))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    handles.push(acceptor);
    for h in handles {
        h.join()
            .map_err(|e| std::io::Error::other(e.to_string()))??;
    }
    Ok(())
}

/// What startup recovered and started, handed to the core shard.
struct Start {
    boot: NodeBoot,
    durable: Option<Durable>,
}

/// The storage threads and what the core shard keeps of them.
struct Durable {
    link: storage::LogLink,
    snap: std::sync::mpsc::SyncSender<storage::SnapMsg>,
    stats: std::sync::Arc<storage::StorageStats>,
    cfg: storage::StorageConfig,
    /// Txns replayed at startup (they count towards the next snapshot).
    replayed: u64,
}

/// Recovery (a damaged log or snapshot stops startup here) and the storage
/// threads; an in-memory standalone server starts empty.
fn startup(cfg: &RuntimeConfig) -> std::io::Result<Start> {
    let member = cfg.ensemble.as_ref();
    let Some(sc) = &cfg.storage else {
        if member.is_some() {
            return Err(std::io::Error::other("an ensemble needs a dataDir"));
        }
        return Ok(Start {
            boot: NodeBoot::empty(),
            durable: None,
        });
    };
    let started = storage::start(sc, member.is_some()).map_err(std::io::Error::other)?;
    let b = &started.boot;
    let (accepted, current, _) = b.epochs;
    tracing::info!(
        "{}recovered {} znodes, {} sessions at {:#x} ({} txns replayed, {} logged after it; epochs {accepted}/{current}) in {:?}",
        member.map_or(String::new(), |e| format!("server {}: ", e.my_id)),
        b.tree.node_count(),
        b.sessions.len(),
        b.base,
        started.replayed,
        b.tail.len(),
        started.elapsed
    );
    let stats = std::sync::Arc::new(storage::StorageStats::default());
    let link = storage::spawn_log_thread(started.log, sc.clone(), stats.clone())?;
    let snap = storage::spawn_snap_thread(sc.clone(), stats.clone())?;
    Ok(Start {
        boot: started.boot,
        durable: Some(Durable {
            link,
            snap,
            stats,
            cfg: sc.clone(),
            replayed: started.replayed,
        }),
    })
}

/// The core shard's channels: from and to the other shards, and a
/// member's quorum port acceptor.
struct CoreLinks {
    rxs: Vec<SharedReceiver<ToCore<'static>>>,
    txs: Vec<Option<SharedSender<FromCore>>>,
    peers: Option<SharedReceiver<std::net::TcpStream>>,
}

async fn core_shard(
    cfg: RuntimeConfig,
    clock: Clock,
    links: CoreLinks,
    incoming: SharedReceiver<conn::Incoming>,
    start: Start,
    shared: conn::ConnShared,
) -> std::io::Result<()> {
    let now = clock.now();
    let node = match &cfg.ensemble {
        Some(e) => {
            let mut node = Node::new(cfg.core.clone(), e.zab_config(), start.boot, now);
            // Commit latency.
            node.record_commits(true);
            node
        }
        None => Node::alone(cfg.core.clone(), start.boot, now),
    };
    let ens = match (&cfg.ensemble, links.peers, &start.durable) {
        (Some(e), Some(incoming), Some(d)) => {
            Some(ensemble::EnsIo::start(e, d.cfg.clone(), incoming)?)
        }
        _ => None,
    };
    let peer_net = ens.as_ref().map(|e| e.net());
    let mut durable_rx = None;
    let mut log_side = None;
    let mut to_log = None;
    let mut replayed = 0;
    if let Some(d) = start.durable {
        to_log = Some(storage::MailboxTx {
            mailbox: d.link.mailbox,
            bell: d.link.bell.connect().await,
        });
        durable_rx = Some(d.link.durable);
        replayed = d.replayed;
        log_side = Some(LogSide {
            snap: d.snap,
            stats: d.stats,
            cfg: d.cfg,
        });
    }
    let local = Rc::new(conn::ConnTable::default());
    let mut remote = vec![None];
    for tx in links.txs.into_iter().skip(1) {
        let tx = tx.expect("sender").connect().await;
        let (ltx, lrx) = local_channel::new_unbounded::<FromCore>();
        // Forwarder: never blocks the core; waits on the bounded shared channel.
        glommio::spawn_local(async move {
            while let Some(m) = lrx.recv().await {
                if tx.send(m).await.is_err() {
                    break;
                }
            }
        })
        .detach();
        remote.push(Some(ltx));
    }
    let handle = Rc::new(CoreHandle {
        node: RefCell::new(node),
        io: RefCell::new(effects::NodeIo::new(to_log, replayed, ens)),
        local: local.clone(),
        remote,
        clock,
        extras: AdminExtras {
            conf: cfg.conf.clone(),
            ..Default::default()
        },
        cfg: cfg.clone(),
        log: log_side,
        throttle: shared.throttle.clone(),
    });
    // What the node did while starting (a member's first election).
    handle.flush();
    if let Some(net) = peer_net {
        ensemble::spawn_peer_reader(handle.clone(), net);
    }
    if let Some(rx) = durable_rx {
        let h = handle.clone();
        glommio::spawn_local(async move {
            let rx = rx.connect().await;
            while let Some(z) = rx.recv().await {
                h.io.borrow_mut().synced(z);
                h.node.borrow_mut().durable(z, h.clock.now());
                h.flush();
            }
            storage::fatal("the log thread stopped");
        })
        .detach();
    }
    for rx in links.rxs {
        let h = handle.clone();
        glommio::spawn_local(async move {
            let rx = rx.connect().await;
            while let Some(m) = rx.recv().await {
                h.handle(m);
            }
        })
        .detach();
    }
    // Ticker: the replica's clock, session expiry and reaping.
    {
        let h = handle.clone();
        let every = match &cfg.ensemble {
            Some(_) => Duration::from_millis(ensemble::TICK_MS),
            None => Duration::from_millis((cfg.core.tick_ms as u64 / 10).clamp(10, 200)),
        };
        glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(every).await;
                let now = h.clock.now();
                h.node.borrow_mut().tick(now);
                h.flush();
            }
        })
        .detach();
    }
    start_http(&handle)?;
    conn::accept_loop(0, cfg, CoreLink::Local(handle), local, incoming, shared).await
}

/// Starts the metrics endpoint and the AdminServer on the core shard. A
/// metrics address that cannot be bound stops the server (it was asked
/// for explicitly); an AdminServer that cannot bind is reported and the
/// server goes on without it (ZooKeeper's quorum peers do that; its
/// standalone server exits).
pub(crate) fn start_http(handle: &Rc<CoreHandle>) -> std::io::Result<()> {
    if let Some(addr) = handle.cfg.metrics_addr {
        let listener =
            http::bind(addr).map_err(|e| std::io::Error::other(format!("metrics {addr}: {e}")))?;
        let h = handle.clone();
        glommio::spawn_local(http::serve(listener, move |req| metrics::answer(req, &h))).detach();
    }
    if let Some(admin) = handle.cfg.admin.clone() {
        match http::bind(admin.addr) {
            Ok(listener) => {
                if let Ok(a) = listener.local_addr() {
                    tracing::info!("AdminServer on http://{a}{}", admin.command_url);
                }
                let h = handle.clone();
                glommio::spawn_local(http::serve(listener, move |req| {
                    admin::answer(req, &h, &admin)
                }))
                .detach();
            }
            Err(e) => tracing::warn!(
                "AdminServer not started: {}: {e} (admin.serverPort, admin.enableServer=false)",
                admin.addr
            ),
        }
    }
    Ok(())
}

/// Writes a fuzzy snapshot: the walk runs in bounded steps on the core
/// shard between inputs; the snapshot thread writes, fsyncs and renames.
/// Counts `n` more applied txns; starts a snapshot once `snapCount` of
/// them have accumulated and none is being written.
pub(crate) fn count_commits(h: &Rc<CoreHandle>, n: u64) {
    let Some(log) = &h.log else { return };
    let mut io = h.io.borrow_mut();
    io.since_snap += n;
    if io.since_snap >= log.cfg.snap_count
        && !log.stats.snapshot_in_progress.load(Ordering::Acquire)
    {
        io.since_snap = 0;
        log.stats
            .snapshot_in_progress
            .store(true, Ordering::Release);
        glommio::spawn_local(snapshot(h.clone())).detach();
    }
}

async fn snapshot(h: Rc<CoreHandle>) {
    let Some(log) = &h.log else { return };
    let (z, header, mut enc, walk) = {
        let mut node = h.node.borrow_mut();
        let core = node.core_mut();
        let (z, header, enc) = storage::snapshot_begin(core.tree(), &core.session_list());
        (z, header, enc, core.snapshot_walk_begin())
    };
    let send = |mut m: storage::SnapMsg| {
        let tx = log.snap.clone();
        async move {
            loop {
                match tx.try_send(m) {
                    Ok(()) => return true,
                    Err(std::sync::mpsc::TrySendError::Full(back)) => {
                        m = back;
                        glommio::timer::sleep(Duration::from_millis(1)).await;
                    }
                    Err(_) => return false,
                }
            }
        }
    };
    if !send(storage::SnapMsg::Begin(z, header)).await {
        return;
    }
    let (mut steps, mut longest) = (0u32, Duration::ZERO);
    loop {
        let mut blocks = Vec::new();
        let done = {
            let t0 = Instant::now();
            let mut node = h.node.borrow_mut();
            let done =
                node.core_mut()
                    .snapshot_walk_step(&walk, storage::SNAP_STEP_NODES, |p, n| enc.node(p, n));
            while let Some(b) = enc.take_block() {
                blocks.push(b);
            }
            steps += 1;
            longest = longest.max(t0.elapsed());
            done
        };
        let done = match done {
            Ok(d) => d,
            Err(e) => {
                // The tree was replaced (a snapshot from the leader was
                // installed): this one describes no tree.
                tracing::warn!("snapshot {z:#x} abandoned: {e}");
                send(storage::SnapMsg::Abort).await;
                return;
            }
        };
        for b in blocks {
            if !send(storage::SnapMsg::Block(b)).await {
                return;
            }
        }
        if done {
            break;
        }
        // A timer (not a bare yield): the reactor must poll sockets and
        // channels between steps, or a ready walker starves them.
        glommio::timer::sleep(Duration::from_micros(200)).await;
    }
    let end = h.node.borrow().core().tree().last_zxid;
    log.stats
        .walk_step_max_micros
        .fetch_max(longest.as_micros() as u64, Ordering::Relaxed);
    tracing::info!(
        "snapshot {z:#x}..{end:#x}: {} nodes walked in {steps} steps, longest step {longest:?}",
        enc.nodes()
    );
    send(storage::SnapMsg::End(enc.finish(end))).await;
}

async fn conn_shard(
    shard: usize,
    cfg: RuntimeConfig,
    to_core: SharedSender<ToCore<'static>>,
    from_core: SharedReceiver<FromCore>,
    incoming: SharedReceiver<conn::Incoming>,
    shared: conn::ConnShared,
) -> std::io::Result<()> {
    let table = Rc::new(conn::ConnTable::default());
    {
        let table = table.clone();
        glommio::spawn_local(async move {
            let rx = from_core.connect().await;
            while let Some(m) = rx.recv().await {
                let mut bytes = m.bytes;
                table.deliver(m.conn, &mut bytes, m.close);
            }
        })
        .detach();
    }
    let to_core = to_core.connect().await;
    conn::accept_loop(
        shard,
        cfg,
        CoreLink::Remote(to_core),
        table,
        incoming,
        shared,
    )
    .await
}
