//! Sessions: the session table, ZooKeeper's bucketed expiry (deadlines
//! rounded up to the next tick), session ids and passwords. Pure: time comes
//! in as monotonic milliseconds.
//!
//! A session's password is 16 random bytes drawn by the server that creates
//! it (from the core's CSPRNG) and carried in its createSession txn, so
//! every server of an ensemble checks a reattach against the same bytes,
//! and snapshots keep them. Ids are random too (below the creating
//! server's id in the top byte): neither follows from another session's.
//! Sessions from logs and snapshots written before passwords were stored
//! keep ZooKeeper's derived password ([`legacy_password`]).

pub mod prep;

use crate::types::{ConnId, FxHashMap, FxHashSet, SessionId};
use std::collections::BTreeMap;

/// A session as stored in a snapshot and restored from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionImage {
    pub id: SessionId,
    pub timeout: i32,
    pub passwd: [u8; 16],
}

impl SessionImage {
    /// A session with ZooKeeper's derived password (one from a log or
    /// snapshot that predates stored passwords).
    pub fn legacy(id: SessionId, timeout: i32) -> SessionImage {
        SessionImage {
            id,
            timeout,
            passwd: legacy_password(id),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Session {
    pub id: SessionId,
    pub timeout_ms: u32,
    pub passwd: [u8; 16],
    /// Bucket (monotonic ms) in which the session expires.
    pub expires_at: u64,
    pub conn: Option<ConnId>,
    /// Set once a closeSession is under way; the session takes no new requests.
    pub closing: bool,
}

pub struct SessionTable {
    sessions: FxHashMap<SessionId, Session>,
    buckets: BTreeMap<u64, FxHashSet<SessionId>>,
    tick_ms: u64,
    /// The creating server's id, in the top byte of the ids it makes.
    server_bits: i64,
}

/// ZooKeeper's password of a session: Java's
/// `new Random(sessionId ^ 0xB3415C00L).nextBytes(16)`, which anyone can
/// derive from the id. Only for sessions whose txn or snapshot entry
/// predates stored passwords.
pub fn legacy_password(session: SessionId) -> [u8; 16] {
    const MUL: i64 = 0x5DEECE66D;
    const MASK: i64 = (1 << 48) - 1;
    let mut seed = (session ^ 0xB341_5C00) ^ MUL;
    seed &= MASK;
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        seed = (seed.wrapping_mul(MUL).wrapping_add(0xB)) & MASK;
        let mut rnd = (seed >> 16) as i32;
        let n = (16 - i).min(4);
        for _ in 0..n {
            out[i] = rnd as u8;
            rnd >>= 8;
            i += 1;
        }
    }
    out
}

/// Whether `got` is `want`, in time independent of where they differ.
pub fn passwd_matches(got: &[u8], want: &[u8; 16]) -> bool {
    got.len() == want.len() && got.iter().zip(want).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
}

impl SessionTable {
    /// `server_id` goes into the top byte of every id this server makes.
    pub fn new(tick_ms: u32, server_id: u8) -> SessionTable {
        SessionTable {
            sessions: FxHashMap::default(),
            buckets: BTreeMap::new(),
            tick_ms: tick_ms.max(1) as u64,
            server_bits: (server_id as i64) << 56,
        }
    }

    fn bucket_for(&self, now: u64, timeout: u32) -> u64 {
        (((now + timeout as u64) / self.tick_ms) + 1) * self.tick_ms
    }

    /// A fresh session id: this server's id in the top byte and 56 bits
    /// from `rng` below it, never 0 nor one in use.
    pub fn next_session_id(&mut self, rng: &mut impl rand_chacha::rand_core::RngCore) -> SessionId {
        loop {
            let id = self.server_bits | (rng.next_u64() & ((1 << 56) - 1)) as i64;
            if id != 0 && !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    pub fn add(&mut self, id: SessionId, timeout_ms: u32, passwd: [u8; 16], now: u64) {
        let at = self.bucket_for(now, timeout_ms);
        self.sessions.insert(
            id,
            Session {
                id,
                timeout_ms,
                passwd,
                expires_at: at,
                conn: None,
                closing: false,
            },
        );
        self.buckets.entry(at).or_default().insert(id);
    }

    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn get_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.get_mut(&id)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Refreshes a live session; false if it is unknown or closing.
    pub fn touch(&mut self, id: SessionId, now: u64) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let at = self.bucket_for(now, s.timeout_ms);
        let old = s.expires_at;
        if at == old {
            return true;
        }
        if let Some(b) = self.buckets.get_mut(&old) {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&old);
            }
        }
        self.buckets.entry(at).or_default().insert(id);
        if let Some(s) = self.sessions.get_mut(&id) {
            s.expires_at = at;
        }
        true
    }

    /// Changes the timeout (reattach renegotiates it) and refreshes.
    pub fn set_timeout(&mut self, id: SessionId, timeout_ms: u32, now: u64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.timeout_ms = timeout_ms;
        }
        self.touch(id, now);
    }

    pub fn remove(&mut self, id: SessionId) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        if let Some(b) = self.buckets.get_mut(&s.expires_at) {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&s.expires_at);
            }
        }
        Some(s)
    }

    /// Sessions whose bucket is at or before `now`, marked closing.
    pub fn expired(&mut self, now: u64) -> Vec<SessionId> {
        let mut out = Vec::new();
        while let Some((&at, _)) = self.buckets.first_key_value() {
            if at > now {
                break;
            }
            let ids = self.buckets.remove(&at).unwrap_or_default();
            let mut ids: Vec<SessionId> = ids.into_iter().collect();
            ids.sort();
            for id in ids {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.closing = true;
                    out.push(id);
                }
            }
        }
        out
    }

    /// (expiry bucket, sessions) for `dump`.
    pub fn buckets(&self) -> Vec<(u64, Vec<SessionId>)> {
        self.buckets
            .iter()
            .map(|(k, v)| (*k, v.iter().copied().collect()))
            .collect()
    }

    pub fn ids(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_matches_java_random() {
        // Captured from Apache ZooKeeper 3.8 (protocol reference §2.5):
        // session 0x010000059ba8000b got f02f5c460f5437220d3f19c3da5dd882.
        let p = legacy_password(0x010000059ba8000b);
        let hex: String = p.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "f02f5c460f5437220d3f19c3da5dd882");
    }

    #[test]
    fn expiry_is_bucketed_and_touch_extends() {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
        let mut t = SessionTable::new(2000, 1);
        let id = t.next_session_id(&mut rng);
        assert!(id > 0 && (id >> 56) == 1);
        t.add(id, 4000, [1; 16], 100);
        // deadline 4100 rounds up to the next tick boundary: 6000
        assert_eq!(t.get(id).unwrap().expires_at, 6000);
        assert!(t.expired(5999).is_empty());
        assert!(t.touch(id, 3000));
        assert!(t.expired(6000).is_empty());
        assert_eq!(t.expired(8000), vec![id]);
        assert!(!t.touch(id, 8000), "a closing session cannot be touched");
    }

    #[test]
    fn ids_are_random_below_the_server_byte_and_passwords_compare_exactly() {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([9; 32]);
        let mut t = SessionTable::new(2000, 3);
        let a = t.next_session_id(&mut rng);
        t.add(a, 4000, [0; 16], 0);
        let b = t.next_session_id(&mut rng);
        assert_eq!((a >> 56, b >> 56), (3, 3));
        // Not consecutive, nor close: 56 random bits each.
        assert!((a - b).unsigned_abs() > 1 << 32, "{a:#x} {b:#x}");
        let pw = [5u8; 16];
        assert!(passwd_matches(&pw, &pw));
        let mut other = pw;
        other[15] ^= 1;
        assert!(!passwd_matches(&other, &pw));
        assert!(!passwd_matches(&pw[..15], &pw));
    }
}
