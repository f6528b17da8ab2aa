//! `corral dev`: a local ensemble on loopback for trying corral out.
//!
//! Writes one ZooKeeper-style zoo.cfg and `myid` per server under a
//! directory, starts one `corral --config` process per server, waits until
//! every server answers `srvr` with its role (exactly one leader), prints the
//! connect string, and then stays in the foreground: when any server exits,
//! or on Ctrl-C (which reaches the whole process group), the rest are
//! stopped.
//!
//! Ports on 127.0.0.1, server i = 1..n: client `client_base + i - 1`,
//! quorum `2888 + i - 1`, election `3888 + i - 1` (shifted together by
//! `--peer-port-offset`).
//!
//! The servers authenticate each other (`quorum.auth.enableSasl` with both
//! require flags): a fresh random password, in a JAAS file (`jaas.conf`,
//! mode 0600) beside the configs, so that no other local process can join
//! the ensemble as a server.
//!
//! With `--tls` each server also serves TLS on `secureClientPort` (client
//! port + 100, so 2281.. by default) with `ssl.clientAuth=need`, and the
//! servers link over TLS (`sslQuorum=true`) with the same certificate: a
//! throwaway CA, a server certificate for localhost/127.0.0.1 and a client
//! certificate are made with rcgen under `tls/` (keys mode 0600), and the
//! settings for kazoo, the Java client and zkCli are printed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What `corral dev` was asked for.
#[derive(Clone, Debug)]
pub struct DevOptions {
    pub nodes: usize,
    pub observers: usize,
    pub client_base: u16,
    pub peer_port_offset: u16,
    pub dir: PathBuf,
    pub tick_ms: u32,
    /// TLS on secure client ports (see the module docs).
    pub tls: bool,
}

/// One server's ports.
#[derive(Clone, Copy, Debug)]
pub struct DevPorts {
    pub client: u16,
    pub quorum: u16,
    pub election: u16,
    /// With `--tls`.
    pub secure: u16,
    /// The AdminServer (on 127.0.0.1).
    pub admin: u16,
}

impl DevOptions {
    pub fn ports(&self, i: usize) -> DevPorts {
        let k = (i - 1) as u16;
        DevPorts {
            secure: self.client_base + 100 + k,
            admin: 8080 + self.peer_port_offset + k,
            client: self.client_base + k,
            quorum: 2888 + self.peer_port_offset + k,
            election: 3888 + self.peer_port_offset + k,
        }
    }

    fn total(&self) -> usize {
        self.nodes + self.observers
    }

    /// The zoo.cfg of server `i` (1-based; the last `observers` observe).
    pub fn zoo_cfg(&self, i: usize) -> String {
        let mut s = format!(
            "# corral dev: server {i} of {}\ntickTime={}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n\
             admin.serverAddress=127.0.0.1\nadmin.serverPort={}\n",
            self.total(),
            self.tick_ms,
            self.dir.join(format!("zk{i}")).join("data").display(),
            self.ports(i).client,
            self.ports(i).admin
        );
        if i > self.nodes {
            s.push_str("peerType=observer\n");
        }
        if self.tls {
            s.push_str(&format!(
                "secureClientPort={}\nsecureClientPortAddress=127.0.0.1\n\
                 ssl.keyStore.location={}\nssl.keyStore.type=PEM\n\
                 ssl.trustStore.location={}\nssl.trustStore.type=PEM\nssl.clientAuth=need\n\
                 sslQuorum=true\nssl.quorum.keyStore.location={}\nssl.quorum.keyStore.type=PEM\n\
                 ssl.quorum.trustStore.location={}\nssl.quorum.trustStore.type=PEM\n",
                self.ports(i).secure,
                self.tls_path("server.pem").display(),
                self.tls_path("ca.pem").display(),
                self.tls_path("server.pem").display(),
                self.tls_path("ca.pem").display()
            ));
        }
        s.push_str(&format!(
            "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
             quorum.auth.serverRequireSasl=true\ncorral.jaasConfig={}\n",
            self.jaas_path().display()
        ));
        for j in 1..=self.total() {
            let p = self.ports(j);
            let role = if j > self.nodes { ":observer" } else { "" };
            s.push_str(&format!(
                "server.{j}=127.0.0.1:{}:{}{role};127.0.0.1:{}\n",
                p.quorum, p.election, p.client
            ));
        }
        s
    }

    /// A file of the `--tls` material.
    pub fn tls_path(&self, name: &str) -> PathBuf {
        self.dir.join("tls").join(name)
    }

    /// The TLS connect string (`--tls`).
    pub fn secure_connect_string(&self) -> String {
        (1..=self.total())
            .map(|i| format!("localhost:{}", self.ports(i).secure))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// How to connect the usual clients over TLS (`--tls`).
    pub fn tls_help(&self) -> String {
        let p = |n: &str| self.tls_path(n).display().to_string();
        format!(
            "TLS connect string: {hosts}\n\
             kazoo:  KazooClient(hosts=\"{hosts}\", use_ssl=True, ca=\"{ca}\", certfile=\"{cert}\", keyfile=\"{key}\")\n\
             zkCli / Java client:\n  CLIENT_JVMFLAGS=\"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty \
             -Dzookeeper.client.secure=true -Dzookeeper.ssl.keyStore.location={client} -Dzookeeper.ssl.keyStore.type=PEM \
             -Dzookeeper.ssl.trustStore.location={ca} -Dzookeeper.ssl.trustStore.type=PEM\" zkCli.sh -server {hosts}\n  \
             (Debian's zookeeper package also needs -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:\
             /usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar in CLIENT_JVMFLAGS)\n",
            hosts = self.secure_connect_string(),
            ca = p("ca.pem"),
            cert = p("client-cert.pem"),
            key = p("client-key.pem"),
            client = p("client.pem"),
        )
    }

    /// The JAAS file with the servers' shared password.
    pub fn jaas_path(&self) -> PathBuf {
        self.dir.join("jaas.conf")
    }

    pub fn connect_string(&self) -> String {
        (1..=self.total())
            .map(|i| format!("127.0.0.1:{}", self.ports(i).client))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The answer to a four-letter word, or "" if the server does not answer.
pub fn four_letter(addr: SocketAddr, word: &str) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(word.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The `Mode:` line of `srvr`, if the server answers.
pub fn mode(addr: SocketAddr) -> Option<String> {
    four_letter(addr, "srvr")
        .lines()
        .find_map(|l| l.strip_prefix("Mode: ").map(str::to_string))
}

/// A JAAS file for the servers, with a fresh random password.
fn jaas_file() -> std::io::Result<String> {
    let mut secret = [0u8; 24];
    getrandom::getrandom(&mut secret).map_err(|e| std::io::Error::other(e.to_string()))?;
    let pw: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let module = "org.apache.zookeeper.server.auth.DigestLoginModule required";
    Ok(format!(
        "QuorumServer {{\n    {module}\n    user_corral=\"{pw}\";\n}};\n\
         QuorumLearner {{\n    {module}\n    username=\"corral\"\n    password=\"{pw}\";\n}};\n"
    ))
}

/// Writes `text` to a new file only the owner may read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// A throwaway CA, a server certificate (localhost, 127.0.0.1; key and
/// chain in `server.pem`, ZooKeeper's PEM key store) and a client
/// certificate (`client-cert.pem`/`client-key.pem`, both in `client.pem`).
fn write_tls(o: &DevOptions) -> std::io::Result<()> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| std::io::Error::other(format!("certificates: {e}"));
    std::fs::create_dir_all(o.dir.join("tls"))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.distinguished_name
        .push(DnType::CommonName, "corral dev CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let leaf = |sans: Vec<String>, cn: &str, eku| -> std::io::Result<(String, String)> {
        let mut p = CertificateParams::new(sans).map_err(err)?;
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = eku;
        let key = KeyPair::generate().map_err(err)?;
        let cert = p.signed_by(&key, &ca_cert, &ca_key).map_err(err)?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    let (server_cert, server_key) = leaf(
        vec!["localhost".into(), "127.0.0.1".into()],
        "localhost",
        // Also the servers' client certificate on quorum links.
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    )?;
    let (client_cert, client_key) = leaf(
        Vec::new(),
        "corral-dev-client",
        vec![ExtendedKeyUsagePurpose::ClientAuth],
    )?;
    std::fs::write(o.tls_path("ca.pem"), ca_cert.pem())?;
    write_private(
        &o.tls_path("server.pem"),
        &format!("{server_key}{server_cert}{}", ca_cert.pem()),
    )?;
    std::fs::write(o.tls_path("client-cert.pem"), &client_cert)?;
    write_private(&o.tls_path("client-key.pem"), &client_key)?;
    write_private(
        &o.tls_path("client.pem"),
        &format!("{client_key}{client_cert}{}", ca_cert.pem()),
    )
}

fn write_files(o: &DevOptions) -> std::io::Result<()> {
    write_private(&o.jaas_path(), &jaas_file()?)?;
    if o.tls {
        write_tls(o)?;
    }
    for i in 1..=o.total() {
        let d = o.dir.join(format!("zk{i}"));
        std::fs::create_dir_all(d.join("data"))?;
        std::fs::write(d.join("zoo.cfg"), o.zoo_cfg(i))?;
        std::fs::write(d.join("data").join("myid"), format!("{i}\n"))?;
    }
    Ok(())
}

fn spawn(exe: &Path, o: &DevOptions, i: usize) -> std::io::Result<Child> {
    let d = o.dir.join(format!("zk{i}"));
    let log = std::fs::File::create(d.join("out.log"))?;
    Command::new(exe)
        .arg("--config")
        .arg(d.join("zoo.cfg"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
}

/// Runs the ensemble until one server exits; returns that server's status.
pub fn run(exe: &Path, o: &DevOptions) -> std::io::Result<std::process::ExitStatus> {
    std::fs::create_dir_all(&o.dir)?;
    let o = &DevOptions {
        dir: o.dir.canonicalize()?,
        ..o.clone()
    };
    write_files(o)?;
    let mut children = Vec::new();
    for i in 1..=o.total() {
        children.push(spawn(exe, o, i)?);
    }
    let stop_all = |children: &mut Vec<Child>| {
        for c in children.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    };
    let t0 = Instant::now();
    loop {
        for (k, c) in children.iter_mut().enumerate() {
            if let Some(st) = c.try_wait()? {
                eprintln!(
                    "corral dev: server {} exited ({st}) during start; see {}",
                    k + 1,
                    o.dir.join(format!("zk{}", k + 1)).join("out.log").display()
                );
                stop_all(&mut children);
                return Ok(st);
            }
        }
        let modes: Vec<Option<String>> = (1..=o.total())
            .map(|i| mode(SocketAddr::from(([127, 0, 0, 1], o.ports(i).client))))
            .collect();
        let leaders = modes
            .iter()
            .filter(|m| m.as_deref() == Some("leader"))
            .count();
        if leaders == 1 && modes.iter().all(Option::is_some) {
            println!(
                "corral dev: {} servers ready in {:?}",
                o.total(),
                t0.elapsed()
            );
            for (i, m) in modes.iter().enumerate() {
                println!(
                    "  server {} {:<9} {}  admin http://127.0.0.1:{}/commands",
                    i + 1,
                    m.as_deref().unwrap_or("?"),
                    o.dir.join(format!("zk{}", i + 1)).display(),
                    o.ports(i + 1).admin
                );
            }
            println!("connect string: {}", o.connect_string());
            if o.tls {
                print!("{}", o.tls_help());
            }
            let _ = std::io::stdout().flush();
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            eprintln!("corral dev: no leader after 60 s (modes {modes:?})");
            stop_all(&mut children);
            return Err(std::io::Error::other("ensemble did not form"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    loop {
        for (k, c) in children.iter_mut().enumerate() {
            if let Some(st) = c.try_wait()? {
                eprintln!(
                    "corral dev: server {} exited ({st}); stopping the others",
                    k + 1
                );
                stop_all(&mut children);
                return Ok(st);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_name_every_server_with_distinct_ports() {
        let o = DevOptions {
            nodes: 3,
            observers: 2,
            client_base: 2181,
            peer_port_offset: 0,
            dir: PathBuf::from("/tmp/x"),
            tick_ms: 2000,
            tls: false,
        };
        let cfg = crate::config::parse(&o.zoo_cfg(4)).expect("a valid zoo.cfg");
        assert_eq!(cfg.servers.len(), 5);
        assert_eq!(cfg.client_port, 2184);
        assert_eq!(cfg.servers.iter().filter(|s| s.observer).count(), 2);
        let mut ports: Vec<u16> = (1..=5)
            .flat_map(|i| {
                let p = o.ports(i);
                [p.client, p.quorum, p.election]
            })
            .collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 15);
        assert_eq!(
            o.connect_string(),
            "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183,127.0.0.1:2184,127.0.0.1:2185"
        );
        assert!(cfg.quorum_auth.enabled && cfg.quorum_auth.server_require);
        assert_eq!(cfg.jaas_config, Some(o.jaas_path()));
        let j = crate::jaas::parse(&jaas_file().unwrap()).unwrap();
        let pw = j.sections["QuorumLearner"].option("password").unwrap();
        assert_eq!(pw.len(), 48);
        assert_eq!(j.sections["QuorumServer"].users()["corral"], pw);
        assert_ne!(
            jaas_file().unwrap(),
            jaas_file().unwrap(),
            "fresh each time"
        );
    }

    #[test]
    fn tls_material_loads_as_the_servers_configure_it() {
        let dir = tempfile_dir();
        let o = DevOptions {
            nodes: 3,
            observers: 0,
            client_base: 2181,
            peer_port_offset: 0,
            dir: dir.clone(),
            tick_ms: 2000,
            tls: true,
        };
        write_files(&o).unwrap();
        let mut cfg = crate::config::parse(&o.zoo_cfg(2)).expect("a valid zoo.cfg");
        cfg.set_my_id(2).unwrap();
        assert_eq!(cfg.client_tls.secure_port, Some(2282));
        assert_eq!(cfg.client_tls.client_auth, crate::config::ClientAuth::Need);
        crate::runtime::tls::server_config(&cfg.client_tls).expect("the stores load");
        assert!(cfg.ssl_quorum);
        crate::runtime::tls::server_config(&cfg.quorum_tls).expect("the quorum stores load");
        crate::runtime::tls::peer_client_config(&cfg.quorum_tls).expect("and dial");
        use std::os::unix::fs::PermissionsExt;
        for f in ["server.pem", "client-key.pem", "client.pem"] {
            let mode = std::fs::metadata(o.tls_path(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{f} is private");
        }
        assert!(o
            .tls_help()
            .contains("localhost:2281,localhost:2282,localhost:2283"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let mut b = [0u8; 8];
        getrandom::getrandom(&mut b).unwrap();
        let d = std::env::temp_dir().join(format!(
            "corral-dev-test-{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
