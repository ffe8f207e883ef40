"""Answers the hottest reads (a finished analysis' status and graph JSON) straight from the
ready responses the routes keep in the `ViewCache` under their URL path, before routing; a
miss goes through the app as usual."""

from __future__ import annotations

from .caches import ViewCache
from .encoding import Body
from .limits import ASGIApp, Receive, Scope, Send


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
        service = getattr(scope["app"].state, "service", None)
        cache: ViewCache | None = getattr(service, "cache", None)
        if cache is None:
            return None
        ready = cache.response(scope["path"])
        if isinstance(ready, bytes):
            return ready, []
        if isinstance(ready, Body):
            accept = dict(scope.get("headers", [])).get(b"accept-encoding", b"")
            if b"gzip" in accept.lower():
                return ready.gz, [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
            return ready.raw, [(b"vary", b"Accept-Encoding")]
        return None
