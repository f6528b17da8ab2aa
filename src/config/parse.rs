//! From `zoo.cfg` text to a [`Config`]: one arm per key, each checking its
//! value.

use super::*;

/// `ssl.*` and `ssl.quorum.*` store keys (the part after the prefix) into `t`.
pub(super) fn store_key(
    t: &mut ClientTls,
    rest: &str,
    cx: &Ctx<'_>,
    e: &Entry,
) -> Result<(), ConfigError> {
    match rest {
        "keyStore.location" => t.key_store = Some(cx.path()?),
        "keyStore.password" => {
            t.key_store_password = Some(e.value.clone()).filter(|v| !v.is_empty())
        }
        "trustStore.location" => t.trust_store = Some(cx.path()?),
        "trustStore.password" => {}
        "keyStore.type" | "trustStore.type" => match e.value.to_ascii_uppercase().as_str() {
            "PEM" | "" => {}
            "JKS" | "PKCS12" | "BCFKS" => {
                return Err(cx.invalid(
                    "corral reads PEM stores only; convert with `keytool -importkeystore \
                     -srckeystore STORE -destkeystore store.p12 -deststoretype PKCS12` and \
                     `openssl pkcs12 -in store.p12 -nodes -out store.pem`, then set PEM",
                ))
            }
            _ => return Err(cx.invalid("expected PEM")),
        },
        "clientAuth" => {
            t.client_auth = match e.value.to_ascii_lowercase().as_str() {
                "none" => ClientAuth::None,
                "want" => ClientAuth::Want,
                "need" => ClientAuth::Need,
                _ => return Err(cx.invalid("expected `none`, `want` or `need`")),
            }
        }
        "protocol" | "enabledProtocols" => {
            let list: Vec<String> = comma_list(&e.value);
            for p in &list {
                if !matches!(p.as_str(), "TLSv1.2" | "TLSv1.3" | "TLS") {
                    return Err(
                        cx.invalid(format!("`{p}`: corral speaks TLSv1.2 and TLSv1.3 only"))
                    );
                }
            }
            // enabledProtocols wins over protocol, as in ZooKeeper.
            if rest == "enabledProtocols" || t.protocols.is_empty() {
                t.protocols = list.into_iter().filter(|p| p != "TLS").collect();
            }
        }
        "ciphersuites" => t.ciphersuites = comma_list(&e.value),
        "hostnameVerification" => t.hostname_verification = cx.boolean()?,
        _ => unreachable!("store_key called for {rest}"),
    }
    Ok(())
}

/// The non-empty items of a comma-separated value, trimmed.
pub(super) fn comma_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The store keys [`store_key`] takes after `ssl.` / `ssl.quorum.`.
pub(super) const STORE_KEYS: &[&str] = &[
    "keyStore.location",
    "keyStore.password",
    "keyStore.type",
    "trustStore.location",
    "trustStore.password",
    "trustStore.type",
    "clientAuth",
    "protocol",
    "enabledProtocols",
    "ciphersuites",
    "hostnameVerification",
];

pub(super) struct Ctx<'a> {
    pub(super) line: usize,
    pub(super) key: &'a str,
    pub(super) value: &'a str,
}

impl Ctx<'_> {
    pub(super) fn invalid(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue {
            line: self.line,
            key: self.key.to_string(),
            value: self.value.to_string(),
            reason: reason.into(),
        }
    }

    pub(super) fn int(&self) -> Result<i64, ConfigError> {
        self.value.parse::<i64>().map_err(|_| {
            if self.value.contains('#') {
                self.invalid("not an integer (comments must be on their own line)")
            } else {
                self.invalid("not an integer")
            }
        })
    }

    pub(super) fn u32_range(&self, min: u32) -> Result<u32, ConfigError> {
        let v = self.int()?;
        if v < i64::from(min) || v > i64::from(u32::MAX) {
            return Err(self.invalid(format!("must be between {min} and {}", u32::MAX)));
        }
        Ok(v as u32)
    }

    pub(super) fn positive(&self) -> Result<u32, ConfigError> {
        self.u32_range(1)
    }

    pub(super) fn boolean(&self) -> Result<bool, ConfigError> {
        match self.value.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.invalid("expected `true` or `false`")),
        }
    }

    pub(super) fn yes_no(&self) -> Result<bool, ConfigError> {
        match self.value.to_ascii_lowercase().as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(self.invalid("expected `yes` or `no`")),
        }
    }

    pub(super) fn path(&self) -> Result<PathBuf, ConfigError> {
        if self.value.is_empty() {
            return Err(self.invalid("empty path"));
        }
        Ok(PathBuf::from(self.value))
    }
}

/// Parses zoo.cfg text. Duplicate keys: the last one wins (like Properties). Checks every
/// value and the cross-key rules that do not need `myid` (see [`Config::validate`]).
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let entries = properties_entries(text)?;
    // last wins, but keep file order of the winners
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        last.insert(canonical_key(&e.key), i);
    }
    let mut cfg = Config {
        client_port_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        four_lw_whitelist: FourLetterWhitelist::zookeeper_default(),
        admin: AdminSettings {
            enabled: true,
            ..AdminSettings::default()
        },
        ..Config::default()
    };
    let mut servers: BTreeMap<u64, ServerSpec> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let key = canonical_key(&e.key);
        if last.get(key) != Some(&i) {
            continue;
        }
        let cx = Ctx {
            line: e.line,
            key: &e.key,
            value: &e.value,
        };
        if key.is_empty() {
            return Err(ConfigError::Syntax {
                line: e.line,
                reason: format!("missing key before `{}`", e.value),
            });
        }
        if let Some(reason) = unsupported_reason(key, &e.value) {
            return Err(ConfigError::Unsupported {
                line: e.line,
                key: e.key.clone(),
                value: e.value.clone(),
                reason: reason.into(),
            });
        }
        cfg.key_lines.insert(key.to_string(), e.line);
        if let Some(rest) = key.strip_prefix("ssl.quorum.") {
            if STORE_KEYS.contains(&rest) && rest != "clientAuth" {
                store_key(&mut cfg.quorum_tls, rest, &cx, e)?;
                continue;
            }
        } else if let Some(rest) = key.strip_prefix("ssl.") {
            if STORE_KEYS.contains(&rest) {
                store_key(&mut cfg.client_tls, rest, &cx, e)?;
                continue;
            }
        }
        match key {
            "tickTime" => cfg.tick_time_ms = cx.positive()?,
            "initLimit" => cfg.init_limit = cx.positive()?,
            "syncLimit" => cfg.sync_limit = cx.positive()?,
            "dataDir" => cfg.data_dir = cx.path()?,
            "dataLogDir" => cfg.data_log_dir = Some(cx.path()?),
            "clientPort" => cfg.client_port = parse_port(&e.value).map_err(|r| cx.invalid(r))?,
            "clientPortAddress" => {
                cfg.client_port_address = if e.value.eq_ignore_ascii_case("localhost") {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                } else {
                    e.value
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse()
                        .map_err(|_| cx.invalid("expected an IP address (or localhost)"))?
                }
            }
            "maxClientCnxns" => cfg.max_client_cnxns = cx.u32_range(0)?,
            "maxCnxns" => cfg.max_cnxns = cx.u32_range(0)?,
            "minSessionTimeout" | "maxSessionTimeout" => {
                let v = cx.int()?;
                let v = match v {
                    -1 => None, // ZooKeeper's "unset"
                    1..=0x7fff_ffff => Some(v as u32),
                    _ => return Err(cx.invalid("must be a positive number of milliseconds")),
                };
                if key == "minSessionTimeout" {
                    cfg.min_session_timeout_ms = v;
                } else {
                    cfg.max_session_timeout_ms = v;
                }
            }
            "4lw.commands.whitelist" => {
                cfg.four_lw_whitelist =
                    FourLetterWhitelist::parse(&e.value).map_err(|r| cx.invalid(r))?
            }
            "readonlymode.enabled" => cfg.read_only_mode_enabled = cx.boolean()?,
            "extendedTypesEnabled" => cfg.extended_types_enabled = cx.boolean()?,
            "DigestAuthenticationProvider.superDigest" => {
                validate_super_digest(&e.value).map_err(|r| cx.invalid(r))?;
                cfg.super_digest = Some(e.value.clone());
            }
            "jute.maxbuffer" => cfg.jute_max_buffer = cx.positive()?,
            "nio.sessionlessCnxnTimeout" => cfg.sessionless_timeout_ms = cx.positive()?,
            "globalOutstandingLimit" => cfg.global_outstanding_limit = cx.positive()?,
            "forceSync" => cfg.force_sync = cx.yes_no()?,
            "skipACL" => {
                cx.yes_no()?;
                cfg.ignore(e);
            }
            "sslQuorum" => cfg.ssl_quorum = cx.boolean()?,
            "portUnification" => {
                cx.boolean()?;
                cfg.ignore(e);
            }
            "secureClientPort" => {
                cfg.client_tls.secure_port = Some(parse_port(&e.value).map_err(|r| cx.invalid(r))?)
            }
            "secureClientPortAddress" => {
                cfg.client_tls.secure_address = Some(
                    e.value
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse()
                        .map_err(|_| cx.invalid("expected an IP address"))?,
                )
            }
            "client.portUnification" => cfg.client_tls.port_unification = cx.boolean()?,
            "client.certReload" => cfg.client_tls.cert_reload = cx.boolean()?,
            "sslQuorumReloadCertFiles" => cfg.quorum_tls.cert_reload = cx.boolean()?,
            "ssl.crl" | "ssl.ocsp" => {
                cx.boolean()?;
            }
            "X509AuthenticationProvider.superUser" => {
                cfg.client_tls.x509_super_user = Some(e.value.clone())
            }
            "superUser" => cfg.sasl_super_user = Some(e.value.clone()),
            "enforce.auth.enabled" => cfg.enforce_auth_enabled = cx.boolean()?,
            "sessionRequireClientSASLAuth" => {
                if cx.boolean()? {
                    cfg.enforce_auth_enabled = true;
                    cfg.enforce_auth_schemes = vec!["sasl".into()];
                }
            }
            "enforce.auth.schemes" | "enforce.auth.scheme" => {
                let list: Vec<String> = comma_list(&e.value);
                if let Some(bad) = list
                    .iter()
                    .find(|s| !matches!(s.as_str(), "digest" | "ip" | "sasl" | "x509"))
                {
                    return Err(cx.invalid(format!(
                        "authentication scheme `{bad}` is not available (digest, ip, sasl, x509)"
                    )));
                }
                cfg.enforce_auth_schemes = list;
            }
            "snapCount" => cfg.snap_count = cx.u32_range(0)?.max(2),
            "autopurge.snapRetainCount" => {
                cfg.autopurge_snap_retain_count = cx.u32_range(0)?.max(3)
            }
            "autopurge.purgeInterval" => {
                cfg.autopurge_purge_interval_h = cx.int()?.clamp(0, i64::from(u32::MAX)) as u32
            }
            "preAllocSize" => cfg.pre_alloc_size_kb = u64::from(cx.positive()?),
            "peerType" => {
                cfg.peer_type = match e.value.to_ascii_lowercase().as_str() {
                    "observer" => PeerType::Observer,
                    "participant" => PeerType::Participant,
                    _ => return Err(cx.invalid("expected `participant` or `observer`")),
                }
            }
            "admin.enableServer" => cfg.admin.enabled = cx.boolean()?,
            "admin.serverAddress" => {
                let v = e.value.trim();
                let host_ok = !v.is_empty()
                    && (v
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<IpAddr>()
                        .is_ok()
                        || v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
                if !host_ok {
                    return Err(cx.invalid("expected an IP address or host name, e.g. 127.0.0.1"));
                }
                cfg.admin.address = v.to_string();
            }
            "admin.serverPort" => {
                cfg.admin.port = e
                    .value
                    .parse()
                    .map_err(|_| cx.invalid("expected a port number 0..65535"))?
            }
            "admin.commandURL" => {
                if !e.value.starts_with('/') {
                    return Err(cx.invalid("expected a path starting with `/`, e.g. /commands"));
                }
                cfg.admin.command_url = e.value.clone();
            }
            "admin.forceHttps" | "admin.portUnification" => {
                if cx.boolean()? {
                    return Err(cx.invalid(
                        "HTTPS on the AdminServer is not supported by corral: \
                         bind it to a private address (admin.serverAddress) instead",
                    ));
                }
            }
            "corral.metricsAddr" => {
                cfg.metrics_addr = Some(
                    e.value
                        .parse()
                        .map_err(|_| cx.invalid("expected ip:port, e.g. 127.0.0.1:9141"))?,
                )
            }
            "quorum.auth.enableSasl" => cfg.quorum_auth.enabled = cx.boolean()?,
            "quorum.auth.learnerRequireSasl" => cfg.quorum_auth.learner_require = cx.boolean()?,
            "quorum.auth.serverRequireSasl" => cfg.quorum_auth.server_require = cx.boolean()?,
            "quorum.auth.learner.saslLoginContext" => {
                cfg.quorum_auth.learner_context = e.value.clone()
            }
            "quorum.auth.server.saslLoginContext" => {
                cfg.quorum_auth.server_context = e.value.clone()
            }
            "corral.jaasConfig" => cfg.jaas_config = Some(cx.path()?),
            "jute.maxbuffer.extrasize" => cfg.jute_max_buffer_extra = Some(cx.positive()?),
            "corral.maxWatchesPerConnection" => cfg.max_watches_per_connection = cx.u32_range(0)?,
            "corral.maxWatchBytesPerConnection" => {
                cfg.max_watch_bytes_per_connection = cx.u32_range(0)?
            }
            "corral.shards" => {
                let v = cx.int()?;
                if !(1..=4096).contains(&v) {
                    return Err(cx.invalid("must be between 1 and 4096"));
                }
                cfg.shards = Some(v as usize);
            }
            _ if key.starts_with("server.") => {
                let id: u64 =
                    key["server.".len()..]
                        .parse()
                        .map_err(|_| ConfigError::UnknownKey {
                            line: e.line,
                            key: e.key.clone(),
                            suggestion: Some("server.1"),
                        })?;
                let spec = ServerSpec::parse(id, &e.value).map_err(|r| cx.invalid(r))?;
                servers.insert(id, spec);
            }
            "standaloneEnabled"
            | "reconfigEnabled"
            | "quorumListenOnAllIPs"
            | "syncEnabled"
            | "localSessionsEnabled"
            | "localSessionsUpgradingEnabled"
            | "multiAddress.enabled"
            | "multiAddress.reachabilityCheckEnabled" => {
                cx.boolean()?;
                cfg.ignore(e);
            }
            "electionAlg" => {
                if cx.int()? != 3 {
                    return Err(cx.invalid("only 3 is supported (as in ZooKeeper 3.8)"));
                }
                cfg.ignore(e);
            }
            "clientPortListenBacklog"
            | "connectToLearnerMasterLimit"
            | "observerMasterPort"
            | "admin.idleTimeout" => {
                cx.int()?;
                cfg.ignore(e);
            }
            _ if IGNORED_KEYS.contains(&key)
                || IGNORED_PREFIXES.iter().any(|p| key.starts_with(p)) =>
            {
                cfg.ignore(e)
            }
            _ => {
                return Err(ConfigError::UnknownKey {
                    line: e.line,
                    key: e.key.clone(),
                    suggestion: suggest(&e.key),
                })
            }
        }
    }
    if cfg.read_only_mode_enabled {
        cfg.four_lw_whitelist.add("isro");
    }
    if !cfg.enforce_auth_enabled {
        cfg.enforce_auth_schemes.clear();
    } else if cfg.enforce_auth_schemes.is_empty() {
        return Err(ConfigError::Invalid {
            line: cfg.key_lines.get("enforce.auth.enabled").copied(),
            msg: "enforce.auth.enabled is true: enforce.auth.schemes must name the schemes".into(),
        });
    }
    cfg.servers = servers.into_values().collect();
    cfg.validate_static()?;
    Ok(cfg)
}

/// Checks `user:base64` where the base64 text is a 20-byte SHA-1 digest.
pub(super) fn validate_super_digest(v: &str) -> Result<(), String> {
    let (user, digest) = v
        .split_once(':')
        .ok_or("expected user:base64digest (e.g. super:vwF3b39JxzrgKUNiFet8/1LxKxY=)")?;
    if user.is_empty() {
        return Err("empty user name before `:`".into());
    }
    let valid_chars = digest
        .trim_end_matches('=')
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
    let pad = digest.len() - digest.trim_end_matches('=').len();
    if !valid_chars || digest.len() % 4 != 0 || pad > 2 || digest.is_empty() {
        return Err("the part after `:` is not valid base64".into());
    }
    if digest.len() / 4 * 3 - pad != 20 {
        return Err(
            "the part after `:` must be base64 of a 20-byte SHA-1 digest (28 characters)".into(),
        );
    }
    Ok(())
}
