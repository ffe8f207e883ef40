"""What-ifs through the API: checked against the stored analysis at once (4xx for bad
overrides), computed as a new, cached analysis of the same snippet by one backend job."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ckpt_core import Settings, validate_analysis
from ckpt_core.policy import whatif_job
from server.jobs import JobSpec

from .conftest import ClientFactory
from .fakes import FakeBackend
from .test_analyses import submit, wait_final

pytestmark = pytest.mark.torch_compile


def whatif_backend(mlp_doc: dict[str, Any]) -> FakeBackend:
    """The stored analysis for plain submissions; a real what-if (traced, re-partitioned) for
    what-if jobs, computed in this process as the worker would."""

    done: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()  # the watcher and a request may both ask; torch compiles one job

    def result_for(spec: JobSpec) -> dict[str, Any]:
        if "whatif" not in spec.options:
            return {"result": {**mlp_doc, "settings": dict(spec.settings)}}
        with lock:
            if spec.job_id not in done:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / spec.snippet_name
                    path.write_text(spec.source)
                    done[spec.job_id] = {"result": whatif_job(
                        path, Settings.from_dict(spec.settings), spec.snippet_name,
                        spec.options)}
            return done[spec.job_id]

    return FakeBackend(result_for)


def test_whatif_is_a_new_cached_analysis(make_client: ClientFactory,
                                         mlp_doc: dict[str, Any]) -> None:
    backend = whatif_backend(mlp_doc)
    with make_client(backend) as (c, _):
        base = submit(c, name="mlp_checkpoint.py")
        assert wait_final(c, base["id"])["status"] == "done"
        body = {"overrides": [{"selector": "op:aten.addmm.default", "action": "MUST_SAVE"}],
                "settings": {"memory_budget": 0.5}}
        r = c.post(f"/api/analyses/{base['id']}/whatif", json=body)
        assert r.status_code == 202, r.text
        new = r.json()
        assert new["base_id"] == base["id"] and new["changed_ops"] == 2
        assert new["compare_url"] == f"/diff/{base['id']}..{new['id']}"
        assert any("outside any checkpoint" in n for n in new["notes"])
        assert wait_final(c, new["id"], timeout_s=120)["status"] == "done"
        doc = c.get(new["document_url"]).json()
        validate_analysis(doc)
        assert doc["overrides"] == body["overrides"]
        assert doc["settings"]["memory_budget"] == 0.5
        assert "def policy_for_block()" in doc["whatif"]["policy_code"]
        assert doc["whatif"]["deltas"]["recompute_flops"] < 0
        diff = c.get(new["diff_url"]).json()
        assert diff["kind"] == "ckptscope.diff" and diff["comparisons"][0]["changed"]
        # the same what-if again: the result cache answers, no second job
        again = c.post(f"/api/analyses/{base['id']}/whatif", json=body).json()
        assert again["cached"] and again["id"] != new["id"]
        assert sum("whatif" in s.options for s in backend.submitted) == 1
        # the what-if job is the base's snippet with the what-if's settings
        spec = next(s for s in backend.submitted if "whatif" in s.options)
        assert spec.options["whatif"]["base_settings"]["memory_budget"] == 1.0


def test_bad_overrides_are_4xx_naming_what_is_wrong(client: tuple[TestClient, Any]) -> None:
    c, backend = client
    base = submit(c)
    assert wait_final(c, base["id"])["status"] == "done"
    url = f"/api/analyses/{base['id']}/whatif"
    cases = [
        ({"selector": "op:aten.nope.default", "action": "MUST_SAVE"},
         "no forward op of this program is aten.nope.default"),
        ({"selector": "module:attn.*", "action": "MUST_SAVE"}, "matches no module"),
        ({"selector": "node:primals_1", "action": "MUST_RECOMPUTE"},
         "a checkpoint policy can only tag forward ops"),
        ({"selector": "region:3", "action": "NO_CHECKPOINT"}, "no checkpoint region 3"),
        ({"selector": "blocks.0", "action": "MUST_SAVE"}, "write KIND:PATTERN"),
    ]
    for override, words in cases:
        r = c.post(url, json={"overrides": [override]})
        assert r.status_code == 422, r.text
        assert words in r.json()["message"], r.json()
        assert r.json()["code"] == "invalid_override"
    r = c.post(url, json={"overrides": [{"selector": "region:1", "action": "SAVE"}]})
    assert r.status_code == 422 and "action" in r.json()["message"]
    r = c.post(url, json={"overrides": []})
    assert r.status_code == 422
    r = c.post(url, json={"overrides": [{"selector": "region:1", "action": "MUST_SAVE"}],
                          "settings": {"decompositions": "none"}})
    assert r.status_code == 422 and "decompositions stays 'inductor'" in r.json()["message"]
    r = c.post("/api/analyses/nope/whatif",
               json={"overrides": [{"selector": "region:1", "action": "MUST_SAVE"}]})
    assert r.status_code == 404
    assert len(backend.submitted) == 1  # none of these queued anything
