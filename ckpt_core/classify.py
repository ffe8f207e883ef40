"""Classify every node of a captured region: saved, recomputed or forward-only (pure, no torch).

The rules follow how torch's partitioner builds its outputs:

- **saved**: the forward graph's outputs after the first `num_user_outputs` line up, in order,
  with the backward graph's non-tangent placeholders;
- **recomputed**: a backward `call_function` whose joint-graph node (same name — the partitioner
  keeps names) is tagged `partitioner_tag == "is_forward"`; the forward node of that name, if the
  forward graph kept it, is `recomputed`;
- everything else in the forward graph is **forward-only**.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from .cost import op_cost
from .ir import Graph, Node, RawRegion, Region, RegionSummary, SavedKind, SavedValue
from .why import RNG_SAVERS as _RNG_SAVERS
from .why import (
    explain,
    explain_backward,
    explain_output,
    explain_placeholder,
    saved_through_view,
)

__all__ = ["classify", "explain", "renumber_ac_regions", "storage_root", "total_summary"]
_RNG_REPLAYERS = ("higher_order.run_with_rng_state", "higher_order.graphsafe_run_with_rng_state")
#: inductor's decomposition of random ops draws from a seeds tensor that it saves for replay
_RNG_SEED_OPS = ("prims.inductor_seeds.default",)


def is_tangent(node: Node) -> bool:
    return node.op == "placeholder" and node.name.startswith("tangents")


def is_rng_input(node: Node) -> bool:
    """Placeholders the graph-safe RNG threads through (generator states, not saved values)."""
    return node.op == "placeholder" and node.name.startswith(("fwd_rng_state", "bwd_rng_state"))


def saved_placeholders(backward: Graph) -> list[Node]:
    return [
        n for n in backward.nodes
        if n.op == "placeholder" and not is_tangent(n) and not is_rng_input(n)
    ]


def storage_root(name: str, nodes: dict[str, Node]) -> str:
    """Follow `view_of` to the node that owns the storage."""
    seen = set()
    while name in nodes and nodes[name].view_of and name not in seen:
        seen.add(name)
        name = nodes[name].view_of or name
    return name


def _saved_kind(
    node: Node, root: Node, parameters: frozenset[str], nodes: dict[str, Node]
) -> SavedKind:
    if node.dtype in ("symint", "symfloat"):
        return "symint"
    if node.op == "placeholder":
        return "parameter" if node.name in parameters or node.param else "input"
    if _is_rng_state(node, nodes):
        return "rng_state"
    if root.name != node.name:
        return "view"
    return "activation"


def _is_rng_state(node: Node, nodes: dict[str, Node]) -> bool:
    """The RNG state `run_and_save_rng_state` returns, or inductor's saved seeds."""
    if node.target in _RNG_SEED_OPS:
        return True
    if node.target == "operator.getitem" and node.inputs:
        parent = nodes.get(node.inputs[0])
        # run_and_save_rng_state returns (rng_state, op outputs); the state is uint8 / int64
        return parent is not None and parent.target in _RNG_SAVERS and node.dtype in (
            "uint8", "int64")
    return False


def classify(raw: RawRegion) -> Region:
    """Fill in statuses, the saved list and the region summary."""
    forward = raw.graphs["forward"]
    backward = raw.graphs.get("backward")
    joint = raw.graphs.get("joint")
    params = raw.parameter_inputs | {
        n.name for n in forward.nodes if n.op == "placeholder" and n.param
    }
    if backward is None or joint is None:
        ctx = _WhyContext(saved_kinds={}, via_view={}, fw_nodes={},
                          memory_budget=raw.memory_budget,
                          num_user_outputs=raw.num_user_outputs, saved_count=0, saved_from={},
                          saved_kind_bw={})
        fw = _mark(forward, lambda n: _placeholder_status(n, params) or "forward_only",
                   why=_inference_why(ctx))
        return _finish(raw, {"forward": fw}, (), set())

    fw_nodes = forward.by_name()
    joint_nodes = joint.by_name()
    out = forward.output()
    fw_outputs = list(out.inputs) if out else []
    saved_fw = fw_outputs[raw.num_user_outputs :]
    saved_bw = saved_placeholders(backward)
    saved: list[SavedValue] = []
    for fw_name, bw_node in zip(saved_fw, saved_bw, strict=False):
        fw_node = fw_nodes.get(fw_name) or joint_nodes.get(fw_name) or bw_node
        root = fw_nodes.get(storage_root(fw_name, fw_nodes), fw_node)
        kind = _saved_kind(fw_node, root, params, fw_nodes)
        saved.append(
            SavedValue(
                forward_node=fw_name,
                backward_node=bw_node.name,
                kind=kind,
                bytes=fw_node.bytes,
                shape=fw_node.shape,
                dtype=fw_node.dtype,
                storage_of=root.name if root.name != fw_name else None,
            )
        )
    saved_names = {s.forward_node for s in saved}
    recomputes = {
        n.name
        for n in backward.nodes
        if n.op == "call_function" and _is_forward_op(n.name, joint_nodes)
    }
    # Functionalised RNG: the partitioner replaces a recomputed random op by
    # run_and_save_rng_state (forward) / run_with_rng_state (backward), paired in order.
    replay_of = dict(zip(
        [n.name for n in backward.nodes if n.target in _RNG_REPLAYERS],
        [n.name for n in forward.nodes if n.target in _RNG_SAVERS],
        strict=False,
    ))
    recomputes |= set(replay_of)
    recomputed_fw = (recomputes & set(fw_nodes)) | set(replay_of.values())

    def fw_status(n: Node) -> str:
        if n.name in saved_names and n.op != "placeholder":
            return "saved"
        if n.name in recomputed_fw:
            return "recomputed"
        return "forward_only"

    def bw_status(n: Node) -> str:
        if n.op == "placeholder":
            return "tangent" if is_tangent(n) else ("input" if is_rng_input(n) else "saved")
        if n.op == "output":
            return "output"
        return "recompute" if n.name in recomputes else "gradient"

    def joint_status(n: Node) -> str:
        placeholder = _placeholder_status(n, params)
        if placeholder:
            return placeholder
        if n.partitioner_tag == "is_backward":
            return "gradient" if n.name in bw_names else "unused"
        if n.name in fw_nodes:
            return fw_status(n)
        return "recomputed" if n.name in recomputes else "unused"

    bw_names = {n.name for n in backward.nodes}
    saved_kinds: dict[str, str] = {s.forward_node: s.kind for s in saved}
    # A base whose view is saved stays in memory for backward: it is saved through the view.
    via_view: dict[str, str] = {}
    for s in saved:
        base = fw_nodes.get(s.storage_of or "")
        if (s.kind == "view" and base is not None and base.op == "call_function"
                and base.name not in saved_names and base.name not in recomputed_fw):
            via_view.setdefault(base.name, s.forward_node)
    ctx = _WhyContext(saved_kinds=saved_kinds, via_view=via_view, fw_nodes=fw_nodes,
                      memory_budget=raw.memory_budget, num_user_outputs=raw.num_user_outputs,
                      saved_count=len(saved),
                      saved_from={s.backward_node: s.forward_node for s in saved},
                      saved_kind_bw={s.backward_node: s.kind for s in saved})

    def fw_status_all(n: Node) -> str:
        return _placeholder_status(n, params) or (
            "saved" if n.name in via_view else fw_status(n))

    def jt_status_all(n: Node) -> str:
        status = joint_status(n)
        return "saved" if n.name in via_view and status == "forward_only" else status

    fw = _mark(forward, fw_status_all, joint_nodes, why=ctx.forward_why("forward"))
    bw = _mark(backward, bw_status, joint_nodes, recompute_of={
        **{name: name for name in recomputes}, **replay_of}, why=ctx.backward_why)
    jt = _mark(joint, jt_status_all, why=ctx.forward_why("joint"))
    why_of = {n.name: n.why for n in (*fw.nodes, *jt.nodes) if n.status == "recomputed"}
    bw = Graph(kind="backward", nodes=tuple(
        replace(n, why=why_of.get(n.recompute_of or "") or n.why) if n.status == "recompute"
        else n for n in bw.nodes))
    return _finish(raw, {"joint": jt, "forward": fw, "backward": bw}, tuple(saved), recomputes)


def _is_forward_op(name: str, joint_nodes: dict[str, Node]) -> bool:
    node = joint_nodes.get(name)
    return node is not None and node.op == "call_function" and node.partitioner_tag == "is_forward"


def _placeholder_status(n: Node, params: frozenset[str] | set[str]) -> str | None:
    if n.op == "output":
        return "output"
    if n.op != "placeholder":
        return None
    if is_tangent(n):
        return "tangent"
    return "parameter" if n.name in params or n.param else "input"


class _WhyContext:
    """What the sentences of one region need to know beyond the node itself."""

    def __init__(self, *, saved_kinds: dict[str, str], via_view: dict[str, str],
                 fw_nodes: dict[str, Node], memory_budget: float, num_user_outputs: int,
                 saved_count: int, saved_from: dict[str, str],
                 saved_kind_bw: dict[str, str]) -> None:
        self.saved_kinds = saved_kinds
        self.via_view = via_view
        self.fw_nodes = fw_nodes
        self.memory_budget = memory_budget
        self.num_user_outputs = num_user_outputs
        self.saved_count = saved_count
        self.saved_from = saved_from
        self.saved_kind_bw = saved_kind_bw

    def forward_why(self, graph: str) -> Callable[[Node, str], str | None]:
        def why(n: Node, status: str) -> str | None:
            if n.op == "output":
                return explain_output(graph, self.num_user_outputs, self.saved_count)
            if n.op == "placeholder":
                return explain_placeholder(n, status, graph)
            if status == "gradient":
                return explain_backward(n, status)
            view = self.via_view.get(n.name)
            if view is not None:
                target = self.fw_nodes[view].target if view in self.fw_nodes else "view"
                return saved_through_view(view, target.removeprefix("aten.").split(".")[0])
            return explain(n, status, self.saved_kinds.get(n.name), self.memory_budget)
        return why

    def backward_why(self, n: Node, status: str) -> str | None:
        if n.op == "placeholder":
            return explain_placeholder(n, status, "backward", self.saved_from.get(n.name),
                                       self.saved_kind_bw.get(n.name))
        return explain_backward(n, status)


def _inference_why(ctx: _WhyContext) -> Callable[[Node, str], str | None]:
    forward = ctx.forward_why("forward")

    def why(n: Node, status: str) -> str | None:
        if n.op == "output":
            return "output: the region's outputs (inference only: nothing here needs grad)"
        if status == "forward_only":
            return "forward only: nothing in this region requires grad, so there is no backward"
        return forward(n, status)
    return why


def _mark(
    graph: Graph,
    status_of: Callable[[Node], str],
    joint_nodes: dict[str, Node] | None = None,
    *,
    recompute_of: dict[str, str] | None = None,
    why: Callable[[Node, str], str | None] | None = None,
) -> Graph:
    """New graph with statuses and sentences; forward/backward nodes take the joint's
    requested policy."""
    nodes = []
    for n in graph.nodes:
        status = status_of(n)
        changes: dict[str, Any] = {"status": status}
        if joint_nodes is not None and n.name in joint_nodes:
            changes["requested_policy"] = joint_nodes[n.name].requested_policy
        if recompute_of is not None and n.name in recompute_of:
            changes["recompute_of"] = recompute_of[n.name]
        # one replace per node (an 80-layer graph has ~50k nodes); `why` reads the new fields
        node = replace(n, **changes)
        if why is not None:
            node = replace(node, why=why(node, status))
        nodes.append(node)
    return Graph(kind=graph.kind, nodes=tuple(nodes))


def _finish(
    raw: RawRegion, graphs: dict[str, Graph], saved: tuple[SavedValue, ...], recomputes: set[str]
) -> Region:
    forward = graphs["forward"]
    backward = graphs.get("backward")
    fw_nodes = forward.by_name()
    activation_roots: dict[str, int] = {}
    for s in saved:
        if s.kind in ("activation", "view", "rng_state"):
            root = s.storage_of or s.forward_node
            root_node = fw_nodes.get(root)
            if root_node is None or root_node.op == "placeholder":
                continue
            activation_roots[root] = root_node.bytes
    recompute_nodes = [n for n in backward.nodes if n.name in recomputes] if backward else []
    bw_nodes = backward.by_name() if backward else {}
    summary = RegionSummary(
        op_counts={kind: _op_counts(g.nodes) for kind, g in graphs.items()},
        saved_count=len(saved),
        recomputed_count=len(recompute_nodes),
        forward_only_count=sum(n.status == "forward_only" for n in forward.nodes),
        saved_activation_count=len(activation_roots),
        saved_activation_bytes=sum(activation_roots.values()),
        recompute_flops=sum(op_cost(n, bw_nodes).flops for n in recompute_nodes),
        forward_flops=sum(op_cost(n, fw_nodes).flops for n in forward.nodes),
    )
    return Region(
        index=raw.index,
        graphs=graphs,
        saved=saved,
        num_user_outputs=raw.num_user_outputs,
        summary=summary,
    )


def _op_counts(nodes: Iterable[Node]) -> dict[str, int]:
    counts = Counter(n.target for n in nodes if n.op == "call_function")
    return dict(sorted(counts.items()))


def renumber_ac_regions(regions: Sequence[Region]) -> tuple[Region, ...]:
    """Make process-wide counters per-analysis, so the same snippet gives the same document.

    `ac_graph_id` is renumbered 1, 2, … by first appearance; autograd's `seq_nr` is shifted so
    the smallest in the analysis is 0 (differences, which link forward and backward, are kept).
    """
    mapping: dict[int, int] = {}
    seq_nrs: list[int] = []
    for region in regions:
        for kind in ("joint", "forward", "backward"):
            graph = region.graphs.get(kind)
            for n in graph.nodes if graph else ():
                if n.ac_region is not None and n.ac_region not in mapping:
                    mapping[n.ac_region] = len(mapping) + 1
                if n.seq_nr is not None:
                    seq_nrs.append(n.seq_nr)
    base = min(seq_nrs, default=0)

    def renumbered(n: Node) -> Node:
        if n.ac_region is None and n.seq_nr is None:
            return n
        return replace(
            n,
            ac_region=mapping[n.ac_region] if n.ac_region is not None else None,
            seq_nr=n.seq_nr - base if n.seq_nr is not None else None,
        )

    return tuple(
        replace(region, graphs={
            kind: Graph(kind=g.kind, nodes=tuple(renumbered(n) for n in g.nodes))
            for kind, g in region.graphs.items()
        })
        for region in regions
    )


def total_summary(regions: Sequence[Region], graph_break_count: int) -> dict[str, object]:
    """Totals over regions, in the analysis' `summary`."""
    sums: Counter[str] = Counter()
    op_counts: dict[str, Counter[str]] = {}
    for r in regions:
        if r.summary is None:
            continue
        for key in (
            "saved_count", "recomputed_count", "forward_only_count", "saved_activation_count",
            "saved_activation_bytes", "recompute_flops", "forward_flops",
        ):
            sums[key] += getattr(r.summary, key)
        for kind, counts in r.summary.op_counts.items():
            op_counts.setdefault(kind, Counter()).update(counts)
    return {
        "region_count": len(regions),
        "graph_break_count": graph_break_count,
        **{k: int(sums[k]) for k in (
            "saved_count", "recomputed_count", "forward_only_count", "saved_activation_count",
            "saved_activation_bytes", "recompute_flops", "forward_flops",
        )},
        "op_counts": {k: dict(sorted(v.items())) for k, v in sorted(op_counts.items())},
    }
