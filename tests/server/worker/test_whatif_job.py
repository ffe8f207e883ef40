"""A what-if job in the real sandbox: one trace, the partitioner re-run with the new tags."""

from __future__ import annotations

import uuid

import pytest

from ckpt_core import Settings, validate_analysis
from server.jobs import JobSpec
from server.worker import WorkerBackend

from .conftest import EXAMPLES, wait_for

pytestmark = [pytest.mark.torch_compile, pytest.mark.sandbox]


def test_a_whatif_job_runs_in_the_sandbox(backend: WorkerBackend) -> None:
    source = (EXAMPLES / "two_regions.py").read_text()
    job_id = uuid.uuid4().hex
    overrides = [{"selector": "module:b", "action": "NO_CHECKPOINT"}]
    backend.submit(JobSpec(job_id, source, {"device": "cpu"}, snippet_name="two_regions.py",
                           options={"whatif": {"base_settings": Settings(device="cpu").to_dict(),
                                               "overrides": overrides}}))
    wait_for(lambda: backend.outcome(job_id) is not None, 180, f"job {job_id}")
    outcome = backend.outcome(job_id)
    assert outcome is not None and outcome.error is None, outcome and outcome.error
    doc = outcome.result
    assert doc is not None
    validate_analysis(doc)
    assert doc["overrides"] == overrides
    assert doc["whatif"]["matched"] == {"module:b": 5}
    assert "NOT_CHECKPOINTED = frozenset(['b'])" in doc["whatif"]["policy_code"]
    # region b's ops are no longer checkpointed: none of them carries a policy
    joint = doc["regions"][0]["graphs"]["joint"]["nodes"]
    assert all(n["requested_policy"] is None for n in joint if (n["module"] or "").startswith("b"))
