"""Analysis settings: what to compile with, validated once, defaulting to plain `torch.compile`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from .errors import SettingsError

Decompositions = Literal["inductor", "none"]
Partitioner = Literal["min_cut", "default"]
BudgetSolver = Literal["dp", "greedy", "ilp"]
Device = Literal["auto", "cpu", "cuda"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "decompositions": ("inductor", "none"),
    "partitioner": ("min_cut", "default"),
    "budget_solver": ("dp", "greedy", "ilp"),
    "device": ("auto", "cpu", "cuda"),
}

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
        for name in (*BAN_RECOMPUTE_FLAGS, "fullgraph"):
            if not isinstance(getattr(self, name), bool):
                raise SettingsError(
                    f"settings.{name}: expected true or false, got {shown(getattr(self, name))}"
                )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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
