"""Node matching on hand-built analysis documents (no torch): shifted lines, inserted ops, order."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import ckpt_core
from ckpt_core.diff.inputs import forward_nodes
from ckpt_core.diff.match import match, stable_keys

Op = tuple[str, str, str, int, tuple[str, ...], str]  # name, target, module, line, inputs, status


def doc(ops: list[Op], memory: dict[str, Any] | None = None) -> dict[str, Any]:
    """A minimal one-region analysis: a parameter and an input placeholder, then `ops`, then the
    output."""
    nodes = [{"name": "p_w", "op": "placeholder", "target": "p_w", "inputs": [],
              "param": "m.w", "status": "parameter", "bytes": 64},
             {"name": "x", "op": "placeholder", "target": "x", "inputs": [],
              "status": "input", "bytes": 64}]
    for name, target, module, line, inputs, status in ops:
        nodes.append({"name": name, "op": "call_function", "target": target, "module": module,
                      "source": {"line": line, "code": "..."}, "inputs": list(inputs),
                      "status": status, "bytes": 16, "policy": None})
    nodes.append({"name": "output", "op": "output", "target": "output",
                  "inputs": [nodes[-1]["name"]], "status": "output"})
    out: dict[str, Any] = {
        "schema_version": ckpt_core.SCHEMA_VERSION, "snippet_name": "hand.py", "settings": {},
        "regions": [{"index": 0, "graphs": {"forward": {"nodes": nodes}}, "saved": []}],
        "summary": {"saved_activation_bytes": 0, "recompute_flops": 0},
    }
    if memory is not None:
        out["memory"] = memory
    return out


def chain(first_line: int, statuses: str = "sssss") -> list[Op]:
    """Five `mul`s in module `m`, one per line, each reading the one before (the first reads the
    input and the weight)."""
    ops: list[Op] = []
    previous = "x"
    for k, status in enumerate(statuses):
        name = f"mul_{k}"
        ops.append((name, "aten.mul.Tensor", "m", first_line + k,
                    (previous, "p_w") if previous == "x" else (previous,),
                    {"s": "saved", "r": "recomputed", "f": "forward_only"}[status]))
        previous = name
    return ops


def test_lines_shifted_onto_other_ops_lines_still_match_the_same_ops() -> None:
    # line 10 + 1 is where the second op used to be: lines are no part of a node's identity
    d = ckpt_core.diff([doc(chain(10, "srfsr")), doc(chain(11, "srfsr"))])
    assert d.is_empty()
    assert [r.matched_by[1] for r in d.rows] == ["parameter", "input"] + ["structure"] * 5
    assert [r.matched_by[0] for r in d.rows] == ["origin"] * 7


def test_a_moved_op_is_reported_on_the_op_itself_after_a_shift() -> None:
    d = ckpt_core.diff([doc(chain(10, "sssss")), doc(chain(12, "ssrss"))])
    assert [(r.states[0].name, r.states[0].status, r.states[1].status)  # type: ignore[union-attr]
            for r in d.rows if r.changed(0, 1)] == [("mul_2", "saved", "recomputed")]


def test_an_inserted_op_is_added_and_its_consumer_keeps_its_row() -> None:
    before = chain(10)
    after = [*before[:2], ("relu_new", "aten.relu.default", "m", 30, ("mul_1",), "saved"),
             ("mul_2", "aten.mul.Tensor", "m", 12, ("relu_new",), "saved"), *before[3:]]
    d = ckpt_core.diff([doc(before), doc(after)])
    added = [r for r in d.rows if r.states[0] is None]
    assert [r.states[1].name for r in added] == ["relu_new"]  # type: ignore[union-attr]
    assert not [r for r in d.rows if r.states[1] is None]
    # table order: the new op sits right after the row of its predecessor
    assert [r.key for r in d.rows].index(added[0].key) == 4
    # mul_2 now reads the new op: no structural partner, so it is paired within its module
    assert d.row("0|aten.mul.Tensor|m|2").matched_by == ("origin", "fallback")
    assert d.row("0|aten.mul.Tensor|m|3").matched_by == ("origin", "structure")


def test_an_extra_consumer_does_not_steal_the_row_of_the_op_it_displaced() -> None:
    # v2 puts a new op where `head` used to read; `head` still exists and keeps its row
    v1 = [*chain(10), ("head", "aten.tanh.default", "top", 40, ("mul_4",), "saved")]
    v2 = [*chain(10), ("extra", "aten.tanh.default", "new", 50, ("mul_4",), "saved"),
          ("head", "aten.tanh.default", "top", 40, ("extra",), "saved")]
    d = ckpt_core.diff([doc(v1), doc(v2)])
    assert d.row("0|aten.tanh.default|top|0").states[1].name == "head"  # type: ignore[union-attr]
    assert [r.module for r in d.rows if r.states[0] is None] == ["new"]


def test_siblings_pair_in_order_and_the_same_module_wins() -> None:
    v1 = [("a", "aten.relu.default", "x", 1, ("x",), "saved"),
          ("b", "aten.relu.default", "y", 2, ("x",), "recomputed")]
    v2 = [("b", "aten.relu.default", "y", 2, ("x",), "recomputed"),
          ("a", "aten.relu.default", "x", 1, ("x",), "saved")]
    d = ckpt_core.diff([doc(v1), doc(v2)])
    assert d.is_empty()
    assert all(r.states[0].name == r.states[1].name for r in d.rows)  # type: ignore[union-attr]


def test_stable_keys_count_occurrences_and_name_parameters() -> None:
    nodes = forward_nodes(doc([("a", "aten.mul.Tensor", "m", 3, ("x", "p_w"), "saved"),
                               ("b", "aten.mul.Tensor", "m", 3, ("a",), "saved")]))
    assert stable_keys(nodes) == ["0|param|m.w", "0|input|0", "0|aten.mul.Tensor|m|0",
                                  "0|aten.mul.Tensor|m|1"]
    assert nodes[0].module == "m"  # a parameter is grouped under the module owning it
    rows = match([nodes, nodes, nodes])
    assert [r.how for r in rows] == [["origin", "parameter", "parameter"],
                                     ["origin", "input", "input"]] + [
        ["origin", "structure", "structure"]] * 2


def test_peak_is_read_from_either_memory_shape() -> None:
    a = doc(chain(10), memory={"peak": 1000})
    b = doc(chain(10), memory={"peak_bytes": {"bytes": 600}})
    s = ckpt_core.diff([a, b]).comparisons[0].summary
    assert s.peak_bytes is not None and (s.peak_bytes.before, s.peak_bytes.delta) == (1000, -400)
    assert not ckpt_core.diff([a, a]).comparisons[0].summary.peak_bytes.delta  # type: ignore[union-attr]


def test_diffing_needs_no_torch() -> None:
    code = ("import sys, ckpt_core; from ckpt_core.diff.html import html_report; "
            "from ckpt_core.cli import diff; assert 'torch' not in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
