"""One job, one function: write the snippet, then analyse it or sweep memory budgets.

The sandboxed worker (`server/worker/entry.py`) and the trusted local runner
(`server/app/local_runner.py`) both call `run_job`; they differ only in how the spec arrives and
how the result leaves. The spec is a job's plain data:

- `source`: the snippet text; `snippet_name`: its file name (only the base name is used);
- `settings`: a `Settings` dict; `options.sweep_budgets`: a list of budgets for a sweep;
  `options.whatif`: checkpoint tags to re-partition with (`ckpt_core.policy.whatif_job`).

An analysis loads the snippet once (its model is built once, on the analysis' device). On CUDA
the document also carries the caching allocator's measured figures; elsewhere the analytic
memory timeline. A sweep returns `{"analyses": [...]}` in budget order. Errors are `CkptError`s,
raised for the caller to report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .settings import Settings

#: `progress(stage, message)`: stages are "tracing", "partitioning" and "analysing"
Progress = Callable[[str, str], None]


def _quiet(stage: str, message: str) -> None:
    """The default progress sink: nothing to tell."""


def snippet_file_name(spec: Mapping[str, Any]) -> str:
    """The snippet's base name (never a path: a job cannot write outside its directory)."""
    return os.path.basename(str(spec.get("snippet_name") or "snippet.py")) or "snippet.py"


def run_job(spec: Mapping[str, Any], workdir: str | os.PathLike[str],
            progress: Progress = _quiet) -> dict[str, Any]:
    """Run one job in `workdir` (the snippet file is written there) and return its result."""
    settings = Settings.from_dict(spec.get("settings") or {})
    name = snippet_file_name(spec)
    source = str(spec.get("source", ""))
    path = Path(workdir) / name
    path.write_text(source, encoding="utf-8")
    options = dict(spec.get("options") or {})
    budgets = options.get("sweep_budgets")
    if budgets is not None:
        return _sweep(path, settings, name, [float(b) for b in budgets], progress)
    if options.get("whatif") is not None:
        return _whatif(path, settings, name, options, progress)
    return _analysis(path, source, settings, name, progress)


def _analysis(path: Path, source: str, settings: Settings, name: str,
              progress: Progress) -> dict[str, Any]:
    from .capture import analyze_loaded
    from .capture.run import resolve_device
    from .capture.snippet import load_snippet
    from .memory.summary import with_memory

    device = resolve_device(settings.device, settings.execution)
    progress("tracing", "running the snippet and tracing the model")
    start = time.perf_counter()
    snippet = load_snippet(source, str(path), device, settings.execution)
    timings = {"load_s": time.perf_counter() - start}
    progress("partitioning", "compiling: joint graph and partition")
    if device.startswith("cuda") and settings.execution == "real":
        # on a GPU the analysis also carries the caching allocator's measured peak and
        # per-step samples beside the analytic timeline (one traced run serves both)
        from .capture.cuda_memory import analyze_measured_loaded

        analysis = analyze_measured_loaded(snippet, settings, device, name, timings)
        progress("analysing", "measured one forward+backward on CUDA")
    else:
        analysis = analyze_loaded(snippet, settings, device, name, timings)
        progress("analysing", "classifying saved and recomputed values")
        analysis = with_memory(analysis)
    return analysis.to_dict()


def _sweep(path: Path, settings: Settings, name: str, budgets: list[float],
           progress: Progress) -> dict[str, Any]:
    from .sweep import sweep

    progress("tracing", "running the snippet and tracing the model once")
    progress("partitioning", f"partitioning the joint graph at {len(budgets)} memory budgets")
    result = sweep(path, budgets, settings, name=name)  # a path, never snippet text
    progress("analysing", "classifying saved and recomputed values")
    return {"analyses": [p.analysis.to_dict() for p in result.points]}


def _whatif(path: Path, settings: Settings, name: str, options: dict[str, Any],
            progress: Progress) -> dict[str, Any]:
    from .policy import whatif_job

    progress("tracing", "running the snippet and tracing the model once")
    progress("partitioning", "re-partitioning the joint graph with the what-if's checkpoint tags")
    return whatif_job(path, settings, name, options)
