"""Per-job change counters that request handlers can await, bumped from any thread.

The job watcher records a job's progress in the store and then bumps the job here; an SSE stream
that waits on the job wakes at once instead of at its next poll. A reader takes `version()`
*before* it reads the store and passes it to `wait()`: a bump in between makes `wait()` return
at once, so no change is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class ChangeBoard:
    """`keep`: counters kept for this many recently changed jobs. A job forgotten while a reader
    waits on it (only after `keep` other jobs changed) costs that reader one poll interval."""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}  # insertion order = least recently changed first
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}

    def version(self, job_id: str) -> int:
        with self._lock:
            return self._versions.get(job_id, 0)

    def bump(self, job_id: str) -> None:
        """The job changed: wake its waiters."""
        with self._lock:
            self._versions[job_id] = self._versions.pop(job_id, 0) + 1
            if len(self._versions) > self.keep:  # the least recently changed job's counter
                del self._versions[next(iter(self._versions))]
            waiters = self._waiters.pop(job_id, set())
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):  # that reader's event loop has closed
                loop.call_soon_threadsafe(_resolve, fut)

    async def wait(self, job_id: str, seen: int, timeout: float) -> bool:
        """Until the job changes after `seen` (a `version()`), or `timeout` seconds; True if it
        changed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        entry = (loop, fut)
        with self._lock:
            if self._versions.get(job_id, 0) != seen:
                return True
            self._waiters.setdefault(job_id, set()).add(entry)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                waiting = self._waiters.get(job_id)
                if waiting is not None:
                    waiting.discard(entry)
                    if not waiting:
                        del self._waiters[job_id]


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
