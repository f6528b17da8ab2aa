//! The `corral` binary: parses the command line and the zoo.cfg, then runs
//! the server on the glommio runtime.

use clap::{Parser, Subcommand};
use corral::config::{self, Config};
use corral::proto::fourlw::ConfInfo;
use corral::runtime::{self, RuntimeConfig};
use corral::server::CoreConfig;
use std::path::PathBuf;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A ZooKeeper-compatible coordination service.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    tool: Option<Tool>,
    /// A ZooKeeper zoo.cfg. Without it corral serves on 127.0.0.1:2181 with
    /// data under ./data.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Number of shards (executor threads serving connections), default the
    /// number of CPUs. Shard 0 owns the data; the others cut frames and
    /// forward them. The first 8 connections stay on shard 0 (no
    /// cross-shard hop for a few clients); later ones go to the shard with
    /// the fewest.
    #[arg(long)]
    shards: Option<usize>,
    /// How long a shard keeps busy-polling after its last client I/O
    /// before it sleeps, in microseconds (and glommio as long again on its
    /// rings). Without it, each shard works out its own window from how
    /// soon requests have been arriving, spins not at all when they come
    /// too late for spinning to pay or when it waited for CPUs that others
    /// hold, and never when the process has more shards than CPUs (see
    /// the metrics endpoint's corral_spin_* figures).
    #[arg(long)]
    spin_us: Option<u64>,
    /// Override the client port.
    #[arg(long)]
    port: Option<u16>,
    /// Serve Prometheus metrics over HTTP on this address (e.g. 127.0.0.1:7000).
    #[arg(long)]
    metrics_addr: Option<std::net::SocketAddr>,
    /// Serve ZooKeeper's AdminServer (`/commands/...`) on this address
    /// (e.g. 127.0.0.1:8080); overrides admin.serverAddress/serverPort and
    /// turns it on.
    #[arg(long)]
    admin_addr: Option<std::net::SocketAddr>,
    /// The JAAS login configuration (ZooKeeper takes it from
    /// -Djava.security.auth.login.config): the QuorumServer/QuorumLearner
    /// sections for quorum.auth.enableSasl. Overrides corral.jaasConfig.
    #[arg(long)]
    jaas: Option<std::path::PathBuf>,
}

/// Offline tools over the data directories (the server is not started),
/// and a local ensemble for trying corral out.
#[derive(Subcommand, Debug)]
enum Tool {
    /// Start a local ensemble on 127.0.0.1 (one process per server) and
    /// print its connect string; Ctrl-C stops it.
    Dev {
        /// Voting servers.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Observers (non-voting servers) besides them.
        #[arg(long, default_value_t = 0)]
        observers: usize,
        /// Client port of server 1; server i uses this + i - 1.
        #[arg(long, default_value_t = 2181)]
        client_port: u16,
        /// Added to the quorum (2888 + i - 1) and election (3888 + i - 1) ports.
        #[arg(long, default_value_t = 0)]
        peer_port_offset: u16,
        /// Where the servers keep their configs and data (default ./corral-dev).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Also serve TLS (client port + 100) with a throwaway CA and
        /// certificates, and print the client settings.
        #[arg(long)]
        tls: bool,
    },
    /// Txn log segments (`log.<zxid>`).
    Log {
        #[command(subcommand)]
        cmd: FileCmd,
    },
    /// Snapshot files (`snapshot.<zxid>`).
    Snapshot {
        #[command(subcommand)]
        cmd: FileCmd,
    },
}

#[derive(Subcommand, Debug)]
enum FileCmd {
    /// Print one line per record (log) or per session and node (snapshot).
    Dump { file: PathBuf },
    /// Check the file (a log directory works too); exits 1 naming the file
    /// and offset of any corruption.
    Verify { file: PathBuf },
}

fn run_tool(tool: Tool) -> ! {
    use corral::storage::tools;
    use std::io::Write;
    let (text, ok) = match tool {
        Tool::Dev {
            nodes,
            observers,
            client_port,
            peer_port_offset,
            dir,
            tls,
        } => {
            if nodes == 0 {
                eprintln!("corral dev: --nodes must be at least 1");
                std::process::exit(2);
            }
            let opts = corral::dev::DevOptions {
                nodes,
                observers,
                client_base: client_port,
                peer_port_offset,
                dir: dir.unwrap_or_else(|| PathBuf::from("corral-dev")),
                tick_ms: 2000,
                tls,
            };
            let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("corral"));
            match corral::dev::run(&exe, &opts) {
                Ok(st) => std::process::exit(st.code().unwrap_or(1)),
                Err(e) => {
                    eprintln!("corral dev: {e}");
                    std::process::exit(1);
                }
            }
        }
        Tool::Log {
            cmd: FileCmd::Dump { file },
        } => tools::log_dump(&file),
        Tool::Log {
            cmd: FileCmd::Verify { file },
        } => tools::log_verify(&file),
        Tool::Snapshot {
            cmd: FileCmd::Dump { file },
        } => tools::snapshot_dump(&file),
        Tool::Snapshot {
            cmd: FileCmd::Verify { file },
        } => tools::snapshot_verify(&file),
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    std::process::exit(if ok { 0 } else { 1 });
}

/// mimalloc reads its options when it starts, before `main`; large OS
/// pages (transparent huge pages via madvise) make building a big tree at
/// startup 2-3x faster here (fewer first-touch page faults: a 1M-znode
/// snapshot loads in about 0.7 s instead of 2 s). So the server re-executes
/// itself once with `MIMALLOC_LARGE_OS_PAGES=1` unless that variable is set
/// (to anything: `0` turns this off). `exec` keeps the pid.
fn reexec_with_large_pages() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MIMALLOC_LARGE_OS_PAGES").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MIMALLOC_LARGE_OS_PAGES", "1")
        .exec();
    // Only returns on failure: carry on without.
    tracing::debug!("re-exec with large pages failed: {err}");
}

/// The ensemble membership from the `server.N` lines and myid.
/// What `conf` and the AdminServer show of the membership.
fn quorum_conf(cfg: &Config) -> corral::proto::fourlw::QuorumConf {
    let me = cfg.my_server();
    corral::proto::fourlw::QuorumConf {
        init_limit: cfg.init_limit,
        sync_limit: cfg.sync_limit,
        election_alg: 3,
        election_port: me.map_or(0, |s| s.election_port),
        quorum_port: me.map_or(0, |s| s.quorum_port),
        observer: cfg.is_observer(),
        members: cfg
            .servers
            .iter()
            .map(|s| corral::proto::fourlw::MemberInfo {
                id: s.id,
                host: s.host.clone(),
                quorum_port: s.quorum_port,
                election_port: s.election_port,
                observer: s.observer,
                client: s
                    .client_port
                    .map(|p| (s.client_addr.clone().unwrap_or_else(|| "0.0.0.0".into()), p)),
            })
            .collect(),
        config_version: 0,
    }
}

fn ensemble_config(cfg: &Config) -> Result<runtime::ensemble::EnsembleConfig, String> {
    use std::net::ToSocketAddrs;
    let my_id = cfg
        .my_id
        .ok_or("server.N lines need dataDir/myid to say which server this is")?;
    if cfg.my_server().is_none() {
        return Err(format!(
            "myid is {my_id} but there is no server.{my_id} line"
        ));
    }
    let mut quorum = Vec::new();
    let (mut voters, mut observers) = (Vec::new(), Vec::new());
    for s in &cfg.servers {
        let addr = (s.host.as_str(), s.quorum_port)
            .to_socket_addrs()
            .map_err(|e| format!("server.{}: {}: {e}", s.id, s.host))?
            .next()
            .ok_or_else(|| format!("server.{}: {} has no address", s.id, s.host))?;
        quorum.push((s.id, addr));
        if s.observer {
            observers.push(s.id);
        } else {
            voters.push(s.id);
        }
    }
    // A peer must dial from its configured address, unless every server
    // is on loopback (where any local process can pose as any address).
    let check_source = !quorum.iter().all(|(_, a)| a.ip().is_loopback());
    Ok(runtime::ensemble::EnsembleConfig {
        my_id,
        voters,
        observers,
        quorum,
        init_limit: cfg.init_limit,
        sync_limit: cfg.sync_limit,
        tick_time_ms: cfg.tick_time_ms,
        auth: peer_auth(cfg)?,
        tls: peer_tls(cfg)?,
        check_source,
        max_peer_body: cfg
            .jute_max_buffer
            .saturating_add(cfg.jute_max_buffer_extra.unwrap_or(cfg.jute_max_buffer)),
    })
}

/// `sslQuorum=true`: the acceptor's and dialer's TLS configs from the
/// `ssl.quorum.*` stores, and each server's name as its `server.N` line
/// gives it (what its certificate must name).
fn peer_tls(cfg: &Config) -> Result<Option<runtime::peers::PeerTls>, String> {
    if !cfg.ssl_quorum {
        return Ok(None);
    }
    let accept = runtime::tls::Reloading::new(&cfg.quorum_tls, runtime::tls::server_config)
        .map_err(|e| e.to_string())?;
    let dial = runtime::tls::Reloading::new(&cfg.quorum_tls, runtime::tls::peer_client_config)
        .map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    for s in &cfg.servers {
        let name = rustls::pki_types::ServerName::try_from(s.host.clone())
            .map_err(|e| format!("server.{}: `{}` as a TLS name: {e}", s.id, s.host))?;
        names.push((s.id, name));
    }
    Ok(Some(runtime::peers::PeerTls {
        accept: std::sync::Arc::new(accept),
        dial: std::sync::Arc::new(dial),
        names,
    }))
}

/// SASL DIGEST-MD5 users for clients: the `Server` section of the JAAS file
/// (DigestLoginModule's `user_NAME="PASSWORD"`), as ZooKeeper reads it;
/// none without a JAAS file or that section (then SASL is refused).
fn client_sasl_users(cfg: &Config) -> Result<std::collections::BTreeMap<String, String>, String> {
    let Some(path) = cfg.jaas_config.as_ref() else {
        return Ok(Default::default());
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("JAAS file {}: {e}", path.display()))?;
    let j = corral::jaas::parse(&text).map_err(|e| format!("JAAS file {}: {e}", path.display()))?;
    Ok(j.sections
        .get("Server")
        .map(|s| s.users())
        .unwrap_or_default())
}

/// Quorum authentication from the `quorum.auth.*` keys and the JAAS file.
fn peer_auth(cfg: &Config) -> Result<runtime::peers::PeerAuth, String> {
    let qa = &cfg.quorum_auth;
    if !qa.enabled {
        if qa.learner_require || qa.server_require {
            return Err(
                "quorum.auth.learnerRequireSasl/serverRequireSasl need quorum.auth.enableSasl=true"
                    .into(),
            );
        }
        return Ok(Default::default());
    }
    let path = cfg.jaas_config.as_ref().ok_or(
        "quorum.auth.enableSasl=true needs the JAAS file with the QuorumServer and QuorumLearner \
         sections: --jaas FILE or corral.jaasConfig=FILE",
    )?;
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("JAAS file {}: {e}", path.display()))?;
    let j = corral::jaas::parse(&text).map_err(|e| format!("JAAS file {}: {e}", path.display()))?;
    let section = |name: &str| {
        j.sections.get(name).ok_or_else(|| {
            format!(
                "JAAS file {}: no {name} section (quorum.auth.enableSasl=true)",
                path.display()
            )
        })
    };
    let learner = section(&qa.learner_context)?;
    let (Some(user), Some(password)) = (learner.option("username"), learner.option("password"))
    else {
        return Err(format!(
            "JAAS file {}: section {} needs username=\"...\" and password=\"...\"",
            path.display(),
            qa.learner_context
        ));
    };
    let users = section(&qa.server_context)?.users();
    if users.is_empty() {
        return Err(format!(
            "JAAS file {}: section {} has no user_NAME=\"PASSWORD\" entries",
            path.display(),
            qa.server_context
        ));
    }
    Ok(runtime::peers::PeerAuth {
        login: Some((user.to_string(), password.to_string())),
        users,
        require_dialers: qa.server_require,
        require_acceptors: qa.learner_require,
    })
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if let Some(tool) = cli.tool {
        run_tool(tool);
    }
    reexec_with_large_pages();
    let mut cfg = match &cli.config {
        Some(p) => match config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("corral: {e}");
                std::process::exit(2);
            }
        },
        None => Config::default(),
    };
    if let Some(p) = cli.port {
        cfg.client_port = p;
    }
    if cli.metrics_addr.is_some() {
        cfg.metrics_addr = cli.metrics_addr;
    }
    if let Some(a) = cli.admin_addr {
        cfg.admin.enabled = true;
        cfg.admin.address = a.ip().to_string();
        cfg.admin.port = a.port();
    }
    if let Some(s) = cli.shards {
        if s == 0 {
            eprintln!("corral: --shards must be at least 1");
            std::process::exit(2);
        }
        cfg.shards = Some(s);
    }
    if let Some(j) = cli.jaas.clone() {
        cfg.jaas_config = Some(j);
    }
    let ensemble = if cfg.is_standalone() {
        None
    } else {
        match ensemble_config(&cfg) {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("corral: {e}");
                std::process::exit(2);
            }
        }
    };
    let server_id = ensemble.as_ref().map_or(1, |e| e.my_id);
    let client_tls = if cfg.client_tls.enabled() {
        match runtime::tls::TlsSource::new(&cfg.client_tls, runtime::tls::server_config) {
            Ok(c) => Some(std::sync::Arc::new(c)),
            Err(e) => {
                eprintln!("corral: {e}");
                std::process::exit(2);
            }
        }
    } else {
        None
    };
    let secure_listen = cfg.client_tls.secure_port.map(|port| {
        let ip = cfg
            .client_tls
            .secure_address
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        std::net::SocketAddr::new(ip, port)
    });
    let rt = RuntimeConfig {
        client_tls,
        secure_listen,
        port_unification: cfg.client_tls.port_unification,
        listen: cfg.client_addr(),
        shards: cfg
            .shards
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        core: CoreConfig {
            server_id: server_id as u8,
            tick_ms: cfg.tick_time_ms,
            min_session_timeout_ms: cfg.min_session_timeout(),
            max_session_timeout_ms: cfg.max_session_timeout(),
            ttl_enabled: cfg.extended_types_enabled,
            super_digest: cfg.super_digest.clone(),
            container_check_ms: 60_000,
            max_client_cnxns: cfg.max_client_cnxns,
            max_cnxns: cfg.max_cnxns,
            observer: cfg.is_observer() && ensemble.is_some(),
            x509_super_user: cfg.client_tls.x509_super_user.clone(),
            sasl_users: match client_sasl_users(&cfg) {
                Ok(u) => u,
                Err(e) => {
                    eprintln!("corral: {e}");
                    std::process::exit(2);
                }
            },
            sasl_super_user: cfg.sasl_super_user.clone(),
            enforce_auth_schemes: cfg.enforce_auth_schemes.clone(),
            read_only_mode: cfg.read_only_mode_enabled && ensemble.is_some(),
            watch_limits: corral::tree::watch::WatchLimits {
                max_watches: no_limit_if_zero(cfg.max_watches_per_connection),
                max_bytes: no_limit_if_zero(cfg.max_watch_bytes_per_connection),
            },
            seed: {
                let mut seed = [0u8; 32];
                if let Err(e) = getrandom::getrandom(&mut seed) {
                    eprintln!("corral: the OS random source: {e}");
                    std::process::exit(1);
                }
                corral::server::Seed(seed)
            },
            ..CoreConfig::default()
        },
        max_frame: cfg.jute_max_buffer,
        outstanding_limit: cfg.global_outstanding_limit as usize,
        spin: match cli.spin_us {
            Some(us) => runtime::spin::SpinMode::Fixed(std::time::Duration::from_micros(us)),
            None => runtime::spin::SpinMode::Auto {
                cpus: runtime::spin::usable_cpus(),
            },
        },
        sessionless_timeout_ms: cfg.sessionless_timeout_ms as u64,
        four_lw: cfg.four_lw_whitelist.clone(),
        storage: Some(runtime::storage::StorageConfig {
            snap_dir: cfg.data_dir.clone(),
            log_dir: cfg.log_dir().to_path_buf(),
            segment_size: cfg.pre_alloc_size_kb.saturating_mul(1024).max(64 << 10),
            force_sync: cfg.force_sync,
            snap_count: u64::from(cfg.snap_count),
            retain: cfg.autopurge_snap_retain_count as usize,
            purge_interval_h: cfg.autopurge_purge_interval_h,
        }),
        metrics_addr: cfg.metrics_addr,
        admin: match cfg.admin.listen() {
            None => None,
            Some(Ok(addr)) => Some(runtime::admin::AdminConfig {
                addr,
                command_url: cfg.admin.command_url.clone(),
            }),
            Some(Err(e)) => {
                eprintln!("corral: {e}");
                std::process::exit(2);
            }
        },
        initial_config: cfg.source_text.clone(),
        conf: ConfInfo {
            client_port: cfg.client_port,
            snap_dir: cfg.data_dir.join("version-2"),
            log_dir: cfg.log_dir().join("version-2"),
            data_dir_size: 0,
            data_log_size: 0,
            tick_time_ms: cfg.tick_time_ms,
            max_client_cnxns: cfg.max_client_cnxns,
            min_session_timeout_ms: cfg.min_session_timeout(),
            max_session_timeout_ms: cfg.max_session_timeout(),
            server_id: ensemble.as_ref().map_or(0, |e| e.my_id),
            quorum: ensemble.as_ref().map(|_| quorum_conf(&cfg)),
        },
        ensemble,
    };
    tracing::info!(
        "corral {} serving on {}{}{} with {} shard(s)",
        env!("CARGO_PKG_VERSION"),
        rt.listen,
        if rt.port_unification && rt.client_tls.is_some() {
            " (TLS and plaintext)"
        } else {
            ""
        },
        rt.secure_listen
            .map(|a| format!(", TLS on {a}"))
            .unwrap_or_default(),
        rt.shards
    );
    if let Err(e) = runtime::run(rt) {
        eprintln!("corral: {e}");
        std::process::exit(1);
    }
}

/// A limit from the config file, where 0 means none.
fn no_limit_if_zero(v: u32) -> usize {
    if v == 0 {
        usize::MAX
    } else {
        v as usize
    }
}
