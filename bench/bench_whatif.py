"""A policy what-if against one budget point of the sweep (12-layer GPT, SAC policy).

Target: one `whatif_traced` (tags changed on the kept joint graph, the partition, the memory
figures, the deltas and the policy code: what the worker returns) ≤ 1.5× one point of the
memory-budget sweep (the partition at a new budget and its memory figures), both on the same
trace; the diff against the original, which the CLI prints and the API serves on demand, is
timed apart. Each run asks for something not partitioned before (a new budget; a new
override), alternating, after a warm-up of each. A sweep point whose saved set another budget
already chose skips building the graphs again (`replay._same_plan_shortcut`); the target
compares with a point that builds them, as every what-if does (its tags are new), and the
plateau point is printed beside it. Prints the medians in wall-clock and in this process's CPU
time (steadier on a shared machine) and their ratios, and exits 1 when the wall-clock ratio to
a new-plan point is above the target.

    .venv/bin/python bench/bench_whatif.py [--repeat 4] [--snippet examples/gpt_sac.py]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = 1.5
#: one new override per run: the same kinds of edit users make (op, module, region, node)
EDITS = [
    [("op:aten.addmm.default", "PREFER_RECOMPUTE")],
    [("module:blocks.*.mlp", "MUST_SAVE")],
    [("region:{r}", "NO_CHECKPOINT")],
    [("module:blocks.{r}.attn", "PREFER_RECOMPUTE"), ("op:aten.gelu.default", "MUST_SAVE")],
    [("region:{r}", "MUST_SAVE")],
    [("module:blocks.{r}.mlp", "NO_CHECKPOINT")],
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--snippet", default=str(REPO / "examples" / "gpt_sac.py"))
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from ckpt_core.capture.traced import traced
    from ckpt_core.memory.summary import with_memory
    from ckpt_core.policy import normalize_overrides, whatif_traced

    runs = args.repeat + 1  # the first of each is a warm-up
    with traced(args.snippet, None) as t:
        base = with_memory(t.analysis())
        point: list[tuple[float, float]] = []
        plateau: list[tuple[float, float]] = []
        edit: list[tuple[float, float]] = []
        diffs: list[float] = []
        for i in range(runs):
            budget = 0.95 - 0.1 * i
            for out in (plateau, point):
                if out is point:
                    t.recorder._plans.clear()  # build this budget's graphs, as a new plan does
                wall, cpu = time.perf_counter(), time.process_time()
                with_memory(t.analysis(budget))
                out.append((time.perf_counter() - wall, time.process_time() - cpu))
            chosen = [(s.format(r=i + 2), a) for s, a in EDITS[i % len(EDITS)]]
            wall, cpu = time.perf_counter(), time.process_time()
            result = whatif_traced(t, base, normalize_overrides(chosen))
            edit.append((time.perf_counter() - wall, time.process_time() - cpu))
            wall = time.perf_counter()
            _ = result.diff
            diffs.append(time.perf_counter() - wall)
    point, plateau, edit, diffs = point[1:], plateau[1:], edit[1:], diffs[1:]
    p_wall, p_cpu = (statistics.median(x[k] for x in point) for k in (0, 1))
    q_wall, q_cpu = (statistics.median(x[k] for x in plateau) for k in (0, 1))
    e_wall, e_cpu = (statistics.median(x[k] for x in edit) for k in (0, 1))
    print(f"snippet {Path(args.snippet).name}, {args.repeat} runs each after a warm-up")
    print(f"  sweep point, new plan:      wall {p_wall:.2f} s, cpu {p_cpu:.2f} s  "
          f"[{', '.join(f'{w:.2f}' for w, _ in point)}]")
    print(f"  sweep point, plan reused:   wall {q_wall:.2f} s, cpu {q_cpu:.2f} s  "
          f"[{', '.join(f'{w:.2f}' for w, _ in plateau)}]")
    print(f"  what-if (new override):     wall {e_wall:.2f} s, cpu {e_cpu:.2f} s  "
          f"[{', '.join(f'{w:.2f}' for w, _ in edit)}]")
    d_wall = statistics.median(diffs)
    print(f"  + its diff against the original (CLI; the API serves it on demand): wall "
          f"{d_wall:.2f} s → {(e_wall + d_wall) / p_wall:.2f}× a new-plan point")
    ratio = e_wall / p_wall
    print(f"  what-if / new-plan point: wall {ratio:.2f}×, cpu {e_cpu / p_cpu:.2f}× "
          f"(target ≤ {TARGET}×)")
    print(f"  what-if / plan-reused point: wall {e_wall / q_wall:.2f}×, cpu {e_cpu / q_cpu:.2f}×")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
