//! multi (14) and multiRead (22): per-op results, atomic rollback with the
//! 0 / code / -2 result rule, check inside multi, one zxid per transaction,
//! watch events before the reply, and multiRead's independent results.

mod common;

use common::raw::{self, err, op, MultiResult, RawConn, OPEN_ACL};
use common::*;
use zk::{
    CheckWriteError, CreateMode, Error, EventType, MultiReadResult, MultiWriteError,
    MultiWriteResult,
};
use zookeeper_client as zk;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_success_results_and_single_zxid() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "multi_success").await;
    let a = format!("{root}/a");
    let b = format!("{a}/b");

    let mut m = c.new_multi_writer();
    m.add_create(&a, b"x", &open_options()).unwrap();
    m.add_set_data(&a, b"y", Some(0)).unwrap();
    m.add_check_version(&a, 1).unwrap();
    m.add_create(&b, b"", &open_options()).unwrap(); // sees the pending create of a
    m.add_delete(&b, Some(0)).unwrap();
    m.add_create(
        &format!("{root}/s-"),
        b"",
        &options(CreateMode::PersistentSequential),
    )
    .unwrap();
    let results = m.commit().await.unwrap();
    assert_eq!(results.len(), 6, "one result per op");

    let MultiWriteResult::Create {
        path,
        stat: create_stat,
    } = &results[0]
    else {
        panic!("{:?}", results[0])
    };
    assert_eq!(path, &a);
    let MultiWriteResult::SetData { stat: set_stat } = &results[1] else {
        panic!("{:?}", results[1])
    };
    assert_eq!(set_stat.version, 1);
    assert_eq!(set_stat.data_length, 1);
    assert!(
        matches!(results[2], MultiWriteResult::Check),
        "{:?}",
        results[2]
    );
    let MultiWriteResult::Create { path, .. } = &results[3] else {
        panic!("{:?}", results[3])
    };
    assert_eq!(path, &b);
    assert!(
        matches!(results[4], MultiWriteResult::Delete),
        "{:?}",
        results[4]
    );
    let MultiWriteResult::Create { path, .. } = &results[5] else {
        panic!("{:?}", results[5])
    };
    assert_eq!(
        path,
        &format!("{root}/s-0000000001"),
        "sequential suffix from the counter (a was child 0)"
    );

    // Everything was applied with one zxid.
    let (data, st) = c.get_data(&a).await.unwrap();
    assert_eq!(data, b"y");
    assert_eq!(st.version, 1);
    assert_eq!(
        st.czxid, st.mzxid,
        "create and setData of one multi share its zxid"
    );
    assert_eq!(set_stat.mzxid, st.mzxid);
    assert_eq!(st.cversion, 2, "b created and deleted inside the multi");
    assert_eq!(st.pzxid, st.czxid);
    // Create2 results carry a Stat from 3.8.2 on (a path-only type-1 result before);
    // when present it must be the Stat right after the create.
    if !create_stat.is_invalid() {
        assert_eq!(
            (
                create_stat.czxid,
                create_stat.version,
                create_stat.data_length
            ),
            (st.czxid, 0, 1)
        );
    }
    assert_eq!(c.check_stat(&b).await.unwrap(), None);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_failure_rolls_back_everything() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "multi_failure").await;
    let exists = format!("{root}/exists");
    let victim = format!("{root}/victim");
    c.create(&exists, b"e", &open_options()).await.unwrap();
    c.create(&victim, b"v", &open_options()).await.unwrap();
    let (_, before) = c.get_data(&root).await.unwrap();

    type Build<'a> = Box<dyn Fn(&mut zk::MultiWriter<'_>) + 'a>;
    let cases: Vec<(&str, usize, Error, Build<'_>)> = vec![
        (
            "NodeExists in the middle",
            1,
            Error::NodeExists,
            Box::new(|m| {
                m.add_create(&format!("{root}/new"), b"", &open_options())
                    .unwrap();
                m.add_create(&exists, b"", &open_options()).unwrap();
                m.add_delete(&victim, None).unwrap();
            }),
        ),
        (
            "BadVersion check first",
            0,
            Error::BadVersion,
            Box::new(|m| {
                m.add_check_version(&exists, 3).unwrap();
                m.add_set_data(&victim, b"changed", None).unwrap();
            }),
        ),
        (
            "NoNode last",
            2,
            Error::NoNode,
            Box::new(|m| {
                m.add_set_data(&victim, b"changed", Some(0)).unwrap();
                m.add_delete(&victim, None).unwrap();
                m.add_delete(&victim, None).unwrap(); // already deleted by the pending op
            }),
        ),
        (
            "BadVersion after a pending setData",
            1,
            Error::BadVersion,
            Box::new(|m| {
                m.add_set_data(&victim, b"changed", Some(0)).unwrap();
                m.add_check_version(&victim, 0).unwrap(); // version is 1 now
            }),
        ),
        (
            "NotEmpty",
            1,
            Error::NotEmpty,
            Box::new(|m| {
                m.add_create(&format!("{exists}/kid"), b"", &open_options())
                    .unwrap();
                m.add_delete(&exists, None).unwrap();
            }),
        ),
        (
            "NoChildrenForEphemerals",
            1,
            Error::NoChildrenForEphemerals,
            Box::new(|m| {
                m.add_create(&format!("{root}/eph"), b"", &options(CreateMode::Ephemeral))
                    .unwrap();
                m.add_create(&format!("{root}/eph/kid"), b"", &open_options())
                    .unwrap();
            }),
        ),
    ];
    for (what, index, code, build) in cases {
        let mut m = c.new_multi_writer();
        build(&mut m);
        match m.commit().await {
            Err(MultiWriteError::OperationFailed { index: i, source }) => {
                assert_eq!((i, source), (index, code), "{what}");
            }
            other => panic!("{what}: expected OperationFailed, got {other:?}"),
        }
        // Nothing changed.
        assert_eq!(c.get_data(&victim).await.unwrap().0, b"v", "{what}");
        assert_eq!(c.get_data(&victim).await.unwrap().1.version, 0, "{what}");
        let (_, now) = c.get_data(&root).await.unwrap();
        assert_eq!(
            (now.cversion, now.num_children, now.pzxid),
            (before.cversion, before.num_children, before.pzxid),
            "{what}"
        );
        assert_eq!(
            c.check_stat(&format!("{root}/new")).await.unwrap(),
            None,
            "{what}"
        );
    }

    // CheckWriter: a failing leading check is reported as such.
    let mut w = c.new_check_writer(&exists, Some(5)).unwrap();
    w.add_set_data(&victim, b"no", None).unwrap();
    match w.commit().await {
        Err(CheckWriteError::CheckFailed { source }) => assert_eq!(source, Error::BadVersion),
        other => panic!("expected CheckFailed, got {other:?}"),
    }
    let mut w = c.new_check_writer(&exists, Some(0)).unwrap();
    w.add_set_data(&victim, b"yes", None).unwrap();
    let res = w.commit().await.unwrap();
    assert!(
        matches!(res.as_slice(), [MultiWriteResult::SetData { .. }]),
        "{res:?}"
    );
    assert_eq!(c.get_data(&victim).await.unwrap().0, b"yes");
    rm_rf(&c, &root).await;
}

fn error_result(code: i32) -> MultiResult {
    MultiResult {
        typ: -1,
        err: code,
        error_body: Some(code),
        path: None,
        stat: None,
        data: None,
        children: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_wire_results() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "multi_wire").await;
    let node = format!("{root}/node");
    c.create(&node, b"", &open_options()).await.unwrap();
    let mut r = RawConn::connect(server.addr(), 10_000);

    // Success: create(1) -> type 1 + path; create2(15) -> type 15 + path + Stat
    // (type 1, path only, in 3.8.0-3.8.1); setData -> 5 + Stat; check -> 13; delete -> 2.
    let t1 = format!("{root}/t1");
    let t2 = format!("{root}/t2");
    let reply = r.multi(&[
        (op::CREATE, raw::create_req(&t1, Some(b"1"), OPEN_ACL, 0)),
        (op::CREATE2, raw::create_req(&t2, Some(b"22"), OPEN_ACL, 0)),
        (op::CHECK, raw::path_version_req(&node, 0)),
        (op::SET_DATA, raw::set_data_req(&node, Some(b"abc"), 0)),
        (op::DELETE, raw::path_version_req(&t1, 0)),
    ]);
    assert_eq!(reply.err, 0);
    let res = raw::decode_multi(&reply.body);
    assert_eq!(res.len(), 5);
    assert_eq!(
        (res[0].typ, res[0].err, res[0].path.as_deref(), res[0].stat),
        (op::CREATE, 0, Some(t1.as_str()), None)
    );
    assert_eq!((res[1].err, res[1].path.as_deref()), (0, Some(t2.as_str())));
    match res[1].typ {
        op::CREATE2 => {
            let st = res[1].stat.expect("create2 result Stat");
            assert_eq!((st.version, st.data_length, st.czxid), (0, 2, reply.zxid));
        }
        op::CREATE => assert_eq!(res[1].stat, None),
        other => panic!("create2 result type {other}"),
    }
    assert_eq!((res[2].typ, res[2].err, res[2].stat), (op::CHECK, 0, None));
    let st = res[3].stat.expect("setData result Stat");
    assert_eq!(
        (res[3].typ, res[3].err, st.version, st.data_length),
        (op::SET_DATA, 0, 1, 3)
    );
    assert_eq!(st.mzxid, reply.zxid, "the reply carries the multi's zxid");
    assert_eq!((res[4].typ, res[4].err), (op::DELETE, 0));

    // Failure: ops before -> ErrorResult(0), the failing op -> its code, after -> -2; header err 0.
    let t3 = format!("{root}/t3");
    let reply = r.multi(&[
        (op::CREATE, raw::create_req(&t3, Some(b""), OPEN_ACL, 0)),
        (op::CREATE, raw::create_req(&node, Some(b""), OPEN_ACL, 0)),
        (op::DELETE, raw::path_version_req(&t2, -1)),
        (op::CHECK, raw::path_version_req(&node, 99)),
    ]);
    assert_eq!(reply.err, 0, "a failed multi still has ReplyHeader.err 0");
    assert_eq!(
        raw::decode_multi(&reply.body),
        vec![
            error_result(0),
            error_result(err::NODE_EXISTS),
            error_result(err::RUNTIME_INCONSISTENCY),
            error_result(err::RUNTIME_INCONSISTENCY)
        ]
    );
    assert_eq!(c.check_stat(&t3).await.unwrap(), None);
    assert!(c.check_stat(&t2).await.unwrap().is_some());

    // check fails with BadVersion / NoNode inside multi.
    let reply = r.multi(&[(op::CHECK, raw::path_version_req(&node, 0))]);
    assert_eq!(
        raw::decode_multi(&reply.body),
        vec![error_result(err::BAD_VERSION)]
    );
    let reply = r.multi(&[(
        op::CHECK,
        raw::path_version_req(&format!("{root}/nope"), -1),
    )]);
    assert_eq!(
        raw::decode_multi(&reply.body),
        vec![error_result(err::NO_NODE)]
    );

    // An empty multi: just the terminator.
    let reply = r.multi(&[]);
    assert_eq!(reply.err, 0);
    assert_eq!(raw::decode_multi(&reply.body), vec![]);

    // A read op inside multi fails the whole request: MarshallingError in the header.
    let reply = r.multi(&[
        (
            op::CREATE,
            raw::create_req(&format!("{root}/t4"), Some(b""), OPEN_ACL, 0),
        ),
        (op::GET_DATA, raw::path_watch_req(&node, false)),
    ]);
    reply.assert_err(err::MARSHALLING_ERROR);
    assert_eq!(c.check_stat(&format!("{root}/t4")).await.unwrap(), None);
    // ...and the connection keeps working.
    assert_eq!(r.ping().err, 0);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_create_modes() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "multi_modes").await;
    let ttl = std::time::Duration::from_secs(600);
    let mut m = c.new_multi_writer();
    m.add_create(&format!("{root}/e"), b"", &options(CreateMode::Ephemeral))
        .unwrap();
    m.add_create(
        &format!("{root}/es-"),
        b"",
        &options(CreateMode::EphemeralSequential),
    )
    .unwrap();
    m.add_create(&format!("{root}/k"), b"", &options(CreateMode::Container))
        .unwrap();
    m.add_create(
        &format!("{root}/t"),
        b"",
        &options(CreateMode::Persistent).with_ttl(ttl),
    )
    .unwrap();
    m.add_create(
        &format!("{root}/ts-"),
        b"",
        &options(CreateMode::PersistentSequential).with_ttl(ttl),
    )
    .unwrap();
    let res = m.commit().await.unwrap();
    let paths: Vec<String> = res
        .iter()
        .map(|r| match r {
            MultiWriteResult::Create { path, .. } => path.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        paths,
        vec![
            format!("{root}/e"),
            format!("{root}/es-0000000001"),
            format!("{root}/k"),
            format!("{root}/t"),
            format!("{root}/ts-0000000004")
        ]
    );
    let sid = c.session_id().0;
    assert_eq!(
        c.check_stat(&paths[0])
            .await
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        sid
    );
    assert_eq!(
        c.check_stat(&paths[1])
            .await
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        sid
    );
    for p in &paths[2..] {
        assert_eq!(
            c.check_stat(p).await.unwrap().unwrap().ephemeral_owner,
            0,
            "{p}"
        );
    }
    let mut eph = c.list_ephemerals(&root).await.unwrap();
    eph.sort();
    assert_eq!(eph, paths[..2].to_vec());
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_fires_watches_before_its_reply_and_failed_multi_fires_none() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "multi_watches").await;
    let n = format!("{root}/n");
    let o = format!("{root}/o");
    c.create(&o, b"", &open_options()).await.unwrap();

    let (_, exist_w) = c.check_and_watch_stat(&n).await.unwrap();
    let (_, _, child_w) = c.get_and_watch_children(&root).await.unwrap();
    let (_, _, data_w) = c.get_and_watch_data(&o).await.unwrap();
    let mut m = c.new_multi_writer();
    m.add_create(&n, b"", &open_options()).unwrap();
    m.add_set_data(&o, b"x", None).unwrap();
    m.commit().await.unwrap();
    // Same session: every event was delivered before the multi reply.
    let e = oneshot_ready_event(exist_w)
        .await
        .expect("exist watch fired before the multi reply");
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated, n.as_str())
    );
    let e = oneshot_ready_event(child_w)
        .await
        .expect("child watch fired before the multi reply");
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeChildrenChanged, root.as_str())
    );
    let e = oneshot_ready_event(data_w)
        .await
        .expect("data watch fired before the multi reply");
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, o.as_str())
    );

    // A failed multi changes nothing and fires nothing.
    let mut r = RawConn::connect(server.addr(), 10_000);
    r.get_data(&o, true).ok();
    r.get_children(&root, true).ok();
    r.exists(&format!("{root}/never"), true)
        .assert_err(err::NO_NODE);
    let mut m = c.new_multi_writer();
    m.add_set_data(&o, b"y", None).unwrap();
    m.add_create(&format!("{root}/never"), b"", &open_options())
        .unwrap();
    m.add_create(&n, b"", &open_options()).unwrap(); // NodeExists
    assert!(m.commit().await.is_err());
    r.ping();
    assert_eq!(r.take_events(), vec![]);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_read_results_are_independent() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "multi_read").await;
    let a = format!("{root}/a");
    c.create(&a, b"data-a", &open_options()).await.unwrap();
    c.create(&format!("{a}/x"), b"", &open_options())
        .await
        .unwrap();
    c.create(&format!("{a}/y"), b"", &open_options())
        .await
        .unwrap();

    let mut m = c.new_multi_reader();
    m.add_get_data(&a).unwrap();
    m.add_get_children(&a).unwrap();
    m.add_get_data(&format!("{root}/missing")).unwrap();
    m.add_get_children(&format!("{root}/missing")).unwrap();
    m.add_get_data(&format!("{a}/x")).unwrap(); // after an error: still evaluated
    let res = m.commit().await.unwrap();
    assert_eq!(res.len(), 5);
    let MultiReadResult::Data { data, stat } = &res[0] else {
        panic!("{:?}", res[0])
    };
    assert_eq!(data, b"data-a");
    assert_eq!(*stat, c.get_data(&a).await.unwrap().1);
    let MultiReadResult::Children { children } = &res[1] else {
        panic!("{:?}", res[1])
    };
    let mut children = children.clone();
    children.sort();
    assert_eq!(children, vec!["x", "y"]);
    assert!(
        matches!(&res[2], MultiReadResult::Error { err: Error::NoNode }),
        "{:?}",
        res[2]
    );
    assert!(
        matches!(&res[3], MultiReadResult::Error { err: Error::NoNode }),
        "{:?}",
        res[3]
    );
    assert!(
        matches!(&res[4], MultiReadResult::Data { .. }),
        "{:?}",
        res[4]
    );

    // Raw: result types 4 / 8 / -1, header err 0, and watch flags are ignored.
    let mut r = RawConn::connect(server.addr(), 10_000);
    let reply = r.call(
        op::MULTI_READ,
        &raw::multi_req(&[
            (op::GET_DATA, raw::path_watch_req(&a, true)),
            (op::GET_CHILDREN, raw::path_watch_req(&a, true)),
            (
                op::GET_DATA,
                raw::path_watch_req(&format!("{root}/missing"), true),
            ),
        ]),
    );
    assert_eq!(reply.err, 0);
    let res = raw::decode_multi(&reply.body);
    assert_eq!(res.len(), 3);
    assert_eq!((res[0].typ, res[0].err), (op::GET_DATA, 0));
    assert_eq!(res[0].data, Some(Some(b"data-a".to_vec())));
    assert_eq!((res[1].typ, res[1].err), (op::GET_CHILDREN, 0));
    assert_eq!(res[2], error_result(err::NO_NODE));
    c.set_data(&a, b"changed", None).await.unwrap();
    c.create(&format!("{a}/z"), b"", &open_options())
        .await
        .unwrap();
    c.create(&format!("{root}/missing"), b"", &open_options())
        .await
        .unwrap();
    r.ping();
    assert_eq!(r.take_events(), vec![], "multiRead sets no watches");

    // A write inside multiRead fails the whole request.
    let reply = r.call(
        op::MULTI_READ,
        &raw::multi_req(&[
            (op::GET_DATA, raw::path_watch_req(&a, false)),
            (op::SET_DATA, raw::set_data_req(&a, Some(b"no"), -1)),
        ]),
    );
    reply.assert_err(err::MARSHALLING_ERROR);
    assert_eq!(c.get_data(&a).await.unwrap().0, b"changed");
    rm_rf(&c, &root).await;
}
