"""Nothing waits for a poll inside one process: an embedded consumer takes a job this process
enqueued at once, and the job state tells its listeners about every event it records."""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from server.jobs import JobSpec
from server.worker import queue as queue_module
from server.worker.queue import Consumer, Queues
from server.worker.state import JobState


class RecordingRunner:
    def __init__(self) -> None:
        self.specs: list[dict[str, Any]] = []
        self.got = threading.Event()

    def execute(self, spec: dict[str, Any]) -> None:
        self.specs.append(spec)
        self.got.set()

    def stop(self) -> None:
        pass


def test_enqueue_wakes_the_idle_consumer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_module, "POLL_S", 3600.0)  # only the wake-up can deliver the job
    queues = Queues(None, tmp_path)
    runner = RecordingRunner()
    consumer = Consumer(queues.by_device["cpu"], [runner], "test",  # type: ignore[list-item]
                        queues.wakeups["cpu"])
    consumer.start()
    try:
        spec = JobSpec(uuid.uuid4().hex, "x = 1", {})
        threading.Event().wait(0.2)  # the consumer found the queue empty and sleeps
        queues.enqueue(spec)
        assert runner.got.wait(20), "the consumer waited for its poll"
        assert runner.specs == [asdict(spec)]
    finally:
        consumer.stop()


def test_job_state_listeners_hear_each_event_and_find_the_outcome_first(tmp_path: Path) -> None:
    state = JobState(Queues(None, tmp_path).state_storage)
    heard: list[tuple[str, bool]] = []
    state.subscribe(lambda job_id: heard.append((job_id, state.outcome(job_id) is not None)))
    state.subscribe(lambda job_id: 1 / 0)  # a broken listener is logged, never fails the job
    state.append_event("j", "queued")
    assert state.finish("j", "done", result={"x": 1})
    assert heard == [("j", False), ("j", True)]
    assert [e.stage for e in state.events("j")] == ["queued", "done"]


def test_an_outcome_is_parsed_once_for_all_its_readers(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from server.worker import make_backend

    backend = make_backend(None, tmp_path)
    assert not backend.state.has_outcome("j") and backend.outcome("j") is None
    backend.state.append_event("j", "queued")
    backend.state.finish("j", "done", result={"big": list(range(1000))})
    assert backend.state.has_outcome("j")
    parses = []
    real = backend.state.outcome
    monkeypatch.setattr(backend.state, "outcome", lambda job_id: parses.append(job_id)
                        or real(job_id))
    readers = [threading.Thread(target=backend.outcome, args=("j",)) for _ in range(4)]
    for r in readers:
        r.start()
    for r in readers:
        r.join(10)
    first = backend.outcome("j")
    assert first is not None and first.result == {"big": list(range(1000))}
    assert parses == ["j"]
    assert not backend.cancel("j")  # a finished job cannot be cancelled
    backend.close()
