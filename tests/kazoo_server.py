"""Shared by tests/kazoo_tls.py and tests/kazoo_sasl.py: PASS/FAIL checks and a private corral.

    server = CorralServer(binary, "kazoo-tls-")   # temp dir, free client port
    server.start(extra_cfg_lines)                 # waits for `ruok`
    ...check(name, ok, why)...
    sys.exit(server.finish("kazoo_tls"))          # stops it, prints the tally (+ log on failure)
"""

import socket
import subprocess
import tempfile
import time

results = []


def check(name, ok, why=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CorralServer:
    def __init__(self, binary, prefix):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        self.proc = None

    def start(self, extra):
        with open(f"{self.dir}/zoo.cfg", "w") as f:
            f.write(f"tickTime=2000\ndataDir={self.dir}/data\nclientPort={self.port}\n"
                    f"clientPortAddress=127.0.0.1\n4lw.commands.whitelist=ruok\n"
                    f"admin.enableServer=false\n{extra}")
        log = open(f"{self.dir}/corral.log", "w")
        self.proc = subprocess.Popen([self.binary, "--config", f"{self.dir}/zoo.cfg"],
                                     stdout=log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"ruok")
                    if s.recv(4) == b"imok":
                        return
            except OSError:
                pass
            time.sleep(0.1)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def finish(self, name):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        failed = results.count(False)
        print(f"{name}: {len(results) - failed} checks passed, {failed} failed")
        if failed:
            print(open(f"{self.dir}/corral.log").read()[-4000:])
        return 1 if failed else 0
