"""Who may be addressed (the Host check against DNS rebinding) and the headers every response
carries against framing, caching and injected scripts."""

from __future__ import annotations

import ipaddress
import json

from .limits import ASGIApp, Message, Receive, Scope, Send

#: Pages: scripts only from this server (no inline script, no eval, no event-handler
#: attributes); styles from this server plus inline `style` attributes and the style elements
#: Plotly adds; data and blob images (downloads, the SVG export); never inside a frame.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: Everything else (JSON, SVG, text) is data: opened on its own it runs nothing.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
#: The interactive API docs: Swagger UI from this server's vendored copy (nothing from a CDN)
#: plus the one inline script FastAPI writes to start it.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
            "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")
#: Analyses are private to whoever holds the link: no shared or browser cache keeps them.
NO_STORE = b"private, no-store"


def split_host(host: str) -> str:
    """The name or address of a Host header, without its port (IPv6 keeps no brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    """Whether a request addressed to `host_header` is meant for this server.

    An IP address is always accepted: DNS rebinding needs a *name* that an attacker's DNS
    re-points at this server, and a browser sends that name. `localhost` never goes to DNS.
    Other names must be listed (`*.example.com` for any subdomain; `*` accepts every name,
    e.g. behind a proxy that checks them)."""
    if "*" in allowed:
        return True
    host = split_host(host_header).rstrip(".")
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return True
    return any(host == name or (name.startswith("*.") and host.endswith(name[1:]))
               for name in allowed)


class SecurityMiddleware:
    """Refuses requests whose Host is not this server's (400), then adds the framing, content
    and cache headers: `PAGE_CSP` on pages, `DATA_CSP` on the rest, and
    `Cache-Control: private, no-store` on everything but the vendored static files."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str]) -> None:
        self.app = app
        self.allowed_hosts = frozenset(h.strip().lower().rstrip(".") for h in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        if not host_allowed(host, self.allowed_hosts):
            shown = host[:100] or "(none)"
            await _refuse(send, 400, "host_not_allowed",
                          f"Host {shown!r} is not a name of this server; add it to "
                          "CKPT_ALLOWED_HOSTS (a page that reaches this server under another "
                          "name could be a DNS rebinding attack)")
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(list(message.get("headers", [])),
                                                           path)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_security_headers(headers: list[tuple[bytes, bytes]],
                          path: str) -> list[tuple[bytes, bytes]]:
    ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if path.startswith(DOCS_PATHS):
        csp = DOCS_CSP
    elif ctype.startswith(b"text/html"):
        csp = PAGE_CSP
    else:
        csp = DATA_CSP
    out = [(k, v) for k, v in headers
           if k.lower() not in (b"content-security-policy", b"x-frame-options")]
    out += [(b"content-security-policy", csp.encode()), (b"x-frame-options", b"DENY")]
    if not path.startswith("/static/"):
        out = [(k, v) for k, v in out if k.lower() != b"cache-control"]
        out.append((b"cache-control", NO_STORE))
    return out


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "line": None, "message": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": with_security_headers([
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")], "")})
    await send({"type": "http.response.body", "body": body})
