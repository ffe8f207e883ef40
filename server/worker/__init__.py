"""Runs analyses for the server: a Huey job queue and pre-warmed, single-use sandboxes.

    make_backend(queue_url, data_dir, ...) -> WorkerBackend      a `server.jobs.JobBackend`
        .start_embedded_consumer(cpu_workers=1, gpus=())          run jobs in this process
        .close()                                                  stop consumers, kill sandboxes
    SandboxLimits                                                 resource caps per sandbox
    SandboxUnavailableError                                       this host cannot sandbox
"""

from __future__ import annotations

from .backend import WorkerBackend, make_backend
from .sandbox import SandboxLimits, SandboxUnavailableError

__all__ = ["SandboxLimits", "SandboxUnavailableError", "WorkerBackend", "make_backend"]
