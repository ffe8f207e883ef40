"""Heap tuning of the API process: is `gc.freeze()` worth calling, and when?

The server used to call `gc.collect(); gc.freeze()` after parsing every analysis document,
inside the request that parsed it, so that the cyclic collector's full passes skip the
parsed documents (~10⁵–10⁶ acyclic objects each). This measures, in a fresh interpreter per
mode that imports the app as `ckpt serve` does, with `--docs` parsed documents kept alive as
the view cache keeps them:
- `per-parse`: freeze after every parse (the old behaviour);
- `startup`:   freeze once, after the imports (what a server can do at start-up);
- `none`:      never freeze.
Figures (this thread's CPU time, so that other processes on the machine do not blur them):
the request that parses a document (parse + any freeze), then `--requests`
view-building requests over those documents (group paths, one level, graph JSON: what the
graph routes do on a cache miss): p50 / p99 / max, and the time spent in full (gen-2)
collections. Ratios are against `per-parse` (> 1: faster than before).

    .venv/bin/python bench/bench_heap.py --doc ANALYSIS.json [--docs 4] [--requests 300]

`ANALYSIS.json`: e.g. `ckpt analyze examples/gpt_sac.py -o gpt.json` (a 12-layer GPT, 4 MB).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

MODES = ("per-parse", "startup", "none")

CHILD = r"""
import gc, json, sys, time
import server.app.main  # the app's imports, as `ckpt serve` has them
from server.layout import build_level, group_paths
mode, path, docs, requests = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
raw = open(path, "rb").read()
gen2 = []
started = {}
def on_gc(phase, info):
    if info["generation"] == 2:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            gen2.append(time.thread_time() - started[0])
gc.callbacks.append(on_gc)
if mode == "startup":
    gc.collect(); gc.freeze()
parse_s, kept = [], []
gen2.clear()
for _ in range(docs):
    t0 = time.thread_time()
    kept.append(json.loads(raw))
    if mode == "per-parse":
        gc.collect(); gc.freeze()
    parse_s.append(time.thread_time() - t0)
parse_gen2 = list(gen2)
gen2.clear()
request_s = []
for i in range(requests):
    doc = kept[i % docs]
    region = doc["regions"][i % len(doc["regions"])]
    t0 = time.thread_time()
    nodes = region["graphs"]["forward"]["nodes"]
    paths = group_paths(nodes, region["graphs"].get("joint", {}).get("nodes", []))
    build_level(nodes, paths, "")
    json.dumps({"nodes": nodes}, separators=(",", ":"))
    request_s.append(time.thread_time() - t0)
print(json.dumps({"parse_s": parse_s, "request_s": request_s, "gen2_s": gen2,
                  "parse_gen2_s": parse_gen2}))
"""


def run(mode: str, doc: Path, docs: int, requests: int) -> dict[str, list[float]]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(doc), str(docs), str(requests)],
                         check=True, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent)
    result: dict[str, list[float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doc", type=Path, required=True, help="an analysis JSON document")
    parser.add_argument("--docs", type=int, default=4, help="documents kept parsed")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    rows = {m: run(m, args.doc, args.docs, args.requests) for m in MODES}
    base = rows["per-parse"]
    print(f"{args.doc.name}: {args.doc.stat().st_size / 1e6:.1f} MB, {args.docs} documents "
          f"kept, {args.requests} view requests")
    print(f"{'mode':10} {'parse ms':>9} {'req p50':>8} {'req p99':>8} {'req max':>8} "
          f"{'gen2 n':>6} {'gen2 ms':>8} {'(parsing)':>9}   ratios vs per-parse (parse, p99, max)")
    for mode, r in rows.items():
        parse_ms = statistics.mean(r["parse_s"]) * 1e3
        p99, mx = pct(r["request_s"], 0.99) * 1e3, max(r["request_s"]) * 1e3
        print(f"{mode:10} {parse_ms:9.1f} {statistics.median(r['request_s']) * 1e3:8.2f} "
              f"{p99:8.2f} {mx:8.2f} {len(r['gen2_s']):6d} {sum(r['gen2_s']) * 1e3:8.1f} "
              f"{len(r['parse_gen2_s']):3d}/{sum(r['parse_gen2_s']) * 1e3:5.0f}   "
              f"{statistics.mean(base['parse_s']) * 1e3 / parse_ms:.2f}, "
              f"{pct(base['request_s'], 0.99) * 1e3 / p99:.2f}, "
              f"{max(base['request_s']) * 1e3 / mx:.2f}")


if __name__ == "__main__":
    main()
