"""Fixtures for worker tests: a real sandboxed backend on SQLite, and host process checks."""

from __future__ import annotations

import os
import pwd
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.jobs import JobOutcome, JobSpec
from server.worker import SandboxLimits, SandboxUnavailableError, WorkerBackend, make_backend
from server.worker.sandbox import SANDBOX_USER

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile"
REPO = HERE.parents[2]
EXAMPLES = REPO / "examples"
#: small limits: hostile jobs hit them fast and the host barely notices
TEST_LIMITS = SandboxLimits(memory_bytes=2 << 30, pids_max=128, output_bytes=1 << 20,
                            timeout_s=60.0, startup_s=120.0)


def sandbox_pids() -> list[int]:
    """Host pids of every process running as the sandbox user (or none if it has no user)."""
    try:
        uid = pwd.getpwnam(SANDBOX_USER).pw_uid
    except KeyError:
        return []
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            out.append(int(p))
                        break
        except OSError:
            continue
    return out


def wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def run_job(backend: WorkerBackend, source: str, *, timeout: float = 120.0,
            **options: Any) -> JobOutcome:
    job_id = uuid.uuid4().hex
    backend.submit(JobSpec(job_id, source, {}, options=options))
    wait_for(lambda: backend.outcome(job_id) is not None, timeout, f"job {job_id}")
    # the final event follows the outcome by a few milliseconds
    wait_for(lambda: backend.events(job_id)[-1].stage in ("done", "failed", "cancelled"), 10,
             f"the final event of job {job_id}")
    outcome = backend.outcome(job_id)
    assert outcome is not None
    return outcome


def start_backend(queue_url: str | None, data_dir: Path, **kw: Any) -> WorkerBackend:
    backend = make_backend(queue_url, data_dir, limits=TEST_LIMITS, **kw)
    try:
        backend.start_embedded_consumer()
    except SandboxUnavailableError as e:
        backend.close()
        pytest.skip(f"no sandbox on this host: {e.message}")
    return backend


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerBackend]:
    """One embedded SQLite backend with a real sandbox pool, shared by the sandbox tests."""
    b = start_backend(None, tmp_path_factory.mktemp("worker"))
    yield b
    b.close()
    wait_for(lambda: not sandbox_pids(), 20, "sandboxes to exit after close")
