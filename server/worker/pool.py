"""A small pool of pre-warmed, single-use sandboxes, refilled in the background.

Importing torch costs seconds; a warm sandbox has done it already and waits for one job. One
long-lived thread starts every sandbox of a pool: bubblewrap's --die-with-parent is tied to the
thread that spawned it, so that thread must outlive the sandboxes it started.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time

from ckpt_core.errors import SandboxError

from .process import Sandbox
from .sandbox import SandboxConfig

log = logging.getLogger(__name__)


class SandboxPool:
    """`take()` a warm sandbox (waiting for one if needed); the pool starts its replacement."""

    def __init__(self, config: SandboxConfig, size: int = 1) -> None:
        self.config = config
        self.size = max(1, size)
        self._ready: queue.Queue[Sandbox] = queue.Queue()
        self._wanted = threading.Semaphore(self.size)
        self._closed = threading.Event()
        self.last_error: str | None = None
        self._warming: Sandbox | None = None
        # Jobs running on this pool's sandboxes, and consumers waiting for one: a replacement
        # is warmed while no job runs, or at once when someone waits. Warming imports torch and
        # compiles, which on a small host would slow the job beside it by up to 2x.
        self._cond = threading.Condition()
        self._busy = 0
        self._waiters = 0
        self._thread = threading.Thread(target=self._refill, name="sandbox-pool", daemon=True)
        self._thread.start()

    def _refill(self) -> None:
        backoff = 1.0
        while not self._closed.is_set():
            if not self._wanted.acquire(timeout=0.5):
                continue
            with self._cond:
                self._cond.wait_for(lambda: self._busy == 0 or self._waiters > 0
                                    or self._closed.is_set())
            if self._closed.is_set():
                break
            sandbox: Sandbox | None = None
            try:
                sandbox = self._warming = Sandbox(self.config)
                if self._closed.is_set():
                    raise SandboxError("the pool is closing")
                sandbox.wait_ready()
            except (SandboxError, OSError) as e:
                if sandbox is not None:
                    sandbox.dispose()
                if self._closed.is_set():
                    break
                self.last_error = str(e)
                log.error("could not warm a sandbox: %s", e)
                self._wanted.release()
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            finally:
                self._warming = None
            backoff = 1.0
            self.last_error = None
            self._ready.put(sandbox)
        self._drain()

    def take(self, timeout: float) -> Sandbox:
        """A warm sandbox, counted busy until `release()`; SandboxError if none is ready within
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and not self._closed.is_set():
            try:
                sandbox = self._ready.get_nowait()
            except queue.Empty:
                with self._cond:
                    self._waiters += 1
                    self._cond.notify_all()
                try:
                    sandbox = self._ready.get(timeout=min(left, 0.5))
                except queue.Empty:
                    continue
                finally:
                    with self._cond:
                        self._waiters -= 1
            if sandbox.alive():
                with self._cond:
                    self._busy += 1
                # its replacement is warmed once no job runs: counted busy first, so the
                # refill thread cannot start warming beside this job
                self._wanted.release()
                return sandbox
            self._wanted.release()
            sandbox.dispose()  # it died while waiting (e.g. the host reaped it)
        why = f": {self.last_error}" if self.last_error else ""
        raise SandboxError(f"no sandbox became ready within {timeout:g} s{why}")

    def warm(self) -> int:
        """Sandboxes waiting for a job now."""
        return self._ready.qsize()

    def release(self) -> None:
        """A sandbox taken with `take()` has finished its job."""
        with self._cond:
            self._busy = max(0, self._busy - 1)
            self._cond.notify_all()

    def _drain(self) -> None:
        while True:
            try:
                sandbox = self._ready.get_nowait()
            except queue.Empty:
                return
            sandbox.dispose()

    def close(self) -> None:
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        warming = self._warming
        if warming is not None:
            warming.kill()  # wakes the refill thread; it disposes of the sandbox itself
        with contextlib.suppress(RuntimeError):
            self._thread.join(timeout=self.config.limits.startup_s + 10)
        self._drain()
