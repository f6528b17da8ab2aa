//! Node operations: every create mode, reads, writes, Stat evolution, the
//! error code of each common failure, and server-side path validation.

mod common;

use common::raw::{self, err, op, RawConn, OPEN_ACL};
use common::*;
use zk::{Acl, Acls, AuthId, CreateMode, Error, Permission};
use zookeeper_client as zk;

/// What the crate reports for a server-side BadArguments (-8). The crate's own
/// client-side validation uses other messages, so this proves the server said it.
const SERVER_BAD_ARGS: Error = Error::BadArguments(&"server error");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create2_returns_stat_and_data_reads_back() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "create2_stat").await;
    let p = format!("{root}/n");

    // The crate sends create2 (opcode 15) for a plain persistent create.
    let (stat, seq) = c.create(&p, b"hello", &open_options()).await.unwrap();
    assert_eq!(seq.into_i64(), -1, "not sequential");
    assert!(!stat.is_invalid(), "create2 must return a Stat");
    assert_eq!(stat.version, 0);
    assert_eq!(stat.cversion, 0);
    assert_eq!(stat.aversion, 0);
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(stat.data_length, 5);
    assert_eq!(stat.num_children, 0);
    assert!(stat.czxid > 0);
    assert_eq!(stat.mzxid, stat.czxid);
    assert_eq!(stat.pzxid, stat.czxid);
    assert_eq!(stat.mtime, stat.ctime);
    assert_recent_ms(stat.ctime);

    let (data, stat2) = c.get_data(&p).await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(stat2, stat, "getData Stat equals the create2 Stat");
    assert_eq!(
        c.check_stat(&p).await.unwrap(),
        Some(stat),
        "exists Stat equals the create2 Stat"
    );

    // The parent records the child.
    let (_, parent) = c.get_data(&root).await.unwrap();
    assert_eq!(parent.num_children, 1);
    assert_eq!(parent.cversion, 1);
    assert_eq!(
        parent.pzxid, stat.czxid,
        "parent pzxid = zxid of the child create"
    );
    assert!(parent.czxid < stat.czxid);

    // Raw create2: the body is exactly {path, Stat}.
    let mut r = RawConn::connect(server.addr(), 10_000);
    let p2 = format!("{root}/raw");
    let reply = r.call(op::CREATE2, &raw::create_req(&p2, Some(b"xy"), OPEN_ACL, 0));
    let mut d = reply.ok();
    assert_eq!(d.str(), p2);
    let st = d.stat();
    assert!(d.is_at_end(), "create2 reply has nothing after the Stat");
    assert_eq!((st.version, st.data_length, st.num_children), (0, 2, 0));
    assert_eq!(
        reply.zxid, st.czxid,
        "a successful write's reply carries its own zxid"
    );
    assert!(st.czxid > stat.czxid);

    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_opcode1_returns_path_only() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "create_op1").await;

    // With a 3.4 server version the crate falls back to plain create (opcode 1).
    let old = server
        .connector()
        .with_server_version(3, 4, 0)
        .connect(server.addr())
        .await
        .unwrap();
    let p = format!("{root}/plain");
    let (stat, _) = old.create(&p, b"d", &open_options()).await.unwrap();
    assert!(
        stat.is_invalid(),
        "opcode 1 returns no Stat, the crate reports an invalid one"
    );
    let (data, real) = c.get_data(&p).await.unwrap();
    assert_eq!(data, b"d");
    assert_eq!(real.version, 0);

    // Sequential through opcode 1: the returned path carries the suffix.
    let (_, seq) = old
        .create(
            &format!("{root}/s-"),
            b"",
            &options(CreateMode::PersistentSequential),
        )
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 1, "second child ever created under {root}");

    // Raw: the opcode 1 reply body is exactly the path string.
    let mut r = RawConn::connect(server.addr(), 10_000);
    let p3 = format!("{root}/raw");
    let reply = r.create(&p3, Some(b""), 0);
    let mut d = reply.ok();
    assert_eq!(d.str(), p3);
    assert!(d.is_at_end(), "CreateResponse is only the path");
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_error_codes() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "create_errors").await;
    let p = format!("{root}/n");
    c.create(&p, b"1", &open_options()).await.unwrap();

    assert_eq!(
        c.create(&p, b"2", &open_options()).await.unwrap_err(),
        Error::NodeExists
    );
    assert_eq!(
        c.get_data(&p).await.unwrap().0,
        b"1",
        "failed create changed nothing"
    );
    assert_eq!(
        c.create(&format!("{root}/missing/child"), b"", &open_options())
            .await
            .unwrap_err(),
        Error::NoNode,
        "missing parent"
    );

    // Ephemeral parents cannot have children, whatever the child's mode.
    let e = format!("{root}/eph");
    c.create(&e, b"", &options(CreateMode::Ephemeral))
        .await
        .unwrap();
    for mode in [
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::Container,
    ] {
        assert_eq!(
            c.create(&format!("{e}/child"), b"", &options(mode))
                .await
                .unwrap_err(),
            Error::NoChildrenForEphemerals,
            "mode {mode:?} under an ephemeral"
        );
    }
    // A missing parent is reported before anything about ephemerals.
    assert_eq!(
        c.create(&format!("{e}/a/b"), b"", &open_options())
            .await
            .unwrap_err(),
        Error::NoNode,
        "missing parent below an ephemeral"
    );
    let (_, est) = c.get_data(&e).await.unwrap();
    assert_eq!(est.num_children, 0);
    assert_eq!(est.cversion, 0, "failed creates do not touch the parent");

    // Raw: error replies are header-only.
    let mut r = RawConn::connect(server.addr(), 10_000);
    r.create(&p, Some(b""), 0).assert_err(err::NODE_EXISTS);
    r.create(&format!("{root}/missing/x"), Some(b""), 0)
        .assert_err(err::NO_NODE);
    r.create(&format!("{e}/x"), Some(b""), 0)
        .assert_err(err::NO_CHILDREN_FOR_EPHEMERALS);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_suffix_comes_from_parent_create_counter() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "sequential").await;
    let dir = format!("{root}/d");
    c.create(&dir, b"", &open_options()).await.unwrap();
    let seq_opts = options(CreateMode::PersistentSequential);

    let (st0, s0) = c
        .create(&format!("{dir}/s-"), b"", &seq_opts)
        .await
        .unwrap();
    assert_eq!(
        s0.into_i64(),
        0,
        "first child of a fresh parent gets 0000000000"
    );
    assert_eq!(s0.to_string(), "0000000000");
    assert_eq!(st0.ephemeral_owner, 0);

    c.create(&format!("{dir}/b"), b"", &open_options())
        .await
        .unwrap(); // counter 1 -> 2
    let (_, s2) = c
        .create(&format!("{dir}/s-"), b"", &seq_opts)
        .await
        .unwrap();
    assert_eq!(s2.into_i64(), 2, "plain creates advance the counter too");

    c.delete(&format!("{dir}/b"), None).await.unwrap();
    let (_, s3) = c
        .create(&format!("{dir}/s-"), b"", &seq_opts)
        .await
        .unwrap();
    assert_eq!(s3.into_i64(), 3, "deletes do not move the counter back");

    let (est, s4) = c
        .create(
            &format!("{dir}/e-"),
            b"",
            &options(CreateMode::EphemeralSequential),
        )
        .await
        .unwrap();
    assert_eq!(
        s4.into_i64(),
        4,
        "ephemeral sequential shares the parent's counter"
    );
    assert_eq!(est.ephemeral_owner, c.session_id().0);

    // An empty name: the suffix alone ("dir/" is valid once suffixed).
    let (_, s5) = c.create(&format!("{dir}/"), b"", &seq_opts).await.unwrap();
    assert_eq!(s5.into_i64(), 5);

    let mut kids = c.list_children(&dir).await.unwrap();
    kids.sort();
    assert_eq!(
        kids,
        vec![
            "0000000005",
            "e-0000000004",
            "s-0000000000",
            "s-0000000002",
            "s-0000000003"
        ]
    );

    // cversion = creates + deletes (= 2 * counter - numChildren, protocol doc §8.2).
    let (_, dst) = c.get_data(&dir).await.unwrap();
    assert_eq!(dst.num_children, 5);
    assert_eq!(dst.cversion, 7);

    // The counter is per parent.
    let other = format!("{root}/other");
    c.create(&other, b"", &open_options()).await.unwrap();
    let (_, o0) = c
        .create(&format!("{other}/s-"), b"", &seq_opts)
        .await
        .unwrap();
    assert_eq!(o0.into_i64(), 0);

    // The same sequential name twice cannot collide: each create moves the counter.
    let (_, a) = c
        .create(&format!("{other}/s-"), b"", &seq_opts)
        .await
        .unwrap();
    assert_eq!(a.into_i64(), 1);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_nodes_are_owned_by_the_session() {
    let server = Server::start();
    let c = server.client().await;
    let other = server.client().await;
    let root = make_root(&c, "ephemeral_owner").await;
    let e = format!("{root}/e");
    let (st, _) = c
        .create(&e, b"x", &options(CreateMode::Ephemeral))
        .await
        .unwrap();
    assert_ne!(c.session_id().0, 0);
    assert_eq!(st.ephemeral_owner, c.session_id().0);
    assert_eq!(
        other.check_stat(&e).await.unwrap().unwrap().ephemeral_owner,
        c.session_id().0,
        "as seen by another session"
    );
    assert_ne!(c.session_id(), other.session_id());

    // Another session may delete it (no ownership check on delete).
    other.delete(&e, None).await.unwrap();
    assert_eq!(c.check_stat(&e).await.unwrap(), None);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_nodes() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "container").await;
    let k = format!("{root}/k");
    // The crate sends createContainer (opcode 19), answered with path + Stat.
    let (st, _) = c
        .create(&k, b"cd", &options(CreateMode::Container))
        .await
        .unwrap();
    assert!(!st.is_invalid());
    assert_eq!(st.ephemeral_owner, 0, "containers report ephemeralOwner 0");
    assert_eq!(st.data_length, 2);
    // Containers may have children (unlike ephemerals).
    c.create(&format!("{k}/child"), b"", &open_options())
        .await
        .unwrap();
    let (kids, kst) = c.get_children(&k).await.unwrap();
    assert_eq!(kids, vec!["child"]);
    assert_eq!(kst.num_children, 1);
    assert_eq!(
        c.create(&k, b"", &options(CreateMode::Container))
            .await
            .unwrap_err(),
        Error::NodeExists
    );

    // Raw createContainer: body is {path, Stat}.
    let mut r = RawConn::connect(server.addr(), 10_000);
    let k2 = format!("{root}/k2");
    let reply = r.call(
        op::CREATE_CONTAINER,
        &raw::create_req(&k2, Some(b""), OPEN_ACL, 4),
    );
    let mut d = reply.ok();
    assert_eq!(d.str(), k2);
    let s = d.stat();
    assert!(d.is_at_end());
    assert_eq!(s.ephemeral_owner, 0);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_nodes() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "ttl").await;
    let ttl = std::time::Duration::from_secs(3600);

    // The crate sends createTTL (opcode 21) with flags 5 / 6.
    let t = format!("{root}/t");
    let (st, seq) = c
        .create(&t, b"ttl", &options(CreateMode::Persistent).with_ttl(ttl))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), -1);
    assert!(!st.is_invalid());
    assert_eq!(st.ephemeral_owner, 0, "TTL nodes report ephemeralOwner 0");
    assert_eq!(st.data_length, 3);
    let (_, seq) = c
        .create(
            &format!("{root}/ts-"),
            b"",
            &options(CreateMode::PersistentSequential).with_ttl(ttl),
        )
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 1);
    // TTL nodes may have children.
    c.create(&format!("{t}/child"), b"", &open_options())
        .await
        .unwrap();
    assert_eq!(c.get_children(&t).await.unwrap().1.num_children, 1);

    let mut r = RawConn::connect(server.addr(), 10_000);
    // Raw createTTL success: {path, Stat}.
    let t2 = format!("{root}/t2");
    let mut d_reply = r.call(
        op::CREATE_TTL,
        &raw::create_ttl_req(&t2, Some(b""), OPEN_ACL, 5, 60_000),
    );
    {
        let mut d = d_reply.ok();
        assert_eq!(d.str(), t2);
        assert_eq!(d.stat().ephemeral_owner, 0);
        assert!(d.is_at_end());
    }
    // BadArguments cases (protocol doc §6, §7.1 step 1).
    let bad = format!("{root}/bad");
    for (what, opcode, body) in [
        (
            "ttl 0",
            op::CREATE_TTL,
            raw::create_ttl_req(&bad, Some(b""), OPEN_ACL, 5, 0),
        ),
        (
            "ttl -5",
            op::CREATE_TTL,
            raw::create_ttl_req(&bad, Some(b""), OPEN_ACL, 5, -5),
        ),
        (
            "ttl > 0xFF_FFFF_FFFF",
            op::CREATE_TTL,
            raw::create_ttl_req(&bad, Some(b""), OPEN_ACL, 5, 0x100_0000_0000),
        ),
        (
            "createTTL with flags 0",
            op::CREATE_TTL,
            raw::create_ttl_req(&bad, Some(b""), OPEN_ACL, 0, 1000),
        ),
        (
            "createTTL with flags 1",
            op::CREATE_TTL,
            raw::create_ttl_req(&bad, Some(b""), OPEN_ACL, 1, 1000),
        ),
        (
            "create with flags 5",
            op::CREATE,
            raw::create_req(&bad, Some(b""), OPEN_ACL, 5),
        ),
        (
            "create2 with flags 6",
            op::CREATE2,
            raw::create_req(&bad, Some(b""), OPEN_ACL, 6),
        ),
        (
            "create with flags 7",
            op::CREATE,
            raw::create_req(&bad, Some(b""), OPEN_ACL, 7),
        ),
        (
            "create with flags -1",
            op::CREATE,
            raw::create_req(&bad, Some(b""), OPEN_ACL, -1),
        ),
    ] {
        d_reply = r.call(opcode, &body);
        assert_eq!(d_reply.err, err::BAD_ARGUMENTS, "{what}");
        assert!(d_reply.body.is_empty(), "{what}: header-only error");
    }
    assert_eq!(
        c.check_stat(&bad).await.unwrap(),
        None,
        "no failed create left a node"
    );
    // A valid max TTL is accepted.
    r.call(
        op::CREATE_TTL,
        &raw::create_ttl_req(&bad, Some(b""), OPEN_ACL, 5, 0xFF_FFFF_FFFF),
    )
    .ok();
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_versions_and_errors() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "delete").await;
    let p = format!("{root}/n");
    c.create(&p, b"", &open_options()).await.unwrap();
    c.set_data(&p, b"v1", None).await.unwrap(); // version 1

    assert_eq!(c.delete(&p, Some(0)).await.unwrap_err(), Error::BadVersion);
    assert_eq!(c.delete(&p, Some(2)).await.unwrap_err(), Error::BadVersion);
    assert!(
        c.check_stat(&p).await.unwrap().is_some(),
        "BadVersion deleted nothing"
    );
    let (_, before) = c.get_data(&root).await.unwrap();
    c.delete(&p, Some(1)).await.unwrap();
    assert_eq!(c.check_stat(&p).await.unwrap(), None);
    assert_eq!(c.delete(&p, None).await.unwrap_err(), Error::NoNode);
    assert_eq!(
        c.delete(&format!("{root}/missing/x"), None)
            .await
            .unwrap_err(),
        Error::NoNode,
        "missing parent"
    );

    // The parent after a delete: cversion +1, numChildren -1, pzxid moves on, mzxid does not.
    let (_, after) = c.get_data(&root).await.unwrap();
    assert_eq!(after.cversion, before.cversion + 1);
    assert_eq!(after.num_children, before.num_children - 1);
    assert!(after.pzxid > before.pzxid);
    assert_eq!(after.mzxid, before.mzxid);
    assert_eq!(after.version, before.version);

    // NotEmpty, and BadVersion is checked before NotEmpty (protocol doc §7.2).
    let q = format!("{root}/q");
    c.create(&q, b"", &open_options()).await.unwrap();
    c.create(&format!("{q}/kid"), b"", &open_options())
        .await
        .unwrap();
    assert_eq!(c.delete(&q, None).await.unwrap_err(), Error::NotEmpty);
    assert_eq!(
        c.delete(&q, Some(0)).await.unwrap_err(),
        Error::NotEmpty,
        "right version, still not empty"
    );
    assert_eq!(
        c.delete(&q, Some(7)).await.unwrap_err(),
        Error::BadVersion,
        "version before emptiness"
    );
    c.delete(&format!("{q}/kid"), Some(0)).await.unwrap();
    c.delete(&q, Some(0)).await.unwrap();

    let mut r = RawConn::connect(server.addr(), 10_000);
    r.delete(&q, -1).assert_err(err::NO_NODE);
    let reply = r.create(&q, Some(b""), 0);
    reply.ok();
    let reply = r.delete(&q, 0);
    reply.ok();
    assert!(reply.body.is_empty(), "delete's success body is empty");
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_data_versions_and_stat() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "set_data").await;
    let p = format!("{root}/n");
    let (st0, _) = c.create(&p, b"abc", &open_options()).await.unwrap();

    let st1 = c.set_data(&p, b"hello world", Some(0)).await.unwrap();
    assert_eq!(st1.version, 1);
    assert_eq!(st1.data_length, 11);
    assert_eq!(st1.czxid, st0.czxid);
    assert!(st1.mzxid > st0.mzxid);
    assert_eq!(st1.pzxid, st0.pzxid, "setData does not touch pzxid");
    assert_eq!(st1.ctime, st0.ctime);
    assert!(st1.mtime >= st0.mtime);
    assert_eq!(
        (
            st1.cversion,
            st1.aversion,
            st1.num_children,
            st1.ephemeral_owner
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(
        c.get_data(&p).await.unwrap(),
        (b"hello world".to_vec(), st1),
        "returned Stat is the new Stat"
    );

    assert_eq!(
        c.set_data(&p, b"x", Some(0)).await.unwrap_err(),
        Error::BadVersion
    );
    assert_eq!(
        c.set_data(&p, b"x", Some(5)).await.unwrap_err(),
        Error::BadVersion
    );
    assert_eq!(
        c.get_data(&p).await.unwrap().0,
        b"hello world",
        "BadVersion changed nothing"
    );

    let st2 = c.set_data(&p, b"", None).await.unwrap();
    assert_eq!(st2.version, 2, "version -1 matches any");
    assert_eq!(st2.data_length, 0);
    assert!(st2.mzxid > st1.mzxid);
    let st3 = c.set_data(&p, b"z", Some(2)).await.unwrap();
    assert_eq!(st3.version, 3);

    assert_eq!(
        c.set_data(&format!("{root}/missing"), b"", None)
            .await
            .unwrap_err(),
        Error::NoNode
    );

    // The same bytes again still bump the version.
    let st4 = c.set_data(&p, b"z", None).await.unwrap();
    assert_eq!(st4.version, 4);

    // Parent untouched by a child's setData.
    let (_, parent_before) = c.get_data(&root).await.unwrap();
    c.set_data(&p, b"again", None).await.unwrap();
    let (_, parent_after) = c.get_data(&root).await.unwrap();
    assert_eq!(parent_after, parent_before);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exists_get_children_and_children2() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "children").await;
    let p = format!("{root}/p");
    assert_eq!(
        c.check_stat(&p).await.unwrap(),
        None,
        "exists on a missing node is not an error"
    );
    assert_eq!(c.list_children(&p).await.unwrap_err(), Error::NoNode);
    assert_eq!(c.get_children(&p).await.unwrap_err(), Error::NoNode);
    assert_eq!(c.get_data(&p).await.unwrap_err(), Error::NoNode);

    c.create(&p, b"pd", &open_options()).await.unwrap();
    assert_eq!(c.list_children(&p).await.unwrap(), Vec::<String>::new());
    for name in ["c", "a", "b"] {
        c.create(&format!("{p}/{name}"), b"", &open_options())
            .await
            .unwrap();
    }
    c.create(&format!("{p}/a/deeper"), b"", &open_options())
        .await
        .unwrap();

    let mut kids = c.list_children(&p).await.unwrap(); // getChildren (8)
    kids.sort();
    assert_eq!(
        kids,
        vec!["a", "b", "c"],
        "bare names of direct children only"
    );

    let (mut kids2, st) = c.get_children(&p).await.unwrap(); // getChildren2 (12)
    kids2.sort();
    assert_eq!(kids2, kids);
    let (_, pst) = c.get_data(&p).await.unwrap();
    assert_eq!(st, pst, "getChildren2 returns the parent's own Stat");
    assert_eq!(st.num_children, 3);
    assert_eq!(st.cversion, 3);
    assert_eq!(st.data_length, 2);
    assert_eq!(Some(st), c.check_stat(&p).await.unwrap());

    // Raw getChildren2: {children, Stat} and nothing else.
    let mut r = RawConn::connect(server.addr(), 10_000);
    let reply = r.call(op::GET_CHILDREN2, &raw::path_watch_req(&p, false));
    let mut d = reply.ok();
    let mut names = d.strs();
    names.sort();
    assert_eq!(names, kids);
    let rs = d.stat();
    assert!(d.is_at_end());
    assert_eq!(rs.num_children, 3);
    assert_eq!(rs.pzxid, st.pzxid);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stat_fields_evolve_exactly() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "stat_evolve").await;
    let p = format!("{root}/p");
    let (p0, _) = c.create(&p, b"", &open_options()).await.unwrap();
    assert_eq!(
        (p0.czxid, p0.mzxid, p0.pzxid),
        (p0.czxid, p0.czxid, p0.czxid)
    );

    // Child created: parent's pzxid = child's czxid; parent's data fields unchanged.
    let k = format!("{p}/k");
    let (k0, _) = c.create(&k, b"12", &open_options()).await.unwrap();
    assert!(k0.czxid > p0.czxid);
    let (_, p1) = c.get_data(&p).await.unwrap();
    assert_eq!(p1.pzxid, k0.czxid);
    assert_eq!(p1.cversion, 1);
    assert_eq!(p1.num_children, 1);
    assert_eq!(
        (p1.czxid, p1.mzxid, p1.version, p1.ctime, p1.mtime),
        (p0.czxid, p0.mzxid, 0, p0.ctime, p0.mtime)
    );

    // Child's data changes: the parent's Stat does not change at all.
    let k1 = c.set_data(&k, b"345", None).await.unwrap();
    assert!(k1.mzxid > k0.mzxid);
    assert_eq!(k1.pzxid, k0.czxid, "a node's own setData leaves its pzxid");
    assert_eq!(c.get_data(&p).await.unwrap().1, p1);

    // Parent's data changes: mzxid/version move, pzxid/cversion do not.
    let p2 = c.set_data(&p, b"p", None).await.unwrap();
    assert!(p2.mzxid > k1.mzxid);
    assert_eq!(p2.version, 1);
    assert_eq!((p2.pzxid, p2.cversion, p2.num_children), (p1.pzxid, 1, 1));

    // Second child, then delete the first: cversion counts creates + deletes.
    let (j0, _) = c
        .create(&format!("{p}/j"), b"", &open_options())
        .await
        .unwrap();
    let (_, p3) = c.get_data(&p).await.unwrap();
    assert_eq!((p3.cversion, p3.num_children, p3.pzxid), (2, 2, j0.czxid));
    c.delete(&k, None).await.unwrap();
    let (_, p4) = c.get_data(&p).await.unwrap();
    assert_eq!(p4.cversion, 3, "cversion after 2 creates and 1 delete");
    assert_eq!(p4.num_children, 1);
    assert!(p4.pzxid > j0.czxid, "delete moves pzxid");
    assert_eq!(p4.mzxid, p2.mzxid);
    assert_eq!(p4.version, 1);

    // Ephemeral child: ephemeralOwner = session id; persistent ones 0.
    let (e0, _) = c
        .create(&format!("{p}/e"), b"", &options(CreateMode::Ephemeral))
        .await
        .unwrap();
    assert_eq!(e0.ephemeral_owner, c.session_id().0);
    assert_eq!(j0.ephemeral_owner, 0);
    let (_, p5) = c.get_data(&p).await.unwrap();
    assert_eq!((p5.cversion, p5.num_children, p5.pzxid), (4, 2, e0.czxid));

    // zxids strictly increase across writes.
    let zs = [
        p0.czxid, k0.czxid, k1.mzxid, p2.mzxid, j0.czxid, p4.pzxid, e0.czxid,
    ];
    assert!(
        zs.windows(2).all(|w| w[0] < w[1]),
        "zxids must increase: {zs:?}"
    );
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_all_children_number_counts_descendants() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "all_children").await;
    for p in ["a", "a/b", "a/b/c", "a/b2", "d"] {
        c.create(&format!("{root}/{p}"), b"", &open_options())
            .await
            .unwrap();
    }
    assert_eq!(c.count_descendants_number(&root).await.unwrap(), 5);
    assert_eq!(
        c.count_descendants_number(&format!("{root}/a"))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        c.count_descendants_number(&format!("{root}/a/b"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        c.count_descendants_number(&format!("{root}/d"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        c.count_descendants_number(&format!("{root}/zz"))
            .await
            .unwrap_err(),
        Error::NoNode
    );
    // A sibling sharing the prefix "a" is not a descendant of "a".
    c.create(&format!("{root}/ab"), b"", &open_options())
        .await
        .unwrap();
    assert_eq!(
        c.count_descendants_number(&format!("{root}/a"))
            .await
            .unwrap(),
        3
    );
    assert_eq!(c.count_descendants_number(&root).await.unwrap(), 6);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_ephemerals_lists_own_session_by_string_prefix() {
    let server = Server::start();
    let a = server.client().await;
    let b = server.client().await;
    let root = make_root(&a, "get_ephemerals").await;
    a.create(&format!("{root}/x"), b"", &open_options())
        .await
        .unwrap();
    a.create(&format!("{root}/p"), b"", &open_options())
        .await
        .unwrap();
    a.create(&format!("{root}/k"), b"", &options(CreateMode::Container))
        .await
        .unwrap();
    a.create(
        &format!("{root}/t"),
        b"",
        &options(CreateMode::Persistent).with_ttl(std::time::Duration::from_secs(600)),
    )
    .await
    .unwrap();
    for e in ["e1", "e2", "x/e3"] {
        a.create(&format!("{root}/{e}"), b"", &options(CreateMode::Ephemeral))
            .await
            .unwrap();
    }
    let (_, s) = a
        .create(
            &format!("{root}/es-"),
            b"",
            &options(CreateMode::EphemeralSequential),
        )
        .await
        .unwrap();
    let es = format!("{root}/es-{s}");
    b.create(&format!("{root}/b1"), b"", &options(CreateMode::Ephemeral))
        .await
        .unwrap();

    let mut mine = a.list_ephemerals(&root).await.unwrap();
    mine.sort();
    let mut expect = vec![
        format!("{root}/e1"),
        format!("{root}/e2"),
        es.clone(),
        format!("{root}/x/e3"),
    ];
    expect.sort();
    assert_eq!(
        mine, expect,
        "only this session's ephemerals; no persistent/container/TTL nodes"
    );

    // A plain string prefix, not a path component.
    let mut e_prefixed = a.list_ephemerals(&format!("{root}/e")).await.unwrap();
    e_prefixed.sort();
    assert_eq!(
        e_prefixed,
        vec![format!("{root}/e1"), format!("{root}/e2"), es.clone()]
    );
    assert_eq!(
        a.list_ephemerals(&format!("{root}/x")).await.unwrap(),
        vec![format!("{root}/x/e3")]
    );
    assert_eq!(
        a.list_ephemerals(&format!("{root}/nothing")).await.unwrap(),
        Vec::<String>::new()
    );

    assert_eq!(
        b.list_ephemerals(&root).await.unwrap(),
        vec![format!("{root}/b1")]
    );

    a.delete(&format!("{root}/e1"), None).await.unwrap();
    let mut after = a.list_ephemerals(&root).await.unwrap();
    after.sort();
    assert_eq!(after.len(), 3);
    assert!(!after.contains(&format!("{root}/e1")));
    rm_rf(&a, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_echoes_path_and_does_not_check_it() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "sync").await;
    c.sync(&root).await.unwrap();
    c.sync(&format!("{root}/missing")).await.unwrap();

    let mut r = RawConn::connect(server.addr(), 10_000);
    for path in [root.clone(), format!("{root}/missing/deeper")] {
        let reply = r.call(op::SYNC, &raw::path_req(&path));
        let mut d = reply.ok();
        assert_eq!(d.str(), path, "SyncResponse echoes the request path");
        assert!(d.is_at_end());
    }
    // Reads after sync see writes committed before it.
    c.create(&format!("{root}/w"), b"", &open_options())
        .await
        .unwrap();
    r.call(op::SYNC, &raw::path_req(&root)).ok();
    r.exists(&format!("{root}/w"), false).ok();
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_and_empty_data_are_distinct() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "null_data").await;
    let mut r = RawConn::connect(server.addr(), 10_000);
    let null = format!("{root}/null");
    let empty = format!("{root}/empty");
    r.create(&null, None, 0).ok();
    r.create(&empty, Some(b""), 0).ok();

    let reply = r.get_data(&null, false);
    let mut d = reply.ok();
    assert_eq!(d.buf(), None, "null data comes back as a -1 buffer");
    assert_eq!(d.stat().data_length, 0);
    let reply = r.get_data(&empty, false);
    let mut d = reply.ok();
    assert_eq!(
        d.buf(),
        Some(vec![]),
        "empty data comes back as a 0-length buffer"
    );
    assert_eq!(d.stat().data_length, 0);

    // setData with null makes it null again; with bytes, not null.
    r.set_data(&empty, None, -1).ok();
    assert_eq!(r.get_data(&empty, false).ok().buf(), None);
    r.set_data(&null, Some(b"v"), -1).ok();
    assert_eq!(r.get_data(&null, false).ok().buf(), Some(b"v".to_vec()));

    // The crate does not expose the difference: both read as empty.
    assert_eq!(c.get_data(&empty).await.unwrap().0, Vec::<u8>::new());
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_paths_on_writes_are_bad_arguments() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "bad_paths").await;
    let mut r = RawConn::connect(server.addr(), 10_000);
    r.create(&format!("{root}/a"), Some(b""), 0).ok(); // counter 1

    for bad in [
        String::new(),
        "noslash".to_string(),
        format!("{root}/a/"),
        format!("{root}/."),
        format!("{root}/a/.."),
        format!("{root}/x\u{1}"),
        format!("{root}/x\u{0}y"),
        format!("{root}/x\u{7f}"),
        format!("{root}/x\u{9f}"),
        format!("{root}/x\u{e000}"),
        format!("{root}/x\u{fff0}"),
        format!("{root}/x\u{1F600}"), // outside the BMP: surrogates on the Java side
    ] {
        r.create(&bad, Some(b""), 0).assert_err(err::BAD_ARGUMENTS);
        r.set_data(&bad, Some(b""), -1)
            .assert_err(err::BAD_ARGUMENTS);
    }
    // Empty component: the parent "{root}/" does not exist, so NoNode (§7.1 step 5).
    r.create(&format!("{root}//b"), Some(b""), 0)
        .assert_err(err::NO_NODE);

    // Valid oddities.
    r.create(&format!("{root}/..."), Some(b""), 0).ok(); // counter 2
    let ete = format!("{root}/été");
    assert_eq!(r.create(&ete, Some(b""), 0).ok().str(), ete); // counter 3
                                                              // A sequential create of "{root}/" is valid once the suffix is added.
    let reply = r.create(&format!("{root}/"), Some(b""), 2);
    assert_eq!(reply.ok().str(), format!("{root}/0000000003"));

    // Protected and root paths cannot be deleted.
    for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        r.delete(p, -1).assert_err(err::BAD_ARGUMENTS);
    }
    assert_eq!(
        c.delete("/zookeeper", None).await.unwrap_err(),
        SERVER_BAD_ARGS
    );
    // delete does no full validation (§7.2): "{root}/a/" has an existing parent
    // "{root}/a" and is simply not found.
    r.delete(&format!("{root}/a/"), -1).assert_err(err::NO_NODE);
    r.delete("noslash", -1).assert_err(err::BAD_ARGUMENTS);

    // Reads do not validate: a bad path just is not found (§7.4).
    r.get_data(&format!("{root}/a/"), false)
        .assert_err(err::NO_NODE);
    r.get_data("rel", false).assert_err(err::NO_NODE);
    r.get_children(&format!("{root}/a/"), false)
        .assert_err(err::NO_NODE);
    r.exists(&format!("{root}/a/"), false)
        .assert_err(err::NO_NODE);
    // ...except exists with a NUL character.
    r.exists(&format!("{root}/a\u{0}"), false)
        .assert_err(err::BAD_ARGUMENTS);
    // "" is an alias of the root for reads.
    let read_stat = |r: &mut RawConn, p: &str| {
        let reply = r.get_data(p, false);
        let mut d = reply.ok();
        d.buf();
        d.stat()
    };
    let root_stat = read_stat(&mut r, "/");
    let alias = read_stat(&mut r, "");
    assert_eq!(alias.czxid, root_stat.czxid);
    assert_eq!(alias.ctime, root_stat.ctime);

    let mut kids = c.list_children(&root).await.unwrap();
    kids.sort();
    assert_eq!(
        kids,
        vec!["...", "0000000003", "a", "été"],
        "no invalid create left a node"
    );
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_acl_lists() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "invalid_acl").await;
    let p = format!("{root}/n");
    let bad_lists: Vec<(&str, Vec<Acl>)> = vec![
        (
            "world:someone",
            vec![Acl::new(Permission::ALL, AuthId::new("world", "someone"))],
        ),
        (
            "auth without credentials",
            vec![Acl::new(Permission::ALL, AuthId::authed())],
        ),
        (
            "digest without colon",
            vec![Acl::new(Permission::ALL, AuthId::new("digest", "nocolon"))],
        ),
        (
            "ip not an ip",
            vec![Acl::new(Permission::ALL, AuthId::new("ip", "notanip"))],
        ),
        (
            "unknown scheme",
            vec![Acl::new(Permission::ALL, AuthId::new("bogus", "x"))],
        ),
        (
            "one good, one bad",
            vec![
                Acl::new(Permission::ALL, AuthId::anyone()),
                Acl::new(Permission::READ, AuthId::new("world", "x")),
            ],
        ),
    ];
    for (what, acl) in &bad_lists {
        let opts = CreateMode::Persistent.with_acls(Acls::new(acl));
        assert_eq!(
            c.create(&p, b"", &opts).await.unwrap_err(),
            Error::InvalidAcl,
            "create: {what}"
        );
        // InvalidACL is checked before the parent's existence (§7.1 steps 4, 5).
        assert_eq!(
            c.create(&format!("{root}/missing/x"), b"", &opts)
                .await
                .unwrap_err(),
            Error::InvalidAcl,
            "create under a missing parent: {what}"
        );
    }
    assert_eq!(c.check_stat(&p).await.unwrap(), None);

    // setACL validates the list before looking the node up (§7.5).
    c.create(&p, b"", &open_options()).await.unwrap();
    for (what, acl) in &bad_lists {
        assert_eq!(
            c.set_acl(&p, acl, None).await.unwrap_err(),
            Error::InvalidAcl,
            "setACL: {what}"
        );
        assert_eq!(
            c.set_acl(&format!("{root}/missing"), acl, None)
                .await
                .unwrap_err(),
            Error::InvalidAcl
        );
    }
    assert_eq!(
        c.get_acl(&p).await.unwrap().1.aversion,
        0,
        "failed setACLs changed nothing"
    );

    // The crate refuses an empty list itself; raw: the server says InvalidACL.
    let mut r = RawConn::connect(server.addr(), 10_000);
    r.call(
        op::CREATE,
        &raw::create_req(&format!("{root}/empty_acl"), Some(b""), &[], 0),
    )
    .assert_err(err::INVALID_ACL);

    // Valid: ip and CIDR, a well-formed digest id.
    let good = vec![
        Acl::new(Permission::READ, AuthId::new("ip", "127.0.0.1")),
        Acl::new(Permission::READ, AuthId::new("ip", "10.0.0.0/8")),
        Acl::new(
            Permission::ALL,
            AuthId::new("digest", "user:smGaoVKd/cQkjm7b88GyorAUz20="),
        ),
        Acl::new(Permission::ALL, AuthId::anyone()),
    ];
    c.create(
        &format!("{root}/good"),
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&good)),
    )
    .await
    .unwrap();
    let (acl, _) = c.get_acl(&format!("{root}/good")).await.unwrap();
    assert_eq!(acl, good);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_nodes() {
    let server = Server::start();
    let c = server.client().await;
    assert!(c.check_stat("/zookeeper").await.unwrap().is_some());
    assert!(c.check_stat("/zookeeper/quota").await.unwrap().is_some());
    let (acl, st) = c.get_acl("/zookeeper/config").await.unwrap();
    assert_eq!(
        acl,
        vec![Acl::new(Permission::READ, AuthId::anyone())],
        "/zookeeper/config is world READ"
    );
    assert_eq!(st.aversion, -1);
    assert_eq!(
        c.get_config().await.unwrap().0,
        Vec::<u8>::new(),
        "standalone config is empty"
    );
    assert_eq!(
        c.set_data("/zookeeper/config", b"x", None)
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        c.get_acl("/").await.unwrap().0,
        vec![Acl::new(Permission::ALL, AuthId::anyone())]
    );
    let mut kids = c.list_children("/zookeeper").await.unwrap();
    kids.sort();
    assert_eq!(kids, vec!["config", "quota"]);
    assert!(c
        .list_children("/")
        .await
        .unwrap()
        .contains(&"zookeeper".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_tree_root_stats() {
    let Some(server) = Server::builder()
        .fresh()
        .start_or_skip("fresh_tree_root_stats")
    else {
        return;
    };
    let c = server.client().await;
    let (root_kids, root) = c.get_children("/").await.unwrap();
    assert_eq!(root_kids, vec!["zookeeper"]);
    assert_eq!((root.czxid, root.ctime, root.num_children), (0, 0, 1));
    assert_eq!(
        root.cversion, -1,
        "built-in nodes are added without counting (§8.2)"
    );
    let (_, zk_node) = c.get_children("/zookeeper").await.unwrap();
    assert_eq!((zk_node.num_children, zk_node.cversion), (2, -2));
    assert_eq!(
        c.count_descendants_number("/").await.unwrap(),
        3,
        "/zookeeper, /zookeeper/quota, /zookeeper/config"
    );

    c.create("/a", b"", &open_options()).await.unwrap();
    let (_, root2) = c.get_children("/").await.unwrap();
    assert_eq!((root2.num_children, root2.cversion), (2, 0), "2*1 - 2");
    let (_, s) = c
        .create("/s-", b"", &options(CreateMode::PersistentSequential))
        .await
        .unwrap();
    assert_eq!(s.into_i64(), 1, "the root's create counter started at 0");
    assert_eq!(c.count_descendants_number("/").await.unwrap(), 5);
}
