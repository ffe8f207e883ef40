"""Measured recompute time: the backward's recompute nodes timed on real tensors beside the
estimate — for real on the CPU (perf_counter), and the CUDA path with faked timing events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import ckpt_core
from ckpt_core.capture import measure
from ckpt_core.capture.cuda_memory import (
    measure_traced,
    recompute_names,
    time_recompute,
    with_measured,
)
from ckpt_core.capture.traced import Traced, traced
from ckpt_core.report import text_summary
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.torch_compile


@pytest.fixture(scope="module")
def mlp() -> Iterator[Traced]:
    with traced(EXAMPLES / "mlp_checkpoint.py", ckpt_core.Settings(device="cpu")) as t:
        yield t


def test_cpu_times_exactly_the_recompute_nodes(mlp: Traced) -> None:
    analysis = mlp.analysis()
    names = recompute_names(analysis)
    assert names[0], "mlp_checkpoint recomputes its checkpointed blocks"
    measured = measure_traced(mlp, recompute=names)
    timed = [name for name, _ in measured[0].recompute_times_s]
    assert len(timed) == len(set(timed)) and set(timed) == names[0]
    assert all(seconds >= 0 for _, seconds in measured[0].recompute_times_s)

    doc = with_measured(analysis, measured).to_dict()
    m = doc["cost"]["measured"]
    assert m["device"] == "cpu" and m["method"] == "perf-counter"
    assert m["count"] == doc["cost"]["recompute"]["count"] == len(names[0])
    assert m["recompute_time_s"] > 0
    assert doc["summary"]["measured_recompute_time_s"] == m["recompute_time_s"]
    assert doc["summary"]["measured_recompute_device"] == "cpu"
    assert sum(m["by_op"].values()) == pytest.approx(m["recompute_time_s"])
    assert sum(m["by_module"].values()) == pytest.approx(m["recompute_time_s"])
    assert {"addmm", "erf"} <= set(m["by_op"]), m["by_op"]  # the recomputed Linear + GELU
    ckpt_core.validate_analysis(doc)
    assert "measured on cpu (perf-counter)" in text_summary(doc)


def test_no_names_no_timing_and_plain_analyses_carry_none(mlp: Traced) -> None:
    doc = with_measured(mlp.analysis(), measure_traced(mlp)).to_dict()
    assert doc["cost"]["measured"]["count"] == 0  # nothing asked to be timed
    assert "measured_recompute_time_s" not in mlp.analysis().summary


class FakeEvent:
    """Stands in for `torch.cuda.Event(enable_timing=True)`: `record` reads a clock that
    advances 2.5 ms per record; `synchronize` is counted."""

    clock_ms = 0.0
    synchronized = 0

    def __init__(self) -> None:
        self.at_ms: float | None = None

    def record(self) -> None:
        FakeEvent.clock_ms += 2.5
        self.at_ms = FakeEvent.clock_ms

    def synchronize(self) -> None:
        FakeEvent.synchronized += 1

    def elapsed_time(self, end: Any) -> float:
        assert FakeEvent.synchronized, "read before the events were synchronized"
        assert self.at_ms is not None and end.at_ms is not None
        return float(end.at_ms - self.at_ms)


def test_cuda_path_records_an_event_pair_per_recompute_node(
        mlp: Traced, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measure, "cuda_event", FakeEvent)
    monkeypatch.setattr(FakeEvent, "clock_ms", 0.0)
    monkeypatch.setattr(FakeEvent, "synchronized", 0)
    names = recompute_names(mlp.analysis())[0]
    _, parts = mlp.partition(mlp.settings.memory_budget)
    part = parts[0]
    assert part.forward is not None
    times = time_recompute(part.forward, part.backward, part.raw.num_user_outputs, "cpu",
                           names, measure.CudaTimer, runs=2)
    assert {name for name, _ in times} == names
    # each node: start and end recorded back to back around it, 2.5 ms apart
    assert all(seconds == pytest.approx(2.5e-3) for _, seconds in times)
    assert FakeEvent.synchronized == 2  # once per run, at the end
    assert FakeEvent.clock_ms == pytest.approx(2 * 2 * 2.5 * len(names))
