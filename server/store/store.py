"""The store: jobs, share links and events in the database; result documents as blobs."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from ckpt_core.errors import ErrorDoc
from server.jobs import JobOptions

from .blobs import BlobStore, layout_dir
from .db import checkpoint, make_engine, migrate
from .models import EventRow, JobRow, LinkRow

#: where a job stands; `done`, `failed` and `cancelled` are final
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
FINAL_STATUSES: frozenset[str] = frozenset({"done", "failed", "cancelled"})
#: an analysis, or a budget sweep (whose parts are analyses)
JobKind = Literal["analysis", "sweep"]


@dataclass(frozen=True)
class JobRecord:
    """A job as the API sees it (a snapshot of its row)."""

    id: str
    kind: JobKind
    cache_key: str
    status: JobStatus
    stage: str
    progress: float
    message: str
    source: str
    snippet_name: str
    settings: dict[str, Any]
    options: JobOptions
    device: str
    torch_version: str
    schema_version: int | None
    summary: dict[str, Any] | None
    error: ErrorDoc | None
    document_key: str | None
    created_at_s: float
    finished_at_s: float | None

    @classmethod
    def of(cls, row: JobRow) -> JobRecord:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    def as_submitted(self, link: LinkRow) -> JobRecord:
        """The job as one link's submitter sees it: their snippet name and submission time
        (a cached answer was computed for someone else, earlier)."""
        finished = self.finished_at_s
        return replace(self, snippet_name=link.snippet_name or self.snippet_name,
                       created_at_s=link.created_at_s,
                       finished_at_s=None if finished is None else max(finished,
                                                                       link.created_at_s))


@dataclass(frozen=True)
class EventRecord:
    seq: int
    stage: str
    progress: float
    message: str
    at_s: float


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_share_id() -> str:
    """128 random bits, URL-safe: the only handle a URL carries."""
    return secrets.token_urlsafe(16)


class Store:
    """Persistence for the API; thread-safe (one session per call)."""

    def __init__(self, database_url: str, blob_url: str) -> None:
        self.engine: Engine = make_engine(database_url)
        migrate(self.engine)
        self.blobs = BlobStore(blob_url)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self.engine.connect().execution_options(ckpt_write=True) as conn, \
                Session(bind=conn, expire_on_commit=False) as session:
            yield session
            session.commit()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def ping(self) -> None:
        with self._read() as s:
            s.execute(select(func.count()).select_from(JobRow)).scalar_one()

    # jobs -----------------------------------------------------------------------------------

    def create_job(self, *, kind: JobKind, cache_key: str, source: str, snippet_name: str,
                   settings: dict[str, Any], options: JobOptions, device: str,
                   torch_version: str) -> JobRecord:
        row = JobRow(
            id=secrets.token_hex(16), kind=kind, cache_key=cache_key, status="queued",
            stage="queued", progress=0.0, message="", source=source, snippet_name=snippet_name,
            settings=settings, options=options, device=device, torch_version=torch_version,
            created_at_s=time.time(),
        )
        with self._write() as s:
            s.add(row)
        return JobRecord.of(row)

    def job(self, job_id: str) -> JobRecord | None:
        with self._read() as s:
            row = s.get(JobRow, job_id)
            return JobRecord.of(row) if row else None

    def cached_job(self, cache_key: str) -> JobRecord | None:
        """A job with this content that is done or still under way (failed ones are retried)."""
        with self._read() as s:
            row = s.execute(
                select(JobRow).where(JobRow.cache_key == cache_key,
                                     JobRow.status.in_(("queued", "running", "done")))
                .order_by(JobRow.created_at_s.desc()).limit(1)
            ).scalar_one_or_none()
            return JobRecord.of(row) if row else None

    def unfinished_jobs(self) -> list[JobRecord]:
        with self._read() as s:
            rows = s.execute(select(JobRow).where(JobRow.status.not_in(FINAL_STATUSES)))
            return [JobRecord.of(r) for r in rows.scalars()]

    def record_progress(self, job_id: str, events: list[EventRecord]) -> None:
        """Append events and move the job's status/stage/progress to the last one."""
        if not events:
            return
        with self._write() as s:
            row = s.get(JobRow, job_id)
            if row is None or row.status in FINAL_STATUSES:
                return
            known = s.execute(select(func.count()).select_from(EventRow)
                              .where(EventRow.job_id == job_id)).scalar_one()
            for i, e in enumerate(events):
                s.add(EventRow(job_id=job_id, seq=known + i, stage=e.stage,
                               progress=e.progress, message=e.message, at_s=e.at_s))
            last = events[-1]
            if last.stage not in FINAL_STATUSES:
                row.stage, row.message = last.stage, last.message
                row.progress = max(row.progress, last.progress)
                row.status = "queued" if last.stage == "queued" else "running"

    def finish_job(self, job_id: str, *, result: dict[str, Any] | None,
                   error: ErrorDoc | None, status: JobStatus | None = None) -> None:
        """Store the outcome: the document as a blob first, then the row (so a row that says
        done always has its document)."""
        key = None
        if result is not None:
            key = f"documents/{job_id}.json.gz"
            self.blobs.put(key, json.dumps(result, separators=(",", ":")).encode("utf-8"))
        final = status or ("done" if result is not None else "failed")
        with self._write() as s:
            row = s.get(JobRow, job_id)
            if row is None or row.status in FINAL_STATUSES:
                return
            row.status, row.stage = final, final
            row.progress = 1.0 if final == "done" else row.progress
            row.document_key, row.error = key, dict(error) if error else None
            row.message = error["message"] if error else ""
            if result is not None:
                row.summary = result.get("summary")
                row.schema_version = result.get("schema_version")
                row.torch_version = str(result.get("torch_version", row.torch_version))
                row.device = str(result.get("device", row.device))
            row.finished_at_s = time.time()
            seq = s.execute(select(func.count()).select_from(EventRow)
                            .where(EventRow.job_id == job_id)).scalar_one()
            message = error["message"] if error and final != "done" else ""
            s.add(EventRow(job_id=job_id, seq=seq, stage=final, progress=row.progress,
                           message=str(message), at_s=time.time()))

    def events(self, job_id: str, after: int = 0) -> list[EventRecord]:
        with self._read() as s:
            rows = s.execute(select(EventRow).where(EventRow.job_id == job_id,
                                                    EventRow.seq >= after)
                             .order_by(EventRow.seq)).scalars()
            return [EventRecord(r.seq, r.stage, r.progress, r.message, r.at_s) for r in rows]

    def document_bytes(self, job: JobRecord) -> bytes | None:
        return self.blobs.get(job.document_key) if job.document_key else None

    # links ----------------------------------------------------------------------------------

    def create_link(self, job_id: str, snippet_name: str | None = None) -> tuple[str, str]:
        """A new share id and owner token for a job; only the token's hash is kept."""
        share_id, token = new_share_id(), secrets.token_urlsafe(24)
        with self._write() as s:
            s.add(LinkRow(id=share_id, job_id=job_id, owner_token_sha256=hash_token(token),
                          created_at_s=time.time(), snippet_name=snippet_name))
        return share_id, token

    def link(self, share_id: str) -> tuple[str, JobRecord] | None:
        """(owner token hash, job as this link's submitter sees it) of a share id."""
        with self._read() as s:
            found = s.execute(select(LinkRow, JobRow).join(JobRow, LinkRow.job_id == JobRow.id)
                              .where(LinkRow.id == share_id)).first()
            if found is None:
                return None
            link, job = found
            return link.owner_token_sha256, JobRecord.of(job).as_submitted(link)

    def replace_link(self, share_id: str) -> str | None:
        """Move a link (and its owner) to a fresh random id; the old id stops working."""
        new_id = new_share_id()
        with self._write() as s:
            row = s.get(LinkRow, share_id)
            if row is None:
                return None
            s.add(LinkRow(id=new_id, job_id=row.job_id,
                          owner_token_sha256=row.owner_token_sha256,
                          created_at_s=row.created_at_s, snippet_name=row.snippet_name))
            s.delete(row)
        return new_id

    def delete_link(self, share_id: str) -> JobRecord | None:
        """Remove a link; when no link points at its job any more, remove the job, its
        document and its layouts. Returns the removed job, if it was removed. Nothing deleted
        is left behind in the database files (secure delete, then a WAL checkpoint)."""
        record = self._delete_link_rows(share_id)
        checkpoint(self.engine)
        if record is None:
            return None
        if record.document_key:
            self.blobs.delete(record.document_key)
        self.blobs.delete_tree(f"layouts/{layout_dir(record.cache_key)}")
        return record

    def _delete_link_rows(self, share_id: str) -> JobRecord | None:
        with self._write() as s:
            row = s.get(LinkRow, share_id)
            if row is None:
                return None
            job_id = row.job_id
            s.delete(row)
            s.flush()
            left = s.execute(select(func.count()).select_from(LinkRow)
                             .where(LinkRow.job_id == job_id)).scalar_one()
            job = s.get(JobRow, job_id)
            if left or job is None:
                return None
            record = JobRecord.of(job)
            s.execute(delete(EventRow).where(EventRow.job_id == job_id))
            s.delete(job)
        return record
