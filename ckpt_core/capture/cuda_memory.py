"""Measure a traced snippet's memory for real: the caching allocator on CUDA, storages elsewhere.

On CUDA one forward and backward of every region runs through the measurement interpreter —
the partitioned graphs executed eagerly, which is what the compiled model runs under our
capture backend — with the allocator's peak statistics reset and its history recorded: the
samples are `torch.cuda.memory_allocated()` after each node, `peak_bytes` is
`max_memory_allocated()` (transient workspace inside an op included) and `history_peak_bytes`
replays the recorded alloc/free trace. All figures are relative to what was allocated before
the region's inputs were made. Elsewhere the interpreter's storage count is the measurement.

The backward's recompute nodes (those the classification marks `recompute`) are timed in
`TIMED_RUNS` more runs after the measured one (kernels warm, no samples, no allocator history),
each node's fastest kept: on CUDA each is bracketed by timing events, elsewhere by
`time.perf_counter_ns`. The totals land in
`cost.measured` and `summary.measured_recompute_time_s`, beside the estimate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import torch
import torch.fx as fx

from ..cost import measured_recompute, recompute_nodes
from ..errors import SettingsError
from ..ir import Analysis
from ..memory.summary import Measured, with_memory
from ..settings import Settings
from .measure import CpuTimer, CudaTimer, NodeTimer, materialize, measure_region
from .snippet import LoadedSnippet
from .traced import Traced, trace_loaded, traced


def measure_traced(traced: Traced, memory_budget: float | None = None,
                   recompute: Mapping[int, Iterable[str]] | None = None) -> dict[int, Measured]:
    """Measured figures for every region that has a backward, by region index; the backward
    nodes named in `recompute` (by region index) are timed too."""
    budget = traced.settings.memory_budget if memory_budget is None else memory_budget
    _, parts = traced.partition(budget)
    out: dict[int, Measured] = {}
    for part in parts:
        if part.forward is None:
            continue
        timed = frozenset((recompute or {}).get(part.raw.index, ()))
        if traced.device.startswith("cuda"):  # resolve_device made sure CUDA is there
            out[part.raw.index] = measure_cuda_region(part.forward, part.backward,
                                                      part.raw.num_user_outputs, traced.device,
                                                      timed)
        else:
            m = measure_region(part.forward, part.backward, part.raw.num_user_outputs,
                               device=traced.device)
            # the memory run warmed the kernels up; a second run is timed
            times = time_recompute(part.forward, part.backward, part.raw.num_user_outputs,
                                   traced.device, timed, CpuTimer)
            out[part.raw.index] = Measured(device=traced.device, method="interpreter-storages",
                                           peak_bytes=m.peak_bytes,
                                           live_bytes=tuple(m.live_bytes()),
                                           recompute_times_s=times)
    return out


#: timed runs per region; each node's time is its fastest (a shared CPU's scheduler adds noise)
TIMED_RUNS = 3


def time_recompute(forward: fx.GraphModule, backward: fx.GraphModule | None,
                   num_user_outputs: int, device: str, timed: frozenset[str],
                   make_timer: Callable[[], NodeTimer],
                   runs: int = TIMED_RUNS) -> tuple[tuple[str, float], ...]:
    """Seconds of each `timed` backward node: the fastest of `runs` unsampled runs of the
    region, in the backward's order."""
    if not timed or backward is None:
        return ()
    best: dict[str, float] = {}
    for _ in range(runs):
        m = measure_region(forward, backward, num_user_outputs, device=device,
                           sampler=lambda _v: 0, timer=make_timer(), timed=timed)
        for name, seconds in m.node_times_s:
            best[name] = min(seconds, best.get(name, seconds))
    return tuple(best.items())


def recompute_names(analysis: Analysis) -> dict[int, frozenset[str]]:
    """The backward nodes the classification marked `recompute`, by region index."""
    return {r.index: frozenset(n.name for n in recompute_nodes(r)) for r in analysis.regions}


def with_measured(analysis: Analysis, measured: Mapping[int, Measured]) -> Analysis:
    """`analysis` with its `memory` key and, when recompute nodes were timed, `cost.measured`
    and `summary.measured_recompute_time_s` / `measured_recompute_device`."""
    out = with_memory(analysis, measured)
    if not measured or "cost" not in out.extras:
        return out
    first = next(iter(measured.values()))
    method = "cuda-events" if first.method == "cuda-allocator" else "perf-counter"
    cost_measured = measured_recompute(
        analysis.regions, first.device, method,
        {i: m.recompute_times_s for i, m in measured.items()})
    summary = {**out.summary, "measured_recompute_time_s": cost_measured["recompute_time_s"],
               "measured_recompute_device": first.device}
    return replace(out.with_extras(cost={**out.extras["cost"], "measured": cost_measured}),
                   summary=summary)


def measure_cuda_region(forward: fx.GraphModule, backward: fx.GraphModule | None,
                        num_user_outputs: int, device: str = "cuda",
                        timed: frozenset[str] = frozenset()) -> Measured:
    """One forward+backward of a region on CUDA, read from the caching allocator.

    A first, unmeasured run lets cuBLAS and friends allocate their persistent workspaces, so the
    base they join is not charged to the region."""
    measure_region(forward, backward, num_user_outputs, device=device,
                   sampler=lambda _v: 0)
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    base_bytes = int(torch.cuda.memory_allocated(device))
    torch.cuda.reset_peak_memory_stats(device)
    inputs = [materialize(n.meta.get("val"), device)
              for n in forward.graph.nodes if n.op == "placeholder"]
    torch.cuda.memory._record_memory_history(max_entries=1_000_000)
    try:
        m = measure_region(forward, backward, num_user_outputs, device=device,
                           sampler=lambda _v: int(torch.cuda.memory_allocated(device))
                           - base_bytes, inputs=inputs)
        torch.cuda.synchronize(device)
        snapshot = torch.cuda.memory._snapshot()
    finally:
        torch.cuda.memory._record_memory_history(enabled=None)
    peak_bytes = int(torch.cuda.max_memory_allocated(device)) - base_bytes
    del inputs
    times = time_recompute(forward, backward, num_user_outputs, device, timed, CudaTimer)
    return Measured(device=device, method="cuda-allocator", peak_bytes=peak_bytes,
                    live_bytes=tuple(m.live_bytes()),
                    history_peak_bytes=history_peak_bytes(snapshot), recompute_times_s=times)


def history_peak_bytes(snapshot: dict[str, Any]) -> int | None:
    """The highest total allocated since recording started, replayed from a `_snapshot()`'s
    device traces (None without traces)."""
    traces = snapshot.get("device_traces") or []
    if not any(traces):
        return None
    allocated = peak = 0
    for trace in traces:
        for event in trace:
            if event.get("action") == "alloc":
                allocated += int(event.get("size", 0))
            elif event.get("action") == "free_completed":
                allocated -= int(event.get("size", 0))
            peak = max(peak, allocated)
    return peak


def analyze_measured(snippet: str | os.PathLike[str], settings: Settings | None = None) -> Analysis:
    """Analyse a snippet and attach its `memory` key with measured figures beside the analytic
    ones (the caching allocator on CUDA, the interpreter's storage count elsewhere)."""
    if settings is not None and settings.execution == "fake":
        raise SettingsError(
            "settings.execution: measuring memory runs the graphs on real tensors; use "
            "execution 'real', or the analytic timeline of a fake-tensor analysis"
        )
    with traced(snippet, settings) as t:
        analysis = t.analysis()
        return with_measured(analysis, measure_traced(t, recompute=recompute_names(analysis)))


def analyze_measured_loaded(loaded: LoadedSnippet, settings: Settings, device: str, name: str,
                            timings: dict[str, float] | None = None) -> Analysis:
    """`analyze_measured` for a snippet already loaded: its model is built and moved to the
    device once (a second load would keep two models alive on the GPU)."""
    t = trace_loaded(loaded, settings, device, name, timings)
    analysis = t.analysis()
    return with_measured(analysis, measure_traced(t, recompute=recompute_names(analysis)))
