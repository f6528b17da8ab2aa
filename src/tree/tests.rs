//! The arena, index and sibling lists of the DataTree, against a simple
//! model.

use super::*;
use crate::proto::codes::err;
use crate::tree::txn::{Txn, TxnHeader, TxnOp};
use proptest::prelude::*;
use std::collections::BTreeMap;

struct T {
    t: DataTree,
    zxid: Zxid,
}

impl T {
    fn new() -> T {
        T {
            t: DataTree::new(),
            zxid: 0,
        }
    }

    fn run(&mut self, session: SessionId, op: TxnOp) -> OpResult {
        self.zxid += 1;
        let txn = Txn {
            header: TxnHeader {
                session,
                cxid: 1,
                zxid: self.zxid,
                time: 1000 + self.zxid,
            },
            op,
        };
        let mut r = Vec::new();
        self.t.apply(txn, &mut |_| {}, &mut r);
        self.t.check_invariants();
        r.pop().expect("one result")
    }

    fn create_owned(&mut self, path: &str, data: Option<&[u8]>, owner: i64) -> OpResult {
        let pc = path::split(path)
            .and_then(|(pp, _)| self.t.get(pp))
            .map_or(0, |n| n.cversion() + 1);
        self.run(
            owner,
            TxnOp::Create {
                path: path.into(),
                data: data.map(Box::from),
                acl: acl::open_acl(),
                owner,
                parent_cversion: pc,
            },
        )
    }

    fn create(&mut self, path: &str, data: Option<&[u8]>) -> OpResult {
        self.create_owned(path, data, 0)
    }

    fn delete(&mut self, path: &str) -> OpResult {
        self.run(0, TxnOp::Delete { path: path.into() })
    }

    fn set(&mut self, path: &str, data: Option<&[u8]>) -> OpResult {
        let version = self.t.get(path).map_or(0, |n| n.version() + 1);
        self.run(
            0,
            TxnOp::SetData {
                path: path.into(),
                data: data.map(Box::from),
                version,
            },
        )
    }

    fn kids(&self, path: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .t
            .get(path)
            .map(|n| n.children().map(str::to_string).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn created(r: &OpResult) -> bool {
    matches!(r, OpResult::Created { .. })
}

#[test]
fn fresh_tree() {
    let t = DataTree::new();
    t.check_invariants();
    assert_eq!(t.node_count(), 5);
    let root = t.get("/").unwrap();
    assert_eq!(root.children().collect::<Vec<_>>(), vec!["zookeeper"]);
    assert_eq!(root.stat().num_children, 1);
    assert_eq!(root.data(), Some(&b""[..]));
    let mut zk: Vec<&str> = t.get("/zookeeper").unwrap().children().collect();
    zk.sort();
    assert_eq!(zk, vec!["config", "quota"]);
    assert_eq!(t.get("/zookeeper/config").unwrap().aversion(), -1);
    assert_eq!(t.get("/zookeeper/config").unwrap().acl(), &acl::read_acl());
    assert_eq!(t.get("/zookeeper/quota").unwrap().acl(), &acl::open_acl());
}

#[test]
fn lookups_only_match_exact_paths() {
    let mut t = T::new();
    assert!(created(&t.create("/a", None)));
    assert!(created(&t.create("/a/b", None)));
    for p in ["", "/", "/a", "/a/b", "/zookeeper/quota"] {
        assert!(t.t.get(p).is_some(), "{p:?}");
    }
    for p in [
        "a",
        "a/b",
        "/a/",
        "//a",
        "/a//b",
        "/a/b/",
        "/b",
        "/a/b/c",
        "/zookeeper/",
        "/ab",
        "/a/bb",
    ] {
        assert!(t.t.get(p).is_none(), "{p:?}");
    }
    assert!(std::ptr::eq(
        t.t.get("").unwrap().acl(),
        t.t.get("/").unwrap().acl()
    ));
}

#[test]
fn freed_slots_are_reused() {
    let mut t = T::new();
    for p in ["/a", "/b", "/c"] {
        assert!(created(&t.create(p, Some(p.as_bytes()))));
    }
    let slots = t.t.nodes.len();
    assert_eq!(t.delete("/b"), OpResult::Deleted);
    assert_eq!(t.delete("/b"), OpResult::Error(err::NO_NODE));
    assert!(t.t.get("/b").is_none());
    assert_eq!(t.t.node_count(), 5 + 2);
    assert!(created(&t.create("/d", Some(b"d"))));
    assert_eq!(t.t.nodes.len(), slots, "the free slot was reused");
    // Delete several, recreate in another order: still no new slots.
    for p in ["/a", "/c", "/d"] {
        assert_eq!(t.delete(p), OpResult::Deleted);
    }
    for p in ["/d", "/x", "/x/y"] {
        assert!(created(&t.create(p, Some(p.as_bytes()))));
    }
    assert_eq!(t.t.nodes.len(), slots);
    for p in ["/a", "/b", "/c"] {
        assert!(t.t.get(p).is_none(), "{p}");
    }
    for p in ["/d", "/x", "/x/y"] {
        assert_eq!(t.t.get(p).unwrap().data(), Some(p.as_bytes()), "{p}");
    }
    assert_eq!(t.kids("/"), vec!["d", "x", "zookeeper"]);
    assert_eq!(t.kids("/x"), vec!["y"]);
}

#[test]
fn lookups_after_deletes() {
    let mut t = T::new();
    for p in ["/x", "/x/y", "/x/y/z", "/x/w"] {
        assert!(created(&t.create(p, None)));
    }
    let old = t.t.get("/x/y/z").unwrap().czxid();
    assert_eq!(t.delete("/x/y/z"), OpResult::Deleted);
    assert_eq!(t.delete("/x/y"), OpResult::Deleted);
    assert!(t.t.get("/x/y/z").is_none() && t.t.get("/x/y").is_none());
    assert_eq!(t.t.get("/x").unwrap().num_children(), 1);
    assert_eq!(
        t.create("/x/y/z", None),
        OpResult::Error(err::NO_NODE),
        "parent gone"
    );
    assert!(created(&t.create("/x/y", None)));
    assert!(t.t.get("/x/y/z").is_none(), "a new /x/y has no children");
    assert!(created(&t.create("/x/y/z", Some(b"new"))));
    let z = t.t.get("/x/y/z").unwrap();
    assert!(z.czxid() > old);
    assert_eq!(z.data(), Some(&b"new"[..]));
    // Same names under different parents are different nodes.
    assert!(created(&t.create("/x/w/z", Some(b"other"))));
    assert_eq!(t.t.get("/x/w/z").unwrap().data(), Some(&b"other"[..]));
    assert_eq!(t.t.get("/x/y/z").unwrap().data(), Some(&b"new"[..]));
    assert_eq!(t.create("/x/w/z", None), OpResult::Error(err::NODE_EXISTS));
}

#[test]
fn children_after_interleaved_creates_and_deletes() {
    let mut t = T::new();
    assert!(created(&t.create("/p", None)));
    let mut want = std::collections::BTreeSet::new();
    for i in 0..60 {
        let name = format!("c{i:02}");
        assert!(created(&t.create(&format!("/p/{name}"), None)));
        want.insert(name);
        if i % 3 == 2 {
            // Delete the oldest, the newest and a middle one by turns.
            let victim = match i % 9 {
                2 => want.iter().next().cloned(),
                5 => want.iter().next_back().cloned(),
                _ => want.iter().nth(want.len() / 2).cloned(),
            }
            .unwrap();
            assert_eq!(t.delete(&format!("/p/{victim}")), OpResult::Deleted);
            want.remove(&victim);
        }
        assert_eq!(t.kids("/p"), want.iter().cloned().collect::<Vec<_>>());
    }
    let n = t.t.get("/p").unwrap();
    assert_eq!(n.num_children(), want.len());
    assert_eq!(n.children().len(), want.len());
    let s = n.stat();
    assert_eq!(s.num_children, want.len() as i32);
    // 60 creates: internal counter 60, visible 2*60 - live children.
    assert_eq!(n.cversion(), 60);
    assert_eq!(s.cversion, 120 - want.len() as i32);
    for c in want.clone() {
        assert_eq!(t.delete(&format!("/p/{c}")), OpResult::Deleted);
    }
    assert_eq!(t.t.get("/p").unwrap().children().count(), 0);
    assert_eq!(t.delete("/p"), OpResult::Deleted);
}

#[test]
fn null_and_empty_data_differ() {
    let mut t = T::new();
    assert!(created(&t.create("/null", None)));
    assert!(created(&t.create("/empty", Some(b""))));
    assert!(created(&t.create("/full", Some(b"abc"))));
    let (null, empty) = (t.t.get("/null").unwrap(), t.t.get("/empty").unwrap());
    assert_eq!(null.data(), None);
    assert_eq!(empty.data(), Some(&b""[..]));
    assert_eq!(null.stat().data_length, 0);
    assert_eq!(empty.stat().data_length, 0);
    assert_eq!(t.t.approximate_data_size(), 3);
    assert!(matches!(t.set("/full", None), OpResult::SetData { .. }));
    assert_eq!(t.t.get("/full").unwrap().data(), None);
    assert!(matches!(
        t.set("/null", Some(b"")),
        OpResult::SetData { .. }
    ));
    assert_eq!(t.t.get("/null").unwrap().data(), Some(&b""[..]));
    assert!(matches!(
        t.set("/empty", Some(b"xy")),
        OpResult::SetData { .. }
    ));
    assert_eq!(t.t.get("/empty").unwrap().data(), Some(&b"xy"[..]));
    // Same size (written in place), then null and back.
    assert!(matches!(
        t.set("/empty", Some(b"zw")),
        OpResult::SetData { .. }
    ));
    assert_eq!(t.t.get("/empty").unwrap().data(), Some(&b"zw"[..]));
    assert!(matches!(t.set("/null", None), OpResult::SetData { .. }));
    assert_eq!(t.t.get("/null").unwrap().data(), None);
    assert!(matches!(
        t.set("/null", Some(b"")),
        OpResult::SetData { .. }
    ));
    assert_eq!(t.t.get("/null").unwrap().data(), Some(&b""[..]));
    assert_eq!(t.t.approximate_data_size(), 2);
    // Names survive data changes.
    let mut kids = t.kids("/");
    kids.retain(|k| k != "zookeeper");
    assert_eq!(kids, vec!["empty", "full", "null"]);
    assert_eq!(t.set("/gone", None), OpResult::Error(err::NO_NODE));
}

#[test]
fn acls_are_interned() {
    let mut t = T::new();
    let before = t.t.acls.len();
    for p in ["/a", "/b", "/c"] {
        assert!(created(&t.create(p, None)));
    }
    assert_eq!(t.t.acls.len(), before, "open_acl is already interned");
    let a = t.t.get("/a").unwrap().acl();
    assert!(std::sync::Arc::ptr_eq(a, t.t.get("/c").unwrap().acl()));
    let r = t.run(
        0,
        TxnOp::SetAcl {
            path: "/b".into(),
            acl: acl::read_acl(),
            aversion: 1,
        },
    );
    assert!(matches!(r, OpResult::SetAcl { .. }));
    assert_eq!(t.t.acls.len(), before);
    assert_eq!(t.t.get("/b").unwrap().acl(), &acl::read_acl());
    assert_eq!(t.t.get("/b").unwrap().aversion(), 1);
}

#[test]
fn delete_takes_descendants_along() {
    // Prep never deletes a node with children; replay over a fuzzy
    // snapshot may. The subtree goes, with its index entries.
    let mut t = T::new();
    for p in ["/a", "/a/b", "/a/b/c", "/a/d"] {
        assert!(created(&t.create(p, Some(b"1234"))));
    }
    assert!(created(&t.create_owned("/a/b/e", None, 0x42)));
    assert!(created(&t.create_owned("/a/t", None, txn::CONTAINER_OWNER)));
    assert_eq!(t.delete("/a"), OpResult::Deleted);
    assert_eq!(t.t.node_count(), 5);
    assert_eq!(t.t.ephemeral_count(), 0);
    assert!(t.t.reapable(i64::MAX).is_empty());
    assert_eq!(t.t.approximate_data_size(), 0);
    assert_eq!(t.t.descendants("/"), Some(3));
}

#[test]
fn descendants_counts_the_subtree() {
    let mut t = T::new();
    for p in ["/a", "/a/b", "/a/b/c", "/a/d", "/e"] {
        assert!(created(&t.create(p, None)));
    }
    assert_eq!(t.t.descendants("/a"), Some(3));
    assert_eq!(t.t.descendants("/a/b"), Some(1));
    assert_eq!(t.t.descendants("/e"), Some(0));
    assert_eq!(t.t.descendants("/"), Some(8));
    assert_eq!(t.t.descendants("/nope"), None);
}

/// A walk interleaved with creates and deletes (which reuse freed slots):
/// no node is visited twice, parents come before children, every node
/// that lived through the whole walk is visited, and each visit sees the
/// node as the tree has it then.
#[test]
fn walk_survives_deletes_and_creates() {
    use crate::storage::device::SimRng;
    let names = ["a", "b", "c", "d"];
    for seed in 0..300u64 {
        let mut rng = SimRng::new(seed);
        let mut t = T::new();
        let random_path = |rng: &mut SimRng| {
            let depth = 1 + rng.below(3) as usize;
            (0..depth).fold(String::new(), |p, _| {
                format!("{p}/{}", names[rng.below(4) as usize])
            })
        };
        for _ in 0..60 {
            let p = random_path(&mut rng);
            t.create(&p, Some(p.as_bytes()));
        }
        let all = |t: &T| {
            let mut v = Vec::new();
            t.t.for_each_node(|p, _| v.push(p.to_string()));
            v
        };
        let before: std::collections::BTreeSet<String> = all(&t).into_iter().collect();
        let mut deleted = std::collections::BTreeSet::new();
        let mut seen: Vec<String> = Vec::new();
        let walk = t.t.walk_begin();
        let mut done = false;
        while !done {
            let max = 1 + rng.below(3) as usize;
            done =
                t.t.walk_step(&walk, max, |p, n| {
                    if p != "/" {
                        let parent = path::split(p).unwrap().0;
                        assert!(seen.iter().any(|s| s == parent), "{p} after its parent");
                    }
                    assert!(!seen.iter().any(|s| s == p), "{p} twice");
                    if p != "/" && !p.starts_with("/zookeeper") {
                        assert_eq!(n.data(), Some(p.as_bytes()), "{p}");
                    }
                    seen.push(p.to_string());
                })
                .unwrap();
            for _ in 0..rng.below(4) {
                let p = random_path(&mut rng);
                match t.t.get(&p) {
                    Some(n) if n.num_children() == 0 && rng.chance(70) => {
                        assert_eq!(t.delete(&p), OpResult::Deleted);
                        deleted.insert(p);
                    }
                    _ => {
                        t.create(&p, Some(p.as_bytes()));
                    }
                }
            }
        }
        for p in before.difference(&deleted) {
            assert!(
                seen.contains(p),
                "seed {seed}: {p} lived throughout but was not visited"
            );
        }
        // The walk is finished; another step reports done again.
        assert_eq!(t.t.walk_step(&walk, 10, |_, _| panic!("visited")), Ok(true));
    }
}

#[test]
fn a_walk_is_lost_with_its_tree() {
    let mut t = T::new();
    assert!(created(&t.create("/a", None)));
    let first = t.t.walk_begin();
    assert_eq!(t.t.walk_step(&first, 1, |_, _| {}), Ok(false));
    let second = t.t.walk_begin();
    assert_eq!(t.t.walk_step(&first, 1, |_, _| {}), Err(restore::WalkLost));
    let mut n = 0;
    assert_eq!(t.t.walk_step(&second, 100, |_, _| n += 1), Ok(true));
    assert_eq!(n, t.t.node_count() - 1);
    // A replaced tree does not know the walk.
    t.t = DataTree::new();
    assert_eq!(t.t.walk_step(&second, 1, |_, _| {}), Err(restore::WalkLost));
}

#[test]
fn walk_visits_every_node_once_parents_first() {
    let mut t = T::new();
    for i in 0..30 {
        let p = match i % 3 {
            0 => format!("/n{i}"),
            1 => format!("/n{}/m{i}", i - 1),
            _ => format!("/n{}/m{}/k{i}", i - 2, i - 1),
        };
        assert!(created(&t.create(&p, Some(p.as_bytes()))));
    }
    let walk = t.t.walk_begin();
    let mut seen: Vec<String> = Vec::new();
    let mut steps = 0;
    while !t
        .t
        .walk_step(&walk, 4, |p, n| {
            if p != "/" {
                let parent = path::split(p).unwrap().0;
                assert!(seen.iter().any(|s| s == parent), "{p} after its parent");
                assert_eq!(
                    n.data().is_some_and(|d| d == p.as_bytes()),
                    !p.starts_with("/zoo")
                );
            }
            seen.push(p.to_string());
        })
        .unwrap()
    {
        steps += 1;
        assert!(seen.len() <= 4 * steps, "at most 4 nodes a step");
    }
    assert_eq!(seen.len(), t.t.node_count() - 1);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), t.t.node_count() - 1);
    let mut all = Vec::new();
    t.t.for_each_node(|p, _| all.push(p.to_string()));
    all.sort();
    assert_eq!(all, seen);
}

/// One node of the model: data, version, owner.
#[derive(Clone, Debug, PartialEq)]
struct M {
    data: Option<Vec<u8>>,
    version: i32,
    owner: i64,
}

#[derive(Clone, Debug)]
enum Op {
    Create(usize, Option<Vec<u8>>, bool),
    Delete(usize),
    Set(usize, Option<Vec<u8>>),
    Close,
}

/// Every path of up to three levels over names a, bb, c.
fn universe() -> Vec<String> {
    let names = ["a", "bb", "c"];
    let mut v = Vec::new();
    for x in names {
        v.push(format!("/{x}"));
        for y in names {
            v.push(format!("/{x}/{y}"));
            for z in names {
                v.push(format!("/{x}/{y}/{z}"));
            }
        }
    }
    v
}

fn data() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..39usize, data(), any::<bool>()).prop_map(|(i, d, e)| Op::Create(i, d, e)),
        3 => (0..39usize).prop_map(Op::Delete),
        2 => (0..39usize, data()).prop_map(|(i, d)| Op::Set(i, d)),
        1 => Just(Op::Close),
    ]
}

fn children_in(m: &BTreeMap<String, M>, p: &str) -> Vec<String> {
    m.keys()
        .filter(|k| path::split(k).is_some_and(|(pp, _)| pp == p))
        .map(|k| path::split(k).unwrap().1.to_string())
        .collect()
}

fn compare(t: &T, m: &BTreeMap<String, M>, all: &[String], session: SessionId) {
    for p in all {
        match (t.t.get(p), m.get(p)) {
            (None, None) => {}
            (Some(n), Some(x)) => {
                assert_eq!(n.data(), x.data.as_deref(), "{p}");
                assert_eq!(n.version(), x.version, "{p}");
                assert_eq!(n.owner(), x.owner, "{p}");
                let want = children_in(m, p);
                assert_eq!(t.kids(p), want, "{p}");
                assert_eq!(n.num_children(), want.len(), "{p}");
                assert_eq!(
                    n.stat().data_length as usize,
                    x.data.as_ref().map_or(0, Vec::len)
                );
            }
            (a, b) => panic!("{p}: tree {a:?}, model {b:?}"),
        }
    }
    let mut top = children_in(m, "/");
    top.push("zookeeper".into());
    top.sort();
    assert_eq!(t.kids("/"), top);
    assert_eq!(t.t.node_count(), m.len() + 5);
    let bytes: usize = m
        .values()
        .map(|x| x.data.as_ref().map_or(0, Vec::len))
        .sum();
    assert_eq!(t.t.approximate_data_size(), bytes as u64);
    let mut eph: Vec<&str> = t.t.ephemerals_of(session).collect();
    eph.sort();
    let want: Vec<&str> = m
        .iter()
        .filter(|(_, x)| x.owner == session)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(eph, want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random creates, deletes, setData and session closes against a
    /// BTreeMap model; the walk's images rebuild the same tree.
    #[test]
    fn tree_matches_a_map_model(ops in proptest::collection::vec(op(), 1..120)) {
        let all = universe();
        let mut t = T::new();
        let mut m: BTreeMap<String, M> = BTreeMap::new();
        let mut session: SessionId = 1;
        for op in ops {
            match op {
                Op::Create(i, d, eph) => {
                    let p = &all[i];
                    let parent = path::split(p).unwrap().0;
                    let parent_ok = parent == "/" || m.get(parent).is_some_and(|x| x.owner == 0);
                    if m.contains_key(p) || (parent != "/" && !m.contains_key(parent)) {
                        // What prep would refuse; the tree refuses it too.
                        let want = if m.contains_key(p) { err::NODE_EXISTS } else { err::NO_NODE };
                        prop_assert_eq!(t.create(p, d.as_deref()), OpResult::Error(want));
                    } else if parent_ok {
                        let owner = if eph { session } else { 0 };
                        let r = t.create_owned(p, d.as_deref(), owner);
                        prop_assert!(created(&r), "create failed: {:?}", r);
                        m.insert(p.clone(), M { data: d, version: 0, owner });
                    }
                }
                Op::Delete(i) => {
                    let p = &all[i];
                    if !m.contains_key(p) {
                        prop_assert_eq!(t.delete(p), OpResult::Error(err::NO_NODE));
                    } else if children_in(&m, p).is_empty() {
                        prop_assert_eq!(t.delete(p), OpResult::Deleted);
                        m.remove(p);
                    }
                }
                Op::Set(i, d) => {
                    let p = &all[i];
                    let r = t.set(p, d.as_deref());
                    if let Some(x) = m.get_mut(p) {
                        prop_assert!(matches!(r, OpResult::SetData { .. }), "setData failed: {:?}", r);
                        x.data = d;
                        x.version += 1;
                    } else {
                        prop_assert_eq!(r, OpResult::Error(err::NO_NODE));
                    }
                }
                Op::Close => {
                    t.run(session, TxnOp::CloseSession);
                    m.retain(|_, x| x.owner != session);
                    session += 1;
                }
            }
            compare(&t, &m, &all, session);
        }
        // A snapshot of the result rebuilds the same tree.
        let walk = t.t.walk_begin();
        let mut imgs = Vec::new();
        while !t.t.walk_step(&walk, 7, |p, n| imgs.push(DataTree::image(p, n))).unwrap() {}
        prop_assert_eq!(imgs.len(), t.t.node_count() - 1);
        let t2 = DataTree::from_images(imgs, [], t.t.last_zxid).unwrap();
        t2.check_invariants();
        let t2 = T { t: t2, zxid: t.zxid };
        compare(&t2, &m, &all, session);
        for p in &all {
            if let (Some(a), Some(b)) = (t.t.get(p), t2.t.get(p)) {
                prop_assert_eq!(a.stat(), b.stat());
            }
        }
    }
}
