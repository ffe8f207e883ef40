"""API test fixtures: real analysis documents (compiled once) and an app with a fake backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.app.main import create_app
from server.app.settings import ServerSettings
from server.jobs import JobBackend

from .fakes import documents_backend

SNIPPET = (Path(__file__).resolve().parents[3] / "examples" / "mlp_checkpoint.py").read_text()


@pytest.fixture(scope="session")
def mlp_doc(analyze_example: Any) -> dict[str, Any]:
    """The real analysis of examples/mlp_checkpoint.py (compiled once per session)."""
    doc: dict[str, Any] = analyze_example("mlp_checkpoint")
    return doc


@pytest.fixture(scope="session")
def mlp_default_doc(analyze_example: Any) -> dict[str, Any]:
    """examples/mlp_checkpoint.py under the default partitioner (saves everything)."""
    doc: dict[str, Any] = analyze_example("mlp_checkpoint", partitioner="default")
    return doc


ClientFactory = Callable[..., Any]


@pytest.fixture
def make_client(tmp_path: Path, mlp_doc: dict[str, Any]) -> ClientFactory:
    """`with make_client(backend=None, **settings) as (client, backend): …`"""

    @contextmanager
    def factory(backend: JobBackend | None = None,
                **overrides: Any) -> Iterator[tuple[TestClient, Any]]:
        jobs = backend if backend is not None else documents_backend({}, mlp_doc)
        overrides.setdefault("job_poll_s", 0.02)
        overrides.setdefault("allowed_hosts", frozenset({"testserver"}))  # TestClient's Host
        settings = ServerSettings(data_dir=tmp_path / "data", **overrides)
        with TestClient(create_app(settings, jobs)) as client:
            yield client, jobs

    return factory


@pytest.fixture
def client(make_client: ClientFactory) -> Iterator[tuple[TestClient, Any]]:
    with make_client() as pair:
        yield pair
