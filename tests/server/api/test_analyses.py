"""The analyses API against a fake job backend: submit, cache, follow, read, share, delete."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient

from .conftest import SNIPPET, ClientFactory
from .fakes import FAIL_MARKER, documents_backend


def wait_final(client: TestClient, analysis_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/analyses/{analysis_id}").json()
        if body["status"] in ("done", "failed", "cancelled"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"analysis {analysis_id} did not finish")


def submit(client: TestClient, source: str = SNIPPET, **extra: Any) -> dict[str, Any]:
    r = client.post("/api/analyses", json={"source": source, **extra})
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def test_submit_follow_and_read(client: tuple[TestClient, Any], mlp_doc: dict[str, Any]) -> None:
    c, backend = client
    sub = submit(c, settings={"memory_budget": 0.5}, name="mlp.py")
    assert sub["share_url"] == f"/a/{sub['id']}"
    assert sub["status_url"] == f"/api/analyses/{sub['id']}"
    assert len(sub["id"]) >= 22 and sub["cached"] is False and sub["owner_token"]
    status = wait_final(c, sub["id"])
    assert status["status"] == "done" and status["summary"] == mlp_doc["summary"]
    assert status["settings"]["memory_budget"] == 0.5 and status["snippet_name"] == "mlp.py"
    assert status["torch_version"] and status["device"] == "cpu" and status["error"] is None
    doc = c.get(f"/api/analyses/{sub['id']}/document").json()
    assert doc["schema_version"] == 1 and doc["regions"] == mlp_doc["regions"]
    # the content hash is never part of anything a client sees
    assert backend.submitted[0].job_id not in json.dumps(sub)


def test_cached_resubmission_gets_new_id_and_no_new_job(client: tuple[TestClient, Any]) -> None:
    c, backend = client
    first = submit(c)
    wait_final(c, first["id"])
    again = submit(c, name="other.py")
    assert again["cached"] is True and again["id"] != first["id"]
    assert len(backend.submitted) == 1
    assert wait_final(c, again["id"])["status"] == "done"
    # different settings are a different result
    assert submit(c, settings={"partitioner": "default"})["cached"] is False
    assert len(backend.submitted) == 2


def test_multipart_upload(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    r = c.post("/api/analyses", files={"file": ("my (1).py", SNIPPET.encode(), "text/x-python")},
               data={"settings": json.dumps({"decompositions": "none"})})
    assert r.status_code == 202, r.text
    status = wait_final(c, r.json()["id"])
    assert status["snippet_name"] == "my _1_.py" and status["settings"]["decompositions"] == "none"


def test_static_checks_run_before_queueing(client: tuple[TestClient, Any]) -> None:
    c, backend = client
    r = c.post("/api/analyses", json={"source": "import torch\nmodel = (\n"})
    assert r.status_code == 422
    assert r.json()["code"] == "snippet_syntax_error" and r.json()["line"] == 2
    r = c.post("/api/analyses", json={"source": "import torch\nf = torch.compile(g)\n"})
    assert r.status_code == 422 and r.json()["line"] == 2
    assert backend.submitted == []


def test_bad_settings_name_the_field(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    for settings, field in (({"memory_budget": 2}, "memory_budget"),
                            ({"partitioner": "magic"}, "partitioner"),
                            ({"colour": "red"}, "colour"), ({"fullgraph": "yes"}, "fullgraph")):
        r = c.post("/api/analyses", json={"source": SNIPPET, "settings": settings})
        assert r.status_code == 422, settings
        assert field in r.json()["message"] and r.json()["code"] == "invalid_settings"
    r = c.post("/api/analyses", json={"source": SNIPPET, "settings": "fast"})
    assert r.status_code == 422 and "settings" in r.json()["message"]


def test_malformed_requests_are_4xx_with_messages(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    cases = [
        c.post("/api/analyses", content=b"\xff\xfe{", headers={"content-type": "application/json"}),
        c.post("/api/analyses", content=b"{not json", headers={"content-type": "application/json"}),
        c.post("/api/analyses", json={"settings": {}}),
        c.post("/api/analyses", json=[1, 2]),
        c.post("/api/analyses", json={"source": SNIPPET, "name": "../../etc/passwd"}),
        c.post("/api/analyses", files={"file": ("x.py", b"\xff\xfe\x00bad", "text/plain")}),
        c.post("/api/analyses", content=b"source=1", headers={"content-type": "text/plain"}),
        c.post("/api/analyses", json={"source": "x = 1\x00"}),
        c.post("/api/analyses", content=b"[" * 100_000,
               headers={"content-type": "application/json"}),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, (r.status_code, r.text)
        assert r.json()["message"] and r.json()["code"]
    assert "UTF-8" in cases[0].json()["message"] and "UTF-8" in cases[5].json()["message"]
    assert "source" in cases[2].json()["message"]
    assert cases[6].status_code == 415


def test_size_limit(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    big = SNIPPET + "\n# " + "x" * (400 * 1024)
    r = c.post("/api/analyses", json={"source": big})
    assert r.status_code == 413 and "KiB" in r.json()["message"]
    just_over = SNIPPET + "\n# " + "x" * (256 * 1024 - len(SNIPPET))
    r = c.post("/api/analyses", json={"source": just_over})
    assert r.status_code == 413 and r.json()["code"] == "too_large"


def test_unknown_ids_are_404(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    for path in ("/api/analyses/nope", "/api/analyses/nope/document", "/api/analyses/nope/events",
                 "/api/analyses/" + "x" * 500, "/api/sweeps/nope",
                 "/api/analyses/nope/regions/0/graphs/forward"):
        r = c.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"
    page = c.get("/a/nope")  # a page link: an HTML page that says what happened
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


def test_privacy_headers_on_every_response(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    for r in (c.get("/healthz"), c.get("/api/analyses/nope"), c.get("/"),
              c.post("/api/analyses", json={})):
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-robots-tag"] == "noindex"


def test_failed_analysis_reports_error_with_line(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    sub = submit(c, source=SNIPPET + "\n" + FAIL_MARKER + "\n")
    status = wait_final(c, sub["id"])
    assert status["status"] == "failed" and status["summary"] is None
    assert status["error"]["code"] == "compile_error" and status["error"]["line"]
    assert status["error"]["type"] == "CompileError"
    r = c.get(f"/api/analyses/{sub['id']}/document")
    assert r.status_code == 409 and r.json()["code"] == "not_ready"
    # a failed result is not cached: resubmitting runs again
    assert submit(c, source=SNIPPET + "\n" + FAIL_MARKER + "\n")["cached"] is False


def test_events_sse_and_polling(make_client: ClientFactory, mlp_doc: dict[str, Any]) -> None:
    with make_client(documents_backend({}, mlp_doc, delay_s=0.3)) as (c, _):
        sub = submit(c)
        with c.stream("GET", sub["events_url"]) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
        stages = [e["stage"] for e in events]
        assert stages[0] == "queued" and stages[-1] == "done" and "tracing" in stages
        assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
        polled = c.get(sub["events_url"] + "?format=json").json()
        assert [e["stage"] for e in polled] == stages
        accept = c.get(sub["events_url"], headers={"accept": "application/json"}).json()
        assert accept == polled
        assert c.get(sub["events_url"] + "?format=json&after=3").json() == polled[3:]


def test_running_then_cancelled_by_delete(make_client: ClientFactory,
                                          mlp_doc: dict[str, Any]) -> None:
    backend = documents_backend({}, mlp_doc)
    backend.hold()
    with make_client(backend) as (c, _):
        sub = submit(c)
        time.sleep(0.1)
        assert c.get(sub["status_url"]).json()["status"] == "running"
        assert c.delete(sub["status_url"]).status_code == 403
        assert c.delete(sub["status_url"], headers={"X-Owner-Token": "guess"}).status_code == 403
        r = c.delete(sub["status_url"], headers={"X-Owner-Token": sub["owner_token"]})
        assert r.status_code == 204
        assert c.get(sub["status_url"]).status_code == 404


def test_delete_keeps_results_other_links_share(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    first = submit(c)
    wait_final(c, first["id"])
    second = submit(c)
    assert second["cached"]
    r = c.delete(first["status_url"], headers={"X-Owner-Token": first["owner_token"]})
    assert r.status_code == 204
    assert c.get(first["status_url"]).status_code == 404
    assert c.get(f"/api/analyses/{second['id']}/document").status_code == 200


def test_regenerate_link(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    sub = submit(c)
    wait_final(c, sub["id"])
    assert c.post(sub["status_url"] + "/link").status_code == 403
    r = c.post(sub["status_url"] + "/link", headers={"X-Owner-Token": sub["owner_token"]})
    assert r.status_code == 200
    new = r.json()
    assert new["id"] != sub["id"] and new["share_url"] == f"/a/{new['id']}"
    assert c.get(sub["status_url"]).status_code == 404
    assert c.get(new["status_url"]).json()["status"] == "done"
    # the owner token moves with the link
    r = c.delete(new["status_url"], headers={"X-Owner-Token": sub["owner_token"]})
    assert r.status_code == 204


def test_api_keys(make_client: ClientFactory) -> None:
    with make_client(api_keys=frozenset({"k1"})) as (c, _):
        r = c.post("/api/analyses", json={"source": SNIPPET})
        assert r.status_code == 401 and r.json()["code"] == "api_key_required"
        assert c.post("/api/analyses", json={"source": SNIPPET},
                      headers={"X-API-Key": "k2"}).status_code == 401
        assert c.post("/api/analyses", json={"source": SNIPPET},
                      headers={"X-API-Key": "k1"}).status_code == 202
        assert c.post("/api/analyses", json={"source": SNIPPET},
                      headers={"Authorization": "Bearer k1"}).status_code == 202
        # reading needs only the link
        assert c.get("/api/examples").status_code == 200


def test_rate_limit(make_client: ClientFactory) -> None:
    with make_client(submissions_per_minute=3) as (c, _):
        codes = [c.post("/api/analyses", json={"source": SNIPPET}).status_code for _ in range(5)]
        assert codes[:3] == [202, 202, 202] and codes[3:] == [429, 429]
        r = c.post("/api/analyses", json={"source": SNIPPET})
        assert int(r.headers["retry-after"]) >= 1 and r.json()["code"] == "rate_limited"


def test_openapi_documents_the_contract(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    spec = c.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/analyses", "/api/analyses/{analysis_id}",
                 "/api/analyses/{analysis_id}/document", "/api/analyses/{analysis_id}/events",
                 "/api/analyses/{analysis_id}/regions/{region}/graphs/{kind}",
                 "/api/analyses/{analysis_id}/regions/{region}/graphs/{kind}.svg",
                 "/api/analyses/{analysis_id}/regions/{region}/graphs/{kind}/groups",
                 "/api/analyses/{analysis_id}/memory",
                 "/api/analyses/{analysis_id}/figures/timeline", "/api/sweeps",
                 "/api/sweeps/{sweep_id}", "/api/diffs", "/api/examples",
                 "/api/analyses/{analysis_id}/link", "/healthz", "/readyz"):
        assert path in paths, path
    body = paths["/api/analyses"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert c.get("/docs").status_code == 200


def test_cached_reads_keep_headers_and_honour_deletion(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    first, second = submit(c), submit(c)
    wait_final(c, first["id"])
    graph = f"/api/analyses/{first['id']}/regions/0/graphs/forward"
    for _ in range(2):  # the second read of each is answered from memory, before routing
        status = c.get(first["status_url"])
        body = c.get(graph)
    assert status.json()["status"] == "done" and body.json()["kind"] == "forward"
    for r in (status, body):
        assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-robots-tag"]
    c.delete(first["status_url"], headers={"X-Owner-Token": first["owner_token"]})
    assert c.get(first["status_url"]).status_code == 404
    assert c.get(graph).status_code == 404
    c.get(second["status_url"]), c.get(second["status_url"])
    relinked = c.post(second["status_url"] + "/link",
                      headers={"X-Owner-Token": second["owner_token"]}).json()
    assert c.get(second["status_url"]).status_code == 404
    assert c.get(relinked["status_url"]).json()["id"] == relinked["id"]


def test_restart_with_a_backend_that_kept_the_job(make_client: ClientFactory,
                                                   mlp_doc: dict[str, Any]) -> None:
    """A persistent queue (the worker's) still has the job after a restart: it is followed,
    not re-queued, and its progress events are not recorded twice."""
    backend = documents_backend({}, mlp_doc)
    backend.hold()
    with make_client(backend) as (c, _):
        sub = submit(c)
        time.sleep(0.2)
        assert c.get(sub["status_url"]).json()["status"] == "running"
    with make_client(backend) as (c, _):
        backend.release()
        assert wait_final(c, sub["id"])["status"] == "done"
        stages = [e["stage"] for e in c.get(sub["events_url"] + "?format=json").json()]
    assert len(backend.submitted) == 1
    assert stages[0] == "queued" and stages[-1] == "done" and len(stages) == len(set(stages))


def test_writes_from_another_sites_page_are_refused(make_client: ClientFactory) -> None:
    """A page elsewhere can make a visitor's browser POST a snippet to a local server; browsers
    say where such a request comes from, and the server refuses it."""
    with make_client(allowed_origins=frozenset({"https://ui.example"})) as (c, backend):
        body = {"source": SNIPPET}
        own = c.post("/api/analyses", json=body, headers={"origin": "http://testserver"})
        assert own.status_code == 202, own.text
        for headers in ({"origin": "https://evil.example"}, {"origin": "null"},
                        {"sec-fetch-site": "cross-site"}):
            r = c.post("/api/analyses", json=body, headers=headers)
            assert r.status_code == 403 and r.json()["code"] == "cross_site", (headers, r.text)
        form = c.post("/api/analyses", files={"file": ("m.py", SNIPPET.encode())},
                      headers={"origin": "https://evil.example"})
        assert form.status_code == 403
        r = c.delete(f"/api/analyses/{own.json()['id']}", headers={
            "origin": "https://evil.example", "X-Owner-Token": own.json()["owner_token"]})
        assert r.status_code == 403
        assert c.get(f"/api/analyses/{own.json()['id']}").status_code == 200  # reads are fine
        listed = c.post("/api/analyses", json=body, headers={"origin": "https://ui.example"})
        assert listed.status_code == 202  # an origin the operator allowed
        assert len(backend.submitted) == 1  # nothing refused reached the backend
