"""The FastAPI application: composes settings, store, job backend, layout cache and routers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from server.jobs import JobBackend
from server.layout import LayoutCache
from server.store import Store

from . import errors
from .backend import make_backend
from .fastpath import FastPathMiddleware
from .limits import LimitsMiddleware, RateLimiter
from .routes import (
    analyses,
    diffs,
    examples,
    exports,
    graphs,
    health,
    memory,
    pages,
    sweeps,
    whatifs,
)
from .security import SecurityMiddleware
from .service import AnalysisService
from .settings import ServerSettings
from .streams import StreamSlots

log = logging.getLogger("ckpt.server")

DESCRIPTION = """Compile PyTorch snippets with `torch.compile` and see what is saved for backward,
what is recomputed, and why. Submit with `POST /api/analyses`, follow `events_url`, then read
`/api/analyses/{id}/document` and its graphs. Share ids are random; anyone with the link can
view an analysis, only the owner token can delete it or regenerate its link. Errors are
`{code, message, line}`."""


def freeze_heap() -> None:
    """Exempt what start-up left alive (modules, the app, its routes) from the cyclic garbage
    collector, once. Freezing again after each parsed document, inside the request that parsed
    it, cost that request a full collection (~15 ms for a 12-layer GPT) and made no view request
    faster: none triggers a full collection either way (`bench/bench_heap.py`)."""
    gc.collect()
    gc.freeze()


def create_app(settings: ServerSettings | None = None,
               backend: JobBackend | None = None) -> FastAPI:
    """The app; `backend` replaces the configured job backend (tests pass a fake)."""
    config = (settings or ServerSettings.from_env()).resolved()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(config.database_url, config.blob_url)
        jobs = backend if backend is not None else make_backend(config)
        service = AnalysisService(config, store, jobs)
        app.state.service = service
        app.state.layouts = LayoutCache(store.blobs)
        service.start()
        freeze_heap()
        log.info("ckptscope serving with %s; data in %s", type(jobs).__name__, config.data_dir)
        try:
            yield
        finally:
            service.stop()
            jobs.close()
            store.close()

    # /docs is served by `routes.pages` from vendored Swagger UI files, never from a CDN.
    app = FastAPI(title="ckptscope", version="1", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = config
    app.state.rate_limiter = RateLimiter(config.submissions_per_minute)
    app.state.stream_slots = StreamSlots(config.max_streams_per_client)
    errors.install(app)
    for module in (analyses, whatifs, graphs, exports, memory, sweeps, diffs, examples, health,
                   pages):
        app.include_router(module.router)
    app.add_middleware(FastPathMiddleware)
    app.add_middleware(LimitsMiddleware, max_body_bytes=config.max_request_bytes,
                       max_snippet_bytes=config.max_snippet_bytes,
                       allowed_origins=config.allowed_origins)
    app.add_middleware(SecurityMiddleware, allowed_hosts=config.allowed_hosts)  # outermost
    return app
