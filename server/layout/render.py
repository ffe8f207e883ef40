"""Lays one graph level out with Graphviz `dot` and returns SVG whose ids the frontend uses.

Nodes carry `id="n:<name>"`, collapsed groups `id="g:<path>"`, groups opened in place are
clusters with `id="c:<path>"`, and `class` holds the status (`saved`, `recomputed`,
`forward_only`, `gradient`, `recompute`, …). A collapsed group's box shows what is inside: a bar
of its members' statuses in proportion to their count, in the palette's colours, with counts
and bytes in its tooltip. `dot` is tuned for FX graphs: few network-simplex and mincross
iterations, edges routed around nodes, and inputs used far away (saved tensors, parameters,
values from outside the level) drawn again beside each consumer instead of as one node with
long edges — those are what make a flat layout take minutes. Labels are cut to fit their box
(full text in the tooltip), and graph/cluster titles (`%3`) are removed from the SVG.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from html import escape
from typing import Any

import graphviz

from ckpt_core import palette
from ckpt_core.units import fmt_bytes

from .hierarchy import Cluster, Item, Level

#: Bump when the drawing changes, so cached layouts are not reused.
LAYOUT_VERSION = 3
DOT_TIMEOUT_S = 60.0

GRAPH_ATTRS = {
    "rankdir": "TB",
    "splines": "spline",
    "nslimit": "2",
    "nslimit1": "2",
    "mclimit": "0.3",
    "searchsize": "20",
    "remincross": "false",
    "ranksep": "0.3",
    "nodesep": "0.2",
    "fontname": "Helvetica",
    "bgcolor": "transparent",
}
NODE_ATTRS = {
    "shape": "box", "style": "rounded,filled", "fontsize": "9", "fontname": "Helvetica",
    "margin": "0.06,0.03", "height": "0.3", "width": "1.3",
}

#: statuses of the proportion bar, in drawing order
BAR_STATUSES = ("saved", "recomputed", "recompute", "forward_only", "gradient", "parameter",
                "input", "tangent", "output")
BAR_WIDTH_PT = 110


class LayoutError(RuntimeError):
    """`dot` failed or took too long."""


def _repeated(level: Level) -> set[str]:
    """Items drawn once per consumer: stubs, and placeholders feeding several consumers."""
    fanout: dict[str, int] = defaultdict(int)
    for src, _ in level.edges:
        fanout[src] += 1
    return {i.id for i in level.items
            if i.kind == "stub" or (i.op == "placeholder" and fanout[i.id] > 1)}


def _summary(counts: dict[str, int], sizes: dict[str, int]) -> str:
    parts = []
    for status in BAR_STATUSES:
        if counts.get(status):
            size = f" ({fmt_bytes(sizes[status])})" if sizes.get(status) else ""
            parts.append(f"{counts[status]} {status.replace('_', '-')}{size}")
    return ", ".join(parts)


def _bar(counts: dict[str, int]) -> str:
    """HTML-label cells whose widths are the statuses' shares of the members."""
    total = sum(counts.get(s, 0) for s in BAR_STATUSES) or 1
    cells = []
    left = BAR_WIDTH_PT
    shown = [s for s in BAR_STATUSES if counts.get(s)]
    for i, status in enumerate(shown):
        width = left if i == len(shown) - 1 else max(2, round(BAR_WIDTH_PT * counts[status]
                                                             / total))
        width = min(width, left - 2 * (len(shown) - i - 1)) if i < len(shown) - 1 else width
        left -= width
        cells.append(f'<TD WIDTH="{max(1, width)}" HEIGHT="5" FIXEDSIZE="TRUE" '
                     f'BGCOLOR="{palette.color(status)}"></TD>')
    if not cells:
        cells.append(f'<TD WIDTH="{BAR_WIDTH_PT}" HEIGHT="5" FIXEDSIZE="TRUE"></TD>')
    return "".join(cells)


def _group_label(item: Item) -> str:
    span = max(1, sum(1 for s in BAR_STATUSES if item.status_counts.get(s)))
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            f'<TR><TD COLSPAN="{span}"><B>{escape(item.label)}</B></TD></TR>'
            f'<TR><TD COLSPAN="{span}"><FONT POINT-SIZE="8">{item.node_count} ops</FONT></TD>'
            f'</TR><TR>{_bar(item.status_counts)}</TR></TABLE>>')


def _cluster_attrs(cluster: Cluster) -> dict[str, str]:
    return {"id": f"c:{cluster.path}", "class": "open",
            "label": f"{cluster.label} · {cluster.node_count} ops", "labeljust": "l",
            "fontsize": "10", "fontname": "Helvetica", "style": "rounded,dashed",
            "color": "#7d8ba0", "tooltip": f"{cluster.path}: "
            f"{_summary(cluster.status_counts, cluster.status_bytes)} (click to collapse)"}


def to_dot(level: Level) -> str:
    g = graphviz.Digraph(graph_attr=GRAPH_ATTRS, node_attr=NODE_ATTRS,
                         edge_attr={"arrowsize": "0.5"})
    repeated = _repeated(level)
    by_id = {i.id: i for i in level.items}
    # every node statement, by the cluster it is drawn in ("" = the level itself)
    members: dict[str, list[tuple[str, dict[str, str]]]] = defaultdict(list)
    for item in level.items:
        if item.id not in repeated:
            members[item.parent].append((_dot_name(item.id), _attrs(item, item.id)))
    uses: dict[str, int] = defaultdict(int)
    edges = []
    for src, dst in level.edges:
        src_name = _dot_name(src)
        if src in repeated:
            uses[src] += 1
            svg_id = src if uses[src] == 1 else f"{src}~{uses[src]}"
            src_name = _dot_name(svg_id)
            # the copy sits beside its consumer, inside the consumer's cluster
            members[by_id[dst].parent].append(
                (src_name, _attrs(by_id[src], svg_id, repeat=uses[src] > 1)))
        edges.append((src_name, _dot_name(dst)))
    children: dict[str, list[Cluster]] = defaultdict(list)
    for cluster in level.clusters:
        children[cluster.parent].append(cluster)

    def fill(graph: Any, path: str) -> None:
        for name, attrs in members.get(path, ()):
            graph.node(name, **attrs)
        for cluster in children.get(path, ()):
            with graph.subgraph(name=f"cluster_{_dot_name(cluster.path)}",
                                graph_attr=_cluster_attrs(cluster)) as sub:
                fill(sub, cluster.path)

    fill(g, "")
    for src_name, dst_name in edges:
        g.edge(src_name, dst_name)
    source: str = g.source
    return source


def _dot_name(item_id: str) -> str:
    return item_id.replace(":", "_", 1)


def _attrs(item: Item, svg_id: str, repeat: bool = False) -> dict[str, str]:
    classes = ["op" if item.kind == "node" else item.kind, item.status or "none"]
    if repeat:
        classes.append("repeat")
    attrs = {"id": svg_id, "class": " ".join(classes), "label": item.label,
             "fillcolor": palette.tint(item.status),
             "tooltip": item.tooltip or item.path or item.label}
    if item.kind == "group":
        attrs.update(shape="box", style="rounded,filled", fontsize="10", margin="0.08,0.04",
                     label=_group_label(item), width="1.6",
                     tooltip=f"{item.path}: {item.node_count} ops — "
                     f"{_summary(item.status_counts, item.status_bytes)}")
    elif item.kind == "stub":
        attrs.update(shape="plaintext", style="", fontsize="8", fontcolor="#666666",
                     width="0.3")
    elif item.op == "placeholder":
        attrs.update(shape="ellipse", style="filled", fontsize="8", width="0.8")
    return attrs


#: graph and cluster titles Graphviz writes (`%3`, `cluster_g_blocks`): noise for tooltips
#: and screen readers
_GRAPH_TITLE = re.compile(r'(<g id="(?:graph\d+|c:[^"]*)" class="(?:graph|cluster[^"]*)"[^>]*>\s*)'
                          r"<title>[^<]*</title>")


def render_svg(level: Level) -> bytes:
    """Run `dot` on the level; raises `LayoutError` on failure or timeout."""
    try:
        done = subprocess.run(["dot", "-Tsvg"], input=to_dot(level).encode("utf-8"),
                              capture_output=True, timeout=DOT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LayoutError(f"graph layout failed: {e}") from e
    if done.returncode != 0:
        raise LayoutError("graph layout failed: " + done.stderr.decode("utf-8", "replace")[:300])
    return _GRAPH_TITLE.sub(r"\1", done.stdout.decode("utf-8")).encode("utf-8")
