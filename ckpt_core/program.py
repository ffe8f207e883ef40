"""The whole program across graph breaks: values handed from one compiled region to a later one
and kept there for backward are activations of the program, counted once (pure, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .classify import storage_root
from .ir import Analysis, Handover, Region

_COSTLY = ("activation", "view", "rng_state")


@dataclass(frozen=True)
class KeptHandover:
    """A handed-over value the later region saves for backward: `saved_node` is the consumer
    region's saved forward value (the placeholder itself or a view of it); `producer_root` the
    producing region's node owning the storage, `bytes` that storage's size."""

    handover: Handover
    saved_node: str
    producer_root: str
    bytes: int


def kept_handovers(analysis: Analysis) -> list[KeptHandover]:
    """Handovers whose value the consuming region keeps for backward, one per saved value."""
    regions = {r.index: r for r in analysis.regions}
    by_consumer = {(h.consumer.region, h.consumer.name): h for h in analysis.handovers}
    out: list[KeptHandover] = []
    for region in analysis.regions:
        fw = region.graphs["forward"].by_name()
        for s in region.saved:
            root = storage_root(s.forward_node, fw)
            h = by_consumer.get((region.index, root))
            if h is None or s.kind not in ("input", "view"):
                continue
            producer = regions.get(h.producer.region)
            if producer is None:
                continue
            pfw = producer.graphs["forward"].by_name()
            proot = storage_root(h.producer.name, pfw)
            node = pfw.get(proot)
            if node is None or node.op == "placeholder":
                continue  # the earlier region only passed a graph input through: alive anyway
            out.append(KeptHandover(h, s.forward_node, proot, node.bytes))
    return out


def activation_storages(region: Region) -> dict[str, int]:
    """The storages a region's saved activations cost: root node name -> bytes."""
    fw = region.graphs["forward"].by_name()
    roots: dict[str, int] = {}
    for s in region.saved:
        if s.kind not in _COSTLY:
            continue
        root = fw.get(s.storage_of or s.forward_node)
        if root is not None and root.op != "placeholder":
            roots[root.name] = root.bytes
    return roots


def program_activations(analysis: Analysis) -> dict[tuple[int, str], int]:
    """Every storage the program keeps for backward, once: (producing region, root) -> bytes."""
    out = {(r.index, name): b for r in analysis.regions
           for name, b in activation_storages(r).items()}
    for k in kept_handovers(analysis):
        out.setdefault((k.handover.producer.region, k.producer_root), k.bytes)
    return out


def with_program_summary(analysis: Analysis) -> Analysis:
    """`summary.saved_activation_count` / `saved_activation_bytes` for the whole program (each
    storage once, handed-over values kept by a later region included); `handover_count` /
    `handover_saved_bytes` say what the handovers add. Region summaries keep their own figures."""
    storages = program_activations(analysis)
    per_region = sum(r.summary.saved_activation_bytes for r in analysis.regions if r.summary)
    total = sum(storages.values())
    summary = {
        **analysis.summary,
        "saved_activation_count": len(storages),
        "saved_activation_bytes": total,
        "handover_count": len(analysis.handovers),
        "handover_saved_bytes": total - per_region,
    }
    return replace(analysis, summary=summary)
