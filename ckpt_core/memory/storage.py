"""The storage model behind the timeline: which storages each value holds and when each dies.

One step per node: the forward graph's nodes in order, then the backward graph's. A value is
alive from its step to its last use in its own graph; a storage is alive while any value that
references it is. The rules, chosen to match what an eager run of the captured graphs does:

- a view (`view_of`, from the op's schema) and an op that aliases at run time (`_unsafe_view`,
  in-place ops returning their first argument) share their input's storage;
- an op that returns several tensors owns one storage per `operator.getitem` that reads it
  (plus one for whatever no getitem reads); the tuple keeps them all alive until its last
  getitem has run, each getitem keeps its own afterwards;
- graph inputs and parameters live for the whole region; the forward's user outputs stay
  alive to the end; saved values live from where the forward makes them to their last use in
  the backward; tangents exist from the backward's start; gradients (backward outputs) stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..ir import Graph, Node, Region

#: Categories of live bytes, in stacking order.
CATEGORIES: tuple[str, ...] = (
    "inputs", "saved", "forward_temp", "backward_temp", "gradients", "outputs",
)


@dataclass(frozen=True)
class Storage:
    """One allocation: `id` is `<graph>:<node>` (or `<graph>:<node>#rest` for tuple elements no
    getitem reads), `owner` the node that allocates it, alive on steps `first_step..last_step`."""

    id: str
    owner: str
    graph: str
    bytes: int
    category: str
    first_step: int
    last_step: int


@dataclass(frozen=True)
class StepNode:
    """The node executed at one step."""

    graph: str
    node: Node


@dataclass(frozen=True)
class StoragePlan:
    """Steps and storages of one region; `forward_steps` is the index of the first backward step."""

    steps: tuple[StepNode, ...]
    storages: tuple[Storage, ...]
    forward_steps: int


def is_runtime_alias(node: Node) -> bool:
    """Ops whose schema declares no view but whose result shares its first input's storage."""
    parts = node.target.split(".")
    if len(parts) < 2 or parts[0] != "aten":
        return False
    name = parts[1]
    return name == "_unsafe_view" or (name.endswith("_") and not name.startswith("__"))


class _Builder:
    def __init__(self, total_steps: int):
        self.total_steps = total_steps
        self.refs: dict[tuple[str, str], tuple[str, ...]] = {}
        self.span: dict[str, list[int]] = {}
        self.meta: dict[str, tuple[str, str, int]] = {}  # id -> (owner, graph, bytes)

    def new(self, sid: str, owner: str, graph: str, nbytes: int) -> str:
        self.meta[sid] = (owner, graph, nbytes)
        return sid

    def hold(self, refs: Sequence[str], start: int, end: int) -> None:
        for sid in refs:
            span = self.span.setdefault(sid, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)

    def extend(self, refs: Sequence[str], end: int) -> None:
        """Keep already-alive storages alive until `end` (someone outside the graph holds them)."""
        for sid in refs:
            if sid in self.span:
                self.span[sid][1] = max(self.span[sid][1], end)


def _last_uses(graph: Graph) -> dict[str, int]:
    last: dict[str, int] = {}
    for i, n in enumerate(graph.nodes):
        for name in n.inputs:
            last[name] = i
    return last


def _getitem_children(graph: Graph) -> dict[str, list[Node]]:
    children: dict[str, list[Node]] = {}
    for n in graph.nodes:
        if n.target == "operator.getitem" and n.inputs and n.view_of is None:
            children.setdefault(n.inputs[0], []).append(n)
    return children


def _elements(b: _Builder, kind: str, n: Node, children: dict[str, list[Node]],
              element_of: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Storages of a tuple-returning node: one per getitem (nested tuples recursively), plus
    one for bytes no getitem reads. A wrapper whose tuple torch left without a traced value
    (`bytes == 0`) is sized by its getitems."""
    parts: list[str] = []
    for child in children[n.name]:
        if child.shape is None and child.name in children:
            element_of[child.name] = _elements(b, kind, child, children, element_of)
        elif child.bytes:
            element_of[child.name] = (b.new(f"{kind}:{child.name}", n.name, kind, child.bytes),)
        else:
            element_of[child.name] = ()
        parts.extend(element_of[child.name])
    rest = n.bytes - sum(c.bytes for c in children[n.name])
    if rest > 0:
        parts.append(b.new(f"{kind}:{n.name}#rest", n.name, kind, rest))
    return tuple(parts)


def _walk(b: _Builder, graph: Graph, offset: int, start_of_graph: int,
          inherited: dict[str, tuple[str, ...]]) -> None:
    """Assign storages and spans to every value of `graph`; `inherited` maps placeholders to the
    storages they receive (the backward's saved values)."""
    kind = graph.kind
    last = _last_uses(graph)
    children = _getitem_children(graph)
    element_of: dict[str, tuple[str, ...]] = {}
    for i, n in enumerate(graph.nodes):
        step = offset + i
        if n.op == "output":
            continue
        refs: tuple[str, ...]
        start = step
        if n.op == "placeholder" and n.name in inherited:
            refs, start = inherited[n.name], start_of_graph
        elif n.op in ("placeholder", "get_attr"):
            refs = (b.new(f"{kind}:{n.name}", n.name, kind, n.bytes),) if n.bytes else ()
            start = start_of_graph
        elif n.view_of is not None and (kind, n.view_of) in b.refs:
            refs = b.refs[(kind, n.view_of)]
        elif is_runtime_alias(n) and n.inputs and (kind, n.inputs[0]) in b.refs:
            refs = b.refs[(kind, n.inputs[0])]
        elif n.name in element_of:
            refs = element_of[n.name]
        elif n.shape is None and n.name in children:
            refs = _elements(b, kind, n, children, element_of)
        else:
            refs = (b.new(f"{kind}:{n.name}", n.name, kind, n.bytes),) if n.bytes else ()
        b.refs[(kind, n.name)] = refs
        b.hold(refs, start, offset + last.get(n.name, i))


def storage_plan(region: Region) -> StoragePlan:
    """The storages of `region` and the steps on which each is alive."""
    forward = region.graphs["forward"]
    backward = region.graphs.get("backward")
    fw_steps = len(forward.nodes)
    total = fw_steps + (len(backward.nodes) if backward else 0)
    b = _Builder(total)
    _walk(b, forward, 0, 0, {})
    fw_out = forward.output()
    fw_outputs = list(fw_out.inputs) if fw_out else []
    user_outputs = fw_outputs[: region.num_user_outputs]
    saved_fw = [s.forward_node for s in region.saved]
    # Inputs and user outputs stay for the whole region; saved values until backward starts.
    for n in forward.nodes:
        if n.op in ("placeholder", "get_attr"):
            b.extend(b.refs.get(("forward", n.name), ()), total - 1)
    for name in user_outputs:
        b.extend(b.refs.get(("forward", name), ()), total - 1)
    for name in saved_fw:
        b.extend(b.refs.get(("forward", name), ()), fw_steps - 1)
    saved_refs = {sid for name in saved_fw for sid in b.refs.get(("forward", name), ())}
    output_refs = {sid for name in user_outputs for sid in b.refs.get(("forward", name), ())}
    grad_refs: set[str] = set()
    if backward is not None:
        inherited = {s.backward_node: b.refs.get(("forward", s.forward_node), ())
                     for s in region.saved}
        _walk(b, backward, fw_steps, fw_steps, inherited)
        bw_out = backward.output()
        for name in bw_out.inputs if bw_out else ():
            refs = b.refs.get(("backward", name), ())
            b.extend(refs, total - 1)
            grad_refs.update(refs)
    nodes = {"forward": forward.by_name(), "backward": backward.by_name() if backward else {}}
    storages = []
    for sid, (owner, graph, nbytes) in b.meta.items():
        if sid not in b.span:
            continue
        first, last_step = b.span[sid]
        category = _category(sid, nodes[graph].get(owner), graph, saved_refs, output_refs,
                             grad_refs)
        storages.append(Storage(id=sid, owner=owner, graph=graph, bytes=nbytes,
                                category=category, first_step=first, last_step=last_step))
    steps = tuple(StepNode("forward", n) for n in forward.nodes) + (
        tuple(StepNode("backward", n) for n in backward.nodes) if backward else ())
    return StoragePlan(steps=steps, storages=tuple(storages), forward_steps=fw_steps)


def _category(sid: str, owner_node: Node | None, graph: str, saved_refs: set[str],
              output_refs: set[str], grad_refs: set[str]) -> str:
    if owner_node is not None and owner_node.op in ("placeholder", "get_attr"):
        if graph == "backward" and owner_node.name.startswith("tangents"):
            return "gradients"
        return "inputs"
    if graph == "forward":
        if sid in saved_refs:
            return "saved"
        return "outputs" if sid in output_refs else "forward_temp"
    return "gradients" if sid in grad_refs else "backward_temp"
