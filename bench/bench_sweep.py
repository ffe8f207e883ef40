"""A 10-point memory-budget sweep against one analysis (12-layer GPT, SAC policy).

Target: `ckpt_core.sweep` over 10 budgets ≤ 2× one `ckpt_core.analyze_file`, because the sweep
traces once and only re-runs the partitioner per budget. Each is timed in this process after a
warm-up, alternating, the median of `--repeat` runs, in wall-clock and in this process's CPU
time (steadier on a shared machine); prints both ratios, exits 1 when the CPU ratio is above.

`--server` also times the same sweep through a real `ckpt serve` (its embedded sandboxed worker):
POST /api/sweeps → the sweep done, against POST /api/analyses → done, each with a warm sandbox
waiting and a source never analysed before (no cache hits).

    .venv/bin/python bench/bench_sweep.py [--repeat 3] [--snippet examples/gpt_sac.py] [--server]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGETS = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
TARGET = 2.0


def _runs(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def through_server(snippet: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds for one analysis and for the 10-point sweep, submitted to a real `ckpt serve`."""
    import httpx

    sys.path.insert(0, str(REPO / "bench"))
    from _timing import start_server

    def warm(http: httpx.Client) -> None:
        while "1 of 1 warm" not in http.get("/readyz").json()["checks"].get(
                "sandboxes ckpt-cpu", ""):
            time.sleep(0.1)
        time.sleep(0.5)

    def until_done(http: httpx.Client, url: str) -> None:
        while (body := http.get(url).json())["status"] not in ("done", "failed", "cancelled"):
            time.sleep(0.05)
        if body["status"] != "done":
            raise SystemExit(f"{url}: {body['status']}: {body.get('error')}")

    one, many = [], []
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(Path(tmp))
        try:
            with httpx.Client(base_url=base, timeout=600) as http:
                for _ in range(repeat):
                    for out, path, extra in ((one, "/api/analyses", {}),
                                             (many, "/api/sweeps", {"budgets": BUDGETS})):
                        warm(http)
                        source = snippet.read_text() + f"\n# run {uuid.uuid4().hex}\n"
                        start = time.perf_counter()
                        sub = http.post(path, json={"source": source, **extra}).json()
                        until_done(http, sub["status_url"])
                        out.append(time.perf_counter() - start)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return one, many


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--snippet", default=str(REPO / "examples" / "gpt_sac.py"))
    parser.add_argument("--server", action="store_true",
                        help="also time the sweep through a real `ckpt serve`")
    args = parser.parse_args()
    if args.server:
        one_s, many_s = through_server(Path(args.snippet), args.repeat)
        one_srv, many_srv = statistics.median(one_s), statistics.median(many_s)
        print(f"through ckpt serve: one analysis {one_srv:.2f} s (runs: {_runs(one_s)}), "
              f"10-point sweep {many_srv:.2f} s (runs: {_runs(many_s)}): "
              f"{many_srv / one_srv:.2f}×")
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
