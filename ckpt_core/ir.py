"""The analysis IR: plain, frozen, JSON-able records. Their docstrings are the spec.

Everything downstream of capture (classification, memory, diff, rendering, the server and the
browser) reads only these records or their `to_dict()` form; none of them needs torch.
`SCHEMA_VERSION` is bumped whenever the JSON form changes incompatibly;
`schema/analysis.schema.json` documents it and `ckpt_core.validate` checks both the schema
and the invariants below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, TypedDict

from .ir_program import GRAPH_KINDS as GRAPH_KINDS
from .ir_program import HAZARD_KINDS as HAZARD_KINDS
from .ir_program import GraphBreak as GraphBreak
from .ir_program import GraphKind as GraphKind
from .ir_program import Handover as Handover
from .ir_program import Hazard as Hazard
from .ir_program import HazardKind as HazardKind
from .ir_program import NodeRef as NodeRef

SCHEMA_VERSION = 1

#: Status of a node, by graph.
#: forward:  "parameter" | "input" (placeholders), "saved" (kept for backward), "recomputed"
#:           (also computed again in backward), "forward_only", "output".
#: backward: "saved" (a placeholder receiving a saved value), "tangent", "recompute" (a forward op
#:           computed again; `recompute_of` names it), "gradient" (every other backward op),
#:           "output".
#: joint:    the forward statuses for forward nodes (plus "unused" for nodes the partitioner
#:           dropped),
#:           "tangent", "gradient" for backward nodes, "output".
Status = str

SavedKind = Literal["activation", "input", "parameter", "rng_state", "view", "symint"]


class SourceJSON(TypedDict):
    line: int
    code: str


class NodeJSON(TypedDict):
    """A `Node` as JSON (`Node.to_dict()`): what graph views, the server and the browser read.
    Tuples become lists; `source` is `{line, code}`; the fields are documented on `Node`."""

    name: str
    op: str
    target: str
    wraps: str | None
    inputs: list[str]
    shape: list[int] | None
    dtype: str | None
    bytes: int
    view_of: str | None
    requested_policy: str | None
    policy: str | None
    ac_region: int | None
    partitioner_tag: str | None
    status: Status
    recompute_of: str | None
    module: str | None
    module_raw: str | None
    module_type: str | None
    param: str | None
    source: SourceJSON | None
    flops: int | None
    seq_nr: int | None
    partitioner_reasons: list[str]
    why: str | None
    policy_op: str | None


@dataclass(frozen=True)
class Source:
    """Where a node comes from in the snippet: 1-based `line` and that line's `code`."""

    line: int
    code: str

    def to_dict(self) -> SourceJSON:
        return {"line": self.line, "code": self.code}


@dataclass(frozen=True)
class Node:
    """One FX node of a captured graph.

    - `name`: the FX name. The partitioner keeps joint-graph names, so one name denotes the same
      value in the joint, forward and backward graphs of a region.
    - `op`: the FX opcode (`placeholder`, `call_function`, `get_attr`, `output`).
    - `target`: `str(OpOverload)` such as `aten.mm.default`, `higher_order.<name>` for a
      higher-order op, the Python qualname for other callables, the FX name for placeholders.
    - `wraps`: for the RNG wrappers (`run_and_save_rng_state`, `run_with_rng_state`,
      `graphsafe_run_with_rng_state`), the op they run.
    - `inputs`: names of the nodes this one reads, in argument order, without repeats.
    - `shape`, `dtype`, `bytes`: the value's shape, dtype (`float32`, `symint`, …) and size in
      bytes (`0` for non-tensors). A node that returns several tensors has `shape=None` and
      `bytes` summed over them.
    - `view_of`: for a view (an op whose schema aliases an input) the node it views; a view
      shares its base's storage and costs no new memory.
    - `requested_policy`: the `CheckpointPolicy` name the user's checkpoint set (joint graph,
      snapshotted before partitioning); `policy`: the tag the node carries after partitioning.
    - `ac_region`: the `ac_graph_id` of its checkpoint region, renumbered 1, 2, … per analysis.
    - `partitioner_tag`: `is_forward` / `is_backward` as aot_autograd tagged the joint graph.
    - `status` (see `Status`) and `recompute_of` (backward recompute: the forward node's name).
    - `module`: the canonical `nn.Module` path (`blocks.3.attn.qkv`): wrapper segments such as
      `_checkpoint_wrapped_module`, `__dict__`, `_orig_mod`, `_fsdp_wrapped_module`, a leading
      DataParallel `module` or `args.N` dropped (see `module_paths`); RNG state values carry the
      module of the op that consumes them. `module_raw`: the path as torch reported it, when it
      differs. `module_type`: the module's class name.
    - `param`: for placeholders that are parameters or buffers, their qualified name (canonical,
      like `module`).
    - `source`: the innermost snippet line that produced it; `flops`: torch's flop-counter figure
      where torch defines one; `seq_nr`: autograd's sequence number, linking forward and backward.
    - `partitioner_reasons`: the constraints torch's min-cut partitioner put on the node, in its
      own words ("cannot recompute: compute intensive op", "must recompute: marked by checkpoint
      policy", "must be available for backward: …"); `why`: one sentence saying why the node
      ended up saved / recomputed / forward-only (derived by `classify.explain`).
    - `policy_op`: for a forward node of the joint graph, the op a checkpoint `policy_fn` was
      called with when it differs from `target` (torch's `original_aten`: the op before
      inductor's decompositions; every node of one decomposed call carries that call's tag).
    """

    name: str
    op: str
    target: str
    inputs: tuple[str, ...] = ()
    wraps: str | None = None
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    bytes: int = 0
    view_of: str | None = None
    requested_policy: str | None = None
    policy: str | None = None
    ac_region: int | None = None
    partitioner_tag: str | None = None
    status: Status = ""
    recompute_of: str | None = None
    module: str | None = None
    module_type: str | None = None
    param: str | None = None
    source: Source | None = None
    flops: int | None = None
    seq_nr: int | None = None
    partitioner_reasons: tuple[str, ...] = ()
    why: str | None = None
    policy_op: str | None = None
    module_raw: str | None = None

    def to_dict(self) -> NodeJSON:
        return {
            "name": self.name,
            "op": self.op,
            "target": self.target,
            "wraps": self.wraps,
            "inputs": list(self.inputs),
            "shape": list(self.shape) if self.shape is not None else None,
            "dtype": self.dtype,
            "bytes": self.bytes,
            "view_of": self.view_of,
            "requested_policy": self.requested_policy,
            "policy": self.policy,
            "ac_region": self.ac_region,
            "partitioner_tag": self.partitioner_tag,
            "status": self.status,
            "recompute_of": self.recompute_of,
            "module": self.module,
            "module_raw": self.module_raw,
            "module_type": self.module_type,
            "param": self.param,
            "source": self.source.to_dict() if self.source else None,
            "flops": self.flops,
            "seq_nr": self.seq_nr,
            "partitioner_reasons": list(self.partitioner_reasons),
            "why": self.why,
            "policy_op": self.policy_op,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Node:
        src = d.get("source")
        shape = d.get("shape")
        return cls(
            name=d["name"],
            op=d["op"],
            target=d["target"],
            inputs=tuple(d.get("inputs", ())),
            wraps=d.get("wraps"),
            shape=tuple(shape) if shape is not None else None,
            dtype=d.get("dtype"),
            bytes=int(d.get("bytes", 0)),
            view_of=d.get("view_of"),
            requested_policy=d.get("requested_policy"),
            policy=d.get("policy"),
            ac_region=d.get("ac_region"),
            partitioner_tag=d.get("partitioner_tag"),
            status=d.get("status", ""),
            recompute_of=d.get("recompute_of"),
            module=d.get("module"),
            module_raw=d.get("module_raw"),
            module_type=d.get("module_type"),
            param=d.get("param"),
            source=Source(int(src["line"]), str(src["code"])) if src else None,
            flops=d.get("flops"),
            seq_nr=d.get("seq_nr"),
            partitioner_reasons=tuple(d.get("partitioner_reasons", ())),
            why=d.get("why"),
            policy_op=d.get("policy_op"),
        )


@dataclass(frozen=True)
class Graph:
    """One captured graph: `nodes` in topological (FX) order; the last node is the `output`."""

    kind: GraphKind
    nodes: tuple[Node, ...]

    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def output(self) -> Node | None:
        return self.nodes[-1] if self.nodes and self.nodes[-1].op == "output" else None

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": [n.to_dict() for n in self.nodes]}

    @classmethod
    def from_dict(cls, kind: GraphKind, d: dict[str, Any]) -> Graph:
        return cls(kind=kind, nodes=tuple(Node.from_dict(n) for n in d["nodes"]))


@dataclass(frozen=True)
class SavedValue:
    """One value the forward hands to the backward.

    `forward_node` is the forward graph's output in that position (after the user outputs),
    `backward_node` the backward placeholder receiving it (in the same order). `kind` says what
    saving it costs: `activation` (new memory), `input` / `parameter` (alive anyway), `view`
    (shares a storage: `storage_of` names the root value), `rng_state` (a saved RNG state for
    replaying randomness in a recompute) or `symint` (a saved size).
    """

    forward_node: str
    backward_node: str
    kind: SavedKind
    bytes: int
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    storage_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "forward_node": self.forward_node,
            "backward_node": self.backward_node,
            "kind": self.kind,
            "bytes": self.bytes,
            "shape": list(self.shape) if self.shape is not None else None,
            "dtype": self.dtype,
            "storage_of": self.storage_of,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SavedValue:
        shape = d.get("shape")
        return cls(
            forward_node=d["forward_node"],
            backward_node=d["backward_node"],
            kind=d["kind"],
            bytes=int(d["bytes"]),
            shape=tuple(shape) if shape is not None else None,
            dtype=d.get("dtype"),
            storage_of=d.get("storage_of"),
        )


@dataclass(frozen=True)
class RegionSummary:
    """Counts for one region. `saved_activation_*` count distinct storages among saved values that
    are neither graph inputs/parameters nor views of them (what saving really costs).
    `recomputed_count` counts backward recompute ops; `recompute_flops` sums their FLOPs and
    `forward_flops` the forward's, by `ckpt_core.cost.op_cost` (torch's flop counter for
    matmul, convolution and attention; element counts times a per-op weight for the rest)."""

    op_counts: dict[str, dict[str, int]]
    saved_count: int
    recomputed_count: int
    forward_only_count: int
    saved_activation_count: int
    saved_activation_bytes: int
    recompute_flops: int
    forward_flops: int

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegionSummary:
        return cls(**{f.name: d[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Region:
    """One compiled graph (a graph break starts a new one) and its partition.

    `graphs` maps "joint" / "forward" / "backward" to graphs; an inference-only region (nothing
    needs grad) has only "forward". `num_user_outputs` is the count of forward outputs that are
    the model's, before the saved values.
    """

    index: int
    graphs: dict[str, Graph]
    saved: tuple[SavedValue, ...]
    num_user_outputs: int
    summary: RegionSummary | None = None

    def graph(self, kind: str) -> Graph | None:
        return self.graphs.get(kind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "graphs": {k: g.to_dict() for k, g in self.graphs.items()},
            "saved": [s.to_dict() for s in self.saved],
            "num_user_outputs": self.num_user_outputs,
            "summary": self.summary.to_dict() if self.summary else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Region:
        graphs = {k: Graph.from_dict(k, g) for k, g in d["graphs"].items()}
        summary = d.get("summary")
        return cls(
            index=int(d["index"]),
            graphs=graphs,
            saved=tuple(SavedValue.from_dict(s) for s in d["saved"]),
            num_user_outputs=int(d["num_user_outputs"]),
            summary=RegionSummary.from_dict(summary) if summary else None,
        )


@dataclass(frozen=True)
class Analysis:
    """One complete analysis of one snippet under one `Settings`.

    Carries everything needed to reproduce it (`settings`, `torch_version`, `device`,
    `snippet_sha256`) so a shared result stays meaningful. `settings["execution"] == "fake"`
    marks a fake-tensor analysis: every figure comes from shapes and dtypes with `device`'s op
    choices, and nothing ran (a document without the key was executed for real). `summary`
    totals the regions' summaries; `timings_s` gives seconds per stage. `hazards` lists what a
    user must know before acting on the plan (see `Hazard`); `handovers` the values regions hand
    to later regions (see `Handover`), so `summary` counts a value kept across a graph break
    once, as the program's activation. The cost model adds `summary.recompute_time_s`,
    `forward_time_s`, `recompute_time_fraction`, `recompute_bytes_moved`, `cost_profile` and
    the `cost` key (`ckpt_core.cost.cost_summary`).
    """

    ckptscope_version: str
    torch_version: str
    device: str
    settings: dict[str, Any]
    snippet_sha256: str
    snippet_name: str
    snippet_source: str
    regions: tuple[Region, ...]
    graph_breaks: tuple[GraphBreak, ...]
    summary: dict[str, Any]
    timings_s: dict[str, float]
    schema_version: int = SCHEMA_VERSION
    hazards: tuple[Hazard, ...] = ()
    handovers: tuple[Handover, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "ckptscope_version": self.ckptscope_version,
            "torch_version": self.torch_version,
            "device": self.device,
            "settings": dict(self.settings),
            "snippet_sha256": self.snippet_sha256,
            "snippet_name": self.snippet_name,
            "snippet_source": self.snippet_source,
            "regions": [r.to_dict() for r in self.regions],
            "graph_breaks": [b.to_dict() for b in self.graph_breaks],
            "summary": self.summary,
            "timings_s": dict(self.timings_s),
            "hazards": [h.to_dict() for h in self.hazards],
            "handovers": [h.to_dict() for h in self.handovers],
        }
        out.update(self.extras)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Analysis:
        known = {f.name for f in fields(cls)} - {"extras"}
        return cls(
            schema_version=int(d["schema_version"]),
            ckptscope_version=d["ckptscope_version"],
            torch_version=d["torch_version"],
            device=d["device"],
            settings=dict(d["settings"]),
            snippet_sha256=d["snippet_sha256"],
            snippet_name=d.get("snippet_name", "snippet.py"),
            snippet_source=d.get("snippet_source", ""),
            regions=tuple(Region.from_dict(r) for r in d["regions"]),
            graph_breaks=tuple(GraphBreak.from_dict(b) for b in d["graph_breaks"]),
            summary=dict(d["summary"]),
            timings_s=dict(d["timings_s"]),
            hazards=tuple(Hazard.from_dict(h) for h in d.get("hazards", ())),
            handovers=tuple(Handover.from_dict(h) for h in d.get("handovers", ())),
            extras={k: v for k, v in d.items() if k not in known},
        )

    def with_extras(self, **extras: Any) -> Analysis:
        return replace(self, extras={**self.extras, **extras})

    def with_hazards(self, *hazards: Hazard) -> Analysis:
        """This analysis with `hazards` appended (duplicates of kind+message are dropped)."""
        seen = {(h.kind, h.message) for h in self.hazards}
        new: list[Hazard] = []
        for h in hazards:
            if (h.kind, h.message) not in seen:
                seen.add((h.kind, h.message))
                new.append(h)
        return replace(self, hazards=self.hazards + tuple(new))


@dataclass(frozen=True)
class RawRegion:
    """A region as capture hands it over, before `classify`: graphs without statuses.

    `parameter_inputs` names the joint placeholders torch treats as static-lifetime inputs
    (parameters and buffers: saving them costs nothing extra); `memory_budget` is the
    activation memory budget the partitioner ran under.
    """

    index: int
    graphs: dict[str, Graph]
    num_user_outputs: int
    parameter_inputs: frozenset[str] = frozenset()
    memory_budget: float = 1.0
