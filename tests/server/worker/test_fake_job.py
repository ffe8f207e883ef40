"""A fake-tensor analysis in the real sandbox: the same saved set as a real run in this process."""

from __future__ import annotations

import uuid

import pytest

from server.jobs import JobSpec
from server.worker import WorkerBackend

from .conftest import EXAMPLES, wait_for

pytestmark = pytest.mark.torch_compile


def test_a_fake_job_runs_in_the_sandbox(backend: WorkerBackend) -> None:
    import ckpt_core

    source = (EXAMPLES / "mlp_checkpoint.py").read_text()
    job_id = uuid.uuid4().hex
    backend.submit(JobSpec(job_id, source, {"execution": "fake", "device": "cpu"},
                           snippet_name="mlp_checkpoint.py"))
    wait_for(lambda: backend.outcome(job_id) is not None, 180, f"job {job_id}")
    outcome = backend.outcome(job_id)
    assert outcome is not None and outcome.error is None, outcome and outcome.error
    doc = outcome.result
    assert doc is not None and doc["settings"]["execution"] == "fake" and "memory" in doc
    real = ckpt_core.analyze_file(EXAMPLES / "mlp_checkpoint.py",
                                  ckpt_core.Settings(device="cpu")).to_dict()
    assert [[(s["forward_node"], s["bytes"]) for s in r["saved"]] for r in doc["regions"]] == \
        [[(s["forward_node"], s["bytes"]) for s in r["saved"]] for r in real["regions"]]
