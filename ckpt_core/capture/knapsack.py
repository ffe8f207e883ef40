"""What torch's memory-budget knapsack estimated for the recompute it chose.

Under `activation_memory_budget < 1`, when no cheaper min-cut plan fits, `choose_saved_values_set`
calls `_optimize_runtime_with_given_memory(memory, runtimes, …)` with one runtime per candidate
(the ops the min-cut would not recompute) in the unit of
`activation_memory_budget_runtime_estimator` (`flops`: FLOPs of torch's flop counter, at least
1 per op; `profile`: milliseconds benchmarked on the GPU). It returns the indices it keeps and
those it recomputes; `expected_runtime` here is the sum of the recomputed candidates' runtimes —
torch's own estimate of the recompute the budget added. We keep the last answer per partition
without changing what torch computes (torch 2.13 to 2.15 keep the function in
`torch._functorch.partitioners`; elsewhere nothing is recorded and the key stays empty).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .torch_compat import functorch_config, partitioners

_NAME = "_optimize_runtime_with_given_memory"


@contextlib.contextmanager
def record_knapsack(into: list[dict[str, Any]]) -> Iterator[None]:
    """Append `{"estimator", "expected_runtime", "unit"}` to `into` for each knapsack solved."""
    original = getattr(partitioners, _NAME, None)
    if original is None:
        yield
        return

    def recording(joint_graph: Any, memory: Any, runtimes: Any, *args: Any,
                  **kwargs: Any) -> Any:
        result = original(joint_graph, memory, runtimes, *args, **kwargs)
        estimator = functorch_config.activation_memory_budget_runtime_estimator
        name = estimator if isinstance(estimator, str) else type(estimator).__name__
        recomputed = [int(i) for i in result[2]]
        into.append({"estimator": name,
                     "expected_runtime": float(sum(runtimes[i] for i in recomputed)),
                     "unit": {"flops": "FLOP", "profile": "ms"}.get(name, ""),
                     "candidates": len(runtimes), "recomputed_candidates": len(recomputed)})
        return result

    setattr(partitioners, _NAME, recording)
    try:
        yield
    finally:
        setattr(partitioners, _NAME, original)
