"""Export to Model Explorer, checked with Model Explorer's own loader (`ai-edge-model-explorer`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ckpt_core import palette
from ckpt_core.cli import main
from ckpt_core.ir import Analysis
from ckpt_core.model_explorer import STATUS_VALUES, to_model_explorer

pytest.importorskip("model_explorer", reason="the dev extra installs ai-edge-model-explorer")


@pytest.fixture(scope="module")
def gpt(analyze_example: Any) -> dict[str, Any]:
    doc: dict[str, Any] = analyze_example("gpt_sac")
    return doc


def _load_with_model_explorer(collection: dict[str, Any], tmp_path: Path) -> Any:
    """The graphs as Model Explorer's built-in JSON graph adapter reads them from a file."""
    from model_explorer.builtin_hfgraph_adapter import BuiltinHfGraphAdapter

    path = tmp_path / "graph.hfgraph"
    path.write_text(json.dumps(collection), encoding="utf-8")
    loaded = BuiltinHfGraphAdapter().convert(str(path), {})
    [graphs] = loaded["graphCollections"]
    return graphs


def test_model_explorer_loads_every_graph_with_namespaces_and_attributes(
        gpt: dict[str, Any], tmp_path: Path) -> None:
    from dacite import Config, from_dict
    from model_explorer.graph_builder import Graph

    analysis = Analysis.from_dict(gpt)
    out = to_model_explorer(analysis)
    collection = _load_with_model_explorer(out.graphs, tmp_path)
    by_id = {g.id: g for g in collection.graphs}
    assert set(by_id) == {"r0.forward", "r0.backward", "r0.joint"}
    region = analysis.regions[0]
    for kind, graph in by_id.items():
        ours = region.graphs[kind.split(".")[1]].nodes
        assert [n.id for n in graph.nodes] == [n.name for n in ours]
        ids = {n.id for n in graph.nodes}
        for node in graph.nodes:
            assert all(e.sourceNodeId in ids for e in node.incomingEdges)
        # the same Graph dataclass Model Explorer's node-data runner builds from JSON
        strict = from_dict(data_class=Graph, data=next(
            g for g in out.graphs["graphs"] if g["id"] == kind), config=Config(strict=True))
        assert len(strict.nodes) == len(ours)
    forward = {n.id: n for n in by_id["r0.forward"].nodes}
    saved = next(n for n in region.graphs["forward"].nodes
                 if n.status == "saved" and n.module and n.module.startswith("blocks.3."))
    node = forward[saved.name]
    assert node.namespace == saved.module.replace(".", "/")
    attrs = {a.key: a.value for a in node.attrs}
    for key in ("op", "shape", "dtype", "bytes", "policy", "status", "why"):
        assert key in attrs, (key, attrs)
    assert attrs["status"] == "saved" and attrs["op"] == saved.target
    assert node.style is not None and node.style.backgroundColor == palette.tint("saved")
    # parameters sit in their module's layer, not at the top
    param = next(n for n in region.graphs["forward"].nodes if n.param)
    assert forward[param.name].namespace == param.param.rpartition(".")[0].replace(".", "/")


def test_overlays_colour_by_status_and_by_bytes(gpt: dict[str, Any]) -> None:
    from dacite import from_dict
    from model_explorer.node_data_builder import GraphNodeData

    analysis = Analysis.from_dict(gpt)
    out = to_model_explorer(analysis)
    assert set(out.node_data) == {"status", "bytes"}
    forward = {n.name: n for n in analysis.regions[0].graphs["forward"].nodes}
    status = from_dict(data_class=GraphNodeData, data=out.node_data["status"]["r0.forward"])
    for name, result in status.results.items():
        assert result.value == STATUS_VALUES[forward[name].status]
        assert result.bgColor == palette.color(forward[name].status)
    sizes = from_dict(data_class=GraphNodeData, data=out.node_data["bytes"]["r0.forward"])
    assert sizes.gradient and max(r.value for r in sizes.results.values()) == max(
        n.bytes for n in forward.values() if not n.view_of)


def test_cli_writes_the_graph_and_its_overlays(gpt: dict[str, Any], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "gpt.json"
    src.write_text(json.dumps(gpt), encoding="utf-8")
    out = tmp_path / "graph.json"
    assert main(["export", "--model-explorer", str(src), "-o", str(out)]) == 0
    assert "3 graphs" in capsys.readouterr().out
    assert json.loads(out.read_text())["graphs"][0]["id"] == "r0.forward"
    for name in ("status", "bytes"):
        assert (tmp_path / f"graph.{name}.nodedata.json").is_file()
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    assert main(["export", "--model-explorer", str(bad), "-o", str(out)]) == 2
    assert "expected an analysis object" in capsys.readouterr().err
    assert main(["export", "--model-explorer", str(tmp_path / "missing.json"), "-o",
                 str(out)]) == 2
