//! Watches: one-shot data / exist / child watches, persistent and
//! persistent-recursive addWatch, setWatches catch-up, the notification frame,
//! and the rule that a notification precedes any reply reflecting its change.
//!
//! "No further event" is never asserted by sleeping: after the change has been
//! acknowledged, a ping (raw) or any request on the watching connection is
//! answered only after every notification already queued for it (§12.6), so
//! the events seen before that reply are all there will be.

mod common;

use common::raw::{self, ev, op, Event, RawConn};
use common::*;
use zk::{AddWatchMode, CreateMode, EventType, SessionState, WatchedEvent};
use zookeeper_client as zk;

fn event(typ: i32, path: &str) -> Event {
    Event {
        zxid: -1,
        typ,
        state: ev::SYNC_CONNECTED,
        path: path.to_string(),
    }
}

/// Normalises the notification zxid (−1 in 3.8, the txn zxid in 3.9+, §12.5)
/// after checking it is one of those.
fn events_of(conn: &mut RawConn) -> Vec<Event> {
    conn.take_events()
        .into_iter()
        .map(|e| {
            assert!(
                e.zxid == -1 || e.zxid > 0,
                "notification zxid {} is neither -1 nor a txn zxid",
                e.zxid
            );
            assert_eq!(
                e.state,
                ev::SYNC_CONNECTED,
                "server-sent state is always SyncConnected"
            );
            Event { zxid: -1, ..e }
        })
        .collect()
}

fn node_event(t: EventType, path: &str) -> (EventType, String) {
    (t, path.to_string())
}

/// Discards a write's result (Stat values are `Copy`, so `drop` would lint).
fn ignore<T>(_: T) {}

fn pair(e: &WatchedEvent) -> (EventType, String) {
    assert_eq!(e.session_state, SessionState::SyncConnected);
    (e.event_type, e.path.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_watch_fires_once() {
    let server = Server::start();
    let c = server.client().await;
    let other = server.client().await;
    let root = make_root(&c, "data_watch").await;
    let n = format!("{root}/n");
    c.create(&n, b"0", &open_options()).await.unwrap();

    // Crate: getData watch, another session changes the data.
    let (_, _, w) = c.get_and_watch_data(&n).await.unwrap();
    other.set_data(&n, b"1", None).await.unwrap();
    assert_eq!(
        pair(&wait_oneshot(w).await),
        node_event(EventType::NodeDataChanged, &n)
    );

    // Raw: exactly one notification for two changes (one-shot), with the wire shape of §12.2.
    let mut r = RawConn::connect(server.addr(), 10_000);
    r.get_data(&n, true).ok();
    other.set_data(&n, b"2", None).await.unwrap();
    other.set_data(&n, b"3", None).await.unwrap();
    r.ping();
    assert_eq!(events_of(&mut r), vec![event(ev::NODE_DATA_CHANGED, &n)]);

    // Re-registered, it fires on delete.
    r.get_data(&n, true).ok();
    other.delete(&n, None).await.unwrap();
    r.ping();
    assert_eq!(events_of(&mut r), vec![event(ev::NODE_DELETED, &n)]);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exist_watch_on_missing_node_fires_created() {
    let server = Server::start();
    let c = server.client().await;
    let other = server.client().await;
    let root = make_root(&c, "exist_watch").await;
    let n = format!("{root}/n");

    let (stat, w) = c.check_and_watch_stat(&n).await.unwrap();
    assert_eq!(stat, None);
    other.create(&n, b"", &open_options()).await.unwrap();
    assert_eq!(
        pair(&wait_oneshot(w).await),
        node_event(EventType::NodeCreated, &n)
    );

    // On an existing node the exists watch is a data watch: changes and deletes fire it.
    let (stat, w) = c.check_and_watch_stat(&n).await.unwrap();
    assert!(stat.is_some());
    other.set_data(&n, b"x", None).await.unwrap();
    assert_eq!(
        pair(&wait_oneshot(w).await),
        node_event(EventType::NodeDataChanged, &n)
    );
    let (_, w) = c.check_and_watch_stat(&n).await.unwrap();
    other.delete(&n, None).await.unwrap();
    assert_eq!(
        pair(&wait_oneshot(w).await),
        node_event(EventType::NodeDeleted, &n)
    );

    // Raw: exists with watch on a missing node answers NoNode (header only) and still registers.
    let mut r = RawConn::connect(server.addr(), 10_000);
    r.exists(&n, true).assert_err(raw::err::NO_NODE);
    other.create(&n, b"", &open_options()).await.unwrap();
    other.set_data(&n, b"y", None).await.unwrap();
    r.ping();
    assert_eq!(
        events_of(&mut r),
        vec![event(ev::NODE_CREATED, &n)],
        "one-shot: nothing for the later setData"
    );
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_missing_nodes_set_no_watch() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "missing_no_watch").await;
    let n = format!("{root}/n");
    let mut r = RawConn::connect(server.addr(), 10_000);
    r.get_data(&n, true).assert_err(raw::err::NO_NODE);
    r.get_children(&n, true).assert_err(raw::err::NO_NODE);
    r.call(op::GET_CHILDREN2, &raw::path_watch_req(&n, true))
        .assert_err(raw::err::NO_NODE);
    c.create(&n, b"", &open_options()).await.unwrap();
    c.create(&format!("{n}/k"), b"", &open_options())
        .await
        .unwrap();
    c.set_data(&n, b"z", None).await.unwrap();
    c.delete(&format!("{n}/k"), None).await.unwrap();
    c.delete(&n, None).await.unwrap();
    r.ping();
    assert_eq!(
        events_of(&mut r),
        vec![],
        "getData/getChildren on a missing node register nothing"
    );
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_watch() {
    let server = Server::start();
    let c = server.client().await;
    let other = server.client().await;
    let root = make_root(&c, "child_watch").await;
    let p = format!("{root}/p");
    c.create(&p, b"", &open_options()).await.unwrap();

    // Crate, getChildren2 with watch.
    let (kids, _, w) = c.get_and_watch_children(&p).await.unwrap();
    assert!(kids.is_empty());
    other
        .create(&format!("{p}/a"), b"", &open_options())
        .await
        .unwrap();
    assert_eq!(
        pair(&wait_oneshot(w).await),
        node_event(EventType::NodeChildrenChanged, &p)
    );
    // Crate, getChildren with watch; a child delete fires it too.
    let (kids, w) = c.list_and_watch_children(&p).await.unwrap();
    assert_eq!(kids, vec!["a"]);
    other.delete(&format!("{p}/a"), None).await.unwrap();
    assert_eq!(
        pair(&wait_oneshot(w).await),
        node_event(EventType::NodeChildrenChanged, &p)
    );

    // Raw: data changes of the parent or of a child do not fire a child watch.
    let mut r = RawConn::connect(server.addr(), 10_000);
    other
        .create(&format!("{p}/b"), b"", &open_options())
        .await
        .unwrap();
    r.get_children(&p, true).ok();
    other.set_data(&p, b"pp", None).await.unwrap();
    other
        .set_data(&format!("{p}/b"), b"bb", None)
        .await
        .unwrap();
    other
        .create(&format!("{p}/b/grandchild"), b"", &open_options())
        .await
        .unwrap();
    r.ping();
    assert_eq!(events_of(&mut r), vec![]);
    other
        .create(&format!("{p}/c"), b"", &open_options())
        .await
        .unwrap();
    other
        .create(&format!("{p}/d"), b"", &open_options())
        .await
        .unwrap();
    r.ping();
    assert_eq!(
        events_of(&mut r),
        vec![event(ev::NODE_CHILDREN_CHANGED, &p)],
        "one-shot"
    );

    // The deletion of the watched node itself: NodeDeleted to the child watcher.
    let q = format!("{root}/q");
    other.create(&q, b"", &open_options()).await.unwrap();
    r.call(op::GET_CHILDREN2, &raw::path_watch_req(&q, true))
        .ok();
    other.delete(&q, None).await.unwrap();
    r.ping();
    assert_eq!(events_of(&mut r), vec![event(ev::NODE_DELETED, &q)]);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_delete_fire_on_parent_and_node() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "create_delete_fire").await;
    let p = format!("{root}/p");
    let n = format!("{p}/n");
    c.create(&p, b"", &open_options()).await.unwrap();
    let mut r = RawConn::connect(server.addr(), 10_000);

    // create n: NodeCreated to n's exist watchers, NodeChildrenChanged to p's child watchers.
    r.exists(&n, true).assert_err(raw::err::NO_NODE);
    r.get_children(&p, true).ok();
    r.get_data(&p, true).ok(); // p's data watch must not fire for a child create
    c.create(&n, b"", &open_options()).await.unwrap();
    r.ping();
    let mut got = events_of(&mut r);
    got.sort_by_key(|e| e.typ);
    assert_eq!(
        got,
        vec![
            event(ev::NODE_CREATED, &n),
            event(ev::NODE_CHILDREN_CHANGED, &p)
        ]
    );

    // delete n while holding both a data watch and a child watch on n: ONE NodeDeleted
    // for n (one event per connection), plus NodeChildrenChanged for p.
    r.get_data(&n, true).ok();
    r.get_children(&n, true).ok();
    r.get_children(&p, true).ok();
    c.delete(&n, None).await.unwrap();
    r.ping();
    let mut got = events_of(&mut r);
    got.sort_by_key(|e| e.typ);
    assert_eq!(
        got,
        vec![
            event(ev::NODE_DELETED, &n),
            event(ev::NODE_CHILDREN_CHANGED, &p)
        ]
    );

    // The data watch on p registered earlier is still pending and fires on p's setData.
    c.set_data(&p, b"x", None).await.unwrap();
    r.ping();
    assert_eq!(events_of(&mut r), vec![event(ev::NODE_DATA_CHANGED, &p)]);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_precedes_reply_on_the_writing_session() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "event_before_own_reply").await;
    let n = format!("{root}/n");

    // Raw, byte level: the notification frame arrives before the write's reply.
    let mut r = RawConn::connect(server.addr(), 10_000);
    r.exists(&n, true).assert_err(raw::err::NO_NODE);
    r.create(&n, Some(b""), 0).ok();
    assert_eq!(
        events_of(&mut r),
        vec![event(ev::NODE_CREATED, &n)],
        "NodeCreated before the create reply"
    );
    r.get_data(&n, true).ok();
    r.set_data(&n, Some(b"v"), -1).ok();
    assert_eq!(
        events_of(&mut r),
        vec![event(ev::NODE_DATA_CHANGED, &n)],
        "NodeDataChanged before the setData reply"
    );
    r.get_children(&root, true).ok();
    r.delete(&n, -1).ok();
    assert_eq!(
        events_of(&mut r),
        vec![event(ev::NODE_CHILDREN_CHANGED, &root)],
        "before the delete reply"
    );

    // Crate: once the write has returned, the watcher's event is already there.
    let (_, w) = c.check_and_watch_stat(&n).await.unwrap();
    c.create(&n, b"", &open_options()).await.unwrap();
    let e = oneshot_ready_event(w)
        .await
        .expect("event delivered before the create reply");
    assert_eq!(pair(&e), node_event(EventType::NodeCreated, &n));
    let (_, _, w) = c.get_and_watch_data(&n).await.unwrap();
    c.set_data(&n, b"1", None).await.unwrap();
    let e = oneshot_ready_event(w)
        .await
        .expect("event delivered before the setData reply");
    assert_eq!(pair(&e), node_event(EventType::NodeDataChanged, &n));
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_precedes_reply_on_another_session() {
    let server = Server::start();
    let writer = server.client().await;
    let root = make_root(&writer, "event_before_other_reply").await;
    let n = format!("{root}/n");
    writer.create(&n, b"old", &open_options()).await.unwrap();

    let mut r = RawConn::connect(server.addr(), 10_000);
    r.get_data(&n, true).ok();
    writer.set_data(&n, b"new", None).await.unwrap();
    // The first reply on the watcher's connection that shows the new data must
    // come after the notification.
    let reply = r.get_data(&n, false);
    assert_eq!(reply.ok().buf(), Some(b"new".to_vec()));
    assert_eq!(events_of(&mut r), vec![event(ev::NODE_DATA_CHANGED, &n)]);

    // Same through the crate on a third session.
    let c = server.client().await;
    let (_, _, w) = c.get_and_watch_data(&n).await.unwrap();
    writer.set_data(&n, b"newer", None).await.unwrap();
    assert_eq!(c.get_data(&n).await.unwrap().0, b"newer");
    let e = oneshot_ready_event(w)
        .await
        .expect("event delivered before the reply showing the change");
    assert_eq!(e.event_type, EventType::NodeDataChanged);
    rm_rf(&writer, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_watch() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "persistent_watch").await;
    let p = format!("{root}/p");
    let k = format!("{p}/k");

    // addWatch on a missing path succeeds.
    let mut w = c.watch(&p, AddWatchMode::Persistent).await.unwrap();
    // All writes from the same session: each event is queued before the write's reply.
    let steps: Vec<(&str, Option<(EventType, String)>)> = vec![
        ("create p", Some(node_event(EventType::NodeCreated, &p))),
        (
            "create p/k",
            Some(node_event(EventType::NodeChildrenChanged, &p)),
        ),
        ("set p/k", None),
        ("set p", Some(node_event(EventType::NodeDataChanged, &p))),
        ("create p/k/deep", None),
        ("delete p/k/deep", None),
        (
            "delete p/k",
            Some(node_event(EventType::NodeChildrenChanged, &p)),
        ),
        ("delete p", Some(node_event(EventType::NodeDeleted, &p))),
        (
            "create p again",
            Some(node_event(EventType::NodeCreated, &p)),
        ),
        (
            "set p again",
            Some(node_event(EventType::NodeDataChanged, &p)),
        ),
    ];
    for (step, expect) in steps {
        match step {
            "create p" | "create p again" => {
                ignore(c.create(&p, b"", &open_options()).await.unwrap())
            }
            "create p/k" => ignore(c.create(&k, b"", &open_options()).await.unwrap()),
            "set p/k" => ignore(c.set_data(&k, b"k", None).await.unwrap()),
            "set p" | "set p again" => ignore(c.set_data(&p, b"p", None).await.unwrap()),
            "create p/k/deep" => ignore(
                c.create(&format!("{k}/deep"), b"", &open_options())
                    .await
                    .unwrap(),
            ),
            "delete p/k/deep" => c.delete(&format!("{k}/deep"), None).await.unwrap(),
            "delete p/k" => c.delete(&k, None).await.unwrap(),
            "delete p" => c.delete(&p, None).await.unwrap(),
            _ => unreachable!(),
        }
        let got = persistent_has_ready_event(&mut w).await.map(|e| pair(&e));
        assert_eq!(got, expect, "after {step}");
        assert!(
            persistent_has_ready_event(&mut w).await.is_none(),
            "a single event for {step}"
        );
    }

    // Raw addWatch reply: ErrorResponse body `int 0`; and it fires for another session's write.
    let mut r = RawConn::connect(server.addr(), 10_000);
    let reply = r.call(op::ADD_WATCH, &raw::add_watch_req(&p, 0));
    let mut d = reply.ok();
    assert_eq!(d.i32(), 0);
    assert!(d.is_at_end());
    c.set_data(&p, b"1", None).await.unwrap();
    c.set_data(&p, b"2", None).await.unwrap();
    r.ping();
    assert_eq!(
        events_of(&mut r),
        vec![
            event(ev::NODE_DATA_CHANGED, &p),
            event(ev::NODE_DATA_CHANGED, &p)
        ],
        "persistent: not consumed"
    );
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_recursive_watch() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "recursive_watch").await;
    let p = format!("{root}/p");
    let n = format!("{p}/n");
    let deep = format!("{n}/deep");
    c.create(&p, b"", &open_options()).await.unwrap();

    let mut w = c
        .watch(&p, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    let sibling = format!("{p}x"); // shares the string prefix, not a descendant
    let steps: Vec<(&str, Option<(EventType, String)>)> = vec![
        ("create n", Some(node_event(EventType::NodeCreated, &n))),
        (
            "create deep",
            Some(node_event(EventType::NodeCreated, &deep)),
        ),
        (
            "set deep",
            Some(node_event(EventType::NodeDataChanged, &deep)),
        ),
        ("set p", Some(node_event(EventType::NodeDataChanged, &p))),
        ("create sibling", None),
        ("set sibling", None),
        (
            "delete deep",
            Some(node_event(EventType::NodeDeleted, &deep)),
        ),
        ("delete n", Some(node_event(EventType::NodeDeleted, &n))),
        ("delete p", Some(node_event(EventType::NodeDeleted, &p))),
        ("create p", Some(node_event(EventType::NodeCreated, &p))),
    ];
    for (step, expect) in steps {
        match step {
            "create n" => ignore(c.create(&n, b"", &open_options()).await.unwrap()),
            "create deep" => ignore(c.create(&deep, b"", &open_options()).await.unwrap()),
            "set deep" => ignore(c.set_data(&deep, b"d", None).await.unwrap()),
            "set p" => ignore(c.set_data(&p, b"p", None).await.unwrap()),
            "create sibling" => ignore(c.create(&sibling, b"", &open_options()).await.unwrap()),
            "set sibling" => ignore(c.set_data(&sibling, b"s", None).await.unwrap()),
            "delete deep" => c.delete(&deep, None).await.unwrap(),
            "delete n" => c.delete(&n, None).await.unwrap(),
            "delete p" => c.delete(&p, None).await.unwrap(),
            "create p" => ignore(c.create(&p, b"", &open_options()).await.unwrap()),
            _ => unreachable!(),
        }
        // Never NodeChildrenChanged on a recursive watch (§12.4).
        let got = persistent_has_ready_event(&mut w).await.map(|e| pair(&e));
        assert_eq!(got, expect, "after {step}");
        assert!(
            persistent_has_ready_event(&mut w).await.is_none(),
            "a single event for {step}"
        );
    }

    // Raw, mode 1, from another session: events for the whole subtree, none for children lists.
    let mut r = RawConn::connect(server.addr(), 10_000);
    r.call(op::ADD_WATCH, &raw::add_watch_req(&p, 1)).ok();
    c.create(&n, b"", &open_options()).await.unwrap();
    c.set_data(&n, b"1", None).await.unwrap();
    c.delete(&n, None).await.unwrap();
    r.ping();
    assert_eq!(
        events_of(&mut r),
        vec![
            event(ev::NODE_CREATED, &n),
            event(ev::NODE_DATA_CHANGED, &n),
            event(ev::NODE_DELETED, &n)
        ]
    );
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_watch_sees_other_sessions() {
    let server = Server::start();
    let c = server.client().await;
    let other = server.client().await;
    let root = make_root(&c, "persistent_other").await;
    let p = format!("{root}/p");
    let mut w = c.watch(&p, AddWatchMode::Persistent).await.unwrap();
    let mut rw = c
        .watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    other.create(&p, b"", &open_options()).await.unwrap();
    other.set_data(&p, b"x", None).await.unwrap();
    other
        .create(&format!("{p}/e"), b"", &options(CreateMode::Ephemeral))
        .await
        .unwrap();
    assert_eq!(
        pair(&next_event(&mut w).await),
        node_event(EventType::NodeCreated, &p)
    );
    assert_eq!(
        pair(&next_event(&mut w).await),
        node_event(EventType::NodeDataChanged, &p)
    );
    assert_eq!(
        pair(&next_event(&mut w).await),
        node_event(EventType::NodeChildrenChanged, &p)
    );
    assert_eq!(
        pair(&next_event(&mut rw).await),
        node_event(EventType::NodeCreated, &p)
    );
    assert_eq!(
        pair(&next_event(&mut rw).await),
        node_event(EventType::NodeDataChanged, &p)
    );
    assert_eq!(
        pair(&next_event(&mut rw).await),
        node_event(EventType::NodeCreated, &format!("{p}/e"))
    );
    // The other session closes: its ephemeral's deletion reaches both watchers.
    drop(other);
    assert_eq!(
        pair(&next_event(&mut w).await),
        node_event(EventType::NodeChildrenChanged, &p)
    );
    assert_eq!(
        pair(&next_event(&mut rw).await),
        node_event(EventType::NodeDeleted, &format!("{p}/e"))
    );
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_watches_catch_up_and_register() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "set_watches").await;
    let [d, u, x, y, m, ch, cu] =
        ["d", "u", "x", "y", "m", "ch", "cu"].map(|s| format!("{root}/{s}"));
    for p in [&d, &u, &ch, &cu] {
        c.create(p, b"", &open_options()).await.unwrap();
    }
    let rel = c.check_stat(&cu).await.unwrap().unwrap().czxid; // "last zxid seen" by the reconnecting client
    c.set_data(&d, b"changed", None).await.unwrap(); // data changed after rel
    c.create(&x, b"", &open_options()).await.unwrap(); // created after rel
    c.create(&format!("{ch}/k"), b"", &open_options())
        .await
        .unwrap(); // children changed after rel

    let mut r = RawConn::connect(server.addr(), 10_000);
    let reply = r.call(
        op::SET_WATCHES,
        &raw::set_watches_req(
            rel,
            &[d.as_str(), m.as_str(), u.as_str()],
            &[x.as_str(), y.as_str()],
            &[ch.as_str(), cu.as_str(), m.as_str()],
        ),
    );
    assert!(reply.ok().is_at_end(), "setWatches has an empty body");
    // Catch-up events come before the reply, in list order (data, exist, child).
    assert_eq!(
        events_of(&mut r),
        vec![
            event(ev::NODE_DATA_CHANGED, &d),
            event(ev::NODE_DELETED, &m),
            event(ev::NODE_CREATED, &x),
            event(ev::NODE_CHILDREN_CHANGED, &ch),
            event(ev::NODE_DELETED, &m),
        ]
    );
    // The others were registered as ordinary one-shot watches.
    c.set_data(&u, b"1", None).await.unwrap();
    c.create(&y, b"", &open_options()).await.unwrap();
    c.create(&format!("{cu}/k"), b"", &open_options())
        .await
        .unwrap();
    c.set_data(&d, b"again", None).await.unwrap(); // d's watch was consumed by the catch-up event
    r.ping();
    let mut got = events_of(&mut r);
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let mut expect = vec![
        event(ev::NODE_DATA_CHANGED, &u),
        event(ev::NODE_CREATED, &y),
        event(ev::NODE_CHILDREN_CHANGED, &cu),
    ];
    expect.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(got, expect);
    rm_rf(&c, &root).await;
}

/// checkWatches (17) and removeWatches (18) with WatcherType Children (1),
/// Data (2), Any (3): NoWatcher (-121) when nothing matches, removal sends no
/// notification, and a removed watch no longer fires while the others do.
#[tokio::test]
async fn remove_and_check_watches() {
    use op::{CHECK_WATCHES, REMOVE_WATCHES};
    use raw::err::NO_WATCHER;
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "remove_watches").await;
    let n = format!("{root}/n");
    c.create(&n, b"", &open_options()).await.unwrap();
    let req = |t: i32| raw::Enc::new().str(&n).i32(t).done();

    let mut r = RawConn::connect(server.addr(), 10_000);
    // Nothing registered yet.
    r.call(CHECK_WATCHES, &req(3)).assert_err(NO_WATCHER);
    r.call(REMOVE_WATCHES, &req(3)).assert_err(NO_WATCHER);
    // A data watch and a child watch.
    r.get_data(&n, true).ok();
    r.get_children(&n, true).ok();
    assert!(r.call(CHECK_WATCHES, &req(2)).ok().is_at_end());
    assert!(r.call(CHECK_WATCHES, &req(1)).ok().is_at_end());
    // Remove the data watch only: no notification, child watch stays.
    assert!(r.call(REMOVE_WATCHES, &req(2)).ok().is_at_end());
    r.call(CHECK_WATCHES, &req(2)).assert_err(NO_WATCHER);
    r.call(REMOVE_WATCHES, &req(2)).assert_err(NO_WATCHER);
    assert!(r.call(CHECK_WATCHES, &req(1)).ok().is_at_end());
    r.ping();
    assert!(r.take_events().is_empty(), "removal sends nothing");
    // setData would have fired the data watch: nothing arrives.
    c.set_data(&n, b"x", None).await.unwrap();
    r.ping();
    assert!(
        r.take_events().is_empty(),
        "removed data watch must not fire"
    );
    // The child watch still fires.
    c.create(&format!("{n}/k"), b"", &open_options())
        .await
        .unwrap();
    r.ping();
    let evs = r.take_events();
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!((evs[0].typ, evs[0].path.as_str()), (4, n.as_str()));
    // A persistent watch is removed by type Any, and nothing fires after.
    r.call(op::ADD_WATCH, &raw::add_watch_req(&n, 0)).ok();
    assert!(r.call(CHECK_WATCHES, &req(3)).ok().is_at_end());
    assert!(r.call(REMOVE_WATCHES, &req(3)).ok().is_at_end());
    r.call(CHECK_WATCHES, &req(3)).assert_err(NO_WATCHER);
    c.set_data(&n, b"y", None).await.unwrap();
    r.ping();
    assert!(r.take_events().is_empty(), "no watch left");
}

/// CVE-2024-23944 (ZooKeeper 3.8.4+): a watch event reaches a session only
/// if it may READ the node the event is about (for a deleted node, the ACL
/// it had). An unauthenticated session with a persistent-recursive watch on
/// a public parent hears about a public child, but nothing of a
/// digest-protected child and its descendants; a one-shot exists watch on
/// the protected node is used up by its change without a word; addWatch on
/// the protected node is refused; setWatches catch-up events skip protected
/// nodes too; the owner still hears about its own nodes.
#[test]
fn watch_events_need_read_on_the_node() {
    use common::raw::ConnectRequest;
    let server = Server::start();
    let addr = server.addr().to_string();
    let owner_acl: &[(i32, &str, &str)] = &[(31, "auth", "")];
    let mut owner = RawConn::connect(&addr, 10_000);
    owner
        .call(op::AUTH, &raw::auth_req("digest", b"owner:secret"))
        .ok();
    owner.create("/pub", None, 0).ok();
    owner.create("/pub/open", Some(b"o"), 0).ok();
    owner
        .call(
            op::CREATE,
            &raw::create_req("/pub/prot", Some(b"p"), owner_acl, 0),
        )
        .ok();

    let mut spy = RawConn::connect(&addr, 10_000);
    spy.call(op::ADD_WATCH, &raw::add_watch_req("/pub", 1)).ok();
    // A one-shot exists watch on the protected node: exists needs no READ.
    spy.exists("/pub/prot", true).ok();
    let secret = "/pub/prot/secret-child-name-42";
    owner
        .call(
            op::CREATE,
            &raw::create_req(secret, Some(b"s"), owner_acl, 0),
        )
        .ok();
    owner.set_data(secret, Some(b"t"), -1).ok();
    owner.delete(secret, -1).ok();
    owner.set_data("/pub/prot", Some(b"q"), -1).ok();
    owner.set_data("/pub/open", Some(b"x"), -1).ok();
    spy.ping();
    let seen = events_of(&mut spy);
    assert_eq!(
        seen,
        vec![event(ev::NODE_DATA_CHANGED, "/pub/open")],
        "protected paths leaked: {seen:?}"
    );
    // The one-shot watch on /pub/prot was used up by that change.
    owner.set_data("/pub/open", Some(b"y"), -1).ok();
    owner.set_data("/pub/prot", Some(b"r"), -1).ok();
    spy.ping();
    assert_eq!(
        events_of(&mut spy),
        vec![event(ev::NODE_DATA_CHANGED, "/pub/open")]
    );

    // setWatches (a reconnect) with a zxid older than the changes: the
    // catch-up names only what the session may read.
    let (stream, resp) = raw::handshake(&addr, &ConnectRequest::new_session(10_000));
    let mut back = RawConn::from_parts(stream, &resp);
    back.call(
        op::SET_WATCHES,
        &raw::set_watches_req(1, &["/pub/prot", "/pub/open"], &[], &["/pub/prot"]),
    )
    .ok();
    back.ping();
    let mut got = events_of(&mut back);
    got.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(got, vec![event(ev::NODE_DATA_CHANGED, "/pub/open")]);
    // The owner, who may read, still hears about its own nodes.
    owner.exists(secret, true).assert_err(raw::err::NO_NODE);
    owner
        .call(
            op::CREATE,
            &raw::create_req(secret, Some(b"s"), owner_acl, 0),
        )
        .ok();
    owner.ping();
    assert_eq!(events_of(&mut owner), vec![event(ev::NODE_CREATED, secret)]);
    // addWatch on the protected node itself is refused.
    spy.call(op::ADD_WATCH, &raw::add_watch_req("/pub/prot", 0))
        .assert_err(raw::err::NO_AUTH);
}

/// A connection's watches are bounded (`corral.maxWatchesPerConnection`,
/// `corral.maxWatchBytesPerConnection`): a request that would add a watch
/// past either limit answers QuotaExceeded and sets nothing; re-arming a
/// watch it holds, reads without a watch and other connections are not
/// affected, and a fired watch makes room again.
#[test]
fn watches_per_connection_are_bounded() {
    let Some(server) = Server::builder()
        .extra("corral.maxWatchesPerConnection=4")
        .extra("corral.maxWatchBytesPerConnection=300")
        .fresh()
        .start_or_skip("watches_per_connection_are_bounded")
    else {
        return;
    };
    if server.kind() != Kind::Corral {
        eprintln!("NOTE: watch limits are corral-only; skipped");
        return;
    }
    let addr = server.addr();
    let mut w = RawConn::connect(addr, 10_000);
    let mut other = RawConn::connect(addr, 10_000);
    w.create("/lim", None, 0).ok();
    // Four entries: exists on two paths, a child watch, and a data watch on
    // the same node (the child table counts separately).
    w.exists("/lim/a", true).assert_err(raw::err::NO_NODE);
    w.exists("/lim/b", true).assert_err(raw::err::NO_NODE);
    w.get_children("/lim", true).ok();
    w.get_data("/lim", true).ok();
    // A fifth is refused, by every way of asking.
    w.exists("/lim/c", true)
        .assert_err(raw::err::QUOTA_EXCEEDED);
    w.get_children("/", true)
        .assert_err(raw::err::QUOTA_EXCEEDED);
    w.call(op::ADD_WATCH, &raw::add_watch_req("/lim/c", 1))
        .assert_err(raw::err::QUOTA_EXCEEDED);
    w.call(
        op::SET_WATCHES,
        &raw::set_watches_req(0, &[], &["/lim/c", "/lim/d"], &[]),
    )
    .assert_err(raw::err::QUOTA_EXCEEDED);
    // Re-arming and plain reads still work; so does another connection.
    w.exists("/lim/a", true).assert_err(raw::err::NO_NODE);
    w.exists("/lim/c", false).assert_err(raw::err::NO_NODE);
    other.exists("/lim/c", true).assert_err(raw::err::NO_NODE);
    // Nothing was set by the refused requests: creating /lim/c fires only
    // the other connection's watch, and /lim's child watch on `w`.
    other.create("/lim/c", None, 0).ok();
    w.ping();
    assert_eq!(
        events_of(&mut w),
        vec![event(ev::NODE_CHILDREN_CHANGED, "/lim")]
    );
    other.ping();
    assert_eq!(
        events_of(&mut other),
        vec![event(ev::NODE_CREATED, "/lim/c")]
    );
    // The fired child watch made room for one more.
    w.exists("/lim/c", true).ok();
    w.exists("/lim/e", true)
        .assert_err(raw::err::QUOTA_EXCEEDED);

    // The byte limit: 300 bytes of paths, however few watches.
    let mut b = RawConn::connect(addr, 10_000);
    let long = format!("/{}", "x".repeat(199));
    b.exists(&long, true).assert_err(raw::err::NO_NODE);
    let longer = format!("/{}", "y".repeat(199));
    b.exists(&longer, true).assert_err(raw::err::QUOTA_EXCEEDED);
    b.exists("/short", true).assert_err(raw::err::NO_NODE);
}
