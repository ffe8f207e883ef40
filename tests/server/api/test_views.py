"""Graphs, layout, diffs, examples, pages and health, against a fake job backend."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from .conftest import SNIPPET, ClientFactory
from .fakes import documents_backend
from .test_analyses import submit, wait_final


def done_analysis(c: TestClient, source: str = SNIPPET) -> str:
    sub = submit(c, source=source)
    wait_final(c, sub["id"])
    return str(sub["id"])


def test_graph_json(client: tuple[TestClient, Any], mlp_doc: dict[str, Any]) -> None:
    c, _ = client
    i = done_analysis(c)
    for kind in ("forward", "backward", "joint"):
        body = c.get(f"/api/analyses/{i}/regions/0/graphs/{kind}").json()
        assert body["kind"] == kind
        assert body["nodes"] == mlp_doc["regions"][0]["graphs"][kind]["nodes"]
        assert body["saved"] == mlp_doc["regions"][0]["saved"]
    url = f"/api/analyses/{i}/regions/0/graphs/joint"
    assert c.get(url).headers["content-encoding"] == "gzip"  # compressed once, when accepted
    plain = c.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json()["kind"] == "joint"
    assert c.get(f"/api/analyses/{i}/document").headers["content-encoding"] == "gzip"
    assert c.get(f"/api/analyses/{i}/regions/7/graphs/forward").status_code == 404
    assert c.get(f"/api/analyses/{i}/regions/0/graphs/sideways").status_code == 422
    assert c.get(f"/api/analyses/{i}/regions/-1/graphs/forward").status_code == 422


def test_graph_svg_ids_and_classes(client: tuple[TestClient, Any], mlp_doc: dict[str, Any]) -> None:
    c, _ = client
    i = done_analysis(c)
    r = c.get(f"/api/analyses/{i}/regions/0/graphs/forward.svg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    svg = r.text
    groups = re.findall(r'<g id="g:([^"]+)" class="node group (\w+)', svg)
    assert ("block", "recomputed") in groups or any(p == "block" for p, _ in groups), groups
    same = c.get(f"/api/analyses/{i}/regions/0/graphs/forward?format=svg")
    assert same.text == svg
    expanded = c.get(f"/api/analyses/{i}/regions/0/graphs/forward.svg?expand=block.0").text
    nodes = dict(re.findall(r'<g id="n:([^"~]+)" class="node op (\w+)', expanded))
    forward = {n["name"]: n["status"] for n in mlp_doc["regions"][0]["graphs"]["forward"]["nodes"]}
    assert nodes and all(forward[name] == status for name, status in nodes.items())
    assert "recomputed" in nodes.values() or "saved" in nodes.values()
    r = c.get(f"/api/analyses/{i}/regions/0/graphs/forward.svg?expand=no.such.group")
    assert r.status_code == 404 and r.json()["code"] == "unknown_group"


def test_layout_is_cached_as_a_blob(make_client: ClientFactory, tmp_path: Path) -> None:
    with make_client() as (c, _):
        i = done_analysis(c)
        c.get(f"/api/analyses/{i}/regions/0/graphs/backward.svg")
    blobs = list((tmp_path / "data" / "blobs" / "layouts").glob("*/*.svg.gz"))  # per analysis
    assert len(blobs) == 1
    with make_client() as (c, _):  # a new process reuses the stored layout
        blobs[0].write_bytes(__import__("gzip").compress(b"<svg>cached</svg>"))
        j = done_analysis(c)  # same content → same cache key, new share id
        assert c.get(f"/api/analyses/{j}/regions/0/graphs/backward.svg").text == "<svg>cached</svg>"


def test_groups_level(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    i = done_analysis(c)
    top = c.get(f"/api/analyses/{i}/regions/0/graphs/forward/groups").json()
    assert top["breadcrumb"] == [""] and top["expand"] == ""
    paths = {it["path"] for it in top["items"] if it["kind"] == "group"}
    assert "block" in paths
    block = next(it for it in top["items"] if it["path"] == "block")
    assert block["node_count"] > 0 and sum(block["status_counts"].values()) == block["node_count"]
    inner = c.get(f"/api/analyses/{i}/regions/0/graphs/forward/groups?expand=block").json()
    assert inner["breadcrumb"] == ["", "block"]
    ids = {it["id"] for it in inner["items"]}
    assert inner["edges"] and all(a in ids and b in ids for a, b in inner["edges"])


def test_diff(make_client: ClientFactory, mlp_doc: dict[str, Any],
              mlp_default_doc: dict[str, Any]) -> None:
    other = SNIPPET + "\n# default partitioner\n"
    with make_client(documents_backend({other: mlp_default_doc}, mlp_doc)) as (c, _):
        a, b = done_analysis(c), done_analysis(c, other)
        r = c.get(f"/api/diffs?ids={a},{b}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["analyses"]) == 2 and body["comparisons"]
        assert c.get(f"/api/diffs?ids={a}").status_code == 422
        assert c.get(f"/api/diffs?ids={a},nope").status_code == 404
        assert c.get(f"/diff/{a}..{b}").status_code == 200
        assert c.get(f"/diff/{a}..nope").status_code == 404
        for picker in ("/diff", "/diff/"):
            page = c.get(picker)
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_examples(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    examples = {e["name"]: e for e in c.get("/api/examples").json()}
    assert {"gpt_sac", "mlp_checkpoint", "memory_budget"} <= set(examples)
    assert examples["memory_budget"]["settings"] == {"memory_budget": 0.5}
    gpt = examples["gpt_sac"]
    assert gpt["title"].startswith("A GPT-style stack") and "model =" in gpt["source"]
    assert gpt["settings"] == {}


def test_pages_and_static(make_client: ClientFactory, tmp_path: Path) -> None:
    frontend = tmp_path / "frontend"
    (frontend / "static" / "js").mkdir(parents=True)
    (frontend / "index.html").write_text("<html>index</html>")
    (frontend / "static" / "js" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("no")
    with make_client(frontend_dir=frontend) as (c, _):
        assert c.get("/").text == "<html>index</html>"
        i = done_analysis(c)
        page = c.get(f"/a/{i}")  # no analysis.html yet: a placeholder
        assert page.status_code == 200 and "ckptscope" in page.text
        js = c.get("/static/js/app.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        for path in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/nope.js"):
            assert c.get(path).status_code == 404


def test_health(client: tuple[TestClient, Any]) -> None:
    c, backend = client
    assert c.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = c.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    # a backend with sandbox pools reports them (the sandboxed worker's `pool_status`)
    backend.pool_status = lambda: {"ckpt-cpu": "0 of 1 warm"}
    assert c.get("/readyz").json()["checks"]["sandboxes ckpt-cpu"] == "0 of 1 warm"


def test_sweep_is_composed_of_cached_analyses(client: tuple[TestClient, Any]) -> None:
    c, backend = client
    first = submit(c)  # the budget-1.0 point is this analysis, answered from the cache
    wait_final(c, first["id"])
    r = c.post("/api/sweeps", json={"source": SNIPPET, "budgets": [0.5, 1.0]})
    assert r.status_code == 202, r.text
    sweep = r.json()
    assert sweep["status_url"] == f"/api/sweeps/{sweep['id']}"
    # one more backend job: the sweep's, computing only the 0.5 budget from one trace
    assert len(backend.submitted) == 2
    carrier = backend.submitted[1]
    assert carrier.options == {"sweep_budgets": [0.5]} and carrier.source == SNIPPET
    for _ in range(200):
        body = c.get(sweep["status_url"]).json()
        if body["status"] in ("done", "failed"):
            break
    assert body["status"] == "done", body
    assert [p["budget"] for p in body["result"]["points"]] == [1.0, 0.5]
    for point in body["result"]["points"]:  # every point opens as a plan at its budget
        assert "analysis" not in point  # linked, not embedded
        opened = c.get(f"/api/analyses/{point['analysis_id']}").json()
        assert opened["settings"]["memory_budget"] == point["budget"]
        assert point["share_url"] == f"/a/{point['analysis_id']}"
    assert c.get(sweep["status_url"] + "/figures/pareto").status_code == 200
    assert c.get(f"/api/analyses/{sweep['id']}").status_code == 404  # a sweep is not an analysis
    bad = c.post("/api/sweeps", json={"source": SNIPPET, "budgets": [1.5]})
    assert bad.status_code == 422 and "budget" in bad.json()["message"]
    assert c.post("/api/sweeps", json={"source": SNIPPET, "budgets": []}).status_code == 422


def test_memory_views(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    i = done_analysis(c)
    memory = c.get(f"/api/analyses/{i}/memory").json()
    assert {"timelines", "saved_ledger", "recompute_ledger", "module_rollup"} <= set(memory)
    figure = c.get(f"/api/analyses/{i}/figures/timeline").json()
    assert figure["data"] and "layout" in figure
    assert c.get(f"/api/analyses/{i}/figures/timeline?region=9").status_code == 404
