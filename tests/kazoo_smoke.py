#!/usr/bin/env python3
"""kazoo smoke test for a ZooKeeper-compatible server (corral, or Apache ZooKeeper itself).

    python3 tests/kazoo_smoke.py HOST:PORT

Needs `pip install kazoo` (written against kazoo 2.11). Every check is a real assertion and
prints one line, `PASS <check>` or `FAIL <check>: <why>`; the run ends with
`kazoo_smoke: N checks passed, M failed` and exits 1 if anything failed (2 on a usage error).

Covers: create/get/set/delete with version checks, exists, get_children, ephemeral and
sequential nodes, watches, transactions (committed and failing), closeSession removing
ephemerals, session expiry of a silent raw-protocol session (its ephemeral disappears and
watchers get NodeDeleted / NodeChildrenChanged) while a pinging 4 s kazoo session survives,
and the kazoo recipes that run on a plain server: Lock, Election, Counter, Barrier, Queue, TreeCache,
LockingQueue, Party, DataWatch, ChildrenWatch.

Everything lives under /kazoo_smoke_<pid>, removed at the end. The whole run is bounded by a
watchdog (env KAZOO_SMOKE_TIMEOUT, default 240 s) so a server that stops answering cannot hang
CI. Set KAZOO_SMOKE_DEBUG=1 for kazoo's own logging.
"""

import logging
import os
import re
import socket
import struct
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    LockTimeout,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType

PASSED = []
FAILED = []


def check(name, cond, detail=""):
    """One assertion: prints PASS/FAIL and records it. Returns cond so callers can branch."""
    if cond:
        PASSED.append(name)
        print("PASS %s" % name, flush=True)
    else:
        FAILED.append(name)
        print("FAIL %s%s" % (name, (": " + detail) if detail else ""), flush=True)
    return bool(cond)


def eq(name, got, want):
    return check(name, got == want, "got %r, want %r" % (got, want))


def raises(name, exc, fn, *args, **kw):
    """Checks that fn(*args, **kw) raises exc."""
    try:
        r = fn(*args, **kw)
    except exc:
        return check(name, True)
    except Exception as e:  # wrong error
        return check(name, False, "raised %s(%s), want %s" % (type(e).__name__, e, exc.__name__))
    return check(name, False, "returned %r, want %s" % (r, exc.__name__))


def wait_for(pred, timeout, interval=0.05):
    """Polls pred() until it is truthy or timeout seconds pass; returns its last value."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(interval)


def group(fn):
    """Runs one group of checks; an unexpected exception is one FAIL, the run goes on."""
    name = fn.__name__
    print("-- %s" % name, flush=True)
    try:
        fn()
    except Exception as e:
        check("%s: no unexpected exception" % name, False,
              "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc().rstrip()))


class Recorder:
    """A watch callback that remembers every event it gets."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait(self, n=1, timeout=10.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.events) >= n, timeout)
            return list(self.events)


# ---------------------------------------------------------------------------------------------
# A minimal raw ZooKeeper client: enough to open a session with a chosen timeout, create an
# ephemeral node and then go completely silent (no pings), so the server has to expire it.

def _jstr(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _jbuf(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


class RawSession:
    def __init__(self, host, port, timeout_ms):
        self.sock = socket.create_connection((host, port), timeout=10)
        # ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly
        req = struct.pack(">iqiq", 0, 0, timeout_ms, 0) + _jbuf(b"\0" * 16) + b"\0"
        assert len(req) == 45
        self.sock.sendall(struct.pack(">i", len(req)) + req)
        resp = self.read_frame()
        if len(resp) < 36:
            raise RuntimeError("short ConnectResponse (%d bytes)" % len(resp))
        self.protocol, self.timeout_ms, self.session_id = struct.unpack(">iiq", resp[:16])
        (plen,) = struct.unpack(">i", resp[16:20])
        self.passwd = resp[20:20 + plen]
        self.xid = 0

    def recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError("server closed the connection")
            out += chunk
        return out

    def read_frame(self):
        (n,) = struct.unpack(">i", self.recv_exact(4))
        return self.recv_exact(n)

    def create(self, path, data, flags):
        """create (op 1) with world:anyone ALL; returns the created path."""
        self.xid += 1
        body = (struct.pack(">ii", self.xid, 1) + _jstr(path) + _jbuf(data)
                + struct.pack(">i", 1) + struct.pack(">i", 31) + _jstr("world") + _jstr("anyone")
                + struct.pack(">i", flags))
        self.sock.sendall(struct.pack(">i", len(body)) + body)
        while True:
            reply = self.read_frame()
            xid, _zxid, err = struct.unpack(">iqi", reply[:16])
            if xid == self.xid:
                break
        if err != 0:
            raise RuntimeError("raw create %s failed: err %d" % (path, err))
        (plen,) = struct.unpack(">i", reply[16:20])
        return reply[20:20 + plen].decode()

    def wait_closed(self, timeout):
        """True once the server has closed (EOF or reset) within timeout seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                return False
            except OSError:
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2 or ":" not in sys.argv[1]:
        print("usage: kazoo_smoke.py HOST:PORT", file=sys.stderr)
        return 2
    hosts = sys.argv[1]
    host, port = hosts.rsplit(":", 1)
    port = int(port)
    logging.basicConfig(level=logging.DEBUG if os.environ.get("KAZOO_SMOKE_DEBUG") else logging.CRITICAL)

    budget = float(os.environ.get("KAZOO_SMOKE_TIMEOUT", "240"))

    def watchdog():
        print("FAIL watchdog: the smoke test did not finish within %.0f s (server hung?)" % budget,
              flush=True)
        print("kazoo_smoke: %d checks passed, %d failed" % (len(PASSED), len(FAILED) + 1), flush=True)
        os._exit(1)

    wd = threading.Timer(budget, watchdog)
    wd.daemon = True
    wd.start()

    root = "/kazoo_smoke_%d" % os.getpid()
    clients = []

    def new_client(**kw):
        # recipes retry on conflicts (Counter on BadVersion): keep kazoo's backoff short
        kw.setdefault("command_retry", {"max_tries": -1, "delay": 0.05, "max_delay": 1.0})
        c = KazooClient(hosts=hosts, **kw)
        c.start(timeout=15)
        clients.append(c)
        return c

    t_start = time.time()
    try:
        zk = new_client()
        check("connect: kazoo client connected", zk.state == KazooState.CONNECTED, str(zk.state))
        zk2 = new_client()
        check("connect: second client has another session",
              zk2.client_id[0] != zk.client_id[0], "both %#x" % zk.client_id[0])
        if zk.exists(root):
            zk.delete(root, recursive=True)
        zk.create(root, b"")

        # -------------------------------------------------------------------------------------
        def crud():
            p = root + "/crud"
            eq("crud: create returns the path", zk.create(p, b"v1"), p)
            data, st = zk.get(p)
            eq("crud: get returns the data", data, b"v1")
            eq("crud: new node has version 0", st.version, 0)
            eq("crud: dataLength", st.dataLength, 2)
            eq("crud: numChildren 0", st.numChildren, 0)
            eq("crud: persistent node has ephemeralOwner 0", st.ephemeralOwner, 0)
            eq("crud: mzxid == czxid after create", st.mzxid, st.czxid)
            st2 = zk.set(p, b"v22", version=0)
            eq("crud: set(version=0) -> version 1", st2.version, 1)
            check("crud: set moves mzxid", st2.mzxid > st.mzxid, "%d <= %d" % (st2.mzxid, st.mzxid))
            eq("crud: set keeps czxid", st2.czxid, st.czxid)
            raises("crud: set with a stale version -> BadVersion", BadVersionError,
                   zk.set, p, b"x", version=0)
            eq("crud: get after set", zk.get(p)[0], b"v22")
            st3 = zk.set(p, b"v3")  # version -1: unconditional
            eq("crud: set(version=-1) -> version 2", st3.version, 2)
            ex = zk.exists(p)
            check("crud: exists returns the Stat", ex is not None and ex.version == 2, repr(ex))
            eq("crud: exists on a missing node -> None", zk.exists(root + "/missing"), None)
            raises("crud: create of an existing node -> NodeExists", NodeExistsError, zk.create, p, b"")
            raises("crud: get of a missing node -> NoNode", NoNodeError, zk.get, root + "/missing")
            raises("crud: set of a missing node -> NoNode", NoNodeError, zk.set,
                   root + "/missing", b"")
            raises("crud: create under a missing parent -> NoNode", NoNodeError, zk.create,
                   root + "/missing/child", b"")
            raises("crud: delete with a stale version -> BadVersion", BadVersionError,
                   zk.delete, p, version=1)
            zk.delete(p, version=2)
            eq("crud: node gone after delete(version=2)", zk.exists(p), None)
            raises("crud: delete of a missing node -> NoNode", NoNodeError, zk.delete, p)
            # empty vs binary vs larger data
            zk.create(p + "_empty")
            d, st = zk.get(p + "_empty")
            check("crud: empty data round-trips", d == b"" and st.dataLength == 0, repr((d, st)))
            blob = bytes(range(256)) * 400  # 100 KiB of every byte value
            zk.create(p + "_blob", blob)
            d, st = zk.get(p + "_blob")
            check("crud: 100 KiB binary data round-trips", d == blob and st.dataLength == len(blob),
                  "got %d bytes, dataLength %d" % (len(d), st.dataLength))
            zk.delete(p + "_empty")
            zk.delete(p + "_blob")

        def children():
            p = root + "/kids"
            zk.create(p, b"parent")
            eq("children: empty node has no children", zk.get_children(p), [])
            for n in ("b", "a", "c"):
                zk.create(p + "/" + n, n.encode())
            eq("children: get_children lists them", sorted(zk.get_children(p)), ["a", "b", "c"])
            kids, st = zk.get_children(p, include_data=True)
            eq("children: get_children(include_data) numChildren", st.numChildren, 3)
            eq("children: cversion counts child creates", st.cversion, 3)
            eq("children: parent Stat dataLength", st.dataLength, len(b"parent"))
            raises("children: delete of a non-empty node -> NotEmpty", NotEmptyError, zk.delete, p)
            zk.delete(p + "/b")
            kids, st = zk.get_children(p, include_data=True)
            eq("children: after delete", sorted(kids), ["a", "c"])
            eq("children: cversion counts deletes too", st.cversion, 4)
            raises("children: get_children of a missing node -> NoNode", NoNodeError,
                   zk.get_children, root + "/missing")
            zk.delete(p, recursive=True)
            eq("children: recursive delete", zk.exists(p), None)

        def ephemeral_sequential():
            p = root + "/eph"
            zk.create(p)
            e = zk2.create(p + "/e", b"mine", ephemeral=True)
            st = zk.exists(e)
            check("ephemeral: exists from another session", st is not None)
            eq("ephemeral: ephemeralOwner is the creating session", st.ephemeralOwner, zk2.client_id[0])
            raises("ephemeral: child of an ephemeral -> NoChildrenForEphemerals",
                   NoChildrenForEphemeralsError, zk2.create, e + "/child", b"")
            seqs = [zk.create(p + "/s-", b"", sequence=True) for _ in range(3)]
            seqs += [zk2.create(p + "/s-", b"", sequence=True, ephemeral=True) for _ in range(2)]
            pat = re.compile(r"^" + re.escape(p) + r"/s-(\d{10})$")
            check("sequential: names end in a %010d counter", all(pat.match(s) for s in seqs), repr(seqs))
            nums = [int(pat.match(s).group(1)) for s in seqs if pat.match(s)]
            check("sequential: counters strictly increase",
                  len(nums) == 5 and all(b > a for a, b in zip(nums, nums[1:])), repr(nums))
            # parent's counter is its cversion: 1 ephemeral child + 0 before first seq => first is 1
            eq("sequential: counter follows the parent's cversion", nums[:1], [1])
            st = zk.exists(seqs[-1])
            eq("sequential: ephemeral_sequential owned by its session",
               st and st.ephemeralOwner, zk2.client_id[0])
            # a third client: its ephemerals must vanish when it closes its session
            zk3 = new_client()
            e3 = zk3.create(p + "/e3", b"", ephemeral=True)
            w = Recorder()
            zk.exists(e3, watch=w)
            zk3.stop()
            zk3.close()
            clients.remove(zk3)
            eq("ephemeral: closeSession deletes the session's ephemerals",
               wait_for(lambda: zk.exists(e3) is None, 5), True)
            ev = w.wait(1, 5)
            check("ephemeral: watcher gets NodeDeleted on closeSession",
                  len(ev) == 1 and ev[0].type == EventType.DELETED and ev[0].path == e3, repr(ev))
            check("ephemeral: other sessions' ephemerals stay", zk.exists(e) is not None)

        def watches():
            p = root + "/w"
            ew = Recorder()
            eq("watch: exists watch on a missing node", zk.exists(p, watch=ew), None)
            zk2.create(p, b"0")
            ev = ew.wait(1)
            check("watch: exists watch fires NodeCreated",
                  len(ev) == 1 and ev[0].type == EventType.CREATED and ev[0].path == p, repr(ev))
            dw = Recorder()
            zk.get(p, watch=dw)
            zk2.set(p, b"1")
            ev = dw.wait(1)
            check("watch: data watch fires NodeDataChanged",
                  len(ev) == 1 and ev[0].type == EventType.CHANGED and ev[0].path == p, repr(ev))
            zk2.set(p, b"2")
            time.sleep(0.3)
            eq("watch: data watch is one-shot", len(dw.events), 1)
            cw = Recorder()
            zk.get_children(p, watch=cw)
            zk2.set(p, b"3")  # data change: no child event
            zk2.create(p + "/c", b"")
            ev = cw.wait(1)
            check("watch: child watch fires NodeChildrenChanged (not for data changes)",
                  len(ev) == 1 and ev[0].type == EventType.CHILD and ev[0].path == p, repr(ev))
            xw = Recorder()
            zk.exists(p + "/c", watch=xw)
            zk2.delete(p + "/c")
            ev = xw.wait(1)
            check("watch: exists watch fires NodeDeleted",
                  len(ev) == 1 and ev[0].type == EventType.DELETED, repr(ev))
            zk.delete(p)

        def transactions():
            p = root + "/txn"
            zk.create(p)
            t = zk.transaction()
            t.create(p + "/a", b"1")
            t.set_data(p + "/a", b"2")
            t.check(p + "/a", 1)
            t.delete(p + "/a")
            t.create(p + "/b", b"kept")
            res = t.commit()
            check("txn: commit returns one result per op", len(res) == 5, repr(res))
            if len(res) == 5:
                eq("txn: create result is the path", res[0], p + "/a")
                check("txn: set_data result is a Stat with version 1",
                      getattr(res[1], "version", None) == 1, repr(res[1]))
                eq("txn: check result", res[2], True)
                eq("txn: delete result", res[3], True)
            eq("txn: ops applied (a created and deleted)", zk.exists(p + "/a"), None)
            eq("txn: ops applied (b created)", zk.get(p + "/b")[0], b"kept")

            # failing transaction: nothing is applied, per-op errors reported
            t = zk.transaction()
            t.create(p + "/new", b"x")
            t.set_data(p + "/b", b"changed")
            t.check(p + "/b", 7)  # wrong version
            t.delete(p + "/b")
            res = t.commit()
            kinds = [type(r) for r in res]
            eq("txn: failed commit reports RolledBack / BadVersion / RuntimeInconsistency",
               kinds, [RolledBackError, RolledBackError, BadVersionError, RuntimeInconsistency])
            eq("txn: failed commit created nothing", zk.exists(p + "/new"), None)
            d, st = zk.get(p + "/b")
            check("txn: failed commit changed nothing", d == b"kept" and st.version == 0, repr((d, st)))
            t = zk.transaction()
            t.create(p + "/new2", b"x")
            t.delete(p + "/nonexistent")
            res = t.commit()
            eq("txn: failure at the last op -> NoNode", [type(r) for r in res],
               [RolledBackError, NoNodeError])
            eq("txn: ... and the create before it is rolled back", zk.exists(p + "/new2"), None)
            zk.delete(p, recursive=True)

        def session_expiry():
            p = root + "/expiry"
            zk.create(p)
            # a kazoo session with the minimum timeout that keeps pinging must survive
            short = new_client(timeout=4.0)
            kept = short.create(p + "/kept", b"", ephemeral=True)
            short_sid = short.client_id[0]
            raw = RawSession(host, port, 4000)
            try:
                eq("expiry: raw session negotiated timeout 4000 ms", raw.timeout_ms, 4000)
                check("expiry: raw session got a session id and 16-byte password",
                      raw.session_id != 0 and len(raw.passwd) == 16,
                      "sid %#x passwd %d bytes" % (raw.session_id, len(raw.passwd)))
                eph = raw.create(p + "/raw_eph", b"raw", 1)
                t0 = time.time()  # the server last heard from the raw session now
                eq("expiry: raw create of an ephemeral", eph, p + "/raw_eph")
                dw = Recorder()
                st = zk.exists(eph, watch=dw)
                eq("expiry: ephemeral owned by the raw session",
                   st and st.ephemeralOwner, raw.session_id)
                cw = Recorder()
                zk.get_children(p, watch=cw)
                ev = dw.wait(1, 15)
                elapsed = time.time() - t0
                check("expiry: watcher gets NodeDeleted when the silent session expires",
                      len(ev) == 1 and ev[0].type == EventType.DELETED and ev[0].path == eph,
                      "after %.1f s: %r" % (elapsed, ev))
                check("expiry: not expired before its 4 s timeout (>= 3.5 s)", elapsed >= 3.5,
                      "expired after %.2f s" % elapsed)
                print("     (expired after %.1f s)" % elapsed, flush=True)
                ev = cw.wait(1, 5)
                check("expiry: parent child watch gets NodeChildrenChanged",
                      len(ev) == 1 and ev[0].type == EventType.CHILD and ev[0].path == p, repr(ev))
                eq("expiry: the ephemeral is gone", zk.exists(eph), None)
                check("expiry: server closed the expired session's connection", raw.wait_closed(5))
                check("expiry: pinging 4 s kazoo session still connected",
                      short.state == KazooState.CONNECTED and short.client_id[0] == short_sid,
                      "state %s" % short.state)
                check("expiry: pinging 4 s kazoo session kept its ephemeral",
                      zk.exists(kept) is not None)
            finally:
                raw.close()
                short.stop()
                short.close()
                clients.remove(short)
            zk.delete(p, recursive=True)

        def recipe_lock():
            p = root + "/lock"
            l1 = zk.Lock(p, "one")
            eq("Lock: first acquire", l1.acquire(timeout=10), True)
            l2 = zk2.Lock(p, "two")
            eq("Lock: non-blocking acquire while held -> False", l2.acquire(blocking=False), False)
            raises("Lock: acquire(timeout=1) while held -> LockTimeout", LockTimeout, l2.acquire, timeout=1)
            got = {}

            def waiter():
                try:
                    got["ok"] = l2.acquire(timeout=15)
                except Exception as e:  # reported below
                    got["err"] = e

            th = threading.Thread(target=waiter, daemon=True)
            th.start()
            wait_for(lambda: len(l1.contenders()) == 2, 5)
            eq("Lock: contenders in order", l1.contenders(), ["one", "two"])
            time.sleep(0.2)
            check("Lock: waiter blocks while the lock is held", th.is_alive() and not got, repr(got))
            l1.release()
            th.join(10)
            eq("Lock: waiter acquires after release", got, {"ok": True})
            l2.release()
            eq("Lock: no contenders after both released", l1.contenders(), [])

        def recipe_election():
            p = root + "/election"
            release1 = threading.Event()
            led = []

            def leader(name, ev):
                led.append(name)
                ev.wait(15)

            e1 = zk.Election(p, "e1")
            t1 = threading.Thread(target=e1.run, args=(leader, "e1", release1), daemon=True)
            t1.start()
            eq("Election: first contender leads", wait_for(lambda: led == ["e1"], 10), True)
            e2 = zk2.Election(p, "e2")
            release2 = threading.Event()
            t2 = threading.Thread(target=e2.run, args=(leader, "e2", release2), daemon=True)
            t2.start()
            wait_for(lambda: len(e1.contenders()) == 2, 5)
            eq("Election: contenders", e1.contenders(), ["e1", "e2"])
            time.sleep(0.2)
            eq("Election: second waits while the first leads", led, ["e1"])
            release1.set()
            t1.join(10)
            eq("Election: second leads after the first steps down",
               wait_for(lambda: led == ["e1", "e2"], 10), True)
            release2.set()
            t2.join(10)
            check("Election: both runs returned", not t1.is_alive() and not t2.is_alive())

        def recipe_counter():
            p = root + "/counter"
            c = zk.Counter(p)
            c += 5
            c -= 2
            eq("Counter: += / -=", c.value, 3)
            errs = []

            def bump(client):
                try:
                    cc = client.Counter(p)
                    for _ in range(10):
                        cc += 1
                except Exception as e:
                    errs.append(e)

            ths = [threading.Thread(target=bump, args=(cl,), daemon=True) for cl in (zk, zk2)]
            for th in ths:
                th.start()
            for th in ths:
                th.join(30)
            eq("Counter: concurrent increments from 2 sessions (version-checked retries)",
               (c.value, errs), (23, []))
            f = zk.Counter(p + "_float", default=0.0)
            f += 1.5
            eq("Counter: float counter", f.value, 1.5)

        def recipe_barrier():
            p = root + "/barrier"
            b = zk.Barrier(p)
            eq("Barrier: wait on a missing barrier returns at once", b.wait(1), True)
            b.create()
            b2 = zk2.Barrier(p)
            eq("Barrier: wait times out while the barrier stands", b2.wait(0.5), False)
            res = {}
            th = threading.Thread(target=lambda: res.setdefault("r", b2.wait(15)), daemon=True)
            th.start()
            time.sleep(0.3)
            check("Barrier: waiter blocks", th.is_alive())
            eq("Barrier: remove", b.remove(), True)
            th.join(10)
            eq("Barrier: waiter released by remove", res.get("r"), True)

        def recipe_queue():
            p = root + "/queue"
            q = zk.Queue(p)
            q.put(b"one")
            q.put(b"two")
            q.put(b"urgent", priority=10)
            eq("Queue: len", len(q), 3)
            q2 = zk2.Queue(p)
            got = [q2.get(), q.get(), q2.get()]
            eq("Queue: priority first, then FIFO, across sessions", got, [b"urgent", b"one", b"two"])
            eq("Queue: empty get -> None", q.get(), None)
            eq("Queue: len after draining", len(q), 0)

        def recipe_locking_queue():
            p = root + "/lqueue"
            q = zk.LockingQueue(p)
            q.put(b"a")
            q.put_all([b"b", b"c"])  # a transaction of sequential creates
            eq("LockingQueue: len", len(q), 3)
            eq("LockingQueue: get", q.get(5), b"a")
            eq("LockingQueue: holds_lock", q.holds_lock(), True)
            q2 = zk2.LockingQueue(p)
            eq("LockingQueue: other consumer skips the locked entry", q2.get(5), b"b")
            eq("LockingQueue: consume (transaction of 2 deletes)", q.consume(), True)
            eq("LockingQueue: consume second", q2.consume(), True)
            eq("LockingQueue: len after consuming", len(q), 1)
            eq("LockingQueue: get remaining", q.get(5), b"c")
            q.consume()
            eq("LockingQueue: get on empty times out -> None", q.get(0.5), None)

        def recipe_party():
            p = root + "/party"
            p1 = zk.Party(p, "p1")
            p2 = zk2.Party(p, "p2")
            p1.join()
            p2.join()
            eq("Party: members", sorted(p1), ["p1", "p2"])
            eq("Party: len", len(p2), 2)
            p2.leave()
            eq("Party: after leave", list(p1), ["p1"])
            sp = zk2.ShallowParty(p + "_shallow", "s2")
            sp.join()
            eq("ShallowParty: members", list(zk.ShallowParty(p + "_shallow")), ["s2"])
            p1.leave()
            sp.leave()
            eq("Party: empty after all left", len(p1), 0)

        def recipe_datawatch():
            p = root + "/dwatch"
            seen = []

            @zk.DataWatch(p)
            def _w(data, stat):
                seen.append((data, stat.version if stat else None))

            eq("DataWatch: initial call for a missing node", wait_for(lambda: seen[:1], 5), [(None, None)])
            zk2.create(p, b"1")
            wait_for(lambda: len(seen) >= 2, 10)
            eq("DataWatch: create", seen[1:2], [(b"1", 0)])
            zk2.set(p, b"2")
            wait_for(lambda: len(seen) >= 3, 10)
            eq("DataWatch: set", seen[2:3], [(b"2", 1)])
            zk2.delete(p)
            wait_for(lambda: len(seen) >= 4, 10)
            eq("DataWatch: delete", seen[3:4], [(None, None)])

        def recipe_childrenwatch():
            p = root + "/cwatch"
            zk.create(p)
            seen = []

            @zk.ChildrenWatch(p)
            def _w(children):
                seen.append(sorted(children))

            eq("ChildrenWatch: initial call", wait_for(lambda: seen[:1], 5), [[]])
            zk2.create(p + "/a")
            eq("ChildrenWatch: child added", wait_for(lambda: seen[-1] == ["a"], 10), True)
            zk2.create(p + "/b", ephemeral=True)
            eq("ChildrenWatch: second child", wait_for(lambda: seen[-1] == ["a", "b"], 10), True)
            zk2.delete(p + "/a")
            eq("ChildrenWatch: child removed", wait_for(lambda: seen[-1] == ["b"], 10), True)
            zk2.delete(p + "/b")
            eq("ChildrenWatch: empty again", wait_for(lambda: seen[-1] == [], 10), True)

        def recipe_treecache():
            from kazoo.recipe.cache import TreeCache, TreeEvent
            p = root + "/tcache"
            zk.create(p + "/a", b"1", makepath=True)
            events = []
            cache = TreeCache(zk, p)
            cache.listen(lambda ev: events.append((ev.event_type, ev.event_data.path if ev.event_data else None)))
            cache.start()
            try:
                inited = wait_for(lambda: any(e[0] == TreeEvent.INITIALIZED for e in events), 10)
                eq("TreeCache: initialized", bool(inited), True)
                eq("TreeCache: sees existing child", cache.get_data(p + "/a").data, b"1")
                zk2.create(p + "/a/deep", b"d")
                eq("TreeCache: NODE_ADDED for a grandchild",
                   wait_for(lambda: (TreeEvent.NODE_ADDED, p + "/a/deep") in events, 10), True)
                zk2.set(p + "/a", b"2")
                eq("TreeCache: NODE_UPDATED",
                   wait_for(lambda: (TreeEvent.NODE_UPDATED, p + "/a") in events, 10), True)
                eq("TreeCache: cached data follows", wait_for(lambda: cache.get_data(p + "/a").data == b"2", 10), True)
                zk2.delete(p + "/a/deep")
                eq("TreeCache: NODE_REMOVED",
                   wait_for(lambda: (TreeEvent.NODE_REMOVED, p + "/a/deep") in events, 10), True)
                eq("TreeCache: children", sorted(cache.get_children(p + "/a") or []), [])
            finally:
                cache.close()

        for g in (crud, children, ephemeral_sequential, watches, transactions, session_expiry,
                  recipe_lock, recipe_election, recipe_counter, recipe_barrier, recipe_queue,
                  recipe_locking_queue, recipe_party, recipe_datawatch, recipe_childrenwatch,
                  recipe_treecache):
            group(g)

        print("-- cleanup", flush=True)
        zk.delete(root, recursive=True)
        eq("cleanup: root removed", zk.exists(root), None)
    except Exception as e:
        check("setup/cleanup: no unexpected exception", False,
              "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc().rstrip()))
        try:  # best effort: do not leave our tree behind
            for c in clients:
                if c.connected:
                    c.delete(root, recursive=True)
                    break
        except Exception:
            pass
    finally:
        for c in clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass
    wd.cancel()
    print("kazoo_smoke: %d checks passed, %d failed (%.1f s)"
          % (len(PASSED), len(FAILED), time.time() - t_start), flush=True)
    if FAILED:
        print("failed checks:", flush=True)
        for f in FAILED:
            print("  - " + f, flush=True)
    return 1 if FAILED or not PASSED else 0


if __name__ == "__main__":
    sys.exit(main())
