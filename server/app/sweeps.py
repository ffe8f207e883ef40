"""A memory-budget sweep's whole life: submitted, computed, delivered, assembled, resumed.

A sweep is a stored job of kind "sweep" whose options list its *parts*: one analysis job per
budget, each with its own share link and result-cache entry, so every point opens as a plan.

1. `submit`: budgets already analysed (or under way) come from the result cache; the others
   are recorded without a backend job and *carried* by the sweep's one backend job (options
   `{"sweep_budgets": [...]}`), which traces the snippet once and re-runs only the partitioner
   per budget (`ckpt_core.sweep`).
2. `SweepDelivery`: the job watcher shows that job's progress on the sweep and on every carried
   part, and finishes each part with its own analysis (checked against its budget), or with the
   job's error. A what-if job delivers the same way: one backend job, several stored analyses.
3. `refresh`: when read, the sweep is finished from its parts: failed when one failed, done
   (the document from `ckpt_core.sweep.sweep_from_analyses`) when all are.
4. `resume`: at start-up, a sweep's unfinished backend job is followed again (or re-queued).

The sweep job's stored options (they are part of its cache key): `sweep_budgets` (as asked),
`part_jobs` and `part_links` (per budget), `carried` (`[part job id, budget]` pairs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ckpt_core import Analysis
from ckpt_core.errors import ErrorDoc
from ckpt_core.sweep import sweep_from_analyses
from server.jobs import JobOutcome, JobSpec
from server.store import FINAL_STATUSES, JobRecord, Store

from .reading import Reader
from .submission import Submission, Submissions, job_spec
from .watching import JobWatcher, sandbox_error

#: two budgets closer than this are the same budget
BUDGET_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Part:
    """One analysis of a sweep that its backend job computes: the part's job id and budget."""

    job_id: str
    budget: float


def carried_parts(sweep: JobRecord) -> tuple[Part, ...]:
    """The parts a sweep job's backend job computes itself (the others came from the cache)."""
    return tuple(Part(str(job_id), float(budget))
                 for job_id, budget in sweep.options.get("carried") or [])


def carrier_spec(sweep: JobRecord, parts: Iterable[Part]) -> JobSpec:
    """The one backend job of a sweep: trace once, partition at each carried budget."""
    return job_spec(sweep, {"sweep_budgets": [part.budget for part in parts]})


@dataclass(frozen=True)
class SweepDelivery:
    """Where a sweep's backend job delivers: one analysis per carried part."""

    sweep_job_id: str
    parts: tuple[Part, ...]

    @property
    def receivers(self) -> tuple[str, ...]:
        return (self.sweep_job_id, *(part.job_id for part in self.parts))

    def finish(self, store: Store, outcome: JobOutcome) -> None:
        self._deliver(store, outcome.result, outcome.error)

    def abandon(self, store: Store, reason: str) -> None:
        self._deliver(store, None, sandbox_error(reason))

    def _deliver(self, store: Store, result: dict[str, Any] | None,
                 error: ErrorDoc | None) -> None:
        """Finish each part with its own document (or the job's error); the sweep itself is
        assembled from them when read."""
        analyses = (result or {}).get("analyses")
        if error is None and (not isinstance(analyses, list)
                              or len(analyses) != len(self.parts)):
            count = len(analyses) if isinstance(analyses, list) else "no"
            error = sandbox_error(f"the sweep returned {count} analyses for {len(self.parts)} "
                                  "budgets")
        for i, part in enumerate(self.parts):
            doc, part_error = None, error
            if error is None:
                assert isinstance(analyses, list)
                doc = analyses[i]
                got = doc.get("settings", {}).get("memory_budget") if isinstance(doc, dict) \
                    else None
                if not isinstance(got, (int, float)) \
                        or abs(float(got) - part.budget) > BUDGET_TOLERANCE:
                    doc, part_error = None, sandbox_error(
                        f"the sweep's analysis for budget {part.budget:g} says budget {got}")
            store.finish_job(part.job_id, result=doc, error=part_error)


class Sweeps:
    """The sweep use cases over submissions, the job watcher and the reader."""

    def __init__(self, store: Store, submissions: Submissions, watcher: JobWatcher,
                 reader: Reader) -> None:
        self.store, self.submissions, self.watcher = store, submissions, watcher
        self.reader = reader

    def submit(self, source: str, settings: dict[str, Any], name: str,
               budgets: list[float], torch_version: str | None = None) -> Submission:
        parts = [self.submissions.submit(source, {**settings, "memory_budget": b}, name,
                                         queue=False, torch_version=torch_version)
                 for b in budgets]
        carried = tuple(Part(p.job.id, b) for p, b in zip(parts, budgets, strict=True)
                        if not p.cached)
        sweep = self.submissions.submit(source, settings, name, kind="sweep", options={
            "sweep_budgets": budgets, "part_jobs": [p.job.id for p in parts],
            "part_links": [p.share_id for p in parts],
            "carried": [[part.job_id, part.budget] for part in carried]},
            torch_version=torch_version)
        if carried and not sweep.cached:
            self.watcher.submit(carrier_spec(sweep.job, carried),
                                SweepDelivery(sweep.job.id, carried))
        return sweep

    def resume(self, unfinished: Iterable[JobRecord]) -> set[str]:
        """Follow the backend jobs of unfinished sweeps again; the part job ids they carry."""
        carried_ids: set[str] = set()
        for sweep in unfinished:
            parts = carried_parts(sweep)
            if sweep.kind == "sweep" and parts:
                carried_ids.update(part.job_id for part in parts)
                self.watcher.resume(carrier_spec(sweep, parts), SweepDelivery(sweep.id, parts))
        return carried_ids

    def refresh(self, sweep: JobRecord) -> JobRecord:
        """Finish the sweep when its parts have: done when all are, failed when one failed."""
        if sweep.status in FINAL_STATUSES:
            return sweep
        parts: list[JobRecord] = []
        for part_job_id in sweep.options.get("part_jobs", []):
            self.watcher.sync(part_job_id)
            part = self.store.job(part_job_id)
            if part is None:
                self.store.finish_job(sweep.id, result=None, error=sandbox_error(
                    "an analysis of this sweep was deleted"))
                return self.store.job(sweep.id) or sweep
            parts.append(part)
        failed = next((p for p in parts if p.status in ("failed", "cancelled")), None)
        if failed is not None:
            self.store.finish_job(sweep.id, result=None, error=failed.error)
        elif parts and all(p.status == "done" for p in parts):
            self.store.finish_job(sweep.id, result=self._document(sweep, parts), error=None)
        return self.store.job(sweep.id) or sweep

    def _document(self, sweep: JobRecord, parts: list[JobRecord]) -> dict[str, Any]:
        analyses = [Analysis.from_dict(self.reader.document(p)) for p in parts]
        # each point links to its analysis (stored once, as its own job) instead of embedding
        # it: the sweep document stays small however large the model
        result = sweep_from_analyses(analyses, sweep.options["sweep_budgets"]).to_dict(
            with_analyses=False)
        # points come back ordered by budget, not in the order the budgets were asked for
        link_of = dict(zip(sweep.options["sweep_budgets"], sweep.options.get("part_links") or [],
                           strict=False))
        for point in result.get("points", []):
            share_id = link_of.get(point["budget"])
            if share_id:
                point["analysis_id"] = share_id
                point["share_url"] = f"/a/{share_id}"
        return {**result, "schema_version": 1}

    def progress(self, sweep: JobRecord) -> tuple[str, float]:
        """(stage, progress) of an unfinished sweep: its parts' mean progress."""
        parts = [self.store.job(p) for p in sweep.options.get("part_jobs", [])]
        progress = [p.progress for p in parts if p is not None]
        done = sum(1 for p in parts if p is not None and p.status == "done")
        stage = f"{done} of {len(parts)} budgets analysed"
        return stage, sum(progress) / len(progress) if progress else 0.0
