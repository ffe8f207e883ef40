"""The activation-memory timeline of a region: live bytes by category at every step, and peaks.

Steps and storage lifetimes come from `storage.storage_plan` (read its docstring for the rules).
The bytes at a step are those alive while its node runs: its inputs, its result, and everything
still held. Pure: a function of the IR only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ir import Analysis, Region
from .storage import CATEGORIES, StoragePlan, storage_plan


@dataclass(frozen=True)
class Step:
    """One step: the node run (`graph`, `node`, `target`, `module`), the bytes alive while it
    runs (`live_bytes`, split as `category_bytes` in `CATEGORIES` order) and the bytes its
    result newly allocates (`allocated_bytes`); `region` names the node's region on the
    program's timeline (None on a region's own)."""

    index: int
    graph: str
    node: str
    target: str
    module: str | None
    live_bytes: int
    category_bytes: tuple[int, ...]
    allocated_bytes: int
    region: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index, "graph": self.graph, "node": self.node, "target": self.target,
            "module": self.module, "live_bytes": self.live_bytes,
            "category_bytes": dict(zip(CATEGORIES, self.category_bytes, strict=True)),
            "allocated_bytes": self.allocated_bytes,
        }
        if self.region is not None:
            out["region"] = self.region
        return out


@dataclass(frozen=True)
class Peak:
    """The largest `bytes` alive, the first `step` it is reached at, and that step's node."""

    bytes: int
    step: int
    node: str
    graph: str

    def to_dict(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "step": self.step, "node": self.node, "graph": self.graph}


@dataclass(frozen=True)
class Timeline:
    """The timeline of one region.

    - `steps`: forward nodes then backward nodes; `forward_steps` counts the forward ones.
    - `peak`, `peak_forward`, `peak_backward` (None without a backward).
    - `boundary_bytes` / `boundary_category_bytes`: held between forward and backward (inputs,
      user outputs and saved values) — or, without a backward, what the forward leaves alive.
    - `final_bytes`: alive after the last step (inputs, user outputs and gradients).
    """

    region: int
    steps: tuple[Step, ...]
    forward_steps: int
    peak: Peak
    peak_forward: Peak
    peak_backward: Peak | None
    boundary_bytes: int
    boundary_category_bytes: tuple[int, ...]
    final_bytes: int

    def live_bytes(self) -> list[int]:
        return [s.live_bytes for s in self.steps]

    def summary_dict(self) -> dict[str, Any]:
        """Everything but the per-step list (what the analysis document keeps)."""
        return {
            "region": self.region,
            "step_count": len(self.steps),
            "forward_steps": self.forward_steps,
            "peak": self.peak.to_dict(),
            "peak_forward": self.peak_forward.to_dict(),
            "peak_backward": self.peak_backward.to_dict() if self.peak_backward else None,
            "boundary_bytes": self.boundary_bytes,
            "boundary_category_bytes": dict(zip(CATEGORIES, self.boundary_category_bytes,
                                                strict=True)),
            "final_bytes": self.final_bytes,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary_dict(), "categories": list(CATEGORIES),
                "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Timeline:
        def peak(p: dict[str, Any] | None) -> Peak | None:
            return Peak(int(p["bytes"]), int(p["step"]), p["node"], p["graph"]) if p else None

        steps = tuple(Step(index=s["index"], graph=s["graph"], node=s["node"],
                           target=s["target"], module=s.get("module"),
                           live_bytes=int(s["live_bytes"]),
                           category_bytes=tuple(int(s["category_bytes"][c]) for c in CATEGORIES),
                           allocated_bytes=int(s.get("allocated_bytes", 0)),
                           region=s.get("region"))
                      for s in d["steps"])
        overall, forward = peak(d["peak"]), peak(d["peak_forward"])
        assert overall is not None and forward is not None
        return cls(region=int(d["region"]), steps=steps, forward_steps=int(d["forward_steps"]),
                   peak=overall, peak_forward=forward, peak_backward=peak(d.get("peak_backward")),
                   boundary_bytes=int(d["boundary_bytes"]),
                   boundary_category_bytes=tuple(int(d["boundary_category_bytes"][c])
                                                 for c in CATEGORIES),
                   final_bytes=int(d["final_bytes"]))


def _region_of(source: Analysis | Region | dict[str, Any], region: int) -> Region:
    if isinstance(source, Region):
        return source
    if isinstance(source, Analysis):
        return source.regions[region]
    if "graphs" in source:
        return Region.from_dict(source)
    return Region.from_dict(source["regions"][region])


def memory_timeline(source: Analysis | Region | dict[str, Any], region: int = 0) -> Timeline:
    """The timeline of one region of an analysis (an `Analysis`, its JSON document, a `Region`
    or a region's JSON)."""
    reg = _region_of(source, region)
    return timeline_from_plan(storage_plan(reg), reg.index)


def memory_timelines(source: Analysis | dict[str, Any]) -> tuple[Timeline, ...]:
    """One timeline per region, in region order."""
    count = len(source.regions) if isinstance(source, Analysis) else len(source["regions"])
    return tuple(memory_timeline(source, i) for i in range(count))


def timeline_from_plan(plan: StoragePlan, region: int) -> Timeline:
    total = len(plan.steps)
    ncat = len(CATEGORIES)
    cat_index = {c: i for i, c in enumerate(CATEGORIES)}
    # difference arrays per category: +bytes at the first step, -bytes after the last
    delta = [[0] * (total + 1) for _ in range(ncat)]
    allocated = [0] * total
    for s in plan.storages:
        if not s.bytes:
            continue
        c = cat_index[s.category]
        delta[c][s.first_step] += s.bytes
        delta[c][s.last_step + 1] -= s.bytes
        if s.first_step < total and plan.steps[s.first_step].node.name == s.owner:
            allocated[s.first_step] += s.bytes
    running = [0] * ncat
    steps = []
    for i, step_node in enumerate(plan.steps):
        for c in range(ncat):
            running[c] += delta[c][i]
        node = step_node.node
        steps.append(Step(index=i, graph=step_node.graph, node=node.name, target=node.target,
                          module=node.module, live_bytes=sum(running),
                          category_bytes=tuple(running), allocated_bytes=allocated[i]))
    fw = plan.forward_steps
    has_backward = total > fw
    peak = _peak(steps, 0, total)
    boundary = [0] * ncat
    for s in plan.storages:
        held = (s.first_step < fw <= s.last_step) if has_backward else s.last_step == total - 1
        if held:
            boundary[cat_index[s.category]] += s.bytes
    final = sum(s.bytes for s in plan.storages if s.last_step == total - 1)
    return Timeline(
        region=region, steps=tuple(steps), forward_steps=fw, peak=peak,
        peak_forward=_peak(steps, 0, fw),
        peak_backward=_peak(steps, fw, total) if has_backward else None,
        boundary_bytes=sum(boundary), boundary_category_bytes=tuple(boundary),
        final_bytes=final,
    )


def _peak(steps: list[Step], start: int, end: int) -> Peak:
    best = max(range(start, end), key=lambda i: (steps[i].live_bytes, -i), default=start)
    if not steps:
        return Peak(bytes=0, step=0, node="", graph="forward")
    s = steps[best]
    return Peak(bytes=s.live_bytes, step=s.index, node=s.node, graph=s.graph)


def disagreeing_steps(analytic_live_bytes: list[int], measured_live_bytes: list[int],
                      tolerance: float = 0.02) -> list[int]:
    """Steps where a measurement differs from the analytic timeline by more than `tolerance`
    (relative to the measured bytes)."""
    if len(analytic_live_bytes) != len(measured_live_bytes):
        raise ValueError(f"{len(analytic_live_bytes)} analytic steps but "
                         f"{len(measured_live_bytes)} measured")
    return [i for i, (a, m) in enumerate(zip(analytic_live_bytes, measured_live_bytes,
                                             strict=True))
            if abs(a - m) > tolerance * max(m, 1)]
