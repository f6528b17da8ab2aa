#!/usr/bin/env bash
# Long simulator runs: ranges of 20,000 standard seeds (SIM_SEEDS=10000 even + odd) plus the
# swarm seeds, from BASE in steps of 20,000, with a copy of the release sim test binary (so
# later builds do not change it mid-run). One summary line per range.
#
#   perf/sim_ranges.sh BASE COUNT [SUMMARY]    (after `cargo test --release --test sim --no-run`;
#                                               SIM_BIN=path runs another build of it)
set -euo pipefail
BASE=$1 COUNT=$2
SUMMARY=${3:-sim-ranges-$BASE.txt}
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SIM_BIN:-$(ls -t "$REPO"/target/release/deps/sim-* | grep -v '\.d$' | head -1)}
COPY=$(mktemp /tmp/corral-sim.XXXX)
cp "$BIN" "$COPY"
chmod 755 "$COPY"
for k in $(seq 0 $((COUNT - 1))); do
  b=$((BASE + k * 20000))
  log=$(mktemp /tmp/corral-sim-$b.XXXX)
  rc=0
  SIM_SEEDS=10000 SIM_SEED_BASE=$b "$COPY" sweep --nocapture --test-threads 2 > "$log" 2>&1 || rc=$?
  echo "$b rc=$rc $(grep -hE 'seeds in' "$log" | sed 's/, coverage.*//' | tr '\n' ' ') log=$log" | tee -a "$SUMMARY"
done
