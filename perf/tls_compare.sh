#!/usr/bin/env bash
# corral vs Apache ZooKeeper 3.8 over TLS, side by side in one zkbench run (2-core VM figures in
# perf/results/). Both servers standalone on loopback, same certificates (zkbench's
# peers/tls-certs.sh, RSA 2048), ssl.clientAuth=need, ZooKeeper on its Netty connection factory
# (TLS needs it). Each workload runs once per server, interleaved: TLS get/set/mixed 32x8,
# get 1x1, sessions 8x1; plus the same servers' plaintext get/set/mixed 32x8 for the TLS cost.
#
#   perf/tls_compare.sh [OUT.jsonl]      env: DURATION (5) WARMUP (2) ZKBENCH
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ZB_DIR=${ZKBENCH_DIR:-$REPO/../shared/zkbench}
ZKBENCH=${ZKBENCH:-$REPO/target/zkbench/release/zkbench}
[ -x "$ZKBENCH" ] || (cd "$ZB_DIR" && CARGO_TARGET_DIR=$REPO/target/zkbench cargo build --release)
OUT=${1:-$REPO/perf/results/tls-compare-$(date +%Y%m%d).jsonl}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
W=$(mktemp -d /tmp/corral-tls-compare.XXXX)
C=$W/certs
bash "$ZB_DIR/peers/tls-certs.sh" "$C" > /dev/null
TLSCFG="secureClientPortAddress=127.0.0.1
ssl.keyStore.location=$C/server.pem
ssl.keyStore.type=PEM
ssl.trustStore.location=$C/ca.pem
ssl.trustStore.type=PEM
ssl.clientAuth=need"
cleanup() {
  bash "$ZB_DIR/peers/zookeeper.sh" stop standalone "$W/zk" > /dev/null 2>&1 || true
  bash "$ZB_DIR/peers/corral.sh" stop standalone "$W/corral" > /dev/null 2>&1 || true
}
trap cleanup EXIT
ZK_EXTRA_CFG="serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
secureClientPort=27401
$TLSCFG" bash "$ZB_DIR/peers/zookeeper.sh" start standalone "$W/zk" 27400 > /dev/null
ZK_EXTRA_CFG="secureClientPort=27501
$TLSCFG" CORRAL_BIN=$REPO/target/release/corral bash "$ZB_DIR/peers/corral.sh" start standalone "$W/corral" 27500 > /dev/null
mkdir -p "$(dirname "$OUT")"
run() { # label port pids tls workload clients inflight
  local label=$1 port=$2 pids=$3 tls=$4 wl=$5 cl=$6 inf=$7
  local t=()
  [ "$tls" = tls ] && t=(--tls-ca "$C/ca.pem" --tls-cert "$C/client-cert.pem" --tls-key "$C/client-key.pem")
  "$ZKBENCH" --servers "localhost:$port" "${t[@]}" --workload "$wl" --clients "$cl" --inflight "$inf" \
    --duration "$DURATION" --warmup "$WARMUP" --keys 10000 --server-pids "$pids" \
    --label "$label $tls $wl ${cl}x$inf" --json-out "$OUT" > /dev/null 2>&1 ||
    echo "run failed: $label $tls $wl" >&2
}
ZKP=$(cat "$W/zk/pids"); COP=$(cat "$W/corral/pids")
for spec in "get 32 8" "set 32 8" "mixed 32 8" "get 1 1" "sessions 8 1"; do
  set -- $spec
  run zookeeper 27401 "$ZKP" tls "$1" "$2" "$3"
  run corral 27501 "$COP" tls "$1" "$2" "$3"
done
for spec in "get 32 8" "set 32 8" "mixed 32 8"; do
  set -- $spec
  run zookeeper 27400 "$ZKP" plain "$1" "$2" "$3"
  run corral 27500 "$COP" plain "$1" "$2" "$3"
done
python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    server, tls, wl, shape = r["label"].split(" ", 3)
    by[(tls, wl, shape, server)] = r
print("| mode | workload | ZooKeeper ops/s | corral ops/s | corral/ZK | ZK p50 us | corral p50 us | ZK CPU us/op | corral CPU us/op |")
print("|---|---|---|---|---|---|---|---|---|")
for (tls, wl, shape, server), r in sorted(by.items()):
    if server != "corral":
        continue
    z = by.get((tls, wl, shape, "zookeeper"))
    if not z:
        continue
    cpu = lambda x: x.get("server_cpu_us_per_op") or x.get("server", {}).get("cpu_us_per_op")
    print(f"| {tls} | {wl} {shape} | {z['ops_per_sec']:.0f} | {r['ops_per_sec']:.0f} | "
          f"{r['ops_per_sec'] / max(z['ops_per_sec'], 1e-9):.2f} | {z['latency_us']['p50']:.0f} | "
          f"{r['latency_us']['p50']:.0f} | {cpu(z)} | {cpu(r)} |")
PY
