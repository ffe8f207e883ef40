"""Hierarchical layout: group paths, levels, SVG ids/classes and the content-keyed cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.layout import LayoutCache, UnknownGroup, build_level, group_paths, render_svg
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
