"""Settings validation: every bad value is refused with a message naming the field."""

from __future__ import annotations

import pytest

from ckpt_core import Settings, SettingsError


def test_defaults_are_plain_torch_compile() -> None:
    s = Settings()
    assert s.decompositions == "inductor"
    assert s.partitioner == "min_cut"
    assert s.memory_budget == 1.0
    assert s.fullgraph is False
    assert s.device == "auto"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("decompositions", "aot"),
        ("partitioner", "greedy"),
        ("budget_solver", "simplex"),
        ("device", "tpu"),
        ("memory_budget", 1.5),
        ("memory_budget", -0.1),
        ("memory_budget", float("nan")),
        ("memory_budget", "0.5"),
        ("memory_budget", True),
        ("fullgraph", "yes"),
        ("ban_recompute_reductions", 1),
    ],
)
def test_bad_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(SettingsError, match=f"settings.{field}"):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_from_dict_refuses_unknown_fields() -> None:
    with pytest.raises(SettingsError, match=r"unknown field.*memory_budjet"):
        Settings.from_dict({"memory_budjet": 0.5})


def test_round_trip() -> None:
    s = Settings(memory_budget=0.25, partitioner="default", ban_recompute_reductions=False)
    assert Settings.from_dict(s.to_dict()) == s
    assert Settings(memory_budget=1).memory_budget == 1.0
