"""Jobs that a backend reports changed reach the store and the SSE stream without a poll.

Both polls are set to an hour here: a stream that finishes at all was woken by the change chain
(backend listener → job watcher → store → `ChangeBoard` → stream).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from server.app import streams
from server.app.changes import ChangeBoard
from server.jobs import STAGES, JobEvent, JobOutcome, JobSpec

from .conftest import ClientFactory
from .test_analyses import submit

HOUR = 3600.0


class PushingBackend:
    """Runs each job on a thread once `go` is set, and tells its listeners about every event."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.go = threading.Event()
        self._events: dict[str, list[JobEvent]] = {}
        self._outcomes: dict[str, JobOutcome] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, job_id: str, stage: Any) -> None:
        event = JobEvent(job_id, stage, 0.5, "", time.time())
        with self._lock:
            self._events.setdefault(job_id, []).append(event)
        for listener in self._listeners:
            listener(job_id)

    def submit(self, spec: JobSpec) -> None:
        self._emit(spec.job_id, "queued")
        threading.Thread(target=self._run, args=(spec.job_id,), daemon=True).start()

    def _run(self, job_id: str) -> None:
        self.go.wait(30)
        for stage in STAGES[1:-1]:
            self._emit(job_id, stage)
        with self._lock:
            self._outcomes[job_id] = JobOutcome(job_id, result=self.doc)
        self._emit(job_id, "done")

    def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        with self._lock:
            return list(self._events.get(job_id, [])[after:])

    def outcome(self, job_id: str) -> JobOutcome | None:
        with self._lock:
            return self._outcomes.get(job_id)

    def cancel(self, job_id: str) -> bool:
        return False

    def close(self) -> None:
        self.go.set()


def test_a_reported_change_reaches_the_sse_stream_without_polling(
        make_client: ClientFactory, mlp_doc: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "KEEPALIVE_S", HOUR)
    backend = PushingBackend(mlp_doc)
    with make_client(backend, job_poll_s=HOUR) as (c, _):
        sub = submit(c)
        stages: list[str] = []

        def follow() -> None:
            with c.stream("GET", sub["events_url"]) as r:
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        stages.append(json.loads(line[5:])["stage"])

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        time.sleep(0.3)  # the stream has sent "queued" and now waits
        assert stages == ["queued"]
        backend.go.set()
        reader.join(timeout=20)
        assert not reader.is_alive(), f"the stream waited for a poll after {stages}"
        assert stages == list(STAGES)
        body = c.get(f"/api/analyses/{sub['id']}").json()
        assert body["status"] == "done"


def test_change_board_wakes_a_waiter_from_another_thread() -> None:
    board = ChangeBoard()

    async def scenario() -> tuple[bool, bool, bool]:
        seen = board.version("j")
        timer = threading.Timer(0.05, board.bump, args=("j",))
        timer.start()
        woke = await board.wait("j", seen, HOUR)
        already = await board.wait("j", seen, HOUR)  # changed since `seen`: no wait at all
        quiet = await board.wait("j", board.version("j"), 0.01)
        return woke, already, quiet

    results: list[tuple[bool, bool, bool]] = []
    # a thread of its own: a browser test may have left an event loop running on this one
    runner = threading.Thread(
        target=lambda: results.append(asyncio.run(asyncio.wait_for(scenario(), 20))))
    runner.start()
    runner.join(30)
    (woke, already, quiet), = results
    assert woke and already and not quiet
    assert board._waiters == {}  # nothing left registered


def test_change_board_keeps_counters_for_recent_jobs_only() -> None:
    board = ChangeBoard(keep=2)
    for job in ("a", "b", "a", "c"):
        board.bump(job)
    assert board.version("a") == 2 and board.version("c") == 1
    assert board.version("b") == 0  # the least recently changed job was forgotten
