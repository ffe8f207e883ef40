"""Property-based fuzzing of the OpenAPI spec against a real uvicorn: nothing a client sends
may produce a 500. Examples are bounded so the run stays around a minute."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .live import LiveServer


@pytest.fixture(scope="module")
def live_module(tmp_path_factory: pytest.TempPathFactory,
                analyze_example: Any) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("fuzz") / "data"
    server = LiveServer(data, analyze_example("mlp_checkpoint")).start()
    try:
        yield server
    finally:
        server.stop()


def test_no_server_errors(live_module: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{live_module.base}/openapi.json")
    failures: list[str] = []
    statuses: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case: Any) -> None:
            response = case.call(base_url=live_module.base, timeout=30)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        check()
    assert failures == []
    assert len(statuses) >= 50 and any(s < 300 for s in statuses), statuses
    print(f"fuzzed {len(statuses)} requests; statuses {sorted(set(statuses))}")


def test_fuzz_data_dir_is_used(live_module: LiveServer) -> None:
    assert Path(live_module.data_dir, "ckpt.sqlite3").exists()
