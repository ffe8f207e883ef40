"""The frontend's pages and static files, the API docs from vendored assets, and 404 pages.

Every page and asset is served from this process (nothing from a CDN): the machine may have no
internet. A page link that leads nowhere (`/a/<id>` of a deleted analysis, a mistyped
`/diff/…`) answers 404 with an HTML page that says so; the JSON API keeps its JSON errors.
"""

from __future__ import annotations

import mimetypes
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html

from ckpt_core import palette

from ..deps import Config, Service
from ..errors import ApiError, not_found_page

router = APIRouter(include_in_schema=False)

PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>ckptscope</title></head>
<body><h1>ckptscope</h1><p>{what}</p><p>The API is documented at <a href="/docs">/docs</a>.</p>
</body></html>"""


async def _exists(service: Any, analysis_id: str) -> bool:
    try:
        await run_in_threadpool(service.lookup, analysis_id)
    except ApiError as e:
        if e.status == 404:
            return False
        raise
    return True


def _page(frontend: Path, name: str, what: str) -> Response:
    path = frontend / name
    if path.is_file():
        return Response(path.read_bytes(), media_type="text/html; charset=utf-8")
    return Response(PLACEHOLDER.format(what=escape(what)), media_type="text/html; charset=utf-8")


@router.get("/")
def index(config: Config) -> Response:
    return _page(config.frontend_dir, "index.html", "New analysis: POST /api/analyses.")


@router.get("/a/{analysis_id}")
async def analysis_page(analysis_id: str, config: Config, service: Service) -> Response:
    if not await _exists(service, analysis_id):
        return not_found_page(f"There is no analysis {analysis_id!r}: the link is mistyped, or "
                              "the analysis was deleted.")
    return _page(config.frontend_dir, "analysis.html", f"Analysis {analysis_id}.")


@router.get("/diff")
@router.get("/diff/")
def diff_picker(config: Config) -> Response:
    """Choose two analyses (recent ones kept by the browser, or pasted links) to compare."""
    return _page(config.frontend_dir, "diff.html", "Compare two analyses: /diff/<id>..<id>.")


@router.get("/diff/{pair}")
async def diff_page(pair: str, config: Config, service: Service) -> Response:
    ids = pair.split("..")
    if len(ids) < 2 or not all(ids):
        return not_found_page(f"{pair!r} is not a comparison: a diff link is /diff/<id>..<id>, "
                              "two analysis ids joined by two dots.")
    for analysis_id in ids:
        if not await _exists(service, analysis_id):
            return not_found_page(f"There is no analysis {analysis_id!r} to compare: the link is "
                                  "mistyped, or the analysis was deleted.")
    return _page(config.frontend_dir, "diff.html", f"Diff of {', '.join(ids)}.")


@router.get("/docs")
def docs(request: Request) -> Response:
    """Swagger UI from the vendored copy under /static/vendor/swagger-ui (see its README)."""
    return get_swagger_ui_html(
        openapi_url=str(request.app.openapi_url), title="ckptscope API",
        swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="data:,")


@router.get("/static/css/palette.css")
def palette_css() -> Response:
    """The status palette as CSS variables, generated from `ckpt_core.palette`."""
    return Response(palette.stylesheet(), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/static/{path:path}")
def static(path: str, config: Config) -> Response:
    root = (config.frontend_dir / "static").resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise ApiError(404, "not_found", f"no static file {path!r}")
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return Response(target.read_bytes(), media_type=media_type,
                    headers={"Cache-Control": "public, max-age=300"})
