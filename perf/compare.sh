#!/usr/bin/env bash
# corral vs Apache ZooKeeper 3.8, side by side in ONE zkbench run (zkbench is the independent
# load generator in shared/zkbench; it talks to both servers through the same third-party client).
#
#   perf/compare.sh [OUT.jsonl]      # default perf/results/compare-<UTC time>.jsonl
#
# Runs shared/zkbench/run-baseline.sh with TARGETS="zookeeper:standalone corral:standalone"
# (targets interleaved per repetition as run-baseline.sh orders them), then prints zkbench's
# summary tables and perf/ratios.py's corral/ZooKeeper ratio table.
#
# Environment (passed through to run-baseline.sh when set):
#   TARGETS    ["zookeeper:standalone corral:standalone"]; add "zookeeper:ensemble3 corral:ensemble3" later
#   DURATION [20]  WARMUP [5]  REPEAT [1]  REP_START [1]
#   WORKLOADS  [all: create set get mixed set-lat get-lat sessions watch]
#   BASEPORT   [22500 here, so as not to collide with a plain run-baseline.sh on 22100]
#   WORKDIR    [/tmp/corral-compare]   server data dirs (and the fsync test)
# Binaries:
#   CORRAL_BIN  [${CARGO_TARGET_DIR:-<repo>/target}/release/corral; built with cargo if missing]
#   ZKBENCH     [$ZKBENCH_TARGET_DIR/release/zkbench; built if missing]
#   ZKBENCH_DIR [<repo>/../shared/zkbench]   ZKBENCH_TARGET_DIR [<repo>/target/zkbench]
#               (zkbench is built with its own Cargo.lock, its target dir kept outside shared/)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
ZKBENCH_DIR=${ZKBENCH_DIR:-$REPO/../shared/zkbench}
[ -d "$ZKBENCH_DIR" ] || ZKBENCH_DIR=/work/shared/zkbench
ZKBENCH_DIR=$(cd "$ZKBENCH_DIR" && pwd)
ZKBENCH_TARGET_DIR=${ZKBENCH_TARGET_DIR:-$REPO/target/zkbench}
ZKBENCH=${ZKBENCH:-$ZKBENCH_TARGET_DIR/release/zkbench}
CORRAL_BIN=${CORRAL_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/corral}
OUT=${1:-$HERE/results/compare-$(date -u +%Y%m%dT%H%M%SZ).jsonl}

log() { echo "[compare $(date -u +%H:%M:%S)] $*" >&2; }

if [ ! -d /usr/share/zookeeper ]; then
  log "Apache ZooKeeper is not installed (/usr/share/zookeeper missing): apt-get install -y zookeeper"
  exit 1
fi
for tool in jq python3 java; do
  command -v "$tool" >/dev/null || { log "$tool is needed"; exit 1; }
done
if [ ! -x "$CORRAL_BIN" ]; then
  log "building corral (release) -> $CORRAL_BIN"
  (cd "$REPO" && cargo build --release --bin corral)
fi
[ -x "$CORRAL_BIN" ] || { log "no corral binary at $CORRAL_BIN (set CORRAL_BIN)"; exit 1; }
if [ ! -x "$ZKBENCH" ]; then
  log "building zkbench in $ZKBENCH_DIR -> $ZKBENCH_TARGET_DIR"
  (cd "$ZKBENCH_DIR" && CARGO_TARGET_DIR="$ZKBENCH_TARGET_DIR" cargo build --release)
fi
[ -x "$ZKBENCH" ] || { log "no zkbench binary at $ZKBENCH (set ZKBENCH)"; exit 1; }

mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
export TARGETS=${TARGETS:-"zookeeper:standalone corral:standalone"}
export BASEPORT=${BASEPORT:-22500}
export WORKDIR=${WORKDIR:-/tmp/corral-compare}
export ZKBENCH CORRAL_BIN
# DURATION WARMUP REPEAT REP_START WORKLOADS reach run-baseline.sh through the environment as given.

log "corral: $CORRAL_BIN ($("$CORRAL_BIN" --version 2>/dev/null || echo '?'))"
log "targets: $TARGETS; duration ${DURATION:-20}s warmup ${WARMUP:-5}s repeat ${REPEAT:-1}; workloads: ${WORKLOADS:-all}"
log "results -> $OUT"
rc=0
"$ZKBENCH_DIR/run-baseline.sh" "$OUT" || rc=$?
python3 "$HERE/ratios.py" "$OUT"
exit "$rc"
