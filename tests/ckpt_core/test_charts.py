"""Chart builders: the figures' structure (traces, stacking, peak marker, hover text, labels)."""

from __future__ import annotations

import pytest

from ckpt_core.charts import CATEGORY_LABELS, pareto_figure, timeline_figure
from ckpt_core.memory import CATEGORIES, memory_timeline
from ckpt_core.sweep import sweep_from_analyses
from tests.ckpt_core.memory.test_memory import analysis, region


def test_timeline_figure_structure() -> None:
    tl = memory_timeline(region())
    fig = timeline_figure(tl, measured_live_bytes=tl.live_bytes())
    names = [t.name for t in fig.data]
    assert names == [*(CATEGORY_LABELS[c] for c in CATEGORIES), "measured", "peak"]
    stacked = fig.data[: len(CATEGORIES)]
    assert all(t.stackgroup == "live" and len(t.x) == len(tl.steps) for t in stacked)
    # bytes in one binary unit (KiB here), on the axis and in every hover text
    totals = [sum(vals) for vals in zip(*(t.y for t in stacked), strict=True)]
    assert totals == pytest.approx([b / 1024 for b in tl.live_bytes()])
    assert fig.layout.yaxis.title.text == "live memory (KiB)"
    peak = fig.data[-1]
    assert list(peak.x) == [tl.peak.step] and list(peak.y) == [tl.peak.bytes / 1024]
    hover = stacked[0].text[tl.peak.step]
    assert "relu_1" in hover and "aten.relu.default" in hover and "act" in hover
    assert "1.2 KiB" in hover and all("KiB" in t.hovertemplate for t in stacked)
    # a dashed line marks where the backward starts
    assert fig.layout.shapes[0].x0 == tl.forward_steps - 0.5


def test_pareto_figure_labels_budgets_and_flags() -> None:
    a = analysis((region(),))
    result = sweep_from_analyses([a, a, a], [1.0, 0.5, 0.0])
    fig = pareto_figure(result)
    # the three points coincide: one label for all of them
    assert len(fig.data) == 1 and list(fig.data[0].text) == ["1, 0.5, 0", "", ""]
    assert fig.layout.xaxis.title.text == "saved activation bytes"
    doc = result.to_dict()
    doc["points"][2]["non_monotonic"] = True
    flagged = pareto_figure(doc)
    assert [t.name for t in flagged.data] == ["budget", "peak not monotonic"]
    assert list(flagged.data[1].text) == ["0"]
    assert list(flagged.data[0].text) == ["1, 0.5", ""]
