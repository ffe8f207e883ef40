"""A 10-point memory-budget sweep against one analysis (12-layer GPT, SAC policy).

Target: `ckpt_core.sweep` over 10 budgets ≤ 2× one `ckpt_core.analyze_file`, because the sweep
traces once and only re-runs the partitioner per budget. Each is timed in this process after a
warm-up, alternating, the median of `--repeat` runs, in wall-clock and in this process's CPU
time (steadier on a shared machine); prints both ratios, exits 1 when the CPU ratio is above.

    .venv/bin/python bench/bench_sweep.py [--repeat 3] [--snippet examples/gpt_sac.py]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGETS = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
TARGET = 2.0


def _runs(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--snippet", default=str(REPO / "examples" / "gpt_sac.py"))
    args = parser.parse_args()
    import ckpt_core

    ckpt_core.analyze_file(args.snippet)  # warm-up: imports, first-compile caches
    analysis_s, sweep_s, analysis_cpu_s, sweep_cpu_s, partition_s = [], [], [], [], []
    for _ in range(args.repeat):
        start, cpu = time.perf_counter(), time.process_time()
        ckpt_core.analyze_file(args.snippet)
        analysis_s.append(time.perf_counter() - start)
        analysis_cpu_s.append(time.process_time() - cpu)
        start, cpu = time.perf_counter(), time.process_time()
        result = ckpt_core.sweep(args.snippet, BUDGETS)
        sweep_s.append(time.perf_counter() - start)
        sweep_cpu_s.append(time.process_time() - cpu)
        partition_s.append(statistics.median(p.partition_s for p in result.points[1:]))
    one, many = statistics.median(analysis_s), statistics.median(sweep_s)
    one_cpu, many_cpu = statistics.median(analysis_cpu_s), statistics.median(sweep_cpu_s)
    print(f"one analysis:            {one:6.2f} s wall, {one_cpu:6.2f} s CPU  "
          f"(wall runs: {_runs(analysis_s)})")
    print(f"10-point sweep:          {many:6.2f} s wall, {many_cpu:6.2f} s CPU  "
          f"(wall runs: {_runs(sweep_s)})")
    print(f"  median re-partition:   {statistics.median(partition_s):6.2f} s wall per budget")
    ratio = many_cpu / one_cpu
    print(f"ratio sweep / analysis:  {many / one:6.2f}× wall, {ratio:6.2f}× CPU  "
          f"(target ≤ {TARGET:g}×)")
    for p in result.points:
        flag = "  (peak not monotonic)" if p.non_monotonic else ""
        print(f"  budget {p.budget:3g}: saved {p.saved_activation_bytes:>9} B, recompute "
              f"{p.recompute_flops:>12} FLOP, peak {p.peak_bytes:>9} B{flag}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
