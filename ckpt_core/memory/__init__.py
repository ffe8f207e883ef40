"""Memory analyses of a captured analysis: timeline, ledgers, module rollups (pure, no torch)."""

from __future__ import annotations

from .storage import CATEGORIES, Storage, StoragePlan, storage_plan
from .timeline import Peak, Step, Timeline, memory_timeline, memory_timelines

__all__ = [
    "CATEGORIES",
    "Peak",
    "Step",
    "Storage",
    "StoragePlan",
    "Timeline",
    "memory_timeline",
    "memory_timelines",
    "storage_plan",
]
