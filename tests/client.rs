//! corral's own client (`corral::client`) against the real `corral` binary:
//! each test starts a server on a free loopback port with a zoo.cfg in a
//! temporary directory and drives it from a glommio LocalExecutor.

use corral::client::{
    create_flags, first_error, Client, ClientError, MultiBuilder, OpResult, WatchedEvent,
};
use corral::proto::codes::err;
use glommio::LocalExecutor;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts corral, or with `CORRAL_TEST_SERVER=host:port` uses that (empty)
    /// server instead, e.g. an Apache ZooKeeper to check the client against.
    fn start() -> Server {
        if let Ok(a) = std::env::var("CORRAL_TEST_SERVER") {
            return Server {
                child: None,
                addr: a.parse().expect("CORRAL_TEST_SERVER=ip:port"),
                _dir: None,
            };
        }
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\nadmin.enableServer=false\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_corral"))
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = child;
        let t0 = Instant::now();
        while TcpStream::connect(addr).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("corral exited during start: {status}");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "corral did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            child: Some(child),
            addr,
            _dir: Some(dir),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn run<F: std::future::Future<Output = ()>>(f: impl FnOnce(SocketAddr) -> F) {
    let server = Server::start();
    let addr = server.addr;
    LocalExecutor::default().run(f(addr));
}

fn code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> i32 {
    r.unwrap_err().code().expect("a ZooKeeper error code")
}

#[test]
fn create_get_set_delete() {
    run(|addr| async move {
        let c = Client::connect(addr, 10_000).await.unwrap();
        assert!(c.session_id() != 0);
        assert!(c.session_timeout_ms() >= 4000);
        assert_eq!(c.create("/t", b"v0", 0).await.unwrap(), "/t");
        let (data, st) = c.get_data("/t", false).await.unwrap();
        assert_eq!(data, b"v0");
        assert_eq!((st.version, st.data_length, st.num_children), (0, 2, 0));
        assert_eq!(st.czxid, st.mzxid);

        let st1 = c.set_data("/t", b"value-1", 0).await.unwrap();
        assert_eq!((st1.version, st1.data_length), (1, 7));
        assert!(st1.mzxid > st.mzxid);
        assert_eq!(c.exists("/t", false).await.unwrap(), Some(st1));
        assert_eq!(c.get_data("/t", false).await.unwrap().0, b"value-1");

        let (p, st2) = c.create2("/t/child", b"", 0).await.unwrap();
        assert_eq!(
            (p.as_str(), st2.version, st2.data_length),
            ("/t/child", 0, 0)
        );
        assert_eq!(c.get_children("/t", false).await.unwrap(), vec!["child"]);
        let (kids, parent) = c.get_children2("/t", false).await.unwrap();
        assert_eq!((kids.len(), parent.num_children), (1, 1));
        assert_eq!(c.sync("/t").await.unwrap(), "/t");

        c.delete("/t/child", 0).await.unwrap();
        c.delete("/t", 1).await.unwrap();
        assert_eq!(c.exists("/t", false).await.unwrap(), None);
        assert!(c.last_zxid() > 0);
        c.close().await.unwrap();
    });
}

#[test]
fn error_codes() {
    run(|addr| async move {
        let c = Client::connect(addr, 10_000).await.unwrap();
        assert_eq!(code(c.get_data("/missing", false).await), err::NO_NODE);
        assert_eq!(code(c.delete("/missing", -1).await), err::NO_NODE);
        assert_eq!(code(c.set_data("/missing", b"", -1).await), err::NO_NODE);
        assert_eq!(code(c.create("/missing/child", b"", 0).await), err::NO_NODE);
        c.create("/e", b"", 0).await.unwrap();
        assert_eq!(code(c.create("/e", b"", 0).await), err::NODE_EXISTS);
        assert_eq!(code(c.set_data("/e", b"x", 5).await), err::BAD_VERSION);
        assert_eq!(code(c.delete("/e", 3).await), err::BAD_VERSION);
        c.create("/e/k", b"", 0).await.unwrap();
        assert_eq!(code(c.delete("/e", -1).await), err::NOT_EMPTY);
        assert_eq!(code(c.create("bad", b"", 0).await), err::BAD_ARGUMENTS);
        // errors leave the connection usable
        assert_eq!(c.get_data("/e", false).await.unwrap().1.num_children, 1);
        assert!(c.is_connected());
    });
}

#[test]
fn a_thousand_pipelined_requests_complete_in_order() {
    run(|addr| async move {
        let c = Client::connect(addr, 10_000).await.unwrap();
        c.create("/p", b"", 0).await.unwrap();
        // Issue everything before awaiting anything: 1000 sequential creates
        // interleaved with reads and writes of one counter node.
        c.create("/ctr", b"", 0).await.unwrap();
        let mut creates = Vec::new();
        let mut sets = Vec::new();
        let mut gets = Vec::new();
        for i in 0..1000u32 {
            creates.push(c.create(
                "/p/n-",
                &i.to_be_bytes(),
                create_flags::PERSISTENT_SEQUENTIAL,
            ));
            sets.push(c.set_data("/ctr", &i.to_be_bytes(), -1));
            gets.push(c.get_data("/ctr", false));
        }
        assert_eq!(c.outstanding(), 3000);
        for (i, ((cr, st), gt)) in creates.into_iter().zip(sets).zip(gets).enumerate() {
            let i = i as u32;
            assert_eq!(cr.await.unwrap(), format!("/p/n-{i:010}"));
            assert_eq!(st.await.unwrap().version, i as i32 + 1);
            // the read was issued right after the i-th write: it sees exactly it
            let (data, stat) = gt.await.unwrap();
            assert_eq!(
                (data, stat.version),
                (i.to_be_bytes().to_vec(), i as i32 + 1)
            );
        }
        assert_eq!(c.outstanding(), 0);
        let mut kids = c.get_children("/p", false).await.unwrap();
        kids.sort();
        assert_eq!(kids.len(), 1000);
        assert_eq!(kids[0], "n-0000000000");
        assert_eq!(kids[999], "n-0000000999");
    });
}

#[test]
fn watch_events_arrive() {
    run(|addr| async move {
        let (watcher, events) = Client::connect_with_events(addr, 10_000).await.unwrap();
        let writer = Client::connect(addr, 10_000).await.unwrap();
        // exists watch on a missing node fires NodeCreated
        assert_eq!(watcher.exists("/w", true).await.unwrap(), None);
        writer.create("/w", b"a", 0).await.unwrap();
        let e = events.recv().await.unwrap();
        assert_eq!(
            (e.kind, e.state, e.path.as_str()),
            (WatchedEvent::NODE_CREATED, 3, "/w")
        );
        // data watch fires NodeDataChanged, child watch NodeChildrenChanged
        watcher.get_data("/w", true).await.unwrap();
        watcher.get_children("/w", true).await.unwrap();
        writer.set_data("/w", b"b", 0).await.unwrap();
        writer.create("/w/c", b"", 0).await.unwrap();
        let mut got = [events.recv().await.unwrap(), events.recv().await.unwrap()];
        got.sort_by_key(|e| e.kind);
        assert_eq!(
            got.iter()
                .map(|e| (e.kind, e.path.as_str()))
                .collect::<Vec<_>>(),
            [
                (WatchedEvent::NODE_DATA_CHANGED, "/w"),
                (WatchedEvent::NODE_CHILDREN_CHANGED, "/w")
            ]
        );
        // one-shot: a second change without a new watch sends nothing more;
        // a fresh watch then sees the delete
        writer.set_data("/w", b"c", -1).await.unwrap();
        watcher.exists("/w/c", true).await.unwrap();
        writer.delete("/w/c", -1).await.unwrap();
        let e = events.recv().await.unwrap();
        assert_eq!(
            (e.kind, e.path.as_str()),
            (WatchedEvent::NODE_DELETED, "/w/c")
        );
        // closing ends the event stream with a Closed state event
        watcher.close().await.unwrap();
        let e = events.recv().await.unwrap();
        assert_eq!((e.kind, e.state), (-1, WatchedEvent::STATE_CLOSED));
        assert!(events.recv().await.is_none());
    });
}

#[test]
fn multi_commits_all_or_nothing() {
    run(|addr| async move {
        let c = Client::connect(addr, 10_000).await.unwrap();
        let mut m = MultiBuilder::new();
        m.create("/m", b"1", 0)
            .set_data("/m", b"2", 0)
            .check("/m", 1);
        let r = c.multi(&m).await.unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], OpResult::Create("/m".into()));
        assert!(matches!(&r[1], OpResult::SetData(s) if s.version == 1));
        assert_eq!(r[2], OpResult::Check);
        assert_eq!(first_error(&r), None);

        let mut m = MultiBuilder::new();
        m.create("/m2", b"", 0).check("/m", 7).delete("/m", -1);
        let r = c.multi(&m).await.unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(first_error(&r), Some(err::BAD_VERSION));
        assert_eq!(c.exists("/m2", false).await.unwrap(), None);
        assert_eq!(c.get_data("/m", false).await.unwrap().0, b"2");
    });
}

#[test]
fn close_ends_the_session_and_its_ephemerals() {
    run(|addr| async move {
        let a = Client::connect(addr, 10_000).await.unwrap();
        let b = Client::connect(addr, 10_000).await.unwrap();
        assert_ne!(a.session_id(), b.session_id());
        a.create("/eph", b"", create_flags::EPHEMERAL)
            .await
            .unwrap();
        let st = b.exists("/eph", false).await.unwrap().unwrap();
        assert_eq!(st.ephemeral_owner, a.session_id());
        a.close().await.unwrap();
        assert_eq!(b.exists("/eph", false).await.unwrap(), None);
    });
}
