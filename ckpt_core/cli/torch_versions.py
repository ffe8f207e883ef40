"""`ckpt torch-versions`, and `--torch VERSION` on analyze/sweep/whatif: the same command run by
another installed torch's interpreter (the virtualenvs `scripts/torch_versions` makes)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .common import EXIT_BAD_INPUT, EXIT_OK


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "torch-versions",
        help="list the torch releases ckptscope can analyse with here (for --torch)",
        description=(
            "List this interpreter's torch and each virtualenv made by scripts/torch_versions "
            "($CKPT_TORCH_VENVS, default /work/torchvenvs, else ~/.cache/ckptscope/torch), each "
            "checked by importing torch and ckpt_core there. `ckpt analyze --torch VERSION` "
            "(also sweep and whatif) runs under one of them. Exit 0 when every one listed "
            "works, 2 otherwise."
        ),
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..torches import installed, venv_root

    found = installed()
    width = max(len(t.version or "unusable") for t in found)
    for t in found:
        label = t.version or "unusable"
        where = "this interpreter" if t.current else t.python
        print(f"{label:<{width}}  {where}")
        if t.problem:
            print(f"{'':<{width}}  {t.problem}")
    if len(found) == 1:
        print(f"(no other torch in {venv_root()}: scripts/torch_versions --setup-only VERSION "
              "makes one)")
    return EXIT_OK if all(t.version for t in found) else EXIT_BAD_INPUT


def run_elsewhere(choice: str, argv: list[str], here: Callable[[], int]) -> int:
    """Run `ckpt ARGV` under the torch `choice` names; `here()` when it is this interpreter's."""
    from ..torches import resolve, run_under

    try:
        python = resolve(choice)
    except ValueError as e:
        print(f"ckpt: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if python is None:
        return here()
    return run_under(python, without_torch(argv))


def without_torch(argv: list[str]) -> list[str]:
    """ARGV less its `--torch X` / `--torch=X`."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--torch":
            skip = True
        elif not arg.startswith("--torch="):
            out.append(arg)
    return out
