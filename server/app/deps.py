"""Dependencies of the routes, as `Annotated` aliases."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Header, Request

from server.layout import LayoutCache

from .errors import ApiError
from .limits import RateLimiter, key_allowed
from .service import AnalysisService
from .settings import ServerSettings


def _service(request: Request) -> AnalysisService:
    service: AnalysisService = request.app.state.service
    return service


def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def _layouts(request: Request) -> LayoutCache:
    layouts: LayoutCache = request.app.state.layouts
    return layouts


def _submitter(
    request: Request,
    x_api_key: Annotated[str | None, Header(description="API key, when the server needs one")]
    = None,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """Checks the API key (when keys are configured) and the per-client submission rate."""
    settings = _settings(request)
    offered = x_api_key
    if offered is None and authorization and authorization.lower().startswith("bearer "):
        offered = authorization[7:].strip()
    if not key_allowed(settings.api_keys, offered):
        raise ApiError(401, "api_key_required", "this server needs an API key for submissions: "
                       "send it as X-API-Key or Authorization: Bearer",
                       headers={"WWW-Authenticate": "Bearer"})
    client = offered or (request.client.host if request.client else "unknown")
    limiter: RateLimiter = request.app.state.rate_limiter
    wait_s = limiter.allow(client)
    if wait_s:
        raise ApiError(429, "rate_limited", f"too many submissions; retry in {wait_s:.0f} s",
                       headers={"Retry-After": str(max(1, math.ceil(wait_s)))})
    return client


Service = Annotated[AnalysisService, Depends(_service)]
Config = Annotated[ServerSettings, Depends(_settings)]
Layouts = Annotated[LayoutCache, Depends(_layouts)]
Submitter = Annotated[str, Depends(_submitter)]
OwnerToken = Annotated[str | None, Header(alias="X-Owner-Token",
                                          description="The owner token from the submission")]
