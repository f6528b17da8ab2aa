#!/usr/bin/env python3
"""Four-letter words over a server holding many watches (issue: every word used to
snapshot the whole server; wchp was quadratic).

    python3 perf/fourlw_bench.py BINARY PORT WATCHES [server args...]

Starts BINARY on 127.0.0.1:PORT (4lw whitelist srvr,ruok,wchp,wchc,wchs; no per-connection
watch limit), has one raw client pipeline WATCHES exists() watches on distinct paths, then
prints: srvr / a refused word (stat) / wchs median and max over 20 (5) runs; wchp's size and
time while a separate process probes another session's exists() every 0.5 ms (its worst
latency, and the same during 13 MB of getData for comparison); RSS before and after five
connections send wchc and read nothing. Old builds that do not know
corral.maxWatchesPerConnection are detected by "oldtarget" in the path.
"""
import socket, struct, sys, time, threading, subprocess, os, resource
binary, port = sys.argv[1], int(sys.argv[2])
d=f"/tmp/fb/d{port}"; subprocess.run(["rm","-rf",d]); os.makedirs(d)
open(f"{d}/zoo.cfg","w").write(f"tickTime=2000\ndataDir={d}/data\nclientPort={port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=srvr,ruok,wchp,wchc,wchs\n" + ("corral.maxWatchesPerConnection=0\n" if "oldtarget" not in binary else "") + "")
p=subprocess.Popen([binary,"--config",f"{d}/zoo.cfg"]+sys.argv[4:],stdout=open(f"{d}/log","w"),stderr=subprocess.STDOUT)
def fl(w):
    s=socket.create_connection(("127.0.0.1",port)); s.sendall(w.encode()); out=b""
    while True:
        b=s.recv(1<<20)
        if not b: break
        out+=b
    return out
for _ in range(100):
    try:
        if fl("ruok")==b"imok": break
    except Exception: pass
    time.sleep(0.1)
def session():
    s=socket.create_connection(("127.0.0.1",port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY,1)
    body=struct.pack(">iqiq",0,0,30000,0)+struct.pack(">i",16)+b"\0"*16
    s.sendall(struct.pack(">i",len(body))+body)
    def rd(n):
        b=b""
        while len(b)<n:
            c=s.recv(n-len(b)); assert c; b+=c
        return b
    n=struct.unpack(">i",rd(4))[0]; rd(n)
    return s, rd
N=int(sys.argv[3])
w, wrd = session()
def writer():
    buf=bytearray()
    for i in range(N):
        path=f"/watched/a-fairly-long-service-name-{i:08}".encode()
        body=struct.pack(">ii",i+1,3)+struct.pack(">i",len(path))+path+b"\1"
        buf+=struct.pack(">i",len(body))+body
        if len(buf)>65536: w.sendall(buf); buf=bytearray()
    w.sendall(buf)
t=threading.Thread(target=writer); t.start()
for i in range(N):
    n=struct.unpack(">i",wrd(4))[0]; wrd(n)
t.join()
o, ord_ = session()
def probe():
    t0=time.perf_counter()
    body=struct.pack(">ii",7,3)+struct.pack(">i",1)+b"/"+b"\0"
    o.sendall(struct.pack(">i",len(body))+body); n=struct.unpack(">i",ord_(4))[0]; ord_(n)
    return time.perf_counter()-t0
def timeit(word, k):
    ts=[]
    for _ in range(k):
        t0=time.perf_counter(); fl(word); ts.append(time.perf_counter()-t0)
    ts.sort(); return ts[len(ts)//2]*1000, ts[-1]*1000
print("watches", N)
print("srvr  median/max ms %.2f / %.2f" % timeit("srvr", 20))
print("stat (refused) median/max ms %.2f / %.2f" % timeit("stat", 20))
print("wchs  median/max ms %.2f / %.2f" % timeit("wchs", 5))
# wchp while probing another client
import multiprocessing as mp
def prober(q, ev):
    worst=0.0; n=0; slow=[]
    while not ev.is_set():
        t=time.perf_counter(); l=probe(); worst=max(worst,l); n+=1
        if l>0.005: slow.append((round(t,3), round(l*1000,1)))
        time.sleep(0.0005)
    print("slow probes", slow, file=sys.stderr)
    q.put((worst,n))
def run_probe(fn):
    q=mp.Queue(); ev=mp.Event(); pr=mp.Process(target=prober,args=(q,ev)); pr.start(); time.sleep(0.3)
    r=fn(); ev.set(); worst,n=q.get(); pr.join(); return r,worst,n
(_,quiet,qn)=run_probe(lambda: time.sleep(0.5))
print("exists() worst with nothing else: %.2f ms (%d probes)" % (quiet*1000,qn))
def w():
    t0=time.perf_counter(); out=fl("wchp"); print("wchp from", round(t0,3), "to", round(time.perf_counter(),3), file=sys.stderr); return (out,time.perf_counter()-t0)
((out,dt),wst,wn)=run_probe(w)
worst=[wst]
print("wchp %d bytes in %.0f ms; another client's exists() worst %.1f ms (%d probes)" % (len(out), dt*1000, worst[0]*1000, wn))
def bigread():
    # 12.8 MB of wchs replies' worth: read a 1 MB node 13 times on a session
    c, crd = session()
    path=b"/big"
    body=struct.pack(">ii",1,1)+struct.pack(">i",len(path))+path+struct.pack(">i",1000000)+b"x"*1000000+struct.pack(">i",1)+struct.pack(">i",31)+struct.pack(">i",5)+b"world"+struct.pack(">i",6)+b"anyone"+struct.pack(">i",0)
    c.sendall(struct.pack(">i",len(body))+body); n=struct.unpack(">i",crd(4))[0]; crd(n)
    t0=time.perf_counter()
    for i in range(13):
        body=struct.pack(">ii",2+i,4)+struct.pack(">i",len(path))+path+b"\0"
        c.sendall(struct.pack(">i",len(body))+body); n=struct.unpack(">i",crd(4))[0]; crd(n)
    return time.perf_counter()-t0
(dt2,wst2,wn2)=run_probe(bigread)
print("13 MB of getData in %.0f ms; another client's exists() worst %.1f ms (%d probes)" % (dt2*1000, wst2*1000, wn2))
base=int(open(f"/proc/{p.pid}/status").read().split("VmRSS:")[1].split()[0])
socks=[]
for _ in range(5):
    s=socket.create_connection(("127.0.0.1",port)); s.sendall(b"wchc"); socks.append(s)
time.sleep(3)
rss=int(open(f"/proc/{p.pid}/status").read().split("VmRSS:")[1].split()[0])
print("five unread wchc: RSS %d -> %d MiB" % (base//1024, rss//1024))
p.kill()
