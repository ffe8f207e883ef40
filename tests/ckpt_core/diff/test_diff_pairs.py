"""The diff's edit-pair corpus: real analyses of two versions of a model, matched by structure.

Each `diff_pairs/<pair>/` holds `a.py` and `b.py` (or stored `a.json` / `b.json` whose provenance
is written beside them) and `expected.json`: the edit, and the matched / added / removed /
moved (status changed) counts. Each snippet is compiled once per session.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ckpt_core
from ckpt_core.diff import GraphDiff
from ckpt_core.diff.match import MATCH_RULES

pytestmark = pytest.mark.torch_compile

PAIRS_DIR = Path(__file__).resolve().parent / "diff_pairs"
PAIRS = sorted(p.name for p in PAIRS_DIR.iterdir() if (p / "expected.json").is_file())
_DOCS: dict[tuple[str, str], dict[str, Any]] = {}  # (suffix, text): pairs share snippets


def document(pair: str, side: str) -> dict[str, Any]:
    stored = PAIRS_DIR / pair / f"{side}.json"
    path = stored if stored.is_file() else PAIRS_DIR / pair / f"{side}.py"
    key = (path.suffix, path.read_text())
    if key not in _DOCS:
        _DOCS[key] = (json.loads(key[1]) if path.suffix == ".json"
                      else ckpt_core.analyze_file(path).to_dict())
    return _DOCS[key]


def pair_diff(pair: str) -> GraphDiff:
    return ckpt_core.diff([document(pair, "a"), document(pair, "b")])


def counts(d: GraphDiff) -> dict[str, int]:
    s = d.comparisons[0].summary
    return {"matched": s.matched_count, "added": s.added_count, "removed": s.removed_count,
            "moved": sum(s.transitions.values())}


def test_the_corpus_covers_the_edits_users_make() -> None:
    assert {"lines_moved", "locals_renamed", "classes_reordered", "policy_change", "added_layer",
            "hidden_size", "module_renamed", "function_wrapped", "checkpoint_wrapper",
            "torch_versions", "llama_hf_vs_titan"} <= set(PAIRS)


@pytest.mark.parametrize("pair", PAIRS)
def test_pair_counts(pair: str) -> None:
    expected = json.loads((PAIRS_DIR / pair / "expected.json").read_text())
    d = pair_diff(pair)
    assert counts(d) == {k: expected[k] for k in ("matched", "added", "removed", "moved")}, pair
    for row in d.rows:
        assert all(rule is None or rule in MATCH_RULES for rule in row.matched_by)
    if expected["unchanged_model"]:
        total = max(sum(s is not None for s in (r.states[0] for r in d.rows)),
                    sum(s is not None for s in (r.states[1] for r in d.rows)))
        assert counts(d)["matched"] >= 0.95 * total
        assert not d.comparisons[0].summary.transitions


def test_the_attention_op_and_its_outputs_are_what_moves_in_the_policy_change() -> None:
    d = pair_diff("policy_change")
    moved = [r for r in d.rows if r.states[0] and r.states[1]
             and r.states[0].status != r.states[1].status]
    assert sorted((r.module, r.target, r.states[0].status, r.states[1].status)  # type: ignore[union-attr]
                  for r in moved) == sorted(
        (f"blocks.{i}.attn", target, before, "recomputed") for i in (0, 1)
        for target, before in (
            ("aten._scaled_dot_product_flash_attention_for_cpu.default", "forward_only"),
            ("operator.getitem", "saved"), ("operator.getitem", "saved")))
    # each output of the multi-output op pairs with the same output (same shape) on the other side
    for r in d.rows:
        if r.target == "operator.getitem" and r.states[0] and r.states[1]:
            assert r.matched_by[1] in ("getitem", "structure", "consumer")
    comparison = d.comparisons[0]
    assert comparison.groups["(root)"] == len(comparison.changed)
    assert comparison.groups["blocks"] == comparison.groups["blocks.0"] + comparison.groups[
        "blocks.1"]


def test_an_added_layer_adds_exactly_its_nodes() -> None:
    d = pair_diff("added_layer")
    added = [r for r in d.rows if r.states[0] is None]
    assert added and all((r.module or "").startswith("blocks.2") for r in added), [
        (r.key, r.module) for r in added if not (r.module or "").startswith("blocks.2")]


def test_a_wider_hidden_size_matches_the_same_nodes_with_new_bytes() -> None:
    d = pair_diff("hidden_size")
    fc1 = [r for r in d.rows if r.module == "blocks.0.fc1" and r.target == "aten.addmm.default"]
    assert len(fc1) == 1 and fc1[0].states[0] and fc1[0].states[1]
    assert fc1[0].states[1].bytes == 2 * fc1[0].states[0].bytes


def test_renamed_modules_are_matched_through_their_consumers() -> None:
    d = pair_diff("module_renamed")
    weights = [r for r in d.rows if r.key.startswith("0|param|blocks.0.fc1.")]
    assert len(weights) == 2
    assert all(r.states[1] is not None and r.matched_by[1] == "consumer" for r in weights)


def test_hugging_face_and_torchtitan_layouts_line_up_layer_by_layer() -> None:
    d = pair_diff("llama_hf_vs_titan")
    b_names = {r.states[1].name: r.module for r in d.rows if r.states[1]}  # type: ignore[union-attr]
    assert b_names  # every node matched; the rows keep A's (Hugging Face) module names
    mm = [r for r in d.rows if r.module == "model.layers.1.self_attn.q_proj"
          and r.target == "aten.mm.default"]
    assert len(mm) == 1 and mm[0].states[1] is not None
    b_doc = document("llama_hf_vs_titan", "b")
    b_module = {n["name"]: n["module"] for n in b_doc["regions"][0]["graphs"]["forward"]["nodes"]}
    assert b_module[mm[0].states[1].name] == "layers.1.attention.wq"


def test_function_wrapped_and_checkpoint_wrapper_rows_use_canonical_paths() -> None:
    for pair in ("function_wrapped", "checkpoint_wrapper"):
        b_doc = document(pair, "b")
        modules = {n["module"] for r in b_doc["regions"] for n in r["graphs"]["forward"]["nodes"]
                   if n["module"]}
        assert not [m for m in modules if "_checkpoint_wrapped_module" in m or "__dict__" in m]
        d = pair_diff(pair)
        assert {r.matched_by[1] for r in d.rows} <= {"parameter", "input", "structure", "getitem"}
