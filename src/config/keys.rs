//! Which keys corral applies, accepts without effect or refuses, and the
//! closest known key for a misspelt one.

/// Keys ZooKeeper 3.8 accepts that corral accepts and ignores (listed in [`Config::ignored`]).
/// Boolean ones are still checked for `true`/`false`.
pub const IGNORED_KEYS: &[&str] = &[
    "standaloneEnabled",
    "reconfigEnabled",
    "electionAlg",
    "quorumListenOnAllIPs",
    "syncEnabled",
    "clientPortListenBacklog",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "connectToLearnerMasterLimit",
    "observerMasterPort",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckTimeoutMs",
    "multiAddress.reachabilityCheckEnabled",
    "oraclePath",
    "serverCnxnFactory",
    "snapshot.trust.empty",
    "digest.enabled",
    "audit.enable",
    "fsync.warningthresholdms",
    "leaderServes",
    "cnxTimeout",
    "electionPortBindRetry",
    "tcpKeepAlive",
    "commitLogCount",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "requireClientAuthScheme",
    "enforceQuota",
    "netty.server.outstandingHandshake.limit",
    "quorum.cnxn.threads.size",
    "initialConfig",
    "minRequestThrottle",
];

/// Key prefixes ZooKeeper accepts that corral ignores (`metricsProvider.className`,
/// `admin.enableServer`, `admin.serverPort`, `authProvider.1`, `ssl.keyStore.location`, ...).
pub const IGNORED_PREFIXES: &[&str] = &["metricsProvider.", "admin.", "authProvider.", "ssl."];

/// Keys ZooKeeper reads as `zookeeper.<key>` system properties: accepted with or without the
/// `zookeeper.` prefix.
pub(super) const SYSPROP_KEYS: &[&str] = &[
    "extendedTypesEnabled",
    "DigestAuthenticationProvider.superDigest",
    "nio.sessionlessCnxnTimeout",
    "4lw.commands.whitelist",
    "snapCount",
    "preAllocSize",
    "globalOutstandingLimit",
    "forceSync",
    "skipACL",
    "jute.maxbuffer",
    "maxCnxns",
    "snapshot.trust.empty",
    "digest.enabled",
    "audit.enable",
    "fsync.warningthresholdms",
    "leaderServes",
    "cnxTimeout",
    "electionPortBindRetry",
    "tcpKeepAlive",
    "commitLogCount",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "requireClientAuthScheme",
    "enforceQuota",
    "serverCnxnFactory",
    "readonlymode.enabled",
    "client.portUnification",
    "X509AuthenticationProvider.superUser",
    "superUser",
    "client.certReload",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
    "enforce.auth.scheme",
    "sessionRequireClientSASLAuth",
];

/// Keys corral applies (canonical names).
pub(super) const EFFECTIVE_KEYS: &[&str] = &[
    "tickTime",
    "initLimit",
    "syncLimit",
    "dataDir",
    "dataLogDir",
    "clientPort",
    "clientPortAddress",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "4lw.commands.whitelist",
    "readonlymode.enabled",
    "extendedTypesEnabled",
    "DigestAuthenticationProvider.superDigest",
    "jute.maxbuffer",
    "nio.sessionlessCnxnTimeout",
    "globalOutstandingLimit",
    "forceSync",
    "snapCount",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "preAllocSize",
    "peerType",
    "corral.metricsAddr",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
    "admin.forceHttps",
    "admin.portUnification",
    "corral.shards",
    "corral.jaasConfig",
    "corral.maxWatchesPerConnection",
    "corral.maxWatchBytesPerConnection",
    "jute.maxbuffer.extrasize",
    "quorum.auth.enableSasl",
    "quorum.auth.learnerRequireSasl",
    "quorum.auth.serverRequireSasl",
    "quorum.auth.learner.saslLoginContext",
    "quorum.auth.server.saslLoginContext",
    "secureClientPort",
    "secureClientPortAddress",
    "client.portUnification",
    "ssl.keyStore.location",
    "ssl.keyStore.password",
    "ssl.keyStore.type",
    "ssl.trustStore.location",
    "ssl.trustStore.password",
    "ssl.trustStore.type",
    "ssl.clientAuth",
    "ssl.protocol",
    "ssl.enabledProtocols",
    "ssl.ciphersuites",
    "ssl.crl",
    "ssl.ocsp",
    "ssl.quorum.keyStore.location",
    "ssl.quorum.keyStore.password",
    "ssl.quorum.keyStore.type",
    "ssl.quorum.trustStore.location",
    "ssl.quorum.trustStore.password",
    "ssl.quorum.trustStore.type",
    "ssl.quorum.hostnameVerification",
    "ssl.quorum.protocol",
    "ssl.quorum.enabledProtocols",
    "ssl.quorum.ciphersuites",
    "X509AuthenticationProvider.superUser",
    "superUser",
    "client.certReload",
    "sslQuorumReloadCertFiles",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
    "enforce.auth.scheme",
    "sessionRequireClientSASLAuth",
    // rejected unless harmless, but known:
    "skipACL",
    "sslQuorum",
    "portUnification",
    "dynamicConfigFile",
];

/// Keys that are ZooKeeper-known but rejected when set to anything meaningful.
pub(super) fn unsupported_reason(key: &str, value: &str) -> Option<&'static str> {
    let v = value.to_ascii_lowercase();
    match key {
        "portUnification" if v != "false" => {
            Some("a quorum port that takes TLS and plaintext is not implemented; only `false` is accepted")
        }
        "ssl.crl" | "ssl.ocsp" if v != "false" => {
            Some("certificate revocation checks are not implemented; only `false` is accepted")
        }
        "skipACL" if v == "yes" => Some("ACL checks cannot be disabled"),
        "dynamicConfigFile" => {
            Some("dynamic reconfiguration files are not implemented; put server.N lines in zoo.cfg")
        }
        "quorum.auth.kerberos.servicePrincipal" => Some(
            "Kerberos between servers is not implemented; corral authenticates servers with the \
             DigestLoginModule passwords of the JAAS QuorumServer/QuorumLearner sections",
        ),
        _ if key.starts_with("group.") || key.starts_with("weight.") => {
            Some("hierarchical quorums are not implemented")
        }
        _ => None,
    }
}

/// Every name [`parse`] knows (for suggestions).
pub(super) fn all_known_keys() -> impl Iterator<Item = &'static str> {
    EFFECTIVE_KEYS
        .iter()
        .chain(IGNORED_KEYS.iter())
        .copied()
        .chain(["server.1", "admin.idleTimeout", "metricsProvider.className"])
}

pub(super) fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

pub(super) fn suggest(key: &str) -> Option<&'static str> {
    let key = key.strip_prefix("zookeeper.").unwrap_or(key);
    let (best, dist) = all_known_keys()
        .map(|k| (k, levenshtein(key, k)))
        .min_by_key(|x| x.1)?;
    let limit = (key.chars().count() / 3).clamp(1, 4);
    (dist <= limit).then_some(best)
}

/// Canonical form of a key: strips `zookeeper.` from system-property keys.
pub(super) fn canonical_key(key: &str) -> &str {
    if let Some(rest) = key.strip_prefix("zookeeper.") {
        if SYSPROP_KEYS.contains(&rest) {
            return rest;
        }
    }
    key
}
