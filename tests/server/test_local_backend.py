"""The trusted local backend: a real analysis end to end, and a killed job reported failed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app.local_backend import LocalBackend
from server.app.main import create_app
from server.app.settings import ServerSettings
from server.jobs import JobOutcome, JobSpec

from ..conftest import EXAMPLES


def wait_outcome(backend: LocalBackend, job_id: str, timeout_s: float = 300) -> JobOutcome:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        outcome = backend.outcome(job_id)
        if outcome is not None:
            return outcome
        time.sleep(0.1)
    raise AssertionError("no outcome")


def test_killed_job_is_failed_with_a_reason() -> None:
    backend = LocalBackend()
    source = "import time\ntime.sleep(60)\nmodel = None\nexample_inputs = ()\n"
    backend.submit(JobSpec("j1", source, {}))
    deadline = time.monotonic() + 30
    while not backend._procs and time.monotonic() < deadline:  # the child has started
        time.sleep(0.05)
    os.kill(backend._procs["j1"].pid, signal.SIGKILL)
    outcome = wait_outcome(backend, "j1", 30)
    assert outcome.result is None and outcome.error is not None
    assert outcome.error["code"] == "sandbox_error" and "died" in outcome.error["message"]
    assert [e.stage for e in backend.events("j1")][-1] == "failed"
    backend.close()


@pytest.mark.torch_compile
def test_real_analysis_through_the_api(tmp_path: Path) -> None:
    source = (EXAMPLES / "mlp_checkpoint.py").read_text()
    settings = ServerSettings(data_dir=tmp_path, backend="local", job_poll_s=0.05,
                              allowed_hosts=frozenset({"testserver"}))
    with TestClient(create_app(settings)) as c:
        sub = c.post("/api/analyses", json={"source": source, "name": "mlp.py"}).json()
        deadline = time.monotonic() + 300
        while (status := c.get(sub["status_url"]).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert status["status"] == "done", status
        doc = c.get(sub["document_url"]).json()
        assert doc["snippet_name"] == "mlp.py" and doc["summary"]["saved_count"] > 0
        stages = [e["stage"] for e in c.get(sub["events_url"] + "?format=json").json()]
        assert stages[0] == "queued" and stages[-1] == "done"
        # the runner reports each stage as it begins, in order, not one "tracing" for all
        assert [s for s in stages if s in ("tracing", "partitioning", "analysing", "storing")] \
            == ["tracing", "partitioning", "analysing", "storing"], stages
        bad = c.post("/api/analyses", json={"source": "import torch\nmodel = 1\n"
                                                      "example_inputs = (torch.ones(2),)\n"}).json()
        while (status := c.get(bad["status_url"]).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert status["status"] == "failed" and status["error"]["code"].startswith("snippet")


@pytest.mark.torch_compile
def test_local_runner_sweeps_from_snippet_text_never_a_path() -> None:
    from server.app.local_runner import run

    source = (EXAMPLES / "mlp_checkpoint.py").read_text()
    out = run({"source": source, "settings": {}, "snippet_name": "mlp.py",
               "options": {"sweep_budgets": [1.0, 0.5]}})
    assert "error" not in out, out
    docs = out["result"]["analyses"]
    assert [d["settings"]["memory_budget"] for d in docs] == [1.0, 0.5]
    assert {d["snippet_name"] for d in docs} == {"mlp.py"}
    # snippet text that names an existing file is still snippet text
    here = str(Path(__file__).resolve())
    out = run({"source": here, "settings": {}, "options": {"sweep_budgets": [1.0]}})
    assert out["error"]["type"] == "SnippetSyntaxError", out  # read as a file, it would run
