"""Diffs of two or more analyses (`ckpt_core.diff`)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from ..core import core_function
from ..deps import Service
from ..errors import ApiError
from ..payloads import ERRORS
from ..service import AnalysisService

router = APIRouter(prefix="/api/diffs", tags=["diffs"])

MAX_DIFFED = 4


def _diff(service: AnalysisService, ids: list[str]) -> bytes:
    diff = core_function("ckpt_core.diff", "diff")
    docs = [service.document(service.job(i)) for i in ids]
    labels = [f"{doc.get('snippet_name', 'snippet.py')} ({i[:6]})" for doc, i in zip(
        docs, ids, strict=True)]
    result = diff(docs, labels=labels)
    return json.dumps(result.to_dict(), separators=(",", ":")).encode("utf-8")


@router.get("", responses={200: {"content": {"application/json": {}},
                                 "description": "the GraphDiff JSON"}, **ERRORS})
async def get_diff(service: Service, ids: Annotated[str, Query(
        max_length=400, description="2 to 4 analysis ids, comma-separated, in order")]) -> Response:
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    if not 2 <= len(wanted) <= MAX_DIFFED:
        raise ApiError(422, "invalid_request",
                       f"ids: give 2 to {MAX_DIFFED} analysis ids separated by commas")
    body = await run_in_threadpool(_diff, service, wanted)
    return Response(body, media_type="application/json")
