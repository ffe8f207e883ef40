"""The classification rules on hand-built graphs (no torch): saved alignment, views, RNG."""

from __future__ import annotations

from dataclasses import replace

from ckpt_core.classify import classify, renumber_ac_regions, total_summary
from ckpt_core.ir import Graph, Node, RawRegion, Region


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
    # mm 1000 (torch's counter) + relu 16 elements (64 B of float32) + sum over t's 16; t is a view
    assert r.summary.forward_flops == 1000 + 16 + 16
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


def _every_node(r: Region) -> list[Node]:
    return [x for g in r.graphs.values() for x in g.nodes]


def test_every_node_is_explained() -> None:
    r = classify(region())
    missing = [(x.name, x.status) for x in _every_node(r) if not x.why]
    assert missing == []
    fw = {x.name: x.why or "" for x in r.graphs["forward"].nodes}
    bw = {x.name: x.why or "" for x in r.graphs["backward"].nodes}
    assert fw["primals_2"].startswith("parameter w:")
    assert fw["primals_1"].startswith("input:")
    assert bw["tangents_1"].startswith("tangent:")
    assert bw["mul"].startswith("gradient:")
    assert bw["mm"].startswith("saved: receives the forward's mm")
    assert fw["output"].startswith("output: the region's 1 user output(s), then the 2 value(s)")


def _view_region(memory_budget: float = 1.0) -> RawRegion:
    """A MUST_SAVE `mm` whose transposed view `t` is what the backward reads."""
    forward = Graph("forward", (
        n("primals_1", "placeholder", "primals_1", bytes=64),
        n("mm", target="aten.mm.default", inputs=("primals_1",), bytes=256,
          policy="MUST_SAVE"),
        n("t", target="aten.t.default", inputs=("mm",), bytes=256, view_of="mm"),
        n("sum_1", target="aten.sum.default", inputs=("mm",), bytes=4),
        n("output", "output", "output", inputs=("sum_1", "t")),
    ))
    backward = Graph("backward", (
        n("t", "placeholder", "t", bytes=256),
        n("tangents_1", "placeholder", "tangents_1"),
        n("mul", inputs=("tangents_1", "t"), bytes=256),
        n("output", "output", "output", inputs=("mul",)),
    ))
    joint = Graph("joint", (
        *forward.nodes[:-1],
        n("tangents_1", "placeholder", "tangents_1"),
        n("mul", inputs=("tangents_1", "t"), bytes=256, partitioner_tag="is_backward"),
        n("output", "output", "output", inputs=("sum_1", "mul")),
    ))
    return RawRegion(index=0, graphs={"joint": joint, "forward": forward, "backward": backward},
                     num_user_outputs=1, memory_budget=memory_budget)


def test_a_base_kept_alive_by_its_saved_view_is_saved_through_it() -> None:
    r = classify(_view_region())
    fw = {x.name: x for x in r.graphs["forward"].nodes}
    assert fw["mm"].status == "saved"
    assert fw["mm"].why is not None and fw["mm"].why.startswith("saved (through its view t)")
    assert fw["t"].status == "saved" and "view of mm" in (fw["t"].why or "")
    joint = {x.name: x.status for x in r.graphs["joint"].nodes}
    assert joint["mm"] == "saved"
    assert r.summary is not None and r.summary.forward_only_count == 1  # sum_1 only
    assert r.summary.saved_activation_bytes == 256


def test_why_says_the_budget_recomputed_a_must_save_op() -> None:
    raw = region()
    fw_nodes = tuple(replace(x, requested_policy="MUST_SAVE", policy=None) if x.name == "relu"
                     else x for x in raw.graphs["forward"].nodes)
    joint = tuple(replace(x, requested_policy="MUST_SAVE", policy=None) if x.name == "relu"
                  else x for x in raw.graphs["joint"].nodes)
    budget = replace(raw, memory_budget=0.0, graphs={
        **raw.graphs, "forward": Graph("forward", fw_nodes), "joint": Graph("joint", joint)})
    r = classify(budget)
    relu = r.graphs["forward"].by_name()["relu"]
    assert relu.status == "recomputed"
    assert relu.why is not None and "asked for MUST_SAVE: memory_budget=0" in relu.why
    bw = r.graphs["backward"].by_name()["relu"]
    assert bw.why == relu.why
