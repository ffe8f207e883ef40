"""Analysis settings: what to compile with, validated once, defaulting to plain `torch.compile`."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import SettingsError

Decompositions = Literal["inductor", "none"]
Partitioner = Literal["min_cut", "default"]
BudgetSolver = Literal["dp", "greedy", "ilp"]
Device = Literal["auto", "cpu", "cuda"]
CostProfile = Literal["auto", "h100", "h200", "a100", "l4", "cpu"]
Execution = Literal["real", "fake"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "decompositions": ("inductor", "none"),
    "partitioner": ("min_cut", "default"),
    "budget_solver": ("dp", "greedy", "ilp"),
    "device": ("auto", "cpu", "cuda"),
    "cost_profile": ("auto", "h100", "h200", "a100", "l4", "cpu"),
    "execution": ("real", "fake"),
}

DynamoOptionType = Literal["bool", "int", "callables"]

#: The `torch._dynamo.config` options an analysis may set (`Settings.dynamo_config`), with their
#: types and what they change; the ones that matter to checkpointing and to graph breaks (the
#: options dynamo's own graph-break hints name). "callables" options take a list of importable
#: dotted names (`"logging.Logger.info"`, `"builtins.print"`), resolved inside the worker.
DYNAMO_OPTIONS: dict[str, tuple[DynamoOptionType, str]] = {
    "skip_fwd_side_effects_in_bwd_under_checkpoint": (
        "bool", "Accept that Python side effects inside a checkpointed region are not replayed "
                "in the recompute (otherwise such a region graph-breaks)."),
    "capture_profiler_record_function": (
        "bool", "Trace torch.profiler.record_function into the graph instead of treating it as "
                "a no-op."),
    "ignore_logging_functions": (
        "callables", "Functions dynamo ignores while tracing (no-ops, no graph break), e.g. "
                     "logging.Logger.info, warnings.warn."),
    "reorderable_logging_functions": (
        "callables", "Logging functions moved to the end of the graph instead of breaking it, "
                     "e.g. builtins.print."),
    "capture_scalar_outputs": (
        "bool", "Trace .item() and similar into the graph instead of breaking it."),
    "capture_dynamic_output_shape_ops": (
        "bool", "Trace ops with data-dependent output shapes (nonzero, unique) instead of "
                "breaking the graph."),
    "graph_break_on_nn_param_ctor": (
        "bool", "Graph-break on nn.Parameter construction inside the compiled code."),
    "allow_rnn": ("bool", "Trace nn.RNN/LSTM/GRU modules instead of breaking the graph."),
    "nested_graph_breaks": ("bool", "Resume tracing inside nested calls after a graph break."),
    "trace_numpy": ("bool", "Trace NumPy calls on tensors instead of breaking the graph."),
    "enable_trace_contextlib": ("bool", "Trace contextlib context managers."),
    "dont_skip_tracing": ("bool", "Trace into functions dynamo would otherwise skip."),
    "recompile_limit": ("int", "Recompilations allowed per frame before falling back to eager."),
}

_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")

#: The min-cut partitioner's recompute heuristics (`torch._functorch.config.ban_recompute_*`).
BAN_RECOMPUTE_FLAGS = (
    "ban_recompute_used_far_apart",
    "ban_recompute_long_fusible_chains",
    "ban_recompute_materialized_backward",
    "ban_recompute_not_in_allowlist",
    "ban_recompute_reductions",
)

#: One-line explanations, shared by the CLI's --help, the API docs and the UI's tooltips.
HELP: dict[str, str] = {
    "decompositions": (
        "'inductor': inductor's decompositions and partition pipeline, capture only (what "
        "torch.compile really runs); 'none': aot_autograd without extra decompositions "
        "(higher-level, readable ops)."
    ),
    "partitioner": (
        "'min_cut': the min-cut rematerialization partitioner torch.compile uses; "
        "'default': save every forward value the backward needs, recompute nothing."
    ),
    "memory_budget": (
        "torch._functorch.config.activation_memory_budget in [0, 1]: 1.0 keeps the min-cut "
        "choice, 0.0 recomputes everything it may; values between trade memory for compute."
    ),
    "budget_solver": "Knapsack solver used under a memory budget below 1: dp, greedy or ilp.",
    "ban_recompute_used_far_apart": "Do not recompute a value whose uses are far apart.",
    "ban_recompute_long_fusible_chains": "Do not recompute long chains of fusible ops.",
    "ban_recompute_materialized_backward": "Do not recompute values the backward materializes.",
    "ban_recompute_not_in_allowlist": "Only recompute ops on the partitioner's allowlist.",
    "ban_recompute_reductions": "Do not recompute reductions.",
    "fullgraph": "Make a graph break an error instead of capturing each compiled region.",
    "device": "'auto' (CUDA when available), 'cpu' or 'cuda'.",
    "dynamo_config": (
        "torch._dynamo.config options for this analysis, e.g. "
        "{\"skip_fwd_side_effects_in_bwd_under_checkpoint\": true, "
        "\"ignore_logging_functions\": [\"logging.Logger.info\"]}; allowed: "
        + ", ".join(f"{k} ({t})" for k, (t, _) in DYNAMO_OPTIONS.items()) + "."
    ),
    "disable_functionalization": (
        "aot_autograd's disable_functionalization flag: trace without functionalization "
        "(mutations stay in the graph); implies decompositions='none', the aot_autograd path."
    ),
    "cost_profile": (
        "Device profile for the estimated recompute time (roofline): 'auto' (the analysis "
        "device), 'h100', 'h200', 'a100', 'l4' or 'cpu' (this machine, measured once)."
    ),
    "execution": (
        "'real': build the model and run forward and backward on real tensors; 'fake': build "
        "parameters and inputs as fake tensors (shapes and dtypes only, no memory, nothing "
        "executed), so full-size models analyse on a small CPU worker; device 'cuda' follows "
        "CUDA's op choices and needs a CUDA device (torch's autograd engine touches it even for "
        "fake tensors)."
    ),
}


def shown(value: Any, limit: int = 60) -> str:
    """A value for an error message: a huge number or string from a request is abbreviated
    (`repr` of an int over 4,300 digits even raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"a {value.bit_length() * 3 // 10}-digit integer"
    try:
        text = repr(value)
    except ValueError:
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


@dataclass(frozen=True)
class Settings:
    """How one analysis compiles the snippet. Defaults are what plain `torch.compile` does.

    Invalid values raise `SettingsError` naming the field, at construction.
    """

    decompositions: Decompositions = "inductor"
    partitioner: Partitioner = "min_cut"
    memory_budget: float = 1.0
    budget_solver: BudgetSolver = "dp"
    ban_recompute_used_far_apart: bool = True
    ban_recompute_long_fusible_chains: bool = True
    ban_recompute_materialized_backward: bool = True
    ban_recompute_not_in_allowlist: bool = True
    ban_recompute_reductions: bool = True
    fullgraph: bool = False
    device: Device = "auto"
    dynamo_config: dict[str, Any] = field(default_factory=dict)
    disable_functionalization: bool = False
    cost_profile: CostProfile = "auto"
    execution: Execution = "real"

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise SettingsError(
                    f"settings.{name}: {shown(value)} is not one of {', '.join(map(repr, choices))}"
                )
        budget = self.memory_budget
        if isinstance(budget, bool) or not isinstance(budget, int | float):
            raise SettingsError(
                f"settings.memory_budget: expected a number in [0, 1], got {shown(budget)}"
            )
        if not 0.0 <= budget <= 1.0 or not math.isfinite(budget):
            raise SettingsError(f"settings.memory_budget: {shown(budget)} is outside [0, 1]")
        object.__setattr__(self, "memory_budget", float(budget))
        for name in (*BAN_RECOMPUTE_FLAGS, "fullgraph", "disable_functionalization"):
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(
                    f"settings.{name}: expected true or false, got {shown(getattr(self, name))}"
                )
        object.__setattr__(self, "dynamo_config", _checked_dynamo_config(self.dynamo_config))
        if self.disable_functionalization and self.decompositions != "none":
            # inductor's pipeline always functionalizes; only aot_autograd takes the flag
            object.__setattr__(self, "decompositions", "none")

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["dynamo_config"] = {k: list(v) if isinstance(v, tuple) else v
                                for k, v in self.dynamo_config.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Settings:
        """Build from a JSON-like mapping; unknown keys are an error, not silently dropped."""
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(
                f"settings: unknown field(s) {', '.join(shown(k) for k in unknown[:5])}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**data)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _checked_dynamo_config(value: Any) -> dict[str, Any]:
    """`value` validated against `DYNAMO_OPTIONS`, in sorted key order; callables as tuples."""
    if not isinstance(value, dict):
        raise SettingsError(
            f"settings.dynamo_config: expected an object of dynamo options, got {value!r}")
    out: dict[str, Any] = {}
    for key in sorted(value):
        v = value[key]
        where = f"settings.dynamo_config.{key}"
        if key not in DYNAMO_OPTIONS:
            raise SettingsError(
                f"{where}: not an allowed dynamo option; allowed: {', '.join(DYNAMO_OPTIONS)}")
        kind = DYNAMO_OPTIONS[key][0]
        if kind == "bool" and not isinstance(v, bool):
            raise SettingsError(f"{where}: expected true or false, got {v!r}")
        if kind == "int" and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise SettingsError(f"{where}: expected a non-negative integer, got {v!r}")
        if kind == "callables":
            names = [v] if isinstance(v, str) else v
            if not isinstance(names, list | tuple) or not all(
                    isinstance(n, str) and _DOTTED_NAME.fullmatch(n) for n in names):
                raise SettingsError(
                    f"{where}: expected a list of dotted names of functions such as "
                    f"'logging.Logger.info', got {v!r}")
            v = tuple(names)
        out[key] = v
    return out
