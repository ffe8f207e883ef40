"""Trace a snippet once, then build analyses for any memory budget by re-running the partitioner.

`trace(path_or_source, settings)` compiles the snippet with a `SnapshotRecorder`;
`Traced.partition(budget)` re-partitions every region and returns the IR regions together with
the GraphModules they were read from (for the measurement interpreter); `Traced.analysis(budget)`
turns them into a complete `Analysis`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import torch

from .._version import __version__
from ..classify import classify, renumber_ac_regions, total_summary
from ..hazards import with_found_hazards
from ..ir import Analysis, Region
from ..program import with_program_summary
from ..runtime_checks import runtime_hazards
from ..settings import Settings
from ..source import snippet_sha256
from .costing import with_cost
from .replay import Partitioned, SnapshotRecorder
from .run import CaptureResult, capture, plan_hazards, resolve_device
from .snippet import LoadedSnippet, load_snippet
from .torch_compat import version_hazards


@dataclass
class Traced:
    """A snippet compiled once, with every region's joint graph kept for re-partitioning."""

    snippet: LoadedSnippet
    settings: Settings
    device: str
    name: str
    recorder: SnapshotRecorder
    result: CaptureResult
    timings_s: dict[str, float] = field(default_factory=dict)

    def regions(self, memory_budget: float) -> tuple[Region, ...]:
        """Classified regions under `memory_budget`; the traced budget needs no re-partition."""
        if memory_budget == self.settings.memory_budget:
            return renumber_ac_regions([classify(r) for r in self.result.regions])
        return self.partition(memory_budget)[0]

    def partition(
        self, memory_budget: float, *, settings: Settings | None = None,
        tags: Mapping[int, Mapping[str, tuple[str | None, int | None]]] | None = None,
    ) -> tuple[tuple[Region, ...], list[Partitioned]]:
        """Classified regions and the GraphModules they were read from, under `memory_budget`
        (and `settings`' partitioner knobs, `tags` instead of the snippet's: see `replay`)."""
        parts = self.recorder.replay(memory_budget, settings=settings, tags=tags)
        regions = renumber_ac_regions([classify(p.raw) for p in parts])
        return regions, parts

    def analysis(
        self, memory_budget: float | None = None, regions: tuple[Region, ...] | None = None, *,
        settings: Settings | None = None,
        tags: Mapping[int, Mapping[str, tuple[str | None, int | None]]] | None = None,
    ) -> Analysis:
        """The analysis under `memory_budget` (the traced settings' budget by default), with
        other partitioner `settings` or checkpoint `tags` if given (see `replay`)."""
        settings = settings or self.settings
        budget = settings.memory_budget if memory_budget is None else memory_budget
        start = time.perf_counter()
        if regions is None and tags is None and settings == self.settings.replace(
                memory_budget=settings.memory_budget):
            regions = self.regions(budget)
        elif regions is None:
            regions = self.partition(budget, settings=settings, tags=tags)[0]
        timings = {**self.timings_s, "partition_s": time.perf_counter() - start}
        traced_plan = tags is None and settings == self.settings.replace(memory_budget=budget) \
            and budget == self.settings.memory_budget
        # a re-partitioned plan never runs: check it the way torch's runtime would
        hazards = (plan_hazards(self.result, regions, self.snippet) if traced_plan
                   else runtime_hazards(regions))
        analysis = Analysis(
            ckptscope_version=__version__,
            torch_version=torch.__version__,
            device=self.device,
            settings=settings.replace(memory_budget=budget).to_dict(),
            snippet_sha256=snippet_sha256(self.snippet.source),
            snippet_name=self.name,
            snippet_source=self.snippet.source,
            regions=regions,
            graph_breaks=tuple(self.result.graph_breaks),
            summary=total_summary(regions, len(self.result.graph_breaks)),
            handovers=tuple(self.result.handovers),
            timings_s={k: round(v, 6) for k, v in timings.items()},
            hazards=hazards,
        )
        same_plan = tags is None and budget == self.settings.memory_budget
        knapsack = self.result.knapsack if same_plan else ()
        analysis = with_cost(with_program_summary(analysis), settings, knapsack)
        return with_found_hazards(analysis).with_hazards(*version_hazards())


@contextlib.contextmanager
def traced(snippet: str | os.PathLike[str], settings: Settings | None = None, *,
           name: str | None = None) -> Iterator[Traced]:
    """Trace a snippet file (an existing path) or snippet text; the snippet's file (a private
    temporary one for text) stays in place while the context is open."""
    settings = settings or Settings()
    device = resolve_device(settings.device, settings.execution)
    text_given = not (isinstance(snippet, os.PathLike) or os.path.isfile(snippet))
    with tempfile.TemporaryDirectory(prefix="ckpt-") as tmp:
        if text_given:
            label = name or "snippet.py"
            path = os.path.join(tmp, os.path.basename(label) or "snippet.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(str(snippet))
        else:
            path = os.path.abspath(os.fspath(snippet))
            label = name or os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        start = time.perf_counter()
        loaded = load_snippet(source, path, device, settings.execution)
        yield trace_loaded(loaded, settings, device, label,
                           {"load_s": time.perf_counter() - start})


def trace_loaded(loaded: LoadedSnippet, settings: Settings, device: str, name: str,
                 timings: dict[str, float] | None = None) -> Traced:
    """Trace a snippet already loaded (its model built once, on `device`)."""
    timings = dict(timings or {})
    start = time.perf_counter()
    result, recorder = capture(loaded, settings, device, recorder_cls=SnapshotRecorder)
    timings["capture_s"] = time.perf_counter() - start
    assert isinstance(recorder, SnapshotRecorder)
    return Traced(snippet=loaded, settings=settings, device=device, name=name,
                  recorder=recorder, result=result, timings_s=timings)
