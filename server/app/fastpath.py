"""Answers the hottest reads (a finished analysis' status and graph JSON) straight from the
in-memory caches the routes fill, before routing; a miss goes through the app as usual."""

from __future__ import annotations

import re
from typing import Any

from .encoding import Body
from .limits import ASGIApp, Receive, Scope, Send

_STATUS = re.compile(r"^/api/analyses/([^/]{1,64})$")
_GRAPH = re.compile(
    r"^/api/analyses/([^/]{1,64})/regions/(\d{1,5})/graphs/(forward|backward|joint)$")


class FastPathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self._cached(scope) if scope["type"] == "http" else None
        if body is None:
            await self.app(scope, receive, send)
            return
        payload, headers = body
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()), *headers]})
        await send({"type": "http.response.body", "body": payload})

    def _cached(self, scope: Scope) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
        if scope.get("method") != "GET" or scope.get("query_string"):
            return None
        service: Any = getattr(scope["app"].state, "service", None)
        if service is None:
            return None
        path = scope["path"]
        if m := _STATUS.match(path):
            job = service.finished_job(m.group(1))
            cached = service.views.get((job.id, "status", m.group(1))) if job else None
            return (cached, []) if isinstance(cached, bytes) else None
        if m := _GRAPH.match(path):
            job = service.finished_job(m.group(1))
            key = (job.id, int(m.group(2)), m.group(3), "json") if job else None
            graph = service.views.get(key) if key else None
            if not isinstance(graph, Body):
                return None
            accept = dict(scope.get("headers", [])).get(b"accept-encoding", b"")
            if b"gzip" in accept.lower():
                return graph.gz, [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
            return graph.raw, [(b"vary", b"Accept-Encoding")]
        return None
