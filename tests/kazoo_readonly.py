#!/usr/bin/env python3
"""kazoo's read-only client against a corral ensemble that loses its quorum.

    python3 tests/kazoo_readonly.py CORRAL_BINARY

Starts three CORRAL_BINARY servers on 127.0.0.1 with readonlymode.enabled=true, writes /ro
through the ensemble, kills two of them and checks, with kazoo's `read_only=True`:
  - the survivor says `ro` to isro once ZooKeeper's grace period has passed;
  - a read-only kazoo client connects to it (kazoo sees the read-only state), reads /ro, and is
    refused a create with NotReadOnlyCallError;
  - a kazoo client without read_only gets no session there;
  - once the two servers are back, the survivor says `rw` again and the read-only client, which
    looks for a read-write server by itself as it does with ZooKeeper, can write.
Every check prints PASS/FAIL; exit status 1 if any failed.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NotReadOnlyCallError
from kazoo.handlers.threading import KazooTimeoutError

from kazoo_server import check, free_port, results


def four(port, word):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(word.encode())
            out = b""
            while True:
                b = s.recv(4096)
                if not b:
                    return out.decode()
                out += b
    except OSError:
        return ""


def wait(what, cond, within):
    t0 = time.time()
    while time.time() - t0 < within:
        if cond():
            return True
        time.sleep(0.1)
    print(f"  (gave up waiting for {what} after {within} s)", flush=True)
    return False


class Ensemble:
    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="kazoo-ro-")
        self.ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
        self.procs = [None] * 3
        for i in range(3):
            d = f"{self.dir}/zk{i + 1}"
            os.makedirs(f"{d}/data")
            with open(f"{d}/data/myid", "w") as f:
                f.write(f"{i + 1}\n")
            servers = "".join(f"server.{j + 1}=127.0.0.1:{q}:{e}\n"
                              for j, (_, q, e) in enumerate(self.ports))
            with open(f"{d}/zoo.cfg", "w") as f:
                f.write(f"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={d}/data\n"
                        f"clientPort={self.ports[i][0]}\nclientPortAddress=127.0.0.1\n"
                        f"4lw.commands.whitelist=*\nadmin.enableServer=false\n"
                        f"readonlymode.enabled=true\n{servers}")

    def start(self, i):
        d = f"{self.dir}/zk{i + 1}"
        log = open(f"{d}/corral.log", "a")
        self.procs[i] = subprocess.Popen([self.binary, "--config", f"{d}/zoo.cfg"],
                                         stdout=log, stderr=subprocess.STDOUT)

    def kill(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def client_port(self, i):
        return self.ports[i][0]

    def mode(self, i):
        for line in four(self.client_port(i), "srvr").splitlines():
            if line.startswith("Mode: "):
                return line[len("Mode: "):]
        return None

    def stop(self):
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()

    def logs(self):
        out = []
        for i in range(3):
            with open(f"{self.dir}/zk{i + 1}/corral.log") as f:
                out.append(f"--- server {i + 1}\n" + f.read()[-2000:])
        return "\n".join(out)


def main():
    e = Ensemble(sys.argv[1])
    for i in range(3):
        e.start(i)
    try:
        stable = wait("a leader", lambda: sorted(e.mode(i) or "" for i in range(3))
                      == ["follower", "follower", "leader"], 30)
        check("the ensemble elects a leader", stable)
        leader = next(i for i in range(3) if e.mode(i) == "leader")
        survivor = (leader + 1) % 3
        hosts = ",".join(f"127.0.0.1:{e.client_port(i)}" for i in range(3))
        zk = KazooClient(hosts=hosts)
        zk.start(timeout=15)
        zk.create("/ro", b"v1")
        zk.stop()
        s = KazooClient(hosts=f"127.0.0.1:{e.client_port(survivor)}")
        s.start(timeout=15)
        s.sync("/ro")
        check("the survivor has /ro", s.get("/ro")[0] == b"v1")
        s.stop()

        e.kill(leader)
        e.kill((leader + 2) % 3)
        ro_now = wait("isro ro", lambda: four(e.client_port(survivor), "isro") == "ro", 20)
        check("the survivor goes read-only", ro_now, four(e.client_port(survivor), "isro"))

        states = []
        ro = KazooClient(hosts=f"127.0.0.1:{e.client_port(survivor)}", read_only=True)
        ro.add_listener(lambda st: states.append(st))
        ro.start(timeout=15)
        check("a read_only=True client connects", ro.connected)
        check("kazoo sees the read-only state", ro.client_state == "CONNECTED_RO",
              str(ro.client_state))
        check("it reads /ro", ro.get("/ro")[0] == b"v1")
        try:
            ro.create("/new", b"x")
            check("a create is refused NotReadOnly", False, "it succeeded")
        except NotReadOnlyCallError:
            check("a create is refused NotReadOnly", True)

        rw = KazooClient(hosts=f"127.0.0.1:{e.client_port(survivor)}")
        try:
            rw.start(timeout=4)
            check("a read-write client gets no session", False, "it connected")
        except KazooTimeoutError:
            check("a read-write client gets no session", four(e.client_port(survivor), "isro") == "ro",
                  "the survivor is not answering")
        finally:
            rw.stop()
            rw.close()

        e.start(leader)
        e.start((leader + 2) % 3)
        back = wait("isro rw", lambda: four(e.client_port(survivor), "isro") == "rw", 30)
        check("the survivor leaves read-only mode with its quorum back", back)
        # kazoo looks for a read-write server itself and reconnects.
        rw_again = wait("a read-write session", lambda: ro.client_state == "CONNECTED", 60)
        check("the read-only client finds the read-write service", rw_again,
              str(ro.client_state))
        check("its read-only session was lost on the way (it was the survivor's alone)",
              KazooState.LOST in states, str(states))
        if rw_again:
            ro.create("/after", b"y")
            check("and writes", ro.get("/after")[0] == b"y")
        ro.stop()
        ro.close()
    finally:
        e.stop()
    failed = results.count(False)
    print(f"kazoo_readonly: {len(results) - failed} checks passed, {failed} failed")
    if failed:
        print(e.logs())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
