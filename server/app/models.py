"""Request and response bodies of the API, named for what they are."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ckpt_core.settings import HELP
from server.store import JobStatus

SNIPPET_NAME_PATTERN = r"^[A-Za-z0-9_.\- ]{1,128}$"

SETTINGS_DESCRIPTION = "Analysis settings (all optional):\n" + "\n".join(
    f"- `{k}`: {v}" for k, v in HELP.items())


class AnalysisRequest(BaseModel):
    """A snippet to analyse: its text, settings and a display name."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="The snippet's Python source (≤ 256 KiB).")
    settings: dict[str, Any] = Field(default_factory=dict, description=SETTINGS_DESCRIPTION)
    name: str = Field(default="snippet.py", pattern=SNIPPET_NAME_PATTERN,
                      description="How the snippet is labelled in the result.")


class SweepRequest(AnalysisRequest):
    """A snippet analysed at several memory budgets."""

    budgets: list[float] = Field(min_length=1, max_length=16,
                                 description="Memory budgets in [0, 1] to analyse at.")


class SubmissionResponse(BaseModel):
    """Where to follow a submitted analysis. `owner_token` is shown once: keep it to delete the
    analysis or regenerate its link. A cached answer still gets a new, unrelated share id."""

    id: str
    share_url: str
    status_url: str
    events_url: str
    document_url: str
    owner_token: str
    cached: bool


class ErrorBody(BaseModel):
    """Every error response: a stable `code`, a `message` naming the field or problem, and the
    snippet `line` where there is one (`type` is the core error class, for failed analyses)."""

    code: str
    message: str
    line: int | None = None
    type: str | None = None


Status = JobStatus


class AnalysisStatus(BaseModel):
    """An analysis' state; `summary` when done, `error` when failed."""

    id: str
    kind: Literal["analysis", "sweep"] = "analysis"
    status: Status
    stage: str
    progress: float
    message: str = ""
    settings: dict[str, Any]
    snippet_name: str
    created_at: str
    finished_at: str | None = None
    torch_version: str
    device: str
    schema_version: int | None = None
    share_url: str
    document_url: str
    summary: dict[str, Any] | None = None
    error: ErrorBody | None = None


class JobEventBody(BaseModel):
    """One progress event."""

    seq: int
    stage: str
    progress: float
    message: str
    at: float


class LinkResponse(BaseModel):
    """A regenerated share link; the old id no longer works."""

    id: str
    share_url: str
    status_url: str


class Example(BaseModel):
    """An example snippet from the repository's `examples/`."""

    name: str
    title: str
    description: str
    source: str
    settings: dict[str, Any]


class GroupItem(BaseModel):
    """A collapsed group or a single node at one level of a graph's hierarchy."""

    id: str
    kind: Literal["group", "node"]
    label: str
    path: str | None = None
    name: str | None = None
    status: str | None = None
    node_count: int = 0
    status_counts: dict[str, int] = Field(default_factory=dict)


class GraphLevel(BaseModel):
    """One level of a graph: the expanded group path, its breadcrumb, items and edges."""

    analysis_id: str
    region: int
    kind: str
    expand: str
    breadcrumb: list[str]
    items: list[GroupItem]
    edges: list[tuple[str, str]]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)
