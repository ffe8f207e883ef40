"""Policy what-ifs: overrides on a stored analysis, answered as a new analysis with its own link.

The overrides are checked here against the stored document (`ckpt_core.policy.resolve`, no
torch), so a selector matching nothing or a policy on a placeholder is a 422 at once. The job
itself is an ordinary analysis job of the base's snippet whose options carry
`{"whatif": {"base_settings", "overrides"}}`: the worker traces the snippet once and re-runs
only the partitioner with the new tags (`ckpt_core.policy.whatif_job`), and the result cache
answers the same what-if on the same snippet and settings from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ckpt_core import Analysis, Settings
from ckpt_core.policy import check_same_trace, overrides_from_list, resolve
from server.jobs import JobOptions

from .errors import ApiError
from .reading import Reader
from .submission import Submission, Submissions


@dataclass(frozen=True)
class WhatIfSubmission:
    """The what-if's submission, and the share id of the analysis it changes."""

    submission: Submission
    base_id: str
    changed_ops: int
    notes: tuple[str, ...]


class WhatIfs:
    """The what-if use case over submissions and the reader."""

    def __init__(self, submissions: Submissions, reader: Reader) -> None:
        self.submissions, self.reader = submissions, reader

    def submit(self, base_id: str, overrides_in: list[dict[str, Any]],
               settings_in: dict[str, Any] | None) -> WhatIfSubmission:
        base_job = self.reader.job(base_id)
        if base_job.status != "done":
            raise ApiError(409, "not_ready", f"the analysis is {base_job.status}; a what-if "
                           "changes a finished analysis")
        base = Analysis.from_dict(self.reader.document(base_job))
        overrides = overrides_from_list(overrides_in)
        plan = resolve(base, overrides)
        base_settings = Settings.from_dict(base_job.settings)
        settings = Settings.from_dict({**base_job.settings, **(settings_in or {})})
        check_same_trace(base_settings, settings)
        options: JobOptions = {"whatif": {"base_settings": base_settings.to_dict(),
                                          "overrides": [o.to_dict() for o in overrides]}}
        sub = self.submissions.submit(base_job.source, settings.to_dict(),
                                      base_job.snippet_name, options=options)
        return WhatIfSubmission(sub, base_id, plan.changed, plan.notes)
