//! ACLs: ids, permission checks, `fixupACL` validation, the digest scheme and
//! ip/CIDR matching (protocol reference §9).

use crate::proto::codes::perm;
use crate::proto::records::AclRef;
use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;
use std::sync::Arc;

/// An authenticated identity: (scheme, id).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: &str, id: &str) -> Id {
        Id {
            scheme: scheme.to_string(),
            id: id.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

/// ACL lists are shared between nodes (most trees use a handful of lists).
pub type AclList = Arc<[Acl]>;

pub fn open_acl() -> AclList {
    Arc::from(vec![Acl {
        perms: perm::ALL,
        id: Id::new("world", "anyone"),
    }])
}

pub fn read_acl() -> AclList {
    Arc::from(vec![Acl {
        perms: perm::READ,
        id: Id::new("world", "anyone"),
    }])
}

/// Who is asking: the ids held by a connection.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub ids: Vec<Id>,
    pub addr: Option<IpAddr>,
}

impl Caller {
    pub fn is_super(&self) -> bool {
        self.ids.iter().any(|i| i.scheme == "super")
    }
}

/// `ZooKeeperServer.checkACL`: true if `caller` may do `want` on a node with `acl`.
pub fn allowed(acl: &[Acl], want: i32, caller: &Caller) -> bool {
    if acl.is_empty() || caller.is_super() {
        return true;
    }
    for a in acl {
        if a.perms & want == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return true;
        }
        for held in &caller.ids {
            if held.scheme != a.id.scheme {
                continue;
            }
            let hit = match a.id.scheme.as_str() {
                "ip" => match caller.addr {
                    Some(addr) => ip_matches(&a.id.id, addr),
                    None => false,
                },
                _ => held.id == a.id.id,
            };
            if hit {
                return true;
            }
        }
    }
    false
}

/// `digest:` id for "user:password" bytes: user:base64(sha1(whole string)).
pub fn digest_id(user_password: &[u8]) -> String {
    let text = String::from_utf8_lossy(user_password);
    let user = text.split(':').next().unwrap_or("");
    let hash = Sha1::digest(text.as_bytes());
    format!(
        "{}:{}",
        user,
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

fn parse_cidr(id: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match id.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (id, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u32>().ok().filter(|b| *b <= max)?,
        None => max,
    };
    Some((ip, bits))
}

/// `IPAuthenticationProvider.matches`: exact address or CIDR prefix.
pub fn ip_matches(acl_id: &str, addr: IpAddr) -> bool {
    let Some((net, bits)) = parse_cidr(acl_id) else {
        return false;
    };
    let to_bytes = |ip: IpAddr| -> Vec<u8> {
        match ip {
            IpAddr::V4(v) => v.octets().to_vec(),
            IpAddr::V6(v) => v.octets().to_vec(),
        }
    };
    let (a, n) = (to_bytes(addr), to_bytes(net));
    if a.len() != n.len() {
        return false;
    }
    let mut left = bits;
    for (x, y) in a.iter().zip(n.iter()) {
        if left == 0 {
            break;
        }
        let take = left.min(8);
        let mask = (0xffu16 << (8 - take)) as u8;
        if x & mask != y & mask {
            return false;
        }
        left -= take;
    }
    true
}

fn valid_id(scheme: &str, id: &str) -> bool {
    match scheme {
        "world" => id == "anyone",
        // Java's split(":") must give exactly two parts (trailing empties dropped).
        "digest" => {
            let parts: Vec<&str> = id.split(':').collect();
            let mut n = parts.len();
            while n > 0 && parts[n - 1].is_empty() {
                n -= 1;
            }
            n == 2
        }
        "ip" => parse_cidr(id).is_some(),
        // X509AuthenticationProvider: a distinguished name;
        // SASLAuthenticationProvider: a user name.
        "x509" | "sasl" => !id.is_empty(),
        _ => false,
    }
}

/// `PrepRequestProcessor.fixupACL`: removes duplicates, expands `auth:`,
/// validates ids. `Err(())` means InvalidACL.
#[allow(clippy::result_unit_err)]
pub fn fixup(req: &[AclRef<'_>], caller: &Caller) -> Result<Vec<Acl>, ()> {
    if req.is_empty() {
        return Err(());
    }
    let mut uniq: Vec<&AclRef<'_>> = Vec::with_capacity(req.len());
    for a in req {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        if a.scheme == "auth" {
            let mut any = false;
            for held in &caller.ids {
                // Only "authenticated" providers (digest, x509, sasl)
                // expand; ip and super do not.
                if matches!(held.scheme.as_str(), "digest" | "x509" | "sasl") {
                    any = true;
                    out.push(Acl {
                        perms: a.perms,
                        id: held.clone(),
                    });
                }
            }
            if !any {
                return Err(());
            }
        } else {
            if !valid_id(&a.scheme, &a.id) {
                return Err(());
            }
            out.push(Acl {
                perms: a.perms,
                id: Id::new(&a.scheme, &a.id),
            });
        }
    }
    if out.is_empty() {
        return Err(());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_reference_values() {
        assert_eq!(digest_id(b"user:pass"), "user:smGaoVKd/cQkjm7b88GyorAUz20=");
        assert_eq!(digest_id(b"u1:p1"), "u1:fpT/y03U+EjItKZOSLGvjnJlyng=");
    }

    #[test]
    fn cidr() {
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(ip_matches("127.0.0.1", a));
        assert!(ip_matches("127.0.0.0/8", a));
        assert!(!ip_matches("10.0.0.0/8", a));
        assert!(!ip_matches("notanip", a));
        assert!(ip_matches("0.0.0.0/0", a));
    }

    #[test]
    fn fixup_rules() {
        let r = |s: &'static str, i: &'static str| AclRef {
            perms: 31,
            scheme: s.into(),
            id: i.into(),
        };
        let nobody = Caller::default();
        assert!(fixup(&[], &nobody).is_err());
        assert!(fixup(&[r("world", "someone")], &nobody).is_err());
        assert!(fixup(&[r("digest", "nocolon")], &nobody).is_err());
        assert!(fixup(&[r("ip", "notanip")], &nobody).is_err());
        assert!(fixup(&[r("bogus", "x")], &nobody).is_err());
        assert!(fixup(&[r("auth", "")], &nobody).is_err());
        let v = fixup(&[r("world", "anyone"), r("world", "anyone")], &nobody).unwrap();
        assert_eq!(v.len(), 1);
        let user = Caller {
            ids: vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "u:x")],
            addr: None,
        };
        let v = fixup(&[r("auth", "")], &user).unwrap();
        assert_eq!(
            v,
            vec![Acl {
                perms: 31,
                id: Id::new("digest", "u:x")
            }]
        );
    }

    #[test]
    fn allowed_checks_bits_and_ids() {
        let acl = vec![Acl {
            perms: perm::READ,
            id: Id::new("digest", "u:x"),
        }];
        let u = Caller {
            ids: vec![Id::new("digest", "u:x")],
            addr: None,
        };
        assert!(allowed(&acl, perm::READ, &u));
        assert!(!allowed(&acl, perm::WRITE, &u));
        assert!(!allowed(&acl, perm::READ, &Caller::default()));
        let sup = Caller {
            ids: vec![Id::new("super", "")],
            addr: None,
        };
        assert!(allowed(&acl, perm::WRITE, &sup));
    }
}
