"""The one mapping from failures to HTTP: statuses and `{code, message, line}` bodies.

Client mistakes are 4xx with a message naming the field or the snippet line; a 500 only ever
means a server bug, and its body never carries internals.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from html import escape
from typing import Any, NotRequired, TypedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ckpt_core.errors import (
    AnalysisError,
    CkptError,
    CompileError,
    SandboxError,
    SettingsError,
    SnippetError,
    TorchInternalError,
)
from server.diskspace import MESSAGE as DISK_FULL
from server.diskspace import is_disk_full

log = logging.getLogger("ckpt.server")

#: Core error classes → HTTP status, most specific first.
CORE_STATUS: tuple[tuple[type[CkptError], int], ...] = (
    (SettingsError, 422),
    (SnippetError, 422),
    # torch's own failure on this snippet: the request cannot be processed as sent, and it is
    # neither a ckptscope bug (500) nor the sandbox (503)
    (TorchInternalError, 422),
    (CompileError, 422),
    (SandboxError, 503),
    (AnalysisError, 500),
    (CkptError, 422),
)


class ErrorResponse(JSONResponse):
    """An error body as ASCII JSON: a message may quote request text, and a lone UTF-16
    surrogate in it must not turn a 4xx into a failure to encode the answer."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class ApiErrorBody(TypedDict):
    """The body of every error response (`models.ErrorBody` in the OpenAPI document)."""

    code: str
    message: str
    line: int | None
    type: NotRequired[str]  #: the core error's class, for failures of the core
    details: NotRequired[str]  #: long text kept out of `message` (torch's whole message)


class ApiError(Exception):
    """An API-level failure with its HTTP status and stable code."""

    def __init__(self, status: int, code: str, message: str, *, line: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.line = status, code, message, line
        self.headers = headers

    def body(self) -> ApiErrorBody:
        return {"code": self.code, "message": self.message, "line": self.line}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} with that id (it may have been deleted)")


NOT_FOUND = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not found · ckptscope</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/css/app.css"></head>
<body><header class="top"><a class="brand" href="/">ckptscope</a>
<nav><a href="/">New analysis</a><a href="/docs">API</a></nav></header>
<main class="not-found"><h1>Not found</h1><p id="reason">{what}</p>
<p>Links to an analysis stop working when its owner deletes it or regenerates its link.</p>
<p><a class="button primary" href="/">Start a new analysis</a></p></main></body></html>"""


def not_found_page(what: str) -> Response:
    """The 404 page of a page link (never of the JSON API)."""
    return Response(NOT_FOUND.format(what=escape(what, quote=False)), status_code=404,
                    media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


def core_status(error: CkptError) -> int:
    return next(status for cls, status in CORE_STATUS if isinstance(error, cls))


def error_body(code: str, message: str, line: int | None = None,
               type_: str | None = None, details: str | None = None) -> ApiErrorBody:
    body = ApiErrorBody(code=code, message=message, line=line)
    if type_:
        body["type"] = type_
    if details is not None:
        body["details"] = details
    return body


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "request body"


def validation_message(errors: list[Any]) -> str:
    out = []
    for err in errors[:5]:
        loc = err.get("loc", ()) if isinstance(err, dict) else ()
        msg = err.get("msg", "invalid") if isinstance(err, dict) else str(err)
        out.append(f"{_field(loc)}: {msg}")
    return "; ".join(out) or "invalid request"


def _wants_page(request: Request) -> bool:
    """A browser navigating to a page (not the JSON API, not a static file)."""
    path = request.url.path
    return (not path.startswith(("/api/", "/static/"))
            and "text/html" in request.headers.get("accept", ""))


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return ErrorResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(CkptError)
    async def _core(_: Request, exc: CkptError) -> JSONResponse:
        status = core_status(exc)
        if status >= 500:
            log.error("core error while serving a request: %s", exc.message)
        return ErrorResponse(error_body(exc.code, exc.message, exc.line, type(exc).__name__,
                                        exc.details), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return ErrorResponse(error_body("invalid_request", validation_message(list(exc.errors()))),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and _wants_page(request):
            return not_found_page(f"There is no page {request.url.path!r} here.")
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return ErrorResponse(error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)),
                            status_code=exc.status_code, headers=exc.headers)

    async def _storage(_: Request, exc: Exception) -> JSONResponse:
        """Storage failures (files, SQLite, the database): a full disk is a 507 saying so."""
        if is_disk_full(exc):
            log.error("disk full while serving a request: %s", exc)
            return ErrorResponse(error_body("disk_full", DISK_FULL), status_code=507,
                                 headers={"Retry-After": "60"})
        log.exception("storage error", exc_info=exc)
        return ErrorResponse(error_body("internal_error", "the server failed; this is a bug"),
                             status_code=500)

    for storage_error in (OSError, sqlite3.Error, SQLAlchemyError):
        app.add_exception_handler(storage_error, _storage)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return ErrorResponse(error_body("internal_error", "the server failed; this is a bug"),
                            status_code=500)
