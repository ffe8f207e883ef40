"""Hierarchical layout: group paths, levels, SVG ids/classes and the content-keyed cache."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ckpt_core import palette
from server.layout import (
    LayoutCache,
    UnknownGroup,
    build_level,
    child_groups,
    group_paths,
    render_svg,
)
from server.store import BlobStore


def node(name: str, op: str = "call_function", inputs: tuple[str, ...] = (), **kw: Any) -> dict[
        str, Any]:
    return {"name": name, "op": op, "target": "aten.mm.default", "inputs": list(inputs),
            "status": kw.pop("status", "saved"), **kw}


NODES = [
    node("w1", "placeholder", param="blocks.0.fc.weight", status="parameter"),
    node("x", "placeholder", status="input"),
    node("mm", inputs=("x", "w1"), module="blocks.0.fc", seq_nr=1, shape=[4, 8]),
    node("relu", inputs=("mm",), module="blocks.0", seq_nr=2, status="recomputed"),
    node("mm2", inputs=("relu", "x"), module="blocks.1.fc", seq_nr=3),
    node("grad_mm2", inputs=("mm2",), seq_nr=3, status="gradient"),
    node("grad_tail", inputs=("grad_mm2",), status="gradient"),
    node("output", "output", inputs=("mm2", "grad_tail"), status="output"),
]


def test_group_paths_borrow_modules() -> None:
    paths = group_paths(NODES)
    assert paths["w1"] == "blocks.0.fc"           # from its parameter
    assert paths["grad_mm2"] == "blocks.1.fc"     # from the forward op with its seq_nr
    assert paths["grad_tail"] == "blocks.1.fc"    # from its first input
    assert paths["x"] == "" and paths["output"] == ""


def test_levels() -> None:
    paths = group_paths(NODES)
    top = build_level(NODES, paths, "")
    assert [i.id for i in top.items] == ["g:blocks", "n:x", "n:output"]
    assert ("n:x", "g:blocks") in top.edges and ("g:blocks", "n:output") in top.edges
    blocks = build_level(NODES, paths, "blocks")
    assert {i.id for i in blocks.items} == {"g:blocks.0", "g:blocks.1", "x:x"}
    assert blocks.breadcrumb == ["", "blocks"]
    inner = build_level(NODES, paths, "blocks.0")
    assert {i.id for i in inner.items} >= {"n:relu", "g:blocks.0.fc"}
    group = next(i for i in blocks.items if i.id == "g:blocks.1")
    assert group.status_counts == {"gradient": 2, "saved": 1} and group.node_count == 3
    with pytest.raises(UnknownGroup):
        build_level(NODES, paths, "blocks.9")


def test_svg_ids_classes_and_repeated_inputs() -> None:
    paths = group_paths(NODES)
    svg = render_svg(build_level(NODES, paths, "blocks.0.fc")).decode()
    assert 'id="n:mm"' in svg and 'class="node op saved"' in svg
    svg = render_svg(build_level(NODES, paths, "blocks")).decode()
    assert 'id="g:blocks.0"' in svg and "node group" in svg
    # x feeds both blocks: drawn once beside each consumer, not as one node with long edges
    assert 'id="x:x"' in svg and 'id="x:x~2"' in svg


def test_cache_by_content(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    cache = LayoutCache(blobs)
    level = build_level(NODES, group_paths(NODES), "")
    key = LayoutCache.key("content", 0, "forward", "")
    assert key != LayoutCache.key("content", 0, "forward", "blocks")
    first = cache.svg(key, level)
    assert blobs.get(f"layouts/{key}.svg.gz") == first
    assert LayoutCache(blobs).svg(key, level) == first


def test_deep_stack_levels_are_small() -> None:
    """A 48-block stack: every level stays small enough for dot (the bench times them)."""
    nodes = [node("emb", module="embed", seq_nr=0)]
    prev = "emb"
    for b in range(48):
        for op in ("ln", "qkv", "attn", "proj", "fc", "act", "out"):
            name = f"b{b}_{op}"
            nodes.append(node(name, inputs=(prev,), module=f"blocks.{b}.{op}", seq_nr=len(nodes)))
            prev = name
    paths = group_paths(nodes)
    sizes = [len(build_level(nodes, paths, e).items) for e in ("", "blocks", "blocks.7")]
    assert max(sizes) <= 60, sizes


def test_groups_open_in_place_as_nested_clusters() -> None:
    paths = group_paths(NODES)
    level = build_level(NODES, paths, "", ["blocks", "blocks.0"])
    parents = {i.id: i.parent for i in level.items}
    assert parents["n:relu"] == "blocks.0" and parents["g:blocks.0.fc"] == "blocks.0"
    assert parents["g:blocks.1"] == "blocks" and parents["n:x"] == ""
    assert [(c.path, c.parent) for c in level.clusters] == [("blocks", ""), ("blocks.0", "blocks")]
    # an open group whose parent is closed changes nothing: it is not on screen
    assert build_level(NODES, paths, "", ["blocks.0"]).clusters == ()
    assert child_groups(paths, "", 2) == {"blocks", "blocks.0", "blocks.1"}
    svg = render_svg(level).decode()
    assert 'id="c:blocks"' in svg and 'id="c:blocks.0"' in svg and 'id="n:relu"' in svg
    # no graph or cluster titles (`%3`, `cluster_…`) for tooltips and screen readers
    assert "<title>%" not in svg and "<title>cluster" not in svg


def test_groups_show_proportions_not_the_first_status() -> None:
    nodes = [node(f"r{i}", module="blk", status="recomputed", bytes=100) for i in range(47)]
    nodes += [node(f"s{i}", module="blk", status="saved", bytes=1000) for i in range(6)]
    level = build_level(nodes, group_paths(nodes), "")
    group = next(i for i in level.items if i.id == "g:blk")
    assert group.status == "recomputed"  # the dominant status, not "saved" found first
    assert group.status_counts == {"recomputed": 47, "saved": 6}
    assert group.status_bytes == {"recomputed": 4700, "saved": 6000}
    svg = render_svg(level).decode()
    assert "53 ops — 6 saved (5.9 KiB), 47 recomputed (4.6 KiB)" in svg
    bar = re.findall(r'<polygon fill="(#[0-9a-f]{6})" stroke="transparent" points="([^"]+)"', svg)
    spans = {}
    for fill, points in bar:
        xs = [float(p.split(",")[0]) for p in points.split()]
        spans[fill] = max(xs) - min(xs)
    saved, recomputed = spans[palette.color("saved")], spans[palette.color("recomputed")]
    assert 6 / 53 * 0.7 < saved / (saved + recomputed) < 6 / 53 * 1.3, spans
