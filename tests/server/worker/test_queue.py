"""The queue end to end: SQLite and Redis round trips, cancel, and a worker killed mid-job."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.jobs import STAGES, JobSpec
from server.worker import WorkerBackend, make_backend
from server.worker.cgroups import CgroupManager
from server.worker.cleanup import sweep_orphans

from .conftest import EXAMPLES, HOSTILE, REPO, run_job, sandbox_pids, start_backend, wait_for

pytestmark = pytest.mark.sandbox

MLP = (EXAMPLES / "mlp_checkpoint.py").read_text()
LOOP = (HOSTILE / "infinite_loop.py").read_text()


def assert_round_trip(backend: WorkerBackend) -> None:
    job_id = uuid.uuid4().hex
    backend.submit(JobSpec(job_id, MLP, {}, snippet_name="mlp.py"))
    wait_for(lambda: backend.outcome(job_id) is not None, 120, "the analysis")
    outcome = backend.outcome(job_id)
    assert outcome is not None and outcome.error is None, outcome
    assert outcome.result is not None
    assert outcome.result["snippet_name"] == "mlp.py" and outcome.result["regions"]
    stages = [e.stage for e in backend.events(job_id)]
    assert stages == list(STAGES), stages
    assert [e.stage for e in backend.events(job_id, after=5)] == ["storing", "done"]
    progress = [e.progress for e in backend.events(job_id)]
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_sqlite_round_trip(backend: WorkerBackend) -> None:
    assert backend.queues.url.startswith("sqlite:///")
    assert (backend.data_dir / "queue.sqlite3").exists()
    assert_round_trip(backend)
    # the job used the warm sandbox; the pool warms its replacement and says so
    wait_for(lambda: backend.pool_status() == {"ckpt-cpu": "1 of 1 warm"}, 120,
             f"a replacement sandbox (pool: {backend.pool_status()})")


def test_cancel_kills_the_running_sandbox(backend: WorkerBackend) -> None:
    job_id = uuid.uuid4().hex
    backend.submit(JobSpec(job_id, LOOP, {}, options={"timeout_s": 60}))
    wait_for(lambda: any(e.stage == "tracing" for e in backend.events(job_id)), 60, "tracing")
    started = time.monotonic()
    assert backend.cancel(job_id)
    wait_for(lambda: backend.outcome(job_id) is not None, 10, "the cancelled outcome")
    assert time.monotonic() - started < 5
    outcome = backend.outcome(job_id)
    assert outcome is not None and outcome.error is not None
    assert outcome.error["code"] == "cancelled"
    # `finish` writes the outcome, then its final event (readers build the status from the
    # outcome): the event may land a moment after the outcome is visible
    wait_for(lambda: backend.events(job_id)[-1].stage == "cancelled", 5, "the cancelled event")
    assert not backend.cancel(job_id)  # already finished
    wait_for(lambda: len(sandbox_pids()) <= 3, 15, "the cancelled sandbox to be gone")


def test_cancel_before_start_never_runs(tmp_path: Path) -> None:
    producer = make_backend(None, tmp_path)  # no consumer: the job stays queued
    job_id = uuid.uuid4().hex
    producer.submit(JobSpec(job_id, MLP, {}))
    assert producer.cancel(job_id)
    outcome = producer.outcome(job_id)
    assert outcome is not None and outcome.error is not None
    assert outcome.error["code"] == "cancelled"
    # a worker that dequeues it later cannot claim it
    assert not producer.state.claim(job_id, "some-worker")
    assert [e.stage for e in producer.events(job_id)] == ["queued", "cancelled"]
    producer.close()


def test_a_job_taken_off_the_queue_but_never_claimed_fails_with_a_reason(
        tmp_path: Path) -> None:
    """A worker killed between dequeuing a job and claiming it must not lose it silently."""
    producer = make_backend(None, tmp_path, stale_after_s=0.5)
    taken, queued = uuid.uuid4().hex, uuid.uuid4().hex
    producer.submit(JobSpec(taken, MLP, {}))
    producer.submit(JobSpec(queued, MLP, {}))
    # the first task leaves the queue as a worker dying right after taking it would leave it
    producer.queues.by_device["cpu"].dequeue()
    time.sleep(0.6)
    outcome = producer.outcome(taken)
    assert outcome is not None and outcome.error is not None
    assert "no worker started it" in outcome.error["message"]
    assert producer.outcome(queued) is None  # still pending in the queue: it waits its turn
    assert not producer.state.claim(taken, "late-worker")  # a late worker skips it
    producer.close()


def test_cuda_jobs_go_to_the_cuda_queue(tmp_path: Path) -> None:
    producer = make_backend(None, tmp_path)
    producer.submit(JobSpec("gpu-job", MLP, {"device": "cuda"}, device="cuda"))
    producer.submit(JobSpec("cpu-job", MLP, {}))
    assert producer.queues.pending("cuda") == 1 and producer.queues.pending("cpu") == 1
    producer.close()


def test_queue_messages_are_json_not_pickle(tmp_path: Path) -> None:
    producer = make_backend(None, tmp_path)
    producer.submit(JobSpec("j", "x = 1", {"memory_budget": 0.5}))
    raw = producer.queues.by_device["cpu"].storage.dequeue()
    assert raw.startswith(b"{") and b"memory_budget" in raw
    producer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_for(up, 10, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_round_trip(redis_url: str, tmp_path: Path) -> None:
    backend = start_backend(redis_url, tmp_path)
    try:
        assert_round_trip(backend)
        outcome = run_job(backend, (HOSTILE / "os_exit.py").read_text())
        assert outcome.error is not None and "status 3" in outcome.error["message"]
    finally:
        backend.close()


def test_a_deleted_job_leaves_no_message_in_redis(redis_url: str, tmp_path: Path) -> None:
    """A job nobody has taken yet is purged from the Redis list on delete: its snippet with it."""
    from server.jobs import JobSpec
    from server.worker.queue import Queues

    queues = Queues(redis_url, tmp_path)
    marker = "SECRET_SNIPPET_TEXT_4711"
    keep, drop = (JobSpec(job_id=i, source=f"# {marker} {i}\n", settings={}, device="cpu")
                  for i in ("job-keep", "job-drop"))
    queues.enqueue(keep)
    queues.enqueue(drop)
    assert queues.pending_job_ids() == {"job-keep", "job-drop"}
    queues.drop_pending("job-drop")
    assert queues.pending_job_ids() == {"job-keep"}
    storage = queues.huey("cpu").storage
    raw = b"".join(storage.conn.lrange(storage.queue_key, 0, -1))
    assert f"{marker} job-keep".encode() in raw and f"{marker} job-drop".encode() not in raw


def processes_mentioning(text: str) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if text.encode() in Path(f"/proc/{p}/cmdline").read_bytes():
                    out.append(int(p))
            except OSError:
                pass
    return out


def test_worker_killed_mid_job_fails_the_job_with_a_reason(tmp_path: Path,
                                                          backend: WorkerBackend) -> None:
    queue_url = f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    producer = make_backend(queue_url, tmp_path, stale_after_s=3.0)
    worker = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "worker", "--queue", queue_url],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        job_id = uuid.uuid4().hex
        producer.submit(JobSpec(job_id, LOOP, {}, options={"timeout_s": 120}))
        wait_for(lambda: any(e.stage == "tracing" for e in producer.events(job_id)), 120,
                 "the worker to start the job")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        wait_for(lambda: producer.outcome(job_id) is not None, 15, "the job to be failed")
        outcome = producer.outcome(job_id)
        assert outcome is not None and outcome.error is not None
        assert "stopped responding" in outcome.error["message"], outcome.error
        # the outcome is written before its final event (see test_cancel_kills_…)
        wait_for(lambda: producer.events(job_id)[-1].stage == "failed", 5, "the failed event")
        # its sandboxes (their command lines name its work dir) died with it: die-with-parent
        left = [r for r in Path(tempfile.gettempdir()).glob("ckpt-sandboxes-*")
                if (r / "owner").exists() and (r / "owner").read_text() == str(worker.pid)]
        assert len(left) == 1
        wait_for(lambda: not processes_mentioning(str(left[0])), 15, "orphaned sandboxes")
        # and the next worker to start removes the directories and cgroups it left
        manager = CgroupManager.detect(1 << 30, 64)
        sweep_orphans(manager, cgroup_min_age_s=0)
        assert not any(r.exists() for r in left)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        producer.close()


def test_worker_refuses_an_unknown_queue_url(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "worker", "--queue", "ftp://example.invalid/q"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unsupported queue URL" in proc.stderr


def test_trusted_local_runs_without_a_sandbox_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        backend = start_backend(None, tmp_path, trusted_local=True)
    try:
        assert "TRUSTED-LOCAL MODE" in caplog.text
        assert backend.isolation["ckpt-cpu"]["mode"].startswith("trusted-local")
        outcome = run_job(backend, (HOSTILE / "os_exit.py").read_text())
        assert outcome.error is not None and "status 3" in outcome.error["message"]
    finally:
        backend.close()


def _nice_of_threads(root: int) -> dict[int, int]:
    from server.worker.process import _process_tree

    out = {}
    for pid in _process_tree(root):
        for tid in os.listdir(f"/proc/{pid}/task"):
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            out[int(tid)] = int(stat[stat.rfind(")") + 2:].split()[16])
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="raising a priority back needs root")
def test_a_sandbox_warms_nice_and_runs_its_job_at_normal_priority_in_every_thread(
        backend: WorkerBackend) -> None:
    from server.worker.process import WARMING_NICENESS, Sandbox, raise_priority

    sandbox = Sandbox(backend.consumers[0].runners[0].pool.config)
    try:
        sandbox.wait_ready()
        warming = _nice_of_threads(sandbox.proc.pid)
        assert len(warming) > 2 and set(warming.values()) == {WARMING_NICENESS}, warming
        raise_priority(sandbox.proc.pid)
        running = _nice_of_threads(sandbox.proc.pid)
        assert set(running) >= set(warming) and set(running.values()) == {0}, running
    finally:
        sandbox.dispose()


def test_a_sweep_job_returns_one_checked_analysis_per_budget(backend: WorkerBackend) -> None:
    outcome = run_job(backend, MLP, sweep_budgets=[1.0, 0.0])
    assert outcome.error is None, outcome.error
    assert outcome.result is not None and set(outcome.result) == {"analyses"}
    docs = outcome.result["analyses"]
    assert [d["settings"]["memory_budget"] for d in docs] == [1.0, 0.0]
    assert all("memory" in d for d in docs)
    # the same plans as the sweep run in this process
    import ckpt_core

    local = ckpt_core.sweep(EXAMPLES / "mlp_checkpoint.py", [1.0, 0.0])
    for doc, point in zip(docs, local.points, strict=True):
        assert [[s["forward_node"] for s in r["saved"]] for r in doc["regions"]] == \
            [[s.forward_node for s in r.saved] for r in point.analysis.regions]


def test_sweep_results_are_checked_before_use(analyze_example: Any) -> None:
    from ckpt_core.errors import SandboxError
    from server.worker.runner import check_result

    mlp_doc = analyze_example("mlp_checkpoint")
    at = [{**mlp_doc, "settings": {**mlp_doc["settings"], "memory_budget": b}} for b in (1, 0.5)]
    check_result({"analyses": at}, [1.0, 0.5])
    bad = [({"analyses": at[:1]}, "1 analyses for a sweep of 2"),
           ({"analyses": at, "extra": 1}, "unexpected keys: extra"),
           ({"analyses": at[::-1]}, "for budget 1 was made at budget 0.5"),
           ({"analyses": [at[0], {"schema_version": 1}]}, "invalid analysis"),
           (at[0], "unexpected keys"), ({"analyses": "x"}, "0 analyses")]
    for result, message in bad:
        with pytest.raises(SandboxError, match=message):
            check_result(result, [1.0, 0.5])


def test_a_sweep_over_the_result_cap_says_to_sweep_fewer_budgets(tmp_path: Path) -> None:
    import dataclasses

    from server.worker import SandboxUnavailableError

    from .conftest import TEST_LIMITS

    # one MLP analysis (~0.1 MB) fits; three do not
    limits = dataclasses.replace(TEST_LIMITS, result_bytes=250_000)
    small = make_backend(None, tmp_path, limits=limits)
    try:
        small.start_embedded_consumer()
    except SandboxUnavailableError as e:
        small.close()
        pytest.skip(f"no sandbox on this host: {e.message}")
    try:
        outcome = run_job(small, MLP, sweep_budgets=[1.0, 0.5, 0.0])
        assert outcome.error is not None
        assert "exceeded 250000 bytes" in outcome.error["message"]
        assert "sweep fewer budgets" in outcome.error["message"]
    finally:
        small.close()
