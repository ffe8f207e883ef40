"""The diff's result records: frozen, JSON-able dataclasses whose docstrings are the spec.

`GraphDiff.to_dict()` is the versioned JSON form (`DIFF_SCHEMA_VERSION`, bumped whenever it
changes incompatibly). Analyses are referred to by their position (0, 1, …) in the input list;
nodes by their row `key`, which is stable for the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

DIFF_SCHEMA_VERSION = 1

#: Forward statuses whose changes the summary names explicitly.
SAVED = "saved"
RECOMPUTED = "recomputed"


@dataclass(frozen=True)
class AnalysisInfo:
    """One input analysis: a `label` (file name or "A", "B", …), what produced it, and its totals.

    `saved_activation_bytes` and `recompute_flops` are the analysis summary's totals;
    `peak_bytes` is the peak from the document's memory figures, `None` when it has none.
    """

    label: str
    snippet_name: str
    snippet_sha256: str
    torch_version: str
    device: str
    settings: dict[str, Any]
    node_count: int
    saved_activation_bytes: int
    recompute_flops: int
    peak_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "snippet_name": self.snippet_name,
            "snippet_sha256": self.snippet_sha256,
            "torch_version": self.torch_version,
            "device": self.device,
            "settings": dict(sorted(self.settings.items())),
            "node_count": self.node_count,
            "saved_activation_bytes": self.saved_activation_bytes,
            "recompute_flops": self.recompute_flops,
            "peak_bytes": self.peak_bytes,
        }


@dataclass(frozen=True)
class NodeState:
    """One forward node as one analysis sees it.

    - `name`: its FX name in that analysis (names shift between analyses; the row key does not).
    - `status`: `saved` / `recomputed` / `forward_only` / `parameter` / `input`, or `unused` for a
      joint-graph forward node the partitioner dropped.
    - `policy`, `requested_policy`: the checkpoint tags (see `ir.Node`).
    - `bytes`: the node's value size; `saved_activation_bytes`: what saving it costs — the bytes of
      its storage when it is the root of a saved activation, view or RNG state (so per-node
      figures add up to the analysis' `saved_activation_bytes`), else 0.
    - `recompute_flops`: FLOPs of the backward ops recomputing it (adds up to the analysis'
      `recompute_flops`).
    """

    name: str
    status: str
    policy: str | None
    requested_policy: str | None
    bytes: int
    saved_activation_bytes: int = 0
    recompute_flops: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "policy": self.policy,
            "requested_policy": self.requested_policy,
            "bytes": self.bytes,
            "saved_activation_bytes": self.saved_activation_bytes,
            "recompute_flops": self.recompute_flops,
        }

    def same_fate(self, other: NodeState) -> bool:
        """Same status, policies and costs (the name may differ)."""
        return (self.status, self.policy, self.requested_policy, self.saved_activation_bytes,
                self.recompute_flops) == (other.status, other.policy, other.requested_policy,
                                          other.saved_activation_bytes, other.recompute_flops)


@dataclass(frozen=True)
class NodeRow:
    """One forward node matched across the analyses: a row of the N-way table.

    `key` is a readable id, unique in the diff, from the analysis that first has the node:
    `region|target|module|occurrence` (`occurrence` counts earlier nodes with the same target in
    the same canonical module), `region|param|<qualified name>` for parameters and
    `region|input|<occurrence>` for other inputs (`@<analysis>` is appended when a later
    analysis' new node would repeat a key). `module` is the canonical module path.
    `states[i]` is the node in analysis `i`, `None` where that analysis lacks it;
    `matched_by[i]` says which rule paired it with the node of analysis `i - 1` (`origin` in
    the analysis that started the row, `None` where it has no node): one of
    `match.MATCH_RULES` — `parameter`, `input`, `output`, `structure`, `getitem`,
    `rng_wrapper`, `consumer`, `fallback`.
    """

    key: str
    region: int
    op: str
    target: str
    module: str | None
    line: int | None
    states: tuple[NodeState | None, ...]
    matched_by: tuple[str | None, ...]

    def changed(self, base: int, other: int) -> bool:
        a, b = self.states[base], self.states[other]
        if a is None or b is None:
            return a is not b
        return not a.same_fate(b)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "region": self.region,
            "op": self.op,
            "target": self.target,
            "module": self.module,
            "line": self.line,
            "states": [s.to_dict() if s else None for s in self.states],
            "matched_by": list(self.matched_by),
        }


@dataclass(frozen=True)
class Moved:
    """Nodes that changed fate one way: how many and their value `bytes`."""

    count: int = 0
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "bytes": self.bytes}


#: a figure a comparison subtracts: a count of bytes or FLOPs, or the cost model's seconds
N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Delta(Generic[N]):
    """A figure in the base and the other analysis; `delta = after - before`."""

    before: N
    after: N

    @property
    def delta(self) -> N:
        return self.after - self.before

    def to_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "delta": self.delta}


@dataclass(frozen=True)
class ModuleChange:
    """The changes inside one module path (`(root)` for nodes outside any module).

    Counts cover matched nodes (`saved_to_recomputed`, `recomputed_to_saved`, every other
    status change in `other_status_changes`, `policy_changes`) and unmatched ones (`added_count`,
    `removed_count`); the deltas sum the per-node `saved_activation_bytes` / `recompute_flops`.
    """

    module: str
    saved_to_recomputed: Moved
    recomputed_to_saved: Moved
    other_status_changes: int
    policy_changes: int
    added_count: int
    removed_count: int
    saved_activation_bytes_delta: int
    recompute_flops_delta: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "saved_to_recomputed": self.saved_to_recomputed.to_dict(),
            "recomputed_to_saved": self.recomputed_to_saved.to_dict(),
            "other_status_changes": self.other_status_changes,
            "policy_changes": self.policy_changes,
            "added_count": self.added_count,
            "removed_count": self.removed_count,
            "saved_activation_bytes_delta": self.saved_activation_bytes_delta,
            "recompute_flops_delta": self.recompute_flops_delta,
        }


@dataclass(frozen=True)
class ComparisonSummary:
    """What changed from the base to the other analysis.

    `transitions` counts every status change of a matched node as `"from->to"` (sorted);
    `saved_activation_bytes` and `recompute_flops` are the analyses' totals; `peak_bytes` is
    `None` unless both documents carry memory figures; `recompute_time_s` (the cost model's
    estimate) is `None` unless both carry one, on the same device profile.
    """

    matched_count: int
    added_count: int
    removed_count: int
    saved_to_recomputed: Moved
    recomputed_to_saved: Moved
    transitions: dict[str, int]
    policy_changes: int
    saved_activation_bytes: Delta[int]
    recompute_flops: Delta[int]
    peak_bytes: Delta[int] | None
    recompute_time_s: Delta[float] | None = None

    def is_empty(self) -> bool:
        return not (self.added_count or self.removed_count or self.transitions
                    or self.policy_changes or self.saved_activation_bytes.delta
                    or self.recompute_flops.delta
                    or (self.peak_bytes is not None and self.peak_bytes.delta))

    def to_dict(self) -> dict[str, Any]:
        return {
            "matched_count": self.matched_count,
            "added_count": self.added_count,
            "removed_count": self.removed_count,
            "saved_to_recomputed": self.saved_to_recomputed.to_dict(),
            "recomputed_to_saved": self.recomputed_to_saved.to_dict(),
            "transitions": dict(sorted(self.transitions.items())),
            "policy_changes": self.policy_changes,
            "saved_activation_bytes": self.saved_activation_bytes.to_dict(),
            "recompute_flops": self.recompute_flops.to_dict(),
            "recompute_time_s": self.recompute_time_s.to_dict() if self.recompute_time_s
            else None,
            "peak_bytes": self.peak_bytes.to_dict() if self.peak_bytes else None,
        }


@dataclass(frozen=True)
class RegionChange:
    """Per compiled region: saved-activation bytes, recompute FLOPs and peak (when known)."""

    region: int
    saved_activation_bytes: Delta[int]
    recompute_flops: Delta[int]
    peak_bytes: Delta[int] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "saved_activation_bytes": self.saved_activation_bytes.to_dict(),
            "recompute_flops": self.recompute_flops.to_dict(),
            "peak_bytes": self.peak_bytes.to_dict() if self.peak_bytes else None,
        }


@dataclass(frozen=True)
class Comparison:
    """Analysis `base` against analysis `other` (positions in the input list).

    `changed` lists the keys of rows that differ (status, policy, costs, added or removed) in
    table order; `modules` the per-module rollup of modules with a change, in module order.
    `groups` counts the changed rows inside each module group, its submodules included
    (`blocks` counts every change in `blocks.0`, `blocks.1`, …; `(root)` counts them all), so a
    collapsed group of the graph can say how many changes it hides. `matched_by` counts the
    other analysis' matched nodes by the rule that matched them.
    """

    base: int
    other: int
    summary: ComparisonSummary
    modules: tuple[ModuleChange, ...]
    regions: tuple[RegionChange, ...]
    changed: tuple[str, ...]
    groups: dict[str, int] = field(default_factory=dict)
    matched_by: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "other": self.other,
            "summary": self.summary.to_dict(),
            "modules": [m.to_dict() for m in self.modules],
            "regions": [r.to_dict() for r in self.regions],
            "changed": list(self.changed),
            "groups": dict(self.groups),
            "matched_by": dict(sorted(self.matched_by.items())),
        }


@dataclass(frozen=True)
class GraphDiff:
    """A diff of two or more analyses.

    `analyses` describes the inputs in order; `rows` is the N-way table of forward nodes
    (region, then the order the first analysis holding a node has it); `comparisons` compares
    each analysis with the one before it (0→1, 1→2, …), so a sweep reads step by step.
    """

    analyses: tuple[AnalysisInfo, ...]
    rows: tuple[NodeRow, ...]
    comparisons: tuple[Comparison, ...]
    schema_version: int = DIFF_SCHEMA_VERSION

    @cached_property
    def _by_key(self) -> dict[str, NodeRow]:
        return {r.key: r for r in self.rows}

    def row(self, key: str) -> NodeRow:
        """The row with this key (`KeyError` if there is none)."""
        return self._by_key[key]

    def is_empty(self) -> bool:
        """True when no comparison shows any change."""
        return all(c.summary.is_empty() and not c.changed for c in self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": "ckptscope.diff",
            "analyses": [a.to_dict() for a in self.analyses],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "rows": [r.to_dict() for r in self.rows],
        }
