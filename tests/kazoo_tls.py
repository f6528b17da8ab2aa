#!/usr/bin/env python3
"""kazoo over TLS against corral's secure client port.

    python3 tests/kazoo_tls.py CORRAL_BINARY

Makes a throwaway CA, a server certificate (localhost, 127.0.0.1) and client certificates with
the `openssl` command, starts CORRAL_BINARY with ZooKeeper's TLS keys (secureClientPort,
ssl.keyStore.location/type=PEM, ssl.trustStore.location, ssl.clientAuth=need) and checks, with
kazoo's own TLS options (use_ssl, ca, certfile, keyfile):
  - a client with a trusted certificate creates and reads nodes;
  - its certificate's subject is its `x509` id: a node whose ACL names it is readable over TLS
    and NoAuth to a plaintext session and to another certificate;
  - a client without a certificate, and one whose certificate comes from another CA, cannot
    connect; a client that does not trust the server's CA cannot either.
Every check prints PASS/FAIL; exit status 1 if any failed.
"""

import os
import subprocess
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl

from kazoo_server import CorralServer, check, free_port


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki(d):
    def key(name):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", f"{d}/{name}.key")

    def ca(name, cn):
        key(name)
        openssl("req", "-new", "-x509", "-key", f"{d}/{name}.key", "-subj", f"/CN={cn}",
                "-days", "2", "-out", f"{d}/{name}.pem",
                "-addext", "basicConstraints=critical,CA:true",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def leaf(name, ca_name, subj, ext):
        key(name)
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(ext)
        openssl("req", "-new", "-key", f"{d}/{name}.key", "-subj", subj, "-out", f"{d}/{name}.csr")
        openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/{ca_name}.pem",
                "-CAkey", f"{d}/{ca_name}.key", "-CAcreateserial", "-days", "2",
                "-extfile", f"{d}/{name}.ext", "-out", f"{d}/{name}.pem")

    ca("ca", "kazoo test CA")
    ca("other-ca", "another CA")
    leaf("server", "ca", "/CN=localhost",
         "basicConstraints=critical,CA:false\nextendedKeyUsage=serverAuth\n"
         "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    client_ext = "basicConstraints=critical,CA:false\nextendedKeyUsage=clientAuth\n"
    leaf("client", "ca", "/O=corral/CN=kazoo-client", client_ext)
    leaf("client2", "ca", "/O=corral/CN=someone-else", client_ext)
    leaf("stranger", "other-ca", "/O=corral/CN=kazoo-client", client_ext)
    with open(f"{d}/keystore.pem", "w") as out:
        for part in ("server.key", "server.pem", "ca.pem"):
            out.write(open(f"{d}/{part}").read())
    with open(f"{d}/client-keystore.pem", "w") as out:
        for part in ("client.key", "client.pem"):
            out.write(open(f"{d}/{part}").read())


ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")


def zkcli(d, server, *cmd):
    """zkCli.sh from Debian's zookeeper package over TLS (Netty client socket, PEM stores).
    The package's zookeeper.jar manifest lacks netty-codec and netty-resolver: they go on
    the class path (a second -cp, which java takes over zkCli.sh's own)."""
    cp = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:" \
         "/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar"
    flags = (f"-cp {cp} -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty "
             f"-Dzookeeper.client.secure=true "
             f"-Dzookeeper.ssl.keyStore.location={d}/client-keystore.pem "
             f"-Dzookeeper.ssl.keyStore.type=PEM -Dzookeeper.ssl.trustStore.location={d}/ca.pem "
             f"-Dzookeeper.ssl.trustStore.type=PEM")
    env = dict(os.environ, CLIENT_JVMFLAGS=flags)
    r = subprocess.run([ZKCLI, "-server", server, *cmd], env=env, capture_output=True,
                       text=True, timeout=60)
    return r.stdout + r.stderr


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    server = CorralServer(sys.argv[1], "kazoo-tls-")
    d = server.dir
    make_pki(d)
    plain, secure = server.port, free_port()
    try:
        server.start(f"secureClientPort={secure}\nsecureClientPortAddress=127.0.0.1\n"
                     f"ssl.keyStore.location={d}/keystore.pem\nssl.keyStore.type=PEM\n"
                     f"ssl.trustStore.location={d}/ca.pem\nssl.trustStore.type=PEM\n"
                     f"ssl.clientAuth=need\n")

        def tls_client(cert=None, ca=f"{d}/ca.pem"):
            kw = dict(use_ssl=True, verify_certs=True, ca=ca)
            if cert:
                kw.update(certfile=f"{d}/{cert}.pem", keyfile=f"{d}/{cert}.key")
            return KazooClient(hosts=f"localhost:{secure}", timeout=5, **kw)

        zk = tls_client("client")
        zk.start(timeout=10)
        zk.create("/kazoo_tls", b"hello")
        check("create and get over TLS", zk.get("/kazoo_tls")[0] == b"hello")
        # openssl encodes O then CN; RFC 2253 prints the last first.
        me = "CN=kazoo-client,O=corral"
        zk.create("/kazoo_tls/mine", b"secret",
                  acl=[make_acl("x509", me, all=True)])
        check("x509 ACL readable by its subject", zk.get("/kazoo_tls/mine")[0] == b"secret")

        def refused(client, what):
            try:
                client.get("/kazoo_tls/mine")
                check(what, False, "read allowed")
            except NoAuthError:
                check(what, True)
            finally:
                client.stop()
                client.close()

        other = tls_client("client2")
        other.start(timeout=10)
        refused(other, "x509 ACL is NoAuth to another certificate")
        p = KazooClient(hosts=f"127.0.0.1:{plain}", timeout=5)
        p.start(timeout=10)
        refused(p, "x509 ACL is NoAuth to a plaintext session")

        for what, client in [
            ("no client certificate is refused", tls_client(None)),
            ("a certificate from another CA is refused", tls_client("stranger")),
            ("a server outside the client's CA is refused", tls_client("client", f"{d}/other-ca.pem")),
        ]:
            try:
                client.start(timeout=4)
                check(what, False, "connected")
                client.stop()
            except Exception:  # kazoo gives up with a timeout
                check(what, True)
            finally:
                client.close()
        if os.path.exists(ZKCLI):
            out = zkcli(d, f"localhost:{secure}", "get", "/kazoo_tls")
            check("zkCli.sh (Java client) over TLS reads", "hello" in out, out[-300:])
            out = zkcli(d, f"localhost:{secure}", "whoami")
            check("zkCli.sh whoami shows the x509 id", f"x509: {me}" in out, out[-300:])
        else:
            print(f"NOTE: {ZKCLI} not found: the Java client is not checked")
        zk.delete("/kazoo_tls", recursive=True)
        zk.stop()
        zk.close()
        check("server still running", server.running())
    except Exception as e:  # a failure outside a check
        check("kazoo TLS run", False, repr(e))
    status = server.finish("kazoo_tls need")
    return max(status, other_client_auth(sys.argv[1], d))


def other_client_auth(binary, pki):
    """ssl.clientAuth=want and none, with the same certificates: a client without a
    certificate is served; with `want` a certificate gives the x509 id, with `none` it
    is not asked for (so it gives none)."""
    status = 0
    for mode in ("want", "none"):
        server = CorralServer(binary, f"kazoo-tls-{mode}-")
        secure = free_port()
        try:
            server.start(f"secureClientPort={secure}\nsecureClientPortAddress=127.0.0.1\n"
                         f"ssl.keyStore.location={pki}/keystore.pem\n"
                         f"ssl.trustStore.location={pki}/ca.pem\nssl.clientAuth={mode}\n")
            hosts = f"localhost:{secure}"
            anon = KazooClient(hosts=hosts, use_ssl=True, verify_certs=True, ca=f"{pki}/ca.pem")
            anon.start(timeout=10)
            anon.create("/mine", b"m", acl=[make_acl("x509", "CN=kazoo-client,O=corral", all=True)])
            check(f"{mode}: a client without a certificate is served", True)
            c = KazooClient(hosts=hosts, use_ssl=True, verify_certs=True, ca=f"{pki}/ca.pem",
                            certfile=f"{pki}/client.pem", keyfile=f"{pki}/client.key")
            c.start(timeout=10)
            try:
                got = c.get("/mine")[0] == b"m"
            except NoAuthError:
                got = False
            check(f"{mode}: a client certificate {'gives' if mode == 'want' else 'does not give'} "
                  f"the x509 id", got == (mode == "want"))
            for k in (anon, c):
                k.stop()
                k.close()
        except Exception as e:
            check(f"{mode}: kazoo TLS run", False, repr(e))
        status = max(status, server.finish(f"kazoo_tls {mode}"))
    return status


if __name__ == "__main__":
    sys.exit(main())
