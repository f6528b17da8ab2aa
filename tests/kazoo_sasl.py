#!/usr/bin/env python3
"""kazoo's SASL DIGEST-MD5 tests (kazoo/tests/test_sasl.py, legacy and new style) against corral.

    python3 tests/kazoo_sasl.py CORRAL_BINARY

Starts CORRAL_BINARY with the JAAS `Server` section kazoo's own test harness gives ZooKeeper
(user_super, user_jaasuser) and `authProvider.1=...SASLAuthenticationProvider`, and runs the
same checks as test_sasl.py, with a chroot as its harness uses:
  - legacy (`auth_data=[("sasl", "user:password")]`) and new (`sasl_options`) clients
    authenticate, create a node with ACL `sasl:jaasuser`, and an unauthenticated client gets
    NoAuth on it;
  - a bad user/password makes `start()` raise AuthFailedError;
and also: `zookeeper.superUser=super` reads a node it has no ACL entry for.
Needs pure-sasl (pip). Every check prints PASS/FAIL; exit status 1 if any failed.
"""

import socket
import subprocess
import sys
import tempfile
import time
import warnings

from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, NoAuthError
from kazoo.security import make_acl

warnings.simplefilter("ignore", DeprecationWarning)
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


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = tempfile.mkdtemp(prefix="kazoo-sasl-")
    port = free_port()
    with open(f"{d}/jaas.conf", "w") as f:
        f.write('Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                '    user_super="super_secret"\n    user_jaasuser="jaas_password";\n};\n')
    with open(f"{d}/zoo.cfg", "w") as f:
        f.write(f"tickTime=2000\ndataDir={d}/data\nclientPort={port}\n"
                f"clientPortAddress=127.0.0.1\n4lw.commands.whitelist=ruok\n"
                f"authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
                f"corral.jaasConfig={d}/jaas.conf\nzookeeper.superUser=super\n")
    log = open(f"{d}/corral.log", "w")
    server = subprocess.Popen([sys.argv[1], "--config", f"{d}/zoo.cfg"], stdout=log,
                              stderr=subprocess.STDOUT)
    hosts = f"127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"ruok")
                    if s.recv(4) == b"imok":
                        break
            except OSError:
                pass
            time.sleep(0.1)
        root = KazooClient(hosts=hosts)
        root.start(timeout=10)
        root.ensure_path("/kazoo_sasl")
        anon = KazooClient(hosts=hosts + "/kazoo_sasl")
        anon.start(timeout=10)
        acl = make_acl("sasl", credential="jaasuser", all=True)
        styles = [
            ("legacy", dict(auth_data=[("sasl", "jaasuser:jaas_password")]),
             dict(auth_data=[("sasl", "baduser:badpassword")])),
            ("new", dict(sasl_options={"mechanism": "DIGEST-MD5", "username": "jaasuser",
                                       "password": "jaas_password"}),
             dict(sasl_options={"mechanism": "DIGEST-MD5", "username": "baduser",
                                "password": "badpassword"})),
        ]
        for style, good, bad in styles:
            client = KazooClient(hosts=hosts + "/kazoo_sasl", **good)
            client.start(timeout=10)
            client.create("/1", acl=(acl,))
            time.sleep(0.1)
            try:
                anon.get("/1")
                check(f"{style}: connect_sasl_auth", False, "unauthenticated read allowed")
            except NoAuthError:
                check(f"{style}: connect_sasl_auth", True)
            client.delete("/1")
            client.stop()
            client.close()
            client = KazooClient(hosts=hosts + "/kazoo_sasl", **bad)
            try:
                client.start(timeout=10)
                check(f"{style}: invalid_sasl_auth", False, "start() did not raise")
            except AuthFailedError:
                check(f"{style}: invalid_sasl_auth", True)
            except Exception as e:
                check(f"{style}: invalid_sasl_auth", False, f"raised {e!r}")
            finally:
                client.stop()
                client.close()
        # zookeeper.superUser
        root.create("/kazoo_sasl/private", b"p", acl=[make_acl("digest", "x:y", all=True)])
        su = KazooClient(hosts=hosts, sasl_options={"mechanism": "DIGEST-MD5",
                                                    "username": "super",
                                                    "password": "super_secret"})
        su.start(timeout=10)
        check("superUser reads everything", su.get("/kazoo_sasl/private")[0] == b"p")
        su.stop()
        su.close()
        anon.stop()
        anon.close()
        root.stop()
        root.close()
        check("server still running", server.poll() is None)
    except Exception as e:
        check("kazoo SASL run", False, repr(e))
    finally:
        server.kill()
        server.wait()
    failed = results.count(False)
    print(f"kazoo_sasl: {len(results) - failed} checks passed, {failed} failed")
    if failed:
        print(open(f"{d}/corral.log").read()[-4000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
