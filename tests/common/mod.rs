//! Test harness: starts the real `corral` binary on a free loopback port (or
//! uses an external server) and offers small helpers around `zookeeper-client`.
//!
//! Environment:
//! * `CORRAL_TEST_SERVER=host:port`: use that already-running server instead of
//!   spawning corral (e.g. Apache ZooKeeper started with
//!   `python3 shared/conformance/zkserver.py start 26005 /tmp/zk5`, which has the
//!   same effective config as the one written here: tickTime 2000, all 4lw,
//!   TTLs on, superDigest `super:conformance-super`). Tests use unique paths
//!   (`/t_<name>_<pid>`) so they can share it.
//! * `CORRAL_TEST_SERVER_TICK_MS`: tickTime of that external server (default 2000).
//! * `CORRAL_TEST_ZKSERVER_SH=/usr/share/zookeeper/bin/zkServer.sh`: only in
//!   external mode, lets tests that need their own server config (session
//!   timeout bounds, a fresh tree) spawn a private Apache ZooKeeper with it;
//!   without it those tests print a note and skip in external mode. When the
//!   harness spawns corral they always run.
//!
//! `zookeeper-client` must be a dev-dependency with its `tokio` feature
//! (`features = ["tokio"]`): without a runtime feature it cannot spawn its
//! session task and every connect panics with "no spawner".

#![allow(dead_code)]

pub mod ensemble;
pub mod firewall;
pub mod raw;

use std::fs;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zookeeper_client as zk;

/// The corral binary under test, built by cargo for this test run.
/// The server under test: this build's, or `CORRAL_TEST_BIN` (to show a
/// test fails on another build).
fn corral_binary() -> PathBuf {
    std::env::var_os("CORRAL_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_corral")))
}

/// `super:conformance-super`, the super user of the conformance ZooKeeper config.
pub const SUPER_AUTH: &[u8] = b"super:conformance-super";
const SUPER_DIGEST: &str = "super:vwF3b39JxzrgKUNiFet8/1LxKxY=";

const READY_TIMEOUT: Duration = Duration::from_secs(10);
const ZK_READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Default bound for waiting on an event or a condition.
pub const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// corral spawned by this harness.
    Corral,
    /// `CORRAL_TEST_SERVER`: shared, not fresh, config not under our control.
    External,
    /// Apache ZooKeeper spawned by this harness (`CORRAL_TEST_ZKSERVER_SH`).
    ZooKeeper,
}

pub struct Server {
    addr: String,
    tick_ms: u32,
    kind: Kind,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
}

#[derive(Clone, Debug)]
pub struct ServerBuilder {
    tick_ms: u32,
    min_session_timeout: Option<u32>,
    max_session_timeout: Option<u32>,
    extra: Vec<String>,
    needs_own: bool,
    nofile: Option<u32>,
    cpus: Option<String>,
}

impl ServerBuilder {
    /// tickTime for a spawned server. A speed hint only: an external server keeps
    /// its own tickTime (see [`Server::tick_ms`]), so tests must derive their
    /// bounds from negotiated values, not from this.
    pub fn tick_time(mut self, ms: u32) -> Self {
        self.tick_ms = ms;
        self
    }

    /// minSessionTimeout in zoo.cfg; makes the test need its own server.
    pub fn min_session_timeout(mut self, ms: u32) -> Self {
        self.min_session_timeout = Some(ms);
        self.needs_own = true;
        self
    }

    /// maxSessionTimeout in zoo.cfg; makes the test need its own server.
    pub fn max_session_timeout(mut self, ms: u32) -> Self {
        self.max_session_timeout = Some(ms);
        self.needs_own = true;
        self
    }

    /// Appends a raw line to zoo.cfg (after the harness's own lines, so a key
    /// set here wins over the default one); makes the test need its own server.
    pub fn extra(mut self, line: &str) -> Self {
        self.extra.push(line.trim_end_matches('\n').to_string());
        self.needs_own = true;
        self
    }

    /// Runs the server with `RLIMIT_NOFILE` set to `n` (soft and hard, via
    /// `prlimit`); makes the test need its own server.
    pub fn nofile(mut self, n: u32) -> Self {
        self.nofile = Some(n);
        self.needs_own = true;
        self
    }

    /// Runs the server on these CPUs only (`taskset -c LIST`); makes the
    /// test need its own server.
    pub fn cpus(mut self, list: &str) -> Self {
        self.cpus = Some(list.to_string());
        self.needs_own = true;
        self
    }

    /// The test needs a fresh server (e.g. it inspects the root's Stat).
    pub fn fresh(mut self) -> Self {
        self.needs_own = true;
        self
    }

    /// Starts the server. Panics if the test needs its own server and only a
    /// shared external one is available: use [`Self::start_or_skip`] then.
    pub fn start(self) -> Server {
        self.start_or_skip("(unnamed)")
            .expect("this test needs its own server config")
    }

    /// Like [`Self::start`], but in external mode a test that needs its own
    /// config returns `None` (after printing why) unless a ZooKeeper can be
    /// spawned through `CORRAL_TEST_ZKSERVER_SH`.
    pub fn start_or_skip(self, test: &str) -> Option<Server> {
        match std::env::var("CORRAL_TEST_SERVER") {
            Ok(addr) if !addr.is_empty() => {
                if !self.needs_own {
                    let tick_ms = std::env::var("CORRAL_TEST_SERVER_TICK_MS")
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(2000);
                    return Some(Server {
                        addr,
                        tick_ms,
                        kind: Kind::External,
                        child: None,
                        dir: None,
                    });
                }
                match std::env::var_os("CORRAL_TEST_ZKSERVER_SH") {
                    Some(sh) if !sh.is_empty() => Some(self.spawn(Kind::ZooKeeper, Path::new(&sh))),
                    _ => {
                        eprintln!(
                            "NOTE: skipping {test} in external mode (CORRAL_TEST_SERVER): it needs its own server \
                             config; set CORRAL_TEST_ZKSERVER_SH to let it spawn a private ZooKeeper"
                        );
                        None
                    }
                }
            }
            _ => Some(self.spawn(Kind::Corral, &corral_binary())),
        }
    }

    fn config(&self, port: u16, data_dir: &Path) -> String {
        let mut cfg = format!(
            "tickTime={}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=60\n\
             4lw.commands.whitelist=*\nextendedTypesEnabled=true\nDigestAuthenticationProvider.superDigest={SUPER_DIGEST}\n",
            self.tick_ms,
            data_dir.display()
        );
        if let Some(v) = self.min_session_timeout {
            cfg += &format!("minSessionTimeout={v}\n");
        }
        if let Some(v) = self.max_session_timeout {
            cfg += &format!("maxSessionTimeout={v}\n");
        }
        // Off unless a test turns it on (its lines come after these).
        cfg += "admin.enableServer=false\n";
        for line in &self.extra {
            cfg += line;
            cfg += "\n";
        }
        cfg
    }

    fn spawn(&self, kind: Kind, program: &Path) -> Server {
        let mut last_err = String::new();
        // A port picked by bind(0)+drop can be grabbed by someone else before the
        // server binds it: retry a few times with a fresh port.
        for _attempt in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("corral-test-")
                .tempdir()
                .expect("tempdir");
            let data_dir = dir.path().join("data");
            fs::create_dir_all(&data_dir).unwrap();
            let port = free_port();
            let cfg_path = dir.path().join("zoo.cfg");
            fs::write(&cfg_path, self.config(port, &data_dir)).unwrap();
            let log_path = dir.path().join("server.log");
            let log = fs::File::create(&log_path).unwrap();
            // Wrappers: `prlimit` for the descriptor limit, `taskset` for
            // the CPUs.
            let mut argv: Vec<std::ffi::OsString> = Vec::new();
            if let Some(n) = self.nofile {
                argv.extend([
                    "prlimit".into(),
                    format!("--nofile={n}:{n}").into(),
                    "--".into(),
                ]);
            }
            if let Some(list) = &self.cpus {
                argv.extend(["taskset".into(), "-c".into(), list.into()]);
            }
            argv.push(program.into());
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..]);
            match kind {
                Kind::Corral => {
                    cmd.arg("--config").arg(&cfg_path);
                }
                Kind::ZooKeeper => {
                    cmd.arg("start-foreground").arg(&cfg_path);
                    cmd.env("ZOOCFGDIR", dir.path())
                        .env("JMXDISABLE", "true")
                        .env(
                            "SERVER_JVMFLAGS",
                            format!(
                            "-Xmx256m -Dzookeeper.log.dir={} -Dzookeeper.root.logger=INFO,CONSOLE \
                             -Dzookeeper.extendedTypesEnabled=true \
                             -Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}",
                            dir.path().display()
                        ),
                        );
                }
                Kind::External => unreachable!(),
            }
            cmd.stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
            let addr = format!("127.0.0.1:{port}");
            let mut server = Server {
                addr,
                tick_ms: self.tick_ms,
                kind,
                child: Some(child),
                dir: Some(dir),
            };
            let bound = if kind == Kind::ZooKeeper {
                ZK_READY_TIMEOUT
            } else {
                READY_TIMEOUT
            };
            match server.wait_ready(bound) {
                Ok(()) => return server,
                Err(e) => {
                    last_err = format!(
                        "{e}\n--- server log ({}) ---\n{}",
                        log_path.display(),
                        server.log_tail()
                    );
                    eprintln!("server start attempt failed, retrying on another port: {last_err}");
                    // Drop kills the child and removes the dir.
                }
            }
        }
        panic!("server did not become ready: {last_err}");
    }
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// Sends a four-letter word and returns the whole answer (the server closes).
pub fn four_letter(addr: &str, cmd: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(cmd.as_bytes())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

impl Server {
    /// A server with the default test config (see the module docs).
    pub fn start() -> Server {
        Server::builder().start()
    }

    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            tick_ms: 2000,
            min_session_timeout: None,
            max_session_timeout: None,
            extra: Vec::new(),
            needs_own: false,
            nofile: None,
            cpus: None,
        }
    }

    /// `host:port` for clients.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The tickTime the server runs with.
    pub fn tick_ms(&self) -> u32 {
        self.tick_ms
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The spawned server's dataDir (`None` in external mode).
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("data"))
    }

    /// The spawned server's process id (`None` in external mode).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True when the server is shared with other tests (external mode).
    pub fn is_shared(&self) -> bool {
        self.kind == Kind::External
    }

    fn wait_ready(&mut self, bound: Duration) -> Result<(), String> {
        let deadline = Instant::now() + bound;
        let mut last;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("server exited early with {status}"));
                }
            }
            match four_letter(&self.addr, "ruok") {
                // ZooKeeper says imok while still starting up; it serves once srvr shows a Mode.
                Ok(answer) if answer == "imok" => {
                    if self.kind != Kind::ZooKeeper
                        || four_letter(&self.addr, "srvr")
                            .map(|s| s.contains("Mode: "))
                            .unwrap_or(false)
                    {
                        return Ok(());
                    }
                    last = "imok, but srvr shows no Mode yet".into();
                }
                Ok(answer) => last = format!("ruok answered {answer:?}"),
                Err(e) => last = format!("ruok failed: {e}"),
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no `imok` answer to `ruok` on {} within {bound:?} (last: {last})",
                    self.addr
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The whole server log (stdout + stderr) of a spawned server; `None` in
    /// external mode.
    pub fn log_text(&self) -> Option<String> {
        let dir = self.dir.as_ref()?;
        Some(fs::read_to_string(dir.path().join("server.log")).unwrap_or_default())
    }

    /// `Some(status)` if the spawned server process has exited; `None` while it
    /// runs (and always in external mode).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn log_tail(&self) -> String {
        let Some(dir) = self.dir.as_ref() else {
            return String::new();
        };
        let text = fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// A `zookeeper-client` session (10 s requested timeout).
    pub async fn client(&self) -> zk::Client {
        self.connector()
            .connect(&self.addr)
            .await
            .expect("zookeeper-client connect")
    }

    /// A connector with the suite's defaults, for tests that add options.
    pub fn connector(&self) -> zk::Connector {
        zk::Client::connector().with_session_timeout(Duration::from_secs(10))
    }

    /// A session authenticated as the super user.
    pub async fn super_client(&self) -> zk::Client {
        self.connector()
            .with_auth("digest", SUPER_AUTH)
            .connect(&self.addr)
            .await
            .expect("super connect")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                let path = dir.keep();
                eprintln!(
                    "server {} ({:?}) log kept at {}",
                    self.addr,
                    self.kind,
                    path.join("server.log").display()
                );
            }
        }
    }
}

// ------------------------------------------------------------ crate helpers

/// A unique absolute path for one test: `/t_<name>_<pid>`.
pub fn unique_path(name: &str) -> String {
    format!("/t_{}_{}", name, std::process::id())
}

pub fn open_options() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

pub fn options(mode: zk::CreateMode) -> zk::CreateOptions<'static> {
    mode.with_acls(zk::Acls::anyone_all())
}

/// Creates the test's root node `/t_<name>_<pid>` (persistent, open ACL).
pub async fn make_root(client: &zk::Client, name: &str) -> String {
    let root = unique_path(name);
    // A leftover from an earlier run with the same pid against a shared server.
    rm_rf(client, &root).await;
    client
        .create(&root, b"", &open_options())
        .await
        .unwrap_or_else(|e| panic!("create {root}: {e}"));
    root
}

/// Best-effort recursive delete (cleanup for shared servers).
pub async fn rm_rf(client: &zk::Client, path: &str) {
    let mut stack = vec![path.to_string()];
    let mut order = Vec::new();
    while let Some(p) = stack.pop() {
        if let Ok(children) = client.list_children(&p).await {
            for c in children {
                stack.push(format!("{p}/{c}"));
            }
        }
        order.push(p);
    }
    for p in order.iter().rev() {
        let _ = client.delete(p, None).await;
    }
}

/// Waits (bounded by [`WAIT`]) for a one-shot watcher to fire.
#[track_caller]
pub fn wait_oneshot(w: zk::OneshotWatcher) -> impl Future<Output = zk::WatchedEvent> {
    let caller = std::panic::Location::caller();
    async move {
        tokio::time::timeout(WAIT, w.changed())
            .await
            .unwrap_or_else(|_| panic!("no watch event within {WAIT:?} (waiting at {caller})"))
    }
}

/// Waits (bounded by `bound`) for a one-shot watcher to fire.
pub async fn wait_oneshot_for(w: zk::OneshotWatcher, bound: Duration) -> zk::WatchedEvent {
    tokio::time::timeout(bound, w.changed())
        .await
        .unwrap_or_else(|_| panic!("no watch event within {bound:?}"))
}

/// Next event of a persistent watcher (bounded by [`WAIT`]).
pub async fn next_event(w: &mut zk::PersistentWatcher) -> zk::WatchedEvent {
    tokio::time::timeout(WAIT, w.changed())
        .await
        .unwrap_or_else(|_| panic!("no persistent watch event within {WAIT:?}"))
}

/// True if a persistent watcher has an event ready *right now*, without waiting.
/// Used right after awaiting a reply on the same session: the server sends a
/// notification before the reply that reflects its change (protocol doc §12.6),
/// and the client dispatches frames in order, so an event caused by anything
/// already acknowledged is already queued.
pub async fn persistent_has_ready_event(w: &mut zk::PersistentWatcher) -> Option<zk::WatchedEvent> {
    tokio::time::timeout(Duration::ZERO, w.changed()).await.ok()
}

/// Same as [`persistent_has_ready_event`] for a one-shot watcher (consumes it).
pub async fn oneshot_ready_event(w: zk::OneshotWatcher) -> Option<zk::WatchedEvent> {
    tokio::time::timeout(Duration::ZERO, w.changed()).await.ok()
}

/// Polls `cond` every 50 ms until it holds; panics after `bound`.
pub async fn wait_until<F, Fut>(what: &str, bound: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + bound;
    loop {
        if cond().await {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {bound:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Asserts a Stat time is plausible wall-clock time (within 10 minutes of now).
#[track_caller]
pub fn assert_recent_ms(t: i64) {
    let now = now_ms();
    assert!(
        (now - t).abs() < 600_000,
        "time {t} is not within 10 minutes of now ({now})"
    );
}
