"""Policy what-ifs: `POST /api/analyses/{id}/whatif` → a new analysis (`server.app.whatifs`)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from ..deps import Service, Submitter
from ..models import WhatIfRequest, WhatIfResponse
from ..payloads import ERRORS, submission_response

router = APIRouter(prefix="/api/analyses", tags=["what-if"])


@router.post("/{analysis_id}/whatif", status_code=202, response_model=WhatIfResponse,
             responses=ERRORS)
async def post_whatif(analysis_id: str, req: WhatIfRequest, response: Response,
                      service: Service, _client: Submitter) -> WhatIfResponse:
    """Change what the analysis saves or recomputes: the overrides become the checkpoint tags
    of its captured joint graph and only torch's partitioner runs again (no re-trace). The
    answer is a new analysis (follow it like any other; its document records `overrides` and a
    `whatif` key with notes, deltas, new hazards and the exported policy code), cached by
    content. A bad override (unknown op, a selector matching nothing, a policy on a
    placeholder) is a 422 naming it; an analysis not finished yet is a 409."""
    overrides = [o.model_dump() for o in req.overrides]
    result = await run_in_threadpool(service.whatif, analysis_id, overrides, req.settings)
    sub = result.submission
    response.headers["Location"] = f"/api/analyses/{sub.share_id}"
    base = submission_response(sub)
    return WhatIfResponse(
        **base.model_dump(), base_id=analysis_id,
        diff_url=f"/api/diffs?ids={analysis_id},{sub.share_id}",
        compare_url=f"/diff/{analysis_id}..{sub.share_id}",
        changed_ops=result.changed_ops, notes=list(result.notes))
