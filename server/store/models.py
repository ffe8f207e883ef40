"""Database tables: jobs (one per distinct analysis run), share links onto them, and job events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class JobRow(Base):
    """One analysis (or sweep) run. Cached resubmissions share a job through new links.

    `cache_key` is the content hash of snippet + settings + torch version + device + options:
    internal only, never shown in a URL. `document_key` names the compressed result blob.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="analysis")
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    stage: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text)
    snippet_name: Mapped[str] = mapped_column(String(256))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    device: Mapped[str] = mapped_column(String(16))
    torch_version: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    document_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at_s: Mapped[float] = mapped_column(Float)
    finished_at_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class LinkRow(Base):
    """A share link: a random id (the only handle a URL carries) onto a job, plus its owner."""

    __tablename__ = "links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    owner_token_sha256: Mapped[str] = mapped_column(String(64))
    #: when this submitter submitted, and the name they gave the snippet: a cached answer
    #: shares only the job's result
    created_at_s: Mapped[float] = mapped_column(Float)
    snippet_name: Mapped[str | None] = mapped_column(String(256), nullable=True)


class EventRow(Base):
    """One progress event of a job, kept so progress survives a server restart."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_seq", "job_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")
    at_s: Mapped[float] = mapped_column(Float)
