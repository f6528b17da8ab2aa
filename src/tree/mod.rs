//! The DataTree: znodes with ZooKeeper's exact Stat bookkeeping, ephemerals
//! per session, containers and TTL nodes, and the watch tables. Owned by the
//! core shard; pure (no I/O, no clock: times come in the txn header).
//!
//! **Layout.** Nodes live in an arena of fixed-size slots addressed by
//! `u32` ids ("/" is id 0); deleted slots go on a free list and are reused.
//! A node stores its name (not its path) and its data in one heap
//! allocation. One hash index maps (parent id, name) to a node id, so a
//! lookup of "/a/b/c" is three probes. A node's children form an intrusive
//! doubly-linked list through their `next`/`prev` ids (newest first), so
//! create and delete are O(1) and getChildren walks the list. ACL lists are
//! interned and nodes hold an index into them.
//!
//! Invariants ([`DataTree::check_invariants`]): every live node but "/" has
//! a live parent, is on that parent's child list exactly once and is in the
//! index under (parent, name); each node's child count is the length of its
//! list; `ephemerals[s]` holds exactly the paths of the nodes whose owner is
//! session `s`, and `special` the paths of the container and TTL nodes.

pub mod acl;
mod apply;
pub mod path;
pub mod restore;
pub mod txn;
pub mod watch;

use crate::proto::records::Stat;
use crate::types::{FxHashMap, FxHashSet, SessionId, Zxid};
use acl::{Acl, AclList};
use hashbrown::HashTable;
use std::hash::Hasher;
use txn::{is_container, is_ephemeral, ttl_of};

/// "No node" in a link field.
const NONE: u32 = u32::MAX;
/// The `parent` of a slot on the free list.
const FREE: u32 = u32::MAX - 1;
/// The id of "/".
const ROOT: u32 = 0;
/// Set in `Node::name_len` when the data is null (not merely empty).
const NULL_DATA: u32 = 1 << 31;
/// The longest name a node can hold (a name comes from one request or
/// snapshot entry, far below this).
const MAX_NAME: usize = (NULL_DATA - 1) as usize;
/// Nodes per arena chunk: the arena grows a chunk at a time, so growing
/// never moves the nodes already there. 8192 nodes of 104 bytes are exactly
/// thirteen 64 KiB allocator slices (4096 would round up by 8%).
const CHUNK_BITS: u32 = 13;
const CHUNK: usize = 1 << CHUNK_BITS;

/// One znode (or a free slot). Field access goes through [`NodeRef`].
#[derive(Debug)]
struct Node {
    /// The name's bytes followed by the data's.
    buf: Box<[u8]>,
    czxid: Zxid,
    mzxid: Zxid,
    pzxid: Zxid,
    ctime: i64,
    mtime: i64,
    /// Internal ephemeralOwner (may carry the container/TTL markers).
    owner: i64,
    version: i32,
    /// Internal create counter (c_int); clients see 2*c - numChildren.
    cversion: i32,
    aversion: i32,
    /// Parent id; `NONE` for "/", `FREE` for a free slot.
    parent: u32,
    first_child: u32,
    /// Next sibling (for a free slot: the next free slot).
    next: u32,
    prev: u32,
    num_children: u32,
    /// Index into `DataTree::acls`.
    acl: u32,
    /// Length of the name in `buf`, with `NULL_DATA` set for null data.
    name_len: u32,
}

const _: () = assert!(std::mem::size_of::<Node>() <= 104);

/// A node's name and data in one allocation (name first), with the
/// `name_len` field that says where the name ends and whether the data is
/// null. Made before the node itself so a snapshot load can build it on
/// another thread than the one inserting nodes.
#[derive(Debug)]
pub struct NodeBytes {
    buf: Box<[u8]>,
    name_len: u32,
}

impl NodeBytes {
    pub fn new(name: &[u8], data: Option<&[u8]>) -> NodeBytes {
        let d = data.unwrap_or(&[]);
        let mut v = Vec::with_capacity(name.len() + d.len());
        v.extend_from_slice(name);
        v.extend_from_slice(d);
        let name_len = name.len() as u32 | if data.is_none() { NULL_DATA } else { 0 };
        NodeBytes {
            buf: v.into_boxed_slice(),
            name_len,
        }
    }
}

impl Node {
    fn new(bytes: NodeBytes, acl: u32, zxid: Zxid, time: i64, owner: i64) -> Node {
        let NodeBytes { buf, name_len } = bytes;
        Node {
            buf,
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            owner,
            version: 0,
            cversion: 0,
            aversion: 0,
            parent: NONE,
            first_child: NONE,
            next: NONE,
            prev: NONE,
            num_children: 0,
            acl,
            name_len,
        }
    }

    /// A free slot linking to `next` free slot.
    fn free(next: u32) -> Node {
        let mut n = Node::new(NodeBytes::new(b"", None), 0, 0, 0, 0);
        n.parent = FREE;
        n.next = next;
        n
    }

    fn is_free(&self) -> bool {
        self.parent == FREE
    }

    fn name_end(&self) -> usize {
        (self.name_len & !NULL_DATA) as usize
    }

    fn name(&self) -> &[u8] {
        &self.buf[..self.name_end()]
    }

    fn name_str(&self) -> &str {
        // Names are stored from `&str` only.
        std::str::from_utf8(self.name()).expect("node names are UTF-8")
    }

    fn data(&self) -> Option<&[u8]> {
        if self.name_len & NULL_DATA != 0 {
            None
        } else {
            Some(&self.buf[self.name_end()..])
        }
    }

    fn data_len(&self) -> usize {
        self.buf.len() - self.name_end()
    }

    fn set_data(&mut self, data: Option<&[u8]>) {
        let end = self.name_end();
        if let Some(d) = data.filter(|d| d.len() == self.buf.len() - end) {
            // Same size: overwrite in place.
            self.buf[end..].copy_from_slice(d);
            self.name_len &= !NULL_DATA;
            return;
        }
        let NodeBytes { buf, name_len } = NodeBytes::new(self.name(), data);
        self.buf = buf;
        self.name_len = name_len;
    }

    fn stat(&self) -> Stat {
        let n = self.num_children as i32;
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(n),
            aversion: self.aversion,
            ephemeral_owner: if is_ephemeral(self.owner) {
                self.owner
            } else {
                0
            },
            data_length: self.data_len() as i32,
            num_children: n,
            pzxid: self.pzxid,
        }
    }
}

/// The node slots, in chunks of [`CHUNK`].
#[derive(Debug, Default)]
struct Arena {
    chunks: Vec<Vec<Node>>,
}

impl Arena {
    /// Number of slots (live and free).
    fn len(&self) -> usize {
        match self.chunks.last() {
            None => 0,
            Some(c) => (self.chunks.len() - 1) * CHUNK + c.len(),
        }
    }

    fn get(&self, id: u32) -> &Node {
        &self.chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
    }

    fn get_mut(&mut self, id: u32) -> &mut Node {
        &mut self.chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
    }

    /// The slot `id` if it holds a live node.
    fn live(&self, id: u32) -> Option<&Node> {
        let n = self
            .chunks
            .get((id >> CHUNK_BITS) as usize)?
            .get(id as usize & (CHUNK - 1))?;
        (!n.is_free()).then_some(n)
    }

    fn push(&mut self, n: Node) -> u32 {
        let id = u32::try_from(self.len())
            .ok()
            .filter(|&i| i < FREE)
            .expect("fewer than 2^32 - 2 znodes");
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(n),
            _ => {
                // The first chunk grows as needed (small trees stay small);
                // later ones are allocated whole.
                let mut c = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                c.push(n);
                self.chunks.push(c);
            }
        }
        id
    }

    /// Room for `n` slots in all.
    fn reserve(&mut self, n: usize) {
        self.chunks
            .reserve(n.div_ceil(CHUNK).saturating_sub(self.chunks.len()));
        if let Some(c) = self.chunks.first_mut() {
            c.reserve(n.min(CHUNK).saturating_sub(c.len()));
        } else if n > 0 {
            self.chunks.push(Vec::with_capacity(n.min(CHUNK)));
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u32, &Node)> {
        self.chunks
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, n)| (i as u32, n))
    }
}

/// The index key of a node: its parent's id and its name.
fn key_hash(parent: u32, name: &[u8]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write_u32(parent);
    h.write(name);
    h.finish()
}

fn node_hash(nodes: &Arena, id: u32) -> u64 {
    let n = nodes.get(id);
    key_hash(n.parent, n.name())
}

/// A borrowed view of one znode.
#[derive(Clone, Copy)]
pub struct NodeRef<'a> {
    tree: &'a DataTree,
    n: &'a Node,
}

impl<'a> NodeRef<'a> {
    /// The data; `None` is null data (getData reports length -1).
    pub fn data(&self) -> Option<&'a [u8]> {
        self.n.data()
    }

    pub fn acl(&self) -> &'a AclList {
        &self.tree.acls[self.n.acl as usize]
    }

    /// The children's names (in no particular order).
    pub fn children(&self) -> Children<'a> {
        Children {
            nodes: &self.tree.nodes,
            next: self.n.first_child,
            left: self.n.num_children as usize,
        }
    }

    pub fn num_children(&self) -> usize {
        self.n.num_children as usize
    }

    pub fn czxid(&self) -> Zxid {
        self.n.czxid
    }

    pub fn mzxid(&self) -> Zxid {
        self.n.mzxid
    }

    pub fn pzxid(&self) -> Zxid {
        self.n.pzxid
    }

    pub fn ctime(&self) -> i64 {
        self.n.ctime
    }

    pub fn mtime(&self) -> i64 {
        self.n.mtime
    }

    pub fn version(&self) -> i32 {
        self.n.version
    }

    /// The internal create counter (not the visible cversion).
    pub fn cversion(&self) -> i32 {
        self.n.cversion
    }

    pub fn aversion(&self) -> i32 {
        self.n.aversion
    }

    /// The internal ephemeralOwner (session or container/TTL marker).
    pub fn owner(&self) -> i64 {
        self.n.owner
    }

    pub fn stat(&self) -> Stat {
        self.n.stat()
    }
}

impl std::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRef")
            .field("data", &self.data())
            .field("acl", self.acl())
            .field("stat", &self.stat())
            .field("owner", &self.owner())
            .finish()
    }
}

/// The names of a node's children.
pub struct Children<'a> {
    nodes: &'a Arena,
    next: u32,
    left: usize,
}

impl<'a> Iterator for Children<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.next == NONE {
            return None;
        }
        let n = self.nodes.get(self.next);
        self.next = n.next;
        self.left = self.left.saturating_sub(1);
        Some(n.name_str())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Children<'_> {}

/// What applying one op produced, for building the reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    Created {
        path: Box<str>,
        stat: Stat,
    },
    Deleted,
    SetData {
        stat: Stat,
    },
    SetAcl {
        stat: Stat,
    },
    /// A version check passed; the node's Stat (a standalone check
    /// answers with it, like setData).
    Checked {
        stat: Stat,
    },
    Session,
    /// A sync txn applied (changes nothing).
    Synced,
    /// Applying failed (only possible if prep and tree disagree).
    Error(i32),
}

/// A change that fires watches: (event type, path, the ACL of the node the
/// event is about: for a deletion, the ACL it had). A watcher gets the
/// event only if it may READ that node (ZooKeeper 3.8.4+, CVE-2024-23944).
pub type Trigger<'a> = (i32, &'a str, &'a [Acl]);

/// The paths ZooKeeper refuses to delete.
pub fn is_protected(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

pub struct DataTree {
    nodes: Arena,
    /// Head of the free-slot list (through `next`), or `NONE`.
    free: u32,
    /// Live nodes, "/" included.
    live: usize,
    /// Ids of every node but "/", keyed by (parent id, name).
    index: HashTable<u32>,
    /// Interned ACL lists (never removed) and their ids.
    acls: Vec<AclList>,
    acl_ids: FxHashMap<AclList, u32>,
    ephemerals: FxHashMap<SessionId, FxHashSet<Box<str>>>,
    /// Container and TTL nodes, for the reaper.
    special: FxHashSet<Box<str>>,
    pub last_zxid: Zxid,
    data_bytes: u64,
    /// The snapshot walk in progress, if any, and the count of walks begun.
    walk: Option<Box<restore::WalkState>>,
    walk_serial: u64,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    /// A tree with no nodes at all (not even "/"): the start of a rebuild.
    fn empty() -> DataTree {
        DataTree {
            nodes: Arena::default(),
            free: NONE,
            live: 0,
            index: HashTable::new(),
            acls: Vec::new(),
            acl_ids: FxHashMap::default(),
            ephemerals: FxHashMap::default(),
            special: FxHashSet::default(),
            last_zxid: 0,
            data_bytes: 0,
            walk: None,
            walk_serial: 0,
        }
    }

    /// A fresh tree with "/", "/zookeeper", "/zookeeper/quota" and
    /// "/zookeeper/config" exactly as a new ZooKeeper 3.8 server has them.
    pub fn new() -> DataTree {
        let mut t = DataTree::empty();
        let open = t.intern(acl::open_acl());
        let read = t.intern(acl::read_acl());
        let mut add = |parent, name: &[u8], acl| {
            t.alloc(
                parent,
                name,
                || NodeBytes::new(name, Some(b"")),
                acl,
                0,
                0,
                0,
            )
            .expect("a new name")
        };
        let root = add(NONE, b"", open);
        let zk = add(root, b"zookeeper", open);
        add(zk, b"quota", open);
        let config = add(zk, b"config", read);
        t.nodes.get_mut(config).aversion = -1;
        t
    }

    /// The id of an ACL list, interning it if new.
    fn intern(&mut self, a: AclList) -> u32 {
        if let Some(&i) = self.acl_ids.get(&a) {
            return i;
        }
        let i = u32::try_from(self.acls.len()).expect("fewer than 2^32 ACL lists");
        self.acls.push(a.clone());
        self.acl_ids.insert(a, i);
        i
    }

    /// The child of `parent` called `name`.
    fn child(&self, parent: u32, name: &[u8]) -> Option<u32> {
        let nodes = &self.nodes;
        self.index
            .find(key_hash(parent, name), |&c| {
                let n = nodes.get(c);
                n.parent == parent && n.name() == name
            })
            .copied()
    }

    /// The id of the node at `path` ("" is the root alias).
    fn lookup(&self, path: &str) -> Option<u32> {
        if path.is_empty() || path == "/" {
            return Some(ROOT).filter(|_| self.live > 0);
        }
        let rest = path.strip_prefix('/')?;
        let mut id = ROOT;
        for name in rest.split('/') {
            id = self.child(id, name.as_bytes())?;
        }
        Some(id)
    }

    /// The path of live node `id`.
    fn path_of(&self, id: u32) -> String {
        let mut ids = Vec::new();
        let mut s = String::new();
        self.write_path(id, &mut ids, &mut s);
        s
    }

    /// Writes the path of live node `id` into `out` (`ids` is scratch).
    fn write_path(&self, id: u32, ids: &mut Vec<u32>, out: &mut String) {
        ids.clear();
        out.clear();
        let mut c = id;
        while c != ROOT {
            ids.push(c);
            c = self.nodes.get(c).parent;
        }
        if ids.is_empty() {
            out.push('/');
        }
        for &c in ids.iter().rev() {
            out.push('/');
            out.push_str(self.nodes.get(c).name_str());
        }
    }

    /// A new node, linked under `parent` (`NONE` for the root); `None` if
    /// `parent` already has a child called `name`.
    #[allow(clippy::too_many_arguments)]
    fn alloc(
        &mut self,
        parent: u32,
        name: &[u8],
        bytes: impl FnOnce() -> NodeBytes,
        acl: u32,
        zxid: Zxid,
        time: i64,
        owner: i64,
    ) -> Option<u32> {
        // One probe finds a duplicate or the place for the new id.
        let nodes = &self.nodes;
        let entry = (parent != NONE).then(|| {
            self.index.entry(
                key_hash(parent, name),
                |&c| {
                    let n = nodes.get(c);
                    n.parent == parent && n.name() == name
                },
                |&c| node_hash(nodes, c),
            )
        });
        let vacant = match entry {
            Some(hashbrown::hash_table::Entry::Occupied(_)) => return None,
            Some(hashbrown::hash_table::Entry::Vacant(v)) => Some(v),
            None => None,
        };
        let mut node = Node::new(bytes(), acl, zxid, time, owner);
        node.parent = parent;
        let id = if self.free != NONE {
            let id = self.free;
            let slot = self.nodes.get_mut(id);
            self.free = slot.next;
            *slot = node;
            id
        } else {
            self.nodes.push(node)
        };
        self.live += 1;
        if let Some(v) = vacant {
            v.insert(id);
            let head = {
                let p = self.nodes.get_mut(parent);
                let head = p.first_child;
                p.first_child = id;
                p.num_children += 1;
                head
            };
            if head != NONE {
                self.nodes.get_mut(head).prev = id;
            }
            self.nodes.get_mut(id).next = head;
        }
        Some(id)
    }

    /// Unlinks node `id` (not the root; its children must be gone) and
    /// frees its slot; returns what it held.
    fn free_node(&mut self, id: u32) -> Node {
        let (parent, prev, next) = {
            let n = self.nodes.get(id);
            debug_assert!(n.num_children == 0 && n.parent != NONE && !n.is_free());
            (n.parent, n.prev, n.next)
        };
        let h = node_hash(&self.nodes, id);
        if let Ok(e) = self.index.find_entry(h, |&c| c == id) {
            e.remove();
        }
        if prev != NONE {
            self.nodes.get_mut(prev).next = next;
        } else {
            self.nodes.get_mut(parent).first_child = next;
        }
        if next != NONE {
            self.nodes.get_mut(next).prev = prev;
        }
        self.nodes.get_mut(parent).num_children -= 1;
        // A walk about to visit this node visits its next sibling instead.
        if let Some(w) = self.walk.as_deref_mut() {
            for f in w.frames.iter_mut().filter(|f| f.next == id) {
                f.next = next;
            }
        }
        let old = std::mem::replace(self.nodes.get_mut(id), Node::free(self.free));
        self.free = id;
        self.live -= 1;
        old
    }

    /// Drops `path` (a node being removed) from the ephemeral or
    /// container/TTL index, and its data from the size.
    fn forget(&mut self, path: &str, n: &Node) {
        self.data_bytes -= n.data_len() as u64;
        if is_ephemeral(n.owner) {
            if let Some(set) = self.ephemerals.get_mut(&n.owner) {
                set.remove(path);
                if set.is_empty() {
                    self.ephemerals.remove(&n.owner);
                }
            }
        } else if is_container(n.owner) || ttl_of(n.owner).is_some() {
            self.special.remove(path);
        }
    }

    /// Removes the descendants of node `id` (not `id` itself), children
    /// before their parents.
    fn remove_descendants(&mut self, id: u32) {
        let mut stack = vec![id];
        while let Some(&top) = stack.last() {
            let first = self.nodes.get(top).first_child;
            if first != NONE {
                stack.push(first);
                continue;
            }
            stack.pop();
            if top != id {
                // Only ephemeral, container and TTL nodes need their path.
                let path = if self.nodes.get(top).owner != 0 {
                    self.path_of(top)
                } else {
                    String::new()
                };
                let old = self.free_node(top);
                self.forget(&path, &old);
            }
        }
    }

    /// Looks a path up the way reads do: no validation, "" is the root.
    pub fn get(&self, path: &str) -> Option<NodeRef<'_>> {
        let id = self.lookup(path)?;
        Some(NodeRef {
            tree: self,
            n: self.nodes.get(id),
        })
    }

    /// Number of znodes as ZooKeeper counts them (the root counts twice).
    pub fn node_count(&self) -> usize {
        self.live + 1
    }

    pub fn approximate_data_size(&self) -> u64 {
        self.data_bytes
    }

    pub fn ephemerals_of(&self, s: SessionId) -> impl Iterator<Item = &str> {
        self.ephemerals
            .get(&s)
            .into_iter()
            .flat_map(|v| v.iter().map(|p| &**p))
    }

    /// How many ephemeral nodes session `s` owns.
    pub fn ephemerals_count_of(&self, s: SessionId) -> usize {
        self.ephemerals.get(&s).map_or(0, |v| v.len())
    }

    pub fn ephemeral_sessions(&self) -> impl Iterator<Item = (SessionId, usize)> + '_ {
        self.ephemerals.iter().map(|(s, v)| (*s, v.len()))
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|v| v.len()).sum()
    }

    /// Number of descendants of `path` (getAllChildrenNumber).
    pub fn descendants(&self, path: &str) -> Option<usize> {
        if path == "/" || path.is_empty() {
            return Some(self.node_count() - 2);
        }
        let id = self.lookup(path)?;
        let mut n = 0;
        let mut stack = vec![self.nodes.get(id).first_child];
        while let Some(c) = stack.pop() {
            if c == NONE {
                continue;
            }
            n += 1;
            let node = self.nodes.get(c);
            stack.push(node.next);
            stack.push(node.first_child);
        }
        Some(n)
    }

    /// Containers and TTL nodes due for deletion at wall time `now`
    /// (ContainerManager rules): a container with no children that has had
    /// one; a TTL node with no children whose mtime is older than its TTL.
    pub fn reapable(&self, now: i64) -> Vec<Box<str>> {
        let mut v: Vec<Box<str>> = self
            .special
            .iter()
            .filter(|p| {
                let Some(n) = self.get(p) else {
                    return false;
                };
                if n.num_children() != 0 {
                    return false;
                }
                if is_container(n.owner()) {
                    n.cversion() > 0
                } else if let Some(ttl) = ttl_of(n.owner()) {
                    now - n.mtime() > ttl
                } else {
                    false
                }
            })
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Checks the structural invariants (tests and simulation).
    pub fn check_invariants(&self) {
        let slots = self.nodes.len();
        let mut free = 0;
        let mut f = self.free;
        while f != NONE {
            assert!(self.nodes.get(f).is_free(), "slot {f} on the free list");
            free += 1;
            assert!(free <= slots, "free list has a cycle");
            f = self.nodes.get(f).next;
        }
        assert_eq!(free + self.live, slots, "live + free slots");
        assert_eq!(self.index.len() + 1, self.live.max(1), "index size");
        let mut live = 0;
        let mut listed = 0;
        let mut bytes = 0;
        let mut ephemerals = 0;
        let mut special = 0;
        for (id, n) in self.nodes.iter() {
            if n.is_free() {
                continue;
            }
            live += 1;
            bytes += n.data_len() as u64;
            assert!((n.acl as usize) < self.acls.len(), "acl id");
            if id == ROOT {
                assert_eq!(n.parent, NONE, "root has no parent");
                assert!(n.name().is_empty());
            } else {
                let p = self.nodes.live(n.parent).expect("parent is live");
                assert!(!n.name().is_empty() && n.name() != b"." && n.name() != b"..");
                assert!(p.num_children > 0);
                assert_eq!(self.child(n.parent, n.name()), Some(id), "index entry");
            }
            // The child list: back links, parent links, length.
            let mut c = n.first_child;
            let mut prev = NONE;
            let mut count = 0u32;
            while c != NONE {
                let k = self.nodes.live(c).expect("child is live");
                assert_eq!(k.parent, id, "child's parent");
                assert_eq!(k.prev, prev, "child's back link");
                count += 1;
                assert!(count <= n.num_children, "child list longer than its count");
                prev = c;
                c = k.next;
            }
            assert_eq!(count, n.num_children, "child count");
            listed += count as usize;
            if is_ephemeral(n.owner) {
                ephemerals += 1;
                let p = self.path_of(id);
                assert!(
                    self.ephemerals
                        .get(&n.owner)
                        .is_some_and(|s| s.contains(p.as_str())),
                    "{p} in its session's ephemerals"
                );
            } else if is_container(n.owner) || ttl_of(n.owner).is_some() {
                special += 1;
                let p = self.path_of(id);
                assert!(self.special.contains(p.as_str()), "{p} in special");
            }
        }
        assert_eq!(live, self.live, "live count");
        // Each non-root node is on exactly one list (its parent's).
        assert_eq!(listed + 1, live.max(1), "listed children");
        assert_eq!(bytes, self.data_bytes, "data size");
        assert_eq!(self.ephemeral_count(), ephemerals, "ephemeral index size");
        assert_eq!(self.special.len(), special, "special index size");
    }
}

#[cfg(test)]
mod tests;
