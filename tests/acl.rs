//! ACLs and authentication: digest auth, NoAuth per operation, check order,
//! getACL redaction, setACL versions, ip ACLs, the super user, whoAmI, and
//! auth failure.

mod common;

use common::raw::{self, op, RawConn};
use common::*;
use zk::{Acl, Acls, AddWatchMode, AuthId, AuthUser, CreateMode, Error, Permission, SessionState};
use zookeeper_client as zk;

/// `digest` id of `u1:p1` (protocol doc §9.3).
const U1_ID: &str = "u1:fpT/y03U+EjItKZOSLGvjnJlyng=";
/// `digest` id of `user:pass`.
const USER_ID: &str = "user:smGaoVKd/cQkjm7b88GyorAUz20=";

async fn digest_client(server: &Server, cred: &[u8]) -> zk::Client {
    server
        .connector()
        .with_auth("digest", cred)
        .connect(server.addr())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_acl_enforced_per_operation() {
    let server = Server::start();
    let owner = digest_client(&server, b"u1:p1").await;
    let root = make_root(&owner, "digest_acl").await;
    let n = format!("{root}/n");
    // auth:"" (CREATOR_ALL) is expanded to the caller's digest id.
    owner
        .create(
            &n,
            b"secret",
            &CreateMode::Persistent.with_acls(Acls::creator_all()),
        )
        .await
        .unwrap();
    let (acl, _) = owner.get_acl(&n).await.unwrap();
    assert_eq!(
        acl,
        vec![Acl::new(Permission::ALL, AuthId::new("digest", U1_ID))]
    );
    owner
        .create(&format!("{n}/kid"), b"", &open_options())
        .await
        .unwrap();

    let anon = server.client().await;
    let wrong = digest_client(&server, b"u1:wrong").await; // digest auth itself always succeeds
    for (who, c) in [("anonymous", &anon), ("wrong password", &wrong)] {
        assert_eq!(
            c.get_data(&n).await.unwrap_err(),
            Error::NoAuth,
            "{who}: getData"
        );
        assert_eq!(
            c.set_data(&n, b"x", None).await.unwrap_err(),
            Error::NoAuth,
            "{who}: setData"
        );
        assert_eq!(
            c.list_children(&n).await.unwrap_err(),
            Error::NoAuth,
            "{who}: getChildren"
        );
        assert_eq!(
            c.get_children(&n).await.unwrap_err(),
            Error::NoAuth,
            "{who}: getChildren2"
        );
        assert_eq!(
            c.count_descendants_number(&n).await.unwrap_err(),
            Error::NoAuth,
            "{who}: getAllChildrenNumber"
        );
        assert_eq!(
            c.get_acl(&n).await.unwrap_err(),
            Error::NoAuth,
            "{who}: getACL"
        );
        assert_eq!(
            c.set_acl(&n, &[Acl::new(Permission::ALL, AuthId::anyone())], None)
                .await
                .unwrap_err(),
            Error::NoAuth,
            "{who}: setACL"
        );
        assert_eq!(
            c.create(&format!("{n}/x"), b"", &open_options())
                .await
                .unwrap_err(),
            Error::NoAuth,
            "{who}: create child"
        );
        assert_eq!(
            c.delete(&format!("{n}/kid"), None).await.unwrap_err(),
            Error::NoAuth,
            "{who}: delete child"
        );
        let mut r = c.new_multi_reader();
        r.add_get_data(&n).unwrap();
        let res = r.commit().await.unwrap();
        assert!(
            matches!(&res[0], zk::MultiReadResult::Error { err: Error::NoAuth }),
            "{who}: multiRead {res:?}"
        );
        let mut w = c.new_multi_writer();
        w.add_check_version(&n, 0).unwrap();
        assert!(
            matches!(
                w.commit().await,
                Err(zk::MultiWriteError::OperationFailed {
                    index: 0,
                    source: Error::NoAuth
                })
            ),
            "{who}: check in multi needs READ"
        );
    }
    assert_eq!(
        owner.get_data(&n).await.unwrap().0,
        b"secret",
        "nothing changed"
    );

    // The same credentials on another session, and auth added mid-session.
    let same = digest_client(&server, b"u1:p1").await;
    assert_eq!(same.get_data(&n).await.unwrap().0, b"secret");
    anon.auth("digest", b"u1:p1").await.unwrap();
    assert_eq!(
        anon.get_data(&n).await.unwrap().0,
        b"secret",
        "ids accumulate on the connection"
    );
    anon.set_data(&n, b"changed", None).await.unwrap();
    anon.delete(&format!("{n}/kid"), None).await.unwrap();

    let su = server.super_client().await;
    rm_rf(&su, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noauth_check_order() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "noauth_order").await;
    let anyone = |perms: Permission| vec![Acl::new(perms, AuthId::anyone())];

    // Parent without DELETE: deleting a *missing* child is NoAuth, not NoNode (§7.2 step 3).
    let no_delete = format!("{root}/nd");
    let acl = anyone(Permission::READ | Permission::WRITE | Permission::CREATE | Permission::ADMIN);
    c.create(
        &no_delete,
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&acl)),
    )
    .await
    .unwrap();
    assert_eq!(
        c.delete(&format!("{no_delete}/missing"), None)
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    c.create(&format!("{no_delete}/kid"), b"", &open_options())
        .await
        .unwrap();
    assert_eq!(
        c.delete(&format!("{no_delete}/kid"), None)
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    // Missing parent still comes first.
    assert_eq!(
        c.delete(&format!("{no_delete}/a/b"), None)
            .await
            .unwrap_err(),
        Error::NoNode
    );

    // Read-only node: no CREATE, no WRITE, no DELETE-of-children, no ADMIN.
    let ro = format!("{root}/ro");
    c.create(
        &ro,
        b"r",
        &CreateMode::Persistent.with_acls(Acls::anyone_read()),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data(&ro).await.unwrap().0, b"r");
    assert_eq!(
        c.set_data(&ro, b"w", None).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        c.create(&format!("{ro}/x"), b"", &open_options())
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    // create: NoNode (parent missing) before NoAuth on the parent (§7.1 steps 5, 6)
    assert_eq!(
        c.create(&format!("{ro}/x/y"), b"", &open_options())
            .await
            .unwrap_err(),
        Error::NoNode
    );
    // create: NodeExists only after the CREATE permission check passed (§7.1 steps 6, 8)
    let ro_kid = format!("{ro}/kid");
    server
        .super_client()
        .await
        .create(&ro_kid, b"", &open_options())
        .await
        .unwrap();
    assert_eq!(
        c.create(&ro_kid, b"", &open_options()).await.unwrap_err(),
        Error::NoAuth
    );
    // setData: NoNode before NoAuth (§7.3)
    assert_eq!(
        c.set_data(&format!("{ro}/missing"), b"", None)
            .await
            .unwrap_err(),
        Error::NoNode
    );
    // setData: NoAuth before BadVersion
    assert_eq!(
        c.set_data(&ro, b"w", Some(42)).await.unwrap_err(),
        Error::NoAuth
    );
    // setACL: NoAuth (ADMIN) before BadVersion (§7.5)
    assert_eq!(
        c.set_acl(&ro, &anyone(Permission::ALL), Some(42))
            .await
            .unwrap_err(),
        Error::NoAuth
    );

    // Write-only node: READ missing.
    let wo = format!("{root}/wo");
    let acl = anyone(Permission::WRITE);
    c.create(
        &wo,
        b"w",
        &CreateMode::Persistent.with_acls(Acls::new(&acl)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data(&wo).await.unwrap_err(), Error::NoAuth);
    assert_eq!(c.list_children(&wo).await.unwrap_err(), Error::NoAuth);
    let st = c.set_data(&wo, b"w2", None).await.unwrap();
    assert_eq!(st.version, 1);

    let su = server.super_client().await;
    rm_rf(&su, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_acl_redacts_digest_without_admin() {
    let server = Server::start();
    let owner = digest_client(&server, b"u1:p1").await;
    let root = make_root(&owner, "acl_redact").await;
    let n = format!("{root}/n");
    let acl = vec![
        Acl::new(Permission::ALL, AuthId::new("digest", U1_ID)),
        Acl::new(Permission::READ, AuthId::anyone()),
    ];
    owner
        .create(&n, b"", &CreateMode::Persistent.with_acls(Acls::new(&acl)))
        .await
        .unwrap();

    assert_eq!(
        owner.get_acl(&n).await.unwrap().0,
        acl,
        "ADMIN holder sees the full id"
    );
    let anon = server.client().await;
    let (seen, st) = anon.get_acl(&n).await.unwrap();
    assert_eq!(
        seen,
        vec![
            Acl::new(Permission::ALL, AuthId::new("digest", "u1:x")),
            Acl::new(Permission::READ, AuthId::anyone())
        ],
        "READ without ADMIN: digest ids are redacted"
    );
    assert_eq!(st.aversion, 0);
    assert_eq!(
        server.super_client().await.get_acl(&n).await.unwrap().0,
        acl,
        "super sees everything"
    );
    owner.delete(&n, None).await.unwrap();
    rm_rf(&owner, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_acl_versions_and_no_watch() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "set_acl").await;
    let n = format!("{root}/n");
    let (st0, _) = c.create(&n, b"d", &open_options()).await.unwrap();
    let mut w = c.watch(&n, AddWatchMode::Persistent).await.unwrap();

    let acl1 = vec![
        Acl::new(Permission::ALL, AuthId::anyone()),
        Acl::new(Permission::READ, AuthId::new("digest", USER_ID)),
    ];
    let st1 = c.set_acl(&n, &acl1, Some(0)).await.unwrap();
    assert_eq!(st1.aversion, 1);
    assert_eq!(
        (st1.version, st1.mzxid, st1.mtime, st1.cversion),
        (st0.version, st0.mzxid, st0.mtime, st0.cversion),
        "setACL touches only aversion"
    );
    assert_eq!(
        persistent_has_ready_event(&mut w).await,
        None,
        "setACL fires no watch"
    );
    assert_eq!(c.get_acl(&n).await.unwrap(), (acl1.clone(), st1));

    assert_eq!(
        c.set_acl(&n, &acl1, Some(0)).await.unwrap_err(),
        Error::BadVersion
    );
    assert_eq!(c.set_acl(&n, &acl1, Some(1)).await.unwrap().aversion, 2);
    assert_eq!(
        c.set_acl(&n, &acl1, None).await.unwrap().aversion,
        3,
        "-1 matches any aversion"
    );
    assert_eq!(
        c.set_acl(&format!("{root}/missing"), &acl1, None)
            .await
            .unwrap_err(),
        Error::NoNode
    );

    // Duplicates are removed.
    let dup = vec![
        Acl::new(Permission::ALL, AuthId::anyone()),
        Acl::new(Permission::ALL, AuthId::anyone()),
    ];
    c.set_acl(&n, &dup, None).await.unwrap();
    assert_eq!(c.get_acl(&n).await.unwrap().0, dup[..1].to_vec());

    // Raw: setACL's reply is the Stat; setData still fires the persistent watch.
    c.set_data(&n, b"e", None).await.unwrap();
    assert!(
        persistent_has_ready_event(&mut w).await.is_some(),
        "the watch was live all along"
    );
    let mut r = RawConn::connect(server.addr(), 10_000);
    let body = raw::Enc::new()
        .str(&n)
        .acls(&[(31, "world", "anyone")])
        .i32(-1)
        .done();
    let reply = r.call(op::SET_ACL, &body);
    let mut d = reply.ok();
    assert_eq!(d.stat().aversion, 5);
    assert!(d.is_at_end());
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_acls_match_the_client_address() {
    let server = Server::start();
    let c = server.client().await;
    let root = make_root(&c, "ip_acl").await;
    let mine = format!("{root}/mine");
    let acl = vec![Acl::new(Permission::ALL, AuthId::new("ip", "127.0.0.1"))];
    c.create(
        &mine,
        b"m",
        &CreateMode::Persistent.with_acls(Acls::new(&acl)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data(&mine).await.unwrap().0, b"m");
    let cidr = format!("{root}/cidr");
    let acl = vec![Acl::new(Permission::ALL, AuthId::new("ip", "127.0.0.0/8"))];
    c.create(
        &cidr,
        b"c",
        &CreateMode::Persistent.with_acls(Acls::new(&acl)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data(&cidr).await.unwrap().0, b"c");
    let other = format!("{root}/other");
    let acl = vec![Acl::new(Permission::ALL, AuthId::new("ip", "10.0.0.0/8"))];
    c.create(
        &other,
        b"o",
        &CreateMode::Persistent.with_acls(Acls::new(&acl)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data(&other).await.unwrap_err(), Error::NoAuth);
    rm_rf(&c, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn super_user_bypasses_acls() {
    let server = Server::start();
    let owner = digest_client(&server, b"user:pass").await;
    let root = make_root(&owner, "super_user").await;
    let n = format!("{root}/n");
    let acl = vec![Acl::new(Permission::READ, AuthId::new("digest", USER_ID))];
    owner
        .create(
            &n,
            b"locked",
            &CreateMode::Persistent.with_acls(Acls::new(&acl)),
        )
        .await
        .unwrap();
    assert_eq!(
        owner.set_data(&n, b"x", None).await.unwrap_err(),
        Error::NoAuth,
        "even the owner lacks WRITE"
    );

    let su = server.super_client().await;
    assert_eq!(su.get_data(&n).await.unwrap().0, b"locked");
    su.set_data(&n, b"by super", None).await.unwrap();
    su.create(&format!("{n}/kid"), b"", &open_options())
        .await
        .unwrap();
    su.delete(&format!("{n}/kid"), None).await.unwrap();
    su.set_acl(&n, &[Acl::new(Permission::ALL, AuthId::anyone())], None)
        .await
        .unwrap();
    assert_eq!(
        server.client().await.get_data(&n).await.unwrap().0,
        b"by super"
    );

    // A wrong super password is just another digest id.
    let fake = digest_client(&server, b"super:wrong").await;
    let m = format!("{root}/m");
    su.create(&m, b"", &CreateMode::Persistent.with_acls(Acls::new(&acl)))
        .await
        .unwrap();
    assert_eq!(fake.get_data(&m).await.unwrap_err(), Error::NoAuth);
    rm_rf(&su, &root).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_am_i() {
    let server = Server::start();
    let anon = server.client().await;
    assert_eq!(
        anon.list_auth_users().await.unwrap(),
        vec![AuthUser::new("ip", "127.0.0.1")]
    );

    let authed = digest_client(&server, b"u1:p1").await;
    let mut users = authed.list_auth_users().await.unwrap();
    users.sort_by(|a, b| (a.scheme(), a.user()).cmp(&(b.scheme(), b.user())));
    assert_eq!(
        users,
        vec![
            AuthUser::new("digest", "u1"),
            AuthUser::new("ip", "127.0.0.1")
        ]
    );

    anon.auth("digest", b"u2:p2").await.unwrap();
    anon.auth("digest", b"u3:p3").await.unwrap();
    let mut users = anon.list_auth_users().await.unwrap();
    users.sort_by(|a, b| (a.scheme(), a.user()).cmp(&(b.scheme(), b.user())));
    assert_eq!(
        users,
        vec![
            AuthUser::new("digest", "u2"),
            AuthUser::new("digest", "u3"),
            AuthUser::new("ip", "127.0.0.1")
        ]
    );

    // Raw: WhoAmIResponse is a vector of {scheme, user}.
    let mut r = RawConn::connect(server.addr(), 10_000);
    let reply = r.call(op::WHO_AM_I, &[]);
    let mut d = reply.ok();
    assert_eq!(d.i32(), 1);
    assert_eq!(
        (d.str(), d.str()),
        ("ip".to_string(), "127.0.0.1".to_string())
    );
    assert!(d.is_at_end());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_packets_on_the_wire() {
    let server = Server::start();
    let mut r = RawConn::connect(server.addr(), 10_000);
    // digest: xid -4, zxid 0, err 0, no body.
    r.send_with_xid(-4, op::AUTH, &raw::auth_req("digest", b"u1:p1"));
    let reply = r.recv_reply(-4);
    assert_eq!((reply.zxid, reply.err), (0, 0));
    assert!(reply.body.is_empty());
    assert_eq!(r.ping().err, 0, "connection still usable");
    // The reply echoes the request's xid: zookeeper-client sends auth packets
    // with ordinary xids (1, 2, ...), not -4, and matches replies by xid.
    let xid = r.send(op::AUTH, &raw::auth_req("digest", b"u2:p2"));
    let reply = r.recv_reply(xid);
    assert_eq!((reply.xid, reply.zxid, reply.err), (xid, 0, 0));
    assert!(reply.body.is_empty());
    let who = r.call(op::WHO_AM_I, &[]);
    let mut d = who.ok();
    let n = d.i32();
    let mut ids: Vec<(String, String)> = (0..n).map(|_| (d.str(), d.str())).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            ("digest".to_string(), "u1".to_string()),
            ("digest".to_string(), "u2".to_string()),
            ("ip".to_string(), "127.0.0.1".to_string())
        ]
    );

    // Unknown scheme: AuthFailed (-115), then the server closes the connection.
    r.send_with_xid(-4, op::AUTH, &raw::auth_req("bogus", b"whatever"));
    let reply = r.recv_reply(-4);
    assert_eq!(reply.err, -115);
    assert!(
        raw::wait_closed(&mut r.stream, WAIT),
        "closed after AuthFailed"
    );

    // Through the crate: the auth call fails and the session ends in AuthFailed.
    let c = server.client().await;
    let mut state = c.state_watcher();
    assert_eq!(c.auth("bogus", b"x").await.unwrap_err(), Error::AuthFailed);
    let s = tokio::time::timeout(WAIT, async {
        loop {
            let s = state.changed().await;
            if s.is_terminated() {
                return s;
            }
        }
    })
    .await
    .expect("terminal state");
    assert_eq!(s, SessionState::AuthFailed);
}
