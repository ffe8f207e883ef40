"""The analytic timeline against an instrumented run of the captured graphs, on every example.

The measurement interpreter executes each region's forward and backward GraphModules on real
CPU tensors, frees each value after its last use and counts the storages alive: it must agree
with the pure timeline within 2% at every step. Each example is traced once per module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ckpt_core import Settings
from ckpt_core.ir import Analysis
from ckpt_core.memory import (
    disagreeing_steps,
    memory_timeline,
    module_rollup,
    recompute_ledger,
    saved_ledger,
    storage_plan,
)
from tests.conftest import EXAMPLES, example_names

pytestmark = pytest.mark.torch_compile

#: examples a real run can afford (the full-size ones have their own tests)
ALL_EXAMPLES = example_names(full_size=False)
#: the examples again under other settings: no decompositions (RNG functionalised by the
#: partitioner) and a memory budget (recomputes chosen by the min-cut solver)
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    *((name, {}) for name in ALL_EXAMPLES),
    ("dropout_checkpoint", {"decompositions": "none"}),
    ("mlp_checkpoint", {"decompositions": "none"}),
    ("memory_budget", {"memory_budget": 0.5}),
]


@dataclass
class Measured:
    analysis: Analysis
    measured: dict[int, list[int]]


_CACHE: dict[str, Measured] = {}


def measured(name: str, settings: dict[str, Any]) -> Measured:
    key = f"{name}:{sorted(settings.items())}"
    if key not in _CACHE:
        from ckpt_core.capture.measure import measure_region
        from ckpt_core.capture.traced import traced

        with traced(EXAMPLES / f"{name}.py", Settings(**settings)) as t:
            regions, parts = t.partition(t.settings.memory_budget)
            samples = {}
            for part in parts:
                if part.forward is not None:
                    samples[part.raw.index] = measure_region(
                        part.forward, part.backward, part.raw.num_user_outputs).live_bytes()
            _CACHE[key] = Measured(t.analysis(regions=regions), samples)
    return _CACHE[key]


@pytest.mark.parametrize(("example", "settings"), VARIANTS,
                         ids=[f"{n}-{'-'.join(map(str, s.values())) or 'default'}"
                              for n, s in VARIANTS])
def test_timeline_agrees_with_instrumented_run(example: str, settings: dict[str, Any]) -> None:
    m = measured(example, settings)
    assert m.measured, "no region with graphs to measure"
    for index, samples in m.measured.items():
        tl = memory_timeline(m.analysis, index)
        bad = disagreeing_steps(tl.live_bytes(), samples, tolerance=0.02)
        detail = [(tl.steps[i].node, tl.steps[i].target, tl.live_bytes()[i], samples[i])
                  for i in bad[:5]]
        assert not bad, f"region {index}: {len(bad)} step(s) off by more than 2%: {detail}"
        assert tl.peak.bytes == max(samples)


@pytest.mark.parametrize("example", ALL_EXAMPLES)
def test_invariants_on_examples(example: str) -> None:
    a = measured(example, {}).analysis
    for region in a.regions:
        tl = memory_timeline(a, region.index)
        saved = region.summary.saved_activation_bytes if region.summary else 0
        assert tl.peak.bytes >= saved
        if region.graph("backward") is not None:
            boundary_saved = tl.boundary_category_bytes[1]
            assert boundary_saved == saved
        plan = storage_plan(region)
        last = len(plan.steps) - 1
        left = {s.category for s in plan.storages if s.last_step == last}
        # a user output that is also saved keeps its "saved" category
        assert left <= {"inputs", "outputs", "gradients", "saved"}
        assert plan.storages and all(
            s.category != "saved" or s.last_step >= plan.forward_steps - 1
            for s in plan.storages)


@pytest.mark.parametrize("example", ALL_EXAMPLES)
def test_ledger_totals_equal_summary(example: str) -> None:
    a = measured(example, {}).analysis
    ledger = saved_ledger(a)
    assert ledger.total_cost_bytes == a.summary["saved_activation_bytes"]
    assert sum(e.cost_bytes for e in ledger.activations) == ledger.total_cost_bytes
    assert len(ledger.activations) + len(ledger.inputs) == a.summary["saved_count"]
    rec = recompute_ledger(a)
    assert rec.total.count == a.summary["recomputed_count"]
    assert rec.total.flops == a.summary["recompute_flops"]
    assert rec.forward_flops == a.summary["forward_flops"]
    root = next(r for r in module_rollup(a) if r.module == "")
    assert root.saved_bytes == ledger.total_cost_bytes
    assert root.recompute_count == rec.total.count


def test_gpt_repeated_layers() -> None:
    from ckpt_core.memory import repeated_layers

    texts = [r.text for r in repeated_layers(measured("gpt_sac", {}).analysis)]
    blocks = [t for t in texts if t.startswith("blocks.")]
    assert blocks and "identical" in blocks[0]
