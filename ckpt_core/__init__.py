"""ckptscope's core: capture what torch.compile saves for backward and recomputes, and why.

Public API (torch is imported only when an analysis actually runs):

    analyze_file(path, settings) / analyze_source(text, settings) / analyze(model, inputs, settings)
        -> Analysis                      compile and capture (needs torch)
    Settings                             validated analysis settings
    Analysis, Region, Node, …            the IR (`ir`), JSON via `.to_dict()` / `.from_dict()`
    validate_analysis(dict)              JSON-schema and invariant checks
    diff([a, b, ...]) -> GraphDiff       match analyses, show what moved saved ⇄ recomputed
    memory_timeline(doc, region) -> Timeline, saved_ledger / recompute_ledger / module_rollup,
    with_memory(analysis)                memory analyses (pure); the `memory` key of a document
    sweep(snippet, budgets, settings)    one analysis per memory budget from one trace (torch)
    whatif(snippet_or_analysis, overrides, settings) -> WhatIfResult
                                         checkpoint tags changed on the trace, re-partitioned,
                                         exported as policy code (torch; see `policy`)
    analyze_measured(snippet, settings)  analysis + memory measured on real tensors (torch)
    CkptError and subclasses             every failure a user can cause (see `errors`)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ._version import __version__
from .diff import GraphDiff, diff
from .errors import (
    AnalysisError,
    CkptError,
    CompileError,
    DiffInputError,
    GraphBreakError,
    OverrideError,
    SandboxError,
    SettingsError,
    SnippetContractError,
    SnippetError,
    SnippetRuntimeError,
    SnippetSyntaxError,
    TorchInternalError,
)
from .ir import (
    HAZARD_KINDS,
    SCHEMA_VERSION,
    Analysis,
    Graph,
    GraphBreak,
    Hazard,
    Node,
    NodeRef,
    Region,
    SavedValue,
)
from .memory import (
    memory_summary,
    memory_timeline,
    memory_timelines,
    module_rollup,
    recompute_ledger,
    repeated_layers,
    saved_ledger,
    with_memory,
)
from .policy import WhatIfResult, whatif
from .settings import Settings
from .sweep import SweepResult, sweep
from .validate import validate_analysis

__all__ = [
    "HAZARD_KINDS",
    "SCHEMA_VERSION",
    "Analysis",
    "AnalysisError",
    "CkptError",
    "CompileError",
    "DiffInputError",
    "Graph",
    "GraphBreak",
    "GraphBreakError",
    "GraphDiff",
    "Hazard",
    "Node",
    "NodeRef",
    "OverrideError",
    "Region",
    "SandboxError",
    "SavedValue",
    "Settings",
    "SettingsError",
    "SnippetContractError",
    "SnippetError",
    "SnippetRuntimeError",
    "SnippetSyntaxError",
    "SweepResult",
    "TorchInternalError",
    "WhatIfResult",
    "__version__",
    "analyze",
    "analyze_file",
    "analyze_measured",
    "analyze_source",
    "diff",
    "memory_summary",
    "memory_timeline",
    "memory_timelines",
    "module_rollup",
    "recompute_ledger",
    "repeated_layers",
    "saved_ledger",
    "sweep",
    "validate_analysis",
    "whatif",
    "with_memory",
]


def analyze_file(path: str | os.PathLike[str], settings: Settings | None = None) -> Analysis:
    """Analyse the snippet file at `path`."""
    from .capture import analyze_file as _impl

    return _impl(path, settings)


def analyze_source(source: str, settings: Settings | None = None, *,
                   name: str = "snippet.py",
                   on_stage: Callable[[str, str], None] | None = None) -> Analysis:
    """Analyse snippet text (`name` is how it is labelled in the result; `on_stage(stage,
    message)` hears when tracing and partitioning begin)."""
    from .capture import analyze_source as _impl

    return _impl(source, settings, name=name, on_stage=on_stage)


def analyze(
    model: Callable[..., Any], example_inputs: tuple[Any, ...], settings: Settings | None = None,
    *, loss: Callable[[Any], Any] | None = None,
) -> Analysis:
    """Analyse a live model in this process (for notebooks)."""
    from .capture import analyze_model as _impl

    return _impl(model, example_inputs, settings, loss=loss)


def analyze_measured(snippet: str | os.PathLike[str], settings: Settings | None = None) -> Analysis:
    """Analyse a snippet (path or text) with its `memory` key, measured figures included."""
    from .capture.cuda_memory import analyze_measured as _impl

    return _impl(snippet, settings)
