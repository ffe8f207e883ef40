"""Liveness and readiness."""

from __future__ import annotations

import shutil

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from server.diskspace import free_bytes
from server.jobs import ServesQueues

from ..deps import Service
from ..models import Health, TorchVersions
from ..settings import ServerSettings

router = APIRouter(tags=["health"])


@router.get("/api/torch-versions", response_model=TorchVersions, tags=["analyses"],
            summary="The torch versions analyses can run on")
def torch_versions(service: Service) -> TorchVersions:
    """The server's own torch, then each version a live `ckpt worker --python` serves: pass one
    as `torch_version` when submitting to run the same snippet on that torch."""
    return TorchVersions(default=service.submissions.torch_version,
                         available=service.submissions.torch_versions())


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request, service: Service) -> JSONResponse:
    """Ready when the database answers and Graphviz is installed. `checks` lists each job
    queue ("queue cpu", "queue cuda") with its live consumers and waiting jobs. With the
    sandboxed worker embedded, `checks` also says how many warm sandboxes wait for a job per
    consumer (a job submitted while none is warm waits for one to warm: seconds, not
    milliseconds)."""
    checks = {"backend": type(service.backend).__name__}
    if isinstance(service.backend, ServesQueues):
        pending = service.backend.queue_pending()
        for queue, names in service.backend.queue_consumers().items():
            waiting = f"; {pending.get(queue, 0)} waiting" if queue in pending else ""
            checks[f"queue {queue}"] = (
                f"{len(names)} consumer{'s' if len(names) != 1 else ''}: {', '.join(names)}"
                if names else "no consumer: jobs for it are refused") + waiting
    checks["live streams"] = str(request.app.state.stream_slots.held())
    pool_status = getattr(service.backend, "pool_status", None)
    if callable(pool_status):
        checks.update({f"sandboxes {name}": text for name, text in pool_status().items()})
    try:
        service.store.ping()
        checks["database"] = "ok"
    except SQLAlchemyError as e:
        checks["database"] = f"unavailable: {type(e).__name__}"
    checks["graphviz"] = "ok" if shutil.which("dot") else "missing: install graphviz"
    config: ServerSettings = request.app.state.settings
    space = free_bytes(config.data_dir)
    disk_ok = True
    if space is not None:
        free, total = space
        disk_ok = free >= config.min_free_bytes
        checks["disk"] = (f"{free / 2**30:.2f} GiB free of {total / 2**30:.2f} GiB"
                          + ("" if disk_ok else f"; full: under {config.min_free_bytes >> 20} "
                             "MiB free, new analyses are refused (507)"))
    ok = checks["database"] == "ok" and checks["graphviz"] == "ok" and disk_ok
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)
