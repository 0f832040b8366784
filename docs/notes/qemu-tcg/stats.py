#!/usr/bin/env python3
"""Summarise probe.py's JSON lines: min / median / max per label, with the load at the start.

usage: stats.py RESULTS.jsonl [FIELD ...]
"""
import json
import statistics
import sys

DEFAULT = ["banner_s", "login_s", "qemu_cpu_at_banner_s", "kernel_s", "userspace_s", "shutdown_s"]


def main():
    path, fields = sys.argv[1], sys.argv[2:] or DEFAULT
    runs = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            runs.setdefault(r.get("label", ""), []).append(r)
    print("| variant | runs | load (1 min) at start | " + " | ".join(f"{f} min / med / max" for f in fields) + " |")
    print("|---" * (len(fields) + 3) + "|")
    for label, rs in runs.items():
        loads = [float(r["load_start"].split()[0]) for r in rs]
        cells = []
        for f in fields:
            v = sorted(r[f] for r in rs if isinstance(r.get(f), (int, float)))
            if not v:
                cells.append("-")
            else:
                cells.append(f"{v[0]:.1f} / **{statistics.median(v):.1f}** / {v[-1]:.1f}")
        fails = sum(1 for r in rs if r.get("banner_s") is None)
        n = f"{len(rs)}" + (f" ({fails} no SSH)" if fails else "")
        print(f"| {label} | {n} | {min(loads):.1f}-{max(loads):.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
