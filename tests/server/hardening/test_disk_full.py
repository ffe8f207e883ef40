"""A full disk: submissions get 507 saying so, reads keep working and show a job's real
state (a running job is not reported as a dead worker), /readyz says how much space is left.

The real test fills a small tmpfs (mounting one needs root; skipped otherwise); the second
injects the error SQLite raises, so the mapping is tested everywhere."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from server.worker import make_backend
from tests.server.api.conftest import SNIPPET, ClientFactory
from tests.server.api.test_analyses import wait_final

from .test_deleted_is_gone import work_one


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "data"  # the data dir `make_client` uses
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:
            f.write(b"\0" * (1 << 20))
            f.flush()
    with contextlib.suppress(OSError), filler.open("ab") as f:
        while True:  # the last partial block
            f.write(b"\0" * 4096)
            f.flush()
    return filler


def test_full_disk(make_client: ClientFactory, small_disk: Path,
                   mlp_doc: dict[str, Any]) -> None:
    backend = make_backend(None, small_disk / "queue", stale_after_s=0.5)
    with make_client(backend=backend, min_free_bytes=2 << 20) as (c, _):
        backend.state.consumer_seen("cpu", "test-worker")
        finished = c.post("/api/analyses", json={"source": SNIPPET}).json()
        work_one(backend, mlp_doc)
        assert wait_final(c, finished["id"])["status"] == "done"
        running = c.post("/api/analyses", json={"source": SNIPPET + "\n# two\n"}).json()
        task = backend.queues.by_device["cpu"].dequeue()
        job_id = str(task.args[0]["job_id"])
        backend.state.claim(job_id, "test-worker")
        backend.state.heartbeat(job_id)
        backend.state.append_event(job_id, "tracing", "compiling")
        deadline = time.monotonic() + 5
        while c.get(running["status_url"]).json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)

        filler = fill(small_disk)
        r = c.post("/api/analyses", json={"source": SNIPPET + "\n# three\n"})
        assert r.status_code == 507, r.text
        assert r.json()["code"] == "disk_full" and "disk is full" in r.json()["message"]
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "full" in ready.json()["checks"]["disk"]
        # the worker cannot write heartbeats; after the stale limit the job still runs
        time.sleep(1.0)
        for _ in range(3):
            status = c.get(running["status_url"])
            assert status.status_code == 200, status.text
            assert status.json()["status"] == "running", status.json()
            time.sleep(0.3)
        # reads of a finished analysis work, the graph included (its layout is not stored)
        assert c.get(finished["document_url"]).status_code == 200
        svg = c.get(f"/api/analyses/{finished['id']}/regions/0/graphs/forward.svg")
        assert svg.status_code == 200 and "<svg" in svg.text

        filler.unlink()  # space is back: the job finishes, submissions are accepted again
        backend.state.finish(job_id, "done", result=mlp_doc, message="done")
        assert wait_final(c, running["id"])["status"] == "done"
        assert c.get("/readyz").json()["checks"]["disk"].endswith("GiB")
        backend.state.consumer_seen("cpu", "test-worker")
        again = c.post("/api/analyses", json={"source": SNIPPET + "\n# three\n"})
        assert again.status_code == 202, again.text


def test_a_database_that_reports_a_full_disk_is_a_507(make_client: ClientFactory,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with make_client() as (c, _):
        store = c.app.state.service.store  # type: ignore[attr-defined]

        def full(*_: Any, **__: Any) -> None:
            raise OperationalError("INSERT INTO jobs …", {},
                                   sqlite3.OperationalError("database or disk is full"))

        monkeypatch.setattr(store, "create_job", full)
        r = c.post("/api/analyses", json={"source": SNIPPET})
        assert r.status_code == 507 and r.json()["code"] == "disk_full"
        assert "INSERT" not in r.text and r.headers["retry-after"] == "60"
