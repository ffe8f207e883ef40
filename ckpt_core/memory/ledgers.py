"""Saved-tensor and recompute ledgers: every saved value and every recomputed op, with totals.

Steps are timeline steps (forward nodes, then backward nodes), so a lifetime can be drawn on
the timeline directly. `cost_bytes` is what saving a value adds: a storage's bytes are charged
once, to the first saved value that holds it (later views of it cost 0); inputs and parameters
cost nothing and are listed apart. The totals match the analysis summary by construction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from typing import Any

from ..classify import storage_root
from ..cost import op_cost, op_time_s, profile_of
from ..ir import Analysis, Node, Region
from ..program import KeptHandover, kept_handovers
from .storage import is_runtime_alias


def _plain(obj: Any) -> dict[str, Any]:
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


@dataclass(frozen=True)
class SavedEntry:
    """One saved value, kept by region `region` (made by `produced_region`: an earlier region
    for a `handover`, where it is `produced_node`). `op` is the producing op (of the storage's
    root for a view), `line` and `code` the snippet line; `produced_step`, `first_use_step`,
    `last_use_step` its lifetime (None for a value the backward never reads); `share` =
    cost_bytes / total cost."""

    region: int
    forward_node: str
    backward_node: str
    kind: str
    bytes: int
    cost_bytes: int
    shape: tuple[int, ...] | None
    dtype: str | None
    op: str
    module: str | None
    line: int | None
    code: str | None
    produced_step: int | None
    first_use_step: int | None
    last_use_step: int | None
    share: float
    produced_region: int | None = None
    produced_node: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class SavedLedger:
    """`activations` (what saving costs: activation, view, rng_state, symint) sorted by cost,
    largest first; `inputs` (inputs and parameters: alive anyway); `total_cost_bytes`."""

    activations: tuple[SavedEntry, ...]
    inputs: tuple[SavedEntry, ...]
    total_cost_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"activations": [e.to_dict() for e in self.activations],
                "inputs": [e.to_dict() for e in self.inputs],
                "total_cost_bytes": self.total_cost_bytes}


@dataclass(frozen=True)
class RecomputeEntry:
    """One backward op that recomputes forward work: its FLOPs by the cost model
    (`flops_source`: `torch` for torch's flop counter, `elements` for the per-element estimate,
    `free` for views), the bytes it reads and writes (`bytes_moved`), its estimated `time_s` on
    the analysis' device profile, and the `bytes` its result allocates (0 for a view, `is_view`:
    an alias of its input costs nothing)."""

    region: int
    node: str
    recompute_of: str | None
    op: str
    flops: int
    bytes: int
    module: str | None
    line: int | None
    step: int
    is_view: bool
    flops_source: str = "elements"
    bytes_moved: int = 0
    time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class Totals:
    count: int
    flops: int
    bytes: int
    bytes_moved: int = 0
    time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class RecomputeLedger:
    """Every recompute, in backward order; totals per module and per op (sorted by estimated
    time, then FLOPs, largest first); `flops_fraction` = recompute FLOPs / forward FLOPs and
    `time_fraction` = recompute time / forward time (None without forward work), on the device
    profile named `profile`."""

    entries: tuple[RecomputeEntry, ...]
    by_module: tuple[tuple[str, Totals], ...]
    by_op: tuple[tuple[str, Totals], ...]
    total: Totals
    forward_flops: int
    flops_fraction: float | None
    forward_time_s: float = 0.0
    time_fraction: float | None = None
    profile: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries": [e.to_dict() for e in self.entries],
            "by_module": [{"module": m, **t.to_dict()} for m, t in self.by_module],
            "by_op": [{"op": o, **t.to_dict()} for o, t in self.by_op],
            "total": self.total.to_dict(),
            "forward_flops": self.forward_flops,
            "flops_fraction": self.flops_fraction,
            "forward_time_s": self.forward_time_s,
            "time_fraction": self.time_fraction,
            "profile": self.profile,
        }


def _regions(source: Analysis | dict[str, Any]) -> tuple[Region, ...]:
    if isinstance(source, Analysis):
        return source.regions
    return tuple(Region.from_dict(r) for r in source["regions"])


def _use_steps(region: Region) -> dict[str, list[int]]:
    """Timeline steps at which each backward value is read."""
    offset = len(region.graphs["forward"].nodes)
    backward = region.graphs.get("backward")
    uses: dict[str, list[int]] = defaultdict(list)
    for i, n in enumerate(backward.nodes if backward else ()):
        for name in n.inputs:
            uses[name].append(offset + i)
    return uses


def saved_ledger(source: Analysis | dict[str, Any]) -> SavedLedger:
    """Every saved value of every region. A value a later region keeps for backward after an
    earlier region produced it (a graph break between them) is an activation of the program:
    `kind` `handover`, `produced_region` the earlier region, charged once for the program."""
    source = source if isinstance(source, Analysis) else Analysis.from_dict(source)
    kept = {(k.handover.consumer.region, k.saved_node): k for k in kept_handovers(source)}
    fw_by_name = {r.index: r.graphs["forward"].by_name() for r in source.regions}
    rows: list[tuple[Region, Any, Node, int, int | None, KeptHandover | None]] = []
    charged: set[tuple[int, str]] = set()  # (producing region, storage root): once per program
    for region in source.regions:
        fw_nodes = fw_by_name[region.index]
        steps = {n.name: i for i, n in enumerate(region.graphs["forward"].nodes)}
        for s in region.saved:
            node = fw_nodes.get(s.forward_node)
            root = fw_nodes.get(storage_root(s.forward_node, fw_nodes)) if node else None
            handover = kept.get((region.index, s.forward_node))
            cost = 0
            if handover is not None:
                key = (handover.handover.producer.region, handover.producer_root)
                if key not in charged:
                    charged.add(key)
                    cost = handover.bytes
            elif (s.kind in ("activation", "view", "rng_state") and root is not None
                    and root.op != "placeholder" and (region.index, root.name) not in charged):
                charged.add((region.index, root.name))
                cost = root.bytes
            rows.append((region, s, root or node or Node(s.forward_node, "", ""), cost,
                         steps.get(s.forward_node), handover))
    total = sum(r[3] for r in rows)
    activations: list[SavedEntry] = []
    inputs: list[SavedEntry] = []
    use_steps = {r.index: _use_steps(r) for r in source.regions}
    for region, s, origin, cost, produced, handover in rows:
        uses = use_steps[region.index].get(s.backward_node, [])
        fw_node = fw_by_name[region.index].get(s.forward_node, origin)
        if handover is not None:  # describe the value where it was made
            made = fw_by_name[handover.handover.producer.region].get(handover.producer_root)
            origin = made or origin
        entry = SavedEntry(
            region=region.index, forward_node=s.forward_node, backward_node=s.backward_node,
            kind="handover" if handover else s.kind, bytes=s.bytes, cost_bytes=cost,
            shape=s.shape, dtype=s.dtype,
            op=origin.target, module=fw_node.module or origin.module,
            line=fw_node.source.line if fw_node.source else None,
            code=fw_node.source.code if fw_node.source else None,
            produced_step=produced, first_use_step=min(uses, default=None),
            last_use_step=max(uses, default=None),
            share=cost / total if total else 0.0,
            produced_region=handover.handover.producer.region if handover else region.index,
            produced_node=handover.producer_root if handover else None,
        )
        (inputs if s.kind in ("input", "parameter") and not handover else activations
         ).append(entry)
    activations.sort(key=lambda e: (-e.cost_bytes, -e.bytes, e.region, e.forward_node))
    return SavedLedger(activations=tuple(activations), inputs=tuple(inputs),
                       total_cost_bytes=total)


def recompute_ledger(source: Analysis | dict[str, Any]) -> RecomputeLedger:
    """Every recomputed op of every region, with per-module and per-op totals."""
    analysis = source if isinstance(source, Analysis) else Analysis.from_dict(source)
    profile = profile_of(analysis.extras)
    entries: list[RecomputeEntry] = []
    forward_flops = 0
    forward_time_s = 0.0
    for region in analysis.regions:
        forward = region.graphs["forward"]
        fw_nodes = forward.by_name()
        for n in forward.nodes:
            if n.op == "call_function":
                c = op_cost(n, fw_nodes)
                forward_flops += c.flops
                forward_time_s += op_time_s(c, n.dtype, profile)
        backward = region.graphs.get("backward")
        bw_nodes = backward.by_name() if backward else {}
        offset = len(forward.nodes)
        for i, n in enumerate(backward.nodes if backward else ()):
            if n.status != "recompute":
                continue
            c = op_cost(n, bw_nodes)
            is_view = n.view_of is not None or is_runtime_alias(n)
            entries.append(RecomputeEntry(
                region=region.index, node=n.name, recompute_of=n.recompute_of,
                op=n.wraps or n.target, flops=c.flops, bytes=0 if is_view else n.bytes,
                module=n.module, line=n.source.line if n.source else None, step=offset + i,
                is_view=is_view,
                flops_source=c.flops_source, bytes_moved=c.bytes_moved,
                time_s=op_time_s(c, n.dtype, profile),
            ))
    by_module = _totals(entries, lambda e: e.module or "")
    by_op = _totals(entries, lambda e: e.op)
    total = _total(entries)
    return RecomputeLedger(
        entries=tuple(entries), by_module=by_module, by_op=by_op, total=total,
        forward_flops=forward_flops,
        flops_fraction=total.flops / forward_flops if forward_flops else None,
        forward_time_s=forward_time_s,
        time_fraction=total.time_s / forward_time_s if forward_time_s else None,
        profile=profile.name,
    )


def _total(entries: list[RecomputeEntry]) -> Totals:
    return Totals(count=len(entries), flops=sum(e.flops for e in entries),
                  bytes=sum(e.bytes for e in entries),
                  bytes_moved=sum(e.bytes_moved for e in entries),
                  time_s=sum(e.time_s for e in entries))


def _totals(entries: list[RecomputeEntry], key: Any) -> tuple[tuple[str, Totals], ...]:
    groups: dict[str, list[RecomputeEntry]] = defaultdict(list)
    for e in entries:
        groups[key(e)].append(e)
    totals = {k: _total(v) for k, v in groups.items()}
    return tuple(sorted(totals.items(),
                        key=lambda kv: (-kv[1].time_s, -kv[1].flops, -kv[1].bytes, kv[0])))
