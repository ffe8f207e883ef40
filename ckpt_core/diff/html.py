"""The self-contained side-by-side HTML report of a `GraphDiff` (pure: one string, no network).

Everything is inline (CSS, a few lines of script, SVG bars) so the file opens offline and can be
attached to an issue as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from .. import palette
from ..units import fmt_bytes, fmt_flops
from .compare import ROOT_MODULE
from .model import AnalysisInfo, Comparison, GraphDiff, NodeRow
from .report import changed_settings, signed

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4;position:sticky;top:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.absent{background:#fff;color:#999}
tr.same{display:none}body.all tr.same{display:table-row}
tr.changed td.node{font-weight:600}.muted{color:#777}
.bars svg{display:block;margin:.3em 0}
""" + palette.stylesheet() + "".join(
    f".{status}{{background:var(--{status.replace('_', '-')}-tint)}}" for status in palette.STATUS)

_BAR = palette.color("input")

_SCRIPT = """
function toggleAll(box){document.body.classList.toggle('all',box.checked)}
function filterRows(text){
  const q=text.toLowerCase();
  for(const tr of document.querySelectorAll('#nodes tbody tr')){
    tr.hidden=q!==''&&!tr.dataset.search.includes(q);
  }
}
"""


def html_report(d: GraphDiff, *, title: str = "ckptscope diff") -> str:
    """The full report: inputs and their totals, each comparison with its module rollup, and
    the N-way node table (one status column per analysis; unchanged nodes hidden by default)."""
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(title)}</title><style>{_CSS}</style><script>{_SCRIPT}</script>",
        "</head><body>",
        f"<h1>{escape(title)}: {len(d.analyses)} analyses</h1>",
        _analyses_table(d.analyses),
        _bars("saved activations", [a.saved_activation_bytes for a in d.analyses],
              d.analyses, fmt_bytes),
        _bars("recompute FLOPs", [a.recompute_flops for a in d.analyses], d.analyses, fmt_flops),
    ]
    for c in d.comparisons:
        parts.append(_comparison(d, c))
    parts.append(_node_table(d))
    parts.append("</body></html>")
    return "\n".join(parts)


def _analyses_table(analyses: Sequence[AnalysisInfo]) -> str:
    head = ("<tr><th>label</th><th>snippet</th><th>torch</th><th>device</th><th>settings</th>"
            "<th>forward nodes</th><th>saved activations</th><th>recompute FLOPs</th>"
            "<th>peak</th></tr>")
    body = []
    for a in analyses:
        settings = changed_settings(a.settings)
        peak = fmt_bytes(a.peak_bytes) if a.peak_bytes is not None else "n/a"
        body.append(
            f"<tr><td><b>{escape(a.label)}</b></td><td>{escape(a.snippet_name)}</td>"
            f"<td>{escape(a.torch_version)}</td><td>{escape(a.device)}</td>"
            f"<td class=muted>{escape(settings)}</td><td class=n>{a.node_count}</td>"
            f"<td class=n>{fmt_bytes(a.saved_activation_bytes)}</td>"
            f"<td class=n>{fmt_flops(a.recompute_flops)}</td><td class=n>{peak}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _bars(name: str, values: Sequence[int], analyses: Sequence[AnalysisInfo],
          fmt: Callable[[int], str]) -> str:
    """One horizontal bar per analysis, scaled to the largest."""
    largest = max(values) or 1
    row_px, label_px, bar_px = 18, 90, 360
    items = []
    for i, (a, v) in enumerate(zip(analyses, values, strict=True)):
        y = i * row_px
        width = round(bar_px * v / largest)
        items.append(
            f"<text x=0 y={y + 13} font-size=12>{escape(a.label[:12])}</text>"
            f"<rect x={label_px} y={y + 3} width={width} height=12 fill='{_BAR}'></rect>"
            f"<text x={label_px + width + 6} y={y + 13} font-size=12>{escape(fmt(v))}</text>")
    height = row_px * len(values)
    return (f"<div class=bars><b>{escape(name)}</b><svg width={label_px + bar_px + 120} "
            f"height={height}>{''.join(items)}</svg></div>")


def _comparison(d: GraphDiff, c: Comparison) -> str:
    s = c.summary
    a, b = d.analyses[c.base].label, d.analyses[c.other].label
    peak = (f"{signed(s.peak_bytes.delta, fmt_bytes)} ({fmt_bytes(s.peak_bytes.before)} → "
            f"{fmt_bytes(s.peak_bytes.after)})" if s.peak_bytes else "n/a (no memory figures)")
    facts = [
        ("matched nodes", str(s.matched_count)),
        ("saved → recomputed",
         f"{s.saved_to_recomputed.count} ({fmt_bytes(s.saved_to_recomputed.bytes)})"),
        ("recomputed → saved",
         f"{s.recomputed_to_saved.count} ({fmt_bytes(s.recomputed_to_saved.bytes)})"),
        ("all status changes", ", ".join(
            f"{k.replace('->', ' → ')}: {v}" for k, v in s.transitions.items()) or "none"),
        ("policy changes", str(s.policy_changes)),
        ("added / removed", f"{s.added_count} / {s.removed_count}"),
        ("Δ saved activations",
         f"{signed(s.saved_activation_bytes.delta, fmt_bytes)} "
         f"({fmt_bytes(s.saved_activation_bytes.before)} → "
         f"{fmt_bytes(s.saved_activation_bytes.after)})"),
        ("Δ recompute FLOPs",
         f"{signed(s.recompute_flops.delta, fmt_flops)} ({fmt_flops(s.recompute_flops.before)}"
         f" → {fmt_flops(s.recompute_flops.after)})"),
        ("Δ peak", peak),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    out = [f"<h2>{escape(a)} → {escape(b)}</h2><table>{rows}</table>"]
    if c.modules:
        out.append(
            "<table><tr><th>module</th><th>saved → recomputed</th><th>recomputed → saved</th>"
            "<th>other status</th><th>policy</th><th>added</th><th>removed</th>"
            "<th>Δ saved</th><th>Δ recompute FLOPs</th></tr>")
        for m in c.modules:
            out.append(
                f"<tr><td>{escape(m.module)}</td>"
                f"<td class=n>{m.saved_to_recomputed.count} "
                f"({fmt_bytes(m.saved_to_recomputed.bytes)})</td>"
                f"<td class=n>{m.recomputed_to_saved.count} "
                f"({fmt_bytes(m.recomputed_to_saved.bytes)})</td>"
                f"<td class=n>{m.other_status_changes}</td><td class=n>{m.policy_changes}</td>"
                f"<td class=n>{m.added_count}</td><td class=n>{m.removed_count}</td>"
                f"<td class=n>{signed(m.saved_activation_bytes_delta, fmt_bytes)}</td>"
                f"<td class=n>{signed(m.recompute_flops_delta, fmt_flops)}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p class=muted>no changes</p>")
    return "\n".join(out)


def _node_table(d: GraphDiff) -> str:
    changed_keys = {k for c in d.comparisons for k in c.changed}
    labels = "".join(f"<th>{escape(a.label)}</th>" for a in d.analyses)
    out = [
        "<h2>Forward nodes, side by side</h2>",
        f"<p>{len(changed_keys)} of {len(d.rows)} nodes differ between analyses. "
        "<label><input type=checkbox onchange='toggleAll(this)'> show unchanged nodes</label> "
        "<input placeholder='filter by module or node' oninput='filterRows(this.value)'></p>",
        "<p class=muted>cell: status · policy (requested policy when it differs); "
        "— where the analysis has no such node</p>",
        f"<table id=nodes><thead><tr><th>module</th><th>node</th><th>target</th><th>line</th>"
        f"{labels}</tr></thead><tbody>",
    ]
    for row in d.rows:
        cls = "changed" if row.key in changed_keys else "same"
        name = next(s.name for s in row.states if s is not None)
        module = row.module or ROOT_MODULE
        search = escape(f"{module} {name} {row.target}".lower())
        out.append(
            f"<tr class={cls} data-search='{search}'><td>{escape(module)}</td>"
            f"<td class=node title='{escape(row.key)}'>{escape(name)}</td>"
            f"<td>{escape(row.target)}</td><td class=n>{row.line or ''}</td>"
            + "".join(_cell(row, i) for i in range(len(d.analyses))) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _cell(row: NodeRow, i: int) -> str:
    s = row.states[i]
    if s is None:
        return "<td class=absent>—</td>"
    policy = s.policy or ""
    if s.requested_policy and s.requested_policy != s.policy:
        policy += f" (requested {s.requested_policy})"
    costs = []
    if s.saved_activation_bytes:
        costs.append(f"saves {fmt_bytes(s.saved_activation_bytes)}")
    if s.recompute_flops:
        costs.append(f"recompute {fmt_flops(s.recompute_flops)}")
    title = f"{s.name} · {s.bytes} B" + "".join(f" · {c}" for c in costs)
    status_class = escape(s.status)
    return (f"<td class='{status_class}' title='{escape(title)}'>{escape(s.status)}"
            f"{' · ' + escape(policy) if policy else ''}</td>")
