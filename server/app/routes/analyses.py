"""Analyses: submit, follow (SSE or polling), read the document, delete, regenerate the link."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from server.store import FINAL_STATUSES, JobRecord

from ..deps import OwnerToken, Service, Submitter
from ..encoding import Body, send
from ..errors import ApiError, validation_message
from ..models import (
    AnalysisRequest,
    AnalysisStatus,
    ErrorBody,
    JobEventBody,
    LinkResponse,
    Status,
    SubmissionResponse,
)
from ..service import AnalysisService, Submission

router = APIRouter(prefix="/api/analyses", tags=["analyses"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 415, 422, 429)}

MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "the snippet file"},
        "settings": {"type": "string", "description": "settings as a JSON object string"},
        "name": {"type": "string"},
    },
}
BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": AnalysisRequest.model_json_schema()},
    "multipart/form-data": {"schema": MULTIPART_SCHEMA},
}}}


def iso(t_s: float | None) -> str | None:
    return datetime.fromtimestamp(t_s, UTC).isoformat() if t_s is not None else None


def submission_response(sub: Submission, base: str = "/api/analyses") -> SubmissionResponse:
    status_url = f"{base}/{sub.share_id}"
    return SubmissionResponse(
        id=sub.share_id, share_url=f"/a/{sub.share_id}", status_url=status_url,
        events_url=f"/api/analyses/{sub.share_id}/events",
        document_url=f"/api/analyses/{sub.share_id}/document", owner_token=sub.owner_token,
        cached=sub.cached)


def status_body(share_id: str, job: JobRecord) -> AnalysisStatus:
    status: Status = "running"
    if job.status in ("queued", "done", "failed", "cancelled"):
        status = job.status  # type: ignore[assignment]
    error = job.error or {}
    return AnalysisStatus(
        id=share_id, kind="sweep" if job.kind == "sweep" else "analysis", status=status,
        stage=job.stage, progress=job.progress, message=job.message, settings=job.settings,
        snippet_name=job.snippet_name, created_at=iso(job.created_at_s) or "",
        finished_at=iso(job.finished_at_s), torch_version=job.torch_version, device=job.device,
        schema_version=job.schema_version, share_url=f"/a/{share_id}",
        document_url=f"/api/analyses/{share_id}/document", summary=job.summary,
        error=ErrorBody(code=str(error.get("code", "error")), message=str(error.get("message", "")),
                        line=error.get("line"), type=error.get("type")) if job.error else None)


async def parse_submission(request: Request, model: type[AnalysisRequest]) -> AnalysisRequest:
    """The request as `model`, from a JSON body or a multipart upload."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        data = await _form_fields(request)
    elif ctype in ("application/json", ""):
        raw = await request.body()
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise ApiError(422, "invalid_request", "request body is not UTF-8 text") from e
        except json.JSONDecodeError as e:
            raise ApiError(422, "invalid_request", f"request body is not JSON: {e}") from e
        except RecursionError as e:
            raise ApiError(422, "invalid_request", "request body is nested too deeply") from e
        except ValueError as e:  # Python refuses integers over 4,300 digits
            raise ApiError(422, "invalid_request", "request body: a number has more than "
                           "4300 digits") from e
    else:
        raise ApiError(415, "unsupported_media_type",
                       "send application/json or multipart/form-data (a `file` field)")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ApiError(422, "invalid_request", validation_message(list(e.errors()))) from e


async def _form_fields(request: Request) -> dict[str, Any]:
    form = await request.form(max_files=1, max_fields=16)
    data: dict[str, Any] = {}
    upload = form.get("file")
    if isinstance(upload, UploadFile):
        content = await upload.read()
        try:
            data["source"] = content.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ApiError(422, "invalid_request", "file: the snippet is not UTF-8 text") from e
        if upload.filename:
            base = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
            data["name"] = re.sub(r"[^A-Za-z0-9_.\- ]", "_", base)[:128] or "snippet.py"
    elif isinstance(form.get("source"), str):
        data["source"] = form.get("source")
    for field in ("name", "budgets", "settings"):
        value = form.get(field)
        if not isinstance(value, str):
            continue
        if field == "name":
            data["name"] = value
            continue
        try:
            data[field] = json.loads(value) if value.strip() else None
        except (ValueError, RecursionError) as e:  # not JSON, nested or a number too long
            raise ApiError(422, "invalid_request", f"{field}: not valid JSON: {e}") from e
    if data.get("settings") is None:
        data.pop("settings", None)
    return data


@router.post("", status_code=202, response_model=SubmissionResponse, openapi_extra=BODY,
             responses=ERRORS, summary="Submit a snippet for analysis")
async def submit_analysis(request: Request, response: Response, service: Service,
                          _client: Submitter) -> SubmissionResponse:
    """Static checks run first (a syntax error is a 422 with its line); an identical snippet
    with identical settings, torch version and device is answered from the cache (`cached`)
    without a new job, under a new share id so that strangers' links are never linked."""
    req = await parse_submission(request, AnalysisRequest)
    sub = await run_in_threadpool(service.submit, req.source, req.settings, req.name)
    response.headers["Location"] = f"/api/analyses/{sub.share_id}"
    return submission_response(sub)


@router.get("/{analysis_id}", response_model=AnalysisStatus, responses=ERRORS)
async def get_analysis(analysis_id: str, service: Service) -> Response:
    job = service.finished_job(analysis_id)  # finished: answered from memory
    if job is not None:
        key = (job.id, "status", analysis_id)
        body = service.views.get(key)
        if body is None:
            body = status_body(analysis_id, job).model_dump_json().encode("utf-8")
            service.views.put(key, body)
        return Response(body, media_type="application/json")
    job = await run_in_threadpool(service.job, analysis_id)
    return Response(status_body(analysis_id, job).model_dump_json(),
                    media_type="application/json")


@router.get("/{analysis_id}/document", responses={
    200: {"content": {"application/json": {}}, "description": "The analysis JSON (schema v1)"},
    **ERRORS})
def get_document(analysis_id: str, request: Request, service: Service) -> Response:
    job = service.job(analysis_id)
    body = service.documents.get(("body", job.id, job.snippet_name))
    if body is None:
        body = Body.of(service.document_bytes(job))
        service.documents.put(("body", job.id, job.snippet_name), body)
    return send(body, request)


def _event_body(e: Any, since_s: float) -> dict[str, Any]:
    """An event as one link's submitter sees it: a cached answer's events happened for its
    first submitter, before this one submitted (`since_s`), and their times are not ours."""
    return {"seq": e.seq, "stage": e.stage, "progress": e.progress, "message": e.message,
            "at": max(e.at_s, since_s)}


#: longest wait between two looks at a job's events; a change recorded by this server wakes the
#: stream at once (`service.changes`)
SSE_POLL_S = 0.25


async def _sse(service: AnalysisService, job_id: str, after: int,
               since_s: float) -> AsyncIterator[bytes]:
    idle_s = 0.0
    while True:
        seen = service.changes.version(job_id)  # before reading: a change after it wakes us
        await run_in_threadpool(service.sync, job_id)
        events = await run_in_threadpool(service.store.events, job_id, after)
        for e in events:
            after = e.seq + 1
            data = json.dumps(_event_body(e, since_s))
            yield f"id: {e.seq}\nevent: {e.stage}\ndata: {data}\n\n".encode()
            if e.stage in FINAL_STATUSES:
                return
        if not events:
            job = await run_in_threadpool(service.store.job, job_id)
            if job is None:
                return
        if idle_s >= 15.0:
            idle_s = 0.0
            yield b": keep-alive\n\n"
        started = time.monotonic()
        await service.changes.wait(job_id, seen, SSE_POLL_S)
        idle_s = 0.0 if events else idle_s + time.monotonic() - started


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
    done, failed or cancelled. `?format=json` (or `Accept: application/json`) polls instead."""
    job = await run_in_threadpool(service.job, analysis_id)
    wants_json = format == "json" or (
        format is None and "application/json" in request.headers.get("accept", "")
        and "text/event-stream" not in request.headers.get("accept", ""))
    if wants_json:
        events = await run_in_threadpool(service.store.events, job.id, after)
        body = [JobEventBody(**_event_body(e, job.created_at_s)).model_dump() for e in events]
        return Response(json.dumps(body), media_type="application/json")
    if last_event_id and last_event_id.isdigit():
        after = int(last_event_id) + 1
    return StreamingResponse(_sse(service, job.id, after, job.created_at_s),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


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
