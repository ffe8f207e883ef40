"""Chooses the job backend `ckpt serve` runs with: the sandboxed worker when it is installed."""

from __future__ import annotations

import importlib
import logging
from typing import Any, cast

from server.jobs import JobBackend

from .local_backend import LocalBackend
from .settings import ServerSettings

log = logging.getLogger("ckpt.server")


def make_backend(settings: ServerSettings) -> JobBackend:
    """`auto`: `server.worker.make_backend` (embedded queue consumer + sandbox pool) when that
    module imports, else the trusted local backend; `worker` / `local` force one; any other
    value is `module:factory`, called as `factory(settings)` (tests use this seam)."""
    choice = settings.backend
    if choice in ("auto", "worker"):
        try:
            worker: Any = importlib.import_module("server.worker")
            factory = worker.make_backend
        except (ImportError, AttributeError) as e:
            if choice == "worker":
                raise RuntimeError(f"the sandboxed worker is not available: {e}") from e
            log.warning("sandboxed worker not available (%s); running analyses in trusted "
                        "local processes without a sandbox", e)
        else:
            return cast(JobBackend, factory(settings.queue_url, settings.data_dir,
                                            pool_size=settings.pool_size))
    if choice in ("auto", "local"):
        return LocalBackend(pool_size=settings.pool_size)
    module_name, _, attr = choice.partition(":")
    if not attr:
        raise ValueError(f"CKPT_BACKEND={choice!r}: expected auto, worker, local or module:factory")
    module: Any = importlib.import_module(module_name)
    return cast(JobBackend, getattr(module, attr)(settings))
