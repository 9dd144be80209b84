#!/usr/bin/env python3
"""Turn bench/run.sh raw results into the comparison table.

usage: table.py --format text|md|raw-md RAW.tsv RSS.tsv

RAW.tsv rows:  durability iter test shape server rps p50_ms p99_ms requests cpu_us
               (cpu_us: the server's utime+stime over the run / requests, or NA)
RSS.tsv rows:  durability server peak_rss_kb disk_kb

For every (durability pair, test, shape) cell:
  - kvd ops/s, redis ops/s, p50, p99: median over the A/B pairs;
  - ratio: median of the per-pair ratios kvd_rps / redis_rps (each pair ran
    back to back, so the ratio cancels drift that the absolute numbers keep);
  - spread: min-max of those per-pair ratios (only with 2+ pairs);
  - kvd and redis CPU us/request: median over the A/B pairs; cpu ratio: median
    of the per-pair ratios kvd_cpu / redis_cpu, like the ops/s ratio.
Stdlib only.
"""

import argparse
import statistics
import sys


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_rps(x):
    return "n/a" if x is None else f"{x:,.0f}"


def fmt_ms(x):
    if x is None:
        return "n/a"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def fmt_us(x):
    if x is None:
        return "n/a"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.2f}x"


def fmt_mb(kb):
    v = num(kb)
    return "n/a" if v is None else f"{v / 1024:.0f} MB"


def read_tsv(path, width):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == width:
                rows.append(parts)
    return rows


def cells(raw):
    """Group runs by (durability, test, shape) in first-seen order."""
    order, by_cell = [], {}
    for dur, it, test, shape, server, rps, p50, p99, _n, cpu in raw:
        key = (dur, test, shape)
        if key not in by_cell:
            order.append(key)
            by_cell[key] = {}
        by_cell[key].setdefault(it, {})[server] = (num(rps), num(p50), num(p99), num(cpu))
    # Stable presentation: durability pair, then test, then shape, each in
    # the order run.sh ran them.
    rank = {}
    for i, (dur, test, shape) in enumerate(order):
        rank.setdefault(("d", dur), i)
        rank.setdefault(("t", test), i)
        rank.setdefault(("s", shape), i)
    order.sort(key=lambda k: (rank[("d", k[0])], rank[("t", k[1])], rank[("s", k[2])]))
    return order, by_cell


def pair_ratios(runs, i):
    """kvd/redis of field i for every pair where both sides have it."""
    ratios = []
    for r in runs.values():
        k, rd = r.get("kvd"), r.get("redis")
        if k and rd and k[i] is not None and rd[i]:
            ratios.append(k[i] / rd[i])
    return ratios


def summarize(runs):
    """runs: {iter: {server: (rps, p50, p99, cpu)}} -> dict of medians."""
    out = {}
    for side in ("kvd", "redis"):
        vals = [r[side] for r in runs.values() if side in r]
        out[side] = tuple(median([v[i] for v in vals]) for i in range(4))
    ratios = pair_ratios(runs, 0)
    out["ratio"] = median(ratios)
    out["spread"] = (min(ratios), max(ratios)) if len(ratios) > 1 else None
    out["pairs"] = len(ratios)
    out["cpu_ratio"] = median(pair_ratios(runs, 3))
    return out


HEAD = ["pair", "test", "shape", "kvd ops/s", "redis ops/s", "kvd/redis", "spread",
        "kvd µs/req", "redis µs/req", "cpu ratio", "kvd p50/p99 ms", "redis p50/p99 ms"]
RIGHT = {3, 4, 5, 7, 8, 9}  # numeric columns, right-aligned


def table_rows(raw):
    order, by_cell = cells(raw)
    rows = []
    for key in order:
        s = summarize(by_cell[key])
        k, r = s["kvd"], s["redis"]
        spread = "-" if s["spread"] is None else f"{s['spread'][0]:.2f}-{s['spread'][1]:.2f}"
        rows.append([key[0], key[1], key[2], fmt_rps(k[0]), fmt_rps(r[0]), fmt_ratio(s["ratio"]),
                     spread, fmt_us(k[3]), fmt_us(r[3]), fmt_ratio(s["cpu_ratio"]),
                     f"{fmt_ms(k[1])} / {fmt_ms(k[2])}", f"{fmt_ms(r[1])} / {fmt_ms(r[2])}"])
    return rows


def footer(rss):
    lines = []
    for dur, server, peak, disk in rss:
        lines.append((dur, server, peak, disk))
    out = []
    for dur in dict.fromkeys(r[0] for r in lines):
        parts = []
        for _, server, peak, disk in (r for r in lines if r[0] == dur):
            parts.append(f"{server} {fmt_mb(peak)} (data dir {fmt_mb(disk)})")
        out.append(f"peak RSS (VmHWM), {dur} pair: " + ", ".join(parts))
    return out


def print_text(raw, rss):
    rows = table_rows(raw)
    widths = [max(len(str(r[i])) for r in rows + [HEAD]) for i in range(len(HEAD))]

    def line(r):
        return "  ".join(str(c).rjust(w) if i in RIGHT else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    print(line(HEAD))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    print()
    for f in footer(rss):
        print(f)


def print_md(raw, rss):
    rows = table_rows(raw)
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "|".join("---:" if i in RIGHT else "---" for i in range(len(HEAD))) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    for f in footer(rss):
        print(f"- {f}")


def print_raw_md(raw, _rss):
    print("| pair | iter | test | shape | server | ops/s | p50 ms | p99 ms | -n | µs/req |")
    print("|---|---:|---|---|---|---:|---:|---:|---:|---:|")
    for dur, it, test, shape, server, rps, p50, p99, n, cpu in raw:
        print(f"| {dur} | {it} | {test} | {shape} | {server} | {rps} | {p50} | {p99} | {n} | {cpu} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", choices=["text", "md", "raw-md"], default="text")
    ap.add_argument("raw")
    ap.add_argument("rss")
    a = ap.parse_args()
    raw = read_tsv(a.raw, 10)
    rss = read_tsv(a.rss, 4)
    if not raw:
        sys.exit("table.py: no benchmark rows in " + a.raw)
    {"text": print_text, "md": print_md, "raw-md": print_raw_md}[a.format](raw, rss)


if __name__ == "__main__":
    main()
