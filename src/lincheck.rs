//! A linearizability checker for client histories (Wing & Gong's search
//! with Lowe's memoization, as in Knossos/Porcupine), and the model of a
//! znode as ZooKeeper clients use it for compare-and-set: a register of
//! (data, version) written by `setData` with an expected version.
//!
//! A history is a list of operations, each with the time it was invoked,
//! the time its answer arrived (`None` when it never did: a timeout or a
//! lost connection, so it may have taken effect at any later moment, or
//! never), its input and its output. The history is linearizable if the
//! operations can be put in one order that respects real time (an operation
//! that completed before another was invoked comes first) and in which every
//! completed operation's output is what the model gives. Histories should be
//! partitioned per znode first ([`check_partitioned`]): the search is
//! exponential in the worst case, and operations on different znodes are
//! independent.
//!
//! Pure and deterministic (fixed-hasher sets); used by the fault tests.

use crate::types::FxHashSet;
use std::hash::Hash;

/// A sequential specification.
pub trait Model {
    type State: Clone + Eq + Hash;
    type Input;
    type Output;
    /// The states the model may be in after `input` from `state`, given the
    /// observed output (`None`: unknown, any outcome including "never
    /// happened" is allowed). Empty when the output is impossible.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Vec<Self::State>;
}

/// One operation of a history.
#[derive(Clone, Debug)]
pub struct Op<I, O> {
    pub invoke: u64,
    /// When the answer arrived; `None` if it never did.
    pub complete: Option<u64>,
    pub input: I,
    pub output: Option<O>,
}

/// Whether `history` is linearizable with respect to `model` from `init`.
pub fn check<M: Model>(model: &M, init: M::State, history: &[Op<M::Input, M::Output>]) -> bool {
    let n = history.len();
    if n == 0 {
        return true;
    }
    // Events in time order: calls before returns at equal times is the
    // permissive reading (overlapping), so sort calls first.
    #[derive(Clone, Copy)]
    struct Ev {
        op: usize,
        call: bool,
        time: u64,
    }
    let mut evs: Vec<Ev> = Vec::with_capacity(2 * n);
    for (i, o) in history.iter().enumerate() {
        evs.push(Ev {
            op: i,
            call: true,
            time: o.invoke,
        });
        evs.push(Ev {
            op: i,
            call: false,
            time: o.complete.unwrap_or(u64::MAX),
        });
    }
    evs.sort_by_key(|e| (e.time, !e.call, e.op));
    // A doubly linked list over the events, with a sentinel head at index len.
    let len = evs.len();
    let head = len;
    let mut next = vec![usize::MAX; len + 1];
    let mut prev = vec![usize::MAX; len + 1];
    let mut ret_of = vec![0usize; n];
    let mut last = head;
    for (k, e) in evs.iter().enumerate() {
        next[last] = k;
        prev[k] = last;
        last = k;
        if !e.call {
            ret_of[e.op] = k;
        }
    }
    next[last] = usize::MAX;
    let words = n.div_ceil(64);
    let mut done = vec![0u64; words];
    // Ops that must be linearized: those that completed.
    let required = history.iter().filter(|o| o.complete.is_some()).count();
    let mut linearized_required = 0usize;
    let mut cache: FxHashSet<(Vec<u64>, M::State)> = FxHashSet::default();
    // Stack of (call event, state before, index of the successor taken).
    let mut stack: Vec<(usize, M::State, usize)> = Vec::new();
    let mut state = init;
    let mut entry = next[head];
    let mut alt_from = 0usize;
    loop {
        if linearized_required == required {
            return true;
        }
        if entry == usize::MAX || !evs[entry].call {
            // Past the end, or at the return of an op not yet linearized:
            // undo the latest choice and try its next alternative.
            let Some((e, prev_state, k)) = stack.pop() else {
                return false;
            };
            let op = evs[e].op;
            state = prev_state;
            done[op / 64] &= !(1 << (op % 64));
            if history[op].complete.is_some() {
                linearized_required -= 1;
            }
            unlift(e, ret_of[op], &mut next, &mut prev);
            entry = e;
            alt_from = k + 1;
            continue;
        }
        let e = evs[entry];
        let op = &history[e.op];
        let succ = model.step(&state, &op.input, op.output.as_ref());
        let mut taken = None;
        for (k, s) in succ.into_iter().enumerate().skip(alt_from) {
            let mut bits = done.clone();
            bits[e.op / 64] |= 1 << (e.op % 64);
            if cache.insert((bits, s.clone())) {
                taken = Some((k, s));
                break;
            }
        }
        alt_from = 0;
        if let Some((k, s)) = taken {
            stack.push((entry, std::mem::replace(&mut state, s), k));
            done[e.op / 64] |= 1 << (e.op % 64);
            if op.complete.is_some() {
                linearized_required += 1;
            }
            lift(entry, ret_of[e.op], &mut next, &mut prev);
            entry = next[head];
        } else {
            entry = next[entry];
        }
    }

    fn lift(call: usize, ret: usize, next: &mut [usize], prev: &mut [usize]) {
        for x in [call, ret] {
            let (p, nx) = (prev[x], next[x]);
            next[p] = nx;
            if nx != usize::MAX {
                prev[nx] = p;
            }
        }
    }

    fn unlift(call: usize, ret: usize, next: &mut [usize], prev: &mut [usize]) {
        for x in [ret, call] {
            let (p, nx) = (prev[x], next[x]);
            next[p] = x;
            if nx != usize::MAX {
                prev[nx] = x;
            }
        }
    }
}

/// Checks each partition on its own; returns the keys of those that are
/// not linearizable.
pub fn check_partitioned<K: Clone, M: Model>(
    model: &M,
    parts: impl IntoIterator<Item = (K, M::State, Vec<Op<M::Input, M::Output>>)>,
) -> Vec<K> {
    parts
        .into_iter()
        .filter(|(_, init, h)| !check(model, init.clone(), h))
        .map(|(k, _, _)| k)
        .collect()
}

/// A znode used as a compare-and-set register.
pub struct Znode;

/// The register's state: (data, version); `None` while the node is absent.
pub type ZnodeState = Option<(Vec<u8>, i32)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZnodeIn {
    /// getData.
    Read,
    /// setData with an expected version (-1: any).
    Write { data: Vec<u8>, expected: i32 },
    /// create (persistent).
    Create { data: Vec<u8> },
    /// delete with an expected version (-1: any).
    Delete { expected: i32 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZnodeOut {
    /// Read: the data and version seen (None: NoNode).
    Read(Option<(Vec<u8>, i32)>),
    /// Write/create succeeded; a write reports the new version.
    Ok { version: i32 },
    /// Delete succeeded.
    Deleted,
    /// BadVersion, NoNode, NodeExists: no effect.
    Rejected,
}

impl Model for Znode {
    type State = ZnodeState;
    type Input = ZnodeIn;
    type Output = ZnodeOut;

    fn step(&self, s: &ZnodeState, i: &ZnodeIn, o: Option<&ZnodeOut>) -> Vec<ZnodeState> {
        // What the op does if it takes effect at this point.
        let effect: (ZnodeState, ZnodeOut) = match (i, s) {
            (ZnodeIn::Read, _) => (s.clone(), ZnodeOut::Read(s.clone())),
            (ZnodeIn::Write { data, expected }, Some((_, v)))
                if *expected == -1 || expected == v =>
            {
                (Some((data.clone(), v + 1)), ZnodeOut::Ok { version: v + 1 })
            }
            (ZnodeIn::Write { .. }, _) => (s.clone(), ZnodeOut::Rejected),
            (ZnodeIn::Create { data }, None) => {
                (Some((data.clone(), 0)), ZnodeOut::Ok { version: 0 })
            }
            (ZnodeIn::Create { .. }, Some(_)) => (s.clone(), ZnodeOut::Rejected),
            (ZnodeIn::Delete { expected }, Some((_, v))) if *expected == -1 || expected == v => {
                (None, ZnodeOut::Deleted)
            }
            (ZnodeIn::Delete { .. }, _) => (s.clone(), ZnodeOut::Rejected),
        };
        match o {
            Some(o) if *o == effect.1 => vec![effect.0],
            Some(_) => Vec::new(),
            // Unknown: it took effect here, or it never took effect.
            None if effect.0 != *s => vec![effect.0, s.clone()],
            None => vec![s.clone()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(
        inv: u64,
        done: Option<u64>,
        data: &[u8],
        expected: i32,
        out: Option<ZnodeOut>,
    ) -> Op<ZnodeIn, ZnodeOut> {
        Op {
            invoke: inv,
            complete: done,
            input: ZnodeIn::Write {
                data: data.to_vec(),
                expected,
            },
            output: out,
        }
    }

    fn r(inv: u64, done: u64, seen: Option<(&[u8], i32)>) -> Op<ZnodeIn, ZnodeOut> {
        Op {
            invoke: inv,
            complete: Some(done),
            input: ZnodeIn::Read,
            output: Some(ZnodeOut::Read(seen.map(|(d, v)| (d.to_vec(), v)))),
        }
    }

    fn init() -> ZnodeState {
        Some((b"0".to_vec(), 0))
    }

    #[test]
    fn sequential_cas_history_is_linearizable() {
        let h = vec![
            w(0, Some(1), b"a", 0, Some(ZnodeOut::Ok { version: 1 })),
            w(2, Some(3), b"b", 0, Some(ZnodeOut::Rejected)),
            r(4, 5, Some((b"a", 1))),
            w(6, Some(7), b"c", 1, Some(ZnodeOut::Ok { version: 2 })),
            r(8, 9, Some((b"c", 2))),
        ];
        assert!(check(&Znode, init(), &h));
    }

    #[test]
    fn two_cas_winners_on_one_version_are_caught() {
        // Both writers expected version 0 and both were told they won.
        let h = vec![
            w(0, Some(10), b"a", 0, Some(ZnodeOut::Ok { version: 1 })),
            w(1, Some(11), b"b", 0, Some(ZnodeOut::Ok { version: 1 })),
        ];
        assert!(!check(&Znode, init(), &h));
    }

    #[test]
    fn a_lost_acknowledged_write_is_caught() {
        let h = vec![
            w(0, Some(1), b"a", -1, Some(ZnodeOut::Ok { version: 1 })),
            r(2, 3, Some((b"0", 0))),
        ];
        assert!(!check(&Znode, init(), &h));
    }

    #[test]
    fn stale_read_after_a_completed_write_is_caught_but_concurrent_is_fine() {
        let stale = vec![
            w(0, Some(5), b"a", 0, Some(ZnodeOut::Ok { version: 1 })),
            r(6, 7, Some((b"0", 0))),
        ];
        assert!(!check(&Znode, init(), &stale));
        let concurrent = vec![
            w(0, Some(5), b"a", 0, Some(ZnodeOut::Ok { version: 1 })),
            r(1, 4, Some((b"0", 0))),
            r(2, 6, Some((b"a", 1))),
        ];
        assert!(check(&Znode, init(), &concurrent));
    }

    #[test]
    fn unknown_writes_may_or_may_not_have_happened() {
        // The write's answer was lost; a later read saw it.
        let seen = vec![w(0, None, b"a", 0, None), r(5, 6, Some((b"a", 1)))];
        assert!(check(&Znode, init(), &seen));
        // ...or did not see it.
        let unseen = vec![w(0, None, b"a", 0, None), r(5, 6, Some((b"0", 0)))];
        assert!(check(&Znode, init(), &unseen));
        // But it cannot take effect before it was invoked.
        let early = vec![r(0, 1, Some((b"a", 1))), w(2, None, b"a", 0, None)];
        assert!(!check(&Znode, init(), &early));
        // Nor flip-flop: seen, then unseen.
        let flip = vec![
            w(0, None, b"a", 0, None),
            r(5, 6, Some((b"a", 1))),
            r(7, 8, Some((b"0", 0))),
        ];
        assert!(!check(&Znode, init(), &flip));
    }

    #[test]
    fn many_concurrent_writers_are_checked_quickly() {
        // 12 clients, each does CAS from the version it read; answers
        // consistent with one serial order 0..12 over overlapping windows.
        let mut h = Vec::new();
        for k in 0..12u64 {
            let v = k as i32;
            h.push(w(
                k * 3,
                Some(k * 3 + 20),
                format!("{k}").as_bytes(),
                v,
                Some(ZnodeOut::Ok { version: v + 1 }),
            ));
            // Reads after every write completed see the last one.
            h.push(r(100 + k, 200 + k, Some((b"11", 12))));
        }
        assert!(check(&Znode, init(), &h));
        // Flip the last winner's claimed version: now impossible.
        h[22].output = Some(ZnodeOut::Ok { version: 5 });
        assert!(!check(&Znode, init(), &h));
    }

    #[test]
    fn partitioned_check_names_the_bad_keys() {
        let good = vec![w(0, Some(1), b"a", 0, Some(ZnodeOut::Ok { version: 1 }))];
        let bad = vec![
            w(0, Some(1), b"a", 0, Some(ZnodeOut::Ok { version: 1 })),
            r(2, 3, None),
        ];
        let bad_keys = check_partitioned(&Znode, vec![("/a", init(), good), ("/b", init(), bad)]);
        assert_eq!(bad_keys, vec!["/b"]);
    }

    #[test]
    fn deletes_and_recreates_follow_the_model() {
        let del = |inv, done, expected, out| Op {
            invoke: inv,
            complete: Some(done),
            input: ZnodeIn::Delete { expected },
            output: Some(out),
        };
        let create = |inv, done, out| Op {
            invoke: inv,
            complete: Some(done),
            input: ZnodeIn::Create {
                data: b"n".to_vec(),
            },
            output: Some(out),
        };
        let ok = vec![
            del(0, 1, 3, ZnodeOut::Rejected),
            del(2, 3, 0, ZnodeOut::Deleted),
            r(4, 5, None),
            create(6, 7, ZnodeOut::Ok { version: 0 }),
            r(8, 9, Some((b"n", 0))),
        ];
        assert!(check(&Znode, init(), &ok));
        // A second delete of the same version cannot succeed.
        let twice = vec![
            del(0, 1, 0, ZnodeOut::Deleted),
            del(2, 3, 0, ZnodeOut::Deleted),
        ];
        assert!(!check(&Znode, init(), &twice));
    }
}
