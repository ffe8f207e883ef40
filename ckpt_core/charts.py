"""Plotly figure builders for the memory views (render only: every figure comes from an analysis).

- `timeline_figure(timeline)`: live bytes per step stacked by category, the forward/backward
  boundary, a marker on the peak, hover text naming node, op, module and bytes; an optional
  measured series drawn over it.
- `pareto_figure(sweep)`: saved activation bytes against recompute FLOPs, one point per budget,
  labelled by budget; points whose peak is not monotonic are drawn apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from . import palette
from .memory.program import PROGRAM
from .memory.storage import CATEGORIES
from .memory.timeline import Timeline
from .units import fmt_bytes, fmt_flops, fmt_seconds

#: One colour per category, in `CATEGORIES` order; saved activations and gradients in the
#: status palette's colours, so the chart and the graph agree.
CATEGORY_COLORS: tuple[str, ...] = (
    "#9e9e9e", palette.color("saved"), "#ff7f0e", "#1f77b4",
    palette.color("gradient"), palette.color("output"),
)
CATEGORY_LABELS: dict[str, str] = {
    "inputs": "parameters & inputs", "saved": "saved activations",
    "forward_temp": "forward temporaries", "backward_temp": "backward temporaries",
    "gradients": "gradients", "outputs": "outputs",
}


def binary_unit(max_bytes: float) -> tuple[str, float]:
    """The binary unit (B, KiB, MiB, GiB) a column or axis reaching `max_bytes` is shown in."""
    for unit, size in (("GiB", 1024.0 ** 3), ("MiB", 1024.0 ** 2), ("KiB", 1024.0)):
        if max_bytes >= size:
            return unit, size
    return "B", 1.0


def timeline_figure(source: Timeline | dict[str, Any], *, region: int = 0,
                    title: str | None = None,
                    measured_live_bytes: Sequence[int] | None = None) -> Any:
    """The stacked timeline of one region, from a `Timeline`, its JSON, or the JSON of
    `analyze_memory` (then `region` picks the timeline; `PROGRAM` (-1): the whole program's).
    Bytes are shown in one binary unit, on the axis and in every hover text alike."""
    timeline = _timeline_of(source, region)
    steps = timeline.steps
    unit, size = binary_unit(max([timeline.peak.bytes, *(measured_live_bytes or ())]))
    x = [s.index for s in steps]
    hover = [
        f"step {s.index} · {'' if s.region is None else f'region {s.region} '}{s.graph}<br>"
        f"{s.node} = {s.target}<br>module: {s.module or '—'}"
        f"<br>live: {s.live_bytes / size:,.1f} {unit}" for s in steps
    ]
    # [graph, node(, region)] per point, so a click can select the node in the graph view
    nodes = [[s.graph, s.node] if s.region is None else [s.graph, s.node, s.region]
             for s in steps]
    fig = go.Figure()
    for c, category in enumerate(CATEGORIES):
        fig.add_trace(go.Scatter(
            x=x, y=[s.category_bytes[c] / size for s in steps], name=CATEGORY_LABELS[category],
            mode="lines", stackgroup="live", line={"width": 0.5, "color": CATEGORY_COLORS[c]},
            text=hover, customdata=nodes, hovertemplate="%{text}<br>" + CATEGORY_LABELS[category]
            + f": %{{y:,.1f}} {unit}<extra></extra>",
        ))
    if measured_live_bytes is not None:
        fig.add_trace(go.Scatter(
            x=x, y=[b / size for b in measured_live_bytes], name="measured", mode="lines",
            line={"color": "black", "dash": "dot", "width": 1.5},
            hovertemplate=f"measured: %{{y:,.1f}} {unit}<extra></extra>",
        ))
    peak = timeline.peak
    peak_region = steps[peak.step].region if 0 <= peak.step < len(steps) else None
    fig.add_trace(go.Scatter(
        x=[peak.step], y=[peak.bytes / size], name="peak", mode="markers+text",
        marker={"symbol": "triangle-down", "size": 12, "color": "black"},
        text=[f"peak {fmt_bytes(peak.bytes)}"], textposition="top center",
        customdata=[[peak.graph, peak.node] if peak_region is None
                    else [peak.graph, peak.node, peak_region]],
        hovertemplate=(f"peak at step {peak.step} ({peak.graph})<br>{peak.node}<br>"
                       f"{fmt_bytes(peak.bytes)}<extra></extra>"),
    ))
    shapes = []
    if timeline.peak_backward is not None:
        shapes.append({"type": "line", "x0": timeline.forward_steps - 0.5,
                       "x1": timeline.forward_steps - 0.5, "y0": 0, "y1": 1, "yref": "paper",
                       "line": {"dash": "dash", "color": "#555", "width": 1}})
    fig.update_layout(
        title=title or (f"Region {timeline.region}: live memory per step" if timeline.region >= 0
                        else "The whole program: live memory per step, every region"),
        xaxis_title=("step (forward nodes, then backward nodes)" if timeline.region >= 0 else
                     "step (each region's forward in order, then their backwards in reverse)"),
        yaxis_title=f"live memory ({unit})",
        hovermode="closest", shapes=shapes, legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig


def _timeline_of(source: Timeline | dict[str, Any], region: int) -> Timeline:
    if isinstance(source, Timeline):
        return source
    if region == PROGRAM and "timelines" in source:
        if not source.get("program_timeline"):
            raise ValueError("no program timeline: the analysis has one region")
        return Timeline.from_dict(source["program_timeline"])
    if "timelines" in source:
        found = [t for t in source["timelines"] if t["region"] == region]
        if not found:
            raise ValueError(f"no timeline for region {region}")
        return Timeline.from_dict(found[0])
    if "steps" not in source:
        raise ValueError("a memory summary has no per-step timeline: use analyze_memory(doc)")
    return Timeline.from_dict(source)


def _labels(points: list[dict[str, Any]]) -> list[str]:
    """Budget labels; points that coincide share one label ("0.8, 0.6") instead of overprinting."""
    at: dict[tuple[int, int], list[str]] = {}
    for p in points:
        at.setdefault((p["saved_activation_bytes"], p["recompute_flops"]), []).append(
            f"{p['budget']:g}")
    seen: set[tuple[int, int]] = set()
    out = []
    for p in points:
        key = (p["saved_activation_bytes"], p["recompute_flops"])
        out.append("" if key in seen else ", ".join(at[key]))
        seen.add(key)
    return out


def pareto_figure(sweep: Any, *, title: str | None = None) -> Any:
    """Saved activation bytes against estimated recompute time (FLOPs for sweeps without the
    cost model), from a `SweepResult` or its JSON."""
    points = sweep.to_dict(with_analyses=False)["points"] if hasattr(sweep, "to_dict") else [
        {k: v for k, v in p.items() if k != "analysis"} for p in sweep["points"]]
    timed = bool(points) and all(isinstance(p.get("recompute_time_s"), float | int)
                                 for p in points)
    y_key = "recompute_time_s" if timed else "recompute_flops"
    fig = go.Figure()
    for flagged in (False, True):
        group = [p for p in points if bool(p["non_monotonic"]) == flagged]
        if not group:
            continue
        fig.add_trace(go.Scatter(
            x=[p["saved_activation_bytes"] for p in group],
            y=[p[y_key] for p in group],
            mode="markers+text", text=_labels(group),
            textposition="top center",
            name="peak not monotonic" if flagged else "budget",
            marker={"size": 10, "color": "#d62728" if flagged else "#1f77b4",
                    "symbol": "x" if flagged else "circle"},
            customdata=[[f"{p['budget']:g}", fmt_bytes(p["saved_activation_bytes"]),
                         fmt_flops(p["recompute_flops"]), fmt_bytes(p["peak_bytes"]),
                         fmt_seconds(p.get("recompute_time_s"))]
                        for p in group],
            hovertemplate=("budget %{customdata[0]}<br>saved %{customdata[1]}<br>"
                           "recompute %{customdata[2]}, est. %{customdata[4]}<br>"
                           "peak %{customdata[3]}<extra></extra>"),
        ))
    fig.update_layout(
        title=title or ("Memory budget sweep: saved bytes vs estimated recompute time" if timed
                        else "Memory budget sweep: saved bytes vs recompute FLOPs"),
        xaxis_title="saved activation bytes",
        yaxis_title="estimated recompute time (s)" if timed else "recompute FLOPs",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig
