"""Submit→result latency through the sandboxed worker against a bare in-process analysis.

For each snippet: the median of `--repeat` runs of `ckpt_core.analyze_file` in this process
(torch imported and warmed first), and the median of `--repeat` jobs through an embedded
SQLite backend with a warm sandbox waiting (the pool refills between jobs, as in service).
Target: worker ≤ 1.2× the in-process analysis. Prints the ratios.

    .venv/bin/python bench/bench_worker.py [--repeat 3] [--snippet examples/gpt_sac.py ...]
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
sys.path.insert(0, str(REPO))

from server.jobs import JobSpec  # noqa: E402
from server.worker import WorkerBackend, make_backend  # noqa: E402

DEFAULT_SNIPPETS = ["examples/mlp_checkpoint.py", "examples/two_regions.py",
                    "examples/gpt_sac.py"]


def in_process(path: Path, repeat: int) -> list[float]:
    import ckpt_core

    ckpt_core.analyze_file(path)  # warm: lazy imports and first-compile set-up
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        ckpt_core.analyze_file(path)
        out.append(time.perf_counter() - start)
    return out


def through_worker(backend: WorkerBackend, path: Path, repeat: int) -> tuple[list[float],
                                                                               list[float]]:
    """Submit→result seconds, and the analysis' own seconds inside the sandbox."""
    pool = backend.consumers[0].runners[0].pool
    source = path.read_text()
    out, inside = [], []
    for _ in range(repeat):
        while pool._ready.qsize() < pool.size:  # measure a warm pool, as in steady service
            time.sleep(0.05)
        job_id = uuid.uuid4().hex
        start = time.perf_counter()
        backend.submit(JobSpec(job_id, source, {}, snippet_name=path.name))
        while (outcome := backend.outcome(job_id)) is None:
            time.sleep(0.02)
        out.append(time.perf_counter() - start)
        if outcome.error is not None or outcome.result is None:
            raise SystemExit(f"{path.name}: the worker failed: {outcome.error}")
        timings = outcome.result["timings_s"]
        inside.append(timings.get("load_s", 0.0) + timings["capture_s"] + timings["classify_s"])
    return out, inside


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--snippet", action="append", default=None)
    ap.add_argument("--trusted-local", action="store_true", help="no sandbox (for comparison)")
    args = ap.parse_args()
    snippets = [REPO / s for s in (args.snippet or DEFAULT_SNIPPETS)]
    with tempfile.TemporaryDirectory() as tmp:
        backend = make_backend(None, Path(tmp), trusted_local=args.trusted_local)
        backend.start_embedded_consumer()
        try:
            print(f"{'snippet':<22} {'in-process s':>12} {'worker s':>10} {'ratio':>7}"
                  f" {'(analysis in sandbox s)':>24}")
            worst = 0.0
            for path in snippets:
                runs, inside = through_worker(backend, path, args.repeat)
                worker = statistics.median(runs)
                bare = statistics.median(in_process(path, args.repeat))
                ratio = worker / bare
                worst = max(worst, ratio)
                print(f"{path.name:<22} {bare:>12.3f} {worker:>10.3f} {ratio:>6.2f}×"
                      f" {statistics.median(inside):>24.3f}")
            verdict = "meets" if worst <= 1.2 else "MISSES"
            print(f"worst ratio {worst:.2f}× — {verdict} the ≤ 1.2× target")
        finally:
            backend.close()


if __name__ == "__main__":
    main()
