"""The measured-memory path: CUDA allocator figures (skipped without CUDA) and the CPU fallback.

On CUDA the measured peak must lie within 5% of the analytic one on the examples; the
allocator rounds blocks up to 512 bytes, which matters only for tiny tensors.
"""

from __future__ import annotations

import pytest
import torch

import ckpt_core
from ckpt_core.capture.cuda_memory import history_peak_bytes
from tests.conftest import EXAMPLES

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_history_peak_replays_alloc_and_free_events() -> None:
    snapshot = {"device_traces": [[
        {"action": "alloc", "size": 100}, {"action": "alloc", "size": 50},
        {"action": "free_requested", "size": 100}, {"action": "free_completed", "size": 100},
        {"action": "alloc", "size": 20},
    ]]}
    assert history_peak_bytes(snapshot) == 150
    assert history_peak_bytes({"device_traces": [[]]}) is None


@pytest.mark.torch_compile
def test_measured_on_cpu_is_the_interpreter_and_matches() -> None:
    a = ckpt_core.analyze_measured(EXAMPLES / "mlp_checkpoint.py", ckpt_core.Settings(
        device="cpu"))
    region = a.extras["memory"]["regions"][0]
    measured = region["measured"]
    assert measured["method"] == "interpreter-storages" and measured["device"] == "cpu"
    assert measured["ratio"] == pytest.approx(1.0, abs=0.02)
    assert len(measured["live_bytes"]) == region["step_count"]
    ckpt_core.validate_analysis(a.to_dict())


@needs_cuda
@pytest.mark.torch_compile
@pytest.mark.parametrize("example", ["gpt_sac", "mlp_checkpoint", "memory_budget"])
def test_cuda_allocator_peak_within_5_percent(example: str) -> None:
    a = ckpt_core.analyze_measured(EXAMPLES / f"{example}.py", ckpt_core.Settings(
        device="cuda"))
    for region in a.extras["memory"]["regions"]:
        measured = region["measured"]
        assert measured["method"] == "cuda-allocator"
        assert measured["peak_bytes"] > 0
        assert measured["history_peak_bytes"] is not None
        assert abs(measured["ratio"] - 1.0) <= 0.05, measured["ratio"]
