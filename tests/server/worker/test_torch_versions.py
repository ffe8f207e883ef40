"""Workers per torch version: `ckpt worker --python` serves its own queue, jobs for a torch
version go only there, and the server offers the versions live workers announce."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from ckpt_core.torches import probe_torch_version
from server.jobs import JobSpec, queue_name, queue_torch_version
from server.worker import SandboxUnavailableError, make_backend

from .conftest import EXAMPLES, TEST_LIMITS, wait_for

MLP = (EXAMPLES / "mlp_checkpoint.py").read_text(encoding="utf-8")
#: where scripts/torch_versions puts its virtualenvs
VENVS = Path(os.environ.get("CKPT_TORCH_VENVS", "/work/torchvenvs"))


def test_queue_names_carry_the_torch_version() -> None:
    assert queue_name("cpu") == "cpu" and queue_name("cuda:1") == "cuda"
    assert queue_name("cpu", "2.15.0+cu130") == "cpu@torch-2.15.0+cu130"
    assert queue_torch_version("cuda@torch-2.14.1") == "2.14.1"
    assert queue_torch_version("cpu") is None


def test_a_bad_interpreter_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no executable there"):
        probe_torch_version(str(tmp_path / "python"))
    with pytest.raises(ValueError, match="cannot run ckpt_core: ModuleNotFoundError"):
        probe_torch_version(_python_without_torch(tmp_path))


def _python_without_torch(tmp_path: Path) -> str:
    import venv

    venv.create(tmp_path / "empty", with_pip=False)
    return str(tmp_path / "empty" / "bin" / "python")


@pytest.mark.torch_compile
@pytest.mark.sandbox
def test_jobs_for_a_version_go_only_to_that_versions_workers(tmp_path: Path) -> None:
    """A consumer started for another torch takes that version's jobs; the default queue has
    no consumer here, so a job for the default torch waits (and the API would refuse it)."""
    backend = make_backend(None, tmp_path, limits=TEST_LIMITS, trusted_local=True)
    try:
        try:
            backend.start_embedded_consumer(python=sys.executable, torch_version="9.9-test")
        except SandboxUnavailableError as e:
            pytest.skip(f"no sandbox on this host: {e.message}")
        served = backend.queue_consumers()
        assert served["cpu@torch-9.9-test"] and not served["cpu"]
        job_id = uuid.uuid4().hex
        backend.submit(JobSpec(job_id, MLP, {"device": "cpu"}, torch_version="9.9-test"))
        default_job = uuid.uuid4().hex
        backend.submit(JobSpec(default_job, MLP, {"device": "cpu"}))
        wait_for(lambda: backend.outcome(job_id) is not None, 300, f"job {job_id}")
        outcome = backend.outcome(job_id)
        assert outcome is not None and outcome.error is None, outcome.error
        assert backend.outcome(default_job) is None
        assert backend.queue_pending()["cpu"] == 1
    finally:
        backend.close()


def _venv_python(version: str) -> str | None:
    python = VENVS / f"torch-{version}" / "bin" / "python"
    return str(python) if python.is_file() else None


@pytest.mark.torch_compile
@pytest.mark.sandbox
@pytest.mark.parametrize("version", ["2.14.1", "2.15.0"])
def test_a_worker_on_another_torch_analyses_with_it(version: str, tmp_path: Path) -> None:
    """For real, with a virtualenv from scripts/torch_versions (skipped where there is none)."""
    python = _venv_python(version)
    if python is None:
        pytest.skip(f"no torch {version} virtualenv in {VENVS} "
                    f"(scripts/torch_versions --setup-only {version} makes one)")
    torch_version = probe_torch_version(python)
    assert torch_version.startswith(version)
    # in the real sandbox: it must bind the other virtualenv and its base Python read-only,
    # and the sandbox user must be able to read them (scripts/torch_versions makes them so)
    backend = make_backend(None, tmp_path, limits=TEST_LIMITS)
    try:
        try:
            backend.start_embedded_consumer(python=python, torch_version=torch_version)
        except SandboxUnavailableError as e:
            pytest.skip(f"no sandbox on this host: {e.message}")
        job_id = uuid.uuid4().hex
        backend.submit(JobSpec(job_id, MLP, {"device": "cpu"}, torch_version=torch_version))
        wait_for(lambda: backend.outcome(job_id) is not None, 600, f"job {job_id}")
        outcome = backend.outcome(job_id)
        assert outcome is not None and outcome.error is None, outcome.error
        assert outcome.result is not None and outcome.result["torch_version"] == torch_version
    finally:
        backend.close()
