"""Lays one graph level out with Graphviz `dot` and returns SVG whose ids the frontend uses.

Nodes carry `id="n:<name>"`, collapsed groups `id="g:<path>"`, and `class` holds the status
(`saved`, `recomputed`, `forward_only`, `gradient`, `recompute`, …). `dot` is tuned for FX
graphs: few network-simplex and mincross iterations, straight edges, and inputs used far away
(saved tensors, parameters, values from outside the level) drawn again beside each consumer
instead of as one node with long edges — those are what make a flat layout take minutes.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict

import graphviz

from ckpt_core import palette

from .hierarchy import Item, Level

#: Bump when the drawing changes, so cached layouts are not reused.
LAYOUT_VERSION = 1
DOT_TIMEOUT_S = 60.0

GRAPH_ATTRS = {
    "rankdir": "TB",
    "splines": "line",
    "nslimit": "2",
    "nslimit1": "2",
    "mclimit": "0.3",
    "searchsize": "20",
    "remincross": "false",
    "ranksep": "0.3",
    "nodesep": "0.15",
    "fontname": "Helvetica",
    "bgcolor": "transparent",
}



class LayoutError(RuntimeError):
    """`dot` failed or took too long."""


def _repeated(level: Level) -> set[str]:
    """Items drawn once per consumer: stubs, and placeholders feeding several consumers."""
    fanout: dict[str, int] = defaultdict(int)
    for src, _ in level.edges:
        fanout[src] += 1
    return {i.id for i in level.items
            if i.kind == "stub" or (i.op == "placeholder" and fanout[i.id] > 1)}


def to_dot(level: Level) -> str:
    g = graphviz.Digraph(graph_attr=GRAPH_ATTRS, node_attr={
        "shape": "box", "style": "rounded,filled", "fontsize": "9", "fontname": "Helvetica",
        "margin": "0.06,0.03", "height": "0.3"}, edge_attr={"arrowsize": "0.5"})
    repeated = _repeated(level)
    by_id = {i.id: i for i in level.items}
    for item in level.items:
        if item.id not in repeated:
            g.node(_dot_name(item.id), **_attrs(item, item.id))
    uses: dict[str, int] = defaultdict(int)
    for src, dst in level.edges:
        src_name = _dot_name(src)
        if src in repeated:
            uses[src] += 1
            svg_id = src if uses[src] == 1 else f"{src}~{uses[src]}"
            src_name = _dot_name(svg_id)
            g.node(src_name, **_attrs(by_id[src], svg_id, repeat=uses[src] > 1))
        g.edge(src_name, _dot_name(dst))
    source: str = g.source
    return source


def _dot_name(item_id: str) -> str:
    return item_id.replace(":", "_", 1)


def _attrs(item: Item, svg_id: str, repeat: bool = False) -> dict[str, str]:
    classes = ["op" if item.kind == "node" else item.kind, item.status or "none"]
    if repeat:
        classes.append("repeat")
    attrs = {"id": svg_id, "class": " ".join(classes), "label": item.label,
             "fillcolor": palette.tint(item.status), "tooltip": item.path or item.label}
    if item.kind == "group":
        attrs.update(shape="box3d", style="filled", fontsize="10")
    elif item.kind == "stub":
        attrs.update(shape="plaintext", style="", fontsize="8", fontcolor="#666666")
    elif item.op == "placeholder":
        attrs.update(shape="ellipse", style="filled", fontsize="8")
    return attrs


def render_svg(level: Level) -> bytes:
    """Run `dot` on the level; raises `LayoutError` on failure or timeout."""
    try:
        done = subprocess.run(["dot", "-Tsvg"], input=to_dot(level).encode("utf-8"),
                              capture_output=True, timeout=DOT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LayoutError(f"graph layout failed: {e}") from e
    if done.returncode != 0:
        raise LayoutError("graph layout failed: " + done.stderr.decode("utf-8", "replace")[:300])
    return done.stdout
