"""`ckpt … --help`, in process (no interpreter start, no torch): every subcommand answers with
exit status 0 and a usage line, and the analysing subcommands offer every analysis setting."""

from __future__ import annotations

import re

import pytest

from ckpt_core.cli import COMMANDS, main
from ckpt_core.settings import HELP

SUBCOMMANDS = [module.__name__.rsplit(".", 1)[-1].replace("_", "-") for module in COMMANDS]


def help_text(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr()
    assert out.err == ""
    return out.out


def test_the_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    assert text.startswith("usage: ckpt")
    assert {"analyze", "diff", "sweep", "whatif"} <= set(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        assert re.search(rf"\n    {name}\s", text), name  # a long name wraps its help


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_its_usage(capsys: pytest.CaptureFixture[str], name: str) -> None:
    text = help_text(capsys, name)
    assert text.startswith(f"usage: ckpt {name} ")
    assert "options:" in text


@pytest.mark.parametrize("name", ["analyze", "sweep", "whatif"])
def test_analysing_subcommands_offer_every_setting(capsys: pytest.CaptureFixture[str],
                                                    name: str) -> None:
    text = help_text(capsys, name)
    flags = ["--" + key.replace("_", "-") for key in HELP]
    assert flags
    missing = [flag for flag in flags if flag not in text]
    assert not missing, f"ckpt {name} --help lacks {missing}"


def test_a_wrong_subcommand_exits_2_naming_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["analyse"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'analyse'" in err and "analyze" in err
