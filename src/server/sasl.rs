//! SASL DIGEST-MD5 (RFC 2831) on the server side, as ZooKeeper runs it
//! for clients (`Server` section of the JAAS file, DigestLoginModule's
//! `user_NAME="PASSWORD"` entries): realm `zk-sasl-md5`, qop `auth` only,
//! digest-uri `zookeeper/zk-sasl-md5`. Pure: the nonce comes from the
//! core's CSPRNG and the users from its config. MD5 is the `md-5` crate.

use md5::{Digest, Md5};
use std::collections::BTreeMap;

/// The realm and server name ZooKeeper's clients use for DIGEST-MD5.
pub const REALM: &str = "zk-sasl-md5";
/// `protocol/serverName`, as the clients send it.
pub const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";

/// One connection's exchange: the challenge sent, waiting for the response.
#[derive(Debug)]
pub struct DigestMd5 {
    nonce: String,
}

/// The outcome of the client's response.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Authenticated as `authz`: the token to send back (`rspauth=...`).
    Done {
        token: Vec<u8>,
        authz: String,
    },
    Failed(&'static str),
}

fn hex(d: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(d.len() * 2);
    for b in d {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// `key=value` and `key="quoted \"value\""` pairs, comma-separated.
pub fn parse_directives(text: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let k0 = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let key = text[k0..i].trim().to_ascii_lowercase();
        i += 1;
        let mut value = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            loop {
                let c = *b.get(i)?;
                i += 1;
                match c {
                    b'"' => break,
                    b'\\' => {
                        value.push(*b.get(i)? as char);
                        i += 1;
                    }
                    _ => value.push(c as char),
                }
            }
            // Bytes were pushed one by one: rebuild UTF-8 from them.
            value = String::from_utf8(value.chars().map(|c| c as u8).collect()).ok()?;
        } else {
            let v0 = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            value = text[v0..i].trim().to_string();
        }
        if out.insert(key, value).is_some() {
            // RFC 2831: a directive appears at most once.
            return None;
        }
    }
    Some(out)
}

impl DigestMd5 {
    /// Starts an exchange with `nonce` (random, from the caller): the state
    /// and the challenge to send.
    pub fn start(nonce: String) -> (DigestMd5, Vec<u8>) {
        let challenge = format!(
            "realm=\"{REALM}\",nonce=\"{nonce}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess"
        );
        (DigestMd5 { nonce }, challenge.into_bytes())
    }

    /// Checks the client's digest-response against `password_of(user)`.
    pub fn respond(
        &self,
        response: &[u8],
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Outcome {
        let Ok(text) = std::str::from_utf8(response) else {
            return Outcome::Failed("response is not UTF-8");
        };
        let Some(d) = parse_directives(text) else {
            return Outcome::Failed("malformed response");
        };
        let get = |k: &str| d.get(k).map(String::as_str);
        let (Some(user), Some(nonce), Some(cnonce), Some(nc), Some(uri), Some(resp)) = (
            get("username"),
            get("nonce"),
            get("cnonce"),
            get("nc"),
            get("digest-uri"),
            get("response"),
        ) else {
            return Outcome::Failed("a required directive is missing");
        };
        let qop = get("qop").unwrap_or("auth");
        if nonce != self.nonce {
            return Outcome::Failed("nonce mismatch");
        }
        if qop != "auth" {
            return Outcome::Failed("only qop=auth is offered");
        }
        if get("realm").is_some_and(|r| r != REALM) {
            return Outcome::Failed("realm mismatch");
        }
        if uri != DIGEST_URI {
            return Outcome::Failed("digest-uri mismatch");
        }
        if nc != "00000001" {
            return Outcome::Failed("nonce count is not 1");
        }
        if cnonce.is_empty() {
            return Outcome::Failed("empty cnonce");
        }
        let Some(password) = password_of(user) else {
            return Outcome::Failed("unknown user");
        };
        let authzid = get("authzid");
        let expect = |a2_prefix: &str| {
            let secret = md5(&[
                user.as_bytes(),
                b":",
                REALM.as_bytes(),
                b":",
                password.as_bytes(),
            ]);
            let mut a1: Vec<u8> = secret.to_vec();
            a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
            if let Some(z) = authzid {
                a1.extend_from_slice(format!(":{z}").as_bytes());
            }
            let ha1 = hex(&md5(&[&a1]));
            let ha2 = hex(&md5(&[a2_prefix.as_bytes(), b":", uri.as_bytes()]));
            hex(&md5(&[
                format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes()
            ]))
        };
        let want = expect("AUTHENTICATE");
        if !subtle_eq(want.as_bytes(), resp.to_ascii_lowercase().as_bytes()) {
            return Outcome::Failed("wrong password");
        }
        // ZooKeeper authorizes only the authenticated user itself.
        if authzid.is_some_and(|z| z != user) {
            return Outcome::Failed("authorization id differs from the user");
        }
        Outcome::Done {
            token: format!("rspauth={}", expect("")).into_bytes(),
            authz: user.to_string(),
        }
    }
}

/// Constant-time equality of two byte strings of public length.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 section 4's example (realm elwood.innosoft.com, user chris,
    /// password secret, imap/elwood.innosoft.com), computed with this
    /// module's digest: response d388dad90d4bbd760a152321f2143af7 and
    /// rspauth ea40f60335c427b5527b84dbabcdfffd, as the RFC gives them.
    #[test]
    fn rfc_2831_example() {
        let secret = md5(&[b"chris:elwood.innosoft.com:secret"]);
        let mut a1 = secret.to_vec();
        a1.extend_from_slice(b":OA6MG9tEQGm2hh:OA6MHXh6VqTrRk");
        let ha1 = hex(&md5(&[&a1]));
        let ha2 = hex(&md5(&[b"AUTHENTICATE:imap/elwood.innosoft.com"]));
        let r = hex(&md5(&[format!(
            "{ha1}:OA6MG9tEQGm2hh:00000001:OA6MHXh6VqTrRk:auth:{ha2}"
        )
        .as_bytes()]));
        assert_eq!(r, "d388dad90d4bbd760a152321f2143af7");
        let ha2 = hex(&md5(&[b":imap/elwood.innosoft.com"]));
        let r = hex(&md5(&[format!(
            "{ha1}:OA6MG9tEQGm2hh:00000001:OA6MHXh6VqTrRk:auth:{ha2}"
        )
        .as_bytes()]));
        assert_eq!(r, "ea40f60335c427b5527b84dbabcdfffd");
    }

    fn client_response(user: &str, pw: &str, nonce: &str, authzid: Option<&str>) -> String {
        let secret = md5(&[format!("{user}:{REALM}:{pw}").as_bytes()]);
        let mut a1 = secret.to_vec();
        a1.extend_from_slice(format!(":{nonce}:cn0nce").as_bytes());
        if let Some(z) = authzid {
            a1.extend_from_slice(format!(":{z}").as_bytes());
        }
        let ha1 = hex(&md5(&[&a1]));
        let ha2 = hex(&md5(&[format!("AUTHENTICATE:{DIGEST_URI}").as_bytes()]));
        let r = hex(&md5(&[
            format!("{ha1}:{nonce}:00000001:cn0nce:auth:{ha2}").as_bytes()
        ]));
        let z = authzid
            .map(|z| format!(",authzid=\"{z}\""))
            .unwrap_or_default();
        format!(
            "charset=utf-8,username=\"{user}\",realm=\"{REALM}\",nonce=\"{nonce}\",nc=00000001,\
             cnonce=\"cn0nce\",digest-uri=\"{DIGEST_URI}\",maxbuf=65536,response={r},qop=auth{z}"
        )
    }

    #[test]
    fn a_right_password_authenticates_and_a_wrong_one_does_not() {
        let users = |u: &str| (u == "bob").then(|| "s3cret".to_string());
        let (s, challenge) = DigestMd5::start("n0nce".into());
        let c = String::from_utf8(challenge).unwrap();
        let d = parse_directives(&c).unwrap();
        assert_eq!(d["nonce"], "n0nce");
        assert_eq!(d["realm"], REALM);
        match s.respond(
            client_response("bob", "s3cret", "n0nce", None).as_bytes(),
            users,
        ) {
            Outcome::Done { token, authz } => {
                assert_eq!(authz, "bob");
                assert!(String::from_utf8(token).unwrap().starts_with("rspauth="));
            }
            o => panic!("{o:?}"),
        }
        let wrong = client_response("bob", "guess", "n0nce", None);
        assert_eq!(
            s.respond(wrong.as_bytes(), users),
            Outcome::Failed("wrong password")
        );
        let stale = client_response("bob", "s3cret", "other", None);
        assert_eq!(
            s.respond(stale.as_bytes(), users),
            Outcome::Failed("nonce mismatch")
        );
        let nobody = client_response("eve", "s3cret", "n0nce", None);
        assert_eq!(
            s.respond(nobody.as_bytes(), users),
            Outcome::Failed("unknown user")
        );
        let other = client_response("bob", "s3cret", "n0nce", Some("super"));
        assert_eq!(
            s.respond(other.as_bytes(), users),
            Outcome::Failed("authorization id differs from the user")
        );
        assert!(matches!(
            s.respond(b"username=\"bob\",nonce=", users),
            Outcome::Failed(_)
        ));
    }
}
