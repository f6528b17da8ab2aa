use super::*;

const CORRAL_SH_STANDALONE: &str = "# written by zkbench peers/corral.sh (standalone)
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/tmp/zkb/zk1/data
clientPort=26000
clientPortAddress=127.0.0.1
forceSync=yes
maxClientCnxns=60
admin.enableServer=false
4lw.commands.whitelist=*
";

const CONFORMANCE_CFG: &str = "tickTime=2000
maxClientCnxns=60
4lw.commands.whitelist=*
admin.enableServer=false
extendedTypesEnabled=true
DigestAuthenticationProvider.superDigest=super:vwF3b39JxzrgKUNiFet8/1LxKxY=
dataDir=/tmp/x
clientPort=26001
";

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn corral_sh_standalone_config() {
    let c = parse(CORRAL_SH_STANDALONE).unwrap();
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(c.init_limit, 10);
    assert_eq!(c.sync_limit, 5);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/zkb/zk1/data"));
    assert_eq!(c.client_addr(), "127.0.0.1:26000".parse().unwrap());
    assert!(c.force_sync);
    assert_eq!(c.max_client_cnxns, 60);
    assert!(c.four_lw_whitelist.is_all());
    assert!(c.four_lw_whitelist.allows("ruok"));
    assert!(c.four_lw_whitelist.allows("mntr"));
    assert!(!c.four_lw_whitelist.allows("xyzw"));
    assert!(c.is_standalone());
    assert_eq!(c.min_session_timeout(), 4000);
    assert_eq!(c.max_session_timeout(), 40000);
    assert!(c.ignored.is_empty());
    assert_eq!(c.admin.listen(), None);
    c.validate().unwrap();
}

#[test]
fn corral_sh_ensemble_config_and_myid() {
    let dir = std::env::temp_dir().join(format!("corral-cfg-test-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let cfg_path = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort=26001\n\
         clientPortAddress=127.0.0.1\nforceSync=yes\nmaxClientCnxns=60\n\
         admin.enableServer=false\n4lw.commands.whitelist=*\n\
         server.1=127.0.0.1:26011:26021\nserver.2=127.0.0.1:26012:26022\n\
         server.3=127.0.0.1:26013:26023\n",
        data.display()
    );
    std::fs::write(&cfg_path, &text).unwrap();
    // no myid yet
    let e = load(&cfg_path).unwrap_err().to_string();
    assert!(e.contains("myid") && e.contains("missing"), "{e}");
    std::fs::write(data.join("myid"), "2\n").unwrap();
    let c = load(&cfg_path).unwrap();
    assert_eq!(c.my_id, Some(2));
    assert!(!c.is_standalone());
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.my_server().unwrap().quorum_port, 26012);
    assert_eq!(c.client_port, 26001);
    assert!(!c.is_observer());
    std::fs::write(data.join("myid"), "7").unwrap();
    let e = load(&cfg_path).unwrap_err().to_string();
    assert!(e.contains("server id 7 has no server.7 line"), "{e}");
    std::fs::write(data.join("myid"), "two").unwrap();
    let e = load(&cfg_path).unwrap_err().to_string();
    assert!(e.contains("`two` is not a number"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_resolves_relative_data_dir_and_prefixes_path() {
    let dir = std::env::temp_dir().join(format!("corral-cfg-rel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("zoo.cfg");
    std::fs::write(&p, "dataDir=rel/data\ndataLogDir=logs\n").unwrap();
    let c = load(&p).unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(c.data_dir, cwd.join("rel/data"));
    assert_eq!(c.log_dir(), cwd.join("logs"));
    std::fs::write(&p, "# c\ntickTim=2000\n").unwrap();
    let e = load(&p).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: line 2: unknown key `tickTim` (did you mean `tickTime`?)",
            p.display()
        )
    );
    let e = load(&dir.join("nope.cfg")).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot read ") && e.contains("nope.cfg"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn conformance_config() {
    let c = parse(CONFORMANCE_CFG).unwrap();
    assert!(c.extended_types_enabled);
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:vwF3b39JxzrgKUNiFet8/1LxKxY=")
    );
    assert_eq!(c.client_port, 26001);
    // clientPort without clientPortAddress binds the wildcard address, like ZooKeeper
    assert_eq!(c.client_port_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
}

#[test]
fn defaults() {
    let d = Config::default();
    assert_eq!(d.client_addr(), "127.0.0.1:2181".parse().unwrap());
    assert_eq!(d.data_dir, PathBuf::from("./data"));
    assert_eq!(d.tick_time_ms, 2000);
    assert_eq!(d.jute_max_buffer, 0xfffff);
    assert_eq!(d.sessionless_timeout_ms, 10000);
    assert_eq!(d.global_outstanding_limit, 1000);
    assert_eq!(d.snap_count, 100000);
    assert_eq!(d.pre_alloc_size_kb, 65536);
    assert_eq!(d.autopurge_snap_retain_count, 3);
    assert_eq!(d.autopurge_purge_interval_h, 0);
    assert!(d.force_sync);
    assert!(!d.extended_types_enabled);
    for c in ["srvr", "ruok", "mntr", "isro", "conf", "envi"] {
        assert!(d.four_lw_whitelist.allows(c), "{c}");
    }
    for c in ["stat", "cons", "wchs", "wchc", "wchp", "dump"] {
        assert!(!d.four_lw_whitelist.allows(c), "{c}");
    }
    assert!(!d.four_lw_whitelist.allows("stmk"));
    d.validate().unwrap();

    // an empty file: ZooKeeper's defaults
    let f = parse("").unwrap();
    assert_eq!(f.client_addr(), "0.0.0.0:2181".parse().unwrap());
    assert!(f.four_lw_whitelist.allows("srvr"));
    assert!(!f.four_lw_whitelist.allows("ruok"));
    assert_eq!(f.four_lw_whitelist.to_string(), "srvr");
}

#[test]
fn properties_syntax() {
    let c = parse(
        "# comment\n! also a comment\n   \n  tickTime = 3000\nclientPort:2182\n\
         maxClientCnxns 10\ninitLimit\t=\t7\ndataDir=/a\\\n   /b\r\nsyncLimit=2\rsnapCount=5",
    )
    .unwrap();
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(c.client_port, 2182);
    assert_eq!(c.max_client_cnxns, 10);
    assert_eq!(c.init_limit, 7);
    assert_eq!(c.data_dir, PathBuf::from("/a/b"));
    assert_eq!(c.sync_limit, 2);
    assert_eq!(c.snap_count, 5);
    assert_eq!(c.key_lines["syncLimit"], 10);
    assert_eq!(c.key_lines["snapCount"], 11);
    // escapes in keys and values
    let c = parse("data\\u0044ir=/x\\ty\n").unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/x\ty"));
    // value with ':' after '=' is kept
    let c = parse("corral.metricsAddr=127.0.0.1:9141\n").unwrap();
    assert_eq!(c.metrics_addr, Some("127.0.0.1:9141".parse().unwrap()));
}

#[test]
fn split_key_value_cases() {
    assert_eq!(split_key_value("a=b"), ("a", "b"));
    assert_eq!(split_key_value("a = b"), ("a", "b"));
    assert_eq!(split_key_value("a:b"), ("a", "b"));
    assert_eq!(split_key_value("a b"), ("a", "b"));
    assert_eq!(split_key_value("a  =  :b"), ("a", ":b"));
    assert_eq!(split_key_value("a"), ("a", ""));
    assert_eq!(split_key_value("a="), ("a", ""));
    assert_eq!(split_key_value("a\\=b=c"), ("a\\=b", "c"));
}

#[test]
fn duplicate_keys_last_wins() {
    let c = parse("tickTime=1000\ntickTime=3000\n").unwrap();
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(c.key_lines["tickTime"], 2);
    // an earlier bad value is overridden, as with Properties
    let c = parse("tickTime=abc\ntickTime=3000\n").unwrap();
    assert_eq!(c.tick_time_ms, 3000);
    // aliases count as the same key
    let c = parse("zookeeper.snapCount=10\nsnapCount=20\n").unwrap();
    assert_eq!(c.snap_count, 20);
}

#[test]
fn unknown_keys() {
    assert_eq!(
        err("tickTime=2000\nclientport=2181\n"),
        "line 2: unknown key `clientport` (did you mean `clientPort`?)"
    );
    assert_eq!(
        err("maxSessionTimout=1\n"),
        "line 1: unknown key `maxSessionTimout` (did you mean `maxSessionTimeout`?)"
    );
    assert_eq!(
        err("completelyUnrelatedThing=1\n"),
        "line 1: unknown key `completelyUnrelatedThing`"
    );
    assert_eq!(
        err("server.x=127.0.0.1:1:2\n"),
        "line 1: unknown key `server.x` (did you mean `server.1`?)"
    );
    assert_eq!(
        err("zookeeper.extendedTypesEnable=true\n"),
        "line 1: unknown key `zookeeper.extendedTypesEnable` (did you mean `extendedTypesEnabled`?)"
    );
}

#[test]
fn invalid_values() {
    assert_eq!(
        err("tickTime=0\n"),
        "line 1: invalid value `0` for `tickTime`: must be between 1 and 4294967295"
    );
    assert_eq!(
        err("tickTime=abc\n"),
        "line 1: invalid value `abc` for `tickTime`: not an integer"
    );
    assert_eq!(
        err("tickTime=2000 # ms\n"),
        "line 1: invalid value `2000 # ms` for `tickTime`: not an integer (comments must be on their own line)"
    );
    assert_eq!(
        err("\nclientPort=0\n"),
        "line 2: invalid value `0` for `clientPort`: 0 is out of range 1..65535"
    );
    assert_eq!(
        err("clientPort=65536\n"),
        "line 1: invalid value `65536` for `clientPort`: 65536 is out of range 1..65535"
    );
    assert_eq!(
        err("clientPortAddress=nowhere\n"),
        "line 1: invalid value `nowhere` for `clientPortAddress`: expected an IP address (or localhost)"
    );
    assert_eq!(
        err("extendedTypesEnabled=yes\n"),
        "line 1: invalid value `yes` for `extendedTypesEnabled`: expected `true` or `false`"
    );
    assert_eq!(
        err("forceSync=false\n"),
        "line 1: invalid value `false` for `forceSync`: expected `yes` or `no`"
    );
    assert_eq!(
        err("maxClientCnxns=-1\n"),
        "line 1: invalid value `-1` for `maxClientCnxns`: must be between 0 and 4294967295"
    );
    assert_eq!(
        err("minSessionTimeout=0\n"),
        "line 1: invalid value `0` for `minSessionTimeout`: must be a positive number of milliseconds"
    );
    assert!(err("4lw.commands.whitelist=ruok,bogus\n")
        .starts_with("line 1: invalid value `ruok,bogus` for `4lw.commands.whitelist`: unknown four-letter word `bogus`"));
    assert_eq!(
        err("peerType=leader\n"),
        "line 1: invalid value `leader` for `peerType`: expected `participant` or `observer`"
    );
    assert_eq!(
        err("electionAlg=1\n"),
        "line 1: invalid value `1` for `electionAlg`: only 3 is supported (as in ZooKeeper 3.8)"
    );
    assert_eq!(
        err("standaloneEnabled=maybe\n"),
        "line 1: invalid value `maybe` for `standaloneEnabled`: expected `true` or `false`"
    );
    assert_eq!(
        err("corral.shards=0\n"),
        "line 1: invalid value `0` for `corral.shards`: must be between 1 and 4096"
    );
    assert!(err("corral.metricsAddr=9141\n").contains("expected ip:port"));
    assert!(err("dataDir=\n").contains("empty path"));
    assert!(err("ab\\u00zz=1\n").contains("malformed \\uXXXX escape"));
    assert_eq!(err("=5\n"), "line 1: missing key before `5`");
}

#[test]
fn super_digest_validation() {
    parse(
        "zookeeper.DigestAuthenticationProvider.superDigest=super:vwF3b39JxzrgKUNiFet8/1LxKxY=\n",
    )
    .unwrap();
    for bad in [
        "nocolon",
        ":vwF3b39JxzrgKUNiFet8/1LxKxY=",
        "super:not base64!",
        "super:abcd",
        "super:",
    ] {
        let e = err(&format!("DigestAuthenticationProvider.superDigest={bad}\n"));
        assert!(
            e.starts_with(&format!(
                "line 1: invalid value `{bad}` for `DigestAuthenticationProvider.superDigest`"
            )),
            "{e}"
        );
    }
}

#[test]
fn unsupported_keys() {
    assert_eq!(
        err("secureClientPort=2281\n"),
        "line 1: TLS for clients needs ssl.keyStore.location (a PEM file with the private key and the certificate chain)"
    );
    assert!(err("ssl.crl=true\n").contains("revocation"));
    assert!(err("enforce.auth.enabled=true\n").contains("enforce.auth.schemes"));
    assert!(err("enforce.auth.schemes=kerberos\n").contains("not available"));
    let c = parse("zookeeper.sessionRequireClientSASLAuth=true\n").unwrap();
    assert_eq!(c.enforce_auth_schemes, ["sasl"]);
    let c = parse("enforce.auth.schemes=sasl,x509\n").unwrap();
    assert!(
        c.enforce_auth_schemes.is_empty(),
        "schemes alone enforce nothing"
    );
    assert!(err("ssl.keyStore.type=JKS\n").contains("openssl pkcs12"));
    assert!(err("ssl.clientAuth=maybe\n").contains("`none`, `want` or `need`"));
    assert!(err("ssl.enabledProtocols=TLSv1.1\n").contains("TLSv1.2 and TLSv1.3 only"));
    assert!(err("secureClientPort=2281\nssl.keyStore.location=/k.pem\n")
        .contains("ssl.trustStore.location"));
    let c = parse(
        "secureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n\
         ssl.keyStore.location=/k.pem\nssl.keyStore.type=PEM\nssl.clientAuth=want\n\
         ssl.trustStore.location=/ca.pem\nssl.protocol=TLSv1.3\n\
         ssl.enabledProtocols=TLSv1.2,TLSv1.3\nzookeeper.client.portUnification=true\n\
         zookeeper.X509AuthenticationProvider.superUser=CN=admin\n",
    )
    .unwrap();
    assert_eq!(c.client_tls.secure_port, Some(2281));
    assert_eq!(c.client_tls.client_auth, ClientAuth::Want);
    assert_eq!(c.client_tls.protocols, ["TLSv1.2", "TLSv1.3"]);
    assert!(c.client_tls.port_unification);
    assert_eq!(c.client_tls.x509_super_user.as_deref(), Some("CN=admin"));
    assert!(err("skipACL=yes\n").contains("ACL checks cannot be disabled"));
    parse("skipACL=no\n").unwrap();
    assert!(err("skipACL=true\n").contains("expected `yes` or `no`"));
    assert!(err("sslQuorum=true\n").contains("ssl.quorum.keyStore.location"));
    parse("sslQuorum=false\n").unwrap();
    let c = parse(
        "sslQuorum=true\nssl.quorum.keyStore.location=/q.pem\nssl.quorum.keyStore.type=PEM\n\
         ssl.quorum.trustStore.location=/qca.pem\nssl.quorum.hostnameVerification=false\n\
         ssl.quorum.enabledProtocols=TLSv1.3\nssl.keyStore.location=/c.pem\n",
    )
    .unwrap();
    assert!(c.ssl_quorum);
    assert_eq!(c.quorum_tls.key_store.as_deref(), Some(Path::new("/q.pem")));
    assert!(!c.quorum_tls.hostname_verification);
    assert_eq!(c.quorum_tls.protocols, ["TLSv1.3"]);
    assert_eq!(c.client_tls.key_store.as_deref(), Some(Path::new("/c.pem")));
    assert!(
        parse("sslQuorumReloadCertFiles=true\n")
            .unwrap()
            .quorum_tls
            .cert_reload
    );
    assert!(!c.quorum_tls.cert_reload);
    assert!(err("sslQuorumReloadCertFiles=maybe\n").contains("sslQuorumReloadCertFiles"));
    assert!(err("ssl.quorum.keyStore.type=JKS\n").contains("PEM"));
    assert!(err("dynamicConfigFile=/x\n").contains("not supported"));
    assert!(err("weight.1=2\n").contains("hierarchical quorums"));
    assert!(err("quorum.auth.kerberos.servicePrincipal=zk/_HOST\n").contains("Kerberos"));
    let c = parse(
        "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
         quorum.auth.serverRequireSasl=false\nquorum.auth.learner.saslLoginContext=L\n\
         corral.jaasConfig=/etc/zk/jaas.conf\njute.maxbuffer.extrasize=2048\n",
    )
    .unwrap();
    assert_eq!(
        c.quorum_auth,
        QuorumAuth {
            enabled: true,
            learner_require: true,
            server_require: false,
            learner_context: "L".into(),
            server_context: "QuorumServer".into(),
        }
    );
    assert_eq!(
        c.jaas_config.as_deref(),
        Some(Path::new("/etc/zk/jaas.conf"))
    );
    assert_eq!(c.jute_max_buffer_extra, Some(2048));
    assert!(err("quorum.auth.enableSasl=maybe\n").contains("quorum.auth.enableSasl"));
    assert!(err("server.1=a:1:2|b:1:2\n").contains("multiple addresses"));
}

#[test]
fn admin_server_settings_follow_zookeeper() {
    let at = |c: &Config| c.admin.listen().map(|r| r.unwrap());
    let c = parse("clientPort=2181\n").unwrap();
    assert_eq!(
        at(&c),
        Some("127.0.0.1:8080".parse().unwrap()),
        "loopback unless told"
    );
    assert_eq!(c.admin.command_url, "/commands");
    assert_eq!(at(&Config::default()), None, "embedded default: off");
    let c = parse(
        "admin.serverAddress=127.0.0.1\nadmin.serverPort=0\nadmin.commandURL=/zk\n\
         admin.forceHttps=false\n",
    )
    .unwrap();
    assert_eq!(at(&c), Some("127.0.0.1:0".parse().unwrap()));
    assert_eq!(c.admin.command_url, "/zk");
    let c = parse("admin.enableServer=false\nadmin.serverPort=9\n").unwrap();
    assert_eq!(at(&c), None);
    let c = parse("admin.serverAddress=0.0.0.0\n").unwrap();
    assert_eq!(at(&c), Some("0.0.0.0:8080".parse().unwrap()));
    let c = parse("admin.serverAddress=localhost\n").unwrap();
    assert!(at(&c).unwrap().ip().is_loopback());
    assert!(err("admin.serverPort=http\n").contains("admin.serverPort"));
    assert!(err("admin.serverAddress=local host:1\n").contains("IP address or host name"));
    assert!(err("admin.commandURL=commands\n").contains("starting with `/`"));
    assert!(err("admin.forceHttps=true\n").contains("not supported"));
    assert!(err("admin.enableServer=yes please\n").contains("admin.enableServer"));
}

#[test]
fn ignored_keys_are_accepted() {
    let c = parse(
        "admin.idleTimeout=30000\nstandaloneEnabled=true\n\
         reconfigEnabled=false\nelectionAlg=3\nquorumListenOnAllIPs=false\nsyncEnabled=true\n\
         clientPortListenBacklog=100\nlocalSessionsEnabled=false\n\
         localSessionsUpgradingEnabled=false\nmetricsProvider.className=x.Y\n\
         metricsProvider.httpPort=7000\nautopurge.snapRetainCount=5\n\
         autopurge.purgeInterval=24\nsnapCount=1000\npreAllocSize=1024\n\
         readonlymode.enabled=true\nauthProvider.1=org.x.SASLAuthenticationProvider\n\
         zookeeper.maxCnxns=100\nssl.handshakeDetectionTimeoutMillis=5000\n",
    )
    .unwrap();
    assert_eq!(c.autopurge_snap_retain_count, 5);
    assert_eq!(c.autopurge_purge_interval_h, 24);
    assert_eq!(c.snap_count, 1000);
    assert_eq!(c.pre_alloc_size_kb, 1024);
    assert_eq!(c.max_cnxns, 100);
    assert!(c.read_only_mode_enabled);
    assert!(c.four_lw_whitelist.allows("isro"));
    assert!(c.four_lw_whitelist.allows("srvr"));
    assert!(!c.four_lw_whitelist.allows("ruok"));
    let ignored: Vec<&str> = c.ignored.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        ignored,
        [
            "admin.idleTimeout",
            "standaloneEnabled",
            "reconfigEnabled",
            "electionAlg",
            "quorumListenOnAllIPs",
            "syncEnabled",
            "clientPortListenBacklog",
            "localSessionsEnabled",
            "localSessionsUpgradingEnabled",
            "metricsProvider.className",
            "metricsProvider.httpPort",
            "authProvider.1",
            "ssl.handshakeDetectionTimeoutMillis",
        ]
    );
}

#[test]
fn clamps_like_zookeeper() {
    let c =
        parse("autopurge.snapRetainCount=1\nsnapCount=1\nautopurge.purgeInterval=-1\n").unwrap();
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.snap_count, 2);
    assert_eq!(c.autopurge_purge_interval_h, 0);
}

#[test]
fn sysprop_aliases() {
    let c = parse(
        "zookeeper.extendedTypesEnabled=true\nzookeeper.nio.sessionlessCnxnTimeout=5000\n\
         jute.maxbuffer=4194304\nglobalOutstandingLimit=50\nzookeeper.forceSync=no\n\
         zookeeper.4lw.commands.whitelist=ruok, stat mntr\n",
    )
    .unwrap();
    assert!(c.extended_types_enabled);
    assert_eq!(c.sessionless_timeout_ms, 5000);
    assert_eq!(c.jute_max_buffer, 4194304);
    assert_eq!(c.global_outstanding_limit, 50);
    assert!(!c.force_sync);
    for w in ["ruok", "stat", "mntr", "srvr"] {
        assert!(c.four_lw_whitelist.allows(w), "{w}");
    }
    assert!(!c.four_lw_whitelist.allows("cons"));
    let c = parse("nio.sessionlessCnxnTimeout=7000\n").unwrap();
    assert_eq!(c.sessionless_timeout_ms, 7000);
}

#[test]
fn session_timeouts() {
    let c = parse("tickTime=1000\n").unwrap();
    assert_eq!(
        (c.min_session_timeout(), c.max_session_timeout()),
        (2000, 20000)
    );
    let c = parse("minSessionTimeout=100\nmaxSessionTimeout=-1\n").unwrap();
    assert_eq!(
        (c.min_session_timeout(), c.max_session_timeout()),
        (100, 40000)
    );
    assert_eq!(
        err("tickTime=2000\nminSessionTimeout=50000\nmaxSessionTimeout=40000\n"),
        "line 2: minSessionTimeout (50000 ms) must not be larger than maxSessionTimeout (40000 ms)"
    );
    assert_eq!(
        err("tickTime=2000\nminSessionTimeout=50000\n"),
        "line 2: minSessionTimeout (50000 ms) must not be larger than maxSessionTimeout (40000 ms)"
    );
}

#[test]
fn server_lines() {
    let s = ServerSpec::parse(1, "zk1.example:2888:3888").unwrap();
    assert_eq!(
        s,
        ServerSpec {
            id: 1,
            host: "zk1.example".into(),
            quorum_port: 2888,
            election_port: 3888,
            observer: false,
            client_port: None,
            client_addr: None
        }
    );
    let s = ServerSpec::parse(2, "10.0.0.2:2888:3888:observer;2181").unwrap();
    assert!(s.observer);
    assert_eq!(s.client_port, Some(2181));
    assert_eq!(s.client_addr, None);
    let s = ServerSpec::parse(3, "[::1]:2888:3888:participant;127.0.0.1:2182").unwrap();
    assert_eq!(s.host, "::1");
    assert!(!s.observer);
    assert_eq!(s.client_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(s.client_port, Some(2182));
    let s = ServerSpec::parse(4, "h:1:2;[::1]:2183").unwrap();
    assert_eq!(s.client_addr.as_deref(), Some("::1"));

    for (bad, what) in [
        ("h:2888", "wrong number"),
        ("h:2888:3888:participant:x", "wrong number"),
        ("h:0:3888", "quorum port: 0 is out of range"),
        ("h:2888:99999", "election port: 99999 is out of range"),
        ("h:2888:x", "election port: `x` is not a port number"),
        ("h:1:2:leader", "unrecognised peer type `leader`"),
        (":1:2", "empty host"),
        ("h:1:2;x", "client port: `x` is not a port number"),
        ("h:1:2;a:b:c", "bad client address"),
        ("h:1:2;1;2", "more than one `;`"),
        ("[::1:1:2", "missing `]`"),
    ] {
        let e = ServerSpec::parse(1, bad).unwrap_err();
        assert!(e.contains(what), "{bad}: {e}");
    }
    let e = err("server.3=h:1\n");
    assert!(
        e.starts_with("line 1: invalid value `h:1` for `server.3`: wrong number"),
        "{e}"
    );
}

#[test]
fn ensemble_validation() {
    let base = "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890:observer;2183\n";
    let mut c = parse(base).unwrap();
    assert!(!c.is_standalone());
    assert_eq!(
        c.servers.iter().map(|s| s.id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("myid: file is missing"));
    c.set_my_id(3).unwrap();
    assert!(c.is_observer());
    assert_eq!(c.client_port, 2183);
    assert_eq!(c.client_port_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    c.validate().unwrap();
    c.set_my_id(9).unwrap();
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("server id 9 has no server.9 line (configured: 1, 2, 3)"));

    // clientPort conflicting with the own server line
    let mut c = parse(&format!("clientPort=2181\n{base}")).unwrap();
    assert_eq!(
        c.set_my_id(3).unwrap_err().to_string(),
        "line 1: clientPort=2181 differs from the client port 2183 in server.3"
    );
    // a single server line is standalone, no myid needed
    let c = parse("server.1=127.0.0.1:2888:3888\n").unwrap();
    assert!(c.is_standalone());
    c.validate().unwrap();
    // peerType=observer without a server line
    let c = parse("peerType=observer\n").unwrap();
    assert!(c.is_observer());
    // duplicate addresses
    assert!(err("server.1=h:1:2\nserver.2=h:2:3\n")
        .contains("server.2 uses h:2, already used by server.1"));
    // observers only
    assert!(err("server.1=h:1:2:observer\n").contains("at least one participant"));
}

#[test]
fn whitelist() {
    let w = FourLetterWhitelist::parse("ruok").unwrap();
    assert!(w.allows("ruok") && w.allows("srvr") && !w.allows("stat"));
    assert_eq!(w.to_string(), "srvr,ruok");
    let w = FourLetterWhitelist::parse(" ruok , *").unwrap();
    assert!(w.is_all() && w.allows("dump") && w.allows("hash"));
    let w = FourLetterWhitelist::parse("").unwrap();
    assert_eq!(w, FourLetterWhitelist::zookeeper_default());
    assert!(FourLetterWhitelist::parse("RUOK").is_err());
}

#[test]
fn levenshtein_and_suggest() {
    assert_eq!(levenshtein("kitten", "sitting"), 3);
    assert_eq!(levenshtein("", "abc"), 3);
    assert_eq!(levenshtein("ABC", "abc"), 0);
    assert_eq!(suggest("datadir"), Some("dataDir"));
    assert_eq!(suggest("zz"), None);
}
