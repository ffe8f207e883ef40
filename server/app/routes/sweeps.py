"""Memory-budget sweeps: one snippet analysed at several budgets, as one job."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from server.store import FINAL_STATUSES

from ..core import core_function
from ..deps import OwnerToken, Service, Submitter
from ..errors import ApiError
from ..models import AnalysisStatus, SubmissionResponse, SweepRequest
from ..payloads import ERRORS, parse_submission, status_body, submission_response
from ..service import AnalysisService

router = APIRouter(prefix="/api/sweeps", tags=["sweeps"])

BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": SweepRequest.model_json_schema()}}}}


@router.post("", status_code=202, response_model=SubmissionResponse, openapi_extra=BODY,
             responses=ERRORS)
async def post_sweep(request: Request, response: Response, service: Service,
                       _client: Submitter) -> SubmissionResponse:
    req = await parse_submission(request, SweepRequest)
    if not isinstance(req, SweepRequest):  # pragma: no cover - parse_submission's contract
        raise TypeError(type(req))
    budgets = sorted({float(b) for b in req.budgets}, reverse=True)
    if any(not 0.0 <= b <= 1.0 for b in budgets):
        raise ApiError(422, "invalid_request", "budgets: every budget must be in [0, 1]")
    sub = await run_in_threadpool(service.sweeps.submit, req.source, req.settings, req.name,
                                  budgets, req.torch_version)
    response.headers["Location"] = f"/api/sweeps/{sub.share_id}"
    return submission_response(sub, base="/api/sweeps")


@router.delete("/{sweep_id}", status_code=204, responses=ERRORS)
def delete_sweep(sweep_id: str, service: Service, owner_token: OwnerToken = None) -> Response:
    """Delete the sweep's link (and the sweep when no other link shares it). A sweep still
    running is stopped; analyses it had not finished fail with that reason, finished ones keep
    their own links."""
    service.delete(sweep_id, owner_token, "sweep")
    return Response(status_code=204)


@router.get("/{sweep_id}", responses={200: {"model": AnalysisStatus}, **ERRORS})
def get_sweep(sweep_id: str, service: Service) -> Response:
    """The sweep's status; when done, `result` holds the sweep document: one point per budget
    (saved bytes, recompute FLOPs, peak, `non_monotonic`) with `analysis_id`/`share_url`, the
    link of that budget's complete analysis."""
    job = service.sweeps.refresh(service.job(sweep_id, "sweep"))
    body: dict[str, Any] = status_body(sweep_id, job).model_dump(mode="json")
    body["status_url"] = f"/api/sweeps/{sweep_id}"
    body["budgets"] = job.options.get("sweep_budgets", [])
    if job.status == "done":
        body["result"] = service.document(job)
    elif job.status not in FINAL_STATUSES:
        body["message"], body["progress"] = service.sweeps.progress(job)
    return Response(json.dumps(body), media_type="application/json")

def _pareto(service: AnalysisService, sweep_id: str) -> str:
    job = service.job(sweep_id, "sweep")
    pareto_figure = core_function("ckpt_core.charts", "pareto_figure")
    figure: str = pareto_figure(service.document(job)).to_json()
    return figure


@router.get("/{sweep_id}/figures/pareto", responses={200: {"content": {"application/json": {}}},
                                                    **ERRORS})
async def get_pareto_figure(sweep_id: str, service: Service) -> Response:
    """Saved activation bytes against recompute FLOPs per budget (plotly figure JSON)."""
    body = await run_in_threadpool(_pareto, service, sweep_id)
    return Response(body, media_type="application/json")
