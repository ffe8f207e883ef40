"""The frontend's pages and static files (a placeholder page while a file is not there yet)."""

from __future__ import annotations

import mimetypes
from html import escape
from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from ..deps import Config, Service
from ..errors import ApiError

router = APIRouter(include_in_schema=False)

PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>ckptscope</title></head>
<body><h1>ckptscope</h1><p>{what}</p><p>The API is documented at <a href="/docs">/docs</a>.</p>
</body></html>"""


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
    await run_in_threadpool(service.lookup, analysis_id)
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
        raise ApiError(404, "not_found", "a diff page is /diff/<id>..<id>")
    for analysis_id in ids:
        await run_in_threadpool(service.lookup, analysis_id)
    return _page(config.frontend_dir, "diff.html", f"Diff of {', '.join(ids)}.")


@router.get("/static/{path:path}")
def static(path: str, config: Config) -> Response:
    root = (config.frontend_dir / "static").resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise ApiError(404, "not_found", f"no static file {path!r}")
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return Response(target.read_bytes(), media_type=media_type,
                    headers={"Cache-Control": "public, max-age=300"})
