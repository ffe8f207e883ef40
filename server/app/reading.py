"""Reading jobs and documents by share link, from memory when possible (`ViewCache`)."""

from __future__ import annotations

import json
import logging
from typing import Any

from server.diskspace import is_disk_full
from server.store import FINAL_STATUSES, JobRecord, Store

from .caches import ViewCache
from .errors import ApiError, not_found
from .watching import JobWatcher


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


log = logging.getLogger("ckpt.server")


class Reader:
    """Share id → job (synced with its backend job first) → stored document."""

    def __init__(self, store: Store, watcher: JobWatcher, cache: ViewCache) -> None:
        self.store, self.watcher, self.cache = store, watcher, cache

    def lookup(self, share_id: str, what: str = "analysis") -> tuple[str, JobRecord]:
        """(owner token hash, job) of a link to an analysis or (`what="sweep"`) a sweep."""
        if len(share_id) > 64:
            raise not_found(what)
        found = self.store.link(share_id)
        if found is None or (found[1].kind == "sweep") != (what == "sweep"):
            raise not_found(what)
        return found

    def finished_job(self, share_id: str, what: str = "analysis") -> JobRecord | None:
        """The job of a finished analysis from memory, or None (then ask `job`)."""
        job = self.cache.finished_job(share_id)
        if job is None or (job.kind == "sweep") != (what == "sweep"):
            return None
        return job

    def job(self, share_id: str, what: str = "analysis") -> JobRecord:
        cached = self.finished_job(share_id, what)
        if cached is not None:
            return cached
        job = self.lookup(share_id, what)[1]
        if job.status not in FINAL_STATUSES:
            try:
                self.watcher.sync(job.id)
            except Exception as e:
                if not is_disk_full(e):
                    raise
                # the store cannot take the job's progress now: show what it holds, which is
                # true if behind (the backend keeps the events until they can be copied)
                log.warning("disk full: job %s is shown as last stored", job.id)
            job = self.lookup(share_id, what)[1]  # re-read as this link's submitter sees it
        if job.status in FINAL_STATUSES:
            self.cache.put_finished_job(share_id, job)
        return job

    def document_bytes(self, job: JobRecord) -> bytes:
        if job.status != "done":
            raise ApiError(409, "not_ready", f"the analysis is {job.status}; its document is "
                           "available once it is done")
        raw = self.cache.document_bytes(job.id, job.snippet_name)
        if raw is None:
            raw = self.store.document_bytes(job)
            if raw is None:
                raise ApiError(410, "document_missing", "the stored document is gone")
            raw = self.cache.put_document_bytes(job.id, job.snippet_name,
                                                _named(raw, job.snippet_name))
        return raw

    def document(self, job: JobRecord) -> dict[str, Any]:
        doc = self.cache.document(job.id, job.snippet_name)
        if doc is None:
            doc = self.cache.put_document(job.id, job.snippet_name,
                                          json.loads(self.document_bytes(job)))
        return dict(doc)
