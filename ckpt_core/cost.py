"""The recompute cost model: FLOPs and bytes moved for every op, time by roofline (pure, no torch).

- **FLOPs.** Matmuls, convolutions and attention keep torch's flop-counter figure (`Node.flops`,
  recorded at capture). Every other op is counted by elements: `OP_WEIGHTS[op]` FLOPs per
  output element (per *input* element for the reductions in `REDUCTIONS`); an op missing from
  the table counts `DEFAULT_WEIGHT` per element. Views, `getitem` and metadata ops are free.
- **Bytes.** An op reads each distinct tensor input once and writes its result once
  (`bytes_read` + `bytes_written`); a view moves nothing.
- **Time.** A roofline: `max(flops / peak_flops, bytes / bandwidth)`, with the matmul peak for
  ops torch counts (tensor cores for 16-bit dtypes) and the vector peak for the rest, per
  `DeviceProfile`. No launch overheads and no fusion: inductor fuses most elementwise
  recomputes into their consumers, so for them the estimate is an upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from .ir import Node

#: FLOPs per output element of elementwise ops (per input element for `REDUCTIONS`), by aten
#: name. Arithmetic and comparisons are 1; transcendental functions 4 (exp, log, tanh, erf, …);
#: composite activations and normalisations count their steps (gelu: erf + 3 mul/add + …).
OP_WEIGHTS: dict[str, float] = {
    **dict.fromkeys((
        "add", "sub", "mul", "div", "neg", "abs", "relu", "threshold", "threshold_backward",
        "where", "maximum", "minimum", "clamp", "clamp_min", "clamp_max", "eq", "ne", "lt",
        "le", "gt", "ge", "logical_not", "logical_and", "logical_or", "bitwise_and", "fill",
        "masked_fill", "sign", "reciprocal", "square", "lerp", "addcmul", "addcdiv",
        "hardtanh", "leaky_relu", "scalar_tensor", "floor", "ceil", "round", "trunc", "fmod",
        "remainder", "copy", "clone", "_to_copy", "convert_element_type", "cat", "constant_pad_nd",
        "full", "full_like", "zeros", "zeros_like", "ones", "ones_like", "empty", "empty_like",
        "scatter", "gather", "index", "index_select", "embedding", "embedding_dense_backward",
        "iota", "arange", "tril", "triu", "select_scatter", "slice_scatter", "pow",
    ), 1.0),
    **dict.fromkeys(("exp", "exp2", "expm1", "log", "log2", "log1p", "tanh", "sigmoid", "erf",
                     "erfinv", "sqrt", "rsqrt", "sin", "cos", "atan", "tanh_backward",
                     "sigmoid_backward"), 4.0),
    "silu": 5.0, "silu_backward": 8.0, "gelu": 8.0, "gelu_backward": 12.0, "mish": 10.0,
    "softplus": 6.0, "elu": 5.0,
    "_softmax": 5.0, "_log_softmax": 5.0, "_softmax_backward_data": 4.0,
    "_log_softmax_backward_data": 4.0, "softmax": 5.0, "log_softmax": 5.0,
    "native_layer_norm": 8.0, "native_layer_norm_backward": 12.0, "layer_norm": 8.0,
    "_fused_rms_norm": 6.0, "rms_norm": 6.0, "native_group_norm": 8.0,
    "native_batch_norm": 8.0, "_native_batch_norm_legit_functional": 8.0,
    "native_dropout": 2.0, "native_dropout_backward": 1.0, "bernoulli": 2.0, "rand": 2.0,
    "randn": 4.0, "rand_like": 2.0, "randn_like": 4.0, "inductor_random": 2.0,
    **dict.fromkeys(("sum", "mean", "amax", "amin", "max", "min", "prod", "argmax", "argmin",
                     "any", "all", "norm", "linalg_vector_norm", "logsumexp", "cumsum"), 1.0),
    **dict.fromkeys(("var", "var_mean", "std", "std_mean"), 3.0),
}
#: Ops counted per input element rather than per output element.
REDUCTIONS = frozenset((
    "sum", "mean", "amax", "amin", "max", "min", "prod", "argmax", "argmin", "any", "all", "norm",
    "linalg_vector_norm", "logsumexp", "var", "var_mean", "std", "std_mean",
))
DEFAULT_WEIGHT = 1.0
#: Ops that neither compute nor move data (views, metadata, tuple access).
FREE_OPS = frozenset((
    "view", "_unsafe_view", "reshape", "permute", "t", "transpose", "expand", "squeeze",
    "unsqueeze", "slice", "select", "alias", "as_strided", "detach", "split", "split_with_sizes",
    "unbind", "chunk", "narrow", "diagonal", "unfold", "lift_fresh", "lift_fresh_copy",
    "sym_size", "sym_numel", "sym_stride", "sym_storage_offset", "getitem", "view_as_real",
    "view_as_complex", "_reshape_alias", "expand_as", "view_as", "movedim",
))
_ITEMSIZE = {"float64": 8, "int64": 8, "complex64": 8, "float32": 4, "int32": 4,
             "float16": 2, "bfloat16": 2, "int16": 2, "uint8": 1, "int8": 1, "bool": 1,
             "float8_e4m3fn": 1, "float8_e5m2": 1}

FlopsSource = Literal["torch", "elements", "free"]


@dataclass(frozen=True)
class DeviceProfile:
    """Peak rates of one device: `matmul_flops_per_s` (dense 16-bit tensor-core peak),
    `fp32_flops_per_s` (non-tensor-core FP32 peak, also the vector peak for every dtype) and
    `bandwidth_bytes_per_s` (memory bandwidth). `source`: `datasheet` or `measured`."""

    name: str
    label: str
    matmul_flops_per_s: float
    fp32_flops_per_s: float
    bandwidth_bytes_per_s: float
    source: str = "datasheet"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DeviceProfile:
        return cls(**{f.name: d[f.name] for f in fields(cls)})


#: Datasheet figures (dense, SXM where there is a choice).
PROFILES: dict[str, DeviceProfile] = {
    "h100": DeviceProfile("h100", "NVIDIA H100 SXM", 989e12, 67e12, 3.35e12),
    "h200": DeviceProfile("h200", "NVIDIA H200 SXM", 989e12, 67e12, 4.8e12),
    "a100": DeviceProfile("a100", "NVIDIA A100 SXM 80GB", 312e12, 19.5e12, 2.039e12),
    "l4": DeviceProfile("l4", "NVIDIA L4", 121e12, 30.3e12, 300e9),
}


@dataclass(frozen=True)
class OpCost:
    """What running one op costs: `flops` (and where the figure comes from), the bytes it
    reads and writes, and whether it runs on the matmul units (`matmul`)."""

    flops: int
    flops_source: FlopsSource
    bytes_read: int
    bytes_written: int
    matmul: bool

    @property
    def bytes_moved(self) -> int:
        return self.bytes_read + self.bytes_written


def op_name(node: Node) -> str:
    """`aten.gelu.default` → `gelu`; an RNG wrapper's wrapped op; `operator.getitem` → `getitem`."""
    target = node.wraps or node.target
    parts = target.split(".")
    if parts[0] in ("aten", "prims", "quantized") and len(parts) > 1:
        return parts[1]
    return parts[-1]


def elements(node: Node) -> int:
    """The element count of a node's value (from its shape, else bytes / item size)."""
    if node.shape is not None:
        return math.prod(node.shape)
    return node.bytes // _ITEMSIZE.get(node.dtype or "", 4)


def op_cost(node: Node, graph_nodes: Mapping[str, Node]) -> OpCost:
    """The cost of one `call_function` node; inputs are looked up in `graph_nodes`."""
    name = op_name(node)
    if node.op != "call_function" or node.view_of is not None or name in FREE_OPS or (
            node.dtype in ("symint", "symfloat")):
        return OpCost(0, "free", 0, 0, False)
    inputs = [graph_nodes[i] for i in dict.fromkeys(node.inputs) if i in graph_nodes]
    bytes_read = sum(i.bytes for i in inputs if i.dtype not in ("symint", "symfloat"))
    if node.flops:
        return OpCost(node.flops, "torch", bytes_read, node.bytes, True)
    weight = OP_WEIGHTS.get(name, DEFAULT_WEIGHT)
    counted = max((elements(i) for i in inputs), default=0) if name in REDUCTIONS else (
        elements(node))
    return OpCost(round(weight * counted), "elements", bytes_read, node.bytes, False)


def op_time_s(cost: OpCost, dtype: str | None, profile: DeviceProfile) -> float:
    """Roofline time of one op on `profile`."""
    if cost.flops_source == "free":
        return 0.0
    sixteen_bit = dtype in ("float16", "bfloat16")
    peak = profile.matmul_flops_per_s if cost.matmul and sixteen_bit else (
        profile.fp32_flops_per_s)
    return max(cost.flops / peak, cost.bytes_moved / profile.bandwidth_bytes_per_s)


@dataclass(frozen=True)
class CostTotals:
    """Totals over a set of ops: `count`, `flops`, `bytes_moved`, `time_s` (on one profile)."""

    count: int
    flops: int
    bytes_moved: int
    time_s: float

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def totals(nodes: Iterable[Node], graph_nodes: Mapping[str, Node],
           profile: DeviceProfile) -> CostTotals:
    count = flops = moved = 0
    time_s = 0.0
    for n in nodes:
        c = op_cost(n, graph_nodes)
        count += 1
        flops += c.flops
        moved += c.bytes_moved
        time_s += op_time_s(c, n.dtype, profile)
    return CostTotals(count, flops, moved, time_s)


def resolve_profile(name: str, device: str, measured_cpu: DeviceProfile | None = None,
                    gpu_name: str | None = None) -> DeviceProfile:
    """The profile `Settings.cost_profile` names: `auto` is the analysis device (a known GPU by
    its name, else H100; the CPU by `measured_cpu`)."""
    if name == "auto":
        if device == "cpu":
            name = "cpu"
        else:
            lowered = (gpu_name or "").lower()
            name = next((k for k in PROFILES if k in lowered), "h100")
    if name == "cpu":
        if measured_cpu is None:
            raise ValueError("the 'cpu' cost profile needs a measured CPU profile")
        return measured_cpu
    return PROFILES[name]


COST_VERSION = 1


def _forward_ops(graph_nodes: Iterable[Node]) -> list[Node]:
    return [n for n in graph_nodes if n.op == "call_function"]


def cost_summary(regions: Iterable[Any], profile: DeviceProfile,
                 torch_knapsack: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The `cost` key of an analysis document::

        "cost": {"version": 1, "profile": {…DeviceProfile…},
                 "recompute": {"count", "flops", "bytes_moved", "time_s"}, "forward": {…},
                 "recompute_time_fraction": 0.12,          # recompute / forward time, or null
                 "by_profile": [{"profile", "label", "source", "recompute_time_s",
                                 "forward_time_s"}],        # every datasheet profile (+ this one)
                 "torch_knapsack": [{"region", "estimator", "expected_runtime"}]}

    `regions` are IR `Region`s; `torch_knapsack` is what torch's knapsack estimated for the
    recompute it chose (only under a memory budget below 1; in the estimator's own unit)."""
    regions = list(regions)
    profiles = list(PROFILES.values())
    if profile.name not in PROFILES:
        profiles.append(profile)
    rows: dict[str, list[float]] = {p.name: [0.0, 0.0] for p in profiles}
    recompute = forward = CostTotals(0, 0, 0, 0.0)
    for region in regions:
        fw = region.graphs["forward"]
        fw_nodes = fw.by_name()
        fw_ops = _forward_ops(fw.nodes)
        bw = region.graphs.get("backward")
        bw_nodes = bw.by_name() if bw else {}
        rc_ops = recompute_nodes(region)
        forward = _add(forward, totals(fw_ops, fw_nodes, profile))
        recompute = _add(recompute, totals(rc_ops, bw_nodes, profile))
        for p in profiles:
            rows[p.name][0] += totals(rc_ops, bw_nodes, p).time_s
            rows[p.name][1] += totals(fw_ops, fw_nodes, p).time_s
    return {
        "version": COST_VERSION,
        "profile": profile.to_dict(),
        "recompute": recompute.to_dict(),
        "forward": forward.to_dict(),
        "recompute_time_fraction": (recompute.time_s / forward.time_s) if forward.time_s
        else None,
        "by_profile": [{"profile": p.name, "label": p.label, "source": p.source,
                        "recompute_time_s": rows[p.name][0], "forward_time_s": rows[p.name][1]}
                       for p in profiles],
        "torch_knapsack": [dict(k) for k in torch_knapsack],
    }


def _add(a: CostTotals, b: CostTotals) -> CostTotals:
    return CostTotals(a.count + b.count, a.flops + b.flops, a.bytes_moved + b.bytes_moved,
                      a.time_s + b.time_s)


def profile_of(doc: Mapping[str, Any]) -> DeviceProfile:
    """The profile an analysis document was costed with (H100 for documents without one)."""
    stored = doc.get("cost")
    if isinstance(stored, Mapping) and isinstance(stored.get("profile"), Mapping):
        return DeviceProfile.from_dict(stored["profile"])
    name = (doc.get("settings") or {}).get("cost_profile", "auto")
    return PROFILES.get(name, PROFILES["h100"])


def recompute_nodes(region: Any) -> list[Node]:
    """The backward nodes the classification marked `recompute` (what the estimate counts)."""
    bw = region.graphs.get("backward")
    return [n for n in bw.nodes if n.status == "recompute"] if bw else []


def measured_recompute(regions: Iterable[Any], device: str, method: str,
                       times_s: Mapping[int, Iterable[tuple[str, float]]]) -> dict[str, Any]:
    """The `cost.measured` key: the recompute nodes timed on real tensors beside the estimate::

        "measured": {"device": "cuda", "method": "cuda-events" | "perf-counter",
                     "recompute_time_s": 0.0031, "count": 564,
                     "by_op": {"gelu": 0.0004, …}, "by_module": {"blocks.0.mlp": …, …}}

    `times_s` are (backward node name, seconds) by region index; nodes missing from the IR
    count under op and module "?"."""
    by_op: dict[str, float] = {}
    by_module: dict[str, float] = {}
    total, count = 0.0, 0
    for region in regions:
        nodes = {n.name: n for n in recompute_nodes(region)}
        for name, seconds in times_s.get(region.index, ()):
            node = nodes.get(name)
            op = op_name(node) if node else "?"
            module = (node.module or "") if node else "?"
            by_op[op] = by_op.get(op, 0.0) + seconds
            by_module[module] = by_module.get(module, 0.0) + seconds
            total += seconds
            count += 1
    return {"device": device, "method": method, "recompute_time_s": total, "count": count,
            "by_op": dict(sorted(by_op.items(), key=lambda kv: -kv[1])),
            "by_module": dict(sorted(by_module.items(), key=lambda kv: -kv[1]))}
