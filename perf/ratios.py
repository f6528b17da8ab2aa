#!/usr/bin/env python3
"""corral / Apache ZooKeeper ratios from zkbench JSON lines (run-baseline.sh output).

usage: ratios.py RESULTS.jsonl [MORE.jsonl ...] [--base zookeeper] [--peer corral]

For every (mode, run) measured for both peers (targets "zookeeper:MODE" and
"corral:MODE") prints the medians over repetitions and the ratios peer/base of
ops/s (above 1 = corral faster), p50 and p99 latency and server CPU us/op (below 1 =
corral better). Runs with errors, wrong results or a non-zero exit code are marked.
"""
import json
import statistics
import sys
from collections import OrderedDict


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(x, nd=0):
    if x is None:
        return "-"
    if nd:
        return f"{x:.{nd}f}"
    return f"{round(x):,}".replace(",", " ")


def load(paths):
    rows, failed = [], []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if r.get("type") == "failed":
                    failed.append(r)
                elif "ops_per_sec" in r and r.get("target"):
                    rows.append(r)
    return rows, failed


def summarize(rows):
    """(peer, mode, run) -> medians and flags."""
    groups = OrderedDict()
    for r in rows:
        peer, _, mode = r["target"].partition(":")
        key = (peer, mode, r.get("run") or r.get("workload"))
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rs in groups.items():
        lat = [r.get("latency_us") or {} for r in rs]
        out[key] = {
            "n": len(rs),
            "ops": med([r.get("ops_per_sec") for r in rs]),
            "p50": med([l.get("p50") for l in lat]),
            "p99": med([l.get("p99") for l in lat]),
            "cpu": med([r.get("server_cpu_us_per_op") for r in rs]),
            "bad": sum(
                1
                for r in rs
                if r.get("errors") or r.get("wrong_results") or r.get("exit_code") not in (0, None)
            ),
        }
    return out


def main(argv):
    base, peer, paths = "zookeeper", "corral", []
    it = iter(argv)
    for a in it:
        if a == "--base":
            base = next(it)
        elif a == "--peer":
            peer = next(it)
        else:
            paths.append(a)
    if not paths:
        print(__doc__, file=sys.stderr)
        return 64
    rows, failed = load(paths)
    s = summarize(rows)
    pairs = []
    for (p, mode, run) in s:
        if p == base and (peer, mode, run) in s:
            pairs.append((mode, run))
    print(f"\n## {peer} / {base} (median over repetitions; ops/s ratio > 1 and latency/CPU ratios < 1 favour {peer})\n")
    print(f"| mode | run | n | {base} ops/s | {peer} ops/s | ops/s ratio | {base} p50 us | {peer} p50 us | p50 ratio "
          f"| {base} p99 us | {peer} p99 us | p99 ratio | {base} CPU us/op | {peer} CPU us/op | CPU/op ratio | notes |")
    print("|" + "---|" * 17)
    for mode, run in pairs:
        b, c = s[(base, mode, run)], s[(peer, mode, run)]
        notes = []
        if b["bad"]:
            notes.append(f"{base}: {b['bad']} run(s) with errors")
        if c["bad"]:
            notes.append(f"{peer}: {c['bad']} run(s) with errors")
        print(
            f"| {mode} | {run} | {b['n']}/{c['n']} | {fmt(b['ops'])} | {fmt(c['ops'])} | {fmt(ratio(c['ops'], b['ops']), 2)} "
            f"| {fmt(b['p50'])} | {fmt(c['p50'])} | {fmt(ratio(c['p50'], b['p50']), 2)} "
            f"| {fmt(b['p99'])} | {fmt(c['p99'])} | {fmt(ratio(c['p99'], b['p99']), 2)} "
            f"| {fmt(b['cpu'], 1)} | {fmt(c['cpu'], 1)} | {fmt(ratio(c['cpu'], b['cpu']), 2)} | {'; '.join(notes)} |"
        )
    if not pairs:
        print(f"(no run measured for both {base} and {peer})")
    for f in failed:
        print(f"failed: {json.dumps(f)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
