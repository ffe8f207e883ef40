"""Pages work offline and say what went wrong: vendored API docs, HTML 404s, the palette."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from ckpt_core import palette

from .test_analyses import submit, wait_final

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_docs_load_swagger_from_this_server_only(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    page = c.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    for asset in assets:
        assert asset.startswith(("/", "data:")), f"/docs loads {asset} from another host"
        if asset.startswith("/static/"):
            got = c.get(asset)
            assert got.status_code == 200 and len(got.content) > 10_000, asset
    assert "cdn" not in page.text.lower()
    assert c.get("/openapi.json").status_code == 200
    assert c.get("/redoc").status_code == 404  # no CDN-backed ReDoc page either


def test_mistyped_or_deleted_page_links_answer_html_404(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    for path, says in (("/a/nosuchid", "no analysis 'nosuchid'"),
                       ("/diff/nosuchid..other", "no analysis 'nosuchid'"),
                       ("/diff/justone", "not a comparison"),
                       ("/no/such/page", "no page '/no/such/page'")):
        r = c.get(path, headers=HTML)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert says in r.text and 'href="/"' in r.text, (path, r.text)
    job = submit(c)
    wait_final(c, job["id"])
    assert c.get(f"/a/{job['id']}", headers=HTML).status_code == 200
    owner = {"X-Owner-Token": job["owner_token"]}
    assert c.delete(f"/api/analyses/{job['id']}", headers=owner).status_code == 204
    gone = c.get(f"/a/{job['id']}", headers=HTML)
    assert gone.status_code == 404 and "deleted" in gone.text


def test_the_json_api_keeps_json_errors(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    for path in ("/api/analyses/nosuchid", "/api/no-such-route"):
        r = c.get(path, headers=HTML)
        assert r.status_code == 404
        assert r.json()["code"] == "not_found"


def test_palette_stylesheet_is_the_core_palette(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    css = c.get("/static/css/palette.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.text == palette.stylesheet()
    assert f"--recomputed: {palette.color('recomputed')};" in css.text
    app_css = c.get("/static/css/app.css").text
    assert '@import url("/static/css/palette.css")' in app_css
    # no status colour is defined a second time in the UI's stylesheet
    for status in ("saved", "recomputed", "forward-only", "gradient"):
        assert not re.search(rf"--{status}:\s*#", app_css), status


def test_model_explorer_download(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    job = submit(c)
    wait_final(c, job["id"])
    url = f"/api/analyses/{job['id']}/export/model-explorer"
    r = c.get(url)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    body = r.json()
    assert [g["id"] for g in body["graphs"]][:2] == ["r0.forward", "r0.backward"]
    status = c.get(url + "?overlay=status").json()
    assert set(status) == {g["id"] for g in body["graphs"]}
    assert c.get(url + "?overlay=nope").status_code == 422
    assert c.get("/api/analyses/nosuchid/export/model-explorer").status_code == 404
