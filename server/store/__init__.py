"""Durable storage for the API: SQLAlchemy tables (Alembic-migrated) and compressed blobs."""

from .blobs import BlobStore
from .store import FINAL_STATUSES, EventRecord, JobKind, JobRecord, JobStatus, Store, hash_token

__all__ = ["FINAL_STATUSES", "BlobStore", "EventRecord", "JobKind", "JobRecord", "JobStatus",
           "Store", "hash_token"]
