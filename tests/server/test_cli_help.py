"""`ckpt serve --help` and `ckpt worker --help`, in process: the server's subcommands join the
library's in the one `ckpt` script."""

from __future__ import annotations

import re

import pytest

from ckpt_core.cli import COMMANDS
from server.cli import main


@pytest.mark.parametrize(("name", "flag"), [("serve", "--port"), ("worker", "--queue")])
def test_server_subcommands_answer_help(capsys: pytest.CaptureFixture[str], name: str,
                                        flag: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: ckpt {name} ") and flag in text


def test_the_script_lists_library_and_server_subcommands(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    names = [m.__name__.rsplit(".", 1)[-1].replace("_", "-") for m in COMMANDS]
    names += ["serve", "worker"]
    assert "analyze" in names and "torch-versions" in names
    for name in names:
        assert re.search(rf"\n    {name}\s", text), name  # a long name wraps its help
