"""The API side of workers per torch version: the installed versions, routing a submission to
one, caching per version, and a clear refusal for a version no worker runs."""

from __future__ import annotations

from typing import Any

from server.app.settings import torch_version
from server.jobs import JobSpec

from .conftest import SNIPPET, ClientFactory
from .fakes import FakeBackend, documents_backend

OTHER = "2.15.0+cu130"


class VersionedBackend(FakeBackend):
    """A fake backend whose queues have consumers: the default CPU one and torch `OTHER`'s."""

    def queue_consumers(self) -> dict[str, list[str]]:
        return {"cpu": ["ckpt-cpu#1"], "cuda": [], f"cpu@torch-{OTHER}": ["ckpt-cpu-torch#2"]}

    def queue_pending(self) -> dict[str, int]:
        return dict.fromkeys(self.queue_consumers(), 0)


def versioned(mlp_doc: dict[str, Any]) -> VersionedBackend:
    """Documents labelled with the torch their job asked for, as that version's worker would."""
    plain = documents_backend({}, mlp_doc)

    def result_for(spec: JobSpec) -> dict[str, Any]:
        out = plain.result_for(spec)
        out["result"] = {**out["result"], "torch_version": spec.torch_version or torch_version()}
        return out

    return VersionedBackend(result_for)


def test_installed_versions_are_listed_server_first(make_client: ClientFactory,
                                                    mlp_doc: dict[str, Any]) -> None:
    with make_client(versioned(mlp_doc)) as (client, _):
        body = client.get("/api/torch-versions").json()
    assert body == {"default": torch_version(), "available": [torch_version(), OTHER]}


def test_a_submission_for_another_torch_goes_to_its_workers_and_is_cached_apart(
        make_client: ClientFactory, mlp_doc: dict[str, Any]) -> None:
    with make_client(versioned(mlp_doc)) as (client, backend):
        other = client.post("/api/analyses", json={"source": SNIPPET, "torch_version": OTHER})
        own = client.post("/api/analyses", json={"source": SNIPPET,
                                                 "torch_version": torch_version()})
        again = client.post("/api/analyses", json={"source": SNIPPET, "torch_version": OTHER})
        assert other.status_code == own.status_code == again.status_code == 202
        assert not own.json()["cached"] and again.json()["cached"]
        assert [s.torch_version for s in backend.submitted] == [OTHER, None]
        status = client.get(f"/api/analyses/{other.json()['id']}").json()
        assert status["torch_version"] == OTHER


def test_a_version_no_worker_runs_is_refused_with_the_installed_list(
        make_client: ClientFactory, mlp_doc: dict[str, Any]) -> None:
    with make_client(versioned(mlp_doc)) as (client, backend):
        r = client.post("/api/analyses", json={"source": SNIPPET, "torch_version": "9.9.9"})
        assert r.status_code == 400
        error = r.json()
        assert error["code"] == "unknown_torch_version"
        assert OTHER in error["message"] and "ckpt worker --python" in error["message"]
        assert backend.submitted == []


def test_without_queues_only_the_servers_own_torch_is_offered(
        make_client: ClientFactory) -> None:
    with make_client() as (client, _):
        assert client.get("/api/torch-versions").json()["available"] == [torch_version()]
        r = client.post("/api/analyses", json={"source": SNIPPET, "torch_version": OTHER})
        assert r.status_code == 400 and "only" in r.json()["message"]
