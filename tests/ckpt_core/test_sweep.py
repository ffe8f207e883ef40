"""The memory-budget sweep: one trace, a re-partition per budget, flags for non-monotonic peaks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ckpt_core
from ckpt_core.errors import SettingsError
from ckpt_core.sweep import non_monotonic_flags, parse_budgets, sweep_from_analyses
from tests.ckpt_core.memory.test_memory import analysis, region

from ..conftest import EXAMPLES


def test_non_monotonic_flag_on_a_constructed_case() -> None:
    budgets = [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
    peaks = [100, 90, 95, 80, 80, 120]
    assert non_monotonic_flags(budgets, peaks) == [False, False, True, False, False, True]
    # order of the points does not matter
    assert non_monotonic_flags(budgets[::-1], peaks[::-1]) == [True, False, False, True,
                                                               False, False]
    assert non_monotonic_flags([1.0, 0.5], [10, 10]) == [False, False]


def test_sweep_from_analyses_flags_and_serialises() -> None:
    a = analysis((region(),))
    result = sweep_from_analyses([a, a], [1.0, 0.5])
    assert result.non_monotonic_budgets == []
    doc = result.to_dict()
    assert doc["budgets"] == [1.0, 0.5]
    assert doc["points"][0]["peak_bytes"] == 1200
    assert doc["points"][1]["analysis"]["memory"]["peak_bytes"] == 1200
    assert "analysis" not in result.to_dict(with_analyses=False)["points"][0]


def test_parse_budgets() -> None:
    assert parse_budgets("1, 0.8,0") == [1.0, 0.8, 0.0]
    with pytest.raises(SettingsError, match="outside"):
        parse_budgets("1.5")
    with pytest.raises(SettingsError, match="not a number"):
        parse_budgets("1,x")


@pytest.mark.torch_compile
def test_sweep_traces_once_and_matches_a_direct_analysis(
        monkeypatch: pytest.MonkeyPatch, analyze_example: Any) -> None:
    import ckpt_core.capture.traced as traced_mod

    calls = []
    real_capture = traced_mod.capture

    def counting_capture(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real_capture(*args, **kwargs)

    monkeypatch.setattr(traced_mod, "capture", counting_capture)
    result = ckpt_core.sweep(EXAMPLES / "memory_budget.py", [1.0, 0.5, 0.0],
                             ckpt_core.Settings(decompositions="none"))
    assert len(calls) == 1
    points = {p.budget: p for p in result.points}
    for p in result.points:
        doc = p.analysis.to_dict()
        ckpt_core.validate_analysis(doc)
        assert doc["settings"]["memory_budget"] == p.budget
        assert doc["memory"]["peak_bytes"] == p.peak_bytes
    assert points[1.0].saved_activation_bytes >= points[0.5].saved_activation_bytes
    assert points[0.5].saved_activation_bytes >= points[0.0].saved_activation_bytes
    assert points[0.0].recompute_flops >= points[1.0].recompute_flops
    # re-partitioning the kept joint graph gives what a fresh compile at that budget gives
    direct = analyze_example("memory_budget", decompositions="none", memory_budget=0.5)
    replayed = points[0.5].analysis.to_dict()
    assert replayed["summary"] == direct["summary"]
    assert replayed["regions"][0]["saved"] == direct["regions"][0]["saved"]


@pytest.mark.torch_compile
def test_cli_sweep_writes_json_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    from ckpt_core.cli import main

    out, report = tmp_path / "sweep.json", tmp_path / "sweep.html"
    snippet = tmp_path / "chatty.py"
    snippet.write_text((EXAMPLES / "mlp_checkpoint.py").read_text()
                       + "\nprint('hello from the snippet')\n")
    code = main(["sweep", str(snippet), "--budgets", "1,0", "-o", str(out), "--html",
                 str(report)])
    assert code == 0
    printed = capsys.readouterr()
    assert "budget" in printed.out and "wrote" in printed.out
    # the snippet's prints go to stderr: stdout stays the table
    assert "hello from the snippet" in printed.err and "hello" not in printed.out
    doc = json.loads(out.read_text())
    assert doc["kind"] == "sweep" and doc["budgets"] == [1.0, 0.0]
    assert len(doc["points"]) == 2 and "memory" in doc["points"][1]["analysis"]
    assert 'id="pareto"' in report.read_text()


def test_cli_sweep_rejects_bad_budgets(tmp_path: Path) -> None:
    from ckpt_core.cli import main

    assert main(["sweep", str(EXAMPLES / "mlp_checkpoint.py"), "--budgets", "2"]) == 2


@pytest.mark.torch_compile
def test_a_budget_that_reuses_an_earlier_partition_matches_a_fresh_compile(
        analyze_example: Any) -> None:
    """Budgets on a knapsack plateau reuse the partition built for an earlier budget; each must
    still be exactly what a fresh compile at that budget gives (graphs, reasons, why)."""
    budgets = [1.0, 0.6, 0.55, 0.5]
    result = ckpt_core.sweep(EXAMPLES / "memory_budget.py", budgets,
                             ckpt_core.Settings(decompositions="none"))
    points = {p.budget: p.analysis.to_dict() for p in result.points}
    saved = {b: [s["forward_node"] for s in points[b]["regions"][0]["saved"]] for b in budgets}
    assert len({tuple(v) for v in saved.values()}) < len(budgets)  # a plateau was reused
    for budget in budgets[1:]:
        direct = analyze_example("memory_budget", decompositions="none", memory_budget=budget)
        replayed = points[budget]
        for key in ("summary", "graph_breaks", "settings"):
            assert replayed[key] == direct[key], (budget, key)
        assert replayed["regions"][0]["saved"] == direct["regions"][0]["saved"]
        for kind in ("joint", "forward", "backward"):
            got = replayed["regions"][0]["graphs"][kind]["nodes"]
            want = direct["regions"][0]["graphs"][kind]["nodes"]
            assert got == want, (budget, kind)
