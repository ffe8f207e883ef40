"""Reliability against a real uvicorn on 127.0.0.1: restarts, concurrency, malformed input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from .api.conftest import SNIPPET
from .live import LiveServer


def wait_final(base: str, analysis_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(f"{base}/api/analyses/{analysis_id}").json()
        if body["status"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{analysis_id} did not finish")


@pytest.fixture
def live(tmp_path: Path, analyze_example: Any) -> Iterator[LiveServer]:
    doc = analyze_example("mlp_checkpoint")
    server = LiveServer(tmp_path / "data", doc, delay_s=1.5).start()
    try:
        yield server
    finally:
        server.stop()


def test_restart_mid_job(live: LiveServer) -> None:
    first = httpx.post(f"{live.base}/api/analyses", json={"source": SNIPPET}).json()
    assert wait_final(live.base, first["id"])["status"] == "done"
    before = httpx.get(f"{live.base}/api/analyses/{first['id']}/document").content
    running = httpx.post(f"{live.base}/api/analyses",
                         json={"source": SNIPPET + "\n# second\n"}).json()
    sweep = httpx.post(f"{live.base}/api/sweeps",
                       json={"source": SNIPPET, "budgets": [1.0, 0.25]}).json()
    time.sleep(0.3)
    status = httpx.get(f"{live.base}{running['status_url']}").json()["status"]
    assert status in ("queued", "running")
    live.kill()
    live.start()
    status = wait_final(live.base, running["id"])
    assert status["status"] == "done"
    deadline = time.monotonic() + 30
    while (body := httpx.get(f"{live.base}{sweep['status_url']}").json())["status"] != "done":
        assert time.monotonic() < deadline and body["status"] in ("queued", "running"), body
        time.sleep(0.2)
    assert [p["budget"] for p in body["result"]["points"]] == [1.0, 0.25]
    events = httpx.get(f"{live.base}{running['events_url']}?format=json").json()
    assert any("restart" in e["message"] for e in events)
    assert httpx.get(f"{live.base}/api/analyses/{first['id']}/document").content == before


def test_fifty_concurrent_submissions(live: LiveServer) -> None:
    def one(i: int) -> httpx.Response:
        return httpx.post(f"{live.base}/api/analyses", timeout=60,
                          json={"source": f"{SNIPPET}\n# variant {i}\n"})

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(one, range(50)))
    assert [r.status_code for r in responses] == [202] * 50
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 50
    # identical concurrent submissions share one job
    with ThreadPoolExecutor(20) as pool:
        same = list(pool.map(lambda _: httpx.post(f"{live.base}/api/analyses", timeout=60,
                                                  json={"source": SNIPPET}), range(20)))
    assert sum(not r.json()["cached"] for r in same) == 1
    for i in list(ids)[:5]:
        assert wait_final(live.base, i)["status"] == "done"


def test_malformed_input_is_4xx(live: LiveServer) -> None:
    url = f"{live.base}/api/analyses"

    def oversize() -> Iterator[bytes]:
        yield b'{"source": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    cases = {
        "non-utf8": httpx.post(url, content=b"\xff\xfe\xfd",
                               headers={"content-type": "application/json"}),
        "non-utf8 file": httpx.post(url, files={"file": ("a.py", b"\xff\x00\xfe")}),
        "oversize": httpx.post(url, json={"source": "x" * 400_000}),
        "oversize chunked": httpx.post(url, content=oversize(),
                                       headers={"content-type": "application/json"}),
        "bad settings": httpx.post(url, json={"source": SNIPPET, "settings": {"memory_budget":
                                                                              "lots"}}),
        "settings not JSON": httpx.post(url, files={"file": ("a.py", SNIPPET.encode())},
                                        data={"settings": "{oops"}),
        "unknown id": httpx.get(f"{live.base}/api/analyses/doesnotexist"),
        "unknown graph": httpx.get(f"{live.base}/api/analyses/x/regions/0/graphs/forward.svg"),
        "unknown route": httpx.get(f"{live.base}/api/nothing"),
        "wrong method": httpx.put(url, json={}),
    }
    for name, r in cases.items():
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
        body = r.json()
        assert body["message"] and body["code"], name
    assert cases["oversize"].status_code == 413 and cases["oversize chunked"].status_code == 413
    assert "memory_budget" in cases["bad settings"].json()["message"]
    assert "settings" in cases["settings not JSON"].json()["message"]
