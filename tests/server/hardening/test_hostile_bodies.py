"""Hostile request bodies are 4xx with a message, never a 500 (nor a dropped connection)."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckpt_core.errors import SettingsError, SnippetError
from ckpt_core.settings import Settings
from ckpt_core.source import check_source
from tests.server.api.conftest import SNIPPET

TAIL = "\nmodel = 1\nexample_inputs = 1\n"
BUDGET = '{{"source": {}, "settings": {{"memory_budget": {}}}}}'
HOSTILE = {
    "5000-digit budget": BUDGET.format(json.dumps(SNIPPET), "9" * 5000),
    "10**400 budget": BUDGET.format(json.dumps(SNIPPET), str(10**400)),
    "lone surrogate": '{"source": "x = \\"\\ud800\\"\\nmodel = 1\\nexample_inputs = 1"}',
    "60,000-deep parentheses": json.dumps({"source": "x = " + "(" * 60000 + "1"
                                           + ")" * 60000 + TAIL}),
    "60,000-deep sum": json.dumps({"source": "x = " + "1+" * 60000 + "1" + TAIL}),
    "60,000-long attribute chain": json.dumps({"source": "x = a" + ".b" * 60000 + TAIL}),
    "100,000 unary minuses": json.dumps({"source": "x = " + "-" * 100000 + "1" + TAIL}),
    "surrogate in a settings key": '{"source": "x", "settings": {"\\udfff": 1}}',
    "5000-digit budget in a sweep": '{"source": "x", "budgets": [' + "9" * 5000 + "]}",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_body_is_a_4xx_with_a_message(client: tuple[TestClient, Any], case: str) -> None:
    c, _ = client
    path = "/api/sweeps" if "sweep" in case else "/api/analyses"
    r = c.post(path, content=HOSTILE[case].encode("utf-8", "surrogatepass"),
               headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    body = r.json()
    assert body["code"] != "internal_error" and len(body["message"]) > 10
    assert "set_int_max_str_digits" not in body["message"]


def test_deep_snippet_is_named_as_too_deep() -> None:
    with pytest.raises(SnippetError, match="nested too deeply"):
        check_source("x = " + "-" * 100000 + "1" + TAIL)
    with pytest.raises(SnippetError, match="surrogate") as info:
        check_source("a = 1\nb = '\ud800'" + TAIL)
    assert info.value.line == 2


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**500, max_value=10**500),
                      st.floats(allow_nan=True), st.text(max_size=30))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
setting_names = st.sampled_from(["memory_budget", "partitioner", "decompositions", "device",
                                 "fullgraph", "budget_solver", "ban_recompute_reductions"])


@given(st.dictionaries(st.one_of(setting_names, st.text(max_size=8)), json_value, max_size=4))
@settings(max_examples=300, deadline=None)
def test_settings_accept_or_name_the_field(data: dict[str, Any]) -> None:
    """Any JSON-like settings either build or raise `SettingsError` with a short message."""
    try:
        Settings.from_dict(data)
    except SettingsError as e:
        assert e.message.startswith("settings") and len(e.message) < 1000


snippet_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=string.printable, max_size=200),
    st.builds(lambda op, n: "x = " + op * n + "1" + TAIL,
              st.sampled_from(["-", "~", "not ", "(", "a.", "f(", "[", "1+", "lambda: "]),
              st.integers(min_value=0, max_value=40000)),
)


@given(snippet_text)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_snippet_checks_raise_only_snippet_errors(source: str) -> None:
    try:
        check_source(source)
    except SnippetError as e:
        assert e.message


request_bodies = st.one_of(
    json_value,
    st.fixed_dictionaries({"source": snippet_text},
                          optional={"settings": json_value, "name": json_value,
                                    "budgets": json_value}),
)


@given(body=request_bodies)
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_no_request_body_raises(client: tuple[TestClient, Any], body: Any) -> None:
    """Property: whatever JSON a client posts to the submission routes, the answer is an
    accepted submission or a 4xx with a message; never an unhandled exception."""
    c, _ = client
    raw = json.dumps(body, ensure_ascii=True).encode("ascii")
    for path in ("/api/analyses", "/api/sweeps"):
        r = c.post(path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        if r.status_code >= 400:
            assert r.json()["message"]
