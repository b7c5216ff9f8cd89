#!/usr/bin/env python3
"""Turns bench/run.sh's RESULT lines into docs/bench/results.md and SVG plots.

    python3 bench/report.py docs/bench/results.txt docs/bench

Standard library only. Every figure is the median over the rounds, with
the min-max range; ratios are ratios of medians of the same run.
"""

import statistics
import sys
from collections import defaultdict
from pathlib import Path

SERVERS = ["ws-tokio", "ws-tokio-ref", "ws-smol", "ws-app", "tokio-tungstenite", "fastwebsockets", "ws-floor", "raw-tcp"]
COLORS = {
    "ws-tokio": "#1f77b4",
    "ws-tokio-ref": "#9467bd",
    "ws-smol": "#17becf",
    "ws-app": "#2ca02c",
    "tokio-tungstenite": "#d62728",
    "fastwebsockets": "#ff7f0e",
    "ws-floor": "#bcbd22",
    "raw-tcp": "#7f7f7f",
}
ECHO = [
    ("echo 16 B text, 64×16", "16", "text"),
    ("echo 1 KiB binary, 64×16", "1024", "binary"),
    ("echo 64 KiB binary, 16×4", "65536", "binary"),
    ("echo 1 MiB binary, 8×2", "1048576", "binary"),
]


def parse(path):
    rows, header = [], []
    for line in Path(path).read_text().splitlines():
        if line.startswith("# "):
            header.append(line[2:])
        if not line.startswith("RESULT "):
            continue
        fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        rows.append(fields)
    return rows, header


def collect(rows, test, metric, **match):
    out = defaultdict(list)
    for r in rows:
        if r.get("test") != test or any(r.get(k) != v for k, v in match.items()):
            continue
        out[r["label"]].append(float(r[metric]))
    return out


def med(values):
    return statistics.median(values) if values else None


def fmt(v, unit=""):
    if v is None:
        return "–"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def cell(values, unit=""):
    if not values:
        return "–"
    return f"{fmt(med(values), unit)} ({fmt(min(values))}–{fmt(max(values))})"


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def rstr(r):
    return "–" if r is None else f"{r:.2f}×"


def bar_chart(path, title, groups, series, values, unit, note=""):
    """Grouped bars with min-max whiskers. values[(group, series)] = list."""
    width, height = 900, 420
    left, right, top, bottom = 70, 20, 50, 90
    plot_w, plot_h = width - left - right, height - top - bottom
    vmax = max((max(v) for v in values.values() if v), default=1) * 1.1 or 1
    gw = plot_w / max(len(groups), 1)
    bw = gw * 0.8 / max(len(series), 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
    ]
    if note:
        out.append(f'<text x="{width / 2}" y="40" text-anchor="middle" fill="#555">{note}</text>')
    for i in range(6):
        v = vmax * i / 5
        y = top + plot_h - plot_h * i / 5
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
    out.append(
        f'<text x="16" y="{top + plot_h / 2}" transform="rotate(-90 16 {top + plot_h / 2})" '
        f'text-anchor="middle">{unit}</text>'
    )
    for gi, g in enumerate(groups):
        gx = left + gi * gw + gw * 0.1
        for si, s in enumerate(series):
            vals = values.get((g, s))
            if not vals:
                continue
            m, lo, hi = med(vals), min(vals), max(vals)
            x = gx + si * bw
            h = plot_h * m / vmax
            out.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bw * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{COLORS.get(s, "#999")}"><title>{s}: {fmt(m)} '
                f'({fmt(lo)}–{fmt(hi)})</title></rect>'
            )
            cx = x + bw * 0.45
            ylo, yhi = top + plot_h - plot_h * lo / vmax, top + plot_h - plot_h * hi / vmax
            out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{ylo:.1f}" y2="{yhi:.1f}" stroke="black"/>')
        out.append(
            f'<text x="{left + gi * gw + gw / 2:.1f}" y="{top + plot_h + 18}" '
            f'text-anchor="middle">{g}</text>'
        )
    lx = left
    for s in series:
        out.append(f'<rect x="{lx}" y="{height - 30}" width="12" height="12" fill="{COLORS.get(s, "#999")}"/>')
        out.append(f'<text x="{lx + 16}" y="{height - 20}">{s}</text>')
        lx += 16 + 8 * len(s) + 24
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")


def main():
    results, outdir = sys.argv[1], Path(sys.argv[2])
    rows, header = parse(results)
    md = ["# Benchmark results", ""]
    md += [f"- {h}" for h in header]
    md += ["", "Median over rounds, (min–max) in brackets. Generated by `bench/report.py` from "
           "`results.txt`; see `README.md` for how to reproduce.", ""]
    servers = [s for s in SERVERS if any(r.get("label") == s for r in rows)]
    targets = []

    # Echo throughput.
    md += ["## Echo throughput (messages/s)", ""]
    md.append("| test | " + " | ".join(servers) + " |")
    md.append("|---" * (len(servers) + 1) + "|")
    rel_values = {}
    for title, size, kind in ECHO:
        data = collect(rows, "echo", "msgs_per_s", size=size, kind=kind)
        if not data:
            continue
        md.append(f"| {title} | " + " | ".join(cell(data.get(s)) for s in servers) + " |")
        raw = med(data.get("raw-tcp"))
        for s in servers:
            if data.get(s) and raw:
                rel_values[(title.split(",")[0], s)] = [v / raw for v in data[s]]
    md += ["", "### Relative to the raw TCP echo and to tokio-tungstenite (ratio of medians)", ""]
    md.append("| test | " + " | ".join(f"{s} / raw" for s in servers if s != "raw-tcp")
              + " | ws-tokio / tokio-tungstenite | ws-app / ws-tokio |")
    md.append("|---" * (len(servers) + 2) + "|")
    for title, size, kind in ECHO:
        data = collect(rows, "echo", "msgs_per_s", size=size, kind=kind)
        if not data:
            continue
        m = {s: med(data.get(s)) for s in servers}
        raw = m.get("raw-tcp")
        cols = [rstr(ratio(m.get(s), raw)) for s in servers if s != "raw-tcp"]
        ours_tt = ratio(m.get("ws-tokio"), m.get("tokio-tungstenite"))
        app_ours = ratio(m.get("ws-app"), m.get("ws-tokio"))
        md.append(f"| {title} | " + " | ".join(cols) + f" | {rstr(ours_tt)} | {rstr(app_ours)} |")
        # ws-tokio: recv + feed (an owned Message each); ws-tokio-ref:
        # recv_with (borrowed, no allocation per message).
        for ours in ("ws-tokio", "ws-tokio-ref"):
            if m.get(ours) is None:
                continue
            ours_tt = ratio(m.get(ours), m.get("tokio-tungstenite"))
            ours_raw = ratio(m.get(ours), raw)
            if size in ("16", "1024"):
                targets.append((f"{title}: {ours} ≥ 1.4× tokio-tungstenite", ours_tt, ours_tt is not None and ours_tt >= 1.4))
                targets.append((f"{title}: {ours} ≥ 0.85× raw TCP", ours_raw, ours_raw is not None and ours_raw >= 0.85))
            else:
                targets.append((f"{title}: {ours} ≥ 0.9× raw TCP", ours_raw, ours_raw is not None and ours_raw >= 0.9))
        if size in ("16", "1024"):
            targets.append((f"{title}: ws-app ≥ 0.9× ws-tokio", app_ours, app_ours is not None and app_ours >= 0.9))
    cpu = ["", "Server CPU during the window (fraction of its core; ≈1.00 means the server was the bottleneck):", "",
           "| test | " + " | ".join(servers) + " |", "|---" * (len(servers) + 1) + "|"]
    for title, size, kind in ECHO:
        data = collect(rows, "echo", "server_cpu", size=size, kind=kind)
        if data:
            cpu.append(f"| {title} | " + " | ".join(fmt(med(data.get(s))) if data.get(s) else "–" for s in servers) + " |")
    cpu += ["", "Load-tool CPU (its own core):", "",
            "| test | " + " | ".join(servers) + " |", "|---" * (len(servers) + 1) + "|"]
    for title, size, kind in ECHO:
        data = collect(rows, "echo", "client_cpu", size=size, kind=kind)
        if data:
            cpu.append(f"| {title} | " + " | ".join(fmt(med(data.get(s))) if data.get(s) else "–" for s in servers) + " |")
    md += cpu
    if rel_values:
        groups = [t.split(",")[0] for t, _, _ in ECHO if (t.split(",")[0], "raw-tcp") in rel_values]
        bar_chart(outdir / "echo.svg", "Echo throughput relative to the raw TCP echo (same run)", groups,
                  servers, rel_values, "× raw TCP", "median of rounds, whiskers min–max; higher is better")

    # Latency.
    p50 = collect(rows, "latency", "p50_us")
    p99 = collect(rows, "latency", "p99_us")
    if p50:
        md += ["", "## Round trip, 1 connection, 1 message of 16 B in flight (µs)", ""]
        md.append("| | " + " | ".join(servers) + " |")
        md.append("|---" * (len(servers) + 1) + "|")
        md.append("| p50 | " + " | ".join(cell(p50.get(s)) for s in servers) + " |")
        md.append("| p99 | " + " | ".join(cell(p99.get(s)) for s in servers) + " |")
        raw50, raw99 = med(p50.get("raw-tcp")), med(p99.get("raw-tcp"))
        md.append("| p50 / raw | " + " | ".join(rstr(ratio(med(p50.get(s)), raw50)) for s in servers) + " |")
        md.append("| p99 / raw | " + " | ".join(rstr(ratio(med(p99.get(s)), raw99)) for s in servers) + " |")
        r50, r99 = ratio(med(p50.get("ws-tokio")), raw50), ratio(med(p99.get("ws-tokio")), raw99)
        targets.append(("latency p50: ws-tokio ≤ 1.1× raw TCP", r50, r50 is not None and r50 <= 1.1))
        targets.append(("latency p99: ws-tokio ≤ 1.1× raw TCP", r99, r99 is not None and r99 <= 1.1))
        lat = {("p50", s): v for s, v in p50.items()}
        lat.update({("p99", s): v for s, v in p99.items()})
        bar_chart(outdir / "latency.svg", "Round-trip latency, 16 B, one in flight", ["p50", "p99"], servers,
                  lat, "µs", "median of rounds, whiskers min–max; lower is better")

    # Handshakes.
    hs = collect(rows, "handshake", "per_s")
    if hs:
        md += ["", "## Handshakes per second (32 concurrent clients, connect + upgrade + reset)", ""]
        hs_servers = [s for s in servers if s != "raw-tcp"]
        md.append("| | " + " | ".join(hs_servers) + " |")
        md.append("|---" * (len(hs_servers) + 1) + "|")
        md.append("| handshakes/s | " + " | ".join(cell(hs.get(s)) for s in hs_servers) + " |")
        hcpu = collect(rows, "handshake", "server_cpu")
        md.append("| server CPU | " + " | ".join(fmt(med(hcpu.get(s))) if hcpu.get(s) else "–" for s in hs_servers) + " |")
        peers = [med(hs[s]) for s in ("tokio-tungstenite", "fastwebsockets") if hs.get(s)]
        best = max(peers) if peers else None
        r = ratio(med(hs.get("ws-tokio")), best)
        targets.append(("handshakes/s: ws-tokio ≥ best peer", r, r is not None and r >= 1.0))
        bar_chart(outdir / "handshake.svg", "Handshakes per second", ["handshakes/s"], hs_servers,
                  {("handshakes/s", s): v for s, v in hs.items()}, "per second", "higher is better")

    # Idle memory.
    idle = collect(rows, "idle", "bytes_per_conn")
    if idle:
        n = next((r["conns"] for r in rows if r.get("test") == "idle"), "?")
        md += ["", f"## Server memory per idle connection ({n} connections, VmRSS delta / connections, bytes)", ""]
        md.append("| | " + " | ".join(servers) + " |")
        md.append("|---" * (len(servers) + 1) + "|")
        md.append("| bytes/connection | " + " | ".join(cell(idle.get(s)) for s in servers) + " |")
        v = med(idle.get("ws-tokio"))
        targets.append((f"idle memory: ws-tokio ≤ 4096 B/connection at {n}", v, v is not None and v <= 4096))
        bar_chart(outdir / "idle.svg", f"Server memory per idle connection ({n} held)", ["bytes/conn"],
                  [s for s in servers if s != "raw-tcp"],
                  {("bytes/conn", s): v for s, v in idle.items()}, "bytes", "VmRSS delta; lower is better")

    # Broadcast.
    bc = collect(rows, "broadcast", "all_ms_median")
    if bc:
        n = next((r["conns"] for r in rows if r.get("test") == "broadcast"), "?")
        half = collect(rows, "broadcast", "half_ms_median")
        md += ["", f"## Broadcast of one 16 B message to {n} clients (ms until every client has it)", ""]
        md.append("| | " + " | ".join(s for s in servers if s in bc) + " |")
        md.append("|---" * (len([s for s in servers if s in bc]) + 1) + "|")
        md.append("| all clients | " + " | ".join(cell(bc.get(s)) for s in servers if s in bc) + " |")
        md.append("| half the clients | " + " | ".join(cell(half.get(s)) for s in servers if s in bc) + " |")
        r = ratio(med(bc.get("tokio-tungstenite")), med(bc.get("ws-app")))
        targets.append((f"broadcast to {n}: ws-app faster than tokio-tungstenite (speed-up)", r, r is not None and r >= 1.0))

    md += ["", "## Targets (issue 8)", "", "| target | measured | met |", "|---|---|---|"]
    for name, value, ok in targets:
        shown = "–" if value is None else (f"{value:.2f}×" if value < 100 else f"{value:,.0f} B")
        md.append(f"| {name} | {shown} | {'yes' if ok else '**no**'} |")
    (outdir / "results.md").write_text("\n".join(md) + "\n")
    print(f"wrote {outdir / 'results.md'}")


if __name__ == "__main__":
    main()
