"""A job that can never run is refused at submission; a job no worker takes fails at its
queue deadline with that reason; /readyz lists the queues and their consumers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from server.worker import make_backend
from server.worker.backend import EXPIRED_CLAIM, WorkerBackend
from tests.server.api.conftest import SNIPPET, ClientFactory
from tests.server.api.test_analyses import wait_final


def queue_only(tmp_path: Path, **kw: Any) -> WorkerBackend:
    """The real queue and job state on SQLite, with no consumer started."""
    return make_backend(None, tmp_path / "queue", **kw)


def test_no_worker_for_the_device_is_refused_naming_what_is_there(
        make_client: ClientFactory, tmp_path: Path) -> None:
    backend = queue_only(tmp_path)
    with make_client(backend=backend) as (c, _):
        r = c.post("/api/analyses", json={"source": SNIPPET, "settings": {"device": "cuda"}})
        assert r.status_code == 503 and r.json()["code"] == "no_worker"
        assert "cuda queue" in r.json()["message"] and "queues with workers: none" in \
            r.json()["message"]
        backend.state.consumer_seen("cpu", "ckpt-cpu#test")  # a CPU worker comes up
        r = c.post("/api/analyses", json={"source": SNIPPET, "settings": {"device": "cuda"}})
        assert r.status_code == 503 and "cpu (1 worker)" in r.json()["message"]
        assert 'settings.device to "cpu"' in r.json()["message"]
        assert backend.queue_pending() == {"cpu": 0, "cuda": 0}  # nothing was queued
        ok = c.post("/api/analyses", json={"source": SNIPPET, "settings": {"device": "cpu"}})
        assert ok.status_code == 202, ok.text
        checks = c.get("/readyz").json()["checks"]
        assert checks["queue cpu"] == "1 consumer: ckpt-cpu#test; 1 waiting"
        assert checks["queue cuda"] == "no consumer: jobs for it are refused; 0 waiting"


def test_a_silent_consumer_stops_counting(tmp_path: Path) -> None:
    backend = queue_only(tmp_path, stale_after_s=0.3)
    backend.state.consumer_seen("cpu", "w1")
    assert backend.queue_consumers()["cpu"] == ["w1"]
    time.sleep(0.4)
    assert backend.queue_consumers()["cpu"] == []


def test_queued_job_fails_at_its_deadline(make_client: ClientFactory, tmp_path: Path) -> None:
    backend = queue_only(tmp_path, stale_after_s=0.2, queue_deadline_s=1.0)
    backend.lost_check_interval_s = 0.2
    with make_client(backend=backend) as (c, _):
        backend.state.consumer_seen("cpu", "busy-worker")  # alive, but never takes the job
        sub = c.post("/api/analyses", json={"source": SNIPPET}).json()
        time.sleep(0.5)
        assert c.get(sub["status_url"]).json()["status"] == "queued"
        final = wait_final(c, sub["id"], timeout_s=10)
    assert final["status"] == "failed"
    assert "queue deadline (1 s" in final["error"]["message"], final["error"]
    # a worker that dequeues it later skips it: the deadline claimed it
    (job_id,) = backend.queues.pending_job_ids()
    assert backend.state.claimed_by(job_id) == EXPIRED_CLAIM
