"""Match forward nodes across analyses into the rows of an N-way table (pure, deterministic).

Each analysis is matched against the rows built from the analyses before it, with two keys:

- **stable key** — region, op target, module path, source line and occurrence order among nodes
  sharing those (`region|param|<name>` for parameters, `region|input|<k>` for inputs). FX names
  are left out on purpose: they renumber whenever an op is added anywhere before.
- **structure** — region, target and the rows of the node's inputs (so it is known once the
  inputs are matched). It follows nodes whose module path or line shifted (an edited snippet)
  while the computation stayed the same.

In order of trust, swept in topological order until nothing changes: both keys agree; the
structure alone, unless the row's own stable key is still wanted by an unmatched node here (in
model v2 an extra block's first op reads what `ln_f` read in v1, yet `ln_f` is still there);
then the stable key alone (a node whose inputs changed, like `ln_f` reading the new block).
Whatever still has no partner starts a new row (added); rows an analysis has no node for are
removed in it. Nodes are only matched within the same region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .inputs import ForwardNode

#: `(region, target, rows of the inputs)`
Structure = tuple[int, str, tuple[int, ...]]


@dataclass
class MatchedRow:
    """A row while it is being built: `nodes[i]` / `how[i]` as in `model.NodeRow`; `structure`
    as seen by the analysis that created it."""

    key: str
    first: ForwardNode
    nodes: list[ForwardNode | None]
    how: list[str | None]
    structure: Structure | None = None
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


class _Matcher:
    """Matches one analysis (`analysis` is its position) against the rows so far."""

    def __init__(self, rows: list[MatchedRow], by_key: dict[str, int],
                 by_structure: dict[Structure, list[int]], nodes: Sequence[ForwardNode],
                 analysis: int, count: int):
        self.rows, self.by_key, self.by_structure = rows, by_key, by_structure
        self.nodes, self.analysis, self.count = nodes, analysis, count
        self.keys = stable_keys(nodes)
        self.holder = {key: i for i, key in enumerate(self.keys)}
        self.row_of: list[int | None] = [None] * len(nodes)
        self.index = {(n.region, n.name): i for i, n in enumerate(nodes)}

    def run(self) -> None:
        while True:
            while self._sweep():
                pass
            if not self._key_only():
                break
        self._add_rest()

    def structure(self, i: int) -> Structure | None:
        """The node's structural key, or None while an input is unmatched (or for inputs)."""
        node = self.nodes[i]
        if node.op == "placeholder":
            return None
        inputs = []
        for name in node.inputs:
            j = self.index.get((node.region, name))
            r = self.row_of[j] if j is not None else None
            if r is None:
                return None
            inputs.append(r)
        return (node.region, node.target, tuple(inputs))

    def _free(self, r: int) -> bool:
        return self.rows[r].nodes[self.analysis] is None

    def _sweep(self) -> int:
        matched = 0
        for i in range(len(self.nodes)):
            if self.row_of[i] is not None:
                continue
            structure = self.structure(i)
            k = self.by_key.get(self.keys[i])
            if k is not None and self._free(k) and (
                self.nodes[i].op == "placeholder" or self.rows[k].structure == structure
            ):
                self._claim(i, k, "key")
                matched += 1
                continue
            if structure is None:
                continue
            for r in self.by_structure.get(structure, ()):
                holder = self.holder.get(self.rows[r].key)
                if self._free(r) and (holder is None or self.row_of[holder] is not None):
                    self._claim(i, r, "structure")
                    matched += 1
                    break
        return matched

    def _key_only(self) -> int:
        matched = 0
        for i in range(len(self.nodes)):
            k = self.by_key.get(self.keys[i])
            if self.row_of[i] is None and k is not None and self._free(k):
                self._claim(i, k, "key")
                matched += 1
        return matched

    def _add_rest(self) -> None:
        previous: dict[int, int] = {}  # region -> row of the previous node in this analysis
        for i, node in enumerate(self.nodes):
            if self.row_of[i] is None:
                r = len(self.rows)
                structure = self.structure(i)
                # a row matched by structure may already own this key: keep row keys unique
                key = self.keys[i] if self.keys[i] not in self.by_key else (
                    f"{self.keys[i]}@{self.analysis}")
                self.rows.append(MatchedRow(
                    key=key, first=node, nodes=[None] * self.count,
                    how=[None] * self.count, structure=structure,
                    order=self._order(previous, node, i)))
                self.by_key[key] = r
                if structure is not None:
                    self.by_structure.setdefault(structure, []).append(r)
                self._claim(i, r, "key")
            r_here = self.row_of[i]
            assert r_here is not None
            previous[node.region] = r_here

    def _order(self, previous: dict[int, int], node: ForwardNode, i: int) -> tuple[int, ...]:
        """Sort key of a new row: tuples compare element-wise and a prefix sorts first, so a
        row ordered `(*predecessor, analysis, position)` lands right after its predecessor."""
        if self.analysis == 0:
            return (node.region, i)
        after = (self.rows[previous[node.region]].order if node.region in previous
                 else (node.region, -1))
        return (*after, self.analysis, i)

    def _claim(self, i: int, r: int, how: str) -> None:
        self.row_of[i] = r
        self.rows[r].nodes[self.analysis] = self.nodes[i]
        self.rows[r].how[self.analysis] = how


def match(analyses: Sequence[Sequence[ForwardNode]]) -> list[MatchedRow]:
    """Rows in table order: by region, then where the first analysis holding a node has it
    (a node new in a later analysis sits right after the row of its predecessor there)."""
    rows: list[MatchedRow] = []
    by_key: dict[str, int] = {}
    by_structure: dict[Structure, list[int]] = {}
    for i, nodes in enumerate(analyses):
        _Matcher(rows, by_key, by_structure, nodes, i, len(analyses)).run()
    return sorted(rows, key=lambda row: row.order)
