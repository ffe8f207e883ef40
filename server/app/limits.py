"""Request limits and response headers: body size, submission rate, API keys, privacy headers."""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Every response: share links must not leak through Referer, results must not be indexed.
PRIVACY_HEADERS = [(b"referrer-policy", b"no-referrer"), (b"x-robots-tag", b"noindex"),
                   (b"x-content-type-options", b"nosniff")]


#: methods that change something: a browser may send them cross-site without asking
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def cross_site_write(scope: Scope, allowed_origins: frozenset[str]) -> str | None:
    """Why a write comes from another site's page, or None. A page elsewhere can make the
    visitor's browser POST a form (a snippet upload) to this server, e.g. one on 127.0.0.1;
    browsers say where it came from (`Sec-Fetch-Site`, `Origin`). Clients that are not
    browsers send neither and are not affected."""
    if scope.get("method") not in WRITES:
        return None
    headers = dict(scope.get("headers", []))
    if headers.get(b"sec-fetch-site", b"") == b"cross-site":
        return "Sec-Fetch-Site: cross-site"
    origin = headers.get(b"origin")
    if origin is None:
        return None
    text = origin.decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    if text in allowed_origins or text.partition("://")[2] == host:
        return None
    return f"Origin: {text[:200]}"


class LimitsMiddleware:
    """Adds the privacy headers; refuses writes that a browser sends from another site's page
    with 403 (`allowed_origins`: other origins a UI may be served from), and request bodies
    over `max_body_bytes` with 413 (the body is read here, up to the limit, and replayed)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_snippet_bytes: int,
                 allowed_origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_snippet_bytes = max_snippet_bytes
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *PRIVACY_HEADERS]
            await send(message)

        why = cross_site_write(scope, self.allowed_origins)
        if why is not None:
            await self._refuse(send_with_headers, 403, "cross_site",
                               f"refused a write sent by another site's page ({why}); call "
                               "the API directly, or list that origin in CKPT_ALLOWED_ORIGINS")
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send_with_headers)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send_with_headers)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send_with_headers)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)

    async def _too_large(self, send: Send) -> None:
        await self._refuse(send, 413, "too_large",
                           f"the request body is over this server's limit of "
                           f"{self.max_body_bytes} bytes ({self.max_body_bytes / 1024:g} KiB); "
                           f"a snippet may be at most {self.max_snippet_bytes} bytes "
                           f"({self.max_snippet_bytes / 1024:g} KiB)")

    @staticmethod
    async def _refuse(send: Send, status: int, code: str, message: str) -> None:
        body = json.dumps({"code": code, "line": None, "message": message}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """A token bucket per client: `per_minute` submissions, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> float:
        """0 when allowed; otherwise seconds until the next submission is."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic()
        rate_per_s = self.per_minute / 60.0
        with self._lock:
            tokens, then = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - then) * rate_per_s)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / rate_per_s


def key_allowed(keys: frozenset[str], offered: str | None) -> bool:
    if not keys:
        return True
    if not offered:
        return False
    return any(hmac.compare_digest(offered.encode(), k.encode()) for k in keys)
