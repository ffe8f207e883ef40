"""Budget plans as torch.compile runs them: a plan torch's runtime refuses is kept and flagged,
and every sweep point is what a fresh analysis at that budget shows, hazards included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ckpt_core
from ckpt_core.ir import Analysis
from ckpt_core.runtime_checks import unsaveable
from ckpt_core.sweep import sweep
from tests.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.torch_compile

SAC_BLOCKS = EXAMPLES / "sac_memory_budget.py"
SAC_GPT = Path(__file__).resolve().parents[1] / "diff" / "diff_pairs" / "policy_change" / "a.py"
PLAIN_MLP = EXAMPLES / "memory_budget.py"


def plan(a: Analysis) -> dict[str, Any]:
    """What a user acts on: saved values and forward statuses per region, totals, hazards."""
    return {
        "saved": [sorted((s.forward_node, s.kind, s.bytes) for s in r.saved) for r in a.regions],
        "status": [{n.name: n.status for n in r.graphs["forward"].nodes} for r in a.regions],
        "saved_activation_bytes": a.summary["saved_activation_bytes"],
        "recomputed_count": a.summary["recomputed_count"],
        "hazards": [(h.kind, h.message, h.nodes, h.severity) for h in a.hazards],
    }


@pytest.mark.parametrize(("snippet", "budgets"), [
    (SAC_BLOCKS, (1.0, 0.5, 0.0)),
    (SAC_GPT, (1.0, 0.3)),
    (PLAIN_MLP, (1.0, 0.5, 0.2)),
], ids=["sac-blocks", "sac-gpt", "plain-mlp"])
def test_sweep_points_are_fresh_analyses(snippet: Path, budgets: tuple[float, ...]) -> None:
    result = sweep(snippet, budgets)
    for point in result.points:
        fresh = ckpt_core.analyze_file(snippet, ckpt_core.Settings(memory_budget=point.budget))
        assert plan(point.analysis) == plan(fresh), (snippet.name, point.budget)
        listed = point.to_dict(with_analysis=False)["hazard_kinds"]
        assert set(listed) == {h.kind for h in fresh.hazards}
    if snippet == SAC_BLOCKS:  # the budget torch cannot run is not a clean plan like budget 1
        assert ["torch_compile_fails" in p.to_dict(with_analysis=False)["hazard_kinds"]
                for p in result.points] == [False, True, False]


def test_a_plan_torch_cannot_run_is_shown_with_a_torch_hazard() -> None:
    a = ckpt_core.analyze_file(SAC_BLOCKS, ckpt_core.Settings(memory_budget=0.5))
    [hazard] = [h for h in a.hazards if h.kind == "torch_compile_fails"]
    assert hazard.kind == "torch_compile_fails" and hazard.severity == "error"
    assert "not the snippet's" in hazard.message
    assert [n.name for n in hazard.nodes] == [
        "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_flash_attention_for_cpu_1"]
    assert hazard.details is not None and hazard.details.startswith(
        "torch/_functorch/_aot_autograd/runtime_wrappers.py:")
    assert "save_from_forward: AssertionError: expected all tensors_saved_with_vc_check" in (
        hazard.details)
    assert len(hazard.details) <= 700
    # the partition is complete: every saved value but the refused ones is a tensor
    [region] = a.regions
    assert [n.name for _, n in unsaveable(region)] == [n.name for n in hazard.nodes]
    assert a.summary["saved_count"] > 2
    # the same model at budget 1 is a plan torch runs
    assert "torch_compile_fails" not in {h.kind for h in ckpt_core.analyze_file(SAC_BLOCKS).hazards}


def test_ckpt_analyze_exits_0_with_the_plan_and_the_hazard(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    r = subprocess.run([sys.executable, "-m", "server.cli", "analyze", str(SAC_BLOCKS),
                        "--memory-budget", "0.5", "-o", str(out)], cwd=REPO,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "error: torch_compile_fails: torch.compile fails with this plan" in r.stdout
    assert "torch said: torch/_functorch/_aot_autograd/runtime_wrappers.py:" in r.stdout
    assert "largest saved tensors" in r.stdout
    assert "The model raised" not in r.stdout + r.stderr
    doc = json.loads(out.read_text())
    ckpt_core.validate_analysis(doc)
    assert doc["hazards"][0]["kind"] == "torch_compile_fails"  # errors first
