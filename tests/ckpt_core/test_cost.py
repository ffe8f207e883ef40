"""The recompute cost model against hand counts (pure), and on a real compile."""

from __future__ import annotations

from typing import Any

import pytest

from ckpt_core.cost import (
    OP_WEIGHTS,
    PROFILES,
    DeviceProfile,
    cost_summary,
    op_cost,
    op_time_s,
    resolve_profile,
)
from ckpt_core.ir import Graph, Node


def n(name: str, target: str = "aten.mul.Tensor", inputs: tuple[str, ...] = (),
      shape: tuple[int, ...] | None = (8, 16), dtype: str = "float32", **kw: Any) -> Node:
    nbytes = kw.pop("bytes", None)
    if nbytes is None:
        nbytes = (8 * 16 * 4) if shape == (8, 16) else 0
    op = kw.pop("op", "call_function")
    return Node(name=name, op=op, target=target, inputs=inputs, shape=shape, dtype=dtype,
                bytes=nbytes, **kw)


X = n("x", "x", op="placeholder")
W = n("w", "w", op="placeholder", shape=(16, 16), bytes=16 * 16 * 4)
NODES = {"x": X, "w": W}


def test_elementwise_ops_count_elements_times_their_weight() -> None:
    gelu = n("gelu", "aten.gelu.default", ("x",))
    c = op_cost(gelu, NODES)
    # 8×16 = 128 elements × 8 FLOPs (gelu's weight); reads x (512 B), writes 512 B
    assert (c.flops, c.flops_source) == (128 * OP_WEIGHTS["gelu"], "elements") == (1024,
                                                                                     "elements")
    assert (c.bytes_read, c.bytes_written, c.matmul) == (512, 512, False)
    add = n("add", "aten.add.Tensor", ("x", "x"))
    assert op_cost(add, NODES).bytes_read == 512  # one input read once


def test_reductions_count_input_elements() -> None:
    s = n("sum_1", "aten.sum.dim_IntList", ("x",), shape=(8,), bytes=32)
    assert op_cost(s, NODES).flops == 128
    var = n("var_mean", "aten.var_mean.correction", ("x",), shape=None, bytes=64)
    assert op_cost(var, NODES).flops == 3 * 128


def test_matmuls_keep_torchs_count_and_views_are_free() -> None:
    mm = n("mm", "aten.mm.default", ("x", "w"), flops=2 * 8 * 16 * 16)
    c = op_cost(mm, NODES)
    assert (c.flops, c.flops_source, c.matmul) == (4096, "torch", True)
    assert c.bytes_read == 512 + 1024
    view = n("t", "aten.t.default", ("x",), view_of="x")
    assert op_cost(view, NODES).flops_source == "free"
    getitem = n("getitem", "operator.getitem", ("x",))
    assert op_cost(getitem, NODES).bytes_moved == 0
    rng = n("rng", "higher_order.run_with_rng_state", ("x",), wraps="aten.bernoulli.p")
    assert op_cost(rng, NODES).flops == 128 * OP_WEIGHTS["bernoulli"]


def test_roofline_takes_the_slower_of_compute_and_memory() -> None:
    p = DeviceProfile("t", "test", matmul_flops_per_s=1e3, fp32_flops_per_s=1e2,
                      bandwidth_bytes_per_s=1e3)
    gelu = op_cost(n("gelu", "aten.gelu.default", ("x",)), NODES)
    assert op_time_s(gelu, "float32", p) == pytest.approx(max(1024 / 1e2, 1024 / 1e3))
    mm = op_cost(n("mm", "aten.mm.default", ("x", "w"), flops=4096), NODES)
    # 16-bit matmuls run at the matmul peak, fp32 at the fp32 peak
    assert op_time_s(mm, "bfloat16", p) == pytest.approx(max(4096 / 1e3, 2048 / 1e3))
    assert op_time_s(mm, "float32", p) == pytest.approx(4096 / 1e2)


def test_profiles_resolve_from_the_device() -> None:
    cpu = DeviceProfile("cpu", "this CPU", 1e11, 1e11, 1e10, "measured")
    assert resolve_profile("auto", "cpu", cpu) is cpu
    assert resolve_profile("auto", "cuda", None, "NVIDIA H200").name == "h200"
    assert resolve_profile("auto", "cuda", None, "NVIDIA A100-SXM4-80GB").name == "a100"
    assert resolve_profile("auto", "cuda", None, "Some GPU").name == "h100"
    assert resolve_profile("l4", "cpu") is PROFILES["l4"]
    with pytest.raises(ValueError, match="measured CPU"):
        resolve_profile("cpu", "cuda")


def test_cost_summary_totals_every_profile() -> None:
    from ckpt_core.classify import classify
    from ckpt_core.ir import RawRegion

    fw = Graph("forward", (X, W, n("mm", "aten.mm.default", ("x", "w"), flops=4096),
                           n("gelu", "aten.gelu.default", ("mm",)),
                           Node("output", "output", "output", inputs=("gelu", "mm"))))
    bw = Graph("backward", (
        n("mm", "mm", op="placeholder"), n("tangents_1", "tangents_1", op="placeholder"),
        n("gelu", "aten.gelu.default", ("mm",)),
        n("mul", "aten.mul.Tensor", ("gelu", "tangents_1")),
        Node("output", "output", "output", inputs=("mul",))))
    joint = Graph("joint", (*fw.nodes[:-1], n("tangents_1", "tangents_1", op="placeholder"),
                            n("mul", "aten.mul.Tensor", ("gelu", "tangents_1"),
                              partitioner_tag="is_backward"),
                            Node("output", "output", "output", inputs=("gelu", "mul"))))
    joint = Graph("joint", tuple(
        x if x.partitioner_tag or x.op != "call_function" else Node(**{
            **{f: getattr(x, f) for f in x.__dataclass_fields__}, "partitioner_tag": "is_forward"})
        for x in joint.nodes))
    region = classify(RawRegion(0, {"joint": joint, "forward": fw, "backward": bw}, 1))
    cost = cost_summary([region], PROFILES["h100"])
    assert cost["recompute"]["flops"] == 1024 and cost["recompute"]["count"] == 1
    assert cost["forward"]["flops"] == 4096 + 1024
    # gelu on an H100: 1024 B moved at 3.35 TB/s beats 1024 FLOP at 67 TFLOP/s
    assert cost["recompute"]["time_s"] == pytest.approx(1024 / 3.35e12)
    assert [r["profile"] for r in cost["by_profile"]] == ["h100", "h200", "a100", "l4"]
    assert region.summary is not None and region.summary.recompute_flops == 1024


@pytest.mark.torch_compile
def test_a_real_compile_costs_every_recompute(analyze_example: Any) -> None:
    doc = analyze_example("mlp_checkpoint")
    s, cost = doc["summary"], doc["cost"]
    assert s["recompute_flops"] > 0 and s["recompute_time_s"] > 0
    assert s["cost_profile"] == "cpu" and cost["profile"]["source"] == "measured"
    assert 0 < s["recompute_time_fraction"] < 2
    assert {r["profile"] for r in cost["by_profile"]} == {"h100", "h200", "a100", "l4", "cpu"}


TANH_MLP = """
import torch
from torch import nn
model = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(64, 64), nn.Tanh())])
example_inputs = (torch.randn(32, 64, requires_grad=True),)
"""


@pytest.mark.torch_compile
def test_torchs_knapsack_estimate_sits_beside_ours(analyze_example: Any) -> None:
    from ckpt_core import Settings, analyze_source

    # matmul outputs are banned from recompute under every min-cut option: only the knapsack
    # can trade them, and torch's flop estimator prices each 32×64×64 addmm at 2·32·64·64
    doc = analyze_source(TANH_MLP, Settings(memory_budget=0.5)).to_dict()
    (k,) = doc["cost"]["torch_knapsack"]
    assert k["estimator"] == "flops" and k["unit"] == "FLOP"
    assert k["expected_runtime"] == k["recomputed_candidates"] * 2 * 32 * 64 * 64 > 0
    assert doc["summary"]["recompute_flops"] >= k["expected_runtime"]
    (none,) = analyze_example("memory_budget", memory_budget=0.5)["cost"]["torch_knapsack"]
    assert none["expected_runtime"] is None and "no knapsack ran" in none["note"]
    assert analyze_example("memory_budget")["cost"]["torch_knapsack"] == []


@pytest.mark.torch_compile
def test_the_cpu_profile_is_measured_once_and_cached(tmp_path: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from ckpt_core.capture import cpu_profile as module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(module, "_MEASURED", None)
    first = module.cpu_profile()
    assert first.source == "measured" and first.matmul_flops_per_s > 1e8
    assert first.bandwidth_bytes_per_s > 1e8
    assert (tmp_path / "ckptscope" / "cpu_profile.json").is_file()
    monkeypatch.setattr(module, "_MEASURED", None)
    monkeypatch.setattr(module, "measure_cpu", lambda: pytest.fail("measured twice"))
    assert module.cpu_profile() == first
