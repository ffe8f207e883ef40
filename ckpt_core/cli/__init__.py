"""The `ckpt` command line: the library's subcommands (analyze, …), one module each.

`server.cli` adds the server's subcommands (serve, worker) on top of these; the library half
never imports the server.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from . import analyze, diff, export, sweep, torch_versions, whatif

#: Subcommand modules; each has `register(subparsers)` which sets `func` on its parser.
COMMANDS: list[ModuleType] = [analyze, diff, sweep, whatif, export, torch_versions]


def build_parser(extra: Sequence[ModuleType] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ckpt",
        description=(
            "ckptscope: see what torch.compile saves for backward, what it recomputes, and why."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in [*COMMANDS, *extra]:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, extra: Sequence[ModuleType] = ()) -> int:
    parser = build_parser(extra)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    if getattr(args, "torch", None):
        return torch_versions.run_elsewhere(args.torch, argv, lambda: func(args))
    return func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
