"""Run a region's captured forward and backward graphs on real tensors and measure live memory.

An FX interpreter in the spirit of `torch.fx.Interpreter`: it frees each value right after its
last use, keeps what the caller keeps (inputs, parameters, user outputs, gradients), hands the
saved values from forward to backward, and samples memory after every node. The steps are the
graphs' nodes in order, exactly the axis of `ckpt_core.memory.memory_timeline`.

Two samplers: `storage_bytes` (any device: the distinct storages the live values reference)
and, on CUDA, `cuda_allocated_bytes` (the caching allocator's `memory_allocated`).

A `NodeTimer` can time chosen backward nodes (the recompute nodes) while they run: `CpuTimer`
with `time.perf_counter_ns`, `CudaTimer` with a pair of timing events around each node, read
after one synchronize at the end. The CUDA calls sit behind `cuda_event` alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.fx as fx
from torch.utils._pytree import tree_flatten

#: Given every value alive at a step, the bytes they hold.
Sampler = Callable[[Iterable[Any]], int]


@dataclass(frozen=True)
class MeasuredStep:
    graph: str
    node: str
    live_bytes: int


@dataclass(frozen=True)
class MeasuredTimeline:
    """Measured live bytes at every step, and the highest value the sampler saw."""

    steps: tuple[MeasuredStep, ...]
    peak_bytes: int
    #: seconds each timed backward node took, in run order (empty unless a timer was given)
    node_times_s: tuple[tuple[str, float], ...] = ()

    def live_bytes(self) -> list[int]:
        return [s.live_bytes for s in self.steps]


def _tensors(values: Iterable[Any]) -> Iterator[torch.Tensor]:
    for v in values:
        for leaf in tree_flatten(v)[0]:
            if isinstance(leaf, torch.Tensor):
                yield leaf


def storage_bytes(values: Iterable[Any]) -> int:
    """Bytes of the distinct storages the values reference (a view counts its base once)."""
    seen: dict[int, int] = {}
    for t in _tensors(values):
        storage = t.untyped_storage()
        if storage.nbytes():
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def cuda_allocated_bytes(_values: Iterable[Any]) -> int:
    """What the CUDA caching allocator reports as allocated (rounded blocks included)."""
    return int(torch.cuda.memory_allocated())


def materialize(val: Any, device: torch.device | str) -> Any:
    """A real value like the traced (fake) one: floats random, integers and bools zero, so
    index inputs stay in range."""
    if isinstance(val, torch.Tensor):
        out = torch.empty_strided(tuple(val.shape), tuple(val.stride()), dtype=val.dtype,
                                  device=device)
        if out.is_floating_point() or out.is_complex():
            out.normal_()
        else:
            out.zero_()
        return out
    if isinstance(val, torch.SymInt | torch.SymFloat):
        return val.node.hint
    if isinstance(val, list | tuple):
        return type(val)(materialize(v, device) for v in val)
    return val


def _placeholder_value(node: fx.Node, device: torch.device | str) -> Any:
    return materialize(node.meta.get("val"), device)


def _last_uses(graph: fx.Graph) -> dict[fx.Node, int]:
    order = {n: i for i, n in enumerate(graph.nodes)}
    return {n: max((order[u] for u in n.users), default=order[n]) for n in graph.nodes}


def _fetch_attr(gm: fx.GraphModule, target: str) -> Any:
    obj: Any = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


class NodeTimer(Protocol):
    """Times the call of one node; `times_s()` gives every timed node's seconds, in order."""

    def time(self, name: str, call: Callable[[], Any]) -> Any: ...

    def times_s(self) -> list[tuple[str, float]]: ...


class CpuTimer:
    """Wall-clock time of each call (`time.perf_counter_ns`): CPU ops run synchronously."""

    def __init__(self) -> None:
        self._times: list[tuple[str, float]] = []

    def time(self, name: str, call: Callable[[], Any]) -> Any:
        start = time.perf_counter_ns()
        out = call()
        self._times.append((name, (time.perf_counter_ns() - start) / 1e9))
        return out

    def times_s(self) -> list[tuple[str, float]]:
        return list(self._times)


def cuda_event() -> Any:
    """A CUDA event that records time: the only CUDA call of the timers."""
    return torch.cuda.Event(enable_timing=True)


class CudaTimer:
    """Device time of each call: a timing event recorded before and after it on the current
    stream; `times_s` synchronizes once on the last event, then reads each pair."""

    def __init__(self) -> None:
        self._pairs: list[tuple[str, Any, Any]] = []

    def time(self, name: str, call: Callable[[], Any]) -> Any:
        start, end = cuda_event(), cuda_event()
        start.record()
        out = call()
        end.record()
        self._pairs.append((name, start, end))
        return out

    def times_s(self) -> list[tuple[str, float]]:
        if not self._pairs:
            return []
        self._pairs[-1][2].synchronize()
        return [(name, float(start.elapsed_time(end)) / 1e3) for name, start, end in self._pairs]


class _Run:
    """State shared by the forward and backward passes: what the caller holds, and samples."""

    def __init__(self, sampler: Sampler, timer: NodeTimer | None = None,
                 timed: frozenset[str] = frozenset()):
        self.sampler = sampler
        self.timer = timer
        self.timed = timed
        self.held: dict[str, Any] = {}
        self.steps: list[MeasuredStep] = []
        self.peak_bytes = 0

    def run(self, gm: fx.GraphModule, kind: str, env: dict[fx.Node, Any]) -> list[Any]:
        """Execute `gm` with placeholders already in `env`; return the output values."""
        last = _last_uses(gm.graph)
        order = {n: i for i, n in enumerate(gm.graph.nodes)}
        outputs: list[Any] = []
        for i, node in enumerate(gm.graph.nodes):
            if node.op == "call_function":
                args, kwargs = fx.node.map_arg((node.args, node.kwargs), lambda a: env[a])
                if self.timer is not None and kind == "backward" and node.name in self.timed:
                    env[node] = self.timer.time(
                        node.name, lambda: node.target(*args, **kwargs))  # noqa: B023
                else:
                    env[node] = node.target(*args, **kwargs)
            elif node.op == "get_attr":
                env[node] = _fetch_attr(gm, str(node.target))
            elif node.op == "output":
                outputs = list(tree_flatten(fx.node.map_arg(node.args, lambda a: env[a]))[0])
                self.held[f"{kind}:output"] = outputs
            elif node.op != "placeholder":
                raise NotImplementedError(f"cannot interpret {node.op} nodes ({node.name})")
            self._sample(kind, node.name, env)
            for n in [n for n in env if last[n] <= i and order[n] <= i]:
                del env[n]
        self.held.pop(f"{kind}:output", None)
        return outputs

    def _sample(self, kind: str, name: str, env: dict[fx.Node, Any]) -> None:
        live = self.sampler([*env.values(), *self.held.values()])
        self.peak_bytes = max(self.peak_bytes, live)
        self.steps.append(MeasuredStep(kind, name, live))


def _is_tangent(node: fx.Node) -> bool:
    return str(node.name).startswith("tangents")


def _is_rng_input(node: fx.Node) -> bool:
    return str(node.name).startswith(("fwd_rng_state", "bwd_rng_state"))


def measure_region(
    forward: fx.GraphModule, backward: fx.GraphModule | None, num_user_outputs: int, *,
    device: torch.device | str = "cpu", sampler: Sampler = storage_bytes,
    inputs: list[Any] | None = None, timer: NodeTimer | None = None,
    timed: Iterable[str] = (),
) -> MeasuredTimeline:
    """One forward and backward of a partitioned region on real tensors, sampled per node.

    `inputs` are the forward's placeholder values (made from the traced values when omitted);
    tangents are random tensors shaped like the traced ones. With a `timer`, the backward
    nodes named in `timed` are timed (`node_times_s`).
    """
    state = _Run(sampler, timer, frozenset(timed))
    fw_placeholders = [n for n in forward.graph.nodes if n.op == "placeholder"]
    values = inputs if inputs is not None else [
        _placeholder_value(n, device) for n in fw_placeholders]
    state.held["inputs"] = list(values)
    env: dict[fx.Node, Any] = dict(zip(fw_placeholders, values, strict=True))
    del values
    with torch.no_grad():
        outputs = state.run(forward, "forward", env)
        state.held["user_outputs"] = outputs[:num_user_outputs]
        saved = outputs[num_user_outputs:]
        del outputs
        if backward is not None:
            bw_env: dict[fx.Node, Any] = {}
            saved_iter = iter(saved)
            for n in backward.graph.nodes:
                if n.op != "placeholder":
                    continue
                if _is_tangent(n) or _is_rng_input(n):
                    bw_env[n] = _placeholder_value(n, device)
                else:
                    bw_env[n] = next(saved_iter)
            del saved, saved_iter
            # the backward owns the saved values now: each is freed after its last use
            state.held["gradients"] = state.run(backward, "backward", bw_env)
    return MeasuredTimeline(steps=tuple(state.steps), peak_bytes=state.peak_bytes,
                            node_times_s=tuple(timer.times_s()) if timer else ())
