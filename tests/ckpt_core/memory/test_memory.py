"""The memory analyses on small hand-built regions (pure: no torch, no compile).

Each region is written out node by node so the expected bytes can be checked by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from ckpt_core.classify import classify
from ckpt_core.ir import Analysis, Graph, Node, RawRegion, Region
from ckpt_core.memory import (
    CATEGORIES,
    disagreeing_steps,
    memory_summary,
    memory_timeline,
    module_rollup,
    recompute_ledger,
    repeated_layers,
    saved_ledger,
    storage_plan,
    with_memory,
)
from ckpt_core.memory.storage import is_runtime_alias


def n(name: str, op: str = "call_function", target: str = "aten.mul.Tensor",
      inputs: tuple[str, ...] = (), nbytes: int = 0, **kw: Any) -> Node:
    shape = kw.pop("shape", (nbytes // 4,) if nbytes else None)
    return Node(name=name, op=op, target=target if op == "call_function" else name,
                inputs=inputs, bytes=nbytes, shape=shape, dtype="float32", **kw)


def region() -> Region:
    """x(400) w(400) → mm(100, saved) → relu(100) → view(user output); var_mean returns a
    (4, 4)-byte tuple read by two getitems; backward: mm and a tangent make the gradient."""
    fw = Graph("forward", (
        n("x", "placeholder", nbytes=400),
        n("w", "placeholder", nbytes=400, param="w"),
        n("mm", target="aten.mm.default", inputs=("x", "w"), nbytes=100, module="lin",
          flops=2000),
        n("relu", target="aten.relu.default", inputs=("mm",), nbytes=100, module="act"),
        n("var_mean", target="aten.var_mean.correction", inputs=("relu",), nbytes=8,
          shape=None),
        n("getitem", target="operator.getitem", inputs=("var_mean",), nbytes=4),
        n("getitem_1", target="operator.getitem", inputs=("var_mean",), nbytes=4),
        n("add", target="aten.add.Tensor", inputs=("relu", "getitem"), nbytes=100),
        n("view", target="aten.view.default", inputs=("add",), nbytes=100, view_of="add"),
        n("output", "output", inputs=("view", "mm")),
    ))
    bw = Graph("backward", (
        n("mm", "placeholder", nbytes=100),
        n("tangents_1", "placeholder", nbytes=100),
        n("relu_1", target="aten.relu.default", inputs=("mm",), nbytes=100, module="act"),
        n("mul", inputs=("relu_1", "tangents_1"), nbytes=100),
        n("t", target="aten.t.default", inputs=("mul",), nbytes=100, view_of="mul"),
        n("output", "output", inputs=("t",)),
    ))
    joint = Graph("joint", (
        *(n(x.name, x.op, x.target, x.inputs, x.bytes, shape=x.shape, view_of=x.view_of,
            partitioner_tag="is_forward", module=x.module, param=x.param) for x in fw.nodes[:-1]),
        n("tangents_1", "placeholder", nbytes=100),
        n("relu_1", target="aten.relu.default", inputs=("mm",), nbytes=100,
          partitioner_tag="is_forward"),
        n("mul", inputs=("relu_1", "tangents_1"), nbytes=100, partitioner_tag="is_backward"),
        n("t", target="aten.t.default", inputs=("mul",), nbytes=100, view_of="mul",
          partitioner_tag="is_backward"),
        n("output", "output", inputs=("view", "t")),
    ))
    raw = RawRegion(index=0, graphs={"joint": joint, "forward": fw, "backward": bw},
                    num_user_outputs=1, parameter_inputs=frozenset({"w"}))
    return classify(raw)


def analysis(regions: tuple[Region, ...]) -> Analysis:
    from ckpt_core.classify import total_summary

    return Analysis(ckptscope_version="t", torch_version="t", device="cpu", settings={},
                    snippet_sha256="0", snippet_name="t.py", snippet_source="",
                    regions=regions, graph_breaks=(), summary=total_summary(regions, 0),
                    timings_s={})


def test_live_bytes_by_hand() -> None:
    tl = memory_timeline(region())
    # forward: inputs 800 throughout; mm 100; relu 100 (dies after add); var_mean's two
    # elements 4+4 (getitem_1 unused: freed at its own step); add 100 shared by its view.
    assert tl.live_bytes() == [
        800, 800, 900, 1000, 1008, 1008, 1008, 1104, 1000, 1000,
        # backward: inputs 800, view (user output) 100, saved mm 100, tangent 100 from the
        # start; relu_1 100; mm dies after relu_1, relu_1 and the tangent after mul; mul 100
        # stays as the gradient.
        1100, 1100, 1200, 1200, 1000, 1000,
    ]
    assert tl.peak.bytes == 1200 and tl.peak.graph == "backward" and tl.peak.node == "relu_1"
    assert tl.peak_forward.bytes == 1104 and tl.peak_forward.node == "add"
    assert tl.boundary_bytes == 1000
    boundary = dict(zip(CATEGORIES, tl.boundary_category_bytes, strict=True))
    assert boundary == {"inputs": 800, "saved": 100, "forward_temp": 0, "backward_temp": 0,
                        "gradients": 0, "outputs": 100}
    assert tl.final_bytes == 1000  # inputs, the user output and the gradient


def test_views_share_storage_and_tuples_split_per_getitem() -> None:
    plan = storage_plan(region())
    ids = {s.id: s for s in plan.storages}
    assert "forward:view" not in ids and "backward:t" not in ids
    assert ids["forward:getitem"].bytes == 4 and ids["forward:getitem_1"].bytes == 4
    assert "forward:var_mean" not in ids
    assert ids["forward:mm"].category == "saved"
    assert ids["forward:add"].category == "outputs"
    assert ids["backward:mul"].category == "gradients"
    assert ids["backward:tangents_1"].category == "gradients"
    assert ids["backward:relu_1"].category == "backward_temp"


def test_runtime_aliases() -> None:
    assert is_runtime_alias(n("a", target="aten._unsafe_view.default"))
    assert is_runtime_alias(n("a", target="aten.add_.Tensor"))
    assert not is_runtime_alias(n("a", target="aten.add.Tensor"))
    assert not is_runtime_alias(n("a", target="operator.getitem"))


def test_invariants() -> None:
    reg = region()
    tl = memory_timeline(reg)
    saved = reg.summary.saved_activation_bytes if reg.summary else 0
    assert tl.peak.bytes >= saved
    assert tl.peak.bytes == max(tl.live_bytes())
    assert tl.steps and all(sum(s.category_bytes) == s.live_bytes for s in tl.steps)
    plan = storage_plan(reg)
    last = len(plan.steps) - 1
    left = {s.category for s in plan.storages if s.last_step == last}
    assert left <= {"inputs", "outputs", "gradients"}


def test_accepts_documents_and_is_deterministic() -> None:
    a = analysis((region(),))
    doc = a.to_dict()
    assert memory_timeline(doc).to_dict() == memory_timeline(a).to_dict()
    assert memory_timeline(doc["regions"][0]).live_bytes() == memory_timeline(a).live_bytes()


def test_ledger_totals_equal_summary() -> None:
    a = analysis((region(),))
    ledger = saved_ledger(a)
    assert ledger.total_cost_bytes == a.summary["saved_activation_bytes"] == 100
    assert [e.forward_node for e in ledger.activations] == ["mm"]
    entry = ledger.activations[0]
    assert (entry.produced_step, entry.first_use_step, entry.last_use_step) == (2, 12, 12)
    assert entry.share == 1.0 and entry.module == "lin"
    assert {e.forward_node for e in ledger.inputs} == set()  # nothing but mm is saved here
    rec = recompute_ledger(a)
    assert rec.total.count == a.summary["recomputed_count"] == 1
    assert rec.total.flops == a.summary["recompute_flops"]
    # by hand: mm 2000 (torch's counter) + relu 25 elements × 1 + var_mean 25 input elements
    # × 3 + add 25 × 1; getitem and view are free
    assert rec.by_module[0][0] == "act" and rec.forward_flops == 2000 + 25 + 75 + 25
    assert rec.total.flops == 25 and rec.flops_fraction == 25 / 2125
    # relu reads 100 B and writes 100 B: memory-bound on an H100 (3.35 TB/s)
    (entry_rc,) = rec.entries
    assert entry_rc.flops_source == "elements" and entry_rc.bytes_moved == 200
    assert rec.profile == "h100" and entry_rc.time_s == pytest.approx(200 / 3.35e12)


def test_module_rollup_counts_ancestors() -> None:
    rollups = {r.module: r for r in module_rollup(analysis((region(),)))}
    assert rollups[""].saved_bytes == 100 and rollups["lin"].saved_bytes == 100
    assert rollups[""].recompute_count == 1 and rollups["act"].recompute_bytes == 100


def _layer_region(statuses: list[str]) -> Region:
    nodes = [n("x", "placeholder", nbytes=4)]
    for i, status in enumerate(statuses):
        nodes.append(n(f"mm_{i}", target="aten.mm.default", nbytes=4,
                       module=f"blocks.{i}.fc", status=status))
    nodes.append(n("output", "output", inputs=(nodes[-1].name,)))
    return Region(index=0, graphs={"forward": Graph("forward", tuple(nodes))}, saved=(),
                  num_user_outputs=1)


@pytest.mark.parametrize(("statuses", "text"), [
    (["saved"] * 4, "blocks.0–3 identical"),
    (["forward_only"] + ["saved"] * 11, "blocks.1–11 identical; blocks.0 differs"),
    (["saved", "recomputed", "saved", "saved", "recomputed"],
     "blocks.0, blocks.2–3 identical; blocks.1, blocks.4 differ"),
])
def test_repeated_layers(statuses: list[str], text: str) -> None:
    found = repeated_layers(analysis((_layer_region(statuses),)))
    assert [r.text for r in found] == [text]


def test_mixed_layers_are_not_called_repeated() -> None:
    statuses = ["saved", "recomputed", "forward_only", "saved"]
    assert repeated_layers(analysis((_layer_region(statuses[:3]),))) == ()


def test_memory_key_is_small_and_consistent() -> None:
    a = with_memory(analysis((region(),)))
    mem = a.to_dict()["memory"]
    assert mem == memory_summary(a)
    assert mem["peak_bytes"] == 1200 and mem["saved_cost_bytes"] == 100
    assert "steps" not in mem["regions"][0]
    assert mem["regions"][0]["measured"] is None
    assert Analysis.from_dict(a.to_dict()).extras["memory"] == mem


def test_disagreeing_steps() -> None:
    assert disagreeing_steps([100, 200, 300], [100, 203, 400]) == [2]
    with pytest.raises(ValueError, match="steps"):
        disagreeing_steps([1], [1, 2])


def test_analyze_memory_bundles_every_view_and_round_trips() -> None:
    from ckpt_core.charts import timeline_figure
    from ckpt_core.memory import Timeline, analyze_memory

    a = analysis((region(),))
    full = analyze_memory(a.to_dict()).to_dict()
    assert full["peak_bytes"] == 1200 and len(full["timelines"]) == 1
    assert full["saved_ledger"]["total_cost_bytes"] == 100
    tl = memory_timeline(a)
    assert Timeline.from_dict(tl.to_dict()) == tl
    fig = timeline_figure(full, region=0)
    # one binary unit for the axis and every hover: 1200 B is 1.17 KiB
    assert list(fig.data[-1].y) == [1200 / 1024] and fig.layout.yaxis.title.text.endswith(
        "(KiB)")
    with pytest.raises(ValueError, match="analyze_memory"):
        timeline_figure(memory_summary(a))
