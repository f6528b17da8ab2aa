#!/usr/bin/env python3
"""Rebuild the fuzz seed corpora from the conformance golden captures.

fuzz/corpus/client_frames/<scenario>-<conn>
    every c2s `connect` / `frame` record of one connection of one golden
    scenario, concatenated in seq order: the whole client side of a
    conversation, length prefixes included (four-letter words, raw bytes and
    EOFs are left out).
fuzz/corpus/request_decode/<scenario>-<conn>-<k>
    the request frames after the handshake as the request_decode target
    reads them: 4-byte opcode + body (length prefix and xid dropped),
    identical inputs kept once.

Records over 64 KiB (the 1 MiB frame of oversized_frame) are skipped, and so
is any file that would exceed 64 KiB. The output directories are emptied
first, so the result depends only on the golden files.

usage: python3 fuzz/extract_corpus.py [--golden DIR]
    (default DIR: ../shared/conformance/golden next to the repository)
"""

import argparse
import json
import os
import sys

MAX_FILE = 64 * 1024

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--golden",
        default=os.path.join(os.path.dirname(REPO), "shared", "conformance", "golden"),
    )
    args = ap.parse_args()
    names = sorted(f for f in os.listdir(args.golden) if f.endswith(".jsonl"))
    if not names:
        sys.exit(f"no golden/*.jsonl in {args.golden}")

    out_conv = os.path.join(HERE, "corpus", "client_frames")
    out_req = os.path.join(HERE, "corpus", "request_decode")
    for d in (out_conv, out_req):
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))

    seen_req = set()
    n_conv = n_req = size = skipped = 0
    for name in names:
        scenario = name[: -len(".jsonl")]
        conns = {}  # conn -> list of frames (bytes), seq order
        with open(os.path.join(args.golden, name)) as fh:
            records = [json.loads(line) for line in fh if line.strip()]
        records.sort(key=lambda r: r["seq"])
        for r in records:
            if r["dir"] != "c2s" or r["kind"] not in ("connect", "frame"):
                continue
            b = bytes.fromhex(r["hex"])
            if len(b) > MAX_FILE:
                skipped += 1
                continue
            conns.setdefault(r["conn"], []).append((r["kind"], b))
        for conn, frames in sorted(conns.items()):
            stream = b"".join(b for _, b in frames)
            if len(stream) <= MAX_FILE:
                write(os.path.join(out_conv, f"{scenario}-{conn}"), stream)
                n_conv += 1
                size += len(stream)
            else:
                skipped += 1
            k = 0
            for kind, b in frames:
                if kind != "frame" or len(b) < 12:
                    continue
                req = b[8:]  # opcode + body
                if req in seen_req:
                    continue
                seen_req.add(req)
                k += 1
                write(os.path.join(out_req, f"{scenario}-{conn}-{k}"), req)
                n_req += 1
                size += len(req)
    print(
        f"{n_conv} client_frames files, {n_req} request_decode files, "
        f"{size} bytes, {skipped} skipped (> {MAX_FILE} bytes)"
    )


def write(path, data):
    with open(path, "wb") as fh:
        fh.write(data)


if __name__ == "__main__":
    main()
