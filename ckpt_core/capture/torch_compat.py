"""The one place that knows where each supported torch release keeps the private internals
ckptscope reaches into, and says which parts of an analysis may be missing when it does not know.

Every other capture module takes torch's private names from here. What changes between releases:

- torch 2.13 and 2.14: `solve_min_cut` calls `networkx.minimum_cut` (a global of the `networkx`
  module, looked up at call time);
- torch 2.15: `solve_min_cut` calls its own `minimum_cut` (imported from
  `torch._functorch._activation_checkpointing.min_cut` into `torch._functorch.partitioners`), on
  the same networkx flow graph with the same `reason` on every constraint edge.

The rest (inductor's `custom_partitioner_fn` hook and its `CustomPartitionerFn` base class, the
partitioner's `_extract_fwd_bwd_modules`, `make_boxed_func`, the `graph_breaks` logging
artifact, the `torch._functorch.config` knobs) lives at the same place in all three. On a
release outside `SUPPORTED_RELEASES` every known site is tried, and `version_hazard()` names each
part of the analysis that could not be checked to work.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch._dynamo
import torch._functorch.config as functorch_config
import torch._functorch.partitioners as partitioners
import torch.fx as fx
from torch._functorch._aot_autograd.utils import make_boxed_func
from torch._functorch.compile_utils import fx_graph_cse
from torch._functorch.partitioners import default_partition, min_cut_rematerialization_partition
from torch._guards import TracingContext, detect_fake_mode, tracing
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode
from torch.fx._lazy_graph_module import _use_lazy_graph_module

from ..ir import Hazard

__all__ = [
    "GRAPH_BREAK_LOGGER",
    "RELEASE",
    "SUPPORTED_RELEASES",
    "CustomPartitionerFn",
    "FakeTensor",
    "FakeTensorMode",
    "HigherOrderOperator",
    "MinCutSite",
    "OpOverload",
    "OpOverloadPacket",
    "TracingContext",
    "_use_lazy_graph_module",
    "aot_autograd",
    "compile_fx_capture_only",
    "default_partition",
    "detect_fake_mode",
    "dynamo_config",
    "dynamo_config_patch",
    "dynamo_exceptions",
    "functorch_config",
    "fx_graph_cse",
    "graph_break_artifact",
    "make_boxed_func",
    "min_cut_rematerialization_partition",
    "min_cut_sites",
    "missing_parts",
    "partitioners",
    "reset_dynamo",
    "tracing",
    "version_hazard",
    "version_hazards",
]

#: torch releases (major.minor) whose internals ckptscope knows and tests
SUPPORTED_RELEASES: tuple[str, ...] = ("2.13", "2.14", "2.15")


def release_of(version: str) -> str:
    """`"2.15"` for `"2.15.0+cu130"`, `"2.16.0.dev20270101"` → `"2.16"`."""
    m = re.match(r"(\d+)\.(\d+)", version)
    return f"{m.group(1)}.{m.group(2)}" if m else version


RELEASE = release_of(torch.__version__)

OpOverload = torch._ops.OpOverload
OpOverloadPacket = torch._ops.OpOverloadPacket
HigherOrderOperator = torch._ops.HigherOrderOperator
dynamo_exceptions = torch._dynamo.exc
dynamo_config = torch._dynamo.config


@dataclass(frozen=True)
class MinCutSite:
    """A module global the partitioner calls to solve its min cut: `module.attribute`."""

    module: str
    attribute: str

    def resolve(self) -> Any | None:
        """The module object when it is importable and holds a callable `attribute`."""
        try:
            mod = importlib.import_module(self.module)
        except ImportError:
            return None
        return mod if callable(getattr(mod, self.attribute, None)) else None


_NETWORKX = MinCutSite("networkx", "minimum_cut")
_PARTITIONERS = MinCutSite("torch._functorch.partitioners", "minimum_cut")
#: per supported release, the site `solve_min_cut` calls
_MIN_CUT_BY_RELEASE: dict[str, MinCutSite] = {
    "2.13": _NETWORKX, "2.14": _NETWORKX, "2.15": _PARTITIONERS,
}


def min_cut_sites(release: str | None = None) -> tuple[MinCutSite, ...]:
    """Where to wrap the min cut to read torch's constraints: the known site of a supported
    release (this torch's by default); on another release every site that exists."""
    known = _MIN_CUT_BY_RELEASE.get(release or RELEASE)
    if known is not None:
        return (known,)
    return tuple(s for s in (_PARTITIONERS, _NETWORKX) if s.resolve() is not None)


# -- inductor's partitioner hook --------------------------------------------------------------

def _custom_partitioner_base() -> type[Any] | None:
    try:
        from torch._inductor.custom_graph_pass import CustomPartitionerFn as base
    except ImportError:
        return None
    return base  # type: ignore[no-any-return]


_BASE = _custom_partitioner_base()
#: the base class inductor requires of `config.custom_partitioner_fn` (object when absent)
CustomPartitionerFn: type[Any] = _BASE if _BASE is not None else object


def compile_fx_capture_only(gm: fx.GraphModule, example_inputs: Any, partitioner: Any,
                            inner_compile: Callable[..., Any]) -> Any:
    """Inductor's pipeline up to (not including) code generation, with `partitioner` as the
    partition function: `compile_fx(..., inner_compile=...)` under `custom_partitioner_fn`."""
    from torch._inductor import config as inductor_config
    from torch._inductor.compile_fx import compile_fx

    with inductor_config.patch(custom_partitioner_fn=partitioner):
        return compile_fx(gm, example_inputs, inner_compile=inner_compile)


def aot_autograd(**kwargs: Any) -> Any:
    from torch._dynamo.backends.common import aot_autograd as make

    return make(**kwargs)


def reset_dynamo() -> None:
    torch._dynamo.reset()
    # dynamo also keeps every module it imported by name for the process (2.13:
    # `symbolic_convert._import_module`, a functools cache); each snippet runs as its own module,
    # so forget them with the rest
    import torch._dynamo.symbolic_convert as symbolic_convert

    cache_clear = getattr(getattr(symbolic_convert, "_import_module", None), "cache_clear", None)
    if callable(cache_clear):
        cache_clear()


def dynamo_config_patch(**changes: Any) -> Any:
    return torch._dynamo.config.patch(**changes)


# -- dynamo's graph-break explanations ---------------------------------------------------------

GRAPH_BREAK_LOGGER = "torch._dynamo.symbolic_convert.__graph_breaks"


@contextlib.contextmanager
def graph_break_artifact() -> Iterator[None]:
    """Turn on torch's `graph_breaks` logging artifact (its logger is `GRAPH_BREAK_LOGGER`)."""
    log_state = torch._logging._internal.log_state
    enabled = log_state.is_artifact_enabled("graph_breaks")
    if not enabled:
        log_state.enable_artifact("graph_breaks")
    try:
        yield
    finally:
        if not enabled:
            log_state.artifact_names.discard("graph_breaks")


# -- what may be missing ----------------------------------------------------------------------

def _has_config(name: str) -> bool:
    return hasattr(functorch_config, name)


def _has_inductor_hook() -> bool:
    try:
        from torch._inductor import config as inductor_config
    except ImportError:
        return False
    return _BASE is not None and hasattr(inductor_config, "custom_partitioner_fn")


def _has_graph_break_artifact() -> bool:
    try:
        return "graph_breaks" in torch._logging._internal.log_registry.artifact_names
    except AttributeError:
        return False


#: (part of the analysis, check that the internals it needs are where ckptscope reads them)
_PARTS: tuple[tuple[str, Callable[[], bool]], ...] = (
    ("the partitioner's reasons (the 'why' of each save and recompute)",
     lambda: bool(min_cut_sites())),
    ("the inductor path (decompositions='inductor')", _has_inductor_hook),
    ("memory-budget settings and sweeps",
     lambda: _has_config("activation_memory_budget")
     and _has_config("activation_memory_budget_solver")),
    ("the ban_recompute_* settings",
     lambda: all(_has_config(f) for f in ("ban_recompute_used_far_apart",
                                          "ban_recompute_long_fusible_chains",
                                          "ban_recompute_materialized_backward",
                                          "ban_recompute_not_in_allowlist",
                                          "ban_recompute_reductions"))),
    ("the sweep's shortcut for budgets that give the same plan",
     lambda: callable(getattr(partitioners, "_extract_fwd_bwd_modules", None))),
    ("dynamo's graph-break reasons", _has_graph_break_artifact),
    ("torch's knapsack estimate of the recompute a memory budget adds",
     lambda: callable(getattr(partitioners, "_optimize_runtime_with_given_memory", None))),
)


def version_hazards() -> tuple[Hazard, ...]:
    """The hazards every analysis made on this torch carries (none on a supported release)."""
    found = version_hazard()
    return (found,) if found is not None else ()


def missing_parts() -> tuple[str, ...]:
    """The parts whose torch internals are not where ckptscope looks for them on this torch."""
    return tuple(part for part, present in _PARTS if not present())


def version_hazard(version: str | None = None) -> Hazard | None:
    """None on a supported release; otherwise a warning naming what may be missing or wrong.
    `version` defaults to this torch's (`RELEASE` decides whether it is supported)."""
    release = RELEASE if version is None else release_of(version)
    version = str(torch.__version__) if version is None else version
    if release in SUPPORTED_RELEASES:
        return None
    missing = missing_parts()
    supported = ", ".join(SUPPORTED_RELEASES)
    if missing:
        detail = ("Not found where ckptscope reads them on this torch, so these parts are "
                  "missing or incomplete: " + "; ".join(missing) + ".")
    else:
        detail = ("Every internal ckptscope reads was found, but none was checked against "
                  "this release: the partitioner's reasons, the inductor path, memory budgets "
                  "and graph-break reasons may be incomplete.")
    return Hazard(
        kind="unsupported_torch_version",
        message=(f"torch {version} is not a release ckptscope supports ({supported}): the "
                 "saved and recomputed sets come from torch itself, but some explanations may "
                 "be missing."),
        severity="warning",
        details=detail,
    )
