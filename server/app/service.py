"""The API's use cases, composed: one object the routes depend on (`deps.Service`).

Each job lives in its own module; this one only wires them and starts/stops the watcher:
- `submission.Submissions`: check a snippet, answer from the result cache or queue a job;
- `watching.JobWatcher`: follow backend jobs, copy progress and outcomes to the store
  (each with a `Delivery`: its own job, or a sweep's parts);
- `sweeps.Sweeps`: a budget sweep's life (submit, deliver, assemble, resume);
- `reading.Reader`: share id → job → document, from memory when possible;
- `whatifs.WhatIfs`: a policy what-if on a stored analysis, as a new analysis job;
- `owners.OwnerActions`: delete a link, regenerate it;
- `caches.ViewCache`: everything kept in memory, with named methods.
"""

from __future__ import annotations

from typing import Any

from server.jobs import JobBackend
from server.store import JobRecord, Store

from .caches import ViewCache
from .changes import ChangeBoard
from .owners import OwnerActions
from .reading import Reader
from .settings import ServerSettings, torch_version
from .submission import Submission, Submissions, job_spec
from .sweeps import Sweeps
from .watching import JobWatcher, OwnJob
from .whatifs import WhatIfs, WhatIfSubmission

__all__ = ["AnalysisService", "Submission"]


class AnalysisService:
    """The API's use cases over a `Store` and a `JobBackend`."""

    def __init__(self, settings: ServerSettings, store: Store, backend: JobBackend) -> None:
        self.settings, self.store, self.backend = settings, store, backend
        self.torch_version = torch_version()
        #: bumped after a job's progress reaches the store: SSE streams wait on it
        self.changes = ChangeBoard()
        self.cache = ViewCache()
        self.watcher = JobWatcher(store, backend, self.changes, settings.job_poll_s,
                                  settings.queue_retention_s)
        self.submissions = Submissions(settings, store, self.watcher, self.torch_version)
        self.reader = Reader(store, self.watcher, self.cache)
        self.sweeps = Sweeps(store, self.submissions, self.watcher, self.reader)
        self.whatifs = WhatIfs(self.submissions, self.reader)
        self.owners = OwnerActions(store, backend, self.watcher, self.cache, self.reader)

    def start(self) -> None:
        """Pick up jobs a previous server left unfinished, then follow jobs in the background."""
        unfinished = self.store.unfinished_jobs()
        # a sweep's backend job computes the analyses it carries: follow it, not them
        carried = self.sweeps.resume(unfinished)
        for job in unfinished:
            if job.kind == "analysis" and job.id not in carried:
                self.watcher.resume(job_spec(job), OwnJob(job.id))
        self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()

    # the routes' vocabulary, delegated -------------------------------------------------------

    def submit(self, source: str, settings_in: dict[str, Any] | None, name: str,
               torch_version: str | None = None) -> Submission:
        return self.submissions.submit(source, settings_in, name, torch_version=torch_version)

    def whatif(self, base_id: str, overrides: list[dict[str, Any]],
               settings_in: dict[str, Any] | None) -> WhatIfSubmission:
        return self.whatifs.submit(base_id, overrides, settings_in)

    def sync(self, job_id: str) -> None:
        self.watcher.sync(job_id)

    def lookup(self, share_id: str, what: str = "analysis") -> tuple[str, JobRecord]:
        return self.reader.lookup(share_id, what)

    def job(self, share_id: str, what: str = "analysis") -> JobRecord:
        return self.reader.job(share_id, what)

    def finished_job(self, share_id: str, what: str = "analysis") -> JobRecord | None:
        return self.reader.finished_job(share_id, what)

    def document_bytes(self, job: JobRecord) -> bytes:
        return self.reader.document_bytes(job)

    def document(self, job: JobRecord) -> dict[str, Any]:
        return self.reader.document(job)

    def delete(self, share_id: str, owner_token: str | None, what: str = "analysis") -> None:
        self.owners.delete(share_id, owner_token, what)

    def relink(self, share_id: str, owner_token: str | None) -> str:
        return self.owners.relink(share_id, owner_token)
