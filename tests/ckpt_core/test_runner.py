"""The one runner behind the worker and the local runner: analyses, sweeps, errors, and the CUDA
path loading the snippet once (faked at the CUDA boundary here; for real on a GPU)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import ckpt_core
from ckpt_core.capture import cuda_memory, run, snippet
from ckpt_core.capture.measure import measure_region
from ckpt_core.memory.summary import Measured
from ckpt_core.runner import run_job
from ckpt_core.validate import validate_analysis
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.torch_compile

MLP = (EXAMPLES / "mlp_checkpoint.py").read_text(encoding="utf-8")


def test_an_analysis_carries_memory_and_progress(tmp_path: Path) -> None:
    stages: list[str] = []
    doc = run_job({"source": MLP, "snippet_name": "../../mlp.py", "settings": {"device": "cpu"}},
                  tmp_path, lambda stage, _message: stages.append(stage))
    validate_analysis(doc)
    assert doc["snippet_name"] == "mlp.py" and (tmp_path / "mlp.py").is_file()
    assert "memory" in doc and stages == ["tracing", "partitioning", "analysing"]


def test_a_sweep_gives_one_analysis_per_budget(tmp_path: Path) -> None:
    out = run_job({"source": MLP, "options": {"sweep_budgets": [1.0, 0.5]}}, tmp_path)
    assert [a["settings"]["memory_budget"] for a in out["analyses"]] == [1.0, 0.5]


def test_errors_are_raised_as_ckpt_errors(tmp_path: Path) -> None:
    with pytest.raises(ckpt_core.SnippetContractError, match="does not define `model`"):
        run_job({"source": "x = 1\n"}, tmp_path)
    with pytest.raises(ckpt_core.SettingsError):
        run_job({"source": MLP, "settings": {"memory_budget": 3}}, tmp_path)


def test_cuda_path_loads_and_builds_the_model_once(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """On CUDA the snippet is loaded once and that same model is traced and measured.

    The CUDA boundary is faked: the device query says a GPU is there (an H100, for the cost
    model), placing tensors on it is a no-op (they stay on the CPU), and the allocator's
    measurement is the CPU interpreter's."""
    loads: list[snippet.LoadedSnippet] = []
    real_load = snippet.load_snippet

    def counting_load(source: str, path: str, device: str,
                      execution: str = "real") -> snippet.LoadedSnippet:
        assert device == "cuda"
        loads.append(real_load(source, path, "cpu", execution))
        return loads[-1]

    @contextlib.contextmanager
    def on_cpu(device: str) -> Iterator[None]:
        yield

    measured_models: list[Any] = []

    def fake_allocator(forward: Any, backward: Any, num_user_outputs: int,
                       device: str = "cuda", timed: frozenset[str] = frozenset()) -> Measured:
        m = measure_region(forward, backward, num_user_outputs, device="cpu")
        return Measured(device=device, method="cuda-allocator", peak_bytes=m.peak_bytes,
                        live_bytes=tuple(m.live_bytes()))

    real_trace = cuda_memory.trace_loaded

    def tracing(loaded: snippet.LoadedSnippet, *args: Any, **kwargs: Any) -> Any:
        measured_models.append(loaded.model)
        return real_trace(loaded, *args, **kwargs)

    monkeypatch.setattr(run, "resolve_device", lambda *requested: "cuda")
    monkeypatch.setattr(snippet, "load_snippet", counting_load)
    monkeypatch.setattr(run, "default_device", on_cpu)
    monkeypatch.setattr(cuda_memory, "measure_cuda_region", fake_allocator)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *device: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(cuda_memory, "trace_loaded", tracing)
    # a second load (the old path) would go through the file, not through load_snippet
    monkeypatch.setattr(cuda_memory, "traced", None)

    doc = run_job({"source": MLP, "settings": {"device": "cuda"}}, tmp_path)
    assert len(loads) == 1
    assert measured_models == [loads[0].model]
    assert doc["device"] == "cuda"
    measured = doc["memory"]["regions"][0]["measured"]
    assert measured["method"] == "cuda-allocator"
    assert measured["ratio"] == pytest.approx(1.0, abs=0.02)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_for_real(tmp_path: Path) -> None:
    before = torch.cuda.memory_allocated()
    doc = run_job({"source": MLP, "settings": {"device": "cuda"}}, tmp_path)
    assert doc["memory"]["regions"][0]["measured"]["method"] == "cuda-allocator"
    validate_analysis(doc)
    torch.cuda.synchronize()
    # the one model the job built is gone with it: nothing of it stays on the GPU
    import gc

    gc.collect()
    torch.cuda.empty_cache()
    assert torch.cuda.memory_allocated() - before < 1 << 20
