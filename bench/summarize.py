#!/usr/bin/env python3
"""Summarise a benchmark's per-run TSV: median (min–max) of every numeric column.

Reads the TSV on stdin (a header line, then one row per run), echoes it, then prints one
Markdown table row per group: rows are grouped by the columns named with --by (e.g. a
route, or a federation's size), and the `run` column is dropped. Every bench/ script pipes
its rows through this, so each figure is given the same way: median of the runs, with the
least and the most.
"""
import argparse
import statistics
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--by", default="", help="comma-separated columns that name a group")
args = parser.parse_args()
by = [c for c in args.by.split(",") if c]

lines = [l.rstrip("\n") for l in sys.stdin if l.strip()]
if not lines:
    sys.exit("no rows")
print("\n".join(lines), flush=True)
header = lines[0].split("\t")
rows = [dict(zip(header, l.split("\t"))) for l in lines[1:]]
numeric = [c for c in header if c != "run" and c not in by]


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


groups = {}
for r in rows:
    groups.setdefault(tuple(r[c] for c in by), []).append(r)

print()
print("| " + " | ".join(by + numeric) + " |")
print("|" + "---|" * (len(by) + len(numeric)))
for key, rs in groups.items():
    cells = list(key)
    for c in numeric:
        xs = [x for x in (num(r[c]) for r in rs) if x is not None]
        if not xs:
            cells.append(rs[0][c])
        elif len(xs) == 1:
            cells.append(f"{xs[0]:g}")
        else:
            cells.append(f"{statistics.median(xs):g} ({min(xs):g}–{max(xs):g})")
    print("| " + " | ".join(cells) + " |")
