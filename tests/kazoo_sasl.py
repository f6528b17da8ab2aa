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

import sys
import time
import warnings

from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, NoAuthError
from kazoo.security import make_acl

from kazoo_server import CorralServer, check

warnings.simplefilter("ignore", DeprecationWarning)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    server = CorralServer(sys.argv[1], "kazoo-sasl-")
    d = server.dir
    with open(f"{d}/jaas.conf", "w") as f:
        f.write('Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                '    user_super="super_secret"\n    user_jaasuser="jaas_password";\n};\n')
    hosts = f"127.0.0.1:{server.port}"
    try:
        server.start("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
                     f"corral.jaasConfig={d}/jaas.conf\nzookeeper.superUser=super\n")
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
        check("server still running", server.running())
    except Exception as e:
        check("kazoo SASL run", False, repr(e))
    return server.finish("kazoo_sasl")


if __name__ == "__main__":
    sys.exit(main())
