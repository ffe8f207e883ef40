"""Every hazard kind on a real compile of a snippet that has it, and of one that does not."""

from __future__ import annotations

from typing import Any

import pytest

from ckpt_core import Settings, analyze_source, validate_analysis
from ckpt_core.hazards import find_hazards

pytestmark = pytest.mark.torch_compile

DROPOUT = """
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 32)
        self.fc2 = nn.Linear(32, 32)

    def region(self, x):
        return self.fc2(F.dropout(torch.relu(self.fc1(x)), p=0.5, training={training}))

    def forward(self, x):
        return checkpoint(self.region, x, use_reentrant=False)


model = Net()
example_inputs = (torch.randn(8, 32),)
"""

SAC_MM = """
import functools
import torch
from torch import nn
from torch.utils.checkpoint import (CheckpointPolicy, checkpoint,
                                    create_selective_checkpoint_contexts)


def policy(ctx, op, *args, **kwargs):
    if op == torch.ops.aten.mm.default:
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(16, 32))
        self.v = nn.Parameter(torch.randn(32, 4))

    def block(self, x):
        return torch.tanh(x @ self.w) @ self.v

    def forward(self, x):
        return checkpoint(self.block, x, use_reentrant=False, context_fn=functools.partial(
            create_selective_checkpoint_contexts, policy))


model = M()
example_inputs = (torch.randn(8, 16, requires_grad=True),)
"""

BREAK_IN_CHECKPOINT = """
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(16, 16)
        self.a = nn.Linear(16, 16)

    def block(self, x):
        h = torch.relu(self.a(x))
        {statement}
        return torch.tanh(h)

    def forward(self, x):
        return checkpoint(self.block, torch.relu(self.pre(x)), use_reentrant=False)


model = M()
example_inputs = (torch.randn(4, 16),)
"""

SLICE = """
import torch
from torch import nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 256)

    def forward(self, x):
        h = torch.relu(self.lin(x))
        s = h[:, :8]{copy}
        return s * s


model = M()
example_inputs = (torch.randn(128, 64),)
"""

PARALLEL = """
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))
        self.g = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))

    def forward(self, x):
        {body}


model = M()
example_inputs = (torch.randn(1024, 64, requires_grad=True),)
"""
# Two checkpoints read by one product: the backward recomputes both before either's gradient.
BOTH = ("a = checkpoint(self.f, x, use_reentrant=False)\n"
        "        return a * checkpoint(self.g, x, use_reentrant=False)")
# One after the other: each checkpoint is recomputed just before its own gradient.
CHAIN = ("a = checkpoint(self.f, x, use_reentrant=False)\n"
         "        return checkpoint(self.g, a, use_reentrant=False)")

CASES: dict[str, tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
    "rng_recomputed": ((DROPOUT.format(training=True), {}),
                       (DROPOUT.format(training=False), {})),
    "checkpoint_overridden_by_budget": ((SAC_MM, {"memory_budget": 0.0}), (SAC_MM, {})),
    "graph_break_in_checkpoint": ((BREAK_IN_CHECKPOINT.format(statement='print("in")'), {}),
                                  (BREAK_IN_CHECKPOINT.format(statement="h = h * 2"), {})),
    "saved_view_keeps_large_base": ((SLICE.format(copy=""), {}),
                                    (SLICE.format(copy=".clone()"), {})),
    "recompute_working_set": ((PARALLEL.format(body=BOTH), {}),
                              (PARALLEL.format(body=CHAIN), {})),
}


def _hazards(source: str, settings: dict[str, Any]) -> dict[str, Any]:
    doc = analyze_source(source, Settings(**settings)).to_dict()
    validate_analysis(doc)  # every node a hazard names exists
    return doc


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_hazard_on_a_snippet_that_has_it_and_one_that_does_not(kind: str) -> None:
    (with_it, settings), (without_it, other_settings) = CASES[kind]
    doc = _hazards(with_it, settings)
    found = [h for h in doc["hazards"] if h["kind"] == kind]
    assert len(found) == 1, doc["hazards"]
    hazard = found[0]
    assert hazard["message"] and hazard["severity"] == "warning"
    if kind != "graph_break_in_checkpoint":
        assert hazard["nodes"]
    clean = _hazards(without_it, other_settings)
    assert [h for h in clean["hazards"] if h["kind"] == kind] == []


def test_hazards_name_what_they_concern() -> None:
    (source, settings), _ = CASES["recompute_working_set"]
    analysis = analyze_source(source, Settings(**settings))
    (ws,) = [h for h in find_hazards(analysis) if h.kind == "recompute_working_set"]
    regions = {n.ac_region for ref in ws.nodes
               for n in analysis.regions[ref.region].graphs["backward"].nodes
               if n.name == ref.name}
    assert len(regions) >= 2 and "2 checkpoint regions" in ws.message
    (source, settings), _ = CASES["saved_view_keeps_large_base"]
    view = [h for h in analyze_source(source).hazards if h.kind == "saved_view_keeps_large_base"]
    assert "32× larger" in view[0].message
