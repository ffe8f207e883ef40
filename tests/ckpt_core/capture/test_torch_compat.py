"""The torch version seam: each supported release's internals are where `torch_compat` says, the
partitioner's reasons are read on every supported release, and an unsupported torch still
analyses but carries a hazard naming what may be missing.

Runs under each torch release of `scripts/torch_versions` (2.13, 2.14, 2.15)."""

from __future__ import annotations

import ast
import importlib
from typing import Any

import pytest
import torch

import ckpt_core
from ckpt_core.capture import reasons, torch_compat
from ckpt_core.validate import validate_analysis
from tests.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.torch_compile


def test_this_torch_is_a_supported_release_with_nothing_missing() -> None:
    assert torch_compat.RELEASE in torch_compat.SUPPORTED_RELEASES, torch.__version__
    assert torch_compat.missing_parts() == ()
    assert torch_compat.version_hazard() is None


def test_the_min_cut_site_is_the_function_the_partitioner_calls() -> None:
    (site,) = torch_compat.min_cut_sites()
    module = site.resolve()
    assert module is not None
    partitioners = importlib.import_module("torch._functorch.partitioners")
    solve = partitioners.solve_min_cut
    # the name `solve_min_cut` calls, looked up in the module whose global it is
    called = {n.id for n in ast.walk(ast.parse(_dedented_source(solve)))
              if isinstance(n, ast.Name)} | {
        f"{n.value.id}.{n.attr}" for n in ast.walk(ast.parse(_dedented_source(solve)))
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    if site.module == "networkx":
        assert "nx.minimum_cut" in called
    else:
        assert site.module == "torch._functorch.partitioners" and "minimum_cut" in called
        assert getattr(partitioners, "minimum_cut", None) is not None


def _dedented_source(fn: Any) -> str:
    import inspect
    import textwrap

    return textwrap.dedent(inspect.getsource(fn))


def test_release_of_reads_major_minor() -> None:
    assert torch_compat.release_of("2.15.0+cu130") == "2.15"
    assert torch_compat.release_of("2.16.0.dev20270101") == "2.16"
    assert torch_compat.release_of("2.13.0+cpu") == "2.13"


def test_known_releases_name_their_sites() -> None:
    assert [s.module for s in torch_compat.min_cut_sites("2.13")] == ["networkx"]
    assert [s.module for s in torch_compat.min_cut_sites("2.14")] == ["networkx"]
    assert [s.module for s in torch_compat.min_cut_sites("2.15")] == [
        "torch._functorch.partitioners"]


def test_reasons_are_read_on_this_release(analyze_example: Any) -> None:
    doc = analyze_example("gpt_sac")
    joint = doc["regions"][0]["graphs"]["joint"]["nodes"]
    reasons = {r for n in joint for r in n["partitioner_reasons"]}
    assert "must recompute: marked by checkpoint policy" in reasons
    assert any(r.startswith("cannot recompute") or r.startswith("cannot save")
               for r in reasons), reasons
    assert doc["hazards"] == [] or all(h["kind"] != "unsupported_torch_version"
                                       for h in doc["hazards"])


def test_wrapping_restores_every_site() -> None:
    sites = [(s.resolve(), s.attribute) for s in torch_compat.min_cut_sites()]
    before = [getattr(m, a) for m, a in sites]
    with reasons.record_min_cut_reasons(), reasons.record_min_cut_reasons():
        assert all(getattr(m, a) is not b for (m, a), b in zip(sites, before, strict=True))
    assert [getattr(m, a) for m, a in sites] == before


def test_an_unsupported_release_still_analyses_and_says_what_may_be_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch_compat, "RELEASE", "2.99")
    hazard = torch_compat.version_hazard()
    assert hazard is not None and hazard.kind == "unsupported_torch_version"
    assert "2.13, 2.14, 2.15" in hazard.message and hazard.details
    analysis = ckpt_core.analyze_file(EXAMPLES / "mlp_checkpoint.py")
    kinds = [h.kind for h in analysis.hazards]
    assert kinds.count("unsupported_torch_version") == 1
    # every site that exists is tried, so the reasons are still read where torch keeps them
    joint = analysis.regions[0].graphs["joint"]
    assert any(n.partitioner_reasons for n in joint.nodes)
    validate_analysis(analysis.to_dict())


def test_missing_internals_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch_compat, "RELEASE", "2.99")
    monkeypatch.setattr(torch_compat, "_MIN_CUT_BY_RELEASE", {})
    monkeypatch.setattr(torch_compat.MinCutSite, "resolve", lambda self: None)
    monkeypatch.delattr(torch_compat.functorch_config, "activation_memory_budget_solver",
                        raising=False)
    missing = torch_compat.missing_parts()
    assert any("reasons" in m for m in missing)
    assert any("memory-budget" in m for m in missing)
    hazard = torch_compat.version_hazard()
    assert hazard is not None and "partitioner's reasons" in (hazard.details or "")


def test_private_torch_names_are_reached_only_through_the_seam() -> None:
    """Every `torch._…` access in ckpt_core goes through capture/torch_compat.py."""
    offenders = []
    for path in sorted((REPO / "ckpt_core").rglob("*.py")):
        if path.name == "torch_compat.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "torch":
                names = [f"torch.{node.attr}"]
            offenders += [f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)} {n}"
                          for n in names
                          if n.startswith("torch._") and not n.startswith("torch.__")]
    assert offenders == []
