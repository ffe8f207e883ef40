"""An in-process `JobBackend` with canned outcomes, for API tests (like httpx's MockTransport).

Outcomes are computed lazily from elapsed time, so no threads are needed: a job is "running"
until `delay_s` has passed, then done with the document `result_for(spec)` returns (or failed
with the error dict it returns). Documents come from real `ckpt_core` analyses made once per
test session (see conftest), or from a JSON file named by `CKPT_FAKE_DOC` when the server runs
in a subprocess (`CKPT_BACKEND=tests.server.api.fakes:backend_from_env`).
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.jobs import STAGES, JobEvent, JobOutcome, JobSpec

Result = dict[str, Any]

#: A snippet containing this marker fails as a compile error would.
FAIL_MARKER = "# fake: compile error"


def compile_error(spec: JobSpec) -> Result | None:
    if FAIL_MARKER in spec.source:
        line = spec.source.splitlines().index(FAIL_MARKER) + 1
        return {"error": {"type": "CompileError", "code": "compile_error", "line": line,
                          "message": "torch.compile failed: fake failure"}}
    return None


class FakeBackend:
    """Canned outcomes after `delay_s`; `hold()` keeps every job running until `release()`."""

    def __init__(self, result_for: Callable[[JobSpec], Result], delay_s: float = 0.0) -> None:
        self.result_for = result_for
        self.delay_s = delay_s
        self.submitted: list[JobSpec] = []
        self._started: dict[str, float] = {}
        self._cancelled: set[str] = set()
        self._held = False
        self._lock = threading.Lock()

    def hold(self) -> None:
        self._held = True

    def release(self) -> None:
        with self._lock:
            now = time.time()
            self._started = {k: now - self.delay_s for k in self._started}
        self._held = False

    def submit(self, spec: JobSpec) -> None:
        with self._lock:
            self.submitted.append(spec)
            self._started[spec.job_id] = time.time()

    def _spec(self, job_id: str) -> JobSpec | None:
        return next((s for s in self.submitted if s.job_id == job_id), None)

    def _fraction(self, job_id: str) -> float:
        if self._held:
            return 0.5
        started = self._started.get(job_id)
        if started is None:
            return 0.0
        if self.delay_s <= 0:
            return 1.0
        return min(1.0, (time.time() - started) / self.delay_s)

    def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        if job_id not in self._started:
            return []
        fraction = self._fraction(job_id)
        stages = [s for i, s in enumerate(STAGES[:-1]) if i / (len(STAGES) - 1) <= fraction]
        events = [JobEvent(job_id, s, i / (len(STAGES) - 1), f"fake {s}",
                           self._started[job_id]) for i, s in enumerate(stages)]
        outcome = self.outcome(job_id)
        if outcome is not None:
            final = "done" if outcome.result is not None else "failed"
            events.append(JobEvent(job_id, final, 1.0, "", time.time()))
        return events[after:]

    def outcome(self, job_id: str) -> JobOutcome | None:
        spec = self._spec(job_id)
        if spec is None or job_id in self._cancelled or self._fraction(job_id) < 1.0:
            return None
        out = self.result_for(spec)
        return JobOutcome(job_id, out.get("result"), out.get("error"))

    def cancel(self, job_id: str) -> bool:
        self._cancelled.add(job_id)
        return True

    def subscribe(self, listener: Callable[[str], None]) -> None:
        pass  # outcomes appear with time, not by a write: the service finds them by polling

    def close(self) -> None:
        pass


def documents_backend(documents: dict[str, Result], default: Result,
                      delay_s: float = 0.0) -> FakeBackend:
    """Answers with `documents[source]` (or `default`), relabelled with the job's settings."""

    def result_for(spec: JobSpec) -> Result:
        failed = compile_error(spec)
        if failed is not None:
            return failed
        doc = dict(documents.get(spec.source, default))
        doc["settings"] = dict(spec.settings)
        budgets = spec.options.get("sweep_budgets")
        if budgets is not None:  # a sweep's one job: an analysis per budget, in order
            return {"result": {"analyses": [
                {**doc, "settings": {**spec.settings, "memory_budget": b}} for b in budgets]}}
        return {"result": doc}

    return FakeBackend(result_for, delay_s)


def backend_from_env(_settings: object) -> FakeBackend:
    """For a server in a subprocess: `CKPT_FAKE_DOC` (a .json or .json.gz analysis document)
    and `CKPT_FAKE_DELAY_S`."""
    raw = Path(os.environ["CKPT_FAKE_DOC"]).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return documents_backend({}, json.loads(raw), float(os.environ.get("CKPT_FAKE_DELAY_S", "0")))
