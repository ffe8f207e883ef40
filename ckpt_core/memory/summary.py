"""The `memory` key of an analysis document: peaks and boundary bytes per region, kept small.

Shape (`version` 1)::

    "memory": {
      "version": 1,
      "peak_bytes": 5371392,                       # the program's peak (all regions)
      "program": null | {…},                       # with graph breaks: the program timeline's
                                                   # peaks and boundary (memory.program)
      "saved_cost_bytes": 2011648,                 # = summary.saved_activation_bytes
      "recompute_flops_fraction": 0.21,            # recompute / forward FLOPs, or null
      "recompute_time_fraction": 0.23,             # recompute / forward estimated time, or null
      "cost_profile": "h100",                      # the device profile of those times
      "repeated_layers": ["blocks.1–11 identical; blocks.0 differs"],
      "regions": [{
        "region": 0, "step_count": 2581, "forward_steps": 836,
        "peak": {"bytes", "step", "node", "graph"}, "peak_forward": {…}, "peak_backward": {…}|null,
        "boundary_bytes": …, "boundary_category_bytes": {"inputs": …, "saved": …, …},
        "final_bytes": …,
        "measured": null | {"device", "method", "peak_bytes", "ratio",   # ratio = measured/analytic
                            "history_peak_bytes",   # CUDA: replayed from the allocator's history
                            "live_bytes": [...]}    # one sample per step
      }]
    }

The per-step timeline is not stored: `memory_timeline(doc, region)` recomputes it from the
document in milliseconds. Only a measurement's samples are kept, since they cannot be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..ir import Analysis
from .ledgers import recompute_ledger, saved_ledger
from .program import program_timeline
from .rollup import repeated_layers
from .timeline import memory_timelines

MEMORY_VERSION = 1


@dataclass(frozen=True)
class Measured:
    """A measurement of one region: `method` says how (`interpreter-storages` counts the
    distinct storages of live values; `cuda-allocator` reads `torch.cuda.memory_allocated`),
    `live_bytes` has one sample per timeline step."""

    device: str
    method: str
    peak_bytes: int
    live_bytes: tuple[int, ...]
    history_peak_bytes: int | None = None
    #: (backward node, seconds) of each recompute node timed in the run (see `cost.measured`)
    recompute_times_s: tuple[tuple[str, float], ...] = ()

    def to_dict(self, analytic_peak_bytes: int) -> dict[str, Any]:
        return {
            "device": self.device, "method": self.method, "peak_bytes": self.peak_bytes,
            "history_peak_bytes": self.history_peak_bytes,
            "ratio": self.peak_bytes / analytic_peak_bytes if analytic_peak_bytes else None,
            "live_bytes": list(self.live_bytes),
        }


def memory_summary(source: Analysis | dict[str, Any],
                   measured: Mapping[int, Measured] | None = None) -> dict[str, Any]:
    """The `memory` key for `source` (see the module docstring); `measured` by region index."""
    analysis = source if isinstance(source, Analysis) else Analysis.from_dict(source)
    timelines = memory_timelines(analysis)
    regions = []
    for tl in timelines:
        entry = tl.summary_dict()
        m = (measured or {}).get(tl.region)
        entry["measured"] = m.to_dict(tl.peak.bytes) if m else None
        regions.append(entry)
    recomputes = recompute_ledger(analysis)
    program = program_timeline(analysis) if len(analysis.regions) > 1 else None
    region_peak = max((tl.peak.bytes for tl in timelines), default=0)
    return {
        "version": MEMORY_VERSION,
        "peak_bytes": max(region_peak, program.peak.bytes) if program else region_peak,
        "program": program.summary_dict() if program else None,
        "saved_cost_bytes": saved_ledger(analysis).total_cost_bytes,
        "recompute_flops_fraction": recomputes.flops_fraction,
        "recompute_time_fraction": recomputes.time_fraction,
        "cost_profile": recomputes.profile,
        "repeated_layers": [r.text for r in repeated_layers(analysis)],
        "regions": regions,
    }


def with_memory(analysis: Analysis, measured: Mapping[int, Measured] | None = None) -> Analysis:
    """`analysis` with its `memory` key filled in."""
    return analysis.with_extras(memory=memory_summary(analysis, measured))
