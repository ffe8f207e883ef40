"""The checks CI holds the line with: `ruff check` on the repository and `mypy --strict` on the
packages (`[tool.mypy]` in pyproject.toml). Any finding fails the test, with the findings as
its message.

mypy keeps its cache in the temporary directory, one per checkout, so a second run takes a few
seconds instead of a cold check's tens of seconds."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

from .conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600, check=False)


def test_ruff_finds_nothing() -> None:
    out = _run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_finds_nothing() -> None:
    checkout = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"ckptscope-mypy-{checkout}"
    # `--strict` on top of the configuration, so that loosening pyproject cannot pass silently
    out = _run("mypy", "--strict", "--cache-dir", str(cache))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found" in out.stdout, out.stdout
