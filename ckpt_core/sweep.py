"""Memory-budget sweep: one complete analysis per `activation_memory_budget`, from one trace.

`sweep(snippet, budgets, settings)` compiles the snippet once; each budget only re-runs torch's
partitioner on the kept joint graphs (`capture.replay`). Every point carries a complete analysis
(with its `memory` key) so it can be opened as a plan, plus its saved activation bytes,
recompute FLOPs and analytic peak. A point is flagged `non_monotonic` when its peak is higher
than the peak at some larger budget: a lower budget should never cost more memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import SettingsError
from .ir import HAZARD_KINDS, Analysis
from .memory.summary import with_memory
from .settings import Settings


@dataclass(frozen=True)
class SweepPoint:
    """One budget's result; `analysis` is complete (memory key included). `recompute_time_s`
    is the cost model's estimate on the analysis' device profile (None without one)."""

    budget: float
    saved_activation_bytes: int
    recompute_flops: int
    peak_bytes: int
    non_monotonic: bool
    analysis: Analysis
    partition_s: float = 0.0
    recompute_time_s: float | None = None

    def to_dict(self, *, with_analysis: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "budget": self.budget,
            "saved_activation_bytes": self.saved_activation_bytes,
            "recompute_flops": self.recompute_flops,
            "recompute_time_s": self.recompute_time_s,
            "peak_bytes": self.peak_bytes,
            "non_monotonic": self.non_monotonic,
            # what a fresh analysis at this budget warns about (`torch_compile_fails` first)
            "hazard_kinds": sorted({h.kind for h in self.analysis.hazards},
                                   key=HAZARD_KINDS.index),
            "partition_s": round(self.partition_s, 6),
        }
        if with_analysis:
            out["analysis"] = self.analysis.to_dict()
        return out


@dataclass(frozen=True)
class SweepResult:
    """Points in the order the budgets were given; `non_monotonic_budgets` lists flagged ones."""

    snippet_name: str
    settings: dict[str, Any]
    points: tuple[SweepPoint, ...]
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def non_monotonic_budgets(self) -> list[float]:
        return [p.budget for p in self.points if p.non_monotonic]

    def to_dict(self, *, with_analyses: bool = True) -> dict[str, Any]:
        return {
            "kind": "sweep",
            "snippet_name": self.snippet_name,
            "settings": dict(self.settings),
            "budgets": [p.budget for p in self.points],
            "non_monotonic_budgets": self.non_monotonic_budgets,
            "points": [p.to_dict(with_analysis=with_analyses) for p in self.points],
            "timings_s": {k: round(v, 6) for k, v in self.timings_s.items()},
        }


def non_monotonic_flags(budgets: Sequence[float], peaks_bytes: Sequence[int]) -> list[bool]:
    """For each point, whether some larger budget has a strictly lower peak."""
    return [any(b2 > b and p2 < p for b2, p2 in zip(budgets, peaks_bytes, strict=True))
            for b, p in zip(budgets, peaks_bytes, strict=True)]


def sweep_from_analyses(analyses: Sequence[Analysis], budgets: Sequence[float],
                        partition_s: Sequence[float] | None = None,
                        timings_s: dict[str, float] | None = None) -> SweepResult:
    """Assemble a sweep from one analysis per budget (their `memory` keys filled in here)."""
    with_mem = [a if "memory" in a.extras else with_memory(a) for a in analyses]
    peaks = [int(a.extras["memory"]["peak_bytes"]) for a in with_mem]
    flags = non_monotonic_flags(budgets, peaks)
    points = tuple(
        SweepPoint(budget=float(b), saved_activation_bytes=int(a.summary[
            "saved_activation_bytes"]), recompute_flops=int(a.summary["recompute_flops"]),
            peak_bytes=peak, non_monotonic=flag, analysis=a,
            recompute_time_s=a.summary.get("recompute_time_s"),
            partition_s=(partition_s[i] if partition_s else 0.0))
        for i, (b, a, peak, flag) in enumerate(zip(budgets, with_mem, peaks, flags, strict=True))
    )
    first = with_mem[0] if with_mem else None
    return SweepResult(
        snippet_name=first.snippet_name if first else "",
        settings={k: v for k, v in (first.settings if first else {}).items()
                  if k != "memory_budget"},
        points=points, timings_s=dict(timings_s or {}),
    )


def parse_budgets(text: str) -> list[float]:
    """`"1,0.8,0.5"` → `[1.0, 0.8, 0.5]`, each checked to lie in [0, 1]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError as e:
            raise SettingsError(f"--budgets: {part!r} is not a number") from e
        if not 0.0 <= value <= 1.0:
            raise SettingsError(f"--budgets: {value} is outside [0, 1]")
        out.append(value)
    if not out:
        raise SettingsError("--budgets: give at least one budget, e.g. 1,0.5,0")
    return out


def sweep(snippet: str | os.PathLike[str], budgets: Sequence[float],
          settings: Settings | None = None, *, name: str | None = None) -> SweepResult:
    """Analyse `snippet` (a file path, or snippet text) once per memory budget.

    Traces once under `settings`; each budget re-runs only the partitioner."""
    from .capture.traced import traced

    settings = settings or Settings()
    budgets = [float(b) for b in budgets]
    for b in budgets:
        Settings(memory_budget=b)  # validates the range with the usual message
    start = time.perf_counter()
    with traced(snippet, settings, name=name) as t:
        trace_s = time.perf_counter() - start
        analyses, partition_s = [], []
        for b in budgets:
            point_start = time.perf_counter()
            analyses.append(with_memory(t.analysis(b)))
            partition_s.append(time.perf_counter() - point_start)
    timings = {**t.timings_s, "trace_s": trace_s, "total_s": time.perf_counter() - start}
    return sweep_from_analyses(analyses, budgets, partition_s, timings)
