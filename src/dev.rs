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
}

/// One server's ports.
#[derive(Clone, Copy, Debug)]
pub struct DevPorts {
    pub client: u16,
    pub quorum: u16,
    pub election: u16,
}

impl DevOptions {
    pub fn ports(&self, i: usize) -> DevPorts {
        let k = (i - 1) as u16;
        DevPorts {
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
            "# corral dev: server {i} of {}\ntickTime={}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n",
            self.total(),
            self.tick_ms,
            self.dir.join(format!("zk{i}")).join("data").display(),
            self.ports(i).client
        );
        if i > self.nodes {
            s.push_str("peerType=observer\n");
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

fn write_files(o: &DevOptions) -> std::io::Result<()> {
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(o.jaas_path())?;
        f.write_all(jaas_file()?.as_bytes())?;
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
                    "  server {} {:<9} {}",
                    i + 1,
                    m.as_deref().unwrap_or("?"),
                    o.dir.join(format!("zk{}", i + 1)).display()
                );
            }
            println!("connect string: {}", o.connect_string());
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
}
