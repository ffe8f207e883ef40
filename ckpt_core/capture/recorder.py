"""A `torch.compile` backend that records each region's joint, forward and backward graphs.

Two faithful paths, chosen by `Settings.decompositions`:

- "inductor": `compile_fx(gm, inputs, inner_compile=...)` runs inductor's decompositions, joint
  graph passes and partitioner exactly as `torch.compile` does; a `custom_partitioner_fn` sees
  the joint graph right before partitioning, and `inner_compile` returns the partitioned graphs
  to run eagerly instead of generating code.
- "none": `aot_autograd` with a recording `partition_fn` and no extra decompositions.

Graphs are converted to IR inside the partitioner call, because torch keeps mutating the
GraphModules afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch.fx as fx

from ..ir import Graph
from ..module_paths import canonical_param_name
from ..settings import Settings
from . import meta
from .convert import SourceLines, convert_graph
from .handover import CallLog
from .knapsack import record_knapsack
from .reasons import record_min_cut_reasons
from .torch_compat import (
    CustomPartitionerFn,
    aot_autograd,
    compile_fx_capture_only,
    default_partition,
    make_boxed_func,
    min_cut_rematerialization_partition,
    reset_dynamo,
)


@dataclasses.dataclass
class RecordedRegion:
    """What one dynamo graph became. `joint`/`backward` are None for an inference-only region."""

    index: int
    forward: Graph | None = None
    backward: Graph | None = None
    joint: Graph | None = None
    num_user_outputs: int = 0
    parameter_names: dict[str, str] = dataclasses.field(default_factory=dict)
    static_input_names: frozenset[str] = frozenset()
    knapsack: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class Recorder:
    """Collects `RecordedRegion`s, in compile order, across graph breaks."""

    def __init__(self, settings: Settings, lines: SourceLines):
        self.settings = settings
        self.lines = lines
        self.regions: list[RecordedRegion] = []
        self._current: RecordedRegion | None = None
        self._dynamo_params: list[str | None] = []
        self.call_log = CallLog()

    # -- the backend -----------------------------------------------------------------------
    def backend(self, gm: fx.GraphModule, example_inputs: Sequence[Any]) -> Callable[..., Any]:
        region = RecordedRegion(index=len(self.regions))
        self.regions.append(region)
        self._current = region
        self._dynamo_params = self._parameter_sources(gm)
        compiled: Callable[..., Any]
        if self.settings.decompositions == "inductor":
            compiled = self._inductor_backend(gm, example_inputs)
        else:
            compiled = self._aot_backend(gm, example_inputs)
        return self.call_log.wrap(region.index, compiled)

    def _inductor_backend(self, gm: fx.GraphModule, example_inputs: Sequence[Any]) -> Any:
        return compile_fx_capture_only(gm, example_inputs, _RecordingPartitioner(self),
                                       self._inner_compile)

    def _aot_backend(self, gm: fx.GraphModule, example_inputs: Sequence[Any]) -> Any:
        def fw_compiler(g: fx.GraphModule, _inputs: Sequence[Any]) -> Any:
            return self._inner_compile(g, _inputs, is_inference=self._inference_pending())

        def bw_compiler(g: fx.GraphModule, _inputs: Sequence[Any]) -> Any:
            return make_boxed_func(g.forward)

        backend = aot_autograd(
            fw_compiler=fw_compiler,
            bw_compiler=bw_compiler,
            inference_compiler=lambda g, i: self._inner_compile(g, i, is_inference=True),
            partition_fn=self.partition,
            keep_inference_input_mutations=True,
            disable_functionalization=self.settings.disable_functionalization,
        )
        return backend(gm, example_inputs)

    def _inference_pending(self) -> bool:
        region = self._current
        return region is not None and region.joint is None and region.forward is None

    def _inner_compile(self, gm: fx.GraphModule, _inputs: Sequence[Any], **kwargs: Any) -> Any:
        """Stand-in for inductor's code generation: run the partitioned graph eagerly."""
        region = self._current
        if kwargs.get("is_inference") and region is not None and region.forward is None:
            region.num_user_outputs = sum(isinstance(a, fx.Node) for a in _output_args(gm))
            region.forward = convert_graph(
                gm, "forward", self.lines, params=self._placeholder_params(gm, None)
            )
        return make_boxed_func(gm.forward)

    # -- partitioning ----------------------------------------------------------------------
    def partition(
        self, joint: fx.GraphModule, joint_inputs: Sequence[Any], **kwargs: Any
    ) -> tuple[fx.GraphModule, fx.GraphModule]:
        requested = {n.name: meta.policy_name(n) for n in joint.graph.nodes}
        kwargs.pop("compiler", None)
        knapsack: list[dict[str, Any]] = []
        with record_min_cut_reasons() as reasons, record_knapsack(knapsack):
            if self.settings.partitioner == "default":
                fw, bw = default_partition(joint, joint_inputs, **kwargs)
            else:
                fw, bw = min_cut_rematerialization_partition(
                    joint, joint_inputs, compiler="inductor", **kwargs
                )
        region = self._current
        if region is None:  # pragma: no cover - partition always runs inside the backend
            return fw, bw
        # the last knapsack solved is the one partitioned; under a budget torch may not need one
        region.knapsack = knapsack[-1:] or ([{
            "estimator": None, "expected_runtime": None, "unit": "",
            "note": "no knapsack ran: a min-cut plan already fit the budget (or the budget is "
                    "0: recompute everything it may)"}]
            if self.settings.memory_budget < 1 and self.settings.partitioner == "min_cut"
            else [])
        # Saved values follow the first `num_fwd_outputs` forward outputs; count node entries only,
        # since the IR's output node lists node names.
        num_fwd_outputs = int(kwargs.get("num_fwd_outputs", 0))
        region.num_user_outputs = sum(
            isinstance(a, fx.Node) for a in list(_output_args(fw))[:num_fwd_outputs]
        )
        static = kwargs.get("static_lifetime_input_indices") or []
        primals = [n for n in joint.graph.nodes if n.op == "placeholder"]
        region.static_input_names = frozenset(
            primals[i].name for i in static if 0 <= i < len(primals)
        )
        params = self._placeholder_params(joint, region.static_input_names)
        region.parameter_names = params
        flops: dict[tuple[str, str], int | None] = {}
        region.joint = convert_graph(joint, "joint", self.lines, requested=requested,
                                     params=params, reasons=reasons, flops_cache=flops)
        region.forward = convert_graph(fw, "forward", self.lines, params=params,
                                       reasons=reasons, flops_cache=flops)
        region.backward = convert_graph(bw, "backward", self.lines, params=params,
                                        flops_cache=flops)
        return fw, bw

    # -- parameter names -------------------------------------------------------------------
    def _parameter_sources(self, gm: fx.GraphModule) -> list[str | None]:
        names: list[str | None] = []
        for n in gm.graph.nodes:
            if n.op != "placeholder":
                continue
            source = meta.grapharg_source_name(n)
            if source and ("_parameters" in source or "_buffers" in source):
                names.append(canonical_param_name(meta.clean_module_path(source)))
            else:
                names.append(None)
        return names

    def _placeholder_params(
        self, gm: fx.GraphModule, static: frozenset[str] | None
    ) -> dict[str, str]:
        """Map aot placeholders (`primals_N`) to parameter names when positions line up."""
        primals = [
            n for n in gm.graph.nodes if n.op == "placeholder" and not n.name.startswith("tangents")
        ]
        if len(primals) != len(self._dynamo_params):
            return {}
        return {p.name: name for p, name in zip(primals, self._dynamo_params, strict=True)
                if name is not None}


class _RecordingPartitioner(CustomPartitionerFn):  # type: ignore[misc]
    """Inductor's hook for replacing the partitioner; we delegate to torch's own and record."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    def __call__(
        self, gm: fx.GraphModule, joint_inputs: Sequence[object], **kwargs: Any
    ) -> tuple[fx.GraphModule, fx.GraphModule]:
        return self.recorder.partition(gm, joint_inputs, **kwargs)

    def uuid(self) -> Any | None:
        return None  # never cache: every analysis must run the partitioner


def _output_args(gm: fx.GraphModule) -> Any:
    for n in reversed(gm.graph.nodes):
        if n.op == "output":
            args = n.args[0]
            return args if isinstance(args, tuple | list) else (args,)
    return ()


def reset_torch_state() -> None:
    """Forget every compiled artifact so one analysis cannot influence the next."""
    reset_dynamo()
