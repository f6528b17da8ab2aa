//! `server.N` lines: a member's host, ports and type.

/// `peerType` of this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerType {
    #[default]
    Participant,
    Observer,
}

/// One `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub id: u64,
    /// Host name or IP literal (IPv6 without the brackets).
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
    /// Client port after `;`, if given.
    pub client_port: Option<u16>,
    /// Client address before the client port, if given (ZooKeeper uses 0.0.0.0 when absent).
    pub client_addr: Option<String>,
}

impl ServerSpec {
    /// Parses the value of a `server.N` line (`id` is the N).
    pub fn parse(id: u64, value: &str) -> Result<ServerSpec, String> {
        let fmt_hint = "expected host:quorumPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]";
        let mut halves = value.split(';');
        let server_part = halves.next().unwrap_or("").trim();
        let client_part = halves.next().map(str::trim);
        if halves.next().is_some() {
            return Err(format!("more than one `;` ({fmt_hint})"));
        }
        if server_part.contains('|') {
            return Err("multiple addresses separated by `|` are not supported by corral".into());
        }
        let parts = split_host_port(server_part).map_err(|e| format!("{e} ({fmt_hint})"))?;
        if parts.len() < 3 || parts.len() > 4 {
            return Err(format!("wrong number of `:` fields ({fmt_hint})"));
        }
        let host = parts[0].clone();
        if host.is_empty() {
            return Err(format!("empty host ({fmt_hint})"));
        }
        let quorum_port = parse_port(&parts[1]).map_err(|e| format!("quorum port: {e}"))?;
        let election_port = parse_port(&parts[2]).map_err(|e| format!("election port: {e}"))?;
        let observer = match parts.get(3).map(|s| s.to_ascii_lowercase()) {
            None => false,
            Some(t) if t == "participant" => false,
            Some(t) if t == "observer" => true,
            Some(_) => {
                return Err(format!(
                    "unrecognised peer type `{}` (participant or observer)",
                    parts[3]
                ))
            }
        };
        let (client_addr, client_port) = match client_part {
            None => (None, None),
            Some(c) => {
                let cp = split_host_port(c).map_err(|e| format!("client address: {e}"))?;
                match cp.len() {
                    1 => (
                        None,
                        Some(parse_port(&cp[0]).map_err(|e| format!("client port: {e}"))?),
                    ),
                    2 if !cp[0].is_empty() => (
                        Some(cp[0].clone()),
                        Some(parse_port(&cp[1]).map_err(|e| format!("client port: {e}"))?),
                    ),
                    _ => return Err(format!("bad client address `{c}` ({fmt_hint})")),
                }
            }
        };
        Ok(ServerSpec {
            id,
            host,
            quorum_port,
            election_port,
            observer,
            client_port,
            client_addr,
        })
    }
}

/// Splits `host:p1:p2...` where host may be `[ipv6]` (ZooKeeper's ConfigUtils.getHostAndPort).
pub(super) fn split_host_port(s: &str) -> Result<Vec<String>, String> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("`{s}`: missing `]` after an IPv6 address"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let mut out = vec![host.to_string()];
        if after.is_empty() {
            return Ok(out);
        }
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| format!("`{s}`: expected `:` after `]`"))?;
        out.extend(after.split(':').map(|p| p.trim().to_string()));
        Ok(out)
    } else {
        Ok(s.split(':').map(|p| p.trim().to_string()).collect())
    }
}

pub(super) fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Ok(p) => Err(format!("{p} is out of range 1..65535")),
        Err(_) => Err(format!("`{s}` is not a port number")),
    }
}
