"""Read what the diff needs from an analysis document: its forward nodes, their costs, peaks.

Works on the JSON form (`Analysis.to_dict()`), so stored documents and fresh analyses read the
same way. Everything here is pure; a malformed document raises `DiffInputError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..cost import op_cost
from ..errors import DiffInputError as DiffInputError
from ..ir import SCHEMA_VERSION, Analysis, Node

#: Saved-value kinds whose storage saving costs (as the analysis summary counts them).
_COSTLY_SAVED_KINDS = ("activation", "view", "rng_state")


@dataclass(frozen=True)
class ForwardNode:
    """A forward node of one region with the costs the diff compares (see `model.NodeState`)."""

    region: int
    name: str
    op: str
    target: str
    inputs: tuple[str, ...]
    module: str | None
    line: int | None
    param: str | None
    status: str
    policy: str | None
    requested_policy: str | None
    bytes: int
    saved_activation_bytes: int
    recompute_flops: int
    shape: tuple[int, ...] | None = None
    wraps: str | None = None
    #: position among the model's own outputs (the forward graph's first outputs), if it is one
    user_output: int | None = None


def as_document(item: Analysis | Mapping[str, Any], where: str) -> dict[str, Any]:
    """The JSON form of `item`, checked enough to be diffed (`where` names it in errors)."""
    if isinstance(item, Analysis):
        return item.to_dict()
    if not isinstance(item, Mapping):
        raise DiffInputError(
            f"{where}: expected an analysis or its dict, got {type(item).__name__}")
    doc = dict(item)
    if "error" in doc and "regions" not in doc:
        err = doc["error"] if isinstance(doc["error"], Mapping) else {}
        first = str(err.get("message", "")).strip().splitlines()[:1]
        raise DiffInputError(
            f"{where}: holds an error ({err.get('type', 'error')}: "
            f"{first[0] if first else '?'}), not an analysis")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DiffInputError(
            f"{where}: analysis schema_version {version!r}, expected {SCHEMA_VERSION}")
    regions = doc.get("regions")
    if not isinstance(regions, list) or not all(
        isinstance(r, Mapping) and isinstance(r.get("graphs"), Mapping)
        and "forward" in r["graphs"] for r in regions
    ):
        raise DiffInputError(f"{where}: no regions with a forward graph")
    return doc


def forward_nodes(doc: Mapping[str, Any], where: str = "analysis") -> list[ForwardNode]:
    """Every region's forward nodes, in region then graph order.

    The joint graph's forward part is used where there is one: it holds every forward op before
    partitioning, so a value the partitioner moved entirely into the backward (recomputed, no
    longer in the forward graph) still lines up with the same value in another analysis. Nodes
    the forward graph adds (RNG wrappers) follow. The forward graph's copy of a node wins for its
    tags and status (they are the partition's); its inputs stay the joint graph's, the structure
    before partitioning. An RNG wrapper that runs an op the partitioner dropped from the forward
    (`unused`) takes that op's place: the op's entry gets the wrapper's name and status, and what
    read the wrapper reads the op.
    """
    try:
        out: list[ForwardNode] = []
        for region in doc["regions"]:
            out.extend(_region_nodes(region))
        return out
    except (KeyError, TypeError, ValueError) as e:
        raise DiffInputError(f"{where}: malformed analysis ({e!r})") from e


def _region_nodes(region: Mapping[str, Any]) -> list[ForwardNode]:
    index = int(region["index"])
    graphs = region["graphs"]
    forward = [n for n in graphs["forward"]["nodes"] if n["op"] != "output"]
    fw_by_name = {n["name"]: n for n in forward}
    joint = graphs.get("joint")
    if joint is not None:
        from_joint = [
            {**fw_by_name[n["name"]], "inputs": n.get("inputs", [])} if n["name"] in fw_by_name
            else n
            for n in joint["nodes"]
            if n["op"] != "output" and n.get("partitioner_tag") == "is_forward"
        ]
        joint_names = {n["name"] for n in from_joint}
        nodes = _fold_rng_wrappers(
            from_joint, [n for n in forward if n["name"] not in joint_names])
    else:
        nodes = forward
    saved_bytes = _saved_activation_bytes(region, fw_by_name)
    flops = _recompute_flops(graphs.get("backward"))
    user_outputs = _user_outputs(graphs["forward"]["nodes"], region.get("num_user_outputs"))
    out = []
    for n in nodes:
        source = n.get("source")
        shape = n.get("shape")
        out.append(ForwardNode(
            region=index,
            name=n["name"],
            op=n["op"],
            target=n["target"],
            inputs=tuple(n.get("inputs", ())),
            # a parameter belongs to the module that owns it, so rollups group it there
            module=n.get("module") or (n["param"].rpartition(".")[0] or None
                                       if n.get("param") else None),
            line=int(source["line"]) if source else None,
            param=n.get("param"),
            status=n.get("status", ""),
            policy=n.get("policy"),
            requested_policy=n.get("requested_policy"),
            bytes=int(n.get("bytes", 0)),
            saved_activation_bytes=saved_bytes.get(n["name"], 0),
            recompute_flops=flops.get(n["name"], 0),
            shape=tuple(shape) if isinstance(shape, list) else None,
            wraps=n.get("wraps"),
            user_output=user_outputs.get(n["name"]),
        ))
    return out


def _fold_rng_wrappers(
    joint: list[dict[str, Any]], extra: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`joint + extra`, where each RNG wrapper of `extra` that runs an `unused` joint op with the
    same inputs is merged into that op (see `forward_nodes`)."""
    unused = {(n["target"], tuple(n.get("inputs", ()))): i for i, n in enumerate(joint)
              if n.get("status") == "unused"}
    renamed: dict[str, str] = {}
    kept = []
    for n in extra:
        i = unused.pop((n.get("wraps"), tuple(n.get("inputs", ()))), None) if n.get("wraps") \
            else None
        if i is None:
            kept.append(n)
            continue
        renamed[n["name"]] = joint[i]["name"]
        joint[i] = {**joint[i], **{k: n.get(k) for k in ("status", "policy", "bytes")}}
    if renamed:
        kept = [{**n, "inputs": [renamed.get(x, x) for x in n.get("inputs", ())]} for n in kept]
    return joint + kept


def _user_outputs(nodes: list[Mapping[str, Any]], count: Any) -> dict[str, int]:
    """The model's own outputs (the first `count` entries of the output node): name → position."""
    if not nodes or nodes[-1]["op"] != "output" or not isinstance(count, int):
        return {}
    out: dict[str, int] = {}
    for position, name in enumerate(nodes[-1].get("inputs", ())[:count]):
        out.setdefault(name, position)
    return out


def _saved_activation_bytes(
    region: Mapping[str, Any], fw_by_name: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    """Bytes per storage root of the costly saved values, as the region summary counts them."""
    roots: dict[str, int] = {}
    for s in region.get("saved", ()):
        if s["kind"] not in _COSTLY_SAVED_KINDS:
            continue
        root = s.get("storage_of") or s["forward_node"]
        node = fw_by_name.get(root)
        if node is None or node["op"] == "placeholder":
            continue
        roots[root] = int(node.get("bytes", 0))
    return roots


def _recompute_flops(backward: Mapping[str, Any] | None) -> dict[str, int]:
    """FLOPs of backward recompute ops (by the cost model, as in the summary), credited to the
    forward node they recompute."""
    flops: dict[str, int] = {}
    if not backward:
        return flops
    nodes = {n["name"]: Node.from_dict(n) for n in backward["nodes"]}
    for node in nodes.values():
        if node.status == "recompute":
            of = node.recompute_of or node.name
            flops[of] = flops.get(of, 0) + op_cost(node, nodes).flops
    return flops


def summary_total(doc: Mapping[str, Any], key: str, nodes: list[ForwardNode]) -> int:
    """The analysis summary's total, or the per-node sum where the summary lacks it."""
    summary = doc.get("summary")
    if isinstance(summary, Mapping) and isinstance(summary.get(key), int):
        return int(summary[key])
    return sum(int(getattr(n, key)) for n in nodes)


# Memory figures are an optional top-level `memory` entry of the analysis document
# (`ckpt_core.memory`): {"peak_bytes": N, "regions": [{"region": i, "peak": {"bytes": N, …}}, …]}
# (`peak` for `peak_bytes`, a bare number for `{"bytes": N}` and `index` for `region` are read
# too). Only the accessors below know that shape.

def peak_bytes(doc: Mapping[str, Any]) -> int | None:
    """Peak memory over the whole run, `None` when the document has no memory figures."""
    memory = doc.get("memory")
    if not isinstance(memory, Mapping):
        return None
    total = _bytes_of(memory.get("peak", memory.get("peak_bytes")))
    if total is not None:
        return total
    # regions run one after another, so the run's peak is the largest region peak
    peaks = [_bytes_of(r.get("peak", r.get("peak_bytes"))) for r in _memory_regions(memory)]
    known = [p for p in peaks if p is not None]
    return max(known) if known else None


def region_peak_bytes(doc: Mapping[str, Any], region: int) -> int | None:
    memory = doc.get("memory")
    if not isinstance(memory, Mapping):
        return None
    for i, entry in enumerate(_memory_regions(memory)):
        if _region_index(entry, i) == region:
            return _bytes_of(entry.get("peak", entry.get("peak_bytes")))
    return None


def _region_index(entry: Mapping[str, Any], position: int) -> int:
    index = entry.get("region", entry.get("index", position))
    return index if isinstance(index, int) else position


def _memory_regions(memory: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    regions = memory.get("regions")
    return [r for r in regions if isinstance(r, Mapping)] if isinstance(regions, list) else []


def _bytes_of(value: Any) -> int | None:
    if isinstance(value, Mapping):
        value = value.get("bytes")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)
