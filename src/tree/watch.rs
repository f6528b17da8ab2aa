//! Watch tables, as ZooKeeper's WatchManager keeps them: a data table
//! (getData/exists watches, persistent and recursive watches) and a child
//! table (getChildren watches, persistent watches). Watches belong to a
//! connection. Each entry carries mode bits; a one-shot bit is consumed when it
//! fires, persistent bits stay. Recursive watches fire for every descendant.

use crate::proto::codes::event;
use crate::types::{ConnId, FxHashMap, FxHashSet};
use hashbrown::HashTable;
use std::hash::Hasher;
use std::rc::Rc;

fn path_hash(p: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(p.as_bytes());
    h.finish()
}

/// A map keyed by shared paths whose entries can also be visited by bucket
/// index: a listing (`wchp`, `wchc`) resumes from a cursor in later steps
/// instead of copying every key at once. Between steps the map may change:
/// an entry present throughout is visited once unless the table was resized
/// in between (then entries may be seen twice or missed, as a listing taken
/// while the server runs may show a path that was just added or removed).
struct PathMap<V> {
    t: HashTable<(Rc<str>, V)>,
}

impl<V> Default for PathMap<V> {
    fn default() -> Self {
        PathMap {
            t: HashTable::new(),
        }
    }
}

impl<V> PathMap<V> {
    fn len(&self) -> usize {
        self.t.len()
    }

    fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    fn get_key_value(&self, p: &str) -> Option<(&Rc<str>, &V)> {
        self.t
            .find(path_hash(p), |e| &*e.0 == p)
            .map(|e| (&e.0, &e.1))
    }

    fn get(&self, p: &str) -> Option<&V> {
        self.get_key_value(p).map(|e| e.1)
    }

    fn contains(&self, p: &str) -> bool {
        self.get_key_value(p).is_some()
    }

    fn get_mut(&mut self, p: &str) -> Option<&mut V> {
        self.t
            .find_mut(path_hash(p), |e| &*e.0 == p)
            .map(|e| &mut e.1)
    }

    /// The value at `key`, inserted with `f` if absent.
    fn get_or_insert_with(&mut self, key: &Rc<str>, f: impl FnOnce() -> V) -> &mut V {
        let e = self
            .t
            .entry(path_hash(key), |e| e.0 == *key, |e| path_hash(&e.0));
        &mut e.or_insert_with(|| (key.clone(), f())).into_mut().1
    }

    fn remove(&mut self, p: &str) -> Option<V> {
        match self.t.find_entry(path_hash(p), |e| &*e.0 == p) {
            Ok(o) => Some(o.remove().0 .1),
            Err(_) => None,
        }
    }

    fn keys(&self) -> impl Iterator<Item = &Rc<str>> {
        self.t.iter().map(|e| &e.0)
    }

    fn values(&self) -> impl Iterator<Item = &V> {
        self.t.iter().map(|e| &e.1)
    }

    fn into_keys(self) -> impl Iterator<Item = Rc<str>> {
        self.t.into_iter().map(|e| e.0)
    }

    /// Up to `max` keys from bucket `*cursor` on; advances the cursor.
    /// `None` once every bucket has been visited.
    fn scan(&self, cursor: &mut usize, max: usize) -> Option<Vec<Rc<str>>> {
        let n = self.t.num_buckets();
        if *cursor >= n {
            return None;
        }
        let mut out = Vec::new();
        while *cursor < n && out.len() < max {
            if let Some(e) = self.t.get_bucket(*cursor) {
                out.push(e.0.clone());
            }
            *cursor += 1;
        }
        Some(out)
    }
}

/// A set of shared paths (a [`PathMap`] without values).
type PathSet = PathMap<()>;

impl PathSet {
    fn get_key(&self, p: &str) -> Option<&Rc<str>> {
        self.get_key_value(p).map(|e| e.0)
    }

    fn insert(&mut self, key: Rc<str>) {
        self.get_or_insert_with(&key, || ());
    }
}

pub const STANDARD: u8 = 1;
pub const PERSISTENT: u8 = 2;
pub const RECURSIVE: u8 = 4;

/// The watchers of one path. Most paths have a handful, kept in a vector;
/// past [`SMALL`] they move to a map so that adding, removing and firing stay
/// linear in the number of watchers however many there are.
enum Watchers {
    Small(Vec<(ConnId, u8)>),
    Large(FxHashMap<ConnId, u8>),
}

const SMALL: usize = 32;

impl Watchers {
    fn len(&self) -> usize {
        match self {
            Watchers::Small(v) => v.len(),
            Watchers::Large(m) => m.len(),
        }
    }

    fn get(&self, conn: ConnId) -> Option<u8> {
        match self {
            Watchers::Small(v) => v.iter().find(|e| e.0 == conn).map(|e| e.1),
            Watchers::Large(m) => m.get(&conn).copied(),
        }
    }

    /// Adds `bit` for `conn`; true if `conn` had no entry.
    fn add(&mut self, conn: ConnId, bit: u8) -> bool {
        match self {
            Watchers::Small(v) => {
                if let Some(e) = v.iter_mut().find(|e| e.0 == conn) {
                    e.1 |= bit;
                    return false;
                }
                if v.len() < SMALL {
                    v.push((conn, bit));
                    return true;
                }
                let mut m: FxHashMap<ConnId, u8> = v.drain(..).collect();
                m.insert(conn, bit);
                *self = Watchers::Large(m);
                true
            }
            Watchers::Large(m) => {
                let e = m.entry(conn).or_insert(0);
                let new = *e == 0;
                *e |= bit;
                new
            }
        }
    }

    fn remove(&mut self, conn: ConnId) -> Option<u8> {
        match self {
            Watchers::Small(v) => {
                let at = v.iter().position(|e| e.0 == conn)?;
                Some(v.swap_remove(at).1)
            }
            Watchers::Large(m) => m.remove(&conn),
        }
    }

    /// Visits every entry; `f` returns false to drop it.
    fn retain(&mut self, mut f: impl FnMut(ConnId, &mut u8) -> bool) {
        match self {
            Watchers::Small(v) => v.retain_mut(|e| f(e.0, &mut e.1)),
            Watchers::Large(m) => m.retain(|c, b| f(*c, b)),
        }
    }
}

/// Collects notified connections once each. The first list gathered needs
/// no check (a list holds a connection once); later lists go through `seen`.
struct Gather<'a> {
    out: &'a mut Vec<ConnId>,
    seen: &'a mut FxHashSet<ConnId>,
    dedup: bool,
}

impl Gather<'_> {
    fn start_list(&mut self) {
        if !self.dedup && !self.out.is_empty() {
            self.dedup = true;
            self.seen.clear();
            self.seen.extend(self.out.iter().copied());
        }
    }

    fn push(&mut self, c: ConnId) {
        if !self.dedup || self.seen.insert(c) {
            self.out.push(c);
        }
    }
}

#[derive(Default)]
struct Table {
    map: PathMap<Watchers>,
}

impl Table {
    fn add(&mut self, path: &Rc<str>, conn: ConnId, bit: u8) -> bool {
        self.map
            .get_or_insert_with(path, || Watchers::Small(Vec::new()))
            .add(conn, bit)
    }

    fn has(&self, path: &str, conn: ConnId) -> bool {
        self.map.get(path).is_some_and(|w| w.get(conn).is_some())
    }

    fn bits(&self, path: &str, conn: ConnId) -> Option<u8> {
        self.map.get(path).and_then(|w| w.get(conn))
    }

    /// Removes `conn`'s entry at `path`, returning its bits.
    fn remove(&mut self, path: &str, conn: ConnId) -> Option<u8> {
        let w = self.map.get_mut(path)?;
        let bits = w.remove(conn)?;
        if w.len() == 0 {
            self.map.remove(path);
        }
        Some(bits)
    }

    /// Collects the watchers `path` fires (exact path: every mode; an
    /// ancestor: recursive only), consuming one-shot bits. Entries that
    /// disappear entirely are reported in `gone`.
    fn fire(
        &mut self,
        path: &str,
        ancestors: bool,
        g: &mut Gather<'_>,
        gone: &mut Vec<(Rc<str>, ConnId)>,
    ) {
        let mut p = path;
        let mut exact = true;
        loop {
            if let Some(key) = self.map.get_key_value(p).map(|e| e.0.clone()) {
                g.start_list();
                let w = self.map.get_mut(p).expect("present");
                w.retain(|c, bits| {
                    if !exact && *bits & RECURSIVE == 0 {
                        return true;
                    }
                    g.push(c);
                    if exact && *bits & STANDARD != 0 {
                        *bits &= !STANDARD;
                        if *bits == 0 {
                            gone.push((key.clone(), c));
                            return false;
                        }
                    }
                    true
                });
                if w.len() == 0 {
                    self.map.remove(p);
                }
            }
            if !ancestors || p == "/" || p.is_empty() {
                break;
            }
            exact = false;
            p = match p.rfind('/') {
                Some(0) => "/",
                Some(i) => &p[..i],
                None => break,
            };
        }
    }
}

#[derive(Default)]
struct ConnWatches {
    data: PathSet,
    child: PathSet,
    /// Bytes of the paths in `data` and `child` (each entry counted).
    bytes: usize,
}

/// How much one connection may watch: entries (a path in the data table and
/// the same path in the child table count twice) and the bytes of their
/// paths. A request that would go past either is refused whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchLimits {
    pub max_watches: usize,
    pub max_bytes: usize,
}

impl Default for WatchLimits {
    fn default() -> Self {
        WatchLimits {
            max_watches: 100_000,
            max_bytes: 64 << 20,
        }
    }
}

/// Which tables a watch request adds `path` to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    Data,
    Child,
    /// addWatch mode 0: both tables.
    Persistent,
    /// addWatch mode 1: the data table.
    Recursive,
}

/// Which table(s) a removeWatches/checkWatches request addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatcherType {
    Children,
    Data,
    Any,
}

impl WatcherType {
    pub fn from_wire(t: i32) -> Option<WatcherType> {
        match t {
            1 => Some(WatcherType::Children),
            2 => Some(WatcherType::Data),
            3 => Some(WatcherType::Any),
            _ => None,
        }
    }
}

#[derive(Default)]
pub struct WatchManager {
    data: Table,
    child: Table,
    recursive: usize,
    limits: WatchLimits,
    by_conn: FxHashMap<ConnId, ConnWatches>,
    scratch_gone: Vec<(Rc<str>, ConnId)>,
    scratch_seen: FxHashSet<ConnId>,
}

impl WatchManager {
    pub fn with_limits(limits: WatchLimits) -> Self {
        WatchManager {
            limits,
            ..WatchManager::default()
        }
    }

    /// True if `conn` may add a `kind` watch on `path`: re-arming a watch it
    /// holds always may; a new entry must keep it within the limits.
    pub fn admits(&self, conn: ConnId, path: &str, kind: WatchKind) -> bool {
        let cw = self.by_conn.get(&conn);
        let has = |data: bool| {
            cw.is_some_and(|c| {
                if data {
                    c.data.contains(path)
                } else {
                    c.child.contains(path)
                }
            })
        };
        let new_data = kind != WatchKind::Child && !has(true);
        let new_child = matches!(kind, WatchKind::Child | WatchKind::Persistent) && !has(false);
        let new = usize::from(new_data) + usize::from(new_child);
        let (watches, bytes) = self.usage(conn);
        new == 0
            || (watches + new <= self.limits.max_watches
                && bytes + new * path.len() <= self.limits.max_bytes)
    }

    /// `conn`'s (watch entries, bytes of their paths).
    pub fn usage(&self, conn: ConnId) -> (usize, usize) {
        self.by_conn
            .get(&conn)
            .map_or((0, 0), |c| (c.data.len() + c.child.len(), c.bytes))
    }

    fn key(&mut self, conn: ConnId, path: &str, data: bool) -> Rc<str> {
        let cw = self.by_conn.entry(conn).or_default();
        let (set, other) = if data {
            (&mut cw.data, &cw.child)
        } else {
            (&mut cw.child, &cw.data)
        };
        if let Some(k) = set.get_key(path) {
            return k.clone();
        }
        cw.bytes += path.len();
        // One allocation per watched path, shared by every connection's
        // entry and by both tables.
        let k: Rc<str> = other
            .get_key(path)
            .or_else(|| self.data.map.get_key_value(path).map(|e| e.0))
            .or_else(|| self.child.map.get_key_value(path).map(|e| e.0))
            .cloned()
            .unwrap_or_else(|| path.into());
        set.insert(k.clone());
        k
    }

    /// getData / exists watch (one-shot).
    pub fn add_data(&mut self, conn: ConnId, path: &str) {
        let k = self.key(conn, path, true);
        self.data.add(&k, conn, STANDARD);
    }

    /// getChildren watch (one-shot).
    pub fn add_child(&mut self, conn: ConnId, path: &str) {
        let k = self.key(conn, path, false);
        self.child.add(&k, conn, STANDARD);
    }

    /// addWatch: mode 0 persistent (data + child), 1 persistent-recursive.
    pub fn add_persistent(&mut self, conn: ConnId, path: &str, recursive: bool) {
        let k = self.key(conn, path, true);
        if recursive {
            let had = self
                .data
                .bits(path, conn)
                .is_some_and(|b| b & RECURSIVE != 0);
            self.data.add(&k, conn, RECURSIVE);
            if !had {
                self.recursive += 1;
            }
        } else {
            self.data.add(&k, conn, PERSISTENT);
            let k = self.key(conn, path, false);
            self.child.add(&k, conn, PERSISTENT);
        }
    }

    /// Connections to notify for event `kind` on `path`, in registration
    /// order, each once; one-shot watches are consumed.
    pub fn trigger(&mut self, kind: i32, path: &str, out: &mut Vec<ConnId>) {
        out.clear();
        let mut gone = std::mem::take(&mut self.scratch_gone);
        let mut seen = std::mem::take(&mut self.scratch_seen);
        let anc = self.recursive > 0;
        let mut g = Gather {
            out,
            seen: &mut seen,
            dedup: false,
        };
        match kind {
            event::NODE_CREATED | event::NODE_DATA_CHANGED => {
                self.data.fire(path, anc, &mut g, &mut gone);
                self.forget(&mut gone, true);
            }
            event::NODE_DELETED => {
                self.data.fire(path, anc, &mut g, &mut gone);
                self.forget(&mut gone, true);
                self.child.fire(path, false, &mut g, &mut gone);
                self.forget(&mut gone, false);
            }
            event::NODE_CHILDREN_CHANGED => {
                self.child.fire(path, false, &mut g, &mut gone);
                self.forget(&mut gone, false);
            }
            _ => {}
        }
        self.scratch_gone = gone;
        self.scratch_seen = seen;
    }

    fn forget(&mut self, gone: &mut Vec<(Rc<str>, ConnId)>, data: bool) {
        for (p, c) in gone.drain(..) {
            if let Some(cw) = self.by_conn.get_mut(&c) {
                let removed = if data {
                    cw.data.remove(&p)
                } else {
                    cw.child.remove(&p)
                };
                if removed.is_some() {
                    cw.bytes -= p.len();
                }
            }
        }
    }

    fn remove_in(&mut self, conn: ConnId, path: &str, data: bool) -> bool {
        let table = if data {
            &mut self.data
        } else {
            &mut self.child
        };
        match table.remove(path, conn) {
            Some(bits) => {
                if data && bits & RECURSIVE != 0 {
                    self.recursive -= 1;
                }
                if let Some(cw) = self.by_conn.get_mut(&conn) {
                    let removed = if data {
                        cw.data.remove(path)
                    } else {
                        cw.child.remove(path)
                    };
                    if removed.is_some() {
                        cw.bytes -= path.len();
                    }
                }
                true
            }
            None => false,
        }
    }

    /// removeWatches: true if anything was removed.
    pub fn remove(&mut self, conn: ConnId, path: &str, t: WatcherType) -> bool {
        let mut any = false;
        if matches!(t, WatcherType::Children | WatcherType::Any) {
            any |= self.remove_in(conn, path, false);
        }
        if matches!(t, WatcherType::Data | WatcherType::Any) {
            any |= self.remove_in(conn, path, true);
        }
        any
    }

    /// checkWatches: true if such a watch exists.
    pub fn contains(&self, conn: ConnId, path: &str, t: WatcherType) -> bool {
        let c = matches!(t, WatcherType::Children | WatcherType::Any) && self.child.has(path, conn);
        let d = matches!(t, WatcherType::Data | WatcherType::Any) && self.data.has(path, conn);
        c || d
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        let Some(cw) = self.by_conn.remove(&conn) else {
            return;
        };
        for p in cw.data.into_keys() {
            if let Some(bits) = self.data.remove(&p, conn) {
                if bits & RECURSIVE != 0 {
                    self.recursive -= 1;
                }
            }
        }
        for p in cw.child.into_keys() {
            self.child.remove(&p, conn);
        }
    }

    /// (connections with data watches, watched data paths, data watches):
    /// what `wchs` reports.
    pub fn data_summary(&self) -> (usize, usize, usize) {
        let conns = self.by_conn.values().filter(|c| !c.data.is_empty()).count();
        let total = self.data.map.values().map(Watchers::len).sum();
        (conns, self.data.map.len(), total)
    }

    /// Total watches in both tables (mntr zk_watch_count).
    pub fn total(&self) -> usize {
        self.data.map.values().map(Watchers::len).sum::<usize>()
            + self.child.map.values().map(Watchers::len).sum::<usize>()
    }

    /// Connections with data watches, in id order (wchc, streamed).
    pub fn data_watching_conns(&self) -> Vec<ConnId> {
        let mut v: Vec<ConnId> = self
            .by_conn
            .iter()
            .filter(|(_, c)| !c.data.is_empty())
            .map(|(k, _)| *k)
            .collect();
        v.sort_unstable();
        v
    }

    /// `conn`'s data-watch paths, shared (no copy of the strings), in hash
    /// order.
    pub fn data_paths_of(&self, conn: ConnId) -> Vec<Rc<str>> {
        self.by_conn
            .get(&conn)
            .map(|c| c.data.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// How many data paths `conn` watches.
    pub fn data_path_count_of(&self, conn: ConnId) -> usize {
        self.by_conn.get(&conn).map_or(0, |c| c.data.len())
    }

    /// Up to `max` of `conn`'s data-watch paths from `*cursor` on (a
    /// streamed wchc); `None` when they have all been visited.
    pub fn data_paths_of_scan(
        &self,
        conn: ConnId,
        cursor: &mut usize,
        max: usize,
    ) -> Option<Vec<Rc<str>>> {
        self.by_conn.get(&conn)?.data.scan(cursor, max)
    }

    /// Every watched data path, shared, in hash order.
    pub fn data_paths(&self) -> Vec<Rc<str>> {
        self.data.map.keys().cloned().collect()
    }

    /// How many data paths are watched.
    pub fn data_path_count(&self) -> usize {
        self.data.map.len()
    }

    /// Up to `max` watched data paths from `*cursor` on (a streamed wchp);
    /// `None` when they have all been visited.
    pub fn data_paths_scan(&self, cursor: &mut usize, max: usize) -> Option<Vec<Rc<str>>> {
        self.data.map.scan(cursor, max)
    }

    /// The connections watching data path `path` (wchp).
    pub fn data_watchers_of(&self, path: &str) -> Vec<ConnId> {
        let mut v = Vec::new();
        if let Some(w) = self.data.map.get(path) {
            match w {
                Watchers::Small(l) => v.extend(l.iter().map(|e| e.0)),
                Watchers::Large(m) => v.extend(m.keys().copied()),
            }
        }
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u64) -> ConnId {
        ConnId(n)
    }

    #[test]
    fn one_shot_fires_once_and_persistent_stays() {
        let mut w = WatchManager::default();
        let mut out = Vec::new();
        w.add_data(c(1), "/a");
        w.add_persistent(c(2), "/a", false);
        w.trigger(event::NODE_DATA_CHANGED, "/a", &mut out);
        assert_eq!(out, vec![c(1), c(2)]);
        w.trigger(event::NODE_DATA_CHANGED, "/a", &mut out);
        assert_eq!(out, vec![c(2)]);
        w.trigger(event::NODE_CHILDREN_CHANGED, "/a", &mut out);
        assert_eq!(out, vec![c(2)]);
    }

    #[test]
    fn delete_notifies_data_and_child_watchers_once() {
        let mut w = WatchManager::default();
        let mut out = Vec::new();
        w.add_data(c(1), "/a");
        w.add_child(c(1), "/a");
        w.add_child(c(3), "/a");
        w.trigger(event::NODE_DELETED, "/a", &mut out);
        assert_eq!(out, vec![c(1), c(3)]);
        assert_eq!(w.total(), 0);
    }

    #[test]
    fn recursive_fires_for_descendants_but_not_child_events() {
        let mut w = WatchManager::default();
        let mut out = Vec::new();
        w.add_persistent(c(1), "/w", true);
        w.add_data(c(1), "/w/n/deep");
        w.trigger(event::NODE_CREATED, "/w/n/deep", &mut out);
        assert_eq!(out, vec![c(1)]);
        w.trigger(event::NODE_CHILDREN_CHANGED, "/w/n", &mut out);
        assert!(out.is_empty());
        w.trigger(event::NODE_DELETED, "/w/n/deep", &mut out);
        assert_eq!(out, vec![c(1)]);
        assert!(w.remove(c(1), "/w", WatcherType::Any));
        w.trigger(event::NODE_DELETED, "/w/x", &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn many_watchers_on_one_path_fire_once_each() {
        let mut w = WatchManager::default();
        let mut out = Vec::new();
        for i in 0..1000 {
            w.add_data(c(i), "/hot");
            w.add_child(c(i), "/hot");
            if i % 2 == 0 {
                w.add_persistent(c(i), "/", true);
            }
        }
        assert_eq!(w.total(), 2000 + 500);
        w.trigger(event::NODE_DELETED, "/hot", &mut out);
        let mut got = out.clone();
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 1000);
        assert_eq!(out.len(), 1000, "each connection once");
        // one-shot watches are consumed, the recursive ones stay
        assert_eq!(w.total(), 500);
        for i in 0..1000 {
            w.remove_conn(c(i));
        }
        assert_eq!(w.total(), 0);
    }

    #[test]
    fn remove_and_check_by_type() {
        let mut w = WatchManager::default();
        w.add_data(c(1), "/a");
        w.add_child(c(1), "/a");
        assert!(w.contains(c(1), "/a", WatcherType::Children));
        assert!(w.remove(c(1), "/a", WatcherType::Data));
        assert!(!w.contains(c(1), "/a", WatcherType::Data));
        assert!(w.contains(c(1), "/a", WatcherType::Any));
        assert!(!w.remove(c(2), "/a", WatcherType::Any));
        w.remove_conn(c(1));
        assert_eq!(w.total(), 0);
        assert_eq!(w.data_summary(), (0, 0, 0));
    }

    #[test]
    fn usage_follows_adds_fires_and_removals() {
        let mut w = WatchManager::with_limits(WatchLimits {
            max_watches: 3,
            max_bytes: 10,
        });
        let mut out = Vec::new();
        assert!(w.admits(c(1), "/abc", WatchKind::Persistent));
        w.add_persistent(c(1), "/abc", false);
        assert_eq!(w.usage(c(1)), (2, 8));
        // Re-arming is always admitted; a new entry past a limit is not.
        assert!(w.admits(c(1), "/abc", WatchKind::Child));
        assert!(!w.admits(c(1), "/abcd", WatchKind::Data));
        assert!(w.admits(c(1), "/x", WatchKind::Data));
        assert!(!w.admits(c(1), "/x", WatchKind::Persistent));
        w.add_data(c(1), "/x");
        assert_eq!(w.usage(c(1)), (3, 10));
        assert!(!w.admits(c(1), "/y", WatchKind::Child));
        assert!(w.admits(c(2), "/y", WatchKind::Child));
        w.trigger(event::NODE_CREATED, "/x", &mut out);
        assert_eq!(w.usage(c(1)), (2, 8));
        assert!(w.remove(c(1), "/abc", WatcherType::Children));
        assert_eq!(w.usage(c(1)), (1, 4));
        w.add_child(c(1), "/x");
        w.remove_conn(c(1));
        assert_eq!(w.usage(c(1)), (0, 0));
    }
}
