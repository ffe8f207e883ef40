"""The job queue on Huey: SqliteHuey embedded by default, RedisHuey by URL; routed by device.

Two queues share one storage: `ckpt-cpu` and `ckpt-cuda`. Messages are JSON, not pickle (a
shared Redis must not be a way to run code on workers). Consumers here are plain threads that
dequeue and hand specs to a `JobRunner`; Huey's own consumer would install signal handlers,
which an embedding server (uvicorn) owns.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from huey import Huey, RedisHuey, SqliteHuey
from huey.registry import Message
from huey.serializer import Serializer
from huey.storage import BaseStorage, RedisStorage, SqliteStorage

from ..diskspace import free_bytes
from ..jobs import JobSpec, queue_name
from .runner import JobRunner
from .state import JobState

log = logging.getLogger(__name__)

TASK_NAME = "ckpt.run_job"
#: how often an idle consumer looks at a queue that does not block (SQLite)
POLL_S = 0.05
#: how often a consumer says it is alive; the server counts it live for `stale_after_s`
BEAT_S = 5.0
DEVICES = ("cpu", "cuda")


class JsonSerializer(Serializer):  # type: ignore[misc]
    """Huey messages as JSON; datetimes tagged, everything else must be plain data."""

    def _serialize(self, data: Any) -> bytes:
        if isinstance(data, Message):
            data = {"__message__": data._asdict()}
        return json.dumps(data, default=_encode).encode()

    def _deserialize(self, data: bytes) -> Any:
        doc = json.loads(data, object_hook=_decode)
        if isinstance(doc, dict) and "__message__" in doc:
            fields = doc["__message__"]
            fields["args"] = tuple(fields.get("args") or ())
            return Message(**fields)
        return doc


def _encode(obj: Any) -> Any:
    if isinstance(obj, datetime.datetime):
        return {"__dt__": obj.isoformat()}
    raise TypeError(f"{type(obj).__name__} cannot cross the queue")


def _decode(doc: dict[str, Any]) -> Any:
    if set(doc) == {"__dt__"}:
        return datetime.datetime.fromisoformat(doc["__dt__"])
    return doc


def _never_run_here(spec: dict[str, Any]) -> None:
    """The registered task: consumers run specs through a JobRunner, not through Huey."""
    raise RuntimeError("ckpt jobs are executed by server.worker consumers")


class SecureSqliteStorage(SqliteStorage):  # type: ignore[misc]
    """Huey's SQLite storage with deleted rows overwritten (a forgotten job's snippet and
    result must not linger in free pages), and a checkpoint that empties the WAL."""

    def _create_connection(self) -> Any:
        conn = super()._create_connection()
        conn.execute("PRAGMA secure_delete=ON")
        return conn

    def checkpoint(self) -> None:
        with self.db() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def drop_task(self, job_id: str) -> int:
        """Remove a waiting job's message (its snippet) from the queue; the count removed."""
        pattern = _job_pattern(job_id)
        with self.db(commit=True) as cursor:
            cursor.execute("DELETE FROM task WHERE queue = ? AND instr(data, ?) > 0",
                           (self.name, pattern))
            return int(cursor.rowcount)


def _job_pattern(job_id: str) -> bytes:
    """The bytes a queued message of `job_id` contains (its spec's `"job_id": "…"` pair)."""
    return json.dumps({"job_id": job_id})[1:-1].encode()


def drop_redis_task(storage: RedisStorage, job_id: str) -> int:
    """Remove a waiting job's message (its snippet) from a Redis queue list; the count removed.
    LREM takes the exact message bytes, so the list is read and each match removed by value."""
    pattern = _job_pattern(job_id)
    removed = 0
    for data in storage.conn.lrange(storage.queue_key, 0, -1):
        if pattern in data:
            removed += int(storage.conn.lrem(storage.queue_key, 0, data))
    return removed


class Queues:
    """The job queues and the job-state storage, over SQLite or Redis: `cpu` and `cuda` for the
    default workers, and one more per (device, torch version) a `ckpt worker --python` serves,
    made when first used."""

    def __init__(self, url: str | None, data_dir: Path) -> None:
        self.url = url or f"sqlite:///{data_dir / 'queue.sqlite3'}"
        parsed = urlparse(self.url)
        self._serializer = JsonSerializer()
        self.by_device: dict[str, Huey] = {}
        self.tasks: dict[str, Any] = {}
        #: set when this process enqueues: its own consumers wake at once instead of at their
        #: next poll of SQLite (jobs from other processes wait for that poll)
        self.wakeups: dict[str, threading.Event] = {}
        self.state_storage: BaseStorage
        self._lock = threading.Lock()
        if parsed.scheme == "sqlite":
            self._sqlite_path: Path | None = Path(parsed.path)
            self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            self.state_storage = SecureSqliteStorage("ckpt-state",
                                                     filename=str(self._sqlite_path))
        elif parsed.scheme in ("redis", "rediss", "unix"):
            self._sqlite_path = None
            self.state_storage = RedisStorage("ckpt-state", url=self.url)
        else:
            raise ValueError(f"unsupported queue URL {self.url!r}: use sqlite:///PATH or "
                             "redis://HOST:PORT/DB")
        for dev in DEVICES:
            self.huey(dev)

    def huey(self, queue: str) -> Huey:
        """The Huey queue named `queue` (see `queue_name`), made on first use."""
        with self._lock:
            found = self.by_device.get(queue)
            if found is not None:
                return found
            if self._sqlite_path is not None:
                huey: Huey = SqliteHuey(f"ckpt-{queue}", filename=str(self._sqlite_path),
                                        results=False, serializer=self._serializer,
                                        storage_class=SecureSqliteStorage)
            else:
                huey = RedisHuey(f"ckpt-{queue}", url=self.url, results=False,
                                 serializer=self._serializer)
            self.by_device[queue] = huey
            self.tasks[queue] = huey.task(name=TASK_NAME)(_never_run_here)
            self.wakeups[queue] = threading.Event()
            return huey

    def enqueue(self, spec: JobSpec) -> None:
        queue = queue_name(spec.device, spec.torch_version)
        huey = self.huey(queue)
        huey.enqueue(self.tasks[queue].s(asdict(spec)))
        self.wakeups[queue].set()

    def drop_pending(self, job_id: str) -> None:
        """Take a job that no worker has started off its queue, SQLite or Redis: its message
        holds the snippet, which must not outlive a delete."""
        for huey in list(self.by_device.values()):
            if isinstance(huey.storage, SecureSqliteStorage):
                huey.storage.drop_task(job_id)
            elif isinstance(huey.storage, RedisStorage):
                drop_redis_task(huey.storage, job_id)

    def disk_free_bytes(self) -> int | None:
        """Free bytes where the SQLite queue lives (None for Redis)."""
        if not isinstance(self.state_storage, SecureSqliteStorage):
            return None
        found = free_bytes(Path(self.state_storage.filename))
        return None if found is None else found[0]

    def checkpoint(self) -> None:
        """Empty SQLite's write-ahead log after a removal (nothing to do for Redis)."""
        if isinstance(self.state_storage, SecureSqliteStorage):
            self.state_storage.checkpoint()

    def pending(self, queue: str) -> int:
        return int(self.huey(queue).pending_count())

    def pending_job_ids(self) -> set[str]:
        """Ids of the jobs still waiting in any queue."""
        ids: set[str] = set()
        for huey in list(self.by_device.values()):
            for task in huey.pending():
                if task.args and isinstance(task.args[0], dict):
                    ids.add(str(task.args[0].get("job_id")))
        return ids


class Consumer:
    """`workers` threads taking jobs from one device's queue, each with its own runner, and
    one that tells the job state every `BEAT_S` that this consumer serves `queue` (the server
    refuses jobs no consumer serves)."""

    def __init__(self, huey: Huey, runners: list[JobRunner], name: str,
                 wakeup: threading.Event | None = None, *, queue: str = "cpu",
                 state: JobState | None = None) -> None:
        self.huey = huey
        self.runners = runners
        self.name = name
        self.queue = queue
        self.state = state
        #: unique across hosts, without saying which host (it is shown in /readyz)
        self.registered_as = f"{name}#{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wakeup = wakeup or threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(r,), daemon=True,
                                          name=f"{name}-{i}") for i, r in enumerate(runners)]
        if state is not None:
            self._threads.append(threading.Thread(target=self._beat, daemon=True,
                                                  name=f"{name}-beat"))

    def start(self) -> None:
        if self.state is not None:
            self.state.consumer_seen(self.queue, self.registered_as)  # before the first job
        for t in self._threads:
            t.start()

    def _beat(self) -> None:
        assert self.state is not None
        while not self._stop.wait(BEAT_S):
            try:
                self.state.consumer_seen(self.queue, self.registered_as)
            except Exception:
                log.exception("%s: could not record that it is alive", self.name)

    def _loop(self, runner: JobRunner) -> None:
        while not self._stop.is_set():
            try:
                task = self.huey.dequeue()
            except Exception:
                log.exception("%s: dequeue failed", self.name)
                self._stop.wait(1.0)
                continue
            if task is None:
                # SQLite does not block (Redis already waited 1 s): sleep until this process
                # enqueues a job, or the next poll for jobs other processes enqueued
                self._wakeup.wait(POLL_S)
                self._wakeup.clear()
                continue
            if task.name != TASK_NAME or not task.args:
                log.error("%s: dropped unexpected task %s", self.name, task.name)
                continue
            try:
                runner.execute(dict(task.args[0]))
            except Exception:  # e.g. the job state's disk is full: keep consuming
                log.exception("%s: a job could not be run or recorded", self.name)

    def stop(self) -> None:
        self._stop.set()
        self._wakeup.set()
        if self.state is not None:
            try:
                self.state.consumer_gone(self.queue, self.registered_as)
            except Exception:
                log.exception("%s: could not record that it stopped", self.name)
        for r in self.runners:
            r.stop()
        for t in self._threads:
            t.join(timeout=15)
