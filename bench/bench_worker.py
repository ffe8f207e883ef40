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
Target: worker ≤ 1.2× the first in-process analysis. Prints the ratios.

    .venv/bin/python bench/bench_worker.py [--repeat 3] [--server] [--snippet examples/gpt_sac.py]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from server.jobs import JobSpec  # noqa: E402
from server.worker import WorkerBackend, make_backend  # noqa: E402

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


def first_in_process(path: Path, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", FIRST_RUN, str(REPO), str(path)],
                              capture_output=True, text=True, check=True)
        out.append(float(proc.stdout.strip().splitlines()[-1]))
    return out


def repeat_in_process(path: Path, repeat: int) -> list[float]:
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
    changed = threading.Event()
    backend.subscribe(lambda _job_id: changed.set())
    out, inside = [], []
    for _ in range(repeat):
        while pool._ready.qsize() < pool.size:  # measure a warm pool, as in steady service
            time.sleep(0.05)
        time.sleep(0.5)  # let the replacement sandbox settle after its warm-up
        job_id = uuid.uuid4().hex
        start = time.perf_counter()
        backend.submit(JobSpec(job_id, source, {}, snippet_name=path.name))
        while (outcome := backend.outcome(job_id)) is None:
            changed.wait(1.0)
            changed.clear()
        out.append(time.perf_counter() - start)
        if outcome.error is not None or outcome.result is None:
            raise SystemExit(f"{path.name}: the worker failed: {outcome.error}")
        timings = outcome.result["timings_s"]
        inside.append(timings.get("load_s", 0.0) + timings["capture_s"] + timings["classify_s"])
    return out, inside


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--data-dir",
         str(data_dir), "--log-level", "warning"], cwd=REPO,
        env={**os.environ, "CKPT_RATE_LIMIT": "0"}, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("ckpt serve did not start")


def through_server(base: str, path: Path, repeat: int) -> list[float]:
    """POST → SSE `done` → GET document, seconds, with a warm sandbox waiting each time."""
    import httpx

    out = []
    with httpx.Client(base_url=base, timeout=600) as http:
        for _ in range(repeat):
            while "1 of 1 warm" not in http.get("/readyz").json()["checks"].get(
                    "sandboxes ckpt-cpu", ""):
                time.sleep(0.1)
            time.sleep(0.5)
            source = path.read_text() + f"\n# run {uuid.uuid4().hex}\n"  # never a cache hit
            start = time.perf_counter()
            sub = http.post("/api/analyses", json={"source": source, "name": path.name}).json()
            last = None
            with http.stream("GET", sub["events_url"]) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        last = json.loads(line[5:])["stage"]
            doc = http.get(f"/api/analyses/{sub['id']}/document")
            out.append(time.perf_counter() - start)
            if last != "done" or doc.status_code != 200:
                raise SystemExit(f"{path.name}: the analysis ended {last}: {doc.text[:300]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--snippet", action="append", default=None)
    ap.add_argument("--trusted-local", action="store_true", help="no sandbox (for comparison)")
    ap.add_argument("--server", action="store_true",
                    help="also measure through a real `ckpt serve` (HTTP, SSE)")
    args = ap.parse_args()
    snippets = [REPO / s for s in (args.snippet or DEFAULT_SNIPPETS)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        backend = make_backend(None, Path(tmp), trusted_local=args.trusted_local)
        backend.start_embedded_consumer()
        try:
            for path in snippets:
                runs, inside = through_worker(backend, path, args.repeat)
                rows.append((path, statistics.median(runs), statistics.median(inside)))
        finally:
            backend.close()
        served: dict[Path, float] = {}
        if args.server:
            proc, base = start_server(Path(tmp) / "served")
            try:
                for path in snippets:
                    served[path] = statistics.median(through_server(base, path, args.repeat))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    # the baselines run with no sandbox pool warming beside them
    print(f"{'snippet':<20} {'worker s':>9} {'in sandbox s':>12} {'first s':>8} {'ratio':>6}"
          f" {'repeat s':>9} {'ratio':>6}" + (f" {'server s':>9} {'ratio':>6}" if served else ""))
    worst = 0.0
    for path, worker, inside in rows:
        first = statistics.median(first_in_process(path, args.repeat))
        again = statistics.median(repeat_in_process(path, args.repeat))
        worst = max(worst, worker / first)
        extra = (f" {served[path]:>9.3f} {served[path] / first:>5.2f}×" if path in served
                 else "")
        print(f"{path.name:<20} {worker:>9.3f} {inside:>12.3f} {first:>8.3f}"
              f" {worker / first:>5.2f}× {again:>9.3f} {worker / again:>5.2f}×{extra}")
    verdict = "meets" if worst <= 1.2 else "MISSES"
    print(f"worst ratio to the first in-process analysis {worst:.2f}× — {verdict} the ≤ 1.2× "
          "target")


if __name__ == "__main__":
    main()
