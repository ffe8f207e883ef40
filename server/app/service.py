"""Submitting analyses and following their jobs: the result cache, share links, job progress."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ckpt_core import Settings
from ckpt_core.source import check_source
from server.jobs import JobBackend, JobSpec
from server.store import FINAL_STATUSES, EventRecord, JobRecord, Store, hash_token

from .changes import ChangeBoard
from .errors import ApiError, not_found
from .settings import ServerSettings, torch_version

log = logging.getLogger("ckpt.server")


@dataclass(frozen=True)
class Submission:
    share_id: str
    owner_token: str
    job: JobRecord
    cached: bool


def carried_of(job: JobRecord) -> list[tuple[str, float]]:
    """The (analysis job id, budget) pairs a sweep job computes itself."""
    return [(str(p), float(b)) for p, b in job.options.get("carried") or []]


def _sandbox_error(message: str) -> dict[str, Any]:
    return {"type": "SandboxError", "code": "sandbox_error", "line": None, "message": message}


def _named(raw: bytes, snippet_name: str) -> bytes:
    """A stored document under the name this link's submitter gave the snippet: a cached
    answer was computed under its first submitter's name, which is theirs alone."""
    if b'"snippet_name":' + json.dumps(snippet_name).encode() in raw:
        return raw
    doc = json.loads(raw)
    if not isinstance(doc, dict) or "snippet_name" not in doc:
        return raw
    doc["snippet_name"] = snippet_name
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def settle_heap() -> None:
    """Exempt what is alive now (a parsed document is ~10⁵ objects, acyclic) from the cyclic
    garbage collector's full passes, which otherwise stall every request for tens of ms."""
    gc.collect()
    gc.freeze()


class _LRU:
    """A small bounded map of recently used values (documents, serialised graphs)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, pred: Any) -> None:
        with self._lock:
            for key in [k for k in self._items if pred(k)]:
                del self._items[key]


class AnalysisService:
    """The API's use cases over a `Store` and a `JobBackend`."""

    def __init__(self, settings: ServerSettings, store: Store, backend: JobBackend) -> None:
        self.settings, self.store, self.backend = settings, store, backend
        self.torch_version = torch_version()
        self._submit_lock = threading.Lock()
        self._active: dict[str, int] = {}  # job id -> backend events already recorded
        #: sweep job id -> [(analysis job id, budget)] its one backend job computes
        self._carried: dict[str, list[tuple[str, float]]] = {}
        self._active_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        #: jobs the backend says changed since the watcher last looked, and the watcher's bell
        self._dirty: set[str] = set()
        self._bell = threading.Event()
        #: bumped after a job's progress reaches the store: SSE streams wait on it
        self.changes = ChangeBoard()
        backend.subscribe(self._backend_changed)
        self.documents = _LRU(8)
        self.views = _LRU(256)
        #: finished jobs by share id: they no longer change, so reads skip the database
        self.finished = _LRU(4096)

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Pick up jobs a previous server left unfinished, then follow jobs in the background."""
        unfinished = self.store.unfinished_jobs()
        # a sweep's backend job computes the analyses it carries: follow it, not them
        carried_parts: set[str] = set()
        for job in unfinished:
            pairs = carried_of(job)
            if job.kind == "sweep" and pairs:
                with self._active_lock:
                    self._carried[job.id] = pairs
                carried_parts.update(part for part, _ in pairs)
                self._resume(job, self._carrier_spec(job, pairs))
        for job in unfinished:
            if job.kind == "analysis" and job.id not in carried_parts:
                self._resume(job, self._spec(job))
        self._watcher = threading.Thread(target=self._watch, name="ckpt-job-watcher",
                                         daemon=True)
        self._watcher.start()

    def _resume(self, job: JobRecord, spec: JobSpec) -> None:
        known = self.backend.events(job.id)
        seen = 0
        if self.backend.outcome(job.id) is None and not known:
            # the backend does not know it (it kept no state across the restart): re-queue
            self.store.record_progress(job.id, [EventRecord(
                0, "queued", 0.0, "re-queued after a server restart", time.time())])
            self.backend.submit(spec)
        else:  # the backend kept it: skip the events already recorded before the restart
            seen = min(len(known), len(self.store.events(job.id)))
        with self._active_lock:
            self._active[job.id] = seen

    def stop(self) -> None:
        self._stop.set()
        self._bell.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    def _backend_changed(self, job_id: str) -> None:
        # called on a worker thread: hand the job to the watcher, never block the worker here
        with self._active_lock:
            self._dirty.add(job_id)
        self._bell.set()

    def _watch(self) -> None:
        """Sync jobs the backend reports changed at once, and every active job each
        `job_poll_s` (jobs run by other processes report nothing here)."""
        poll_s = self.settings.job_poll_s
        next_poll = time.monotonic() + poll_s
        while not self._stop.is_set():
            self._bell.wait(max(0.0, next_poll - time.monotonic()))
            self._bell.clear()
            with self._active_lock:
                dirty, self._dirty = self._dirty, set()
                if time.monotonic() >= next_poll:
                    job_ids = list(self._active)
                    next_poll = time.monotonic() + poll_s
                else:
                    job_ids = [j for j in dirty if j in self._active]
            for job_id in job_ids:
                try:
                    self.sync(job_id)
                except Exception:
                    log.exception("following job %s failed", job_id)

    def sync(self, job_id: str) -> None:
        """Copy a job's new progress events and its outcome from the backend to the store."""
        with self._active_lock:
            seen = self._active.get(job_id)
            carried = self._carried.get(job_id)
        if seen is None:
            return
        new = self.backend.events(job_id, after=seen)
        if new:
            with self._active_lock:
                if self._active.get(job_id) != seen:
                    return  # another thread recorded these
                self._active[job_id] = seen + len(new)
            progress = [EventRecord(0, e.stage, e.progress, e.message, e.at) for e in new
                        if e.stage not in FINAL_STATUSES]
            for target in [job_id, *(part for part, _ in carried or ())]:
                self.store.record_progress(target, progress)
                self.changes.bump(target)
        outcome = self.backend.outcome(job_id)
        if outcome is not None:
            with self._active_lock:
                if self._active.pop(job_id, None) is None:
                    return
                self._carried.pop(job_id, None)
            if carried is not None:
                self._deliver_sweep(job_id, carried, outcome.result, outcome.error)
                return
            error = outcome.error
            if outcome.result is None and error is None:
                error = _sandbox_error("the job ended without a result")
            self.store.finish_job(job_id, result=outcome.result, error=error)
            self.changes.bump(job_id)

    def _deliver_sweep(self, job_id: str, carried: list[tuple[str, float]],
                       result: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        """Finish each analysis a sweep's backend job carried with its own document (or the
        job's error); the sweep itself is assembled from them when read."""
        analyses = (result or {}).get("analyses")
        if error is None and (not isinstance(analyses, list) or len(analyses) != len(carried)):
            count = len(analyses) if isinstance(analyses, list) else "no"
            error = _sandbox_error(f"the sweep returned {count} analyses for {len(carried)} "
                                   "budgets")
        for i, (part, budget) in enumerate(carried):
            doc, part_error = None, error
            if error is None:
                assert isinstance(analyses, list)
                doc = analyses[i]
                got = doc.get("settings", {}).get("memory_budget") if isinstance(doc, dict) \
                    else None
                if not isinstance(got, (int, float)) or abs(float(got) - budget) > 1e-9:
                    doc, part_error = None, _sandbox_error(
                        f"the sweep's analysis for budget {budget:g} says budget {got}")
            self.store.finish_job(part, result=doc, error=part_error)
            self.changes.bump(part)
        self.changes.bump(job_id)

    # submissions -----------------------------------------------------------------------------

    def _carrier_spec(self, job: JobRecord, carried: list[tuple[str, float]]) -> JobSpec:
        """The one backend job of a sweep: trace once, partition at each carried budget."""
        return JobSpec(job_id=job.id, source=job.source, settings=job.settings,
                       snippet_name=job.snippet_name, device=job.device,
                       options={"sweep_budgets": [budget for _, budget in carried]})

    def carry(self, sweep: JobRecord, carried: list[tuple[str, float]]) -> None:
        """Queue the sweep's one backend job for the analyses in `carried` (made with
        `submit(..., queue=False)`)."""
        with self._active_lock:
            self._carried[sweep.id] = list(carried)
            self._active[sweep.id] = 0
        self.backend.submit(self._carrier_spec(sweep, carried))

    def _spec(self, job: JobRecord) -> JobSpec:
        return JobSpec(job_id=job.id, source=job.source, settings=job.settings,
                       snippet_name=job.snippet_name, device=job.device, options=job.options)

    def resolve_device(self, settings: Settings) -> str:
        return self.settings.device if settings.device == "auto" else settings.device

    def cache_key(self, source: str, settings: Settings, device: str, kind: str,
                  options: dict[str, Any]) -> str:
        """Content hash of everything that determines a result; never leaves the server."""
        canonical = {**settings.to_dict(), "device": device}
        blob = json.dumps({"source": source, "settings": canonical, "torch": self.torch_version,
                           "device": device, "kind": kind, "options": options},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def submit(self, source: str, settings_in: dict[str, Any] | None, name: str, *,
               kind: str = "analysis", options: dict[str, Any] | None = None,
               link: bool = True, queue: bool = True) -> Submission:
        """Check the snippet and settings, then answer from the cache or queue a job.
        `queue=False`: a new analysis job is only recorded (a sweep's job will compute it)."""
        size_bytes = len(source.encode("utf-8", "surrogatepass"))
        if size_bytes > self.settings.max_snippet_bytes:
            raise ApiError(413, "too_large", f"source: the snippet is {size_bytes} bytes; the "
                           f"limit is {self.settings.max_snippet_bytes // 1024} KiB")
        settings = Settings.from_dict(settings_in)
        check_source(source, name)
        device = self.resolve_device(settings)
        options = dict(options or {})
        key = self.cache_key(source, settings, device, kind, options)
        with self._submit_lock:
            job = self.store.cached_job(key)
            cached = job is not None
            if job is None:
                job = self.store.create_job(
                    kind=kind, cache_key=key, source=source, snippet_name=name,
                    settings=settings.to_dict(), options=options, device=device,
                    torch_version=self.torch_version)
            share_id, token = self.store.create_link(job.id, name) if link else ("", "")
        if not cached and kind == "analysis" and queue:
            with self._active_lock:
                self._active[job.id] = 0
            self.backend.submit(self._spec(job))
        return Submission(share_id, token, job, cached)

    # reading ---------------------------------------------------------------------------------

    def lookup(self, share_id: str, what: str = "analysis") -> tuple[str, JobRecord]:
        if len(share_id) > 64:
            raise not_found(what)
        found = self.store.link(share_id)
        if found is None or (found[1].kind == "sweep") != (what == "sweep"):
            raise not_found(what)
        return found

    def finished_job(self, share_id: str, what: str = "analysis") -> JobRecord | None:
        """The job of a finished analysis from memory, or None (then ask `job`)."""
        job: JobRecord | None = self.finished.get(share_id)
        if job is None or (job.kind == "sweep") != (what == "sweep"):
            return None
        return job

    def job(self, share_id: str, what: str = "analysis") -> JobRecord:
        cached = self.finished_job(share_id, what)
        if cached is not None:
            return cached
        job = self.lookup(share_id, what)[1]
        if job.status not in FINAL_STATUSES:
            self.sync(job.id)
            job = self.lookup(share_id, what)[1]  # re-read as this link's submitter sees it
        if job.status in FINAL_STATUSES:
            self.finished.put(share_id, job)
        return job

    def document_bytes(self, job: JobRecord) -> bytes:
        if job.status != "done":
            raise ApiError(409, "not_ready", f"the analysis is {job.status}; its document is "
                           "available once it is done")
        raw = self.documents.get(("raw", job.id, job.snippet_name))
        if raw is None:
            raw = self.store.document_bytes(job)
            if raw is None:
                raise ApiError(410, "document_missing", "the stored document is gone")
            raw = _named(raw, job.snippet_name)
            self.documents.put(("raw", job.id, job.snippet_name), raw)
        return bytes(raw)

    def document(self, job: JobRecord) -> dict[str, Any]:
        doc = self.documents.get(("doc", job.id, job.snippet_name))
        if doc is None:
            doc = json.loads(self.document_bytes(job))
            self.documents.put(("doc", job.id, job.snippet_name), doc)
            settle_heap()
        return dict(doc)

    # owner actions ---------------------------------------------------------------------------

    def _authorise(self, share_id: str, owner_token: str | None,
                   what: str = "analysis") -> JobRecord:
        token_hash, job = self.lookup(share_id, what)
        if not owner_token or hash_token(owner_token) != token_hash:
            raise ApiError(403, "not_owner", "X-Owner-Token does not match this analysis' owner")
        return job

    def delete(self, share_id: str, owner_token: str | None, what: str = "analysis") -> None:
        """Remove the link (`what`: "analysis" or "sweep"); the job too when no other link
        shares it, stopping it if it still runs."""
        job = self._authorise(share_id, owner_token, what)
        self.finished.drop(lambda k: k == share_id)
        removed = self.store.delete_link(share_id)
        if removed is not None:
            if removed.status not in FINAL_STATUSES:
                self.backend.cancel(job.id)
            with self._active_lock:
                self._active.pop(job.id, None)
                carried = self._carried.pop(job.id, None)
            if carried:  # no job computes these now: fail them rather than leave them queued
                self._deliver_sweep(job.id, carried, None, _sandbox_error(
                    "the sweep that was computing this analysis was deleted"))
            self.documents.drop(lambda k: k[1] == job.id)
            self.views.drop(lambda k: k[0] == job.id)

    def relink(self, share_id: str, owner_token: str | None) -> str:
        self._authorise(share_id, owner_token)
        self.finished.drop(lambda k: k == share_id)
        new_id = self.store.replace_link(share_id)
        if new_id is None:
            raise not_found("analysis")
        return new_id
