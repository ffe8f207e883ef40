"""Submitting a snippet: check it, answer from the result cache or record (and queue) a job.

The cache key is a content hash of everything that determines a result (source, settings,
torch version, device, job kind and options); an identical submission gets the existing job
under a new share link, so strangers' links are never linked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from ckpt_core import Settings
from ckpt_core.source import check_source
from server.diskspace import MESSAGE as DISK_FULL
from server.diskspace import free_bytes, is_disk_full
from server.jobs import JobOptions, JobSpec, ServesQueues, queue_name, queue_torch_version
from server.store import JobKind, JobRecord, Store

from .errors import ApiError
from .settings import ServerSettings, torch_version
from .watching import JobWatcher, OwnJob, sandbox_error

log = logging.getLogger("ckpt.server")


@dataclass(frozen=True)
class Submission:
    """A submission's answer: the new share link, its owner token, the job behind it."""

    share_id: str
    owner_token: str
    job: JobRecord
    cached: bool


def worker_device(execution: str, device: str) -> str:
    """The queue a job waits in: a fake-tensor analysis runs on any CPU worker, whatever
    device it analyses for."""
    return "cpu" if execution == "fake" else device


def job_spec(job: JobRecord, options: JobOptions | None = None) -> JobSpec:
    """The backend job that computes a stored job (with other `options` if given). A fake job
    runs on a CPU worker for the device this server resolved (`auto` would otherwise resolve
    on that worker, to its CPU). A job for another torch than the server's goes to that
    version's workers (`ckpt worker --python`)."""
    execution = str(job.settings.get("execution", "real"))
    settings = {**job.settings, "device": job.device} if execution == "fake" else job.settings
    other = job.torch_version if job.torch_version not in (None, "", torch_version()) else None
    return JobSpec(job_id=job.id, source=job.source, settings=settings,
                   snippet_name=job.snippet_name, device=worker_device(execution, job.device),
                   options=job.options if options is None else options, torch_version=other)


class Submissions:
    """The submission use case over the store and the job watcher."""

    def __init__(self, settings: ServerSettings, store: Store, watcher: JobWatcher,
                 torch_version: str) -> None:
        self.settings, self.store, self.watcher = settings, store, watcher
        self.torch_version = torch_version
        self._lock = threading.Lock()

    def _unqueued(self, job: JobRecord, cause: Exception) -> None:
        why = "the disk is full" if is_disk_full(cause) else type(cause).__name__
        try:
            self.store.finish_job(job.id, result=None, error=sandbox_error(
                f"the job could not be queued ({why}); submit it again"))
        except Exception:
            log.exception("could not record that job %s was not queued", job.id)

    def check_space(self) -> None:
        """Refuse (507) new work while the data directory's disk is (nearly) full: the job,
        its events and its document could not be stored."""
        space = free_bytes(self.settings.data_dir)
        if space is not None and space[0] < self.settings.min_free_bytes:
            raise ApiError(507, "disk_full", f"{DISK_FULL} (under "
                           f"{self.settings.min_free_bytes >> 20} MiB free)",
                           headers={"Retry-After": "60"})

    def check_served(self, device: str, torch: str | None = None) -> None:
        """Refuse (503) a job that no consumer serves: it would wait in its queue forever.
        `torch`: another torch version than the server's (its own workers' queue)."""
        backend = self.watcher.backend
        if not isinstance(backend, ServesQueues):
            if torch is not None:
                raise ApiError(400, "unknown_torch_version",
                               f"torch_version: {torch!r} is not served here; this server runs "
                               f"analyses on torch {self.torch_version} only")
            return
        queue = queue_name(device, torch)
        served = backend.queue_consumers()
        if served.get(queue):
            return
        if torch is not None:
            offered = ", ".join(self.torch_versions()) or self.torch_version
            raise ApiError(400, "unknown_torch_version",
                           f"torch_version: no {queue.split('@')[0]} worker runs torch {torch}; "
                           f"installed: {offered} (start one with `ckpt worker --python "
                           "PATH/TO/VENV/bin/python`)")
        live = [f"{q} ({len(c)} worker{'s' if len(c) != 1 else ''})"
                for q, c in served.items() if c]
        hint = ("set settings.device to \"cpu\" or \"auto\", or start a GPU worker "
                "(`ckpt worker --gpus 0`)" if queue == "cuda" else
                "start a worker (`ckpt worker`) or wait for one to come back")
        raise ApiError(503, "no_worker",
                       f"no worker serves the {queue} queue, so this analysis could never run; "
                       f"queues with workers: {', '.join(live) or 'none'}; {hint}",
                       headers={"Retry-After": "30"})

    def torch_versions(self) -> list[str]:
        """The torch versions analyses can run on: the server's own, then those of the live
        `ckpt worker --python` workers."""
        out = [self.torch_version]
        backend = self.watcher.backend
        if isinstance(backend, ServesQueues):
            for queue, names in sorted(backend.queue_consumers().items()):
                version = queue_torch_version(queue)
                if names and version and version not in out:
                    out.append(version)
        return out

    def resolve_device(self, settings: Settings) -> str:
        return self.settings.device if settings.device == "auto" else settings.device

    def cache_key(self, source: str, settings: Settings, device: str, kind: str,
                  options: JobOptions, torch: str | None = None) -> str:
        """Content hash of everything that determines a result; never leaves the server."""
        canonical = {**settings.to_dict(), "device": device}
        blob = json.dumps({"source": source, "settings": canonical,
                           "torch": torch or self.torch_version,
                           "device": device, "kind": kind, "options": options},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def submit(self, source: str, settings_in: dict[str, Any] | None, name: str, *,
               kind: JobKind = "analysis", options: JobOptions | None = None,
               link: bool = True, queue: bool = True,
               torch_version: str | None = None) -> Submission:
        """Check the snippet and settings, then answer from the cache or record a job; a new
        analysis job is queued unless `queue=False` (another backend job will compute it).
        `torch_version`: run it on another installed torch (None or the server's own: the
        default workers)."""
        size_bytes = len(source.encode("utf-8", "surrogatepass"))
        if size_bytes > self.settings.max_snippet_bytes:
            raise ApiError(413, "too_large", f"source: the snippet is {size_bytes} bytes; the "
                           f"limit is {self.settings.max_snippet_bytes // 1024} KiB")
        settings = Settings.from_dict(settings_in)
        check_source(source, name)
        device = self.resolve_device(settings)
        options = JobOptions(**(options or {}))
        other = torch_version if torch_version not in (None, "", self.torch_version) else None
        key = self.cache_key(source, settings, device, kind, options, other)
        with self._lock:
            job = self.store.cached_job(key)
            cached = job is not None
            if job is None:
                self.check_served(worker_device(settings.execution, device), other)
                job = self.store.create_job(
                    kind=kind, cache_key=key, source=source, snippet_name=name,
                    settings=settings.to_dict(), options=options, device=device,
                    torch_version=other or self.torch_version)
            share_id, token = self.store.create_link(job.id, name) if link else ("", "")
        if not cached and kind == "analysis" and queue:
            try:
                self.watcher.submit(job_spec(job), OwnJob(job.id))
            except Exception as e:
                # never leave a stored job "queued" that no queue holds: it would wait forever
                self._unqueued(job, e)
                raise
        return Submission(share_id, token, job, cached)
