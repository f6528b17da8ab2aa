#!/usr/bin/env bash
# Drive Apache ZooKeeper's own CLI (Debian package `zookeeper`: zkCli.sh, the 3.8 Java client)
# against a ZooKeeper-compatible server and check what it prints.
#
#   tests/zkcli.sh HOST:PORT
#
# All commands run in ONE zkCli session (commands on stdin, JLine off), so the JVM starts once.
# Between steps the script asks for a marker node that does not exist under a separate path;
# zkCli answers "Node does not exist: <marker>", which splits the transcript into one section
# per step. zkCli prints normal output on stdout and errors ("Created ...", "Node does not
# exist: ...") on stderr; both streams are line-flushed, so they are merged in order.
#
# Prints `PASS <check>` / `FAIL <check>: <why>` per check and `zkcli: N checks passed, M failed`;
# exits 1 on any failure (the whole transcript is printed then), 2 on a usage error.
# Env: ZKCLI (default /usr/share/zookeeper/bin/zkCli.sh), ZKCLI_TIMEOUT (seconds, default 120).
set -euo pipefail

if [ $# -ne 1 ] || [[ "$1" != *:* ]]; then
  echo "usage: $0 HOST:PORT" >&2
  exit 2
fi
SERVER=$1
ZKCLI=${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}
ZKCLI_TIMEOUT=${ZKCLI_TIMEOUT:-120}
[ -x "$ZKCLI" ] || { echo "FAIL zkcli: $ZKCLI not found (apt-get install zookeeper)"; exit 1; }

R="/zkcli_test_$$"      # the test's own tree
M="/zkcli_marker_$$"    # never created: asking for it prints a section marker
OUT=$(mktemp -d "${TMPDIR:-/tmp}/zkcli.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

# quiet the client's log4j output (it goes to the console otherwise)
export ZOO_LOG4J_PROP=${ZOO_LOG4J_PROP:-ERROR,CONSOLE}
export CLIENT_JVMFLAGS="${CLIENT_JVMFLAGS:-} -Xmx256m"

mark() { echo "get $M/step$1"; }

# ---- the session ------------------------------------------------------------------------
{
  mark 1   # create: plain, child, ephemeral, two sequential
  echo "create $R rootdata"
  echo "create $R/node hello_zkcli"
  echo "create -e $R/eph ephemeral_data"
  echo "create -s $R/seq- s0"
  echo "create -s $R/seq- s1"
  mark 2   # ls
  echo "ls $R"
  mark 3   # get
  echo "get $R/node"
  mark 4   # set
  echo "set $R/node hello_again"
  mark 5   # get after set
  echo "get $R/node"
  mark 6   # stat after set
  echo "stat $R/node"
  mark 7   # stat of the ephemeral
  echo "stat $R/eph"
  mark 8   # versioned set with a stale version, and a duplicate create
  echo "set -v 0 $R/node stale"
  echo "create $R/node duplicate"
  mark 9   # versioned set with the right version, then get -s
  echo "set -v 1 $R/node third"
  echo "get -s $R/node"
  mark 10  # delete of a non-empty node, delete of a leaf, stat of the deleted leaf
  echo "delete $R"
  echo "delete $R/node"
  echo "stat $R/node"
  mark 11  # ls after delete, ls -s (children + stat)
  echo "ls -s $R"
  mark 12  # deleteall, then the tree is gone
  echo "deleteall $R"
  echo "ls $R"
  mark 13
  echo "quit"
} > "$OUT/commands"

rc=0
timeout "$ZKCLI_TIMEOUT" "$ZKCLI" -server "$SERVER" < "$OUT/commands" > "$OUT/transcript" 2>&1 || rc=$?
if [ "$rc" = 124 ]; then
  echo "zkCli.sh did not finish within ${ZKCLI_TIMEOUT}s" >> "$OUT/transcript"
fi
# drop the JVM's logging noise (SLF4J warnings, log4j lines if any)
grep -v -E '^SLF4J:|^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]+ \[' "$OUT/transcript" > "$OUT/clean" || true

# section N = the lines after "Node does not exist: $M/stepN" up to the next marker
section() {
  awk -v start="Node does not exist: $M/step$1" -v pre="Node does not exist: $M/step" '
    $0 == start { on = 1; next }
    index($0, pre) == 1 { on = 0 }
    on { print }' "$OUT/clean"
}

PASSED=0
FAILED=0
pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; FAILED=$((FAILED + 1)); }
# has STEP CHECK-NAME EXTENDED-REGEX: some line of section STEP matches the whole regex
has() {
  if section "$1" | grep -qxE -- "$3"; then pass "$2"; else fail "$2" "no line matching '$3' in step $1 output"; fi
}
hasnt() {
  if section "$1" | grep -qxE -- "$3"; then fail "$2" "unexpected line matching '$3' in step $1 output"; else pass "$2"; fi
}
stat_field() { section "$1" | sed -n "s/^$2 = //p" | head -n 1; }
# field_is STEP FIELD WANT CHECK-NAME: the first "FIELD = value" line of section STEP has WANT
field_is() {
  local v
  v=$(stat_field "$1" "$2")
  if [ "$v" = "$3" ]; then pass "$4"; else fail "$4" "got '$v'"; fi
}
# escape for grep -E
# shellcheck disable=SC2016
re() { printf '%s' "$1" | sed 's/[.[\*^$()+?{}|]/\\&/g'; }
RE=$(re "$R")

if ! grep -q "Node does not exist: $M/step1" "$OUT/clean"; then
  # not even the first step ran: no point in listing every check
  fail "session: zkCli could not run commands against $SERVER"
  echo "---- zkCli transcript (exit status $rc) ----"
  cat "$OUT/transcript"
  echo "----"
  echo "zkcli: $PASSED checks passed, $FAILED failed"
  exit 1
fi

if grep -q "Node does not exist: $M/step13" "$OUT/clean"; then
  pass "session: zkCli connected and ran every step"
else
  fail "session: zkCli connected and ran every step" "exit status $rc, last marker missing"
fi

has 1 "create: persistent node" "Created $RE"
has 1 "create: child node" "Created $RE/node"
has 1 "create -e: ephemeral node" "Created $RE/eph"
seqs=$(section 1 | sed -n "s|^Created $R/seq-||p")
if [ "$(printf '%s\n' "$seqs" | grep -cxE '[0-9]{10}')" = 2 ]; then
  s0=$(printf '%s\n' "$seqs" | sed -n 1p)
  s1=$(printf '%s\n' "$seqs" | sed -n 2p)
  pass "create -s: two sequential nodes named seq-%010d ($s0, $s1)"
  if [ $((10#$s1)) -gt $((10#$s0)) ]; then pass "create -s: sequence numbers increase"
  else fail "create -s: sequence numbers increase" "$s0 then $s1"; fi
else
  fail "create -s: two sequential nodes named seq-%010d" "got: $(printf '%s' "$seqs" | tr '\n' ' ')"
  s0=x s1=y
fi

# ls prints a Java list: [a, b, c]
lsline=$(section 2 | grep -E '^\[.*\]$' | head -n 1 || true)
got=$(printf '%s' "$lsline" | tr -d '[] ' | tr ',' '\n' | sort | tr '\n' ' ')
want=$(printf '%s\n' eph node "seq-$s0" "seq-$s1" | sort | tr '\n' ' ')
if [ "$got" = "$want" ]; then pass "ls: lists the four children"; else fail "ls: lists the four children" "got '$lsline', want $want"; fi

has 3 "get: returns the data" "hello_zkcli"
sec4=$(section 4 | grep -v -E '^$|^WATCHER::|^WatchedEvent' || true)
if [ -z "$sec4" ]; then pass "set: succeeds silently"; else fail "set: succeeds silently" "printed: $sec4"; fi
has 5 "get after set: new data" "hello_again"
hasnt 5 "get after set: old data gone" "hello_zkcli"

field_is 6 dataVersion 1 "stat after set: dataVersion = 1"
field_is 6 dataLength 11 "stat: dataLength = 11"
field_is 6 numChildren 0 "stat: numChildren = 0"
field_is 6 cversion 0 "stat: cversion = 0"
field_is 6 aclVersion 0 "stat: aclVersion = 0"
field_is 6 ephemeralOwner 0x0 "stat: persistent ephemeralOwner = 0x0"
cz=$(stat_field 6 cZxid); mz=$(stat_field 6 mZxid)
if [[ "$cz" =~ ^0x[0-9a-f]+$ && "$mz" =~ ^0x[0-9a-f]+$ ]] && [ $((mz)) -gt $((cz)) ]; then
  pass "stat: mZxid > cZxid after set"
else
  fail "stat: mZxid > cZxid after set" "cZxid '$cz' mZxid '$mz'"
fi
has 6 "stat: ctime printed" "ctime = .+"
v=$(stat_field 7 ephemeralOwner)
if [[ "$v" =~ ^0x[0-9a-f]+$ ]] && [ "$v" != 0x0 ]; then pass "stat: ephemeral node has an ephemeralOwner ($v)"
else fail "stat: ephemeral node has an ephemeralOwner" "got '$v'"; fi

has 8 "set -v with a stale version: BadVersion" "version No is not valid : $RE/node"
has 8 "create of an existing node: NodeExists" "Node already exists: $RE/node"
field_is 9 dataVersion 2 "set -v 1 then get -s: dataVersion = 2"
has 9 "get -s: data" "third"
has 10 "delete of a non-empty node: NotEmpty" "Node not empty: $RE"
has 10 "stat after delete: node missing" "Node does not exist: $RE/node"
n=$(section 10 | grep -cxF "Node does not exist: $R/node" || true)
if [ "$n" = 1 ]; then pass "delete of a leaf: no error (only the stat after it misses)"
else fail "delete of a leaf: no error" "$n 'Node does not exist' lines for it"; fi
lsline=$(section 11 | grep -E '^\[.*\]$' | head -n 1 || true)
got=$(printf '%s' "$lsline" | tr -d '[] ' | tr ',' '\n' | sort | tr '\n' ' ')
want=$(printf '%s\n' eph "seq-$s0" "seq-$s1" | sort | tr '\n' ' ')
if [ "$got" = "$want" ]; then pass "ls -s after delete: node gone"; else fail "ls -s after delete: node gone" "got '$lsline', want $want"; fi
field_is 11 numChildren 3 "ls -s: numChildren = 3"
has 12 "deleteall: tree gone" "Node does not exist: $RE"

if [ "$FAILED" -gt 0 ] || [ "$rc" = 124 ]; then
  echo "---- zkCli commands ----"
  cat "$OUT/commands"
  echo "---- zkCli transcript (exit status $rc) ----"
  cat "$OUT/transcript"
  echo "----"
  # best effort cleanup of our tree in a one-shot session
  timeout 60 "$ZKCLI" -server "$SERVER" deleteall "$R" > /dev/null 2>&1 || true
fi
echo "zkcli: $PASSED checks passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
