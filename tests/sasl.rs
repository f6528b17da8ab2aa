//! SASL DIGEST-MD5 for clients (op 102), spoken raw: the challenge, the
//! digest-response computed here from RFC 2831, `rspauth`, the `sasl` id in
//! whoAmI and ACLs, `zookeeper.superUser`; a wrong password, SASL without a
//! JAAS `Server` section: AuthFailed with a null token, then the connection
//! closes (protocol doc 7.14).

mod common;

use common::raw::{self, err, op, Dec, Enc, RawConn};
use common::*;
use md5::{Digest, Md5};
use std::time::Duration;

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

/// The value of `key` in a DIGEST-MD5 challenge.
fn directive(text: &str, key: &str) -> String {
    text.split(',')
        .find_map(|kv| kv.trim().strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

/// Runs the exchange on `c`: Ok(rspauth) or Err(error code).
fn sasl(c: &mut RawConn, user: &str, password: &str) -> Result<String, i32> {
    let r = c.call(op::SASL, &Enc::new().buf(Some(b"")).done());
    if r.err != err::OK {
        return Err(r.err);
    }
    let challenge = String::from_utf8(Dec::new(&r.body).buf().unwrap()).unwrap();
    let (realm, nonce) = (
        directive(&challenge, "realm"),
        directive(&challenge, "nonce"),
    );
    assert_eq!(realm, "zk-sasl-md5");
    assert_eq!(directive(&challenge, "qop"), "auth");
    let uri = "zookeeper/zk-sasl-md5";
    let cnonce = "raw-test-cnonce";
    let mut a1 = md5(&[format!("{user}:{realm}:{password}").as_bytes()]);
    a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
    let ha1 = hex(&md5(&[&a1]));
    let ha2 = hex(&md5(&[format!("AUTHENTICATE:{uri}").as_bytes()]));
    let response = hex(&md5(&[format!(
        "{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"
    )
    .as_bytes()]));
    let msg = format!(
        "charset=utf-8,username=\"{user}\",realm=\"{realm}\",nonce=\"{nonce}\",nc=00000001,\
         cnonce=\"{cnonce}\",digest-uri=\"{uri}\",maxbuf=65536,response={response},qop=auth"
    );
    let r = c.call(op::SASL, &Enc::new().buf(Some(msg.as_bytes())).done());
    if r.err != err::OK {
        assert_eq!(
            r.body,
            [0xff, 0xff, 0xff, 0xff],
            "a failed step carries a null token"
        );
        return Err(r.err);
    }
    let token = String::from_utf8(Dec::new(&r.body).buf().unwrap()).unwrap();
    // rspauth proves the server knew the password too.
    let ha2 = hex(&md5(&[format!(":{uri}").as_bytes()]));
    let rspauth = hex(&md5(&[format!(
        "{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"
    )
    .as_bytes()]));
    assert_eq!(token, format!("rspauth={rspauth}"));
    Ok(token)
}

fn who_am_i(c: &mut RawConn) -> Vec<(String, String)> {
    let r = c.call(op::WHO_AM_I, &[]);
    let mut d = r.ok();
    (0..d.i32()).map(|_| (d.str(), d.str())).collect()
}

#[test]
fn digest_md5_authenticates_sasl_users() {
    let dir = tempfile::tempdir().unwrap();
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(
        &jaas,
        "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  \
         user_super=\"super_secret\"\n  user_bob=\"bob's secret\";\n};\n",
    )
    .unwrap();
    let Some(server) = Server::builder()
        .extra(&format!("corral.jaasConfig={}", jaas.display()))
        .extra("zookeeper.superUser=super")
        .fresh()
        .start_or_skip("digest_md5_authenticates_sasl_users")
    else {
        return;
    };
    if server.kind() != Kind::Corral {
        return;
    }
    let addr = server.addr();
    let mut bob = RawConn::connect(addr, 10_000);
    sasl(&mut bob, "bob", "bob's secret").expect("bob authenticates");
    assert!(who_am_i(&mut bob).contains(&("sasl".into(), "bob".into())));
    bob.create("/sasl", None, 0).ok();
    let acl = raw::create_req("/sasl/bob", Some(b"b"), &[(31, "sasl", "bob")], 0);
    bob.call(op::CREATE, &acl).ok();
    assert_eq!(bob.get_data("/sasl/bob", false).ok().buf().unwrap(), b"b");
    let mut anon = RawConn::connect(addr, 10_000);
    anon.get_data("/sasl/bob", false).assert_err(err::NO_AUTH);
    let mut admin = RawConn::connect(addr, 10_000);
    sasl(&mut admin, "super", "super_secret").unwrap();
    assert_eq!(admin.get_data("/sasl/bob", false).ok().buf().unwrap(), b"b");

    // A wrong password: AuthFailed, then the server closes.
    let mut eve = RawConn::connect(addr, 10_000);
    assert_eq!(sasl(&mut eve, "bob", "guess"), Err(err::AUTH_FAILED));
    assert!(raw::wait_closed(&mut eve.stream, Duration::from_secs(5)));
    let mut nobody = RawConn::connect(addr, 10_000);
    assert_eq!(sasl(&mut nobody, "mallory", "x"), Err(err::AUTH_FAILED));
}

#[test]
fn sasl_without_a_jaas_server_section_is_refused() {
    let Some(server) = Server::builder()
        .fresh()
        .start_or_skip("sasl_without_a_jaas_server_section_is_refused")
    else {
        return;
    };
    let mut c = RawConn::connect(server.addr(), 10_000);
    let r = c.call(op::SASL, &Enc::new().buf(Some(b"")).done());
    assert_eq!(r.err, err::AUTH_FAILED);
    assert!(raw::wait_closed(&mut c.stream, Duration::from_secs(5)));
}

#[test]
fn enforce_auth_closes_unauthenticated_connections() {
    let dir = tempfile::tempdir().unwrap();
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(
        &jaas,
        "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  \
         user_bob=\"pw\";\n};\n",
    )
    .unwrap();
    let Some(server) = Server::builder()
        .extra(&format!("corral.jaasConfig={}", jaas.display()))
        .extra("enforce.auth.enabled=true")
        .extra("enforce.auth.schemes=sasl")
        .fresh()
        .start_or_skip("enforce_auth_closes_unauthenticated_connections")
    else {
        return;
    };
    if server.kind() != Kind::Corral {
        return;
    }
    let addr = server.addr();
    // A request before authenticating: -124, then the server closes.
    let mut anon = RawConn::connect(addr, 10_000);
    anon.exists("/", false)
        .assert_err(err::SESSION_CLOSED_REQUIRE_SASL_AUTH);
    assert!(raw::wait_closed(&mut anon.stream, Duration::from_secs(5)));
    // digest is not the required scheme.
    let mut digest = RawConn::connect(addr, 10_000);
    digest
        .call(op::AUTH, &raw::auth_req("digest", b"u:p"))
        .assert_err(err::OK);
    digest
        .exists("/", false)
        .assert_err(err::SESSION_CLOSED_REQUIRE_SASL_AUTH);
    // After SASL, requests are served.
    let mut bob = RawConn::connect(addr, 10_000);
    sasl(&mut bob, "bob", "pw").unwrap();
    bob.exists("/", false).ok();
    bob.ping();
}
