"""Module rollups (saved and recomputed bytes per `nn.Module` path) and repeated-layer detection.

A node counts toward its own module and every ancestor, so the UI's collapsible hierarchy can
show a subtree's totals at any level; `""` is the model itself. Repeated layers: children of a
container that are numbered (`blocks.0`, `blocks.1`, …) are compared by the sequence of their
forward ops with shapes and statuses; `blocks.1–11 identical; blocks.0 differs`. A container
is reported when at least half of its numbered children (two or more) are alike.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..ir import Analysis, Region
from .ledgers import recompute_ledger, saved_ledger


@dataclass(frozen=True)
class ModuleRollup:
    """Totals for one module path and its submodules (`depth` 0 is the model)."""

    module: str
    depth: int
    forward_ops: int
    saved_count: int
    saved_bytes: int
    recompute_count: int
    recompute_bytes: int
    recompute_flops: int
    recompute_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RepeatedLayers:
    """Numbered children of `container`, grouped by identical structure and classification:
    `groups` lists each group's indices (the largest group first); `text` says it in words."""

    container: str
    groups: tuple[tuple[int, ...], ...]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"container": self.container, "groups": [list(g) for g in self.groups],
                "text": self.text}


def _ancestors(path: str | None) -> list[str]:
    if not path:
        return [""]
    parts = path.split(".")
    return ["", *(".".join(parts[: i + 1]) for i in range(len(parts)))]


def _regions(source: Analysis | dict[str, Any]) -> tuple[Region, ...]:
    if isinstance(source, Analysis):
        return source.regions
    return tuple(Region.from_dict(r) for r in source["regions"])


def module_rollup(source: Analysis | dict[str, Any]) -> tuple[ModuleRollup, ...]:
    """Per-module totals, sorted by path (a parent before its children)."""
    analysis = source if isinstance(source, Analysis) else Analysis.from_dict(source)
    acc: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
    time_s: dict[str, float] = defaultdict(float)
    for region in analysis.regions:
        for n in region.graphs["forward"].nodes:
            if n.op == "call_function":
                for m in _ancestors(n.module):
                    acc[m][0] += 1
    for e in saved_ledger(analysis).activations:
        for m in _ancestors(e.module):
            acc[m][1] += 1
            acc[m][2] += e.cost_bytes
    for r in recompute_ledger(analysis).entries:
        for m in _ancestors(r.module):
            acc[m][3] += 1
            acc[m][4] += 0 if r.is_view else r.bytes
            acc[m][5] += r.flops
            time_s[m] += r.time_s
    return tuple(
        ModuleRollup(module=m, depth=len(m.split(".")) if m else 0, forward_ops=v[0],
                     saved_count=v[1], saved_bytes=v[2], recompute_count=v[3],
                     recompute_bytes=v[4], recompute_flops=v[5], recompute_time_s=time_s[m])
        for m, v in sorted(acc.items(), key=lambda kv: _path_key(kv[0]))
    )


def _path_key(path: str) -> tuple[tuple[int, int | str], ...]:
    """Sort `blocks.2` before `blocks.10`."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in path.split(".")) if path else ()


def _signatures(region: Region) -> dict[str, dict[int, list[tuple[Any, ...]]]]:
    """container -> child index -> the child's forward ops (relative module, op, shape, status)."""
    out: dict[str, dict[int, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
    for n in region.graphs["forward"].nodes:
        if n.op != "call_function" or not n.module:
            continue
        parts = n.module.split(".")
        for i, part in enumerate(parts):
            if part.isdigit():
                container = ".".join(parts[:i])
                rel = ".".join(parts[i + 1 :])
                out[container][int(part)].append((rel, n.target, n.shape, n.status))
    return out


def _ranges(indices: tuple[int, ...], container: str) -> str:
    spans: list[list[int]] = []
    for i in indices:
        if spans and spans[-1][1] == i - 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    prefix = f"{container}." if container else ""
    return ", ".join(f"{prefix}{a}" if a == b else f"{prefix}{a}–{b}" for a, b in spans)


def repeated_layers(source: Analysis | dict[str, Any]) -> tuple[RepeatedLayers, ...]:
    """Every container whose numbered children are mostly alike, in path order."""
    merged: dict[str, dict[int, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
    for region in _regions(source):
        for container, children in _signatures(region).items():
            for index, sig in children.items():
                merged[container][index].append((region.index, tuple(sig)))
    out = []
    for container in sorted(merged, key=_path_key):
        children = merged[container]
        if len(children) < 2:
            continue
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index in sorted(children):
            groups.setdefault(tuple(children[index]), []).append(index)
        ordered = sorted((tuple(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))
        main, rest = ordered[0], ordered[1:]
        # a stack of repeated layers has a majority alike; a Sequential of mixed layers has not
        if len(main) < 2 or 2 * len(main) < len(children):
            continue
        text = f"{_ranges(main, container)} identical"
        if rest:
            others = [_ranges(g, container) for g in rest]
            verb = "differs" if len(rest) == 1 and len(rest[0]) == 1 else "differ"
            text += f"; {'; '.join(others)} {verb}"
        out.append(RepeatedLayers(container=container, groups=tuple(ordered), text=text))
    return tuple(out)
