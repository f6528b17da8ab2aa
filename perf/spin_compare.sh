#!/usr/bin/env bash
# Spinning on shared CPUs: corral with its automatic spin policy, corral with
# a fixed `--spin-us 200` (the earlier default), and Apache ZooKeeper 3.8,
# standalone and as three servers on this machine, in one run: single-client
# set and get (1x1), where spinning decides latency and CPU per op.
#
#   perf/spin_compare.sh [OUT.jsonl]      env: DURATION (5) WARMUP (2) ZKBENCH
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ZB_DIR=${ZKBENCH_DIR:-$REPO/../shared/zkbench}
ZKBENCH=${ZKBENCH:-$REPO/target/zkbench/release/zkbench}
[ -x "$ZKBENCH" ] || (cd "$ZB_DIR" && CARGO_TARGET_DIR=$REPO/target/zkbench cargo build --release)
OUT=${1:-$REPO/perf/results/spin-compare-$(date +%Y%m%d).jsonl}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
W=$(mktemp -d /tmp/corral-spin-compare.XXXX)
mkdir -p "$(dirname "$OUT")"
export CORRAL_BIN=${CORRAL_BIN:-$REPO/target/release/corral}
for mode in standalone ensemble3; do
  for server in zookeeper corral-auto corral-spin200; do
    peer=${server%%-*}
    args=""
    [ "$server" = corral-spin200 ] && args="--spin-us 200"
    d=$W/$server-$mode
    CORRAL_ARGS="$args" bash "$ZB_DIR/peers/$peer.sh" start "$mode" "$d" 28400 > "$W/start.txt"
    servers=$(grep '^servers' "$W/start.txt" | cut -d' ' -f2)
    pids=$(grep '^pids' "$W/start.txt" | cut -d' ' -f2- | tr ' ' ,)
    for wl in set get; do
      "$ZKBENCH" --servers "$servers" --workload "$wl" --clients 1 --inflight 1 \
        --duration "$DURATION" --warmup "$WARMUP" --keys 1000 --server-pids "$pids" \
        --label "$server $mode $wl 1x1" --json-out "$OUT" > /dev/null 2>&1 ||
        echo "run failed: $server $mode $wl" >&2
    done
    bash "$ZB_DIR/peers/$peer.sh" stop "$mode" "$d" > /dev/null 2>&1 || true
  done
done
python3 - "$OUT" <<'PY'
import json, sys
rows = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    rows[r["label"]] = r
print("| mode | workload | server | ops/s | p50 us | p99 us | server CPU us/op | p50 / ZK | CPU / ZK |")
print("|---|---|---|---|---|---|---|---|---|")
for mode in ("standalone", "ensemble3"):
    for wl in ("set", "get"):
        z = rows.get(f"zookeeper {mode} {wl} 1x1")
        for server in ("zookeeper", "corral-auto", "corral-spin200"):
            r = rows.get(f"{server} {mode} {wl} 1x1")
            if not r:
                continue
            cpu = r.get("server_cpu_us_per_op") or 0
            ratio = lambda a, b: f"{a / b:.2f}" if z and b else "-"
            print(f"| {mode} | {wl} 1x1 | {server} | {r['ops_per_sec']:.0f} | {r['latency_us']['p50']} | "
                  f"{r['latency_us']['p99']} | {cpu:.0f} | "
                  f"{ratio(r['latency_us']['p50'], z['latency_us']['p50'] if z else 0)} | "
                  f"{ratio(cpu, (z.get('server_cpu_us_per_op') or 0) if z else 0)} |")
PY
