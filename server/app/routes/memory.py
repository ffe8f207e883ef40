"""Memory views of an analysis (`ckpt_core.memory`, `ckpt_core.charts`): timeline, ledgers."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from ..deps import Service
from ..service import AnalysisService
from .analyses import ERRORS
from .diffs import core_function

router = APIRouter(prefix="/api/analyses/{analysis_id}", tags=["memory"])


def _plain(value: Any) -> Any:
    return value.to_dict() if hasattr(value, "to_dict") else value


def _memory(service: AnalysisService, analysis_id: str) -> dict[str, Any]:
    job = service.job(analysis_id)
    key = (job.id, "memory")
    cached = service.views.get(key)
    if cached is None:
        doc = service.document(job)
        if isinstance(doc.get("memory"), dict):
            cached = doc["memory"]
        else:
            cached = _plain(core_function("ckpt_core.memory", "analyze_memory")(doc))
        service.views.put(key, cached)
    return dict(cached)


@router.get("/memory", responses={200: {"content": {"application/json": {}}}, **ERRORS})
async def get_memory(analysis_id: str, service: Service) -> Response:
    """Memory timeline, saved-tensor ledgers and the per-module rollup."""
    body = await run_in_threadpool(_memory, service, analysis_id)
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _timeline_figure(service: AnalysisService, analysis_id: str) -> dict[str, Any]:
    memory = _memory(service, analysis_id)
    figure: dict[str, Any] = _plain(core_function("ckpt_core.charts", "timeline_figure")(memory))
    return figure


@router.get("/figures/timeline", responses={200: {"content": {"application/json": {}}},
                                            **ERRORS})
async def get_timeline_figure(analysis_id: str, service: Service) -> Response:
    """The memory timeline as a plotly figure (JSON)."""
    body = await run_in_threadpool(_timeline_figure, service, analysis_id)
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")
