"""`ckpt diff A.json B.json [C.json …]`: match analyses, print what moved, write JSON / HTML."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import CkptError
from .common import EXIT_BAD_INPUT, EXIT_OK, write_json


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diff",
        help="compare analyses: which nodes moved between saved and recomputed, and the deltas",
        description=(
            "Match the forward nodes of two or more analysis JSON files (from `ckpt analyze -o`) "
            "and show which changed fate (saved / recomputed / forward-only), with the change in "
            "saved-activation bytes, recompute FLOPs and peak memory (when the analyses carry "
            "memory figures). Each file is compared with the one before it. Exit 0 on success, "
            "2 on an unreadable or invalid input."
        ),
    )
    p.add_argument("analyses", nargs="+", metavar="ANALYSIS.json")
    p.add_argument("-o", "--output", metavar="DIFF.json", help="write the diff JSON here")
    p.add_argument("--html", metavar="DIFF.html",
                   help="write a self-contained side-by-side HTML report here")
    p.add_argument("--validate", action="store_true",
                   help="check each input against the analysis JSON Schema and invariants first "
                        "(thorough, about a second per large analysis)")
    p.add_argument("--top", type=int, default=40, help="modules to list per comparison")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..diff import diff
    from ..diff.html import html_report
    from ..diff.inputs import DiffInputError
    from ..diff.report import text_report

    paths: list[str] = args.analyses
    if len(paths) < 2:
        return _fail("diff needs at least two analysis files")
    docs = []
    for path in paths:
        doc, problem = _load(path, args.validate)
        if problem:
            return _fail(f"{path}: {problem}")
        docs.append(doc)
    try:
        result = diff(docs, labels=_labels(paths))
    except DiffInputError as e:
        return _fail(e.message)
    print(text_report(result, top_modules=args.top))
    if args.output:
        write_json(args.output, result.to_dict())
        print(f"\nwrote {args.output}")
    if args.html:
        title = "ckptscope diff: " + " vs ".join(a.label for a in result.analyses)
        _write_text(args.html, html_report(result, title=title))
        print(f"{'' if args.output else chr(10)}wrote {args.html}")
    return EXIT_OK


def _load(path: str, validate: bool) -> tuple[dict[str, Any], str | None]:
    """The document at `path`, or why it cannot be diffed (one line)."""
    from ..diff.inputs import as_document
    from ..validate import validate_analysis

    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as e:
        return {}, f"cannot read: {e.strerror or e}"
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return {}, f"not JSON ({e})"
    if not isinstance(raw, dict):
        return {}, f"expected an analysis object, found a JSON {type(raw).__name__}"
    try:
        doc = as_document(raw, "file")
        if validate:
            validate_analysis(doc)
    except CkptError as e:
        # the message names "file"; the caller prefixes the path
        return {}, e.message.removeprefix("file: ").strip().splitlines()[0]
    return doc, None


def _labels(paths: list[str]) -> list[str]:
    """File names; the paths as given where different files share a name; `(2)`, `(3)`, … for
    a file given more than once."""
    owners: dict[str, set[str]] = {}
    for path in paths:
        owners.setdefault(Path(path).name, set()).add(os.path.normpath(path))
    seen: Counter[str] = Counter()
    out = []
    for path in paths:
        name = Path(path).name
        label = name if len(owners[name]) == 1 else path
        seen[label] += 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def _write_text(path: str, text: str) -> None:
    """Write atomically, so a reader never sees half a file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _fail(message: str) -> int:
    print(f"ckpt diff: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT
