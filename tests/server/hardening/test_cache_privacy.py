"""A cached answer shares the computed result only: never another submitter's snippet name,
submission time or the times of their job's events."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.server.api.test_analyses import submit, wait_final


def test_cached_answer_keeps_each_submitters_own_metadata(client: tuple[TestClient, Any]) -> None:
    c, backend = client
    first = submit(c, name="alice_private_model.py")
    done = wait_final(c, first["id"])
    time.sleep(1.1)  # submission times a second apart
    again = submit(c, name="bob.py")
    assert again["cached"] is True and len(backend.submitted) == 1
    mine = wait_final(c, again["id"])
    assert mine["snippet_name"] == "bob.py"
    assert mine["created_at"] > done["created_at"]
    assert mine["finished_at"] >= mine["created_at"]
    assert mine["summary"] == done["summary"]  # the computed result is shared
    doc = c.get(again["document_url"]).json()
    assert doc["snippet_name"] == "bob.py"
    assert "alice_private_model" not in c.get(again["document_url"]).text
    created_s = datetime.fromisoformat(mine["created_at"]).timestamp()
    events = c.get(again["events_url"] + "?format=json").json()
    # created_at is ISO text, rounded to the microsecond (up as often as down)
    assert events and all(e["at"] >= created_s - 1e-6 for e in events)
    # the first submitter still sees their own
    assert c.get(first["status_url"]).json()["snippet_name"] == "alice_private_model.py"
    assert c.get(first["document_url"]).json()["snippet_name"] == "alice_private_model.py"
