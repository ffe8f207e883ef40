"""Real compiles of the examples, checked against what torch does.

Expectations come from torch's behaviour: autograd's saved-tensor hooks under a stock backend
with the same partitioner (the oracle), torch's checkpoint semantics (PREFER/MUST_RECOMPUTE
nodes are never saved; the partitioner forces a region output feeding the next region to
MUST_SAVE), its RNG functionalisation, and dynamo's graph-break reporting.
"""

from __future__ import annotations

from typing import Any

import pytest
from torch._functorch.partitioners import default_partition

import ckpt_core
from ckpt_core.capture import torch_compat
from tests.conftest import EXAMPLES, example_names

from .oracle import analysed_saved_tensors, packed_saved_tensors

pytestmark = pytest.mark.torch_compile

#: examples a real run can afford (the full-size ones have their own tests)
ALL_EXAMPLES = example_names(full_size=False)


def nodes(doc: dict[str, Any], kind: str, region: int = 0) -> list[dict[str, Any]]:
    return list(doc["regions"][region]["graphs"][kind]["nodes"])


def by_status(doc: dict[str, Any], status: str, kind: str = "forward") -> list[dict[str, Any]]:
    return [n for r in range(len(doc["regions"])) for n in nodes(doc, kind, r)
            if n["status"] == status]


@pytest.mark.parametrize("example", ALL_EXAMPLES)
def test_saved_set_matches_autograd_under_aot_eager(example: str, analyze_example: Any) -> None:
    doc = analyze_example(example, decompositions="none")
    assert analysed_saved_tensors(doc) == packed_saved_tensors(EXAMPLES / f"{example}.py",
                                                               "aot_eager")


def test_saved_set_matches_autograd_with_default_partitioner(analyze_example: Any) -> None:
    from torch._dynamo.backends.common import aot_autograd
    from torch._functorch._aot_autograd.utils import make_boxed_func

    def nop(gm: Any, _: Any) -> Any:
        return make_boxed_func(gm.forward)

    backend = aot_autograd(fw_compiler=nop, bw_compiler=nop, partition_fn=default_partition)
    doc = analyze_example("memory_budget", decompositions="none", partitioner="default")
    assert analysed_saved_tensors(doc) == packed_saved_tensors(EXAMPLES / "memory_budget.py",
                                                               backend)
    min_cut = analyze_example("memory_budget", decompositions="none")
    assert doc["summary"]["saved_activation_bytes"] >= min_cut["summary"][
        "saved_activation_bytes"]


def test_saved_set_matches_autograd_under_memory_budget(analyze_example: Any) -> None:
    doc = analyze_example("memory_budget", decompositions="none", memory_budget=0.5)
    assert analysed_saved_tensors(doc) == packed_saved_tensors(
        EXAMPLES / "memory_budget.py", "aot_eager", activation_memory_budget=0.5)


@pytest.mark.parametrize("example", ALL_EXAMPLES)
@pytest.mark.parametrize("decompositions", ["inductor", "none"])
def test_documents_validate_and_invariants_hold(
    example: str, decompositions: str, analyze_example: Any
) -> None:
    doc = analyze_example(example, decompositions=decompositions)
    ckpt_core.validate_analysis(doc)
    assert doc["schema_version"] == 1 and doc["device"] == "cpu"
    for region in doc["regions"]:
        fw = {n["name"]: n for n in region["graphs"]["forward"]["nodes"]}
        for s in region["saved"]:
            node = fw[s["forward_node"]]
            # torch treats PREFER_RECOMPUTE and MUST_RECOMPUTE as must-recompute: never saved
            assert node["policy"] not in ("MUST_RECOMPUTE", "PREFER_RECOMPUTE"), node
        for n in region["graphs"].get("backward", {"nodes": []})["nodes"]:
            if n["status"] == "recompute":
                assert n["recompute_of"], n
        if "joint" in region["graphs"]:
            ids = {n["ac_region"] for n in region["graphs"]["joint"]["nodes"]} - {None}
            assert ids <= set(range(1, len(ids) + 1)) or ids == set()


def test_plain_checkpoint_saves_only_the_region_input(analyze_example: Any) -> None:
    doc = analyze_example("mlp_checkpoint")
    region_nodes = [n for n in nodes(doc, "forward") if n["ac_region"] is not None]
    assert region_nodes
    assert {n["requested_policy"] for n in region_nodes} == {"PREFER_RECOMPUTE"}
    assert all(n["status"] in ("recomputed", "forward_only") for n in region_nodes)
    activations = [s for s in doc["regions"][0]["saved"] if s["kind"] == "activation"]
    assert [s["forward_node"] for s in activations] == ["relu"]  # the checkpoint's input
    recomputed_targets = {n["target"] for n in by_status(doc, "recompute", "backward")}
    assert "aten.addmm.default" in recomputed_targets  # the block's matmuls run again


def test_sac_policy_saves_matmuls_and_attention(analyze_example: Any) -> None:
    doc = analyze_example("gpt_sac")
    fw = nodes(doc, "forward")
    must_save = [n for n in fw if n["requested_policy"] == "MUST_SAVE"]
    assert must_save and all(n["status"] in ("saved", "forward_only") for n in must_save)
    attention = [n for n in fw if "scaled_dot_product" in n["target"]]
    assert len(attention) == 12
    assert all(n["requested_policy"] == "MUST_SAVE" for n in attention)
    # SDPA returns a tuple: its outputs are saved through getitem nodes
    saved = {s["forward_node"] for s in doc["regions"][0]["saved"]}
    attention_names = {n["name"] for n in attention}
    saved_attention = [n for n in fw if n["name"] in saved and n["target"] == "operator.getitem"
                       and n["inputs"][0] in attention_names]
    assert len({n["inputs"][0] for n in saved_attention}) == 12
    # consecutive checkpointed blocks: torch forces each boundary to MUST_SAVE
    rewritten = [n for n in nodes(doc, "joint")
                 if n["requested_policy"] == "PREFER_RECOMPUTE" and n["policy"] == "MUST_SAVE"]
    assert len(rewritten) == 11
    assert all(n["status"] == "saved" for n in rewritten)
    assert doc["summary"]["recomputed_count"] > 0
    modules = {n["module"] for n in fw if n["module"]}
    assert "blocks.0.attn.qkv" in modules and "blocks.11.mlp.fc" in modules
    assert len({n["ac_region"] for n in fw} - {None}) == 12


def test_dropout_rng_is_saved_and_replayed(analyze_example: Any) -> None:
    doc = analyze_example("dropout_checkpoint", decompositions="none")
    region = doc["regions"][0]
    rng = [s for s in region["saved"] if s["kind"] == "rng_state"]
    assert len(rng) == 1 and rng[0]["dtype"] == "uint8"
    fw_wrappers = [n for n in nodes(doc, "forward")
                   if n["target"] == "higher_order.run_and_save_rng_state"]
    bw_wrappers = [n for n in nodes(doc, "backward")
                   if n["target"] == "higher_order.run_with_rng_state"]
    assert [n["wraps"] for n in fw_wrappers] == ["aten.native_dropout.default"]
    assert [n["wraps"] for n in bw_wrappers] == ["aten.native_dropout.default"]
    assert bw_wrappers[0]["status"] == "recompute"
    assert bw_wrappers[0]["recompute_of"] == fw_wrappers[0]["name"]
    assert fw_wrappers[0]["status"] == "recomputed"

    inductor = analyze_example("dropout_checkpoint")
    seeds = [s for s in inductor["regions"][0]["saved"] if s["kind"] == "rng_state"]
    recompute = by_status(inductor, "recompute", "backward")
    assert len(seeds) == 1
    assert any(n["target"] == "prims.inductor_random.default" for n in recompute)
    if torch_compat.RELEASE == "2.13":
        # inductor's own seeds buffer is what backward needs to draw the same mask
        assert seeds[0]["forward_node"] == "inductor_seeds_default"
    else:
        # from 2.14 the seeds are drawn under run_and_save_rng_state: the generator's state is
        # saved (a uint8 tensor) and run_with_rng_state draws the same seeds again in backward
        assert seeds[0]["dtype"] == "uint8"
        wrapper = [n for n in nodes(inductor, "forward")
                   if n["target"] == "higher_order.run_and_save_rng_state"]
        assert [n["wraps"] for n in wrapper] == ["prims.inductor_seeds.default"]
        assert any(n["target"] == "higher_order.run_with_rng_state" for n in recompute)


def test_memory_budget_recomputes_without_tags(analyze_example: Any) -> None:
    full = analyze_example("memory_budget")
    half = analyze_example("memory_budget", memory_budget=0.5)
    none = analyze_example("memory_budget", memory_budget=0.0)
    assert half["settings"]["memory_budget"] == 0.5
    assert half["summary"]["saved_activation_bytes"] < full["summary"]["saved_activation_bytes"]
    assert none["summary"]["saved_activation_bytes"] <= half["summary"]["saved_activation_bytes"]
    recomputes = by_status(half, "recompute", "backward")
    assert recomputes and all(n["policy"] is None for n in recomputes)
    joint = nodes(half, "joint")
    assert joint and all(n["requested_policy"] is None for n in joint)


def test_two_regions_with_an_op_between(analyze_example: Any) -> None:
    doc = analyze_example("two_regions")
    fw = {n["name"]: n for n in nodes(doc, "forward")}
    assert {n["ac_region"] for n in fw.values()} - {None} == {1, 2}
    between = [n for n in fw.values() if n["ac_region"] is None and n["op"] == "call_function"]
    assert {n["target"] for n in between} >= {"aten.sin.default", "aten.mul.Tensor"}
    activations = [s["forward_node"] for s in doc["regions"][0]["saved"]
                   if s["kind"] == "activation"]
    assert activations == ["mul"]  # the second region's input
    assert fw["mul"]["source"]["line"] == 20


def test_custom_function_inside_checkpoint_is_recomputed(analyze_example: Any) -> None:
    doc = analyze_example("custom_function")
    fw = nodes(doc, "forward")
    muls = [n for n in fw if n["target"] == "aten.mul.Tensor"]
    assert muls and all(n["ac_region"] == 1 for n in muls)
    assert all(n["requested_policy"] == "PREFER_RECOMPUTE" for n in muls)
    assert doc["summary"]["saved_activation_count"] == 0
    recomputed = {n["name"] for n in by_status(doc, "recompute", "backward")}
    assert {n["name"] for n in muls} <= recomputed


def test_graph_break_gives_two_regions_and_dynamos_reason(analyze_example: Any) -> None:
    doc = analyze_example("graph_break")
    assert len(doc["regions"]) == 2
    assert len(doc["graph_breaks"]) == 1
    brk = doc["graph_breaks"][0]
    assert brk["line"] == 19 and "print" in brk["code"]
    assert "print" in brk["reason"]
    assert doc["summary"]["graph_break_count"] == 1


def test_fullgraph_makes_a_graph_break_an_error() -> None:
    with pytest.raises(ckpt_core.GraphBreakError) as info:
        ckpt_core.analyze_file(EXAMPLES / "graph_break.py", ckpt_core.Settings(fullgraph=True))
    assert info.value.line == 19
    assert "print" in info.value.message


def test_sources_and_parameters_are_attached(analyze_example: Any) -> None:
    doc = analyze_example("mlp_checkpoint")
    fw = nodes(doc, "forward")
    params = {n["param"] for n in fw if n["status"] == "parameter"}
    assert "inp.weight" in params and "block.0.weight" in params
    addmm = [n for n in fw if n["target"] == "aten.addmm.default"]
    assert addmm and all(n["source"] and n["source"]["line"] > 0 for n in addmm)
    assert all(n["flops"] and n["flops"] > 0 for n in addmm)
    assert {n["module"] for n in addmm} >= {"inp", "block.0", "block.2", "out"}


def test_why_follows_policies_and_partitioner_constraints(analyze_example: Any) -> None:
    doc = analyze_example("gpt_sac")
    joint = nodes(doc, "joint")
    prefer = [n for n in joint if n["policy"] == "PREFER_RECOMPUTE" and n["op"] == "call_function"]
    # torch's own words, read off the min-cut flow graph
    assert prefer and all("must recompute: marked by checkpoint policy" in n["partitioner_reasons"]
                          for n in prefer)
    fw = nodes(doc, "forward")
    boundary = [n for n in fw if n["requested_policy"] == "PREFER_RECOMPUTE"
                and n["policy"] == "MUST_SAVE"]
    assert boundary and all("turned the requested PREFER_RECOMPUTE into MUST_SAVE" in n["why"]
                            for n in boundary)
    must_save = [n for n in fw if n["requested_policy"] == "MUST_SAVE" and n["status"] == "saved"]
    assert must_save and all("marked it MUST_SAVE" in n["why"] for n in must_save)
    recompute = by_status(doc, "recompute", "backward")
    assert recompute and all(n["why"] and n["why"].startswith("recomputed in backward")
                             for n in recompute)

    budget = analyze_example("memory_budget", memory_budget=0.5)
    chosen = by_status(budget, "recomputed")
    assert chosen and all("memory_budget=0.5" in n["why"] for n in chosen)
    saved = by_status(budget, "saved")
    assert saved and all(n["why"].startswith("saved:") for n in saved)


@pytest.mark.parametrize(("example", "settings"), [
    ("mlp_checkpoint", {}), ("dropout_checkpoint", {}), ("memory_budget", {"memory_budget": 0.0}),
])
def test_every_node_says_why(example: str, settings: dict[str, Any],
                             analyze_example: Any) -> None:
    doc = analyze_example(example, **settings)
    unexplained = [(r["index"], kind, n["name"], n["status"]) for r in doc["regions"]
                   for kind, g in r["graphs"].items() for n in g["nodes"] if not n["why"]]
    assert unexplained == []
