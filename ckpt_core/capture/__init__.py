"""The only part of ckpt_core that imports torch: compile a snippet and capture its graphs."""

from __future__ import annotations

import inspect
import linecache
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

from .._version import __version__
from ..classify import classify, renumber_ac_regions, total_summary
from ..errors import SettingsError
from ..hazards import with_found_hazards
from ..ir import Analysis
from ..program import with_program_summary
from ..settings import Settings
from ..source import snippet_sha256
from .costing import with_cost
from .run import capture, plan_hazards, resolve_device
from .snippet import LoadedSnippet, load_snippet
from .torch_compat import version_hazards

__all__ = ["analyze_file", "analyze_loaded", "analyze_model", "analyze_source"]


def analyze_loaded(
    snippet: LoadedSnippet, settings: Settings, device: str, name: str,
    timings: dict[str, float] | None = None,
) -> Analysis:
    timings = dict(timings or {})
    start = time.perf_counter()
    result, _ = capture(snippet, settings, device)
    timings["capture_s"] = time.perf_counter() - start
    start = time.perf_counter()
    regions = renumber_ac_regions([classify(r) for r in result.regions])
    hazards = plan_hazards(result, regions, snippet)
    timings["classify_s"] = time.perf_counter() - start
    timings.update(result.timings_s)
    analysis = Analysis(
        ckptscope_version=__version__,
        torch_version=torch.__version__,
        device=device,
        settings=settings.to_dict(),
        snippet_sha256=snippet_sha256(snippet.source),
        snippet_name=name,
        snippet_source=snippet.source,
        regions=regions,
        graph_breaks=tuple(result.graph_breaks),
        summary=total_summary(regions, len(result.graph_breaks)),
        handovers=tuple(result.handovers),
        timings_s={k: round(v, 6) for k, v in timings.items()},
        hazards=hazards,
    )
    analysis = with_cost(with_program_summary(analysis), settings, result.knapsack)
    return with_found_hazards(analysis).with_hazards(*version_hazards())


def analyze_source(source: str, settings: Settings | None = None, *,
                   name: str = "snippet.py",
                   on_stage: Callable[[str, str], None] | None = None) -> Analysis:
    """Analyse snippet text. The text is written to a private temporary file so tracebacks and
    torch's stack traces point at real lines. `on_stage(stage, message)` hears when tracing
    and partitioning begin (a runner's live progress)."""
    settings = settings or Settings()
    device = resolve_device(settings.device, settings.execution)
    with tempfile.TemporaryDirectory(prefix="ckpt-") as tmp:
        path = os.path.join(tmp, os.path.basename(name) or "snippet.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        if on_stage:
            on_stage("tracing", "running the snippet and tracing the model")
        start = time.perf_counter()
        snippet = load_snippet(source, path, device, settings.execution)
        load_s = time.perf_counter() - start
        if on_stage:
            on_stage("partitioning", "compiling: joint graph and partition")
        return analyze_loaded(snippet, settings, device, name, {"load_s": load_s})


def analyze_file(path: str | os.PathLike[str], settings: Settings | None = None) -> Analysis:
    settings = settings or Settings()
    device = resolve_device(settings.device, settings.execution)
    path = os.path.abspath(os.fspath(path))
    with open(path, encoding="utf-8") as f:
        source = f.read()
    start = time.perf_counter()
    snippet = load_snippet(source, path, device, settings.execution)
    load_s = time.perf_counter() - start
    return analyze_loaded(snippet, settings, device, os.path.basename(path), {"load_s": load_s})


def analyze_model(
    model: Callable[..., Any], example_inputs: tuple[Any, ...], settings: Settings | None = None,
    *, loss: Callable[[Any], Any] | None = None,
) -> Analysis:
    """In-process analysis of a live model (notebooks). Source lines are those of the file (or
    notebook cell) that defines the model's `forward` (or the function)."""
    settings = settings or Settings()
    if settings.execution == "fake":
        raise SettingsError(
            "settings.execution: 'fake' builds the model from a snippet's module code; a live "
            "model was built on real tensors already (analyse its snippet file instead)"
        )
    device = resolve_device(settings.device, settings.execution)
    path, source = _defining_source(model)
    snippet = LoadedSnippet(model=model, example_inputs=tuple(example_inputs), loss=loss,
                            path=path, source=source)
    name = os.path.basename(path) if source else type(model).__name__
    return analyze_loaded(snippet, settings, device, name)


def _defining_source(model: Callable[..., Any]) -> tuple[str, str]:
    target = getattr(type(model), "forward", None) if isinstance(model, torch.nn.Module) else model
    try:
        path = inspect.getsourcefile(target) if target is not None else None
    except TypeError:
        path = None
    if not path:
        return "<in-process>", ""
    lines = linecache.getlines(path)  # notebook cells live in linecache, not on disk
    return path, "".join(lines)
