"""The classification rules on hand-built graphs (no torch): saved alignment, views, RNG."""

from __future__ import annotations

from ckpt_core.classify import classify, renumber_ac_regions, total_summary
from ckpt_core.ir import Graph, Node, RawRegion


def n(name: str, op: str = "call_function", target: str = "aten.mul.Tensor",
      inputs: tuple[str, ...] = (), **kw: object) -> Node:
    return Node(name=name, op=op, target=target, inputs=inputs, **kw)  # type: ignore[arg-type]


def region() -> RawRegion:
    fwd = "is_forward"
    joint = Graph("joint", (
        n("primals_1", "placeholder", "primals_1", partitioner_tag=fwd, bytes=64),
        n("primals_2", "placeholder", "primals_2", partitioner_tag=fwd, bytes=64, param="w"),
        n("tangents_1", "placeholder", "tangents_1", partitioner_tag="is_backward"),
        n("mm", target="aten.mm.default", inputs=("primals_1", "primals_2"), bytes=64,
          partitioner_tag=fwd, requested_policy="MUST_SAVE", policy="MUST_SAVE", ac_region=7),
        n("relu", target="aten.relu.default", inputs=("mm",), bytes=64, partitioner_tag=fwd,
          requested_policy="PREFER_RECOMPUTE", policy="PREFER_RECOMPUTE", ac_region=7),
        n("t", target="aten.t.default", inputs=("relu",), bytes=64, view_of="relu",
          partitioner_tag=fwd, ac_region=7),
        n("sum_1", target="aten.sum.default", inputs=("t",), bytes=4, partitioner_tag=fwd),
        n("mul", inputs=("tangents_1", "relu"), partitioner_tag="is_backward", bytes=64),
        n("dead", inputs=("mul",), partitioner_tag="is_backward"),
        n("output", "output", "output", inputs=("sum_1", "mul")),
    ))
    forward = Graph("forward", (
        n("primals_1", "placeholder", "primals_1", bytes=64),
        n("primals_2", "placeholder", "primals_2", bytes=64, param="w"),
        n("mm", target="aten.mm.default", inputs=("primals_1", "primals_2"), bytes=64,
          ac_region=7, flops=1000),
        n("relu", target="aten.relu.default", inputs=("mm",), bytes=64, ac_region=7),
        n("t", target="aten.t.default", inputs=("relu",), bytes=64, view_of="relu"),
        n("sum_1", target="aten.sum.default", inputs=("t",), bytes=4),
        n("output", "output", "output", inputs=("sum_1", "mm", "primals_2")),
    ))
    backward = Graph("backward", (
        n("mm", "placeholder", "mm", bytes=64),
        n("primals_2", "placeholder", "primals_2", bytes=64),
        n("tangents_1", "placeholder", "tangents_1"),
        n("relu", target="aten.relu.default", inputs=("mm",), bytes=64, flops=16),
        n("mul", inputs=("tangents_1", "relu"), bytes=64),
        n("output", "output", "output", inputs=("mul",)),
    ))
    return RawRegion(index=0, graphs={"joint": joint, "forward": forward, "backward": backward},
                     num_user_outputs=1, parameter_inputs=frozenset({"primals_2"}))


def test_statuses_follow_the_partition() -> None:
    r = classify(region())
    fw = {x.name: x.status for x in r.graphs["forward"].nodes}
    assert fw == {"primals_1": "input", "primals_2": "parameter", "mm": "saved",
                  "relu": "recomputed", "t": "forward_only", "sum_1": "forward_only",
                  "output": "output"}
    bw = {x.name: (x.status, x.recompute_of) for x in r.graphs["backward"].nodes}
    assert bw["mm"] == ("saved", None) and bw["tangents_1"] == ("tangent", None)
    assert bw["relu"] == ("recompute", "relu") and bw["mul"] == ("gradient", None)
    joint = {x.name: x.status for x in r.graphs["joint"].nodes}
    assert joint["dead"] == "unused" and joint["mul"] == "gradient"
    assert joint["relu"] == "recomputed" and joint["tangents_1"] == "tangent"


def test_saved_entries_and_summary() -> None:
    r = classify(region())
    assert [(s.forward_node, s.backward_node, s.kind) for s in r.saved] == [
        ("mm", "mm", "activation"), ("primals_2", "primals_2", "parameter")]
    assert r.summary is not None
    assert r.summary.saved_activation_count == 1 and r.summary.saved_activation_bytes == 64
    assert r.summary.recomputed_count == 1 and r.summary.recompute_flops == 16
    assert r.summary.forward_flops == 1000
    # forward/backward nodes carry the joint graph's requested policy
    fw = {x.name: x for x in r.graphs["forward"].nodes}
    assert fw["relu"].requested_policy == "PREFER_RECOMPUTE"


def test_inference_only_region() -> None:
    raw = region()
    inference = RawRegion(index=0, graphs={"forward": raw.graphs["forward"]},
                          num_user_outputs=3)
    r = classify(inference)
    assert r.saved == () and set(r.graphs) == {"forward"}
    assert {x.status for x in r.graphs["forward"].nodes} >= {"forward_only", "parameter"}


def test_renumbering_and_totals() -> None:
    (r,) = renumber_ac_regions([classify(region())])
    assert {x.ac_region for x in r.graphs["joint"].nodes} == {None, 1}
    total = total_summary([r, r], graph_break_count=1)
    assert total["region_count"] == 2 and total["saved_activation_bytes"] == 128
