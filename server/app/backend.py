"""Chooses the job backend `ckpt serve` runs with: the sandboxed worker when it is installed."""

from __future__ import annotations

import importlib
import logging
from typing import Any, cast

from ckpt_core.errors import SandboxError
from server.jobs import JobBackend

from .local_backend import LocalBackend
from .settings import ServerSettings

log = logging.getLogger("ckpt.server")


def make_backend(settings: ServerSettings) -> JobBackend:
    """`auto` / `worker`: `server.worker.make_backend` (its embedded Huey consumer and sandbox
    pool, or a Redis queue served by `ckpt worker` hosts); `local`: the trusted local backend
    (no sandbox: only ever when asked for); any other value is `module:factory`, called as
    `factory(settings)` (tests use this seam)."""
    choice = settings.backend
    if choice in ("auto", "worker"):
        try:
            worker: Any = importlib.import_module("server.worker")
        except ImportError as e:
            # never run snippets unsandboxed unless asked to: that is CKPT_BACKEND=local
            raise RuntimeError(f"the sandboxed worker is not available ({e}); reinstall with "
                               "scripts/setup, or set CKPT_BACKEND=local to run analyses "
                               "without a sandbox (trusted snippets only)") from e
        return _worker_backend(worker, settings)
    if choice == "local":
        log.warning("CKPT_BACKEND=local: analyses run WITHOUT a sandbox, as the server's user; "
                    "only for snippets you trust")
        return LocalBackend(pool_size=settings.pool_size,
                            queue_deadline_s=settings.queue_deadline_s)
    module_name, _, attr = choice.partition(":")
    if not attr:
        raise ValueError(f"CKPT_BACKEND={choice!r}: expected auto, worker, local or module:factory")
    module: Any = importlib.import_module(module_name)
    return cast(JobBackend, getattr(module, attr)(settings))


def _worker_backend(worker: Any, settings: ServerSettings) -> JobBackend:
    queue_url = settings.queue_url or None
    gpus = tuple(range(settings.gpus))
    trusted = settings.trusted_local
    backend = worker.make_backend(queue_url, settings.data_dir, trusted_local=trusted,
                                  queue_deadline_s=settings.queue_deadline_s)
    if queue_url and queue_url.startswith(("redis://", "rediss://")):
        return cast(JobBackend, backend)  # `ckpt worker` hosts consume the shared queue
    try:
        backend.start_embedded_consumer(cpu_workers=settings.pool_size, gpus=gpus)
    except SandboxError as e:
        # never fall back to running snippets unsandboxed on our own: that takes CKPT_TRUSTED_LOCAL
        backend.close()
        raise RuntimeError(f"{e.message}\n(CKPT_TRUSTED_LOCAL=1 runs analyses without a "
                           "sandbox: only for snippets you trust)") from e
    return cast(JobBackend, backend)
