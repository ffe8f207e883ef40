"""Memory analyses of a captured analysis: timeline, ledgers, module rollups (pure, no torch)."""

from __future__ import annotations

from .analysis import MemoryAnalysis, analyze_memory
from .ledgers import RecomputeLedger, SavedLedger, recompute_ledger, saved_ledger
from .program import PROGRAM, program_timeline
from .rollup import ModuleRollup, RepeatedLayers, module_rollup, repeated_layers
from .storage import CATEGORIES, Storage, StoragePlan, storage_plan
from .summary import Measured, memory_summary, with_memory
from .timeline import (
    Peak,
    Step,
    Timeline,
    disagreeing_steps,
    memory_timeline,
    memory_timelines,
)

__all__ = [
    "CATEGORIES",
    "PROGRAM",
    "Measured",
    "MemoryAnalysis",
    "ModuleRollup",
    "Peak",
    "RecomputeLedger",
    "RepeatedLayers",
    "SavedLedger",
    "Step",
    "Storage",
    "StoragePlan",
    "Timeline",
    "analyze_memory",
    "disagreeing_steps",
    "memory_summary",
    "memory_timeline",
    "memory_timelines",
    "module_rollup",
    "program_timeline",
    "recompute_ledger",
    "repeated_layers",
    "saved_ledger",
    "storage_plan",
    "with_memory",
]
