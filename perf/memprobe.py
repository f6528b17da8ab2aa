#!/usr/bin/env python3
"""Resident memory per znode, per connection and per watch of a running server.

    perf/memprobe.py HOST PORT SERVER_PID [NODES=100000] [SESSIONS=1000] [WATCHES_PER_SESSION=1000]

Creates NODES znodes of 100 bytes under /m, opens SESSIONS sessions, then has
each session set WATCHES_PER_SESSION data watches (getData with watch) spread
over the znodes, reading the server's VmRSS from /proc after each phase. Works
against any ZooKeeper-protocol server (the server needs maxClientCnxns=0 or a
limit above SESSIONS). Loopback only; stops by itself.
"""
import socket, struct, sys, time, os
HOST, PORT, PID = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
NODES = int(sys.argv[4]) if len(sys.argv) > 4 else 100000
SESS = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
PER = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
def rss():
    for l in open(f"/proc/{PID}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1]) * 1024
def connect():
    s = socket.create_connection((HOST, PORT)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16) + b"\0"*16 + b"\0"
    s.sendall(struct.pack(">i", len(body)) + body); readframe(s); return s
def readn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError
        b += c
    return b
def readframe(s):
    n = struct.unpack(">i", readn(s, 4))[0]; return readn(s, n)
def pstr(p): b = p.encode(); return struct.pack(">i", len(b)) + b
def frame(xid, op, body): b = struct.pack(">ii", xid, op) + body; return struct.pack(">i", len(b)) + b
acl = struct.pack(">i", 1) + struct.pack(">i", 31) + pstr("world") + pstr("anyone")
def create(path, data): return pstr(path) + struct.pack(">i", len(data)) + data + acl + struct.pack(">i", 0)
def pipeline(s, frames, batch=2000):
    for i in range(0, len(frames), batch):
        chunk = frames[i:i+batch]; s.sendall(b"".join(chunk))
        for _ in chunk:
            r = readframe(s)
            err = struct.unpack(">i", r[12:16])[0]
            if err != 0: raise SystemExit(f"error {err}")
s = connect()
base = rss()
pipeline(s, [frame(1, 1, create("/m", b""))])
pipeline(s, [frame(i+2, 1, create("/m/n%06d" % i, b"x"*100)) for i in range(NODES)])
time.sleep(0.5); after_nodes = rss()
print(f"znodes: {NODES} of 100 B: RSS {base/2**20:.1f} -> {after_nodes/2**20:.1f} MiB = {(after_nodes-base)/NODES:.0f} bytes/znode")
socks = [connect() for _ in range(SESS)]
time.sleep(0.5); after_sess = rss()
print(f"sessions: {SESS}: +{(after_sess-after_nodes)/SESS:.0f} bytes/session+connection")
if PER == 0:
    sys.exit(0)
for k, c in enumerate(socks):
    fr = [frame(j+1, 4, pstr("/m/n%06d" % ((k*PER + j*97) % NODES)) + b"\x01") for j in range(PER)]
    pipeline(c, fr, batch=PER)
time.sleep(0.5); after_w = rss()
W = SESS*PER
print(f"watches: {W} on {NODES} znodes from {SESS} sessions: +{(after_w-after_sess)/2**20:.1f} MiB = {(after_w-after_sess)/W:.0f} bytes/watch")
