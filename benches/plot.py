#!/usr/bin/env python3
"""Plot ns per decision against the rule count N for every engine, from criterion's
results, as an SVG (no dependencies beyond Python 3).

Run after the benches:
    cargo bench --bench evaluate
    cargo bench --manifest-path benches/peers/Cargo.toml
    python3 benches/plot.py            # writes docs/performance.svg and prints a table
"""
import json
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERIES = [
    # (label, criterion directory, colour)
    ("holdpoint (tree), call mix", "target/criterion/evaluate/tree", "#1b7837"),
    ("holdpoint (tree), warm call", "target/criterion/evaluate/tree_warm", "#5aae61"),
    ("holdpoint (reference interpreter)", "target/criterion/evaluate/reference", "#7fbf7b"),
    ("Cedar", "benches/peers/target/criterion/peers/cedar", "#762a83"),
    ("Cedar, pre-indexed by action", "benches/peers/target/criterion/peers/cedar_indexed", "#af8dc3"),
    ("regorus (Rego), a helper rule per condition", "benches/peers/target/criterion/peers/regorus", "#d95f02"),
    ("regorus (Rego), rules as data by tool", "benches/peers/target/criterion/peers/regorus_data", "#fdb863"),
]


def load(directory):
    points = {}
    base = os.path.join(ROOT, directory)
    if not os.path.isdir(base):
        return points
    for n in os.listdir(base):
        path = os.path.join(base, n, "new", "estimates.json")
        if n.isdigit() and os.path.exists(path):
            with open(path) as f:
                est = json.load(f)
            points[int(n)] = est["median"]["point_estimate"]
    return points


def main():
    data = [(label, load(d), colour) for label, d, colour in SERIES]
    data = [s for s in data if s[1]]
    if not data:
        sys.exit("no criterion results found: run the benches first")
    xs = sorted({n for _, pts, _ in data for n in pts})
    ys = [v for _, pts, _ in data for v in pts.values()]
    lo_y = 10 ** math.floor(math.log10(min(ys)))
    hi_y = 10 ** math.ceil(math.log10(max(ys)))
    w, h, left, right, top, bottom = 760, 460, 80, 250, 30, 60
    pw, ph = w - left - right, h - top - bottom

    def px(n):
        a, b = math.log10(xs[0]), math.log10(xs[-1])
        return left + (math.log10(n) - a) / ((b - a) or 1) * pw

    def py(v):
        a, b = math.log10(lo_y), math.log10(hi_y)
        return top + ph - (math.log10(v) - a) / (b - a) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="14">ns per decision (median, log scale) '
           f'against the number of rules N</text>']
    d = lo_y
    while d <= hi_y * 1.0001:
        y = py(d)
        label = f"{d:g} ns" if d < 1000 else (f"{d/1000:g} µs" if d < 1e6 else f"{d/1e6:g} ms")
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left+pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left-6}" y="{y+4:.1f}" text-anchor="end">{label}</text>')
        d *= 10
    for n in xs:
        x = px(n)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top+ph}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{top+ph+18}" text-anchor="middle">{n:,}</text>')
    out.append(f'<text x="{left+pw/2}" y="{h-15}" text-anchor="middle">rules (N)</text>')
    for i, (label, pts, colour) in enumerate(data):
        ns = sorted(pts)
        path = " ".join(f"{'M' if j == 0 else 'L'}{px(n):.1f},{py(pts[n]):.1f}" for j, n in enumerate(ns))
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for n in ns:
            out.append(f'<circle cx="{px(n):.1f}" cy="{py(pts[n]):.1f}" r="3.5" fill="{colour}"/>')
        ly = top + 20 + i * 22
        out.append(f'<line x1="{left+pw+15}" y1="{ly}" x2="{left+pw+40}" y2="{ly}" stroke="{colour}" stroke-width="3"/>')
        out.append(f'<text x="{left+pw+46}" y="{ly+4}">{label}</text>')
    out.append("</svg>")
    target = os.path.join(ROOT, "docs", "performance.svg")
    with open(target, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {target}")
    print("| engine | " + " | ".join(f"N = {n:,}" for n in xs) + " |")
    print("|---|" + "---|" * len(xs))
    for label, pts, _ in data:
        cells = []
        for n in xs:
            v = pts.get(n)
            cells.append("" if v is None else (f"{v:,.0f} ns" if v < 1e4 else f"{v/1000:,.1f} µs"))
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
