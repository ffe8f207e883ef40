"""The repository's example snippets (the basics, then the gallery of real models), with the
settings each suggests."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from ..deps import Config
from ..models import Example

router = APIRouter(prefix="/api/examples", tags=["examples"])

#: `--memory-budget 0.5` in a docstring suggests the setting `memory_budget: 0.5`.
_OPTION = re.compile(r"--([a-z][a-z-]+)[ =]([\w.]+)")


def _value(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


@cache
def load_examples(examples_dir: Path) -> tuple[Example, ...]:
    out = []
    # the basics first, then the gallery of real models (examples/gallery/)
    for path in [*sorted(examples_dir.glob("*.py")), *sorted(examples_dir.glob("gallery/*.py"))]:
        source = path.read_text(encoding="utf-8")
        try:
            doc = ast.get_docstring(ast.parse(source)) or ""
        except SyntaxError:
            continue
        title, _, rest = doc.partition("\n")
        settings = {m.group(1).replace("-", "_"): _value(m.group(2))
                    for m in _OPTION.finditer(doc)}
        out.append(Example(name=path.stem, title=title.strip() or path.stem,
                           description=" ".join(rest.split()), source=source,
                           settings=settings,
                           group="gallery" if path.parent.name == "gallery" else "basics"))
    return tuple(out)


@router.get("", response_model=list[Example])
def list_examples(config: Config) -> list[Example]:
    return list(load_examples(config.examples_dir))
