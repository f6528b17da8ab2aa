//! Ensembles of real `corral` processes on loopback (one data directory,
//! zoo.cfg and log per server, under a temporary directory), for the fault
//! and security tests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Node {
    pub id: usize,
    pub host: String,
    pub client: u16,
    /// The quorum (peer) port.
    pub quorum: u16,
    /// A free port for the AdminServer (`{admin}` in the extra lines).
    pub admin: u16,
    pub dir: PathBuf,
    pub child: Option<Child>,
}

pub struct Ensemble {
    _tmp: tempfile::TempDir,
    pub nodes: Vec<Node>,
}

impl Ensemble {
    pub fn start(n: usize) -> Ensemble {
        Ensemble::start_on(n, |_| "127.0.0.1".to_string())
    }

    /// Server i (1-based) listens (client and quorum) on `host(i)`.
    pub fn start_on(n: usize, host: impl Fn(usize) -> String) -> Ensemble {
        Ensemble::start_with(n, host, "")
    }

    /// [`Ensemble::start_on`] with `extra` appended to every zoo.cfg
    /// (`{dir}` in it becomes the server's directory, `{admin}` a free
    /// port of its own).
    pub fn start_with(n: usize, host: impl Fn(usize) -> String, extra: &str) -> Ensemble {
        let tmp = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let mut nodes = Vec::new();
        for i in 1..=n {
            let dir = tmp.path().join(format!("zk{i}"));
            std::fs::create_dir_all(dir.join("data")).unwrap();
            std::fs::write(dir.join("data").join("myid"), format!("{i}\n")).unwrap();
            let mut cfg = format!(
                "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\nclientPortAddress={}\n4lw.commands.whitelist=*\npreAllocSize=4096\nsnapCount=300\nautopurge.snapRetainCount=3\nautopurge.purgeInterval=1\nadmin.enableServer=false\n",
                dir.join("data").display(),
                ports[i - 1].0,
                host(i)
            );
            let admin = free_port();
            cfg.push_str(
                &extra
                    .replace("{dir}", &dir.display().to_string())
                    .replace("{admin}", &admin.to_string()),
            );
            cfg.push('\n');
            for (j, p) in ports.iter().enumerate() {
                cfg.push_str(&format!(
                    "server.{}={}:{}:{}\n",
                    j + 1,
                    host(j + 1),
                    p.1,
                    p.2
                ));
            }
            std::fs::write(dir.join("zoo.cfg"), cfg).unwrap();
            nodes.push(Node {
                id: i,
                host: host(i),
                client: ports[i - 1].0,
                quorum: ports[i - 1].1,
                admin,
                dir,
                child: None,
            });
        }
        let mut e = Ensemble { _tmp: tmp, nodes };
        for i in 0..n {
            e.launch(i);
        }
        e
    }

    /// The process id of server `i` (0-based), if it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    /// Resident memory of server `i`, in KiB.
    pub fn rss_kib(&self, i: usize) -> u64 {
        let pid = self.pid(i).expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    pub fn launch(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(n.dir.join("out.log"))
            .unwrap();
        let bin = std::env::var_os("CORRAL_TEST_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_corral")));
        let child = Command::new(bin)
            .arg("--config")
            .arg(n.dir.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        n.child = Some(child);
    }

    pub fn addrs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("{}:{}", n.host, n.client))
            .collect()
    }

    pub fn mode(&self, i: usize) -> Option<String> {
        let addr: SocketAddr = format!("{}:{}", self.nodes[i].host, self.nodes[i].client)
            .parse()
            .unwrap();
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        s.write_all(b"srvr").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: ").map(str::to_string))
    }

    /// Waits until exactly one server of `among` says it leads and the others
    /// of `among` say they follow; returns the leader's index.
    pub fn wait_stable(&self, among: &[usize], within: Duration) -> usize {
        let t0 = Instant::now();
        loop {
            let modes: Vec<Option<String>> = among.iter().map(|&i| self.mode(i)).collect();
            let leaders: Vec<usize> = among
                .iter()
                .zip(&modes)
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(i, _)| *i)
                .collect();
            if leaders.len() == 1
                && modes
                    .iter()
                    .all(|m| matches!(m.as_deref(), Some("leader" | "follower")))
            {
                return leaders[0];
            }
            assert!(
                t0.elapsed() < within,
                "no stable leader among {among:?} after {within:?}: {modes:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, i: usize, sig: &str) {
        let pid = self.nodes[i].child.as_ref().unwrap().id();
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(st.success(), "kill -{sig} {pid}");
    }

    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn wipe(&self, i: usize) {
        let data = self.nodes[i].dir.join("data");
        for e in std::fs::read_dir(&data).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n != "myid") {
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).unwrap();
                } else {
                    std::fs::remove_file(&p).unwrap();
                }
            }
        }
    }

    pub fn logs(&self) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            let text = std::fs::read_to_string(n.dir.join("out.log")).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            s.push_str(&format!("--- server {} ---\n", n.id));
            // A panic's message, wherever it is (a backtrace follows it).
            let lines: Vec<&str> = text.lines().collect();
            for (k, l) in lines.iter().enumerate() {
                if l.contains("panicked at") {
                    s.push_str(l);
                    s.push('\n');
                    if let Some(m) = lines.get(k + 1) {
                        s.push_str(m);
                        s.push('\n');
                    }
                }
            }
            for l in tail.iter().rev() {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_some() {
                let _ = Command::new("kill")
                    .arg("-CONT")
                    .arg(self.nodes[i].child.as_ref().unwrap().id().to_string())
                    .status();
            }
            self.kill(i);
        }
    }
}
