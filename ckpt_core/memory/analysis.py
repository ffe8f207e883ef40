"""Every memory view of one analysis in one record (what the server's memory endpoint returns)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ir import Analysis
from .ledgers import RecomputeLedger, SavedLedger, recompute_ledger, saved_ledger
from .program import program_timeline
from .rollup import ModuleRollup, RepeatedLayers, module_rollup, repeated_layers
from .summary import memory_summary
from .timeline import Timeline, memory_timelines


@dataclass(frozen=True)
class MemoryAnalysis:
    """The `memory` key's figures plus the per-step timelines, ledgers and module rollup.

    `to_dict()` is the `memory` key (see `summary`) with `timelines`, `saved_ledger`,
    `recompute_ledger`, `module_rollup`, `repeated_layer_groups` and, with graph breaks,
    `program_timeline` (every region, in the order autograd runs them) added."""

    summary: dict[str, Any]
    timelines: tuple[Timeline, ...]
    saved: SavedLedger
    recompute: RecomputeLedger
    modules: tuple[ModuleRollup, ...]
    repeated: tuple[RepeatedLayers, ...]
    program: Timeline | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary,
            "timelines": [t.to_dict() for t in self.timelines],
            "saved_ledger": self.saved.to_dict(),
            "recompute_ledger": self.recompute.to_dict(),
            "module_rollup": [m.to_dict() for m in self.modules],
            "repeated_layer_groups": [r.to_dict() for r in self.repeated],
            "program_timeline": self.program.to_dict() if self.program else None,
        }


def analyze_memory(source: Analysis | dict[str, Any]) -> MemoryAnalysis:
    """All memory views of an analysis (or its JSON document). Measured figures already in the
    document's `memory` key are kept."""
    analysis = source if isinstance(source, Analysis) else Analysis.from_dict(source)
    summary = memory_summary(analysis)
    stored = analysis.extras.get("memory")
    if isinstance(stored, dict):
        measured = {r.get("region"): r.get("measured") for r in stored.get("regions", [])}
        for region in summary["regions"]:
            region["measured"] = measured.get(region["region"])
    return MemoryAnalysis(
        summary=summary, timelines=memory_timelines(analysis), saved=saved_ledger(analysis),
        recompute=recompute_ledger(analysis), modules=module_rollup(analysis),
        repeated=repeated_layers(analysis),
        program=program_timeline(analysis) if len(analysis.regions) > 1 else None,
    )
