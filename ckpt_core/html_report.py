"""A self-contained HTML report of one analysis: summary, memory, ledgers, charts, module tree.

plotly.js is inlined from the installed `plotly` package, so the file opens offline. Pure: an
analysis in, a string out (the CLI writes it).
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from typing import Any

import plotly.offline

from . import palette
from .charts import pareto_figure, timeline_figure
from .ir import Analysis, Node
from .memory.ledgers import recompute_ledger, saved_ledger
from .memory.rollup import ModuleRollup, module_rollup
from .memory.summary import memory_summary
from .memory.timeline import memory_timelines
from .report import text_summary
from .units import fmt_bytes, fmt_flops

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}td.n{text-align:right}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}
details{margin-left:1em}summary{cursor:pointer}.muted{color:#777}
""" + palette.stylesheet() + "".join(
    f"td.st-{status}{{background:var(--{status.replace('_', '-')}-tint)}}"
    for status in palette.STATUS)
_MAX_ROWS = 200


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _cell(i: int, value: Any, numeric: set[int], status_col: int | None) -> str:
    if i in numeric:
        return f"<td class=n>{_e(value)}</td>"
    if i == status_col:
        return f"<td class=st-{_e(value)}>{_e(value)}</td>"
    return f"<td>{_e(value)}</td>"


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None,
           status_col: int | None = None) -> str:
    """A table; the `status_col` column's cells take their status's tint from the palette."""
    numeric = numeric or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(_cell(i, c, numeric, status_col) for i, c in enumerate(row)) + "</tr>"
        for row in rows[:_MAX_ROWS])
    more = (f"<p class=muted>{len(rows) - _MAX_ROWS} more rows not shown</p>"
            if len(rows) > _MAX_ROWS else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _memory_section(memory: dict[str, Any]) -> str:
    rows = []
    for r in memory["regions"]:
        measured = r.get("measured") or {}
        ratio = measured.get("ratio")
        rows.append([
            r["region"], fmt_bytes(r["peak"]["bytes"]),
            f"{r['peak']['node']} ({r['peak']['graph']})",
            fmt_bytes(r["peak_forward"]["bytes"]),
            fmt_bytes(r["peak_backward"]["bytes"]) if r["peak_backward"] else "—",
            fmt_bytes(r["boundary_bytes"]),
            fmt_bytes(measured["peak_bytes"]) if measured else "—",
            f"{ratio:.3f}" if ratio is not None else "—",
        ])
    layers = "".join(f"<li>{_e(t)}</li>" for t in memory["repeated_layers"])
    return (_table(["region", "peak", "at", "forward peak", "backward peak", "held fw→bw",
                    "measured peak", "measured/analytic"], rows, {1, 3, 4, 5, 6, 7})
            + (f"<p>Repeated layers:</p><ul>{layers}</ul>" if layers else ""))


def _module_tree(analysis: Analysis, rollups: tuple[ModuleRollup, ...]) -> str:
    """The forward graph collapsed by module: each module a <details> with its totals, its
    submodules and its own nodes."""
    own: dict[str, list[Node]] = defaultdict(list)
    for region in analysis.regions:
        for n in region.graphs["forward"].nodes:
            if n.op == "call_function":
                own[n.module or ""].append(n)
    children: dict[str, list[ModuleRollup]] = defaultdict(list)
    for r in rollups:
        if r.module:
            parent = r.module.rsplit(".", 1)[0] if "." in r.module else ""
            children[parent].append(r)

    def render(r: ModuleRollup) -> str:
        statuses = Counter(n.status for n in own.get(r.module, []))
        label = (f"<b>{_e(r.module or '(model)')}</b> · {r.forward_ops} ops · saved "
                 f"{fmt_bytes(r.saved_bytes)} ({r.saved_count}) · recomputed "
                 f"{r.recompute_count} op(s), {fmt_flops(r.recompute_flops)}")
        nodes = own.get(r.module, [])
        node_rows = _table(["node", "op", "status", "shape", "bytes"],
                           [[n.name, n.target, n.status, n.shape, n.bytes] for n in nodes],
                           {4}, status_col=2) if nodes else ""
        own_counts = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
        inner = "".join(render(c) for c in children.get(r.module, []))
        own_part = (f"<details><summary class=muted>{len(nodes)} op(s) of its own "
                    f"({_e(own_counts)})</summary>{node_rows}</details>") if nodes else ""
        return f"<details><summary>{label}</summary>{inner}{own_part}</details>"

    root = next((r for r in rollups if r.module == ""), None)
    return render(root) if root else "<p class=muted>no module information</p>"


def html_report(source: Analysis | dict[str, Any], *, sweep: Any = None) -> str:
    """The whole report as one HTML string (plotly.js inlined)."""
    analysis = source if isinstance(source, Analysis) else Analysis.from_dict(source)
    doc = analysis.to_dict()
    memory = doc.get("memory") or memory_summary(analysis)
    saved = saved_ledger(analysis)
    recompute = recompute_ledger(analysis)
    measured = {r["region"]: (r.get("measured") or {}).get("live_bytes")
                for r in memory["regions"]}
    charts = "".join(
        timeline_figure(tl, measured_live_bytes=measured.get(tl.region)).to_html(
            full_html=False, include_plotlyjs=False, div_id=f"timeline-{tl.region}")
        for tl in memory_timelines(analysis))
    if sweep is not None:
        charts += pareto_figure(sweep).to_html(full_html=False, include_plotlyjs=False,
                                               div_id="pareto")
    saved_rows = [[e.region, e.forward_node, e.kind, e.cost_bytes, f"{e.share:.1%}", e.shape,
                   e.dtype, e.op, e.module, e.line, e.produced_step, e.first_use_step,
                   e.last_use_step] for e in saved.activations]
    input_rows = [[e.region, e.forward_node, e.kind, e.bytes, e.shape, e.dtype, e.module]
                  for e in saved.inputs]
    fraction = (f"{recompute.flops_fraction:.1%} of forward FLOPs"
                if recompute.flops_fraction is not None else "forward FLOPs unknown")
    parts = [
        f"<h1>ckptscope · {_e(analysis.snippet_name)}</h1>",
        f"<h2>Summary</h2><pre>{_e(text_summary(doc))}</pre>",
        f"<h2>Memory</h2>{_memory_section(memory)}",
        f"<h2>Timeline</h2>{charts}",
        f"<h2>Saved tensors</h2><p>Saving costs {fmt_bytes(saved.total_cost_bytes)}.</p>"
        + _table(["region", "value", "kind", "cost bytes", "share", "shape", "dtype", "op",
                  "module", "line", "made at", "first use", "last use"], saved_rows,
                 {3, 4, 10, 11, 12})
        + "<details><summary>Inputs and parameters kept for backward (no extra cost): "
        + f"{len(input_rows)}</summary>"
        + _table(["region", "value", "kind", "bytes", "shape", "dtype", "module"], input_rows,
                 {3}) + "</details>",
        f"<h2>Recomputed</h2><p>{recompute.total.count} op(s), "
        f"{fmt_flops(recompute.total.flops)} ({fraction}), "
        f"{fmt_bytes(recompute.total.bytes)} allocated again.</p>"
        + _table(["module", "ops", "FLOPs", "bytes"],
                 [[m or "(model)", t.count, t.flops, t.bytes] for m, t in recompute.by_module],
                 {1, 2, 3})
        + _table(["op", "count", "FLOPs", "bytes"],
                 [[o, t.count, t.flops, t.bytes] for o, t in recompute.by_op], {1, 2, 3}),
        "<h2>Graph by module</h2>" + _module_tree(analysis, module_rollup(analysis)),
    ]
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>ckptscope · {_e(analysis.snippet_name)}</title><style>{_STYLE}</style>"
        f"<script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        + "".join(parts) + "</body></html>\n"
    )
