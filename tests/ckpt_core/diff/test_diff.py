"""`ckpt_core.diff` on real compiles of one small snippet under different policies and settings.

The snippet is a stack of `LAYERS` residual MLP blocks, each under `checkpoint` with an op-level
SAC policy (`POLICY = "save_matmuls"`: matmuls MUST_SAVE, the rest PREFER_RECOMPUTE;
`"recompute_all"`: everything PREFER_RECOMPUTE; `"none"`: no checkpoint). Every variant is
compiled once per test module.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

import ckpt_core
from ckpt_core.diff import DiffInputError, GraphDiff
from ckpt_core.diff.html import html_report
from ckpt_core.diff.report import text_report

pytestmark = pytest.mark.torch_compile

SNIPPET = '''\
import functools

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import (
    CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts)

aten = torch.ops.aten
MATMULS = {aten.mm.default, aten.addmm.default, aten.bmm.default}
POLICY = "save_matmuls"
LAYERS = 2


def policy(ctx, op, *args, **kwargs):
    if POLICY == "save_matmuls" and op in MATMULS:
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return x + F.gelu(self.fc2(F.gelu(self.fc1(x))))


class Net(nn.Module):
    def __init__(self, layers, dim=16):
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim) for _ in range(layers))
        self.head = nn.Linear(dim, 1)

    def forward(self, x):
        context = functools.partial(create_selective_checkpoint_contexts, policy)
        for block in self.blocks:
            if POLICY == "none":
                x = block(x)
            else:
                x = checkpoint(block, x, use_reentrant=False, context_fn=context)
        return self.head(torch.tanh(x))


model = Net(LAYERS)


def example_inputs():
    return (torch.randn(8, 16),)
'''

MATMUL_TARGETS = ("aten.mm.default", "aten.addmm.default", "aten.bmm.default")
Doc = dict[str, Any]


_CACHE: dict[tuple[Any, ...], Doc] = {}


def analyze_variant(policy: str = "save_matmuls", layers: int = 2, memory_budget: float = 1.0,
                    shift_lines: int = 0) -> Doc:
    """The snippet's analysis document for one variant (a fresh copy; compiled once)."""
    key = (policy, layers, memory_budget, shift_lines)
    if key not in _CACHE:
        source = (SNIPPET.replace('POLICY = "save_matmuls"', f'POLICY = "{policy}"')
                  .replace("LAYERS = 2", f"LAYERS = {layers}"))
        source = "# an edit above the model\n" * shift_lines + source
        result = ckpt_core.analyze_source(
            source, ckpt_core.Settings(memory_budget=memory_budget), name="mlp.py")
        _CACHE[key] = result.to_dict()
    return copy.deepcopy(_CACHE[key])


@pytest.fixture(scope="module")
def analysis() -> Callable[..., Doc]:
    """`analysis(policy=…, layers=…, memory_budget=…, shift_lines=…) -> dict`."""
    return analyze_variant


def moved(d: GraphDiff, base: int = 0, other: int = 1) -> dict[str, tuple[str, str]]:
    """Row key -> (status before, status after) for matched rows whose status changed."""
    out = {}
    for row in d.rows:
        a, b = row.states[base], row.states[other]
        if a is not None and b is not None and a.status != b.status:
            out[row.key] = (a.status, b.status)
    return out


def test_save_every_matmul_vs_recompute_everything_moves_exactly_the_matmuls(
    analysis: Callable[..., Doc],
) -> None:
    d = ckpt_core.diff([analysis("save_matmuls"), analysis("recompute_all")])
    block_matmuls = {r.key for r in d.rows
                     if r.target in MATMUL_TARGETS and (r.module or "").startswith("blocks.")}
    assert len(block_matmuls) == 4  # fc1 and fc2 in each of the two blocks
    saved_to_recomputed = {k for k, v in moved(d).items() if v == ("saved", "recomputed")}
    assert saved_to_recomputed == block_matmuls
    # nothing else crosses between saved and recomputed, in either direction
    others = {k: v for k, v in moved(d).items() if k not in block_matmuls}
    assert all("saved" not in v for v in others.values()), others
    s = d.comparisons[0].summary
    assert s.saved_to_recomputed.count == 4 and s.recomputed_to_saved.count == 0
    before = [d.row(k).states[0] for k in sorted(block_matmuls)]
    assert s.saved_to_recomputed.bytes == sum(state.bytes for state in before if state)
    assert s.saved_activation_bytes.delta < 0 < s.recompute_flops.delta
    assert s.added_count == s.removed_count == 0
    assert s.policy_changes == 4  # MUST_SAVE -> PREFER_RECOMPUTE on exactly those matmuls
    assert {m.module for m in d.comparisons[0].modules
            if m.saved_to_recomputed.count} == {f"blocks.{b}.fc{f}" for b in (0, 1) for f in (1, 2)}


def test_an_extra_block_is_reported_as_added_and_nothing_else(
    analysis: Callable[..., Doc],
) -> None:
    v1, v2 = analysis(layers=2), analysis(layers=3)
    d = ckpt_core.diff([v1, v2])
    added = [r for r in d.rows if r.states[0] is None]
    assert added and all((r.module or "").startswith("blocks.2") for r in added)
    assert not [r for r in d.rows if r.states[1] is None]
    # every op of the new block is among the added rows
    v2_block2 = {n["name"] for n in v2["regions"][0]["graphs"]["joint"]["nodes"]
                 if (n.get("module") or n.get("param") or "").startswith("blocks.2")
                 and n["partitioner_tag"] == "is_forward"}
    assert {r.states[1].name for r in added} == v2_block2  # type: ignore[union-attr]
    s = d.comparisons[0].summary
    assert s.added_count == len(added) and s.removed_count == 0
    # the only matched node that may change fate is the value the new block reads (its input
    # now crosses a checkpoint boundary)
    reads = {i for n in v2["regions"][0]["graphs"]["joint"]["nodes"]
             if (n.get("module") or "").startswith("blocks.2") for i in n["inputs"]}
    assert {d.row(k).states[1].name for k in moved(d)} <= reads  # type: ignore[union-attr]
    assert {m.module for m in d.comparisons[0].modules if m.added_count} == {
        "blocks.2", "blocks.2.fc1", "blocks.2.fc2"}


def test_an_analysis_diffed_with_itself_is_empty(analysis: Callable[..., Doc]) -> None:
    doc = analysis()
    d = ckpt_core.diff([doc, doc])
    assert d.is_empty()
    c = d.comparisons[0]
    assert c.changed == () and c.modules == () and c.summary.transitions == {}
    assert c.summary.matched_count == len(d.rows) == d.analyses[0].node_count
    assert d.rows and all(r.matched_by[0] == "origin" and r.matched_by[1] in (
        "parameter", "input", "structure", "getitem") for r in d.rows)
    assert "no changes" in text_report(d)
    # an `Analysis` object diffs the same as its dict
    obj = ckpt_core.Analysis.from_dict(doc)
    assert ckpt_core.diff([obj, doc]).to_dict() == d.to_dict()


def test_three_way_budget_diff_agrees_with_the_pairwise_diffs(
    analysis: Callable[..., Doc],
) -> None:
    docs = [analysis("none", memory_budget=b) for b in (1.0, 0.5, 0.0)]
    three = ckpt_core.diff(docs)
    assert [(c.base, c.other) for c in three.comparisons] == [(0, 1), (1, 2)]
    assert not ckpt_core.diff([docs[0], docs[2]]).is_empty()  # the budgets do change things
    for i, j in ((0, 1), (1, 2), (0, 2)):
        pair = ckpt_core.diff([docs[i], docs[j]])
        assert [r.key for r in pair.rows] == [r.key for r in three.rows]
        for row in three.rows:
            assert pair.row(row.key).states == (row.states[i], row.states[j])
        assert moved(pair) == moved(three, i, j)
        if j == i + 1:
            step, direct = three.comparisons[i].to_dict(), pair.comparisons[0].to_dict()
            assert {**step, "base": 0, "other": 1} == direct
    table = text_report(three)
    assert "N-way:" in table and "A → B" in table and "B → C" in table


def test_a_shifted_source_line_is_matched_by_structure(analysis: Callable[..., Doc]) -> None:
    d = ckpt_core.diff([analysis(), analysis(shift_lines=3)])
    assert d.is_empty()
    how = {r.matched_by[1] for r in d.rows}
    assert how <= {"parameter", "input", "structure", "getitem"}  # anchors, then what ops read
    with_lines = [r for r in d.rows if r.line is not None]
    assert with_lines and all(r.matched_by[1] in ("structure", "getitem") for r in with_lines)


def test_module_rollup_adds_up_to_the_totals(analysis: Callable[..., Doc]) -> None:
    d = ckpt_core.diff([analysis("save_matmuls"), analysis("recompute_all"), analysis(layers=3)])
    for c in d.comparisons:
        s = c.summary
        assert sum(m.saved_activation_bytes_delta for m in c.modules) == \
            s.saved_activation_bytes.delta
        assert sum(m.recompute_flops_delta for m in c.modules) == s.recompute_flops.delta
        assert sum(m.saved_to_recomputed.count for m in c.modules) == s.saved_to_recomputed.count
        assert sum(m.added_count for m in c.modules) == s.added_count
        assert sum(r.saved_activation_bytes.delta for r in c.regions) == \
            s.saved_activation_bytes.delta
        assert s.saved_activation_bytes.before == d.analyses[c.base].saved_activation_bytes


def test_peak_delta_needs_memory_figures_in_both(analysis: Callable[..., Doc]) -> None:
    a, b = analysis(), analysis("recompute_all")
    assert ckpt_core.diff([a, b]).comparisons[0].summary.peak_bytes is None
    a["memory"] = {"version": 1, "peak_bytes": 9000,
                   "regions": [{"region": 0, "peak": {"bytes": 9000, "step": 3}}]}
    assert ckpt_core.diff([a, b]).comparisons[0].summary.peak_bytes is None
    b["memory"] = {"regions": [{"region": 0, "peak": {"bytes": 7000}}]}  # no total: largest region
    c = ckpt_core.diff([a, b]).comparisons[0]
    assert c.summary.peak_bytes is not None and c.summary.peak_bytes.delta == -2000
    assert c.regions[0].peak_bytes is not None and c.regions[0].peak_bytes.after == 7000
    assert c.to_dict()["summary"]["peak_bytes"] == {"before": 9000, "after": 7000,
                                                    "delta": -2000}
    assert "Δ peak: -2.0 KiB" in text_report(ckpt_core.diff([a, b]))


def test_peak_delta_from_the_memory_analysis(analysis: Callable[..., Doc]) -> None:
    memory = pytest.importorskip("ckpt_core.memory")
    a, b = analysis(), analysis("recompute_all")
    a["memory"], b["memory"] = memory.memory_summary(a), memory.memory_summary(b)
    peak = ckpt_core.diff([a, b]).comparisons[0].summary.peak_bytes
    assert peak is not None
    assert (peak.before, peak.after) == (a["memory"]["peak_bytes"], b["memory"]["peak_bytes"])


def test_the_diff_is_deterministic_and_json(analysis: Callable[..., Doc]) -> None:
    docs = [analysis("save_matmuls"), analysis(layers=3), analysis("recompute_all")]
    first = json.dumps(ckpt_core.diff(docs).to_dict())
    assert json.dumps(ckpt_core.diff(copy.deepcopy(docs)).to_dict()) == first
    out = json.loads(first)
    assert out["schema_version"] == 1 and out["kind"] == "ckptscope.diff"
    assert [a["label"] for a in out["analyses"]] == ["A", "B", "C"]
    row = out["rows"][0]
    assert set(row) == {"key", "region", "op", "target", "module", "line", "states",
                        "matched_by"}
    assert set(row["states"][0]) >= {"status", "policy", "requested_policy"}


def test_invalid_inputs_raise_diff_input_error(analysis: Callable[..., Doc]) -> None:
    doc = analysis()
    with pytest.raises(DiffInputError, match="at least two"):
        ckpt_core.diff([doc])
    with pytest.raises(DiffInputError, match="holds an error"):
        ckpt_core.diff([doc, {"error": {"type": "CompileError", "message": "boom"}}])
    with pytest.raises(DiffInputError, match="schema_version 99"):
        ckpt_core.diff([doc, {**doc, "schema_version": 99}])
    with pytest.raises(DiffInputError, match="no regions"):
        ckpt_core.diff([doc, {**doc, "regions": [{"graphs": {}}]}])
    broken = copy.deepcopy(doc)
    del broken["regions"][0]["graphs"]["forward"]["nodes"][3]["target"]
    with pytest.raises(DiffInputError, match="malformed"):
        ckpt_core.diff([doc, broken])
    with pytest.raises(DiffInputError, match="label"):
        ckpt_core.diff([doc, doc], labels=["only one"])
    assert issubclass(DiffInputError, ckpt_core.CkptError)


def test_reports_group_moves_by_module_and_html_is_self_contained(
    analysis: Callable[..., Doc],
) -> None:
    d = ckpt_core.diff([analysis("save_matmuls"), analysis("recompute_all"), analysis(layers=3)],
                       labels=["save mm", "recompute", "3 layers"])
    text = text_report(d)
    assert "save mm → recompute" in text and "saved → recomputed: 4 node(s)" in text
    assert "blocks.0.fc1: saved→recomputed 1" in text
    page = html_report(d)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    for needle in ("http://", "https://", "<link", " src=", "@import", "url("):
        assert needle not in page
    assert page.count("<th>save mm</th>") == 1 and "blocks.2.fc1" in page
