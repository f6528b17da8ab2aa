//! The opening of a server-to-server connection: who is dialing, and (with
//! quorum authentication on) a mutual challenge-response over the password
//! both servers hold (the JAAS `QuorumLearner` credentials of the dialer,
//! checked against the `QuorumServer` users of the acceptor), before any
//! ZAB frame. Pure: nonces come from the caller, which reads the OS's
//! random source.
//!
//! ```text
//! dialer -> acceptor: HELLO    magic "CRPRPR02", dialer id u64, flags u8 (bit 0: auth),
//!                              [auth: nonce_d 32 bytes, user length u8, user]
//! acceptor -> dialer: CHALLENGE (auth only) status u8 (1: prove it, 0: not configured), nonce_a 32
//! dialer -> acceptor: PROOF    (status 1) HMAC-SHA256(password, "corral peer dialer"
//!                              | dialer id | acceptor id | nonce_a | nonce_d)
//! acceptor -> dialer: PROOF    HMAC-SHA256(password, "corral peer acceptor"
//!                              | acceptor id | dialer id | nonce_d | nonce_a)
//! ```
//!
//! The dialer proves itself first, so a stranger that dials learns nothing
//! it could test passwords against offline (it gets a fresh nonce, then the
//! connection closes). Both nonces are fresh per connection and both ids are
//! in every MAC, so a proof cannot be replayed on another connection or for
//! another pair of servers. The password itself never crosses the wire.
//! Integers are little-endian, like the peer frames.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HELLO's first bytes (version 2 of the opening; version 1 had no auth).
pub const MAGIC: [u8; 8] = *b"CRPRPR02";
/// HELLO without auth: magic, id, flags.
pub const HELLO_LEN: usize = 17;
pub const NONCE_LEN: usize = 32;
pub const MAC_LEN: usize = 32;
/// CHALLENGE: status, nonce.
pub const CHALLENGE_LEN: usize = 1 + NONCE_LEN;

pub type Nonce = [u8; NONCE_LEN];
pub type Proof = [u8; MAC_LEN];

/// The dialer's opening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub id: u64,
    /// With quorum authentication: the dialer's nonce and user name.
    pub auth: Option<(Nonce, String)>,
}

impl Hello {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HELLO_LEN + NONCE_LEN + 1 + 32);
        v.extend_from_slice(&MAGIC);
        v.extend_from_slice(&self.id.to_le_bytes());
        match &self.auth {
            None => v.push(0),
            Some((nonce, user)) => {
                v.push(1);
                v.extend_from_slice(nonce);
                let user = &user.as_bytes()[..user.len().min(255)];
                v.push(user.len() as u8);
                v.extend_from_slice(user);
            }
        }
        v
    }

    /// How many more bytes a HELLO whose first `have.len()` bytes are
    /// `have` needs in all (so a reader can read exactly that much), or an
    /// error if it is not a HELLO. Call with at least [`HELLO_LEN`] bytes,
    /// then again with `HELLO_LEN + NONCE_LEN + 1`.
    pub fn needed(have: &[u8]) -> Result<usize, &'static str> {
        if have.len() < HELLO_LEN {
            return Ok(HELLO_LEN);
        }
        if have[..8] != MAGIC {
            return Err("not a corral peer (bad magic)");
        }
        match have[16] {
            0 => Ok(HELLO_LEN),
            1 if have.len() < HELLO_LEN + NONCE_LEN + 1 => Ok(HELLO_LEN + NONCE_LEN + 1),
            1 => Ok(HELLO_LEN + NONCE_LEN + 1 + have[HELLO_LEN + NONCE_LEN] as usize),
            _ => Err("unknown HELLO flags"),
        }
    }

    /// Decodes a whole HELLO (exactly [`Hello::needed`] bytes).
    pub fn decode(b: &[u8]) -> Result<Hello, &'static str> {
        if Hello::needed(b)? != b.len() {
            return Err("HELLO of the wrong length");
        }
        let id = u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"));
        let auth = if b[16] == 1 {
            let nonce: Nonce = b[HELLO_LEN..HELLO_LEN + NONCE_LEN]
                .try_into()
                .expect("nonce bytes");
            let user = std::str::from_utf8(&b[HELLO_LEN + NONCE_LEN + 1..])
                .map_err(|_| "user name is not UTF-8")?;
            Some((nonce, user.to_string()))
        } else {
            None
        };
        Ok(Hello { id, auth })
    }
}

/// The acceptor's challenge (auth only).
pub fn challenge(configured: bool, nonce: &Nonce) -> [u8; CHALLENGE_LEN] {
    let mut c = [0u8; CHALLENGE_LEN];
    c[0] = configured as u8;
    c[1..].copy_from_slice(nonce);
    c
}

fn mac(password: &str, label: &[u8], first: u64, second: u64, n1: &Nonce, n2: &Nonce) -> Proof {
    let mut m = Hmac::<Sha256>::new_from_slice(password.as_bytes()).expect("HMAC takes any key");
    m.update(label);
    m.update(&first.to_le_bytes());
    m.update(&second.to_le_bytes());
    m.update(n1);
    m.update(n2);
    m.finalize().into_bytes().into()
}

/// The dialer's proof.
pub fn dialer_proof(password: &str, dialer: u64, acceptor: u64, na: &Nonce, nd: &Nonce) -> Proof {
    mac(password, b"corral peer dialer", dialer, acceptor, na, nd)
}

/// The acceptor's proof.
pub fn acceptor_proof(password: &str, acceptor: u64, dialer: u64, nd: &Nonce, na: &Nonce) -> Proof {
    mac(password, b"corral peer acceptor", acceptor, dialer, nd, na)
}

/// Constant-time comparison of a received proof with the expected one.
pub fn proof_matches(got: &[u8], want: &Proof) -> bool {
    got.len() == want.len() && got.iter().zip(want).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trips_and_reports_its_length() {
        let plain = Hello { id: 7, auth: None };
        let b = plain.encode();
        assert_eq!(b.len(), HELLO_LEN);
        assert_eq!(Hello::needed(&b), Ok(HELLO_LEN));
        assert_eq!(Hello::decode(&b), Ok(plain));
        let auth = Hello {
            id: 3,
            auth: Some(([9; NONCE_LEN], "server".into())),
        };
        let b = auth.encode();
        assert_eq!(
            Hello::needed(&b[..HELLO_LEN]),
            Ok(HELLO_LEN + NONCE_LEN + 1)
        );
        assert_eq!(Hello::needed(&b[..HELLO_LEN + NONCE_LEN + 1]), Ok(b.len()));
        assert_eq!(Hello::decode(&b), Ok(auth));
        assert!(Hello::needed(b"CRPRPEER\x01\0\0\0\0\0\0\0\0").is_err());
        let mut bad = b.clone();
        bad[16] = 2;
        assert!(Hello::decode(&bad).is_err());
        assert!(Hello::decode(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn proofs_bind_the_password_the_ids_and_both_nonces() {
        let (nd, na) = ([1u8; 32], [2u8; 32]);
        let p = dialer_proof("pw", 3, 1, &na, &nd);
        assert!(proof_matches(&p, &dialer_proof("pw", 3, 1, &na, &nd)));
        for other in [
            dialer_proof("pW", 3, 1, &na, &nd),
            dialer_proof("pw", 2, 1, &na, &nd),
            dialer_proof("pw", 3, 2, &na, &nd),
            dialer_proof("pw", 3, 1, &nd, &na),
            dialer_proof("pw", 3, 1, &[0; 32], &nd),
            acceptor_proof("pw", 3, 1, &na, &nd),
        ] {
            assert!(!proof_matches(&p, &other));
        }
        assert!(!proof_matches(&p[..31], &p));
        // RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
        let mut m = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        let want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let got: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, want);
    }
}
