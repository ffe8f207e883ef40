"""Memory-budget sweeps: one snippet analysed at several budgets, as one job."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from ..deps import Service, Submitter
from ..errors import ApiError
from ..models import AnalysisStatus, SubmissionResponse, SweepRequest
from .analyses import ERRORS, parse_submission, status_body, submission_response

router = APIRouter(prefix="/api/sweeps", tags=["sweeps"])

BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": SweepRequest.model_json_schema()}}}}


@router.post("", status_code=202, response_model=SubmissionResponse, openapi_extra=BODY,
             responses=ERRORS)
async def submit_sweep(request: Request, response: Response, service: Service,
                       _client: Submitter) -> SubmissionResponse:
    req = await parse_submission(request, SweepRequest)
    if not isinstance(req, SweepRequest):  # pragma: no cover - parse_submission's contract
        raise TypeError(type(req))
    budgets = sorted({float(b) for b in req.budgets}, reverse=True)
    if any(not 0.0 <= b <= 1.0 for b in budgets):
        raise ApiError(422, "invalid_request", "budgets: every budget must be in [0, 1]")
    sub = await run_in_threadpool(service.submit, req.source, req.settings, req.name,
                                  kind="sweep", options={"sweep_budgets": budgets})
    response.headers["Location"] = f"/api/sweeps/{sub.share_id}"
    return submission_response(sub, base="/api/sweeps")


@router.get("/{sweep_id}", responses={200: {"model": AnalysisStatus}, **ERRORS})
def get_sweep(sweep_id: str, service: Service) -> Response:
    """The sweep's status; when done, `result` holds the sweep document."""
    job = service.job(sweep_id, "sweep")
    body: dict[str, Any] = status_body(sweep_id, job).model_dump(mode="json")
    body["status_url"] = f"/api/sweeps/{sweep_id}"
    if job.status == "done":
        body["result"] = service.document(job)
    return Response(json.dumps(body), media_type="application/json")
