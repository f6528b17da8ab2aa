#!/usr/bin/env python3
"""Failover time of a 3-server ensemble: SIGKILL the leader, then time until
the first write commits through a surviving server (a new session plus a
create, both of which need the new leader). The killed server is restarted
and the ensemble waits for a leader before the next trial.

    perf/failover.py corral|zookeeper [--trials 20] [--base 24500] [--dir /tmp/corral-failover]

The ensemble is started with shared/zkbench's peers/<target>.sh (same
zoo.cfg defaults for both: tickTime 2000, initLimit 10, syncLimit 5).
Prints p50/p99/max over the trials and one JSON line.
"""
import argparse, json, os, signal, socket, struct, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "..", "..", "shared", "zkbench", "peers")


def four(port, word, timeout=0.5):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(word.encode())
            out = b""
            while True:
                b = s.recv(4096)
                if not b:
                    return out.decode(errors="replace")
                out += b
    except OSError:
        return ""


def mode(port):
    for line in four(port, "srvr").splitlines():
        if line.startswith("Mode: "):
            return line[6:]
    return None


def frame(b):
    return struct.pack(">i", len(b)) + b


def read_frame(s):
    def exact(n):
        out = b""
        while len(out) < n:
            b = s.recv(n - len(out))
            if not b:
                raise OSError("closed")
            out += b
        return out
    (n,) = struct.unpack(">i", exact(4))
    return exact(n)


def try_write(port, path, timeout=0.3):
    """A new session and one create through `port`; True once acknowledged."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(frame(struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + b"\0" * 16 + b"\0"))
            r = read_frame(s)
            if struct.unpack(">q", r[8:16])[0] == 0:
                return False
            p = path.encode()
            acl = struct.pack(">i", 1) + struct.pack(">i", 31) + struct.pack(">i", 5) + b"world" + struct.pack(">i", 6) + b"anyone"
            body = struct.pack(">ii", 1, 1) + struct.pack(">i", len(p)) + p + struct.pack(">i", 1) + b"x" + acl + struct.pack(">i", 0)
            s.sendall(frame(body))
            while True:
                r = read_frame(s)
                xid, _zxid, err = struct.unpack(">iqi", r[:16])
                if xid == 1:
                    return err == 0
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target", choices=["corral", "zookeeper"])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--base", type=int, default=24500)
    ap.add_argument("--dir", default=None)
    a = ap.parse_args()
    d = a.dir or f"/tmp/{a.target}-failover"
    script = os.path.join(PEERS, f"{a.target}.sh")
    subprocess.run([script, "start", "ensemble3", d, str(a.base)], check=True, stdout=subprocess.DEVNULL)
    ports = [a.base + i for i in range(3)]
    times = []
    try:
        for t in range(a.trials):
            t0 = time.time()
            while True:
                modes = [mode(p) for p in ports]
                if modes.count("leader") == 1 and all(m in ("leader", "follower") for m in modes):
                    break
                if time.time() - t0 > 120:
                    sys.exit(f"no stable ensemble: {modes}")
                time.sleep(0.05)
            leader = modes.index("leader")
            pidfile = os.path.join(d, f"zk{leader + 1}", "server.pid" if a.target == "corral" else "zookeeper.pid")
            pid = int(open(pidfile).read())
            others = [p for i, p in enumerate(ports) if i != leader]
            k0 = time.time()
            os.kill(pid, signal.SIGKILL)
            n = 0
            while not try_write(others[n % 2], f"/failover-{t}-{n}"):
                n += 1
                if time.time() - k0 > 120:
                    sys.exit("no write committed within 120 s")
            ms = (time.time() - k0) * 1000
            times.append(ms)
            print(f"trial {t + 1}: leader zk{leader + 1} killed, first write after {ms:.0f} ms", flush=True)
            # restart the killed server the way the peers script starts it
            cfg = os.path.join(d, f"zk{leader + 1}", "zoo.cfg")
            log = open(os.path.join(d, f"zk{leader + 1}", "out.log"), "a")
            if a.target == "corral":
                binary = os.environ.get("CORRAL_BIN", os.path.join(HERE, "..", "target", "release", "corral"))
                p = subprocess.Popen([binary, "--config", cfg], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
            else:
                env = dict(os.environ, JMXDISABLE="true", SERVER_JVMFLAGS="-Xms1g -Xmx1g")
                p = subprocess.Popen(["/usr/share/zookeeper/bin/zkServer.sh", "start-foreground", cfg], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
            open(pidfile, "w").write(str(p.pid))
    finally:
        subprocess.run([script, "stop", "ensemble3", d, str(a.base)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = sorted(times)
    q = lambda f: s[min(len(s) - 1, int(f * len(s)))]
    print(f"{a.target}: {len(s)} trials, failover p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, max {s[-1]:.0f} ms")
    print(json.dumps({"target": a.target, "trials": len(s), "p50_ms": round(q(0.5)), "p99_ms": round(q(0.99)), "max_ms": round(s[-1]), "all_ms": [round(x) for x in times]}))


if __name__ == "__main__":
    main()
