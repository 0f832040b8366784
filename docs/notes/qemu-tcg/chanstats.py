#!/usr/bin/env python3
"""Summarise channels.py's JSON lines: MB/s (10^6 bytes/s) min / median / max per channel,
cipher and CPU model, with the load seen during the runs.

usage: chanstats.py RESULTS
"""
import json
import statistics
import sys


def main():
    groups = {}
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        key = (r["channel"], r.get("cipher", ""), r.get("cpu", ""))
        groups.setdefault(key, []).append(r)
    print("| channel | cipher | -cpu | runs | load | MB/s min / **median** / max | checked |")
    print("|---|---|---|---|---|---|---|")
    for (ch, ci, cpu), rs in groups.items():
        v = sorted(r["mb_s"] for r in rs if r.get("mb_s"))
        loads = [float(r["load"].split()[0]) for r in rs]
        ok = all(r.get("ok", True) for r in rs)
        cell = f"{v[0]:.1f} / **{statistics.median(v):.1f}** / {v[-1]:.1f}" if v else \
            "fails: " + (rs[0].get("err", "") or "")[-90:].replace("\n", " ")
        print(f"| {ch} | {ci.replace('@openssh.com', '')} | {cpu} | {len(rs)} | "
              f"{min(loads):.1f}-{max(loads):.1f} | {cell} | {'sha256 ok' if ok else 'MISMATCH'} |")


if __name__ == "__main__":
    main()
