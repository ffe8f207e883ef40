"""Policy what-if: overrides on the captured joint graph, re-partitioned, exported as code that
reproduces the plan when ckptscope analyses it again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ckpt_core
from ckpt_core.errors import OverrideError
from ckpt_core.ir import Analysis
from ckpt_core.policy import parse_override, resolve, whatif
from tests.conftest import EXAMPLES, REPO


def test_parse_override_names_what_is_malformed() -> None:
    assert parse_override("op:aten.mm.*", "MUST_SAVE").pattern == "aten.mm.*"
    assert parse_override("module: blocks.*.mlp", "NO_CHECKPOINT").selector == "module:blocks.*.mlp"
    cases = {
        ("blocks.0", "MUST_SAVE"): "write KIND:PATTERN",
        ("layer:3", "MUST_SAVE"): "unknown kind 'layer'",
        ("region:two", "MUST_SAVE"): "checkpoint region number",
        ("region:0", "MUST_SAVE"): "checkpoint region number",
        ("op:aten mm", "MUST_SAVE"): "aten.addmm.default",
        ("node:a+b", "MUST_SAVE"): "FX name",
        ("op:aten.mm.default", "SAVE"): "is not one of MUST_SAVE",
    }
    for (selector, action), words in cases.items():
        with pytest.raises(OverrideError, match=words.replace("(", r"\(")):
            parse_override(selector, action)


def _key(analysis: Analysis) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
    """(saved, recomputed) as comparable sets: inputs by position, parameters by name, other
    values by their FX name (torch names them after the op and its count)."""
    saved, recomputed = set(), set()
    for region in analysis.regions:
        forward = region.graph("forward")
        assert forward is not None
        by_name = forward.by_name()
        inputs = [n.name for n in forward.nodes if n.op == "placeholder" and not n.param]
        for s in region.saved:
            n = by_name[s.forward_node]
            name = n.param or (f"input#{inputs.index(n.name)}" if n.name in inputs else n.name)
            saved.add((region.index, name))
        backward = region.graph("backward")
        for n in backward.nodes if backward else ():
            if n.status == "recompute":
                recomputed.add((region.index, n.recompute_of or n.name))
    return saved, recomputed


def _gpt(tmp_path: Path, layers: int) -> Path:
    path = tmp_path / f"gpt_sac_{layers}.py"
    source = (EXAMPLES / "gpt_sac.py").read_text()
    path.write_text(source.replace("model = GPT()", f"model = GPT(layers={layers})"))
    return path


#: (case, snippet, overrides, memory budget): the six kinds of edit the round trip must hold for
ROUND_TRIPS = [
    ("op-level save", "mlp_checkpoint", [("op:aten.addmm.default", "MUST_SAVE")], 1.0),
    ("op-level recompute", "gpt", [("op:aten.addmm.default", "PREFER_RECOMPUTE")], 1.0),
    ("module-level no checkpoint", "two_regions", [("module:b", "NO_CHECKPOINT")], 1.0),
    ("region-level", "two_regions", [("region:1", "MUST_SAVE")], 1.0),
    ("node-level with a counter", "gpt", [("node:{blocks.1.mlp.fc}", "PREFER_RECOMPUTE")], 1.0),
    ("budget plus overrides", "mlp_checkpoint", [("op:aten.gelu.default", "MUST_SAVE")], 0.5),
    ("a module newly checkpointed", "memory_budget", [("module:2", "PREFER_RECOMPUTE")], 1.0),
]


@pytest.mark.torch_compile
@pytest.mark.parametrize(("case", "snippet", "overrides", "budget"), ROUND_TRIPS,
                         ids=[c[0] for c in ROUND_TRIPS])
def test_written_snippet_reproduces_the_plan(tmp_path: Path, case: str, snippet: str,
                                             overrides: list[tuple[str, str]],
                                             budget: float) -> None:
    path = _gpt(tmp_path, 2) if snippet == "gpt" else EXAMPLES / f"{snippet}.py"
    settings = ckpt_core.Settings(memory_budget=budget)
    if any("{" in sel for sel, _ in overrides):
        base = ckpt_core.analyze_file(path)
        joint = base.regions[0].graphs["joint"]
        # the MLP's first matmul of the second block: the third addmm of that block
        names = {n.module: n.name for n in joint.nodes if n.target == "aten.addmm.default"
                 and n.partitioner_tag == "is_forward"}
        overrides = [(sel.replace("{blocks.1.mlp.fc}", names["blocks.1.mlp.fc"]), action)
                     for sel, action in overrides]
        result = whatif(base, overrides, settings)
    else:
        result = whatif(path, overrides, settings)
    plan = result.analysis
    ckpt_core.validate_analysis(plan.to_dict())
    assert plan.to_dict()["overrides"] == [{"selector": s, "action": a} for s, a in overrides]
    assert plan.settings["memory_budget"] == budget
    assert _key(plan) != _key(result.base), "the edit must change the plan"
    assert result.plan.changed > 0
    new = tmp_path / "new.py"
    new.write_text(result.snippet())
    again = ckpt_core.analyze_file(new, settings)
    assert _key(again) == _key(plan)
    if case == "node-level with a counter":
        assert "calls[mode, op] == 3" in result.policy.code
    if case == "op-level recompute":
        assert result.policy.save_list == ("aten._scaled_dot_product_flash_attention_for_cpu"
                                           ".default",)
        assert result.deltas["saved_activation_bytes"] < 0 < result.deltas["recompute_flops"]
    if case == "a module newly checkpointed":
        assert result.policy.checkpoint_modules == ("2",)


@pytest.mark.torch_compile
def test_bad_overrides_say_what_is_wrong(analyze_example: Any) -> None:
    base = Analysis.from_dict(analyze_example("two_regions"))
    cases = {
        "op:aten.foo.default": "no forward op of this program is aten.foo.default",
        "node:primals_1": "a checkpoint policy can only tag forward ops",
        "node:nope_9": "matches no op of the joint graph",
        "module:c": "matches no module",
        "region:5": "no checkpoint region 5; its checkpoint regions are 1, 2",
        "module:": "would nest checkpoint region(s) 1, 2",
    }
    for selector, words in cases.items():
        with pytest.raises(OverrideError, match=words.replace("(", r"\(").replace(")", r"\)")):
            resolve(base, [parse_override(selector, "MUST_SAVE")])
    with pytest.raises(OverrideError, match="decompositions stays 'inductor'"):
        whatif(base, [("region:1", "MUST_SAVE")], ckpt_core.Settings(decompositions="none"))


@pytest.mark.torch_compile
def test_tags_no_policy_can_set_are_adjusted_and_said(analyze_example: Any) -> None:
    base = Analysis.from_dict(analyze_example("two_regions"))
    # one op of region 2 cannot leave its checkpoint alone: PREFER_SAVE, with a note
    plan = resolve(base, [parse_override("module:b.1", "NO_CHECKPOINT")])
    (tanh,) = [t for t in plan.tags[0].values() if t.policy == "PREFER_SAVE"]
    assert tanh.ac_region == 2
    assert any("cannot leave it alone" in note for note in plan.notes)
    # an op everywhere acts where a policy acts: inside checkpoints
    plan = resolve(base, [parse_override("op:aten.tanh.default", "MUST_SAVE"),
                          parse_override("node:sin", "PREFER_SAVE")])
    assert any(n.startswith("node:sin: 1 op(s) outside any checkpoint") for n in plan.notes)
    # an op outside every checkpoint: its module is checkpointed, unless that would nest
    with pytest.raises(OverrideError, match="would nest"):
        resolve(base, [parse_override("op:aten.sin.default", "MUST_SAVE")])
    plan = resolve(base, [parse_override("module:b", "NO_CHECKPOINT"),
                          parse_override("node:tanh_1", "MUST_SAVE")])
    assert plan.origins[2].wraps_module == "b.1"
    plan = resolve(base, [parse_override("op:aten.tanh.default", "MUST_SAVE")])
    assert plan.matched["op:aten.tanh.default"] == 2


@pytest.mark.torch_compile
def test_cli_whatif_writes_plan_policy_and_snippet(tmp_path: Path) -> None:
    def ckpt(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=600)

    plan, policy, new = tmp_path / "plan.json", tmp_path / "policy.py", tmp_path / "new.py"
    r = ckpt("whatif", str(EXAMPLES / "two_regions.py"), "--no-checkpoint", "module:b",
             "--save", "op:aten.tanh.default", "-o", str(plan), "--export-policy", str(policy),
             "--write-snippet", str(new))
    assert r.returncode == 0, r.stderr
    assert "original → what-if" in r.stdout and "saved activations  2.0 KiB → 6.0 KiB" in r.stdout
    doc = json.loads(plan.read_text())
    ckpt_core.validate_analysis(doc)
    assert [o["action"] for o in doc["overrides"]] == ["NO_CHECKPOINT", "MUST_SAVE"]
    assert "def policy_for_a()" in policy.read_text()
    compile(policy.read_text(), str(policy), "exec")
    assert "install(model, globals())" in new.read_text()
    r = ckpt("whatif", str(EXAMPLES / "two_regions.py"), "--save", "op:aten.nope.default")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith(
        "ckpt: OverrideError: op:aten.nope.default: no forward op of this program")
    r = ckpt("whatif", str(EXAMPLES / "two_regions.py"))
    assert r.returncode == 2 and "give at least one override" in r.stderr
