"""The whole program across graph breaks: handed-over values, the headline, the ledger, the
program timeline and where each graph break happened (real compiles of small snippets)."""

from __future__ import annotations

from typing import Any

import pytest

from ckpt_core import Settings, analyze_source, validate_analysis
from ckpt_core.capture.run import display_path
from ckpt_core.ir import Analysis
from ckpt_core.memory import program_timeline, saved_ledger, with_memory

from ..conftest import EXAMPLES

pytestmark = pytest.mark.torch_compile

SECOND_REGION = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 32)
        self.fc2 = nn.Linear(32, 32)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        print("break")
        return {tail}


model = Net()
example_inputs = (torch.randn(8, 32),)
"""


def _analysis(source: str, **settings: Any) -> Analysis:
    analysis = analyze_source(source, Settings(**settings))
    validate_analysis(analysis.to_dict())
    return analysis


def test_a_value_kept_by_a_later_region_is_an_activation_of_the_program() -> None:
    # fc2's backward reads its input: region 1 keeps region 0's relu output
    a = _analysis(SECOND_REGION.format(tail="self.fc2(h)"))
    (handover,) = a.handovers
    assert (handover.producer.region, handover.producer.name) == (0, "relu")
    assert handover.consumer.region == 1 and handover.bytes == 8 * 32 * 4
    per_region = sum(r.summary.saved_activation_bytes for r in a.regions if r.summary)
    assert a.summary["saved_activation_bytes"] == per_region + 1024
    assert a.summary["handover_saved_bytes"] == 1024 and a.summary["handover_count"] == 1
    ledger = saved_ledger(a)
    assert ledger.total_cost_bytes == a.summary["saved_activation_bytes"]
    (row,) = [e for e in ledger.activations if e.kind == "handover"]
    assert (row.region, row.produced_region, row.produced_node) == (1, 0, "relu")
    assert row.cost_bytes == 1024 and row.op == "aten.relu.default"


def test_a_value_the_later_region_does_not_keep_costs_nothing_extra() -> None:
    # (h * 2).sum() needs nothing of h for backward
    a = _analysis(SECOND_REGION.format(tail="(h * 2).sum()"))
    assert [(h.producer.name, h.consumer.region) for h in a.handovers] == [("relu", 1)]
    per_region = sum(r.summary.saved_activation_bytes for r in a.regions if r.summary)
    assert a.summary["saved_activation_bytes"] == per_region
    assert a.summary["handover_saved_bytes"] == 0
    assert not [e for e in saved_ledger(a).activations if e.kind == "handover"]


def test_the_program_timeline_runs_backwards_in_reverse_and_keeps_the_handover() -> None:
    a = _analysis(SECOND_REGION.format(tail="self.fc2(h)"))
    tl = program_timeline(a)
    phases: list[tuple[int | None, str]] = []
    for s in tl.steps:
        if not phases or phases[-1] != (s.region, s.graph):
            phases.append((s.region, s.graph))
    assert phases == [(0, "forward"), (1, "forward"), (1, "backward"), (0, "backward")]
    # the handed-over relu is saved memory from region 0's forward to region 1's backward
    saved = [s.category_bytes[1] for s in tl.steps if s.region == 1]
    assert min(saved) >= 1024
    assert tl.peak.bytes >= max(t.peak.bytes for t in _region_timelines(a))
    memory = with_memory(a).extras["memory"]
    assert memory["peak_bytes"] == tl.peak.bytes and memory["program"]["peak"]["bytes"] == (
        tl.peak.bytes)


def _region_timelines(a: Analysis) -> list[Any]:
    from ckpt_core.memory import memory_timelines

    return list(memory_timelines(a))


def test_every_graph_break_says_where_and_what_dynamo_advises() -> None:
    a = _analysis((EXAMPLES / "hf_use_cache_break.py").read_text(), )
    (brk,) = a.graph_breaks
    assert brk.location_file == "snippet.py" and brk.location_line == brk.line
    assert brk.code is not None and brk.code.startswith("logger.warning")
    assert brk.explanation and "logging.Logger" in brk.explanation
    assert brk.hint and "ignore_logging_functions" in brk.hint
    assert a.to_dict()["graph_breaks"][0]["location"] == {"file": "snippet.py",
                                                          "line": brk.line}
    assert a.summary["handover_saved_bytes"] == 4 * 32 * 64 * 4  # the final hidden state
    # following dynamo's hint compiles one region, where nothing is handed over
    one = _analysis((EXAMPLES / "hf_use_cache_break.py").read_text(), dynamo_config={
        "ignore_logging_functions": ["logging.Logger.warning"]})
    assert len(one.regions) == 1 and one.handovers == ()
    # the program's headline with the break now agrees with the one-region compile
    assert abs(a.summary["saved_activation_bytes"] - one.summary["saved_activation_bytes"]) \
        <= 1024


def test_library_paths_are_relative_to_site_packages() -> None:
    assert display_path("/x/lib/python3.11/site-packages/transformers/models/llama/m.py",
                        "/tmp/s.py") == "transformers/models/llama/m.py"
    assert display_path("/tmp/ckpt-1/snippet.py", "/tmp/ckpt-1/snippet.py") == "snippet.py"
    import logging

    assert display_path(logging.__file__, "/tmp/s.py") == "logging/__init__.py"


def test_the_program_timeline_figure_speaks_one_unit_and_names_regions() -> None:
    from ckpt_core.charts import timeline_figure
    from ckpt_core.memory import PROGRAM, analyze_memory

    a = _analysis(SECOND_REGION.format(tail="self.fc2(h)"))
    memory = analyze_memory(a).to_dict()
    fig = timeline_figure(memory, region=PROGRAM)
    assert fig.layout.yaxis.title.text == "live memory (KiB)"
    stacked = [t for t in fig.data if t.stackgroup == "live"]
    assert all("KiB" in t.hovertemplate for t in stacked)
    assert {tuple(cd)[2] for cd in stacked[0].customdata} == {0, 1}
    with pytest.raises(ValueError, match="one region"):
        timeline_figure(analyze_memory(_analysis(SECOND_REGION.replace(
            'print("break")', "pass").format(tail="self.fc2(h)"))).to_dict(), region=PROGRAM)
