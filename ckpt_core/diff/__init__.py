"""Diff of compilations: which forward nodes changed fate between analyses, and what it cost.

    diff([a, b, ...], labels=None) -> GraphDiff     pure; analyses as `Analysis` or dicts
    GraphDiff.to_dict()                            the versioned JSON form
    text_report(graph_diff) / html_report(graph_diff)   readable renderings (str)
"""

from __future__ import annotations

from .compare import diff
from .inputs import DiffInputError
from .model import (
    DIFF_SCHEMA_VERSION,
    AnalysisInfo,
    Comparison,
    ComparisonSummary,
    Delta,
    GraphDiff,
    ModuleChange,
    Moved,
    NodeRow,
    NodeState,
    RegionChange,
)

__all__ = [
    "DIFF_SCHEMA_VERSION",
    "AnalysisInfo",
    "Comparison",
    "ComparisonSummary",
    "Delta",
    "DiffInputError",
    "GraphDiff",
    "ModuleChange",
    "Moved",
    "NodeRow",
    "NodeState",
    "RegionChange",
    "diff",
]
