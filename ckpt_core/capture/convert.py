"""Turn captured `torch.fx` graphs into IR graphs (statuses are filled in later by `classify`)."""

from __future__ import annotations

import torch.fx as fx

from ..ir import Graph, GraphKind, Node, Source
from ..module_paths import canonical_module_path, with_rng_owners
from . import meta


class SourceLines:
    """The snippet's lines, to attach `{"line", "code"}` to nodes."""

    def __init__(self, path: str, text: str):
        self.path = path
        self._lines = text.splitlines()

    def source(self, node: fx.Node) -> Source | None:
        line = meta.snippet_line(node, self.path)
        if line is None or not 1 <= line <= len(self._lines):
            return None
        return Source(line=line, code=self._lines[line - 1].strip())


def convert_graph(
    gm: fx.GraphModule,
    kind: GraphKind,
    lines: SourceLines,
    *,
    requested: dict[str, str | None] | None = None,
    params: dict[str, str] | None = None,
    reasons: dict[str, tuple[str, ...]] | None = None,
    with_flops: bool = True,
    flops_cache: dict[tuple[str, str], int | None] | None = None,
) -> Graph:
    """One IR node per FX node, in graph order.

    `requested` maps joint node names to the policy they carried before partitioning; `params`
    maps placeholder names to parameter/buffer names; `reasons` holds the min-cut partitioner's
    constraints by node name. `flops_cache`, shared by the graphs of one region, keeps each
    value's FLOPs: the partitioner's graphs copy the joint graph's nodes under the same names.
    """
    cache: dict[tuple[str, str], int | None] = {} if flops_cache is None else flops_cache
    nodes = []
    for n in gm.graph.nodes:
        shape, dtype, nbytes = meta.node_tensor_info(n)
        base = meta.view_base(n)
        module_raw, module_type = meta.module_path(n)
        module = canonical_module_path(module_raw)
        policy = meta.policy_name(n)
        nodes.append(
            Node(
                name=n.name,
                op=n.op,
                target=meta.target_name(n),
                inputs=meta.input_names(n),
                wraps=meta.wrapped_op(n),
                shape=shape,
                dtype=dtype,
                bytes=nbytes,
                view_of=base.name if base is not None else None,
                requested_policy=(requested.get(n.name) if requested is not None else policy),
                policy=policy,
                ac_region=meta.ac_graph_id(n),
                partitioner_tag=meta.partitioner_tag(n),
                module=module,
                module_raw=module_raw if module_raw != module else None,
                module_type=module_type,
                param=(params or {}).get(n.name),
                source=lines.source(n),
                flops=_cached_flops(n, cache) if with_flops else None,
                seq_nr=meta.seq_nr(n),
                partitioner_reasons=(reasons or {}).get(n.name, ()),
                policy_op=meta.policy_op(n) if kind == "joint" else None,
            )
        )
    return Graph(kind=kind, nodes=with_rng_owners(nodes))


def _cached_flops(n: fx.Node, cache: dict[tuple[str, str], int | None]) -> int | None:
    if n.op != "call_function":
        return None
    key = (n.name, str(n.target))
    if key not in cache:
        cache[key] = meta.flops(n)
    return cache[key]
