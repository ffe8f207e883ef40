"""Export to Google's Model Explorer: an analysis as a JSON graph collection and node-data overlays.

Pure: an `Analysis` in, plain JSON-able dicts out (the CLI and the server write them).

- `graphs`: one Model Explorer *GraphCollection* (`{"label", "graphs": [Graph…]}`, the schema of
  `model_explorer.graph_builder`), one graph per region and kind (`forward`, `backward`,
  `joint`; id `r<region>.<kind>`). Each FX node is a `GraphNode`: `label` its op, `namespace`
  its module path as `/`-separated groups (so Model Explorer nests layers as ckptscope's
  explorer does), `attrs` op/shape/dtype/bytes/policy/status/why (and more), `incomingEdges`
  from its inputs, one output with shape and dtype. Model Explorer opens the file as is: it is
  what its built-in JSON graph loader (`model_explorer.hfgraph`, `.hfgraph`) reads.
- `node_data`: overlays in Model Explorer's node-data format (`node_data_builder.ModelNodeData`:
  graph id → `{"results": {node id: {"value", "bgColor"}}, …}`): `status` colours each node by
  its status in the status palette, `bytes` by the bytes it allocates (a gradient).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import palette
from .ir import Analysis, Node
from .units import fmt_bytes

#: overlay value of each status (Model Explorer shows the number beside the colour)
STATUS_VALUES: Mapping[str, int] = {
    "saved": 1, "recomputed": 2, "recompute": 2, "forward_only": 3, "gradient": 4,
    "parameter": 5, "input": 6, "tangent": 7, "output": 8,
}


@dataclass(frozen=True)
class ModelExplorerExport:
    """`graphs`: the GraphCollection JSON; `node_data`: overlay name → ModelNodeData JSON."""

    graphs: dict[str, Any]
    node_data: dict[str, dict[str, Any]]


def _namespaces(nodes: Sequence[Node], reference: Sequence[Node]) -> dict[str, str]:
    """Each node's module path as Model Explorer's namespace: its module; else its parameter's
    owner; else the module of the forward op with the same autograd `seq_nr`; else its first
    input's (as the graph explorer groups them)."""
    by_seq: dict[int, str] = {}
    for n in (*reference, *nodes):
        if n.module and n.seq_nr is not None:
            by_seq.setdefault(n.seq_nr, n.module)
    paths: dict[str, str] = {}
    for n in nodes:
        path = n.module or (n.param.rpartition(".")[0] if n.param else None)
        if not path and n.seq_nr is not None:
            path = by_seq.get(n.seq_nr)
        if not path and n.op not in ("placeholder", "output"):
            path = next((paths[i] for i in n.inputs if paths.get(i)), None)
        paths[n.name] = path or ""
    return {name: path.replace(".", "/") for name, path in paths.items()}


def _attrs(n: Node) -> list[dict[str, str]]:
    values: list[tuple[str, Any]] = [
        ("op", n.target), ("fx_op", n.op), ("shape", list(n.shape) if n.shape else None),
        ("dtype", n.dtype), ("bytes", f"{n.bytes} ({fmt_bytes(n.bytes)})" if n.bytes else "0"),
        ("view_of", n.view_of), ("status", n.status), ("policy", n.policy),
        ("requested_policy", n.requested_policy), ("why", n.why),
        ("checkpoint_region", n.ac_region), ("module", n.module),
        ("module_type", n.module_type), ("param", n.param),
        ("source", f"line {n.source.line}: {n.source.code.strip()}" if n.source else None),
        ("flops", n.flops), ("recompute_of", n.recompute_of), ("wraps", n.wraps),
        ("partitioner", "; ".join(n.partitioner_reasons) if n.partitioner_reasons else None),
    ]
    return [{"key": k, "value": str(v)} for k, v in values if v is not None and v != ""]


def _node(n: Node, namespace: str, names: set[str]) -> dict[str, Any]:
    meta = [{"key": "tensor_name", "value": n.name}]
    if n.shape is not None:
        meta.append({"key": "shape", "value": str(list(n.shape))})
    if n.dtype:
        meta.append({"key": "dtype", "value": n.dtype})
    return {
        "id": n.name,
        "label": n.target.removeprefix("aten.").removesuffix(".default") or n.op,
        "namespace": namespace,
        "attrs": _attrs(n),
        "incomingEdges": [{"sourceNodeId": src, "sourceNodeOutputId": "0",
                           "targetNodeInputId": str(i)}
                          for i, src in enumerate(n.inputs) if src in names],
        "outputsMetadata": [{"id": "0", "attrs": meta}],
        "style": {"backgroundColor": palette.tint(n.status),
                  "borderColor": palette.color(n.status)} if n.status in STATUS_VALUES else None,
    }


def to_model_explorer(analysis: Analysis, *, label: str | None = None) -> ModelExplorerExport:
    """The analysis' forward, backward and joint graphs (every region) in Model Explorer's
    JSON graph format, with node-data overlays by status and by bytes."""
    graphs: list[dict[str, Any]] = []
    status_data: dict[str, Any] = {}
    bytes_data: dict[str, Any] = {}
    for region in analysis.regions:
        joint = region.graphs.get("joint")
        reference = joint.nodes if joint else ()
        for kind in ("forward", "backward", "joint"):
            graph = region.graphs.get(kind)
            if graph is None:
                continue
            graph_id = f"r{region.index}.{kind}"
            spaces = _namespaces(graph.nodes, reference)
            names = {n.name for n in graph.nodes}
            nodes = [_node(n, spaces[n.name], names) for n in graph.nodes]
            graphs.append({
                "id": graph_id,
                "nodes": [{k: v for k, v in node.items() if v is not None} for node in nodes],
                "groupNodeAttributes": {"": {
                    "analysis": analysis.snippet_name, "graph": kind,
                    "region": str(region.index), "torch": analysis.torch_version,
                    "device": analysis.device}},
            })
            status_data[graph_id] = {
                "name": "status",
                "results": {n.name: {"value": STATUS_VALUES[n.status],
                                     "bgColor": palette.color(n.status)}
                            for n in graph.nodes if n.status in STATUS_VALUES},
            }
            bytes_data[graph_id] = {
                "name": "bytes",
                "results": {n.name: {"value": 0 if n.view_of else n.bytes}
                            for n in graph.nodes},
                "gradient": [{"stop": 0, "bgColor": "#ffffff"},
                             {"stop": 1, "bgColor": palette.color("saved")}],
            }
    collection = {"label": label or f"ckptscope · {analysis.snippet_name}", "graphs": graphs}
    return ModelExplorerExport(graphs=collection,
                               node_data={"status": status_data, "bytes": bytes_data})
