"""The seam between the API and whatever runs analyses: a small protocol and its records.

The API only talks to a `JobBackend`. The real one (server/worker) queues jobs on Huey and runs
each in a sandbox; tests can use an in-process fake, as httpx tests use MockTransport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from ckpt_core.errors import ErrorDoc

#: Stages a job passes through, in order; `progress` in [0, 1] rises with them.
Stage = Literal[
    "queued", "starting", "tracing", "partitioning", "analysing", "storing", "done", "failed",
    "cancelled",
]
STAGES: tuple[Stage, ...] = (
    "queued", "starting", "tracing", "partitioning", "analysing", "storing", "done",
)


class JobOptions(TypedDict, total=False):
    """Extra work a job does; stored with the job and part of its cache key."""

    #: partition at each of these memory budgets after one trace (a sweep's backend job); on a
    #: sweep's stored job, the budgets as asked
    sweep_budgets: list[float]
    #: a sweep's stored job: its analysis job per budget, and their share links
    part_jobs: list[str]
    part_links: list[str]
    #: a sweep's stored job: `[part job id, budget]` of the parts its backend job computes
    carried: list[list[str | float]]
    #: a shorter time limit than the worker's
    timeout_s: float
    #: a policy what-if (`ckpt_core.policy.whatif_job`): the original's settings and the
    #: overrides (`{"selector", "action"}`) applied on its trace
    whatif: WhatIfOptions


class WhatIfOptions(TypedDict):
    """What a what-if job changes: see `JobOptions.whatif`."""

    base_settings: dict[str, Any]
    overrides: list[dict[str, str]]


@dataclass(frozen=True)
class JobSpec:
    """What to analyse: snippet text and validated settings (`Settings.to_dict()`)."""

    job_id: str
    source: str
    settings: dict[str, Any]
    snippet_name: str = "snippet.py"
    #: "cpu" or "cuda": routes the job to a CPU or GPU consumer
    device: str = "cpu"
    #: extra work the job should do (e.g. {"sweep_budgets": [1.0, 0.5]})
    options: JobOptions = field(default_factory=lambda: JobOptions())
    #: the torch version to run it on; None: the default workers' (the server's own)
    torch_version: str | None = None


@dataclass(frozen=True)
class JobEvent:
    """One progress event: `stage`, `progress` in [0, 1], a human `message`, wall time `at`."""

    job_id: str
    stage: Stage
    progress: float
    message: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class JobOutcome:
    """A finished job: exactly one of `result` (the analysis document) or `error`
    (`CkptError.to_dict()`: type, code, message, line)."""

    job_id: str
    result: dict[str, Any] | None = None
    error: ErrorDoc | None = None


class JobBackend(Protocol):
    def submit(self, spec: JobSpec) -> None:
        """Queue a job; returns at once. Never loses it: a crash re-queues or fails it."""

    def events(self, job_id: str, after: int = 0) -> list[JobEvent]:
        """Events of a job from index `after` on (for SSE and polling)."""

    def outcome(self, job_id: str) -> JobOutcome | None:
        """The finished job's outcome, or None while it runs."""

    def cancel(self, job_id: str) -> bool:
        """Stop a queued or running job (kills its sandbox); True if it was stopped."""

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener(job_id)` whenever this process records a new event (the final one
        comes after the outcome) of a job, so readers need not wait for their next poll. A
        backend whose jobs run elsewhere may never call it: readers keep polling too."""

    def close(self) -> None:
        """Stop consumers and release resources."""


def queue_name(device: str, torch_version: str | None = None) -> str:
    """The queue a job waits in: `cpu`/`cuda` for the default workers' torch, `cpu@torch-2.15.0`
    for workers started with `ckpt worker --python` on another torch."""
    base = "cuda" if device.startswith("cuda") else "cpu"
    return base if not torch_version else f"{base}@torch-{torch_version}"


def queue_torch_version(queue: str) -> str | None:
    """The torch version a queue's workers run (None: the default workers')."""
    _, sep, version = queue.partition("@torch-")
    return version if sep else None


@runtime_checkable
class ServesQueues(Protocol):
    """A backend that knows which consumers serve its queues ("cpu", "cuda", and per torch
    version `queue_name(device, version)`): the API refuses
    a job that no consumer could ever run, and `/readyz` lists them."""

    def queue_consumers(self) -> dict[str, list[str]]:
        """Per queue, the names of the consumers seen alive recently."""

    def queue_pending(self) -> dict[str, int]:
        """Per queue, the jobs waiting in it."""


@runtime_checkable
class Forgets(Protocol):
    """A backend that keeps jobs' snippets and results in storage of its own (a queue
    database): the server has it forget them once delivered or deleted."""

    def forget(self, job_id: str) -> None:
        """Remove everything kept about the job (a waiting job never runs)."""

    def purge_finished(self, older_than_s: float) -> int:
        """Forget finished jobs older than that which were never delivered; how many."""
