"""Hazards a what-if plan brings: tags the partitioner did not honour, randomness now replayed."""

from __future__ import annotations

from ..ir import Analysis, Hazard, NodeRef

_RANDOM = ("rand", "dropout", "bernoulli", "normal", "uniform", "multinomial")


def _is_random(target: str | None) -> bool:
    return bool(target) and any(w in str(target) for w in _RANDOM)


def plan_hazards(analysis: Analysis) -> tuple[Hazard, ...]:
    """What a user must know before adopting the plan (pure; read from the plan's graphs)."""
    out: list[Hazard] = []
    ignored: list[NodeRef] = []
    rng: list[NodeRef] = []
    for region in analysis.regions:
        joint = region.graphs.get("joint")
        forward = region.graph("forward")
        status = {n.name: n.status for n in forward.nodes} if forward else {}
        for n in joint.nodes if joint else ():
            fate = status.get(n.name)
            if (n.requested_policy == "MUST_SAVE" and fate == "recomputed") or (
                    n.requested_policy == "MUST_RECOMPUTE" and fate == "saved"):
                ignored.append(NodeRef(region.index, "joint", n.name))
        backward = region.graph("backward")
        for n in backward.nodes if backward else ():
            if n.status == "recompute" and (_is_random(n.wraps) or _is_random(n.target)):
                rng.append(NodeRef(region.index, "backward", n.name))
    if ignored:
        out.append(Hazard(
            kind="checkpoint_overridden_by_budget",
            message=(f"{len(ignored)} op(s) tagged MUST_SAVE / MUST_RECOMPUTE end up the other "
                     "way: the partitioner (memory budget or a node it must keep) overrode the "
                     "policy"),
            nodes=tuple(ignored[:50]), severity="warning"))
    if rng:
        out.append(Hazard(
            kind="rng_recomputed",
            message=(f"{len(rng)} random op(s) are recomputed in backward: torch saves and "
                     "replays their RNG state so the masks match, at the cost of that state "
                     "and of the extra kernels"),
            nodes=tuple(rng[:50]), severity="info"))
    return tuple(out)


def new_hazards(base: Analysis, plan: Analysis) -> tuple[Hazard, ...]:
    """The plan's hazards that the base analysis does not have: another kind, or the same kind
    on other nodes."""
    def key(h: Hazard) -> tuple[str, frozenset[tuple[int, str, str]]]:
        return h.kind, frozenset((n.region, n.graph, n.name) for n in h.nodes)

    known = {key(h) for h in (*base.hazards, *plan_hazards(base))}
    return tuple(h for h in plan.hazards if key(h) not in known)
