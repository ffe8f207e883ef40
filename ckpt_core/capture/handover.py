"""Which values one compiled region hands to a later one, found by tensor identity at run time.

Dynamo's graph inputs are the values its frame holds when the region runs; a value an earlier
region returned reaches the later region as one of them. We wrap each region's compiled callable
and note the storage of every input and output per call, then pair a later region's input with
the earlier region's output sharing its storage (the most recent producer wins).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils._pytree import tree_leaves

from ..ir import Graph, Handover, NodeRef, RawRegion

StorageKey = int | None


def _key(value: Any) -> StorageKey:
    """The storage's identity (its StorageImpl), for real and fake tensors alike."""
    if not isinstance(value, torch.Tensor):
        return None
    try:
        return int(value.untyped_storage()._cdata)
    except (RuntimeError, NotImplementedError, AttributeError):  # subclasses without storage
        return None


@dataclasses.dataclass
class Call:
    region: int
    inputs: list[StorageKey]
    outputs: list[StorageKey]


class CallLog:
    """The storages each compiled region read and returned, in call order."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        # outputs stay referenced while the log lives, so no storage identity is reused
        self._keep: list[Any] = []

    def release(self) -> None:
        """Drop the outputs kept for identity (once the handovers are linked)."""
        self._keep.clear()

    def wrap(self, region: int, compiled: Callable[..., Any]) -> Callable[..., Any]:
        boxed = bool(getattr(compiled, "_boxed_call", False))

        def run(*args: Any) -> Any:
            # a boxed callable takes one list and empties it: read the inputs before calling
            flat = list(args[0]) if boxed and len(args) == 1 and isinstance(args[0], list) \
                else list(args)
            inputs = [_key(a) for a in flat]
            out = compiled(*args)
            leaves = tree_leaves(out)
            self._keep.append(leaves)
            self.calls.append(Call(region, inputs, [_key(o) for o in leaves]))
            return out

        if boxed:
            run._boxed_call = True  # type: ignore[attr-defined]
        return run


def _primals(graph: Graph) -> list[str]:
    return [n.name for n in graph.nodes
            if n.op == "placeholder" and not n.name.startswith("tangents")]


def _user_outputs(region: RawRegion) -> list[str]:
    out = region.graphs["forward"].output()
    return list(out.inputs[: region.num_user_outputs]) if out else []


def link_regions(log: CallLog, regions: Sequence[RawRegion],
                 raw_index: dict[int, int]) -> list[Handover]:
    """Handovers between `regions` (IR regions by index; `raw_index` maps a recorded region's
    index to its IR index), from each region's first call."""
    produced: dict[StorageKey, tuple[int, int]] = {}  # storage -> (IR region, output position)
    seen: set[int] = set()
    found: list[Handover] = []
    for call in log.calls:
        region = raw_index.get(call.region)
        if region is None:
            continue
        if region not in seen:
            seen.add(region)
            placeholders = _primals(regions[region].graphs["forward"])
            fw_nodes = regions[region].graphs["forward"].by_name()
            for i, key in enumerate(call.inputs):
                source = produced.get(key) if key is not None else None
                if source is None or source[0] == region or i >= len(placeholders):
                    continue
                outputs = _user_outputs(regions[source[0]])
                if source[1] >= len(outputs):
                    continue
                consumer = fw_nodes[placeholders[i]]
                found.append(Handover(
                    producer=NodeRef(source[0], "forward", outputs[source[1]]),
                    consumer=NodeRef(region, "forward", consumer.name), bytes=consumer.bytes))
        for j, key in enumerate(call.outputs):
            if key is not None:
                produced[key] = (region, j)
    return found
