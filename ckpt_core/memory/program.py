"""The memory timeline of the whole program across graph breaks (pure, no torch).

Autograd runs the regions' backwards in reverse: region 0 forward, region 1 forward, …, then
the last region's backward, …, region 0's backward. Each region's storages keep the lifetimes
`storage_plan` gives them, mapped onto that program order, so what an earlier region holds for
its backward stays alive through every later region. A value handed from one region to a later
one (`Analysis.handovers`) is one storage: the producer's, alive until the producer's backward
ends, counted as saved when the later region keeps it for backward. A parameter used by several
regions is counted once.
"""

from __future__ import annotations

from dataclasses import replace

from ..ir import Analysis
from ..program import kept_handovers
from .storage import StepNode, Storage, StoragePlan, storage_plan
from .timeline import Timeline, timeline_from_plan

#: `Timeline.region` of the program's timeline.
PROGRAM = -1


def program_timeline(analysis: Analysis) -> Timeline:
    """One timeline over every region, in the order autograd runs them; each step's `region`
    says which region's node runs. `forward_steps` counts every forward step."""
    plans = [storage_plan(r) for r in analysis.regions]
    offsets: dict[tuple[int, str], int] = {}
    position = 0
    for i, plan in enumerate(plans):
        offsets[(i, "forward")] = position
        position += plan.forward_steps
    for i in reversed(range(len(plans))):
        offsets[(i, "backward")] = position
        position += len(plans[i].steps) - plans[i].forward_steps

    def at(i: int, step: int) -> int:
        fw = plans[i].forward_steps
        return offsets[(i, "forward")] + step if step < fw else (
            offsets[(i, "backward")] + step - fw)

    consumers = {(h.consumer.region, h.consumer.name) for h in analysis.handovers}
    kept = {(k.handover.producer.region, k.handover.producer.name) for k in
            kept_handovers(analysis)}
    seen_params: set[str] = set()
    storages: list[Storage] = []
    steps: list[StepNode | None] = [None] * position
    regions_of_step = [0] * position
    for i, (region, plan) in enumerate(zip(analysis.regions, plans, strict=True)):
        for s, step_node in enumerate(plan.steps):
            steps[at(i, s)] = step_node
            regions_of_step[at(i, s)] = region.index
        fw = region.graphs["forward"].by_name()
        for st in plan.storages:
            owner = fw.get(st.owner) if st.graph == "forward" else None
            if owner is not None and owner.op == "placeholder":
                if (region.index, owner.name) in consumers:
                    continue  # the producing region's storage
                if owner.param:
                    if owner.param in seen_params:
                        continue
                    seen_params.add(owner.param)
            category = "saved" if (region.index, st.owner) in kept and st.graph == "forward" \
                else st.category
            storages.append(replace(st, id=f"{region.index}:{st.id}", category=category,
                                    first_step=at(i, st.first_step),
                                    last_step=at(i, st.last_step)))
    merged = StoragePlan(steps=tuple(s for s in steps if s is not None),
                         storages=tuple(storages),
                         forward_steps=sum(p.forward_steps for p in plans))
    timeline = timeline_from_plan(merged, PROGRAM)
    return replace(timeline, steps=tuple(replace(step, region=regions_of_step[step.index])
                                         for step in timeline.steps))


__all__ = ["PROGRAM", "program_timeline"]
