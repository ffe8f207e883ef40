"""Where a fake-tensor job runs: any CPU worker, analysing for the device the server resolved."""

from __future__ import annotations

from server.app.submission import job_spec
from server.store.store import JobRecord


def record(settings: dict[str, object], device: str) -> JobRecord:
    return JobRecord(id="j", kind="analysis", cache_key="k", status="queued", stage="queued",
                     progress=0.0, message="", source="model = None\n", snippet_name="s.py",
                     settings=dict(settings), options={}, device=device, torch_version="2.13",
                     schema_version=None, summary=None, error=None, document_key=None,
                     created_at_s=0.0, finished_at_s=None)


def test_a_fake_cuda_job_waits_for_a_cpu_worker_and_analyses_for_cuda() -> None:
    spec = job_spec(record({"execution": "fake", "device": "auto"}, "cuda"))
    assert spec.device == "cpu" and spec.settings["device"] == "cuda"
    assert spec.settings["execution"] == "fake"


def test_a_real_job_keeps_its_device_and_settings() -> None:
    settings = {"device": "auto"}
    spec = job_spec(record(settings, "cuda"))
    assert spec.device == "cuda" and spec.settings == settings
