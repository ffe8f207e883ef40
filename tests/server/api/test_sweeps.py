"""Sweeps through the API: one backend job computes the missing budgets from one trace, and its
analyses become ordinary cached analyses (shared links, shared with later submissions)."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from server.jobs import JobSpec

from .conftest import SNIPPET, ClientFactory
from .fakes import FAIL_MARKER, FakeBackend, documents_backend
from .test_analyses import submit, wait_final


def post_sweep(c: TestClient, budgets: list[float], source: str = SNIPPET) -> dict[str, Any]:
    r = c.post("/api/sweeps", json={"source": source, "budgets": budgets})
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def sweep_final(c: TestClient, sweep: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body: dict[str, Any] = c.get(sweep["status_url"]).json()
        if body["status"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.02)
    raise AssertionError("the sweep did not finish")


def test_one_backend_job_computes_every_new_budget(make_client: ClientFactory,
                                                   mlp_doc: dict[str, Any]) -> None:
    backend = documents_backend({}, mlp_doc)
    with make_client(backend) as (c, _):
        sweep = post_sweep(c, [1.0, 0.5, 0.0])
        assert [s.options for s in backend.submitted] == [{"sweep_budgets": [1.0, 0.5, 0.0]}]
        body = sweep_final(c, sweep)
        assert body["status"] == "done", body
        points = body["result"]["points"]
        assert [p["budget"] for p in points] == [1.0, 0.5, 0.0]
        for p in points:
            doc = c.get(f"/api/analyses/{p['analysis_id']}/document").json()
            assert doc["settings"]["memory_budget"] == p["budget"]
        # each computed budget is now an ordinary cached analysis
        again = submit(c, settings={"memory_budget": 0.5})
        assert again["cached"] and len(backend.submitted) == 1


def test_a_submission_at_a_budget_the_sweep_computes_waits_for_it(
        make_client: ClientFactory, mlp_doc: dict[str, Any]) -> None:
    backend = documents_backend({}, mlp_doc)
    backend.hold()
    with make_client(backend) as (c, _):
        sweep = post_sweep(c, [1.0, 0.25])
        single = submit(c, settings={"memory_budget": 0.25})
        assert single["cached"] and len(backend.submitted) == 1  # no second compile
        assert c.get(single["status_url"]).json()["status"] in ("queued", "running")
        backend.release()
        assert wait_final(c, single["id"])["status"] == "done"
        assert sweep_final(c, sweep)["status"] == "done"
        events = c.get(single["events_url"] + "?format=json").json()
        assert "tracing" in [e["stage"] for e in events]  # the sweep job's progress, shared


def test_a_failed_sweep_job_fails_each_analysis_it_carried(make_client: ClientFactory,
                                                          mlp_doc: dict[str, Any]) -> None:
    with make_client(documents_backend({}, mlp_doc)) as (c, _):
        source = SNIPPET + "\n" + FAIL_MARKER + "\n"
        body = sweep_final(c, post_sweep(c, [1.0, 0.5], source))
        assert body["status"] == "failed" and "fake failure" in body["error"]["message"]
        single = submit(c, source=source, settings={"memory_budget": 0.5})
        assert not single["cached"]  # failed analyses are not reused: this one runs again


def test_a_sweep_job_that_returns_the_wrong_documents_fails_with_a_reason(
        make_client: ClientFactory, mlp_doc: dict[str, Any]) -> None:
    def short(spec: JobSpec) -> dict[str, Any]:
        return {"result": {"analyses": [{**mlp_doc, "settings": {"memory_budget": 1.0}}]}}

    with make_client(FakeBackend(short)) as (c, _):
        body = sweep_final(c, post_sweep(c, [1.0, 0.5]))
        assert body["status"] == "failed"
        assert body["error"]["message"] == "the sweep returned 1 analyses for 2 budgets"


def test_deleting_a_running_sweep_leaves_no_analysis_waiting_forever(
        make_client: ClientFactory, mlp_doc: dict[str, Any]) -> None:
    backend = documents_backend({}, mlp_doc)
    backend.hold()
    with make_client(backend) as (c, _):
        sweep = post_sweep(c, [0.75])
        point = submit(c, settings={"memory_budget": 0.75})  # shares the sweep's analysis
        assert point["cached"]
        assert c.delete(sweep["status_url"]).status_code == 403  # only its owner may
        r = c.delete(sweep["status_url"], headers={"X-Owner-Token": sweep["owner_token"]})
        assert r.status_code == 204, r.text
        assert c.get(sweep["status_url"]).status_code == 404
        body = wait_final(c, point["id"])
        assert body["status"] == "failed" and "sweep" in body["error"]["message"]
        fresh = submit(c, settings={"memory_budget": 0.75})
        assert not fresh["cached"]  # a new job, not the abandoned one
