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
    torch_version: str | None = Field(
        default=None, max_length=64,
        description="Run it on this torch (one of `GET /api/torch-versions`, served by a "
                    "`ckpt worker --python` on that torch); default: the server's own.")


class SweepRequest(AnalysisRequest):
    """A snippet analysed at several memory budgets."""

    budgets: list[float] = Field(min_length=1, max_length=16,
                                 description="Memory budgets in [0, 1] to analyse at.")


class TorchVersions(BaseModel):
    """The torch versions analyses can run on here."""

    default: str = Field(description="The server's own torch (its default workers').")
    available: list[str] = Field(description="The default first, then each version a live "
                                             "`ckpt worker --python` serves.")


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


OverrideAction = Literal["MUST_SAVE", "PREFER_SAVE", "MUST_RECOMPUTE", "PREFER_RECOMPUTE",
                         "NO_CHECKPOINT"]


class OverrideBody(BaseModel):
    """One what-if change: the ops `selector` picks, set to `action`."""

    model_config = ConfigDict(extra="forbid")

    selector: str = Field(max_length=300, description=(
        "node:NAME (a joint-graph node), op:OP (e.g. op:aten.addmm.default, op:aten.mm.*), "
        "module:PATH (globs, e.g. module:blocks.*.mlp) or region:N (a checkpoint region)"))
    action: OverrideAction = Field(description=(
        "the CheckpointPolicy tag to set, or NO_CHECKPOINT to remove the checkpoint"))


class WhatIfRequest(BaseModel):
    """Overrides applied in order (a later one wins on the ops both select), and partitioner
    settings to change beside them (memory_budget, partitioner, budget_solver, ban_recompute_*,
    cost_profile; the others shape the trace and stay the analysis' own)."""

    model_config = ConfigDict(extra="forbid")

    overrides: list[OverrideBody] = Field(min_length=1, max_length=64)
    settings: dict[str, Any] = Field(default_factory=dict, description=(
        "settings to change, e.g. {\"memory_budget\": 0.5}"))


class WhatIfResponse(SubmissionResponse):
    """Where to follow the what-if (a new analysis with its own share link), the analysis it
    changes (`base_id`), the diff against it, how many op tags change and what had to be
    adjusted to what a real policy can express (`notes`)."""

    base_id: str
    diff_url: str
    compare_url: str
    changed_ops: int
    notes: list[str]


class ErrorBody(BaseModel):
    """Every error response: a stable `code`, a `message` naming the field or problem, and the
    snippet `line` where there is one (`type` is the core error class, for failed analyses)."""

    code: str
    message: str
    line: int | None = None
    type: str | None = None
    #: long text kept out of `message` (torch's whole message for a `TorchInternalError`)
    details: str | None = None


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
    """An example snippet from the repository's `examples/` (group "basics") or
    `examples/gallery/` (group "gallery": real models, some needing extra packages)."""

    name: str
    title: str
    description: str
    source: str
    settings: dict[str, Any]
    group: str = "basics"


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
