"""Submit→result latency through the sandboxed worker against a bare in-process analysis.

For each snippet, the median of `--repeat` runs of:
- worker: submit → outcome through an embedded SQLite backend with a warm sandbox waiting (the
  pool refills between jobs, as in service); the result is awaited by the backend's change
  notification, as the server awaits it;
- first in-process: a fresh Python that has done the sandbox's own warm-up
  (`server.worker.entry.preload`) times its first `ckpt_core.analyze_file` of the snippet. This
  is the like-for-like baseline: a sandbox is single-use, so it always analyses a snippet it has
  never seen, and the ratio isolates what the queue, the sandbox and the hand-over add;
- repeat in-process: the same snippet analysed again in one warm process. Its later runs hit
  torch's FakeTensor dispatch cache (keyed by op and shapes) that the earlier runs filled, which
  no first analysis of a snippet can; printed for comparison.
- with `--server`, also through a real `ckpt serve` on 127.0.0.1 (its embedded worker): POST the
  snippet, follow its SSE stream to `done`, GET the document — what a user of the API waits for
  (each submission is made unique, so the result cache never answers).
The columns are measured interleaved (worker, server, first, repeat for each snippet, `--repeat`
rounds), each starting with every sandbox pool warm and idle, and medians are printed: this
machine's slow and fast spells then fall on every column alike.
Target: worker ≤ 1.2× the first in-process analysis. Prints the ratios.

    .venv/bin/python bench/bench_worker.py [--repeat 3] [--server] [--snippet examples/gpt_sac.py]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from server.jobs import JobSpec  # noqa: E402
from server.worker import make_backend  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from _timing import start_server  # noqa: E402

DEFAULT_SNIPPETS = ["examples/mlp_checkpoint.py", "examples/two_regions.py",
                    "examples/gpt_sac.py"]

#: run in a fresh interpreter: the sandbox's warm-up, then one timed analysis of the snippet
FIRST_RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
from server.worker.entry import preload
preload()
time.sleep(0.5)  # as a pooled sandbox idles before its job
import ckpt_core
start = time.perf_counter()
ckpt_core.analyze_file(sys.argv[2])
print(time.perf_counter() - start)
"""


def first_in_process(path: Path) -> float:
    proc = subprocess.run([sys.executable, "-c", FIRST_RUN, str(REPO), str(path)],
                          capture_output=True, text=True, check=True)
    return float(proc.stdout.strip().splitlines()[-1])


def repeat_in_process(path: Path) -> float:
    import ckpt_core

    ckpt_core.analyze_file(path)  # warm: lazy imports, and this snippet's caches
    start = time.perf_counter()
    ckpt_core.analyze_file(path)
    return time.perf_counter() - start


class Worker:
    """An embedded backend; `run(path)` → (submit→result s, the analysis' own s in the sandbox)."""

    def __init__(self, data_dir: Path, trusted_local: bool) -> None:
        self.backend = make_backend(None, data_dir, trusted_local=trusted_local)
        self.backend.start_embedded_consumer()
        self.pool = self.backend.consumers[0].runners[0].pool
        self.changed = threading.Event()
        self.backend.subscribe(lambda _job_id: self.changed.set())

    def wait_warm(self) -> None:
        while self.pool.warm() < self.pool.size:  # a warm pool, as in steady service
            time.sleep(0.05)

    def run(self, path: Path) -> tuple[float, float]:
        job_id = uuid.uuid4().hex
        start = time.perf_counter()
        self.backend.submit(JobSpec(job_id, path.read_text(), {}, snippet_name=path.name))
        while (outcome := self.backend.outcome(job_id)) is None:
            self.changed.wait(1.0)
            self.changed.clear()
        took = time.perf_counter() - start
        if outcome.error is not None or outcome.result is None:
            raise SystemExit(f"{path.name}: the worker failed: {outcome.error}")
        timings = outcome.result["timings_s"]
        return took, timings.get("load_s", 0.0) + timings["capture_s"] + timings["classify_s"]


def server_warm(http: Any) -> None:
    while "1 of 1 warm" not in http.get("/readyz").json()["checks"].get(
            "sandboxes ckpt-cpu", ""):
        time.sleep(0.05)


def through_server(http: Any, path: Path) -> float:
    """POST → SSE `done` → GET document, seconds."""
    source = path.read_text() + f"\n# run {uuid.uuid4().hex}\n"  # never a cache hit
    start = time.perf_counter()
    sub = http.post("/api/analyses", json={"source": source, "name": path.name}).json()
    last = None
    with http.stream("GET", sub["events_url"]) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                last = json.loads(line[5:])["stage"]
    doc = http.get(f"/api/analyses/{sub['id']}/document")
    took = time.perf_counter() - start
    if last != "done" or doc.status_code != 200:
        raise SystemExit(f"{path.name}: the analysis ended {last}: {doc.text[:300]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--snippet", action="append", default=None)
    ap.add_argument("--trusted-local", action="store_true", help="no sandbox (for comparison)")
    ap.add_argument("--server", action="store_true",
                    help="also measure through a real `ckpt serve` (HTTP, SSE)")
    args = ap.parse_args()
    snippets = [REPO / s for s in (args.snippet or DEFAULT_SNIPPETS)]
    import httpx

    times: dict[tuple[Path, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        worker = Worker(Path(tmp) / "worker", args.trusted_local)
        proc, base = start_server(Path(tmp) / "served") if args.server else (None, "")
        http = httpx.Client(base_url=base, timeout=600) if args.server else None
        try:
            # interleaved, so that the machine's slow and fast spells fall on every column;
            # each measurement starts with every pool warm and idle
            def settle() -> None:
                worker.wait_warm()
                if http is not None:
                    server_warm(http)
                time.sleep(0.5)

            for _ in range(args.repeat):
                for path in snippets:
                    settle()
                    took, inside = worker.run(path)
                    times.setdefault((path, "worker"), []).append(took)
                    times.setdefault((path, "inside"), []).append(inside)
                    if http is not None:
                        settle()
                        times.setdefault((path, "server"), []).append(through_server(http, path))
                    settle()
                    times.setdefault((path, "first"), []).append(first_in_process(path))
                    settle()
                    times.setdefault((path, "repeat"), []).append(repeat_in_process(path))
        finally:
            worker.backend.close()
            if http is not None and proc is not None:
                http.close()
                proc.terminate()
                proc.wait(timeout=30)

    def med(path: Path, what: str) -> float:
        return statistics.median(times[(path, what)])

    def paired(path: Path, what: str) -> float:
        """The median, over rounds, of `what` ÷ the first in-process analysis of that round."""
        return statistics.median(a / b for a, b in zip(times[(path, what)],
                                                       times[(path, "first")], strict=True))

    print(f"{'snippet':<20} {'worker s':>9} {'in sandbox s':>12} {'first s':>8} {'ratio':>6}"
          f" {'paired':>6} {'repeat s':>9} {'ratio':>6}"
          + (f" {'server s':>9} {'ratio':>6} {'paired':>6}" if args.server else ""))
    worst = 0.0
    for path in snippets:
        worker_s, first, again = med(path, "worker"), med(path, "first"), med(path, "repeat")
        worst = max(worst, worker_s / first)
        extra = (f" {med(path, 'server'):>9.3f} {med(path, 'server') / first:>5.2f}×"
                 f" {paired(path, 'server'):>5.2f}×" if args.server else "")
        print(f"{path.name:<20} {worker_s:>9.3f} {med(path, 'inside'):>12.3f} {first:>8.3f}"
              f" {worker_s / first:>5.2f}× {paired(path, 'worker'):>5.2f}× {again:>9.3f}"
              f" {worker_s / again:>5.2f}×{extra}")
    verdict = "meets" if worst <= 1.2 else "MISSES"
    print(f"worst ratio of medians to the first in-process analysis {worst:.2f}× — {verdict} "
          "the ≤ 1.2× target; 'paired' is the median of the per-round ratios")


if __name__ == "__main__":
    main()
