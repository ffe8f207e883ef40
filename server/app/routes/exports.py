"""An analysis in other tools' formats: Model Explorer's JSON graph and its node-data overlays."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from ckpt_core.ir import Analysis
from ckpt_core.model_explorer import to_model_explorer

from ..deps import Service
from ..payloads import ERRORS
from ..service import AnalysisService

router = APIRouter(prefix="/api/analyses", tags=["exports"])


class Overlay(StrEnum):
    status = "status"
    bytes = "bytes"


def _export(service: AnalysisService, analysis_id: str, overlay: str | None) -> bytes:
    job = service.job(analysis_id)
    out = to_model_explorer(Analysis.from_dict(service.document(job)))
    data = out.node_data[overlay] if overlay else out.graphs
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


@router.get("/{analysis_id}/export/model-explorer", responses={
    200: {"content": {"application/json": {}},
          "description": "Model Explorer's JSON graph collection, or one node-data overlay"},
    **ERRORS}, summary="The analysis for Google's Model Explorer")
async def model_explorer(
    analysis_id: str, service: Service,
    overlay: Annotated[Overlay | None, Query(description=(
        "a node-data overlay instead of the graphs: `status` (colour by status) or `bytes`"))]
    = None,
) -> Response:
    """The forward, backward and joint graphs as a Model Explorer graph collection (module
    paths as layers; op, shape, dtype, bytes, policy, status and why on every node), as
    `ckpt export --model-explorer` writes it; with `?overlay=`, a node-data file to add in
    Model Explorer's node-data panel. Served as a download."""
    body = await run_in_threadpool(_export, service, analysis_id,
                                   overlay.value if overlay else None)
    name = f"{analysis_id}.{overlay.value}.nodedata.json" if overlay else f"{analysis_id}.json"
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
