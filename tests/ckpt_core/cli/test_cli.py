"""`ckpt analyze` as a user runs it: a real process, real exit codes and files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import ckpt_core
from tests.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.torch_compile


def ckpt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_analyze_prints_a_summary_and_writes_valid_json(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    r = ckpt("analyze", str(EXAMPLES / "two_regions.py"), "--decompositions", "none",
             "--no-ban-recompute-reductions", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "region 0:" in r.stdout and "largest saved tensors" in r.stdout
    assert "decompositions=none, ban_recompute_reductions=False" in r.stdout
    doc = json.loads(out.read_text())
    ckpt_core.validate_analysis(doc)
    assert doc["settings"]["ban_recompute_reductions"] is False
    assert doc["settings"]["decompositions"] == "none"


def test_bad_snippet_exits_2_with_one_line_and_an_error_document(tmp_path: Path) -> None:
    snippet = tmp_path / "bad.py"
    snippet.write_text("import torch\nmodel = torch.nn.Linear(2, 2\nexample_inputs = ()\n")
    out = tmp_path / "err.json"
    r = ckpt("analyze", str(snippet), "-o", str(out))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert "SnippetSyntaxError" in r.stderr and "line 2" in r.stderr
    err = json.loads(out.read_text())["error"]
    assert err["type"] == "SnippetSyntaxError" and err["line"] == 2


def test_graph_break_with_fullgraph_exits_2() -> None:
    r = ckpt("analyze", str(EXAMPLES / "graph_break.py"), "--fullgraph")
    assert r.returncode == 2
    assert "GraphBreakError (snippet line 19)" in r.stderr.strip().splitlines()[-1]


def test_bad_settings_and_missing_file() -> None:
    r = ckpt("analyze", str(EXAMPLES / "two_regions.py"), "--memory-budget", "3")
    assert r.returncode == 2 and "settings.memory_budget" in r.stderr
    r = ckpt("analyze", "does-not-exist.py")
    assert r.returncode == 2 and "no such file" in r.stderr


def test_help_lists_every_setting() -> None:
    r = ckpt("analyze", "--help")
    assert r.returncode == 0
    for flag in ("--decompositions", "--partitioner", "--memory-budget", "--budget-solver",
                 "--fullgraph", "--device", "--no-ban-recompute-reductions", "-o"):
        assert flag in r.stdout
