"""Following backend jobs: copy their progress and outcome into the store, wake readers.

Every backend job the server started (or found unfinished at start-up) is followed here with
a `Delivery` that says which stored jobs show its progress and where its outcome goes: its own
stored job (`OwnJob`), or several analyses it computes at once (a sweep's `SweepDelivery`, a
what-if's). A background thread syncs a job as soon as the backend reports a change, and every
job each `job_poll_s` (jobs run by other processes report nothing here).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from ckpt_core.errors import ErrorDoc, SandboxError
from server.jobs import Forgets, JobBackend, JobOutcome, JobSpec
from server.store import FINAL_STATUSES, EventRecord, Store

from .changes import ChangeBoard

log = logging.getLogger("ckpt.server")

#: how often finished jobs' records that nobody collected are looked for
PURGE_EVERY_S = 300.0


def sandbox_error(message: str) -> ErrorDoc:
    """The error document of a job the server gave up on."""
    return SandboxError(message).to_dict()


class Delivery(Protocol):
    """Where one backend job's progress and outcome go."""

    @property
    def receivers(self) -> tuple[str, ...]:
        """The stored jobs that show the backend job's progress (and are bumped when it ends)."""

    def finish(self, store: Store, outcome: JobOutcome) -> None:
        """Record the outcome in the store."""

    def abandon(self, store: Store, reason: str) -> None:
        """The backend job was deleted before it ended: fail what it would have finished."""


@dataclass(frozen=True)
class OwnJob:
    """A backend job that computes its own stored job."""

    job_id: str

    @property
    def receivers(self) -> tuple[str, ...]:
        return (self.job_id,)

    def finish(self, store: Store, outcome: JobOutcome) -> None:
        error = outcome.error
        if outcome.result is None and error is None:
            error = sandbox_error("the job ended without a result")
        store.finish_job(self.job_id, result=outcome.result, error=error)

    def abandon(self, store: Store, reason: str) -> None:
        """Nothing to fail: the deleted job was the only one it computed."""


class JobWatcher:
    """Follows backend jobs until they end; `sync` may also be called by readers."""

    def __init__(self, store: Store, backend: JobBackend, changes: ChangeBoard,
                 poll_s: float, retention_s: float = 3600.0) -> None:
        self.store, self.backend, self.changes, self.poll_s = store, backend, changes, poll_s
        self.retention_s = retention_s
        self._next_purge = time.monotonic()
        self._lock = threading.Lock()
        #: backend job id -> (events already recorded, where its progress and outcome go)
        self._followed: dict[str, tuple[int, Delivery]] = {}
        #: jobs the backend says changed since the thread last looked, and the thread's bell
        self._dirty: set[str] = set()
        self._bell = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        backend.subscribe(self._backend_changed)

    def follow(self, job_id: str, delivery: Delivery, seen: int = 0) -> None:
        """Follow a backend job whose first `seen` events are already recorded."""
        with self._lock:
            self._followed[job_id] = (seen, delivery)

    def submit(self, spec: JobSpec, delivery: Delivery) -> None:
        """Queue a backend job and follow it."""
        self.follow(spec.job_id, delivery)
        self.backend.submit(spec)

    def resume(self, spec: JobSpec, delivery: Delivery) -> None:
        """Follow a job a previous server left unfinished; re-queue it if the backend lost it."""
        known = self.backend.events(spec.job_id)
        seen = 0
        if self.backend.outcome(spec.job_id) is None and not known:
            # the backend kept no state across the restart
            self.store.record_progress(spec.job_id, [EventRecord(
                0, "queued", 0.0, "re-queued after a server restart", time.time())])
            self.backend.submit(spec)
        else:  # the backend kept it: skip the events already recorded before the restart
            seen = min(len(known), len(self.store.events(spec.job_id)))
        self.follow(spec.job_id, delivery, seen)

    def abandon(self, job_id: str, reason: str) -> None:
        """Stop following a deleted job; fail what it would have finished."""
        with self._lock:
            followed = self._followed.pop(job_id, None)
        if followed is not None:
            followed[1].abandon(self.store, reason)
            self._bump(followed[1])

    # the thread ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="ckpt-job-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._bell.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _backend_changed(self, job_id: str) -> None:
        # called on a worker thread: hand the job to the watcher, never block the worker here
        with self._lock:
            self._dirty.add(job_id)
        self._bell.set()

    def _watch(self) -> None:
        next_poll = time.monotonic() + self.poll_s
        while not self._stop.is_set():
            self._bell.wait(max(0.0, next_poll - time.monotonic()))
            self._bell.clear()
            with self._lock:
                dirty, self._dirty = self._dirty, set()
                if time.monotonic() >= next_poll:
                    job_ids = list(self._followed)
                    next_poll = time.monotonic() + self.poll_s
                else:
                    job_ids = [j for j in dirty if j in self._followed]
            for job_id in job_ids:
                try:
                    self.sync(job_id)
                except Exception:
                    log.exception("following job %s failed", job_id)
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + PURGE_EVERY_S
                self._purge()

    def _purge(self) -> None:
        if not isinstance(self.backend, Forgets):
            return
        try:
            purged = self.backend.purge_finished(self.retention_s)
        except Exception:
            log.exception("purging finished queue records failed")
            return
        if purged:
            log.info("removed the queue records of %d finished jobs nobody collected", purged)

    def forget(self, job_id: str) -> None:
        """Have the backend drop its copy of a job (its snippet, its result)."""
        if isinstance(self.backend, Forgets):
            try:
                self.backend.forget(job_id)
            except Exception:  # the retention purge removes it later
                log.exception("removing job %s from the queue failed", job_id)

    # syncing ---------------------------------------------------------------------------------

    def sync(self, job_id: str) -> None:
        """Copy a followed job's new progress events and its outcome to the store."""
        with self._lock:
            followed = self._followed.get(job_id)
        if followed is None:
            return
        seen, delivery = followed
        new = self.backend.events(job_id, after=seen)
        if new:
            with self._lock:
                if self._followed.get(job_id, (None,))[0] != seen:
                    return  # another thread recorded these
                self._followed[job_id] = (seen + len(new), delivery)
            progress = [EventRecord(0, e.stage, e.progress, e.message, e.at) for e in new
                        if e.stage not in FINAL_STATUSES]
            for receiver in delivery.receivers:
                self.store.record_progress(receiver, progress)
                self.changes.bump(receiver)
        outcome = self.backend.outcome(job_id)
        if outcome is not None:
            with self._lock:
                if self._followed.pop(job_id, None) is None:
                    return  # another thread delivered it
            delivery.finish(self.store, outcome)
            self._bump(delivery)
            self.forget(job_id)  # the store has it now: the queue's copy goes

    def _bump(self, delivery: Delivery) -> None:
        # the parts first, then the job that carried them (its readers assemble from them)
        for receiver in (*delivery.receivers[1:], delivery.receivers[0]):
            self.changes.bump(receiver)
