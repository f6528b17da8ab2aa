//! The read path allocates nothing per request: once a connection's buffers
//! have grown to their working size, a batch of getData / exists /
//! getChildren2 / getACL requests (and one of every error a read can give)
//! is parsed, looked up, checked and answered into the connection's output
//! buffer without a single heap allocation. Counted with a global allocator
//! that tallies this thread's allocations only, so other tests running in
//! parallel do not disturb the count.

use corral::proto::codes::{err, op, perm};
use corral::proto::jute;
use corral::proto::records::put_acl;
use corral::server::{Core, CoreConfig};
use corral::types::{ConnId, Now};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the only
// addition is a thread-local counter (const-initialised, so touching it
// never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

fn now() -> Now {
    Now {
        mono_ms: 1_000,
        wall_ms: 1_700_000_000_000,
    }
}

fn frame(out: &mut Vec<u8>, xid: i32, opcode: i32, body: &[u8]) {
    corral::client::put_request(out, xid, opcode, |o| o.extend_from_slice(body));
}

fn path_watch(path: &str, watch: bool) -> Vec<u8> {
    let mut b = Vec::new();
    jute::put_str(&mut b, path);
    jute::put_bool(&mut b, watch);
    b
}

fn path_only(path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    jute::put_str(&mut b, path);
    b
}

/// Hands the core's output over the way the runtime does (swapping in the
/// writer's drained buffer) and returns the reply bytes.
fn drain(core: &mut Core, spare: &mut Vec<u8>, got: &mut Vec<u8>) {
    core.drain(|o| {
        spare.clear();
        std::mem::swap(o.bytes, spare);
        got.extend_from_slice(spare);
    });
}

/// Error codes of the replies in `bytes` (after the connect response).
fn reply_errors(mut bytes: &[u8]) -> Vec<i32> {
    let mut v = Vec::new();
    while bytes.len() >= 20 {
        let len = i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        v.push(i32::from_be_bytes(bytes[16..20].try_into().unwrap()));
        bytes = &bytes[4 + len..];
    }
    v
}

#[test]
fn reads_allocate_nothing_per_request() {
    // The counter sees this thread's allocations.
    let a = allocs();
    let probe = std::hint::black_box(vec![1u8; 16]);
    assert!(allocs() > a && probe.len() == 16);

    let mut core = Core::new(CoreConfig::default(), now());
    let id = ConnId::new(0, 1);
    core.conn_open(id, "127.0.0.1:5000".parse().unwrap(), now());
    let mut connect = Vec::new();
    corral::client::put_connect_request(&mut connect, 0, 30_000, 0, &[0; 16]);
    core.conn_input(id, &connect, now());
    core.commit_all(now());

    // A node with 100 bytes of data and two children; a secret node.
    let mut setup = Vec::new();
    for (i, (path, acl_id)) in [
        ("/r", "anyone"),
        ("/r/a", "anyone"),
        ("/r/b", "anyone"),
        ("/secret", "nobody"),
    ]
    .iter()
    .enumerate()
    {
        let mut b = Vec::new();
        jute::put_str(&mut b, path);
        jute::put_buffer(&mut b, Some(&[7u8; 100]));
        jute::put_int(&mut b, 1);
        if *acl_id == "anyone" {
            put_acl(&mut b, perm::ALL, "world", "anyone");
        } else {
            put_acl(
                &mut b,
                perm::ALL,
                "digest",
                "nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            );
        }
        jute::put_int(&mut b, 0);
        frame(&mut setup, i as i32 + 1, op::CREATE, &b);
    }
    core.conn_input(id, &setup, now());
    core.commit_all(now());

    // One batch of reads: hits, misses and refusals.
    let mut batch = Vec::new();
    let mut expect = Vec::new();
    for i in 0..64 {
        let xid = 100 + i;
        match i % 8 {
            0 | 1 => {
                frame(&mut batch, xid, op::GET_DATA, &path_watch("/r", false));
                expect.push(err::OK);
            }
            2 => {
                frame(&mut batch, xid, op::EXISTS, &path_watch("/r/a", false));
                expect.push(err::OK);
            }
            3 => {
                frame(&mut batch, xid, op::GET_CHILDREN2, &path_watch("/r", false));
                expect.push(err::OK);
            }
            4 => {
                frame(&mut batch, xid, op::GET_ACL, &path_only("/r/b"));
                expect.push(err::OK);
            }
            5 => {
                frame(
                    &mut batch,
                    xid,
                    op::GET_DATA,
                    &path_watch("/missing", false),
                );
                expect.push(err::NO_NODE);
            }
            6 => {
                frame(&mut batch, xid, op::GET_DATA, &path_watch("/secret", false));
                expect.push(err::NO_AUTH);
            }
            _ => {
                frame(&mut batch, xid, op::EXISTS, &path_watch("/r/none", false));
                expect.push(err::NO_NODE);
            }
        }
    }

    let mut spare = Vec::with_capacity(64 * 1024);
    // Room for every reply of the measured rounds, so the collector itself
    // never grows.
    let mut got = Vec::with_capacity(8 << 20);
    // Warm up: buffers grow to their working size.
    for _ in 0..4 {
        core.conn_input(id, &batch, now());
        drain(&mut core, &mut spare, &mut got);
    }
    got.clear();

    let before = allocs();
    let rounds = 200;
    for _ in 0..rounds {
        core.conn_input(id, &batch, now());
        drain(&mut core, &mut spare, &mut got);
    }
    let used = allocs() - before;
    let errors = reply_errors(&got);
    assert_eq!(errors.len(), expect.len() * rounds, "one reply per request");
    for (i, e) in errors.iter().enumerate() {
        assert_eq!(*e, expect[i % expect.len()], "reply {i}");
    }
    assert_eq!(used, 0, "allocations for {} reads", expect.len() * rounds);
}
