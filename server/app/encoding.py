"""Large JSON bodies (documents, graphs) compressed once and sent gzip-encoded when accepted."""

from __future__ import annotations

import gzip
from dataclasses import dataclass

from fastapi import Request, Response


@dataclass(frozen=True)
class Body:
    """A response body kept both plain and gzip-compressed."""

    raw: bytes
    gz: bytes

    @classmethod
    def of(cls, raw: bytes) -> Body:
        return cls(raw, gzip.compress(raw, compresslevel=5))


def accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def send(body: Body, request: Request, media_type: str = "application/json") -> Response:
    if accepts_gzip(request):
        return Response(body.gz, media_type=media_type,
                        headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return Response(body.raw, media_type=media_type, headers={"Vary": "Accept-Encoding"})
