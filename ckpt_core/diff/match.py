"""Match forward nodes across analyses by structure, into the rows of an N-way table (pure).

Identity is structure, not text: a node is the same node in two analyses when its op, its
canonical module path and its matched inputs agree. Source lines and FX names are not used
(they shift whenever anything is added before them). Each analysis is matched against the one
before it, by these rules, each named in `NodeRow.matched_by`:

- `parameter` — anchors: parameters and buffers with the same canonical name (module path +
  leaf; shapes may differ: a wider layer is the same parameter with new bytes).
- `input` — anchors: the graph's other inputs, by position.
- `structure` — propagation along edges, in topological order: a node whose inputs are all
  matched (or are parameter-only values such as a transposed weight, still unmatched) pairs
  with a node of the other analysis that has the same op, the same canonical module, and reads
  the partners of its matched inputs in the same argument positions. A different module is
  accepted only for a renamed one (the node's module does not exist in the other analysis and
  the candidate's does not exist in this one). Among several candidates the one in the same
  module wins, then the one with the same shape, then the earlier one (so siblings pair in
  order).
- `getitem` — the same, for the `getitem`s of a matched multi-output op (they pair in order).
- `rng_wrapper` — the same, where one side runs the op inside an RNG wrapper
  (`run_and_save_rng_state`, `graphsafe_run_with_rng_state`) and the other side runs the op
  itself, or wraps it differently: the wrapper is compared by the op it wraps.
- `consumer` — upward from a matched pair: inputs in the same argument position that are both
  still unmatched and run the same op (a renamed layer's weights, a constant, a seed).
- `output` — anchors: the model's own outputs, by position, when they run the same op; the
  `consumer` rule then walks up from them.
- `fallback` — what remains: same canonical module path and op, paired by order within that
  module.

Nodes are only matched within the same compiled region. A leading module segment only one
analysis has (`model.layers.0` against `layers.0`) is lined up first (`shared_root_offset`).
Whatever has no partner starts a new row (added); rows an analysis has no node for are removed
in it. A row that skips an analysis is not revived: each analysis is matched with its
predecessor only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..module_paths import shared_root_offset, strip_root
from .inputs import ForwardNode

#: Every value of `NodeRow.matched_by` and what it means (see the module docstring).
MATCH_RULES: dict[str, str] = {
    "origin": "the analysis whose node started the row",
    "parameter": "same parameter or buffer (canonical name)",
    "input": "same graph input (position)",
    "output": "same model output (position) and op",
    "structure": "same op reading the matched inputs",
    "getitem": "same output of a matched multi-output op",
    "rng_wrapper": "same op, run inside an RNG wrapper on one side",
    "consumer": "same op in the same argument position of a matched node",
    "fallback": "same module and op, in order within the module",
}


@dataclass
class MatchedRow:
    """A row while it is being built: `nodes[i]` / `how[i]` as in `model.NodeRow`."""

    key: str
    first: ForwardNode
    nodes: list[ForwardNode | None]
    how: list[str | None]
    order: tuple[int, ...] = field(default=())


def stable_keys(nodes: Sequence[ForwardNode]) -> list[str]:
    """A readable id per node, unique within one analysis: `region|param|<name>`,
    `region|input|<k>`, else `region|target|module|<occurrence>`."""
    seen: dict[tuple[object, ...], int] = {}
    keys = []
    for n in nodes:
        if n.op == "placeholder" and n.param:
            keys.append(f"{n.region}|param|{n.param}")
            continue
        group: tuple[object, ...] = (
            (n.region, "input") if n.op == "placeholder" else (n.region, n.target, n.module or ""))
        occurrence = seen.get(group, 0)
        seen[group] = occurrence + 1
        keys.append("|".join(map(str, (*group, occurrence))))
    return keys


def _op(n: ForwardNode) -> str:
    """The op compared: an RNG wrapper counts as the op it runs."""
    return n.wraps or n.target


class _Side:
    """One analysis' nodes with the graph structure the matcher walks."""

    def __init__(self, nodes: Sequence[ForwardNode], root_depth: int):
        self.nodes = nodes
        index = {(n.region, n.name): i for i, n in enumerate(nodes)}
        self.inputs: list[tuple[int, ...]] = [
            tuple(index[(n.region, name)] for name in n.inputs if (n.region, name) in index)
            for n in nodes]
        self.users: list[list[int]] = [[] for _ in nodes]
        for i, ins in enumerate(self.inputs):
            for j in dict.fromkeys(ins):
                self.users[j].append(i)
        self.module = [strip_root(n.module, root_depth) for n in nodes]
        self.modules = set(self.module)
        self.param = [strip_root(n.param, root_depth) for n in nodes]
        self.op = [_op(n) for n in nodes]
        # parameter-only values (a parameter, a constant, a transposed weight): they are
        # matched through their consumer, so they may still be unmatched when it is
        self.free = [False] * len(nodes)
        for i, n in enumerate(nodes):
            self.free[i] = (bool(n.param) if n.op == "placeholder"
                            else all(self.free[j] for j in self.inputs[i]))


class _PairMatcher:
    """Matches analysis `b` against analysis `a`: `partner[j]` is b's node j's partner in a."""

    def __init__(self, a: Sequence[ForwardNode], b: Sequence[ForwardNode]):
        depth_a, depth_b = shared_root_offset(_paths(a), _paths(b))
        self.a, self.b = _Side(a, depth_a), _Side(b, depth_b)
        self.a2b: dict[int, int] = {}
        self.partner: dict[int, int] = {}
        self.how: dict[int, str] = {}

    def run(self) -> None:
        self._anchors()
        while True:
            while self._propagate():
                pass
            if not (self._outputs() or self._fallback()):
                break

    # -- rules -------------------------------------------------------------------------------
    def _anchors(self) -> None:
        params: dict[tuple[int, str], int] = {}
        inputs: dict[tuple[int, int], int] = {}
        counts: dict[int, int] = {}
        for i, n in enumerate(self.a.nodes):
            if n.op != "placeholder":
                continue
            if self.a.param[i]:
                params.setdefault((n.region, self.a.param[i] or ""), i)
            else:
                k = counts.get(n.region, 0)
                counts[n.region] = k + 1
                inputs[(n.region, k)] = i
        counts.clear()
        for j, n in enumerate(self.b.nodes):
            if n.op != "placeholder":
                continue
            if self.b.param[j]:
                found = params.get((n.region, self.b.param[j] or ""))
                if found is not None:
                    self._pair(found, j, "parameter")
            else:
                k = counts.get(n.region, 0)
                counts[n.region] = k + 1
                found = inputs.get((n.region, k))
                if found is not None:
                    self._pair(found, j, "input")

    def _propagate(self) -> int:
        matched = 0
        a, b = self.a, self.b
        for i, n in enumerate(a.nodes):
            if i in self.a2b or n.op == "placeholder" or not a.inputs[i]:
                continue
            ins = a.inputs[i]
            anchor = next((x for x in ins if x in self.a2b), None)
            if anchor is None or not all(x in self.a2b or a.free[x] for x in ins):
                continue
            best: tuple[tuple[bool, bool, int], int] | None = None
            for j in b.users[self.a2b[anchor]]:
                if j in self.partner or b.op[j] != a.op[i] or b.nodes[j].region != n.region:
                    continue
                if not self._consistent(ins, b.inputs[j]) or not self._same_module(i, j):
                    continue
                rank = (b.module[j] != a.module[i], b.nodes[j].shape != n.shape, j)
                if best is None or rank < best[0]:
                    best = (rank, j)
            if best is None:
                continue
            j = best[1]
            rule = ("getitem" if n.target == "operator.getitem"
                    else "rng_wrapper" if b.nodes[j].target != n.target else "structure")
            self._pair(i, j, rule)
            matched += 1
        return matched

    def _same_module(self, i: int, j: int) -> bool:
        """Same canonical module, or a renamed one: a's module is gone from b and b's is new."""
        ma, mb = self.a.module[i], self.b.module[j]
        return ma == mb or (ma not in self.b.modules and mb not in self.a.modules)

    def _consistent(self, ins_a: tuple[int, ...], ins_b: tuple[int, ...]) -> bool:
        if len(ins_a) != len(ins_b):
            return False
        for x, y in zip(ins_a, ins_b, strict=True):
            if x in self.a2b:
                if self.a2b[x] != y:
                    return False
            elif y in self.partner or not self.b.free[y] or self.b.op[y] != self.a.op[x]:
                return False
        return True

    def _outputs(self) -> int:
        by_position: dict[tuple[int, int], int] = {
            (n.region, n.user_output): i for i, n in enumerate(self.a.nodes)
            if n.user_output is not None and i not in self.a2b}
        matched = 0
        for j, n in enumerate(self.b.nodes):
            if n.user_output is None or j in self.partner:
                continue
            i = by_position.get((n.region, n.user_output))
            if i is not None and self.a.op[i] == self.b.op[j]:
                self._pair(i, j, "output")
                matched += 1
        return matched

    def _fallback(self) -> int:
        """Pair leftovers by module, op and order. The frontier first (nodes whose inputs are
        matched, where structure found no partner), so what lies past it can still be matched by
        structure; everything else only when the frontier yields nothing."""
        return self._fallback_pass(frontier_only=True) or self._fallback_pass(frontier_only=False)

    def _fallback_pass(self, *, frontier_only: bool) -> int:
        pending: dict[tuple[object, ...], list[int]] = {}
        for i in range(len(self.a.nodes)):
            if i not in self.a2b and (not frontier_only or all(
                    x in self.a2b or self.a.free[x] for x in self.a.inputs[i])):
                pending.setdefault(self._fallback_key(self.a, i), []).append(i)
        matched = 0
        for j in range(len(self.b.nodes)):
            if j in self.partner:
                continue
            queue = pending.get(self._fallback_key(self.b, j))
            if queue:
                self._pair(queue.pop(0), j, "fallback")
                matched += 1
        return matched

    @staticmethod
    def _fallback_key(side: _Side, i: int) -> tuple[object, ...]:
        n = side.nodes[i]
        if n.op == "placeholder":
            # a parameter of a renamed layer: same owner position is unknowable, same shape is not
            return (n.region, "placeholder", bool(n.param), n.shape)
        return (n.region, side.module[i], side.op[i])

    def _pair(self, i: int, j: int, rule: str) -> None:
        """Pair a's node i with b's node j, then walk up through inputs both leave unmatched."""
        stack = [(i, j, rule)]
        while stack:
            i, j, rule = stack.pop()
            if i in self.a2b or j in self.partner:
                continue
            self.a2b[i], self.partner[j], self.how[j] = j, i, rule
            ins_a, ins_b = self.a.inputs[i], self.b.inputs[j]
            if len(ins_a) != len(ins_b):
                continue
            for x, y in zip(ins_a, ins_b, strict=True):
                if (x not in self.a2b and y not in self.partner and self.a.op[x] == self.b.op[y]
                        and self.a.nodes[x].region == self.b.nodes[y].region
                        and bool(self.a.nodes[x].param) == bool(self.b.nodes[y].param)
                        and len(self.a.inputs[x]) == len(self.b.inputs[y])):
                    stack.append((x, y, "consumer"))


def _paths(nodes: Sequence[ForwardNode]) -> set[str]:
    out: set[str] = set()
    for n in nodes:
        if n.module:
            out.add(n.module)
        if n.param:
            out.add(n.param.rpartition(".")[0] or n.param)
    return out


def match_pair(a: Sequence[ForwardNode], b: Sequence[ForwardNode]) -> dict[int, tuple[int, str]]:
    """For each node of `b` that has a partner in `a`: its position → (partner's position, rule)."""
    matcher = _PairMatcher(a, b)
    matcher.run()
    return {j: (i, matcher.how[j]) for j, i in matcher.partner.items()}


def match(analyses: Sequence[Sequence[ForwardNode]]) -> list[MatchedRow]:
    """Rows in table order: by region, then where the first analysis holding a node has it
    (a node new in a later analysis sits right after the row of its predecessor there)."""
    rows: list[MatchedRow] = []
    count = len(analyses)
    taken: set[str] = set()
    previous_rows: list[int] = []
    for k, nodes in enumerate(analyses):
        pairs = match_pair(analyses[k - 1], nodes) if k else {}
        keys = stable_keys(nodes)
        row_of: list[int] = []
        last_row: dict[int, int] = {}  # region -> row of the previous node in this analysis
        for j, node in enumerate(nodes):
            if j in pairs:
                i, rule = pairs[j]
                r = previous_rows[i]
                rows[r].nodes[k], rows[r].how[k] = node, rule
            else:
                r = len(rows)
                key = keys[j] if keys[j] not in taken else f"{keys[j]}@{k}"
                taken.add(key)
                if k == 0:
                    order: tuple[int, ...] = (node.region, j)
                else:
                    after = (rows[last_row[node.region]].order if node.region in last_row
                             else (node.region, -1))
                    order = (*after, k, j)
                row = MatchedRow(key=key, first=node, nodes=[None] * count, how=[None] * count,
                                 order=order)
                row.nodes[k], row.how[k] = node, "origin"
                rows.append(row)
            row_of.append(r)
            last_row[node.region] = r
        previous_rows = row_of
    return sorted(rows, key=lambda row: row.order)
