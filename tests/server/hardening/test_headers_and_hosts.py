"""DNS rebinding (the Host check) and the headers of pages, documents and errors."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.app.security import PAGE_CSP, host_allowed
from tests.server.api.conftest import SNIPPET, ClientFactory
from tests.server.api.test_analyses import submit, wait_final


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "10.1.2.3",
                                  "LOCALHOST", "ckpt.example.org", "a.team.example.net:443"])
def test_hosts_this_server_answers_to(host: str) -> None:
    assert host_allowed(host, frozenset({"ckpt.example.org", "*.team.example.net"}))


@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.1.attacker.example", "",
                                  "localhost.attacker.example:8000", "team.example.net"])
def test_hosts_refused(host: str) -> None:
    assert not host_allowed(host, frozenset({"ckpt.example.org", "*.team.example.net"}))


def test_rebound_name_is_refused_before_anything_runs(client: tuple[TestClient, Any]) -> None:
    """A page on attacker.example whose name now resolves to this server: its same-origin
    requests carry `Host: attacker.example` (and a matching Origin), so the cross-site check
    alone lets them through."""
    c, backend = client
    headers = {"Host": "attacker.example:8000", "Origin": "http://attacker.example:8000"}
    r = c.post("/api/analyses", json={"source": SNIPPET}, headers=headers)
    assert r.status_code == 400 and r.json()["code"] == "host_not_allowed"
    assert "CKPT_ALLOWED_HOSTS" in r.json()["message"] and not backend.submitted
    assert c.get("/", headers=headers).status_code == 400
    sub = submit(c)
    assert c.get(f"/api/analyses/{sub['id']}", headers={"Host": "evil.test"}).status_code == 400
    assert c.get(f"/api/analyses/{sub['id']}", headers={"Host": "127.0.0.1:9"}).status_code == 200


def test_pages_and_documents_are_private_and_unframeable(client: tuple[TestClient, Any]) -> None:
    c, _ = client
    sub = submit(c)
    wait_final(c, sub["id"])
    for path in ("/", f"/a/{sub['id']}", "/diff"):
        r = c.get(path)
        assert r.headers["content-security-policy"] == PAGE_CSP
        assert "script-src 'self';" in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "private, no-store"
    for path in (f"/api/analyses/{sub['id']}", f"/api/analyses/{sub['id']}/document"):
        for _ in range(2):  # the second read comes from the in-memory fast path
            r = c.get(path)
            assert r.status_code == 200
            assert r.headers["cache-control"] == "private, no-store"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    missing = c.get("/api/analyses/nope")
    assert missing.status_code == 404 and missing.headers["cache-control"] == "private, no-store"
    static = c.get("/static/js/api.js")
    assert static.status_code == 200 and "public" in static.headers["cache-control"]


def test_413_states_the_real_limits(make_client: ClientFactory) -> None:
    with make_client(max_request_bytes=100_000, max_snippet_bytes=64 * 1024) as (c, _):
        r = c.post("/api/analyses", content=b"x" * 100_001,
                   headers={"content-type": "application/json"})
    assert r.status_code == 413
    message = r.json()["message"]
    assert "100000 bytes" in message and "65536 bytes (64 KiB)" in message, message
