"""Keep each region's joint graph at partition time and run torch's partitioner on it again.

A memory-budget sweep traces the snippet once; each budget only re-runs the partitioner on a
fresh copy of the recorded joint graph, under `activation_memory_budget=b`. The same replay
hands the measurement interpreter forward/backward GraphModules that match the IR exactly.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import warnings
from collections.abc import Container, Iterator, Mapping, Sequence
from typing import Any

import torch.fx as fx

from ..ir import Graph, RawRegion
from ..settings import Settings
from . import meta
from .reasons import current_reasons, memoized_min_cuts
from .recorder import RecordedRegion, Recorder
from .torch_compat import (
    TracingContext,
    _use_lazy_graph_module,
    detect_fake_mode,
    functorch_config,
    fx_graph_cse,
    partitioners,
    tracing,
)


@dataclasses.dataclass(frozen=True)
class JointSnapshot:
    """One partitioner call as it was made: an untouched copy of the joint graph, its example
    inputs, the keyword arguments torch passed, and the region's parameter sources."""

    region_index: int
    joint: fx.GraphModule
    joint_inputs: tuple[Any, ...]
    kwargs: dict[str, Any]
    dynamo_params: tuple[str | None, ...]
    fake_mode: Any


@dataclasses.dataclass(frozen=True)
class Partitioned:
    """One region after a (re-)partition: the IR region and the GraphModules it was read from."""

    raw: RawRegion
    forward: fx.GraphModule | None
    backward: fx.GraphModule | None


class _SamePlan(Exception):
    """Raised inside torch's partitioner once it has chosen a saved set already partitioned."""

    def __init__(self, key: tuple[Any, ...], reasons: dict[str, tuple[str, ...]]):
        super().__init__(key)
        self.key = key
        self.reasons = reasons


@contextlib.contextmanager
def _same_plan_shortcut(region_index: tuple[int, str], known: Container[tuple[Any, ...]],
                        chosen: dict[str, tuple[Any, ...]]) -> Iterator[None]:
    """Stop the partitioner right after it has chosen what to save when that choice was already
    partitioned for another budget.

    Everything torch does after `choose_saved_values_set` (extracting the forward and backward
    modules, RNG functionalisation, reordering) depends only on the joint graph and the saved
    values, so the earlier result is exactly what it would build again. Budgets on a plateau of
    the knapsack thus cost only the choice."""
    original = partitioners._extract_fwd_bwd_modules

    def extract(joint_module: fx.GraphModule, saved_values: list[fx.Node], **kwargs: Any) -> Any:
        key = (
            region_index,
            tuple(n.name for n in saved_values),
            tuple(n.name for n in kwargs.get("saved_sym_nodes") or ()),
            tuple(n.name for n in kwargs.get("saved_opaque_nodes") or ()),
            kwargs.get("num_fwd_outputs"),
        )
        if key in known:
            raise _SamePlan(key, current_reasons())
        chosen["key"] = key
        return original(joint_module, saved_values, **kwargs)

    partitioners._extract_fwd_bwd_modules = extract
    try:
        yield
    finally:
        partitioners._extract_fwd_bwd_modules = original


def _copy(gm: fx.GraphModule) -> fx.GraphModule:
    """A deep copy, without the pytree deprecation warning copying a graph prints on stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return copy.deepcopy(gm)


def _with_reasons(graph: Graph | None, reasons: dict[str, tuple[str, ...]]) -> Graph | None:
    if graph is None:
        return None
    return Graph(kind=graph.kind, nodes=tuple(
        dataclasses.replace(n, partitioner_reasons=reasons.get(n.name, ()))
        for n in graph.nodes))


class SnapshotRecorder(Recorder):
    """A `Recorder` that also keeps a copy of every joint graph before partitioning it
    (the partitioner rewrites the graph it is given)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.snapshots: list[JointSnapshot] = []
        self._cse_joints: dict[int, fx.GraphModule] = {}
        self._cuts: dict[tuple[Any, ...], Any] = {}
        #: partitions already built, by (region, saved values …): see `_same_plan_shortcut`
        self._plans: dict[tuple[Any, ...], tuple[RecordedRegion, Any, Any]] = {}

    def partition(
        self, joint: fx.GraphModule, joint_inputs: Sequence[Any], **kwargs: Any
    ) -> tuple[fx.GraphModule, fx.GraphModule]:
        region = self._current
        if region is not None and not self._replaying:
            self.snapshots.append(JointSnapshot(
                region_index=region.index, joint=_copy(joint),
                joint_inputs=tuple(joint_inputs), kwargs=dict(kwargs),
                dynamo_params=tuple(self._dynamo_params),
                fake_mode=detect_fake_mode(joint_inputs),
            ))
        if region is None or not self._replaying:
            return super().partition(joint, joint_inputs, **kwargs)
        chosen: dict[str, tuple[Any, ...]] = {}
        try:
            with _same_plan_shortcut((region.index, self._variant), self._plans, chosen):
                fw, bw = super().partition(joint, joint_inputs, **kwargs)
        except _SamePlan as same:
            done, fw, bw = self._plans[same.key]
            # the same partition; only the min-cut's constraints are this budget's own
            region.num_user_outputs = done.num_user_outputs
            region.static_input_names = done.static_input_names
            region.parameter_names = done.parameter_names
            region.joint = _with_reasons(done.joint, same.reasons)
            region.forward = _with_reasons(done.forward, same.reasons)
            region.backward = done.backward
            return fw, bw
        if "key" in chosen:
            self._plans[chosen["key"]] = (dataclasses.replace(region), fw, bw)
        return fw, bw

    _replaying = False
    _variant = ""

    def _prepared(self, snap: JointSnapshot) -> tuple[fx.GraphModule, dict[str, Any]]:
        """The joint graph with the budget-independent clean-up the min-cut partitioner starts
        with (dead code, CSE) done once, and the config that skips redoing it."""
        if self.settings.partitioner != "min_cut" or not functorch_config.cse:
            return snap.joint, {}
        if snap.region_index not in self._cse_joints:
            joint = _copy(snap.joint)
            joint.graph.eliminate_dead_code()
            joint.graph = fx_graph_cse(joint.graph)
            self._cse_joints[snap.region_index] = joint
        return self._cse_joints[snap.region_index], {"cse": False}

    def replay(self, memory_budget: float, *, settings: Settings | None = None,
               tags: Mapping[int, Mapping[str, tuple[str | None, int | None]]] | None = None,
               ) -> list[Partitioned]:
        """Every region re-partitioned under `memory_budget`, in capture order.

        `settings` (default: the traced ones) gives the partitioner and its knobs; `tags`, by
        analysis region index then joint node name, the (policy, checkpoint region) each
        forward op carries instead of what the snippet's policy gave it (see `ckpt_core.policy`).
        Inference-only regions (no joint graph) are returned as captured."""
        from .run import torch_settings

        snapshots = {s.region_index: s for s in self.snapshots}
        out: list[Partitioned] = []
        traced_settings = self.settings
        settings = settings or traced_settings
        analysis_index = {r.index: i for i, r in enumerate(
            r for r in self.regions if r.forward is not None)}
        for recorded in self.regions:
            snap = snapshots.get(recorded.index)
            if snap is None:
                fresh = recorded
                forward: fx.GraphModule | None = None
                backward: fx.GraphModule | None = None
            else:
                fresh = RecordedRegion(index=recorded.index)
                self._current = fresh
                self._dynamo_params = list(snap.dynamo_params)
                self._replaying = True
                self.settings = settings
                joint, patches = self._prepared(snap)
                joint = _copy(joint)
                region_tags = (tags or {}).get(analysis_index.get(recorded.index, -1), {})
                for node in joint.graph.nodes:
                    if node.name in region_tags:
                        meta.set_policy(node, *region_tags[node.name])
                # plans are shared between budgets, never between different tags or settings
                self._variant = repr((sorted(region_tags.items()), settings))
                try:
                    # RNG functionalisation asks the tracing context for the fake mode; the
                    # partitioned modules' Python code is generated only if they are run
                    with torch_settings(settings), \
                            functorch_config.patch(activation_memory_budget=memory_budget,
                                                   **patches), \
                            tracing(TracingContext(snap.fake_mode)), \
                            _use_lazy_graph_module(True), memoized_min_cuts(self._cuts):
                        forward, backward = self.partition(
                            joint, list(snap.joint_inputs), **snap.kwargs)
                finally:
                    self._replaying = False
                    self._current = None
                    self.settings = traced_settings
            graphs = {k: g for k, g in (("joint", fresh.joint), ("forward", fresh.forward),
                                         ("backward", fresh.backward)) if g is not None}
            if "forward" not in graphs:
                continue
            out.append(Partitioned(
                raw=RawRegion(index=len(out), graphs=graphs,
                              num_user_outputs=fresh.num_user_outputs,
                              parameter_inputs=fresh.static_input_names,
                              memory_budget=memory_budget),
                forward=forward, backward=backward,
            ))
        return out
