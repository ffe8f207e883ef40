"""What only a link's owner (the holder of its owner token) may do: delete it, replace it."""

from __future__ import annotations

from server.jobs import JobBackend
from server.store import FINAL_STATUSES, JobRecord, Store, hash_token

from .caches import ViewCache
from .errors import ApiError, not_found
from .reading import Reader
from .watching import JobWatcher


class OwnerActions:
    def __init__(self, store: Store, backend: JobBackend, watcher: JobWatcher, cache: ViewCache,
                 reader: Reader) -> None:
        self.store, self.backend, self.watcher = store, backend, watcher
        self.cache, self.reader = cache, reader

    def authorise(self, share_id: str, owner_token: str | None,
                  what: str = "analysis") -> JobRecord:
        token_hash, job = self.reader.lookup(share_id, what)
        if not owner_token or hash_token(owner_token) != token_hash:
            raise ApiError(403, "not_owner", "X-Owner-Token does not match this analysis' owner")
        return job

    def delete(self, share_id: str, owner_token: str | None, what: str = "analysis") -> None:
        """Remove the link (`what`: "analysis" or "sweep"); the job too when no other link
        shares it, stopping it if it still runs."""
        job = self.authorise(share_id, owner_token, what)
        self.cache.forget_link(share_id)
        removed = self.store.delete_link(share_id)
        if removed is not None:
            if removed.status not in FINAL_STATUSES:
                self.backend.cancel(job.id)
            self.watcher.forget(job.id)
            # no job computes what it carried now: fail them rather than leave them queued
            self.watcher.abandon(job.id, f"the {what} that was computing this analysis was "
                                 "deleted")
            self.cache.forget_job(job.id)

    def relink(self, share_id: str, owner_token: str | None) -> str:
        """A new share id for the analysis; the old one stops working."""
        self.authorise(share_id, owner_token)
        self.cache.forget_link(share_id)
        new_id = self.store.replace_link(share_id)
        if new_id is None:
            raise not_found("analysis")
        return new_id
