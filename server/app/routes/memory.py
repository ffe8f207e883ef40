"""Memory views of an analysis (`ckpt_core.memory`, `ckpt_core.charts`): timeline, ledgers."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from ..core import core_function
from ..deps import Service
from ..errors import ApiError
from ..payloads import ERRORS
from ..service import AnalysisService

router = APIRouter(prefix="/api/analyses/{analysis_id}", tags=["memory"])

JSON_OK: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}}}, **ERRORS}


def _memory(service: AnalysisService, analysis_id: str) -> dict[str, Any]:
    job = service.job(analysis_id)
    cached = service.cache.memory(job.id)
    if cached is None:
        cached = service.cache.put_memory(job.id, core_function(
            "ckpt_core.memory", "analyze_memory")(service.document(job)).to_dict())
    return dict(cached)


@router.get("/memory", responses=JSON_OK)
async def get_memory(analysis_id: str, service: Service) -> Response:
    """Memory summary, per-step timelines, saved and recompute ledgers, module rollup."""
    body = await run_in_threadpool(_memory, service, analysis_id)
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _timeline_figure(service: AnalysisService, analysis_id: str, region: int) -> str:
    memory = _memory(service, analysis_id)
    timeline_figure = core_function("ckpt_core.charts", "timeline_figure")
    try:
        figure: str = timeline_figure(memory, region=region).to_json()
    except ValueError as e:
        raise ApiError(404, "not_found", f"region: {e}") from e
    return figure


@router.get("/figures/timeline", responses=JSON_OK)
async def get_timeline_figure(analysis_id: str, service: Service,
                              region: Annotated[int, Query(
                                  ge=-1, le=10_000, description=(
                                      "The region; -1: the whole program across graph breaks "
                                      "(each region's forward in order, then their backwards "
                                      "in reverse)"))] = 0) -> Response:
    """The memory timeline of one region, or of the whole program, as a plotly figure (JSON)."""
    body = await run_in_threadpool(_timeline_figure, service, analysis_id, region)
    return Response(body, media_type="application/json")
