#!/usr/bin/env bash
# Drive Apache ZooKeeper's C client (Debian package `zookeeper-bin`: cli_mt from libzookeeper-mt2
# 3.8.0) against a ZooKeeper-compatible server and check what it prints. Each command runs in
# its own session (cli_mt's batch mode, -c), so an ephemeral node is gone once its command ends.
#
#   tests/cclient.sh HOST:PORT
#
# Prints `PASS <check>` / `FAIL <check>: <why>` per check and `cclient: N checks passed, M
# failed`; exits 1 on any failure, 2 on a usage error. Env: CLI_MT (default
# /usr/lib/zookeeper/bin/cli_mt).
set -uo pipefail

if [ $# -ne 1 ] || [[ "$1" != *:* ]]; then
  echo "usage: $0 HOST:PORT" >&2
  exit 2
fi
SERVER=$1
CLI=${CLI_MT:-/usr/lib/zookeeper/bin/cli_mt}
[ -x "$CLI" ] || { echo "FAIL cclient: $CLI not found (apt-get install zookeeper-bin)"; exit 1; }
R="/cclient_test_$$"
pass=0
fail=0

run() { timeout 20 "$CLI" -h "$SERVER" -c "$1" 2>&1; }
# check NAME COMMAND PATTERN...: every extended regex must match the command's output
check() {
  local name=$1 cmd=$2
  shift 2
  local out
  out=$(run "$cmd")
  for p in "$@"; do
    if ! grep -qE -- "$p" <<< "$out"; then
      echo "FAIL $name: no /$p/ in the output of \`$cmd\`:"
      sed 's/^/    /' <<< "$out"
      fail=$((fail + 1))
      return
    fi
  done
  echo "PASS $name"
  pass=$((pass + 1))
}

check "create" "create $R" "\\[$R\\]: rc = 0" "name = $R\$"
check "set returns the new Stat" "set $R hello" "$R: rc = 0" "version=1"
check "get returns the data" "get $R" "$R: rc = 0" "value_len = 5" "^hello\$"
check "sequential create" "create +s $R/s" "name = $R/s0000000000\$"
check "ephemeral create" "create +e $R/e" "name = $R/e\$"
check "the ephemeral left with its session" "ls $R" "$R: rc = 0" "s0000000000"
if run "ls $R" | grep -qE "^[[:space:]]+e\$"; then
  echo "FAIL the ephemeral left with its session: $R/e is still listed"
  fail=$((fail + 1))
fi
check "create2 returns a Stat" "create2 $R/t" "name = $R/t\$" "version=0"
check "exists of a missing node" "exists $R/nope" "Error -101 for $R/nope"
check "delete of a non-empty node" "delete $R" "$R: rc = -111"
check "sync" "sync $R" "\\[$R\\]: rc = 0"
check "delete of a leaf" "delete $R/t" "$R/t: rc = 0"
run "delete $R/s0000000000" > /dev/null
check "delete of the emptied node" "delete $R" "$R: rc = 0"

echo "cclient: $pass checks passed, $fail failed"
[ "$fail" = 0 ]
