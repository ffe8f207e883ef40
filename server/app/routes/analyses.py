"""Analyses: submit, follow (SSE or polling), read the document, delete, regenerate the link."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from ..deps import OwnerToken, Service, Submitter
from ..encoding import Body, send
from ..models import (
    AnalysisRequest,
    AnalysisStatus,
    JobEventBody,
    LinkResponse,
    SubmissionResponse,
)
from ..payloads import ERRORS, parse_submission, status_body, submission_response
from ..streams import LiveStream, StreamSlots, event_body, job_events

router = APIRouter(prefix="/api/analyses", tags=["analyses"])

MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "the snippet file"},
        "settings": {"type": "string", "description": "settings as a JSON object string"},
        "name": {"type": "string"},
        "torch_version": {"type": "string", "description": "run on this installed torch"},
    },
}
BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": AnalysisRequest.model_json_schema()},
    "multipart/form-data": {"schema": MULTIPART_SCHEMA},
}}}


@router.post("", status_code=202, response_model=SubmissionResponse, openapi_extra=BODY,
             responses=ERRORS, summary="Submit a snippet for analysis")
async def submit_analysis(request: Request, response: Response, service: Service,
                          _client: Submitter) -> SubmissionResponse:
    """Static checks run first (a syntax error is a 422 with its line); an identical snippet
    with identical settings, torch version and device is answered from the cache (`cached`)
    without a new job, under a new share id so that strangers' links are never linked."""
    req = await parse_submission(request, AnalysisRequest)
    sub = await run_in_threadpool(service.submit, req.source, req.settings, req.name,
                                  req.torch_version)
    response.headers["Location"] = f"/api/analyses/{sub.share_id}"
    return submission_response(sub)


@router.get("/{analysis_id}", response_model=AnalysisStatus, responses=ERRORS)
async def get_analysis(analysis_id: str, service: Service) -> Response:
    job = service.finished_job(analysis_id)  # finished: answered from memory
    if job is not None:
        path = f"/api/analyses/{analysis_id}"
        body = service.cache.response(path)
        if not isinstance(body, bytes):
            body = status_body(analysis_id, job).model_dump_json().encode("utf-8")
            service.cache.put_response(path, job.id, analysis_id, body)
        return Response(body, media_type="application/json")
    job = await run_in_threadpool(service.job, analysis_id)
    return Response(status_body(analysis_id, job).model_dump_json(),
                    media_type="application/json")


@router.get("/{analysis_id}/document", responses={
    200: {"content": {"application/json": {}}, "description": "The analysis JSON (schema v1)"},
    **ERRORS})
def get_document(analysis_id: str, request: Request, service: Service) -> Response:
    job = service.job(analysis_id)
    body = service.cache.document_body(job.id, job.snippet_name)
    if body is None:
        body = service.cache.put_document_body(job.id, job.snippet_name,
                                               Body.of(service.document_bytes(job)))
    return send(body, request)


@router.get("/{analysis_id}/events", responses={
    200: {"description": "text/event-stream, or a JSON list with ?format=json",
          "content": {"text/event-stream": {}, "application/json": {}}}, **ERRORS})
async def get_events(
    analysis_id: str, request: Request, service: Service,
    format: Annotated[str | None, Query(pattern="^(json|sse)$")] = None,
    after: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """One `data:` JSON event per stage (stage, progress, message); the stream ends after
    done, failed or cancelled. `?format=json` (or `Accept: application/json`) polls instead.
    A client may hold `CKPT_MAX_STREAMS_PER_CLIENT` streams at once (429 beyond)."""
    job = await run_in_threadpool(service.job, analysis_id)
    wants_json = format == "json" or (
        format is None and "application/json" in request.headers.get("accept", "")
        and "text/event-stream" not in request.headers.get("accept", ""))
    if wants_json:
        events = await run_in_threadpool(service.store.events, job.id, after)
        body = [JobEventBody(**event_body(e, job.created_at_s)).model_dump() for e in events]
        return Response(json.dumps(body), media_type="application/json")
    if last_event_id and last_event_id.isdigit():
        after = int(last_event_id) + 1
    slots: StreamSlots = request.app.state.stream_slots
    release = slots.take(request.client.host if request.client else "unknown")
    return LiveStream(job_events(service, job.id, after, job.created_at_s), release)


@router.delete("/{analysis_id}", status_code=204, responses=ERRORS)
def delete_analysis(analysis_id: str, service: Service, owner_token: OwnerToken = None) -> Response:
    """Delete the analysis (its link; the result too when no other link shares it)."""
    service.delete(analysis_id, owner_token)
    return Response(status_code=204)


@router.post("/{analysis_id}/link", response_model=LinkResponse, responses=ERRORS)
def regenerate_link(analysis_id: str, service: Service,
                    owner_token: OwnerToken = None) -> LinkResponse:
    """A new share id for the analysis; the old link stops working, the owner token stays."""
    new_id = service.relink(analysis_id, owner_token)
    return LinkResponse(id=new_id, share_url=f"/a/{new_id}",
                        status_url=f"/api/analyses/{new_id}")
