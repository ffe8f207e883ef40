"""Match forward nodes across analyses into the rows of an N-way table (pure, deterministic).

Two passes per analysis, against the rows built from the analyses before it:

1. **stable key** — region, op target, module path, source line and occurrence order among nodes
   sharing those (`region|param|<name>` for parameters, `region|input|<k>` for inputs). FX names
   are left out on purpose: they renumber whenever an op is added anywhere before.
2. **structure**, in topological order, for what pass 1 left: the same target reading the same
   rows (the already-matched inputs). This follows nodes whose module path or line shifted (an
   edited snippet) while the computation stayed the same.

Whatever still has no partner starts a new row (added); rows an analysis has no node for are
removed in it. Nodes are only matched within the same region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .inputs import ForwardNode

#: `(region, target, rows of the inputs)`
_Structure = tuple[int, str, tuple[int, ...]]


@dataclass
class MatchedRow:
    """A row while it is being built: `nodes[i]` / `how[i]` as in `model.NodeRow`."""

    key: str
    first: ForwardNode
    nodes: list[ForwardNode | None]
    how: list[str | None]
    order: tuple[int, ...] = field(default=())


def stable_keys(nodes: Sequence[ForwardNode]) -> list[str]:
    """Each node's stable key; unique within one analysis."""
    seen: dict[tuple[object, ...], int] = {}
    keys = []
    for n in nodes:
        if n.op == "placeholder" and n.param:
            keys.append(f"{n.region}|param|{n.param}")
            continue
        group: tuple[object, ...] = (
            (n.region, "input") if n.op == "placeholder"
            else (n.region, n.target, n.module or "", n.line if n.line is not None else "")
        )
        occurrence = seen.get(group, 0)
        seen[group] = occurrence + 1
        keys.append("|".join(map(str, (*group, occurrence))))
    return keys


def match(analyses: Sequence[Sequence[ForwardNode]]) -> list[MatchedRow]:
    """Rows in table order: by region, then where the first analysis holding a node has it
    (a node new in a later analysis sits right after the row of its predecessor there)."""
    count = len(analyses)
    rows: list[MatchedRow] = []
    by_key: dict[str, int] = {}
    by_structure: dict[_Structure, list[int]] = {}
    for i, nodes in enumerate(analyses):
        keys = stable_keys(nodes)
        row_of: dict[tuple[int, str], int] = {}
        for node, key in zip(nodes, keys, strict=True):
            r = by_key.get(key)
            if r is not None:
                _claim(rows[r], i, node, "key")
                row_of[(node.region, node.name)] = r
        previous: dict[int, int] = {}  # region -> row of the previous node in this analysis
        for position, (node, key) in enumerate(zip(nodes, keys, strict=True)):
            here = (node.region, node.name)
            structure = _structure(node, row_of)
            if here not in row_of:
                r = _structural_partner(node, structure, by_structure, rows, i)
                if r is None:
                    r = len(rows)
                    rows.append(MatchedRow(key=key, first=node, nodes=[None] * count,
                                           how=[None] * count,
                                           order=_order(rows, previous, node, i, position)))
                    by_key[key] = r
                    if structure is not None:
                        by_structure.setdefault(structure, []).append(r)
                    _claim(rows[r], i, node, "key")
                else:
                    _claim(rows[r], i, node, "structure")
                row_of[here] = r
            previous[node.region] = row_of[here]
    return sorted(rows, key=lambda row: row.order)


def _order(
    rows: list[MatchedRow], previous: dict[int, int], node: ForwardNode, analysis: int,
    position: int,
) -> tuple[int, ...]:
    """Sort key of a new row: tuples compare element-wise and a prefix sorts first, so a row
    ordered `(*predecessor, analysis, position)` lands right after its predecessor's row."""
    if analysis == 0:
        return (node.region, position)
    after = rows[previous[node.region]].order if node.region in previous else (node.region, -1)
    return (*after, analysis, position)


def _structure(node: ForwardNode, row_of: dict[tuple[int, str], int]) -> _Structure | None:
    """The node's structural key, or None when it cannot be matched by structure."""
    if node.op == "placeholder":
        return None
    inputs = []
    for name in node.inputs:
        r = row_of.get((node.region, name))
        if r is None:
            return None
        inputs.append(r)
    return (node.region, node.target, tuple(inputs))


def _structural_partner(
    node: ForwardNode, structure: _Structure | None,
    by_structure: dict[_Structure, list[int]], rows: list[MatchedRow], analysis: int,
) -> int | None:
    if structure is None:
        return None
    return next((r for r in by_structure.get(structure, ()) if rows[r].nodes[analysis] is None),
                None)


def _claim(row: MatchedRow, analysis: int, node: ForwardNode, how: str) -> None:
    row.nodes[analysis] = node
    row.how[analysis] = how
