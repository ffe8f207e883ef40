"""Load on a real `ckpt serve` on 127.0.0.1 (its embedded sandboxed worker): N distinct
snippets submitted at once, while a few clients keep reading a finished analysis' status.

Prints how many submissions were accepted, done, failed and unfinished (not final within
`--timeout` of their submission), the wall time until the last one ended, and GET latency
p50/p99 under that load.

    .venv/bin/python bench/bench_load.py [--submissions 50] [--readers 4] [--timeout 900]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import start_server

REPO = Path(__file__).resolve().parent.parent
SNIPPET = (REPO / "examples" / "mlp_checkpoint.py").read_text()


#: connections the server closed under a request (a keep-alive race): retried, and counted
DROPPED = [0]


async def get(http: httpx.AsyncClient, url: str) -> httpx.Response:
    while True:
        try:
            return await http.get(url)
        except httpx.TransportError:
            DROPPED[0] += 1
            await asyncio.sleep(0.1)


async def submit_and_wait(http: httpx.AsyncClient, i: int, timeout_s: float) -> str:
    r = await http.post("/api/analyses", json={"source": f"{SNIPPET}\n# load {i}\n",
                                               "name": f"load_{i}.py"})
    if r.status_code != 202:
        return f"refused {r.status_code}"
    url = r.json()["status_url"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = (await get(http, url)).json()["status"]
        if status in ("done", "failed", "cancelled"):
            return status
        await asyncio.sleep(1.0)
    return "unfinished"


async def read_loop(http: httpx.AsyncClient, url: str, stop: asyncio.Event,
                    latencies_ms: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        r = await get(http, url)
        latencies_ms.append((time.perf_counter() - t0) * 1e3)
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.05)


async def run(base: str, submissions: int, readers: int, timeout_s: float) -> None:
    limits = httpx.Limits(max_connections=submissions + readers + 4)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        first = (await http.post("/api/analyses", json={"source": SNIPPET})).json()
        while (await get(http, first["status_url"])).json()["status"] not in ("done", "failed"):
            await asyncio.sleep(0.5)
        latencies_ms: list[float] = []
        stop = asyncio.Event()
        reading = [asyncio.create_task(read_loop(http, first["status_url"], stop, latencies_ms))
                   for _ in range(readers)]
        t0 = time.perf_counter()
        outcomes = await asyncio.gather(*(submit_and_wait(http, i, timeout_s)
                                          for i in range(submissions)))
        wall_s = time.perf_counter() - t0
        stop.set()
        await asyncio.gather(*reading)
    counts = {k: outcomes.count(k) for k in sorted(set(outcomes))}
    accepted = sum(1 for o in outcomes if not o.startswith("refused"))
    q = statistics.quantiles(latencies_ms, n=100)
    print(f"{submissions} distinct submissions at once: accepted {accepted}, outcomes {counts}, "
          f"unfinished {counts.get('unfinished', 0)}; the bench waited {wall_s:.0f} s")
    print(f"GET status under that load ({len(latencies_ms)} requests, {readers} readers): "
          f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms (target 50 ms: {50 / q[98]:.1f}x); "
          f"connections dropped by the server and retried: {DROPPED[0]}")


def fake_document() -> dict[str, object]:
    """A real analysis of the example (as a worker would return it)."""
    import ckpt_core

    doc: dict[str, object] = ckpt_core.analyze_source(SNIPPET, ckpt_core.Settings()).to_dict()
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--fake-delay", type=float, default=None, metavar="S",
                        help="a fake backend that answers each job with a stored analysis "
                             "after S seconds: the server's own share of the load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env: dict[str, str] = {}
        backend = args.backend
        if args.fake_delay is not None:
            doc = Path(tmp) / "doc.json"
            doc.write_text(json.dumps(fake_document()))
            backend = "tests.server.api.fakes:backend_from_env"
            env = {"CKPT_FAKE_DOC": str(doc), "CKPT_FAKE_DELAY_S": str(args.fake_delay)}
        proc, base = start_server(Path(tmp) / "data", backend, **env)
        try:
            asyncio.run(run(base, args.submissions, args.readers, args.timeout))
            print("server still running" if proc.poll() is None else
                  f"server exited with {proc.returncode}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
