"""The `ckpt` console script: the library's subcommands plus the server's (serve, worker)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import ModuleType

from ckpt_core.cli import main as core_main
from server import cli_serve, cli_worker

#: Server subcommand modules, each with `register(subparsers)`.
SERVER_COMMANDS: list[ModuleType] = [cli_serve, cli_worker]


def main(argv: Sequence[str] | None = None) -> int:
    return core_main(argv, extra=SERVER_COMMANDS)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
