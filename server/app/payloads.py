"""Request and response bodies shared by the routers: submissions in (JSON or multipart), job
status and submission answers out, and the error responses every route documents."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from server.redact import redact
from server.store import JobRecord

from .errors import ApiError, validation_message
from .models import AnalysisRequest, AnalysisStatus, ErrorBody, SubmissionResponse
from .submission import Submission

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503, 507)}



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
    error = job.error
    return AnalysisStatus(
        id=share_id, kind="sweep" if job.kind == "sweep" else "analysis", status=job.status,
        stage=job.stage, progress=job.progress, message=redact(job.message),
        settings=job.settings,
        snippet_name=job.snippet_name, created_at=iso(job.created_at_s) or "",
        finished_at=iso(job.finished_at_s), torch_version=job.torch_version, device=job.device,
        schema_version=job.schema_version, share_url=f"/a/{share_id}",
        document_url=f"/api/analyses/{share_id}/document", summary=job.summary,
        error=ErrorBody(code=str(error.get("code", "error")),
                        message=redact(str(error.get("message", ""))),
                        line=error.get("line"), type=error.get("type"),
                        details=redact(str(error["details"])) if error.get("details") else None)
                        if error else None)


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
    for field in ("name", "budgets", "settings", "torch_version"):
        value = form.get(field)
        if not isinstance(value, str):
            continue
        if field in ("name", "torch_version"):
            data[field] = value or None if field == "torch_version" else value
            continue
        try:
            data[field] = json.loads(value) if value.strip() else None
        except (ValueError, RecursionError) as e:  # not JSON, nested or a number too long
            raise ApiError(422, "invalid_request", f"{field}: not valid JSON: {e}") from e
    if data.get("settings") is None:
        data.pop("settings", None)
    return data


