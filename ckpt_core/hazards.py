"""Hazards: what a user must know before acting on an analysis' plan (pure, no torch).

`find_hazards(analysis)` reads the IR (and, for the working set, the memory timeline) and returns
`Hazard` records of these kinds, in `HAZARD_KINDS` order:

- `rng_recomputed`: random ops (dropout, …) run again in backward, replayed from a saved RNG state;
- `checkpoint_overridden_by_budget`: under `memory_budget < 1`, values the checkpoint policy
  asked to save are recomputed (or the reverse): the budget, not the policy, decided;
- `graph_break_in_checkpoint`: dynamo broke the graph inside a checkpointed function, so that
  checkpoint runs uncompiled and its activations are not in this analysis;
- `saved_view_keeps_large_base`: a saved view keeps a base at least `VIEW_BASE_RATIO` times its
  own size alive;
- `recompute_working_set`: at the backward peak, recomputed values of two or more checkpoint
  regions are alive together (the compiled backward holds a multi-region working set).
"""

from __future__ import annotations

import re
from collections import defaultdict

from .cost import op_name
from .ir import Analysis, Hazard, Node, NodeRef, Region
from .memory.storage import storage_plan
from .memory.timeline import timeline_from_plan
from .units import fmt_bytes

#: A saved view is a hazard when its base is at least this many times larger.
VIEW_BASE_RATIO = 2
RANDOM_OPS = frozenset((
    "bernoulli", "native_dropout", "dropout", "rand", "randn", "rand_like", "randn_like",
    "randint", "randint_like", "normal", "uniform", "inductor_random", "randperm",
    "exponential", "geometric", "cauchy", "log_normal", "multinomial",
))
_RNG_REPLAYERS = ("higher_order.run_with_rng_state", "higher_order.graphsafe_run_with_rng_state")
_SAVE = ("MUST_SAVE", "PREFER_SAVE")
_RECOMPUTE = ("MUST_RECOMPUTE", "PREFER_RECOMPUTE")
_CHECKPOINT_BREAK = re.compile(r"Higher Order Operator: torch\.utils\.checkpoint|"
                               r"tag_activation_checkpoint|checkpoint\.checkpoint", re.I)


def _names(nodes: list[Node], limit: int = 6) -> str:
    shown = ", ".join(n.name for n in nodes[:limit])
    return shown + (f" and {len(nodes) - limit} more" if len(nodes) > limit else "")


def rng_recomputed(region: Region) -> list[Hazard]:
    bw = region.graphs.get("backward")
    nodes = [n for n in (bw.nodes if bw else ()) if n.status == "recompute" and (
        n.target in _RNG_REPLAYERS or op_name(n) in RANDOM_OPS)]
    if not nodes:
        return []
    ops = sorted({op_name(n) for n in nodes})
    return [Hazard(
        kind="rng_recomputed", severity="warning",
        message=(f"region {region.index}: {len(nodes)} random op(s) ({', '.join(ops)}) are "
                 "recomputed in backward; torch replays them from a saved RNG state so the "
                 "values match the forward, but the recompute costs time and any RNG draw "
                 "outside torch's generator (or a changed seed) would not match"),
        nodes=tuple(NodeRef(region.index, "backward", n.name) for n in nodes),
    )]


def checkpoint_overridden_by_budget(region: Region, memory_budget: float) -> list[Hazard]:
    if memory_budget >= 1.0:
        return []
    fw = region.graphs["forward"]
    recomputed = [n for n in fw.nodes if n.status == "recomputed"
                  and n.requested_policy in _SAVE]
    saved = [n for n in fw.nodes if n.status == "saved" and n.requested_policy in _RECOMPUTE
             and n.policy != "MUST_SAVE"]  # MUST_SAVE: a region boundary, not the budget
    if not recomputed and not saved:
        return []
    parts = []
    if recomputed:
        parts.append(f"{len(recomputed)} value(s) the checkpoint policy asked to save are "
                     f"recomputed ({_names(recomputed)})")
    if saved:
        parts.append(f"{len(saved)} value(s) it asked to recompute are saved ({_names(saved)})")
    return [Hazard(
        kind="checkpoint_overridden_by_budget", severity="warning",
        message=(f"region {region.index}: memory_budget={memory_budget:g} overrides the "
                 f"checkpoint policy: {'; '.join(parts)}"),
        nodes=tuple(NodeRef(region.index, "forward", n.name) for n in (*recomputed, *saved)),
    )]


def graph_break_in_checkpoint(analysis: Analysis) -> list[Hazard]:
    out = []
    for brk in analysis.graph_breaks:
        if not _CHECKPOINT_BREAK.search(brk.reason):
            continue
        where = f"line {brk.line}: {brk.code}" if brk.line else "an unknown line"
        out.append(Hazard(
            kind="graph_break_in_checkpoint", severity="warning",
            message=(f"graph break inside a checkpointed function ({where}): dynamo cannot "
                     "trace that checkpoint as one region, so it runs uncompiled; its "
                     "activations are kept the eager checkpoint's way and are not in this "
                     "analysis"),
            details=brk.reason,
        ))
    return out


def saved_view_keeps_large_base(region: Region) -> list[Hazard]:
    fw = region.graphs["forward"].by_name()
    out = []
    for s in region.saved:
        base = fw.get(s.storage_of or "")
        if (s.kind != "view" or base is None or base.op == "placeholder" or not s.bytes
                or base.bytes < VIEW_BASE_RATIO * s.bytes):
            continue
        out.append(Hazard(
            kind="saved_view_keeps_large_base", severity="warning",
            message=(f"region {region.index}: the saved view {s.forward_node} "
                     f"({fmt_bytes(s.bytes)}) keeps its base {base.name} "
                     f"({fmt_bytes(base.bytes)}, {base.bytes / s.bytes:.0f}× larger) alive "
                     "until backward; saving a copy (.clone()) would free the rest"),
            nodes=(NodeRef(region.index, "forward", s.forward_node),
                   NodeRef(region.index, "forward", base.name)),
        ))
    return out


def recompute_working_set(region: Region) -> list[Hazard]:
    bw = region.graphs.get("backward")
    if bw is None:
        return []
    plan = storage_plan(region)
    timeline = timeline_from_plan(plan, region.index)
    peak = timeline.peak_backward
    if peak is None:
        return []
    bw_nodes = bw.by_name()
    alive: dict[int, list[Node]] = defaultdict(list)
    alive_bytes: dict[int, int] = defaultdict(int)
    for st in plan.storages:
        node = bw_nodes.get(st.owner) if st.graph == "backward" else None
        if (node is None or node.status != "recompute" or node.ac_region is None
                or not st.first_step <= peak.step <= st.last_step or not st.bytes):
            continue
        alive[node.ac_region].append(node)
        alive_bytes[node.ac_region] += st.bytes
    if len(alive) < 2:
        return []
    nodes = [n for r in sorted(alive) for n in alive[r]]
    per_region = ", ".join(f"checkpoint {r}: {fmt_bytes(alive_bytes[r])}" for r in sorted(alive))
    return [Hazard(
        kind="recompute_working_set", severity="warning",
        message=(f"region {region.index}: at the backward peak ({fmt_bytes(peak.bytes)}, at "
                 f"{peak.node}) recomputed values of {len(alive)} checkpoint regions are alive "
                 f"together ({per_region}); the compiled backward holds a multi-region working "
                 "set instead of one checkpoint at a time"),
        nodes=tuple(NodeRef(region.index, "backward", n.name) for n in nodes),
    )]


def find_hazards(analysis: Analysis) -> tuple[Hazard, ...]:
    """Every hazard of `analysis` except `torch_compile_fails` (reported by whoever ran
    torch.compile), in `HAZARD_KINDS` order."""
    budget = float(analysis.settings.get("memory_budget", 1.0))
    found: list[Hazard] = []
    for region in analysis.regions:
        found += rng_recomputed(region)
    for region in analysis.regions:
        found += checkpoint_overridden_by_budget(region, budget)
    found += graph_break_in_checkpoint(analysis)
    for region in analysis.regions:
        found += saved_view_keeps_large_base(region)
    for region in analysis.regions:
        found += recompute_working_set(region)
    return tuple(found)


def with_found_hazards(analysis: Analysis) -> Analysis:
    """`analysis` with `find_hazards(analysis)` appended to its hazards."""
    return analysis.with_hazards(*find_hazards(analysis))
