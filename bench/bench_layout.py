"""Times the graph layout of every level of a 48-layer GPT (forward, backward, joint), server-side.

The model is examples/gpt_sac.py with 48 blocks, analysed once (cached under
test-artifacts/cache/). Each level (every group path, collapsed children) is built and laid out
with `dot` without any cache, as a first visit does; then the same with every block of the top
level's first group opened in place. Prints per-graph medians and maxima, and the ratio of the
slowest level to the 1 s target. `--splines line` compares against straight edges.

    .venv/bin/python bench/bench_layout.py [--layers 48] [--splines spline|line]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_S = 1.0


def analysis(layers: int) -> dict[str, Any]:
    cache = REPO / "test-artifacts" / "cache" / f"bench-layout-gpt{layers}.json"
    if cache.is_file():
        return json.loads(cache.read_text())  # type: ignore[no-any-return]
    from ckpt_core import analyze_source

    source = (REPO / "examples" / "gpt_sac.py").read_text().replace(
        "model = GPT()", f"model = GPT(layers={layers})")
    start = time.perf_counter()
    doc = analyze_source(source, name=f"gpt_sac_{layers}.py").to_dict()
    print(f"analysed {layers} layers in {time.perf_counter() - start:.1f} s (cached for next runs)")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(doc))
    return doc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=48)
    parser.add_argument("--splines", default=None, help="override dot's splines attribute")
    args = parser.parse_args()
    from server.layout import build_level, group_paths, render_svg
    from server.layout import render as render_module

    if args.splines:
        render_module.GRAPH_ATTRS["splines"] = args.splines
    doc = analysis(args.layers)
    region = doc["regions"][0]
    worst = 0.0
    for kind in ("forward", "backward", "joint"):
        nodes = region["graphs"][kind]["nodes"]
        paths = group_paths(nodes, region["graphs"]["joint"]["nodes"])
        levels = ["", *sorted({p for path in paths.values() if path for p in _prefixes(path)})]
        times, sizes = [], []
        for expand in levels:
            start = time.perf_counter()
            level = build_level(nodes, paths, expand)
            render_svg(level)
            times.append(time.perf_counter() - start)
            sizes.append(len(level.items))
        blocks = sorted({p for p in levels if p.count(".") == 1 and p.startswith("blocks.")})
        start = time.perf_counter()
        opened = build_level(nodes, paths, "blocks", blocks[:4])
        render_svg(opened)
        open_s = time.perf_counter() - start
        worst = max(worst, *times)
        slowest = levels[times.index(max(times))] or "(top)"
        print(f"{kind:8s} {len(nodes):5d} nodes  {len(levels):4d} levels  items/level max "
              f"{max(sizes):4d}  layout median {statistics.median(times) * 1000:6.1f} ms  "
              f"max {max(times) * 1000:6.1f} ms ({slowest})  "
              f"'blocks' with 4 blocks open {open_s * 1000:6.1f} ms ({len(opened.items)} items)")
    print(f"slowest level {worst * 1000:.1f} ms = {worst / TARGET_S:.2f}× the {TARGET_S:.0f} s "
          f"target")
    return 0 if worst <= TARGET_S else 1


def _prefixes(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


if __name__ == "__main__":
    sys.exit(main())
