"""Memory-budget sweeps: one analysis per budget, each with its own share link and cache entry.

Budgets already analysed (or under way) come from the result cache. The others are computed by
one backend job that traces the snippet once and re-runs only the partitioner per budget
(`ckpt_core.sweep`); its analyses are stored as the sweep's analysis jobs. The sweep document
is assembled by `ckpt_core.sweep.sweep_from_analyses` once all of them are done."""

from __future__ import annotations

from typing import Any

from ckpt_core import Analysis
from ckpt_core.sweep import sweep_from_analyses
from server.store import FINAL_STATUSES, JobRecord

from .service import AnalysisService, Submission


def submit_sweep(service: AnalysisService, source: str, settings: dict[str, Any], name: str,
                 budgets: list[float]) -> Submission:
    # each budget is a complete analysis with its own share link, so every point of the
    # sweep opens as a plan
    parts = [service.submit(source, {**settings, "memory_budget": b}, name, queue=False)
             for b in budgets]
    carried = [(p.job.id, b) for p, b in zip(parts, budgets, strict=True) if not p.cached]
    sweep = service.submit(source, settings, name, kind="sweep", options={
        "sweep_budgets": budgets, "part_jobs": [p.job.id for p in parts],
        "part_links": [p.share_id for p in parts], "carried": [list(c) for c in carried]})
    if carried and not sweep.cached:
        service.carry(sweep.job, carried)
    return sweep


def refresh_sweep(service: AnalysisService, job: JobRecord) -> JobRecord:
    """Finish the sweep when its analyses have: done when all are, failed when one failed."""
    if job.status in FINAL_STATUSES:
        return job
    parts: list[JobRecord] = []
    for part_id in job.options.get("part_jobs", []):
        service.sync(part_id)
        part = service.store.job(part_id)
        if part is None:
            service.store.finish_job(job.id, result=None, error={
                "type": "SandboxError", "code": "sandbox_error", "line": None,
                "message": "an analysis of this sweep was deleted"})
            return service.store.job(job.id) or job
        parts.append(part)
    failed = next((p for p in parts if p.status in ("failed", "cancelled")), None)
    if failed is not None:
        service.store.finish_job(job.id, result=None, error=failed.error)
    elif parts and all(p.status == "done" for p in parts):
        analyses = [Analysis.from_dict(service.document(p)) for p in parts]
        # each point links to its analysis (stored once, as its own job) instead of embedding
        # it: the sweep document stays small however large the model
        result = sweep_from_analyses(analyses, job.options["sweep_budgets"]).to_dict(
            with_analyses=False)
        # points come back ordered by budget, not in the order the budgets were asked for
        link_of = dict(zip(job.options["sweep_budgets"], job.options.get("part_links") or [],
                           strict=False))
        for point in result.get("points", []):
            share_id = link_of.get(point["budget"])
            if share_id:
                point["analysis_id"] = share_id
                point["share_url"] = f"/a/{share_id}"
        service.store.finish_job(job.id, result={**result, "schema_version": 1}, error=None)
    return service.store.job(job.id) or job


def sweep_progress(service: AnalysisService, job: JobRecord) -> tuple[str, float]:
    """(stage, progress) of an unfinished sweep: its analyses' mean progress."""
    parts = [service.store.job(p) for p in job.options.get("part_jobs", [])]
    progress = [p.progress for p in parts if p is not None]
    done = sum(1 for p in parts if p is not None and p.status == "done")
    stage = f"{done} of {len(parts)} budgets analysed"
    return stage, sum(progress) / len(progress) if progress else 0.0
