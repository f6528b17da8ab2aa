//! TLS on the client port, with ZooKeeper's keys: `secureClientPort`,
//! `client.portUnification`, PEM key and trust stores, `ssl.clientAuth`,
//! and the `x509` identity a verified client certificate gives a session
//! (ACLs, whoAmI, `X509AuthenticationProvider.superUser`). Certificates are
//! made for each test with rcgen; the client is `zookeeper-client` over
//! rustls.

mod common;

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::time::Duration;
use zk::{Acl, AuthId, AuthUser, CreateMode, Permission, TlsOptions};
use zookeeper_client as zk;

/// A CA and the PEM files made from it.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A leaf certificate signed by this CA: (certificate PEM, key PEM).
    fn leaf(&self, org: &str, cn: &str, server: bool) -> (String, String) {
        self.leaf_until(org, cn, server, None)
    }

    /// The same, valid until `until` (a past date makes it expired).
    fn leaf_until(
        &self,
        org: &str,
        cn: &str,
        server: bool,
        until: Option<(i32, u8, u8)>,
    ) -> (String, String) {
        let sans = if server {
            vec!["localhost".to_string(), "127.0.0.1".to_string()]
        } else {
            vec![]
        };
        let mut p = CertificateParams::new(sans).unwrap();
        // rcgen encodes CN before O; a DN prints the last encoded name
        // first (RFC 2253, as Java's X500Principal.getName()): O=..,CN=..
        p.distinguished_name.push(DnType::CommonName, cn);
        p.distinguished_name.push(DnType::OrganizationName, org);
        if let Some((y, m, d)) = until {
            p.not_before = rcgen::date_time_ymd(2000, 1, 1);
            p.not_after = rcgen::date_time_ymd(y, m, d);
        }
        p.extended_key_usages = if server {
            vec![ExtendedKeyUsagePurpose::ServerAuth]
        } else {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        };
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// Files for one server: its key store (key + chain) and trust store.
struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("corral test CA");
        let (cert, key) = ca.leaf("corral", "localhost", true);
        std::fs::write(
            dir.path().join("server.pem"),
            format!("{key}{cert}{}", ca.cert.pem()),
        )
        .unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).unwrap();
        Pki { dir, ca }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca_pem(&self) -> String {
        self.ca.cert.pem()
    }

    /// zoo.cfg lines for TLS with these files.
    fn server_lines(&self, client_auth: &str) -> Vec<String> {
        vec![
            format!(
                "ssl.keyStore.location={}",
                self.path("server.pem").display()
            ),
            "ssl.keyStore.type=PEM".into(),
            format!("ssl.trustStore.location={}", self.path("ca.pem").display()),
            "ssl.trustStore.type=PEM".into(),
            format!("ssl.clientAuth={client_auth}"),
        ]
    }
}

fn start(lines: &[String], test: &str) -> Option<Server> {
    let mut b = Server::builder();
    for l in lines {
        b = b.extra(l);
    }
    let server = b.fresh().start_or_skip(test)?;
    if server.kind() != Kind::Corral {
        eprintln!("NOTE: {test} checks corral's TLS setup; skipped for other servers");
        return None;
    }
    Some(server)
}

fn tls(ca: &str, identity: Option<&(String, String)>) -> TlsOptions {
    let o = TlsOptions::new().with_pem_ca(ca).unwrap();
    match identity {
        Some((cert, key)) => o.with_pem_identity(cert, key).unwrap(),
        None => o,
    }
}

async fn connect_tls(addr: &str, options: TlsOptions) -> Result<zk::Client, zk::Error> {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_connection_timeout(Duration::from_secs(3))
        .with_fail_eagerly()
        .with_tls(options)
        .secure_connect(addr)
        .await
}

fn secure_port_lines(port: u16) -> Vec<String> {
    vec![
        format!("secureClientPort={port}"),
        "secureClientPortAddress=127.0.0.1".into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_port_needs_a_trusted_certificate_and_names_its_subject() {
    let pki = Pki::new();
    let port = free_port();
    let mut lines = secure_port_lines(port);
    lines.extend(pki.server_lines("need"));
    let Some(server) = start(&lines, "secure_port_needs_a_trusted_certificate") else {
        return;
    };
    let secure = format!("localhost:{port}");
    let me = pki.ca.leaf("corral", "tls-client", false);
    let other = pki.ca.leaf("corral", "other-client", false);

    let c = connect_tls(&secure, tls(&pki.ca_pem(), Some(&me)))
        .await
        .expect("a trusted client certificate is accepted");
    let users = c.list_auth_users().await.unwrap();
    assert!(
        users.contains(&AuthUser::new("x509", "O=corral,CN=tls-client")),
        "whoAmI: {users:?}"
    );
    // An ACL on the certificate's subject: only that client may read.
    let acl = [Acl::new(
        Permission::ALL,
        AuthId::new("x509", "O=corral,CN=tls-client"),
    )];
    c.create(
        "/tls-only",
        b"secret",
        &CreateMode::Persistent.with_acls(zk::Acls::new(&acl)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/tls-only").await.unwrap().0, b"secret");
    // The `auth` scheme expands to the x509 id.
    c.create(
        "/tls-creator",
        b"mine",
        &CreateMode::Persistent.with_acls(zk::Acls::creator_all()),
    )
    .await
    .unwrap();
    let (acls, _) = c.get_acl("/tls-creator").await.unwrap();
    assert_eq!(
        acls[0],
        Acl::new(
            Permission::ALL,
            AuthId::new("x509", "O=corral,CN=tls-client")
        )
    );

    let o = connect_tls(&secure, tls(&pki.ca_pem(), Some(&other)))
        .await
        .expect("another trusted certificate");
    assert_eq!(o.get_data("/tls-only").await, Err(zk::Error::NoAuth));
    let plain = server.client().await;
    assert_eq!(plain.get_data("/tls-only").await, Err(zk::Error::NoAuth));
    assert_eq!(plain.get_data("/tls-creator").await, Err(zk::Error::NoAuth));

    // Refused: no certificate, one from another CA, plaintext on the TLS port.
    assert!(connect_tls(&secure, tls(&pki.ca_pem(), None))
        .await
        .is_err());
    let stranger = Ca::new("stranger CA").leaf("corral", "tls-client", false);
    assert!(
        connect_tls(&secure, tls(&pki.ca_pem(), Some(&stranger)))
            .await
            .is_err(),
        "a certificate from an unknown CA must be refused"
    );
    let plain_to_tls = zk::Client::connector()
        .with_connection_timeout(Duration::from_secs(2))
        .with_fail_eagerly()
        .connect(&secure)
        .await;
    assert!(plain_to_tls.is_err(), "plaintext on the TLS port must fail");
    // And the client does not trust a server outside its CA.
    let elsewhere = Ca::new("elsewhere CA");
    assert!(connect_tls(&secure, tls(&elsewhere.cert.pem(), Some(&me)))
        .await
        .is_err());
    // The TLS client that worked still works.
    assert_eq!(c.get_data("/tls-only").await.unwrap().0, b"secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unified_port_takes_tls_and_plaintext() {
    let pki = Pki::new();
    let mut lines = vec!["client.portUnification=true".to_string()];
    lines.extend(pki.server_lines("want"));
    let Some(server) = start(&lines, "a_unified_port_takes_tls_and_plaintext") else {
        return;
    };
    let port = server.addr().rsplit(':').next().unwrap().to_string();
    let addr = format!("localhost:{port}");
    // TLS without a certificate (want): served, no x509 id.
    let anon = connect_tls(&addr, tls(&pki.ca_pem(), None)).await.unwrap();
    anon.create(
        "/u",
        b"1",
        &CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
    )
    .await
    .unwrap();
    let users = anon.list_auth_users().await.unwrap();
    assert!(
        users.iter().all(|u| u.scheme() != "x509"),
        "no certificate, no x509 id: {users:?}"
    );
    // TLS with one: the x509 id.
    let me = pki.ca.leaf("corral", "unified", false);
    let with = connect_tls(&addr, tls(&pki.ca_pem(), Some(&me)))
        .await
        .unwrap();
    assert!(with
        .list_auth_users()
        .await
        .unwrap()
        .contains(&AuthUser::new("x509", "O=corral,CN=unified")));
    // Plaintext on the same port, and four-letter words.
    let plain = server.client().await;
    assert_eq!(plain.get_data("/u").await.unwrap().0, b"1");
    assert_eq!(four_letter(server.addr(), "ruok").unwrap(), "imok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_x509_super_user_reads_everything() {
    let pki = Pki::new();
    let port = free_port();
    let mut lines = secure_port_lines(port);
    lines.extend(pki.server_lines("need"));
    lines.push("X509AuthenticationProvider.superUser=O=corral,CN=admin".into());
    let Some(server) = start(&lines, "the_x509_super_user_reads_everything") else {
        return;
    };
    let owner = server
        .connector()
        .with_auth("digest", b"owner:pw")
        .connect(server.addr())
        .await
        .unwrap();
    owner
        .create(
            "/private",
            b"p",
            &CreateMode::Persistent.with_acls(zk::Acls::creator_all()),
        )
        .await
        .unwrap();
    let secure = format!("localhost:{port}");
    let admin = pki.ca.leaf("corral", "admin", false);
    let a = connect_tls(&secure, tls(&pki.ca_pem(), Some(&admin)))
        .await
        .unwrap();
    assert_eq!(a.get_data("/private").await.unwrap().0, b"p");
    let user = pki.ca.leaf("corral", "user", false);
    let u = connect_tls(&secure, tls(&pki.ca_pem(), Some(&user)))
        .await
        .unwrap();
    assert_eq!(u.get_data("/private").await, Err(zk::Error::NoAuth));
}

#[test]
fn bad_tls_settings_stop_startup_with_a_message() {
    if std::env::var("CORRAL_TEST_SERVER").is_ok_and(|s| !s.is_empty()) {
        return;
    }
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &str| -> String {
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={}\nsecureClientPort={}\n{extra}",
                dir.path().join("data").display(),
                free_port(),
                free_port()
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_corral"))
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(!out.status.success(), "started with {extra:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let ks = |p: &Path| format!("ssl.keyStore.location={}\n", p.display());
    assert!(run("").contains("ssl.keyStore.location"));
    assert!(run(&format!(
        "{}ssl.keyStore.type=JKS\n",
        ks(&pki.path("server.pem"))
    ))
    .contains("PEM"));
    // clientAuth defaults to need: a trust store is required.
    assert!(run(&ks(&pki.path("server.pem"))).contains("ssl.trustStore.location"));
    let e = run(&format!(
        "{}ssl.clientAuth=none\nssl.ciphersuites=TLS_NOT_A_SUITE\n",
        ks(&pki.path("server.pem"))
    ));
    assert!(e.contains("TLS_NOT_A_SUITE"), "{e}");
    let e = run(&format!("{}ssl.clientAuth=none\n", ks(&pki.path("ca.pem"))));
    assert!(e.contains("no PRIVATE KEY"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_certificates_are_reloaded_without_dropping_connections() {
    let pki = Pki::new();
    let port = free_port();
    let mut lines = secure_port_lines(port);
    lines.extend(pki.server_lines("none"));
    lines.push("client.certReload=true".into());
    let Some(_server) = start(&lines, "changed_certificates_are_reloaded") else {
        return;
    };
    let secure = format!("localhost:{port}");
    let before = connect_tls(&secure, tls(&pki.ca_pem(), None))
        .await
        .unwrap();
    before
        .create(
            "/reload",
            b"r",
            &CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .unwrap();
    // A new CA signs the server's new certificate; the key store is
    // replaced the way tools do it (write aside, rename).
    let next = Ca::new("next CA");
    let (cert, key) = next.leaf("corral", "localhost", true);
    let aside = pki.path("server.pem.new");
    std::fs::write(&aside, format!("{key}{cert}{}", next.cert.pem())).unwrap();
    std::fs::rename(&aside, pki.path("server.pem")).unwrap();
    let mut reloaded = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Ok(c) = connect_tls(&secure, tls(&next.cert.pem(), None)).await {
            reloaded = Some(c);
            break;
        }
    }
    let after = reloaded.expect("a client trusting the new CA connects after the change");
    assert_eq!(after.get_data("/reload").await.unwrap().0, b"r");
    assert!(
        connect_tls(&secure, tls(&pki.ca_pem(), None))
            .await
            .is_err(),
        "the old certificate is no longer served"
    );
    // The connection made before the change is still served.
    assert_eq!(before.get_data("/reload").await.unwrap().0, b"r");
}

/// Bad input on TLS and plaintext ports: garbage and truncated records, a
/// plaintext ConnectRequest on the TLS port, a TLS client on the plaintext
/// port, an expired client certificate. Each connection is closed; the
/// server keeps serving a client that was connected all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tls_input_is_refused_and_harms_no_one() {
    use std::io::{Read, Write};
    let pki = Pki::new();
    let port = free_port();
    let mut lines = secure_port_lines(port);
    lines.extend(pki.server_lines("need"));
    // A truncated record waits for the handshake deadline.
    lines.push("nio.sessionlessCnxnTimeout=2000".into());
    let Some(server) = start(&lines, "bad_tls_input_is_refused") else {
        return;
    };
    let secure = format!("localhost:{port}");
    let me = pki.ca.leaf("corral", "steady", false);
    let steady = connect_tls(&secure, tls(&pki.ca_pem(), Some(&me)))
        .await
        .unwrap();
    steady
        .create(
            "/steady",
            b"s",
            &CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
        )
        .await
        .unwrap();

    let closed = |bytes: &[u8], to: &str| {
        let mut s = std::net::TcpStream::connect(to).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(bytes);
        let mut sink = Vec::new();
        // The server answers (an alert at most) and closes.
        s.read_to_end(&mut sink).is_ok()
    };
    let tls_port = format!("127.0.0.1:{port}");
    let mut noise = Vec::new();
    let mut x: u32 = 0x2545_f491;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    assert!(closed(&noise, &tls_port), "garbage on the TLS port");
    let mut record = vec![0x16, 0x03, 0x01, 0x40, 0x00];
    record.extend_from_slice(&noise[..100]);
    assert!(
        closed(&record, &tls_port),
        "a record with a garbage handshake"
    );
    assert!(
        closed(&[0x16, 0x03, 0x01, 0x00], &tls_port),
        "a truncated record header"
    );
    let connect = {
        let mut b = vec![0, 0, 0, 44];
        b.extend_from_slice(&[0; 44]);
        b
    };
    assert!(closed(&connect, &tls_port), "a plaintext ConnectRequest");
    // A TLS client on the plaintext port is refused.
    let plain_port = server.addr().rsplit(':').next().unwrap().to_string();
    assert!(connect_tls(
        &format!("localhost:{plain_port}"),
        tls(&pki.ca_pem(), Some(&me))
    )
    .await
    .is_err());
    // An expired client certificate is refused.
    let expired = pki
        .ca
        .leaf_until("corral", "expired", false, Some((2001, 1, 1)));
    assert!(connect_tls(&secure, tls(&pki.ca_pem(), Some(&expired)))
        .await
        .is_err());
    assert_eq!(steady.get_data("/steady").await.unwrap().0, b"s");
    assert_eq!(four_letter(server.addr(), "ruok").unwrap(), "imok");
}
