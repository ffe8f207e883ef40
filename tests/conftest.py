"""Shared fixtures: real analyses of the examples, compiled once per test session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"



def example_names(*, full_size: bool = True) -> list[str]:
    """The examples' names. A full-size example asks for `--execution fake` in its docstring
    (a real run would allocate the whole model); `full_size=False` leaves those out."""
    import ast

    names = []
    for path in sorted(EXAMPLES.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if full_size or "--execution fake" not in doc:
            names.append(path.stem)
    return names


_CACHE: dict[tuple[str, tuple[tuple[str, Any], ...]], dict[str, Any]] = {}


def analyze_example_cached(name: str, **settings: Any) -> dict[str, Any]:
    """The analysis document of `examples/<name>.py` under `settings`, compiled once."""
    import ckpt_core

    key = (name, tuple(sorted(settings.items())))
    if key not in _CACHE:
        analysis = ckpt_core.analyze_file(EXAMPLES / f"{name}.py", ckpt_core.Settings(**settings))
        _CACHE[key] = analysis.to_dict()
    return _CACHE[key]


@pytest.fixture(scope="session")
def analyze_example() -> Any:
    """`analyze_example("gpt_sac", memory_budget=0.5) -> dict` (cached across the session)."""
    return analyze_example_cached
