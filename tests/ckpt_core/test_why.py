"""`ckpt_core.why`: every sentence `explain` can say, on hand-built nodes (no torch, no compile).

Each case names the node's policies, the partitioner's reasons, the saved kind and the memory
budget that lead to one branch, and the words that branch must say."""

from __future__ import annotations

from typing import Any

import pytest

from ckpt_core.ir import Node
from ckpt_core.why import (
    RNG_SAVERS,
    explain,
    explain_backward,
    explain_output,
    explain_placeholder,
    saved_through_view,
)


def op(name: str = "mm", **kw: Any) -> Node:
    return Node(name=name, op="call_function", target=kw.pop("target", "aten.mm.default"), **kw)


#: (case, node, status, saved_kind, memory_budget, words the sentence must contain)
CASES: list[tuple[str, Node, str, str | None, float, tuple[str, ...]]] = [
    ("saved view", op("t", view_of="mm", target="aten.t.default"), "saved", "view", 1.0,
     ("saved:", "view of mm", "keeps mm's storage alive")),
    ("saved rng state", op(target=RNG_SAVERS[0]), "saved", "rng_state", 1.0,
     ("RNG state", "replays the same random numbers")),
    ("region boundary", op(requested_policy="PREFER_RECOMPUTE", policy="MUST_SAVE"), "saved",
     "activation", 1.0, ("ends a checkpoint region", "PREFER_RECOMPUTE into MUST_SAVE")),
    ("policy saves", op(requested_policy="MUST_SAVE", policy="MUST_SAVE"), "saved",
     "activation", 1.0, ("checkpoint policy marked it MUST_SAVE",)),
    ("cannot recompute", op(partitioner_reasons=("cannot recompute: compute intensive op",)),
     "saved", "activation", 1.0, ("may not recompute it (compute intensive op)",)),
    ("budget keeps", op(), "saved", "activation", 0.5,
     ("under memory_budget=0.5", "knapsack kept it")),
    ("min-cut saves", op(), "saved", "activation", 1.0, ("min-cut found saving it cheaper",)),
    ("rng replay", op(target=RNG_SAVERS[1]), "recomputed", None, 1.0,
     ("random op is replayed", "functionalised RNG")),
    ("budget overrides policy", op(requested_policy="MUST_SAVE", policy="PREFER_RECOMPUTE"),
     "recomputed", None, 0.0, ("although the checkpoint policy asked for MUST_SAVE",
                               "memory_budget=0")),
    ("policy recomputes", op(requested_policy="PREFER_RECOMPUTE", policy="PREFER_RECOMPUTE"),
     "recomputed", None, 1.0, ("checkpoint policy marked it PREFER_RECOMPUTE",)),
    ("requested recompute", op(requested_policy="MUST_RECOMPUTE"), "recomputed", None, 1.0,
     ("checkpoint policy marked it MUST_RECOMPUTE",)),
    ("budget recomputes", op(), "recomputed", None, 0.25,
     ("no checkpoint asked for it", "knapsack chose recomputing", "memory_budget=0.25")),
    ("min-cut recomputes", op(), "recomputed", None, 1.0,
     ("no checkpoint asked for it", "min-cut partitioner chose recomputing")),
    ("forward only", op(), "forward_only", None, 1.0, ("forward only", "neither reads")),
    ("unused", op(), "unused", None, 1.0, ("partitioner dropped it",)),
]


@pytest.mark.parametrize(("node", "status", "saved_kind", "budget", "words"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_explain_says_why(node: Node, status: str, saved_kind: str | None, budget: float,
                          words: tuple[str, ...]) -> None:
    why = explain(node, status, saved_kind, memory_budget=budget)
    assert why is not None
    assert why.startswith(("saved:", "recomputed in backward", "forward only:", "unused:"))
    for word in words:
        assert word in why, (word, why)


def test_every_case_gets_its_own_sentence() -> None:
    sentences = [explain(c[1], c[2], c[3], memory_budget=c[4]) for c in CASES]
    assert len(sentences) == len(CASES) > 0
    assert len(set(sentences)) == len(sentences)


@pytest.mark.parametrize("status", ["parameter", "input", "tangent", "gradient", "output", ""])
def test_explain_leaves_other_statuses_to_the_other_explainers(status: str) -> None:
    assert explain(op(), status) is None


def test_placeholders() -> None:
    param = Node(name="primals_2", op="placeholder", target="primals_2", param="fc.weight")
    assert explain_placeholder(param, "parameter", "forward").startswith("parameter fc.weight:")
    tangent = Node(name="tangents_1", op="placeholder", target="tangents_1")
    assert explain_placeholder(tangent, "tangent", "backward").startswith("tangent:")
    saved = Node(name="mm", op="placeholder", target="mm")
    by_kind = {kind: explain_placeholder(saved, "saved", "backward", "mm_1", kind)
               for kind in ("activation", "input", "parameter", "view", "rng_state")}
    assert "receives the forward's mm_1, kept in memory" in by_kind["activation"]
    assert "(input), alive anyway" in by_kind["input"]
    assert "(parameter), alive anyway" in by_kind["parameter"]
    assert "a view (no memory of its own" in by_kind["view"]
    assert "RNG state from the forward's mm_1" in by_kind["rng_state"]
    rng = Node(name="fwd_rng_state_0", op="placeholder", target="fwd_rng_state_0")
    assert "RNG generator state" in explain_placeholder(rng, "input", "forward")
    plain = Node(name="primals_1", op="placeholder", target="primals_1")
    assert explain_placeholder(plain, "input", "forward").startswith("input: a graph input")


def test_backward_and_outputs() -> None:
    grad = Node(name="mul", op="call_function", target="aten.mul.Tensor", module="fc")
    assert explain_backward(grad, "gradient") == (
        "gradient: part of the backward pass of fc (computes gradients)")
    assert explain_backward(grad, "recompute") == "recomputes a forward op in backward"
    assert "2 user output(s), then the 3 value(s) saved" in explain_output("forward", 2, 3)
    assert "before partitioning" in explain_output("joint", 1, 0)
    assert explain_output("backward", 1, 0).startswith("output: the gradients")
    assert "view t" in saved_through_view("t", "aten.t.default")
