"""Deleted is gone: after DELETE, the snippet's text is in no file of the data directory —
not the database, its write-ahead log, the queue database, the blobs or the layouts."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from pathlib import Path
from typing import Any

from server.jobs import JobSpec
from server.worker import make_backend
from server.worker.backend import WorkerBackend
from tests.server.api.conftest import SNIPPET, ClientFactory
from tests.server.api.test_analyses import wait_final


def files_holding(data_dir: Path, needle: bytes) -> list[str]:
    """Files under `data_dir` whose bytes (or gunzipped bytes) contain `needle`."""
    found = []
    for path in data_dir.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            data += gzip.decompress(data)
        if needle in data:
            found.append(str(path.relative_to(data_dir)))
    return sorted(found)


def node_code(doc: Any) -> str:
    """The snippet line of some node of the document."""
    if isinstance(doc, dict):
        source = doc.get("source")
        if isinstance(source, dict) and isinstance(source.get("code"), str) and source["code"]:
            return str(source["code"])
        values = list(doc.values())
    elif isinstance(doc, list):
        values = doc
    else:
        return ""
    return next((c for v in values if (c := node_code(v))), "")


def work_one(backend: WorkerBackend, result: dict[str, Any]) -> str:
    """Do what a worker does with the next CPU job: claim it, report, store the outcome."""
    task = backend.queues.by_device["cpu"].dequeue()
    job_id = str(task.args[0]["job_id"])
    assert backend.state.claim(job_id, "test-worker")
    backend.state.append_event(job_id, "tracing", "compiling")
    backend.state.finish(job_id, "done", result=result, message="done")
    return job_id


def test_after_delete_the_snippet_is_nowhere_in_the_data_dir(
        make_client: ClientFactory, tmp_path: Path, mlp_doc: dict[str, Any]) -> None:
    data_dir = tmp_path / "data"
    code = node_code(mlp_doc)
    assert code and code in SNIPPET
    marker = f"secret_{uuid.uuid4().hex}"
    marked = f"{code}  # {marker}"
    source = SNIPPET.replace(code, marked, 1)
    result = json.loads(json.dumps(mlp_doc).replace(json.dumps(code), json.dumps(marked)))
    backend = make_backend(None, data_dir)  # the queue database lives in the data dir too
    with make_client(backend=backend) as (c, _):
        backend.state.consumer_seen("cpu", "test-worker")
        sub = c.post("/api/analyses", json={"source": source, "name": "secret.py"}).json()
        work_one(backend, result)
        assert wait_final(c, sub["id"])["status"] == "done"
        assert marker in c.get(sub["document_url"]).text
        graph = c.get(f"/api/analyses/{sub['id']}/regions/0/graphs/forward.svg")
        assert graph.status_code == 200, graph.text[:300]
        # the grep finds it while it exists
        assert any(f.startswith("ckpt.sqlite3") for f in files_holding(data_dir, marker.encode()))
        # delivered: the queue's copy of the result is gone already
        deadline = time.monotonic() + 5
        while "queue.sqlite3" in " ".join(files_holding(data_dir, marker.encode())):
            assert time.monotonic() < deadline, files_holding(data_dir, marker.encode())
            time.sleep(0.1)
        r = c.delete(f"/api/analyses/{sub['id']}", headers={"X-Owner-Token": sub["owner_token"]})
        assert r.status_code == 204
        assert files_holding(data_dir, marker.encode()) == []
        assert files_holding(data_dir, b"secret.py") == []
        # a queued job deleted before any worker took it leaves nothing either
        waiting = c.post("/api/analyses", json={"source": source + "\n# again\n"}).json()
        assert backend.queues.pending("cpu") == 1
        c.delete(f"/api/analyses/{waiting['id']}",
                 headers={"X-Owner-Token": waiting["owner_token"]})
        assert backend.queues.pending("cpu") == 0
        assert files_holding(data_dir, marker.encode()) == []


def test_undelivered_results_are_purged_after_the_retention(tmp_path: Path,
                                                            mlp_doc: dict[str, Any]) -> None:
    backend = make_backend(None, tmp_path)


    backend.submit(JobSpec(job_id="j1", source="x = 'retained'\n", settings={}))
    work_one(backend, mlp_doc)
    assert backend.purge_finished(older_than_s=60) == 0
    assert backend.outcome("j1") is not None
    time.sleep(0.2)
    assert backend.purge_finished(older_than_s=0.1) == 1
    assert backend.state.outcome("j1") is None and backend.state.events("j1") == []
    assert files_holding(tmp_path, b"retained") == []
