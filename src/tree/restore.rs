//! Snapshots of the DataTree and its rebuild at startup: a resumable,
//! bounded walk for writing a snapshot while writes continue, the rebuild
//! of a tree from node images, and an idempotent replay of txns over it.
//!
//! Runs on the core shard (the walk, in bounded steps between inputs) and
//! at startup (rebuild, replay). Pure: no I/O, no clock.
//!
//! **Fuzzy snapshots.** A snapshot starts at a zxid `S` (the tree's last
//! applied zxid); the walk then visits the tree depth-first in steps while
//! later txns keep applying, so the images it yields mix states between `S`
//! and the zxid at which the walk ends. A parent is always visited before
//! its children (so every image's parent is in the snapshot). Replaying
//! every txn after `S` over such a tree gives the exact tree, because
//! [`DataTree::replay`] is idempotent in ZooKeeper's way: every txn sets
//! absolute values (versions, the parent's create counter, zxids), a create
//! of a node that exists and a delete of a node that does not still stamp
//! the parent as the original did, a delete of a node that has children
//! (from the snapshot's future) takes them along, and the indexes
//! (ephemerals, containers/TTL, data size) are rebuilt from the nodes at
//! the end ([`DataTree::finish_replay`]). Child lists are part of the nodes
//! and always exact.
//!
//! **The walk** keeps one frame per level (the next child to visit in that
//! node's child list) inside the tree, which moves a frame on when the
//! child it points at is deleted; so its memory is the depth of the tree
//! and a step visits at most its budget of nodes, however wide a level is.

use super::acl::AclList;
use super::path;
use super::txn::{is_container, is_ephemeral, ttl_of, Txn, TxnOp};
use super::{DataTree, NodeBytes, NodeRef, MAX_NAME, NONE, ROOT};
use crate::types::{SessionId, Zxid};
use thiserror::Error;

/// A znode's zxids, times, versions and owner, as a snapshot stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeMeta {
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub pzxid: Zxid,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    /// The internal create counter (not the visible cversion).
    pub cversion: i32,
    pub aversion: i32,
    /// The internal ephemeralOwner (session or container/TTL marker).
    pub owner: i64,
}

impl NodeMeta {
    pub fn of(n: NodeRef<'_>) -> NodeMeta {
        NodeMeta {
            czxid: n.czxid(),
            mzxid: n.mzxid(),
            pzxid: n.pzxid(),
            ctime: n.ctime(),
            mtime: n.mtime(),
            version: n.version(),
            cversion: n.cversion(),
            aversion: n.aversion(),
            owner: n.owner(),
        }
    }
}

/// One znode as a snapshot stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeImage {
    pub path: Box<str>,
    pub data: Option<Box<[u8]>>,
    pub acl: AclList,
    pub meta: NodeMeta,
}

/// A [`NodeImage`] borrowing its path, data and ACL (from a snapshot
/// being decoded), so loading copies each node's bytes once.
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a, 'acl> {
    pub path: &'a str,
    pub data: Option<&'a [u8]>,
    pub acl: &'acl AclList,
    pub meta: NodeMeta,
}

impl NodeImage {
    pub fn as_ref(&self) -> ImageRef<'_, '_> {
        ImageRef {
            path: &self.path,
            data: self.data.as_deref(),
            acl: &self.acl,
            meta: self.meta,
        }
    }
}

impl ImageRef<'_, '_> {
    pub fn to_owned(&self) -> NodeImage {
        NodeImage {
            path: self.path.into(),
            data: self.data.map(Box::from),
            acl: self.acl.clone(),
            meta: self.meta,
        }
    }
}

/// Why node images do not make a tree. `index` is the image's position.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RestoreError {
    #[error("image {index}: the first node must be \"/\", found {path:?}")]
    NoRoot { index: usize, path: Box<str> },
    #[error("image {index}: invalid path {path:?}")]
    BadPath { index: usize, path: Box<str> },
    #[error("image {index}: {path:?} appears twice")]
    Duplicate { index: usize, path: Box<str> },
    #[error("image {index}: {path:?} comes before (or without) its parent")]
    Orphan { index: usize, path: Box<str> },
}

/// A node image checked on its own (its path, and "/" first and only
/// first) and, if asked, with its name and data copied into the node's
/// allocation: everything of a load that needs no tree, so a loader can do
/// it on another thread than the one linking nodes in
/// ([`TreeBuilder::push_prepared`], which makes the copy if it was not
/// made).
#[derive(Debug)]
pub struct Prepared<'a> {
    path: &'a str,
    /// Where the parent's path ends in `path` (before the last `/`);
    /// `None` for the root.
    parent_end: Option<usize>,
    data: Option<&'a [u8]>,
    bytes: Option<NodeBytes>,
    meta: NodeMeta,
}

impl<'a> Prepared<'a> {
    /// `index` is the image's position in the snapshot; `copy` makes the
    /// node's allocation now.
    pub fn new(
        img: &ImageRef<'a, '_>,
        index: usize,
        copy: bool,
    ) -> Result<Prepared<'a>, RestoreError> {
        let fail = |f: fn(usize, Box<str>) -> RestoreError| Err(f(index, img.path.into()));
        let (parent_end, name) = if index == 0 {
            if img.path != "/" {
                return fail(|index, path| RestoreError::NoRoot { index, path });
            }
            (None, "")
        } else {
            if img.path == "/" {
                return fail(|index, path| RestoreError::Duplicate { index, path });
            }
            if !path::is_valid(img.path) {
                return fail(|index, path| RestoreError::BadPath { index, path });
            }
            let Some((_, name)) = path::split(img.path) else {
                return fail(|index, path| RestoreError::BadPath { index, path });
            };
            if name.len() > MAX_NAME {
                return fail(|index, path| RestoreError::BadPath { index, path });
            }
            // The name follows the parent's path and one '/'.
            (Some(img.path.len() - name.len() - 1), name)
        };
        Ok(Prepared {
            path: img.path,
            parent_end,
            data: img.data,
            bytes: copy.then(|| NodeBytes::new(name.as_bytes(), img.data)),
            meta: img.meta,
        })
    }
}

/// Builds a tree from node images one at a time (see
/// [`DataTree::from_images`]), so a snapshot can be loaded as it decodes.
pub struct TreeBuilder {
    t: DataTree,
    index: usize,
    /// The last ACL seen and its id (snapshots share one `Arc` per
    /// distinct ACL, so this skips hashing the list per node).
    last_acl: Option<(AclList, u32)>,
    /// The last parent path looked up and its id (siblings tend to come
    /// one after another).
    last_parent: (String, u32),
}

impl Default for TreeBuilder {
    fn default() -> Self {
        TreeBuilder::new()
    }
}

impl TreeBuilder {
    pub fn new() -> TreeBuilder {
        TreeBuilder {
            t: DataTree::empty(),
            index: 0,
            last_acl: None,
            last_parent: (String::new(), NONE),
        }
    }

    /// Room for `n` nodes.
    pub fn reserve(&mut self, n: usize) {
        let t = &mut self.t;
        t.nodes.reserve(n);
        let nodes = &t.nodes;
        t.index
            .reserve(n.saturating_sub(1), |&c| super::node_hash(nodes, c));
    }

    /// Adds the next image (its parent must already be in).
    pub fn push(&mut self, img: NodeImage) -> Result<(), RestoreError> {
        self.push_ref(&img.as_ref())
    }

    /// Adds the next image (its parent must already be in).
    pub fn push_ref(&mut self, img: &ImageRef<'_, '_>) -> Result<(), RestoreError> {
        let p = Prepared::new(img, self.index, false)?;
        let acl = match &self.last_acl {
            Some((seen, id)) if std::sync::Arc::ptr_eq(seen, img.acl) => *id,
            _ => {
                let id = self.t.intern(img.acl.clone());
                self.last_acl = Some((img.acl.clone(), id));
                id
            }
        };
        self.push_prepared(p, acl)
    }

    /// The id of `acl` in the tree being built (for [`Self::push_prepared`]).
    pub fn intern(&mut self, acl: AclList) -> u32 {
        self.t.intern(acl)
    }

    /// Links the next node, prepared by [`Prepared::new`] with this
    /// builder's count of nodes pushed so far as its index; `acl` comes from
    /// [`Self::intern`].
    pub fn push_prepared(&mut self, p: Prepared<'_>, acl: u32) -> Result<(), RestoreError> {
        let index = self.index;
        let fail = |f: fn(usize, Box<str>) -> RestoreError| Err(f(index, p.path.into()));
        let t = &mut self.t;
        let (parent, name) = match p.parent_end {
            None => (NONE, ""),
            Some(end) => {
                // "/" for the root's children.
                let parent_path = &p.path[..end.max(1)];
                let (last, last_id) = &mut self.last_parent;
                let parent = if *last_id != NONE && last == parent_path {
                    *last_id
                } else {
                    let Some(id) = t.lookup(parent_path) else {
                        return fail(|index, path| RestoreError::Orphan { index, path });
                    };
                    last.clear();
                    last.push_str(parent_path);
                    *last_id = id;
                    id
                };
                (parent, &p.path[end + 1..])
            }
        };
        let (bytes, data) = (p.bytes, p.data);
        let m = p.meta;
        let name = name.as_bytes();
        let Some(id) = t.alloc(
            parent,
            name,
            || bytes.unwrap_or_else(|| NodeBytes::new(name, data)),
            acl,
            m.czxid,
            m.ctime,
            m.owner,
        ) else {
            return fail(|index, path| RestoreError::Duplicate { index, path });
        };
        let n = t.nodes.get_mut(id);
        n.mzxid = m.mzxid;
        n.pzxid = m.pzxid;
        n.mtime = m.mtime;
        n.version = m.version;
        n.cversion = m.cversion;
        n.aversion = m.aversion;
        self.index += 1;
        Ok(())
    }

    /// The tree, with the ephemerals of the snapshot's start (see
    /// [`DataTree::from_images`]).
    pub fn finish(
        self,
        ephemerals: impl IntoIterator<Item = (SessionId, Box<str>)>,
        last_zxid: Zxid,
    ) -> Result<DataTree, RestoreError> {
        let mut t = self.t;
        if t.live == 0 {
            return Err(RestoreError::NoRoot {
                index: 0,
                path: "".into(),
            });
        }
        t.last_zxid = last_zxid;
        t.reindex();
        for (s, p) in ephemerals {
            t.ephemerals.entry(s).or_default().insert(p);
        }
        Ok(t)
    }
}

/// A level of a walk: the next child to visit in one node's child list,
/// and the length of that node's path (a prefix of `WalkState::path`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    pub(super) next: u32,
    path_len: usize,
}

/// Where a walk stands: one frame per level of the node being visited, so
/// its memory is the depth of the tree, not the width of a level.
#[derive(Debug, Default)]
pub(super) struct WalkState {
    serial: u64,
    started: bool,
    pub(super) frames: Vec<Frame>,
    /// The path of the node visited last.
    path: String,
}

/// A handle on the walk a tree is running for a snapshot (see
/// [`DataTree::walk_begin`]).
#[derive(Debug)]
#[must_use]
pub struct Walk {
    serial: u64,
}

/// The tree has no such walk: it was replaced by another tree, or another
/// walk began. The snapshot being written must be abandoned.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("the snapshot walk was lost (the tree was replaced or another walk began)")]
pub struct WalkLost;

impl DataTree {
    /// Starts a resumable walk over the tree (and forgets any earlier one).
    /// The tree keeps the walk's position: deleting the node a walk would
    /// visit next moves the walk on to its next sibling.
    pub fn walk_begin(&mut self) -> Walk {
        self.walk_serial += 1;
        let serial = self.walk_serial;
        self.walk = Some(Box::new(WalkState {
            serial,
            ..WalkState::default()
        }));
        Walk { serial }
    }

    /// Visits up to `max` more nodes of `walk` (depth-first, parents
    /// before children), calling `f` with each node's path and a view of
    /// it; returns true once every node has been visited. Between steps the
    /// tree may change: nodes deleted before the walk reached them are not
    /// visited, and neither are children created after their parent was
    /// visited (replay after the snapshot's start zxid recreates them).
    pub fn walk_step(
        &mut self,
        walk: &Walk,
        max: usize,
        mut f: impl FnMut(&str, NodeRef<'_>),
    ) -> Result<bool, WalkLost> {
        let mut w = match self.walk.take() {
            Some(w) if w.serial == walk.serial => w,
            other => {
                self.walk = other;
                return Err(WalkLost);
            }
        };
        self.walk_run(&mut w, max, &mut f);
        let done = w.started && w.frames.is_empty();
        self.walk = Some(w);
        Ok(done)
    }

    /// Visits every node (parents before children) in one go.
    pub fn for_each_node(&self, mut f: impl FnMut(&str, NodeRef<'_>)) {
        self.walk_run(&mut WalkState::default(), usize::MAX, &mut f);
    }

    fn walk_run(&self, w: &mut WalkState, max: usize, f: &mut dyn FnMut(&str, NodeRef<'_>)) {
        let mut n = 0;
        if !w.started && max > 0 {
            w.started = true;
            let Some(root) = self.nodes.live(ROOT) else {
                return;
            };
            f(
                "/",
                NodeRef {
                    tree: self,
                    n: root,
                },
            );
            n += 1;
            // The root's children are "/" + name: an empty prefix.
            w.frames.push(Frame {
                next: root.first_child,
                path_len: 0,
            });
        }
        while n < max {
            let Some(top) = w.frames.last_mut() else {
                break;
            };
            if top.next == NONE {
                w.frames.pop();
                continue;
            }
            let id = top.next;
            let node = self.nodes.get(id);
            top.next = node.next;
            w.path.truncate(top.path_len);
            w.path.push('/');
            w.path.push_str(node.name_str());
            f(
                &w.path,
                NodeRef {
                    tree: self,
                    n: node,
                },
            );
            n += 1;
            if node.first_child != NONE {
                w.frames.push(Frame {
                    next: node.first_child,
                    path_len: w.path.len(),
                });
            }
        }
        // Levels with nothing left are finished: done means done.
        while w.frames.last().is_some_and(|t| t.next == NONE) {
            w.frames.pop();
        }
    }

    /// The image of a node (for snapshot writers).
    pub fn image(path: &str, n: NodeRef<'_>) -> NodeImage {
        NodeImage {
            path: path.into(),
            data: n.data().map(Box::from),
            acl: n.acl().clone(),
            meta: NodeMeta::of(n),
        }
    }

    /// Rebuilds a tree from images in walk order (each parent before its
    /// children), with `last_zxid` as its last applied zxid. `ephemerals`
    /// are the (session, path) pairs as they stood at `last_zxid` (the
    /// snapshot's start): a close of one of those sessions during replay
    /// must stamp the parents of its ephemerals even where the walk found
    /// them already gone.
    pub fn from_images(
        images: impl IntoIterator<Item = NodeImage>,
        ephemerals: impl IntoIterator<Item = (SessionId, Box<str>)>,
        last_zxid: Zxid,
    ) -> Result<DataTree, RestoreError> {
        let mut b = TreeBuilder::new();
        for img in images {
            b.push(img)?;
        }
        b.finish(ephemerals, last_zxid)
    }

    /// Recomputes ephemerals, containers/TTL and the data size from the nodes.
    fn reindex(&mut self) {
        self.ephemerals.clear();
        self.special.clear();
        self.data_bytes = 0;
        let mut ids = Vec::new();
        let mut p = String::new();
        for (id, n) in self.nodes.iter() {
            if n.is_free() {
                continue;
            }
            self.data_bytes += n.data_len() as u64;
            if n.owner == 0 {
                continue;
            }
            self.write_path(id, &mut ids, &mut p);
            if is_ephemeral(n.owner) {
                self.ephemerals
                    .entry(n.owner)
                    .or_default()
                    .insert(p.as_str().into());
            } else if is_container(n.owner) || ttl_of(n.owner).is_some() {
                self.special.insert(p.as_str().into());
            }
        }
    }

    /// Applies a recovered txn idempotently (see the module doc): no
    /// watches, no results. Call [`DataTree::finish_replay`] after the last.
    pub fn replay(&mut self, txn: Txn) {
        let h = txn.header;
        let ops = match txn.op {
            TxnOp::Multi(ops) => ops,
            op => vec![op],
        };
        let mut results = Vec::new();
        for op in ops {
            match &op {
                TxnOp::Create {
                    path,
                    parent_cversion,
                    owner,
                    ..
                } if self.lookup(path).is_some() => {
                    // Already in the (fuzzy) snapshot: stamp the parent as
                    // the create did.
                    if is_ephemeral(*owner) {
                        self.ephemerals
                            .entry(*owner)
                            .or_default()
                            .insert(path.clone());
                    }
                    if let Some(par) = path::split(path).and_then(|(pp, _)| self.lookup(pp)) {
                        let par = self.nodes.get_mut(par);
                        par.cversion = *parent_cversion;
                        par.pzxid = h.zxid;
                    }
                    continue;
                }
                TxnOp::Delete { path } if self.lookup(path).is_none() => {
                    self.stamp_deleted(path, h.zxid);
                    for set in self.ephemerals.values_mut() {
                        set.remove(&**path);
                    }
                    continue;
                }
                TxnOp::CloseSession => {
                    // The exact ephemerals of the session at this zxid: those
                    // of the snapshot's start plus replayed creates.
                    let mut paths: Vec<Box<str>> = self
                        .ephemerals
                        .remove(&h.session)
                        .map(|s| s.into_iter().collect())
                        .unwrap_or_default();
                    paths.sort();
                    for p in paths.iter().rev() {
                        if !self.delete(h.zxid, p, &mut |_| {}) {
                            self.stamp_deleted(p, h.zxid);
                        }
                    }
                    continue;
                }
                TxnOp::Delete { path } => {
                    // A node from the snapshot's future may have children the
                    // original delete did not see: they go too (replay of
                    // their creates after this one brings them back; the
                    // delete below removes them). The node may be a later
                    // incarnation with another owner: the deleted one leaves
                    // every ephemeral set.
                    for set in self.ephemerals.values_mut() {
                        set.remove(&**path);
                    }
                }
                _ => {}
            }
            let one = Txn { header: h, op };
            self.apply(one, &mut |_| {}, &mut results);
            results.clear();
        }
        if h.zxid > self.last_zxid {
            self.last_zxid = h.zxid;
        }
    }

    /// What deleting `path` did to its parent, for a node already gone.
    fn stamp_deleted(&mut self, path: &str, zxid: Zxid) {
        if let Some(par) = path::split(path).and_then(|(pp, _)| self.lookup(pp)) {
            self.nodes.get_mut(par).pzxid = zxid;
        }
    }

    /// Ends a replay: rebuilds the indexes from the nodes.
    pub fn finish_replay(&mut self) {
        self.reindex();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::acl::open_acl;
    use crate::tree::txn::TxnHeader;

    fn hdr(zxid: Zxid) -> TxnHeader {
        TxnHeader {
            session: 7,
            cxid: 1,
            zxid,
            time: 100 + zxid,
        }
    }

    fn create(t: &DataTree, zxid: Zxid, path: &str, owner: i64) -> Txn {
        let data = Some(format!("d{zxid}").into_bytes().into());
        super::super::txn::test_create(t, hdr(zxid), path, data, open_acl(), owner)
    }

    fn images(t: &DataTree) -> Vec<NodeImage> {
        let mut v = Vec::new();
        t.for_each_node(|p, n| v.push(DataTree::image(p, n)));
        v
    }

    /// Every node's stat, data and acl, sorted by path.
    fn dump(t: &DataTree) -> Vec<(String, Option<Vec<u8>>, crate::proto::records::Stat)> {
        let mut v: Vec<_> = t
            .nodes
            .iter()
            .filter(|(_, n)| !n.is_free())
            .map(|(id, n)| (t.path_of(id), n.data().map(|d| d.to_vec()), n.stat()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn images_round_trip() {
        let mut t = DataTree::new();
        let mut r = Vec::new();
        for (z, p, o) in [
            (1, "/a", 0),
            (2, "/a/b", 0),
            (3, "/e", 0x55),
            (4, "/c", i64::MIN),
        ] {
            let txn = create(&t, z, p, o);
            t.apply(txn, &mut |_| {}, &mut r);
        }
        let imgs = images(&t);
        assert_eq!(imgs[0].path.as_ref(), "/");
        let t2 = DataTree::from_images(imgs, [], t.last_zxid).unwrap();
        t2.check_invariants();
        assert_eq!(dump(&t), dump(&t2));
        assert_eq!(t2.ephemerals_of(0x55).collect::<Vec<_>>(), vec!["/e"]);
        assert_eq!(t2.approximate_data_size(), t.approximate_data_size());
        assert_eq!(t2.node_count(), t.node_count());
    }

    #[test]
    fn bad_images_refused() {
        let t = DataTree::new();
        let imgs = images(&t);
        let mut orphan = imgs.clone();
        orphan.push(NodeImage {
            path: "/x/y".into(),
            ..imgs[1].clone()
        });
        assert!(matches!(
            DataTree::from_images(orphan, [], 0),
            Err(RestoreError::Orphan { index: 4, .. })
        ));
        let mut dup = imgs.clone();
        dup.push(imgs[1].clone());
        assert!(matches!(
            DataTree::from_images(dup, [], 0),
            Err(RestoreError::Duplicate { index: 4, .. })
        ));
        assert!(matches!(
            DataTree::from_images(imgs[1..].to_vec(), [], 0),
            Err(RestoreError::NoRoot { .. })
        ));
        let mut bad = imgs.clone();
        bad.push(NodeImage {
            path: "/a/".into(),
            ..imgs[1].clone()
        });
        assert!(matches!(
            DataTree::from_images(bad, [], 0),
            Err(RestoreError::BadPath { .. })
        ));
    }

    /// A snapshot walk interleaved with writes, then replay from its start
    /// zxid, gives exactly the tree the writes produced (many interleavings).
    #[test]
    fn fuzzy_snapshot_plus_replay_is_exact() {
        use crate::storage::device::SimRng;
        for seed in 0..500u64 {
            let mut rng = SimRng::new(seed);
            let mut t = DataTree::new();
            let mut r = Vec::new();
            let mut zxid = 0;
            let names = ["/a", "/b", "/a/x", "/a/y", "/b/z", "/a/x/q", "/c"];
            // Sessions close for good: ephemerals are created by the
            // current session, and a close moves on to a new one.
            let mut session: SessionId = 100;
            let mut step = |t: &mut DataTree, zxid: &mut Zxid, rng: &mut SimRng| -> Option<Txn> {
                let p = names[rng.below(names.len() as u64) as usize];
                *zxid += 1;
                let z = *zxid;
                let txn = if let Some(n) = t.get(p) {
                    match rng.below(3) {
                        0 if n.num_children() == 0 => Txn {
                            header: hdr(z),
                            op: TxnOp::Delete { path: p.into() },
                        },
                        1 => {
                            session += 1;
                            Txn {
                                header: TxnHeader {
                                    session: session - 1,
                                    ..hdr(z)
                                },
                                op: TxnOp::CloseSession,
                            }
                        }
                        _ => Txn {
                            header: hdr(z),
                            op: TxnOp::SetData {
                                path: p.into(),
                                data: Some(vec![z as u8; 3].into()),
                                version: n.version() + 1,
                            },
                        },
                    }
                } else if t.get(path::split(p).unwrap().0).is_some() {
                    // Ephemerals only where no child is ever created.
                    let leaf = ["/a/x/q", "/a/y", "/b/z", "/c"].contains(&p);
                    let owner = if leaf && rng.chance(40) { session } else { 0 };
                    create(t, z, p, owner)
                } else {
                    *zxid -= 1;
                    return None;
                };
                t.apply(txn.clone(), &mut |_| {}, &mut r);
                r.clear();
                Some(txn)
            };
            for _ in 0..20 {
                step(&mut t, &mut zxid, &mut rng);
            }
            let start = t.last_zxid;
            let eph: Vec<(SessionId, Box<str>)> = t
                .ephemerals
                .iter()
                .flat_map(|(s, v)| v.iter().map(|p| (*s, p.clone())))
                .collect();
            let walk = t.walk_begin();
            let mut imgs = Vec::new();
            let mut log = Vec::new();
            let mut done = false;
            while !done {
                done = t
                    .walk_step(&walk, 1 + rng.below(2) as usize, |p, n| {
                        imgs.push(DataTree::image(p, n))
                    })
                    .unwrap();
                for _ in 0..rng.below(4) {
                    if let Some(x) = step(&mut t, &mut zxid, &mut rng) {
                        log.push(x);
                    }
                }
            }
            for _ in 0..5 {
                if let Some(x) = step(&mut t, &mut zxid, &mut rng) {
                    log.push(x);
                }
            }
            let mut t2 = DataTree::from_images(imgs, eph, start).unwrap();
            for x in log {
                t2.replay(x);
            }
            t2.finish_replay();
            t2.check_invariants();
            assert_eq!(dump(&t), dump(&t2), "seed {seed}");
            assert_eq!(t2.last_zxid, t.last_zxid);
            assert_eq!(t2.ephemerals, t.ephemerals, "seed {seed}");
            assert_eq!(t2.approximate_data_size(), t.approximate_data_size());
        }
    }
}
