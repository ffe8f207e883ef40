"""Job state shared by the server and the workers, kept in the queue's own storage (SQLite/Redis).

Per job: append-only events, a claim (who runs it, or "cancelled" when cancel won the race), a
cancel request, a heartbeat and the outcome. Values are JSON; writes that may race use the
storage's atomic put-if-empty, so a job has exactly one owner and exactly one outcome.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from huey.constants import EmptyData
from huey.storage import BaseStorage

from ckpt_core.errors import ErrorDoc

from ..jobs import JobEvent, JobOutcome, Stage

#: progress shown for each stage
PROGRESS: dict[str, float] = {
    "queued": 0.0, "starting": 0.1, "tracing": 0.25, "partitioning": 0.5, "analysing": 0.8,
    "storing": 0.95, "done": 1.0, "failed": 1.0, "cancelled": 1.0,
}
CANCELLED_CLAIM = "cancelled"
#: a consumer not seen for this long is dropped from its queue's list
CONSUMER_FORGET_S = 3600.0
#: the names of the queues consumers have served (so the server finds per-version queues)
_QUEUES_KEY = "ckpt:queues"

log = logging.getLogger(__name__)


class JobState:
    """Typed access to one storage's job keys."""

    def __init__(self, storage: BaseStorage) -> None:
        self.storage = storage
        #: where this process appends next, per job it writes to (a hint; put-if-empty decides)
        self._next_event: dict[str, int] = {}
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener(job_id)` after this process records an event or outcome of a job.
        Writes made by other processes (remote workers) are not seen here: readers poll."""
        self._listeners.append(listener)

    def _changed(self, job_id: str) -> None:
        for listener in self._listeners:
            try:
                listener(job_id)
            except Exception:  # a reader's bug must not fail the job that is being recorded
                log.exception("job-change listener failed for %s", job_id)

    @staticmethod
    def _key(job_id: str, what: str) -> str:
        return f"ckpt:{job_id}:{what}"

    def _get(self, key: str) -> Any:
        raw = self.storage.peek_data(key)
        if raw is EmptyData:
            return None
        return json.loads(raw)

    def _put_if_empty(self, key: str, value: Any) -> bool:
        return bool(self.storage.put_if_empty(key, json.dumps(value).encode()))

    # -- events -------------------------------------------------------------------------------

    def append_event(self, job_id: str, stage: Stage, message: str = "") -> None:
        doc = {"stage": stage, "progress": PROGRESS.get(stage, 0.0), "message": message,
               "at": time.time()}
        i = self._next_event.get(job_id, 0)
        while not self._put_if_empty(self._key(job_id, f"ev:{i}"), doc):
            i += 1  # an earlier event, or someone appended meanwhile (cancel, stale job)
        self._next_event[job_id] = i + 1
        if stage in ("done", "failed", "cancelled"):
            self._next_event.pop(job_id, None)
        self._changed(job_id)

    def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        out: list[JobEvent] = []
        i = max(0, after)
        while (doc := self._get(self._key(job_id, f"ev:{i}"))) is not None:
            out.append(JobEvent(job_id, doc["stage"], float(doc["progress"]),
                                str(doc.get("message", "")), float(doc.get("at", 0.0))))
            i += 1
        return out

    # -- ownership ------------------------------------------------------------------------------

    def claim(self, job_id: str, owner: str) -> bool:
        """Take the job for `owner`; False when a worker or a cancel took it first."""
        return self._put_if_empty(self._key(job_id, "claim"), owner)

    def claimed_by(self, job_id: str) -> str | None:
        value = self._get(self._key(job_id, "claim"))
        return None if value is None else str(value)

    def request_cancel(self, job_id: str) -> None:
        self.storage.put_data(self._key(job_id, "cancel"), b"true")

    def cancel_requested(self, job_id: str) -> bool:
        return self._get(self._key(job_id, "cancel")) is True

    def heartbeat(self, job_id: str) -> None:
        self.storage.put_data(self._key(job_id, "hb"), json.dumps(time.time()).encode())

    def last_heartbeat(self, job_id: str) -> float | None:
        value = self._get(self._key(job_id, "hb"))
        return None if value is None else float(value)

    # -- removal ------------------------------------------------------------------------------

    def forget(self, job_id: str) -> None:
        """Remove what is kept about a job (events, heartbeat, cancel request, outcome) once
        the server has it, or the job was deleted. The claim stays (tens of bytes, no user
        data): a worker that still finds the job on a queue must not run it."""
        self.claim(job_id, CANCELLED_CLAIM)  # no-op when a worker or a cancel has it
        for what in ("out", "hb", "cancel"):
            self.storage.delete_data(self._key(job_id, what))
        i, misses = 0, 0
        while misses < 16:  # a late writer (a cancelled run) may leave events after a gap
            misses = 0 if self.storage.delete_data(self._key(job_id, f"ev:{i}")) else misses + 1
            i += 1
        self._next_event.pop(job_id, None)

    def finished_before(self, cutoff_s: float) -> list[str]:
        """Jobs with an outcome whose last event is older than `cutoff_s` (a wall time)."""
        items = self.storage.result_items()
        out: list[str] = []
        for key in items:
            name = key.decode() if isinstance(key, bytes) else str(key)
            if not (name.startswith("ckpt:") and name.endswith(":out")):
                continue
            job_id = name[5:-4]
            events = self.events(job_id)
            if not events or events[-1].at < cutoff_s:
                out.append(job_id)
        return out

    # -- consumers ----------------------------------------------------------------------------

    def consumer_seen(self, queue: str, name: str) -> None:
        """Record that consumer `name` serves `queue` now (a read-modify-write of one small
        key per queue: a racing writer may drop an entry until its next beat)."""
        key = self._consumers_key(queue)
        now = time.time()
        seen = {n: t for n, t in (self._get(key) or {}).items()
                if now - float(t) < CONSUMER_FORGET_S}
        seen[name] = now
        self.storage.put_data(key, json.dumps(seen).encode())
        queues = list(self._get(_QUEUES_KEY) or [])
        if queue not in queues:  # rare: a queue's first consumer
            self.storage.put_data(_QUEUES_KEY, json.dumps(sorted([*queues, queue])).encode())

    def known_queues(self) -> list[str]:
        """Every queue a consumer has ever served (per-torch-version queues included)."""
        return list(self._get(_QUEUES_KEY) or [])

    def consumer_gone(self, queue: str, name: str) -> None:
        key = self._consumers_key(queue)
        seen = dict(self._get(key) or {})
        if seen.pop(name, None) is not None:
            self.storage.put_data(key, json.dumps(seen).encode())

    def consumers(self, queue: str, within_s: float) -> list[str]:
        """Names of the consumers of `queue` seen in the last `within_s` seconds."""
        now = time.time()
        return sorted(n for n, t in (self._get(self._consumers_key(queue)) or {}).items()
                      if now - float(t) <= within_s)

    @staticmethod
    def _consumers_key(queue: str) -> str:
        return f"ckpt:consumers:{queue}"

    # -- outcome ------------------------------------------------------------------------------

    def put_outcome(self, job_id: str, result: dict[str, Any] | None = None,
                    error: ErrorDoc | None = None) -> bool:
        """Record the one outcome; False if the job already had one."""
        return self._put_if_empty(self._key(job_id, "out"), {"result": result, "error": error})

    def has_outcome(self, job_id: str) -> bool:
        """Whether the job has finished, without parsing its (possibly large) outcome."""
        return self.storage.peek_data(self._key(job_id, "out")) is not EmptyData

    def outcome(self, job_id: str) -> JobOutcome | None:
        doc = self._get(self._key(job_id, "out"))
        if doc is None:
            return None
        return JobOutcome(job_id, result=doc.get("result"), error=doc.get("error"))

    def finish(self, job_id: str, stage: Stage, *, result: dict[str, Any] | None = None,
               error: ErrorDoc | None = None, message: str = "") -> bool:
        """Outcome then its final event, unless another party finished the job first."""
        if not self.put_outcome(job_id, result, error):
            return False
        self.append_event(job_id, stage, message)
        return True
