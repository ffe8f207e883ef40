"""`ckpt diff` as a user runs it: a real process, real exit codes and files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import ckpt_core
from tests.ckpt_core.diff.test_diff import analyze_variant
from tests.conftest import REPO

pytestmark = pytest.mark.torch_compile


def ckpt_diff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ckpt_core", "diff", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Analysis files: `save.json` (matmuls saved), `recompute.json`, `three.json` (3 layers)."""
    folder = tmp_path_factory.mktemp("analyses")
    docs = {"save": analyze_variant("save_matmuls"), "recompute": analyze_variant("recompute_all"),
            "three": analyze_variant(layers=3)}
    out = {}
    for name, doc in docs.items():
        out[name] = folder / f"{name}.json"
        out[name].write_text(json.dumps(doc))
    return out


def test_diff_prints_moves_by_module_and_writes_json_and_html(
    files: dict[str, Path], tmp_path: Path,
) -> None:
    out, page = tmp_path / "diff.json", tmp_path / "diff.html"
    r = ckpt_diff(str(files["save"]), str(files["recompute"]), "-o", str(out), "--html", str(page))
    assert r.returncode == 0, r.stderr
    assert "save.json → recompute.json" in r.stdout
    assert "saved → recomputed: 4 node(s)" in r.stdout
    assert "blocks.0.fc1: saved→recomputed 1" in r.stdout
    assert "Δ peak: n/a" in r.stdout
    written = json.loads(out.read_text())
    docs = [json.loads(files[n].read_text()) for n in ("save", "recompute")]
    expected = ckpt_core.diff(docs, labels=["save.json", "recompute.json"]).to_dict()
    assert written == expected
    html = page.read_text()
    assert "<table id=nodes>" in html and "http://" not in html and "https://" not in html


def test_three_files_give_an_n_way_table(files: dict[str, Path]) -> None:
    r = ckpt_diff(str(files["save"]), str(files["recompute"]), str(files["three"]))
    assert r.returncode == 0, r.stderr
    assert "recompute.json → three.json" in r.stdout and "N-way:" in r.stdout
    assert "added 19, removed 0" in r.stdout


def test_the_same_file_twice_is_an_empty_diff(files: dict[str, Path]) -> None:
    r = ckpt_diff(str(files["save"]), str(files["save"]))
    assert r.returncode == 0, r.stderr
    assert "save.json → save.json (2):" in r.stdout and "no changes" in r.stdout


@pytest.mark.parametrize("content, message", [
    ('{"error": {"type": "CompileError", "message": "boom\\nmore"}}',
     "holds an error (CompileError: boom), not an analysis"),
    ('{"schema_version": 99, "regions": []}', "schema_version 99, expected 1"),
    ("not json", "not JSON"),
    ("[1, 2]", "expected an analysis object, found a JSON list"),
    ('{"schema_version": 1, "regions": [{"graphs": {}}]}', "no regions with a forward graph"),
])
def test_invalid_input_exits_2_with_one_line(
    files: dict[str, Path], tmp_path: Path, content: str, message: str,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = ckpt_diff(str(files["save"]), str(bad))
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ckpt diff: {bad}: ")
    assert message in lines[0]


def test_missing_file_single_file_and_strict_validation(
    files: dict[str, Path], tmp_path: Path,
) -> None:
    r = ckpt_diff(str(files["save"]), str(tmp_path / "nope.json"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    r = ckpt_diff(str(files["save"]))
    assert r.returncode == 2 and "at least two" in r.stderr
    doc = json.loads(files["save"].read_text())
    doc["regions"][0]["graphs"]["forward"]["nodes"][5]["inputs"] = ["no_such_node"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    r = ckpt_diff(str(files["save"]), str(broken), "--validate")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "no_such_node" in r.stderr
