"""`ckpt torch-versions` and `--torch`: the same command run by another installed torch's
interpreter, as a user runs it (real processes; the "other" torch is this one behind a wrapper
that leaves a mark, since CI installs a single torch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import ckpt_core
from ckpt_core.cli.torch_versions import without_torch
from ckpt_core.torches import current_version
from tests.conftest import EXAMPLES, REPO


def ckpt(venvs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CKPT_TORCH_VENVS=str(venvs))
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def wrapper_venv(venvs: Path, name: str) -> tuple[Path, Path]:
    """`venvs/torch-NAME/bin/python`: this interpreter, noting each start in a marker file."""
    python = venvs / f"torch-{name}" / "bin" / "python"
    python.parent.mkdir(parents=True)
    marker = venvs / f"{name}.ran"
    python.write_text(f'#!/bin/sh\necho started >> "{marker}"\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return python, marker


def test_without_torch_drops_only_the_torch_option() -> None:
    assert without_torch(["analyze", "a.py", "--torch", "2.15.0", "-o", "x"]) == \
        ["analyze", "a.py", "-o", "x"]
    assert without_torch(["sweep", "--torch=/v/bin/python", "a.py"]) == ["sweep", "a.py"]


def test_torch_versions_lists_this_torch_and_each_virtualenv(tmp_path: Path) -> None:
    wrapper_venv(tmp_path, "alt")
    venv.create(tmp_path / "torch-broken", with_pip=False)  # no torch there
    r = ckpt(tmp_path, "torch-versions")
    lines = r.stdout.splitlines()
    assert lines[0].split() == [current_version(), "this", "interpreter"]
    assert lines[1].split() == [current_version(), str(tmp_path / "torch-alt/bin/python")]
    assert lines[2].startswith("unusable") and "torch-broken" in lines[2]
    assert "cannot run ckpt_core: ModuleNotFoundError" in lines[3]
    assert r.returncode == 2  # one listed torch cannot be used


def test_an_unknown_version_is_refused_with_the_installed_ones(tmp_path: Path) -> None:
    r = ckpt(tmp_path, "analyze", str(EXAMPLES / "mlp_checkpoint.py"), "--torch", "9.9.9")
    assert r.returncode == 2
    assert f"--torch 9.9.9: not installed here (installed: {current_version()};" in r.stderr
    assert "scripts/torch_versions --setup-only 9.9.9" in r.stderr


def test_this_interpreters_version_runs_here(tmp_path: Path) -> None:
    _, marker = wrapper_venv(tmp_path, current_version().split("+")[0])
    r = ckpt(tmp_path, "analyze", "no-such-snippet.py", "--torch",
             current_version().split("+")[0])
    assert r.returncode == 2 and "no such file: no-such-snippet.py" in r.stderr
    assert not marker.exists()  # no other interpreter was started


@pytest.mark.torch_compile
def test_analyze_runs_under_the_chosen_interpreter(tmp_path: Path) -> None:
    python, marker = wrapper_venv(tmp_path, "alt")
    out = tmp_path / "a.json"
    r = ckpt(tmp_path, "analyze", str(EXAMPLES / "mlp_checkpoint.py"), "--torch", str(python),
             "--decompositions", "none", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "region 0:" in r.stdout
    # probed once (the choice is checked before the run), then the run itself
    assert marker.read_text().splitlines() == ["started", "started"]
    doc = json.loads(out.read_text())
    ckpt_core.validate_analysis(doc)
    assert doc["torch_version"] == current_version()
    assert doc["settings"]["decompositions"] == "none"


def test_a_path_that_is_no_interpreter_is_refused(tmp_path: Path) -> None:
    r = ckpt(tmp_path, "sweep", str(EXAMPLES / "mlp_checkpoint.py"), "--torch",
             str(tmp_path / "nope" / "python"))
    assert r.returncode == 2 and "no executable there" in r.stderr
