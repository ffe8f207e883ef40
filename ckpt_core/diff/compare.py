"""`diff(analyses)`: match the analyses' forward nodes and compare each with the one before it."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..ir import Analysis
from .inputs import (
    DiffInputError,
    ForwardNode,
    as_document,
    forward_nodes,
    peak_bytes,
    region_peak_bytes,
    summary_total,
)
from .match import MatchedRow, match
from .model import (
    RECOMPUTED,
    SAVED,
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

ROOT_MODULE = "(root)"


def diff(
    analyses: Sequence[Analysis | Mapping[str, Any]], labels: Sequence[str] | None = None
) -> GraphDiff:
    """Diff two or more analyses (`Analysis` objects or their dicts), in the order given.

    `labels` name the analyses in reports (default "A", "B", …). Pure and deterministic: the
    same inputs give the same `GraphDiff`. Raises `DiffInputError` for fewer than two inputs or
    a document that is not a diffable analysis.
    """
    if isinstance(analyses, Mapping | Analysis) or len(analyses) < 2:
        raise DiffInputError("diff needs a list of at least two analyses")
    if labels is None:
        labels = [default_label(i) for i in range(len(analyses))]
    elif len(labels) != len(analyses):
        raise DiffInputError(f"{len(labels)} label(s) for {len(analyses)} analyses")
    where = [f"analysis {label}" for label in labels]
    docs = [as_document(a, w) for w, a in zip(where, analyses, strict=True)]
    nodes = [forward_nodes(doc, w) for w, doc in zip(where, docs, strict=True)]
    rows = tuple(_row(r) for r in match(nodes))
    infos = tuple(_info(label, doc, ns) for label, doc, ns in zip(labels, docs, nodes, strict=True))
    comparisons = tuple(
        _compare(rows, docs, infos, base, base + 1) for base in range(len(docs) - 1)
    )
    return GraphDiff(analyses=infos, rows=rows, comparisons=comparisons)


def default_label(position: int) -> str:
    letters = string.ascii_uppercase
    return letters[position] if position < len(letters) else f"#{position + 1}"


def module_sort_key(module: str) -> tuple[Any, ...]:
    """Natural order (`blocks.2` before `blocks.10`), the root first."""
    if module == ROOT_MODULE:
        return ((0, ""),)
    return tuple((1, int(p)) if p.isdigit() else (2, p) for p in re.split(r"\.", module))


def _row(m: MatchedRow) -> NodeRow:
    return NodeRow(
        key=m.key,
        region=m.first.region,
        op=m.first.op,
        target=m.first.target,
        module=m.first.module,
        line=m.first.line,
        states=tuple(_state(n) if n else None for n in m.nodes),
        matched_by=tuple(m.how),
    )


def _state(n: ForwardNode) -> NodeState:
    return NodeState(
        name=n.name,
        status=n.status,
        policy=n.policy,
        requested_policy=n.requested_policy,
        bytes=n.bytes,
        saved_activation_bytes=n.saved_activation_bytes,
        recompute_flops=n.recompute_flops,
    )


def _info(label: str, doc: Mapping[str, Any], nodes: list[ForwardNode]) -> AnalysisInfo:
    return AnalysisInfo(
        label=label,
        snippet_name=str(doc.get("snippet_name", "")),
        snippet_sha256=str(doc.get("snippet_sha256", "")),
        torch_version=str(doc.get("torch_version", "")),
        device=str(doc.get("device", "")),
        settings=dict(doc.get("settings") or {}),
        node_count=len(nodes),
        saved_activation_bytes=summary_total(doc, "saved_activation_bytes", nodes),
        recompute_flops=summary_total(doc, "recompute_flops", nodes),
        peak_bytes=peak_bytes(doc),
    )


class _Tally:
    """Counters for one module (or the whole comparison)."""

    def __init__(self) -> None:
        self.to_recomputed = [0, 0]
        self.to_saved = [0, 0]
        self.other_status_changes = 0
        self.policy_changes = 0
        self.added = 0
        self.removed = 0
        self.saved_bytes_delta = 0
        self.flops_delta = 0
        self.transitions: Counter[str] = Counter()

    def add(self, a: NodeState | None, b: NodeState | None) -> None:
        self.saved_bytes_delta += (b.saved_activation_bytes if b else 0) - (
            a.saved_activation_bytes if a else 0)
        self.flops_delta += (b.recompute_flops if b else 0) - (a.recompute_flops if a else 0)
        if a is None:
            self.added += 1
            return
        if b is None:
            self.removed += 1
            return
        if (a.policy, a.requested_policy) != (b.policy, b.requested_policy):
            self.policy_changes += 1
        if a.status == b.status:
            return
        self.transitions[f"{a.status}->{b.status}"] += 1
        if (a.status, b.status) == (SAVED, RECOMPUTED):
            self.to_recomputed[0] += 1
            self.to_recomputed[1] += a.bytes
        elif (a.status, b.status) == (RECOMPUTED, SAVED):
            self.to_saved[0] += 1
            self.to_saved[1] += b.bytes
        else:
            self.other_status_changes += 1

    def module_change(self, module: str) -> ModuleChange:
        return ModuleChange(
            module=module,
            saved_to_recomputed=Moved(*self.to_recomputed),
            recomputed_to_saved=Moved(*self.to_saved),
            other_status_changes=self.other_status_changes,
            policy_changes=self.policy_changes,
            added_count=self.added,
            removed_count=self.removed,
            saved_activation_bytes_delta=self.saved_bytes_delta,
            recompute_flops_delta=self.flops_delta,
        )


def _compare(
    rows: Sequence[NodeRow], docs: Sequence[Mapping[str, Any]],
    infos: Sequence[AnalysisInfo], base: int, other: int,
) -> Comparison:
    total = _Tally()
    modules: dict[str, _Tally] = {}
    groups: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    changed: list[str] = []
    matched = 0
    for row in rows:
        a, b = row.states[base], row.states[other]
        if a is None and b is None:
            continue
        if a is not None and b is not None:
            matched += 1
            rules[row.matched_by[other] or "origin"] += 1
        if not row.changed(base, other):
            continue
        changed.append(row.key)
        total.add(a, b)
        modules.setdefault(row.module or ROOT_MODULE, _Tally()).add(a, b)
        for group in _groups(row.module):
            groups[group] += 1
    before, after = infos[base], infos[other]
    peak = (Delta(before.peak_bytes, after.peak_bytes)
            if before.peak_bytes is not None and after.peak_bytes is not None else None)
    summary = ComparisonSummary(
        matched_count=matched,
        added_count=total.added,
        removed_count=total.removed,
        saved_to_recomputed=Moved(*total.to_recomputed),
        recomputed_to_saved=Moved(*total.to_saved),
        transitions=dict(sorted(total.transitions.items())),
        policy_changes=total.policy_changes,
        saved_activation_bytes=Delta(before.saved_activation_bytes, after.saved_activation_bytes),
        recompute_flops=Delta(before.recompute_flops, after.recompute_flops),
        peak_bytes=peak,
        recompute_time_s=_time_delta(docs[base], docs[other]),
    )
    return Comparison(
        base=base,
        other=other,
        summary=summary,
        modules=tuple(modules[m].module_change(m)
                      for m in sorted(modules, key=module_sort_key)),
        regions=_region_changes(rows, docs, base, other),
        changed=tuple(changed),
        groups={g: groups[g] for g in sorted(groups, key=module_sort_key)},
        matched_by=dict(rules),
    )


def _time_delta(a: Mapping[str, Any], b: Mapping[str, Any]) -> Delta[float] | None:
    """Δ estimated recompute time, when both documents were costed on the same profile."""
    sa, sb = a.get("summary") or {}, b.get("summary") or {}
    ta, tb = sa.get("recompute_time_s"), sb.get("recompute_time_s")
    if not isinstance(ta, float | int) or not isinstance(tb, float | int):
        return None
    if sa.get("cost_profile") != sb.get("cost_profile"):
        return None
    return Delta(float(ta), float(tb))


def _groups(module: str | None) -> list[str]:
    """The root and every module group containing `module` (`blocks`, `blocks.0`, …)."""
    parts = module.split(".") if module else []
    return [ROOT_MODULE] + [".".join(parts[: k + 1]) for k in range(len(parts))]


def _region_changes(
    rows: Sequence[NodeRow], docs: Sequence[Mapping[str, Any]], base: int, other: int
) -> tuple[RegionChange, ...]:
    saved: dict[int, list[int]] = {}
    flops: dict[int, list[int]] = {}
    for row in rows:
        for side, state in enumerate((row.states[base], row.states[other])):
            if state is not None:
                saved.setdefault(row.region, [0, 0])[side] += state.saved_activation_bytes
                flops.setdefault(row.region, [0, 0])[side] += state.recompute_flops
    out = []
    for region in sorted(saved):
        peaks = (region_peak_bytes(docs[base], region), region_peak_bytes(docs[other], region))
        out.append(RegionChange(
            region=region,
            saved_activation_bytes=Delta(*saved[region]),
            recompute_flops=Delta(*flops[region]),
            peak_bytes=Delta(peaks[0], peaks[1])
            if peaks[0] is not None and peaks[1] is not None else None,
        ))
    return tuple(out)


__all__ = ["DiffInputError", "default_label", "diff", "module_sort_key"]
